//! The OpenAI-compatible generator: one chat-completions call per attempt.
//!
//! It speaks the subset of the API that OpenAI, OpenRouter-style proxies,
//! Gemini's OpenAI endpoint, Ollama and vLLM share. It logs sizes, status,
//! model and latency, never the key, the prompt or the answer.

mod pace;
mod wire;

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use chrono::Datelike;
use pagesmith::db::generations::DerivedCheck;
use reqwest::header::RETRY_AFTER;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{
    GenerateError, Generated, GeneratedFile, Generator, SiteRequest,
    parse::{manifest_name, parse_manifest},
    prompt::{self, Prompt},
};
use wire::{ChatRequest, Message, Optional, Options, ResponseFormat};

/// How to reach the LLM. The worker reads these from `LLM_BASE_URL`,
/// `LLM_API_KEY`, `LLM_MODEL` and `LLM_TIMEOUT_SECS`.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// The API root including its version, as in OpenAI's SDKs
    /// (`https://api.openai.com/v1`); `/chat/completions` is appended.
    pub base_url: Url,
    /// Sent as `Authorization: Bearer …`; never logged or quoted in errors.
    pub api_key: SecretString,
    /// The model name as the provider spells it (`gpt-4o-mini`,
    /// `google/gemini-2.0-flash`, `llama3.1`).
    pub model: String,
    /// For one whole call, connection to last byte.
    pub timeout: Duration,
}

impl LlmSettings {
    /// `LLM_BASE_URL`'s default.
    pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
    /// `LLM_MODEL`'s default.
    pub const DEFAULT_MODEL: &str = "gpt-4o-mini";
    /// `LLM_TIMEOUT_SECS`'s default.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
}

/// Why an [`LlmGenerator`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum LlmSetupError {
    #[error("LLM_BASE_URL `{0}` cannot have `/chat/completions` appended")]
    BaseUrl(Url),
    #[error("LLM_MODEL is empty")]
    EmptyModel,
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// Low, so the same brief gives much the same site, but not zero: some
/// servers treat 0 as "greedy", which loops on long outputs.
const TEMPERATURE: f32 = 0.2;

/// Writes sites with an OpenAI-compatible chat-completions API.
#[derive(Debug)]
pub struct LlmGenerator {
    settings: LlmSettings,
    endpoint: Url,
    http: reqwest::Client,
    /// Cleared for the life of the process once the server refuses
    /// `response_format` (vLLM, older Ollama, some proxies), so later calls
    /// skip the doomed attempt.
    send_response_format: AtomicBool,
    /// Likewise for `temperature`, which reasoning models (o1, o3, gpt-5)
    /// refuse unless it is the default.
    send_temperature: AtomicBool,
    /// A 429 slows every job's calls, not only the one told (`pace.rs`).
    pace: pace::ProviderPace,
}

impl LlmGenerator {
    /// Checks the settings and builds the HTTP client; makes no call.
    pub fn new(settings: LlmSettings) -> Result<Self, LlmSetupError> {
        if settings.model.trim().is_empty() {
            return Err(LlmSetupError::EmptyModel);
        }
        let endpoint = chat_completions_url(&settings.base_url)
            .ok_or_else(|| LlmSetupError::BaseUrl(settings.base_url.clone()))?;
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("pagesmith/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(LlmSetupError::Client)?;
        Ok(Self {
            settings,
            endpoint,
            http,
            send_response_format: AtomicBool::new(true),
            send_temperature: AtomicBool::new(true),
            pace: pace::ProviderPace::default(),
        })
    }

    /// The URL calls go to.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// The model's text answer to `prompt`. A server that refuses an
    /// optional parameter is asked again without it; each can be dropped
    /// once, so this makes at most three calls.
    async fn answer(&self, prompt: &Prompt) -> Result<String, GenerateError> {
        Ok(loop {
            let options = Options {
                response_format: self.send_response_format.load(Ordering::Relaxed),
                temperature: self.send_temperature.load(Ordering::Relaxed),
            };
            match self.call(prompt, options).await? {
                Reply::Answer(text) => break text,
                Reply::Rejects(parameter) => {
                    tracing::warn!(
                        model = %self.settings.model,
                        parameter = parameter.name(),
                        "the LLM server rejects a parameter; asking without it from now on"
                    );
                    match parameter {
                        Optional::ResponseFormat => &self.send_response_format,
                        Optional::Temperature => &self.send_temperature,
                    }
                    .store(false, Ordering::Relaxed);
                }
            }
        })
    }

    /// One completion, parsed into files.
    async fn complete(&self, prompt: &Prompt) -> Result<Generated, GenerateError> {
        let answer = self.answer(prompt).await?;
        let files = parse_manifest(&answer).map_err(|e| {
            GenerateError::Retryable(format!("the LLM's answer is not a usable manifest: {e}"))
        })?;
        Ok(Generated {
            files,
            name: manifest_name(&answer),
            raw_output: Some(answer),
            generator: self.name(),
        })
    }

    #[tracing::instrument(skip_all, fields(model = %self.settings.model))]
    async fn call(&self, prompt: &Prompt, options: Options) -> Result<Reply, GenerateError> {
        let body = ChatRequest {
            model: &self.settings.model,
            messages: [
                Message {
                    role: "system",
                    content: &prompt.system,
                },
                Message {
                    role: "user",
                    content: &prompt.user,
                },
            ],
            temperature: options.temperature.then_some(TEMPERATURE),
            response_format: options.response_format.then_some(ResponseFormat {
                kind: "json_object",
            }),
        };
        let body = serde_json::to_vec(&body)
            .map_err(|e| GenerateError::Permanent(format!("cannot encode the request: {e}")))?;
        let request_bytes = body.len();
        self.pace.wait_turn().await;
        let started = Instant::now();
        let response = self
            .http
            .post(self.endpoint.clone())
            .bearer_auth(self.settings.api_key.expose_secret())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(e))?;
        if matches!(status.as_u16(), 429 | 503) {
            let told = retry_after
                .as_deref()
                .and_then(|after| wire::parse_retry_after(after, chrono::Utc::now()));
            let pause = self.pace.refused(told);
            tracing::warn!(
                ?pause,
                "the LLM provider refused a call for its rate; every call waits"
            );
        } else {
            self.pace.answered();
        }
        tracing::info!(
            status = status.as_u16(),
            request_bytes,
            response_bytes = bytes.len(),
            latency_ms = started.elapsed().as_millis() as u64,
            "LLM call finished"
        );
        if status.is_success() {
            return wire::read_answer(&bytes).map(Reply::Answer);
        }
        if let Some(parameter) = wire::rejected_parameter(status, &bytes, options) {
            return Ok(Reply::Rejects(parameter));
        }
        let message = wire::provider_message(&bytes, self.settings.api_key.expose_secret());
        Err(wire::status_error(status, retry_after.as_deref(), message))
    }

