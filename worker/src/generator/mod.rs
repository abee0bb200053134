//! Writing a site: the [`Generator`] trait and its two implementations.
//!
//! - [`llm::LlmGenerator`]: an OpenAI-compatible chat-completions client.
//! - [`builtin::BuiltinGenerator`]: a deterministic template that reads the
//!   request; the default without `LLM_API_KEY`, and the fallback when the
//!   LLM fails twice.
//!
//! Generators return raw files; the worker validates them (paths, types,
//! sizes, secrets) before anything is stored or served.

pub mod builtin;
pub mod derive;
pub mod llm;
pub mod origin;
pub mod parse;
pub mod prompt;

use std::sync::Arc;

use async_trait::async_trait;
use pagesmith::{db::generations::DerivedCheck, domain::SitePath};

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct SiteRequest {
    /// The user's prompt or the evaluator's brief, verbatim.
    pub brief: String,
    /// Checks the site will be graded by (from /app), verbatim.
    pub checks: Vec<String>,
    /// Files that are already in the repository under their own names, and
    /// must be used, not rewritten.
    pub attachments: Vec<Attachment>,
    /// 1 for a new site; 2 and up revise the same site.
    pub round: i32,
    /// For a revision: the current files of the site.
    pub previous_files: Vec<GeneratedFile>,
    /// For a revision: the change asked for (for /app round ≥ 2, the brief).
    pub change_request: Option<String>,
    /// Who the site belongs to, for the LICENSE (`Copyright (c) <year> <owner>`).
    pub owner: String,
}

/// An attachment the generator must use.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub name: SitePath,
    pub media_type: String,
    pub data: Arc<Vec<u8>>,
}

/// A file as a generator wrote it: untrusted until validated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GeneratedFile {
    pub path: String,
    pub content: String,
}

/// A generator's answer.
#[derive(Debug, Clone)]
pub struct Generated {
    pub files: Vec<GeneratedFile>,
    /// The LLM's raw text, kept for traceability (never published).
    pub raw_output: Option<String>,
    /// `builtin` or `llm:<model>`.
    pub generator: String,
    /// The site's short name, when the generator gave one (the LLM's
    /// `"name"`); see `site_name`.
    pub name: Option<String>,
}

/// Why generation failed. The class decides retry-with-backoff vs failing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    /// Timeouts, 5xx, 429, connection loss, truncated or unparseable output:
    /// trying again may work.
    #[error("{0}")]
    Retryable(String),
    /// A 429 or 503 that said when to come back (`Retry-After`, in seconds
    /// or as an HTTP date): retryable, not before `retry_after`.
    #[error("{reason}")]
    Throttled {
        reason: String,
        retry_after: std::time::Duration,
    },
    /// 4xx other than 429 (bad key, unknown model): trying again will not.
    #[error("{0}")]
    Permanent(String),
}

#[async_trait]
pub trait Generator: Send + Sync {
    /// `builtin` or `llm:<model>`.
    fn name(&self) -> String;

    /// Writes the site.
    async fn generate(&self, request: &SiteRequest) -> Result<Generated, GenerateError>;

    /// Fixes `current` so the listed `problems` (failed checks, errors the
    /// page logged, files it could not load) go away.
    async fn repair(
        &self,
        request: &SiteRequest,
        current: &[GeneratedFile],
        problems: &[String],
    ) -> Result<Generated, GenerateError>;

    /// The plain-English `checks` a page could show, as JavaScript
    /// assertions (see `stages::check::derive`). A generator without a
    /// model derives none.
    async fn derive_checks(
        &self,
        _request: &SiteRequest,
        _checks: &[String],
    ) -> Result<Vec<DerivedCheck>, GenerateError> {
        Ok(Vec::new())
    }
}
