//! Processing one job: the unit the consumer runs per message, and the one
//! tests drive directly.

use pagesmith::{
    db::{self, jobs::AttemptOutcome},
    domain::{JobKind, JobState, Source},
};
use uuid::Uuid;

use crate::{clicks, commands, environment::Environment, error::JobError, pipeline};

/// Runs the job as far as it can go now, under its lock. `Ok` also covers a
/// job that already ended (a duplicate message).
#[tracing::instrument(skip_all, fields(job.id = %job_id))]
pub async fn process(env: &Environment, job_id: Uuid) -> Result<(), JobError> {
    let Some(lock) = env.locks.try_acquire(job_id).await? else {
        return Err(JobError::Busy);
    };
    let result = run_locked(env, job_id).await;
    lock.release().await;
    result
}

async fn run_locked(env: &Environment, job_id: Uuid) -> Result<(), JobError> {
    let Some(job) = db::jobs::load(&env.pool, job_id).await? else {
        return Err(JobError::permanent(format!("no job {job_id}"), ""));
    };
    // A published /app job may still owe its callback.
    let owes_callback = job.source == Source::App && job.state == JobState::Published;
    if job.state.is_terminal() && !owes_callback {
        tracing::debug!(state = %job.state, "job already ended; nothing to do");
        return Ok(());
    }
    let attempt = db::jobs::begin_attempt(&env.pool, job.id, job.state).await?;
    let result = match job.kind {
        JobKind::Generate => pipeline::run(env, job).await,
        JobKind::Command => commands::run(env, job).await,
        JobKind::Callback => clicks::run(env, job).await,
    };
    let (outcome, error) = match &result {
        Ok(()) => (AttemptOutcome::Succeeded, None),
        Err(JobError::Retryable { reason, .. }) => {
            (AttemptOutcome::Retrying, Some(reason.as_str()))
        }
        Err(JobError::Deferred { reason, .. }) => {
            (AttemptOutcome::Abandoned, Some(reason.as_str()))
        }
        Err(JobError::Permanent { reason, .. }) => (AttemptOutcome::Failed, Some(reason.as_str())),
        Err(JobError::Busy) => (AttemptOutcome::Abandoned, None),
    };
    if let Err(e) = db::jobs::finish_attempt(&env.pool, attempt, outcome, error).await {
        tracing::warn!(error = %e, "could not record how the attempt ended");
    }
    result
}
