//! What an evaluator's acceptance script does, against the whole system:
//! `POST /app`, wait for the callback, `git clone "$repo_url" && git
//! checkout "$commit_sha"`, then GET every file of the checkout at
//! `pages_url`. Then round 2 on the same task.

use std::{path::Path, time::Duration};

use e2e::{Stack, StackOptions, files_under};
use serde_json::Value;

const BRIEF_1: &str = "Publish a single-page site titled Score Board that shows the \
    scores in sample.csv as a table with id #scores.";
const BRIEF_2: &str = "Add a section with id #summary that shows the best score.";

// Several threads: the servers under test run in this runtime while the
// test waits on `git`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_app_request_is_published_cloneable_and_served_then_revised_in_round_two() {
    let stack = Stack::start(StackOptions::default()).await;
    let task = format!("score-board-{}", uuid::Uuid::new_v4().simple());

    // Round 1: accepted at once, then a callback with the publish.
    let accepted = stack
        .post_app(&stack.app_request(&task, 1, "nonce-round-1", BRIEF_1))
        .await;
    assert_eq!(accepted.status(), 200);
    let first = stack
        .evaluator
        .wait_for("nonce-round-1", Duration::from_secs(60))
        .await
        .body;
    assert_callback_fields(&first, &task, 1, "nonce-round-1");

    let scratch = tempfile::tempdir().unwrap();
    let checkout = scratch.path().join("round1");
    clone_and_checkout(&first, &checkout).await;
    let files = files_under(&checkout);
    for required in ["LICENSE", "README.md", "index.html", "sample.csv"] {
        assert!(
            files.iter().any(|f| f == required),
            "{required} in {files:?}"
        );
    }
    let license = std::fs::read_to_string(checkout.join("LICENSE")).unwrap();
    assert!(license.starts_with("MIT License"), "{license}");
    assert_eq!(
        std::fs::read(checkout.join("sample.csv")).unwrap(),
        b"name,score\nada,10\nbob,7\n",
        "the attachment is committed byte for byte"
    );
    assert_eq!(
        testkit::git_async(&checkout, &["rev-list", "--count", "HEAD"]).await,
        "1"
    );
    assert_every_file_is_served(&stack, &first, &checkout).await;

    // Round 2: the same repository and pages, one more commit.
    let accepted = stack
        .post_app(&stack.app_request(&task, 2, "nonce-round-2", BRIEF_2))
        .await;
    assert_eq!(accepted.status(), 200);
    let second = stack
        .evaluator
        .wait_for("nonce-round-2", Duration::from_secs(60))
        .await
        .body;
    assert_callback_fields(&second, &task, 2, "nonce-round-2");
    assert_eq!(second["repo_url"], first["repo_url"]);
    assert_eq!(second["pages_url"], first["pages_url"]);
    assert_ne!(second["commit_sha"], first["commit_sha"]);

    let checkout = scratch.path().join("round2");
    clone_and_checkout(&second, &checkout).await;
    assert_eq!(
        testkit::git_async(&checkout, &["rev-list", "--count", "HEAD"]).await,
        "2"
    );
    assert_eq!(
        testkit::git_async(&checkout, &["rev-parse", "HEAD~1"]).await,
        first["commit_sha"].as_str().unwrap(),
        "round 2's commit sits on round 1's"
    );
    let subject = testkit::git_async(&checkout, &["log", "-1", "--format=%s"]).await;
    assert!(subject.starts_with("Round 2"), "{subject}");
    assert_every_file_is_served(&stack, &second, &checkout).await;

    // Exactly one callback per request.
    let callbacks = stack.evaluator.accepted();
    assert_eq!(callbacks.len(), 2, "{callbacks:?}");
}

// Several threads: the servers under test run in this runtime while the
// test waits on `git`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replayed_request_is_published_and_called_back_once() {
    let stack = Stack::start(StackOptions::default()).await;
    let task = format!("replayed-{}", uuid::Uuid::new_v4().simple());
    let request = stack.app_request(&task, 1, "nonce-replayed", BRIEF_1);
    for _ in 0..3 {
        assert_eq!(stack.post_app(&request).await.status(), 200);
    }
    let callback = stack
        .evaluator
        .wait_for("nonce-replayed", Duration::from_secs(60))
        .await
        .body;
    let scratch = tempfile::tempdir().unwrap();
    let checkout = scratch.path().join("repo");
    clone_and_checkout(&callback, &checkout).await;
    assert_eq!(
        testkit::git_async(&checkout, &["rev-list", "--count", "HEAD"]).await,
        "1"
    );

    // Give a wrongly doubled job time to show itself before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(stack.evaluator.accepted().len(), 1);
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(&stack.db.pool)
        .await
        .unwrap();
    assert_eq!(jobs, 1);
}

fn assert_callback_fields(body: &Value, task: &str, round: i64, nonce: &str) {
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "commit_sha",
            "email",
            "nonce",
            "pages_url",
            "repo_url",
            "round",
            "task"
        ]
    );
    assert_eq!(body["email"], "student@example.com");
    assert_eq!(body["task"], task);
    assert_eq!(body["round"], round);
    assert_eq!(body["nonce"], nonce);
    let sha = body["commit_sha"].as_str().unwrap();
    assert!(
        sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
        "{sha}"
    );
}

/// `git clone "$repo_url" dir && git checkout "$commit_sha"`, as the
/// acceptance script runs it.
async fn clone_and_checkout(callback: &Value, dir: &Path) {
    let repo_url = callback["repo_url"].as_str().unwrap();
    let sha = callback["commit_sha"].as_str().unwrap();
    let target = dir.to_str().expect("a UTF-8 temporary path");
    testkit::git_async(Path::new("/"), &["clone", "--quiet", repo_url, target]).await;
    testkit::git_async(dir, &["checkout", "--quiet", sha]).await;
    assert_eq!(testkit::git_async(dir, &["rev-parse", "HEAD"]).await, sha);
}

/// GET every file of the checkout at `pages_url`: 200 and the same bytes.
async fn assert_every_file_is_served(stack: &Stack, callback: &Value, checkout: &Path) {
    let pages_url = callback["pages_url"].as_str().unwrap();
    assert!(pages_url.ends_with('/'), "{pages_url}");
    let files = files_under(checkout);
    assert!(!files.is_empty());
    for file in files {
        let url = format!("{pages_url}{file}");
        let response = stack.client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {url}");
        let served = response.bytes().await.unwrap();
        let committed = std::fs::read(checkout.join(&file)).unwrap();
        assert!(served == committed, "GET {url} differs from the commit");
    }
    // The site's root is its index.html.
    let root = stack.client.get(pages_url).send().await.unwrap();
    assert_eq!(root.status(), 200);
    assert_eq!(
        root.bytes().await.unwrap(),
        std::fs::read(checkout.join("index.html")).unwrap()
    );
}
