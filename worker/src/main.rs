//! `worker`: see the library crate.

use anyhow::Context;
use pagesmith::{
    config::{CommonSettings, Env},
    queue::{self, Topology},
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut env = Env::from_process();
    let common = CommonSettings::read(&mut env);
    env.finish()?;
    pagesmith::telemetry::init(common.log_format);
    let connection = queue::connect(&common.amqp_url, "pagesmith-worker")
        .await
        .context("cannot connect to RabbitMQ at AMQP_URL")?;
    let channel = connection.create_channel().await?;
    Topology::new(common.queue_prefix).declare(&channel).await?;
    tracing::warn!("the worker does not process jobs yet; they wait in RabbitMQ");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
