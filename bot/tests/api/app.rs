use base64::Engine;
use futures::future::join_all;
use pagesmith::domain::WorkQueue;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, TestBot, app_request, spawn_bot, spawn_bot_with};

/// Posts `body` and returns the status and JSON answer.
async fn post(bot: &TestBot, body: &Value) -> (StatusCode, Value) {
    let response = bot.post_app(body).await;
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Asserts that changing `field` to `value` gets 422 naming that field, and
/// stores nothing.
async fn assert_field_refused(field: &str, value: Value, expect_in_message: &str) {
    let bot = spawn_bot().await;
    let mut body = app_request("task-1", 1, "n1");
    body[field] = value.clone();
    let (status, answer) = post(&bot, &body).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{field} = {value}: {answer}"
    );
    let problem = answer["fields"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.starts_with(field))
        .map(|(_, v)| v.as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("{field} is named in {answer}"));
    assert!(
        problem.contains(expect_in_message),
        "{field}: `{problem}` mentions `{expect_in_message}`"
    );
    assert_eq!(bot.count("SELECT count(*) FROM jobs").await, 0);
    assert_eq!(bot.count("SELECT count(*) FROM app_requests").await, 0);
}

#[tokio::test]
async fn a_valid_request_gets_200_with_its_job_and_a_ten_minute_deadline() {
    let bot = spawn_bot().await;
    let (status, answer) = post(&bot, &app_request("task-ok", 1, "n1")).await;
    assert_eq!(status, StatusCode::OK);
    insta::assert_json_snapshot!(answer, {
        ".received_at" => "[received_at]",
        ".job_id" => "[job_id]",
    });
    let received_at =
        chrono::DateTime::parse_from_rfc3339(answer["received_at"].as_str().unwrap()).unwrap();
    assert!(
        (chrono::Utc::now() - received_at.to_utc())
            .num_seconds()
            .abs()
            < 60
    );

    let job_id: uuid::Uuid = answer["job_id"].as_str().unwrap().parse().unwrap();
    let (state, budget): (String, f64) = sqlx::query_as(
        "SELECT j.state, EXTRACT(EPOCH FROM j.deadline - a.received_at)::float8
         FROM jobs j JOIN app_requests a ON a.job_id = j.id WHERE j.id = $1",
    )
    .bind(job_id)
    .fetch_one(&bot.db.pool)
    .await
    .unwrap();
    assert_eq!(state, "queued");
    assert_eq!(budget, 600.0);
    // Tasks have a queue of their own, so they never wait behind prompts.
    let messages = bot.take(WorkQueue::Deadline, 1).await;
    assert_eq!(messages[0].json()["job_id"], answer["job_id"]);
}

