//! The bot's messages in chats, so a reply or a click finds its project.

use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::MessagePurpose;

/// What a bot message is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub project_id: Uuid,
    pub version_id: Option<Uuid>,
    pub purpose: MessagePurpose,
}

/// Remembers (or updates) what a message is about.
pub async fn record(
    db: impl sqlx::PgExecutor<'_>,
    chat_id: i64,
    message_id: i32,
    project_id: Uuid,
    version_id: Option<Uuid>,
    purpose: MessagePurpose,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO chat_messages (chat_id, message_id, project_id, version_id, purpose)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (chat_id, message_id) DO UPDATE
             SET version_id = COALESCE(EXCLUDED.version_id, chat_messages.version_id),
                 purpose = EXCLUDED.purpose",
        chat_id,
        message_id,
        project_id,
        version_id,
        purpose as _,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// What the bot's message `message_id` in `chat_id` is about.
pub async fn find(
    pool: &PgPool,
    chat_id: i64,
    message_id: i32,
) -> Result<Option<ChatMessage>, sqlx::Error> {
    sqlx::query_as!(
        ChatMessage,
        r#"SELECT project_id, version_id, purpose AS "purpose: MessagePurpose"
             FROM chat_messages WHERE chat_id = $1 AND message_id = $2"#,
        chat_id,
        message_id,
    )
    .fetch_optional(pool)
    .await
}

/// The ready messages in `chat_id` of the project's (up to three) versions
/// before `number` still waiting for a decision: (message id, version id,
/// version number). Each ready message retires those before it, so older
/// ones were retired already; decided ones keep their decision's label.
pub async fn older_ready_messages(
    pool: &PgPool,
    chat_id: i64,
    project_id: Uuid,
    number: i32,
) -> Result<Vec<(i32, Uuid, i32)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.message_id, v.id, v.number FROM chat_messages m
         JOIN versions v ON v.id = m.version_id
         JOIN jobs j ON j.id = v.job_id
         WHERE m.chat_id = $1 AND m.project_id = $2 AND m.purpose = 'ready'
           AND v.number < $3 AND v.number >= $3 - 3
           AND v.state = 'active' AND j.state = 'preview_ready'
         ORDER BY v.number",
    )
    .bind(chat_id)
    .bind(project_id)
    .bind(number)
    .fetch_all(pool)
    .await
}
