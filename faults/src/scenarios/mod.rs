//! The scenarios. Each starts its own system, injects its faults while
//! load flows, and ends with the ledger's count.

mod broker_restart;
mod capacity;
mod database_restart;
mod deadline_under_load;
mod duplicate_storm;
mod github_rate_limits;
mod load;
mod node_killed;
mod slow_dependencies;
mod store_outage;
mod worker_killed;

use std::{sync::Arc, time::Duration};

use futures::future::join_all;

use crate::{
    Suite,
    ledger::{self, Accepted, AppKey, Tally},
    report::Row,
    system::System,
};

/// Every scenario, by name, in the order the suite runs them.
pub const ALL: &[&str] = &[
    "worker-killed",
    "broker-restart",
    "database-restart",
    "duplicate-storm",
    "slow-dependencies",
    "github-rate-limits",
    "deadline-under-load",
    "node-killed",
    "store-outage",
];

pub async fn run(suite: &Suite, name: &str) -> anyhow::Result<Row> {
    match name {
        "worker-killed" => worker_killed::run(suite).await,
        "broker-restart" => broker_restart::run(suite).await,
        "database-restart" => database_restart::run(suite).await,
        "duplicate-storm" => duplicate_storm::run(suite).await,
        "slow-dependencies" => slow_dependencies::run(suite).await,
        "github-rate-limits" => github_rate_limits::run(suite).await,
        "deadline-under-load" => deadline_under_load::run(suite).await,
        "node-killed" => node_killed::run(suite).await,
        "store-outage" => store_outage::run(suite).await,
        // A benchmark, not part of the suite: run by name.
        "capacity" => capacity::run(suite).await,
        other => anyhow::bail!("no scenario {other:?}; there are: {}", ALL.join(", ")),
    }
}

/// `n` round-1 `/app` tasks named `{name}-{i}`.
fn app_keys(name: &str, n: usize) -> Vec<AppKey> {
    (1..=n)
        .map(|i| AppKey {
            task: format!("{name}-{i}"),
            round: 1,
            nonce: format!("{name}-nonce-{i}"),
        })
        .collect()
}

/// Posts every task at once; returns how many were not answered 200.
async fn post_all(system: &Arc<System>, keys: &[AppKey]) -> usize {
    let answers = join_all(keys.iter().map(|key| {
        let system = system.clone();
        async move {
            let body = system.app_request(&key.task, key.round, &key.nonce);
            system.post_app(&body).await
        }
    }))
    .await;
    answers
        .iter()
        .filter(|s| !s.is_some_and(|s| s.as_u16() == 200))
        .count()
}

/// Counts `keys` once settled (waiting up to `settle`); `refused` requests
/// not answered 200 are a problem in the tally.
async fn count_tasks(
    system: &Arc<System>,
    keys: Vec<AppKey>,
    refused: usize,
    settle: Duration,
) -> anyhow::Result<Tally> {
    let accepted = Accepted {
        app: keys,
        updates: Vec::new(),
    };
    let mut tally = ledger::settle_and_count(system, &accepted, settle).await?;
    if refused != 0 {
        tally
            .problems
            .push(format!("{refused} requests not answered 200"));
    }
    Ok(tally)
}

/// Posts `n` round-1 `/app` tasks (`{name}-{i}`) all at once, then counts
/// them once settled (waiting up to `settle`).
async fn tasks_at_once(
    system: &Arc<System>,
    name: &str,
    n: usize,
    settle: Duration,
) -> anyhow::Result<Tally> {
    let keys = app_keys(name, n);
    let refused = post_all(system, &keys).await;
    count_tasks(system, keys, refused, settle).await
}

/// Fetches every version's page from each preview; returns how many links
/// there were, and the problem when some were not the same 200 on all.
async fn compare_previews(system: &System) -> anyhow::Result<(usize, Option<String>)> {
    let tokens: Vec<String> = sqlx::query_scalar("SELECT preview_token FROM versions")
        .fetch_all(&system.pool)
        .await?;
    let mut differing = 0;
    for token in &tokens {
        let mut bodies = Vec::new();
        for base in &system.preview_urls {
            let response = system
                .client
                .get(format!("{base}/p/{token}/index.html"))
                .send()
                .await?;
            let status = response.status().as_u16();
            bodies.push((status, response.bytes().await?));
        }
        let first = &bodies[0];
        if first.0 != 200 || bodies.iter().any(|b| b != first) {
            differing += 1;
        }
    }
    let problem = (differing != 0).then(|| {
        format!(
            "{differing} of {} preview links differ between the previews",
            tokens.len()
        )
    });
    Ok((tokens.len(), problem))
}

/// Versions the LLM wrote (the rest fell back to the built-in template).
async fn sites_by_llm(system: &System) -> anyhow::Result<i64> {
    system
        .count("SELECT count(*) FROM versions WHERE generator LIKE 'llm:%'")
        .await
}
