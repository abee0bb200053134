//! Scenario 2: RabbitMQ stops and comes back while `/app` requests and
//! Telegram updates flow at a steady rate. Ingress keeps answering 200 (it
//! only needs PostgreSQL), everything is processed once the broker is back,
//! and the outbox drains to zero.

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
        ..Options::default()
    };
    let system = Arc::new(System::start(suite, "broker", options).await?);
    let period = Duration::from_millis(200);
    let outage = load::through_outage(
        &system,
        &suite.rabbit,
        "broker",
        period,
        suite
            .scale
            .pick(Duration::from_secs(3), Duration::from_secs(10)),
        suite
            .scale
            .pick(Duration::from_secs(5), Duration::from_secs(15)),
    )
    .await?;

    let mut tally =
        ledger::settle_and_count(&system, &outage.accepted, Duration::from_secs(180)).await?;
    let backlog = system.count("SELECT count(*) FROM outbox").await?;
    if backlog != 0 {
        tally.lost += backlog as usize;
        tally
            .problems
            .push(format!("{backlog} outbox rows never relayed"));
    }
    if outage.answers.non_200() != 0 {
        tally.problems.push(format!(
            "ingress did not answer 200 throughout: {}",
            outage.answers.describe()
        ));
    }
    Ok(Row {
        scenario: "2. RabbitMQ restarted",
        load: format!(
            "1 `/app` + 1 update every {} ms for {:.0} s, 2 workers",
            period.as_millis(),
            outage.load_ran.as_secs_f64()
        ),
        faults: format!(
            "RabbitMQ stopped for {:.1} s (stop to ready) with {} jobs in flight; \
             ingress answers: {}; outbox after: {backlog}",
            outage.down.as_secs_f64(),
            outage.in_flight,
            outage.answers.describe()
        ),
        tally,
        took: started.elapsed(),
    })
}
