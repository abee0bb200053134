//! What a refusal from GitHub means for the job: retry (and not before
//! when), or give up with a message that names the problem.
//!
//! Rate limits are never slept out here: they become
//! [`PublishError::Retryable`] with `retry_after`, and the worker's delay
//! queues bring the job back.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, StatusCode};

use super::super::PublishError;

/// GitHub asks to wait at least a minute after a secondary rate limit that
/// names no time.
const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// The error for a non-success answer to `what` ("creating the repository
/// octo/site"). `message` is GitHub's explanation.
pub fn refusal(status: StatusCode, headers: &HeaderMap, message: &str, what: &str) -> PublishError {
    if let Some(wait) = rate_limit_wait(status, headers, message, SystemTime::now()) {
        return PublishError::Retryable {
            reason: format!("GitHub rate limit while {what} ({status}: {message})"),
            retry_after: Some(wait),
        };
    }
    let code = status.as_u16();
    match code {
        401 => PublishError::Permanent(format!(
            "GitHub rejected GITHUB_TOKEN while {what} (401: {message}); \
             the token is invalid, expired or revoked"
        )),
        403 => PublishError::Permanent(format!(
            "GitHub refused {what} (403: {message}); GITHUB_TOKEN lacks the permission \
             (a classic token needs the `repo` scope; a fine-grained one \
             administration, contents and pages write access)"
        )),
        // The repository exists but GitHub is still writing its first commit.
        409 if message.to_ascii_lowercase().contains("empty") => PublishError::Retryable {
            reason: format!("GitHub is still initializing the repository while {what}"),
            retry_after: None,
        },
        408 | 500..=599 => PublishError::Retryable {
            reason: format!("GitHub failed while {what} ({status}: {message})"),
            retry_after: retry_after_header(headers, SystemTime::now()),
        },
        _ => PublishError::Permanent(format!("GitHub refused {what} ({status}: {message})")),
    }
}

/// How long to wait when the answer is a rate limit (primary: 403/429 with
/// `x-ratelimit-remaining: 0`; secondary: 403/429 with `Retry-After` or a
/// message saying so), else `None`.
pub fn rate_limit_wait(
    status: StatusCode,
    headers: &HeaderMap,
    message: &str,
    now: SystemTime,
) -> Option<Duration> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    if let Some(wait) = retry_after_header(headers, now) {
        return Some(wait);
    }
    if header(headers, "x-ratelimit-remaining") == Some("0") {
        let reset = header(headers, "x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok());
        let now_secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        // A second of slack: the reset is a whole second, our clock is not.
        return Some(match reset {
            Some(reset) => Duration::from_secs(reset.saturating_sub(now_secs) + 1),
            None => SECONDARY_LIMIT_WAIT,
        });
    }
    if status == StatusCode::TOO_MANY_REQUESTS
        || message.to_ascii_lowercase().contains("rate limit")
    {
        return Some(SECONDARY_LIMIT_WAIT);
    }
    None
}

/// `Retry-After` in seconds (what GitHub sends) or as an HTTP date.
fn retry_after_header(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = header(headers, "retry-after")?;
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = UNIX_EPOCH + Duration::from_secs(u64::try_from(at.timestamp()).ok()?);
    Some(at.duration_since(now).unwrap_or_default())
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    const NOW: Duration = Duration::from_secs(1_700_000_000);

    fn wait(status: u16, pairs: &[(&'static str, &str)], message: &str) -> Option<Duration> {
        rate_limit_wait(
            StatusCode::from_u16(status).unwrap(),
            &headers(pairs),
            message,
            UNIX_EPOCH + NOW,
        )
    }

    #[test]
    fn rate_limits_say_how_long_to_wait() {
        assert_eq!(
            wait(403, &[("retry-after", "30")], "secondary rate limit"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            wait(429, &[("retry-after", "Tue, 14 Nov 2023 22:15:00 GMT")], ""),
            Some(Duration::from_secs(100))
        );
        let reset = (NOW.as_secs() + 120).to_string();
        assert_eq!(
            wait(
                403,
                &[
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", &reset)
                ],
                "API rate limit exceeded"
            ),
            Some(Duration::from_secs(121))
        );
        let past = (NOW.as_secs() - 5).to_string();
        assert_eq!(
            wait(
                403,
                &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &past)],
                ""
            ),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            wait(
                403,
                &[],
                "You have exceeded a secondary rate limit. Please wait a few minutes."
            ),
            Some(SECONDARY_LIMIT_WAIT)
        );
        assert_eq!(wait(429, &[], ""), Some(SECONDARY_LIMIT_WAIT));
    }

    #[test]
    fn other_refusals_are_not_rate_limits() {
        assert_eq!(
            wait(403, &[("x-ratelimit-remaining", "4999")], "Forbidden"),
            None
        );
        assert_eq!(wait(401, &[("retry-after", "5")], "Bad credentials"), None);
        assert_eq!(wait(500, &[], "rate limit"), None);
    }

    #[test]
    fn server_errors_are_retryable_and_client_errors_permanent() {
        let none = HeaderMap::new();
        let e = refusal(StatusCode::BAD_GATEWAY, &none, "Bad Gateway", "x");
        assert!(matches!(
            e,
            PublishError::Retryable {
                retry_after: None,
                ..
            }
        ));
        let e = refusal(StatusCode::UNAUTHORIZED, &none, "Bad credentials", "x");
        assert!(matches!(e, PublishError::Permanent(ref m) if m.contains("GITHUB_TOKEN")));
        let e = refusal(StatusCode::CONFLICT, &none, "Git Repository is empty.", "x");
        assert!(matches!(e, PublishError::Retryable { .. }));
        let e = refusal(
            StatusCode::UNPROCESSABLE_ENTITY,
            &none,
            "Validation Failed",
            "x",
        );
        assert!(matches!(e, PublishError::Permanent(_)));
    }
}
