//! Checking and repairing: the generated site is built and checked (its
//! files, then the page in a browser); while checks fail, what failed goes
//! back to the LLM for a repair round, up to `REPAIR_ROUNDS`.
//!
//! - It stops as soon as everything passes.
//! - Each round starts from the best candidate so far (most checks passed),
//!   so a repair that makes things worse is dropped, not built upon.
//! - No repair when an /app deadline is near: a site that fails a check but
//!   is on time beats a better one that is late.
//! - The built-in generator's sites are checked and reported, never repaired:
//!   it is deterministic, so asking again gives the same site.
//!
//! Every round is committed (the best files so far and the rounds used), so
//! a redelivered job neither repeats a paid-for LLM call nor gets more
//! rounds than allowed.

use std::time::Duration;

use pagesmith::{
    bundle::BundleFile,
    db::{self, generations::Generation, versions::CheckResult},
};

use super::{
    check::{self, Verdicts},
    generate,
};
use crate::{
    context::Context,
    environment::Environment,
    error::JobError,
    generator::GeneratedFile,
    manifest::{self, ManifestError},
};

/// Below this much time before the deadline, no repair round starts.
const MIN_REPAIR_BUDGET: Duration = Duration::from_secs(60);

/// The chosen candidate's files and its verdicts.
pub async fn check_and_repair(
    env: &Environment,
    ctx: &Context,
    generation: &mut Generation<GeneratedFile>,
) -> Result<(Vec<BundleFile>, Vec<CheckResult>), JobError> {
    let derived = check::derive::checks(env, ctx, generation).await?;
    let mut best_files = build(env, ctx, &generation.files)?;
    let checking = check::run(env, ctx, &best_files, &derived, generate::budget(env, ctx));
    let mut best = env.slots.cpu(generate::urgency(ctx), checking).await;
    // Only the LLM's sites: the built-in generator would write the same site
    // again, and a rollback restores files as they were.
    let repairable = env.settings.llm.is_some() && generation.generator == env.generator.name();

    while !best.problems.is_empty()
        && repairable
        && generation.repair_rounds < env.settings.repair_rounds
        && repair_fits_budget(env, ctx)
    {
        generation.repair_rounds += 1;
        let round = generation.repair_rounds;
        tracing::info!(job.id = %ctx.job.id, round, problems = best.problems.len(), "asking for a repair round");
        metrics::counter!("pagesmith_repair_rounds_total").increment(1);
        let asked = env
            .generator
            .repair(&ctx.request, &generation.files, &best.problems);
        match generate::within_budget(env, ctx, asked).await {
            Ok(repaired) => match build(env, ctx, &repaired.files) {
                Ok(files) => {
                    let checking =
                        check::run(env, ctx, &files, &derived, generate::budget(env, ctx));
                    let verdicts = env.slots.cpu(generate::urgency(ctx), checking).await;
                    if is_no_worse(&verdicts, &best) {
                        best = verdicts;
                        best_files = files;
                        generation.files = repaired.files;
                        if let Some(raw) = repaired.raw_output {
                            let before = generation.raw_output.take().unwrap_or_default();
                            generation.raw_output =
                                Some(format!("{before}\n\n--- repair {round} ---\n\n{raw}"));
                        }
                    } else {
                        tracing::info!(
                            job.id = %ctx.job.id,
                            round,
                            passed = verdicts.passed(),
                            best = best.passed(),
                            "the repair passed fewer checks; keeping the better site"
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(job.id = %ctx.job.id, round, error = %e, "the repaired site was refused; keeping the better one")
                }
            },
            Err(e) => {
                tracing::warn!(job.id = %ctx.job.id, round, error = %e, "the repair round failed; keeping the better site")
            }
        }
        let mut conn = env.pool.acquire().await?;
        db::generations::save(&mut conn, ctx.job.id, generation).await?;
    }
    Ok((best_files, best.results))
}

/// Ties go to the newer candidate: it answered the latest problems.
fn is_no_worse(candidate: &Verdicts, best: &Verdicts) -> bool {
    candidate.passed() >= best.passed()
}

/// Validates generated files into the files of a bundle.
pub fn build(
    env: &Environment,
    ctx: &Context,
    generated: &[GeneratedFile],
) -> Result<Vec<BundleFile>, JobError> {
    manifest::build(
        generated,
        &ctx.carried,
        &ctx.request.attachments,
        &env.settings.limits,
        &env.settings.own_secrets,
        &generate::fill_in(ctx),
    )
    .map_err(|e| match e {
        ManifestError::Secret(_) => {
            JobError::permanent(e.to_string(), crate::texts::SECRET_IN_SITE)
        }
        ManifestError::Invalid(_) => JobError::permanent(e.to_string(), crate::texts::BAD_MANIFEST),
    })
}

fn repair_fits_budget(env: &Environment, ctx: &Context) -> bool {
    generate::budget(env, ctx).is_none_or(|left| left > MIN_REPAIR_BUDGET)
}
