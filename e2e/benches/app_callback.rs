//! `POST /app` → evaluation callback, through the whole system: the bot,
//! the outbox relay, RabbitMQ, the worker (built-in generator, checks,
//! bundle, local publisher: a real git commit and its pages) and the
//! callback to a local evaluator.
//!
//! ```text
//! scripts/bench-e2e                 # 50 requests one by one, then 50 at once
//! BENCH_REQUESTS=100 scripts/bench-e2e
//! ```
//!
//! Two systems side by side in one run: bundles on local disk (the
//! default), and in an S3 store (moto's server, `TEST_S3_ENDPOINT`, which
//! scripts/bench-e2e starts). The phases alternate between them, so both
//! see the same machine.
//!
//! Reported per phase: p50, p99 and max of the time from sending the
//! request to the callback's arrival, and the smallest margin left before
//! the 10-minute deadline.

use std::time::Duration;

use e2e::{Stack, StackOptions};
use tokio::time::Instant;

const DEADLINE: Duration = Duration::from_secs(600);
const BRIEF: &str = "A one-page site titled Score Board that shows sample.csv as a table.";

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let requests: usize = std::env::var("BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let file = Stack::start(StackOptions::default()).await;
    let bucket = testkit::TestBucket::new()
        .await
        .expect("an S3 test server: run through scripts/bench-e2e");
    let s3 = Stack::start(StackOptions {
        worker_env: bucket.env("bench"),
        ..StackOptions::default()
    })
    .await;
    println!(
        "POST /app → callback, {requests} requests per phase, built-in generator, local publisher, WORKER_CONCURRENCY=4"
    );
    println!(
        "{:>8} {:>12} {:>10} {:>10} {:>10} {:>14}",
        "store", "phase", "p50 ms", "p99 ms", "max ms", "min margin s"
    );
    for (store, stack) in [("file", &file), ("s3", &s3)] {
        let mut one_by_one = Vec::with_capacity(requests);
        for i in 0..requests {
            one_by_one.push(round_trip(stack, format!("seq-{i}")).await);
        }
        report(store, "one by one", one_by_one);
    }
    for (store, stack) in [("file", &file), ("s3", &s3)] {
        let burst = futures::future::join_all(
            (0..requests).map(|i| round_trip(stack, format!("burst-{i}"))),
        )
        .await;
        report(store, "all at once", burst);
    }
}

/// One request, timed from sending it to its callback's arrival.
async fn round_trip(stack: &Stack, name: String) -> Duration {
    let task = format!("{name}-{}", uuid::Uuid::new_v4().simple());
    let nonce = format!("nonce-{task}");
    let started = Instant::now();
    let response = stack
        .post_app(&stack.app_request(&task, 1, &nonce, BRIEF))
        .await;
    assert_eq!(response.status(), 200, "request {name} accepted");
    let callback = stack.evaluator.wait_for(&nonce, DEADLINE).await;
    callback.received - started
}

fn report(store: &str, phase: &str, mut latencies: Vec<Duration>) {
    latencies.sort();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1000.0
    };
    let max = latencies.last().copied().unwrap_or_default();
    println!(
        "{store:>8} {phase:>12} {:>10.0} {:>10.0} {:>10.0} {:>14.1}",
        pct(0.50),
        pct(0.99),
        max.as_secs_f64() * 1000.0,
        (DEADLINE - max).as_secs_f64()
    );
}
