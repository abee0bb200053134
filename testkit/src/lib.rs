//! The test harness: a fresh PostgreSQL database and an isolated set of
//! RabbitMQ queues per test, plus a TCP proxy that can cut a connection to
//! either, for the tests that prove failures are handled honestly; and
//! local fakes of what lives on the internet (the Telegram Bot API, an
//! OpenAI-compatible LLM, the evaluators' callback URL, GitHub).
//!
//! Tests read `TEST_DATABASE_URL` (a server-level URL; default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and `TEST_AMQP_URL`
//! (default `amqp://guest:guest@127.0.0.1:5672/%2f`).

mod broker;
mod database;
pub mod evaluator;
mod git;
pub mod github;
pub mod llm;
mod proxy;
mod s3;
pub mod telegram;
pub mod versions;

pub use broker::{TakenMessage, TestBroker};
pub use database::TestDb;
pub use git::{git, git_async};
pub use proxy::TcpProxy;
pub use s3::TestBucket;

use std::time::Duration;

/// How many cases a property test runs: `PROPTEST_CASES` when set (as
/// `scripts/fuzz` sets it, for a longer hunt), else `default`.
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Logs for tests when `TEST_LOG` is set (`TEST_LOG=debug cargo test ...`).
pub fn init_tracing() {
    if let Ok(level) = std::env::var("TEST_LOG") {
        let filter = if level.is_empty() { "info" } else { &level };
        pagesmith::telemetry::init_with_filter(pagesmith::telemetry::LogFormat::Pretty, filter);
    }
}

/// Polls `check` until it returns `Some`, or panics with `what` after
/// `timeout`. For waiting on asynchronous effects without fixed sleeps.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// `found` (a browser for a test), or `None` to skip the test, saying so
/// loudly. `scripts/test` installs Chromium and sets
/// `PAGESMITH_REQUIRE_BROWSER=1`; there, nothing found fails the test.
pub fn browser_or_skip<T>(found: Option<T>, what: &str) -> Option<T> {
    if found.is_some() {
        return found;
    }
    assert!(
        std::env::var_os("PAGESMITH_REQUIRE_BROWSER").is_none(),
        "PAGESMITH_REQUIRE_BROWSER is set but {what} is not on PATH"
    );
    eprintln!("SKIPPED: {what} is not on PATH (apt-get install chromium)");
    None
}

/// The PNG inside an upload (a multipart body): from its signature on.
pub fn png_in(body: &[u8]) -> &[u8] {
    let start = body
        .windows(8)
        .position(|w| w == b"\x89PNG\r\n\x1a\n")
        .expect("a PNG in the upload");
    &body[start..]
}

/// `url` with its `host:port` replaced by `addr`, keeping any `user@`.
pub fn with_address(url: &str, addr: std::net::SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("URL has a scheme");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let userinfo = authority
        .rsplit_once('@')
        .map(|(u, _)| format!("{u}@"))
        .unwrap_or_default();
    format!("{scheme}://{userinfo}{addr}/{path}")
}

/// Serves `app` (`what`, for messages) on a free local port until the
/// runtime ends.
pub(crate) async fn serve(app: axum::Router, what: &str) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind {what}: {e}"));
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Runs `future` to completion on a fresh runtime in its own thread. For
/// clean-up in `Drop`, which may run inside or outside a runtime.
pub(crate) fn block_on_detached<F>(future: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let _ = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(future);
    })
    .join();
}
