//! Periodic clean-up of expired dedupe rows.

use std::time::Duration;

use pagesmith::db;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub async fn run(pool: PgPool, dedupe_ttl: Duration, every: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => return,
        }
        match db::updates::purge_expired_updates(&pool, dedupe_ttl).await {
            Ok(n) if n > 0 => tracing::info!(rows = n, "purged expired update dedupe rows"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not purge dedupe rows"),
        }
    }
}
