//! `TELEGRAM_MODE=polling` against a fake Bot API that keeps Telegram's
//! update queue: an update stays until a `getUpdates` offset above its id
//! confirms it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use pagesmith::domain::WorkQueue;
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, Request, Respond, ResponseTemplate,
    matchers::{method, path_regex},
};

use crate::helpers::{Options, TestBot, callback_update, spawn_bot_with, text_update};

/// Telegram's side of long polling.
#[derive(Clone, Default)]
struct UpdateQueue(Arc<Mutex<QueueState>>);

#[derive(Default)]
struct QueueState {
    /// Updates not yet confirmed, and whether each was delivered.
    pending: Vec<(Value, bool)>,
    /// The body of every `getUpdates` call, in order.
    calls: Vec<Value>,
    /// How often each update id was delivered.
    deliveries: HashMap<i64, usize>,
    first_call: Option<Instant>,
    /// Answer "no updates" at once, as a server that ignores `timeout`.
    empty_at_once: bool,
}

impl UpdateQueue {
    fn ignoring_the_timeout() -> Self {
        let queue = Self::default();
        queue.0.lock().unwrap().empty_at_once = true;
        queue
    }

    fn push(&self, update: Value) {
        self.0.lock().unwrap().pending.push((update, false));
    }

    fn offsets(&self) -> Vec<Option<i64>> {
        let state = self.0.lock().unwrap();
        state.calls.iter().map(|c| c["offset"].as_i64()).collect()
    }

    fn calls(&self) -> Vec<Value> {
        self.0.lock().unwrap().calls.clone()
    }

    fn deliveries(&self, update_id: i64) -> usize {
        let state = self.0.lock().unwrap();
        state.deliveries.get(&update_id).copied().unwrap_or(0)
    }

    fn first_call(&self) -> Option<Instant> {
        self.0.lock().unwrap().first_call
    }

    /// Waits until a call confirmed everything below `offset`.
    async fn wait_for_offset(&self, offset: i64) {
        testkit::eventually(
            &format!("a getUpdates call with offset {offset}"),
            Duration::from_secs(20),
            || async { self.offsets().contains(&Some(offset)).then_some(()) },
        )
        .await;
    }
}

impl Respond for UpdateQueue {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let mut state = self.0.lock().unwrap();
        state.first_call.get_or_insert_with(Instant::now);
        if let Some(offset) = body["offset"].as_i64() {
            // Confirmed: delivered before and below the offset. A re-sent
            // update (pushed again after that) is delivered once more.
            state.pending.retain(|(update, delivered)| {
                !(*delivered && update["update_id"].as_i64().unwrap() < offset)
            });
        }
        state.calls.push(body);
        let mut batch = Vec::new();
        for (update, delivered) in &mut state.pending {
            *delivered = true;
            batch.push(update.clone());
        }
        for update in &batch {
            *state
                .deliveries
                .entry(update["update_id"].as_i64().unwrap())
                .or_default() += 1;
        }
        let response =
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": batch}));
        if batch.is_empty() && !state.empty_at_once {
            // A long poll with nothing new, shortened for the test.
            response.set_delay(Duration::from_millis(100))
        } else {
            response
        }
    }
}

struct PollingBot {
    bot: TestBot,
    queue: UpdateQueue,
    /// Kept so its expectations (`deleteWebhook` exactly once) are checked
    /// when the test ends.
    _telegram: MockServer,
}

/// A bot in polling mode whose Bot API is a fake with `queue` behind
/// `getUpdates`. `before` mounts mocks that take precedence.
async fn spawn_polling(proxy_database: bool, queue: UpdateQueue, before: Vec<Mock>) -> PollingBot {
    let telegram = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex("(?i)^/bot4242:test-token/deletewebhook$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": true})))
        .expect(1)
        .mount(&telegram)
        .await;
    for mock in before {
        mock.mount(&telegram).await;
    }
    Mock::given(method("POST"))
        .and(path_regex("(?i)^/bot4242:test-token/getupdates$"))
        .respond_with(queue.clone())
        .with_priority(10)
        .mount(&telegram)
        .await;
    let bot = spawn_bot_with(Options {
        proxy_database,
        env: vec![
            ("TELEGRAM_MODE", "polling".into()),
            ("TELEGRAM_API_URL", telegram.uri()),
            ("TELEGRAM_POLL_TIMEOUT_SECS", "25".into()),
        ],
        ..Options::default()
    })
    .await;
    testkit::eventually("polling to start", Duration::from_secs(30), || async {
        queue.first_call().map(|_| ())
    })
    .await;
    PollingBot {
        bot,
        queue,
        _telegram: telegram,
    }
}

