//! One log event per HTTP request, written when the response leaves, inside
//! the request's span (method, path, `request_id`): status and latency, and
//! for a 5xx the cause. Handlers do not log their failures themselves; they
//! hand the cause to this event ([`FailureCause`]), so a failure is logged
//! once, at the boundary.

use std::time::Duration;

use axum::response::Response;
use tracing::Span;

/// Why a request failed, for the request's log event (never the body).
#[derive(Debug, Clone)]
pub struct FailureCause(pub String);

/// `TraceLayer::on_response`.
pub fn on_response(response: &Response, latency: Duration, _span: &Span) {
    let status = response.status().as_u16();
    let latency_ms = (latency.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
    let cause = response
        .extensions()
        .get::<FailureCause>()
        .map(|c| c.0.as_str());
    if status >= 500 {
        tracing::error!(status, latency_ms, cause, "request failed");
    } else {
        tracing::info!(status, latency_ms, "request answered");
    }
}
