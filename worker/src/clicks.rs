//! Clicks on the review buttons: Approve, Request changes, Reject (and the
//! labels that replace them once decided, see `buttons`).
//!
//! Every click is answered (Telegram drops an unanswered one after about
//! 150 s). Only the requester or a configured reviewer may act; a repeated
//! or stale click (a version already published, or replaced by a newer
//! round) changes nothing and says so. A decision shows on the message's
//! buttons: who took it, and no button that would repeat it.

use pagesmith::domain::{MessagePurpose, VersionState};
use pagesmith::{
    db::{self, jobs::Job, projects::Project, versions::Version},
    domain::{JobPayload, JobState, job::TelegramCallback},
};

use crate::{
    buttons::{self, Action, ButtonData, Decision},
    environment::Environment,
    error::JobError,
    telegram::{Message, escape},
    texts::clicks,
};

pub async fn run(env: &Environment, job: Job) -> Result<(), JobError> {
    let JobPayload::Callback(click) = &job.payload else {
        return Err(JobError::permanent("a callback job without a click", ""));
    };
    let (answer, alert) = handle(env, click).await?;
    if let Err(e) = env
        .telegram
        .answer_callback(&click.query_id, &answer, alert)
        .await
    {
        tracing::warn!(job.id = %job.id, error = %e, "could not answer the click");
    }
    let mut conn = env.pool.acquire().await?;
    db::jobs::transition(&mut conn, job.id, &[JobState::Queued], JobState::Done).await?;
    Ok(())
}

/// Acts on a click; returns the answer shown to the clicker.
async fn handle(env: &Environment, click: &TelegramCallback) -> Result<(String, bool), JobError> {
    let Some(ButtonData {
        action,
        version: version_id,
    }) = ButtonData::parse(&click.data)
    else {
        return Ok((clicks::BAD_BUTTON.into(), true));
    };
    let Some(version) = db::versions::get(&env.pool, version_id).await? else {
        return Ok((clicks::VERSION_GONE.into(), true));
    };
    let Some(project) = db::projects::get(&env.pool, version.project_id).await? else {
        return Ok((clicks::SITE_GONE.into(), true));
    };
    let authorized = env
        .settings
        .may_decide(project.owner_user_id, click.user_id);
    if !authorized {
        tracing::info!(user = click.user_id, version.id = %version.id, "unauthorized click refused");
        return Ok((
            "Sorry, only the person who asked for this site or a reviewer can do that.".into(),
            true,
        ));
    }
    let latest = db::versions::latest(&env.pool, project.id).await?;
    if latest.as_ref().is_some_and(|l| l.number > version.number) {
        return Ok((
            format!(
                "Version {} was replaced by a newer one; use the buttons under the latest version.",
                version.number
            ),
            true,
        ));
    }
    let Some(job) = db::jobs::load(&env.pool, version.job_id).await? else {
        return Ok((clicks::VERSION_GONE.into(), true));
    };
    match action {
        Action::Approve => approve(env, &version, &job, click).await,
        Action::Reject => reject(env, &version, &job, click).await,
        Action::Revise => ask_for_changes(env, &project, &version, click).await,
        Action::Status => Ok((where_it_stands(&version, job.state), false)),
    }
}

/// Who clicked, as the decision's label names them.
fn clicker(click: &TelegramCallback) -> String {
    click
        .user_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| format!("user {}", click.user_id))
}

/// Shows `decision` on the clicked message's buttons.
async fn show_decision(
    env: &Environment,
    click: &TelegramCallback,
    version: &Version,
    decision: Decision<'_>,
) {
    let (Some(chat), Some(message)) = (click.chat_id, click.message_id) else {
        return;
    };
    let buttons = Some(buttons::after(version.id, decision));
    let shown = Message::buttons(chat, message, buttons);
    env.outbox.put_or_log(shown, "decision").await;
}

/// The answer to a click on a label.
fn where_it_stands(version: &Version, state: JobState) -> String {
    let n = version.number;
    match state {
        JobState::Approved | JobState::Publishing => {
            format!("Version {n} is approved and being published.")
        }
        JobState::Published | JobState::Done => format!("Version {n} is published."),
        JobState::Rejected => format!("Version {n} was rejected."),
        JobState::Expired => format!("Version {n} expired."),
        _ => format!("Version {n} is waiting for review."),
    }
}

async fn approve(
    env: &Environment,
    version: &Version,
    job: &Job,
    click: &TelegramCallback,
) -> Result<(String, bool), JobError> {
    let mut tx = env.pool.begin().await?;
    let moved = db::jobs::transition(
        &mut tx,
        job.id,
        &[JobState::PreviewReady],
        JobState::Approved,
    )
    .await?;
    if moved {
        // The job itself goes back to the queue and carries on from
        // `approved`: publishing is the rest of the same job, not a new one.
        db::outbox::enqueue(&mut tx, job.id, job.kind).await?;
    }
    tx.commit().await?;
    if moved {
        let by = clicker(click);
        show_decision(env, click, version, Decision::Approved { by: &by }).await;
    }
    Ok(match (moved, job.state) {
        (true, _) => (
            format!("👍 Approved version {}. Publishing…", version.number),
            false,
        ),
        (false, JobState::Approved | JobState::Publishing) => {
            ("It is already being published.".into(), false)
        }
        (false, JobState::Published) => ("It is already published.".into(), false),
        (false, JobState::Rejected) => (clicks::REJECTED.into(), true),
        (false, JobState::Expired) => (clicks::EXPIRED.into(), true),
        (false, _) => (clicks::NOT_READY.into(), true),
    })
}

async fn reject(
    env: &Environment,
    version: &Version,
    job: &Job,
    click: &TelegramCallback,
) -> Result<(String, bool), JobError> {
    let mut tx = env.pool.begin().await?;
    let moved = db::jobs::transition(
        &mut tx,
        job.id,
        &[JobState::PreviewReady],
        JobState::Rejected,
    )
    .await?;
    if moved {
        db::versions::set_state(&mut tx, version.id, VersionState::Rejected).await?;
    }
    tx.commit().await?;
    if !moved {
        return Ok((clicks::CANNOT_REJECT.into(), true));
    }
    if let (Some(chat), Some(message)) = (click.chat_id, click.message_id) {
        let text = format!(
            "🗑 Version {} was rejected by {}; its preview links no longer work.",
            version.number,
            escape(&clicker(click))
        );
        let rejected = Message::text(chat, text).editing(message);
        env.outbox.put_or_log(rejected, "rejected").await;
    }
    Ok((format!("Rejected version {}.", version.number), false))
}

async fn ask_for_changes(
    env: &Environment,
    project: &Project,
    version: &Version,
    click: &TelegramCallback,
) -> Result<(String, bool), JobError> {
    let Some(chat) = click.chat_id else {
        return Ok((
            "Reply to the site's message with what to change.".into(),
            true,
        ));
    };
    let text = format!(
        "✏️ What should change in <b>{}</b> (version {})? Reply to this message with your changes.",
        escape(&project.title),
        version.number
    );
    let prompt =
        Message::text(chat, text).about(project.id, Some(version.id), MessagePurpose::RevisePrompt);
    env.outbox.put(prompt).await?;
    let by = clicker(click);
    show_decision(env, click, version, Decision::ChangesRequested { by: &by }).await;
    Ok(("Tell me what to change.".into(), false))
}
