//! What every scenario ends by proving: every accepted request reached
//! exactly one terminal state, with exactly one preview, one publish (one
//! commit) and one callback each — counted from PostgreSQL, the git
//! repositories on disk and what the fake evaluator received.

use std::{collections::HashMap, fmt, time::Duration};

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::{system::System, wait};

pub use crate::system::AppKey;

/// What a scenario accepted: `/app` requests, and distinct Telegram
/// updates that ask for work (each must give exactly one job).
#[derive(Debug, Default)]
pub struct Accepted {
    pub app: Vec<AppKey>,
    pub updates: Vec<i64>,
}

impl Accepted {
    pub fn total(&self) -> usize {
        self.app.len() + self.updates.len()
    }
}

/// The tally for the report; a scenario passes when lost, duplicated and
/// late are all zero.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub accepted: usize,
    pub completed: usize,
    /// Ended `failed`, with the reason recorded (allowed, and reported).
    pub failed: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub late: usize,
    /// The smallest time left before a deadline when its callback came.
    pub min_margin: Option<Duration>,
    pub problems: Vec<String>,
}

impl Tally {
    pub fn passed(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.late == 0 && self.problems.is_empty()
    }

    fn problem(&mut self, what: impl fmt::Display) {
        if self.problems.len() < 20 {
            self.problems.push(what.to_string());
        }
    }
}

/// Waits (up to `timeout`) until everything accepted has settled, then
/// counts. Settled: an `/app` job published with its callback accepted, or
/// failed; a Telegram job at rest (preview ready, done, failed).
pub async fn settle_and_count(
    system: &System,
    accepted: &Accepted,
    timeout: Duration,
) -> anyhow::Result<Tally> {
    let _ = wait::until(timeout, || async {
        matches!(unsettled(system, accepted).await, Ok(0))
    })
    .await;
    count(system, accepted).await
}

async fn unsettled(system: &System, accepted: &Accepted) -> anyhow::Result<usize> {
    let app_done = system
        .count(
            "SELECT count(*) FROM jobs j WHERE j.source = 'app' AND (j.state = 'failed' OR \
             (j.state = 'published' AND EXISTS (SELECT 1 FROM callback_attempts c \
              WHERE c.job_id = j.id AND c.status_code BETWEEN 200 AND 299)))",
        )
        .await? as usize;
    let telegram_done = system
        .count(
            "SELECT count(*) FROM jobs WHERE source = 'telegram' \
             AND state IN ('preview_ready', 'done', 'failed', 'rejected', 'expired')",
        )
        .await? as usize;
    Ok(accepted.total().saturating_sub(app_done + telegram_done))
}

async fn count(system: &System, accepted: &Accepted) -> anyhow::Result<Tally> {
    let mut tally = Tally {
        accepted: accepted.total(),
        ..Tally::default()
    };
    let callbacks = callbacks_by_nonce(system);

    for key in &accepted.app {
        let rows = sqlx::query(
            "SELECT j.id, j.state, j.error, a.deadline, \
               (SELECT count(*) FROM versions v WHERE v.job_id = j.id) AS versions, \
               (SELECT count(*) FROM publishes p WHERE p.job_id = j.id) AS publishes \
             FROM app_requests a JOIN jobs j ON j.id = a.job_id \
             WHERE a.task = $1 AND a.round = $2 AND a.nonce = $3",
        )
        .bind(&key.task)
        .bind(key.round as i32)
        .bind(&key.nonce)
        .fetch_all(&system.pool)
        .await?;
        let [row] = rows.as_slice() else {
            if rows.is_empty() {
                tally.lost += 1;
                tally.problem(format!("{key:?}: accepted but never stored"));
            } else {
                tally.duplicated += 1;
                tally.problem(format!("{key:?}: {} jobs", rows.len()));
            }
            continue;
        };
        let state: String = row.get("state");
        let deadline: DateTime<Utc> = row.get("deadline");
        let (versions, publishes): (i64, i64) = (row.get("versions"), row.get("publishes"));
        let received = callbacks.get(&key.nonce).map(Vec::as_slice).unwrap_or(&[]);
        if state == "failed" {
            let error: Option<String> = row.get("error");
            if error.as_deref().unwrap_or("").is_empty() {
                tally.problem(format!("{key:?}: failed with no reason"));
            }
            tally.failed += 1;
        } else if state == "published" && received.len() == 1 && versions == 1 && publishes == 1 {
            tally.completed += 1;
        } else if received.len() > 1 || versions > 1 || publishes > 1 {
            tally.duplicated += 1;
            tally.problem(format!(
                "{key:?}: {} callbacks, {versions} versions, {publishes} publishes",
                received.len()
            ));
        } else {
            tally.lost += 1;
            tally.problem(format!(
                "{key:?}: stuck in {state} with {} callbacks",
                received.len()
            ));
        }
        for at in received {
            let margin = deadline - *at;
            match margin.to_std() {
                Ok(margin) => {
                    tally.min_margin = Some(tally.min_margin.map_or(margin, |m| m.min(margin)));
                }
                Err(_) => {
                    tally.late += 1;
                    tally.problem(format!("{key:?}: callback {margin} after the deadline"));
                }
            }
        }
    }

    count_commits(system, &mut tally).await?;
    count_updates(system, accepted, &mut tally).await?;
    Ok(tally)
}

