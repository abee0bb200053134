//! The layers both origins (the previews, and the local publisher's pages)
//! put around their routes, set up in one place. Outermost first:
//!
//! 1. the request id: set when the request has none (a UUID), and echoed on
//!    the response;
//! 2. the origin's own `finish` middleware: its headers, its metrics and the
//!    request's one log event, which carries that id;
//! 3. compression of what the routes did not compress themselves
//!    ([`crate::encoding::compressible`]).
//!
//! They wrap the router once, not each route (`Router::layer` would): per
//! request that saves cloning and boxing every layer and moving the response
//! through each (with the preview's smaller handler futures, about 1 µs of
//! CPU per small-file request in `scripts/bench-preview`, 4%). The price:
//! `finish` runs before routing, so it names the route from the path
//! (`routes::route`, `published::route_of`), not from axum's `MatchedPath`.

use std::convert::Infallible;

use axum::{Router, extract::Request, response::Response};
use tower::{Layer, Service, ServiceBuilder};
use tower_http::{
    compression::{Compression, CompressionLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
};

use crate::encoding::{self, Compressible};

/// What `finish` wraps: the routes behind the compression layer.
pub type Compressed = Compression<Router, Compressible>;

/// `routes` (with their state) inside the shared layers, with `finish`
/// between them.
pub fn around<L>(routes: Router, finish: L) -> Router
where
    L: Layer<Compressed>,
    L::Service:
        Service<Request, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    <L::Service as Service<Request>>::Future: Send + 'static,
{
    let layered = ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(finish)
        .layer(CompressionLayer::new().compress_when(encoding::compressible()))
        .service(routes);
    Router::new().fallback_service(layered)
}

/// Checks how an origin names a path's route (`route_of`) against what the router itself names as
/// the route serving a GET of each of `paths` among `patterns` (`None`: the
/// fallback).
#[cfg(test)]
pub(crate) async fn assert_routes_agree(
    patterns: &[&'static str],
    route_of: fn(&str) -> Option<&'static str>,
    paths: &[&str],
) {
    use axum::{body::Body, extract::MatchedPath, http::StatusCode, routing::get};
    use tower::ServiceExt;

    let mut router = Router::new();
    for pattern in patterns {
        router = router.route(
            pattern,
            get(|matched: MatchedPath| async move { matched.as_str().to_owned() }),
        );
    }
    for path in paths {
        let request = Request::get(*path)
            .body(Body::empty())
            .expect("a valid request");
        let response = router.clone().oneshot(request).await.expect("infallible");
        let matched = match response.status() {
            StatusCode::NOT_FOUND => None,
            _ => {
                let body = axum::body::to_bytes(response.into_body(), 1024).await;
                Some(String::from_utf8(body.expect("a short body").to_vec()).expect("UTF-8"))
            }
        };
        assert_eq!(route_of(path), matched.as_deref(), "{path}");
    }
}
