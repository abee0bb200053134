//! Building and running the worker, the same way in `main` and in tests.

use std::sync::Arc;

use anyhow::Context;
use pagesmith::{bundle::BundleStore, db, queue::Topology};
use tokio_util::sync::CancellationToken;

use crate::{
    consumer,
    environment::Environment,
    generator::{Generator, builtin::BuiltinGenerator, llm::LlmGenerator},
    publish::{Publisher, github::GithubPublisher, local::LocalPublisher},
    settings::{PublisherChoice, Settings},
    telegram::Telegram,
};

/// A worker ready to consume.
pub struct Worker {
    pub env: Arc<Environment>,
}

impl Worker {
    /// Connects to PostgreSQL (migrating it) and builds the environment.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
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
                settings.common.data_dir.clone(),
                settings.pages_base_url.clone(),
            )),
            PublisherChoice::Github(github) => Arc::new(
                GithubPublisher::new(github.clone())
                    .map_err(|e| anyhow::anyhow!("GitHub publisher: {e}"))?,
            ),
        };
        tracing::info!(generator = %generator.name(), publisher = publisher.name(), "worker configured");
        let env = Environment {
            telegram: Telegram::new(
                settings.telegram_token.as_ref(),
                settings.telegram_api_url.clone(),
            ),
            bundles: BundleStore::new(settings.common.data_dir.clone()),
            topology: Topology::new(settings.common.queue_prefix.clone()),
            generator,
            fallback,
            publisher,
            pool,
            settings,
        };
        Ok(Self { env: Arc::new(env) })
    }

    /// Consumes until `shutdown` completes, then lets runs in flight finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let consuming = tokio::spawn(consumer::run(self.env.clone(), stop.clone()));
        shutdown.await;
        tracing::info!("worker stopping");
        stop.cancel();
        consuming.await.context("consumer task failed")?;
        Ok(())
    }
}
