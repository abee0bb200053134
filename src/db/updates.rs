//! Recording Telegram updates: dedupe row, job and outbox row, atomically.

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::JobPayload;

/// One update to record.
#[derive(Debug, Clone)]
pub struct UpdateRecord {
    pub update_id: i64,
    /// The update's type as Telegram names it: `message`, `callback_query`, ...
    pub kind: String,
    /// The job it asks for, or `None` when we record it as ignored.
    pub job: Option<NewJob>,
    /// The HTTP request that carried it.
    pub request_id: Option<String>,
}

/// A job to create for an update.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: Uuid,
    pub payload: JobPayload,
    pub chat_id: Option<i64>,
    pub user_id: Option<i64>,
}

/// What recording an update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// First sighting; its job (if any) and outbox row were created.
    Recorded,
    /// Seen within the dedupe TTL; nothing was created.
    Duplicate,
}

/// Records a batch of updates in **one statement**, and so one transaction
/// and one commit: the dedupe rows, the jobs of the updates seen for the
/// first time, and their outbox rows. Batching the updates of concurrent
/// requests into one commit is what lets ingress outrun one transaction per
/// request.
///
/// `records` must not repeat an `update_id`; the caller dedupes within a batch.
///
/// A row older than `dedupe_ttl` does not count as a duplicate: Telegram
/// restarts `update_id` at a random value after a week without updates, and
/// retries an update for at most a day, so an old row with the same id is a
/// genuinely new update. Its row is then overwritten.
pub async fn record_updates(
    pool: &PgPool,
    bot_id: i64,
    records: &[UpdateRecord],
    dedupe_ttl: Duration,
) -> Result<Vec<UpdateOutcome>, sqlx::Error> {
    let update_ids: Vec<i64> = records.iter().map(|r| r.update_id).collect();
    let kinds: Vec<String> = records.iter().map(|r| r.kind.clone()).collect();
    let job_ids: Vec<Option<Uuid>> = records
        .iter()
        .map(|r| r.job.as_ref().map(|j| j.id))
        .collect();

    let with_jobs: Vec<(&UpdateRecord, &NewJob)> = records
        .iter()
        .filter_map(|r| r.job.as_ref().map(|j| (r, j)))
        .collect();
    let new_ids: Vec<Uuid> = with_jobs.iter().map(|(_, j)| j.id).collect();
    let new_update_ids: Vec<i64> = with_jobs.iter().map(|(r, _)| r.update_id).collect();
    let new_kinds: Vec<String> = with_jobs
        .iter()
        .map(|(_, j)| j.payload.kind().to_string())
        .collect();
    let new_queues: Vec<String> = with_jobs
        .iter()
        .map(|(_, j)| j.payload.kind().queue().to_string())
        .collect();
    let new_payloads: Vec<serde_json::Value> = with_jobs
        .iter()
        .map(|(_, j)| serde_json::to_value(&j.payload).expect("payloads serialize"))
        .collect();
    let new_chats: Vec<Option<i64>> = with_jobs.iter().map(|(_, j)| j.chat_id).collect();
    let new_users: Vec<Option<i64>> = with_jobs.iter().map(|(_, j)| j.user_id).collect();
    let new_request_ids: Vec<Option<String>> = with_jobs
        .iter()
        .map(|(r, _)| r.request_id.clone())
        .collect();

    let recorded: Vec<i64> = sqlx::query_scalar!(
        r#"
        WITH recorded AS (
            INSERT INTO telegram_updates AS u (bot_id, update_id, kind, job_id)
            SELECT $1, t.update_id, t.kind, t.job_id
            FROM UNNEST($2::bigint[], $3::text[], $4::uuid[]) AS t(update_id, kind, job_id)
            ON CONFLICT (bot_id, update_id) DO UPDATE
                SET kind = EXCLUDED.kind, job_id = EXCLUDED.job_id, received_at = now()
                WHERE u.received_at < now() - make_interval(secs => $5::float8)
            RETURNING update_id
        ),
        job_input AS (
            SELECT * FROM UNNEST($6::uuid[], $7::bigint[], $8::text[], $9::text[], $10::jsonb[],
                                 $11::bigint[], $12::bigint[], $13::text[])
                AS t(id, update_id, kind, queue, payload, chat_id, user_id, request_id)
        ),
        new_jobs AS (
            INSERT INTO jobs (id, kind, source, payload, chat_id, user_id, request_id)
            SELECT j.id, j.kind, 'telegram', j.payload, j.chat_id, j.user_id, j.request_id
            FROM job_input j JOIN recorded r ON r.update_id = j.update_id
            RETURNING id, kind
        ),
        queued AS (
            INSERT INTO outbox (job_id, queue, payload, request_id)
            SELECT n.id, j.queue, jsonb_build_object('job_id', n.id, 'kind', n.kind), j.request_id
            FROM new_jobs n JOIN job_input j ON j.id = n.id
        )
        SELECT update_id AS "update_id!" FROM recorded
        "#,
        bot_id,
        &update_ids,
        &kinds,
        &job_ids as &[Option<Uuid>],
        dedupe_ttl.as_secs_f64(),
        &new_ids,
        &new_update_ids,
        &new_kinds,
        &new_queues,
        &new_payloads,
        &new_chats as &[Option<i64>],
        &new_users as &[Option<i64>],
        &new_request_ids as &[Option<String>],
    )
    .fetch_all(pool)
    .await?;

    let recorded: std::collections::HashSet<i64> = recorded.into_iter().collect();
    Ok(records
        .iter()
        .map(|r| {
            if recorded.contains(&r.update_id) {
                UpdateOutcome::Recorded
            } else {
                UpdateOutcome::Duplicate
            }
        })
        .collect())
}

/// Deletes dedupe rows past their TTL. They would be overwritten anyway;
/// this keeps the table small.
pub async fn purge_expired_updates(
    pool: &PgPool,
    dedupe_ttl: Duration,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM telegram_updates WHERE received_at < now() - make_interval(secs => $1::float8)",
        dedupe_ttl.as_secs_f64()
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
