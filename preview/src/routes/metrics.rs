//! `GET /metrics`: Prometheus text format (the recorder is
//! `pagesmith::telemetry::metrics_recorder`).

use axum::{extract::State, http::header, response::IntoResponse};

use crate::state::AppState;

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // Kept in an atomic on the sending path, read here: no registry
    // lookup per response.
    metrics::counter!("pagesmith_preview_sendfile_bytes_total")
        .absolute(state.sendfile.bytes_sent_from_files());
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
