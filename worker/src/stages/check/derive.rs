//! Derived checks: with an LLM configured, the brief's plain-English checks
//! that a page could show ("the page displays the total") are turned into
//! JavaScript assertions, in one LLM call per job, and run in the browser
//! beside the `js:` checks. They are marked `derived`: a reviewer sees they
//! are the model's reading of the check, not the check itself.
//!
//! The answer is kept with the generation, so a redelivered job does not
//! ask again; a failed call is logged and the job goes on without them.

use pagesmith::db::{
    self,
    generations::{DerivedCheck, Generation},
};

use super::behaviour::js_expression;
use crate::{
    context::Context, environment::Environment, error::JobError, generator::GeneratedFile,
};

/// Below this much time before the deadline, no derivation is asked for.
const MIN_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

/// The job's derived checks: kept ones, or asked for now (and kept).
pub async fn checks(
    env: &Environment,
    ctx: &Context,
    generation: &mut Generation<GeneratedFile>,
) -> Result<Vec<DerivedCheck>, JobError> {
    if let Some(kept) = &generation.derived_checks {
        return Ok(kept.clone());
    }
    let plain: Vec<String> = ctx
        .request
        .checks
        .iter()
        .filter(|c| js_expression(c).is_none() && !c.trim().is_empty())
        .cloned()
        .collect();
    // Only for a site the LLM wrote: after a fallback to the built-in
    // generator the LLM has just failed, and the deadline may be near.
    let worth_asking = !plain.is_empty()
        && env.settings.llm.is_some()
        && generation.generator == env.generator.name()
        && env.settings.browser.is_some()
        && crate::stages::generate::budget(env, ctx).is_none_or(|left| left > MIN_BUDGET);
    if !worth_asking {
        return Ok(Vec::new());
    }
    let asked = env.generator.derive_checks(&ctx.request, &plain);
    let derived = match crate::stages::generate::within_budget(env, ctx, asked).await {
        Ok(derived) => derived,
        Err(e) => {
            tracing::warn!(job.id = %ctx.job.id, error = %e, "could not derive page checks; going on without them");
            Vec::new()
        }
    };
    metrics::counter!("pagesmith_derived_checks_total").increment(derived.len() as u64);
    generation.derived_checks = Some(derived.clone());
    let mut conn = env.pool.acquire().await?;
    db::generations::save(&mut conn, ctx.job.id, generation).await?;
    Ok(derived)
}
