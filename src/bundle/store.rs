//! Where bundles live: `BUNDLE_STORE_URL`.
//!
//! - `file://<dir>` (the default is `DATA_DIR`): the layout of
//!   [`super::BundleStore`] on a local or shared disk. Every process must
//!   see the same directory.
//! - `s3://<bucket>/<prefix>`: S3 or any store that speaks its API (MinIO,
//!   R2, Ceph, GCS's S3 API), configured by the standard `AWS_*` variables
//!   (`AWS_ENDPOINT`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!   `AWS_REGION`, `AWS_ALLOW_HTTP` for a local store). A bundle is two
//!   objects, `<prefix>/bundles/<id>/content.bin` and then `manifest.json`:
//!   a bundle is complete once its manifest exists, and each object is
//!   written once (bundles are content-addressed and immutable).
//!
//! With S3, each process keeps the bundles it used under
//! `DATA_DIR/bundle-cache/<worker|preview>` in the on-disk layout, so the
//! preview serves them from local files as before. That
//! copy is a cache, bounded by `BUNDLE_CACHE_MB` and evicting the least
//! recently used bundle; nothing under `DATA_DIR` needs to be shared.

use std::{
    io,
    path::{Path, PathBuf},
    str::FromStr,
    sync::Arc,
    time::Duration,
};

use bytes::Bytes;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig,
    aws::{AmazonS3Builder, AmazonS3ConfigKey},
    path::Path as Key,
};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::{Bundle, BundleFile, BundleStore, CONTENT, MANIFEST, PackedFile, Span, WrittenBundle};
use crate::{config::Env, sanitize};

/// `BUNDLE_STORE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// Bundles under this directory (`<dir>/bundles/<id>`).
    File(PathBuf),
    /// Bundles in an S3 bucket, under a key prefix (maybe empty).
    S3 { bucket: String, prefix: String },
}

impl FromStr for StoreUrl {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        if let Some(dir) = raw.strip_prefix("file://") {
            if dir.is_empty() {
                return Err("file:// needs a directory, e.g. file:///srv/pagesmith".into());
            }
            return Ok(Self::File(PathBuf::from(dir)));
        }
        if let Some(rest) = raw.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let valid_bucket = (3..=63).contains(&bucket.len())
                && bucket.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.')
                });
            if !valid_bucket {
                return Err(format!(
                    "`{bucket}` is not an S3 bucket name (3-63 lower-case letters, digits, '-' or '.')"
                ));
            }
            let prefix = prefix.trim_matches('/');
            if prefix.split('/').any(|part| part == "." || part == "..") {
                return Err("the key prefix may not hold `.` or `..`".into());
            }
            return Ok(Self::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
            });
        }
        Err("expected file://<dir> or s3://<bucket>/<prefix>".into())
    }
}

/// The store's settings, shared by the worker and the preview.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// `BUNDLE_STORE_URL` (default `file://` + `DATA_DIR`).
    pub url: StoreUrl,
    /// `BUNDLE_CACHE_MB` (default 2048): the local copies kept from an S3
    /// store. Unused with `file://`.
    pub cache_bytes: u64,
    /// The `AWS_*` variables, as an S3 client reads them (keys included,
    /// hence secret).
    pub aws: Vec<(String, SecretString)>,
}

impl StoreSettings {
    /// Reads `BUNDLE_STORE_URL` and `BUNDLE_CACHE_MB`; `data_dir` is the
    /// default store.
    pub fn read(env: &mut Env, data_dir: &Path) -> Self {
        let url = env.parse_or("BUNDLE_STORE_URL", StoreUrl::File(data_dir.to_owned()));
        let cache_mb: u64 = env.parse_or("BUNDLE_CACHE_MB", 2048);
        if cache_mb == 0 {
            env.reject("BUNDLE_CACHE_MB", "must be at least 1");
        }
        let aws = env
            .prefixed("AWS_")
            .into_iter()
            .map(|(name, value)| (name, SecretString::from(value)))
            .collect();
        Self {
            url,
            cache_bytes: cache_mb.saturating_mul(1024 * 1024),
            aws,
        }
    }
}

/// Why a bundle could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store does not have it (or not all of it).
    #[error("bundle {0} is not in the store")]
    Missing(String),
    /// The object store did not answer, or answered with an error: try
    /// again later.
    #[error("the bundle store is unavailable: {0}")]
    Unavailable(String),
    #[error("bundle I/O: {0}")]
    Io(#[from] io::Error),
}

/// The bundles, wherever they are, and the opened ones kept in memory.
#[derive(Clone)]
pub struct Bundles {
    /// The store itself (`file://`), or the local cache of an S3 store.
    disk: BundleStore,
    remote: Option<Arc<Remote>>,
    /// Opened bundles by id. With S3 it is also the index of the local
    /// copies: weighed by their size, and evicting one deletes it from disk.
    opened: moka::future::Cache<String, Arc<Bundle>>,
}

