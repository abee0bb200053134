//! The real LLM client against a local fake chat-completions server.

use std::{sync::Arc, time::Duration};

use pagesmith::domain::SitePath;
use secrecy::SecretString;
use serde_json::{Value, json};
use testkit::llm::{Llm, Reply};
use worker::generator::{
    Attachment, GenerateError, GeneratedFile, Generator, SiteRequest,
    llm::{LlmGenerator, LlmSettings},
};

const KEY: &str = "sk-test-0123456789";
const MANIFEST: &str =
    r#"{"files":[{"path":"index.html","content":"<!doctype html><title>Sales</title>"}]}"#;

fn settings(server: &Llm, timeout: Duration) -> LlmSettings {
    LlmSettings {
        base_url: server.url().parse().unwrap(),
        api_key: SecretString::from(KEY),
        model: "test-model".to_owned(),
        timeout,
    }
}

fn generator(server: &Llm) -> LlmGenerator {
    LlmGenerator::new(settings(server, Duration::from_secs(10))).unwrap()
}

fn request() -> SiteRequest {
    SiteRequest {
        brief: "Publish a page that sums the sales in data.csv.".to_owned(),
        checks: vec![
            "js: document.querySelector(\"#total-sales\").textContent == \"60\"".to_owned(),
            "Repo has MIT license".to_owned(),
        ],
        attachments: vec![Attachment {
            name: SitePath::parse("data.csv").unwrap(),
            media_type: "text/csv".to_owned(),
            data: Arc::new(b"product,sales\nwidget,10\ngadget,50\n".to_vec()),
        }],
        round: 1,
        owner: "octo".to_owned(),
        ..SiteRequest::default()
    }
}

/// The fake, answering every call with `reply`; checked when dropped to
/// have been called exactly `calls` times.
struct Answering {
    llm: Llm,
    calls: usize,
}

impl std::ops::Deref for Answering {
    type Target = Llm;

    fn deref(&self) -> &Llm {
        &self.llm
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert_eq!(self.llm.calls(), self.calls, "calls to the LLM");
        }
    }
}

/// The fake answering `reply`, to be called once.
async fn answering(reply: Reply) -> Answering {
    let llm = Llm::start().await;
    llm.reply_always(reply);
    Answering { llm, calls: 1 }
}

/// The fake answering `replies` in turn, to be called once for each.
async fn replying(replies: Vec<Reply>) -> Answering {
    let llm = Llm::start().await;
    let calls = replies.len();
    llm.reply_next(replies);
    Answering { llm, calls }
}

fn bodies(server: &Llm) -> Vec<Value> {
    server.requests().into_iter().map(|r| r.body).collect()
}

/// Whether `body` has every top-level field of `fields`, equal.
fn has_fields(body: &Value, fields: &Value) -> bool {
    fields
        .as_object()
        .unwrap()
        .iter()
        .all(|(name, value)| &body[name] == value)
}

#[tokio::test]
async fn a_generation_sends_the_model_the_rules_and_the_whole_request() {
    let server = answering(Reply::completion(MANIFEST)).await;
    let generator = generator(&server);

    let generated = generator.generate(&request()).await.unwrap();

    assert_eq!(generated.generator, "llm:test-model");
    assert_eq!(generated.files.len(), 1);
    assert_eq!(generated.files[0].path, "index.html");
    assert_eq!(generated.raw_output.as_deref(), Some(MANIFEST));
    let sent = &server.requests()[0];
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let body = &sent.body;
    assert!(has_fields(
        body,
        &json!({"model": "test-model", "response_format": {"type": "json_object"}})
    ));
    assert!(body["temperature"].as_f64().unwrap() <= 0.5);
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][1]["role"], "user");
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("Publish a page that sums the sales in data.csv."));
    for check in &request().checks {
        assert!(user.contains(check.as_str()), "check missing: {check}");
    }
    assert!(user.contains("product,sales\nwidget,10\ngadget,50"));
}

#[tokio::test]
async fn a_base_url_with_a_trailing_slash_reaches_the_same_endpoint() {
    let server = answering(Reply::completion(MANIFEST)).await;
    let mut settings = settings(&server, Duration::from_secs(10));
    settings.base_url = format!("{}/", server.url()).parse().unwrap();
    let generator = LlmGenerator::new(settings).unwrap();
    assert!(generator.generate(&request()).await.is_ok());
}

