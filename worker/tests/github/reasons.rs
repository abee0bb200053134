//! The reason of a refusal is never empty, whatever GitHub (or a proxy in
//! front of it) answers, and never echoes a token.

use serde_json::json;
use wiremock::ResponseTemplate;
use worker::publish::{PublishError, Publisher};

use crate::{
    fake::{FakeGithub, Publishers, TOKEN, ok},
    permanent, round_one,
};

/// A GitHub-shaped token that is not ours.
const OTHER_TOKEN: &str = "ghp_0123456789abcdefghijABCDEFGHIJ012345";

/// The reason of a retryable error, which never holds a token.
fn retryable(error: PublishError) -> String {
    match error {
        PublishError::Retryable { reason, .. } => {
            assert!(!reason.contains(TOKEN), "the token leaked: {reason}");
            assert!(!reason.contains(OTHER_TOKEN), "a token leaked: {reason}");
            reason
        }
        other => panic!("expected retryable, got {other:?}"),
    }
}

/// Publishes round one with `POST /user/repos` answered by `answer`.
async fn refused_with(answer: ResponseTemplate) -> PublishError {
    let fake = FakeGithub::start().await;
    fake.answer("POST", "/user/repos", answer, 1).await;
    fake.publisher().publish(&round_one()).await.unwrap_err()
}

#[tokio::test]
async fn a_json_refusal_without_message_or_errors_is_explained_by_its_body() {
    let body = json!({ "documentation_url": "https://docs.github.com/rest", "status": "422" });
    let reason = permanent(refused_with(ok(422, body)).await);

    assert!(
        reason.contains(r#"(422 Unprocessable Entity: {"documentation_url":"#),
        "{reason}"
    );
}

#[tokio::test]
async fn an_empty_json_message_is_not_an_empty_reason() {
    let reason = permanent(refused_with(ok(400, json!({ "message": "", "errors": [] }))).await);

    assert!(
        reason.contains(r#"(400 Bad Request: {"errors":[],"message":""})"#),
        "{reason}"
    );
}

#[tokio::test]
async fn a_text_refusal_is_explained_by_its_body_shortened_and_without_tokens() {
    let page = format!(
        "<html>\n<body>\n<h1>502 Bad Gateway</h1>\n<p>upstream sent \
         Authorization: token {TOKEN} and {OTHER_TOKEN}</p>\n{}</body>\n</html>\n",
        "padding ".repeat(100)
    );
    let reason = retryable(refused_with(ResponseTemplate::new(502).set_body_string(page)).await);

    assert!(
        reason.contains("(502 Bad Gateway: <html> <body> <h1>502 Bad Gateway</h1>"),
        "{reason}"
    );
    assert!(reason.contains("[redacted]"), "{reason}");
    assert!(reason.chars().count() < 400, "shortened: {reason}");
    assert!(reason.ends_with("…)"), "{reason}");
}

#[tokio::test]
async fn an_empty_refusal_is_explained_by_its_status() {
    for body in ["", " \n "] {
        let answer = ResponseTemplate::new(500).set_body_string(body);
        let reason = retryable(refused_with(answer).await);

        assert!(
            reason.ends_with("(500 Internal Server Error: Internal Server Error)"),
            "{body:?}: {reason}"
        );
    }
}
