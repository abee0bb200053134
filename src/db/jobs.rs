//! Jobs: reading them, moving them through their states, and recording
//! each attempt.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::{JobKind, JobPayload, JobState, PagesStatus, Source, VersionState};

/// A job as the API shows it.
#[derive(Debug, Clone)]
pub struct JobRecord {
    pub id: Uuid,
    pub kind: JobKind,
    pub source: Source,
    pub state: JobState,
    pub attempts: i32,
    pub error: Option<String>,
    pub deadline: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// For /app jobs.
    pub task: Option<String>,
    pub round: Option<i32>,
    /// The version the job produced, once it has.
    pub version_number: Option<i32>,
    pub preview_token: Option<String>,
    pub version_state: Option<VersionState>,
    pub checks: Option<serde_json::Value>,
}

/// The job with this id, if any.
pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<JobRecord>, sqlx::Error> {
    sqlx::query_as!(
        JobRecord,
        r#"SELECT j.id, j.kind AS "kind: JobKind", j.source AS "source: Source",
                  j.state AS "state: JobState", j.attempts, j.error, j.deadline,
                  j.created_at, j.updated_at,
                  a.task AS "task?", COALESCE(a.round, j.round) AS round,
                  v.number AS "version_number?", v.preview_token AS "preview_token?",
                  v.state AS "version_state?: VersionState", v.checks AS "checks?"
           FROM jobs j
           LEFT JOIN app_requests a ON a.job_id = j.id
           LEFT JOIN versions v ON v.job_id = j.id
           WHERE j.id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await
}

/// A job as the worker needs it.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: Uuid,
    pub kind: JobKind,
    pub source: Source,
    pub state: JobState,
    pub payload: JobPayload,
    pub chat_id: Option<i64>,
    pub user_id: Option<i64>,
    pub request_id: Option<String>,
    pub deadline: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub project_id: Option<Uuid>,
    pub round: Option<i32>,
    pub llm_failures: i32,
    pub created_at: DateTime<Utc>,
}

