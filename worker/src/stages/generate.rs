//! Generation: the LLM (or the built-in template) writes the site; its files
//! are validated and committed before anything else happens, so a
//! redelivered job resumes after this stage instead of paying for it again.

use std::time::Instant;

use pagesmith::{
    db::{self, generations::Generation},
    domain::JobState,
};

use crate::context::Context;
use crate::{
    environment::Environment,
    error::JobError,
    generator::{GenerateError, GeneratedFile, Generator, origin::Origin},
    manifest::{self, FillIn, ManifestError},
    slots::Urgency,
};

/// After this many failed LLM calls for a job, the built-in generator writes it.
pub const LLM_FAILURES_BEFORE_FALLBACK: i32 = 2;

/// Below this much generation time, an /app job skips the LLM.
const MIN_LLM_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// The time generation may take: until the deadline minus what publishing
/// and the callback need. `None` when the job has no deadline.
pub fn budget(env: &Environment, ctx: &Context) -> Option<std::time::Duration> {
    let deadline = ctx.job.deadline?;
    let reserve = chrono::Duration::from_std(env.settings.app_publish_reserve).unwrap_or_default();
    Some(
        (deadline - reserve - chrono::Utc::now())
            .to_std()
            .unwrap_or_default(),
    )
}

/// How soon the job must be done, for its turn at a slot.
pub fn urgency(ctx: &Context) -> Urgency {
    Urgency::of(ctx.job.deadline)
}

/// `call` (a generator call, made in an LLM slot) cut off when the job's
/// deadline (less the publish reserve) comes; a job without a deadline
/// waits for it (the client has its own timeout).
pub async fn within_budget<T>(
    env: &Environment,
    ctx: &Context,
    call: impl std::future::Future<Output = Result<T, GenerateError>>,
) -> Result<T, GenerateError> {
    let call = env.slots.llm(urgency(ctx), call);
    match budget(env, ctx) {
        Some(left) => tokio::time::timeout(left, call).await.unwrap_or_else(|_| {
            Err(GenerateError::Permanent(format!(
                "no answer within the {left:?} left before the deadline"
            )))
        }),
        None => call.await,
    }
}

/// A Telegram prompt that would spend LLM budget takes one generation from
/// its chat's allowance (see `rate_limit`); over it, the job ends with the
/// time to wait. A retried or redelivered job already took its one.
fn check_chat_limit(env: &Environment, ctx: &Context) -> Result<(), JobError> {
    let (Some(limiter), Some(chat_id), None) = (&env.chat_limiter, ctx.chat_id, &ctx.app) else {
        return Ok(());
    };
    if env.settings.llm.is_none() || ctx.job.attempts > 1 || ctx.job.llm_failures > 0 {
        return Ok(());
    }
    limiter.check(chat_id).map_err(|wait| {
        metrics::counter!("pagesmith_chat_rate_limited_total").increment(1);
        JobError::permanent(
            format!("chat {chat_id} is over its LLM generation limit"),
            crate::texts::rate_limited(wait),
        )
    })
}

