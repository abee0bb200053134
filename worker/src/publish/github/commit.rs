//! One commit per publish with the Git Data API: the blobs `main` lacks,
//! one full tree (no `base_tree`, so the tree is exactly the site), one
//! commit with fixed dates, then a fast-forward of `main`. Nothing at all
//! when `main` already holds exactly this tree: a retry of a publish that
//! got that far.

use std::collections::{HashMap, HashSet};

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use chrono::SecondsFormat;
use http::StatusCode;
use pagesmith::bundle::BundleFile;
use serde::Deserialize;
use serde_json::json;

use super::{
    super::{PublishError, PublishRequest},
    GithubPublisher,
    objects::SiteTree,
    repo::Repo,
};

/// The branch published and served.
pub const BRANCH: &str = "main";
const AUTHOR_NAME: &str = "pagesmith";
const AUTHOR_EMAIL: &str = "pagesmith@users.noreply.github.com";

#[derive(Deserialize)]
struct Sha {
    sha: String,
}

#[derive(Deserialize)]
struct GitRef {
    object: Sha,
}

#[derive(Deserialize)]
struct Commit {
    tree: Sha,
}

#[derive(Deserialize)]
struct Tree {
    tree: Vec<TreeEntry>,
}

#[derive(Deserialize)]
struct TreeEntry {
    sha: String,
    #[serde(rename = "type")]
    kind: String,
}

/// Where `main` is.
struct Head {
    commit: String,
    tree: String,
}

impl GithubPublisher {
    /// Commits the request's files onto `main` (or finds them there) and
    /// returns the commit's sha.
    pub(super) async fn commit_site(
        &self,
        repo: &Repo,
        request: &PublishRequest,
    ) -> Result<String, PublishError> {
        let files = &request.files;
        let site = SiteTree::of(files)?;
        let base = repo.api_path();
        let mut head = self.main_head(&base).await?;
        if let Some(sha) = holding(head.as_ref(), &[&site.sha]) {
            return Ok(sha);
        }
        let tree = self.upload(&base, files, &site, head.as_ref()).await?;
        let mut refused = String::new();
        for _ in 0..self.options.commit_attempts.max(1) {
            let commit = self
                .create_commit(&base, request, &tree, head.as_ref())
                .await?;
            match self.move_main(&base, &commit, head.is_some()).await? {
                None => return Ok(commit),
                Some(why) => refused = why,
            }
            tracing::info!(reason = %refused, "main moved meanwhile: committing on top of it");
            head = self.main_head(&base).await?;
            if let Some(sha) = holding(head.as_ref(), &[&site.sha, &tree]) {
                return Ok(sha);
            }
        }
        Err(PublishError::Retryable {
            reason: format!("main of {base} kept moving while publishing ({refused})"),
            retry_after: None,
        })
    }

    /// `main`'s commit and tree; `None` when the branch does not exist (an
    /// owner whose default branch is another). Waits, briefly and a bounded
    /// number of times, while GitHub is still writing the `auto_init`
    /// commit of a new repository.
    async fn main_head(&self, base: &str) -> Result<Option<Head>, PublishError> {
        let what = format!("reading {base} branch {BRANCH}");
        let mut attempts_left = self.options.init_attempts.max(1);
        loop {
            attempts_left -= 1;
            let reply = self
                .api
                .get(&format!("{base}/git/ref/heads/{BRANCH}"))
                .await?;
            match reply.status {
                // "Git Repository is empty." (the last one is an error below)
                StatusCode::CONFLICT if attempts_left > 0 => {
                    tokio::time::sleep(self.options.init_retry_delay).await;
                }
                StatusCode::NOT_FOUND => return Ok(None),
                _ => {
                    let main: GitRef = reply.ok(&what)?;
                    let reply = self
                        .api
                        .get(&format!("{base}/git/commits/{}", main.object.sha))
                        .await?;
                    let commit: Commit = reply.ok(&format!("reading {base} commit on {BRANCH}"))?;
                    return Ok(Some(Head {
                        commit: main.object.sha,
                        tree: commit.tree.sha,
                    }));
                }
            }
        }
    }

