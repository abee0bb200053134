//! A job's generated files, kept once generation ends.

use serde::{Serialize, de::DeserializeOwned};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// What a generator produced, as stored.
#[derive(Debug, Clone)]
pub struct Generation<F> {
    pub generator: String,
    pub raw_output: Option<String>,
    pub files: Vec<F>,
    /// Whether the one repair round already ran.
    pub repaired: bool,
}

/// Saves (or, after a repair, replaces) the job's generated files.
pub async fn save<F: Serialize>(
    conn: &mut PgConnection,
    job_id: Uuid,
    generation: &Generation<F>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO generations (job_id, generator, raw_output, files, repaired) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (job_id) DO UPDATE
             SET generator = EXCLUDED.generator, raw_output = EXCLUDED.raw_output,
                 files = EXCLUDED.files, repaired = EXCLUDED.repaired",
        job_id,
        generation.generator,
        generation.raw_output,
        serde_json::to_value(&generation.files).expect("files serialize"),
        generation.repaired,
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
        "SELECT generator, raw_output, files, repaired FROM generations WHERE job_id = $1",
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
        repaired: row.repaired,
    }))
}
