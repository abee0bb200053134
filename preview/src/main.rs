//! `preview`: see the library crate for what it does.

use preview::{Application, Settings};

/// mimalloc instead of glibc's malloc: every request allocates its header
/// map and response, on a hot path the benchmark measures against nginx.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    pagesmith::telemetry::init(settings.log_format);
    Application::build(settings)
        .await?
        .run_until_stopped()
        .await
}
