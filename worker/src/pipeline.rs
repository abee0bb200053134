//! A generation job from prompt to published site:
//! resolve → generate → check (+ repair rounds) → bundle → ready → (approval)
//! → publish → callback (for /app jobs).
//!
//! Every stage commits its result with the job's state, and each run starts
//! from the state it finds, so a redelivered message never repeats a stage
//! that already committed, and killing the worker anywhere leads to the same
//! end state.

use std::time::Instant;

use pagesmith::{
    db::{self, jobs::Job},
    domain::JobState,
};

use crate::{
    context::Context,
    environment::Environment,
    error::JobError,
    stages::{
        bundle, callback, generate, notify,
        progress::{self, Stage},
        publish, repair, resolve, review,
    },
};

/// Runs a generation job as far as it can go now: to a preview, then (once
/// approved) to a publish, then for /app jobs to the callback.
pub async fn run(env: &Environment, job: Job) -> Result<(), JobError> {
    let mut ctx = resolve::context(env, job).await?;
    let version = match ctx.job.state {
        JobState::Queued | JobState::Generating | JobState::Checking => {
            produce(env, &mut ctx).await?
        }
        _ => db::versions::for_job(&env.pool, ctx.job.id)
            .await?
            .ok_or_else(|| {
                JobError::permanent(
                    format!("job in state {} has no version", ctx.job.state),
                    crate::texts::OUR_FAULT,
                )
            })?,
    };
    notify::ready(env, &ctx, &version).await?;

    let mut state = current_state(env, &ctx).await?;
    if state == JobState::PreviewReady && ctx.app.is_some() {
        state = review::app_job(env, &ctx, &version).await?;
    }
    if matches!(state, JobState::Approved | JobState::Publishing) {
        let started = Instant::now();
        let record = publish::run(env, &ctx, &version).await?;
        observe("publish", started);
        notify::published(env, &ctx, &version, &record).await;
        state = JobState::Published;
    }
    if state == JobState::Published
        && let Some(app) = &ctx.app
    {
        let record = db::publishing::for_version(&env.pool, version.id)
            .await?
            .ok_or_else(|| JobError::permanent("a published job without a publish record", ""))?;
        let started = Instant::now();
        callback::deliver(env, app, &record).await?;
        observe("callback", started);
    }
    Ok(())
}

async fn current_state(env: &Environment, ctx: &Context) -> Result<JobState, JobError> {
    Ok(db::jobs::load(&env.pool, ctx.job.id)
        .await?
        .map_or(ctx.job.state, |job| job.state))
}

async fn produce(env: &Environment, ctx: &mut Context) -> Result<db::versions::Version, JobError> {
    let produced = produce_with(env, ctx).await;
    // The first generation may have named the site.
    if produced.is_ok()
        && let Some(project) = db::projects::get(&env.pool, ctx.project.id).await?
    {
        ctx.project = project;
    }
    produced
}

async fn produce_with(env: &Environment, ctx: &Context) -> Result<db::versions::Version, JobError> {
    let started = Instant::now();
    if ctx.job.state == JobState::Queued {
        progress::show(env, ctx, Stage::Queued).await;
        let mut conn = env.pool.acquire().await?;
        db::jobs::transition(
            &mut conn,
            ctx.job.id,
            &[JobState::Queued],
            JobState::Generating,
        )
        .await?;
    }
    progress::show(env, ctx, Stage::Writing).await;
    let mut generation = generate::run(env, ctx).await?;
    observe("generate", started);

    let started = Instant::now();
    progress::show(env, ctx, Stage::Checking).await;
    let (files, checks) = repair::check_and_repair(env, ctx, &mut generation).await?;
    observe("check", started);

    let started = Instant::now();
    let bundling = bundle::build_version(env, ctx, files, checks, &generation.generator);
    let version = env.slots.cpu(generate::urgency(ctx), bundling).await?;
    observe("bundle", started);
    Ok(version)
}

/// `pagesmith_stage_seconds{stage}`: how long a stage took, when it ends
/// well (generate, check, bundle, publish with the wait for pages, callback).
fn observe(stage: &'static str, started: Instant) {
    let elapsed = started.elapsed();
    tracing::debug!(stage, ?elapsed, "stage done");
    metrics::histogram!("pagesmith_stage_seconds", "stage" => stage).record(elapsed.as_secs_f64());
}
