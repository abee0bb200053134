//! A fake GitHub: the REST endpoints the publisher uses, over one shared
//! state. Blobs, trees and commits are named like git names them (trees
//! hashed here independently of the publisher), refs only fast-forward, and
//! a second name-taken create answers 422 — so retries behave as on GitHub.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use git2::{ObjectType, Oid};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::{
    Match, Mock, MockServer, Request, ResponseTemplate,
    matchers::{method, path, path_regex},
};
use worker::publish::github::{GithubOptions, GithubPublisher, GithubSettings};

pub const OWNER: &str = "octo";
pub const REPO: &str = "site-abc123";
pub const TOKEN: &str = "ghp_fake0123456789abcdef";
/// `/repos/octo/site-abc123`.
pub const BASE: &str = "/repos/octo/site-abc123";

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

pub struct FakeGithub {
    pub api: MockServer,
    /// Serves the pages (another host, like `octo.github.io`).
    pub site: MockServer,
    pub state: Arc<Mutex<State>>,
}

/// Fast timings: polls and waits in milliseconds.
pub fn options() -> GithubOptions {
    GithubOptions {
        poll_interval: Duration::from_millis(20),
        init_retry_delay: Duration::from_millis(10),
        init_attempts: 3,
        commit_attempts: 3,
        request_timeout: Duration::from_secs(2),
    }
}

impl FakeGithub {
    pub async fn start() -> Self {
        let fake = Self {
            api: MockServer::start().await,
            site: MockServer::start().await,
            state: Arc::new(Mutex::new(State {
                login: OWNER.to_owned(),
                repo_owner: None,
                default_branch: "main".to_owned(),
                empty_answers: 0,
                main: None,
                commits: HashMap::new(),
                trees: HashMap::new(),
                blobs: HashMap::new(),
                pages: false,
            })),
        };
        fake.mount_defaults().await;
        fake
    }

    pub fn publisher(&self) -> GithubPublisher {
        self.publisher_for(OWNER)
    }

    pub fn publisher_for(&self, owner: &str) -> GithubPublisher {
        let settings = GithubSettings {
            token: SecretString::from(TOKEN),
            owner: owner.to_owned(),
            api_url: self.api.uri().parse().unwrap(),
        };
        GithubPublisher::with_options(settings, options()).unwrap()
    }

    pub fn pages_url(&self) -> String {
        format!("{}/{REPO}/", self.site.uri())
    }

    /// A repository that already exists, with `files` on `main`.
    pub fn seed_repo(&self, owner: &str, files: &[(&str, &[u8])]) -> String {
        let mut s = self.state.lock().unwrap();
        s.repo_owner = Some(owner.to_owned());
        s.commit_on_main(files, "seed")
    }

    /// Every API request as `METHOD /path`, shas written `{sha}`.
    pub async fn calls(&self) -> Vec<String> {
        let requests = self.api.received_requests().await.unwrap();
        requests
            .iter()
            .map(|r| {
                let path: Vec<String> = r
                    .url
                    .path()
                    .split('/')
                    .map(|s| {
                        if is_sha(s) {
                            "{sha}".to_owned()
                        } else {
                            s.to_owned()
                        }
                    })
                    .collect();
                format!("{} {}", r.method, path.join("/"))
            })
            .collect()
    }

    /// The JSON bodies of the API requests `METHOD path`, in order.
    pub async fn bodies(&self, verb: &str, at: &str) -> Vec<Value> {
        let requests = self.api.received_requests().await.unwrap();
        requests
            .iter()
            .filter(|r| r.method.as_str() == verb && r.url.path() == at)
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }

    pub async fn count(&self, call: &str) -> usize {
        self.calls().await.iter().filter(|c| *c == call).count()
    }

    /// The commit `main` points at.
    pub fn main(&self) -> Option<String> {
        self.state.lock().unwrap().main.clone()
    }

