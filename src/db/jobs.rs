//! Reading jobs.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// A job as the API shows it.
#[derive(Debug, Clone)]
pub struct JobRecord {
    pub id: Uuid,
    pub kind: String,
    pub source: String,
    pub state: String,
    pub attempts: i32,
    pub error: Option<String>,
    pub deadline: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// For /app jobs.
    pub task: Option<String>,
    pub round: Option<i32>,
}

/// The job with this id, if any.
pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<JobRecord>, sqlx::Error> {
    sqlx::query_as!(
        JobRecord,
        r#"SELECT j.id, j.kind, j.source, j.state, j.attempts, j.error, j.deadline,
                  j.created_at, j.updated_at,
                  a.task AS "task?", a.round AS "round?"
           FROM jobs j LEFT JOIN app_requests a ON a.job_id = j.id
           WHERE j.id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await
}
