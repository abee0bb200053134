//! Secrets never reach the logs: a whole flow at debug level, through the
//! paths that log the most (an LLM answering 500, Telegram answering 502, a
//! wrong `/app` secret), with every log line captured and searched for
//! every configured secret.

use std::time::Duration;

use e2e::{
    APP_SECRET, BOT_TOKEN, CapturedLogs, Stack, StackOptions, WEBHOOK_SECRET, prompt_update,
};
use serde_json::json;
use testkit::llm::{Llm, Reply};

const LLM_KEY: &str = "sk-e2e-llm-key-that-must-not-leak";
const WRONG_SECRET: &str = "a-guess-that-must-not-be-logged-either";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_configured_secret_appears_in_any_log_line() {
    let logs = CapturedLogs::install("debug");

    let llm = Llm::start().await;
    llm.reply_always(Reply::text(500, "upstream failure"));
    let stack = Stack::start(StackOptions {
        worker_env: vec![
            ("LLM_API_KEY", LLM_KEY.to_owned()),
            ("LLM_BASE_URL", llm.url().to_owned()),
        ],
        telegram_status: 502,
        ..StackOptions::default()
    })
    .await;

    // A wrong secret is refused (and its value is not logged).
    let mut refused = stack.app_request("logged", 1, "n-refused", "A page.");
    refused["secret"] = json!(WRONG_SECRET);
    assert_eq!(stack.post_app(&refused).await.status(), 403);

    // An /app job: the LLM fails (with the key in its request), the
    // built-in generator takes over, the site is published and called back.
    let request = stack.app_request("logged", 1, "n-logged", "A page titled Logged.");
    assert_eq!(stack.post_app(&request).await.status(), 200);
    stack
        .evaluator
        .wait_for("n-logged", Duration::from_secs(120))
        .await;

    // A Telegram prompt: the worker's messages to the chat fail with 502.
    let update = prompt_update(9001, "A site for my bakery");
    assert_eq!(stack.post_update(&update).await.status(), 200);
    testkit::eventually(
        "the worker to call Telegram",
        Duration::from_secs(60),
        || async { (!stack.telegram.calls().is_empty()).then_some(()) },
    )
    .await;
    // The failing calls are retried before the failure is logged; on a
    // busy machine that took more than the 3 s this test once slept.
    testkit::eventually(
        "Telegram's failure to be logged",
        Duration::from_secs(60),
        || async {
            let text = logs.text();
            (text.contains("502") || text.contains("Bad Gateway")).then_some(())
        },
    )
    .await;
    drop(stack);

    let text = logs.text();
    let lines = text.lines().count();
    assert!(lines > 100, "the flow logged only {lines} lines");
    let token_secret = BOT_TOKEN.split_once(':').unwrap().1;
    for (name, secret) in [
        ("APP_SECRET", APP_SECRET),
        ("TELEGRAM_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("TELEGRAM_BOT_TOKEN", token_secret),
        ("LLM_API_KEY", LLM_KEY),
        ("the wrong /app secret", WRONG_SECRET),
    ] {
        let leaks: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(secret))
            .take(3)
            .collect();
        assert!(leaks.is_empty(), "{name} appears in the logs: {leaks:#?}");
    }
}