#[tokio::test]
async fn fenced_and_prose_wrapped_answers_are_parsed() {
    for answer in [
        format!("```json\n{MANIFEST}\n```"),
        format!("Here is the site you asked for:\n\n{MANIFEST}\n\nEnjoy!"),
        format!(r#"{{"manifest": {MANIFEST}}}"#),
    ] {
        let server = answering(Reply::completion(&answer)).await;
        let generated = generator(&server).generate(&request()).await.unwrap();
        assert_eq!(generated.files[0].path, "index.html", "{answer}");
    }
}

#[tokio::test]
async fn a_garbage_answer_is_retryable() {
    let server = answering(Reply::completion("I'd be happy to help! What colours?")).await;
    let error = generator(&server).generate(&request()).await.unwrap_err();
    assert!(
        matches!(&error, GenerateError::Retryable(r) if r.contains("not a usable manifest")),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_answer_cut_off_at_the_token_limit_is_retryable() {
    let server = answering(Reply::completion_ending(&MANIFEST[..40], "length")).await;
    let error = generator(&server).generate(&request()).await.unwrap_err();
    assert!(
        matches!(&error, GenerateError::Retryable(r) if r.contains("finish_reason: length")),
        "{error:?}"
    );
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retryable_with_retry_after() {
    let server = answering(Reply::text(503, "upstream down")).await;
    let error = generator(&server).generate(&request()).await.unwrap_err();
    assert!(
        matches!(&error, GenerateError::Retryable(r) if r.contains("503")),
        "{error:?}"
    );

    let server =
        answering(Reply::error(429, "Rate limit reached").with_header("retry-after", "20")).await;
    let error = generator(&server).generate(&request()).await.unwrap_err();
    assert_eq!(
        error,
        GenerateError::Throttled {
            reason: "the LLM answered 429 Too Many Requests: Rate limit reached (Retry-After: 20)"
                .to_owned(),
            retry_after: std::time::Duration::from_secs(20),
        }
    );
}

#[tokio::test]
async fn a_bad_key_is_permanent_and_the_reason_never_contains_the_key() {
    let server = answering(Reply::json(401, json!({
        "error": {"message": format!("Incorrect API key provided: {KEY}."), "code": "invalid_api_key"}
    })))
    .await;
    let error = generator(&server).generate(&request()).await.unwrap_err();
    let GenerateError::Permanent(reason) = error else {
        panic!("expected a permanent error, got {error:?}");
    };
    assert!(reason.contains("401"), "{reason}");
    assert!(reason.contains("Incorrect API key provided"), "{reason}");
    assert!(!reason.contains(KEY), "{reason}");
}

#[tokio::test]
async fn an_unknown_model_is_permanent_with_the_providers_message() {
    let server = answering(Reply::error(404, "The model `test-model` does not exist")).await;
    let error = generator(&server).generate(&request()).await.unwrap_err();
    assert!(
        matches!(&error, GenerateError::Permanent(r) if r.contains("does not exist")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_server_slower_than_the_timeout_is_retryable() {
    let server = answering(Reply::completion(MANIFEST).after(Duration::from_secs(5))).await;
    let generator = LlmGenerator::new(settings(&server, Duration::from_millis(300))).unwrap();
    let error = generator.generate(&request()).await.unwrap_err();
    assert!(
        matches!(&error, GenerateError::Retryable(r) if r.contains("did not answer within")),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_retryable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let generator = LlmGenerator::new(LlmSettings {
        base_url: format!("http://127.0.0.1:{port}/v1").parse().unwrap(),
        api_key: SecretString::from(KEY),
        model: "m".to_owned(),
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let error = generator.generate(&request()).await.unwrap_err();
    assert!(matches!(error, GenerateError::Retryable(_)), "{error:?}");
}

/// A server refuses `parameter` once with `message`: the client asks again
/// without it, and later calls leave it out from the start.
async fn assert_dropped_and_remembered(parameter: &'static str, sent: Value, message: &str) {
    let server = replying(vec![
        Reply::error(400, message),
        Reply::completion(MANIFEST),
        Reply::completion(MANIFEST),
    ])
    .await;
    let generator = generator(&server);

    assert!(generator.generate(&request()).await.is_ok());
    assert!(generator.generate(&request()).await.is_ok());
    let bodies = bodies(&server);
    assert!(has_fields(&bodies[0], &sent), "{}", bodies[0]);
    for again in &bodies[1..] {
        assert!(again.get(parameter).is_none(), "{again}");
    }
}

#[tokio::test]
async fn a_server_that_rejects_response_format_is_asked_again_without_it_and_remembered() {
    assert_dropped_and_remembered(
        "response_format",
        json!({"response_format": {"type": "json_object"}}),
        "response_format is not supported by this model",
    )
    .await;
}

#[tokio::test]
async fn a_reasoning_model_that_rejects_temperature_is_asked_again_without_it() {
    assert_dropped_and_remembered(
        "temperature",
        json!({"temperature": 0.2, "response_format": {"type": "json_object"}}),
        "Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported.",
    )
    .await;
}

#[tokio::test]
async fn another_bad_request_is_permanent_and_not_retried() {
    let server = answering(Reply::error(400, "'messages' must contain the word 'json'")).await;
    let error = generator(&server).generate(&request()).await.unwrap_err();
    assert!(
        matches!(&error, GenerateError::Permanent(r) if r.contains("must contain the word")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_revision_prompt_includes_the_previous_files_and_the_change() {
    let server = answering(Reply::completion(MANIFEST)).await;
    let mut request = request();
    request.round = 2;
    request.previous_files = vec![GeneratedFile {
        path: "index.html".to_owned(),
        content: "<h1 id=\"old-title\">Old sales page</h1>".to_owned(),
    }];
    request.change_request = Some("Add a bar chart under #total-sales.".to_owned());

    generator(&server).generate(&request).await.unwrap();

    let user = server.requests()[0].message(1).to_owned();
    assert!(user.contains("<h1 id=\"old-title\">Old sales page</h1>"));
    assert!(user.contains("Add a bar chart under #total-sales."));
}

#[tokio::test]
async fn a_repair_sends_the_current_files_and_the_numbered_problems() {
    let server = answering(Reply::completion(MANIFEST)).await;
    let current = vec![GeneratedFile {
        path: "index.html".to_owned(),
        content: "<p>draft</p>".to_owned(),
    }];
    let problems = vec!["README.md has no `## Usage` section".to_owned()];

    let repaired = generator(&server)
        .repair(&request(), &current, &problems)
        .await
        .unwrap();

    assert_eq!(repaired.files[0].path, "index.html");
    let user = server.requests()[0].message(1).to_owned();
    assert!(user.contains("<p>draft</p>"));
    assert!(user.contains("1. README.md has no `## Usage` section"));
}

/// Collects what the logs say, for assertions.
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_logs_name_status_and_sizes_but_never_the_key_prompt_or_answer() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = replying(vec![
        Reply::error(400, "response_format is not supported"),
        Reply::completion(MANIFEST),
    ])
    .await;

    generator(&server).generate(&request()).await.unwrap();
    let bodies = bodies(&server);
    assert!(bodies[0].get("response_format").is_some());
    assert!(bodies[1].get("response_format").is_none());

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("LLM call finished"), "{text}");
    assert!(
        text.contains("status=200") && text.contains("response_bytes="),
        "{text}"
    );
    assert!(text.contains("test-model"), "{text}");
    for secret in [
        KEY,
        "sums the sales",
        "widget,10",
        "<title>Sales</title>",
        "total-sales",
    ] {
        assert!(
            !text.contains(secret),
            "the logs contain {secret:?}: {text}"
        );
    }
}

/// One job's 429 slows the next job's call too: it waits out the
/// provider's Retry-After before it is sent, instead of finding out itself.
#[tokio::test]
async fn a_429_pauses_every_call_to_the_provider_for_its_retry_after() {
    let server = replying(vec![
        Reply::error(429, "Rate limit reached").with_header("retry-after", "2"),
        Reply::completion(MANIFEST),
    ])
    .await;
    let llm = generator(&server);
    let first = llm.generate(&request()).await.unwrap_err();
    assert!(
        matches!(first, GenerateError::Throttled { .. }),
        "{first:?}"
    );
    llm.generate(&request()).await.unwrap();
    let arrivals: Vec<_> = server.requests().iter().map(|r| r.at).collect();
    assert!(
        arrivals[1] - arrivals[0] >= Duration::from_millis(1_900),
        "the second call waited for the pause: {:?}",
        arrivals[1] - arrivals[0]
    );
}
