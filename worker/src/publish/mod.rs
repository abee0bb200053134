//! Publishing a version: one atomic commit per round to the project's
//! repository, served as a static site.
//!
//! - [`github::GithubPublisher`]: GitHub through its REST API (octocrab).
//! - [`local::LocalPublisher`]: the embedded default without a GitHub token:
//!   a real git repository under `DATA_DIR`, cloneable over HTTP, with its
//!   pages served by the `preview` binary on `PAGES_ADDR`.
//!
//! Publishing must be idempotent: a retried publish of the same version
//! produces no second commit. Both publishers commit with fixed author and
//! committer dates (the version's creation time), so the same tree, parent,
//! message and dates give the same commit, and both check whether the branch
//! already points at this version's tree before committing.

mod git;
pub mod github;
pub mod local;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pagesmith::bundle::BundleFile;
use tokio::time::Instant;

/// What to publish.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    /// The repository's name: a slug plus a short hash, stable per project
    /// (see [`repo_name`]).
    pub repo_name: String,
    /// A one-line description for the repository.
    pub description: String,
    /// The whole site: the commit's tree is exactly these files.
    pub files: Vec<BundleFile>,
    /// Names the round: `Round 2: …`.
    pub message: String,
    /// Author and committer date of the commit.
    pub commit_time: DateTime<Utc>,
}

/// Where a version was published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub repo_url: String,
    pub commit_sha: String,
    pub pages_url: String,
}

/// Whether the pages serve the published commit yet.
pub use pagesmith::domain::PagesStatus;

/// Why publishing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// Timeouts, 5xx, rate limits, a repository still being created:
    /// another attempt may succeed (not before `retry_after`, when given).
    #[error("{reason}")]
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Bad credentials, a name taken by someone else, a refused request.
    #[error("{0}")]
    Permanent(String),
}

#[async_trait]
pub trait Publisher: Send + Sync {
    /// `local` or `github`.
    fn name(&self) -> &'static str;

    /// Creates the repository if needed, commits the files as one commit on
    /// `main` (unless `main` already holds exactly this tree), and makes
    /// sure pages are served from it. Idempotent.
    async fn publish(&self, request: &PublishRequest) -> Result<Published, PublishError>;

    /// Waits until the pages serve `published.commit_sha`, or `until`.
    async fn wait_for_pages(
        &self,
        published: &Published,
        until: Instant,
    ) -> Result<PagesStatus, PublishError>;
}

/// `captcha-solver-3f2a-1b2c3d` from a task or prompt and the project id:
/// lower-case letters, digits and dashes, at most 60 characters before the
/// hash, never empty, unique per project.
pub fn repo_name(source: &str, project_id: uuid::Uuid) -> String {
    let mut slug = String::new();
    for c in source.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 60 {
            break;
        }
    }
    let slug = slug.trim_matches('-');
    let slug = if slug.is_empty() { "site" } else { slug };
    let hash = &project_id.simple().to_string()[..6];
    format!("{slug}-{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names_are_valid_stable_and_distinct() {
        let a = uuid::Uuid::from_u128(0xabcdef12_0000_0000_0000_000000000000);
        let b = uuid::Uuid::from_u128(0x12345678_0000_0000_0000_000000000000);
        assert_eq!(
            repo_name("Captcha Solver (v2)!", a),
            "captcha-solver-v2-abcdef"
        );
        assert_eq!(
            repo_name("Captcha Solver (v2)!", a),
            repo_name("Captcha Solver (v2)!", a)
        );
        assert_ne!(repo_name("x", a), repo_name("x", b));
        assert_eq!(repo_name("¿¿??", a), "site-abcdef");
        assert_eq!(repo_name("Café crème", a), "caf-cr-me-abcdef");
        let long = repo_name(&"word ".repeat(40), a);
        assert!(long.len() <= 67 && !long.contains("--"), "{long}");
        assert!(
            long.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }
}
