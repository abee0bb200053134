//! Headless Chromium driven over WebDriver (Debian's chromium and
//! chromedriver, talked to with fantoccini), and tiny static servers that
//! play the CDN and the pages that frame a preview, each on its own port,
//! so its own origin.

use std::{net::SocketAddr, path::PathBuf, process::Stdio, time::Duration};

use axum::{Router, http::header, routing::get};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use pagesmith::marked_processes::{MARKER_VAR, kill_marked};
use serde_json::json;
use tokio::{net::TcpListener, process::Child};

/// A browser session; chromedriver and every Chromium process it started
/// die with it (they carry a marker in their environment: killing
/// chromedriver alone leaves Chromium running, re-parented to PID 1).
pub struct Browser {
    pub client: Client,
    marker: String,
    _driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_marked(&self.marker);
    }
}

/// `name` on PATH, or the path in `override_var`.
fn find(name: &str, override_var: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(override_var) {
        return Some(PathBuf::from(path));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// Starts Chromium, or returns `None` — loudly — when it is not installed
/// and `PAGESMITH_REQUIRE_BROWSER` is unset. `scripts/test` installs it
/// and sets that variable, so in CI a missing browser fails the test.
pub async fn start() -> Option<Browser> {
    let chromium = find("chromium", "CHROMIUM_BIN");
    let driver = find("chromedriver", "CHROMEDRIVER_BIN");
    let (Some(chromium), Some(driver)) = (chromium, driver) else {
        if std::env::var_os("PAGESMITH_REQUIRE_BROWSER").is_some() {
            panic!("PAGESMITH_REQUIRE_BROWSER is set but chromium or chromedriver is not on PATH");
        }
        eprintln!(
            "\n{bar}\nSKIPPED: browser test — chromium and chromedriver are not installed.\n\
             Run it through scripts/test (which installs them), or: apt-get install chromium chromium-driver\n{bar}\n",
            bar = "!".repeat(78)
        );
        return None;
    };
    let port = free_port().await;
    let marker = format!("preview-test-{}-{port}", std::process::id());
    let driver = tokio::process::Command::new(driver)
        .arg(format!("--port={port}"))
        .env(MARKER_VAR, &marker)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let profile = tempfile::tempdir().expect("profile dir");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let client = testkit::eventually(
        "chromedriver to accept a session",
        Duration::from_secs(30),
        || {
            let caps = caps.clone();
            let url = url.clone();
            async move {
                // chromedriver speaks plain HTTP on localhost: no TLS.
                ClientBuilder::new(HttpConnector::new())
                    .capabilities(caps)
                    .connect(&url)
                    .await
                    .ok()
            }
        },
    )
    .await;
    Some(Browser {
        client,
        marker,
        _driver: driver,
        _profile: profile,
    })
}

impl Browser {
    /// The text of `#id`, or `None` while there is no such element.
    pub async fn text_of(&self, id: &str) -> Option<String> {
        let element = self.client.find(Locator::Id(id)).await.ok()?;
        element.text().await.ok()
    }

    /// Waits until `#id` reads `expected`; panics with what it read instead.
    pub async fn wait_for_text(&self, id: &str, expected: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let text = self.text_of(id).await;
            if text.as_deref() == Some(expected) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("#{id} reads {text:?}, not {expected:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `script` (a function body) in the current frame.
    pub async fn eval(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, vec![])
            .await
            .expect("script runs")
    }
}

async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address").port()
}

/// Serves `files` (path, content type, body) on a fresh localhost port.
pub async fn serve(files: Vec<(&'static str, &'static str, String)>) -> SocketAddr {
    let mut router = Router::new();
    for (path, content_type, body) in files {
        router = router.route(
            path,
            get(move || async move { ([(header::CONTENT_TYPE, content_type)], body) }),
        );
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}