struct Remote {
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

/// How long one request to the object store may take, and how long it is
/// retried: a store that is down answers 503 to previews and retries jobs
/// later, instead of holding either for object_store's default 3 minutes.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const RETRY_FOR: Duration = Duration::from_secs(4);

impl Bundles {
    /// The bundles of `settings`. With S3 the local copies live under
    /// `data_dir/bundle-cache/<role>` (`worker`, `preview`): each process
    /// kind keeps its own, so two that share a `DATA_DIR` (one host, the
    /// local publisher) never evict each other's. Copies an earlier run left
    /// there are taken into the cache.
    pub async fn open_store(
        settings: &StoreSettings,
        data_dir: &Path,
        role: &str,
    ) -> Result<Self, String> {
        match &settings.url {
            StoreUrl::File(dir) => Ok(Self::on_disk(dir)),
            StoreUrl::S3 { bucket, prefix } => {
                // Our time limits first: `with_client_options` replaces all
                // client options, `AWS_ALLOW_HTTP` among them.
                let mut builder = AmazonS3Builder::new()
                    .with_client_options(
                        ClientOptions::new()
                            .with_timeout(REQUEST_TIMEOUT)
                            .with_connect_timeout(Duration::from_secs(3)),
                    )
                    .with_retry(RetryConfig {
                        max_retries: 2,
                        retry_timeout: RETRY_FOR,
                        ..RetryConfig::default()
                    });
                // Then what `AmazonS3Builder::from_env` does, from the settings.
                for (name, value) in &settings.aws {
                    if let Ok(key) = name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                        builder = builder.with_config(key, value.expose_secret());
                    }
                }
                let store = builder
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(|e| format!("BUNDLE_STORE_URL: cannot use s3://{bucket}: {e}"))?;
                Ok(Self::remote(
                    data_dir.join("bundle-cache").join(role),
                    Arc::new(store),
                    prefix,
                    settings.cache_bytes,
                )
                .await)
            }
        }
    }

    /// Bundles in a directory (`file://`).
    pub fn on_disk(dir: impl Into<PathBuf>) -> Self {
        Self {
            disk: BundleStore::new(dir),
            remote: None,
            // Manifests only; bundles there are never deleted.
            opened: moka::future::Cache::new(10_000),
        }
    }

    /// Bundles in `store` under `prefix`, with local copies in `cache_dir`
    /// (at most about `cache_bytes` of them). Copies an earlier run left in
    /// `cache_dir` are kept, within that bound.
    pub async fn remote(
        cache_dir: impl Into<PathBuf>,
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        cache_bytes: u64,
    ) -> Self {
        let disk = BundleStore::new(cache_dir);
        let evicted_from = disk.clone();
        let capacity = cache_bytes.div_ceil(1024);
        let opened = moka::future::Cache::builder()
            .eviction_policy(moka::policy::EvictionPolicy::lru())
            .max_capacity(capacity)
            .weigher(|_, bundle: &Arc<Bundle>| weight(bundle))
            .eviction_listener(move |id: Arc<String>, bundle: Arc<Bundle>, cause| {
                // Only what the cache pushed out; a replaced entry is the
                // same bundle, still on disk. A bundle larger than the
                // whole cache is refused at once: its copy is kept (and
                // used) rather than deleted under the request that fetched
                // it, unindexed, until the next start.
                if u64::from(weight(&bundle)) > capacity {
                    tracing::warn!(bundle = %id, "a bundle is larger than BUNDLE_CACHE_MB; kept outside the cache");
                } else if cause.was_evicted() {
                    let dir = evicted_from.bundle_dir(&id);
                    if let Err(e) = std::fs::remove_dir_all(&dir) {
                        tracing::warn!(bundle = %id, error = %e, "could not delete an evicted bundle copy");
                    }
                    metrics::counter!("pagesmith_bundle_cache_evictions_total").increment(1);
                }
            })
            .build();
        let bundles = Self {
            disk,
            remote: Some(Arc::new(Remote {
                store,
                prefix: prefix.trim_matches('/').to_owned(),
            })),
            opened,
        };
        // Staging a process killed mid-fetch left behind (a live fetch
        // takes seconds, not an hour).
        if let Err(e) = bundles.disk.sweep_staging(Duration::from_secs(3600)) {
            tracing::warn!(error = %e, "could not sweep the bundle cache's staging");
        }
        bundles.adopt_local_copies().await;
        bundles
    }

    /// The bundles on local disk (the store, or the cache of one).
    pub fn disk(&self) -> &BundleStore {
        &self.disk
    }

