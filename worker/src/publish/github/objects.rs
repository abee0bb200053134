//! The git objects of a site, hashed here: GitHub names blobs and trees by
//! the same SHA-1 as git, so the publisher knows the tree's sha before
//! uploading anything, can tell whether `main` already holds exactly this
//! site (a retry), and uploads only the blobs `main` lacks.

use git2::{ObjectType, Odb, Oid, Repository};
use pagesmith::bundle::BundleFile;

use super::super::{
    PublishError,
    git::{git_error, write_tree},
};

/// The shas git (and GitHub) gives a site's objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteTree {
    /// The root tree holding exactly the files.
    pub sha: String,
    /// One blob sha per file, in the files' order.
    pub blobs: Vec<String>,
}

impl SiteTree {
    /// Hashes `files` in an in-memory object database; nothing touches disk.
    pub fn of(files: &[BundleFile]) -> Result<Self, PublishError> {
        let repo = memory_repo().map_err(git_error)?;
        let sha = write_tree(&repo, files).map_err(git_error)?.to_string();
        let blobs = files
            .iter()
            .map(|f| Oid::hash_object(ObjectType::Blob, &f.bytes).map(|id| id.to_string()))
            .collect::<Result<_, _>>()
            .map_err(git_error)?;
        Ok(Self { sha, blobs })
    }
}

fn memory_repo() -> Result<Repository, git2::Error> {
    let odb = Odb::new()?;
    odb.add_new_mempack_backend(1)?;
    Repository::from_odb(odb)
}

#[cfg(test)]
mod tests {
    use pagesmith::domain::SitePath;

    use super::*;

    fn site(files: &[(&str, &[u8])]) -> Vec<BundleFile> {
        files
            .iter()
            .map(|(path, bytes)| BundleFile {
                path: SitePath::parse(path).unwrap(),
                bytes: bytes.to_vec(),
            })
            .collect()
    }

    /// The expected shas are git's own: `git hash-object`, and `git
    /// write-tree` of an index holding these files.
    #[test]
    fn shas_are_the_ones_git_computes() {
        let files = site(&[
            ("index.html", b"<h1>hi</h1>\n"),
            ("css/site.css", b"body{}\n"),
            (".nojekyll", b""),
        ]);
        let tree = SiteTree::of(&files).unwrap();
        assert_eq!(
            tree.blobs,
            [
                "ab55abe579831bf2fdca5f584528c8924b99c2da",
                "c0e1a88a7f8eff05767c7a1706cfd6583a1ed2a8",
                "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
            ]
        );
        assert_eq!(tree.sha, "bbaccc9398e674e5bf8591b641f163dee9dbf51b");
    }
}