    /// The files on `main`, as (path, bytes), sorted.
    pub fn files_on_main(&self) -> Vec<(String, Vec<u8>)> {
        let s = self.state.lock().unwrap();
        let tree = &s.commits[s.main.as_ref().unwrap()].tree;
        let mut files: Vec<_> = s.trees[tree]
            .iter()
            .map(|(path, blob)| (path.clone(), s.blobs[blob].clone()))
            .collect();
        files.sort();
        files
    }

    async fn mount_defaults(&self) {
        let state = &self.state;
        let site = self.pages_url();
        self.mount("GET", path("/user"), state, |s, _| {
            ok(200, json!({ "login": s.login }))
        })
        .await;
        let create = |s: &mut State, _: &Request| s.create_repo();
        self.mount("POST", path("/user/repos"), state, create).await;
        self.mount("POST", path_regex(r"^/orgs/[^/]+/repos$"), state, create)
            .await;
        self.mount("GET", path(BASE), state, |s, _| match &s.repo_owner {
            Some(owner) => ok(200, repo_json(owner, &s.default_branch)),
            None => message(404, "Not Found"),
        })
        .await;
        self.mount("GET", path(format!("{BASE}/git/ref/heads/main")), state, |s, _| {
            if s.empty_answers > 0 {
                s.empty_answers -= 1;
                return message(409, "Git Repository is empty.");
            }
            match &s.main {
                Some(sha) => ok(200, json!({ "ref": "refs/heads/main", "object": { "sha": sha, "type": "commit" } })),
                None => message(404, "Not Found"),
            }
        })
        .await;
        let commits = format!(r"^{BASE}/git/commits/[0-9a-f]{{40}}$");
        self.mount("GET", path_regex(commits), state, |s, r| match s.commits.get(last(r)) {
            Some(c) => ok(200, json!({ "sha": last(r), "tree": { "sha": c.tree }, "parents": c.parents.iter().map(|p| json!({ "sha": p })).collect::<Vec<_>>() })),
            None => message(404, "Not Found"),
        })
        .await;
        let trees = format!(r"^{BASE}/git/trees/[0-9a-f]{{40}}$");
        self.mount("GET", path_regex(trees), state, |s, r| {
            // Only recursive listings: the publisher wants every blob.
            let recursive = r.url.query_pairs().any(|(k, v)| k == "recursive" && v == "1");
            match s.trees.get(last(r)) {
                Some(entries) if recursive => ok(200, json!({
                    "sha": last(r),
                    "truncated": false,
                    "tree": entries.iter().map(|(p, b)| json!({ "path": p, "mode": "100644", "type": "blob", "sha": b })).collect::<Vec<_>>(),
                })),
                _ => message(404, "Not Found"),
            }
        })
        .await;
        self.mount("POST", path(format!("{BASE}/git/blobs")), state, |s, r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(body["encoding"], "base64");
            let bytes = BASE64.decode(body["content"].as_str().unwrap()).unwrap();
            ok(201, json!({ "sha": s.write_blob(bytes) }))
        })
        .await;
        self.mount("POST", path(format!("{BASE}/git/trees")), state, |s, r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            let entries: Vec<(String, String)> = body["tree"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["path"].as_str().unwrap().to_owned(),
                        e["sha"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            if entries.iter().any(|(_, blob)| !s.blobs.contains_key(blob)) {
                return message(422, "Invalid tree info");
            }
            ok(201, json!({ "sha": s.write_tree(entries) }))
        })
        .await;
        self.mount(
            "POST",
            path(format!("{BASE}/git/commits")),
            state,
            |s, r| {
                let body: Value = serde_json::from_slice(&r.body).unwrap();
                let tree = body["tree"].as_str().unwrap().to_owned();
                let parents: Vec<String> = body["parents"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_str().unwrap().to_owned())
                    .collect();
                if !s.trees.contains_key(&tree)
                    || parents.iter().any(|p| !s.commits.contains_key(p))
                {
                    return message(422, "Object does not exist");
                }
                ok(
                    201,
                    json!({ "sha": s.write_commit(tree, parents, &r.body) }),
                )
            },
        )
        .await;
        self.mount(
            "PATCH",
            path(format!("{BASE}/git/refs/heads/main")),
            state,
            |s, r| {
                let body: Value = serde_json::from_slice(&r.body).unwrap();
                let sha = body["sha"].as_str().unwrap();
                let Some(commit) = s.commits.get(sha) else {
                    return message(422, "Object does not exist");
                };
                let forward = s.main.as_ref().is_some_and(|m| commit.parents.contains(m));
                if !forward && body["force"] != true {
                    return message(422, "Update is not a fast forward");
                }
                s.main = Some(sha.to_owned());
                ok(
                    200,
                    json!({ "ref": "refs/heads/main", "object": { "sha": sha } }),
                )
            },
        )
        .await;
        self.mount("POST", path(format!("{BASE}/git/refs")), state, |s, r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            if body["ref"] != "refs/heads/main" || s.main.is_some() {
                return message(422, "Reference already exists");
            }
            s.main = Some(body["sha"].as_str().unwrap().to_owned());
            ok(
                201,
                json!({ "ref": "refs/heads/main", "object": { "sha": s.main } }),
            )
        })
        .await;
        let page = json!({ "html_url": site, "source": { "branch": "main", "path": "/" } });
        let created = page.clone();
        self.mount("POST", path(format!("{BASE}/pages")), state, move |s, _| {
            if s.pages {
                return message(409, "GitHub Pages is already enabled.");
            }
            s.pages = true;
            ok(201, created.clone())
        })
        .await;
        self.mount("GET", path(format!("{BASE}/pages")), state, move |s, _| {
            if s.pages {
                ok(200, page.clone())
            } else {
                message(404, "Not Found")
            }
        })
        .await;
    }

    /// A default endpoint: priority 10, so a test's own mock (priority
    /// 5) answers first.
    async fn mount<F>(&self, verb: &str, at: impl Match + 'static, state: &Arc<Mutex<State>>, f: F)
    where
        F: Fn(&mut State, &Request) -> ResponseTemplate + Send + Sync + 'static,
    {
        let state = state.clone();
        Mock::given(method(verb))
            .and(at)
            .respond_with(move |request: &Request| f(&mut state.lock().unwrap(), request))
            .with_priority(10)
            .mount(&self.api)
            .await;
    }

    /// A test's own answer to `verb at`, expected exactly `times` times
    /// (and given no more often).
    pub async fn answer(&self, verb: &str, at: &str, answer: ResponseTemplate, times: u64) {
        Mock::given(method(verb))
            .and(path(at))
            .respond_with(answer)
            .up_to_n_times(times)
            .expect(times)
            .mount(&self.api)
            .await;
    }
}

