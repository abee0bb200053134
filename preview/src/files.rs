//! Reading a version's files: from memory when seen before (bundles are
//! immutable, so a file's bytes never change under its ETag), else from the
//! bundle's `content.bin` at the offset its manifest gives. Site paths never
//! become file names, so no request can reach outside the bundle.

use std::{
    collections::HashMap,
    io::{self, SeekFrom},
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
};

use bytes::Bytes;
use pagesmith::bundle::{Bundle, BundleStore, View};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::{
    encoding::{self, Coding},
    sendfile,
    versions::{FileMeta, Site},
};

/// Files larger than this are streamed from disk every time.
const MAX_CACHED_FILE: u64 = 1024 * 1024;

/// A file's content, ready to send.
pub enum Content {
    /// Small files, from memory.
    Bytes(Bytes),
    /// Large files, streamed; the length is known.
    File(tokio::io::Take<tokio::fs::File>, u64),
}

/// Why a file listed in a version could not be served.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Not in the bundle on disk, or its content file is not a regular file
    /// inside the bundle.
    #[error("the file is not in the bundle on disk")]
    Missing,
    #[error("could not read the file: {0}")]
    Io(#[from] io::Error),
}

/// The bundles on disk and a memory cache of their small files.
pub struct Files {
    store: BundleStore,
    capacity: u64,
    cache: RwLock<Cache>,
    /// Opened bundles (their manifests), by id. Bundles never change.
    bundles: RwLock<HashMap<String, Arc<Bundle>>>,
}

#[derive(Default)]
struct Cache {
    bytes: u64,
    /// Keyed by the ETag, which names the exact bytes.
    files: HashMap<Box<[u8]>, Bytes>,
    /// Their compressed forms; `None` where compressing did not help.
    encoded: HashMap<(Box<[u8]>, Coding), Option<Bytes>>,
}

impl Cache {
    /// Counts `len` against `capacity` if there is room.
    fn reserve(&mut self, len: usize, capacity: u64) -> bool {
        let fits = self.bytes + len as u64 <= capacity;
        if fits {
            self.bytes += len as u64;
        }
        fits
    }
}

impl Files {
    pub fn new(data_dir: PathBuf, capacity: u64) -> Self {
        Self {
            store: BundleStore::new(data_dir),
            capacity,
            cache: RwLock::default(),
            bundles: RwLock::default(),
        }
    }

    async fn bundle(&self, id: &str) -> Result<Arc<Bundle>, FileError> {
        if let Some(bundle) = self.bundles.read().expect("lock").get(id) {
            return Ok(bundle.clone());
        }
        let store = self.store.clone();
        let owned = id.to_owned();
        let bundle = tokio::task::spawn_blocking(move || store.open(&owned))
            .await
            .map_err(io::Error::other)?
            .map_err(missing)?;
        let bundle = Arc::new(bundle);
        let mut bundles = self.bundles.write().expect("lock");
        // Past this many, stop remembering: lookups still work, from disk.
        if bundles.len() < 10_000 {
            bundles.insert(id.to_owned(), bundle.clone());
        }
        Ok(bundle)
    }

    /// The content of `file` in `view` of `site`.
    pub async fn read(
        &self,
        site: &Site,
        view: View,
        file: &FileMeta,
    ) -> Result<Content, FileError> {
        let key = file.etag(view).as_bytes();
        if let Some(bytes) = self.cache.read().expect("lock").files.get(key) {
            return Ok(Content::Bytes(bytes.clone()));
        }
        let bundle = self.bundle(&site.bundle).await?;
        let span = bundle
            .span(view, file.path.as_str())
            .ok_or(FileError::Missing)?;
        let mut handle =
            open_inside(&self.store.bundle_dir(&site.bundle), &bundle.content_path()).await?;
        handle.seek(SeekFrom::Start(span.offset)).await?;
        let len = span.len;
        if len > MAX_CACHED_FILE {
            return Ok(Content::File(handle.take(len), len));
        }
        let mut buf = vec![0; len as usize];
        handle.read_exact(&mut buf).await.map_err(missing)?;
        // Large files keep a handle on the bundle's content file, so the
        // connection can send them from it without a copy (`sendfile`).
        let bytes = sendfile::file_backed(buf, Arc::new(handle.into_std().await), span.offset);
        let mut cache = self.cache.write().expect("lock");
        // First come, first kept: the cache only fills, which suits a small
        // set of immutable files; past capacity, files are read from disk.
        if !cache.files.contains_key(key) && cache.reserve(bytes.len(), self.capacity) {
            cache.files.insert(key.into(), bytes.clone());
        }
        Ok(Content::Bytes(bytes))
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
        let key = (Box::<[u8]>::from(file.etag(view).as_bytes()), coding);
        if let Some(encoded) = self.cache.read().expect("lock").encoded.get(&key) {
            return encoded.clone();
        }
        let encoded = tokio::task::spawn_blocking(move || encoding::smaller(coding, &bytes))
            .await
            .ok()
            .flatten();
        let mut cache = self.cache.write().expect("lock");
        let len = encoded.as_ref().map_or(0, Bytes::len);
        if !cache.encoded.contains_key(&key) && cache.reserve(len, self.capacity) {
            cache.encoded.insert(key, encoded.clone());
        }
        encoded
    }
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
