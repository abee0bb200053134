//! Spawns the real preview server on a free port against a fresh database
//! and a scratch DATA_DIR, and writes versions into both the way the worker
//! does (BundleStore::write, then the job, project and version rows).

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use pagesmith::{
    bundle::{BundleFile, BundleStore, Bundles, FileEntry, WrittenBundle},
    config::Env,
    db::versions,
    domain::SitePath,
};
use preview::{Application, Settings};
use testkit::{TcpProxy, TestDb};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::oneshot,
};
use uuid::Uuid;

pub struct TestPreview {
    pub addr: SocketAddr,
    /// `PAGES_ADDR`: the published sites and repositories.
    pub pages_addr: SocketAddr,
    /// Follows no redirects, so tests see them.
    pub client: reqwest::Client,
    pub db: TestDb,
    pub db_proxy: Option<TcpProxy>,
    pub store: BundleStore,
    /// DATA_DIR; a canary file sits in it and beside each bundle.
    pub data_dir: PathBuf,
    /// What the canary files hold: it must never appear in a response.
    pub canary: String,
    /// What the server's connections sent with `sendfile`.
    pub sendfile: Arc<preview::zero_copy::Stats>,
    _scratch: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
}

#[derive(Default)]
pub struct Options {
    pub proxy_database: bool,
    pub env: Vec<(&'static str, String)>,
}

/// A version written by [`TestPreview::create_version`].
pub struct Version {
    pub id: Uuid,
    pub token: String,
    pub bundle: String,
    pub files: Vec<FileEntry>,
}

impl Version {
    pub fn live(&self, path: &str) -> String {
        format!("/p/{}/{path}", self.token)
    }

    pub fn safe(&self, path: &str) -> String {
        format!("/s/{}/{path}", self.token)
    }

    pub fn sha256(&self, path: &str) -> &str {
        &self
            .files
            .iter()
            .find(|f| f.path == path)
            .expect("file in version")
            .sha256
    }
}

pub async fn spawn_preview() -> TestPreview {
    spawn_preview_with(Options::default()).await
}

pub async fn spawn_preview_with(options: Options) -> TestPreview {
    testkit::init_tracing();
    let db = TestDb::new().await;
    let db_proxy = match options.proxy_database {
        true => Some(TcpProxy::start_for_url(&db.url).await),
        false => None,
    };
    let database_url = db_proxy
        .as_ref()
        .map_or(db.url.clone(), |p| db.url_via(p.addr()));
    let scratch = tempfile::tempdir().expect("scratch dir");
    let data_dir = scratch.path().join("data");
    std::fs::create_dir_all(data_dir.join("bundles")).expect("bundles dir");
    let canary = format!("CANARY-{}", Uuid::new_v4());
    std::fs::write(scratch.path().join("canary.txt"), &canary).expect("canary");
    std::fs::write(data_dir.join("canary.txt"), &canary).expect("canary");
    std::fs::write(data_dir.join("bundles/canary.txt"), &canary).expect("canary");

    let mut vars: Vec<(&str, String)> = vec![
        ("DATABASE_URL", database_url),
        ("DATA_DIR", data_dir.display().to_string()),
        ("PREVIEW_ADDR", "127.0.0.1:0".into()),
        ("PAGES_ADDR", "127.0.0.1:0".into()),
        // Tests change a version's state and expect the next request to see it.
        ("PREVIEW_TOKEN_CACHE_MS", "0".into()),
    ];
    vars.extend(options.env);
    let settings = Settings::read(Env::from_vars(vars)).expect("test settings are valid");
    let app = Application::build(settings).await.expect("preview builds");
    let addr = app.local_addr();
    let pages_addr = app.pages_addr();
    let sendfile = app.sendfile_stats();
    let (shutdown, stopped) = oneshot::channel();
    tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    TestPreview {
        addr,
        pages_addr,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        db,
        db_proxy,
        store: BundleStore::new(&data_dir),
        data_dir,
        canary,
        sendfile,
        _scratch: scratch,
        shutdown: Some(shutdown),
    }
}

impl TestPreview {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `bodies` responses of `len` bytes went out with `sendfile`: each
    /// whole, but for a tail under `zero_copy::MIN_LEN` that a short write
    /// may leave to be written from memory.
    pub fn assert_sent_with_sendfile(&self, bodies: usize, len: usize) {
        let sent = self.sendfile.bytes_sent_from_files();
        let most = (bodies * len) as u64;
        let least = (bodies * (len - preview::zero_copy::MIN_LEN)) as u64;
        assert!(
            (least..=most).contains(&sent),
            "{sent} bytes went by sendfile, not {least}..={most}"
        );
    }

    /// Every offered body went out: none waits on a connection.
    pub fn assert_no_offer_left(&self) {
        assert_eq!(
            self.sendfile.offers_waiting(),
            0,
            "no offer is left on the connection"
        );
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_with(path, &[]).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("request sent")
    }

    /// `http://{PAGES_ADDR}{path}`.
    pub fn pages_url(&self, path: &str) -> String {
        format!("http://{}{}", self.pages_addr, path)
    }

