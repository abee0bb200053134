//! Publishing to GitHub Pages through GitHub's REST API (octocrab).
//!
//! One publish:
//! 1. the repository `GITHUB_OWNER/<repo_name>`, created public with
//!    `auto_init` on the first round, adopted when it already exists
//!    ([`repo`]);
//! 2. one commit with the Git Data API: the blobs `main` lacks, one full
//!    tree (the bundle as it is), one commit with fixed dates, and a
//!    fast-forward of `main` — or nothing, when `main` already holds exactly
//!    this tree ([`commit`]);
//! 3. Pages served from `main` at `/` ([`pages`]).
//!
//! Failures are classified by [`policy`]: rate limits, 5xx and timeouts are
//! retryable (with `retry_after` when GitHub says), refusals are permanent.
//! The token lives in octocrab as a `SecretString` and is never logged.

mod api;
mod commit;
mod objects;
mod pages;
mod policy;
mod repo;

use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use tokio::{sync::OnceCell, time::Instant};
use url::Url;

use self::api::Api;
use super::{PagesStatus, PublishError, PublishRequest, Published, Publisher};

/// `GITHUB_TOKEN`, `GITHUB_OWNER`, `GITHUB_API_URL`.
#[derive(Debug, Clone)]
pub struct GithubSettings {
    pub token: SecretString,
    /// The user or organization that owns the repositories.
    pub owner: String,
    /// `https://api.github.com`; tests point it at a fake.
    pub api_url: Url,
}

/// Timings and bounds of the publisher; tests shorten them.
#[derive(Debug, Clone)]
pub struct GithubOptions {
    /// Between polls of the Pages build and of the pages themselves.
    pub poll_interval: Duration,
    /// Between looks at a repository GitHub is still initializing
    /// (409 "Git Repository is empty" right after `auto_init`).
    pub init_retry_delay: Duration,
    /// Looks at an initializing repository before giving up (retryable).
    pub init_attempts: u32,
    /// Commits made when `main` moved meanwhile (not a fast forward)
    /// before giving up (retryable).
    pub commit_attempts: u32,
    /// Connect, read and write timeout of each request.
    pub request_timeout: Duration,
}

impl Default for GithubOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(5),
            init_retry_delay: Duration::from_secs(1),
            init_attempts: 5,
            commit_attempts: 3,
            request_timeout: Duration::from_secs(30),
        }
    }
}

pub struct GithubPublisher {
    api: Api,
    owner: String,
    options: GithubOptions,
    /// The token's user, asked once: it decides between `/user/repos` and
    /// `/orgs/{owner}/repos`.
    login: OnceCell<String>,
}

impl GithubPublisher {
    /// Must be called inside the Tokio runtime that will publish.
    pub fn new(settings: GithubSettings) -> Result<Self, PublishError> {
        Self::with_options(settings, GithubOptions::default())
    }

    pub fn with_options(
        settings: GithubSettings,
        options: GithubOptions,
    ) -> Result<Self, PublishError> {
        let owner = settings.owner.trim().to_owned();
        if owner.is_empty() || !owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(PublishError::Permanent(format!(
                "GITHUB_OWNER `{owner}` is not a GitHub user or organization name"
            )));
        }
        let api = Api::new(settings.token, &settings.api_url, options.request_timeout)?;
        Ok(Self {
            api,
            owner,
            options,
            login: OnceCell::new(),
        })
    }
}

#[async_trait]
impl Publisher for GithubPublisher {
    fn name(&self) -> &'static str {
        "github"
    }

    #[tracing::instrument(skip_all, fields(repo = %request.repo_name))]
    async fn publish(&self, request: &PublishRequest) -> Result<Published, PublishError> {
        let repo = self.ensure_repo(request).await?;
        let commit_sha = self.commit_site(&repo, request).await?;
        let pages_url = self.enable_pages(&repo).await?;
        tracing::info!(commit = %commit_sha, %pages_url, "published to GitHub");
        Ok(Published {
            repo_url: repo.html_url,
            commit_sha,
            pages_url,
        })
    }

    #[tracing::instrument(skip_all, fields(commit = %published.commit_sha))]
    async fn wait_for_pages(
        &self,
        published: &Published,
        until: Instant,
    ) -> Result<PagesStatus, PublishError> {
        self.wait_until_served(published, until).await
    }
}
