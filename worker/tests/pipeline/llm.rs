//! The pipeline with the real OpenAI-compatible client against a fake LLM.

use std::time::Duration;

use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};
use worker::{error::JobError, process::process};

use crate::helpers::{TestWorker, good_site, spawn_real};

/// A chat-completions answer whose message content is `content`.
fn completion(content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "c1", "object": "chat.completion", "model": "test-model",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}]
    }))
}

fn manifest(files: &[(&str, String)]) -> String {
    let files: Vec<_> = files
        .iter()
        .map(|(p, c)| json!({"path": p, "content": c}))
        .collect();
    json!({ "files": files }).to_string()
}

async fn worker_with_llm(llm: &MockServer) -> TestWorker {
    let base = format!("{}/v1", llm.uri());
    spawn_real(&[
        ("LLM_BASE_URL", base.as_str()),
        ("LLM_MODEL", "test-model"),
        ("LLM_TIMEOUT_SECS", "2"),
    ])
    .await
}

async fn generator_of(w: &TestWorker, job: uuid::Uuid) -> String {
    w.version_of(job).await.generator
}

#[tokio::test]
async fn a_503_from_the_llm_is_retried_and_the_second_answer_is_used() {
    let llm = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&llm)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(completion(&format!(
            "Here you go:\n```json\n{}\n```",
            manifest(&good_site("From the LLM"))
        )))
        .with_priority(2)
        .expect(1)
        .mount(&llm)
        .await;
    let w = worker_with_llm(&llm).await;
    let job = w.prompt("A site", None).await;

    let first = process(&w.env, job).await.unwrap_err();
    assert!(
        matches!(first, JobError::Retryable { .. }) && first.to_string().contains("503"),
        "{first}"
    );
    process(&w.env, job).await.unwrap();
    assert_eq!(generator_of(&w, job).await, "llm:test-model");
    let version = w.version_of(job).await;
    let index = w
        .env
        .bundles
        .disk()
        .read(
            &version.bundle,
            &pagesmith::domain::SitePath::parse("index.html").unwrap(),
        )
        .unwrap();
    assert!(String::from_utf8(index).unwrap().contains("From the LLM"));
}

#[tokio::test]
async fn garbage_twice_falls_back_to_the_builtin_generator() {
    let llm = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(completion("I'm sorry, I can't help with websites today."))
        .expect(2)
        .mount(&llm)
        .await;
    let w = worker_with_llm(&llm).await;
    let job = w.prompt("A bakery site", None).await;
    let first = process(&w.env, job).await.unwrap_err();
    assert!(matches!(first, JobError::Retryable { .. }), "{first:?}");
    process(&w.env, job).await.unwrap();
    assert_eq!(generator_of(&w, job).await, "builtin");
    assert!(
        w.version_of(job).await.checks.iter().all(|c| c.passed),
        "the built-in site passes its checks"
    );
}

#[tokio::test]
async fn traversal_paths_from_a_real_llm_answer_are_refused() {
    let llm = MockServer::start().await;
    let evil = manifest(&[
        ("../../etc/passwd", "root::0:0".into()),
        ("index.html", "<html></html>".into()),
    ]);
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(completion(&evil))
        .expect(2)
        .mount(&llm)
        .await;
    let w = worker_with_llm(&llm).await;
    let job = w.prompt("A site", None).await;
    let err = process(&w.env, job).await.unwrap_err();
    assert!(err.to_string().contains("../../etc/passwd"), "{err}");
    process(&w.env, job).await.unwrap();
    assert_eq!(generator_of(&w, job).await, "builtin");
}

#[tokio::test]
async fn an_llm_that_times_out_is_a_retryable_failure() {
    let llm = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            completion(&manifest(&good_site("Too late"))).set_delay(Duration::from_secs(5)),
        )
        .mount(&llm)
        .await;
    let w = worker_with_llm(&llm).await;
    let job = w.prompt("A site", None).await;
    let started = std::time::Instant::now();
    let err = process(&w.env, job).await.unwrap_err();
    assert!(matches!(err, JobError::Retryable { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "cut at LLM_TIMEOUT_SECS"
    );
    assert_eq!(w.state(job).await, "generating");
}

/// An LLM that answers 429 with `retry_after` once, then a site.
async fn throttling_llm(retry_after: &str) -> MockServer {
    let llm = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", retry_after))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&llm)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(completion(&manifest(&good_site("After the wait"))))
        .with_priority(2)
        .mount(&llm)
        .await;
    llm
}

fn not_before(error: &JobError) -> Option<Duration> {
    match error {
        JobError::Retryable { not_before, .. } => *not_before,
        other => panic!("not retryable: {other:?}"),
    }
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_when_the_provider_said() {
    let llm = throttling_llm("7").await;
    let w = worker_with_llm(&llm).await;
    let job = w.prompt("A bakery site", None).await;
    let first = process(&w.env, job).await.unwrap_err();
    assert_eq!(not_before(&first), Some(Duration::from_secs(7)), "{first}");
    process(&w.env, job).await.unwrap();
    assert_eq!(generator_of(&w, job).await, "llm:test-model");

    // An HTTP date works as well: the wait is what is left until then,
    // however long the set-up took (the date has whole seconds).
    let started = std::time::Instant::now();
    let when = (chrono::Utc::now() + chrono::Duration::seconds(40)).to_rfc2822();
    let llm = throttling_llm(&when.replace("+0000", "GMT")).await;
    let w = worker_with_llm(&llm).await;
    let job = w.prompt("A bakery site", None).await;
    let wait = not_before(&process(&w.env, job).await.unwrap_err()).unwrap();
    let least = Duration::from_secs(39).saturating_sub(started.elapsed());
    assert!(
        (least..=Duration::from_secs(40)).contains(&wait),
        "{wait:?}, expected between {least:?} and 40 s"
    );
}

#[tokio::test]
async fn a_retry_after_past_the_deadline_falls_back_to_the_usual_tiers() {
    let llm = throttling_llm("600").await;
    let w = worker_with_llm(&llm).await;
    // 150 s publish reserve + 100 s: the LLM may be asked, but not in 10 minutes.
    let job = w
        .app_job("throttled", 1, "n-1", "http://127.0.0.1:9/notify", 250.0)
        .await;
    let first = process(&w.env, job).await.unwrap_err();
    assert_eq!(not_before(&first), None, "{first}");
}
