//! The chat-completions wire format, and reading a provider's answer into a
//! [`GenerateError`] class.
//!
//! Only the fields every OpenAI-compatible server (OpenAI, OpenRouter,
//! Gemini's OpenAI endpoint, Ollama, vLLM) agrees on are read; everything
//! else is ignored so a provider's extras never break parsing.

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::super::GenerateError;

/// The request body.
#[derive(Debug, Serialize)]
pub(super) struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: [Message<'a>; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
}

#[derive(Debug, Serialize)]
pub(super) struct Message<'a> {
    pub role: &'static str,
    pub content: &'a str,
}

#[derive(Debug, Serialize)]
pub(super) struct ResponseFormat {
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// The parts of a chat completion we read.
#[derive(Debug, Deserialize)]
struct ChatResponse {
    #[serde(default)]
    pub choices: Vec<Choice>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    #[serde(default)]
    pub message: Option<AnswerMessage>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AnswerMessage {
    #[serde(default)]
    pub content: Option<String>,
}

/// The longest provider message quoted in an error.
const MAX_MESSAGE_CHARS: usize = 300;

/// The provider's own explanation from an error body: the standard
/// `{"error":{"message":…}}`, Ollama's `{"error":"…"}`, Gemini's list
/// `[{"error":{…}}]`, or a top-level `message`. The API key is blanked out
/// in case a provider echoes it.
pub(super) fn provider_message(body: &[u8], api_key: &str) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let value = match value {
        Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        other => other,
    };
    let message = match value.get("error") {
        Some(Value::String(s)) => s.clone(),
        Some(error) => error.get("message")?.as_str()?.to_owned(),
        None => value.get("message")?.as_str()?.to_owned(),
    };
    let message = if api_key.is_empty() {
        message
    } else {
        message.replace(api_key, "[redacted]")
    };
    let mut message: String = message.trim().chars().take(MAX_MESSAGE_CHARS).collect();
    if message.is_empty() {
        return None;
    }
    if message.chars().count() == MAX_MESSAGE_CHARS {
        message.push('…');
    }
    Some(message)
}

/// Request parameters that some servers refuse and we can do without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Optional {
    ResponseFormat,
    Temperature,
}

impl Optional {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::ResponseFormat => "response_format",
            Self::Temperature => "temperature",
        }
    }
}

/// Which optional parameters a request carries.
#[derive(Debug, Clone, Copy)]
pub(super) struct Options {
    pub response_format: bool,
    pub temperature: bool,
}

/// The optional parameter a 400/422 refuses, if it names one that was sent.
pub(super) fn rejected_parameter(
    status: StatusCode,
    body: &[u8],
    sent: Options,
) -> Option<Optional> {
    if !matches!(status.as_u16(), 400 | 422) {
        return None;
    }
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    let format = ["response_format", "response format", "json_object"];
    if sent.response_format && format.iter().any(|p| text.contains(p)) {
        return Some(Optional::ResponseFormat);
    }
    (sent.temperature && text.contains("temperature")).then_some(Optional::Temperature)
}

/// The class of an unsuccessful status: 408, 429 and 5xx may pass, other
/// 4xx will not.
pub(super) fn status_error(
    status: StatusCode,
    retry_after: Option<&str>,
    message: Option<String>,
) -> GenerateError {
    let mut reason = format!("the LLM answered {status}");
    if let Some(message) = message {
        reason.push_str(": ");
        reason.push_str(&message);
    }
    let retryable = status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT;
    if retryable {
        if let Some(after) = retry_after {
            reason.push_str(&format!(" (Retry-After: {after})"));
        }
        let throttling =
            status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE;
        match retry_after.and_then(|after| parse_retry_after(after, chrono::Utc::now())) {
            Some(retry_after) if throttling => GenerateError::Throttled {
                reason,
                retry_after,
            },
            _ => GenerateError::Retryable(reason),
        }
    } else {
        GenerateError::Permanent(reason)
    }
}

/// A `Retry-After` value: delay-seconds, or an HTTP date (then the time
/// from `now` until it, zero if it has passed). `None` when unreadable.
pub(super) fn parse_retry_after(
    value: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<std::time::Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(std::time::Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (when.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or_default(),
    )
}

/// The first choice's text, refusing cut-off and empty answers.
pub(super) fn read_answer(body: &[u8]) -> Result<String, GenerateError> {
    let response: ChatResponse = serde_json::from_slice(body).map_err(|e| {
        GenerateError::Retryable(format!("the LLM's reply is not a chat completion: {e}"))
    })?;
    let choice = response
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| GenerateError::Retryable("the LLM's reply has no choices".to_owned()))?;
    match choice.finish_reason.as_deref() {
        Some("length") => {
            return Err(GenerateError::Retryable(
                "the LLM's answer was cut off at its token limit (finish_reason: length)"
                    .to_owned(),
            ));
        }
        Some("content_filter") => {
            return Err(GenerateError::Retryable(
                "the provider's content filter stopped the answer (finish_reason: content_filter)"
                    .to_owned(),
            ));
        }
        _ => {}
    }
    choice
        .message
        .and_then(|m| m.content)
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| GenerateError::Retryable("the LLM's answer is empty".to_owned()))
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
