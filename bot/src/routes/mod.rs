//! HTTP routes, one module each.

pub mod app;
pub mod health;
pub mod jobs;
pub mod metrics;
pub mod openapi;
pub mod telegram;

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, header},
};

use crate::error::ApiError;

/// Reads a body of at most `limit` bytes; larger ones get 413 (at once when
/// `Content-Length` says so, otherwise as soon as the limit is crossed).
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if too_large {
            ApiError::PayloadTooLarge { limit }
        } else {
            ApiError::bad_request(format!("the body could not be read: {e}"))
        }
    })
}

/// The request id `SetRequestIdLayer` put on the request.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(pagesmith::telemetry::REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
