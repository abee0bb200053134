//! A user's conversation with the bot, through an independent Telegram Bot
//! API: the npm emulator `telegram-test-api` (`e2e/bot-api`, see
//! `e2e::bot_api`) instead of testkit's fake. The bot long-polls it
//! (`TELEGRAM_MODE=polling`), the worker sends and edits its messages there,
//! and the test plays two users through the emulator's client API. Only
//! what a user sees is asserted: the messages in their chat, as they stand
//! after the bot's edits, and their buttons.
//!
//! The worker runs the built-in generator (no `LLM_API_KEY`) and takes no
//! screenshots (`SCREENSHOT_BROWSER=off`: the emulator has no `sendPhoto`).
//!
//! `server.mjs` makes three of the emulator's answers conform to the Bot
//! API (see `e2e::bot_api`); with `BOT_API_AS_IS=1` it runs as published,
//! and clicks are then ignored (no `chat_instance`) and every edit counts
//! as failed.
//!
//! Skips without `e2e/bot-api/node_modules/telegram-test-api` (unless
//! `PAGESMITH_REQUIRE_BOT_API` is set; `scripts/test` installs it with
//! `ensure_bot_api` and sets it).

use std::time::Duration;

use e2e::{
    BOT_TOKEN, Stack, StackOptions,
    bot_api::{BotApi, BotMessage, Chat, User},
};
use worker::buttons::Action;

/// The longest any one step may take to show in the chat.
const STEP: Duration = Duration::from_secs(60);

const CRUMB_PROMPT: &str =
    "A one-page site for a bakery called \"Crumb & Co\" with opening hours and a contact form";
const TIDE_PROMPT: &str =
    "A page titled \"Tide Tally\" where I log tide heights each morning and see the weekly average";

/// Sends a command and waits for the first message after it that
/// satisfies `wanted`.
async fn command(
    chat: &Chat<'_>,
    text: &str,
    what: &str,
    wanted: impl Fn(&BotMessage) -> bool,
) -> BotMessage {
    let seen = chat.last_message_id().await;
    chat.send_command(text).await;
    chat.wait_for(what, STEP, |m| m.message_id > seen && wanted(m))
        .await
}

/// Message `id` of `chat` as it stands now.
async fn message(chat: &Chat<'_>, id: i64) -> BotMessage {
    chat.messages()
        .await
        .into_iter()
        .find(|m| m.message_id == id)
        .unwrap_or_else(|| panic!("message {id} is gone from {}'s chat", chat.user.full_name()))
}

