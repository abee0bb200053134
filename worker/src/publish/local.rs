//! The local publisher: the embedded default when no GitHub token is set.
//!
//! Each project gets a real bare git repository at
//! `DATA_DIR/repos/<name>.git`; each publish is one commit on `main` made
//! with libgit2. The `preview` binary serves, on `PAGES_ADDR`:
//! - `{PAGES_BASE_URL}/git/<name>.git`: the repository over git's "dumb"
//!   HTTP protocol (static files: `info/refs`, `objects/…`), so
//!   `git clone <repo_url>` works;
//! - `{PAGES_BASE_URL}/<name>/`: the published files, like GitHub Pages.
//!   They live in `DATA_DIR/pages/.commits/<sha>/`, and `DATA_DIR/pages/<name>`
//!   is a symlink switched atomically to the newest commit.

use std::{
    fs, io,
    path::{Path, PathBuf},
};

use async_trait::async_trait;
use git2::{Oid, Repository, RepositoryInitOptions, Signature, Time};
use tokio::time::Instant;
use url::Url;

use super::{
    PagesStatus, PublishError, PublishRequest, Published, Publisher,
    git::{git_error, write_tree},
};

pub struct LocalPublisher {
    data_dir: PathBuf,
    /// `PAGES_BASE_URL`.
    pages_base_url: Url,
    author_name: String,
    author_email: String,
}

impl LocalPublisher {
    pub fn new(data_dir: impl Into<PathBuf>, pages_base_url: Url) -> Self {
        Self {
            data_dir: data_dir.into(),
            pages_base_url,
            author_name: "pagesmith".into(),
            author_email: "pagesmith@localhost".into(),
        }
    }

    /// Where a project's bare repository lives.
    pub fn repo_path(&self, name: &str) -> PathBuf {
        self.data_dir.join("repos").join(format!("{name}.git"))
    }

    fn urls(&self, name: &str, commit_sha: String) -> Published {
        let base = self.pages_base_url.as_str().trim_end_matches('/');
        Published {
            repo_url: format!("{base}/git/{name}.git"),
            commit_sha,
            pages_url: format!("{base}/{name}/"),
        }
    }

    fn publish_blocking(&self, request: &PublishRequest) -> Result<Published, PublishError> {
        let path = self.repo_path(&request.repo_name);
        let repo = open_or_init(&path).map_err(git_error)?;
        let tree = write_tree(&repo, &request.files).map_err(git_error)?;
        let head = repo
            .find_reference("refs/heads/main")
            .ok()
            .and_then(|r| r.peel_to_commit().ok());
        let commit = match head {
            // Already published (a retry after a crash): no second commit.
            Some(head) if head.tree_id() == tree => head.id(),
            head => {
                let time = Time::new(request.commit_time.timestamp(), 0);
                let signature = Signature::new(&self.author_name, &self.author_email, &time)
                    .map_err(git_error)?;
                let tree = repo.find_tree(tree).map_err(git_error)?;
                let parents: Vec<&git2::Commit<'_>> = head.iter().collect();
                // Fails if main moved meanwhile (another publish): retried.
                repo.commit(
                    Some("refs/heads/main"),
                    &signature,
                    &signature,
                    &request.message,
                    &tree,
                    &parents,
                )
                .map_err(git_error)?
            }
        };
        write_dumb_http_info(&path, commit).map_err(io_error)?;
        self.publish_pages(&request.repo_name, commit, request)
            .map_err(io_error)?;
        Ok(self.urls(&request.repo_name, commit.to_string()))
    }

    /// Writes the commit's files once, then points the site's link at them.
    fn publish_pages(&self, name: &str, commit: Oid, request: &PublishRequest) -> io::Result<()> {
        let pages = self.data_dir.join("pages");
        let commit_dir = pages.join(".commits").join(commit.to_string());
        if !commit_dir.exists() {
            let staging = pages
                .join(".commits")
                .join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
            for file in &request.files {
                let target = staging.join(file.path.as_str());
                fs::create_dir_all(target.parent().expect("files have a parent"))?;
                fs::write(target, &file.bytes)?;
            }
            fs::create_dir_all(&staging)?;
            if let Err(e) = fs::rename(&staging, &commit_dir) {
                let _ = fs::remove_dir_all(&staging);
                if !commit_dir.exists() {
                    return Err(e);
                }
            }
        }
        let link = pages.join(name);
        let next = pages.join(format!(".{name}.{}", uuid::Uuid::new_v4().simple()));
        std::os::unix::fs::symlink(Path::new(".commits").join(commit.to_string()), &next)?;
        fs::rename(&next, &link)
    }
}

fn open_or_init(path: &Path) -> Result<Repository, git2::Error> {
    match Repository::open_bare(path) {
        Ok(repo) => Ok(repo),
        Err(_) => Repository::init_opts(
            path,
            RepositoryInitOptions::new().bare(true).initial_head("main"),
        ),
    }
}

/// What git's dumb HTTP protocol reads (`git update-server-info`, which
/// libgit2 lacks): the refs, and the list of packs (we write loose objects).
fn write_dumb_http_info(repo: &Path, commit: Oid) -> io::Result<()> {
    fs::create_dir_all(repo.join("info"))?;
    fs::create_dir_all(repo.join("objects").join("info"))?;
    atomic_write(
        &repo.join("info").join("refs"),
        format!("{commit}\trefs/heads/main\n").as_bytes(),
    )?;
    atomic_write(&repo.join("objects").join("info").join("packs"), b"")
}

fn atomic_write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    fs::write(&tmp, bytes)?;
    fs::rename(tmp, path)
}

fn io_error(e: io::Error) -> PublishError {
    PublishError::Retryable {
        reason: format!("writing the published site: {e}"),
        retry_after: None,
    }
}

#[async_trait]
impl Publisher for LocalPublisher {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn publish(&self, request: &PublishRequest) -> Result<Published, PublishError> {
        let this = Self {
            data_dir: self.data_dir.clone(),
            pages_base_url: self.pages_base_url.clone(),
            author_name: self.author_name.clone(),
            author_email: self.author_email.clone(),
        };
        let request = request.clone();
        tokio::task::spawn_blocking(move || this.publish_blocking(&request))
            .await
            .map_err(|e| PublishError::Retryable {
                reason: format!("publisher panicked: {e}"),
                retry_after: None,
            })?
    }

    /// The pages are written before `publish` returns: built if the site's
    /// link points at this commit.
    async fn wait_for_pages(
        &self,
        published: &Published,
        _until: Instant,
    ) -> Result<PagesStatus, PublishError> {
        let name = published
            .pages_url
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let target = fs::read_link(self.data_dir.join("pages").join(&name)).ok();
        Ok(match target {
            Some(t) if t.ends_with(&published.commit_sha) => PagesStatus::Built,
            _ => PagesStatus::Pending,
        })
    }
}
