//! Building and running the bot, the same way in `main` and in tests.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    Router,
    extract::{MatchedPath, Request},
    middleware::{self, Next},
    response::Response,
    routing::{get, post},
};
use pagesmith::{db, telemetry::RequestLog};
use tokio::{net::TcpListener, sync::Notify};
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tracing::Instrument;

use crate::{
    group_commit::Ingestor,
    janitor,
    polling::Poller,
    relay::{BrokerStatus, Relay},
    routes::{self, request_id},
    settings::{Settings, TelegramMode},
    state::{App, AppState},
};

/// A bound, ready-to-serve bot with its background tasks started.
pub struct Application {
    listener: TcpListener,
    router: Router,
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    /// Connects, migrates, binds `settings.addr` (port 0 picks a free port)
    /// and starts the ingest batcher, the outbox relay, the janitor and, in
    /// polling mode, the Telegram poller.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = db::connect_and_migrate(&settings.common).await?;

        let stop = CancellationToken::new();
        let outbox_wakeup = Arc::new(Notify::new());
        let broker = BrokerStatus::default();
        let ingestor = Ingestor::spawn(
            pool.clone(),
            settings.telegram.bot_id,
            settings.telegram.dedupe_ttl,
            settings.ingest.clone(),
            outbox_wakeup.clone(),
        );
        let relay = Relay {
            pool: pool.clone(),
            brokers: settings.common.brokers.clone(),
            topology: settings.common.topology(),
            wakeup: outbox_wakeup.clone(),
            status: broker.clone(),
            settings: settings.relay.clone(),
        };
        let mut tasks = vec![
            tokio::spawn(relay.run(stop.clone())),
            tokio::spawn(janitor::run(
                pool.clone(),
                settings.telegram.dedupe_ttl,
                Duration::from_secs(3600),
                stop.clone(),
            )),
        ];
        if settings.telegram.mode == TelegramMode::Polling {
            let poller = Poller::new(&settings.telegram, ingestor.clone())?;
            tasks.push(tokio::spawn(poller.run(stop.clone())));
        }

        let listener = TcpListener::bind(settings.addr)
            .await
            .with_context(|| format!("cannot listen on BOT_ADDR {}", settings.addr))?;
        let state = AppState(Arc::new(App {
            settings,
            pool,
            ingestor,
            broker,
            outbox_wakeup,
            metrics: pagesmith::telemetry::metrics_recorder(),
        }));
        Ok(Self {
            listener,
            router: router(state),
            stop,
            tasks,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Serves until Ctrl-C or SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(pagesmith::shutdown::signal()).await
    }

    /// Serves until `shutdown` completes, then stops the background tasks.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr(), "bot listening");
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .context("HTTP server failed")?;
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        Ok(())
    }
}

/// The routes and the layers around them.
pub fn router(state: AppState) -> Router {
    // Outermost first: the request id is set (generated when absent) before
    // `observe` reads it, and echoed on the way out.
    let layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(middleware::from_fn(observe));
    // POST /app and GET /jobs/{id} are registered with their OpenAPI
    // document, so the two cannot drift apart.
    let (api, doc) = routes::openapi::api();
    Router::new()
        .route("/telegram/webhook", post(routes::telegram::webhook))
        .merge(api)
        .merge(routes::openapi::document(doc))
        .route("/health", get(routes::health::health))
        .route("/metrics", get(routes::metrics::metrics))
        .layer(layers)
        .with_state(state)
}

/// Every request, unmatched ones included: its span (so handlers' events
/// carry the request id), its one log event (with the cause of a 5xx, which
/// is logged nowhere else), and its count and latency by route and status.
async fn observe(request: Request, next: Next) -> Response {
    let log = RequestLog::start(
        request.method().as_str(),
        request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
        request_id(request.headers()).as_deref(),
    );
    let method = request.method().to_string();
    let response = next.run(request).instrument(log.span()).await;
    let status = response.status().as_u16();
    let latency = log.finish(status, response.extensions().get());
    let labels = [
        ("route", log.route().to_owned()),
        ("method", method),
        ("status", status.to_string()),
    ];
    metrics::counter!("pagesmith_http_requests_total", &labels).increment(1);
    metrics::histogram!("pagesmith_http_request_duration_seconds", &labels)
        .record(latency.as_secs_f64());
    response
}
