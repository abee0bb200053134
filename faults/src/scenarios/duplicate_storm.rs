//! Scenario 4: a storm of webhook updates, 30% of them duplicates (some
//! sent five times), all at once and in a shuffled order, at the same
//! moment as `/app` requests each replayed three times. Exactly one job per
//! distinct update and request, and one callback per request, come out.

use std::{sync::Arc, time::Duration};

use futures::{StreamExt, stream};
use tokio::time::Instant;

use crate::{
    Suite,
    ledger::{self, Accepted, AppKey},
    report::Row,
    system::{Options, System, message_update},
};

/// Sends in flight at once.
const CONCURRENCY: usize = 64;

pub async fn run(suite: &Suite) -> anyhow::Result<Row> {
    let started = Instant::now();
    let system = Arc::new(
        System::start(
            suite,
            "storm",
            Options {
                workers: 2,
                worker_concurrency: Some(8),
                ..Options::default()
            },
        )
        .await?,
    );
    let total = suite.scale.pick(1_000, 10_000);
    let app_requests = suite.scale.pick(20, 200);
    let plan = storm_plan(total);
    let distinct = plan.iter().copied().max().unwrap_or(0) as usize;

    let updates = {
        let system = system.clone();
        let plan = plan.clone();
        async move {
            stream::iter(plan)
                .map(|id| {
                    let system = system.clone();
                    async move {
                        // One in ten asks for a site; the rest are commands.
                        let text = if id % 10 == 0 {
                            format!("A landing page for product {id}")
                        } else {
                            "/help".to_owned()
                        };
                        let chat = 1_000 + id % 97;
                        system.post_update(&message_update(id, chat, &text)).await
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .collect::<Vec<_>>()
                .await
        }
    };
    let keys: Vec<AppKey> = (1..=app_requests)
        .map(|i| AppKey {
            task: format!("storm-{i}"),
            round: 1,
            nonce: format!("storm-nonce-{i}"),
        })
        .collect();
    let replays = {
        let system = system.clone();
        let sends: Vec<AppKey> = keys
            .iter()
            .flat_map(|k| [k.clone(), k.clone(), k.clone()])
            .collect();
        async move {
            stream::iter(sends)
                .map(|key| {
                    let system = system.clone();
                    async move {
                        let body = system.app_request(&key.task, key.round, &key.nonce);
                        system.post_app(&body).await
                    }
                })
                .buffer_unordered(CONCURRENCY / 4)
                .collect::<Vec<_>>()
                .await
        }
    };
    let (update_answers, app_answers) = tokio::join!(updates, replays);
    let sent = started.elapsed();

    let accepted = Accepted {
        app: keys,
        updates: (1..=distinct as i64).collect(),
    };
    let settle = suite
        .scale
        .pick(Duration::from_secs(240), Duration::from_secs(900));
    let mut tally = ledger::settle_and_count(&system, &accepted, settle).await?;
    let refused = update_answers
        .iter()
        .chain(app_answers.iter())
        .filter(|s| !s.is_some_and(|s| s.as_u16() == 200))
        .count();
    if refused != 0 {
        tally
            .problems
            .push(format!("{refused} sends were not answered 200"));
    }
    // Exact counts, beside the per-request ledger.
    let jobs = system.count("SELECT count(*) FROM jobs").await? as usize;
    let expected_jobs = distinct + app_requests;
    if jobs != expected_jobs {
        tally
            .problems
            .push(format!("{jobs} jobs, expected exactly {expected_jobs}"));
    }
    let callbacks = system.evaluator.accepted().len();
    if callbacks != app_requests {
        tally.problems.push(format!(
            "{callbacks} callbacks, expected exactly {app_requests}"
        ));
    }
    Ok(Row {
        scenario: "4. duplicate storm",
        load: format!(
            "{total} webhook updates ({distinct} distinct; {} duplicates, some sent 5×) \
             and {app_requests} `/app` × 3, {CONCURRENCY} at once, 2 workers × 8",
            total - distinct
        ),
        faults: format!(
            "every duplicate answered 200 and dropped; sent in {:.1} s; {jobs} jobs and \
             {callbacks} callbacks came out",
            sent.as_secs_f64()
        ),
        tally,
        took: started.elapsed(),
    })
}

/// `total` update ids: 70% distinct, every tenth of those sent five times,
/// the rest of the duplicates sent twice; shuffled (deterministically).
fn storm_plan(total: usize) -> Vec<i64> {
    let distinct = total * 7 / 10;
    let mut plan: Vec<i64> = Vec::with_capacity(total);
    for id in 1..=distinct as i64 {
        let copies = if id % 10 == 1 { 5 } else { 1 };
        plan.extend(std::iter::repeat_n(id, copies));
    }
    let mut next = 2;
    while plan.len() < total {
        plan.push(next);
        next += 10;
        if next > distinct as i64 {
            next = 3;
        }
    }
    plan.truncate(total);
    // xorshift: the same order every run, with no dependency for it.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in (1..plan.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        plan.swap(i, (state % (i as u64 + 1)) as usize);
    }
    plan
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::storm_plan;

    #[test]
    fn the_plan_has_the_asked_size_and_30_percent_duplicates() {
        let plan = storm_plan(10_000);
        assert_eq!(plan.len(), 10_000);
        let mut copies: HashMap<i64, usize> = HashMap::new();
        for id in &plan {
            *copies.entry(*id).or_default() += 1;
        }
        assert_eq!(copies.len(), 7_000);
        assert_eq!(copies.values().filter(|&&n| n == 5).count(), 700);
        assert!(copies.values().all(|&n| n >= 1));
    }
}
