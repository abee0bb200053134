//! A job's generated files, kept once generation ends.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// What a generator produced, as stored.
#[derive(Debug, Clone)]
pub struct Generation<F> {
    pub generator: String,
    pub raw_output: Option<String>,
    pub files: Vec<F>,
    /// How many repair rounds have run.
    pub repair_rounds: i32,
    /// The brief's plain-English checks as JavaScript assertions, once
    /// asked for (`None` until then).
    pub derived_checks: Option<Vec<DerivedCheck>>,
}

/// One plain-English check and the model's JavaScript reading of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DerivedCheck {
    /// The check, verbatim.
    pub check: String,
    /// An expression that is `true` in a page that passes it.
    pub js: String,
}

/// Saves (or, after a repair, replaces) the job's generated files.
pub async fn save<F: Serialize>(
    conn: &mut PgConnection,
    job_id: Uuid,
    generation: &Generation<F>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO generations (job_id, generator, raw_output, files, repair_rounds, derived_checks)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (job_id) DO UPDATE
             SET generator = EXCLUDED.generator, raw_output = EXCLUDED.raw_output,
                 files = EXCLUDED.files, repair_rounds = EXCLUDED.repair_rounds,
                 derived_checks = EXCLUDED.derived_checks",
        job_id,
        generation.generator,
        generation.raw_output,
        serde_json::to_value(&generation.files).expect("files serialize"),
        generation.repair_rounds,
        generation
            .derived_checks
            .as_ref()
            .map(|d| serde_json::to_value(d).expect("derived checks serialize")),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The job's generated files, if generation already ended.
pub async fn load<F: DeserializeOwned>(
    pool: &PgPool,
    job_id: Uuid,
) -> Result<Option<Generation<F>>, sqlx::Error> {
    let Some(row) = sqlx::query!(
        "SELECT generator, raw_output, files, repair_rounds, derived_checks
         FROM generations WHERE job_id = $1",
        job_id
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let files = serde_json::from_value(row.files)
        .map_err(|e| sqlx::Error::Decode(format!("generation of job {job_id}: {e}").into()))?;
    Ok(Some(Generation {
        generator: row.generator,
        raw_output: row.raw_output,
        files,
        repair_rounds: row.repair_rounds,
        // Unreadable derived checks are asked for again, not fatal.
        derived_checks: row
            .derived_checks
            .and_then(|d| serde_json::from_value(d).ok()),
    }))
}
