//! Publishing to GitHub Pages. (Placeholder on this branch; the real client
//! arrives with the GitHub work.)

use async_trait::async_trait;
use secrecy::SecretString;
use tokio::time::Instant;
use url::Url;

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

pub struct GithubPublisher {
    _settings: GithubSettings,
}

impl GithubPublisher {
    pub fn new(settings: GithubSettings) -> Result<Self, PublishError> {
        Ok(Self {
            _settings: settings,
        })
    }
}

#[async_trait]
impl Publisher for GithubPublisher {
    fn name(&self) -> &'static str {
        "github"
    }

    async fn publish(&self, _request: &PublishRequest) -> Result<Published, PublishError> {
        Err(PublishError::Permanent(
            "the GitHub publisher is not on this branch yet".into(),
        ))
    }

    async fn wait_for_pages(
        &self,
        _published: &Published,
        _until: Instant,
    ) -> Result<PagesStatus, PublishError> {
        Ok(PagesStatus::Pending)
    }
}
