//! A benchmark more than a fault: how much one worker on its default
//! settings gets through when every site waits on a slow LLM (issue 18's
//! measurement). Many `/app` tasks at once, each with a short deadline;
//! reported: how many were called back in time, how many sites the LLM
//! wrote (the rest fell back to the built-in template to make the
//! deadline), and the callback times. Run by name only
//! (`scripts/bench-capacity` runs it against this build and a baseline).

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use tokio::time::Instant;

use crate::{
    Suite,
    report::Row,
    system::{Options, System},
};

/// The `/app` deadline and the part of it kept for publishing.
const DEADLINE_SECS: u64 = 120;
const PUBLISH_RESERVE_SECS: u64 = 30;

pub async fn run(suite: &Suite) -> anyhow::Result<Row> {
    let started = Instant::now();
    let requests = suite.scale.pick(20, 60);
    let llm_delay = suite
        .scale
        .pick(Duration::from_secs(3), Duration::from_secs(10));
    let system = Arc::new(
        System::start(
            suite,
            "capacity",
            Options {
                workers: 1,
                worker_concurrency: None,
                llm_delay,
                llm_timeout_secs: 60,
                env: vec![
                    ("APP_DEADLINE_SECS".into(), DEADLINE_SECS.to_string()),
                    (
                        "APP_PUBLISH_RESERVE_SECS".into(),
                        PUBLISH_RESERVE_SECS.to_string(),
                    ),
                ],
                ..Options::default()
            },
        )
        .await?,
    );
    let sent_at = Utc::now();
    let tally = super::tasks_at_once(
        &system,
        "capacity",
        requests,
        Duration::from_secs(DEADLINE_SECS + 60),
    )
    .await?;
    let by_llm = super::sites_by_llm(&system).await?;
    let mut seconds: Vec<f64> = system
        .evaluator
        .accepted()
        .iter()
        .map(|c| (c.at - sent_at).as_seconds_f64())
        .collect();
    seconds.sort_by(f64::total_cmp);
    let at = |q: f64| {
        seconds
            .get(((seconds.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let figures = format!(
        "{} callbacks; {by_llm} of {requests} sites by the LLM; callback p50 {:.1} s, p90 {:.1} s, max {:.1} s",
        seconds.len(),
        at(0.5),
        at(0.9),
        at(1.0)
    );
    eprintln!("[capacity] {figures}");
    Ok(Row {
        scenario: "capacity (benchmark)",
        load: format!(
            "{requests} `/app` at once, LLM {} s per call, {DEADLINE_SECS} s deadline \
             ({PUBLISH_RESERVE_SECS} s reserve), 1 worker, default settings",
            llm_delay.as_secs()
        ),
        faults: figures,
        tally,
        took: started.elapsed(),
    })
}