    /// True with an object store: local copies may be evicted and fetched
    /// again.
    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// Writes a bundle (sanitizing its HTML for the safe view); with S3,
    /// uploads it unless the store has it already. Idempotent.
    pub async fn write(&self, files: Vec<BundleFile>) -> Result<WrittenBundle, StoreError> {
        self.write_with(files, sanitize::safe_html).await
    }

    /// [`Self::write`] with another sanitizer.
    pub async fn write_with(
        &self,
        files: Vec<BundleFile>,
        safe_html: fn(&str) -> String,
    ) -> Result<WrittenBundle, StoreError> {
        let disk = self.disk.clone();
        let written = tokio::task::spawn_blocking(move || disk.write_with(&files, safe_html))
            .await
            .map_err(io::Error::other)??;
        if let Some(remote) = &self.remote {
            // The local copy counts against the cache's bound like a
            // fetched one, even if the upload fails (the job's retry
            // uploads it then).
            self.open(&written.id).await?;
            remote.upload(&self.disk, &written.id).await?;
        }
        Ok(written)
    }

    /// Opens a bundle: from memory, from disk, or (S3) fetched into the
    /// local cache first. Concurrent opens of one bundle fetch it once.
    pub async fn open(&self, id: &str) -> Result<Arc<Bundle>, StoreError> {
        // Ids name directories (and evicted ones are deleted): only the hex
        // hashes bundles are named by.
        if !is_bundle_id(id) {
            return Err(StoreError::Missing(id.to_owned()));
        }
        let load = async {
            let disk = self.disk.clone();
            let owned = id.to_owned();
            let local = tokio::task::spawn_blocking(move || disk.open(&owned))
                .await
                .map_err(io::Error::other)?;
            match (local, &self.remote) {
                (Ok(bundle), _) => Ok(Arc::new(bundle)),
                (Err(e), None) if e.kind() == io::ErrorKind::NotFound => {
                    Err(StoreError::Missing(id.to_owned()))
                }
                (Err(e), None) => Err(StoreError::Io(e)),
                (Err(_), Some(remote)) => remote.fetch(&self.disk, id).await.map(Arc::new),
            }
        };
        self.opened
            .try_get_with_by_ref(id, load)
            .await
            .map_err(|shared: Arc<StoreError>| match &*shared {
                StoreError::Missing(id) => StoreError::Missing(id.clone()),
                StoreError::Unavailable(why) => StoreError::Unavailable(why.clone()),
                StoreError::Io(e) => StoreError::Io(io::Error::new(e.kind(), e.to_string())),
            })
    }

    /// Forgets an opened bundle whose local copy turned out to be gone (an
    /// eviction racing a read), so the next open fetches it again.
    pub async fn forget(&self, id: &str) {
        self.opened.invalidate(id).await;
    }

    /// Carries out pending evictions now rather than on the cache's next
    /// writes (tests use it to see the bound hold).
    pub async fn settle(&self) {
        self.opened.run_pending_tasks().await;
    }

    /// Puts the local copies an earlier run left into the cache (and so
    /// under its bound); unreadable ones are deleted.
    async fn adopt_local_copies(&self) {
        let dir = self.disk.root().join("bundles");
        let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
            return;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let id = entry.file_name().to_string_lossy().into_owned();
            if !is_bundle_id(&id) {
                continue;
            }
            let disk = self.disk.clone();
            let owned = id.clone();
            match tokio::task::spawn_blocking(move || disk.open(&owned)).await {
                Ok(Ok(bundle)) => self.opened.insert(id, Arc::new(bundle)).await,
                _ => {
                    let _ = tokio::fs::remove_dir_all(entry.path()).await;
                }
            }
        }
        self.settle().await;
    }
}

impl Remote {
    fn key(&self, id: &str, name: &str) -> Key {
        match self.prefix.is_empty() {
            true => Key::from(format!("bundles/{id}/{name}")),
            false => Key::from(format!("{}/bundles/{id}/{name}", self.prefix)),
        }
    }

    /// Uploads the bundle `id` from `disk` unless its manifest is already in
    /// the store: content first, so a manifest never names missing bytes.
    async fn upload(&self, disk: &BundleStore, id: &str) -> Result<(), StoreError> {
        let manifest_key = self.key(id, MANIFEST);
        match self.store.head(&manifest_key).await {
            Ok(_) => return Ok(()),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(unavailable(e)),
        }
        let dir = disk.bundle_dir(id);
        let content = Bytes::from(tokio::fs::read(dir.join(CONTENT)).await?);
        let manifest = Bytes::from(tokio::fs::read(dir.join(MANIFEST)).await?);
        self.store
            .put(&self.key(id, CONTENT), content.into())
            .await
            .map_err(unavailable)?;
        self.store
            .put(&manifest_key, manifest.into())
            .await
            .map_err(unavailable)?;
        metrics::counter!("pagesmith_bundle_uploads_total").increment(1);
        Ok(())
    }

