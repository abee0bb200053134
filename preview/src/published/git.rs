//! `GET /git/{repo}.git/{path}`: a bare repository over git's "dumb" HTTP
//! protocol, which is nothing but static files. The worker keeps
//! `info/refs` and `objects/info/packs` up to date after each commit (what
//! `git update-server-info` does), and `git clone` fetches `HEAD`, then
//! each object it needs.
//!
//! Only the files that protocol reads are served, by their exact shapes: a
//! repository's `config`, hooks or anything else never leave the server.
//! The repository's own address (`/git/{repo}.git`, with or without a
//! slash) is a page for browsers instead ([`super::repository`]).

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, Uri, header},
    response::Response,
};
use tokio_util::io::ReaderStream;

use super::{Hosting, is_repo_name, regular_file_below, repository};
use crate::routes::pages;

pub async fn serve(State(hosting): State<Hosting>, uri: Uri, headers: HeaderMap) -> Response {
    // The route is `/git/{*rest}`: five bytes of prefix. The query
    // (`?service=git-upload-pack`, the smart protocol's probe) is ignored,
    // which is how a dumb server answers it.
    let rest = &uri.path()[5..];
    let own = rest
        .strip_suffix(".git/")
        .or_else(|| rest.strip_suffix(".git"));
    if let Some(repo) = own {
        return repository::page(&hosting, repo, &headers).await;
    }
    let Some((repo, path)) = rest.split_once(".git/") else {
        return pages::not_published();
    };
    let Some(kind) = FileKind::of(path) else {
        return pages::not_published();
    };
    if !is_repo_name(repo) {
        return pages::not_published();
    }
    let dir = hosting.repos_dir().join(format!("{repo}.git"));
    let Some(file) = regular_file_below(&dir, path).await else {
        return pages::not_published();
    };
    let handle = match tokio::fs::File::open(&file).await {
        Ok(handle) => handle,
        Err(error) => {
            return pages::unavailable(format!(
                "could not open {path} of repository {repo}: {error}"
            ));
        }
    };
    let len = handle.metadata().await.map(|m| m.len()).ok();
    let mut response = Response::new(Body::from_stream(ReaderStream::new(handle)));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(kind.media_type()),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(kind.cache_control()),
    );
    if let Some(len) = len {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    response
}

/// The files a dumb-protocol client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    /// `HEAD`, `info/refs`, `objects/info/packs`, `objects/info/alternates`,
    /// `objects/info/http-alternates`: change with every commit.
    Index,
    /// `objects/ab/cdef…`: a loose object, immutable.
    LooseObject,
    /// `objects/pack/pack-{sha}.pack`, immutable.
    Pack,
    /// `objects/pack/pack-{sha}.idx`, immutable.
    PackIndex,
}

impl FileKind {
    fn of(path: &str) -> Option<Self> {
        match path {
            "HEAD"
            | "info/refs"
            | "objects/info/packs"
            | "objects/info/alternates"
            | "objects/info/http-alternates" => return Some(Self::Index),
            _ => {}
        }
        let hex = |s: &str, n: usize| {
            s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["objects", dir, name] if hex(dir, 2) && hex(name, 38) => Some(Self::LooseObject),
            ["objects", "pack", name] => {
                let (stem, ext) = name.rsplit_once('.')?;
                let sha = stem.strip_prefix("pack-")?;
                match (hex(sha, 40), ext) {
                    (true, "pack") => Some(Self::Pack),
                    (true, "idx") => Some(Self::PackIndex),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn media_type(self) -> &'static str {
        match self {
            Self::Index => "text/plain; charset=utf-8",
            Self::LooseObject => "application/x-git-loose-object",
            Self::Pack => "application/x-git-packed-objects",
            Self::PackIndex => "application/x-git-packed-objects-toc",
        }
    }

    fn cache_control(self) -> &'static str {
        match self {
            Self::Index => "no-cache",
            _ => "public, max-age=31536000, immutable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_files_of_the_dumb_protocol_are_named() {
        let object = format!("objects/ab/{}", "c".repeat(38));
        let pack = format!("objects/pack/pack-{}.pack", "0".repeat(40));
        let idx = format!("objects/pack/pack-{}.idx", "f".repeat(40));
        assert_eq!(FileKind::of("HEAD"), Some(FileKind::Index));
        assert_eq!(FileKind::of("info/refs"), Some(FileKind::Index));
        assert_eq!(FileKind::of(&object), Some(FileKind::LooseObject));
        assert_eq!(FileKind::of(&pack), Some(FileKind::Pack));
        assert_eq!(FileKind::of(&idx), Some(FileKind::PackIndex));
        for refused in [
            "config",
            "description",
            "hooks/pre-receive",
            "refs/heads/main",
            "objects/ab/../../config",
            "objects/AB/".to_owned().as_str(),
            &format!("objects/ab/{}", "C".repeat(38)),
            &format!("objects/pack/pack-{}.keep", "0".repeat(40)),
            "info/../config",
            "",
        ] {
            assert_eq!(FileKind::of(refused), None, "{refused}");
        }
    }
}
