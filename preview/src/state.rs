//! What every request handler shares.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;

use crate::{
    files::Files, headers::Policies, request_metrics::RequestMetrics, settings::Settings,
    versions::VersionCache, zero_copy,
};

/// The server's shared state.
pub struct App {
    pub settings: Settings,
    pub pool: PgPool,
    pub versions: VersionCache,
    pub files: Files,
    pub policies: Policies,
    pub metrics: PrometheusHandle,
    pub requests: RequestMetrics,
    /// What the preview's connections sent with `sendfile`.
    pub sendfile: Arc<zero_copy::Stats>,
}

/// Cheap to clone: handlers get it by value.
pub type AppState = Arc<App>;
