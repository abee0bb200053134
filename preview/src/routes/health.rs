//! `GET /health`: 200 when PostgreSQL answers, 503 naming it otherwise.

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode};
use serde_json::{Value, json};

use crate::state::AppState;

pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let ping = tokio::time::timeout(Duration::from_secs(2), pagesmith::db::ping(&state.pool));
    let postgres = match ping.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 2 s".to_owned()),
    };
    match postgres {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "postgres": "ok"})),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "postgres": format!("unreachable: {e}")})),
        ),
    }
}
