use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Options, TestBot, spawn_bot_with};

async fn health(bot: &TestBot) -> (StatusCode, Value) {
    let response = bot.get("/health").await;
    (response.status(), response.json().await.unwrap())
}

async fn wait_for_health(bot: &TestBot, want: StatusCode) -> Value {
    testkit::eventually("health to change", Duration::from_secs(15), || async {
        let (status, body) = health(bot).await;
        (status == want).then_some(body)
    })
    .await
}

#[tokio::test]
async fn health_names_the_dependency_that_went_away() {
    let bot = spawn_bot_with(Options {
        proxy_database: true,
        proxy_broker: true,
        ..Options::default()
    })
    .await;
    let body = wait_for_health(&bot, StatusCode::OK).await;
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "postgres": "ok", "rabbitmq": "ok"})
    );

    bot.db_proxy.as_ref().unwrap().cut();
    let body = wait_for_health(&bot, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        body["postgres"]
            .as_str()
            .unwrap()
            .starts_with("unreachable"),
        "{body}"
    );
    assert_eq!(body["rabbitmq"], "ok");
    bot.db_proxy.as_ref().unwrap().restore();
    wait_for_health(&bot, StatusCode::OK).await;

    bot.broker_proxy.as_ref().unwrap().cut();
    let body = wait_for_health(&bot, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        body["rabbitmq"]
            .as_str()
            .unwrap()
            .starts_with("unreachable"),
        "{body}"
    );
    assert_eq!(body["postgres"], "ok");
    bot.broker_proxy.as_ref().unwrap().restore();
    wait_for_health(&bot, StatusCode::OK).await;
}
