//! GitHub Pages: served from `main` at `/`, then watched until the latest
//! build is of the published commit and the pages answer.

use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;
use url::Url;

use super::{
    super::{PagesStatus, PublishError, Published},
    GithubPublisher,
    commit::BRANCH,
    repo::Repo,
};

#[derive(Deserialize)]
struct Site {
    html_url: Option<String>,
}

#[derive(Deserialize)]
struct Build {
    status: String,
    commit: Option<String>,
    error: Option<BuildError>,
}

#[derive(Deserialize)]
struct BuildError {
    message: Option<String>,
}

impl GithubPublisher {
    /// Serves the repository's `main` at `/` (already served: fine) and
    /// returns the pages' URL.
    pub(super) async fn enable_pages(&self, repo: &Repo) -> Result<String, PublishError> {
        let uri = format!("{}/pages", repo.api_path());
        let body = json!({ "source": { "branch": BRANCH, "path": "/" } });
        let reply = self.api.post(&uri, &body).await?;
        let site: Site = if reply.status == StatusCode::CONFLICT {
            // "GitHub Pages is already enabled.": a later round or a retry.
            self.api.get(&uri).await?.ok("reading the Pages settings")?
        } else {
            reply.ok("enabling GitHub Pages")?
        };
        Ok(site.html_url.unwrap_or_else(|| {
            format!(
                "https://{}.github.io/{}/",
                repo.owner.login.to_ascii_lowercase(),
                repo.name
            )
        }))
    }

    /// Polls until the pages serve `published.commit_sha`, or `until`.
    pub(super) async fn wait_until_served(
        &self,
        published: &Published,
        until: Instant,
    ) -> Result<PagesStatus, PublishError> {
        let base = api_path(&published.repo_url)?;
        let interval = self.options.poll_interval;
        let mut built = false;
        loop {
            let poll = self.poll(&base, published, &mut built);
            let wait = match tokio::time::timeout_at(until, poll).await {
                Err(_) => return Ok(PagesStatus::Pending),
                Ok(Ok(true)) => return Ok(PagesStatus::Built),
                Ok(Ok(false)) => interval,
                // A rate limit or a hiccup: keep polling, no faster than asked.
                Ok(Err(PublishError::Retryable {
                    reason,
                    retry_after,
                })) => {
                    tracing::debug!(%reason, "polling the pages");
                    retry_after.unwrap_or(interval).max(interval)
                }
                Ok(Err(permanent)) => return Err(permanent),
            };
            tokio::time::sleep_until(until.min(Instant::now() + wait)).await;
            if Instant::now() >= until {
                return Ok(PagesStatus::Pending);
            }
        }
    }

    /// One look: first at the latest build (until it is ours and built),
    /// then at the pages themselves.
    async fn poll(
        &self,
        base: &str,
        published: &Published,
        built: &mut bool,
    ) -> Result<bool, PublishError> {
        if !*built {
            let reply = self.api.get(&format!("{base}/pages/builds/latest")).await?;
            if reply.status == StatusCode::NOT_FOUND {
                return Ok(false); // no build yet
            }
            let build: Build = reply.ok("reading the latest Pages build")?;
            if build.commit.as_deref() != Some(published.commit_sha.as_str()) {
                return Ok(false);
            }
            match build.status.as_str() {
                "built" => *built = true,
                "errored" => {
                    let why = build.error.and_then(|e| e.message);
                    return Err(PublishError::Permanent(format!(
                        "the GitHub Pages build of {} failed: {}",
                        published.commit_sha,
                        why.as_deref().unwrap_or("no reason given")
                    )));
                }
                _ => return Ok(false),
            }
        }
        // An absolute URL on another host: octocrab sends it no token.
        let served = self.api.get(&published.pages_url).await;
        Ok(matches!(served, Ok(reply) if reply.status == StatusCode::OK))
    }
}

/// `/repos/{owner}/{name}` from the repository's `html_url`.
fn api_path(repo_url: &str) -> Result<String, PublishError> {
    let unusable =
        || PublishError::Permanent(format!("`{repo_url}` is not a GitHub repository URL"));
    let url = Url::parse(repo_url).map_err(|_| unusable())?;
    let mut segments = url
        .path_segments()
        .ok_or_else(unusable)?
        .filter(|s| !s.is_empty());
    match (segments.next(), segments.next(), segments.next()) {
        (Some(owner), Some(name), None) => Ok(format!("/repos/{owner}/{name}")),
        _ => Err(unusable()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_is_read_from_its_url() {
        assert_eq!(
            api_path("https://github.com/octo/site-abc").unwrap(),
            "/repos/octo/site-abc"
        );
        assert_eq!(
            api_path("https://github.com/octo/site-abc/").unwrap(),
            "/repos/octo/site-abc"
        );
        assert!(api_path("https://github.com/octo").is_err());
        assert!(api_path("not a url").is_err());
    }
}
