use bot::Settings;
use pagesmith::config::Env;
use testkit::telegram::{Answer, Telegram};

/// Settings whose Telegram API is the fake.
fn settings(telegram: &Telegram, extra: &[(&str, &str)]) -> Settings {
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
        ("TELEGRAM_API_URL".to_owned(), telegram.url().to_owned()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Settings::read(Env::from_vars(vars)).unwrap()
}

#[tokio::test]
async fn set_webhook_registers_secret_update_types_and_connection_limit() {
    let telegram = Telegram::start().await;

    let settings = settings(&telegram, &[("TELEGRAM_WEBHOOK_MAX_CONNECTIONS", "20")]);
    bot::webhook::set_webhook(
        &settings.telegram,
        "https://api.example.com/telegram/webhook".parse().unwrap(),
        false,
    )
    .await
    .unwrap();

    // One call, a form (teloxide sends setWebhook as one, because the
    // method can carry a certificate file).
    let calls = telegram.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    assert_eq!(
        (call.method.as_str(), call.token.as_str()),
        ("setwebhook", "4242:test-token")
    );
    for (field, value) in [
        ("url", "https://api.example.com/telegram/webhook"),
        ("secret_token", "hook_secret"),
        ("allowed_updates", r#"["message","callback_query"]"#),
        ("max_connections", "20"),
    ] {
        assert_eq!(call.field(field).as_deref(), Some(value), "{field}");
    }
}

#[tokio::test]
async fn set_webhook_reports_telegram_refusing() {
    let telegram = Telegram::start().await;
    telegram.answer_every(
        None,
        Answer::refused("Bad Request: bad webhook: HTTPS url must be provided for webhook"),
    );
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
    assert_eq!(telegram.calls().len(), 1, "not retried");
}
