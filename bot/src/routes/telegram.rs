//! `POST /telegram/webhook`: updates from Telegram.

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use pagesmith::{db::updates::UpdateOutcome, secret::secrets_match};
use secrecy::ExposeSecret;
use teloxide_core::types::Update;

use super::{read_body, request_id};
use crate::{
    error::ApiError, group_commit::IngestError, settings::TelegramMode, state::AppState, updates,
};

/// Telegram puts the `secret_token` given to `setWebhook` in this header.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Answers 200 only once the update (and its job and outbox row) is
/// committed, or when it is a duplicate; 503 when the database is away, so
/// Telegram retries. In polling mode, 409: updates come from `getUpdates`.
#[tracing::instrument(skip_all, fields(update.id))]
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    // Before the secret check: in polling mode the secret may be unset.
    if state.settings.telegram.mode == TelegramMode::Polling {
        return Err(ApiError::Conflict(
            "this bot runs with TELEGRAM_MODE=polling and reads updates with getUpdates; \
             it accepts no webhook (set TELEGRAM_MODE=webhook and run `bot set-webhook` to use one)",
        ));
    }
    let presented = headers
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let expected = state
        .settings
        .telegram
        .webhook_secret
        .expose_secret()
        .as_bytes();
    if !secrets_match(presented, expected) {
        metrics::counter!("pagesmith_webhook_rejected_total", "reason" => "secret").increment(1);
        return Err(ApiError::Unauthorized(
            "missing or wrong X-Telegram-Bot-Api-Secret-Token",
        ));
    }

    let bytes = read_body(&headers, body, state.settings.telegram.max_body_bytes).await?;
    let update: Update = serde_json::from_slice(&bytes).map_err(|e| {
        metrics::counter!("pagesmith_webhook_rejected_total", "reason" => "malformed").increment(1);
        ApiError::bad_request(format!("the body is not a Telegram update: {e}"))
    })?;
    tracing::Span::current().record("update.id", update.id.0);

    let record = updates::record_for(&update, request_id(&headers));
    match updates::accept(&state.ingestor, record).await {
        Ok(UpdateOutcome::Recorded) => Ok(StatusCode::OK),
        Ok(UpdateOutcome::Duplicate) => {
            tracing::debug!("duplicate update");
            Ok(StatusCode::OK)
        }
        Err(IngestError::Unavailable(reason)) => Err(ApiError::database_unavailable(reason)),
        Err(IngestError::Failed(reason)) => Err(ApiError::Internal(anyhow::anyhow!(reason))),
    }
}
