//! `/metrics` on bot, worker and preview count a scripted flow exactly:
//! two `/app` tasks (one posted again, so it is a replay), one Telegram
//! prompt delivered twice (so it is deduplicated), and preview pages that
//! answer 200, 404 and 410. Each count is exact.
//!
//! The `metrics` recorder is process-wide, and in this process bot, worker
//! and preview share it; so every count is a difference between a scrape
//! taken before the flow and one after, and this file holds one test.

use std::time::Duration;

use e2e::{Scrape, Stack, StackOptions, prompt_update};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_count_a_scripted_flow_exactly() {
    let stack = Stack::start(StackOptions {
        worker_env: vec![("WORKER_JOBS_GAUGE_SECS", "1".to_owned())],
        ..StackOptions::default()
    })
    .await;
    let bot = format!("http://{}/metrics", stack.bot);
    let worker = format!("http://{}/metrics", stack.worker_metrics);
    let preview = format!("http://{}/metrics", stack.preview);
    let before = Scrape::get(&stack.client, &bot).await;

    // Two tasks, the first posted twice.
    let first = stack.app_request("metered-a", 1, "n-a", "A page titled Alpha.");
    let second = stack.app_request("metered-b", 1, "n-b", "A page titled Beta.");
    for body in [&first, &second, &first] {
        assert_eq!(stack.post_app(body).await.status(), 200);
    }
    // One prompt, delivered twice as Telegram does when it retries.
    let update = prompt_update(7001, "A site for my bakery");
    for _ in 0..2 {
        assert_eq!(stack.post_update(&update).await.status(), 200);
    }
    for nonce in ["n-a", "n-b"] {
        stack
            .evaluator
            .wait_for(nonce, Duration::from_secs(120))
            .await;
    }
    // The gauge is recounted every second: both tasks published, the
    // prompt's site waiting for review.
    testkit::eventually(
        "jobs_by_state to show the flow",
        Duration::from_secs(60),
        || async {
            let now = Scrape::get(&stack.client, &worker).await;
            let published = now.value("pagesmith_jobs_by_state", &[("state", "published")]);
            let ready = now.value("pagesmith_jobs_by_state", &[("state", "preview_ready")]);
            (published == 2.0 && ready == 1.0).then_some(())
        },
    )
    .await;

    // The prompt's preview: one page, one missing file; a rejected
    // version's page; a token that never existed.
    let token: String = sqlx::query_scalar(
        "SELECT v.preview_token FROM versions v JOIN projects p ON p.id = v.project_id \
         WHERE p.source = 'telegram'",
    )
    .fetch_one(&stack.db.pool)
    .await
    .unwrap();
    let rejected: String = sqlx::query_scalar(
        "UPDATE versions SET state = 'rejected' WHERE id = \
         (SELECT v.id FROM versions v JOIN projects p ON p.id = v.project_id \
          WHERE p.task = 'metered-a') RETURNING preview_token",
    )
    .fetch_one(&stack.db.pool)
    .await
    .unwrap();
    let unknown = "A".repeat(token.len());
    for (path, status) in [
        (format!("/p/{token}/"), 200),
        (format!("/p/{token}/missing.txt"), 404),
        (format!("/s/{rejected}/"), 410),
        (format!("/p/{unknown}/"), 404),
    ] {
        let url = format!("http://{}{path}", stack.preview);
        let response = stack.client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
    }

    // The bot: requests by route and status, /app outcomes, updates.
    let after = Scrape::get(&stack.client, &bot).await;
    let http = |route: &str, method: &str, status: &str| {
        after.delta(
            &before,
            "pagesmith_http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(http("/app", "POST", "200"), 3.0);
    assert_eq!(http("/telegram/webhook", "POST", "200"), 2.0);
    assert_eq!(
        after.delta(
            &before,
            "pagesmith_http_request_duration_seconds_count",
            &[("route", "/app"), ("method", "POST"), ("status", "200")],
        ),
        3.0
    );
    let app = |outcome| {
        after.delta(
            &before,
            "pagesmith_app_requests_total",
            &[("outcome", outcome)],
        )
    };
    assert_eq!(app("accepted"), 2.0);
    assert_eq!(app("replay"), 1.0);
    let updates =
        |outcome| after.delta(&before, "pagesmith_updates_total", &[("outcome", outcome)]);
    assert_eq!(updates("job"), 1.0);
    assert_eq!(updates("duplicate"), 1.0);
    // Three jobs, then (for the two tasks) their approvals: all relayed.
    assert_eq!(after.value("pagesmith_outbox_backlog", &[]), 0.0);

    // The worker: generator calls, publishes, callbacks, stages, once its
    // queued Telegram messages went out.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM telegram_outbox WHERE state = 'pending'")
                .fetch_one(&stack.db.pool)
                .await
                .unwrap();
        if pending == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{pending} messages never sent"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let now = Scrape::get(&stack.client, &worker).await;
    let worker_delta = |name: &str, labels: &[(&str, &str)]| now.delta(&before, name, labels);
    assert_eq!(
        worker_delta(
            "pagesmith_generator_calls_total",
            &[("generator", "builtin"), ("outcome", "ok")]
        ),
        3.0
    );
    assert_eq!(
        worker_delta(
            "pagesmith_publishes_total",
            &[("publisher", "local"), ("outcome", "ok")]
        ),
        2.0
    );
    assert_eq!(
        worker_delta("pagesmith_callback_attempts_total", &[("outcome", "ok")]),
        2.0
    );
    assert_eq!(
        worker_delta(
            "pagesmith_callback_attempts_total",
            &[("outcome", "failed")]
        ),
        0.0
    );
    assert_eq!(
        worker_delta("pagesmith_callback_deadline_margin_seconds_count", &[]),
        2.0
    );
    let margins = worker_delta("pagesmith_callback_deadline_margin_seconds_sum", &[]);
    assert!(
        margins > 2.0 * 400.0 && margins < 2.0 * 600.0,
        "both callbacks came minutes before the 10-minute deadline: {margins}"
    );
    for (stage, runs) in [("generate", 3.0), ("publish", 2.0), ("callback", 2.0)] {
        assert_eq!(
            worker_delta("pagesmith_stage_seconds_count", &[("stage", stage)]),
            runs,
            "{stage}"
        );
    }
    assert_eq!(worker_delta("pagesmith_jobs_failed_total", &[]), 0.0);
    // The prompt's status message: sent once, edited as the stages pass,
    // and edited into the ready message. The tasks have no chat. Status
    // texts are queued, and a newer one replaces a queued older one, so
    // the first send may already carry a later stage (or the ready text):
    // 0 to 3 edits.
    let telegram = |method| {
        worker_delta(
            "pagesmith_telegram_calls_total",
            &[("method", method), ("outcome", "ok")],
        )
    };
    assert_eq!(telegram("sendMessage"), 1.0);
    let edits = telegram("editMessageText");
    assert!(
        [0.0, 1.0, 2.0, 3.0].contains(&edits),
        "at most the ready edit and two stage edits: {edits}"
    );
    assert_eq!(
        worker_delta(
            "pagesmith_telegram_deliveries_total",
            &[("outcome", "sent")]
        ),
        1.0 + edits,
        "every call a delivery of a queued message"
    );

    // The preview: requests by view and status.
    let seen = Scrape::get(&stack.client, &preview).await;
    for (view, status, count) in [
        ("live", "200", 1.0),
        ("live", "404", 2.0),
        ("safe", "410", 1.0),
        ("safe", "200", 0.0),
    ] {
        let labels = [("view", view), ("status", status)];
        assert_eq!(
            seen.delta(&before, "pagesmith_preview_http_requests_total", &labels),
            count,
            "{view} {status}"
        );
        assert_eq!(
            seen.delta(
                &before,
                "pagesmith_preview_http_request_duration_seconds_count",
                &labels
            ),
            count,
            "{view} {status}"
        );
    }
}