/// The job's validated generation: loaded if it already committed, else
/// generated, validated and committed now (moving the job to `checking`).
pub async fn run(env: &Environment, ctx: &Context) -> Result<Generation<GeneratedFile>, JobError> {
    if let Some(done) = db::generations::load(&env.pool, ctx.job.id).await? {
        return Ok(done);
    }
    let mut llm_failures = ctx.job.llm_failures;
    check_chat_limit(env, ctx)?;
    loop {
        let budget = budget(env, ctx);
        // Too close to an /app deadline for an LLM round trip: the built-in
        // generator answers in milliseconds.
        let in_time = budget.is_none_or(|left| left > MIN_LLM_BUDGET);
        let use_llm =
            env.settings.llm.is_some() && llm_failures < LLM_FAILURES_BEFORE_FALLBACK && in_time;
        let generator = if use_llm {
            &env.generator
        } else {
            &env.fallback
        };
        let started = Instant::now();
        // The wait for an LLM slot counts against the deadline too.
        let call = env
            .slots
            .llm(urgency(ctx), generator.generate(&ctx.request));
        let outcome = match budget.filter(|_| use_llm) {
            Some(left) => tokio::time::timeout(left, call).await.unwrap_or_else(|_| {
                Err(GenerateError::Permanent(format!(
                    "no answer within the {left:?} left before the deadline"
                )))
            }),
            None => call.await,
        };
        record_call(generator.as_ref(), &outcome, started);
        // A permanent LLM error (a bad key, an unknown model) will not heal
        // on retry: fall back at once.
        let weight = match &outcome {
            Err(GenerateError::Permanent(_)) => LLM_FAILURES_BEFORE_FALLBACK,
            _ => 1,
        };
        // A provider that said when to come back is asked again then, if
        // that is before the deadline; else the retry tiers decide, as for
        // any other failure.
        let come_back = match &outcome {
            Err(GenerateError::Throttled { retry_after, .. })
                if budget.is_none_or(|left| *retry_after < left) =>
            {
                Some(*retry_after)
            }
            _ => None,
        };
        let problem = match outcome {
            Ok(generated) => match validate(env, ctx, &generated.files) {
                Ok(()) => {
                    let name = new_site_name(ctx, generated.name.as_deref(), &generated.files);
                    let generation = Generation {
                        generator: generated.generator,
                        raw_output: generated.raw_output,
                        files: generated.files,
                        repair_rounds: 0,
                        derived_checks: None,
                    };
                    commit(env, ctx, &generation, name.as_deref()).await?;
                    return Ok(generation);
                }
                Err(ManifestError::Secret(found)) => {
                    return Err(JobError::permanent(
                        format!("generated files carry secrets: {}", found.join("; ")),
                        crate::texts::SECRET_IN_SITE,
                    ));
                }
                Err(invalid) => invalid.to_string(),
            },
            Err(GenerateError::Retryable(reason))
            | Err(GenerateError::Permanent(reason))
            | Err(GenerateError::Throttled { reason, .. }) => reason,
        };
        if !use_llm {
            // The built-in generator is deterministic: trying again gives the same result.
            return Err(JobError::permanent(
                format!("the built-in generator failed: {problem}"),
                crate::texts::BUILTIN_FAILED,
            ));
        }
        llm_failures = db::jobs::count_llm_failure(&env.pool, ctx.job.id, weight).await?;
        tracing::warn!(job.id = %ctx.job.id, llm_failures, %problem, "LLM generation failed");
        if llm_failures < LLM_FAILURES_BEFORE_FALLBACK {
            return Err(JobError::Retryable {
                reason: format!("LLM: {problem}"),
                user_message: crate::texts::LLM_TROUBLE.to_owned(),
                not_before: come_back,
            });
        }
        tracing::info!(job.id = %ctx.job.id, "falling back to the built-in generator");
    }
}

fn validate(
    env: &Environment,
    ctx: &Context,
    files: &[GeneratedFile],
) -> Result<(), ManifestError> {
    manifest::build(
        files,
        &ctx.carried,
        &ctx.request.attachments,
        &env.settings.limits,
        &env.settings.own_secrets,
        &fill_in(ctx),
    )
    .map(|_| ())
}

/// What the filled-in README and LICENSE say.
pub fn fill_in(ctx: &Context) -> FillIn {
    let summary: String = ctx.request.brief.chars().take(500).collect();
    FillIn {
        title: ctx.project.title.clone(),
        summary,
        owner: ctx.request.owner.clone(),
    }
}

/// A chat's new site is named once, by its first generation (an /app
/// project keeps its task's name; a revision keeps the site's name).
fn new_site_name(
    ctx: &Context,
    generated: Option<&str>,
    files: &[GeneratedFile],
) -> Option<String> {
    let is_new_chat_site =
        ctx.app.is_none() && ctx.request.previous_files.is_empty() && ctx.carried.is_empty();
    is_new_chat_site
        .then(|| crate::site_name::choose(generated, &ctx.request.brief, files))
        .flatten()
}

async fn commit(
    env: &Environment,
    ctx: &Context,
    generation: &Generation<GeneratedFile>,
    name: Option<&str>,
) -> Result<(), JobError> {
    let mut tx = env.pool.begin().await?;
    db::generations::save(&mut tx, ctx.job.id, generation).await?;
    if let Some(name) = name {
        db::projects::set_title(&mut tx, ctx.project.id, name).await?;
    }
    db::jobs::transition(
        &mut tx,
        ctx.job.id,
        &[JobState::Queued, JobState::Generating],
        JobState::Checking,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn record_call(
    generator: &dyn Generator,
    outcome: &Result<crate::generator::Generated, GenerateError>,
    started: Instant,
) {
    let label = match outcome {
        Ok(_) => "ok",
        Err(GenerateError::Retryable(_) | GenerateError::Throttled { .. }) => "retryable",
        Err(GenerateError::Permanent(_)) => "permanent",
    };
    let generator = if Origin::is_builtin(&generator.name()) {
        "builtin"
    } else {
        "llm"
    };
    metrics::counter!("pagesmith_generator_calls_total", "generator" => generator, "outcome" => label).increment(1);
    metrics::histogram!("pagesmith_generator_seconds", "generator" => generator)
        .record(started.elapsed().as_secs_f64());
}