/// Loads a job for processing. A row that does not decode (a payload or
/// state this version does not know) is an error, not a panic.
pub async fn load(pool: &PgPool, id: Uuid) -> Result<Option<Job>, sqlx::Error> {
    let Some(r) = sqlx::query!(
        "SELECT id, kind, source, state, payload, chat_id, user_id, request_id, deadline, attempts,
                project_id, round, llm_failures, created_at
         FROM jobs WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let decode =
        |what: &str, e: String| sqlx::Error::Decode(format!("job {id}: bad {what}: {e}").into());
    Ok(Some(Job {
        id: r.id,
        kind: r.kind.parse().map_err(|e| decode("kind", e))?,
        source: r.source.parse().map_err(|e| decode("source", e))?,
        state: r.state.parse().map_err(|e| decode("state", e))?,
        payload: serde_json::from_value(r.payload).map_err(|e| decode("payload", e.to_string()))?,
        chat_id: r.chat_id,
        user_id: r.user_id,
        request_id: r.request_id,
        deadline: r.deadline,
        attempts: r.attempts,
        project_id: r.project_id,
        round: r.round,
        llm_failures: r.llm_failures,
        created_at: r.created_at,
    }))
}

/// Moves a job to `to` if it is in one of `from`. Returns whether it moved:
/// a redelivered message whose stage already committed moves nothing.
pub async fn transition(
    conn: &mut PgConnection,
    id: Uuid,
    from: &[JobState],
    to: JobState,
) -> Result<bool, sqlx::Error> {
    let from: Vec<String> = from.iter().map(|s| s.to_string()).collect();
    let done = sqlx::query!(
        "UPDATE jobs SET state = $3, updated_at = now(),
                finished_at = CASE WHEN $4 THEN now() ELSE finished_at END
         WHERE id = $1 AND state = ANY($2)",
        id,
        &from,
        to.as_str(),
        to.is_terminal(),
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks a job failed with a reason, unless it already ended.
pub async fn fail(pool: &PgPool, id: Uuid, reason: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE jobs SET state = 'failed', error = $2, updated_at = now(), finished_at = now()
         WHERE id = $1 AND state NOT IN ('published', 'done', 'failed', 'rejected', 'expired')",
        id,
        reason,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records the start of an attempt; returns its id. Counts the attempt on
/// the job.
pub async fn begin_attempt(pool: &PgPool, id: Uuid, stage: JobState) -> Result<i64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let attempt = sqlx::query_scalar!(
        "UPDATE jobs SET attempts = attempts + 1, started_at = COALESCE(started_at, now()), updated_at = now()
         WHERE id = $1 RETURNING attempts",
        id
    )
    .fetch_one(&mut *tx)
    .await?;
    let attempt_id = sqlx::query_scalar!(
        "INSERT INTO job_attempts (job_id, attempt, stage) VALUES ($1, $2, $3) RETURNING id",
        id,
        attempt,
        stage.as_str(),
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(attempt_id)
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Succeeded,
    Retrying,
    Failed,
    /// Another worker held the job, or the run was cut short.
    Abandoned,
}

impl AttemptOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
            Self::Abandoned => "abandoned",
        }
    }
}

/// Records how an attempt ended.
pub async fn finish_attempt(
    pool: &PgPool,
    attempt_id: i64,
    outcome: AttemptOutcome,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE job_attempts SET finished_at = now(), outcome = $2, error = $3 WHERE id = $1",
        attempt_id,
        outcome.as_str(),
        error,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Ties a job to its project and round, once.
pub async fn set_project(
    conn: &mut PgConnection,
    id: Uuid,
    project_id: Uuid,
    round: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE jobs SET project_id = $2, round = $3, updated_at = now()
         WHERE id = $1 AND project_id IS NULL",
        id,
        project_id,
        round,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Counts `weight` failed LLM calls; returns the new count.
pub async fn count_llm_failure(pool: &PgPool, id: Uuid, weight: i32) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE jobs SET llm_failures = llm_failures + $2 WHERE id = $1 RETURNING llm_failures",
        id,
        weight,
    )
    .fetch_one(pool)
    .await
}

/// A line of `/status`.
#[derive(Debug, Clone)]
pub struct RecentJob {
    pub id: Uuid,
    pub state: JobState,
    pub created_at: DateTime<Utc>,
    pub error: Option<String>,
    pub title: Option<String>,
    pub round: Option<i32>,
    pub preview_token: Option<String>,
    /// Where the job's version was published, once it was.
    pub repo_url: Option<String>,
    pub pages_url: Option<String>,
    pub pages_status: Option<PagesStatus>,
}

/// A user's latest generation jobs in a chat, newest first.
pub async fn recent_in_chat(
    pool: &PgPool,
    chat_id: i64,
    limit: i64,
) -> Result<Vec<RecentJob>, sqlx::Error> {
    sqlx::query_as!(
        RecentJob,
        r#"SELECT j.id, j.state AS "state: JobState", j.created_at, j.error,
                  p.title AS "title?", j.round,
                  v.preview_token AS "preview_token?", pb.repo_url AS "repo_url?",
                  pb.pages_url AS "pages_url?",
                  pb.pages_status AS "pages_status?: PagesStatus"
           FROM jobs j
           LEFT JOIN projects p ON p.id = j.project_id
           LEFT JOIN versions v ON v.job_id = j.id
           LEFT JOIN publishes pb ON pb.version_id = v.id
           WHERE j.chat_id = $1 AND j.kind = 'generate'
           ORDER BY j.created_at DESC
           LIMIT $2"#,
        chat_id,
        limit,
    )
    .fetch_all(pool)
    .await
}

/// Attempts of a job that failed (retried or failed), the ones the attempt
/// cap counts; deferred and duplicate deliveries do not count.
pub async fn failed_attempts(pool: &PgPool, id: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM job_attempts WHERE job_id = $1 AND outcome IN ('retrying', 'failed')"#,
        id
    )
    .fetch_one(pool)
    .await
}

/// A generation job that starts with its files already chosen (a rollback):
/// the job, in state `checking` for `project_id`'s `round`, and its queue
/// message, in the caller's transaction. The caller saves the job's
/// generation in the same transaction, so the pipeline finds it and writes
/// nothing new.
pub async fn insert_prepared(
    conn: &mut PgConnection,
    id: Uuid,
    payload: &JobPayload,
    project_id: Uuid,
    round: i32,
) -> Result<(), sqlx::Error> {
    let (chat_id, user_id) = match payload {
        JobPayload::Prompt(p) => (Some(p.chat_id), Some(p.user_id)),
        _ => (None, None),
    };
    sqlx::query(
        "INSERT INTO jobs (id, kind, source, state, payload, chat_id, user_id, project_id, round)
         VALUES ($1, $2, 'telegram', 'checking', $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(payload.kind().as_str())
    .bind(serde_json::to_value(payload).expect("payloads serialize"))
    .bind(chat_id)
    .bind(user_id)
    .bind(project_id)
    .bind(round)
    .execute(&mut *conn)
    .await?;
    crate::db::outbox::enqueue(conn, id, payload.kind()).await
}
