//! The local publisher's hosting, on its own origin (`PAGES_ADDR`), as
//! GitHub Pages and GitHub are for the GitHub publisher:
//!
//! - `/{repo}/…`: the published site, plain static hosting of the files of
//!   the repository's newest commit ([`site`]);
//! - `/git/{repo}.git/…`: the bare repository over git's "dumb" HTTP
//!   protocol, so `git clone` works without a git server ([`git`]);
//! - `/git/{repo}.git` itself: a page about the repository for a browser
//!   ([`repository`]).
//!
//! The worker writes both under `DATA_DIR` (see `worker::publish::local`);
//! this server only reads. Published sites are public and meant to be
//! indexed and embedded like any GitHub Pages site, so they get none of the
//! preview's sandbox; what keeps them away from pagesmith's own cookies and
//! storage is that `PAGES_BASE_URL` is a different origin from the bot's
//! and the preview's.

pub mod git;
mod objects;
pub mod repository;
pub mod site;

use std::path::{Path, PathBuf};

use axum::{
    Json, Router,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::Response,
    routing::get,
};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::routes;

/// Where the published files and repositories live.
#[derive(Debug, Clone)]
pub struct Hosting {
    data_dir: PathBuf,
}

impl Hosting {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
        }
    }

    fn pages_dir(&self) -> PathBuf {
        self.data_dir.join("pages")
    }

    fn repos_dir(&self) -> PathBuf {
        self.data_dir.join("repos")
    }
}

/// The pages origin's routes.
pub fn router(hosting: Hosting) -> Router {
    let routes = Router::new()
        .route(HEALTH, get(health))
        .route(GIT, get(git::serve))
        .route(SITE, get(site::serve))
        .fallback(|| async { routes::pages::not_published() });
    crate::layers::around(routes.with_state(hosting), middleware::from_fn(finish))
}

/// The routes' patterns, for the router and for each request's log line.
const HEALTH: &str = "/health";
const GIT: &str = "/git/{*rest}";
const SITE: &str = "/{*rest}";

/// The pattern of the route serving `path`, `None` for the fallback (`/`).
/// A catch-all needs something after its prefix, as in the router.
fn route_of(path: &str) -> Option<&'static str> {
    let in_git = path
        .strip_prefix("/git/")
        .is_some_and(|rest| !rest.is_empty());
    match path {
        HEALTH => Some(HEALTH),
        _ if in_git => Some(GIT),
        _ if path.len() > 1 => Some(SITE),
        _ => None,
    }
}

/// `GET /health`: 200 while the published files can be read.
async fn health(State(hosting): State<Hosting>) -> (StatusCode, Json<Value>) {
    match tokio::fs::metadata(&hosting.data_dir).await {
        Ok(meta) if meta.is_dir() => (StatusCode::OK, Json(json!({"status": "ok"}))),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "data_dir": "not readable"})),
        ),
    }
}

/// Headers every pages response carries. Unlike previews, published sites
/// are meant to be found, so no `X-Robots-Tag`.
async fn finish(request: Request, next: Next) -> Response {
    let log = crate::request_log::start(&request, route_of(request.uri().path()));
    let mut response = next.run(request).instrument(log.span()).await;
    log.finish(response.status().as_u16(), response.extensions().get());
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.remove(header::SET_COOKIE);
    response
}

/// Whether `name` could be a repository the local publisher made
/// (`worker::publish::repo_name`: lower-case letters, digits and dashes).
/// Anything else never reaches the file system.
fn is_repo_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}

/// `dir.join(relative)` if no component below `dir` is a symbolic link and
/// the end is a regular file: nothing the server reads can point outside
/// the directory the worker wrote.
async fn regular_file_below(dir: &Path, relative: &str) -> Option<PathBuf> {
    let mut path = dir.to_path_buf();
    let mut parts = relative.split('/').peekable();
    while let Some(part) = parts.next() {
        if part.is_empty() || part == "." || part == ".." {
            return None;
        }
        path.push(part);
        let meta = tokio::fs::symlink_metadata(&path).await.ok()?;
        let last = parts.peek().is_none();
        match (last, meta.file_type()) {
            (true, kind) if kind.is_file() => return Some(path),
            (false, kind) if kind.is_dir() => {}
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_logged_route_is_the_one_the_router_picks() {
        let paths = [
            "/health",
            "/health/",
            "/git/site-abc.git/info/refs",
            "/git/",
            "/git",
            "/site-abc/",
            "/site-abc/index.html",
            "/",
        ];
        crate::layers::assert_routes_agree(&[HEALTH, GIT, SITE], route_of, &paths).await;
    }

    #[test]
    fn only_publisher_shaped_names_are_repositories() {
        for ok in ["site-abc123", "captcha-solver-v2-abcdef", "a"] {
            assert!(is_repo_name(ok), "{ok}");
        }
        for bad in [
            "",
            "..",
            ".commits",
            "-x",
            "Site",
            "a/b",
            "a%2fb",
            "a b",
            &"a".repeat(101),
        ] {
            assert!(!is_repo_name(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn symlinks_anywhere_below_the_root_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/ok.txt"), "ok").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("sub/link.txt"))
            .unwrap();

        assert_eq!(
            regular_file_below(&root, "sub/ok.txt").await,
            Some(root.join("sub/ok.txt"))
        );
        for refused in [
            "up/secret.txt",
            "sub/link.txt",
            "sub",
            "sub/../sub/ok.txt",
            "",
            "missing",
        ] {
            assert_eq!(regular_file_below(&root, refused).await, None, "{refused}");
        }
    }
}
