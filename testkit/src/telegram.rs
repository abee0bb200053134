//! The Telegram Bot API, as a local server: it answers every method as
//! Telegram would (`true`, or a message with a fresh id), records every
//! call (method, body, chat, answer, arrival), and can be scripted to
//! answer some calls otherwise: a 429 with `retry_after`, a 5xx, a refusal,
//! or any body. The worker's tests, the e2e tests, the benchmarks and the
//! fault suite share it.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{StatusCode, Uri},
};
use serde_json::{Value, json};
use tokio::{sync::Notify, time::Instant};

/// Methods Telegram answers with `true`; the rest answer with a message.
const ANSWER_TRUE: [&str; 7] = [
    "answercallbackquery",
    "setwebhook",
    "deletewebhook",
    "setmycommands",
    "sendchataction",
    "deletemessage",
    "setmessagereaction",
];

/// One call the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    /// The method, lower-cased (`sendmessage`).
    pub method: String,
    /// The token in the path (`4242:test-token`, without `bot`).
    pub token: String,
    /// The JSON body; `Null` for a form (`sendPhoto`, `setWebhook`).
    pub body: Value,
    /// The body as sent.
    pub raw: Vec<u8>,
    /// `chat_id`, from the JSON body or the form.
    pub chat: Option<i64>,
    /// The status it was answered with.
    pub status: u16,
    pub at: Instant,
}

impl Call {
    /// `text` of the body; empty when there is none.
    pub fn text(&self) -> &str {
        self.body["text"].as_str().unwrap_or_default()
    }

    /// A field of the JSON body or of the form, as text.
    pub fn field(&self, name: &str) -> Option<String> {
        match &self.body[name] {
            Value::Null => form_field(&self.raw, name),
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    /// Answered with success.
    pub fn ok(&self) -> bool {
        self.status == 200
    }
}

/// The value of form field `name` in a multipart body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let after = text.split(&format!("name=\"{name}\"")).nth(1)?;
    let (_, value) = after.split_once("\r\n\r\n")?;
    let end = value.find("\r\n--").unwrap_or(value.len());
    Some(value[..end].to_owned())
}

/// What the fake answers a call with.
#[derive(Debug, Clone)]
pub struct Answer(Kind);

#[derive(Debug, Clone)]
enum Kind {
    /// Telegram's success for the method; a message gets `message_id` or
    /// the next id.
    Success {
        message_id: Option<i64>,
    },
    Raw {
        status: u16,
        body: Value,
    },
}

impl Answer {
    /// Success, as Telegram answers the method.
    pub fn success() -> Self {
        Self(Kind::Success { message_id: None })
    }

    /// Success; a message answer carries `message_id`.
    pub fn message(message_id: i64) -> Self {
        Self(Kind::Success {
            message_id: Some(message_id),
        })
    }

    /// 429 with `parameters.retry_after`.
    pub fn too_many_requests(retry_after: u32) -> Self {
        Self::raw(
            429,
            json!({
                "ok": false, "error_code": 429,
                "description": format!("Too Many Requests: retry after {retry_after}"),
                "parameters": {"retry_after": retry_after}
            }),
        )
    }

    /// 400 with `description` (`Bad Request: ...`).
    pub fn refused(description: &str) -> Self {
        Self::raw(
            400,
            json!({"ok": false, "error_code": 400, "description": description}),
        )
    }

    /// A failure with `status`: 429 waits 1 s; others carry the status's
    /// reason (`Bad Gateway`).
    pub fn error(status: u16) -> Self {
        if status == 429 {
            return Self::too_many_requests(1);
        }
        let reason = StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        Self::raw(
            status,
            json!({"ok": false, "error_code": status, "description": reason}),
        )
    }

    /// `body` with `status`, whatever it says.
    pub fn raw(status: u16, body: Value) -> Self {
        Self(Kind::Raw { status, body })
    }
}

/// Which calls a scripted answer is for.
#[derive(Debug, Clone, Default)]
struct Only {
    method: Option<String>,
    chat: Option<i64>,
}

impl Only {
    fn matches(&self, method: &str, chat: Option<i64>) -> bool {
        self.method.as_deref().is_none_or(|m| m == method)
            && self.chat.is_none_or(|c| Some(c) == chat)
    }
}

#[derive(Default)]
struct Recorded {
    calls: Vec<Call>,
    /// Answers for the next matching calls, each used once, first first.
    scripts: Vec<(Only, VecDeque<Answer>)>,
    /// Answers for every matching call not scripted; the latest set wins.
    standing: Vec<(Only, Answer)>,
    /// Every new message gets this id, instead of the next one.
    same_message_id: Option<i64>,
    last_message_id: i64,
}

/// The fake; clones share what it received and its script.
#[derive(Clone)]
pub struct Telegram {
    recorded: Arc<Mutex<Recorded>>,
    arrived: Arc<Notify>,
    url: String,
}

impl Telegram {
    /// Serves on a free local port until the runtime ends; messages are
    /// numbered from 1.
    pub async fn start() -> Self {
        let mut telegram = Self {
            recorded: Arc::default(),
            arrived: Arc::default(),
            url: String::new(),
        };
        let app = Router::new().fallback(answer).with_state(telegram.clone());
        telegram.url = format!("http://{}", crate::serve(app, "the Bot API").await);
        telegram
    }

    /// The `TELEGRAM_API_URL` to give out.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every new message gets `id` (replies then always name it).
    pub fn same_message_id(&self, id: i64) {
        self.lock().same_message_id = Some(id);
    }

    /// New messages are numbered from `first` on.
    pub fn number_messages_from(&self, first: i64) {
        let mut recorded = self.lock();
        recorded.same_message_id = None;
        recorded.last_message_id = first - 1;
    }

