//! `GET /{repo}/{path}`: a published site's files, like GitHub Pages.
//!
//! `DATA_DIR/pages/{repo}` is a symbolic link the worker switches
//! atomically to `.commits/{sha}`, the newest commit's files. A request
//! reads the link once, so it is served wholly from one commit even while
//! a new round is being published.

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use pagesmith::domain::file_type;
use tokio_util::io::ReaderStream;

use super::{Hosting, is_repo_name, regular_file_below};
use crate::{
    conditional,
    routes::{pages, site::requested_path},
};

/// GitHub Pages' own: browsers may reuse a file for ten minutes.
const CACHE_CONTROL: HeaderValue = HeaderValue::from_static("max-age=600");

pub async fn serve(State(hosting): State<Hosting>, uri: Uri, headers: HeaderMap) -> Response {
    let full = uri.path();
    let (repo, raw_path) = match full[1..].split_once('/') {
        Some((repo, path)) => (repo, Some(path)),
        None => (&full[1..], None),
    };
    if !is_repo_name(repo) {
        return pages::not_published();
    }
    let Some(commit) = current_commit(&hosting, repo).await else {
        return pages::not_published();
    };
    // `/{repo}` → `/{repo}/`, so the site's relative links resolve.
    let Some(raw_path) = raw_path else {
        return conditional::to_directory(full).unwrap_or_else(pages::not_published);
    };
    let Some(path) = requested_path(raw_path) else {
        return pages::not_published();
    };
    let commit_dir = hosting.pages_dir().join(".commits").join(&commit);
    let file = match regular_file_below(&commit_dir, path.as_str()).await {
        Some(file) => file,
        None => {
            // `/{repo}/docs` where `docs/index.html` exists.
            let index = format!("{}/index.html", path.as_str());
            if !raw_path.ends_with('/') && regular_file_below(&commit_dir, &index).await.is_some() {
                return conditional::to_directory(full).unwrap_or_else(pages::not_published);
            }
            return pages::not_published();
        }
    };

    // The commit names the bytes: a file's tag changes exactly when a new
    // round is published.
    let etag = HeaderValue::from_str(&format!("\"{commit}\"")).expect("hex is header-safe");
    let mut response = match conditional::etag_matches(&headers, &etag) {
        true => StatusCode::NOT_MODIFIED.into_response(),
        false => match tokio::fs::File::open(&file).await {
            Ok(handle) => {
                let len = handle.metadata().await.map(|m| m.len()).ok();
                let mut response = Response::new(Body::from_stream(ReaderStream::new(handle)));
                if let Some(len) = len {
                    response
                        .headers_mut()
                        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
                }
                response
            }
            Err(error) => {
                return pages::unavailable(format!(
                    "could not open a published file of {repo}: {error}"
                ));
            }
        },
    };
    let out = response.headers_mut();
    let media = file_type::media_type(&path).unwrap_or("application/octet-stream");
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    out.insert(header::ETAG, etag);
    out.insert(header::CACHE_CONTROL, CACHE_CONTROL);
    // As GitHub Pages does: a published site's files may be fetched from
    // anywhere (a data file read by another site, a checker's script).
    out.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// The commit the site's link points at: `.commits/{40 hex}`, or nothing.
async fn current_commit(hosting: &Hosting, repo: &str) -> Option<String> {
    let target = tokio::fs::read_link(hosting.pages_dir().join(repo))
        .await
        .ok()?;
    let mut parts = target.iter();
    let (Some(commits), Some(sha), None) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let sha = sha.to_str()?;
    let is_sha = sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit());
    (commits == ".commits" && is_sha).then(|| sha.to_owned())
}
