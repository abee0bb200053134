//! Screenshots of a ready version, desktop and mobile, taken with headless
//! Chromium from the live preview (so the site renders as a reviewer's
//! browser renders it: under the preview's sandboxing CSP, scripts run).
//!
//! Chromium is optional: found on `PATH` when `SCREENSHOT_BROWSER` is unset,
//! skipped when there is none. Each capture is its own short-lived process
//! with a throwaway profile and a hard timeout; nothing of it outlives the
//! call. One browser runs at a time per worker (each costs a few hundred MB),
//! so a burst of ready versions queues its screenshots instead of starting
//! a browser per job.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::Duration,
};

use tokio::{process::Command, sync::Semaphore};

/// A screen to capture: (label, width, height) in CSS pixels.
pub const SCREENS: [(&str, u32, u32); 2] = [("desktop", 1280, 800), ("mobile", 390, 844)];

/// One captured PNG.
#[derive(Debug, Clone)]
pub struct Shot {
    pub label: &'static str,
    pub width: u32,
    pub height: u32,
    pub png: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScreenshotError {
    /// Chromium renders an error page as happily as a site, so the page is
    /// fetched first: a 404 or a proxy's 502 page is not worth a photo.
    #[error("the preview did not serve the page: {0}")]
    Preview(String),
    #[error("could not run {browser}: {error}")]
    Launch { browser: String, error: String },
    #[error("the browser took longer than {0:?}")]
    Timeout(Duration),
    #[error("the browser failed ({status}): {stderr}")]
    Failed { status: String, stderr: String },
    #[error("the browser wrote no valid PNG: {0}")]
    NoImage(String),
}

/// Takes the screenshots, when a browser is available. Clones share the
/// one-browser-at-a-time limit.
#[derive(Debug, Clone)]
pub struct Screenshotter {
    browser: PathBuf,
    timeout: Duration,
    http: reqwest::Client,
    one_at_a_time: Arc<Semaphore>,
}

impl Screenshotter {
    /// Runs `browser`, each capture (and the check that the page is served)
    /// cut off after `timeout`.
    pub fn new(browser: PathBuf, timeout: Duration) -> Self {
        Self {
            browser,
            timeout,
            http: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .unwrap_or_default(),
            one_at_a_time: Arc::new(Semaphore::new(1)),
        }
    }

    /// The browser this runs.
    pub fn browser(&self) -> &Path {
        &self.browser
    }

    /// How long one capture may take (`SCREENSHOT_TIMEOUT_SECS`).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The first of the usual Chromium names found on `PATH`.
    pub fn find_browser() -> Option<PathBuf> {
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

    /// Every screen of `url`, in [`SCREENS`] order, if `url` answers 2xx.
    pub async fn capture(&self, url: &str) -> Result<Vec<Shot>, ScreenshotError> {
        // The semaphore is never closed, so this always gets a turn.
        let _turn = self.one_at_a_time.acquire().await.ok();
        self.check_served(url).await?;
        let mut shots = Vec::with_capacity(SCREENS.len());
        for (label, width, height) in SCREENS {
            let png = self.capture_one(url, width, height).await?;
            shots.push(Shot {
                label,
                width,
                height,
                png,
            });
        }
        Ok(shots)
    }

    async fn check_served(&self, url: &str) -> Result<(), ScreenshotError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            // The URL holds the version's preview token: not for the logs.
            .map_err(|e| ScreenshotError::Preview(e.without_url().to_string()))?;
        match response.status() {
            status if status.is_success() => Ok(()),
            status => Err(ScreenshotError::Preview(format!("it answered {status}"))),
        }
    }

    async fn capture_one(
        &self,
        url: &str,
        width: u32,
        height: u32,
    ) -> Result<Vec<u8>, ScreenshotError> {
        let scratch = tempfile::tempdir().map_err(|e| ScreenshotError::NoImage(e.to_string()))?;
        let file = scratch.path().join("shot.png");
        let child = Command::new(&self.browser)
            .args(browser_args(scratch.path(), &file, width, height))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // A timeout drops the future, and with it the browser.
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ScreenshotError::Launch {
                browser: self.browser.display().to_string(),
                error: e.to_string(),
            })?;
        let output = tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .map_err(|_| ScreenshotError::Timeout(self.timeout))?
            .map_err(|e| ScreenshotError::Failed {
                status: "unknown".into(),
                stderr: e.to_string(),
            })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(ScreenshotError::Failed {
                status: output.status.to_string(),
                stderr: stderr
                    .chars()
                    .rev()
                    .take(400)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect(),
            });
        }
        let png = tokio::fs::read(&file)
            .await
            .map_err(|e| ScreenshotError::NoImage(e.to_string()))?;
        match png_size(&png) {
            Some(_) => Ok(png),
            None => Err(ScreenshotError::NoImage(format!(
                "{} bytes, not a PNG",
                png.len()
            ))),
        }
    }
}

fn browser_args(profile: &Path, file: &Path, width: u32, height: u32) -> Vec<String> {
    vec![
        "--headless".into(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-extensions".into(),
        "--hide-scrollbars".into(),
        "--mute-audio".into(),
        format!("--user-data-dir={}", profile.join("profile").display()),
        format!("--window-size={width},{height}"),
        // Lets the page's scripts run (and fonts load) before the capture.
        "--virtual-time-budget=3000".into(),
        format!("--screenshot={}", file.display()),
    ]
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
mod tests {
    use super::*;

    #[test]
    fn png_sizes_come_from_the_header_and_other_bytes_are_refused() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend(1280u32.to_be_bytes());
        png.extend(800u32.to_be_bytes());
        assert_eq!(png_size(&png), Some((1280, 800)));
        assert_eq!(png_size(b"GIF89a........................"), None);
        assert_eq!(png_size(&png[..20]), None);
    }

    /// A stand-in preview answering `status` for every page.
    async fn preview(status: u16) -> wiremock::MockServer {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(
                wiremock::ResponseTemplate::new(status).set_body_string("<h1>a page</h1>"),
            )
            .mount(&server)
            .await;
        server
    }

    #[tokio::test]
    async fn a_missing_browser_is_a_launch_error_naming_it() {
        let served = preview(200).await;
        let shooter = Screenshotter::new("/nonexistent/chromium".into(), Duration::from_secs(5));
        let err = shooter.capture(&served.uri()).await.unwrap_err();
        assert!(
            matches!(&err, ScreenshotError::Launch { browser, .. } if browser == "/nonexistent/chromium"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_page_the_preview_does_not_serve_is_not_captured() {
        let failing = preview(502).await;
        // Were the browser started, this would be a launch error.
        let shooter = Screenshotter::new("/nonexistent/chromium".into(), Duration::from_secs(5));
        let err = shooter.capture(&failing.uri()).await.unwrap_err();
        assert!(
            matches!(&err, ScreenshotError::Preview(why) if why.contains("502")),
            "{err}"
        );

        let gone = format!("http://{}/p/token/", failing.address());
        drop(failing);
        let err = shooter.capture(&gone).await.unwrap_err();
        assert!(matches!(&err, ScreenshotError::Preview(_)), "{err}");
        assert!(
            !err.to_string().contains("token"),
            "no preview token in logs: {err}"
        );
    }
}
