//! One error type for every route: 4xx bodies name the field and the
//! problem; a 500 reveals nothing. The cause of a 5xx travels with the
//! response (as [`FailureCause`]) to the request's one log event, so a
//! failure is logged once, at the boundary, with its request id.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use pagesmith::{domain::FieldErrors, telemetry::FailureCause};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "error": "the request has invalid fields",
    "fields": {"email": "is required", "attachments[0].url": "must be a data: URI"}
}))]
pub struct ErrorBody {
    /// What went wrong, in a sentence.
    pub error: String,
    /// Each problem keyed by the path of its field (`round`,
    /// `attachments[1].url`); present on 400 and 422 answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    pub fields: Option<FieldErrors>,
}

impl ErrorBody {
    fn new(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            fields: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: the caller did not prove who it is.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: the caller's secret is wrong.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 400: the request cannot be read, or breaks a rule at the door.
    #[error("{message}")]
    BadRequest {
        message: String,
        fields: FieldErrors,
    },
    /// 422: the request was read, but fields are invalid.
    #[error("invalid fields")]
    Invalid(FieldErrors),
    /// 413: the body is over the limit.
    #[error("body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409: the request conflicts with how this server is set up.
    #[error("{0}")]
    Conflict(&'static str),
    /// 503: a dependency is down; the sender should retry. `cause` is
    /// logged, never sent.
    #[error("{what} is unavailable: {cause}")]
    Unavailable { what: &'static str, cause: String },
    /// 500: a bug or an unexpected failure.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            fields: FieldErrors::default(),
        }
    }

    /// Maps a database error: unreachable → 503, anything else → 500.
    pub fn database(error: sqlx::Error) -> Self {
        if pagesmith::db::is_unavailable(&error) {
            Self::database_unavailable(error.to_string())
        } else {
            Self::Internal(anyhow::Error::new(error).context("database query failed"))
        }
    }

    /// 503 for an unreachable database, with what was seen of it.
    pub fn database_unavailable(cause: String) -> Self {
        Self::Unavailable {
            what: "the database",
            cause,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let cause = match &self {
            Self::Unavailable { cause, .. } => Some(cause.clone()),
            Self::Internal(e) => Some(format!("{e:#}")),
            _ => None,
        };
        let (status, body) = match self {
            Self::Unauthorized(m) => (StatusCode::UNAUTHORIZED, ErrorBody::new(m)),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, ErrorBody::new(m)),
            Self::BadRequest { message, fields } => (
                StatusCode::BAD_REQUEST,
                ErrorBody {
                    error: message,
                    fields: Some(fields),
                },
            ),
            Self::Invalid(fields) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorBody {
                    error: "the request has invalid fields".to_owned(),
                    fields: Some(fields),
                },
            ),
            Self::PayloadTooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorBody::new(format!(
                    "the body is larger than the limit of {limit} bytes"
                )),
            ),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, ErrorBody::new(m)),
            Self::Conflict(m) => (StatusCode::CONFLICT, ErrorBody::new(m)),
            Self::Unavailable { what, .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorBody::new(format!(
                    "{what} is unavailable; nothing was stored, please retry"
                )),
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorBody::new("internal error; it has been logged"),
            ),
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(cause) = cause {
            response.extensions_mut().insert(FailureCause(cause));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}
