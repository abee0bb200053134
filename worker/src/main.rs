//! `worker`: see the library crate.

use worker::{Settings, Worker};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    pagesmith::telemetry::init(settings.common.log_format);
    Worker::build(settings)
        .await?
        .run_until(pagesmith::shutdown::signal())
        .await
}
