//! What both origins (the preview and the published pages) answer the same
//! way: `If-None-Match` against a file's ETag, and a folder asked for
//! without its trailing slash.

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

/// Whether the request's `If-None-Match` names `etag`, by the weak
/// comparison the header calls for (a compressed response's ETag comes
/// back as `W/"..."`); `*` matches any.
pub fn etag_matches(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(wanted) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let ours = strip_weak(etag.to_str().unwrap_or_default());
    wanted
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || strip_weak(tag) == ours)
}

fn strip_weak(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

/// `301` to `path/`, as GitHub Pages and nginx answer a folder asked for
/// without its slash (so the page's relative links resolve inside it).
/// `None` when the path cannot be a header value.
pub fn to_directory(path: &str) -> Option<Response> {
    let location = HeaderValue::from_str(&format!("{path}/")).ok()?;
    Some(
        (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, location)],
        )
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asking(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        let etag = HeaderValue::from_static("\"abc\"");
        assert!(etag_matches(&asking("\"abc\""), &etag));
        assert!(etag_matches(&asking("W/\"abc\""), &etag));
        assert!(etag_matches(&asking("\"x\", W/\"abc\""), &etag));
        assert!(etag_matches(&asking("*"), &etag));
        assert!(!etag_matches(&asking("\"abd\""), &etag));
        assert!(!etag_matches(&HeaderMap::new(), &etag));
        let weak = HeaderValue::from_static("W/\"abc\"");
        assert!(etag_matches(&asking("\"abc\""), &weak));
    }

    #[test]
    fn a_folder_is_redirected_to_its_slash() {
        let response = to_directory("/p/tok/docs").unwrap();
        assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(response.headers()[header::LOCATION], "/p/tok/docs/");
        assert!(to_directory("/p/tok/\u{7f}").is_none());
    }
}
