//! Recording evaluator requests posted to `/app`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::{AppRequest, JobKind, JobMessage, JobPayload, WorkQueue};

/// The job that stands for a (task, round, nonce).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedRequest {
    pub job_id: Uuid,
    pub received_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    /// False when the same (task, round, nonce) was already recorded: the
    /// existing job is returned and nothing new was created.
    pub created: bool,
}

/// Records the request, its attachments, its job and its outbox row in one
/// transaction, or returns the job already recorded for the same
/// (task, round, nonce), even when both arrive at the same moment.
pub async fn record_request(
    pool: &PgPool,
    request: &AppRequest,
    request_id: Option<&str>,
    time_budget: Duration,
) -> Result<AcceptedRequest, sqlx::Error> {
    let job_id = Uuid::new_v4();
    let mut tx = pool.begin().await?;
    // The request row goes first: a concurrent twin blocks on the unique key
    // until this transaction ends, then finds this row instead of inserting.
    let inserted = sqlx::query!(
        r#"INSERT INTO app_requests
               (job_id, task, round, nonce, email, brief, checks, evaluation_url, received_at, deadline)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now(), now() + make_interval(secs => $9::float8))
           ON CONFLICT (task, round, nonce) DO NOTHING
           RETURNING received_at, deadline"#,
        job_id,
        request.task,
        request.round,
        request.nonce,
        request.email,
        request.brief,
        serde_json::json!(request.checks),
        request.evaluation_url.as_str(),
        time_budget.as_secs_f64(),
    )
    .fetch_optional(&mut *tx)
    .await?;

    let Some(inserted) = inserted else {
        tx.rollback().await?;
        let existing = sqlx::query!(
            "SELECT job_id, received_at, deadline FROM app_requests
             WHERE task = $1 AND round = $2 AND nonce = $3",
            request.task,
            request.round,
            request.nonce,
        )
        .fetch_one(pool)
        .await?;
        return Ok(AcceptedRequest {
            job_id: existing.job_id,
            received_at: existing.received_at,
            deadline: existing.deadline,
            created: false,
        });
    };

    sqlx::query!(
        "INSERT INTO jobs (id, kind, source, payload, request_id, deadline)
         VALUES ($1, 'generate', 'app', $2, $3, $4)",
        job_id,
        serde_json::to_value(JobPayload::App).expect("payloads serialize"),
        request_id,
        inserted.deadline,
    )
    .execute(&mut *tx)
    .await?;

    if !request.attachments.is_empty() {
        let ordinals: Vec<i32> = (0..request.attachments.len() as i32).collect();
        let names: Vec<String> = request
            .attachments
            .iter()
            .map(|a| a.name.to_string())
            .collect();
        let types: Vec<String> = request
            .attachments
            .iter()
            .map(|a| a.media_type.clone())
            .collect();
        let data: Vec<Vec<u8>> = request.attachments.iter().map(|a| a.data.clone()).collect();
        let hashes: Vec<Vec<u8>> = request
            .attachments
            .iter()
            .map(|a| a.sha256().to_vec())
            .collect();
        sqlx::query!(
            "INSERT INTO attachments (job_id, ordinal, name, media_type, data, sha256)
             SELECT $1, * FROM UNNEST($2::int[], $3::text[], $4::text[], $5::bytea[], $6::bytea[])",
            job_id,
            &ordinals,
            &names,
            &types,
            &data,
            &hashes,
        )
        .execute(&mut *tx)
        .await?;
    }

    let message = JobMessage {
        job_id,
        kind: JobKind::Generate,
    };
    sqlx::query!(
        "INSERT INTO outbox (job_id, queue, payload, request_id) VALUES ($1, $2, $3, $4)",
        job_id,
        WorkQueue::Deadline.as_str(),
        serde_json::to_value(&message).expect("messages serialize"),
        request_id,
    )
    .execute(&mut *tx)
    .await?;

    tx.commit().await?;
    Ok(AcceptedRequest {
        job_id,
        received_at: inserted.received_at,
        deadline: inserted.deadline,
        created: true,
    })
}

/// Whether `round - 1` of `task` was ever requested: a later round revises
/// the repository an earlier one created, so it cannot come first.
pub async fn previous_round_exists(
    pool: &PgPool,
    task: &str,
    round: i32,
) -> Result<bool, sqlx::Error> {
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM app_requests WHERE task = $1 AND round = $2) AS "exists!""#,
        task,
        round - 1,
    )
    .fetch_one(pool)
    .await?;
    Ok(exists)
}

/// An attachment as stored.
#[derive(Debug, Clone)]
pub struct StoredAttachment {
    pub name: String,
    pub media_type: String,
    pub data: Vec<u8>,
    pub sha256: Vec<u8>,
}

/// The attachments of a job, in the order they were sent.
pub async fn attachments(
    pool: &PgPool,
    job_id: Uuid,
) -> Result<Vec<StoredAttachment>, sqlx::Error> {
    sqlx::query_as!(
        StoredAttachment,
        "SELECT name, media_type, data, sha256 FROM attachments WHERE job_id = $1 ORDER BY ordinal",
        job_id
    )
    .fetch_all(pool)
    .await
}

/// An /app request as the worker needs it.
#[derive(Debug, Clone)]
pub struct AppRequestRecord {
    pub job_id: Uuid,
    pub task: String,
    pub round: i32,
    pub nonce: String,
    pub email: String,
    pub brief: String,
    pub checks: serde_json::Value,
    pub evaluation_url: String,
    pub received_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
}

/// The request behind an /app job.
pub async fn request_for_job(
    pool: &PgPool,
    job_id: Uuid,
) -> Result<Option<AppRequestRecord>, sqlx::Error> {
    sqlx::query_as!(
        AppRequestRecord,
        "SELECT job_id, task, round, nonce, email, brief, checks, evaluation_url, received_at, deadline
         FROM app_requests WHERE job_id = $1",
        job_id
    )
    .fetch_optional(pool)
    .await
}
