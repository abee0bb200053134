//! Sending to Telegram: the per-chat queue, its pace, priorities, 429s and
//! refusals, against a fake Bot API that records when each call arrived.

use std::time::{Duration, Instant};

use serde_json::json;
use testkit::telegram::{Answer, Call, Telegram};
use tokio_util::sync::CancellationToken;
use worker::{
    process::process,
    telegram::{Message, Outbox, Pace, Telegram as Client, delivery, status_key},
};

use crate::helpers::{CHAT, Step, TestWorker, good_site, settle_outbox, spawn};

/// A private chat beside [`CHAT`], and a group.
const OTHER_CHAT: i64 = 888;
const GROUP: i64 = -1_001_234_567;
/// How long a test waits for the calls it expects.
const WAIT: Duration = Duration::from_secs(30);

/// A test database with an outbox and no delivery loop yet, and a Bot API
/// that numbers messages.
struct Setup {
    w: TestWorker,
    api: Telegram,
    outbox: Outbox,
}

async fn setup() -> Setup {
    // The worker's own loop sends nothing (no token); these tests run their
    // own loops against `api`.
    let w = spawn(vec![], vec![], &[("TELEGRAM_BOT_TOKEN", "")]).await;
    let api = Telegram::start().await;
    let outbox = Outbox::new(w.db.pool.clone(), true);
    Setup { w, api, outbox }
}

impl Setup {
    /// Starts a delivery loop (a worker's) with `pace`; stops when the
    /// token is cancelled.
    fn deliver(&self, pace: Pace) -> CancellationToken {
        let stop = CancellationToken::new();
        let token = Some("4242:test-token".to_owned().into());
        let telegram = Client::new(token.as_ref(), self.api.url().parse().unwrap());
        tokio::spawn(delivery::run(
            telegram,
            self.outbox.clone(),
            pace,
            stop.clone(),
        ));
        stop
    }

    async fn put(&self, message: Message) {
        assert!(self.outbox.put(message).await.unwrap());
    }

    async fn settle(&self) {
        settle_outbox(&self.w.db.pool).await;
    }
}

fn pace(private_ms: u64, group_ms: u64) -> Pace {
    Pace {
        private_chat: Duration::from_millis(private_ms),
        group_chat: Duration::from_millis(group_ms),
        overall_per_second: 1000,
    }
}

fn gaps(calls: &[Call]) -> Vec<Duration> {
    calls.windows(2).map(|w| w[1].at - w[0].at).collect()
}

#[tokio::test]
async fn a_private_chat_is_paced_per_message_with_no_minute_cap() {
    let s = setup().await;
    for i in 0..25 {
        s.put(Message::text(CHAT, format!("message {i}"))).await;
    }
    let started = Instant::now();
    let _stop = s.deliver(pace(40, 5_000));
    s.api.wait_for_calls(25, WAIT).await;
    // 25 messages in one private chat: a 20-a-minute cap would need over a
    // minute; here they go one per 40 ms.
    assert!(started.elapsed() < Duration::from_secs(30));
    let calls = s.api.calls();
    let texts: Vec<String> = calls.iter().map(|c| c.text().to_owned()).collect();
    let expected: Vec<String> = (0..25).map(|i| format!("message {i}")).collect();
    assert_eq!(texts, expected, "in order, each once");
    for gap in gaps(&calls) {
        assert!(gap >= Duration::from_millis(35), "spaced: {gap:?}");
    }
}

#[tokio::test]
async fn a_group_gets_the_slower_group_pace_while_a_private_chat_keeps_its_own() {
    let s = setup().await;
    for i in 0..3 {
        s.put(Message::text(GROUP, format!("group {i}"))).await;
        s.put(Message::text(CHAT, format!("private {i}"))).await;
    }
    let _stop = s.deliver(pace(10, 400));
    s.api.wait_for_calls(6, WAIT).await;
    let calls = s.api.calls();
    let group: Vec<Call> = calls
        .iter()
        .filter(|c| c.chat == Some(GROUP))
        .cloned()
        .collect();
    for gap in gaps(&group) {
        assert!(gap >= Duration::from_millis(380), "group spacing: {gap:?}");
    }
    let private_done = calls
        .iter()
        .filter(|c| c.chat == Some(CHAT))
        .map(|c| c.at)
        .max();
    assert!(
        private_done < Some(group[2].at),
        "the private chat did not wait for the group's pace: {calls:?}"
    );
}

