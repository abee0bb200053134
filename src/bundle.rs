//! Immutable, content-addressed bundles of a version's files on disk, written
//! by the worker and served by the preview server.
//!
//! ```text
//! DATA_DIR/
//!   blobs/ab/abcdef…        every distinct file once, named by its SHA-256
//!   bundles/<id>/
//!     live/<path>           the site as generated (hard links into blobs/)
//!     safe/<path>           the same, with HTML sanitized (no scripts)
//!     manifest.json         [{path, sha256, size, media_type}]
//!   tmp/                    staging: a bundle appears by one atomic rename
//! ```
//!
//! A bundle's id is the SHA-256 of its sorted (path, file hash) list, so the
//! same files always give the same directory and writing it twice is a no-op.

use std::{
    fs, io,
    path::{Path, PathBuf},
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

/// A file as recorded in a bundle's manifest and a version row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    /// Lower-case hex.
    pub sha256: String,
    pub size: u64,
    pub media_type: String,
}

/// What [`BundleStore::write`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenBundle {
    pub id: String,
    /// Sorted by path.
    pub files: Vec<FileEntry>,
}

/// The bundle directories under `DATA_DIR`.
#[derive(Debug, Clone)]
pub struct BundleStore {
    root: PathBuf,
}

/// The two trees of a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// As generated, scripts included.
    Live,
    /// HTML sanitized: no scripts, handlers, frames or refreshes.
    Safe,
}

impl BundleStore {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            root: data_dir.into(),
        }
    }

    /// The directory holding a bundle.
    pub fn bundle_dir(&self, id: &str) -> PathBuf {
        self.root.join("bundles").join(id)
    }

    /// The root of one view of a bundle.
    pub fn view_dir(&self, id: &str, view: View) -> PathBuf {
        self.bundle_dir(id).join(match view {
            View::Live => "live",
            View::Safe => "safe",
        })
    }

    /// Writes the files (blocking I/O: call it from `spawn_blocking`).
    /// Idempotent: existing blobs and bundles are reused.
    pub fn write(&self, files: &[BundleFile]) -> io::Result<WrittenBundle> {
        let mut entries: Vec<(FileEntry, &BundleFile)> = files
            .iter()
            .map(|f| {
                let entry = FileEntry {
                    path: f.path.to_string(),
                    sha256: hex::encode(Sha256::digest(&f.bytes)),
                    size: f.bytes.len() as u64,
                    media_type: file_type::media_type(&f.path)
                        .unwrap_or("application/octet-stream")
                        .to_owned(),
                };
                (entry, f)
            })
            .collect();
        entries.sort_by(|a, b| a.0.path.cmp(&b.0.path));
        let id = bundle_id(entries.iter().map(|(e, _)| e));
        let written = WrittenBundle {
            id: id.clone(),
            files: entries.iter().map(|(e, _)| e.clone()).collect(),
        };

        let target = self.bundle_dir(&id);
        if target.join("manifest.json").exists() {
            return Ok(written);
        }

        let tmp_root = self.root.join("tmp");
        fs::create_dir_all(&tmp_root)?;
        fs::create_dir_all(self.root.join("bundles"))?;
        let staging = tmp_root.join(format!("bundle-{}", uuid::Uuid::new_v4().simple()));
        let result = self.stage(&staging, &entries, &written);
        if let Err(e) = result {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
        match fs::rename(&staging, &target) {
            Ok(()) => Ok(written),
            // Someone wrote the same bundle meanwhile: theirs is identical.
            Err(_) if target.join("manifest.json").exists() => {
                let _ = fs::remove_dir_all(&staging);
                Ok(written)
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&staging);
                Err(e)
            }
        }
    }

    fn stage(
        &self,
        staging: &Path,
        entries: &[(FileEntry, &BundleFile)],
        written: &WrittenBundle,
    ) -> io::Result<()> {
        for (entry, file) in entries {
            let blob = self.store_blob(&entry.sha256, &file.bytes)?;
            let live = staging.join("live").join(file.path.as_str());
            link_or_copy(&blob, &live)?;
            let safe = staging.join("safe").join(file.path.as_str());
            if file_type::is_html(&file.path) {
                let html = String::from_utf8_lossy(&file.bytes);
                write_new(&safe, sanitize::safe_html(&html).as_bytes())?;
            } else {
                link_or_copy(&blob, &safe)?;
            }
        }
        let manifest = serde_json::to_vec_pretty(&written.files).map_err(io::Error::other)?;
        write_new(&staging.join("manifest.json"), &manifest)
    }

    /// Stores `bytes` once under their hash; returns the blob's path.
    fn store_blob(&self, sha256: &str, bytes: &[u8]) -> io::Result<PathBuf> {
        let path = self.root.join("blobs").join(&sha256[..2]).join(sha256);
        if path.exists() {
            return Ok(path);
        }
        let tmp = self
            .root
            .join("tmp")
            .join(format!("blob-{}", uuid::Uuid::new_v4().simple()));
        write_new(&tmp, bytes)?;
        fs::create_dir_all(path.parent().expect("blob has a parent"))?;
        fs::rename(&tmp, &path)?;
        Ok(path)
    }

    /// The manifest of a bundle.
    pub fn manifest(&self, id: &str) -> io::Result<Vec<FileEntry>> {
        let bytes = fs::read(self.bundle_dir(id).join("manifest.json"))?;
        serde_json::from_slice(&bytes).map_err(io::Error::other)
    }

    /// A file of a bundle's live view.
    pub fn read(&self, id: &str, path: &SitePath) -> io::Result<Vec<u8>> {
        fs::read(self.view_dir(id, View::Live).join(path.as_str()))
    }
}

