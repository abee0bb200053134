//! `GET /metrics`: Prometheus text format (the recorder is
//! `pagesmith::telemetry::metrics_recorder`, shared by every binary).

use axum::{extract::State, http::header, response::IntoResponse};
use pagesmith::telemetry::PROMETHEUS_CONTENT_TYPE;

use crate::state::AppState;

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)],
        state.metrics.render(),
    )
}
