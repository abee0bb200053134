//! The project's repository: created on the first round, adopted after.

use serde::Deserialize;
use serde_json::json;

use super::{
    super::{PublishError, PublishRequest},
    GithubPublisher,
};

/// The parts of GitHub's repository object the publisher uses.
#[derive(Debug, Deserialize)]
pub struct Repo {
    pub name: String,
    pub html_url: String,
    pub owner: Account,
}

#[derive(Debug, Deserialize)]
pub struct Account {
    pub login: String,
}

impl Repo {
    /// `/repos/{owner}/{name}`, the prefix of the repository's API paths.
    pub fn api_path(&self) -> String {
        format!("/repos/{}/{}", self.owner.login, self.name)
    }
}

impl GithubPublisher {
    /// The token's user (`GET /user`), asked once per publisher.
    async fn login(&self) -> Result<&str, PublishError> {
        let login = self
            .login
            .get_or_try_init(|| async {
                let reply = self.api.get("/user").await?;
                let user: Account = reply.ok("checking GITHUB_TOKEN (GET /user)")?;
                Ok::<_, PublishError>(user.login)
            })
            .await?;
        Ok(login)
    }

    /// Creates the public repository (one POST, never repeated here), or
    /// adopts it when it exists and is ours: a retry, or a later round.
    pub(super) async fn ensure_repo(&self, request: &PublishRequest) -> Result<Repo, PublishError> {
        let login = self.login().await?;
        let personal = login.eq_ignore_ascii_case(&self.owner);
        let uri = if personal {
            "/user/repos".to_owned()
        } else {
            format!("/orgs/{}/repos", self.owner)
        };
        let body = json!({
            "name": request.repo_name,
            "description": request.description,
            "private": false,
            "auto_init": true,
        });
        let what = format!(
            "creating the repository {}/{}",
            self.owner, request.repo_name
        );
        let reply = self.api.post(&uri, &body).await?;
        match reply.status.as_u16() {
            422 if reply.message().contains("already exists") => {
                self.adopt(&request.repo_name).await
            }
            404 if !personal => Err(PublishError::Permanent(format!(
                "GITHUB_OWNER `{}` is not an organization this token can create repositories in \
                 (404 from POST {uri}); set it to the token's user `{login}` or to one of its \
                 organizations",
                self.owner
            ))),
            _ => reply.ok(&what),
        }
    }

    /// The existing repository, if it is really `owner/name` (GitHub
    /// answers a renamed or transferred one through a redirect).
    async fn adopt(&self, name: &str) -> Result<Repo, PublishError> {
        let what = format!("reading the repository {}/{name}", self.owner);
        let reply = self
            .api
            .get(&format!("/repos/{}/{name}", self.owner))
            .await?;
        let repo: Repo = reply.ok(&what)?;
        if repo.owner.login.eq_ignore_ascii_case(&self.owner)
            && repo.name.eq_ignore_ascii_case(name)
        {
            tracing::debug!(repo = %repo.api_path(), "the repository exists: publishing to it");
            Ok(repo)
        } else {
            Err(PublishError::Permanent(format!(
                "the repository name {}/{name} is taken: it leads to {}/{}, which pagesmith \
                 does not publish to",
                self.owner, repo.owner.login, repo.name
            )))
        }
    }
}
