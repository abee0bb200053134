//! `GET /git/{repo}.git` (or `…/`): the address the local publisher hands
//! out as `repo_url`. git never asks for it (it asks for `info/refs` and the
//! files below), so it is a page for people: the newest commit, its files,
//! the published site and the clone command, as GitHub shows a repository.
//!
//! Everything shown comes from the repository and is untrusted: each piece
//! is HTML-escaped, and the page runs under the server's own strict policy.

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::DateTime;
use pagesmith::{sanitize::escape, telemetry::FailureCause};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::{
    Hosting, is_repo_name,
    objects::{self, Commit, MAX_FILES, ObjectError},
    regular_file_below,
};
use crate::{headers::OWN_PAGES_CSP, routes::pages};

/// What stays as is in a path segment of a link.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:48rem;\
    margin:3rem auto;padding:0 1rem;color:#222}h1{font-size:1.5rem}h2{font-size:1.15rem}\
    pre{background:#f4f4f4;padding:.5rem .75rem;overflow-x:auto;white-space:pre-wrap}\
    table{border-collapse:collapse;width:100%}td{padding:.15rem .5rem .15rem 0}\
    td.size{text-align:right;white-space:nowrap;color:#555}";

/// The page of the repository `repo`; 404 unless it is one.
pub async fn page(hosting: &Hosting, repo: &str, headers: &HeaderMap) -> Response {
    let root = hosting.repos_dir();
    let dir = format!("{repo}.git");
    if !is_repo_name(repo)
        || regular_file_below(&root, &format!("{dir}/HEAD"))
            .await
            .is_none()
    {
        return pages::not_published();
    }
    let commit = objects::head_commit(&root, &dir).await;
    let html = render(repo, &base_url(headers), &commit);
    let mut response = (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            // A new commit changes it.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(OWN_PAGES_CSP),
            ),
        ],
        html,
    )
        .into_response();
    if let Err(error) = commit {
        let cause = format!("reading the newest commit of {repo}: {error}");
        response.extensions_mut().insert(FailureCause(cause));
    }
    response
}

/// `http(s)://{host}` as the request names it (the server knows no
/// `PAGES_BASE_URL`; behind the proxy, `Host` is the pages name), or
/// nothing when the request's `Host` is not a plain host and port.
fn base_url(headers: &HeaderMap) -> String {
    let value = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let scheme = match value("x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    match value(header::HOST.as_str()) {
        Some(host)
            if (1..=255).contains(&host.len())
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)) =>
        {
            format!("{scheme}://{host}")
        }
        _ => String::new(),
    }
}

fn render(repo: &str, base: &str, commit: &Result<Option<Commit>, ObjectError>) -> String {
    let name = escape(repo);
    let base = escape(base);
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{name}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>{name}</h1>\n\
         <p>Published at <a href=\"/{name}/\">{base}/{name}/</a></p>\n\
         <h2>Clone</h2>\n<pre><code>git clone {base}/git/{name}.git</code></pre>\n\
         <h2>Latest commit</h2>\n"
    );
    match commit {
        Ok(Some(commit)) => html.push_str(&render_commit(repo, commit)),
        Ok(None) => html.push_str("<p>No commit yet.</p>\n"),
        Err(_) => html.push_str("<p>The latest commit could not be read.</p>\n"),
    }
    html.push_str("</body>\n</html>\n");
    html
}

fn render_commit(repo: &str, commit: &Commit) -> String {
    let time = DateTime::from_timestamp(commit.time, 0).unwrap_or_default();
    let mut html = format!(
        "<p><code>{sha}</code> · <time datetime=\"{iso}\">{shown}</time></p>\n\
         <pre>{message}</pre>\n<h2>Files</h2>\n<table>\n",
        sha = escape(&commit.sha),
        iso = time.to_rfc3339(),
        shown = time.format("%Y-%m-%d %H:%M:%S UTC"),
        message = escape(&commit.message),
    );
    for (path, size) in &commit.files {
        let href: Vec<String> = path
            .split('/')
            .map(|part| utf8_percent_encode(part, SEGMENT).to_string())
            .collect();
        html.push_str(&format!(
            "<tr><td><a href=\"/{repo}/{href}\">{path}</a></td><td class=\"size\">{size}</td></tr>\n",
            repo = escape(repo),
            href = escape(&href.join("/")),
            path = escape(path),
            size = size.map_or("submodule".to_owned(), human_size),
        ));
    }
    html.push_str("</table>\n");
    if commit.truncated {
        html.push_str(&format!(
            "<p>Only the first {MAX_FILES} files are listed; clone the repository to see all.</p>\n"
        ));
    }
    html
}

fn human_size(bytes: u64) -> String {
    match bytes {
        1 => "1 byte".to_owned(),
        0..1024 => format!("{bytes} bytes"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            escape(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn only_a_plain_host_makes_the_clone_address() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, HeaderValue::from_static(value));
            }
            map
        };
        assert_eq!(
            base_url(&headers(&[("host", "pages.example.org")])),
            "http://pages.example.org"
        );
        assert_eq!(
            base_url(&headers(&[
                ("host", "127.0.0.1:8082"),
                ("x-forwarded-proto", "https")
            ])),
            "https://127.0.0.1:8082"
        );
        assert_eq!(base_url(&headers(&[("host", "a\"><script>")])), "");
        assert_eq!(base_url(&headers(&[])), "");
    }

    #[test]
    fn sizes_are_for_people() {
        assert_eq!(human_size(1), "1 byte");
        assert_eq!(human_size(15), "15 bytes");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 << 20), "3.0 MiB");
    }
}
