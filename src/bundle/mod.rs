//! Immutable, content-addressed bundles of a version's files on disk, written
//! by the worker and served by the preview server.
//!
//! ```text
//! DATA_DIR/
//!   bundles/<id>/
//!     content.bin      every distinct file content once, back to back, and
//!                      the sanitized form of each HTML file
//!     manifest.json    per path: its hash, size, type, and where its live
//!                      and safe bytes are in content.bin
//!   tmp/               staging: a bundle appears by one atomic rename
//! ```
//!
//! A bundle's id is the SHA-256 of its sorted (path, file hash) list, so the
//! same files always give the same directory and writing it twice is a
//! no-op. Two files a bundle holds, whatever the site's size: writing one
//! costs a handful of filesystem operations instead of several per file,
//! which on a busy disk is most of a version's cost. Paths never become
//! file names, so no site path can reach outside its bundle.
//!
//! [`store`] puts this layout behind `BUNDLE_STORE_URL`: on disk as here,
//! or in an S3 store with a local copy of the bundles in use.

pub mod store;

pub use store::{Bundles, StoreError, StoreSettings, StoreUrl};

use std::{
    collections::HashMap,
    fs,
    io::{self, Write},
    os::unix::fs::FileExt,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    domain::{SitePath, file_type},
    sanitize,
};

/// A file to put in a bundle.
#[derive(Debug, Clone)]
pub struct BundleFile {
    pub path: SitePath,
    pub bytes: Vec<u8>,
}

/// A file as recorded in a version row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    /// Lower-case hex.
    pub sha256: String,
    pub size: u64,
    pub media_type: String,
}

/// Where some bytes are in `content.bin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub offset: u64,
    pub len: u64,
}

/// A file as the on-disk manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackedFile {
    #[serde(flatten)]
    pub entry: FileEntry,
    pub live: Span,
    /// The sanitized bytes of an HTML file; other files serve `live`.
    pub safe: Option<Span>,
    /// Their SHA-256 (lower-case hex), so a copy fetched from an object
    /// store can be checked; absent in bundles written before it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safe_sha256: Option<String>,
}

/// What [`BundleStore::write`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenBundle {
    pub id: String,
    /// Sorted by path.
    pub files: Vec<FileEntry>,
}

/// The two views of a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// As generated, scripts included.
    Live,
    /// HTML sanitized: no scripts, handlers, frames or refreshes.
    Safe,
}

/// The bundle directories under `DATA_DIR`.
#[derive(Debug, Clone)]
pub struct BundleStore {
    root: PathBuf,
}

const CONTENT: &str = "content.bin";
const MANIFEST: &str = "manifest.json";