fn callbacks_by_nonce(system: &System) -> HashMap<String, Vec<DateTime<Utc>>> {
    let mut by_nonce: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
    for received in system.evaluator.accepted() {
        let nonce = received.body["nonce"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        by_nonce.entry(nonce).or_default().push(received.at);
    }
    by_nonce
}

/// Each local repository holds exactly as many commits as publishes
/// recorded for it: a repeated publish would show as an extra commit. (The
/// GitHub scenario counts the fake GitHub's commits itself.)
async fn count_commits(system: &System, tally: &mut Tally) -> anyhow::Result<()> {
    let repos = sqlx::query(
        "SELECT p.repo_url, count(*) AS publishes FROM publishes p \
         WHERE p.publisher = 'local' GROUP BY p.repo_url",
    )
    .fetch_all(&system.pool)
    .await?;
    for repo in repos {
        let url: String = repo.get("repo_url");
        let publishes: i64 = repo.get("publishes");
        let name = url.rsplit('/').next().unwrap_or_default();
        let dir = system.data_dir.join("repos").join(name);
        let output = tokio::process::Command::new("git")
            .arg("--git-dir")
            .arg(&dir)
            .args(["rev-list", "--count", "main"])
            .output()
            .await
            .context("git rev-list")?;
        let commits: i64 = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap_or(-1);
        if commits != publishes {
            tally.duplicated += 1;
            tally.problem(format!(
                "{name}: {commits} commits for {publishes} publishes"
            ));
        }
    }
    Ok(())
}

/// Every distinct accepted update is stored once and has exactly one job
/// at rest; nothing else made a Telegram job.
async fn count_updates(
    system: &System,
    accepted: &Accepted,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    if accepted.updates.is_empty() {
        return Ok(());
    }
    let rows = sqlx::query(
        "SELECT u.update_id, j.state FROM telegram_updates u LEFT JOIN jobs j ON j.id = u.job_id",
    )
    .fetch_all(&system.pool)
    .await?;
    let stored: HashMap<i64, Option<String>> = rows
        .iter()
        .map(|r| (r.get("update_id"), r.get("state")))
        .collect();
    for id in &accepted.updates {
        match stored.get(id) {
            None | Some(None) => {
                tally.lost += 1;
                tally.problem(format!("update {id}: no job"));
            }
            Some(Some(state)) if state == "failed" => tally.failed += 1,
            Some(Some(state))
                if ["preview_ready", "done", "rejected", "expired"].contains(&state.as_str()) =>
            {
                tally.completed += 1
            }
            Some(Some(state)) => {
                tally.lost += 1;
                tally.problem(format!("update {id}: stuck in {state}"));
            }
        }
    }
    let telegram_jobs = system
        .count("SELECT count(*) FROM jobs WHERE source = 'telegram'")
        .await? as usize;
    if telegram_jobs > accepted.updates.len() {
        tally.duplicated += telegram_jobs - accepted.updates.len();
        tally.problem(format!(
            "{telegram_jobs} Telegram jobs for {} distinct updates",
            accepted.updates.len()
        ));
    }
    let versions_over = system
        .count("SELECT count(*) FROM (SELECT job_id FROM versions GROUP BY job_id HAVING count(*) > 1) d")
        .await?;
    if versions_over > 0 {
        tally.duplicated += versions_over as usize;
        tally.problem(format!("{versions_over} jobs with more than one version"));
    }
    Ok(())
}