#[tokio::test]
async fn a_reply_goes_before_queued_status_edits_and_photos() {
    let s = setup().await;
    // The first message meets a 429, so the chat waits while more queue up.
    s.api.answer_next_in(CHAT, [Answer::too_many_requests(2)]);
    s.put(Message::text(CHAT, "progress 1").background()).await;
    let _stop = s.deliver(pace(1, 1));
    s.api.wait_for_calls(1, WAIT).await;
    s.put(Message::photo(CHAT, vec![1, 2, 3], "desktop.png", "photo").background())
        .await;
    s.put(Message::text(CHAT, "reply to /status")).await;
    s.settle().await;
    let texts = s.api.texts_in(CHAT);
    assert_eq!(texts, ["progress 1", "reply to /status", "progress 1", ""]);
    assert_eq!(s.api.calls()[3].method, "sendphoto");
}

#[tokio::test]
async fn status_texts_coalesce_and_the_latest_wins() {
    let s = setup().await;
    s.api.answer_next_in(CHAT, [Answer::too_many_requests(1)]);
    s.put(Message::text(CHAT, "hello")).await;
    let _stop = s.deliver(pace(1, 1));
    s.api.wait_for_calls(1, WAIT).await;
    for stage in ["queued", "writing", "checking", "ready"] {
        let text = Message::text(CHAT, stage)
            .keyed("status:job-1".into())
            .background();
        s.put(text).await;
    }
    s.settle().await;
    assert_eq!(s.api.texts_in(CHAT), ["hello", "hello", "ready"]);

    // Once sent, the next texts edit that message, newest only.
    s.api.answer_next_in(CHAT, [Answer::too_many_requests(1)]);
    s.put(Message::text(CHAT, "a reply")).await;
    s.api.wait_for_calls(4, WAIT).await;
    for text in ["older", "newest"] {
        s.put(Message::text(CHAT, text).keyed("status:job-1".into()))
            .await;
    }
    s.settle().await;
    let calls = s.api.calls();
    let last = calls.last().unwrap();
    assert_eq!(
        (last.method.as_str(), last.text()),
        ("editmessagetext", "newest")
    );
    assert!(!calls.iter().any(|c| c.text() == "older"), "{calls:?}");
}

#[tokio::test]
async fn a_429_pauses_only_its_chat_and_its_messages_follow_in_order_once() {
    let s = setup().await;
    s.api.answer_next_in(CHAT, [Answer::too_many_requests(3)]);
    s.put(Message::text(CHAT, "first")).await;
    s.put(Message::text(CHAT, "second")).await;
    let _stop = s.deliver(pace(1, 1));
    s.api.wait_for_calls(1, WAIT).await;
    let limited_at = Instant::now();
    s.put(Message::text(OTHER_CHAT, "meanwhile")).await;
    s.api.wait_for_calls(2, WAIT).await;
    assert!(
        limited_at.elapsed() < Duration::from_secs(3),
        "the other chat was served during the pause"
    );
    s.api.wait_for_calls(4, WAIT).await;
    s.settle().await;
    let calls = s.api.calls();
    assert_eq!(s.api.texts_in(CHAT), ["first", "first", "second"]);
    assert_eq!(s.api.texts_in(OTHER_CHAT), ["meanwhile"]);
    let retried = calls
        .iter()
        .filter(|c| c.chat == Some(CHAT))
        .nth(1)
        .unwrap();
    assert!(
        retried.at - calls[0].at >= Duration::from_millis(2_900),
        "Telegram's retry_after was waited out"
    );
    assert_eq!(
        s.w.count("SELECT count(*) FROM telegram_outbox WHERE state = 'sent'")
            .await,
        3
    );
}

#[tokio::test]
async fn a_refused_message_is_dropped_with_its_reason_and_the_chat_moves_on() {
    let s = setup().await;
    s.api
        .answer_next_in(CHAT, [Answer::refused("Bad Request: can't parse entities")]);
    s.put(Message::text(CHAT, "<b>broken")).await;
    s.put(Message::text(CHAT, "fine")).await;
    let _stop = s.deliver(pace(1, 1));
    s.settle().await;
    assert_eq!(s.api.texts_in(CHAT), ["<b>broken", "fine"]);
    let reason: String =
        sqlx::query_scalar("SELECT last_error FROM telegram_outbox WHERE state = 'failed'")
            .fetch_one(&s.w.db.pool)
            .await
            .unwrap();
    assert!(reason.contains("can't parse entities"), "{reason}");
}