impl BundleStore {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            root: data_dir.into(),
        }
    }

    /// The directory the bundles are under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory holding a bundle.
    pub fn bundle_dir(&self, id: &str) -> PathBuf {
        self.root.join("bundles").join(id)
    }

    /// Writes the files, sanitizing HTML for the safe view (blocking I/O:
    /// call it from `spawn_blocking`). Idempotent.
    pub fn write(&self, files: &[BundleFile]) -> io::Result<WrittenBundle> {
        self.write_with(files, sanitize::safe_html)
    }

    /// [`Self::write`] with another sanitizer (tests use one that sanitizes
    /// nothing, to prove the safe view's CSP holds on its own).
    pub fn write_with(
        &self,
        files: &[BundleFile],
        safe_html: impl Fn(&str) -> String,
    ) -> io::Result<WrittenBundle> {
        let mut sorted: Vec<&BundleFile> = files.iter().collect();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
        let entries: Vec<FileEntry> = sorted
            .iter()
            .map(|f| FileEntry {
                path: f.path.to_string(),
                sha256: hex::encode(Sha256::digest(&f.bytes)),
                size: f.bytes.len() as u64,
                media_type: file_type::media_type(&f.path)
                    .unwrap_or("application/octet-stream")
                    .to_owned(),
            })
            .collect();
        let id = bundle_id(&entries);
        let written = WrittenBundle {
            id: id.clone(),
            files: entries.clone(),
        };
        if self.bundle_dir(&id).join(MANIFEST).exists() {
            return Ok(written);
        }

        let staging = self.staging()?;
        let staged = stage(&staging, &sorted, entries, safe_html);
        if let Err(e) = staged {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
        // The fault suite kills the worker here: staged, not yet visible.
        fail::fail_point!("bundle-staged");
        self.reveal(&staging, &id)?;
        Ok(written)
    }

    /// Puts a bundle fetched from elsewhere (its two files as they were
    /// written) in place. Idempotent.
    pub fn place(&self, id: &str, content: &[u8], manifest: &[u8]) -> io::Result<()> {
        if self.bundle_dir(id).join(MANIFEST).exists() {
            return Ok(());
        }
        let staging = self.staging()?;
        let staged = (|| {
            for (name, bytes) in [(CONTENT, content), (MANIFEST, manifest)] {
                let mut file = fs::File::create(staging.join(name))?;
                file.write_all(bytes)?;
                file.sync_data()?;
            }
            Ok(())
        })();
        if let Err(e) = staged {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
        self.reveal(&staging, id)
    }

    /// A new, empty staging directory.
    fn staging(&self) -> io::Result<PathBuf> {
        fs::create_dir_all(self.root.join("bundles"))?;
        let staging = self
            .root
            .join("tmp")
            .join(format!("bundle-{}", uuid::Uuid::new_v4().simple()));
        fs::create_dir_all(&staging)?;
        Ok(staging)
    }

    /// Makes a staged bundle visible as `id` by one rename.
    fn reveal(&self, staging: &Path, id: &str) -> io::Result<()> {
        let target = self.bundle_dir(id);
        match fs::rename(staging, &target) {
            Ok(()) => Ok(()),
            // Someone wrote the same bundle meanwhile: theirs is identical.
            Err(_) if target.join(MANIFEST).exists() => {
                let _ = fs::remove_dir_all(staging);
                Ok(())
            }
            Err(e) => {
                let _ = fs::remove_dir_all(staging);
                Err(e)
            }
        }
    }

    /// Removes staging directories older than `age`: what a writer killed
    /// between staging and its rename leaves behind (a rerun of its job
    /// stages afresh). `age` must exceed the longest a live writer may
    /// take, so no one's work in progress is removed. Returns how many went.
    pub fn sweep_staging(&self, age: Duration) -> io::Result<usize> {
        let entries = match fs::read_dir(self.root.join("tmp")) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut swept = 0;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let old_enough = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified.elapsed().is_ok_and(|elapsed| elapsed > age));
            if name.to_string_lossy().starts_with("bundle-") && old_enough {
                fs::remove_dir_all(entry.path())?;
                swept += 1;
            }
        }
        Ok(swept)
    }

    /// Opens a bundle: reads its manifest.
    pub fn open(&self, id: &str) -> io::Result<Bundle> {
        let dir = self.bundle_dir(id);
        let manifest: Vec<PackedFile> =
            serde_json::from_slice(&fs::read(dir.join(MANIFEST))?).map_err(io::Error::other)?;
        let content_len = fs::metadata(dir.join(CONTENT))?.len();
        Ok(Bundle {
            content_len,
            files: manifest
                .into_iter()
                .map(|f| (f.entry.path.clone(), f))
                .collect(),
            dir,
        })
    }

    /// One file of a bundle's live view.
    pub fn read(&self, id: &str, path: &SitePath) -> io::Result<Vec<u8>> {
        self.open(id)?.read(View::Live, path.as_str())
    }
}

/// Writes `content.bin` (each distinct content once) and `manifest.json`.
fn stage(
    staging: &Path,
    files: &[&BundleFile],
    entries: Vec<FileEntry>,
    safe_html: impl Fn(&str) -> String,
) -> io::Result<()> {
    let mut content = io::BufWriter::new(fs::File::create(staging.join(CONTENT))?);
    let mut offset = 0u64;
    let mut stored: HashMap<[u8; 32], Span> = HashMap::new();
    let mut append = |bytes: &[u8]| -> io::Result<(Span, [u8; 32])> {
        let hash: [u8; 32] = Sha256::digest(bytes).into();
        if let Some(span) = stored.get(&hash) {
            return Ok((*span, hash));
        }
        content.write_all(bytes)?;
        let span = Span {
            offset,
            len: bytes.len() as u64,
        };
        offset += span.len;
        stored.insert(hash, span);
        Ok((span, hash))
    };
    let mut manifest = Vec::with_capacity(files.len());
    for (file, entry) in files.iter().zip(entries) {
        let (live, _) = append(&file.bytes)?;
        let (safe, safe_sha256) = match file_type::is_html(&file.path) {
            true => {
                let (span, hash) =
                    append(safe_html(&String::from_utf8_lossy(&file.bytes)).as_bytes())?;
                (Some(span), Some(hex::encode(hash)))
            }
            false => (None, None),
        };
        manifest.push(PackedFile {
            entry,
            live,
            safe,
            safe_sha256,
        });
    }
    // The version row that names this bundle commits durably; so must the
    // bytes, before the rename makes the bundle visible.
    content
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_data()?;
    let manifest = serde_json::to_vec(&manifest).map_err(io::Error::other)?;
    let mut file = fs::File::create(staging.join(MANIFEST))?;
    file.write_all(&manifest)?;
    file.sync_data()
}

/// An opened bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    dir: PathBuf,
    files: HashMap<String, PackedFile>,
    /// The size of `content.bin`.
    content_len: u64,
}

impl Bundle {
    /// The file at `path`, if the bundle has it.
    pub fn file(&self, path: &str) -> Option<&PackedFile> {
        self.files.get(path)
    }

