//! `GET /health`: 200 when PostgreSQL and RabbitMQ are reachable, 503 naming
//! the one that is not.

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode};
use serde_json::{Value, json};

use crate::state::AppState;

pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let postgres = match tokio::time::timeout(
        Duration::from_secs(2),
        pagesmith::db::ping(&state.pool),
    )
    .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 2 s".to_owned()),
    };
    let rabbitmq = state.broker.check();
    let healthy = postgres.is_ok() && rabbitmq.is_ok();
    let describe = |r: &Result<(), String>| match r {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("unreachable: {e}"),
    };
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if healthy { "ok" } else { "unavailable" },
            "postgres": describe(&postgres),
            "rabbitmq": describe(&rabbitmq),
        })),
    )
}
