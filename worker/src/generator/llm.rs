//! The OpenAI-compatible generator. (Placeholder on this branch; the real
//! client arrives with the generator work.)

use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use url::Url;

use super::{GenerateError, Generated, GeneratedFile, Generator, SiteRequest};

#[derive(Debug, Clone)]
pub struct LlmSettings {
    pub base_url: Url,
    pub api_key: SecretString,
    pub model: String,
    pub timeout: Duration,
}

pub struct LlmGenerator {
    settings: LlmSettings,
}

impl LlmGenerator {
    pub fn new(settings: LlmSettings) -> Self {
        Self { settings }
    }
}

#[async_trait]
impl Generator for LlmGenerator {
    fn name(&self) -> String {
        format!("llm:{}", self.settings.model)
    }

    async fn generate(&self, _request: &SiteRequest) -> Result<Generated, GenerateError> {
        Err(GenerateError::Permanent(
            "the LLM client is not on this branch yet".into(),
        ))
    }

    async fn repair(
        &self,
        _: &SiteRequest,
        _: &[GeneratedFile],
        _: &[String],
    ) -> Result<Generated, GenerateError> {
        Err(GenerateError::Permanent(
            "the LLM client is not on this branch yet".into(),
        ))
    }
}