#[tokio::test]
async fn a_keyed_text_whose_message_is_gone_is_sent_anew() {
    let s = setup().await;
    let _stop = s.deliver(pace(1, 1));
    s.put(Message::text(CHAT, "status").keyed("status:job-2".into()))
        .await;
    s.settle().await;
    s.api.answer_next_in(
        CHAT,
        [Answer::refused("Bad Request: message to edit not found")],
    );
    s.put(Message::text(CHAT, "ready").keyed("status:job-2".into()))
        .await;
    s.settle().await;
    let methods: Vec<String> = s.api.calls().into_iter().map(|c| c.method).collect();
    assert_eq!(methods, ["sendmessage", "editmessagetext", "sendmessage"]);
    assert_eq!(s.api.texts_in(CHAT), ["status", "ready", "ready"]);
}

#[tokio::test]
async fn queued_messages_outlive_their_worker_and_two_workers_send_each_once_in_order() {
    let s = setup().await;
    // Queued while no worker delivers (the one that queued them is gone).
    for i in 0..20 {
        s.put(Message::text(CHAT, format!("m{i}"))).await;
        s.put(Message::text(OTHER_CHAT, format!("n{i}"))).await;
    }
    let _one = s.deliver(pace(1, 1));
    let _two = s.deliver(pace(1, 1));
    s.settle().await;
    let expected = |p: &str| (0..20).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
    assert_eq!(s.api.texts_in(CHAT), expected("m"));
    assert_eq!(s.api.texts_in(OTHER_CHAT), expected("n"));
}

#[tokio::test]
async fn a_message_queued_once_is_not_queued_again() {
    let s = setup().await;
    let ready = || Message::text(CHAT, "ready").once("ready:v1:777".into());
    assert!(s.outbox.put(ready()).await.unwrap());
    assert!(!s.outbox.put(ready()).await.unwrap());
    let _stop = s.deliver(pace(1, 1));
    s.settle().await;
    assert_eq!(s.api.texts_in(CHAT), ["ready"]);
}

/// A prompt from the user of [`OTHER_CHAT`], as the bot records it.
async fn flower_shop_prompt(w: &TestWorker) -> uuid::Uuid {
    w.insert_job(pagesmith::domain::JobPayload::Prompt(
        pagesmith::domain::job::TelegramPrompt {
            chat_id: OTHER_CHAT,
            user_id: OTHER_CHAT,
            message_id: 1,
            text: "A site for my flower shop".into(),
            reply_to_message_id: None,
            revise: false,
            user_name: None,
        },
    ))
    .await
}

/// The job is what matters: a chat Telegram holds back for five minutes
/// delays neither that job nor the next chat's.
#[tokio::test]
async fn no_job_waits_on_a_rate_limited_chat() {
    let steps = vec![
        Step::Files(good_site("Held back")),
        Step::Files(good_site("Served")),
    ];
    let api = Telegram::start().await;
    let w = spawn(steps, vec![], &[("TELEGRAM_API_URL", api.url())]).await;
    api.answer_next_in(CHAT, [Answer::too_many_requests(300)]);

    let held = w.prompt("A site for my bakery please", None).await;
    tokio::time::timeout(Duration::from_secs(30), process(&w.env, held))
        .await
        .expect("the job does not wait out the 429")
        .unwrap();
    assert_eq!(w.state(held).await, "preview_ready");

    let served = flower_shop_prompt(&w).await;
    tokio::time::timeout(Duration::from_secs(30), process(&w.env, served))
        .await
        .expect("the next job does not wait either")
        .unwrap();
    w.settle_telegram().await;
    let other = api.texts_in(OTHER_CHAT);
    assert!(
        other.last().is_some_and(|t| t.contains("is ready")),
        "the other chat got its ready message: {other:?}"
    );
    assert_eq!(
        api.texts_in(CHAT).len(),
        1,
        "the held chat waits: one try, then the pause"
    );
    // Its ready message is queued under the status message's key, to go
    // out when Telegram allows.
    let pending: Vec<String> = sqlx::query_scalar(
        "SELECT target_key FROM telegram_outbox WHERE chat_id = $1 AND state = 'pending'",
    )
    .bind(CHAT)
    .fetch_all(&w.db.pool)
    .await
    .unwrap();
    assert_eq!(pending, [status_key(held)]);
}

