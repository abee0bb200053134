//! Metrics count exactly what happened: a scripted flow through bot, worker
//! and preview, then every counter it should have moved is read from the
//! `/metrics` endpoints and compared with the number of events sent.
//!
//! One test in this binary: the metrics recorder is global to a process,
//! and here bot, worker and preview share one process (nextest also runs
//! each test in a process of its own).

use std::{collections::BTreeMap, time::Duration};

use e2e::{Stack, StackOptions};
use serde_json::json;

/// One sample of the Prometheus text format.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|p| !p.is_empty())
                .filter_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    Some((k.to_owned(), v.trim_matches('"').to_owned()))
                })
                .collect();
            Some(Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// The sum of `name`'s samples whose labels include all of `with`.
fn value(samples: &[Sample], name: &str, with: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            with.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

async fn scrape(client: &reqwest::Client, addr: std::net::SocketAddr) -> Vec<Sample> {
    let response = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("metrics answer");
    assert_eq!(response.status(), 200);
    parse(&response.text().await.unwrap())
}

fn prompt(update_id: i64) -> serde_json::Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": 1, "date": 1_700_000_000,
            "chat": {"id": 31337, "type": "private", "first_name": "Ada"},
            "from": {"id": 31337, "is_bot": false, "first_name": "Ada"},
            "text": "A page for my book club"
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_exactly_what_a_scripted_flow_did() {
    let stack = Stack::start(StackOptions {
        worker_env: vec![("WORKER_JOBS_GAUGE_SECS", "1".into())],
        ..StackOptions::default()
    })
    .await;

    // Two /app tasks, the first replayed; one with the wrong secret.
    let first = stack.app_request("metrics-a", 1, "nonce-a", "A page about apples");
    let second = stack.app_request("metrics-b", 1, "nonce-b", "A page about pears");
    for body in [&first, &second, &first] {
        assert_eq!(stack.post_app(body).await.status(), 200);
    }
    let mut wrong = first.clone();
    wrong["secret"] = json!("not-the-secret");
    assert_eq!(stack.post_app(&wrong).await.status(), 403);
    // One Telegram prompt, delivered twice (as Telegram retries).
    for _ in 0..2 {
        assert_eq!(stack.post_update(&prompt(91_001)).await.status(), 200);
    }

    for nonce in ["nonce-a", "nonce-b"] {
        stack
            .evaluator
            .wait_for(nonce, Duration::from_secs(60))
            .await;
    }
    let token: String = loop {
        let token = sqlx::query_scalar(
            "SELECT v.preview_token FROM versions v JOIN jobs j ON j.id = v.job_id \
             WHERE j.source = 'telegram' AND j.state = 'preview_ready'",
        )
        .fetch_optional(&stack.db.pool)
        .await
        .unwrap();
        if let Some(token) = token {
            break token;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The preview: one live page, one unknown token.
    let live = stack
        .client
        .get(format!("http://{}/p/{token}/", stack.preview))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let unknown = stack
        .client
        .get(format!("http://{}/p/{}/", stack.preview, "x".repeat(32)))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    // Let the jobs-by-state gauge count again (every second here).
    tokio::time::sleep(Duration::from_millis(2_500)).await;

    let bot = scrape(&stack.client, stack.bot).await;
    let m = |name, with: &[(&str, &str)]| value(&bot, name, with);
    // Ingress.
    assert_eq!(
        m("pagesmith_app_requests_total", &[("outcome", "accepted")]),
        2.0
    );
    assert_eq!(
        m("pagesmith_app_requests_total", &[("outcome", "replay")]),
        1.0
    );
    assert_eq!(
        m("pagesmith_app_rejected_total", &[("reason", "secret")]),
        1.0
    );
    assert_eq!(m("pagesmith_updates_total", &[("outcome", "job")]), 1.0);
    assert_eq!(
        m("pagesmith_updates_total", &[("outcome", "duplicate")]),
        1.0
    );
    let route = |route, status| {
        m(
            "pagesmith_http_requests_total",
            &[("route", route), ("status", status)],
        )
    };
    assert_eq!(route("/app", "200"), 3.0);
    assert_eq!(route("/app", "403"), 1.0);
    assert_eq!(route("/telegram/webhook", "200"), 2.0);
    assert_eq!(
        m(
            "pagesmith_http_request_duration_seconds_count",
            &[("route", "/app")]
        ),
        4.0
    );

    let worker = scrape(&stack.client, stack.worker_metrics).await;
    let w = |name, with: &[(&str, &str)]| value(&worker, name, with);
    // Three sites generated, checked and bundled; two published and called back.
    for stage in ["generate", "check", "bundle"] {
        assert_eq!(
            w("pagesmith_stage_seconds_count", &[("stage", stage)]),
            3.0,
            "{stage}"
        );
    }
    assert_eq!(
        w("pagesmith_generator_calls_total", &[("outcome", "ok")]),
        3.0
    );
    assert_eq!(
        w(
            "pagesmith_publishes_total",
            &[("publisher", "local"), ("outcome", "ok")]
        ),
        2.0
    );
    assert_eq!(
        w("pagesmith_callback_attempts_total", &[("outcome", "ok")]),
        2.0
    );
    assert_eq!(
        w(
            "pagesmith_callback_attempts_total",
            &[("outcome", "failed")]
        ),
        0.0
    );
    assert_eq!(
        w("pagesmith_callback_deadline_margin_seconds_count", &[]),
        2.0
    );
    assert_eq!(w("pagesmith_jobs_by_state", &[("state", "published")]), 2.0);
    assert_eq!(
        w("pagesmith_jobs_by_state", &[("state", "preview_ready")]),
        1.0
    );
    // The prompt's one status message, sent once; the rest are edits.
    assert_eq!(
        w(
            "pagesmith_telegram_calls_total",
            &[("method", "sendMessage"), ("outcome", "ok")]
        ),
        1.0
    );

    let preview = scrape(&stack.client, stack.preview).await;
    let p = |with: &[(&str, &str)]| value(&preview, "preview_http_requests_total", with);
    assert_eq!(p(&[("view", "live"), ("status", "200")]), 1.0);
    assert_eq!(p(&[("status", "404")]), 1.0);
}
