use bot::Settings;
use pagesmith::config::Env;
use serde_json::json;
use wiremock::{
    Match, Mock, MockServer, Request, ResponseTemplate,
    matchers::{method, path_regex},
};

/// Matches a multipart form field (teloxide sends setWebhook as a form,
/// because the method can carry a certificate file).
struct FormField(&'static str, &'static str);

impl Match for FormField {
    fn matches(&self, request: &Request) -> bool {
        let body = String::from_utf8_lossy(&request.body);
        let wanted = format!("name=\"{}\"\r\n\r\n{}\r\n", self.0, self.1);
        body.contains(&wanted)
    }
}

/// Settings whose Telegram API is the fake.
fn settings(telegram: &MockServer, extra: &[(&str, &str)]) -> Settings {
    let mut vars = vec![
        ("DATABASE_URL".to_owned(), "postgres://unused/x".to_owned()),
        ("AMQP_URL".to_owned(), "amqp://unused".to_owned()),
        ("APP_SECRET".to_owned(), "s".to_owned()),
        (
            "TELEGRAM_BOT_TOKEN".to_owned(),
            "4242:test-token".to_owned(),
        ),
        (
            "TELEGRAM_WEBHOOK_SECRET".to_owned(),
            "hook_secret".to_owned(),
        ),
        ("TELEGRAM_API_URL".to_owned(), telegram.uri()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Settings::read(Env::from_vars(vars)).unwrap()
}

#[tokio::test]
async fn set_webhook_registers_secret_update_types_and_connection_limit() {
    let telegram = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex("(?i)^/bot4242:test-token/setwebhook$"))
        .and(FormField("url", "https://api.example.com/telegram/webhook"))
        .and(FormField("secret_token", "hook_secret"))
        .and(FormField(
            "allowed_updates",
            r#"["message","callback_query"]"#,
        ))
        .and(FormField("max_connections", "20"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": true})))
        .expect(1)
        .mount(&telegram)
        .await;

    let settings = settings(&telegram, &[("TELEGRAM_WEBHOOK_MAX_CONNECTIONS", "20")]);
    bot::webhook::set_webhook(
        &settings.telegram,
        "https://api.example.com/telegram/webhook".parse().unwrap(),
        false,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn set_webhook_reports_telegram_refusing() {
    let telegram = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"ok": false, "error_code": 400, "description": "Bad Request: bad webhook: HTTPS url must be provided for webhook"})),
        )
        .expect(1)
        .mount(&telegram)
        .await;
    let settings = settings(&telegram, &[]);
    let err = bot::webhook::set_webhook(
        &settings.telegram,
        "http://insecure.example.com/hook".parse().unwrap(),
        false,
    )
    .await
    .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("HTTPS url must be provided"), "{text}");
}
