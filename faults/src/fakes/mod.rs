//! Local stand-ins for what lives on the internet: the Telegram Bot API,
//! an OpenAI-compatible LLM and the evaluators' callback URL. Each counts
//! what it was asked and can be told to fail, stall or slow down.

mod llm;
mod telegram;

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;

pub use self::{llm::Llm, telegram::Telegram};
pub use testkit::evaluator::{Callback as Received, Evaluator};

/// Serves `app` on a free local port until the process ends.
async fn serve(app: Router) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}
