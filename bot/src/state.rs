//! What every handler can reach.

use std::{ops::Deref, sync::Arc};

use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;
use tokio::sync::Notify;

use crate::{group_commit::Ingestor, relay::BrokerStatus, settings::Settings};

pub struct App {
    pub settings: Settings,
    pub pool: PgPool,
    pub ingestor: Ingestor,
    pub broker: BrokerStatus,
    /// Wakes the outbox relay after a commit that added rows.
    pub outbox_wakeup: Arc<Notify>,
    pub metrics: PrometheusHandle,
}

/// Cheap to clone; handlers get it through `State`.
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}
