//! The checks a candidate site passes before it is offered: what its files
//! show ([`structure`]) and what it does in a browser ([`behaviour`]), each
//! check with its own verdict and kind, so the report never claims more
//! than was verified. Failures go back to the generator for repair rounds
//! (`stages::repair`); the chosen candidate's verdicts are recorded on its
//! version.

pub mod behaviour;
pub mod derive;
pub mod report;
pub mod structure;

use std::time::Duration;

use pagesmith::{
    bundle::BundleFile,
    db::{generations::DerivedCheck, versions::CheckResult},
};

use crate::{context::Context, environment::Environment};

/// One candidate's verdicts.
#[derive(Debug, Default)]
pub struct Verdicts {
    pub results: Vec<CheckResult>,
    /// What failed, phrased for a repair round. Checks that could not run
    /// are not here: they are not the site's fault.
    pub problems: Vec<String>,
}

impl Verdicts {
    /// How many checks passed: what "best" means among candidates.
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed).count()
    }
}

/// Runs every check on `files`, the browser ones within `budget` when the
/// job has a deadline.
pub async fn run(
    env: &Environment,
    ctx: &Context,
    files: &[BundleFile],
    derived: &[DerivedCheck],
    budget: Option<Duration>,
) -> Verdicts {
    let request = &ctx.request;
    let mut results = structure::run(files, &request.brief, &request.checks, &request.attachments);
    let mut problems: Vec<String> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("{}: {}", r.name, r.detail))
        .collect();
    let planned = behaviour::planned(&request.checks, derived);
    let behaviour = behaviour::run(env.settings.browser.as_ref(), files, &planned, budget).await;
    results.extend(behaviour.results);
    problems.extend(behaviour.problems);
    Verdicts { results, problems }
}
