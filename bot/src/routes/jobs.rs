//! `GET /jobs/{id}`: where a job stands.

use axum::{
    Json,
    extract::{Path, State},
};
use chrono::{DateTime, Utc};
use pagesmith::{
    db::{
        self,
        versions::{CheckKind, CheckResult},
    },
    domain::{FieldErrors, JobState},
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    error::{ApiError, ErrorBody},
    state::AppState,
};

/// A job as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: Uuid,
    /// `generate`, `command` or `callback`.
    pub kind: String,
    /// `app` or `telegram`.
    pub source: String,
    pub status: JobStatus,
    /// The exact state: `queued`, `generating`, `checking`,
    /// `preview_ready`, `approved`, `publishing`, `published`, `done`,
    /// `rejected`, `expired` or `failed`.
    pub stage: String,
    /// The `/app` task, for evaluation jobs.
    pub task: Option<String>,
    /// The `/app` round, for evaluation jobs.
    pub round: Option<i32>,
    /// Deliveries so far.
    pub attempts: i32,
    /// Why the job failed, when it did.
    pub error: Option<String>,
    /// When the evaluator's callback is due (`/app` jobs).
    pub deadline: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The version the job produced, once it is ready.
    pub preview: Option<PreviewView>,
}

/// Where a job stands, coarsely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Pending,
    InProgress,
    AwaitingReview,
    Succeeded,
    Failed,
    Rejected,
    Expired,
}

/// Where to look at a version.
#[derive(Debug, Serialize, ToSchema)]
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
    /// Every check of the version, each with its own verdict.
    pub checks: Vec<CheckView>,
}

/// One check of a version and how it went.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckView {
    /// For a check of the brief, its exact text.
    pub name: String,
    pub kind: CheckKindView,
    /// Only a check that ran and held passes; a check that could not run
    /// (no browser) has `passed: false` and says so in `detail`.
    pub passed: bool,
    /// What was verified, or what failed ("returned false; `document.title`
    /// is 'Tide Tally'").
    pub detail: String,
}

/// What a check looked at.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckKindView {
    /// The files alone: structure, links, parsing, LICENSE, README.
    Static,
    /// The page in headless Chromium: a `js:` check of the brief, or the
    /// page's own health (errors, files that failed to load).
    Browser,
    /// The model's JavaScript reading of a plain-English check, run in the
    /// browser: only as good as that reading.
    Derived,
}

impl From<CheckResult> for CheckView {
    fn from(check: CheckResult) -> Self {
        Self {
            name: check.name,
            kind: match check.kind {
                CheckKind::Static => CheckKindView::Static,
                CheckKind::Browser => CheckKindView::Browser,
                CheckKind::Derived => CheckKindView::Derived,
            },
            passed: check.passed,
            detail: check.detail,
        }
    }
}

/// Where a job stands, with its preview links once a version is ready.
#[utoipa::path(
    get,
    path = "/jobs/{id}",
    operation_id = "get_job",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The job id `POST /app` returned")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 400, description = "The id is not a UUID", body = ErrorBody),
        (status = 404, description = "No job has this id", body = ErrorBody),
        (status = 503, description = "The database is unreachable; retry", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    )
)]
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
            // Rows are written by the worker; one that does not read is
            // shown as no checks rather than failing the whole answer.
            let checks: Vec<CheckResult> = job
                .checks
                .clone()
                .and_then(|c| serde_json::from_value(c).ok())
                .unwrap_or_default();
            Some(PreviewView {
                version,
                live_url: format!("{base}/p/{token}/"),
                safe_url: format!("{base}/s/{token}/"),
                state: job.version_state.map(|s| s.to_string()).unwrap_or_default(),
                checks_passed: checks.iter().filter(|c| c.passed).count(),
                checks_total: checks.len(),
                checks: checks.into_iter().map(CheckView::from).collect(),
            })
        }
        _ => None,
    };
    Ok(Json(JobView {
        preview,
        status: status_of(job.state),
        id: job.id,
        kind: job.kind.to_string(),
        source: job.source.to_string(),
        stage: job.state.to_string(),
        task: job.task,
        round: job.round,
        attempts: job.attempts,
        error: job.error,
        deadline: job.deadline,
        created_at: job.created_at,
        updated_at: job.updated_at,
    }))
}

fn status_of(state: JobState) -> JobStatus {
    match state {
        JobState::Queued => JobStatus::Pending,
        JobState::Generating | JobState::Checking | JobState::Approved | JobState::Publishing => {
            JobStatus::InProgress
        }
        JobState::PreviewReady => JobStatus::AwaitingReview,
        JobState::Published | JobState::Done => JobStatus::Succeeded,
        JobState::Rejected => JobStatus::Rejected,
        JobState::Expired => JobStatus::Expired,
        JobState::Failed => JobStatus::Failed,
    }
}
