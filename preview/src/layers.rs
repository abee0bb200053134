//! The layers both origins (the previews, and the local publisher's pages)
//! put around their routes, set up in one place. Outermost first:
//!
//! 1. the request id: set when the request has none (a UUID), and echoed on
//!    the response;
//! 2. the origin's own `finish` middleware: its headers, its metrics and the
//!    request's one log event, which carries that id;
//! 3. compression of what the routes did not compress themselves
//!    ([`crate::encoding::compressible`]).

use std::convert::Infallible;

use axum::{Router, extract::Request, response::IntoResponse, routing::Route};
use tower::{Layer, Service};
use tower_http::{
    compression::CompressionLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
};

/// `routes` inside the shared layers, with `finish` between them.
pub fn around<S, L>(routes: Router<S>, finish: L) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    L: Layer<Route> + Clone + Send + Sync + 'static,
    L::Service: Service<Request> + Clone + Send + Sync + 'static,
    <L::Service as Service<Request>>::Response: IntoResponse + 'static,
    <L::Service as Service<Request>>::Error: Into<Infallible> + 'static,
    <L::Service as Service<Request>>::Future: Send + 'static,
{
    // `Router::layer` wraps what is there already: innermost first.
    routes
        .layer(CompressionLayer::new().compress_when(crate::encoding::compressible()))
        .layer(finish)
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}
