//! Approval of /app jobs: automatic by default; with `APP_REQUIRE_REVIEW`,
//! a reviewer in `REVIEWER_CHAT_ID` approves, and a job still waiting
//! `APP_REVIEW_MARGIN_SECS` before its deadline expires (no callback claims
//! a publish that did not happen).

use pagesmith::domain::VersionState;
use std::time::Duration;

use pagesmith::{
    db::{self, versions::Version},
    domain::JobState,
};

use crate::context::Context;
use crate::{
    environment::Environment,
    error::JobError,
    telegram::{Message, escape},
};

/// How often a waiting job looks at its expiry.
const RECHECK: Duration = Duration::from_secs(120);

/// Moves a ready /app job on: approved, or expired, or not yet.
pub async fn app_job(
    env: &Environment,
    ctx: &Context,
    version: &Version,
) -> Result<JobState, JobError> {
    let mut conn = env.pool.acquire().await?;
    if !env.settings.app_require_review {
        db::jobs::transition(
            &mut conn,
            ctx.job.id,
            &[JobState::PreviewReady],
            JobState::Approved,
        )
        .await?;
        return Ok(JobState::Approved);
    }
    let Some(deadline) = ctx.job.deadline else {
        return Ok(JobState::PreviewReady);
    };
    let margin = chrono::Duration::from_std(env.settings.app_review_margin).unwrap_or_default();
    let left = (deadline - margin - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    if !left.is_zero() {
        return Err(JobError::Deferred {
            reason: "waiting for a reviewer".into(),
            delay: left.min(RECHECK),
        });
    }
    let mut tx = env.pool.begin().await?;
    let expired = db::jobs::transition(
        &mut tx,
        ctx.job.id,
        &[JobState::PreviewReady],
        JobState::Expired,
    )
    .await?;
    if expired {
        db::versions::set_state(&mut tx, version.id, VersionState::Expired).await?;
    }
    tx.commit().await?;
    if expired {
        metrics::counter!("pagesmith_jobs_expired_total").increment(1);
        if let (Some(chat), Some(app)) = (env.settings.reviewer_chat_id, &ctx.app) {
            let text = format!(
                "⌛ Task <b>{}</b> round {} expired: nobody approved it before its deadline, so nothing was published and no callback was sent.",
                escape(&app.task),
                app.round
            );
            let notice = Message::text(chat, text).once(format!("expired:{}", version.id));
            env.outbox.put_or_log(notice, "expiry").await;
        }
        return Ok(JobState::Expired);
    }
    Ok(db::jobs::load(&env.pool, ctx.job.id)
        .await?
        .map_or(JobState::PreviewReady, |j| j.state))
}