/// A conversation at Telegram's real pace (one message a second per
/// private chat): Telegram answers the first message in one chat with a
/// 6 s 429. That chat's user still gets the ready message and the answer
/// to /status afterwards, in order and once each, and can approve; the
/// other chat is served at once meanwhile.
#[tokio::test]
async fn a_conversation_with_a_short_429_in_one_chat_serves_the_other_at_once() {
    use pagesmith::domain::{JobPayload, job::TelegramCommand};
    use worker::buttons::{Action, ButtonData};

    let steps = vec![
        Step::Files(good_site("Crumb and Co")),
        Step::Files(good_site("Petal Shop")),
    ];
    let api = Telegram::start().await;
    let w = spawn(
        steps,
        vec![],
        &[
            ("TELEGRAM_API_URL", api.url()),
            ("TELEGRAM_PRIVATE_CHAT_INTERVAL_MS", "1000"),
        ],
    )
    .await;
    // Long enough for the other chat's job to run on a loaded machine.
    api.answer_next_in(CHAT, [Answer::too_many_requests(6)]);

    let held = w.prompt("A site for my bakery please", None).await;
    process(&w.env, held).await.unwrap();
    let status = w
        .insert_job(JobPayload::Command(TelegramCommand {
            chat_id: CHAT,
            user_id: crate::helpers::USER,
            message_id: 9,
            name: "status".into(),
            args: String::new(),
        }))
        .await;
    process(&w.env, status).await.unwrap();
    let served = flower_shop_prompt(&w).await;
    process(&w.env, served).await.unwrap();

    // The other chat gets its ready message while the first still waits.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !api
        .texts_in(OTHER_CHAT)
        .iter()
        .any(|t| t.contains("is ready"))
    {
        assert!(Instant::now() < deadline, "{:?}", api.calls());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let other_served_at = api
        .calls()
        .into_iter()
        .find(|c| c.chat == Some(OTHER_CHAT) && c.text().contains("is ready"))
        .expect("the other chat's ready message")
        .at;

    // After the pause: the latest status (the ready message), then the
    // answer to /status, each once.
    while api.texts_in(CHAT).len() < 3 {
        assert!(Instant::now() < deadline, "{:?}", api.calls());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    w.settle_telegram().await;
    let calls: Vec<Call> = api
        .calls()
        .into_iter()
        .filter(|c| c.chat == Some(CHAT))
        .collect();
    assert!(
        other_served_at < calls[1].at,
        "the other chat was served while this one was paused"
    );
    assert!(calls[1].at - calls[0].at >= Duration::from_millis(5_900));
    assert!(
        calls[2].at - calls[1].at >= Duration::from_millis(950),
        "paced"
    );
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(
        calls[1]
            .text()
            .contains("<b>Crumb and Co</b> — version 1 is ready")
    );
    assert!(
        calls[2].text().contains("ready for review"),
        "{}",
        calls[2].text()
    );

    // The user approves on the ready message.
    let version = w.version_of(held).await;
    let ready: i32 = sqlx::query_scalar(
        "SELECT message_id FROM chat_messages WHERE chat_id = $1 AND purpose = 'ready'",
    )
    .bind(CHAT)
    .fetch_one(&w.db.pool)
    .await
    .unwrap();
    let approve = ButtonData {
        action: Action::Approve,
        version: version.id,
    };
    let click = w
        .insert_job(JobPayload::Callback(
            pagesmith::domain::job::TelegramCallback {
                query_id: "q-approve".into(),
                user_id: crate::helpers::USER,
                chat_id: Some(CHAT),
                message_id: Some(ready),
                data: approve.encode(),
                user_name: Some("Ada".into()),
            },
        ))
        .await;
    process(&w.env, click).await.unwrap();
    w.settle_telegram().await;
    let last = api
        .calls()
        .into_iter()
        .rfind(|c| c.chat == Some(CHAT))
        .unwrap();
    assert_eq!(last.method, "editmessagereplymarkup");
    assert_eq!(w.state(held).await, "approved");
}

/// Telegram took the message but answered in a shape the client cannot
/// read (seen from a Bot API emulator: `"result": null`): it is counted as
/// delivered, never sent again, and the chat moves on.
#[tokio::test]
async fn a_message_telegram_took_with_an_unreadable_answer_is_not_sent_again() {
    let s = setup().await;
    let unreadable = Answer::raw(200, json!({"ok": true, "result": null}));
    s.api.answer_next_in(CHAT, [unreadable]);
    s.put(Message::text(CHAT, "taken")).await;
    s.put(Message::text(CHAT, "next")).await;
    let _stop = s.deliver(pace(1, 1));
    s.settle().await;
    assert_eq!(s.api.texts_in(CHAT), ["taken", "next"]);
}
