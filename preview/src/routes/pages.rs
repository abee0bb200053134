//! The server's own pages: not found, gone, unavailable. Plain HTML with an
//! inline style, served under the strictest CSP (see `headers`).

use pagesmith::telemetry::FailureCause;

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

/// A whole page, built at compile time.
macro_rules! page {
    ($title:literal, $text:literal) => {
        concat!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
            "<title>",
            $title,
            "</title>\n",
            "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;",
            "margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.5rem}</style>\n",
            "</head>\n<body>\n<h1>",
            $title,
            "</h1>\n<p>",
            $text,
            "</p>\n</body>\n</html>\n"
        )
    };
}

const NOT_FOUND: &str = page!(
    "Not found",
    "There is no preview at this address. Check that the link is complete; preview links are long and easy to cut short."
);

const GONE: &str = page!(
    "This preview has ended",
    "This version was rejected, or its preview link expired. Send /status to the bot for the links of your latest version, or /revise with your changes to get a new one."
);

const UNAVAILABLE: &str = page!(
    "Preview temporarily unavailable",
    "The preview server cannot reach its database right now. Please try again in a few seconds."
);

const NOT_PUBLISHED: &str = page!(
    "Not found",
    "Nothing is published at this address. A site's address is its repository's name, as the bot sent it."
);

/// 404 on the pages origin: no such site, or no such file in it.
pub fn not_published() -> Response {
    page(StatusCode::NOT_FOUND, NOT_PUBLISHED)
}

/// 404: unknown token, unknown file, or a path that is not a site path.
pub fn not_found() -> Response {
    page(StatusCode::NOT_FOUND, NOT_FOUND)
}

/// 410: the version was rejected or has expired.
pub fn gone() -> Response {
    page(StatusCode::GONE, GONE)
}

/// 503: the database (or the disk) did not answer; worth a retry. `cause`
/// goes to the request's log event, not to the page.
pub fn unavailable(cause: String) -> Response {
    let mut response = page(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response.extensions_mut().insert(FailureCause(cause));
    response
}

fn page(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}
