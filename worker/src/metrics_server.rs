//! The worker's own small HTTP server, on `WORKER_METRICS_ADDR`:
//! `GET /metrics` (Prometheus text from the shared recorder: stage timings,
//! generator and Telegram calls, publishes, callbacks, and the jobs-by-state
//! gauge) and `GET /health`.
//!
//! The gauge counts every job in PostgreSQL by state, so every worker
//! reports the same numbers: aggregate it with `max`, not `sum`.

use std::{collections::BTreeMap, time::Duration};

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use metrics_exporter_prometheus::PrometheusHandle;
use pagesmith::{domain::JobState, telemetry::PROMETHEUS_CONTENT_TYPE};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
struct Scrape {
    pool: PgPool,
    metrics: PrometheusHandle,
}

/// `/metrics` and `/health`.
pub fn router(pool: PgPool, metrics: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .route("/health", get(health))
        .with_state(Scrape { pool, metrics })
}

async fn render(State(scrape): State<Scrape>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)],
        scrape.metrics.render(),
    )
}

/// 200 while PostgreSQL answers, 503 naming the problem when it does not.
/// (RabbitMQ outages show in the logs: the consumer reconnects on its own.)
async fn health(State(scrape): State<Scrape>) -> (StatusCode, Json<Value>) {
    let ping = tokio::time::timeout(Duration::from_secs(2), pagesmith::db::ping(&scrape.pool));
    let (status, postgres) = match ping.await {
        Ok(Ok(())) => (StatusCode::OK, "ok".to_owned()),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, format!("unreachable: {e}")),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "unreachable: no answer within 2 s".to_owned(),
        ),
    };
    let overall = if status == StatusCode::OK {
        "ok"
    } else {
        "unavailable"
    };
    (
        status,
        Json(json!({ "status": overall, "postgres": postgres })),
    )
}

/// Sets `pagesmith_jobs_by_state{state}` from PostgreSQL now and then every
/// `every`, until `stop`. Every known state is set, to 0 when no job is in
/// it, so a state that empties does not keep its last count.
pub async fn count_jobs_by_state(pool: PgPool, every: Duration, stop: CancellationToken) {
    loop {
        match jobs_by_state(&pool).await {
            Ok(counts) => {
                for (state, count) in counts {
                    metrics::gauge!("pagesmith_jobs_by_state", "state" => state).set(count as f64);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not count jobs by state"),
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => return,
        }
    }
}

async fn jobs_by_state(pool: &PgPool) -> Result<BTreeMap<String, i64>, sqlx::Error> {
    let rows = sqlx::query!(r#"SELECT state, count(*) AS "count!" FROM jobs GROUP BY state"#)
        .fetch_all(pool)
        .await?;
    let mut counts: BTreeMap<String, i64> = JobState::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), 0))
        .collect();
    counts.extend(rows.into_iter().map(|r| (r.state, r.count)));
    Ok(counts)
}