fn get_updates_failing(status: u16, body: Value) -> Mock {
    Mock::given(method("POST"))
        .and(path_regex("(?i)/getupdates$"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .up_to_n_times(1)
        .with_priority(1)
}

async fn wait_for_jobs(bot: &TestBot, n: i64) {
    testkit::eventually(&format!("{n} jobs"), Duration::from_secs(20), || async {
        (bot.count("SELECT count(*) FROM jobs").await == n).then_some(())
    })
    .await;
}

#[tokio::test]
async fn polled_updates_become_jobs_exactly_once_and_the_offset_advances() {
    let queue = UpdateQueue::default();
    queue.push(text_update(10, 10, "A bakery site"));
    queue.push(callback_update(11, 10, "approve:1"));
    // The same update twice in one batch.
    queue.push(callback_update(11, 10, "approve:1"));
    let p = spawn_polling(false, queue, vec![]).await;

    p.queue.wait_for_offset(12).await;
    wait_for_jobs(&p.bot, 2).await;
    let dbg: Vec<(String, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT kind, created_at FROM jobs ORDER BY created_at")
            .fetch_all(&p.bot.db.pool)
            .await
            .unwrap();
    eprintln!("DEBUG {dbg:?} calls={:?}", p.queue.calls().len());

    // Telegram re-sends an update it already delivered, beside a new one.
    p.queue.push(callback_update(11, 10, "approve:1"));
    p.queue.push(text_update(12, 10, "/status"));
    p.queue.wait_for_offset(13).await;
    wait_for_jobs(&p.bot, 3).await;
    assert!(p.queue.deliveries(11) >= 3, "update 11 was sent again");

    assert_eq!(
        p.bot.count("SELECT count(*) FROM telegram_updates").await,
        3
    );
    // By update: one batch's updates commit concurrently, in lanes of
    // their own, so their jobs' created_at says nothing about their order.
    let kinds: Vec<String> = sqlx::query_scalar(
        "SELECT j.kind FROM jobs j JOIN telegram_updates u ON u.job_id = j.id ORDER BY u.update_id",
    )
    .fetch_all(&p.bot.db.pool)
    .await
    .unwrap();
    assert_eq!(kinds, ["generate", "callback", "command"]);
    assert_eq!(p.bot.take(WorkQueue::Jobs, 1).await.len(), 1);
    assert_eq!(p.bot.take(WorkQueue::Interactive, 2).await.len(), 2);

    let offsets = p.queue.offsets();
    assert_eq!(
        offsets[0], None,
        "the first call starts from Telegram's queue"
    );
    assert!(
        offsets.windows(2).all(|w| w[0] <= w[1]),
        "the offset never goes back: {offsets:?}"
    );
    let first = &p.queue.calls()[0];
    assert_eq!(
        first["allowed_updates"],
        json!(["message", "callback_query"])
    );
    assert_eq!(first["timeout"], 25);
}

#[tokio::test]
async fn a_429_from_get_updates_waits_its_retry_after_and_polls_again() {
    let queue = UpdateQueue::default();
    queue.push(text_update(30, 10, "A site about tea"));
    let started = Instant::now();
    let p = spawn_polling(
        false,
        queue,
        vec![get_updates_failing(
            429,
            json!({
                "ok": false, "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1}
            }),
        )],
    )
    .await;
    p.queue.wait_for_offset(31).await;
    wait_for_jobs(&p.bot, 1).await;
    let waited = p.queue.first_call().unwrap() - started;
    assert!(
        waited >= Duration::from_secs(1),
        "polled again only after retry_after, not after {waited:?}"
    );
}

#[tokio::test]
async fn a_502_from_get_updates_is_retried() {
    let queue = UpdateQueue::default();
    queue.push(text_update(40, 10, "A site about bees"));
    let p = spawn_polling(
        false,
        queue,
        vec![get_updates_failing(
            502,
            json!({"ok": false, "error_code": 502, "description": "Bad Gateway"}),
        )],
    )
    .await;
    // teloxide itself waits 10 s after a 5xx before it reports the error.
    testkit::eventually(
        "the update polled again",
        Duration::from_secs(30),
        || async { p.queue.offsets().contains(&Some(41)).then_some(()) },
    )
    .await;
    wait_for_jobs(&p.bot, 1).await;
}

#[tokio::test]
async fn with_the_database_down_the_offset_stays_and_the_updates_are_fetched_again() {
    let p = spawn_polling(true, UpdateQueue::default(), vec![]).await;
    p.bot.db_proxy.as_ref().unwrap().cut();
    p.queue.push(text_update(20, 10, "A site about owls"));
    p.queue.push(text_update(21, 10, "A site about larks"));

    testkit::eventually(
        "the batch fetched again while the database is away",
        Duration::from_secs(30),
        || async { (p.queue.deliveries(20) >= 3).then_some(()) },
    )
    .await;
    assert!(
        p.queue.offsets().iter().all(Option::is_none),
        "nothing was confirmed while nothing was committed: {:?}",
        p.queue.offsets()
    );
    assert_eq!(
        p.bot.count("SELECT count(*) FROM telegram_updates").await,
        0
    );

    p.bot.db_proxy.as_ref().unwrap().restore();
    p.queue.wait_for_offset(22).await;
    wait_for_jobs(&p.bot, 2).await;
    assert_eq!(
        p.bot.count("SELECT count(*) FROM telegram_updates").await,
        2
    );
    assert_eq!(p.bot.take(WorkQueue::Jobs, 2).await.len(), 2);
}

#[tokio::test]
async fn a_server_that_answers_empty_polls_at_once_is_polled_about_once_a_second() {
    let p = spawn_polling(false, UpdateQueue::ignoring_the_timeout(), vec![]).await;
    let first = p.queue.first_call().unwrap();
    tokio::time::sleep_until((first + Duration::from_secs(3)).into()).await;
    // At most one call per second: 4 in 3 s, one more for a late clock.
    let calls = p.queue.calls().len();
    assert!(
        (2..=5).contains(&calls),
        "{calls} getUpdates calls in 3 s, where one a second was expected"
    );

    // Polling goes on: an update that arrives is still fetched.
    p.queue.push(text_update(50, 10, "A site about patience"));
    wait_for_jobs(&p.bot, 1).await;
}

#[tokio::test]
async fn in_polling_mode_the_webhook_answers_409_and_the_rest_still_serves() {
    let p = spawn_polling(false, UpdateQueue::default(), vec![]).await;
    let response = p.bot.post_update(&text_update(1, 10, "hi")).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("TELEGRAM_MODE=polling"),
        "{body}"
    );
    assert_eq!(p.bot.get("/metrics").await.status(), StatusCode::OK);
    assert_eq!(
        p.bot.get("/jobs/not-a-uuid").await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        p.bot.count("SELECT count(*) FROM telegram_updates").await,
        0
    );
}
