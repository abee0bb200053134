//! With `LOG_FORMAT=json`, every HTTP request is one log event carrying its
//! request id (the one echoed in `x-request-id`), and a failure is logged
//! once: by that event, with its cause, not again by the handler.
//!
//! One test in this binary: it installs the process's log subscriber.

#[path = "api/helpers.rs"]
#[expect(dead_code, reason = "this binary uses a few of the api helpers")]
mod helpers;

use std::time::Duration;

use helpers::{Options, WEBHOOK_SECRET, app_request, spawn_bot_with, text_update};
use pagesmith::telemetry::LogFormat;
use serde_json::Value;
use testkit::CapturedLogs;

/// Every event logged inside the request `id`'s span.
fn events_of(logs: &CapturedLogs, id: &str) -> Vec<Value> {
    logs.json_events()
        .into_iter()
        .filter(|e| e["span"]["request_id"] == id)
        .collect()
}

fn request_id(response: &reqwest::Response) -> String {
    response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_request_is_one_json_event_with_its_id_and_a_failure_is_logged_once() {
    let logs = CapturedLogs::install(LogFormat::Json, "info");
    let bot = spawn_bot_with(Options {
        proxy_database: true,
        ..Options::default()
    })
    .await;

    let accepted = bot.post_app(&app_request("logged", 1, "n1")).await;
    assert_eq!(accepted.status(), 200);
    let mut wrong = app_request("logged", 1, "n2");
    wrong["secret"] = "nope".into();
    let refused = bot.post_app(&wrong).await;
    assert_eq!(refused.status(), 403);
    // Healthy once the relay has reached RabbitMQ.
    let health = loop {
        let health = bot.get("/health").await;
        if health.status() == 200 {
            break health;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // The database goes away: the webhook answers 503.
    bot.db_proxy.as_ref().unwrap().cut();
    let unavailable = bot
        .client
        .post(bot.url("/telegram/webhook"))
        .header("X-Telegram-Bot-Api-Secret-Token", WEBHOOK_SECRET)
        .header("x-request-id", "req-from-the-caller")
        .json(&text_update(77, 5, "a site please"))
        .send()
        .await
        .unwrap();
    assert_eq!(unavailable.status(), 503);
    assert_eq!(
        request_id(&unavailable),
        "req-from-the-caller",
        "a caller's id is kept"
    );
    bot.db_proxy.as_ref().unwrap().restore();
    tokio::time::sleep(Duration::from_millis(200)).await;

    for (response, status, route) in [
        (&accepted, 200, "/app"),
        (&refused, 403, "/app"),
        (&health, 200, "/health"),
    ] {
        let id = request_id(response);
        assert_eq!(id.len(), 36, "a generated UUID: {id}");
        let events = events_of(&logs, &id);
        assert_eq!(
            events.len(),
            1,
            "one event for {route} {status}: {events:#?}"
        );
        let event = &events[0];
        assert_eq!(event["level"], "INFO");
        assert_eq!(event["status"], status);
        assert_eq!(event["span"]["uri"], route);
        assert!(event["latency_ms"].as_f64().is_some(), "{event}");
    }

    let events = events_of(&logs, "req-from-the-caller");
    assert_eq!(events.len(), 1, "the failure is logged once: {events:#?}");
    let event = &events[0];
    assert_eq!(event["level"], "ERROR");
    assert_eq!(event["status"], 503);
    assert_eq!(event["span"]["method"], "POST");
    assert!(
        event["cause"]
            .as_str()
            .is_some_and(|c| c.starts_with("update not recorded")),
        "the cause is in the event: {event}"
    );
}
