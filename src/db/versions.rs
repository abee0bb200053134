//! Versions: checked, immutable snapshots of a project, one per generation.

use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    bundle::FileEntry,
    domain::{JobState, VersionState},
};

/// One check and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// For a check of the brief, its exact text.
    pub name: String,
    /// Versions recorded before browser checks hold only static ones.
    #[serde(default)]
    pub kind: CheckKind,
    pub passed: bool,
    /// What failed, or what was verified.
    pub detail: String,
}

/// What a check looked at, so a report says which kind of claim it makes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// The files: structure, links, parsing, attachments, LICENSE, README.
    #[default]
    Static,
    /// The page in a browser: a `js:` check of the brief, or the page's
    /// own health (errors, files that failed to load).
    Browser,
    /// The model's JavaScript reading of a plain-English check, run in the
    /// browser: the verdict is only as good as that reading.
    Derived,
}

impl CheckKind {
    /// Structure (`static`) or behaviour (`browser`, `derived`).
    pub fn is_behaviour(self) -> bool {
        self != CheckKind::Static
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Static => "static",
            CheckKind::Browser => "browser",
            CheckKind::Derived => "derived",
        }
    }
}

/// A version to record.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub id: Uuid,
    pub project_id: Uuid,
    pub job_id: Uuid,
    pub generator: String,
    pub files: Vec<FileEntry>,
    pub bundle: String,
    pub checks: Vec<CheckResult>,
    pub preview_token: String,
    /// How long its preview links work.
    pub ttl: Duration,
}

/// A fresh preview token: 192 random bits, URL-safe.
pub fn new_preview_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Records the version, numbered after the project's newest, unless its job
/// already has one; returns the job's version id either way, so a
/// redelivered job never makes a second one. Call it in a transaction: the
/// numbering takes a lock on the project until commit.
pub async fn insert(conn: &mut PgConnection, v: &NewVersion) -> Result<Uuid, sqlx::Error> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text, 1))",
        v.project_id
    )
    .execute(&mut *conn)
    .await?;
    let inserted = sqlx::query_scalar!(
        "INSERT INTO versions
             (id, project_id, job_id, number, generator, files, bundle, checks, preview_token, expires_at)
         SELECT $1, $2, $3, COALESCE(max(number), 0) + 1, $4, $5, $6, $7, $8,
                now() + make_interval(secs => $9::float8)
         FROM versions WHERE project_id = $2
         ON CONFLICT (job_id) DO NOTHING
         RETURNING id",
        v.id,
        v.project_id,
        v.job_id,
        v.generator,
        serde_json::to_value(&v.files).expect("entries serialize"),
        v.bundle,
        serde_json::to_value(&v.checks).expect("checks serialize"),
        v.preview_token,
        v.ttl.as_secs_f64(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(id) => Ok(id),
        None => {
            sqlx::query_scalar!("SELECT id FROM versions WHERE job_id = $1", v.job_id)
                .fetch_one(conn)
                .await
        }
    }
}

/// What the preview server needs to serve a version.
#[derive(Debug, Clone)]
pub struct PreviewVersion {
    pub id: Uuid,
    pub bundle: String,
    pub state: VersionState,
    pub expires_at: DateTime<Utc>,
    pub files: Vec<FileEntry>,
}

impl PreviewVersion {
    /// Whether its links still work at `now`.
    pub fn is_servable(&self, now: DateTime<Utc>) -> bool {
        self.state == VersionState::Active && now < self.expires_at
    }
}

/// The version a preview token opens.
pub async fn find_by_token(
    pool: &PgPool,
    token: &str,
) -> Result<Option<PreviewVersion>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT id, bundle, state AS "state: VersionState", expires_at, files
             FROM versions WHERE preview_token = $1"#,
        token
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| PreviewVersion {
        id: r.id,
        bundle: r.bundle,
        state: r.state,
        expires_at: r.expires_at,
        files: serde_json::from_value(r.files).unwrap_or_default(),
    }))
}

