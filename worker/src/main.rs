//! `worker`: see the library crate.

use worker::{Settings, Worker};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `FAILPOINTS` configures the fail points, only in a build with the
    // `failpoints` feature (the fault suite's); elsewhere this does nothing.
    let _failpoints = fail::FailScenario::setup();
    let settings = Settings::from_env()?;
    pagesmith::telemetry::init(settings.common.log_format);
    Worker::build(settings)
        .await?
        // SIGTERM (docker stop, systemd) as well as Ctrl-C: runs in flight
        // finish, nothing new is taken.
        .run_until(pagesmith::shutdown::signal())
        .await
}
