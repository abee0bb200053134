//! Polling with a deadline. (`testkit::eventually` panics on timeout; the
//! suite reports a scenario that did not get there instead.)

use std::{future::Future, time::Duration};

use anyhow::bail;
use tokio::time::Instant;

/// Polls `check` every 100 ms until it is true or `timeout` passes.
pub async fn until<F, Fut>(timeout: Duration, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("not reached within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until something listens on `port`.
pub async fn port_open(port: u16, timeout: Duration) -> anyhow::Result<()> {
    until(timeout, || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await
}
