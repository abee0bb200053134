//! `GET /jobs/{id}`: where a job stands.

use axum::{
    Json,
    extract::{Path, State},
};
use chrono::{DateTime, Utc};
use pagesmith::{
    db,
    domain::{FieldErrors, JobState},
};
use serde::Serialize;
use uuid::Uuid;

use crate::{error::ApiError, state::AppState};

/// A job as the API shows it.
#[derive(Debug, Serialize)]
pub struct JobView {
    pub id: Uuid,
    pub kind: String,
    pub source: String,
    /// Coarse: `pending`, `in_progress`, `awaiting_review`, `succeeded`,
    /// `failed`, `rejected` or `expired`.
    pub status: &'static str,
    /// The exact state: `queued`, `generating`, `checking`, ...
    pub stage: String,
    pub task: Option<String>,
    pub round: Option<i32>,
    pub attempts: i32,
    pub error: Option<String>,
    pub deadline: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| {
        let mut fields = FieldErrors::default();
        fields.add(
            "id",
            "must be a UUID such as 67e55044-10b1-426f-9247-bb680e5fe0c8",
        );
        ApiError::BadRequest {
            message: format!("`{id}` is not a job id"),
            fields,
        }
    })?;
    let job = db::jobs::find(&state.pool, id)
        .await
        .map_err(ApiError::database)?
        .ok_or_else(|| ApiError::NotFound(format!("no job has the id {id}")))?;
    Ok(Json(JobView {
        status: status_of(&job.state),
        id: job.id,
        kind: job.kind,
        source: job.source,
        stage: job.state,
        task: job.task,
        round: job.round,
        attempts: job.attempts,
        error: job.error,
        deadline: job.deadline,
        created_at: job.created_at,
        updated_at: job.updated_at,
    }))
}

fn status_of(state: &str) -> &'static str {
    match state.parse::<JobState>() {
        Ok(JobState::Queued) => "pending",
        Ok(
            JobState::Generating | JobState::Checking | JobState::Approved | JobState::Publishing,
        ) => "in_progress",
        Ok(JobState::PreviewReady) => "awaiting_review",
        Ok(JobState::Published | JobState::Done) => "succeeded",
        Ok(JobState::Rejected) => "rejected",
        Ok(JobState::Expired) => "expired",
        Ok(JobState::Failed) | Err(_) => "failed",
    }
}