/// Sets a version's state (`rejected`, `expired`).
pub async fn set_state(
    conn: &mut PgConnection,
    id: Uuid,
    state: VersionState,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE versions SET state = $2 WHERE id = $1",
        id,
        state.as_str()
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A version as the worker reads it.
#[derive(Debug, Clone)]
pub struct Version {
    pub id: Uuid,
    pub project_id: Uuid,
    pub job_id: Uuid,
    pub number: i32,
    pub generator: String,
    pub files: Vec<FileEntry>,
    pub bundle: String,
    pub checks: Vec<CheckResult>,
    pub preview_token: String,
    pub state: VersionState,
    pub created_at: DateTime<Utc>,
}

/// The columns every version query selects, before JSON decoding.
struct VersionRow {
    id: Uuid,
    project_id: Uuid,
    job_id: Uuid,
    number: i32,
    generator: String,
    files: serde_json::Value,
    bundle: String,
    checks: serde_json::Value,
    preview_token: String,
    state: VersionState,
    created_at: DateTime<Utc>,
}

impl TryFrom<VersionRow> for Version {
    type Error = sqlx::Error;

    fn try_from(r: VersionRow) -> Result<Self, sqlx::Error> {
        let bad =
            |e: serde_json::Error| sqlx::Error::Decode(format!("version {}: {e}", r.id).into());
        Ok(Version {
            files: serde_json::from_value(r.files.clone()).map_err(bad)?,
            checks: serde_json::from_value(r.checks.clone()).map_err(bad)?,
            id: r.id,
            project_id: r.project_id,
            job_id: r.job_id,
            number: r.number,
            generator: r.generator,
            bundle: r.bundle,
            preview_token: r.preview_token,
            state: r.state,
            created_at: r.created_at,
        })
    }
}

/// The version with this id.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<Version>, sqlx::Error> {
    sqlx::query_as!(
        VersionRow,
        r#"SELECT id, project_id, job_id, number, generator, files, bundle, checks, preview_token,
                state AS "state: VersionState", created_at
         FROM versions WHERE id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await?
    .map(Version::try_from)
    .transpose()
}

/// The version a job produced, if any.
pub async fn for_job(pool: &PgPool, job_id: Uuid) -> Result<Option<Version>, sqlx::Error> {
    sqlx::query_as!(
        VersionRow,
        r#"SELECT id, project_id, job_id, number, generator, files, bundle, checks, preview_token,
                state AS "state: VersionState", created_at
         FROM versions WHERE job_id = $1"#,
        job_id
    )
    .fetch_optional(pool)
    .await?
    .map(Version::try_from)
    .transpose()
}

/// The newest version of a project.
pub async fn latest(pool: &PgPool, project_id: Uuid) -> Result<Option<Version>, sqlx::Error> {
    sqlx::query_as!(
        VersionRow,
        r#"SELECT id, project_id, job_id, number, generator, files, bundle, checks, preview_token,
                state AS "state: VersionState", created_at
         FROM versions WHERE project_id = $1 ORDER BY number DESC LIMIT 1"#,
        project_id
    )
    .fetch_optional(pool)
    .await?
    .map(Version::try_from)
    .transpose()
}

/// One line of a project's history: a version, how its job stands, and
/// its commit if it was published.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryEntry {
    pub number: i32,
    pub generator: String,
    /// `[{"name", "passed", "detail"}]`, as stored.
    pub checks: serde_json::Value,
    pub state: VersionState,
    /// The state of the job that made it.
    pub job_state: JobState,
    pub preview_token: String,
    pub created_at: DateTime<Utc>,
    pub commit_sha: Option<String>,
}

impl HistoryEntry {
    /// The version's checks (none, if the stored ones do not read).
    pub fn checks(&self) -> Vec<CheckResult> {
        serde_json::from_value(self.checks.clone()).unwrap_or_default()
    }
}

/// A project's versions, newest first, at most `limit`.
pub async fn history(
    pool: &PgPool,
    project_id: Uuid,
    limit: i64,
) -> Result<Vec<HistoryEntry>, sqlx::Error> {
    sqlx::query_as::<_, HistoryEntry>(
        "SELECT v.number, v.generator, v.checks, v.state, j.state AS job_state,
                v.preview_token, v.created_at, p.commit_sha
         FROM versions v
         JOIN jobs j ON j.id = v.job_id
         LEFT JOIN publishes p ON p.version_id = v.id
         WHERE v.project_id = $1
         ORDER BY v.number DESC
         LIMIT $2",
    )
    .bind(project_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The project's version with this number.
pub async fn by_number(
    pool: &PgPool,
    project_id: Uuid,
    number: i32,
) -> Result<Option<Version>, sqlx::Error> {
    let id: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM versions WHERE project_id = $1 AND number = $2")
            .bind(project_id)
            .bind(number)
            .fetch_optional(pool)
            .await?;
    match id {
        Some(id) => get(pool, id).await,
        None => Ok(None),
    }
}

/// The project's newest two versions, newest first.
pub async fn latest_two(pool: &PgPool, project_id: Uuid) -> Result<Vec<Version>, sqlx::Error> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM versions WHERE project_id = $1 ORDER BY number DESC LIMIT 2",
    )
    .bind(project_id)
    .fetch_all(pool)
    .await?;
    let mut versions = Vec::with_capacity(ids.len());
    for id in ids {
        versions.extend(get(pool, id).await?);
    }
    Ok(versions)
}