impl State {
    fn create_repo(&mut self) -> ResponseTemplate {
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
        ok(201, repo_json(OWNER, &self.default_branch))
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

    fn write_blob(&mut self, bytes: Vec<u8>) -> String {
        let sha = Oid::hash_object(ObjectType::Blob, &bytes)
            .unwrap()
            .to_string();
        self.blobs.insert(sha.clone(), bytes);
        sha
    }

    fn write_tree(&mut self, entries: Vec<(String, String)>) -> String {
        let sha = tree_sha(&entries);
        self.trees.insert(sha.clone(), entries);
        sha
    }

    /// Named after its whole request body: the same body, the same sha.
    fn write_commit(&mut self, tree: String, parents: Vec<String>, body: &[u8]) -> String {
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

pub fn repo_json(owner: &str, default_branch: &str) -> Value {
    json!({
        "name": REPO,
        "full_name": format!("{owner}/{REPO}"),
        "html_url": format!("https://github.com/{owner}/{REPO}"),
        "owner": { "login": owner },
        "private": false,
        "default_branch": default_branch,
    })
}

pub fn ok(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

pub fn message(status: u16, text: &str) -> ResponseTemplate {
    ok(
        status,
        json!({ "message": text, "documentation_url": "https://docs.github.com/rest" }),
    )
}

fn last(request: &Request) -> &str {
    request.url.path().rsplit('/').next().unwrap()
}

fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}
