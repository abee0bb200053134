//! Version rows for a written bundle, as the worker records them (a job, a
//! project and the version), for tests and benchmarks of the preview.

use std::time::Duration;

use pagesmith::{
    bundle::WrittenBundle,
    db::{projects, versions},
    domain::Source,
};
use sqlx::PgPool;
use uuid::Uuid;

/// A recorded version: its id and preview token.
pub struct RecordedVersion {
    pub id: Uuid,
    pub token: String,
}

/// Records an `/app` job, its project and a 30-day version of `written`.
pub async fn record(pool: &PgPool, written: &WrittenBundle) -> RecordedVersion {
    let mut conn = pool.acquire().await.expect("connection");
    let job_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO jobs (id, kind, source, payload) VALUES ($1, 'generate', 'app', '{\"type\":\"app\"}')",
    )
    .bind(job_id)
    .execute(&mut *conn)
    .await
    .expect("job row");
    let project = projects::NewProject {
        id: Uuid::new_v4(),
        source: Source::App,
        task: Some(format!("task-{job_id}")),
        chat_id: None,
        owner_user_id: None,
        owner_name: "tester@example.com".into(),
        title: "Test site".into(),
        brief: "A test site".into(),
    };
    let project_id = projects::insert_or_get(&mut conn, &project)
        .await
        .expect("project row");
    let token = versions::new_preview_token();
    let version = versions::NewVersion {
        id: Uuid::new_v4(),
        project_id,
        job_id,
        generator: "builtin".into(),
        files: written.files.clone(),
        bundle: written.id.clone(),
        checks: Vec::new(),
        preview_token: token.clone(),
        ttl: Duration::from_secs(30 * 86400),
    };
    let id = versions::insert(&mut conn, &version)
        .await
        .expect("version row");
    RecordedVersion { id, token }
}
