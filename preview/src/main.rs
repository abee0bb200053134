//! `preview`: see the library crate for what it does.

use preview::{Application, Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    pagesmith::telemetry::init(settings.log_format);
    Application::build(settings)
        .await?
        .run_until_stopped()
        .await
}
