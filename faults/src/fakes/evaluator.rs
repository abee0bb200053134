//! The evaluators' callback URL: records every callback and when it came,
//! and can refuse the first few per nonce with 503.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// A callback the evaluator accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: Value,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Default)]
pub struct Evaluator {
    accepted: Arc<Mutex<Vec<Received>>>,
    refused: Arc<Mutex<HashMap<String, usize>>>,
    refuse_first: Arc<AtomicUsize>,
}

impl Evaluator {
    /// Starts the fake; returns it and the `evaluation_url` to give out.
    pub async fn start() -> anyhow::Result<(Self, String)> {
        let evaluator = Self::default();
        let app = Router::new()
            .route("/notify", post(receive))
            .with_state(evaluator.clone());
        let addr = super::serve(app).await?;
        Ok((evaluator, format!("http://{addr}/notify")))
    }

    /// Refuses the first `n` callbacks of every nonce with 503.
    pub fn refuse_first(&self, n: usize) {
        self.refuse_first.store(n, Ordering::SeqCst);
    }

    /// Every accepted callback.
    pub fn accepted(&self) -> Vec<Received> {
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
}

async fn receive(State(evaluator): State<Evaluator>, Json(body): Json<Value>) -> StatusCode {
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
        .push(Received {
            body,
            at: Utc::now(),
        });
    StatusCode::OK
}
