//! The transactional outbox, read by the relay.

use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// The channel writers notify after adding rows, so a relay in another
/// process wakes at once instead of at its next poll.
pub const NOTIFY_CHANNEL: &str = "pagesmith_outbox";

/// A message waiting to be published.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub id: i64,
    pub job_id: Uuid,
    pub queue: String,
    pub payload: serde_json::Value,
    pub request_id: Option<String>,
}

/// Locks up to `limit` unsent rows for the rest of the caller's
/// transaction. Other relays skip locked rows; if this relay dies before
/// committing, its connection closes, the locks go with it, and the rows are
/// picked up again at once. Marking them sent in the same transaction costs
/// one write per row.
pub async fn lock_pending(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<OutboxMessage>, sqlx::Error> {
    sqlx::query_as!(
        OutboxMessage,
        "SELECT id, job_id, queue, payload, request_id FROM outbox
         WHERE available_at <= now()
         ORDER BY id
         LIMIT $1
         FOR UPDATE SKIP LOCKED",
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Removes rows the broker confirmed: they are sent.
pub async fn mark_sent(conn: &mut PgConnection, ids: &[i64]) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM outbox WHERE id = ANY($1)", ids)
        .execute(conn)
        .await?;
    Ok(())
}

/// Makes rows available again after `delay`, recording why they failed.
pub async fn release(
    conn: &mut PgConnection,
    ids: &[i64],
    delay: Duration,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE outbox SET available_at = now() + make_interval(secs => $2::float8),
                           attempts = attempts + 1, last_error = $3
         WHERE id = ANY($1)",
        ids,
        delay.as_secs_f64(),
        error,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// How many rows wait to be published.
pub async fn backlog(pool: &PgPool) -> Result<i64, sqlx::Error> {
    let n = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM outbox"#)
        .fetch_one(pool)
        .await?;
    Ok(n)
}

/// Queues a message for `job_id` in the caller's transaction, and wakes the
/// relay (the notification is delivered on commit).
pub async fn enqueue(
    conn: &mut PgConnection,
    job_id: Uuid,
    kind: crate::domain::JobKind,
) -> Result<(), sqlx::Error> {
    let message = crate::domain::JobMessage { job_id, kind };
    sqlx::query!(
        "INSERT INTO outbox (job_id, queue, payload) VALUES ($1, $2, $3)",
        job_id,
        kind.queue().as_str(),
        serde_json::to_value(&message).expect("messages serialize"),
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)
        .execute(conn)
        .await?;
    Ok(())
}
