//! One worker per job at a time.
//!
//! A duplicate message (an outbox republish, a redelivery racing a slow
//! worker) must not run a job twice at once. The worker takes a PostgreSQL
//! session advisory lock keyed by the job id on a connection it holds for
//! the run. If the worker dies, its connection closes and the lock goes with
//! it, so the broker's redelivery can start at once: no lease to wait out.

use sqlx::{PgPool, pool::PoolConnection, postgres::Postgres};
use uuid::Uuid;

/// Holds a job's lock until [`JobLock::release`] or drop.
pub struct JobLock {
    conn: Option<PoolConnection<Postgres>>,
    job_id: Uuid,
}

impl JobLock {
    /// Takes the lock, or `None` when another session holds it.
    pub async fn try_acquire(pool: &PgPool, job_id: Uuid) -> Result<Option<Self>, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        let locked: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1::text, 0))")
                .bind(job_id)
                .fetch_one(&mut *conn)
                .await?;
        Ok(locked.then_some(Self {
            conn: Some(conn),
            job_id,
        }))
    }

    /// Unlocks and returns the connection to the pool.
    pub async fn release(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock(hashtextextended($1::text, 0))")
                .bind(self.job_id)
                .execute(&mut *conn)
                .await;
            if unlocked.is_err() {
                // Never hand a connection that may still hold the lock back.
                conn.close_on_drop();
            }
        }
    }
}

impl Drop for JobLock {
    fn drop(&mut self) {
        // Dropped without release (a panic, a timeout): close the session
        // so the lock cannot leak into the pool.
        if let Some(conn) = self.conn.as_mut() {
            conn.close_on_drop();
        }
    }
}
