//! Logging set-up shared by the binaries.

use std::str::FromStr;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// How log lines are written, from `LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One JSON object per event, for log shippers.
    Json,
    /// Human-readable lines, for a terminal.
    #[default]
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::config::parse_word(
            s,
            &[
                ("json", Self::Json),
                ("pretty", Self::Pretty),
                ("text", Self::Pretty),
            ],
        )
    }
}

/// Installs the global tracing subscriber. `RUST_LOG` filters (default `info`).
///
/// Calling it twice is harmless, so tests may call it freely.
pub fn init(format: LogFormat) {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned());
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
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(fmt::layer().with_writer(writer).compact())
            .try_init(),
    };
    // Err only means a subscriber is already installed.
    let _ = result;
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
