//! Scenario 3: PostgreSQL stops (as in a crash: `pg_ctl -m immediate`)
//! while requests flow and jobs are in flight. Ingress answers 503 while it
//! is down — never 200 for something it did not store — and recovers
//! without a restart; the senders retry as Telegram and evaluators do, and
//! the jobs in flight resume.

use std::{sync::Arc, time::Duration};

use tokio::time::Instant;

use super::load;
use crate::{
    Suite, ledger,
    report::Row,
    system::{Options, System},
};

pub async fn run(suite: &Suite) -> anyhow::Result<Row> {
    let started = Instant::now();
    let options = Options {
        workers: 2,
        // Slow generation keeps jobs in flight across the outage.
        llm_delay: Duration::from_secs(1),
        ..Options::default()
    };
    let system = Arc::new(System::start(suite, "database", options).await?);
    let period = Duration::from_millis(200);
    let outage = load::through_outage(
        &system,
        &suite.postgres,
        "database",
        period,
        suite
            .scale
            .pick(Duration::from_secs(3), Duration::from_secs(10)),
        suite
            .scale
            .pick(Duration::from_secs(4), Duration::from_secs(10)),
    )
    .await?;

    // Every request answered 200 must be stored: the ledger counts any
    // that is not as lost.
    let mut tally =
        ledger::settle_and_count(&system, &outage.accepted, Duration::from_secs(180)).await?;
    let answers = &outage.answers;
    let unexpected: usize = answers
        .by_status
        .iter()
        .filter(|(s, _)| ![200, 503].contains(*s))
        .map(|(_, n)| n)
        .sum();
    if unexpected != 0 {
        tally.problems.push(format!(
            "answers other than 200 and 503: {}",
            answers.describe()
        ));
    }
    if answers.count(503) == 0 {
        tally
            .problems
            .push("no 503 seen: the outage was never observed".into());
    }
    Ok(Row {
        scenario: "3. PostgreSQL restarted",
        load: format!(
            "1 `/app` + 1 update every {} ms for {:.0} s, LLM 1 s per call, 2 workers",
            period.as_millis(),
            outage.load_ran.as_secs_f64()
        ),
        faults: format!(
            "PostgreSQL stopped (immediate) for {:.1} s (stop to ready) with {} jobs in flight; \
             ingress answers: {}",
            outage.down.as_secs_f64(),
            outage.in_flight,
            answers.describe()
        ),
        tally,
        took: started.elapsed(),
    })
}