    /// Sends `GET {target}` byte for byte (reqwest would normalize `..`
    /// and `%2e`), returning the status and the whole response as text.
    pub async fn raw_get(&self, target: &str) -> (u16, String) {
        raw_get(self.addr, target).await
    }

    /// [`Self::raw_get`] on the pages address.
    pub async fn raw_get_pages(&self, target: &str) -> (u16, String) {
        raw_get(self.pages_addr, target).await
    }

    /// Writes a bundle with `files` and records a version for it.
    pub async fn create_version(&self, files: &[(&str, &[u8])]) -> Version {
        self.create_version_sanitized(files, true).await
    }

    /// Like [`Self::create_version`], but with `sanitize: false` the safe
    /// view holds the raw HTML, as if the sanitizer had missed everything.
    pub async fn create_version_sanitized(
        &self,
        files: &[(&str, &[u8])],
        sanitize: bool,
    ) -> Version {
        let bundle_files = bundle_files(files);
        let store = self.store.clone();
        let written = tokio::task::spawn_blocking(move || match sanitize {
            true => store.write(&bundle_files),
            false => store.write_with(&bundle_files, str::to_owned),
        })
        .await
        .expect("join")
        .expect("bundle written");
        // A canary inside the bundle's directory, reachable only by a path
        // that becomes a file name.
        std::fs::write(
            self.store.bundle_dir(&written.id).join("canary.txt"),
            &self.canary,
        )
        .expect("canary");
        self.record_version(written).await
    }

    /// Writes a bundle with `files` through `bundles` (an object store, as
    /// a worker elsewhere would) and records a version for it.
    pub async fn create_version_in(&self, bundles: &Bundles, files: &[(&str, &[u8])]) -> Version {
        let written = bundles
            .write(bundle_files(files))
            .await
            .expect("bundle written");
        self.record_version(written).await
    }

    /// The job, project and version rows for a written bundle.
    async fn record_version(&self, written: WrittenBundle) -> Version {
        let recorded = testkit::versions::record(&self.db.pool, &written).await;
        Version {
            id: recorded.id,
            token: recorded.token,
            bundle: written.id,
            files: written.files,
        }
    }

    pub async fn set_state(&self, version: &Version, state: pagesmith::domain::VersionState) {
        let mut conn = self.db.pool.acquire().await.expect("connection");
        versions::set_state(&mut conn, version.id, state)
            .await
            .expect("state set");
    }

    pub async fn expire(&self, version: &Version) {
        sqlx::query("UPDATE versions SET expires_at = now() - interval '1 second' WHERE id = $1")
            .bind(version.id)
            .execute(&self.db.pool)
            .await
            .expect("expired");
    }
}

fn bundle_files(files: &[(&str, &[u8])]) -> Vec<BundleFile> {
    files
        .iter()
        .map(|(path, bytes)| BundleFile {
            path: SitePath::parse(path).expect("valid test path"),
            bytes: bytes.to_vec(),
        })
        .collect()
}

impl Drop for TestPreview {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A small site with a page, a script, data and a style sheet.
pub fn sample_site() -> Vec<(&'static str, &'static [u8])> {
    vec![
        ("index.html", SAMPLE_INDEX.as_bytes()),
        (
            "app.js",
            b"document.getElementById('out').textContent = 'from app.js';",
        ),
        ("data.csv", b"name,qty\napples,3\npears,5\n"),
        ("style.css", b"body { font-family: sans-serif }"),
        (
            "docs/index.html",
            b"<!DOCTYPE html><title>Docs</title><p>docs home</p>",
        ),
        ("big.txt", BIG_TEXT.as_bytes()),
    ]
}

pub const SAMPLE_INDEX: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sample</title>
<link rel="stylesheet" href="style.css"></head>
<body class="home"><h1 id="title">Sample</h1><p id="out">static</p>
<img src="x.png" onerror="document.title='pwned'">
<script src="app.js"></script></body></html>"#;

/// Compressible and over the 1 KiB compression threshold.
pub const BIG_TEXT: &str = "All work and no play makes a preview a dull server.\n\
All work and no play makes a preview a dull server.\nAll work and no play makes a preview a dull server.\n\
All work and no play makes a preview a dull server.\nAll work and no play makes a preview a dull server.\n\
All work and no play makes a preview a dull server.\nAll work and no play makes a preview a dull server.\n\
All work and no play makes a preview a dull server.\nAll work and no play makes a preview a dull server.\n\
All work and no play makes a preview a dull server.\nAll work and no play makes a preview a dull server.\n\
All work and no play makes a preview a dull server.\nAll work and no play makes a preview a dull server.\n\
All work and no play makes a preview a dull server.\nAll work and no play makes a preview a dull server.\n\
All work and no play makes a preview a dull server.\nAll work and no play makes a preview a dull server.\n\
All work and no play makes a preview a dull server.\nAll work and no play makes a preview a dull server.\n\
All work and no play makes a preview a dull server.\nAll work and no play makes a preview a dull server.\n\
All work and no play makes a preview a dull server.\nAll work and no play makes a preview a dull server.\n";

/// `GET {target}` sent byte for byte to `addr`.
async fn raw_get(addr: SocketAddr, target: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request =
        format!("GET {target} HTTP/1.1\r\nHost: preview.test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw));
    read.await.expect("answer in time").expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, text)
}
