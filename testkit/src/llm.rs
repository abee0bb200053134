//! An OpenAI-compatible chat-completions endpoint, as a local server: it
//! records every request (headers, JSON body, arrival) and answers from a
//! queue of scripted replies (any status, headers, body and delay), then
//! with its standing answer: by default a small valid site, different on
//! every call (bundles are content-addressed: equal sites would share
//! one). It can be slowed down, or stall the next calls past any client's
//! timeout. The worker's tests, the e2e tests, the benchmarks and the
//! fault suite share it.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};
use tokio::time::Instant;

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Request {
    pub headers: HeaderMap,
    /// The JSON body; `Null` when it is not JSON.
    pub body: Value,
    pub at: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The content of the prompt's message `index` (0: system, 1: user).
    pub fn message(&self, index: usize) -> &str {
        self.body["messages"][index]["content"]
            .as_str()
            .unwrap_or_default()
    }
}

/// What the fake answers one call with.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
    delay: Duration,
}

#[derive(Debug, Clone)]
enum Body {
    Json(Value),
    Text(String),
}

impl Reply {
    /// A chat completion whose message is `content`, finished (`stop`).
    pub fn completion(content: &str) -> Self {
        Self::completion_ending(content, "stop")
    }

    /// A chat completion that ended for `finish_reason` (`length`).
    pub fn completion_ending(content: &str, finish_reason: &str) -> Self {
        Self::json(
            200,
            json!({
                "id": "chatcmpl-1", "object": "chat.completion", "model": "test-model",
                "choices": [{
                    "index": 0, "finish_reason": finish_reason,
                    "message": {"role": "assistant", "content": content}
                }],
                "usage": {"prompt_tokens": 10, "completion_tokens": 20}
            }),
        )
    }

    /// A chat completion whose message is `{"files": [...]}` of `files`.
    pub fn site<P: AsRef<str>, C: AsRef<str>>(files: &[(P, C)]) -> Self {
        Self::completion(&manifest(files))
    }

    /// An OpenAI error: `{"error": {"message": ...}}` with `status`.
    pub fn error(status: u16, message: &str) -> Self {
        Self::json(status, json!({"error": {"message": message}}))
    }

    /// `status` with an empty body.
    pub fn status(status: u16) -> Self {
        Self::text(status, "")
    }

    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Body::Json(body),
            delay: Duration::ZERO,
        }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Self {
            body: Body::Text(body.to_owned()),
            ..Self::json(status, Value::Null)
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Answers only after `delay`.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// `{"files": [{"path", "content"}, ...]}`, as a model writes a site.
pub fn manifest<P: AsRef<str>, C: AsRef<str>>(files: &[(P, C)]) -> String {
    let files: Vec<Value> = files
        .iter()
        .map(|(p, c)| json!({"path": p.as_ref(), "content": c.as_ref()}))
        .collect();
    json!({ "files": files }).to_string()
}

/// A small site that passes every self-check; `call` makes it unique.
pub fn small_site(call: usize) -> Reply {
    let index = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>A test site</title><link rel=\"stylesheet\" href=\"style.css\"></head><body><h1>A test site</h1><p id=\"out\"></p><p>Call {call}.</p><script src=\"app.js\"></script></body></html>"
    );
    Reply::site(&[
        ("index.html", index.as_str()),
        (
            "style.css",
            "body { font-family: system-ui; margin: 2rem; }",
        ),
        (
            "app.js",
            "document.getElementById('out').textContent = 'ready';",
        ),
        (
            "README.md",
            "# A test site\n\n## Summary\nA test site.\n\n## Setup\nNone.\n\n## Usage\nOpen index.html.\n\n## Code explanation\nOne page.\n\n## License\nMIT\n",
        ),
    ])
}

type Answerer = Arc<dyn Fn(usize) -> Reply + Send + Sync>;

struct Recorded {
    requests: Vec<Request>,
    script: VecDeque<Reply>,
    /// Answers calls not scripted, given the call's number (from 1).
    otherwise: Answerer,
    delay: Duration,
    stall_next: usize,
}

/// The fake; clones share what it received and its script.
#[derive(Clone)]
pub struct Llm {
    recorded: Arc<Mutex<Recorded>>,
    url: String,
}

impl Llm {
    /// Serves on a free local port until the runtime ends, answering
    /// [`small_site`] until told otherwise.
    pub async fn start() -> Self {
        let mut llm = Self {
            recorded: Arc::new(Mutex::new(Recorded {
                requests: Vec::new(),
                script: VecDeque::new(),
                otherwise: Arc::new(small_site),
                delay: Duration::ZERO,
                stall_next: 0,
            })),
            url: String::new(),
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .with_state(llm.clone());
        llm.url = format!("http://{}/v1", crate::serve(app, "the LLM").await);
        llm
    }

    /// The `LLM_BASE_URL` to give out (`http://127.0.0.1:port/v1`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The next calls get `replies`, in order.
    pub fn reply_next(&self, replies: impl IntoIterator<Item = Reply>) {
        self.lock().script.extend(replies);
    }

    /// Calls not scripted get `reply`.
    pub fn reply_always(&self, reply: Reply) {
        self.lock().otherwise = Arc::new(move |_: usize| reply.clone());
    }

    /// Calls not scripted get `answer(call number)`.
    pub fn reply_with(&self, answer: impl Fn(usize) -> Reply + Send + Sync + 'static) {
        self.lock().otherwise = Arc::new(answer);
    }

    /// From now on, each call takes `delay` (beside its reply's own).
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// The next `n` calls never answer (the client's timeout must fire).
    pub fn stall_next(&self, n: usize) {
        self.lock().stall_next = n;
    }

    /// Calls so far.
    pub fn calls(&self) -> usize {
        self.lock().requests.len()
    }

    /// Every request, in the order they came.
    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Recorded> {
        self.recorded.lock().expect("not poisoned")
    }
}

async fn complete(State(llm): State<Llm>, headers: HeaderMap, body: Bytes) -> Response {
    let (reply, delay, stall) = {
        let mut recorded = llm.lock();
        recorded.requests.push(Request {
            headers,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            at: Instant::now(),
        });
        let call = recorded.requests.len();
        let reply = match recorded.script.pop_front() {
            Some(reply) => reply,
            None => (recorded.otherwise)(call),
        };
        let stall = recorded.stall_next > 0;
        recorded.stall_next = recorded.stall_next.saturating_sub(1);
        (reply, recorded.delay, stall)
    };
    if stall {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    tokio::time::sleep(delay + reply.delay).await;
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match reply.body {
        Body::Json(body) => (status, axum::Json(body)).into_response(),
        Body::Text(text) => (status, [(CONTENT_TYPE, "text/plain")], text).into_response(),
    };
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            axum::http::HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
