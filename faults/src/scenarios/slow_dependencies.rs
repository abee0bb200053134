//! Scenario 5: every dependency misbehaves at once. The LLM stalls past
//! the client's timeout, Telegram answers 429 with `retry_after` and then
//! 502, and the evaluation URL refuses every callback five times. Every job
//! still finishes before its deadline, or fails with a stated reason.
//!
//! GitHub's secondary rate limits are not part of this run (the suite uses
//! the local publisher); worker/tests/github/failures.rs covers them
//! against a stateful fake GitHub.

use std::time::Duration;

use tokio::time::Instant;

use crate::{
    Suite,
    ledger::{self, Accepted},
    report::Row,
    system::{Options, System, message_update},
};

const REFUSALS: usize = 5;

pub async fn run(suite: &Suite) -> anyhow::Result<Row> {
    let started = Instant::now();
    let system = System::start(
        suite,
        "slow",
        Options {
            workers: 1,
            llm_timeout_secs: 2,
            ..Options::default()
        },
    )
    .await?;
    let requests = suite.scale.pick(3, 10);
    let stalls = 4;
    system.llm.stall_next(stalls);
    system.telegram.fail_next(&[429, 502, 429, 502, 502]);
    system.evaluator.refuse_first(REFUSALS);

    let mut accepted = Accepted::default();
    for i in 1..=requests {
        accepted
            .app
            .push(system.submit_app(&format!("slow-{i}")).await?);
        let update_id = 500 + i as i64;
        let update = message_update(update_id, 77, &format!("A page about slow dependency {i}"));
        anyhow::ensure!(
            system
                .post_update(&update)
                .await
                .is_some_and(|s| s.as_u16() == 200)
        );
        accepted.updates.push(update_id);
    }

    let mut tally = ledger::settle_and_count(&system, &accepted, Duration::from_secs(300)).await?;
    for key in &accepted.app {
        let refused = system.evaluator.refused(&key.nonce);
        if refused != REFUSALS {
            tally.problems.push(format!(
                "{}: the evaluator refused {refused} callbacks, not {REFUSALS}",
                key.task
            ));
        }
    }
    Ok(Row {
        scenario: "5. slow or failing dependencies",
        load: format!("{requests} `/app` requests and {requests} Telegram prompts, 1 worker"),
        faults: format!(
            "LLM stalled past its 2 s timeout for the first {stalls} calls ({} calls in all); \
             Telegram answered 429 (retry_after 1), 502, 429, 502, 502 ({} failed calls); \
             the evaluator refused each callback {REFUSALS}×",
            system.llm.calls(),
            system.telegram.failed()
        ),
        tally,
        took: started.elapsed(),
    })
}
