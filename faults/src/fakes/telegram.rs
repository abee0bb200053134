//! A Bot API: answers every method, records who was sent what, and can be
//! told to answer the next calls with 429 (`retry_after`) or 502.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    routing::post,
};
use serde_json::{Value, json};

#[derive(Clone, Default)]
pub struct Telegram {
    state: Arc<Mutex<Calls>>,
}

#[derive(Default)]
struct Calls {
    /// (method, chat id) of every call answered with success.
    answered: Vec<(String, Option<i64>)>,
    /// Statuses to answer the next calls with, before succeeding again.
    failures: VecDeque<u16>,
    failed: usize,
    next_message_id: i64,
}

impl Telegram {
    /// Starts the fake; returns it and the `TELEGRAM_API_URL` to give out.
    pub async fn start() -> anyhow::Result<(Self, String)> {
        let telegram = Self::default();
        let app = Router::new()
            .route("/{token}/{method}", post(answer))
            .with_state(telegram.clone());
        let addr = super::serve(app).await?;
        Ok((telegram, format!("http://{addr}")))
    }

    /// The next calls get these statuses (429 carries `retry_after: 1`).
    pub fn fail_next(&self, statuses: &[u16]) {
        self.lock().failures.extend(statuses);
    }

    /// Calls answered with an error so far.
    pub fn failed(&self) -> usize {
        self.lock().failed
    }

    /// Successful calls of `method`.
    pub fn count(&self, method: &str) -> usize {
        self.lock()
            .answered
            .iter()
            .filter(|(m, _)| m == method)
            .count()
    }

    /// Successful calls of `method` to `chat`.
    pub fn count_to(&self, method: &str, chat: i64) -> usize {
        self.lock()
            .answered
            .iter()
            .filter(|(m, c)| m == method && *c == Some(chat))
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.state.lock().expect("not poisoned")
    }
}

async fn answer(
    State(telegram): State<Telegram>,
    Path((_token, method)): Path<(String, String)>,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    let chat = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|b| b["chat_id"].as_i64());
    let mut calls = telegram.lock();
    if let Some(status) = calls.failures.pop_front() {
        calls.failed += 1;
        let parameters = (status == 429).then(|| json!({"retry_after": 1}));
        return (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            Json(json!({
                "ok": false, "error_code": status,
                "description": if status == 429 { "Too Many Requests: retry after 1" } else { "Bad Gateway" },
                "parameters": parameters,
            })),
        );
    }
    calls.answered.push((method.clone(), chat));
    calls.next_message_id += 1;
    // Methods that answer `true`; the rest answer with a message.
    let answers_true = [
        "answercallbackquery",
        "setwebhook",
        "deletewebhook",
        "setmycommands",
        "sendchataction",
        "deletemessage",
    ];
    let result = if answers_true.contains(&method.to_ascii_lowercase().as_str()) {
        json!(true)
    } else {
        json!({
            "message_id": calls.next_message_id, "date": 1_700_000_000,
            "chat": {"id": chat.unwrap_or(1), "type": "private", "first_name": "Ada"},
            "text": "ok"
        })
    };
    (StatusCode::OK, Json(json!({"ok": true, "result": result})))
}
