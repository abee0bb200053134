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
use uuid::Uuid;

use super::{read_body, request_id};
use crate::{error::ApiError, state::AppState};

/// The answer to an accepted request.
#[derive(Debug, Serialize)]
pub struct Accepted {
    pub ok: bool,
    /// RFC 3339, when the request was first received.
    pub received_at: String,
    pub job_id: Uuid,
}

/// Checks the secret, then every field; records the request and answers as
/// soon as its job is committed. The same (task, round, nonce) again, even
/// concurrently, gets the same job back.
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
