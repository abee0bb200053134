//! The scenarios. Each starts its own system, injects its faults while
//! load flows, and ends with the ledger's count.

mod broker_restart;
mod capacity;
mod database_restart;
mod deadline_under_load;
mod duplicate_storm;
mod github_rate_limits;
mod load;
mod slow_dependencies;
mod worker_killed;

use crate::{Suite, report::Row};

/// Every scenario, by name, in the order the suite runs them.
pub const ALL: &[&str] = &[
    "worker-killed",
    "broker-restart",
    "database-restart",
    "duplicate-storm",
    "slow-dependencies",
    "github-rate-limits",
    "deadline-under-load",
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
        // A benchmark, not part of the suite: run by name.
        "capacity" => capacity::run(suite).await,
        other => anyhow::bail!("no scenario {other:?}; there are: {}", ALL.join(", ")),
    }
}