    fn transport_error(&self, error: reqwest::Error) -> GenerateError {
        let host = self.endpoint.host_str().unwrap_or("?").to_owned();
        if error.is_timeout() {
            GenerateError::Retryable(format!(
                "the LLM at {host} did not answer within {}s",
                self.settings.timeout.as_secs_f32()
            ))
        } else if error.is_connect() {
            GenerateError::Retryable(format!("cannot connect to the LLM at {host}"))
        } else {
            // `without_url` because a base URL may carry credentials.
            GenerateError::Retryable(format!(
                "the call to the LLM at {host} failed: {}",
                error.without_url()
            ))
        }
    }
}

enum Reply {
    Answer(String),
    /// A 400 saying the server does not take this parameter.
    Rejects(Optional),
}

/// `{base}/chat/completions`, with or without a trailing slash on the base,
/// keeping any query string (some proxies need one).
fn chat_completions_url(base: &Url) -> Option<Url> {
    let mut url = base.clone();
    url.path_segments_mut()
        .ok()?
        .pop_if_empty()
        .extend(["chat", "completions"]);
    Some(url)
}

fn current_year() -> i32 {
    chrono::Utc::now().year()
}

#[async_trait]
impl Generator for LlmGenerator {
    fn name(&self) -> String {
        format!("llm:{}", self.settings.model)
    }

    async fn generate(&self, request: &SiteRequest) -> Result<Generated, GenerateError> {
        self.complete(&prompt::generate(request, current_year()))
            .await
    }

    async fn repair(
        &self,
        request: &SiteRequest,
        current: &[GeneratedFile],
        problems: &[String],
    ) -> Result<Generated, GenerateError> {
        self.complete(&prompt::repair(request, current, problems, current_year()))
            .await
    }

    async fn derive_checks(
        &self,
        request: &SiteRequest,
        checks: &[String],
    ) -> Result<Vec<DerivedCheck>, GenerateError> {
        let answer = self.answer(&super::derive::prompt(request, checks)).await?;
        super::derive::parse(&answer, checks).map_err(|e| {
            GenerateError::Retryable(format!("the LLM's derived checks are unusable: {e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_joined_with_or_without_a_trailing_slash() {
        for (base, expected) in [
            (
                "https://api.openai.com/v1",
                "https://api.openai.com/v1/chat/completions",
            ),
            (
                "https://api.openai.com/v1/",
                "https://api.openai.com/v1/chat/completions",
            ),
            (
                "http://localhost:11434/v1",
                "http://localhost:11434/v1/chat/completions",
            ),
            (
                "https://generativelanguage.googleapis.com/v1beta/openai/",
                "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
            ),
            (
                "http://proxy.test/v1?tenant=a",
                "http://proxy.test/v1/chat/completions?tenant=a",
            ),
        ] {
            let url = chat_completions_url(&Url::parse(base).unwrap()).unwrap();
            assert_eq!(url.as_str(), expected, "{base}");
        }
        assert_eq!(
            chat_completions_url(&Url::parse("mailto:a@b.c").unwrap()),
            None
        );
    }
}
