//! Approval, the local publisher and the evaluation callback.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};
use testkit::evaluator::Evaluator;
use worker::{
    error::JobError,
    process::process,
    publish::{PagesStatus, PublishError, PublishRequest, Published, Publisher},
};

use crate::helpers::{Step, TestWorker, good_site, spawn};

/// The shared fake evaluator, refusing the first `failures` callbacks of
/// each nonce with 503, and the URL to call it back at.
async fn evaluator(failures: usize) -> (Evaluator, String) {
    let (eval, url) = Evaluator::start().await;
    eval.refuse_first(failures);
    (eval, url)
}

/// The bodies of the callbacks it accepted, in the order they came.
fn callbacks(eval: &Evaluator) -> Vec<Value> {
    eval.accepted().into_iter().map(|c| c.body).collect()
}

async fn published(w: &TestWorker, job: uuid::Uuid) -> (String, String, String, String) {
    sqlx::query_as(
        "SELECT repo_url, commit_sha, pages_url, pages_status FROM publishes WHERE job_id = $1",
    )
    .bind(job)
    .fetch_one(&w.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn an_app_job_is_published_locally_and_called_back_with_the_exact_body() {
    let w = spawn(
        vec![Step::Files(good_site("Dated"))],
        vec![],
        &[("CALLBACK_ALLOW_PRIVATE", "true")],
    )
    .await;
    let (eval, url) = evaluator(0).await;
    let job = w.app_job("dated-page", 1, "n-1", &url, 600.0).await;

    process(&w.env, job).await.unwrap();

    assert_eq!(w.state(job).await, "published");
    let (repo_url, sha, pages_url, pages_status) = published(&w, job).await;
    assert!(
        repo_url.starts_with("http://127.0.0.1:8082/git/dated-page-") && repo_url.ends_with(".git"),
        "{repo_url}"
    );
    assert!(
        pages_url.starts_with("http://127.0.0.1:8082/dated-page-") && pages_url.ends_with('/'),
        "{pages_url}"
    );
    assert_eq!(pages_status, "built");
    assert_eq!(sha.len(), 40);

    let bodies = callbacks(&eval);
    assert_eq!(bodies.len(), 1);
    assert_eq!(
        bodies[0],
        json!({"email": "student@example.com", "task": "dated-page", "round": 1, "nonce": "n-1",
               "repo_url": repo_url, "commit_sha": sha, "pages_url": pages_url})
    );
    assert_eq!(eval.accepted()[0].content_type, "application/json");

    // The repository is real: clone it, check out the commit, compare bytes.
    let repo_name = repo_url
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".git");
    let bare = w
        .data_dir
        .path()
        .join("repos")
        .join(format!("{repo_name}.git"));
    let clone_dir = tempfile::tempdir().unwrap();
    testkit::git(
        clone_dir.path(),
        &["clone", "-q", bare.to_str().unwrap(), "site"],
    );
    let site = clone_dir.path().join("site");
    testkit::git(&site, &["checkout", "-q", &sha]);
    let version = w.version_of(job).await;
    for file in &version.files {
        let path = pagesmith::domain::SitePath::parse(&file.path).unwrap();
        let expected = w.env.bundles.disk().read(&version.bundle, &path).unwrap();
        assert_eq!(
            std::fs::read(site.join(&file.path)).unwrap(),
            expected,
            "{}",
            file.path
        );
    }
    assert_eq!(
        testkit::git(&site, &["rev-list", "--count", "HEAD"]),
        "1",
        "one commit for the round"
    );
    assert!(testkit::git(&site, &["log", "-1", "--format=%s"]).starts_with("Round 1: dated-page"));
    // And the pages are the same files.
    let pages = w.data_dir.path().join("pages").join(repo_name);
    assert_eq!(
        std::fs::read(pages.join("index.html")).unwrap(),
        std::fs::read(site.join("index.html")).unwrap()
    );

    // A duplicate delivery sends no second callback and makes no second commit.
    process(&w.env, job).await.unwrap();
    assert_eq!(callbacks(&eval).len(), 1);
    assert_eq!(
        testkit::git(
            &site,
            &["ls-remote", bare.to_str().unwrap(), "refs/heads/main"]
        )
        .split('\t')
        .next()
        .unwrap(),
        sha
    );
}

#[tokio::test]
async fn round_two_commits_to_the_same_repository() {
    let w = spawn(
        vec![Step::Files(good_site("One")), Step::Files(good_site("Two"))],
        vec![],
        &[("CALLBACK_ALLOW_PRIVATE", "true")],
    )
    .await;
    let (eval, url) = evaluator(0).await;
    let round1 = w.app_job("revised-task", 1, "a", &url, 600.0).await;
    process(&w.env, round1).await.unwrap();
    let round2 = w.app_job("revised-task", 2, "b", &url, 600.0).await;
    process(&w.env, round2).await.unwrap();

    let (repo1, sha1, pages1, _) = published(&w, round1).await;
    let (repo2, sha2, pages2, _) = published(&w, round2).await;
    assert_eq!(
        (repo1.as_str(), pages1.as_str()),
        (repo2.as_str(), pages2.as_str())
    );
    assert_ne!(sha1, sha2);
    let requests = w.llm.requests.lock().unwrap().clone();
    assert!(
        requests[1]
            .previous_files
            .iter()
            .any(|f| f.content.contains("<h1>One</h1>")),
        "round 2 sees round 1"
    );
    let bodies = callbacks(&eval);
    assert_eq!(
        bodies
            .iter()
            .map(|b| b["round"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2]
    );
}

#[tokio::test]
async fn a_callback_the_evaluator_accepted_is_not_sent_again_when_recording_it_fails_once() {
    let w = spawn(
        vec![Step::Files(good_site("A"))],
        vec![],
        &[("CALLBACK_ALLOW_PRIVATE", "true")],
    )
    .await;
    let (eval, url) = evaluator(0).await;
    // The first write of an accepted callback fails, as when the pool is
    // exhausted; nextval is not rolled back with the failed statement.
    sqlx::raw_sql(
        r#"CREATE SEQUENCE deliveries_seen;
           CREATE FUNCTION fail_first_delivery() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
               IF NEW.status_code = 200 AND nextval('deliveries_seen') = 1 THEN
                   RAISE EXCEPTION 'injected: the database failed once';
               END IF;
               RETURN NEW;
           END $$;
           CREATE TRIGGER fail_first_delivery BEFORE INSERT ON callback_attempts
               FOR EACH ROW EXECUTE FUNCTION fail_first_delivery();"#,
    )
    .execute(&w.db.pool)
    .await
    .unwrap();
    let job = w.app_job("once-task", 1, "n", &url, 600.0).await;
    let first = process(&w.env, job).await;
    // A redelivery of the job, as after a failed run.
    process(&w.env, job).await.unwrap();
    assert!(first.is_ok(), "{first:?}");
    assert_eq!(callbacks(&eval).len(), 1, "sent once");
    let failed_writes: i64 = sqlx::query_scalar("SELECT last_value FROM deliveries_seen")
        .fetch_one(&w.db.pool)
        .await
        .unwrap();
    assert_eq!(
        failed_writes, 2,
        "the first write failed and a retry wrote it"
    );
    let delivered: Vec<Option<i32>> =
        sqlx::query_scalar("SELECT status_code FROM callback_attempts WHERE job_id = $1")
            .bind(job)
            .fetch_all(&w.db.pool)
            .await
            .unwrap();
    assert_eq!(delivered, [Some(200)]);
}

#[tokio::test]
async fn a_failing_evaluator_is_retried_until_it_accepts() {
    let w = spawn(
        vec![Step::Files(good_site("A"))],
        vec![],
        &[("CALLBACK_ALLOW_PRIVATE", "true")],
    )
    .await;
    let (eval, url) = evaluator(3).await;
    let job = w.app_job("retry-task", 1, "n", &url, 600.0).await;
    process(&w.env, job).await.unwrap();
    assert_eq!(
        (eval.refused("n"), callbacks(&eval).len()),
        (3, 1),
        "3 refused, then 1 accepted"
    );
    let attempts: Vec<(i32, Option<i32>, i64)> =
        sqlx::query_as("SELECT attempt, status_code, deadline_margin_ms FROM callback_attempts WHERE job_id = $1 ORDER BY attempt")
            .bind(job)
            .fetch_all(&w.db.pool)
            .await
            .unwrap();
    let codes: Vec<Option<i32>> = attempts.iter().map(|a| a.1).collect();
    assert_eq!(codes, [Some(503), Some(503), Some(503), Some(200)]);
    assert!(
        attempts.iter().all(|a| a.2 > 0),
        "every attempt was before the deadline"
    );
    // Delays of 1, 2 and 4 s between them, each jittered by up to 25 %.
    assert!(attempts[0].2 - attempts[3].2 >= 5_250, "{attempts:?}");
}

#[tokio::test]
async fn callbacks_stop_at_the_deadline() {
    let w = spawn(
        vec![Step::Files(good_site("A"))],
        vec![],
        &[
            ("CALLBACK_ALLOW_PRIVATE", "true"),
            ("APP_PUBLISH_RESERVE_SECS", "0"),
        ],
    )
    .await;
    let (eval, url) = evaluator(1000).await;
    let job = w.app_job("late-task", 1, "n", &url, 4.0).await;
    let started = std::time::Instant::now();
    let err = process(&w.env, job).await.unwrap_err();
    assert!(
        matches!(err, JobError::Permanent { .. }) && err.to_string().contains("deadline"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "it stopped at the deadline"
    );
    let status: String =
        sqlx::query_scalar("SELECT callback_status FROM app_requests WHERE job_id = $1")
            .bind(job)
            .fetch_one(&w.db.pool)
            .await
            .unwrap();
    assert_eq!(status, "failed");
    let late: i64 = w.count(&format!("SELECT count(*) FROM callback_attempts WHERE job_id = '{job}' AND deadline_margin_ms <= 0")).await;
    assert_eq!(late, 0, "no attempt after the deadline");
    assert!(eval.refused("n") >= 1, "it did try before the deadline");
    assert!(callbacks(&eval).is_empty());
}

#[tokio::test]
async fn a_callback_to_a_private_address_is_refused_unless_allowed() {
    let w = spawn(vec![Step::Files(good_site("A"))], vec![], &[]).await;
    let (eval, url) = evaluator(0).await;
    let job = w.app_job("ssrf-task", 1, "n", &url, 600.0).await;
    let err = process(&w.env, job).await.unwrap_err();
    assert!(err.to_string().contains("private address"), "{err}");
    assert!(callbacks(&eval).is_empty(), "nothing was sent");
}

#[tokio::test]
async fn with_review_required_an_unapproved_app_job_expires_without_a_callback() {
    let w = spawn(
        vec![Step::Files(good_site("A"))],
        vec![],
        &[
            ("CALLBACK_ALLOW_PRIVATE", "true"),
            ("APP_REQUIRE_REVIEW", "true"),
            ("REVIEWER_CHAT_ID", "555"),
            ("APP_REVIEW_MARGIN_SECS", "1"),
            ("APP_PUBLISH_RESERVE_SECS", "0"),
        ],
    )
    .await;
    let (eval, url) = evaluator(0).await;
    let job = w.app_job("review-task", 1, "n", &url, 3.0).await;
    let first = process(&w.env, job).await.unwrap_err();
    assert!(matches!(first, JobError::Deferred { .. }), "{first:?}");
    assert_eq!(w.state(job).await, "preview_ready");
    let calls = w.telegram_calls().await;
    assert!(
        calls.iter().any(
            |(_, b)| b["chat_id"] == 555 && b["text"].as_str().unwrap().contains("review-task")
        ),
        "announced to the reviewer"
    );

    tokio::time::sleep(Duration::from_secs(3)).await;
    process(&w.env, job).await.unwrap();
    assert_eq!(w.state(job).await, "expired");
    assert!(
        callbacks(&eval).is_empty(),
        "no callback claims a publish that did not happen"
    );
    let last = w.telegram_calls().await.last().unwrap().1.clone();
    assert!(
        last["text"].as_str().unwrap().contains("expired"),
        "the reviewer is told"
    );
}

/// The local publisher, with Pages that never confirm: `wait_for_pages`
/// waits until it is told to stop and says `Pending`.
struct SlowPages {
    inner: Arc<dyn Publisher>,
    waited_until: Mutex<Option<tokio::time::Instant>>,
}

#[async_trait::async_trait]
impl Publisher for SlowPages {
    fn name(&self) -> &'static str {
        "slow-pages"
    }

    async fn publish(&self, request: &PublishRequest) -> Result<Published, PublishError> {
        self.inner.publish(request).await
    }

    async fn wait_for_pages(
        &self,
        _published: &Published,
        until: tokio::time::Instant,
    ) -> Result<PagesStatus, PublishError> {
        *self.waited_until.lock().unwrap() = Some(until);
        tokio::time::sleep_until(until).await;
        Ok(PagesStatus::Pending)
    }
}

#[tokio::test]
async fn slow_pages_still_get_a_callback_at_the_cutoff_with_pages_pending() {
    let w = spawn(
        vec![Step::Files(good_site("Slow"))],
        vec![],
        // The cut-off, normally 8 minutes after receipt, made short.
        &[
            ("CALLBACK_ALLOW_PRIVATE", "true"),
            ("PAGES_CUTOFF_SECS", "2"),
        ],
    )
    .await;
    let slow = Arc::new(SlowPages {
        inner: w.env.publisher.clone(),
        waited_until: Mutex::new(None),
    });
    let w = w.with_publisher(slow.clone());
    let (eval, url) = evaluator(0).await;
    let started = tokio::time::Instant::now();
    let job = w.app_job("slow-pages", 1, "n-slow", &url, 600.0).await;

    process(&w.env, job).await.unwrap();

    let waited_until = slow
        .waited_until
        .lock()
        .unwrap()
        .expect("pages were awaited");
    // The cut-off is 2 s after receipt; the deadline, 600 s. (The receipt
    // time comes from PostgreSQL's clock, a moment after `started`.)
    assert!(
        waited_until > started + Duration::from_secs(1)
            && waited_until < started + Duration::from_secs(10),
        "the wait ends at the cut-off, not at the deadline: {:?} after the start",
        waited_until - started
    );
    let (repo_url, sha, pages_url, pages_status) = published(&w, job).await;
    assert_eq!(pages_status, "pending", "recorded as not yet confirmed");
    assert_eq!(w.state(job).await, "published");
    let bodies = callbacks(&eval);
    assert_eq!(
        bodies,
        [
            json!({"email": "student@example.com", "task": "slow-pages", "round": 1, "nonce": "n-slow",
                "repo_url": repo_url, "commit_sha": sha, "pages_url": pages_url})
        ]
    );
}
