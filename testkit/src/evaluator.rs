//! The evaluators' callback URL, as a local server: it remembers every
//! callback and when it came, can refuse the first few per nonce with 503
//! (as a struggling evaluator would), and lets a test wait for a nonce's.
//! The e2e tests, their benchmark and the fault suite share it.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    routing::post,
};
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::{sync::Notify, time::Instant};

/// A callback the evaluator accepted.
#[derive(Debug, Clone)]
pub struct Callback {
    pub body: Value,
    /// Its `Content-Type` header.
    pub content_type: String,
    /// When it arrived, for latencies.
    pub received: Instant,
    /// When it arrived, for comparing with a deadline stored in PostgreSQL.
    pub at: DateTime<Utc>,
}

/// The fake; clones share what it received.
#[derive(Clone, Default)]
pub struct Evaluator {
    accepted: Arc<Mutex<Vec<Callback>>>,
    refused: Arc<Mutex<HashMap<String, usize>>>,
    refuse_first: Arc<AtomicUsize>,
    arrived: Arc<Notify>,
}

impl Evaluator {
    /// Serves on a free local port until the runtime ends; returns the fake
    /// and the `evaluation_url` to give out.
    pub async fn start() -> (Self, String) {
        let evaluator = Self::default();
        let app = Router::new()
            .route("/notify", post(receive))
            .with_state(evaluator.clone());
        let addr = crate::serve(app, "the evaluator").await;
        (evaluator, format!("http://{addr}/notify"))
    }

    /// Refuses the first `n` callbacks of every nonce with 503.
    pub fn refuse_first(&self, n: usize) {
        self.refuse_first.store(n, Ordering::SeqCst);
    }

    /// Every accepted callback, in the order they came.
    pub fn accepted(&self) -> Vec<Callback> {
        self.accepted.lock().expect("not poisoned").clone()
    }

    /// How many callbacks of `nonce` were refused.
    pub fn refused(&self, nonce: &str) -> usize {
        self.refused
            .lock()
            .expect("not poisoned")
            .get(nonce)
            .copied()
            .unwrap_or(0)
    }

    /// Waits for the accepted callback carrying `nonce`; panics after
    /// `timeout`.
    pub async fn wait_for(&self, nonce: &str, timeout: Duration) -> Callback {
        let deadline = Instant::now() + timeout;
        loop {
            let arrived = self.arrived.notified();
            if let Some(callback) = self
                .accepted()
                .into_iter()
                .find(|c| c.body["nonce"] == nonce)
            {
                return callback;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("no callback for nonce {nonce} within {timeout:?}");
            }
        }
    }
}

async fn receive(
    State(evaluator): State<Evaluator>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> StatusCode {
    let nonce = body["nonce"].as_str().unwrap_or_default().to_owned();
    {
        let mut refused = evaluator.refused.lock().expect("not poisoned");
        let so_far = refused.entry(nonce).or_default();
        if *so_far < evaluator.refuse_first.load(Ordering::SeqCst) {
            *so_far += 1;
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    evaluator
        .accepted
        .lock()
        .expect("not poisoned")
        .push(Callback {
            body,
            content_type: headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            received: Instant::now(),
            at: Utc::now(),
        });
    evaluator.arrived.notify_waiters();
    StatusCode::OK
}
