//! `POST /app`: task briefs from evaluators.

use axum::{Json, body::Body, extract::State, http::HeaderMap};
use chrono::{DateTime, SecondsFormat, Utc};
use pagesmith::{
    db,
    domain::{AppRequest, FieldErrors},
    secret::secrets_match,
};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{read_body, request_id};
use crate::{
    error::{ApiError, ErrorBody},
    state::AppState,
};

/// The answer to an accepted request.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Always `true`.
    pub ok: bool,
    /// RFC 3339, when the request was first received (a replay gets the
    /// first receipt's time).
    #[schema(format = DateTime, example = "2026-11-22T04:12:39.338Z")]
    pub received_at: String,
    /// The job; follow it at `GET /jobs/{id}`.
    pub job_id: Uuid,
}

/// An evaluator's task brief, as `POST /app` reads it.
///
/// The handler validates the raw JSON object field by field (to name every
/// problem at once), so this type documents the body; the OpenAPI test
/// keeps it in step with what the handler checks. Unknown fields are
/// ignored.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "email": "student@example.com",
    "secret": "dev-app-secret",
    "task": "captcha-solver-3f2a",
    "round": 1,
    "nonce": "ab12-cd34",
    "brief": "Create a captcha solver that handles ?url=https://.../image.png. Default to attached sample.",
    "checks": ["Repo has MIT license", "README.md is professional"],
    "evaluation_url": "https://evaluator.example.com/notify",
    "attachments": [{"name": "sample.png", "url": "data:image/png;base64,iVBORw0KGgo="}]
}))]
pub struct AppRequestBody {
    /// The student's email address.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// `APP_SECRET`; checked first (403 when missing or wrong).
    pub secret: String,
    /// The task id: one line, no control characters.
    #[schema(min_length = 1, max_length = 200)]
    pub task: String,
    /// The round; round N > 1 needs round N-1 of the same task first (400).
    #[schema(minimum = 1, maximum = 1000)]
    pub round: i32,
    /// Makes (task, round, nonce) unique: the same triple again returns the
    /// same job and creates nothing.
    #[schema(min_length = 1, max_length = 200)]
    pub nonce: String,
    /// What to build.
    #[schema(min_length = 1, max_length = 100000)]
    pub brief: String,
    /// Checks the evaluator will run against the published site.
    #[schema(max_items = 200)]
    pub checks: Option<Vec<String>>,
    /// Where the result is posted (http or https; private and loopback
    /// addresses only with `CALLBACK_ALLOW_PRIVATE=true`).
    #[schema(format = "uri", max_length = 2048)]
    pub evaluation_url: String,
    /// Files for the site, as `data:` URIs.
    pub attachments: Option<Vec<AttachmentBody>>,
}

/// One attachment of an `/app` request.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentBody {
    /// A safe relative file name, unique in the request: no `..`, absolute
    /// paths, backslashes, control characters, hidden or reserved names.
    pub name: String,
    /// A `data:` URI (base64 or percent-encoded) whose bytes match a
    /// recognisable declared type, at most `APP_MAX_ATTACHMENT_BYTES`.
    #[schema(example = "data:image/png;base64,iVBORw0KGgo=")]
    pub url: String,
}

/// Checks the secret, then every field; records the request and answers as
/// soon as its job is committed. The same (task, round, nonce) again, even
/// concurrently, gets the same job back.
#[utoipa::path(
    post,
    path = "/app",
    operation_id = "submit_task",
    tag = "evaluation",
    request_body(content = AppRequestBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The job is committed (or this is a replay of an accepted request: the same job, nothing new)", body = Accepted),
        (status = 400, description = "The body is not JSON or not an object, or round N > 1 arrived before round N-1", body = ErrorBody),
        (status = 403, description = "`secret` is missing or wrong", body = ErrorBody),
        (status = 413, description = "The body is over `APP_MAX_BODY_BYTES`", body = ErrorBody),
        (status = 422, description = "Fields are invalid; `fields` names each one", body = ErrorBody),
        (status = 503, description = "The database is unreachable; nothing was stored, retry", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    )
)]
#[tracing::instrument(skip_all, fields(task, round))]
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Accepted>, ApiError> {
    let bytes = read_body(&headers, body, state.settings.app_max_body_bytes).await?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(body) = value else {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    };

    // The secret first: nobody learns our validation rules without it.
    let authorized = match body.get("secret") {
        Some(Value::String(secret)) => secrets_match(
            secret.as_bytes(),
            state.settings.app_secret.expose_secret().as_bytes(),
        ),
        _ => false,
    };
    if !authorized {
        metrics::counter!("pagesmith_app_rejected_total", "reason" => "secret").increment(1);
        return Err(ApiError::Forbidden("the secret is missing or wrong"));
    }

    let request = AppRequest::parse(&body, &state.settings.app_limits).map_err(|fields| {
        metrics::counter!("pagesmith_app_rejected_total", "reason" => "invalid").increment(1);
        ApiError::Invalid(fields)
    })?;
    let span = tracing::Span::current();
    span.record("task", request.task.as_str());
    span.record("round", request.round);

    if request.round > 1
        && !db::app::previous_round_exists(&state.pool, &request.task, request.round)
            .await
            .map_err(ApiError::database)?
    {
        let mut fields = FieldErrors::default();
        fields.add(
            "round",
            format!(
                "round {} of task `{}` needs round {} first, and none was received",
                request.round,
                request.task,
                request.round - 1
            ),
        );
        return Err(ApiError::BadRequest {
            message: format!("task `{}` has no round {}", request.task, request.round - 1),
            fields,
        });
    }

    let accepted = db::app::record_request(
        &state.pool,
        &request,
        request_id(&headers).as_deref(),
        state.settings.app_deadline,
    )
    .await
    .map_err(ApiError::database)?;

    if accepted.created {
        state.outbox_wakeup.notify_one();
        metrics::counter!("pagesmith_app_requests_total", "outcome" => "accepted").increment(1);
        tracing::info!(job.id = %accepted.job_id, "task accepted");
    } else {
        metrics::counter!("pagesmith_app_requests_total", "outcome" => "replay").increment(1);
        tracing::info!(job.id = %accepted.job_id, "replayed task; returning the existing job");
    }
    Ok(Json(Accepted {
        ok: true,
        received_at: rfc3339(accepted.received_at),
        job_id: accepted.job_id,
    }))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
