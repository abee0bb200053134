use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{app_request, make_ready, spawn_bot};

#[tokio::test]
async fn a_job_shows_its_status_stage_and_timestamps() {
    let bot = spawn_bot().await;
    let accepted: Value = bot
        .post_app(&app_request("task-j", 1, "n1"))
        .await
        .json()
        .await
        .unwrap();
    let job_id = accepted["job_id"].as_str().unwrap();
    let response = bot.get(&format!("/jobs/{job_id}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let job: Value = response.json().await.unwrap();
    insta::assert_json_snapshot!(job, {
        ".id" => "[id]",
        ".deadline" => "[deadline]",
        ".created_at" => "[created_at]",
        ".updated_at" => "[updated_at]",
    });
}

#[tokio::test]
async fn an_unknown_job_gets_404_and_a_malformed_id_400() {
    let bot = spawn_bot().await;
    let response = bot.get("/jobs/67e55044-10b1-426f-9247-bb680e5fe0c8").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("no job"));

    let response = bot.get("/jobs/42").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert!(body["fields"]["id"].as_str().unwrap().contains("UUID"));
}

#[tokio::test]
async fn a_ready_job_shows_its_live_and_safe_preview_links() {
    let bot = crate::helpers::spawn_bot_with(crate::helpers::Options {
        env: vec![("PREVIEW_BASE_URL", "https://preview.example.net".into())],
        ..Default::default()
    })
    .await;
    let accepted: Value = bot
        .post_app(&app_request("task-p", 1, "n1"))
        .await
        .json()
        .await
        .unwrap();
    let job_id: uuid::Uuid = accepted["job_id"].as_str().unwrap().parse().unwrap();
    make_ready(&bot, job_id, "task-p").await;

    let job: Value = bot
        .get(&format!("/jobs/{job_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        job["preview"],
        serde_json::json!({
            "version": 1,
            "live_url": "https://preview.example.net/p/tok123/",
            "safe_url": "https://preview.example.net/s/tok123/",
            "state": "active",
            "checks_passed": 2,
            "checks_total": 3,
            "checks": [
                {"name": "HTML parses", "kind": "static", "passed": true,
                 "detail": "every HTML file is a complete document"},
                {"name": "js: document.title === 'X'", "kind": "browser", "passed": false,
                 "detail": "returned false; `document.title` is 'Y'"},
                {"name": "The page shows the total", "kind": "derived", "passed": true,
                 "detail": "true"}
            ]
        })
    );
}
