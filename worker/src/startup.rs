//! Building and running the worker, the same way in `main` and in tests.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use pagesmith::{bundle::Bundles, db};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    consumer,
    environment::Environment,
    generator::{Generator, builtin::BuiltinGenerator, llm::LlmGenerator},
    lock::JobLocks,
    metrics_server,
    publish::{Publisher, github::GithubPublisher, local::LocalPublisher},
    rate_limit::ChatLimiter,
    settings::{PublisherChoice, Settings},
    slots::Slots,
    telegram::{self, Outbox, Telegram},
};

/// How long a stopping worker waits for side tasks (two captures, two
/// photos). Compose gives the worker five minutes to stop.
const SIDE_TASKS_GRACE: Duration = Duration::from_secs(60);

/// A worker ready to consume.
pub struct Worker {
    pub env: Arc<Environment>,
}

impl Worker {
    /// Connects to PostgreSQL (migrating it) and builds the environment.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // Before any stage records a metric, so none is lost.
        pagesmith::telemetry::metrics_recorder();
        let pool = db::connect_and_migrate(&settings.common).await?;
        let fallback: Arc<dyn Generator> = Arc::new(BuiltinGenerator::new());
        let generator: Arc<dyn Generator> = match &settings.llm {
            Some(llm) => Arc::new(
                LlmGenerator::new(llm.clone()).map_err(|e| anyhow::anyhow!("LLM settings: {e}"))?,
            ),
            None => fallback.clone(),
        };
        let publisher: Arc<dyn Publisher> = match &settings.publisher {
            PublisherChoice::Local => Arc::new(LocalPublisher::new(
                settings.local_publish_dir.clone(),
                settings.pages_base_url.clone(),
            )),
            PublisherChoice::Github(github) => Arc::new(
                GithubPublisher::new(github.clone())
                    .map_err(|e| anyhow::anyhow!("GitHub publisher: {e}"))?,
            ),
        };
        let browser = settings.browser.as_ref().map_or_else(
            || "off: behaviour checks will be reported as not run".to_owned(),
            |b| b.path().display().to_string(),
        );
        tracing::info!(generator = %generator.name(), publisher = publisher.name(), browser, "worker configured");
        let bundles =
            Bundles::open_store(&settings.bundle_store, &settings.common.data_dir, "worker")
                .await
                .map_err(anyhow::Error::msg)?;
        // A worker killed mid-bundle leaves its staging behind; no live run
        // stages for longer than the run timeout.
        match bundles.disk().sweep_staging(settings.run_timeout) {
            Ok(0) => {}
            Ok(swept) => tracing::info!(swept, "removed staging left by killed workers"),
            Err(e) => tracing::warn!(error = %e, "could not sweep bundle staging"),
        }
        let telegram = Telegram::new(
            settings.telegram_token.as_ref(),
            settings.telegram_api_url.clone(),
        );
        let env = Environment {
            outbox: Outbox::new(pool.clone(), telegram.enabled()),
            telegram,
            bundles,
            locks: JobLocks::new(pool.clone()),
            slots: Slots::new(
                usize::from(settings.concurrency),
                usize::from(settings.llm_max_concurrent),
            ),
            chat_limiter: settings
                .chat_llm_quota
                .map(|(per_hour, burst)| ChatLimiter::new(per_hour, burst)),
            topology: settings.common.topology(),
            generator,
            fallback,
            publisher,
            pool,
            settings,
            side_tasks: TaskTracker::new(),
        };
        Ok(Self { env: Arc::new(env) })
    }

    /// Binds `WORKER_METRICS_ADDR` (port 0 picks a free port) and starts
    /// consuming, the metrics server and the jobs-by-state gauge.
    pub async fn start(self) -> anyhow::Result<RunningWorker> {
        let settings = &self.env.settings;
        let listener = TcpListener::bind(settings.metrics_addr)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on WORKER_METRICS_ADDR {}",
                    settings.metrics_addr
                )
            })?;
        let metrics_addr = listener.local_addr().context("metrics listener address")?;
        let router = metrics_server::router(
            self.env.pool.clone(),
            pagesmith::telemetry::metrics_recorder(),
        );
        // The server outlives the consumer, so a drain can be watched.
        let serving = CancellationToken::new();
        let server = tokio::spawn({
            let serving = serving.clone();
            async move {
                let served = axum::serve(listener, router)
                    .with_graceful_shutdown(serving.cancelled_owned())
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "metrics server failed");
                }
            }
        });
        let gauge = tokio::spawn(metrics_server::count_jobs_by_state(
            self.env.pool.clone(),
            settings.jobs_gauge_interval,
            serving.clone(),
        ));
        tracing::info!(addr = %metrics_addr, "worker metrics listening");

        // Outlives the consumer, so the last jobs' messages go out.
        let delivering = tokio::spawn(telegram::delivery::run(
            self.env.telegram.clone(),
            self.env.outbox.clone(),
            settings.telegram_pace,
            serving.clone(),
        ));
        let stop = CancellationToken::new();
        let consuming = tokio::spawn(consumer::run(self.env.clone(), stop.clone()));
        Ok(RunningWorker {
            metrics_addr,
            stop,
            consuming,
            serving,
            background: vec![server, gauge, delivering],
            side_tasks: self.env.side_tasks.clone(),
        })
    }

    /// Starts, runs until `shutdown` completes, then stops (see
    /// [`RunningWorker::run_until`]).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        self.start().await?.run_until(shutdown).await
    }
}

/// A worker consuming, with its metrics server up.
pub struct RunningWorker {
    metrics_addr: SocketAddr,
    stop: CancellationToken,
    consuming: JoinHandle<()>,
    serving: CancellationToken,
    background: Vec<JoinHandle<()>>,
    side_tasks: TaskTracker,
}

impl RunningWorker {
    /// Where `/metrics` and `/health` are served.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    /// Consumes until `shutdown` completes, lets runs in flight finish, then
    /// stops the metrics server and the gauge.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        shutdown.await;
        tracing::info!("worker stopping");
        self.stop.cancel();
        let consumed = self.consuming.await.context("consumer task failed");
        // Screenshots of the last ready versions may still be on their way
        // to the chat; dropping them kills their browser.
        self.side_tasks.close();
        if tokio::time::timeout(SIDE_TASKS_GRACE, self.side_tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = self.side_tasks.len(),
                "side tasks cut short at shutdown"
            );
        }
        self.serving.cancel();
        for task in self.background {
            let _ = task.await;
        }
        consumed
    }
}