    /// Where `path`'s bytes for `view` are in [`Self::content_path`].
    pub fn span(&self, view: View, path: &str) -> Option<Span> {
        let file = self.files.get(path)?;
        Some(match view {
            View::Live => file.live,
            View::Safe => file.safe.unwrap_or(file.live),
        })
    }

    /// The file every span points into.
    pub fn content_path(&self) -> PathBuf {
        self.dir.join(CONTENT)
    }

    /// Reads one file (blocking).
    pub fn read(&self, view: View, path: &str) -> io::Result<Vec<u8>> {
        let span = self.span(view, path).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no `{path}` in the bundle"),
            )
        })?;
        let file = fs::File::open(self.content_path())?;
        let mut bytes = vec![0; usize::try_from(span.len).map_err(io::Error::other)?];
        file.read_exact_at(&mut bytes, span.offset)?;
        Ok(bytes)
    }
}

/// Whether `s` is a SHA-256 as bundles write them: 64 lower-case hex
/// digits (a bundle's id, a file's hash).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The id of a bundle with these (sorted) entries.
fn bundle_id(entries: &[FileEntry]) -> String {
    let mut hasher = Sha256::new();
    for entry in entries {
        hasher.update(entry.path.as_bytes());
        hasher.update(b"\0");
        hasher.update(entry.sha256.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, bytes: &[u8]) -> BundleFile {
        BundleFile {
            path: SitePath::parse(path).unwrap(),
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn sweeping_removes_only_staging_older_than_the_age() {
        let dir = tempfile::tempdir().unwrap();
        let store = BundleStore::new(dir.path());
        assert_eq!(
            store.sweep_staging(Duration::ZERO).unwrap(),
            0,
            "no tmp/ yet"
        );
        let orphan = dir.path().join("tmp/bundle-dead");
        fs::create_dir_all(&orphan).unwrap();
        fs::write(orphan.join("content.bin"), b"half").unwrap();
        fs::create_dir_all(dir.path().join("tmp/other")).unwrap();

        assert_eq!(
            store.sweep_staging(Duration::from_secs(3600)).unwrap(),
            0,
            "too young"
        );
        assert!(orphan.exists());
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(store.sweep_staging(Duration::from_millis(10)).unwrap(), 1);
        assert!(!orphan.exists());
        assert!(dir.path().join("tmp/other").exists(), "not a staging dir");
    }

    #[test]
    fn writes_both_views_once_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = BundleStore::new(dir.path());
        let files = vec![
            file("index.html", b"<p>hi</p><script>alert(1)</script>"),
            file("css/site.css", b"body{}"),
        ];
        let first = store.write(&files).unwrap();
        assert_eq!(first.files.len(), 2);
        assert_eq!(first.files[0].path, "css/site.css", "sorted by path");

        let bundle = store.open(&first.id).unwrap();
        let live = bundle.read(View::Live, "index.html").unwrap();
        assert!(String::from_utf8(live).unwrap().contains("<script>"));
        let safe = String::from_utf8(bundle.read(View::Safe, "index.html").unwrap()).unwrap();
        assert!(!safe.contains("<script"), "{safe}");
        assert_eq!(
            bundle.read(View::Safe, "css/site.css").unwrap(),
            b"body{}",
            "non-HTML is the same in both views"
        );
        assert!(bundle.read(View::Live, "missing.txt").is_err());

        // The same files in another order: the same bundle, nothing rewritten.
        let again = store.write(&[files[1].clone(), files[0].clone()]).unwrap();
        assert_eq!(again, first);
    }

    #[test]
    fn identical_contents_are_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = BundleStore::new(dir.path());
        let written = store
            .write(&[
                file("a.txt", b"same"),
                file("b.txt", b"same"),
                file("c.txt", b"other"),
            ])
            .unwrap();
        let bundle = store.open(&written.id).unwrap();
        assert_eq!(
            bundle.span(View::Live, "a.txt"),
            bundle.span(View::Live, "b.txt")
        );
        let size = fs::metadata(bundle.content_path()).unwrap().len();
        assert_eq!(size, 9, "`same` once, `other` once");
        let entries: Vec<_> = fs::read_dir(dir.path().join("bundles").join(&written.id))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert!(
            fs::read_dir(dir.path().join("tmp"))
                .unwrap()
                .next()
                .is_none(),
            "staging is empty"
        );
    }

    #[test]
    fn another_sanitizer_can_be_used() {
        let dir = tempfile::tempdir().unwrap();
        let store = BundleStore::new(dir.path());
        let written = store
            .write_with(&[file("index.html", b"<script>x</script>")], |html| {
                html.to_owned()
            })
            .unwrap();
        let safe = store
            .open(&written.id)
            .unwrap()
            .read(View::Safe, "index.html")
            .unwrap();
        assert_eq!(safe, b"<script>x</script>");
    }
}