/// The ready message of `name`'s first version: the status message, once
/// it has become the ready message with its review buttons.
async fn ready_message(chat: &Chat<'_>, after: i64, name: &str) -> BotMessage {
    chat.wait_for(
        &format!("the ready message of {name} with its review buttons"),
        STEP,
        |m| {
            m.message_id > after
                && m.plain().contains("is ready")
                && m.actions().contains(&Action::Approve)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_conversation_through_an_independent_bot_api_from_start_to_published_site() {
    let Some(api) = BotApi::start_or_skip(BOT_TOKEN).await else {
        return;
    };
    let stack = Stack::start(StackOptions {
        telegram_api_url: Some(api.url().to_owned()),
        bot_env: vec![
            ("TELEGRAM_MODE", "polling".into()),
            // The emulator answers getUpdates at once whatever the timeout;
            // the bot then polls once a second.
            ("TELEGRAM_POLL_TIMEOUT_SECS", "1".into()),
        ],
        worker_env: vec![
            ("LLM_API_KEY", String::new()),
            ("SCREENSHOT_BROWSER", "off".into()),
        ],
        ..StackOptions::default()
    })
    .await;
    let ada = api.chat(User::new(42, "Ada", Some("Lovelace")));
    let grace = api.chat(User::new(77, "Grace", Some("Hopper")));

    // /start: a welcome that says what the bot does and how to get help.
    let welcome = command(&ada, "/start", "a welcome reply to /start", |_| true).await;
    let text = welcome.plain();
    assert!(text.contains("I build websites"), "{text}");
    assert!(text.contains("/help"), "{text}");
    assert!(text.contains("/status"), "{text}");
    assert!(welcome.buttons.is_empty(), "{welcome:#?}");

    // "hi" is chatter: guidance on describing a site, and no site.
    let seen = ada.last_message_id().await;
    ada.send_text("hi").await;
    let guide = ada
        .wait_for("guidance after \"hi\"", STEP, |m| m.message_id > seen)
        .await;
    let text = guide.plain();
    assert!(
        text.contains("I build websites from a description"),
        "{text}"
    );
    assert!(text.contains("/new"), "{text}");
    let status = command(&ada, "/status", "an answer to /status", |_| true).await;
    assert!(
        status.plain().contains("no sites yet"),
        "\"hi\" started a site: {}",
        status.plain()
    );
    let before_prompt = ada.messages().await;
    assert_eq!(
        before_prompt.len(),
        3,
        "one answer each to /start, \"hi\" and /status:\n{}",
        e2e::bot_api::transcript(&before_prompt)
    );

    // Two users in two chats ask for a site at the same time.
    let ada_seen = ada.last_message_id().await;
    let grace_seen = grace.last_message_id().await;
    ada.send_text(CRUMB_PROMPT).await;
    grace.send_text(TIDE_PROMPT).await;

    let ready = ready_message(&ada, ada_seen, "Crumb & Co").await;
    let text = ready.plain();
    assert!(
        text.starts_with("✅ Crumb & Co — version 1 is ready"),
        "named by the brief, not by the prompt: {text}"
    );
    assert!(!text.contains("A one-page site"), "{text}");
    assert!(text.contains("built-in template"), "{text}");
    assert_eq!(
        ready.actions(),
        [Action::Approve, Action::Revise, Action::Reject],
        "{:?}",
        ready.labels()
    );
    let versions: Vec<_> = ready.button_data().iter().map(|d| d.version).collect();
    assert!(
        versions.iter().all(|v| *v == versions[0]),
        "every button is about the same version: {versions:?}"
    );

    let grace_ready = ready_message(&grace, grace_seen, "Tide Tally").await;
    assert!(
        grace_ready
            .plain()
            .starts_with("✅ Tide Tally — version 1 is ready"),
        "{}",
        grace_ready.plain()
    );
    assert_ne!(
        grace_ready.data_for(Action::Approve).map(|d| d.version),
        ready.data_for(Action::Approve).map(|d| d.version),
        "two sites, two versions"
    );

    // Approve: it is published, and the ready message's buttons become who
    // approved it, with nothing left that would approve it again.
    let approve = ready.data_for(Action::Approve).expect("an Approve button");
    let seen = ada.last_message_id().await;
    ada.press(&ready, &approve.encode()).await;
    let published = ada
        .wait_for("a message that Crumb & Co is published", STEP, |m| {
            m.message_id > seen && m.plain().contains("is published")
        })
        .await;
    let text = published.plain();
    assert!(text.contains("Crumb & Co version 1 is published"), "{text}");
    let decided = ada
        .wait_for(
            "the ready message's buttons showing who approved it, once published",
            STEP,
            |m| m.message_id == ready.message_id && !m.actions().contains(&Action::Approve),
        )
        .await;
    assert_eq!(decided.labels(), ["✅ Approved by Ada Lovelace"]);
    assert_eq!(decided.actions(), [Action::Status]);
    assert_eq!(
        decided.data_for(Action::Status).map(|d| d.version),
        Some(approve.version)
    );
    assert!(
        decided
            .plain()
            .starts_with("✅ Crumb & Co — version 1 is ready"),
        "the ready message keeps its text: {}",
        decided.plain()
    );

    // The published link works.
    let live = text
        .lines()
        .find_map(|l| l.split("Live site: ").nth(1))
        .unwrap_or_else(|| panic!("no live site link: {text}"))
        .split_whitespace()
        .next()
        .expect("a URL")
        .to_owned();
    let page = stack
        .client
        .get(&live)
        .send()
        .await
        .expect("the live site answers");
    assert_eq!(page.status(), 200, "{live}");
    let html = page.text().await.expect("a page");
    assert!(
        html.contains("Crumb &amp; Co") || html.contains("Crumb & Co"),
        "{html}"
    );

    // /status and /history name the site.
    let status = command(&ada, "/status", "an answer to /status", |_| true).await;
    let text = status.plain();
    assert!(text.contains("Crumb & Co"), "{text}");
    assert!(text.contains("published"), "{text}");
    let history = command(&ada, "/history", "an answer to /history", |_| true).await;
    let text = history.plain();
    assert!(text.contains("Crumb & Co"), "{text}");
    assert!(text.contains("v1"), "{text}");

    // Grace's chat is hers: her site, her /status, nothing of Ada's.
    let status = command(&grace, "/status", "an answer to /status", |_| true).await;
    let text = status.plain();
    assert!(text.contains("Tide Tally"), "{text}");
    assert!(!text.contains("Crumb"), "{text}");
    for (chat, foreign) in [(&ada, "Tide Tally"), (&grace, "Crumb")] {
        let messages = chat.messages().await;
        assert!(
            messages.iter().all(|m| !m.plain().contains(foreign)),
            "{}'s chat shows {foreign}:\n{}",
            chat.user.full_name(),
            e2e::bot_api::transcript(&messages)
        );
    }
    // The decision sticks: nothing since put Approve back under Ada's
    // ready message.
    let ready_now = message(&ada, ready.message_id).await;
    assert_eq!(
        ready_now.labels(),
        ["✅ Approved by Ada Lovelace"],
        "{}",
        e2e::bot_api::transcript(&ada.messages().await)
    );
    // Grace did not approve, so her ready message still offers the review.
    let grace_now = message(&grace, grace_ready.message_id).await;
    assert_eq!(
        grace_now.actions(),
        [Action::Approve, Action::Revise, Action::Reject]
    );
    drop(stack);
}
