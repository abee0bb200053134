//! The log line of a request on either origin (the preview's and the
//! pages'), started when it comes in.

use axum::extract::{MatchedPath, Request};
use pagesmith::telemetry::{self, RequestLog};

/// Starts the log of `request` (see [`RequestLog`]).
pub(crate) fn start(request: &Request) -> RequestLog {
    RequestLog::start(
        request.method().as_str(),
        request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
        request
            .headers()
            .get(telemetry::REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok()),
    )
}
