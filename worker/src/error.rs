//! How a job's run can end badly, and what that means for the message.

use std::time::Duration;

/// A failed run of a job. The class decides what happens to its message:
/// retry through the delay queues, or fail and dead-letter.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Timeouts, 5xx, 429, connection loss: another attempt may succeed.
    #[error("{reason}")]
    Retryable {
        reason: String,
        /// What happened, in plain words (see `texts`); the consumer adds
        /// whether it tries again.
        user_message: String,
        /// Wait at least this long before retrying (e.g. from Retry-After).
        not_before: Option<Duration>,
    },
    /// Invalid input, a refused manifest, a secret in the output: another
    /// attempt would fail the same way.
    #[error("{reason}")]
    Permanent {
        reason: String,
        user_message: String,
    },
    /// Not yet: the job waits for something else (an earlier round) and
    /// comes back after `delay`, without counting as a failed attempt.
    #[error("{reason}")]
    Deferred { reason: String, delay: Duration },
    /// Another worker is running this job right now; this delivery is a
    /// duplicate and can be dropped.
    #[error("the job is being processed by another worker")]
    Busy,
}

impl JobError {
    pub fn retryable(reason: impl Into<String>, user_message: impl Into<String>) -> Self {
        Self::Retryable {
            reason: reason.into(),
            user_message: user_message.into(),
            not_before: None,
        }
    }

    pub fn permanent(reason: impl Into<String>, user_message: impl Into<String>) -> Self {
        Self::Permanent {
            reason: reason.into(),
            user_message: user_message.into(),
        }
    }

    /// What the user is told.
    pub fn user_message(&self) -> &str {
        match self {
            Self::Retryable { user_message, .. } | Self::Permanent { user_message, .. } => {
                user_message
            }
            Self::Busy | Self::Deferred { .. } => "",
        }
    }
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> Self {
        // An unreachable database is the classic transient failure; anything
        // else from the database is still worth one more try before failing,
        // and the attempt cap bounds it.
        Self::retryable(format!("database: {e}"), crate::texts::DATABASE_TROUBLE)
    }
}
