//! Everything a job's run can reach: settings, the pool, and one trait
//! object or client per external service, so tests swap in fakes.

use std::sync::Arc;

use pagesmith::{bundle::Bundles, queue::Topology};
use sqlx::PgPool;
use tokio_util::task::TaskTracker;

use crate::{
    generator::Generator,
    publish::Publisher,
    settings::Settings,
    telegram::{Outbox, Telegram},
};

pub struct Environment {
    pub settings: Settings,
    pub pool: PgPool,
    /// The LLM generator when `LLM_API_KEY` is set, else the built-in one.
    pub generator: Arc<dyn Generator>,
    /// The built-in generator: the fallback after two LLM failures.
    pub fallback: Arc<dyn Generator>,
    /// The Bot API client: the delivery loop's, and for answering clicks.
    pub telegram: Telegram,
    /// Where jobs queue their chat messages (see `telegram`).
    pub outbox: Outbox,
    /// GitHub, or the local git publisher.
    pub publisher: Arc<dyn Publisher>,
    pub bundles: Bundles,
    pub topology: Topology,
    /// One run per job at a time (on one session for all of this worker's
    /// jobs).
    pub locks: crate::lock::JobLocks,
    /// The CPU and LLM limits a job takes only while it works or calls.
    pub slots: crate::slots::Slots,
    /// Per-chat LLM generation limits (`CHAT_LLM_*`), if on.
    pub chat_limiter: Option<crate::rate_limit::ChatLimiter>,
    /// Work beside the jobs that no job waits for (the screenshots); a
    /// stopping worker gives it a moment to finish.
    pub side_tasks: TaskTracker,
}
