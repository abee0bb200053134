//! Publishing: the happy rounds, and the retries that must not commit twice.

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use serde_json::json;
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{method, path},
};
use worker::publish::{PublishError, Publisher};

use crate::{
    LOGO,
    fake::{BASE, FakeGithub, OWNER, Publishers, TOKEN, message},
    permanent, request, retry_after, round_one, round_two,
};

fn commits() -> String {
    format!("{BASE}/git/commits")
}

#[tokio::test]
async fn round_one_creates_the_repo_commits_once_and_enables_pages() {
    let fake = FakeGithub::start().await;
    let published = fake.publisher().publish(&round_one()).await.unwrap();

    let base = "/repos/octo/site-abc123";
    assert_eq!(
        fake.calls().await,
        [
            "GET /user".to_owned(),
            "POST /user/repos".to_owned(),
            format!("GET {base}/git/ref/heads/main"),
            format!("GET {base}/git/commits/{{sha}}"),
            format!("GET {base}/git/trees/{{sha}}"),
            format!("POST {base}/git/blobs"),
            format!("POST {base}/git/blobs"),
            format!("POST {base}/git/blobs"),
            format!("POST {base}/git/trees"),
            format!("POST {base}/git/commits"),
            format!("PATCH {base}/git/refs/heads/main"),
            format!("POST {base}/pages"),
        ]
    );
    assert_eq!(
        fake.bodies("POST", "/user/repos").await,
        [json!({
            "name": "site-abc123",
            "description": "Sales summary — built with pagesmith",
            "private": false,
            "auto_init": true,
        })]
    );
    // Every blob base64, byte for byte, the binary one too.
    let mut blobs: Vec<Vec<u8>> = fake
        .bodies("POST", &format!("{BASE}/git/blobs"))
        .await
        .iter()
        .map(|b| {
            assert_eq!(b["encoding"], "base64");
            BASE64.decode(b["content"].as_str().unwrap()).unwrap()
        })
        .collect();
    blobs.sort();
    assert_eq!(
        blobs,
        [b"".to_vec(), b"<h1>Sales</h1>\n".to_vec(), LOGO.to_vec()]
    );
    // One full tree holding the bundle's files, no base_tree.
    let trees = fake.bodies("POST", &format!("{BASE}/git/trees")).await;
    assert_eq!(trees.len(), 1);
    assert_eq!(
        trees[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["tree"]
    );
    let mut paths: Vec<&str> = trees[0]["tree"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!((&e["mode"], &e["type"]), (&json!("100644"), &json!("blob")));
            e["path"].as_str().unwrap()
        })
        .collect();
    paths.sort();
    assert_eq!(paths, [".nojekyll", "img/logo.png", "index.html"]);
    // One commit on auto_init's commit, with whole-second fixed dates.
    let state_main = fake.main().unwrap();
    let commit = &fake.bodies("POST", &commits()).await[0];
    let person = json!({
        "name": "pagesmith",
        "email": "pagesmith@users.noreply.github.com",
        "date": "2025-03-01T12:00:00Z",
    });
    assert_eq!(commit["author"], person);
    assert_eq!(commit["committer"], person);
    assert_eq!(commit["message"], round_one().message);
    let parent = fake.state.lock().unwrap().commits[&state_main]
        .parents
        .clone();
    assert_eq!(commit["parents"], json!(parent));
    assert_eq!(
        fake.bodies("PATCH", &format!("{BASE}/git/refs/heads/main"))
            .await,
        [json!({ "sha": state_main, "force": false })]
    );
    assert_eq!(
        fake.bodies("POST", &format!("{BASE}/pages")).await,
        [json!({ "source": { "branch": "main", "path": "/" } })]
    );
    assert_eq!(
        fake.files_on_main(),
        [
            (".nojekyll".to_owned(), b"".to_vec()),
            ("img/logo.png".to_owned(), LOGO.to_vec()),
            ("index.html".to_owned(), b"<h1>Sales</h1>\n".to_vec()),
        ]
    );
    assert_eq!(published.repo_url, "https://github.com/octo/site-abc123");
    assert_eq!(published.commit_sha, state_main);
    assert_eq!(published.pages_url, fake.pages_url());
    // The token goes to the API, as a bearer token, on every request.
    for r in fake.api.received_requests().await.unwrap() {
        assert_eq!(r.headers["authorization"], format!("Bearer {TOKEN}"));
    }
}

