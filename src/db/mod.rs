//! PostgreSQL access: the pool, migrations, and one module of queries per
//! concern.

pub mod app;
pub mod chat;
pub mod generations;
pub mod jobs;
pub mod outbox;
pub mod projects;
pub mod publishing;
pub mod telegram;
pub mod updates;
pub mod versions;

use std::time::Duration;

use secrecy::ExposeSecret;

use crate::backoff::Backoff;
use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};

/// The schema, embedded from `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// How long a request waits for a connection before it is told the database
/// is unavailable (503) instead of hanging.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A pool that connects on first use, so a process starts even while the
/// database is briefly away and answers 503 until it is back.
pub fn pool(url: &secrecy::SecretString, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let options: PgConnectOptions = url.expose_secret().parse()?;
    Ok(pool_with(options, max_connections))
}

/// A lazy pool from explicit options.
pub fn pool_with(options: PgConnectOptions, max_connections: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options.application_name("pagesmith"))
}

/// The pool a binary runs on, with the schema migrated: how every binary
/// starts.
pub async fn connect_and_migrate(
    settings: &crate::config::CommonSettings,
) -> anyhow::Result<PgPool> {
    use anyhow::Context;
    let pool = pool(&settings.database_url, settings.database_max_connections)
        .context("DATABASE_URL is not a valid PostgreSQL URL")?;
    migrate(&pool, Duration::from_secs(30))
        .await
        .context("could not apply database migrations")?;
    Ok(pool)
}

/// Applies pending migrations, retrying while the database comes up (as it
/// does when every container starts at once). sqlx takes an advisory lock,
/// so several processes migrating at the same moment is safe.
pub async fn migrate(pool: &PgPool, wait_for: Duration) -> Result<(), sqlx::migrate::MigrateError> {
    let started = std::time::Instant::now();
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
    loop {
        match MIGRATOR.run(pool).await {
            Ok(()) => return Ok(()),
            Err(sqlx::migrate::MigrateError::Execute(e))
                if is_unavailable(&e) && started.elapsed() < wait_for =>
            {
                tracing::warn!(error = %e, "database not reachable yet; retrying migrations");
                tokio::time::sleep(backoff.next_wait()).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// True when the error means the database could not be reached or refused
/// service, as opposed to a bad query or a constraint. Callers answer 503 so
/// the sender retries later.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // Class 08: connection exception; 57P0x: shutting down or starting
            // up; 53300: too many connections.
            code.starts_with("08") || code.starts_with("57P") || code == "53300"
        }),
        _ => false,
    }
}

/// A round trip to the database, for health checks.
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

/// True for errors that a plain retry resolves: deadlocks and serialization
/// failures, after which the transaction was rolled back.
pub fn is_transient(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40P01" | "40001")))
}
