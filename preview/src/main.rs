//! `preview`: see the library crate.

use std::net::SocketAddr;

use axum::{Router, routing::get};
use pagesmith::config::Env;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut env = Env::from_process();
    let addr = env.parse_or("PREVIEW_ADDR", SocketAddr::from(([127, 0, 0, 1], 8081)));
    let log_format = env.parse_or("LOG_FORMAT", pagesmith::telemetry::LogFormat::Pretty);
    env.finish()?;
    pagesmith::telemetry::init(log_format);
    let app = Router::new().route("/health", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "preview listening (skeleton: health only)");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
