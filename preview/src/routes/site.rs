//! `GET /p/{token}/{path}` (live) and `GET /s/{token}/{path}` (safe): a
//! version's files.
//!
//! The path is taken from the raw URI, percent-decoded once, validated as a
//! [`SitePath`] and then served only if the version's file list names it,
//! so `..`, encoded or double-encoded dots, backslashes, NUL, absolute
//! paths and symlinks all end in the same 404.

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use chrono::Utc;
use pagesmith::{
    bundle::View,
    domain::{SitePath, file_type},
};
use percent_encoding::percent_decode_str;
use tokio_util::io::ReaderStream;

use crate::{
    conditional, encoding,
    files::{Content, FileError},
    routes::pages,
    state::AppState,
    versions::{FileMeta, is_token_shaped},
    zero_copy::SendfileOffer,
};

/// Revalidate every time: the bytes never change, but a rejection must
/// take effect, and a 304 is cheap.
const CACHE_CONTROL: HeaderValue = HeaderValue::from_static("no-cache");

// The whole request, not `Uri` and `HeaderMap` extractors: those clone.
// Its parts, not itself, are held across awaits: a body is not `Sync`.
pub async fn live(State(state): State<AppState>, request: Request) -> Response {
    serve(&state, View::Live, &request.into_parts().0).await
}

pub async fn safe(State(state): State<AppState>, request: Request) -> Response {
    serve(&state, View::Safe, &request.into_parts().0).await
}

async fn serve(state: &AppState, view: View, request: &Parts) -> Response {
    let headers = &request.headers;
    // The routes are `/p/{*rest}` and `/s/{*rest}`: three bytes of prefix.
    let full = request.uri.path();
    let rest = &full[3..];
    let (token, raw_path) = match rest.split_once('/') {
        Some((token, path)) => (token, Some(path)),
        None => (rest, None),
    };
    if !is_token_shaped(token) {
        return pages::not_found();
    }
    let site = match state.versions.get(token).await {
        Ok(Some(site)) => site,
        Ok(None) => return pages::not_found(),
        Err(error) => {
            return pages::unavailable(format!("could not look up a preview token: {error}"));
        }
    };
    if !site.is_servable(Utc::now()) {
        return pages::gone();
    }
    // `/p/{token}` → `/p/{token}/`, so the site's relative links resolve.
    let Some(raw_path) = raw_path else {
        return conditional::to_directory(full).unwrap_or_else(pages::not_found);
    };
    let Some(path) = requested_path(raw_path) else {
        return pages::not_found();
    };
    let Some(file) = site.file(path.as_str()) else {
        if site.has_index_under(path.as_str()) && !raw_path.ends_with('/') {
            return conditional::to_directory(full).unwrap_or_else(pages::not_found);
        }
        return pages::not_found();
    };

    let etag = file.etag(view);
    let mut response = match conditional::etag_matches(headers, etag) {
        true => StatusCode::NOT_MODIFIED.into_response(),
        false => match state.files.read(&site, view, file).await {
            Ok(Content::Bytes(bytes, source)) => {
                let offer = source.and_then(|source| SendfileOffer::new(request, &bytes, source));
                let mut response = encoded_response(state, view, file, headers, bytes).await;
                if let Some(offer) = offer {
                    response.extensions_mut().insert(offer);
                }
                response
            }
            Ok(Content::File(handle, len)) => {
                let mut response = Response::new(Body::from_stream(ReaderStream::new(handle)));
                response
                    .headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
                response
            }
            Err(FileError::Missing) => {
                tracing::error!(bundle = %site.bundle, "a listed file is missing from its bundle");
                return pages::not_found();
            }
            Err(FileError::Unavailable(why)) => {
                return pages::unavailable(format!(
                    "bundle {} is not on this preview and the store is unavailable: {why}",
                    site.bundle
                ));
            }
            Err(FileError::Io(error)) => {
                return pages::unavailable(format!(
                    "could not read a file of bundle {}: {error}",
                    site.bundle
                ));
            }
        },
    };
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, file.content_type.clone());
    out.insert(header::ETAG, etag.clone());
    out.insert(header::CACHE_CONTROL, CACHE_CONTROL);
    match view {
        View::Live => {
            out.insert(
                header::CONTENT_SECURITY_POLICY,
                state.policies.live_csp().clone(),
            );
            // The sandboxed page's origin is opaque, so its own fetch('data.csv')
            // is cross-origin: without this it fails.
            out.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        }
        View::Safe => {
            out.insert(
                header::CONTENT_SECURITY_POLICY,
                state.policies.safe_csp().clone(),
            );
        }
    }
    response
}

/// A small file's response, in the best coding the client accepts. Large
/// (streamed) files are left to the compression layer.
async fn encoded_response(
    state: &AppState,
    view: View,
    file: &FileMeta,
    headers: &HeaderMap,
    bytes: Bytes,
) -> Response {
    if bytes.len() < encoding::MIN_SIZE || !file_type::is_text(&file.path) {
        return Response::new(Body::from(bytes));
    }
    let encoded = match encoding::preferred(headers) {
        Some(coding) => state
            .files
            .encoded(file, view, coding, bytes.clone())
            .await
            .map(|encoded| (coding, encoded)),
        None => None,
    };
    let mut response = match encoded {
        Some((coding, encoded)) => {
            let mut response = Response::new(Body::from(encoded));
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, coding.header_value());
            response
        }
        None => Response::new(Body::from(bytes)),
    };
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

/// The site path a request names: percent-decoded once (so `%252e` stays
/// `%2e`, which no site path contains), `index.html` for a directory.
pub(crate) fn requested_path(raw: &str) -> Option<SitePath> {
    let decoded = percent_decode_str(raw).decode_utf8().ok()?;
    match decoded.is_empty() || decoded.ends_with('/') {
        true => SitePath::parse(&format!("{decoded}index.html")).ok(),
        false => SitePath::parse(&decoded).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_decoded_once_and_directories_get_their_index() {
        let path = |raw: &str| requested_path(raw).map(|p| p.to_string());
        assert_eq!(path("").as_deref(), Some("index.html"));
        assert_eq!(path("docs/").as_deref(), Some("docs/index.html"));
        assert_eq!(path("data%20set.csv").as_deref(), Some("data set.csv"));
        assert_eq!(path("%2e%2e/secret"), None);
        assert_eq!(path("%252e%252e/secret"), None);
        assert_eq!(path("a%5cb"), None);
        assert_eq!(path("a%00b"), None);
        assert_eq!(path("%c0%ae%c0%ae/x"), None);
    }
}
