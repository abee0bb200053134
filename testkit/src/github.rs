//! A fake GitHub: the REST endpoints the publisher uses, over one shared
//! state (one repository, under any name: the fault suite cannot know the
//! name the worker will choose). Blobs, trees and commits are named like git names them (trees
//! hashed here independently of the publisher), refs only fast-forward, and
//! a second name-taken create answers 422 — so retries behave as on GitHub.

mod endpoints;
mod state;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

pub use self::state::State;

pub const OWNER: &str = "octo";
pub const REPO: &str = "site-abc123";
pub const TOKEN: &str = "ghp_fake0123456789abcdef";
/// `/repos/octo/site-abc123`.
pub const BASE: &str = "/repos/octo/site-abc123";
/// The default endpoints answer for any repository name under `OWNER`.
const ANY_REPO: &str = "/repos/octo/[A-Za-z0-9._-]+";

pub struct FakeGithub {
    pub api: MockServer,
    /// Serves the pages (another host, like `octo.github.io`).
    pub site: MockServer,
    pub state: Arc<Mutex<State>>,
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

pub fn repo_json(owner: &str, default_branch: &str) -> Value {
    repo_json_named(owner, REPO, default_branch)
}

/// The repository `name` as GitHub describes it.
pub fn repo_json_named(owner: &str, name: &str, default_branch: &str) -> Value {
    json!({
        "name": name,
        "full_name": format!("{owner}/{name}"),
        "html_url": format!("https://github.com/{owner}/{name}"),
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

fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}
