//! The fake's repository: git objects named as git names them, one
//! branch, and whether Pages is on.

use std::collections::{BTreeMap, HashMap};

use git2::{ObjectType, Oid};
use serde_json::json;
use wiremock::ResponseTemplate;

use super::{OWNER, ok, repo_json_named};

pub struct Commit {
    pub tree: String,
    pub parents: Vec<String>,
}

pub struct State {
    /// The token's user.
    pub login: String,
    /// Who owns `REPO` once it exists.
    pub repo_owner: Option<String>,
    /// Where `auto_init` commits; `main` is only tracked when it is main.
    pub default_branch: String,
    /// How many more times reading `main` answers 409 "empty".
    pub empty_answers: u32,
    pub main: Option<String>,
    pub commits: HashMap<String, Commit>,
    /// Tree sha → (path, blob sha).
    pub trees: HashMap<String, Vec<(String, String)>>,
    pub blobs: HashMap<String, Vec<u8>>,
    pub pages: bool,
}

impl State {
    pub(super) fn create_repo(&mut self, name: &str) -> ResponseTemplate {
        if self.repo_owner.is_some() {
            return ok(
                422,
                json!({
                    "message": "Repository creation failed.",
                    "errors": [{ "resource": "Repository", "code": "custom", "field": "name",
                                 "message": "name already exists on this account" }],
                }),
            );
        }
        // The token user's repositories, or the organization's.
        self.repo_owner = Some(OWNER.to_owned());
        if self.default_branch == "main" {
            self.commit_on_main(&[("README.md", b"# site-abc123\n")], "Initial commit");
        }
        ok(201, repo_json_named(OWNER, name, &self.default_branch))
    }

    /// Puts a commit with exactly `files` on `main` (someone else's push).
    pub fn commit_on_main(&mut self, files: &[(&str, &[u8])], message: &str) -> String {
        let entries = files
            .iter()
            .map(|(path, bytes)| ((*path).to_owned(), self.write_blob(bytes.to_vec())))
            .collect();
        let tree = self.write_tree(entries);
        let parents: Vec<String> = self.main.iter().cloned().collect();
        let sha = self.write_commit(tree, parents, message.as_bytes());
        self.main = Some(sha.clone());
        sha
    }

    pub(super) fn write_blob(&mut self, bytes: Vec<u8>) -> String {
        let sha = Oid::hash_object(ObjectType::Blob, &bytes)
            .unwrap()
            .to_string();
        self.blobs.insert(sha.clone(), bytes);
        sha
    }

    pub(super) fn write_tree(&mut self, entries: Vec<(String, String)>) -> String {
        let sha = tree_sha(&entries);
        self.trees.insert(sha.clone(), entries);
        sha
    }

    /// Named after its whole request body: the same body, the same sha.
    pub(super) fn write_commit(
        &mut self,
        tree: String,
        parents: Vec<String>,
        body: &[u8],
    ) -> String {
        let sha = Oid::hash_object(ObjectType::Commit, body)
            .unwrap()
            .to_string();
        self.commits.insert(sha.clone(), Commit { tree, parents });
        sha
    }
}

/// git's tree hash, written out: entries sorted by name (a directory as
/// `name/`), each `mode name\0` and the 20 raw bytes of its sha.
pub fn tree_sha(entries: &[(String, String)]) -> String {
    #[derive(Default)]
    struct Dir {
        blobs: BTreeMap<String, String>,
        dirs: BTreeMap<String, Dir>,
    }
    fn hash(dir: &Dir) -> Oid {
        let mut items: Vec<(Vec<u8>, &str, &str, Oid)> = Vec::new();
        for (name, sha) in &dir.blobs {
            items.push((
                name.as_bytes().to_vec(),
                "100644",
                name,
                Oid::from_str(sha).unwrap(),
            ));
        }
        for (name, sub) in &dir.dirs {
            let key = format!("{name}/").into_bytes();
            items.push((key, "40000", name, hash(sub)));
        }
        items.sort();
        let mut bytes = Vec::new();
        for (_, mode, name, oid) in items {
            bytes.extend_from_slice(format!("{mode} {name}\0").as_bytes());
            bytes.extend_from_slice(oid.as_bytes());
        }
        Oid::hash_object(ObjectType::Tree, &bytes).unwrap()
    }
    let mut root = Dir::default();
    for (path, sha) in entries {
        let mut parts: Vec<&str> = path.split('/').collect();
        let name = parts.pop().unwrap();
        let dir = parts.into_iter().fold(&mut root, |dir, part| {
            dir.dirs.entry(part.to_owned()).or_default()
        });
        dir.blobs.insert(name.to_owned(), sha.clone());
    }
    hash(&root).to_string()
}
