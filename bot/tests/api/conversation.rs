//! What plain chat becomes: greetings, thanks, emoji and texts too short to
//! describe a site get guidance (a `guide` command), a description or a
//! reply to the bot a prompt, and `/new <description>` always a new site.

use pagesmith::domain::WorkQueue;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{BOT_ID, TestBot, message, spawn_bot, text_update};

/// The bot's message that a reply answers.
const BOT_MESSAGE: i64 = 77;

/// A text message replying to one of the bot's messages.
fn reply_update(update_id: i64, user_id: i64, text: &str) -> Value {
    let mut reply = message(update_id, user_id, text);
    reply["reply_to_message"] = json!({
        "message_id": BOT_MESSAGE,
        "date": 1_700_000_000,
        "chat": {"id": user_id, "type": "private", "first_name": "Ada"},
        "from": {"id": BOT_ID, "is_bot": true, "first_name": "pagesmith"},
        "text": "Your site is ready"
    });
    json!({"update_id": update_id, "message": reply})
}

/// Sends each text as a message of its own, with update ids from
/// `first_id`, and returns the jobs they became.
async fn jobs_for_texts(bot: &TestBot, first_id: i64, texts: &[&str]) -> Vec<(String, Value)> {
    let updates: Vec<Value> = texts
        .iter()
        .zip(first_id..)
        .map(|(text, id)| text_update(id, 10, text))
        .collect();
    jobs_for(bot, &updates).await
}

/// Posts each update and returns the jobs they became, as (kind, payload).
async fn jobs_for(bot: &TestBot, updates: &[Value]) -> Vec<(String, Value)> {
    for update in updates {
        assert_eq!(bot.post_update(update).await.status(), StatusCode::OK);
    }
    sqlx::query_as("SELECT kind, payload FROM jobs ORDER BY created_at")
        .fetch_all(&bot.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn greetings_thanks_emoji_and_too_short_texts_get_guidance_instead_of_a_site() {
    let bot = spawn_bot().await;
    let chatter = [
        "hi",
        "Hello!",
        "hey there",
        "Good morning 🙂",
        "thanks",
        "Thank you!",
        "thx",
        "👍",
        "🙂🙂",
        "...",
        "bakery",
        "привет",
        "Спасибо!",
        "你好",
        "こんにちは",
    ];
    let jobs = jobs_for_texts(&bot, 100, &chatter).await;
    assert_eq!(jobs.len(), chatter.len());
    for ((kind, payload), text) in jobs.iter().zip(chatter) {
        assert_eq!(
            (kind.as_str(), payload["name"].as_str()),
            ("command", Some("guide")),
            "{text:?} became {kind} {payload}"
        );
    }
    assert_eq!(
        bot.take(WorkQueue::Interactive, chatter.len()).await.len(),
        chatter.len()
    );
    assert_eq!(
        bot.broker.ready(&bot.queue(WorkQueue::Jobs)).await,
        0,
        "no site"
    );
}

#[tokio::test]
async fn thanks_in_reply_to_the_bot_is_guidance_not_a_revision() {
    let bot = spawn_bot().await;
    let jobs = jobs_for(
        &bot,
        &[
            reply_update(200, 10, "Thanks! 🙏"),
            reply_update(201, 10, "👍"),
        ],
    )
    .await;
    let names: Vec<_> = jobs.iter().map(|(_, p)| p["name"].as_str()).collect();
    assert_eq!(names, [Some("guide"), Some("guide")], "{jobs:?}");
}

#[tokio::test]
async fn descriptions_in_any_language_start_sites_however_short() {
    let bot = spawn_bot().await;
    let descriptions = [
        "A bakery site",
        "Hi! A site for my bakery, please",
        "Сайт для пекарни",
        "面包店网站",
        "パン屋のサイト",
    ];
    let jobs = jobs_for_texts(&bot, 300, &descriptions).await;
    let texts: Vec<_> = jobs
        .iter()
        .map(|(kind, p)| (kind.as_str(), p["text"].as_str().unwrap_or_default()))
        .collect();
    let expected: Vec<_> = descriptions.iter().map(|t| ("generate", *t)).collect();
    assert_eq!(texts, expected);
}

#[tokio::test]
async fn a_short_reply_to_the_bot_is_still_a_revision_prompt() {
    let bot = spawn_bot().await;
    let jobs = jobs_for(&bot, &[reply_update(400, 10, "bigger logo")]).await;
    let [(kind, payload)] = jobs.as_slice() else {
        panic!("one job: {jobs:?}")
    };
    assert_eq!(kind, "generate");
    assert_eq!(payload["text"], "bigger logo");
    assert_eq!(payload["reply_to_message_id"], BOT_MESSAGE);
    assert_eq!(payload["revise"], false);
}

#[tokio::test]
async fn new_always_starts_a_site_and_without_a_description_asks_for_one() {
    let bot = spawn_bot().await;
    let jobs = jobs_for(
        &bot,
        &[
            text_update(500, 10, "/new hi"),
            // A reply would otherwise change the replied-to site.
            reply_update(501, 10, "/new@pagesmith_bot bakery"),
            text_update(502, 10, "/new"),
        ],
    )
    .await;
    let prompts: Vec<_> = jobs[..2]
        .iter()
        .map(|(kind, p)| {
            (
                kind.as_str(),
                p["type"].as_str(),
                p["text"].as_str(),
                p["revise"].as_bool(),
                p["reply_to_message_id"].clone(),
            )
        })
        .collect();
    assert_eq!(
        prompts,
        [
            (
                "generate",
                Some("prompt"),
                Some("hi"),
                Some(false),
                Value::Null
            ),
            (
                "generate",
                Some("prompt"),
                Some("bakery"),
                Some(false),
                Value::Null
            ),
        ]
    );
    assert_eq!(jobs[2].0, "command");
    assert_eq!(
        jobs[2].1["name"], "new",
        "the worker answers it with guidance"
    );
    assert_eq!(jobs.len(), 3);
}