    /// The next calls get these statuses ([`Answer::error`]).
    pub fn fail_next(&self, statuses: &[u16]) {
        self.answer_next(statuses.iter().map(|s| Answer::error(*s)));
    }

    /// The next calls, of any method and chat, get `answers`.
    pub fn answer_next(&self, answers: impl IntoIterator<Item = Answer>) {
        self.script(Only::default(), answers);
    }

    /// The next calls to `chat` get `answers`.
    pub fn answer_next_in(&self, chat: i64, answers: impl IntoIterator<Item = Answer>) {
        let only = Only {
            chat: Some(chat),
            ..Only::default()
        };
        self.script(only, answers);
    }

    /// The next calls of `method` (any case) get `answers`.
    pub fn answer_next_of(&self, method: &str, answers: impl IntoIterator<Item = Answer>) {
        let only = Only {
            method: Some(method.to_ascii_lowercase()),
            ..Only::default()
        };
        self.script(only, answers);
    }

    /// Every call not scripted gets `answer` (`None`: of any method).
    pub fn answer_every(&self, method: Option<&str>, answer: Answer) {
        let only = Only {
            method: method.map(str::to_ascii_lowercase),
            ..Only::default()
        };
        self.lock().standing.push((only, answer));
    }

    fn script(&self, only: Only, answers: impl IntoIterator<Item = Answer>) {
        self.lock()
            .scripts
            .push((only, answers.into_iter().collect()));
    }

    /// Every call, in the order they came.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Every call of `method` (lower case).
    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        let method = method.to_ascii_lowercase();
        self.lock()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// The `text` of every call to `chat`, in order (`""` for a photo).
    pub fn texts_in(&self, chat: i64) -> Vec<String> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.chat == Some(chat))
            .map(|c| c.text().to_owned())
            .collect()
    }

    /// Calls answered with an error so far.
    pub fn failed(&self) -> usize {
        self.lock().calls.iter().filter(|c| !c.ok()).count()
    }

    /// Successful calls of `method`.
    pub fn count(&self, method: &str) -> usize {
        self.calls_of(method).iter().filter(|c| c.ok()).count()
    }

    /// Successful calls of `method` to `chat`.
    pub fn count_to(&self, method: &str, chat: i64) -> usize {
        self.calls_of(method)
            .iter()
            .filter(|c| c.ok() && c.chat == Some(chat))
            .count()
    }

    /// Waits until `n` calls came; panics with those that did after
    /// `timeout`.
    pub async fn wait_for_calls(&self, n: usize, timeout: Duration) -> Vec<Call> {
        let deadline = Instant::now() + timeout;
        loop {
            let arrived = self.arrived.notified();
            let calls = self.calls();
            if calls.len() >= n {
                return calls;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("{n} Telegram calls expected within {timeout:?}, got {calls:?}");
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Recorded> {
        self.recorded.lock().expect("not poisoned")
    }
}

async fn answer(
    State(telegram): State<Telegram>,
    uri: Uri,
    raw: Bytes,
) -> (StatusCode, Json<Value>) {
    let mut segments = uri.path().rsplit('/');
    let method = segments.next().unwrap_or_default().to_ascii_lowercase();
    let token = segments.next().unwrap_or_default();
    let token = token.strip_prefix("bot").unwrap_or(token).to_owned();
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let chat = body["chat_id"]
        .as_i64()
        .or_else(|| form_field(&raw, "chat_id")?.trim().parse().ok());

    let mut recorded = telegram.lock();
    let scripted = recorded
        .scripts
        .iter_mut()
        .find(|(only, answers)| !answers.is_empty() && only.matches(&method, chat))
        .and_then(|(_, answers)| answers.pop_front());
    let chosen = scripted.or_else(|| {
        recorded
            .standing
            .iter()
            .rev()
            .find(|(only, _)| only.matches(&method, chat))
            .map(|(_, answer)| answer.clone())
    });
    let (status, reply) = match chosen.unwrap_or_else(Answer::success).0 {
        Kind::Raw { status, body } => (status, body),
        Kind::Success { message_id } => {
            let result = if ANSWER_TRUE.contains(&method.as_str()) {
                json!(true)
            } else {
                // An edit answers with the message it edited.
                let id = message_id
                    .or_else(|| body["message_id"].as_i64())
                    .unwrap_or_else(|| recorded.next_message_id());
                message(&method, id, chat)
            };
            (200, json!({"ok": true, "result": result}))
        }
    };
    recorded.calls.push(Call {
        method,
        token,
        body,
        raw: raw.to_vec(),
        chat,
        status,
        at: Instant::now(),
    });
    drop(recorded);
    telegram.arrived.notify_waiters();
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Json(reply),
    )
}

impl Recorded {
    fn next_message_id(&mut self) -> i64 {
        if let Some(id) = self.same_message_id {
            return id;
        }
        self.last_message_id += 1;
        self.last_message_id
    }
}

/// The message Telegram answers `method` with.
fn message(method: &str, id: i64, chat: Option<i64>) -> Value {
    let chat = chat.unwrap_or(1);
    let mut message = json!({
        "message_id": id, "date": 1_700_000_000,
        "chat": if chat > 0 {
            json!({"id": chat, "type": "private", "first_name": "Ada"})
        } else {
            json!({"id": chat, "type": "supergroup", "title": "A group"})
        },
        "from": {"id": 4242, "is_bot": true, "first_name": "pagesmith"},
    });
    if method == "sendphoto" {
        message["photo"] =
            json!([{"file_id": "f", "file_unique_id": "u", "width": 1280, "height": 800}]);
    } else {
        message["text"] = json!("ok");
    }
    message
}
