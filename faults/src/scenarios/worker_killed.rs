//! Scenario 1: `kill -9` the worker during generation, during bundle
//! writing, while 20 jobs wait on the LLM at once, and during publishing; a
//! restarted worker finishes every job, with one version, one commit and
//! one callback each.
//!
//! Where the kill lands is checked, not assumed: the LLM call is open and
//! no version exists; the bundle is staged on disk but no version exists;
//! the commit is in the repository but no publish is recorded.

use std::time::Duration;

use anyhow::{Context, ensure};
use tokio::time::Instant;
use uuid::Uuid;

use crate::{
    Suite,
    ledger::{self, Accepted, AppKey},
    report::Row,
    system::{Options, System},
    wait,
};

/// Jobs waiting on the LLM when the fourth kill lands.
const WAITING: usize = 20;

pub async fn run(suite: &Suite) -> anyhow::Result<Row> {
    let started = Instant::now();
    let mut system = System::start(
        suite,
        "killed",
        Options {
            workers: 0,
            // Longer than the waits below, so no call times out before
            // its kill.
            llm_timeout_secs: 60,
            // Staging older than this is swept at start-up (checked below).
            worker_env: vec![("WORKER_RUN_TIMEOUT_SECS".into(), "10".into())],
            ..Options::default()
        },
    )
    .await?;
    let mut accepted = Accepted::default();

    // During generation: the LLM takes 3 s; kill while its call is open.
    system.llm.set_delay(Duration::from_secs(3));
    let worker = system.start_worker(&[]).await?;
    let key = system.submit_app("killed-generating").await?;
    let job = job_of(&system, &key).await?;
    wait::until(Duration::from_secs(30), || async {
        system.llm.calls() >= 1 && state_of(&system, &job).await == "generating"
    })
    .await
    .context("the job never reached the LLM")?;
    ensure!(
        rows_for(&system, Table::Versions, &job).await? == 0,
        "a version already existed"
    );
    system.llm.set_delay(Duration::ZERO);
    kill_and_finish(&mut system, worker, &key).await?;
    accepted.app.push(key);

    // During bundle writing: staged, before the rename makes it visible.
    let worker = system
        .start_worker(&[("FAILPOINTS", "bundle-staged=sleep(60000)")])
        .await?;
    let key = system.submit_app("killed-bundling").await?;
    let job = job_of(&system, &key).await?;
    let staging = system.data_dir.join("tmp");
    wait::until(Duration::from_secs(30), || async {
        std::fs::read_dir(&staging).is_ok_and(|mut d| d.next().is_some())
    })
    .await
    .context("no bundle was ever staged")?;
    ensure!(
        rows_for(&system, Table::Versions, &job).await? == 0,
        "a version already existed"
    );
    kill_and_finish(&mut system, worker, &key).await?;
    accepted.app.push(key);

    // While 20 jobs wait on a slow LLM at once (one worker: a job waiting
    // holds no slot): none has a version yet; after the kill each resumes
    // on a fresh worker, with one version, commit and callback, and the
    // generation it had not committed asked again.
    system.llm.set_delay(Duration::from_secs(45));
    let worker = system.start_worker(&[]).await?;
    let calls_before = system.llm.calls();
    let mut waiting = Vec::new();
    for i in 0..WAITING {
        waiting.push(system.submit_app(&format!("killed-waiting-{i}")).await?);
    }
    wait::until(Duration::from_secs(60), || async {
        system.llm.calls() >= calls_before + WAITING
    })
    .await
    .with_context(|| {
        format!(
            "only {} of {WAITING} jobs reached the LLM at once",
            system.llm.calls() - calls_before
        )
    })?;
    let versions: i64 = system
        .count("SELECT count(*) FROM versions v JOIN app_requests a ON a.job_id = v.job_id WHERE a.task LIKE 'killed-waiting-%'")
        .await?;
    ensure!(versions == 0, "{versions} versions existed before the kill");
    system.llm.set_delay(Duration::ZERO);
    system.kill_worker(worker).await?;
    let fresh = system.start_worker(&[]).await?;
    wait::until(Duration::from_secs(120), || async {
        system
            .count("SELECT count(*) FROM app_requests WHERE task LIKE 'killed-waiting-%' AND callback_status = 'delivered'")
            .await
            .is_ok_and(|n| n == WAITING as i64)
    })
    .await
    .context("not every waiting job called back after the restart")?;
    system.stop_worker(fresh).await?;
    let waiting_calls = system.llm.calls() - calls_before;
    accepted.app.extend(waiting);

    // During publishing: committed to the repository, not yet recorded.
    let worker = system
        .start_worker(&[("FAILPOINTS", "publish-committed=sleep(60000)")])
        .await?;
    let key = system.submit_app("killed-publishing").await?;
    let job = job_of(&system, &key).await?;
    wait::until(Duration::from_secs(30), || async {
        state_of(&system, &job).await == "publishing" && commits_in_repos(&system) >= 3
    })
    .await
    .context("the publish never committed")?;
    let recorded = rows_for(&system, Table::Publishes, &job).await?;
    ensure!(recorded == 0, "the publish was already recorded");
    system.kill_worker(worker).await?;
    system.start_worker(&[]).await?;
    accepted.app.push(key);

    let mut tally = ledger::settle_and_count(&system, &accepted, Duration::from_secs(120)).await?;

    // The bundle kill left its staging; a worker starting once it is older
    // than the run timeout removes it.
    let orphaned = staging_dirs(&system);
    tokio::time::sleep(Duration::from_secs(11)).await;
    system.start_worker(&[]).await?;
    let left = staging_dirs(&system);
    if orphaned == 0 || left != 0 {
        tally.problems.push(format!(
            "staging: {orphaned} orphaned by the kill, {left} left after a later start"
        ));
    }
    Ok(Row {
        scenario: "1. worker killed",
        load: format!(
            "{} `/app` jobs: one per kill point, {WAITING} at the third",
            3 + WAITING
        ),
        faults: format!(
            "`kill -9` during generation (LLM call open, no version), during bundle writing \
                 (bundle staged, no version), while {WAITING} jobs waited on the LLM at once \
                 (none with a version; {waiting_calls} LLM calls for them in all), during \
                 publishing (commit made, not recorded); a fresh worker each time; orphaned \
                 staging swept by a later start ({orphaned} → {left})"
        ),
        tally,
        took: started.elapsed(),
    })
}