    /// Downloads bundle `id` into `disk`, checks every file against its
    /// hash, and opens it.
    async fn fetch(&self, disk: &BundleStore, id: &str) -> Result<Bundle, StoreError> {
        let get = |name: &'static str| async move {
            match self.store.get(&self.key(id, name)).await {
                Ok(found) => found.bytes().await.map_err(unavailable),
                Err(object_store::Error::NotFound { .. }) => {
                    Err(StoreError::Missing(id.to_owned()))
                }
                Err(e) => Err(unavailable(e)),
            }
        };
        let manifest = get(MANIFEST).await?;
        let content = get(CONTENT).await?;
        let disk = disk.clone();
        let owned = id.to_owned();
        let bundle = tokio::task::spawn_blocking(move || -> io::Result<Bundle> {
            // Checked before it is put where it would be served (or adopted
            // after a restart).
            let files: Vec<PackedFile> =
                serde_json::from_slice(&manifest).map_err(io::Error::other)?;
            verify(&files, &content)?;
            disk.place(&owned, &content, &manifest)?;
            disk.open(&owned)
        })
        .await
        .map_err(io::Error::other)??;
        metrics::counter!("pagesmith_bundle_fetches_total").increment(1);
        Ok(bundle)
    }
}

/// Every file's live bytes hash to what the manifest says: a download cut
/// short or altered is refused rather than served.
fn verify(files: &[PackedFile], content: &[u8]) -> io::Result<()> {
    let matches = |span: Span, sha256: &str| {
        let start = usize::try_from(span.offset).ok();
        let end = start.and_then(|s| s.checked_add(usize::try_from(span.len).ok()?));
        let bytes = start.zip(end).and_then(|(s, e)| content.get(s..e));
        bytes.is_some_and(|b| hex::encode(Sha256::digest(b)) == sha256)
    };
    for file in files {
        let live_ok = matches(file.live, &file.entry.sha256);
        let safe_ok = match (file.safe, &file.safe_sha256) {
            (Some(span), Some(sha256)) => matches(span, sha256),
            (Some(span), None) => span.offset.saturating_add(span.len) <= content.len() as u64,
            (None, _) => true,
        };
        if !(live_ok && safe_ok) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "`{}` does not match its hash in the manifest",
                    file.entry.path
                ),
            ));
        }
    }
    Ok(())
}

/// What a bundle weighs in the cache: its content in KiB, at least 1.
fn weight(bundle: &Bundle) -> u32 {
    u32::try_from(bundle.content_len.div_ceil(1024) + 1).unwrap_or(u32::MAX)
}

/// Whether `id` can name a bundle: lower-case hex SHA-256.
fn is_bundle_id(id: &str) -> bool {
    super::is_sha256_hex(id)
}

fn unavailable(e: object_store::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_are_read_and_bad_ones_named() {
        assert_eq!(
            "file:///srv/p".parse::<StoreUrl>(),
            Ok(StoreUrl::File("/srv/p".into()))
        );
        assert_eq!(
            "s3://my-bucket/a/b/".parse::<StoreUrl>(),
            Ok(StoreUrl::S3 {
                bucket: "my-bucket".into(),
                prefix: "a/b".into()
            })
        );
        assert_eq!(
            "s3://my-bucket".parse::<StoreUrl>(),
            Ok(StoreUrl::S3 {
                bucket: "my-bucket".into(),
                prefix: String::new()
            })
        );
        let err = |raw: &str| raw.parse::<StoreUrl>().unwrap_err();
        assert!(err("s3://My_Bucket/x").contains("not an S3 bucket name"));
        assert!(err("s3://bucket/a/../x").contains("`..`"));
        assert_eq!(
            err("gs://b"),
            "expected file://<dir> or s3://<bucket>/<prefix>"
        );
        assert!(err("file://").contains("needs a directory"));
    }

    #[test]
    fn settings_default_to_the_data_dir() {
        let mut env = Env::from_vars([("BUNDLE_CACHE_MB", "0"), ("BUNDLE_STORE_URL", "ftp://x")]);
        let _ = StoreSettings::read(&mut env, Path::new("/data"));
        let text = env.finish().unwrap_err().to_string();
        assert!(
            text.contains("BUNDLE_STORE_URL: could not parse `ftp://x`"),
            "{text}"
        );
        assert!(
            text.contains("BUNDLE_CACHE_MB: must be at least 1"),
            "{text}"
        );

        let mut env = Env::from_vars(Vec::<(String, String)>::new());
        let settings = StoreSettings::read(&mut env, Path::new("/data"));
        env.finish().unwrap();
        assert_eq!(settings.url, StoreUrl::File("/data".into()));
    }
}
