//! Logging set-up shared by the binaries.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// How log lines are written: a setting (`LOG_FORMAT`), read by `config`.
pub use crate::config::LogFormat;

/// The filter without `RUST_LOG`. chromiumoxide 0.9 warns once per
/// sub-resource of every page the worker checks, because current Chromium
/// sends a protocol field it does not know (the event is dropped, nothing
/// breaks): only its errors are worth a line.
pub const DEFAULT_FILTER: &str = "info,chromiumoxide=error";

/// Installs the global tracing subscriber. `RUST_LOG` filters (default
/// [`DEFAULT_FILTER`]).
///
/// Calling it twice is harmless, so tests may call it freely.
pub fn init(format: LogFormat) {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| DEFAULT_FILTER.to_owned());
    init_with_filter(format, &filter);
}

/// Installs the global subscriber with an explicit filter such as
/// `info,sqlx=warn`.
pub fn init_with_filter(format: LogFormat, filter: &str) {
    init_to(format, filter, std::io::stdout);
}

/// Like [`init_with_filter`], writing to `writer` instead of stdout (tests
/// capture the logs a run produces this way).
pub fn init_to<W>(format: LogFormat, filter: &str, writer: W)
where
    W: for<'w> fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .with_writer(writer)
                    .json()
                    .flatten_event(true)
                    // Every enclosing span, so an event deep in a handler
                    // still carries its request's (or job's) id.
                    .with_current_span(false)
                    .with_span_list(true),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(fmt::layer().with_writer(writer).compact())
            .try_init(),
    };
    // Err only means a subscriber is already installed.
    let _ = result;
}

/// The header that carries a request's id, set by the caller or generated,
/// and echoed in the response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The cause of a failed (5xx) answer, put in the response's extensions by
/// whatever produced it, for [`RequestLog::finish`]; never sent.
#[derive(Debug, Clone)]
pub struct FailureCause(pub String);

/// One HTTP request's log: a span that its handlers' events nest in (so
/// they carry the request id), and the one event it ends with.
pub struct RequestLog {
    method: String,
    route: String,
    request_id: String,
    started: std::time::Instant,
    span: tracing::Span,
}

impl RequestLog {
    /// `route` is the matched pattern (never the raw path, which may carry
    /// a preview token); `None` for a request no route matched.
    pub fn start(method: &str, route: Option<&str>, request_id: Option<&str>) -> Self {
        let route = route.unwrap_or("unmatched");
        let request_id = request_id.unwrap_or("-");
        Self {
            span: tracing::info_span!("request", method, route, request_id),
            method: method.to_owned(),
            route: route.to_owned(),
            request_id: request_id.to_owned(),
            started: std::time::Instant::now(),
        }
    }

    /// The span to run the request in.
    pub fn span(&self) -> tracing::Span {
        self.span.clone()
    }

    /// The route label.
    pub fn route(&self) -> &str {
        &self.route
    }

    /// Logs the request's one event: method, route, status, latency and
    /// request id. A failure is logged here and nowhere else: a 503 at
    /// `warn` and any other 5xx at `error`, each with its cause; everything
    /// else at `info`. Returns the latency.
    pub fn finish(&self, status: u16, cause: Option<&FailureCause>) -> std::time::Duration {
        let latency = self.started.elapsed();
        let latency_ms = latency.as_secs_f64() * 1000.0;
        let (method, route, request_id) = (&*self.method, &*self.route, &*self.request_id);
        let error = cause.map_or("", |c| c.0.as_str());
        self.span.in_scope(|| match status {
            503 => tracing::warn!(
                method,
                route,
                request_id,
                status,
                latency_ms,
                error,
                "request failed: a dependency is unavailable"
            ),
            500.. => tracing::error!(
                method,
                route,
                request_id,
                status,
                latency_ms,
                error,
                "request failed"
            ),
            _ => tracing::info!(method, route, request_id, status, latency_ms, "request"),
        });
        latency
    }
}

/// The `Content-Type` of Prometheus' text exposition format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// The process-wide Prometheus recorder behind `GET /metrics`. Installed
/// once, however many apps a (test) process builds.
pub fn metrics_recorder() -> metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}