/// The id of a bundle with these (sorted) entries.
fn bundle_id<'a>(entries: impl Iterator<Item = &'a FileEntry>) -> String {
    let mut hasher = Sha256::new();
    for entry in entries {
        hasher.update(entry.path.as_bytes());
        hasher.update(b"\0");
        hasher.update(entry.sha256.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, bytes)
}

/// Hard links save the space of identical files across versions; a copy is
/// the fallback where links are not possible (another filesystem).
fn link_or_copy(from: &Path, to: &Path) -> io::Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::hard_link(from, to).or_else(|_| fs::copy(from, to).map(|_| ()))
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
    fn writes_both_views_and_a_manifest_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = BundleStore::new(dir.path());
        let files = vec![
            file("index.html", b"<p>hi</p><script>alert(1)</script>"),
            file("css/site.css", b"body{}"),
        ];
        let first = store.write(&files).unwrap();
        assert_eq!(first.files.len(), 2);
        assert_eq!(first.files[0].path, "css/site.css", "sorted by path");
        let live =
            fs::read_to_string(store.view_dir(&first.id, View::Live).join("index.html")).unwrap();
        assert!(live.contains("<script>"));
        let safe =
            fs::read_to_string(store.view_dir(&first.id, View::Safe).join("index.html")).unwrap();
        assert!(!safe.contains("<script"), "{safe}");
        assert_eq!(store.manifest(&first.id).unwrap(), first.files);

        // The same files in another order: the same bundle, nothing rewritten.
        let again = store.write(&[files[1].clone(), files[0].clone()]).unwrap();
        assert_eq!(again, first);
    }

    #[test]
    fn identical_files_are_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = BundleStore::new(dir.path());
        let a = store
            .write(&[file("a.txt", b"same"), file("b.txt", b"other")])
            .unwrap();
        let b = store.write(&[file("c.txt", b"same")]).unwrap();
        assert_ne!(a.id, b.id);
        let blobs = walk(&dir.path().join("blobs"));
        assert_eq!(blobs, 2, "`same` is stored once");
        assert!(
            fs::read_dir(dir.path().join("tmp"))
                .unwrap()
                .next()
                .is_none(),
            "staging is empty"
        );
    }

    fn walk(dir: &Path) -> usize {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    walk(&e.path())
                } else {
                    1
                }
            })
            .sum()
    }
}