#[tokio::test]
async fn round_two_commits_onto_main_and_keeps_the_pages_url() {
    let fake = FakeGithub::start().await;
    let publisher = fake.publisher();
    let first = publisher.publish(&round_one()).await.unwrap();
    let before = fake.calls().await.len();

    let second = publisher.publish(&round_two()).await.unwrap();

    let calls = fake.calls().await.split_off(before);
    assert_eq!(
        calls,
        [
            "POST /user/repos".to_owned(), // 422: the name is ours already
            format!("GET {BASE}"),
            format!("GET {BASE}/git/ref/heads/main"),
            format!("GET {BASE}/git/commits/{{sha}}"),
            format!("GET {BASE}/git/trees/{{sha}}"),
            format!("POST {BASE}/git/blobs"), // only the changed page
            format!("POST {BASE}/git/trees"),
            format!("POST {BASE}/git/commits"),
            format!("PATCH {BASE}/git/refs/heads/main"),
            format!("POST {BASE}/pages"), // 409: already enabled
            format!("GET {BASE}/pages"),
        ]
    );
    let commit = &fake.bodies("POST", &commits()).await[1];
    assert_eq!(commit["parents"], json!([first.commit_sha]));
    assert_ne!(second.commit_sha, first.commit_sha);
    assert_eq!(fake.main(), Some(second.commit_sha));
    assert_eq!(second.pages_url, first.pages_url);
    assert_eq!(second.repo_url, first.repo_url);
    let on_main: Vec<String> = fake.files_on_main().into_iter().map(|f| f.0).collect();
    assert_eq!(on_main, [".nojekyll", "img/logo.png", "index.html"]);
}

#[tokio::test]
async fn a_retry_after_a_failure_midway_makes_no_second_commit() {
    let fake = FakeGithub::start().await;
    // main moves, then enabling Pages fails once.
    fake.answer(
        "POST",
        &format!("{BASE}/pages"),
        message(502, "Bad Gateway"),
        1,
    )
    .await;
    let publisher = fake.publisher();

    let failed = publisher.publish(&round_one()).await.unwrap_err();
    retry_after(&failed);
    let main = fake.main().unwrap();

    let published = publisher.publish(&round_one()).await.unwrap();

    assert_eq!(published.commit_sha, main);
    assert_eq!(fake.count(&format!("POST {BASE}/git/commits")).await, 1);
    assert_eq!(fake.count(&format!("POST {BASE}/git/trees")).await, 1);
    assert_eq!(fake.count(&format!("POST {BASE}/git/blobs")).await, 3);
    assert_eq!(
        fake.count(&format!("PATCH {BASE}/git/refs/heads/main"))
            .await,
        1
    );
    assert_eq!(fake.count(&format!("POST {BASE}/pages")).await, 2);
}

#[tokio::test]
async fn a_retry_after_the_ref_update_failed_makes_the_same_commit() {
    let fake = FakeGithub::start().await;
    fake.answer(
        "PATCH",
        &format!("{BASE}/git/refs/heads/main"),
        ResponseTemplate::new(500),
        1,
    )
    .await;
    let publisher = fake.publisher();

    let failed = publisher.publish(&round_one()).await.unwrap_err();
    retry_after(&failed);
    let published = publisher.publish(&round_one()).await.unwrap();

    // Same tree, parent, message and dates: the same commit object again,
    // so main gets exactly one commit.
    let bodies = fake.bodies("POST", &commits()).await;
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0], bodies[1]);
    let s = fake.state.lock().unwrap();
    assert_eq!(s.main.as_ref(), Some(&published.commit_sha));
    let parent = &s.commits[&published.commit_sha].parents[0];
    assert!(
        s.commits[parent].parents.is_empty(),
        "one commit on auto_init's"
    );
}

#[tokio::test]
async fn an_existing_repository_of_ours_is_adopted() {
    let fake = FakeGithub::start().await;
    let seeded = fake.seed_repo(OWNER, &[("index.html", b"old")]);

    let published = fake.publisher().publish(&round_one()).await.unwrap();

    let calls = fake.calls().await;
    assert_eq!(
        calls[1..3],
        ["POST /user/repos".to_owned(), format!("GET {BASE}")]
    );
    assert_eq!(
        fake.bodies("POST", &commits()).await[0]["parents"],
        json!([seeded])
    );
    assert_eq!(fake.main(), Some(published.commit_sha));
}

#[tokio::test]
async fn a_name_taken_by_someone_else_is_permanent() {
    let fake = FakeGithub::start().await;
    fake.seed_repo(OWNER, &[("index.html", b"theirs")]);
    // GitHub redirects a renamed or transferred repository to its new home.
    fake.answer(
        "GET",
        BASE,
        ResponseTemplate::new(200).set_body_json(crate::fake::repo_json("mallory", "main")),
        1,
    )
    .await;

    let reason = permanent(fake.publisher().publish(&round_one()).await.unwrap_err());

    assert!(reason.contains("octo/site-abc123 is taken"), "{reason}");
    assert!(reason.contains("mallory"), "{reason}");
    assert!(!fake.calls().await.iter().any(|c| c.contains("/git/")));
}

