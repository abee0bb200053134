//! The one door to GitHub's REST API. Each call is exactly one HTTP request
//! (octocrab is built without its retry layer, so a POST is never repeated
//! behind our back); transport failures become retryable errors, and
//! answers come back whole so callers can look at status and headers.

use std::time::Duration;

use http::{HeaderMap, Method, StatusCode, request::Builder};
use octocrab::Octocrab;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::Value;
use url::Url;

use super::{super::PublishError, policy};
use crate::{secrets, text::shorten};

/// How much of a body that is not GitHub's JSON becomes the reason.
const MAX_BODY_REASON_CHARS: usize = 200;

/// What stands in for a token in a reason.
const REDACTED: &str = "[redacted]";

pub struct Api {
    client: Octocrab,
    /// Octocrab sends it; kept here only to blank it out of error bodies,
    /// should anything between us and GitHub echo the request's headers.
    token: SecretString,
}

/// A whole answer: status, headers and body.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Api {
    /// Must run inside the Tokio runtime that will make the calls (octocrab
    /// starts its request buffer there).
    pub fn new(
        token: SecretString,
        api_url: &Url,
        timeout: Duration,
    ) -> Result<Self, PublishError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(PublishError::Permanent(
                "the GitHub client must be built inside the Tokio runtime".into(),
            ));
        }
        let client = Octocrab::builder()
            .base_uri(api_url.as_str())
            .map_err(|e| {
                PublishError::Permanent(format!("GITHUB_API_URL `{api_url}` is not usable: {e}"))
            })?
            .personal_token(token.clone())
            .set_connect_timeout(Some(timeout))
            .set_read_timeout(Some(timeout))
            .set_write_timeout(Some(timeout))
            .build()
            .map_err(|e| PublishError::Permanent(format!("building the GitHub client: {e}")))?;
        Ok(Self { client, token })
    }

    pub async fn get(&self, uri: &str) -> Result<Reply, PublishError> {
        self.send(Method::GET, uri, None).await
    }

    pub async fn post(&self, uri: &str, body: &Value) -> Result<Reply, PublishError> {
        self.send(Method::POST, uri, Some(body)).await
    }

    pub async fn patch(&self, uri: &str, body: &Value) -> Result<Reply, PublishError> {
        self.send(Method::PATCH, uri, Some(body)).await
    }

    /// One request. `uri` is a path under `GITHUB_API_URL` (sent with the
    /// token), or an absolute URL elsewhere (sent without it).
    async fn send(
        &self,
        method: Method,
        uri: &str,
        body: Option<&Value>,
    ) -> Result<Reply, PublishError> {
        let unreachable = |e: octocrab::Error| {
            record_call(&method, "unreachable");
            PublishError::Retryable {
                reason: format!("GitHub request {method} {uri} failed: {e}"),
                retry_after: None,
            }
        };
        let request = self
            .client
            .build_request(Builder::new().method(method.clone()).uri(uri), body)
            .map_err(unreachable)?;
        let response = self.client.execute(request).await.map_err(unreachable)?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = self
            .client
            .body_to_string(response)
            .await
            .map_err(unreachable)?;
        let token = self.token.expose_secret();
        if !status.is_success() && !token.is_empty() {
            body = body.replace(token, REDACTED);
        }
        record_call(&method, outcome(status));
        tracing::debug!(%method, uri, status = status.as_u16(), "GitHub answered");
        Ok(Reply {
            status,
            headers,
            body,
        })
    }
}

/// Counts one call in `pagesmith_github_calls_total{method,outcome}`.
fn record_call(method: &Method, outcome: &'static str) {
    metrics::counter!(
        "pagesmith_github_calls_total",
        "method" => method.as_str().to_owned(),
        "outcome" => outcome
    )
    .increment(1);
}

/// The `outcome` label of an answer: its status class, with 404 (often
/// expected: "is there such a repository yet?") and 429 apart.
fn outcome(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "ok",
        404 => "not_found",
        429 => "rate_limited",
        300..=499 => "client_error",
        _ => "server_error",
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    message: Option<String>,
    #[serde(default)]
    errors: Vec<Value>,
}

impl Reply {
    /// The body as `T` when the request succeeded, else the error it means.
    pub fn ok<T: DeserializeOwned>(&self, what: &str) -> Result<T, PublishError> {
        if !self.status.is_success() {
            return Err(self.refusal(what));
        }
        serde_json::from_str(&self.body).map_err(|e| PublishError::Retryable {
            reason: format!("unexpected answer from GitHub while {what}: {e}"),
            retry_after: None,
        })
    }

    /// What this (non-success) answer means for the job.
    pub fn refusal(&self, what: &str) -> PublishError {
        policy::refusal(self.status, &self.headers, &self.message(), what)
    }

    /// GitHub's explanation: `message`, then each of `errors`; else the
    /// body itself, shortened (a proxy's error page, JSON of another shape);
    /// else the status's name. Never empty, and never a token.
    pub fn message(&self) -> String {
        let explained = serde_json::from_str::<ErrorBody>(&self.body)
            .map(ErrorBody::explanation)
            .unwrap_or_default();
        let text = match without_secrets(&explained) {
            text if !text.is_empty() => text,
            _ => shorten(&without_secrets(&self.body), MAX_BODY_REASON_CHARS),
        };
        match text.is_empty() {
            true => self
                .status
                .canonical_reason()
                .unwrap_or("no reason given")
                .to_owned(),
            false => text,
        }
    }
}

impl ErrorBody {
    fn explanation(self) -> String {
        let mut parts: Vec<String> = self.message.into_iter().collect();
        for error in &self.errors {
            let detail = match error {
                Value::String(s) => Some(s.as_str()),
                other => other
                    .get("message")
                    .or_else(|| other.get("code"))
                    .and_then(Value::as_str),
            };
            parts.extend(detail.map(str::to_owned));
        }
        parts.retain(|part| !part.trim().is_empty());
        parts.join("; ")
    }
}

/// `text` on one line, each word that looks like a token (see [`secrets`])
/// blanked out; withheld whole if a secret spans words.
fn without_secrets(text: &str) -> String {
    let looks_secret = |text: &str| !secrets::scan([("reason", text)], &[]).is_empty();
    let words: Vec<&str> = text
        .split_whitespace()
        .map(|word| if looks_secret(word) { REDACTED } else { word })
        .collect();
    let line = words.join(" ");
    match looks_secret(&line) {
        true => "(withheld: it looks like it holds a secret)".to_owned(),
        false => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.to_owned(),
        }
    }

    #[test]
    fn github_messages_come_first_and_lose_nothing_but_tokens() {
        let body = r#"{"message":"Validation Failed","errors":[{"code":"custom","message":"name already exists on this account"}]}"#;
        assert_eq!(
            reply(422, body).message(),
            "Validation Failed; name already exists on this account"
        );
        let body = r#"{"message":"Bad key ghp_0123456789abcdefghijABCDEFGHIJ012345"}"#;
        assert_eq!(reply(401, body).message(), "Bad key [redacted]");
    }

    #[test]
    fn a_secret_spanning_words_withholds_the_body() {
        let body = "proxy dump: -----BEGIN RSA PRIVATE KEY----- MIIE";
        assert_eq!(
            reply(502, body).message(),
            "(withheld: it looks like it holds a secret)"
        );
        assert_eq!(reply(599, "").message(), "no reason given");
    }
}
