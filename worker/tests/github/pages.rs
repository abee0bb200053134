//! Waiting for GitHub Pages: the latest build must be of our commit and
//! built, then the pages themselves must answer — or `Pending` at the
//! deadline.

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;
use wiremock::{
    Mock, ResponseTemplate,
    matchers::{method, path},
};
use worker::publish::{PagesStatus, PublishError, Published, Publisher};

use crate::fake::{BASE, FakeGithub, Publishers, REPO};

const OURS: &str = "1111111111111111111111111111111111111111";
const OLDER: &str = "2222222222222222222222222222222222222222";

fn published(fake: &FakeGithub) -> Published {
    Published {
        repo_url: "https://github.com/octo/site-abc123".to_owned(),
        commit_sha: OURS.to_owned(),
        pages_url: fake.pages_url(),
    }
}

fn build(status: &str, commit: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "url": "https://api.github.com/repos/octo/site-abc123/pages/builds/5",
        "status": status,
        "error": { "message": null },
        "commit": commit,
    }))
}

/// `wait_for_pages` for our commit, with `within` to go.
async fn wait(fake: &FakeGithub, within: Duration) -> Result<PagesStatus, PublishError> {
    let until = Instant::now() + within;
    fake.publisher()
        .wait_for_pages(&published(fake), until)
        .await
}

async fn latest_build(fake: &FakeGithub, answer: ResponseTemplate, times: Option<u64>) {
    let mock = Mock::given(method("GET"))
        .and(path(format!("{BASE}/pages/builds/latest")))
        .respond_with(answer);
    let mock = match times {
        Some(n) => mock.up_to_n_times(n),
        None => mock,
    };
    mock.mount(&fake.api).await;
}

async fn site_answers(fake: &FakeGithub, status: u16, times: Option<u64>) {
    let mock = Mock::given(method("GET"))
        .and(path(format!("/{REPO}/")))
        .respond_with(ResponseTemplate::new(status).set_body_string("<h1>Sales</h1>"));
    let mock = match times {
        Some(n) => mock.up_to_n_times(n),
        None => mock,
    };
    mock.mount(&fake.site).await;
}

#[tokio::test]
async fn pages_are_built_once_the_latest_build_is_ours_and_the_site_answers() {
    let fake = FakeGithub::start().await;
    // The previous round's build, ours being built, ours built.
    latest_build(&fake, build("built", OLDER), Some(1)).await;
    latest_build(&fake, build("building", OURS), Some(2)).await;
    latest_build(&fake, build("built", OURS), None).await;
    // The CDN lags the build once.
    site_answers(&fake, 404, Some(1)).await;
    site_answers(&fake, 200, None).await;

    let status = wait(&fake, Duration::from_secs(10)).await.unwrap();

    assert_eq!(status, PagesStatus::Built);
    let builds = format!("GET {BASE}/pages/builds/latest");
    assert_eq!(fake.count(&builds).await, 4);
    let site = fake.site.received_requests().await.unwrap();
    assert_eq!(site.len(), 2);
    assert!(
        site.iter()
            .all(|r| !r.headers.contains_key("authorization")),
        "the token is only for the API"
    );
}

#[tokio::test]
async fn pages_are_pending_at_the_deadline() {
    let fake = FakeGithub::start().await;
    latest_build(&fake, build("building", OURS), None).await;
    site_answers(&fake, 200, None).await;

    let started = Instant::now();
    let status = wait(&fake, Duration::from_millis(300)).await.unwrap();

    assert_eq!(status, PagesStatus::Pending);
    let took = started.elapsed();
    assert!(
        (Duration::from_millis(300)..Duration::from_millis(800)).contains(&took),
        "{took:?}"
    );
    assert!(fake.count(&format!("GET {BASE}/pages/builds/latest")).await >= 3);
    assert!(
        fake.site.received_requests().await.unwrap().is_empty(),
        "the pages are not asked before the build is ours"
    );
}

#[tokio::test]
async fn pages_built_but_not_yet_served_are_pending_at_the_deadline() {
    let fake = FakeGithub::start().await;
    latest_build(&fake, build("built", OURS), None).await;
    site_answers(&fake, 404, None).await;

    let status = wait(&fake, Duration::from_millis(200)).await.unwrap();

    assert_eq!(status, PagesStatus::Pending);
    // Once built, only the pages are polled.
    assert_eq!(
        fake.count(&format!("GET {BASE}/pages/builds/latest")).await,
        1
    );
    assert!(fake.site.received_requests().await.unwrap().len() >= 2);
}

#[tokio::test]
async fn a_failed_pages_build_is_reported() {
    let fake = FakeGithub::start().await;
    let errored = ResponseTemplate::new(200).set_body_json(json!({
        "status": "errored",
        "error": { "message": "Page build failed." },
        "commit": OURS,
    }));
    latest_build(&fake, errored, None).await;

    let error = wait(&fake, Duration::from_secs(10)).await.unwrap_err();

    assert!(
        matches!(&error, PublishError::Permanent(m) if m.contains("Page build failed.")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_rate_limited_poll_waits_and_polls_again() {
    let fake = FakeGithub::start().await;
    let limited = ResponseTemplate::new(403)
        .set_body_json(json!({ "message": "You have exceeded a secondary rate limit." }))
        .insert_header("retry-after", "0");
    latest_build(&fake, limited, Some(1)).await;
    latest_build(&fake, build("built", OURS), None).await;
    site_answers(&fake, 200, None).await;

    let status = wait(&fake, Duration::from_secs(10)).await.unwrap();

    assert_eq!(status, PagesStatus::Built);
    assert_eq!(
        fake.count(&format!("GET {BASE}/pages/builds/latest")).await,
        2
    );
}
