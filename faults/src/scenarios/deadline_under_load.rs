//! Scenario 6: many `/app` requests at once, a slow LLM and one worker on
//! its default settings. Every callback goes out before its 10-minute
//! deadline; the report gives the smallest margin and how many sites the
//! LLM wrote (the rest fell back to the built-in template to make it).

use std::{sync::Arc, time::Duration};

use tokio::time::Instant;

use crate::{
    Suite,
    report::Row,
    system::{Options, System},
};

pub async fn run(suite: &Suite) -> anyhow::Result<Row> {
    let started = Instant::now();
    let requests = suite.scale.pick(16, 100);
    let llm_delay = suite
        .scale
        .pick(Duration::from_secs(3), Duration::from_secs(30));
    let system = Arc::new(
        System::start(
            suite,
            "deadline",
            Options {
                workers: 1,
                worker_concurrency: None,
                llm_delay,
                llm_timeout_secs: 60,
                ..Options::default()
            },
        )
        .await?,
    );
    let tally =
        super::tasks_at_once(&system, "deadline", requests, Duration::from_secs(660)).await?;
    let llm_calls = system.llm.calls();
    let by_llm = super::sites_by_llm(&system).await?;
    Ok(Row {
        scenario: "6. deadline under load",
        load: format!(
            "{requests} `/app` at once, LLM {} s per call, 1 worker, default slots",
            llm_delay.as_secs()
        ),
        faults: format!(
            "slow LLM ({llm_calls} LLM calls made; {by_llm} of {requests} sites written by the LLM)"
        ),
        tally,
        took: started.elapsed(),
    })
}
