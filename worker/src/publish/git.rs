//! git objects both publishers build: the local one into its bare
//! repositories, the GitHub one in memory, to name its trees by the same
//! SHA-1 GitHub gives them.

use git2::{Index, IndexEntry, IndexTime, Oid, Repository};
use pagesmith::bundle::BundleFile;

use super::PublishError;

/// One tree with every file of the site, blobs written as needed.
pub(super) fn write_tree(repo: &Repository, files: &[BundleFile]) -> Result<Oid, git2::Error> {
    let mut index = Index::new()?;
    for file in files {
        let id = repo.blob(&file.bytes)?;
        let path = file.path.as_str().as_bytes().to_vec();
        index.add(&IndexEntry {
            ctime: IndexTime::new(0, 0),
            mtime: IndexTime::new(0, 0),
            dev: 0,
            ino: 0,
            mode: 0o100_644,
            uid: 0,
            gid: 0,
            file_size: u32::try_from(file.bytes.len()).unwrap_or(u32::MAX),
            id,
            flags: u16::try_from(path.len()).unwrap_or(0xfff).min(0xfff),
            flags_extended: 0,
            path,
        })?;
    }
    index.write_tree_to(repo)
}

/// A libgit2 failure, as a publish error worth a retry.
pub(super) fn git_error(e: git2::Error) -> PublishError {
    PublishError::Retryable {
        reason: format!("git: {}", e.message()),
        retry_after: None,
    }
}
