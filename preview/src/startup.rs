//! Building and running the preview server, the same way in `main` and in
//! tests.

use std::{future::IntoFuture, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    Router,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, header},
    middleware::{self, Next},
    response::Response,
    routing::get,
    serve::{Listener, ListenerExt},
};
use pagesmith::{bundle::Bundles, db};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    files::Files,
    headers::Policies,
    layers,
    published::{self, Hosting},
    request_metrics::{RequestMetrics, View},
    routes,
    settings::Settings,
    state::{App, AppState},
    versions::VersionCache,
    zero_copy::{self, ZeroCopyListener},
};

/// A bound, ready-to-serve preview server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    /// `PAGES_ADDR`: the published sites and repositories.
    pages_listener: TcpListener,
    pages_router: Router,
    sendfile: Arc<zero_copy::Stats>,
}

impl Application {
    /// Connects (lazily), applies migrations and binds `settings.addr`
    /// (port 0 picks a free port).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = db::pool(&settings.database_url, settings.database_max_connections)
            .context("DATABASE_URL is not a valid PostgreSQL URL")?;
        db::migrate(&pool, Duration::from_secs(30))
            .await
            .context("could not apply database migrations")?;
        let listener = TcpListener::bind(settings.addr)
            .await
            .with_context(|| format!("cannot listen on PREVIEW_ADDR {}", settings.addr))?;
        let pages_listener = TcpListener::bind(settings.pages_addr)
            .await
            .with_context(|| format!("cannot listen on PAGES_ADDR {}", settings.pages_addr))?;
        let pages_router = published::router(Hosting::new(settings.local_publish_dir.clone()));
        let bundles = Bundles::open_store(&settings.bundle_store, &settings.data_dir, "preview")
            .await
            .map_err(anyhow::Error::msg)?;
        let sendfile = Arc::new(zero_copy::Stats::default());
        let state: AppState = Arc::new(App {
            versions: VersionCache::new(pool.clone(), settings.token_cache),
            files: Files::new(bundles, settings.file_cache_bytes),
            policies: Policies::new(&settings),
            metrics: pagesmith::telemetry::metrics_recorder(),
            requests: RequestMetrics::new(),
            sendfile: sendfile.clone(),
            pool,
            settings,
        });
        Ok(Self {
            listener,
            router: router(state),
            pages_listener,
            pages_router,
            sendfile,
        })
    }

    /// What this server's connections send with `sendfile`.
    pub fn sendfile_stats(&self) -> Arc<zero_copy::Stats> {
        self.sendfile.clone()
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// The pages address actually bound.
    pub fn pages_addr(&self) -> SocketAddr {
        self.pages_listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Serves until Ctrl-C or SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(pagesmith::shutdown::signal()).await
    }

    /// Serves until `shutdown` completes.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr(), pages = %self.pages_addr(), "preview listening");
        let stop = CancellationToken::new();
        let pages = tokio::spawn(serve(
            self.pages_listener,
            self.pages_router,
            stop.clone().cancelled_owned(),
        ));
        let previews = axum::serve(
            ZeroCopyListener::new(with_nodelay(self.listener), self.sendfile),
            self.router
                .into_make_service_with_connect_info::<zero_copy::Connection>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            stop.cancel();
        })
        .into_future();
        let (previews, pages) = tokio::join!(previews, pages);
        previews.context("preview server failed")?;
        pages
            .context("pages server panicked")?
            .context("pages server failed")
    }
}

async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(with_nodelay(listener), router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Like nginx, send each response's last segment at once rather than
/// wait for the client's ACK (Nagle), which costs tail latency.
fn with_nodelay(listener: TcpListener) -> impl Listener<Io = TcpStream, Addr = SocketAddr> {
    listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::warn!(%error, "could not set TCP_NODELAY");
        }
    })
}

/// The routes and the layers around them (`layers`). Small files are
/// compressed once and served from memory (see `encoding`); the shared
/// compression layer compresses the rest (large files, the server's own
/// pages) as they go out.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route(routes::LIVE, get(routes::site::live))
        .route(routes::SAFE, get(routes::site::safe))
        .route(routes::HEALTH, get(routes::health::health))
        .route(routes::METRICS, get(routes::metrics::metrics))
        .fallback(|| async { routes::pages::not_found() });
    layers::around(
        routes.with_state(state.clone()),
        middleware::from_fn_with_state(state, finish),
    )
}

/// Every response, whatever produced it: its body handed to the connection
/// for `sendfile` where the route offered it, the common security headers,
/// an honest ETag, the request metrics, and the request's one log event
/// (with its route pattern, never the path, which carries the token).
async fn finish(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let view = View::of(request.uri().path());
    let log = crate::request_log::start(&request, routes::route(view));
    let mut response = next.run(request).instrument(log.span()).await;
    // Outside the compression layer: the body is final here.
    zero_copy::hand_over(&mut response);
    let headers = response.headers_mut();
    state.policies.apply_common(headers);
    weaken_etag_if_encoded(headers);
    let status = response.status().as_u16();
    let latency = log.finish(status, response.extensions().get());
    state.requests.record(view, status, latency.as_secs_f64());
    response
}

/// A compressed body is another representation than the file the strong
/// ETag names; as nginx does, the ETag becomes weak (`W/"..."`), and
/// `If-None-Match` still matches it.
fn weaken_etag_if_encoded(headers: &mut HeaderMap) {
    if !headers.contains_key(header::CONTENT_ENCODING) {
        return;
    }
    let weak = headers
        .get(header::ETAG)
        .and_then(|etag| etag.to_str().ok())
        .filter(|etag| !etag.starts_with("W/"))
        .and_then(|etag| HeaderValue::from_str(&format!("W/{etag}")).ok());
    if let Some(weak) = weak {
        headers.insert(header::ETAG, weak);
    }
}
