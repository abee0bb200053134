//! Headless Chromium, driven over the DevTools protocol (chromiumoxide):
//! the one way the worker runs a browser, for the behaviour checks of a
//! site and for the screenshots of a ready version.
//!
//! Every run is its own short-lived Chromium with a throwaway profile,
//! behind its own egress [`guard`], cut off by a timeout, and killed at the
//! end (or when the run's future is dropped): nothing of it outlives the
//! call. One run at a time per worker (each browser costs a few hundred MB),
//! shared by checks and screenshots, so a burst of versions queues instead
//! of starting a browser per job.

pub mod expression;
pub mod guard;
mod session;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use pagesmith::bundle::BundleFile;
use tokio::sync::Semaphore;

use self::{guard::Guard, session::Session};

/// A screen to capture: (label, width, height) in CSS pixels, and whether
/// it is a phone (touch, mobile viewport).
pub const SCREENS: [(&str, u32, u32, bool); 2] =
    [("desktop", 1280, 800, false), ("mobile", 390, 844, true)];

/// How a brief's check went in the page.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// It returned exactly `true`.
    Passed,
    /// It returned something else (`value`, as JavaScript shows it); for a
    /// comparison, what its left side was.
    Returned {
        value: String,
        left: Option<(String, String)>,
    },
    /// It threw (the error's message).
    Threw(String),
    /// It did not finish within the per-check limit.
    TimedOut(Duration),
}

/// What a page run saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageReport {
    /// One per expression, in order.
    pub verdicts: Vec<Verdict>,
    /// Uncaught errors and rejected promises, as the console shows them.
    pub exceptions: Vec<String>,
    /// `console.error` calls.
    pub console_errors: Vec<String>,
    /// Requests for the site's own files that failed: "404 data.json".
    pub failed_requests: Vec<String>,
    /// Requests the guard refused: "`url`: why".
    pub blocked: Vec<String>,
}

/// One captured PNG.
#[derive(Debug, Clone)]
pub struct Shot {
    pub label: &'static str,
    pub width: u32,
    pub height: u32,
    pub png: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// Chromium renders an error page as happily as a site, so a page to
    /// photograph is fetched first: a 404 or a proxy's 502 is not worth it.
    #[error("the preview did not serve the page: {0}")]
    Preview(String),
    #[error("could not start {browser}: {error}")]
    Launch { browser: String, error: String },
    /// The run (loading the page and every check) took longer than allowed.
    #[error("the page took longer than {0:?}")]
    Timeout(Duration),
    #[error("the browser failed: {0}")]
    Protocol(String),
    #[error("the browser wrote no valid PNG: {0}")]
    NoImage(String),
}

/// The worker's browser: where Chromium is, how long runs may take, and
/// the one-at-a-time turn. Clones share the turn.
#[derive(Debug, Clone)]
pub struct Browser {
    path: PathBuf,
    /// Marks this browser's processes (`PAGESMITH_BROWSER=<marker>` in
    /// their environment), so every one of them can be found and killed.
    marker: Arc<str>,
    timeouts: Timeouts,
    http: reqwest::Client,
    one_at_a_time: Arc<Semaphore>,
}

/// How long things may take.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// A whole run: launch, load, every check (`BROWSER_TIMEOUT_SECS`).
    pub run: Duration,
    /// One check's expression (`BROWSER_CHECK_TIMEOUT_MS`).
    pub check: Duration,
    /// The quiet after the network goes idle before checks run, as an
    /// evaluator's "network idle, then a short settle".
    pub settle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            run: Duration::from_secs(20),
            check: Duration::from_secs(3),
            settle: Duration::from_millis(250),
        }
    }
}

impl Browser {
    pub fn new(path: PathBuf, timeouts: Timeouts) -> Self {
        static BROWSERS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let number = BROWSERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self {
            path,
            marker: format!("{}-{number}", std::process::id()).into(),
            timeouts,
            http: reqwest::Client::builder()
                .timeout(timeouts.run)
                .build()
                .unwrap_or_default(),
            one_at_a_time: Arc::new(Semaphore::new(1)),
        }
    }

    /// The Chromium this runs.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// The value of `PAGESMITH_BROWSER` in the environment of every process
    /// this browser starts.
    pub fn marker(&self) -> &str {
        &self.marker
    }

