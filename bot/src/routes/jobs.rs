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
    /// The version the job produced, once it is ready.
    pub preview: Option<PreviewView>,
}

/// Where to look at a version.
#[derive(Debug, Serialize)]
pub struct PreviewView {
    pub version: i32,
    /// The site as generated, scripts running in a sandbox.
    pub live_url: String,
    /// A sanitized, script-free rendering.
    pub safe_url: String,
    /// `active`, `rejected` or `expired`.
    pub state: String,
    pub checks_passed: usize,
    pub checks_total: usize,
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
    let base = state
        .settings
        .preview_base_url
        .as_str()
        .trim_end_matches('/');
    let preview = match (job.version_number, &job.preview_token) {
        (Some(version), Some(token)) => {
            let checks: Vec<serde_json::Value> = job
                .checks
                .as_ref()
                .and_then(|c| c.as_array().cloned())
                .unwrap_or_default();
            Some(PreviewView {
                version,
                live_url: format!("{base}/p/{token}/"),
                safe_url: format!("{base}/s/{token}/"),
                state: job.version_state.clone().unwrap_or_default(),
                checks_passed: checks.iter().filter(|c| c["passed"] == true).count(),
                checks_total: checks.len(),
            })
        }
        _ => None,
    };
    Ok(Json(JobView {
        preview,
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
