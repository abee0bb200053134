//! What every request handler shares.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;

use crate::{
    files::Files, headers::Policies, request_metrics::RequestMetrics, settings::Settings,
    versions::VersionCache,
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
}

/// Cheap to clone: handlers get it by value.
pub type AppState = Arc<App>;
