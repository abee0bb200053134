//! Publishing an approved version: one commit to the project's repository,
//! then waiting (within the budget) for the pages to serve it.

use std::time::Duration;

use pagesmith::{
    db::{self, publishing::PublishRecord, versions::Version},
    domain::JobState,
};

use crate::context::Context;
use crate::{
    environment::Environment,
    error::JobError,
    publish::{PagesStatus, PublishError, PublishRequest, repo_name},
    texts,
};

/// Publishes `version` (idempotently), records it, and moves the job to
/// `published`. Returns the publish.
pub async fn run(
    env: &Environment,
    ctx: &Context,
    version: &Version,
) -> Result<PublishRecord, JobError> {
    let mut conn = env.pool.acquire().await?;
    db::jobs::transition(
        &mut conn,
        ctx.job.id,
        &[JobState::Approved],
        JobState::Publishing,
    )
    .await?;
    drop(conn);

    let existing = db::publishing::for_version(&env.pool, version.id).await?;
    let record = match existing {
        Some(record) => record,
        None => {
            let request = request(env, ctx, version).await?;
            let budget = publish_budget(env, ctx);
            let outcome = tokio::time::timeout(budget, env.publisher.publish(&request)).await;
            count_publish(
                env,
                match &outcome {
                    Ok(Ok(_)) => "ok",
                    Ok(Err(PublishError::Retryable { .. })) => "retryable",
                    Ok(Err(PublishError::Permanent(_))) => "permanent",
                    Err(_) => "timeout",
                },
            );
            let published = match outcome {
                Ok(result) => result.map_err(job_error)?,
                Err(_) => {
                    return Err(JobError::retryable(
                        format!("publishing took longer than {budget:?}"),
                        texts::PUBLISH_SLOW,
                    ));
                }
            };
            // The fault suite kills the worker here: committed, not recorded.
            fail::fail_point!("publish-committed");
            let record = PublishRecord {
                version_id: version.id,
                publisher: env.publisher.name().to_owned(),
                repo_url: published.repo_url,
                commit_sha: published.commit_sha,
                pages_url: published.pages_url,
                pages_status: PagesStatus::Pending,
            };
            let mut tx = env.pool.begin().await?;
            db::publishing::record(&mut tx, ctx.job.id, ctx.project.id, &record).await?;
            tx.commit().await?;
            record
        }
    };

    let record = wait_for_pages(env, ctx, record).await;
    let mut conn = env.pool.acquire().await?;
    db::jobs::transition(
        &mut conn,
        ctx.job.id,
        &[JobState::Publishing],
        JobState::Published,
    )
    .await?;
    Ok(record)
}

/// Counts one publish attempt in
/// `pagesmith_publishes_total{publisher,outcome}`.
fn count_publish(env: &Environment, outcome: &'static str) {
    metrics::counter!(
        "pagesmith_publishes_total",
        "publisher" => env.publisher.name(),
        "outcome" => outcome
    )
    .increment(1);
}

/// Waits for the pages until the cut-off; the callback goes out either way.
async fn wait_for_pages(
    env: &Environment,
    ctx: &Context,
    mut record: PublishRecord,
) -> PublishRecord {
    if record.pages_status == PagesStatus::Built {
        return record;
    }
    let until = tokio::time::Instant::now() + pages_wait(env, ctx);
    let published = crate::publish::Published {
        repo_url: record.repo_url.clone(),
        commit_sha: record.commit_sha.clone(),
        pages_url: record.pages_url.clone(),
    };
    let status = match env.publisher.wait_for_pages(&published, until).await {
        Ok(status) => status,
        Err(e) => {
            tracing::warn!(job.id = %ctx.job.id, error = %e, "pages did not confirm");
            PagesStatus::Pending
        }
    };
    if let Err(e) = db::publishing::set_pages_status(&env.pool, record.version_id, status).await {
        tracing::warn!(error = %e, "could not record the pages status");
    }
    record.pages_status = status;
    record
}

/// How long the pages may take: until the cut-off after receipt for /app
/// jobs (`PAGES_CUTOFF_SECS`), a few minutes otherwise.
fn pages_wait(env: &Environment, ctx: &Context) -> Duration {
    match &ctx.app {
        Some(app) => {
            let cutoff = app.received_at
                + chrono::Duration::from_std(env.settings.pages_cutoff).unwrap_or_default();
            (cutoff - chrono::Utc::now()).to_std().unwrap_or_default()
        }
        None => Duration::from_secs(300),
    }
}

/// The publish call itself may take until a minute before the deadline.
fn publish_budget(env: &Environment, ctx: &Context) -> Duration {
    match ctx.job.deadline {
        Some(deadline) => (deadline - chrono::Utc::now() - chrono::Duration::seconds(60))
            .to_std()
            .unwrap_or(Duration::from_secs(5))
            .max(Duration::from_secs(5)),
        None => env.settings.run_timeout,
    }
}

async fn request(
    env: &Environment,
    ctx: &Context,
    version: &Version,
) -> Result<PublishRequest, JobError> {
    let source = ctx
        .project
        .task
        .clone()
        .unwrap_or_else(|| ctx.project.title.clone());
    let name = db::publishing::claim_repo_name(
        &env.pool,
        ctx.project.id,
        &repo_name(&source, ctx.project.id),
    )
    .await?;
    let files = super::bundle::read_files(env, version).await?;
    let (round, subject) = match &ctx.app {
        Some(app) => (app.round, app.task.clone()),
        None => (version.number, ctx.project.title.clone()),
    };
    Ok(PublishRequest {
        repo_name: name,
        description: crate::text::prefix_chars(
            &format!("{} — built with pagesmith", ctx.project.title),
            300,
        )
        .to_owned(),
        files,
        message: format!(
            "Round {round}: {subject}\n\nPublished by pagesmith (version {}).",
            version.number
        ),
        commit_time: version.created_at,
    })
}

fn job_error(e: PublishError) -> JobError {
    match e {
        PublishError::Retryable {
            reason,
            retry_after,
        } => JobError::Retryable {
            reason: format!("publish: {reason}"),
            user_message: texts::PUBLISH_TROUBLE.into(),
            not_before: retry_after,
        },
        PublishError::Permanent(reason) => {
            JobError::permanent(format!("publish: {reason}"), texts::PUBLISH_REFUSED)
        }
    }
}