    /// Uploads the blobs `main` lacks, then the one tree; returns the tree's
    /// sha as GitHub named it.
    async fn upload(
        &self,
        base: &str,
        files: &[BundleFile],
        site: &SiteTree,
        head: Option<&Head>,
    ) -> Result<String, PublishError> {
        let present = match head {
            Some(head) => self.blobs_in(base, &head.tree).await?,
            None => HashSet::new(),
        };
        let mut uploaded: HashMap<&str, String> = HashMap::new();
        let mut entries = Vec::with_capacity(files.len());
        for (file, sha) in files.iter().zip(&site.blobs) {
            let sha = if present.contains(sha) {
                sha.clone()
            } else if let Some(done) = uploaded.get(sha.as_str()) {
                done.clone()
            } else {
                let body = json!({ "content": BASE64.encode(&file.bytes), "encoding": "base64" });
                let reply = self.api.post(&format!("{base}/git/blobs"), &body).await?;
                let blob: Sha = reply.ok(&format!("uploading {}", file.path))?;
                if blob.sha != *sha {
                    tracing::warn!(path = %file.path, ours = %sha, github = %blob.sha, "blob sha differs");
                }
                uploaded.insert(sha, blob.sha.clone());
                blob.sha
            };
            entries.push(json!({
                "path": file.path.as_str(),
                "mode": "100644",
                "type": "blob",
                "sha": sha,
            }));
        }
        let reply = self
            .api
            .post(&format!("{base}/git/trees"), &json!({ "tree": entries }))
            .await?;
        let tree: Sha = reply.ok("creating the site's tree")?;
        if tree.sha != site.sha {
            tracing::warn!(ours = %site.sha, github = %tree.sha, "tree sha differs");
        }
        Ok(tree.sha)
    }

    /// The blobs of a tree (recursively), so unchanged files are not sent
    /// again. A truncated listing only means more uploads.
    async fn blobs_in(&self, base: &str, tree: &str) -> Result<HashSet<String>, PublishError> {
        let reply = self
            .api
            .get(&format!("{base}/git/trees/{tree}?recursive=1"))
            .await?;
        let tree: Tree = reply.ok("listing the files on main")?;
        Ok(tree
            .tree
            .into_iter()
            .filter(|e| e.kind == "blob")
            .map(|e| e.sha)
            .collect())
    }

    /// The commit: fixed author and committer date (the version's creation
    /// time), so the same tree, parent and message give the same sha.
    async fn create_commit(
        &self,
        base: &str,
        request: &PublishRequest,
        tree: &str,
        head: Option<&Head>,
    ) -> Result<String, PublishError> {
        let date = request
            .commit_time
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        let person = json!({ "name": AUTHOR_NAME, "email": AUTHOR_EMAIL, "date": date });
        let parents: Vec<&str> = head.map(|h| h.commit.as_str()).into_iter().collect();
        let body = json!({
            "message": request.message,
            "tree": tree,
            "parents": parents,
            "author": person,
            "committer": person,
        });
        let reply = self.api.post(&format!("{base}/git/commits"), &body).await?;
        let commit: Sha = reply.ok("creating the commit")?;
        Ok(commit.sha)
    }

    /// Fast-forwards `main` to `commit` (creates it when missing). `Some`
    /// with GitHub's reason when `main` moved meanwhile.
    async fn move_main(
        &self,
        base: &str,
        commit: &str,
        exists: bool,
    ) -> Result<Option<String>, PublishError> {
        let reply = if exists {
            let body = json!({ "sha": commit, "force": false });
            let uri = format!("{base}/git/refs/heads/{BRANCH}");
            self.api.patch(&uri, &body).await?
        } else {
            let body = json!({ "ref": format!("refs/heads/{BRANCH}"), "sha": commit });
            self.api.post(&format!("{base}/git/refs"), &body).await?
        };
        match reply.status {
            s if s.is_success() => Ok(None),
            // 422 "Update is not a fast forward", "Reference already
            // exists", "Reference does not exist"; 409 when another update
            // of the ref races ours.
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::CONFLICT => Ok(Some(reply.message())),
            _ => Err(reply.refusal(&format!("updating {BRANCH}"))),
        }
    }
}

/// `main`'s commit when it already holds one of `trees`.
fn holding(head: Option<&Head>, trees: &[&str]) -> Option<String> {
    let head = head.filter(|h| trees.contains(&h.tree.as_str()))?;
    tracing::info!(commit = %head.commit, "main already holds this site: no new commit");
    Some(head.commit.clone())
}
