//! Bundling: the checked files become an immutable bundle on disk and a
//! version row, and the job becomes `preview_ready`, in one transaction.

use pagesmith::{
    bundle::BundleFile,
    db::{
        self,
        versions::{CheckResult, NewVersion, Version},
    },
    domain::JobState,
};
use uuid::Uuid;

use crate::context::Context;
use crate::{environment::Environment, error::JobError, texts};

/// Writes the bundle and records the version (once per job, however often
/// the job is delivered).
pub async fn build_version(
    env: &Environment,
    ctx: &Context,
    files: Vec<BundleFile>,
    checks: Vec<CheckResult>,
    generator: &str,
) -> Result<Version, JobError> {
    let written = env.bundles.write(files).await.map_err(|e| {
        JobError::retryable(format!("writing the bundle: {e}"), texts::SAVE_TROUBLE)
    })?;

    let mut tx = env.pool.begin().await?;
    db::versions::insert(
        &mut tx,
        &NewVersion {
            id: Uuid::new_v4(),
            project_id: ctx.project.id,
            job_id: ctx.job.id,
            generator: generator.to_owned(),
            files: written.files,
            bundle: written.id,
            checks,
            preview_token: db::versions::new_preview_token(),
            ttl: env.settings.preview_ttl,
        },
    )
    .await?;
    db::jobs::transition(
        &mut tx,
        ctx.job.id,
        &[JobState::Checking],
        JobState::PreviewReady,
    )
    .await?;
    tx.commit().await?;

    db::versions::for_job(&env.pool, ctx.job.id)
        .await?
        .ok_or_else(|| {
            JobError::retryable("the version vanished after commit", texts::SAVE_TROUBLE)
        })
}

/// A version's files, read back from its bundle.
pub async fn read_files(env: &Environment, version: &Version) -> Result<Vec<BundleFile>, JobError> {
    let failed =
        |e: String| JobError::retryable(format!("reading a bundle: {e}"), texts::READ_TROUBLE);
    let bundle = env
        .bundles
        .open(&version.bundle)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let entries = version.files.clone();
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<BundleFile>> {
        entries
            .iter()
            .filter_map(|entry| pagesmith::domain::SitePath::parse(&entry.path).ok())
            .map(|path| {
                Ok(BundleFile {
                    bytes: bundle.read(pagesmith::bundle::View::Live, path.as_str())?,
                    path,
                })
            })
            .collect()
    })
    .await;
    match read.map_err(|e| failed(e.to_string()))? {
        Ok(files) => Ok(files),
        Err(e) => {
            // The local copy of a stored bundle was evicted under us: the
            // retry fetches it again.
            env.bundles.forget(&version.bundle).await;
            Err(failed(e.to_string()))
        }
    }
}