async fn job_of(system: &System, key: &AppKey) -> anyhow::Result<Uuid> {
    Ok(
        sqlx::query_scalar("SELECT job_id FROM app_requests WHERE nonce = $1")
            .bind(&key.nonce)
            .fetch_one(&system.pool)
            .await?,
    )
}

async fn state_of(system: &System, job: &Uuid) -> String {
    sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1")
        .bind(job)
        .fetch_one(&system.pool)
        .await
        .unwrap_or_default()
}

/// Rows of `table` (versions or publishes) for the job.
async fn rows_for(system: &System, table: Table, job: &Uuid) -> anyhow::Result<i64> {
    let sql = match table {
        Table::Versions => "SELECT count(*) FROM versions WHERE job_id = $1",
        Table::Publishes => "SELECT count(*) FROM publishes WHERE job_id = $1",
    };
    Ok(sqlx::query_scalar(sql)
        .bind(job)
        .fetch_one(&system.pool)
        .await?)
}

#[derive(Clone, Copy)]
enum Table {
    Versions,
    Publishes,
}

/// `kill -9` the worker, then a fresh one must publish and call back the
/// job; once the delivery is recorded it is stopped (SIGTERM, letting its
/// run finish), so the next kill point starts clean. Killing it as soon as
/// the evaluator had the callback would be a fourth kill point, inside the
/// callback (see RELIABILITY.md).
async fn kill_and_finish(system: &mut System, worker: usize, key: &AppKey) -> anyhow::Result<()> {
    system.kill_worker(worker).await?;
    let fresh = system.start_worker(&[]).await?;
    wait::until(Duration::from_secs(60), || async {
        let status: Option<String> =
            sqlx::query_scalar("SELECT callback_status FROM app_requests WHERE nonce = $1")
                .bind(&key.nonce)
                .fetch_one(&system.pool)
                .await
                .unwrap_or_default();
        status.as_deref() == Some("delivered")
    })
    .await
    .with_context(|| format!("{} never called back after the restart", key.task))?;
    system.stop_worker(fresh).await
}

/// Staging directories under DATA_DIR/tmp.
fn staging_dirs(system: &System) -> usize {
    std::fs::read_dir(system.data_dir.join("tmp")).map_or(0, |d| d.count())
}

/// Commits across every repository under DATA_DIR/repos.
fn commits_in_repos(system: &System) -> usize {
    let Ok(repos) = std::fs::read_dir(system.data_dir.join("repos")) else {
        return 0;
    };
    repos
        .flatten()
        .filter_map(|repo| {
            let output = std::process::Command::new("git")
                .arg("--git-dir")
                .arg(repo.path())
                .args(["rev-list", "--count", "--all"])
                .output()
                .ok()?;
            String::from_utf8_lossy(&output.stdout)
                .trim()
                .parse::<usize>()
                .ok()
        })
        .sum()
}