#[tokio::test]
async fn a_wrong_secret_gets_403_with_a_json_error() {
    let bot = spawn_bot().await;
    let mut body = app_request("task-1", 1, "n1");
    body["secret"] = json!("guess");
    let (status, answer) = post(&bot, &body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(answer["error"], "the secret is missing or wrong");

    body.as_object_mut().unwrap().remove("secret");
    assert_eq!(post(&bot, &body).await.0, StatusCode::FORBIDDEN);
    assert_eq!(bot.count("SELECT count(*) FROM jobs").await, 0);
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413() {
    let bot = spawn_bot_with(Options {
        env: vec![("APP_MAX_BODY_BYTES", "2000".into())],
        ..Options::default()
    })
    .await;
    let mut body = app_request("task-1", 1, "n1");
    body["brief"] = json!("x".repeat(5000));
    let (status, answer) = post(&bot, &body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(answer["error"].as_str().unwrap().contains("2000 bytes"));

    // Without Content-Length (chunked), the limit still holds.
    let chunks = futures::stream::iter(vec![Ok::<_, std::io::Error>(
        serde_json::to_vec(&body).unwrap(),
    )]);
    let response = bot
        .client
        .post(bot.url("/app"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(bot.count("SELECT count(*) FROM jobs").await, 0);
}

#[tokio::test]
async fn malformed_json_gets_400_naming_the_problem() {
    let bot = spawn_bot().await;
    for (body, expected) in [
        (&b"{\"email\": "[..], "not valid JSON"),
        (&b"[1, 2, 3]"[..], "must be a JSON object"),
        (&b"{\"brief\": \"\xff\xfe\"}"[..], "not valid JSON"),
        (&b""[..], "not valid JSON"),
    ] {
        let response = bot
            .client
            .post(bot.url("/app"))
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let answer: Value = response.json().await.unwrap();
        assert!(
            answer["error"].as_str().unwrap().contains(expected),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn email_is_validated() {
    assert_field_refused("email", json!("not-an-email"), "email address").await;
}

#[tokio::test]
async fn task_is_validated() {
    assert_field_refused("task", json!(""), "must not be empty").await;
}

#[tokio::test]
async fn round_is_validated() {
    assert_field_refused("round", json!(0), "from 1").await;
    assert_field_refused("round", json!(-1), "from 1").await;
    assert_field_refused("round", json!("2"), "must be a number").await;
    assert_field_refused("round", json!(1.5), "whole number").await;
}

#[tokio::test]
async fn nonce_is_validated() {
    assert_field_refused("nonce", json!(42), "must be a string").await;
}

#[tokio::test]
async fn brief_is_validated() {
    assert_field_refused("brief", Value::Null, "is required").await;
}

#[tokio::test]
async fn checks_are_validated() {
    assert_field_refused("checks", json!("one check"), "array of strings").await;
    assert_field_refused("checks", json!(["fine", {"js": "x"}]), "must be a string").await;
}

#[tokio::test]
async fn evaluation_url_is_validated() {
    assert_field_refused(
        "evaluation_url",
        json!("file:///etc/passwd"),
        "http or https",
    )
    .await;
    assert_field_refused(
        "evaluation_url",
        json!("javascript:alert(1)"),
        "http or https",
    )
    .await;
    assert_field_refused("evaluation_url", json!("not a url"), "not a valid URL").await;
}

#[tokio::test]
async fn private_evaluation_urls_are_refused_when_not_allowed() {
    let bot = spawn_bot_with(Options {
        env: vec![("CALLBACK_ALLOW_PRIVATE", "false".into())],
        ..Options::default()
    })
    .await;
    let mut body = app_request("task-1", 1, "n1");
    body["evaluation_url"] = json!("http://169.254.169.254/latest/meta-data");
    let (status, answer) = post(&bot, &body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer["fields"]["evaluation_url"]
            .as_str()
            .unwrap()
            .contains("private")
    );
}

#[tokio::test]
async fn attachments_are_validated() {
    assert_field_refused("attachments", json!({"name": "a"}), "array").await;
    assert_field_refused(
        "attachments",
        json!([{"name": "../x", "url": "data:,x"}]),
        "..",
    )
    .await;
    assert_field_refused(
        "attachments",
        json!([{"name": "/etc/passwd", "url": "data:,x"}]),
        "absolute",
    )
    .await;
    assert_field_refused(
        "attachments",
        json!([{"name": "ok.txt", "url": "data:text/plain;base64,%%%"}]),
        "percent",
    )
    .await;
    assert_field_refused(
        "attachments",
        json!([{"name": "ok.txt", "url": "https://example.com/a.png"}]),
        "data:",
    )
    .await;
}

#[tokio::test]
async fn concurrent_replays_return_the_same_job_and_create_nothing_new() {
    let bot = spawn_bot().await;
    let body = app_request("task-replay", 1, "same-nonce");
    let answers = join_all((0..20).map(|_| post(&bot, &body))).await;
    let job_ids: std::collections::HashSet<String> = answers
        .iter()
        .map(|(status, answer)| {
            assert_eq!(*status, StatusCode::OK, "{answer}");
            answer["job_id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(job_ids.len(), 1, "one job for all replays");
    let received: std::collections::HashSet<String> = answers
        .iter()
        .map(|(_, a)| a["received_at"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        received.len(),
        1,
        "replays report the original receipt time"
    );
    assert_eq!(bot.count("SELECT count(*) FROM jobs").await, 1);
    assert_eq!(bot.take(WorkQueue::Deadline, 1).await.len(), 1);

    // A new nonce is a new request.
    let mut other = body.clone();
    other["nonce"] = json!("other-nonce");
    assert_eq!(post(&bot, &other).await.0, StatusCode::OK);
    assert_eq!(bot.count("SELECT count(*) FROM jobs").await, 2);
}

#[tokio::test]
async fn attachments_are_stored_byte_for_byte() {
    let bot = spawn_bot().await;
    // A real PNG signature followed by every byte value.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(0..=255u8);
    let text = "name,price\nCroissant,2.50\nCafé crème,3.10\n";
    let mut body = app_request("task-files", 1, "n1");
    body["attachments"] = json!([
        {"name": "logo.png", "url": format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(&png))},
        {"name": "data/menu.csv", "url": format!("data:text/csv,{}", percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC))},
    ]);
    let (status, answer) = post(&bot, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let job_id: uuid::Uuid = answer["job_id"].as_str().unwrap().parse().unwrap();
    let stored = pagesmith::db::app::attachments(&bot.db.pool, job_id)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(
        (stored[0].name.as_str(), stored[0].media_type.as_str()),
        ("logo.png", "image/png")
    );
    assert_eq!(stored[0].data, png);
    assert_eq!(
        (stored[1].name.as_str(), stored[1].media_type.as_str()),
        ("data/menu.csv", "text/csv")
    );
    assert_eq!(stored[1].data, text.as_bytes());
    use sha2::Digest;
    assert_eq!(stored[0].sha256, sha2::Sha256::digest(&png).to_vec());
}

#[tokio::test]
async fn a_later_round_needs_the_earlier_one_first() {
    let bot = spawn_bot().await;
    let (status, answer) = post(&bot, &app_request("task-r", 2, "n2")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["fields"]["round"]
            .as_str()
            .unwrap()
            .contains("needs round 1"),
        "{answer}"
    );
    assert_eq!(bot.count("SELECT count(*) FROM jobs").await, 0);

    assert_eq!(
        post(&bot, &app_request("task-r", 1, "n1")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        post(&bot, &app_request("task-r", 2, "n2")).await.0,
        StatusCode::OK
    );
    assert_eq!(bot.count("SELECT count(*) FROM jobs").await, 2);
}

#[tokio::test]
async fn with_the_database_unreachable_app_gets_503() {
    let bot = spawn_bot_with(Options {
        proxy_database: true,
        ..Options::default()
    })
    .await;
    bot.db_proxy.as_ref().unwrap().cut();
    let (status, answer) = post(&bot, &app_request("task-down", 1, "n1")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("nothing was stored")
    );
}
