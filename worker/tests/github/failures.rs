//! Refusals and outages: what is retried (and when), what is permanent, and
//! that nothing is repeated blindly.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::SecretString;
use wiremock::ResponseTemplate;
use worker::publish::{
    Publisher,
    github::{GithubPublisher, GithubSettings},
};

use crate::{
    fake::{FakeGithub, Publishers, TOKEN, message},
    permanent, retry_after, round_one,
};

#[tokio::test]
async fn a_secondary_rate_limit_is_retryable_after_its_retry_after() {
    let fake = FakeGithub::start().await;
    fake.answer("POST", "/user/repos", message(403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.").insert_header("retry-after", "42"), 1).await;

    let error = fake.publisher().publish(&round_one()).await.unwrap_err();

    assert_eq!(retry_after(&error), Some(Duration::from_secs(42)));
    assert_eq!(fake.calls().await, ["GET /user", "POST /user/repos"]);
}

#[tokio::test]
async fn an_exhausted_rate_limit_is_retryable_after_its_reset() {
    let fake = FakeGithub::start().await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    fake.answer(
        "GET",
        "/user",
        message(403, "API rate limit exceeded for user ID 1.")
            .insert_header("x-ratelimit-remaining", "0")
            .insert_header("x-ratelimit-reset", (now + 300).to_string().as_str()),
        1,
    )
    .await;

    let error = fake.publisher().publish(&round_one()).await.unwrap_err();

    let wait = retry_after(&error).unwrap();
    assert!(
        (Duration::from_secs(299)..=Duration::from_secs(302)).contains(&wait),
        "{wait:?}"
    );
}

#[tokio::test]
async fn a_rate_limited_commit_is_retryable_and_a_retry_completes_it() {
    let fake = FakeGithub::start().await;
    fake.answer(
        "POST",
        &format!("{}/git/commits", crate::fake::BASE),
        message(429, "Too many requests").insert_header("retry-after", "7"),
        1,
    )
    .await;
    let publisher = fake.publisher();

    let error = publisher.publish(&round_one()).await.unwrap_err();
    assert_eq!(retry_after(&error), Some(Duration::from_secs(7)));
    let published = publisher.publish(&round_one()).await.unwrap();

    assert_eq!(fake.main(), Some(published.commit_sha));
}

#[tokio::test]
async fn a_server_error_is_retryable_and_the_repository_post_is_not_repeated() {
    let fake = FakeGithub::start().await;
    fake.answer("POST", "/user/repos", message(502, "Server Error"), 1)
        .await;

    let error = fake.publisher().publish(&round_one()).await.unwrap_err();

    assert_eq!(retry_after(&error), None);
    assert_eq!(fake.calls().await, ["GET /user", "POST /user/repos"]);
}

#[tokio::test]
async fn a_timeout_is_retryable_and_the_repository_post_is_not_repeated() {
    let fake = FakeGithub::start().await;
    fake.answer(
        "POST",
        "/user/repos",
        ResponseTemplate::new(201).set_delay(Duration::from_secs(4)),
        1,
    )
    .await;

    let started = std::time::Instant::now();
    let error = fake.publisher().publish(&round_one()).await.unwrap_err();

    assert_eq!(retry_after(&error), None);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the request timeout (2s) applies"
    );
}

#[tokio::test]
async fn an_unreachable_github_is_retryable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let settings = GithubSettings {
        token: SecretString::from(TOKEN),
        owner: "octo".to_owned(),
        api_url: api_url.parse().unwrap(),
    };
    let publisher = GithubPublisher::with_options(settings, crate::fake::options()).unwrap();

    let error = publisher.publish(&round_one()).await.unwrap_err();

    assert_eq!(retry_after(&error), None);
}

#[tokio::test]
async fn bad_credentials_are_permanent_and_name_the_token() {
    let fake = FakeGithub::start().await;
    fake.answer("GET", "/user", message(401, "Bad credentials"), 1)
        .await;

    let reason = permanent(fake.publisher().publish(&round_one()).await.unwrap_err());

    assert!(reason.contains("GITHUB_TOKEN"), "{reason}");
    assert!(reason.contains("Bad credentials"), "{reason}");
    assert_eq!(fake.calls().await, ["GET /user"]);
}

#[tokio::test]
async fn a_token_without_permission_is_permanent() {
    let fake = FakeGithub::start().await;
    fake.answer(
        "POST",
        "/user/repos",
        message(403, "Resource not accessible by personal access token"),
        1,
    )
    .await;

    let reason = permanent(fake.publisher().publish(&round_one()).await.unwrap_err());

    assert!(reason.contains("Resource not accessible"), "{reason}");
    assert!(
        reason.contains("GITHUB_TOKEN lacks the permission"),
        "{reason}"
    );
}

#[tokio::test]
async fn an_unknown_organization_is_permanent_and_names_the_owner() {
    let fake = FakeGithub::start().await;
    fake.answer("POST", "/orgs/acme/repos", message(404, "Not Found"), 1)
        .await;

    let reason = permanent(
        fake.publisher_for("acme")
            .publish(&round_one())
            .await
            .unwrap_err(),
    );

    assert!(reason.contains("GITHUB_OWNER `acme`"), "{reason}");
    assert!(
        reason.contains("`octo`"),
        "names the token's user: {reason}"
    );
}

#[tokio::test]
async fn the_token_user_is_asked_once() {
    let fake = FakeGithub::start().await;
    let publisher = fake.publisher();

    publisher.publish(&round_one()).await.unwrap();
    publisher.publish(&crate::round_two()).await.unwrap();

    assert_eq!(fake.count("GET /user").await, 1);
}