#[tokio::test]
async fn an_empty_repository_is_retried_until_github_has_initialized_it() {
    let fake = FakeGithub::start().await;
    fake.state.lock().unwrap().empty_answers = 2;

    let published = fake.publisher().publish(&round_one()).await.unwrap();

    assert_eq!(
        fake.count(&format!("GET {BASE}/git/ref/heads/main")).await,
        3
    );
    assert_eq!(fake.main(), Some(published.commit_sha));
}

#[tokio::test]
async fn a_repository_that_stays_empty_is_retryable() {
    let fake = FakeGithub::start().await;
    fake.state.lock().unwrap().empty_answers = 100;

    let error = fake.publisher().publish(&round_one()).await.unwrap_err();

    assert!(
        matches!(&error, PublishError::Retryable { reason, .. } if reason.contains("initializing")),
        "{error:?}"
    );
    // Bounded: GithubOptions::init_attempts looks, then the job retries.
    assert_eq!(
        fake.count(&format!("GET {BASE}/git/ref/heads/main")).await,
        3
    );
    assert_eq!(fake.count(&format!("POST {BASE}/git/blobs")).await, 0);
}

#[tokio::test]
async fn a_non_fast_forward_refetches_main_and_commits_on_the_new_parent() {
    let fake = FakeGithub::start().await;
    // Someone pushes between our read of main and our update of it.
    let state = fake.state.clone();
    Mock::given(method("PATCH"))
        .and(path(format!("{BASE}/git/refs/heads/main")))
        .respond_with(move |_: &wiremock::Request| {
            state
                .lock()
                .unwrap()
                .commit_on_main(&[("README.md", b"pushed meanwhile")], "theirs");
            message(422, "Update is not a fast forward")
        })
        .up_to_n_times(1)
        .expect(1)
        .mount(&fake.api)
        .await;

    let published = fake.publisher().publish(&round_one()).await.unwrap();

    let bodies = fake.bodies("POST", &commits()).await;
    assert_eq!(bodies.len(), 2);
    let (main, theirs) = {
        let s = fake.state.lock().unwrap();
        let theirs = s.commits[&published.commit_sha].parents[0].clone();
        (s.main.clone(), theirs)
    };
    assert_eq!(bodies[1]["parents"], json!([theirs]));
    assert_ne!(bodies[0]["parents"], bodies[1]["parents"]);
    assert_eq!(bodies[0]["tree"], bodies[1]["tree"]);
    assert_eq!(main, Some(published.commit_sha));
    // The tree was uploaded once; only the commit was redone.
    assert_eq!(fake.count(&format!("POST {BASE}/git/trees")).await, 1);
    assert_eq!(
        fake.count(&format!("PATCH {BASE}/git/refs/heads/main"))
            .await,
        2
    );
}

#[tokio::test]
async fn main_is_created_when_the_owner_defaults_to_another_branch() {
    let fake = FakeGithub::start().await;
    fake.state.lock().unwrap().default_branch = "master".to_owned();

    let published = fake.publisher().publish(&round_one()).await.unwrap();

    let commit = &fake.bodies("POST", &commits()).await[0];
    assert_eq!(commit["parents"], json!([]));
    assert_eq!(
        fake.bodies("POST", &format!("{BASE}/git/refs")).await,
        [json!({ "ref": "refs/heads/main", "sha": published.commit_sha })]
    );
    assert_eq!(
        fake.count(&format!("PATCH {BASE}/git/refs/heads/main"))
            .await,
        0
    );
    assert_eq!(fake.files_on_main().len(), 3);
}

#[tokio::test]
async fn a_bundle_is_committed_exactly_as_given() {
    // `.nojekyll` is the manifest's to add (`manifest::build`), once for
    // every site; the publisher adds nothing of its own.
    let fake = FakeGithub::start().await;
    let bare = request(&[("index.html", b"hi")], "Round 1: hi");

    fake.publisher().publish(&bare).await.unwrap();

    let trees = fake.bodies("POST", &format!("{BASE}/git/trees")).await;
    let paths: Vec<&str> = trees[0]["tree"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["index.html"]);
    assert_eq!(
        fake.files_on_main(),
        [("index.html".to_owned(), b"hi".to_vec())]
    );
}
