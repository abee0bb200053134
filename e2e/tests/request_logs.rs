//! JSON request logs: every HTTP request to the bot and the preview ends in
//! exactly one event carrying its request id (taken from `x-request-id`, or
//! generated, and echoed in the response) with method, route, status and
//! latency; a failure (PostgreSQL cut: 503) is logged once, by that event,
//! and by nothing else in the request. The tracing subscriber is global, so
//! this file holds one test.

use std::time::Duration;

use e2e::{CapturedLogs, Stack, StackOptions, WEBHOOK_SECRET, prompt_update};
use serde_json::Value;

/// Every line, parsed.
fn events(logs: &CapturedLogs) -> Vec<Value> {
    logs.text()
        .lines()
        .map(|line| serde_json::from_str(line).expect("every log line is one JSON object"))
        .collect()
}

/// Whether `event` happened inside the request (or job) `id`.
fn within(event: &Value, id: &str) -> bool {
    event["spans"]
        .as_array()
        .is_some_and(|spans| spans.iter().any(|s| s["request_id"] == id))
}

/// `GET` or `POST` with an optional request id; returns the status and the
/// echoed id.
async fn send(request: reqwest::RequestBuilder, id: Option<&str>) -> (u16, String) {
    let request = match id {
        Some(id) => request.header("x-request-id", id),
        None => request,
    };
    let response = request.send().await.expect("an answer");
    let echoed = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    (response.status().as_u16(), echoed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_request_logs_one_event_with_its_id_and_a_failure_is_logged_once() {
    let logs = CapturedLogs::install("info");
    let stack = Stack::start(StackOptions {
        proxy_database: true,
        ..StackOptions::default()
    })
    .await;
    let (bot, preview, client) = (stack.bot, stack.preview, &stack.client);
    let unknown = format!("/p/{}/", "A".repeat(32));
    testkit::eventually(
        "the bot to reach RabbitMQ",
        Duration::from_secs(30),
        || async {
            let health = client
                .get(format!("http://{bot}/health"))
                .send()
                .await
                .ok()?;
            (health.status() == 200).then_some(())
        },
    )
    .await;

    let app = stack.app_request("logged", 1, "n-logged", "A page titled Logged.");
    let mut expected = vec![
        (
            send(
                client.post(format!("http://{bot}/app")).json(&app),
                Some("req-app"),
            )
            .await,
            ("POST", "/app", 200),
        ),
        (
            send(client.get(format!("http://{bot}/health")), None).await,
            ("GET", "/health", 200),
        ),
        (
            send(client.get(format!("http://{bot}/nowhere")), Some("req-404")).await,
            ("GET", "unmatched", 404),
        ),
        (
            send(
                client.get(format!("http://{preview}{unknown}")),
                Some("req-preview"),
            )
            .await,
            ("GET", "/p/{*rest}", 404),
        ),
        (
            send(client.get(format!("http://{preview}/health")), None).await,
            ("GET", "/health", 200),
        ),
    ];
    // The callback proves the job ran; its logs carry the request's id.
    stack
        .evaluator
        .wait_for("n-logged", Duration::from_secs(120))
        .await;

    stack.db_proxy.as_ref().unwrap().cut();
    let update = prompt_update(5001, "A site for my bakery");
    let webhook = client
        .post(format!("http://{bot}/telegram/webhook"))
        .header("X-Telegram-Bot-Api-Secret-Token", WEBHOOK_SECRET)
        .json(&update);
    let failures = vec![
        (
            send(webhook, Some("req-down")).await,
            ("POST", "/telegram/webhook", 503),
        ),
        (
            // Another token: the first one's lookup is cached.
            send(
                client.get(format!("http://{preview}/p/{}/", "B".repeat(32))),
                Some("req-preview-down"),
            )
            .await,
            ("GET", "/p/{*rest}", 503),
        ),
    ];
    stack.db_proxy.as_ref().unwrap().restore();
    expected.extend(failures.iter().cloned());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let events = events(&logs);

    for ((status, id), (method, route, expected_status)) in &expected {
        assert_eq!(status, expected_status, "{method} {route}");
        let own: Vec<&Value> = events.iter().filter(|e| e["request_id"] == **id).collect();
        assert_eq!(own.len(), 1, "{method} {route} {id}: {own:#?}");
        let event = own[0];
        assert_eq!(event["method"], *method, "{event}");
        assert_eq!(event["route"], *route, "{event}");
        assert_eq!(event["status"], *expected_status, "{event}");
        assert!(event["latency_ms"].as_f64().is_some(), "{event}");
    }
    // Ids the caller did not send were generated: distinct, non-empty.
    let generated: Vec<&String> = expected
        .iter()
        .map(|((_, id), _)| id)
        .filter(|id| !id.starts_with("req-"))
        .collect();
    assert_eq!(generated.len(), 2);
    assert!(generated[0] != generated[1] && !generated[0].is_empty());

    // Each failure: one event, at warn, with its cause; nothing else in the
    // request warns or errs about it.
    for ((_, id), (method, route, _)) in &failures {
        let loud: Vec<&Value> = events
            .iter()
            .filter(|e| within(e, id) && matches!(e["level"].as_str(), Some("WARN" | "ERROR")))
            .collect();
        assert_eq!(loud.len(), 1, "{method} {route}: {loud:#?}");
        assert_eq!(loud[0]["request_id"], *id);
        assert_eq!(loud[0]["level"], "WARN");
        let cause = loud[0]["error"].as_str().unwrap_or_default();
        assert!(!cause.is_empty(), "the cause is logged: {}", loud[0]);
    }
    // Nothing of the successful requests warns.
    for ((_, id), (method, route, _)) in &expected[..5] {
        assert!(
            !events
                .iter()
                .any(|e| within(e, id) && e["level"] != "INFO" && e["level"] != "DEBUG"),
            "{method} {route} logged a warning"
        );
    }
    // The /app request's id reaches the worker's job logs.
    assert!(
        events.iter().any(|e| e["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("worker"))
            && within(e, "req-app")),
        "the job's logs carry the request id"
    );
}
