//! The pipeline with the real OpenAI-compatible client against a fake LLM.

use std::time::Duration;

use testkit::llm::{Llm, Reply};
use worker::{error::JobError, process::process};

use crate::helpers::{TestWorker, good_site, spawn_real};

async fn worker_with_llm(llm: &Llm) -> TestWorker {
    spawn_real(&[
        ("LLM_BASE_URL", llm.url()),
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
    let llm = Llm::start().await;
    llm.reply_next([
        Reply::status(503),
        Reply::completion(&format!(
            "Here you go:\n```json\n{}\n```",
            testkit::llm::manifest(&good_site("From the LLM"))
        )),
    ]);
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
    assert_eq!(llm.calls(), 2, "the 503, then the site");
}

#[tokio::test]
async fn garbage_twice_falls_back_to_the_builtin_generator() {
    let llm = Llm::start().await;
    llm.reply_always(Reply::completion(
        "I'm sorry, I can't help with websites today.",
    ));
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
    assert_eq!(llm.calls(), 2);
}

#[tokio::test]
async fn traversal_paths_from_a_real_llm_answer_are_refused() {
    let llm = Llm::start().await;
    llm.reply_always(Reply::site(&[
        ("../../etc/passwd", "root::0:0"),
        ("index.html", "<html></html>"),
    ]));
    let w = worker_with_llm(&llm).await;
    let job = w.prompt("A site", None).await;
    let err = process(&w.env, job).await.unwrap_err();
    assert!(err.to_string().contains("../../etc/passwd"), "{err}");
    process(&w.env, job).await.unwrap();
    assert_eq!(generator_of(&w, job).await, "builtin");
    assert_eq!(llm.calls(), 2);
}

#[tokio::test]
async fn an_llm_that_times_out_is_a_retryable_failure() {
    let llm = Llm::start().await;
    llm.reply_always(Reply::site(&good_site("Too late")).after(Duration::from_secs(5)));
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
async fn throttling_llm(retry_after: &str) -> Llm {
    let llm = Llm::start().await;
    llm.reply_next([Reply::status(429).with_header("retry-after", retry_after)]);
    llm.reply_always(Reply::site(&good_site("After the wait")));
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
