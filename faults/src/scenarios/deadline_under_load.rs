//! Scenario 6: many `/app` requests at once, a slow LLM and one worker on
//! its default settings. Every callback goes out before its 10-minute
//! deadline; the report gives the smallest margin and how many sites the
//! LLM wrote (the rest fell back to the built-in template to make it).

use std::{sync::Arc, time::Duration};

use futures::future::join_all;
use tokio::time::Instant;

use crate::{
    Suite,
    ledger::{self, Accepted, AppKey},
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
    let keys: Vec<AppKey> = (1..=requests)
        .map(|i| AppKey {
            task: format!("deadline-{i}"),
            round: 1,
            nonce: format!("deadline-nonce-{i}"),
        })
        .collect();
    let answers = join_all(keys.iter().map(|key| {
        let system = system.clone();
        async move {
            let body = system.app_request(&key.task, key.round, &key.nonce);
            system.post_app(&body).await
        }
    }))
    .await;
    let refused = answers
        .iter()
        .filter(|s| !s.is_some_and(|s| s.as_u16() == 200))
        .count();

    let accepted = Accepted {
        app: keys,
        updates: Vec::new(),
    };
    let mut tally = ledger::settle_and_count(&system, &accepted, Duration::from_secs(660)).await?;
    if refused != 0 {
        tally
            .problems
            .push(format!("{refused} requests not answered 200"));
    }
    let llm_calls = system.llm.calls();
    let by_llm = system
        .count("SELECT count(*) FROM versions WHERE generator LIKE 'llm:%'")
        .await?;
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
