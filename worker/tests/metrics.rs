//! The worker's `/metrics` and `/health` on `WORKER_METRICS_ADDR`, with the
//! whole worker started as `main` starts it.

#[path = "pipeline/helpers.rs"]
#[expect(dead_code, reason = "this binary uses a few of the pipeline helpers")]
mod helpers;

use std::time::Duration;

use pagesmith::{
    domain::{JobKind, JobMessage, WorkQueue},
    queue::{ConfirmedChannel, Outgoing},
};
use serde_json::Value;
use worker::Worker;

use helpers::{Step, good_site, spawn};

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("the metrics server answers");
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The line of `metric` whose labels include `label`, if any.
fn line<'a>(text: &'a str, metric: &str, label: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| l.starts_with(&format!("{metric}{{")) && l.contains(label))
}

#[tokio::test]
async fn metrics_show_stage_timings_after_a_job_and_jobs_by_state() {
    let w = spawn(
        vec![Step::Files(good_site("Measured"))],
        vec![],
        &[
            ("WORKER_METRICS_ADDR", "127.0.0.1:0"),
            ("WORKER_JOBS_GAUGE_SECS", "1"),
        ],
    )
    .await;
    let running = Worker { env: w.env.clone() }.start().await.unwrap();
    let base = format!("http://{}", running.metrics_addr());

    let (status, health) = get(&format!("{base}/health")).await;
    assert_eq!(status, 200, "{health}");
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["postgres"], "ok");

    let job = w.prompt("A site to measure", None).await;
    let connection =
        lapin::Connection::connect(&w.broker.url, lapin::ConnectionProperties::default())
            .await
            .unwrap();
    ConfirmedChannel::open(&connection)
        .await
        .unwrap()
        .publish(&Outgoing {
            queue: w.env.topology.work(WorkQueue::Jobs),
            body: serde_json::to_vec(&JobMessage {
                job_id: job,
                kind: JobKind::Generate,
            })
            .unwrap(),
            ..Outgoing::default()
        })
        .await
        .unwrap();

    let text = testkit::eventually(
        "the job's stages and state in /metrics",
        Duration::from_secs(30),
        || async {
            let (_, text) = get(&format!("{base}/metrics")).await;
            let ready = line(&text, "pagesmith_jobs_by_state", "state=\"preview_ready\"")?;
            // The bundle stage's time is recorded just after its commit
            // makes the job preview_ready: wait for both.
            let timed = ["generate", "check", "bundle"].iter().all(|stage| {
                let label = format!("stage=\"{stage}\"");
                text.lines()
                    .any(|l| l.starts_with("pagesmith_stage_seconds") && l.contains(&label))
            });
            (ready.ends_with(" 1") && timed).then_some(text)
        },
    )
    .await;
    // Which limit binds: each slot's capacity, use, waiters and waits.
    for slot in ["cpu", "llm"] {
        let label = format!("slot=\"{slot}\"");
        for metric in [
            "pagesmith_slots_capacity",
            "pagesmith_slots_in_use",
            "pagesmith_slots_waiting",
            "pagesmith_slot_wait_seconds_count",
        ] {
            assert!(
                line(&text, metric, &label).is_some(),
                "{metric} for the {slot} slots:\n{text}"
            );
        }
    }
    assert_eq!(
        line(&text, "pagesmith_slots_capacity", "slot=\"llm\""),
        Some("pagesmith_slots_capacity{slot=\"llm\"} 64")
    );
    assert_eq!(
        line(&text, "pagesmith_jobs_by_state", "state=\"queued\""),
        Some("pagesmith_jobs_by_state{state=\"queued\"} 0"),
        "an empty state reads 0"
    );

    running.run_until(async {}).await.unwrap();
    assert!(
        reqwest::get(format!("{base}/metrics")).await.is_err(),
        "the metrics server stops with the worker"
    );
}
