//! The fake's default endpoints, each answering from the shared state.

use std::sync::{Arc, Mutex};

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use serde_json::{Value, json};
use wiremock::{
    Match, Mock, Request, ResponseTemplate,
    matchers::{method, path, path_regex},
};

use super::{ANY_REPO, FakeGithub, State, message, ok, repo_json_named};

impl FakeGithub {
    pub(super) async fn mount_defaults(&self) {
        let state = &self.state;
        let site = self.pages_url();
        self.mount("GET", path("/user"), state, |s, _| {
            ok(200, json!({ "login": s.login }))
        })
        .await;
        let create = |s: &mut State, r: &Request| {
            let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
            s.create_repo(body["name"].as_str().unwrap_or(super::REPO))
        };
        self.mount("POST", path("/user/repos"), state, create).await;
        self.mount("POST", path_regex(r"^/orgs/[^/]+/repos$"), state, create)
            .await;
        self.mount(
            "GET",
            path_regex(format!("^{ANY_REPO}$")),
            state,
            |s, r| match &s.repo_owner {
                Some(owner) => ok(200, repo_json_named(owner, last(r), &s.default_branch)),
                None => message(404, "Not Found"),
            },
        )
        .await;
        self.mount("GET", path_regex(format!("^{ANY_REPO}/git/ref/heads/main$")), state, |s, _| {
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
        let commits = format!(r"^{ANY_REPO}/git/commits/[0-9a-f]{{40}}$");
        self.mount("GET", path_regex(commits), state, |s, r| match s.commits.get(last(r)) {
            Some(c) => ok(200, json!({ "sha": last(r), "tree": { "sha": c.tree }, "parents": c.parents.iter().map(|p| json!({ "sha": p })).collect::<Vec<_>>() })),
            None => message(404, "Not Found"),
        })
        .await;
        let trees = format!(r"^{ANY_REPO}/git/trees/[0-9a-f]{{40}}$");
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
        self.mount(
            "POST",
            path_regex(format!("^{ANY_REPO}/git/blobs$")),
            state,
            |s, r| {
                let body: Value = serde_json::from_slice(&r.body).unwrap();
                assert_eq!(body["encoding"], "base64");
                let bytes = BASE64.decode(body["content"].as_str().unwrap()).unwrap();
                ok(201, json!({ "sha": s.write_blob(bytes) }))
            },
        )
        .await;
        self.mount(
            "POST",
            path_regex(format!("^{ANY_REPO}/git/trees$")),
            state,
            |s, r| {
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
            },
        )
        .await;
        self.mount(
            "POST",
            path_regex(format!("^{ANY_REPO}/git/commits$")),
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
            path_regex(format!("^{ANY_REPO}/git/refs/heads/main$")),
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
        self.mount(
            "POST",
            path_regex(format!("^{ANY_REPO}/git/refs$")),
            state,
            |s, r| {
                let body: Value = serde_json::from_slice(&r.body).unwrap();
                if body["ref"] != "refs/heads/main" || s.main.is_some() {
                    return message(422, "Reference already exists");
                }
                s.main = Some(body["sha"].as_str().unwrap().to_owned());
                ok(
                    201,
                    json!({ "ref": "refs/heads/main", "object": { "sha": s.main } }),
                )
            },
        )
        .await;
        let page = json!({ "html_url": site, "source": { "branch": "main", "path": "/" } });
        let created = page.clone();
        self.mount(
            "POST",
            path_regex(format!("^{ANY_REPO}/pages$")),
            state,
            move |s, _| {
                if s.pages {
                    return message(409, "GitHub Pages is already enabled.");
                }
                s.pages = true;
                ok(201, created.clone())
            },
        )
        .await;
        self.mount(
            "GET",
            path_regex(format!("^{ANY_REPO}/pages$")),
            state,
            move |s, _| {
                if s.pages {
                    ok(200, page.clone())
                } else {
                    message(404, "Not Found")
                }
            },
        )
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
}

fn last(request: &Request) -> &str {
    request.url.path().rsplit('/').next().unwrap()
}
