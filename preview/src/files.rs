//! Reading a version's files: from memory when seen before (bundles are
//! immutable, so a file's bytes never change under its ETag), else from the
//! bundle's `content.bin` at the offset its manifest gives, on local disk
//! (with an object store, the local copy is fetched first; see
//! `pagesmith::bundle::store`). Site paths never become file names, so no
//! request can reach outside the bundle.

use std::{
    io::{self, SeekFrom},
    path::Path,
};

use axum::http::HeaderValue;
use bytes::Bytes;
use pagesmith::bundle::{Bundle, Bundles, StoreError, View};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::{
    encoding::{self, Coding},
    versions::{FileMeta, Site},
    zero_copy::FileSource,
};

/// Files larger than this are streamed from disk every time.
const MAX_CACHED_FILE: u64 = 1024 * 1024;

/// A file's content, ready to send.
pub enum Content {
    /// Small files, from memory, and for those worth sending with
    /// `sendfile` (see `zero_copy`), where the same bytes are on disk.
    Bytes(Bytes, Option<FileSource>),
    /// Large files, streamed; the length is known.
    File(tokio::io::Take<tokio::fs::File>, u64),
}

/// Why a file listed in a version could not be served.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Not in the bundle, or its content file is not a regular file inside
    /// the bundle.
    #[error("the file is not in the bundle")]
    Missing,
    /// The object store holding the bundle cannot be reached; this preview
    /// has no copy of it.
    #[error("{0}")]
    Unavailable(String),
    #[error("could not read the file: {0}")]
    Io(#[from] io::Error),
}

impl From<StoreError> for FileError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Missing(_) => Self::Missing,
            StoreError::Unavailable(why) => Self::Unavailable(why),
            StoreError::Io(e) => missing(e),
        }
    }
}

/// A small file's bytes, or one of their compressed forms.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    /// The ETag, which names the exact bytes (shared, not copied, per
    /// lookup).
    etag: HeaderValue,
    coding: Option<Coding>,
}

/// A small file's bytes in the cache (or one of their compressed forms),
/// and, for a file large enough, where they are on disk.
#[derive(Clone)]
struct Cached {
    bytes: Bytes,
    source: Option<FileSource>,
}

/// The bundles and a memory cache of their small files.
pub struct Files {
    bundles: Bundles,
    /// Small files and their compressed forms (`None` where compressing
    /// did not help), weighed by size, least recently used out first.
    cache: moka::sync::Cache<Key, Option<Cached>>,
}

impl Files {
    pub fn new(bundles: Bundles, capacity: u64) -> Self {
        Self {
            bundles,
            cache: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .weigher(|key: &Key, cached: &Option<Cached>| {
                    let len = key.etag.len() + cached.as_ref().map_or(0, |c| c.bytes.len());
                    u32::try_from(len).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }

    /// The content of `file` in `view` of `site`.
    pub async fn read(
        &self,
        site: &Site,
        view: View,
        file: &FileMeta,
    ) -> Result<Content, FileError> {
        let key = Key {
            etag: file.etag(view).clone(),
            coding: None,
        };
        if let Some(Some(cached)) = self.cache.get(&key) {
            return Ok(Content::Bytes(cached.bytes, cached.source));
        }
        // Boxed: reading from the bundle is the rare path, and its future is
        // large; every request's future would otherwise carry its space.
        Box::pin(self.load(key, site, view, file)).await
    }

    /// Reads `file` from its bundle (fetching the bundle first if it is
    /// stored elsewhere) and remembers it under `key` if it is small.
    async fn load(
        &self,
        key: Key,
        site: &Site,
        view: View,
        file: &FileMeta,
    ) -> Result<Content, FileError> {
        let bundle = self.bundles.open(&site.bundle).await?;
        let opened = match open_content(&self.bundles, &bundle, &site.bundle).await {
            // A stored bundle's local copy evicted since it was opened:
            // fetch it again, once.
            Err(FileError::Missing) if self.bundles.is_remote() => {
                self.bundles.forget(&site.bundle).await;
                let bundle = self.bundles.open(&site.bundle).await?;
                open_content(&self.bundles, &bundle, &site.bundle)
                    .await
                    .map(|handle| (handle, bundle))
            }
            other => other.map(|handle| (handle, bundle)),
        };
        let (mut handle, bundle) = opened?;
        let span = bundle
            .span(view, file.path.as_str())
            .ok_or(FileError::Missing)?;
        handle.seek(SeekFrom::Start(span.offset)).await?;
        let len = span.len;
        if len > MAX_CACHED_FILE {
            return Ok(Content::File(handle.take(len), len));
        }
        let mut buf = vec![0; len as usize];
        handle.read_exact(&mut buf).await.map_err(missing)?;
        let bytes = Bytes::from(buf);
        let source = FileSource::new(handle.into_std().await, span.offset, bytes.len());
        let cached = Cached { bytes, source };
        self.cache.insert(key, Some(cached.clone()));
        Ok(Content::Bytes(cached.bytes, cached.source))
    }

    /// `bytes`, the content of `file` in `view`, in `coding`: compressed on
    /// the first request and remembered. `None` when compressing does not
    /// make it smaller.
    pub async fn encoded(
        &self,
        file: &FileMeta,
        view: View,
        coding: Coding,
        bytes: Bytes,
    ) -> Option<Bytes> {
        let key = Key {
            etag: file.etag(view).clone(),
            coding: Some(coding),
        };
        if let Some(encoded) = self.cache.get(&key) {
            return encoded.map(|cached| cached.bytes);
        }
        Box::pin(self.compress(key, coding, bytes)).await
    }

    /// Compresses `bytes` off the async threads and remembers the result.
    async fn compress(&self, key: Key, coding: Coding, bytes: Bytes) -> Option<Bytes> {
        let encoded = tokio::task::spawn_blocking(move || encoding::smaller(coding, &bytes))
            .await
            .ok()
            .flatten();
        let cached = encoded.clone().map(|bytes| Cached {
            bytes,
            source: None,
        });
        self.cache.insert(key, cached);
        encoded
    }
}

/// Opens the content file of `bundle` (stored as `id`).
async fn open_content(
    bundles: &Bundles,
    bundle: &Bundle,
    id: &str,
) -> Result<tokio::fs::File, FileError> {
    open_inside(&bundles.disk().bundle_dir(id), &bundle.content_path()).await
}

/// A file (or a folder on its path) that is not there, or a bundle cut
/// short, is a missing file; anything else is an I/O error.
fn missing(e: io::Error) -> FileError {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::UnexpectedEof => {
            FileError::Missing
        }
        _ => FileError::Io(e),
    }
}

/// Opens `path` if, with every symlink resolved, it is a regular file under
/// `root`: a second line, against a bundle tampered with on disk.
async fn open_inside(root: &Path, path: &Path) -> Result<tokio::fs::File, FileError> {
    let root = tokio::fs::canonicalize(root).await.map_err(missing)?;
    let real = tokio::fs::canonicalize(path).await.map_err(missing)?;
    if !real.starts_with(&root) {
        tracing::error!("a bundle file resolves outside its bundle; refusing it");
        return Err(FileError::Missing);
    }
    let handle = tokio::fs::File::open(&real).await.map_err(missing)?;
    if !handle.metadata().await?.is_file() {
        return Err(FileError::Missing);
    }
    Ok(handle)
}
