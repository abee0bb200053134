//! The log line of a request on either origin (the preview's and the
//! pages'), started when it comes in.

use axum::extract::Request;
use pagesmith::telemetry::{self, RequestLog};

/// Starts the log of `request` (see [`RequestLog`]), which `route` (its
/// pattern; `None` for the fallback) serves.
pub(crate) fn start(request: &Request, route: Option<&str>) -> RequestLog {
    RequestLog::start(
        request.method().as_str(),
        route,
        request
            .headers()
            .get(telemetry::REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok()),
    )
}
