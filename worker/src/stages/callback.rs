//! The evaluation callback: telling an /app evaluator where its site is.
//!
//! `POST evaluation_url` with exactly `email, task, round, nonce, repo_url,
//! commit_sha, pages_url`; retried on anything but 200 after 1, 2, 4, 8 … s
//! until a 200 or the deadline. Every attempt is recorded with the time
//! left. The target is resolved and checked before each attempt: loopback,
//! private and link-local addresses are refused unless
//! `CALLBACK_ALLOW_PRIVATE=true`, and the request goes to the checked
//! address, so DNS cannot be switched in between.

use pagesmith::{backoff::Backoff, domain::CallbackStatus};
use std::{net::SocketAddr, time::Duration};

use chrono::Utc;
use pagesmith::{
    db::{self, app::AppRequestRecord, publishing::PublishRecord},
    domain::net::is_private_ip,
};
use serde::Serialize;
use url::Url;
use uuid::Uuid;

use crate::{environment::Environment, error::JobError};

/// The callback body, field for field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallbackBody<'a> {
    pub email: &'a str,
    pub task: &'a str,
    pub round: i32,
    pub nonce: &'a str,
    pub repo_url: &'a str,
    pub commit_sha: &'a str,
    pub pages_url: &'a str,
}

/// Delivers the callback once; a redelivered job whose callback went out
/// sends nothing.
pub async fn deliver(
    env: &Environment,
    app: &AppRequestRecord,
    publish: &PublishRecord,
) -> Result<(), JobError> {
    if db::publishing::callback_delivered(&env.pool, app.job_id).await? {
        return Ok(());
    }
    let body = CallbackBody {
        email: &app.email,
        task: &app.task,
        round: app.round,
        nonce: &app.nonce,
        repo_url: &publish.repo_url,
        commit_sha: &publish.commit_sha,
        pages_url: &publish.pages_url,
    };
    let url = Url::parse(&app.evaluation_url)
        .map_err(|e| JobError::permanent(format!("evaluation_url is invalid: {e}"), ""))?;
    // No cap: the deadline bounds the waits (below).
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::MAX);
    loop {
        let delay = backoff.next_wait();
        let left = app.deadline - Utc::now();
        let margin_ms = left.num_milliseconds();
        if margin_ms <= 0 {
            return give_up(
                env,
                app,
                "the deadline passed before the evaluator accepted the callback",
            )
            .await;
        }
        let timeout = Duration::from_millis(margin_ms as u64).min(Duration::from_secs(10));
        let outcome = attempt(env, &url, &body, timeout).await;
        if outcome == Ok(200) {
            record_delivery(env, app.job_id, margin_ms).await?;
            metrics::counter!("pagesmith_callback_attempts_total", "outcome" => "ok").increment(1);
            metrics::histogram!("pagesmith_callback_deadline_margin_seconds")
                .record(margin_ms as f64 / 1000.0);
            tracing::info!(job.id = %app.job_id, margin_ms, "callback delivered");
            return Ok(());
        }
        let (status, error) = match &outcome {
            Ok(status) => (
                Some(i32::from(*status)),
                (*status != 200).then(|| format!("HTTP {status}")),
            ),
            Err(e) => (None, Some(e.clone())),
        };
        db::publishing::record_callback_attempt(
            &env.pool,
            app.job_id,
            status,
            error.as_deref(),
            margin_ms,
        )
        .await?;
        metrics::counter!("pagesmith_callback_attempts_total", "outcome" => "failed").increment(1);
        if let Err(reason) = outcome
            && reason.starts_with("refused:")
        {
            db::publishing::set_callback_status(&env.pool, app.job_id, CallbackStatus::Failed)
                .await?;
            return Err(JobError::permanent(format!("callback {reason}"), ""));
        }
        let left = (app.deadline - Utc::now()).to_std().unwrap_or_default();
        if delay >= left {
            return give_up(
                env,
                app,
                "the evaluator did not answer 200 before the deadline",
            )
            .await;
        }
        tracing::info!(job.id = %app.job_id, ?delay, error = error.as_deref().unwrap_or(""), "callback failed; retrying");
        tokio::time::sleep(delay).await;
    }
}

/// The evaluator has the callback: record that, retrying the database for
/// up to a minute. Left unrecorded, the job's retry would send the callback
/// a second time (the fault suite's duplicate storm caught exactly that when
/// the pool was exhausted).
async fn record_delivery(env: &Environment, job_id: Uuid, margin_ms: i64) -> Result<(), JobError> {
    let give_up_at = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        let delay = backoff.next_wait();
        match db::publishing::record_delivery(&env.pool, job_id, margin_ms).await {
            Ok(()) => return Ok(()),
            Err(e) if tokio::time::Instant::now() + delay < give_up_at => {
                tracing::warn!(job.id = %job_id, error = %e, retry_in = ?delay, "could not record a delivered callback");
                tokio::time::sleep(delay).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn give_up(env: &Environment, app: &AppRequestRecord, reason: &str) -> Result<(), JobError> {
    db::publishing::set_callback_status(&env.pool, app.job_id, CallbackStatus::Failed).await?;
    Err(JobError::permanent(
        format!("callback not delivered: {reason}"),
        "",
    ))
}

/// One POST; the status code, or why there was none. A reason starting
/// with `refused:` will never succeed.
async fn attempt(
    env: &Environment,
    url: &Url,
    body: &CallbackBody<'_>,
    timeout: Duration,
) -> Result<u16, String> {
    let host = url
        .host_str()
        .ok_or("refused: evaluation_url has no host")?
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let addr = *addrs
        .first()
        .ok_or_else(|| format!("{host} resolves to no address"))?;
    if !env.settings.callback_allow_private && addrs.iter().any(|a| is_private_ip(a.ip())) {
        return Err(format!("refused: {host} resolves to a private address"));
    }
    let client = reqwest::Client::builder()
        .resolve(&host, addr)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .post(url.clone())
        .json(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(response.status().as_u16())
}
