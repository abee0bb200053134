//! An OpenAI-compatible chat-completions endpoint that writes a small,
//! valid site, after a configurable delay; it can stall the next calls past
//! any client timeout.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Json, Router, extract::State, routing::post};
use serde_json::{Value, json};

#[derive(Clone, Default)]
pub struct Llm {
    delay: Arc<Mutex<Duration>>,
    stall_next: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

impl Llm {
    /// Starts the fake; returns it and the `LLM_BASE_URL` to give out.
    pub async fn start(delay: Duration) -> anyhow::Result<(Self, String)> {
        let llm = Self::default();
        *llm.delay.lock().expect("not poisoned") = delay;
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .with_state(llm.clone());
        let addr = super::serve(app).await?;
        Ok((llm, format!("http://{addr}/v1")))
    }

    /// From now on, each call takes `delay`.
    pub fn set_delay(&self, delay: Duration) {
        *self.delay.lock().expect("not poisoned") = delay;
    }

    /// The next `n` calls never answer (the client's timeout must fire).
    pub fn stall_next(&self, n: usize) {
        self.stall_next.store(n, Ordering::SeqCst);
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

async fn complete(State(llm): State<Llm>, Json(_request): Json<Value>) -> Json<Value> {
    // Each site differs (bundles are content-addressed: equal sites share one).
    let call = llm.calls.fetch_add(1, Ordering::SeqCst) + 1;
    let stall = llm
        .stall_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if stall {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let delay = *llm.delay.lock().expect("not poisoned");
    tokio::time::sleep(delay).await;
    let index = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Fault suite</title><link rel=\"stylesheet\" href=\"style.css\"></head><body><h1>Fault suite</h1><p id=\"out\"></p><p>Call {call}.</p><script src=\"app.js\"></script></body></html>"
    );
    let files = json!({"files": [
        {"path": "index.html", "content": index},
        {"path": "style.css", "content": "body { font-family: system-ui; margin: 2rem; }"},
        {"path": "app.js", "content": "document.getElementById('out').textContent = 'ready';"},
        {"path": "README.md", "content": "# Fault suite\n\n## Summary\nA test site.\n\n## Setup\nNone.\n\n## Usage\nOpen index.html.\n\n## Code explanation\nOne page.\n\n## License\nMIT\n"}
    ]});
    Json(json!({
        "id": "faults", "object": "chat.completion", "model": "faults-model",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": files.to_string()}}]
    }))
}