    /// The first of the usual Chromium names found on `PATH`.
    pub fn find() -> Option<PathBuf> {
        let path = std::env::var_os("PATH")?;
        [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
    }

    /// Serves `files` as a site, loads its front page, waits for the
    /// network to go idle and settle, then evaluates each of `expressions`
    /// in the page. The run is cut off after the run timeout, or `budget`
    /// when that is shorter (an /app deadline).
    pub async fn check_site(
        &self,
        files: &[BundleFile],
        expressions: &[String],
        budget: Option<Duration>,
    ) -> Result<PageReport, BrowserError> {
        let limit = budget.map_or(self.timeouts.run, |b| b.min(self.timeouts.run));
        let started = std::time::Instant::now();
        // Waiting for the turn and starting Chromium count against the
        // limit too: an /app deadline does not wait for another job's run.
        let turn = tokio::time::timeout(limit, self.turn())
            .await
            .map_err(|_| BrowserError::Timeout(limit))?;
        let guard = Guard::start(files, Vec::new())
            .await
            .map_err(|e| BrowserError::Protocol(format!("cannot start the guard: {e}")))?;
        let left = limit.saturating_sub(started.elapsed());
        let session = tokio::time::timeout(
            left,
            Session::launch(&self.path, &self.marker, &guard, self.timeouts.run),
        )
        .await
        .map_err(|_| BrowserError::Timeout(limit))??;
        let url = guard::site_url();
        let run = session.check(&url, expressions, self.timeouts);
        let outcome = tokio::time::timeout(limit.saturating_sub(started.elapsed()), run).await;
        close_later(session, turn);
        metrics::histogram!("pagesmith_browser_check_seconds")
            .record(started.elapsed().as_secs_f64());
        let mut report = outcome.map_err(|_| BrowserError::Timeout(limit))??;
        report.blocked = guard.blocked();
        Ok(report)
    }

    /// Every screen of `url` (a live preview), in [`SCREENS`] order, if
    /// `url` answers 2xx. The page may reach the preview's own origin and
    /// public hosts, nothing else.
    pub async fn screenshots(&self, url: &str) -> Result<Vec<Shot>, BrowserError> {
        let turn = self.turn().await;
        self.check_served(url).await?;
        let origin = url::Url::parse(url)
            .ok()
            .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
            .ok_or_else(|| BrowserError::Preview("not an http URL".into()))?;
        let guard = Guard::start(&[], vec![origin])
            .await
            .map_err(|e| BrowserError::Protocol(format!("cannot start the guard: {e}")))?;
        let session = Session::launch(&self.path, &self.marker, &guard, self.timeouts.run).await?;
        let run = session.screenshots(url, self.timeouts);
        let outcome = tokio::time::timeout(self.timeouts.run, run).await;
        close_later(session, turn);
        outcome.map_err(|_| BrowserError::Timeout(self.timeouts.run))?
    }

    /// Waits until no run of this browser is going on or closing: then
    /// none of its processes is left.
    pub async fn idle(&self) {
        drop(self.turn().await);
    }

    async fn turn(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let waited = std::time::Instant::now();
        // The semaphore is never closed, so this always gets a turn.
        let turn = self.one_at_a_time.clone().acquire_owned().await.ok();
        metrics::histogram!("pagesmith_browser_wait_seconds")
            .record(waited.elapsed().as_secs_f64());
        turn
    }

    async fn check_served(&self, url: &str) -> Result<(), BrowserError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            // The URL holds the version's preview token: not for the logs.
            .map_err(|e| BrowserError::Preview(e.without_url().to_string()))?;
        match response.status() {
            status if status.is_success() => Ok(()),
            status => Err(BrowserError::Preview(format!("it answered {status}"))),
        }
    }
}

/// Ends the session off the caller's path (closing Chromium takes a few
/// hundred milliseconds the version need not wait for), keeping the turn
/// until it is gone, so the next run never overlaps with it. Should the
/// task never run (the runtime stopping), dropping the session kills it.
fn close_later(session: Session, turn: Option<tokio::sync::OwnedSemaphorePermit>) {
    tokio::spawn(async move {
        session.close().await;
        drop(turn);
    });
}

/// A PNG's (width, height) from its IHDR chunk, or `None` if it is not one.
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.len() < 24 || !bytes.starts_with(SIGNATURE) || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
    let height = u32::from_be_bytes(bytes[20..24].try_into().ok()?);
    Some((width, height))
}

#[cfg(test)]
mod tests;
