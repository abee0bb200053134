//! One module per route.

pub mod health;
pub mod metrics;
pub mod pages;
pub mod site;

use crate::request_metrics::View;

/// The routes' patterns, for the router and for each request's log line.
pub const LIVE: &str = "/p/{*rest}";
pub const SAFE: &str = "/s/{*rest}";
pub const HEALTH: &str = "/health";
pub const METRICS: &str = "/metrics";

/// The pattern of the route serving a request for `view`
/// ([`View::of`] its path), `None` for the fallback: the log names the
/// route, never the path, which may carry a preview token.
pub fn route(view: View) -> Option<&'static str> {
    match view {
        View::Live => Some(LIVE),
        View::Safe => Some(SAFE),
        View::Health => Some(HEALTH),
        View::Metrics => Some(METRICS),
        View::Other => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_logged_route_is_the_one_the_router_picks() {
        let paths = [
            "/p/token/index.html",
            "/p/token",
            "/p/",
            "/p",
            "/s/token/a/b.css",
            "/s/",
            "/health",
            "/health/",
            "/metrics",
            "/",
            "/pp/x",
            "/favicon.ico",
        ];
        let patterns = [LIVE, SAFE, HEALTH, METRICS];
        let route_of = |path: &str| route(View::of(path));
        crate::layers::assert_routes_agree(&patterns, route_of, &paths).await;
    }
}
