use std::{collections::HashSet, time::Duration};

use futures::{StreamExt, stream};
use pagesmith::domain::WorkQueue;
use rand::seq::SliceRandom;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{
    Options, WEBHOOK_SECRET, callback_update, spawn_bot, spawn_bot_with, text_update,
};

#[tokio::test]
async fn a_wrong_or_missing_secret_gets_401_and_stores_nothing() {
    let bot = spawn_bot().await;
    for secret in [Some("wrong"), Some(""), None] {
        let mut request = bot
            .client
            .post(bot.url("/telegram/webhook"))
            .json(&text_update(1, 10, "hi"));
        if let Some(secret) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "secret {secret:?}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("Secret-Token"));
    }
    assert_eq!(bot.count("SELECT count(*) FROM telegram_updates").await, 0);
    assert_eq!(bot.count("SELECT count(*) FROM jobs").await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_an_update_gets_400_and_stores_nothing() {
    let bot = spawn_bot().await;
    for body in [
        "not json",
        "[1, 2]",
        r#"{"hello": "world"}"#,
        r#"{"update_id": "seven"}"#,
    ] {
        let response = bot
            .client
            .post(bot.url("/telegram/webhook"))
            .header("X-Telegram-Bot-Api-Secret-Token", WEBHOOK_SECRET)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert!(
            error["error"]
                .as_str()
                .unwrap()
                .contains("not a Telegram update"),
            "{error}"
        );
    }
    assert_eq!(bot.count("SELECT count(*) FROM telegram_updates").await, 0);
}

#[tokio::test]
async fn a_text_message_becomes_one_job_and_one_published_message() {
    let bot = spawn_bot().await;
    let response = bot
        .post_update(&text_update(1001, 10, "A bakery site with a menu"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let (kind, state, payload): (String, String, serde_json::Value) =
        sqlx::query_as("SELECT kind, state, payload FROM jobs")
            .fetch_one(&bot.db.pool)
            .await
            .unwrap();
    assert_eq!((kind.as_str(), state.as_str()), ("generate", "queued"));
    assert_eq!(payload["type"], "prompt");
    assert_eq!(payload["text"], "A bakery site with a menu");
    assert_eq!(payload["chat_id"], 10);

    let messages = bot.take(WorkQueue::Jobs, 1).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].json()["kind"], "generate");
    assert_eq!(
        pagesmith::queue::header(&messages[0].properties, "x-request-id").as_deref(),
        Some(request_id.as_str()),
        "the request id travels with the job"
    );
    assert_eq!(
        messages[0].properties.delivery_mode(),
        &Some(2),
        "persistent"
    );
    testkit::eventually(
        "the outbox row deleted once confirmed",
        Duration::from_secs(5),
        || async { (bot.count("SELECT count(*) FROM outbox").await == 0).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn a_duplicate_update_answers_200_and_creates_nothing() {
    let bot = spawn_bot().await;
    let update = text_update(2002, 10, "Portfolio for a photographer");
    for _ in 0..3 {
        assert_eq!(bot.post_update(&update).await.status(), StatusCode::OK);
    }
    assert_eq!(bot.count("SELECT count(*) FROM jobs").await, 1);
    assert_eq!(bot.take(WorkQueue::Jobs, 1).await.len(), 1);
}

#[tokio::test]
async fn commands_become_command_jobs_on_the_interactive_queue() {
    let bot = spawn_bot().await;
    for (i, text) in ["/start", "/help", "/status@pagesmith_bot"]
        .iter()
        .enumerate()
    {
        let response = bot
            .post_update(&text_update(3000 + i as i64, 10, text))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT payload->>'name' FROM jobs WHERE kind = 'command' ORDER BY created_at",
    )
    .fetch_all(&bot.db.pool)
    .await
    .unwrap();
    assert_eq!(names, ["start", "help", "status"]);
    assert_eq!(bot.take(WorkQueue::Interactive, 3).await.len(), 3);
    assert_eq!(bot.broker.ready(&bot.queue(WorkQueue::Jobs)).await, 0);
}

#[tokio::test]
async fn revise_with_text_is_a_prompt_that_changes_the_latest_project() {
    let bot = spawn_bot().await;
    bot.post_update(&text_update(3100, 10, "/revise make the header blue"))
        .await;
    let payload: serde_json::Value = sqlx::query_scalar("SELECT payload FROM jobs")
        .fetch_one(&bot.db.pool)
        .await
        .unwrap();
    assert_eq!(payload["type"], "prompt");
    assert_eq!(payload["revise"], true);
    assert_eq!(payload["text"], "make the header blue");
}

#[tokio::test]
async fn a_button_click_becomes_a_callback_job() {
    let bot = spawn_bot().await;
    let response = bot
        .post_update(&callback_update(4000, 10, "approve:abc"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let payload: serde_json::Value =
        sqlx::query_scalar("SELECT payload FROM jobs WHERE kind = 'callback'")
            .fetch_one(&bot.db.pool)
            .await
            .unwrap();
    assert_eq!(payload["query_id"], "cbq-4000");
    assert_eq!(payload["data"], "approve:abc");
    assert_eq!(payload["user_id"], 10);
    assert_eq!(payload["message_id"], 77);
    assert_eq!(bot.take(WorkQueue::Interactive, 1).await.len(), 1);
}

#[tokio::test]
async fn updates_we_do_not_handle_answer_200_and_are_recorded_as_ignored() {
    let bot = spawn_bot().await;
    let sticker = json!({
        "update_id": 5001,
        "message": {
            "message_id": 1, "date": 1_700_000_000,
            "chat": {"id": 10, "type": "private", "first_name": "Ada"},
            "from": {"id": 10, "is_bot": false, "first_name": "Ada"},
            "sticker": {"file_id": "f", "file_unique_id": "u", "width": 512, "height": 512,
                        "is_animated": false, "is_video": false, "type": "regular"}
        }
    });
    let mut edited = crate::helpers::text_update(5002, 10, "edited text");
    let message = edited.as_object_mut().unwrap().remove("message").unwrap();
    edited["edited_message"] = message;
    let unknown = json!({"update_id": 5003, "some_future_update": {"x": 1}});

    for update in [&sticker, &edited, &unknown] {
        assert_eq!(
            bot.post_update(update).await.status(),
            StatusCode::OK,
            "{update}"
        );
    }
    let rows: Vec<(i64, String, Option<uuid::Uuid>)> =
        sqlx::query_as("SELECT update_id, kind, job_id FROM telegram_updates ORDER BY update_id")
            .fetch_all(&bot.db.pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|(_, _, job)| job.is_none()), "{rows:?}");
    assert_eq!(rows[1].1, "edited_message");
    assert_eq!(bot.count("SELECT count(*) FROM jobs").await, 0);
}

#[tokio::test]
async fn an_expired_dedupe_row_does_not_drop_a_recycled_update_id() {
    let bot = spawn_bot().await;
    bot.post_update(&text_update(6000, 10, "A first site"))
        .await;
    // Telegram restarted update_id after a week of silence: the old row is
    // past the TTL, so the same id is a new update.
    sqlx::query("UPDATE telegram_updates SET received_at = now() - interval '4 days'")
        .execute(&bot.db.pool)
        .await
        .unwrap();
    assert_eq!(
        bot.post_update(&text_update(6000, 10, "A second site"))
            .await
            .status(),
        StatusCode::OK
    );
    let texts: Vec<String> =
        sqlx::query_scalar("SELECT payload->>'text' FROM jobs ORDER BY created_at")
            .fetch_all(&bot.db.pool)
            .await
            .unwrap();
    assert_eq!(texts, ["A first site", "A second site"]);
    // Within the TTL it is still a duplicate.
    bot.post_update(&text_update(6000, 10, "A second site"))
        .await;
    assert_eq!(bot.count("SELECT count(*) FROM jobs").await, 2);
}

#[tokio::test]
async fn with_the_database_unreachable_updates_get_503_and_the_retry_is_stored_once() {
    let bot = spawn_bot_with(Options {
        proxy_database: true,
        ..Options::default()
    })
    .await;
    let update = text_update(7000, 10, "a site about owls");
    bot.db_proxy.as_ref().unwrap().cut();
    let response = bot.post_update(&update).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");

    bot.db_proxy.as_ref().unwrap().restore();
    // Telegram retries; the pool reconnects without a restart.
    let status = testkit::eventually(
        "the retry to be accepted",
        std::time::Duration::from_secs(15),
        || async {
            let s = bot.post_update(&update).await.status();
            (s == StatusCode::OK).then_some(s)
        },
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bot.count("SELECT count(*) FROM jobs").await, 1);
}

#[tokio::test]
async fn a_thousand_concurrent_updates_with_30_percent_duplicates_give_exactly_700_jobs_and_messages()
 {
    let bot = spawn_bot().await;
    let mut rng = rand::rng();
    let mut ids: Vec<i64> = (0..700).map(|i| 100_000 + i).collect();
    let duplicates: Vec<i64> = (0..300).map(|i| ids[(i * 7) % 700]).collect();
    ids.extend(duplicates);
    ids.shuffle(&mut rng);

    let statuses: Vec<StatusCode> = stream::iter(ids)
        .map(|id| {
            let bot = &bot;
            async move {
                bot.post_update(&text_update(id, id, &format!("site number {id}")))
                    .await
                    .status()
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "every update answered 200"
    );

    assert_eq!(bot.count("SELECT count(*) FROM jobs").await, 700);
    assert_eq!(
        bot.count("SELECT count(*) FROM telegram_updates").await,
        700
    );
    let messages = bot.take(WorkQueue::Jobs, 700).await;
    let job_ids: HashSet<String> = messages
        .iter()
        .map(|m| m.json()["job_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(messages.len(), 700, "exactly 700 messages were published");
    assert_eq!(job_ids.len(), 700, "each job published once");

    // The ingress tables carry no foreign keys (migration 0004), so the
    // references are checked here: each update names its own job, and each
    // published message names a job that exists.
    assert_eq!(
        bot.count(
            "SELECT count(DISTINCT u.job_id) FROM telegram_updates u JOIN jobs j ON j.id = u.job_id"
        )
        .await,
        700,
        "every update names a distinct, existing job"
    );
    let stored: HashSet<String> = sqlx::query_scalar("SELECT id::text FROM jobs")
        .fetch_all(&bot.db.pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(job_ids, stored, "the messages name exactly the stored jobs");
}
