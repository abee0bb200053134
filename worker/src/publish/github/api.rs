//! The one door to GitHub's REST API. Each call is exactly one HTTP request
//! (octocrab is built without its retry layer, so a POST is never repeated
//! behind our back); transport failures become retryable errors, and
//! answers come back whole so callers can look at status and headers.

use std::time::Duration;

use http::{HeaderMap, Method, StatusCode, request::Builder};
use octocrab::Octocrab;
use secrecy::SecretString;
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::Value;
use url::Url;

use super::{super::PublishError, policy};

pub struct Api {
    client: Octocrab,
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
            .personal_token(token)
            .set_connect_timeout(Some(timeout))
            .set_read_timeout(Some(timeout))
            .set_write_timeout(Some(timeout))
            .build()
            .map_err(|e| PublishError::Permanent(format!("building the GitHub client: {e}")))?;
        Ok(Self { client })
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
        let body = self
            .client
            .body_to_string(response)
            .await
            .map_err(unreachable)?;
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

    /// GitHub's explanation: `message`, then each of `errors`.
    pub fn message(&self) -> String {
        let Ok(body) = serde_json::from_str::<ErrorBody>(&self.body) else {
            let text: String = self.body.trim().chars().take(200).collect();
            return if text.is_empty() {
                self.status
                    .canonical_reason()
                    .unwrap_or("no reason")
                    .to_owned()
            } else {
                text
            };
        };
        let mut parts: Vec<String> = body.message.into_iter().collect();
        for error in &body.errors {
            let detail = match error {
                Value::String(s) => Some(s.as_str()),
                other => other
                    .get("message")
                    .or_else(|| other.get("code"))
                    .and_then(Value::as_str),
            };
            parts.extend(detail.map(str::to_owned));
        }
        parts.join("; ")
    }
}
