//! Publishes and evaluation callbacks.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{CallbackStatus, PagesStatus};

/// A version as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishRecord {
    pub version_id: Uuid,
    pub publisher: String,
    pub repo_url: String,
    pub commit_sha: String,
    pub pages_url: String,
    pub pages_status: PagesStatus,
}

/// Gives the project its repository name, once; returns the name it has.
pub async fn claim_repo_name(
    pool: &PgPool,
    project_id: Uuid,
    name: &str,
) -> Result<String, sqlx::Error> {
    sqlx::query_scalar!(
        r#"UPDATE projects SET repo_name = COALESCE(repo_name, $2) WHERE id = $1 RETURNING repo_name AS "repo_name!""#,
        project_id,
        name,
    )
    .fetch_one(pool)
    .await
}

/// Records a publish (idempotent per version) and the project's URLs.
pub async fn record(
    conn: &mut PgConnection,
    job_id: Uuid,
    project_id: Uuid,
    p: &PublishRecord,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO publishes (version_id, job_id, publisher, repo_url, commit_sha, pages_url, pages_status)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (version_id) DO UPDATE
             SET repo_url = EXCLUDED.repo_url, commit_sha = EXCLUDED.commit_sha, pages_url = EXCLUDED.pages_url",
        p.version_id,
        job_id,
        p.publisher,
        p.repo_url,
        p.commit_sha,
        p.pages_url,
        p.pages_status as _,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE projects SET repo_url = $2, pages_url = $3 WHERE id = $1",
        project_id,
        p.repo_url,
        p.pages_url,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets whether the pages serve the version yet.
pub async fn set_pages_status(
    pool: &PgPool,
    version_id: Uuid,
    status: PagesStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE publishes SET pages_status = $2, pages_checked_at = now() WHERE version_id = $1",
        version_id,
        status.as_str(),
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The publish of a version, if it was published.
pub async fn for_version(
    pool: &PgPool,
    version_id: Uuid,
) -> Result<Option<PublishRecord>, sqlx::Error> {
    sqlx::query_as!(
        PublishRecord,
        r#"SELECT version_id, publisher, repo_url, commit_sha, pages_url,
                  pages_status AS "pages_status: PagesStatus"
             FROM publishes WHERE version_id = $1"#,
        version_id
    )
    .fetch_optional(pool)
    .await
}

/// Whether the job's callback was already delivered.
pub async fn callback_delivered(pool: &PgPool, job_id: Uuid) -> Result<bool, sqlx::Error> {
    let status = sqlx::query_scalar!(
        r#"SELECT callback_status AS "callback_status: CallbackStatus" FROM app_requests WHERE job_id = $1"#,
        job_id
    )
    .fetch_optional(pool)
    .await?;
    Ok(status == Some(CallbackStatus::Delivered))
}

/// Records one callback attempt; returns its number.
pub async fn record_callback_attempt(
    pool: &PgPool,
    job_id: Uuid,
    status_code: Option<i32>,
    error: Option<&str>,
    deadline_margin_ms: i64,
) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO callback_attempts (job_id, attempt, status_code, error, deadline_margin_ms)
           SELECT $1, COALESCE(max(attempt), 0) + 1, $2, $3, $4 FROM callback_attempts WHERE job_id = $1
           RETURNING attempt"#,
        job_id,
        status_code,
        error,
        deadline_margin_ms,
    )
    .fetch_one(pool)
    .await
}

/// Records the attempt the evaluator accepted and marks the callback
/// delivered, in one transaction: either both hold or neither does.
pub async fn record_delivery(
    pool: &PgPool,
    job_id: Uuid,
    deadline_margin_ms: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        r#"INSERT INTO callback_attempts (job_id, attempt, status_code, deadline_margin_ms)
           SELECT $1, COALESCE(max(attempt), 0) + 1, 200, $2 FROM callback_attempts WHERE job_id = $1"#,
        job_id,
        deadline_margin_ms,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE app_requests SET callback_status = 'delivered', callback_delivered_at = now()
         WHERE job_id = $1",
        job_id,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Marks the callback delivered or failed.
pub async fn set_callback_status(
    pool: &PgPool,
    job_id: Uuid,
    status: CallbackStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE app_requests SET callback_status = $2,
                callback_delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE callback_delivered_at END
         WHERE job_id = $1",
        job_id,
        status.as_str(),
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// When the callback was delivered, for reports.
pub async fn callback_delivered_at(
    pool: &PgPool,
    job_id: Uuid,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let at = sqlx::query_scalar!(
        "SELECT callback_delivered_at FROM app_requests WHERE job_id = $1",
        job_id
    )
    .fetch_optional(pool)
    .await?;
    Ok(at.flatten())
}
