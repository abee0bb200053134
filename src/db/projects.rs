//! Projects: one site, many versions.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::Source;

/// A project to create.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub id: Uuid,
    pub source: Source,
    /// The /app task, for evaluator projects.
    pub task: Option<String>,
    pub chat_id: Option<i64>,
    pub owner_user_id: Option<i64>,
    pub owner_name: String,
    pub title: String,
    pub brief: String,
}

/// Creates the project. For an /app task that already has one, returns the
/// existing id instead: every round of a task belongs to one project.
pub async fn insert_or_get(
    conn: &mut PgConnection,
    project: &NewProject,
) -> Result<Uuid, sqlx::Error> {
    let inserted = sqlx::query_scalar!(
        "INSERT INTO projects (id, source, task, chat_id, owner_user_id, owner_name, title, brief)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (task) DO NOTHING
         RETURNING id",
        project.id,
        project.source.as_str(),
        project.task,
        project.chat_id,
        project.owner_user_id,
        project.owner_name,
        project.title,
        project.brief,
    )
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(id) => Ok(id),
        None => {
            sqlx::query_scalar!("SELECT id FROM projects WHERE task = $1", project.task)
                .fetch_one(conn)
                .await
        }
    }
}

/// A project as the worker reads it.
#[derive(Debug, Clone)]
pub struct Project {
    pub id: Uuid,
    pub source: Source,
    pub task: Option<String>,
    pub chat_id: Option<i64>,
    pub owner_user_id: Option<i64>,
    pub owner_name: String,
    pub title: String,
    pub brief: String,
}

/// The project with this id.
pub async fn get(pool: &sqlx::PgPool, id: Uuid) -> Result<Option<Project>, sqlx::Error> {
    sqlx::query_as!(
        Project,
        r#"SELECT id, source AS "source: Source", task, chat_id, owner_user_id, owner_name, title, brief FROM projects WHERE id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await
}

/// The newest project of a chat.
pub async fn latest_in_chat(
    pool: &sqlx::PgPool,
    chat_id: i64,
) -> Result<Option<Project>, sqlx::Error> {
    sqlx::query_as!(
        Project,
        r#"SELECT id, source AS "source: Source", task, chat_id, owner_user_id, owner_name, title, brief FROM projects
         WHERE chat_id = $1 ORDER BY created_at DESC LIMIT 1"#,
        chat_id
    )
    .fetch_optional(pool)
    .await
}

/// Names a project (its short name, see the worker's `site_name`).
pub async fn set_title(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    title: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE projects SET title = $2 WHERE id = $1")
        .bind(id)
        .bind(title)
        .execute(conn)
        .await?;
    Ok(())
}
