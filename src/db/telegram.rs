//! The Telegram outbox: messages waiting to be sent, per chat, and each
//! chat's pace (migration 0006 describes the tables).
//!
//! Jobs only ever [`enqueue`]; the worker's delivery loop [`claim`]s a chat,
//! takes its [`next`] message, calls Telegram and records the outcome. A chat
//! is claimed by one worker at a time (a lease), so its messages go out in
//! order across any number of workers.

use std::time::Duration;

use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::MessagePurpose;

/// Which messages of a chat go first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// An answer to something the user just did: a command, a button, the
    /// result they are waiting for.
    Reply,
    /// Progress and extras: status edits, screenshots.
    Background,
}

impl Priority {
    fn as_i16(self) -> i16 {
        match self {
            Self::Reply => 0,
            Self::Background => 1,
        }
    }
}

/// What a row does to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Sends or edits a text (with its buttons).
    Text,
    /// Replaces an existing message's buttons.
    Buttons,
    /// Sends a photo with a caption.
    Photo,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Buttons => "buttons",
            Self::Photo => "photo",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Text, Self::Buttons, Self::Photo]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Which message a row sends or changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A new message.
    New,
    /// A message the bot keeps editing, by name (e.g. a job's status
    /// message): sent the first time, edited after.
    Keyed(String),
    /// An existing message, by id.
    Message(i32),
}

/// What to remember about the message once it is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub project_id: Uuid,
    pub version_id: Option<Uuid>,
    pub purpose: MessagePurpose,
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub chat_id: i64,
    pub priority: Priority,
    pub kind: Kind,
    pub target: Target,
    /// The method's arguments the worker needs (text, buttons, caption…).
    pub body: Value,
    pub photo: Option<Vec<u8>>,
    /// Queue it only once under this key.
    pub once: Option<String>,
    pub record: Option<Record>,
}

/// A queued message, as the delivery loop reads it.
#[derive(Debug, Clone)]
pub struct Queued {
    pub id: i64,
    pub chat_id: i64,
    pub kind: Kind,
    pub target: Target,
    pub body: Value,
    pub photo: Option<Vec<u8>>,
    pub record: Option<Record>,
    pub attempts: i32,
    /// The message the target key already became, if it did.
    pub keyed_message_id: Option<i32>,
    pub queued_for: Duration,
}

/// Queues `message` after superseding the chat's pending rows of the same
/// kind and target (for a keyed or an existing message: only the latest text
/// or buttons matter). Returns false when its `once` key was queued before.
pub async fn enqueue(pool: &PgPool, message: &NewMessage) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (key, message_id) = match &message.target {
        Target::New => (None, None),
        Target::Keyed(key) => (Some(key.as_str()), None),
        Target::Message(id) => (None, Some(*id)),
    };
    let record = message.record.as_ref();
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO telegram_outbox (chat_id, priority, kind, target_key, target_message_id,
                                      body, photo, once_key, record_project_id,
                                      record_version_id, record_purpose)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (once_key) DO NOTHING
         RETURNING id",
    )
    .bind(message.chat_id)
    .bind(message.priority.as_i16())
    .bind(message.kind.as_str())
    .bind(key)
    .bind(message_id)
    .bind(&message.body)
    .bind(message.photo.as_deref())
    .bind(message.once.as_deref())
    .bind(record.map(|r| r.project_id))
    .bind(record.and_then(|r| r.version_id))
    .bind(record.map(|r| r.purpose))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else {
        // Queued before under its `once` key.
        return Ok(false);
    };
    if key.is_some() || message_id.is_some() {
        sqlx::query(
            "UPDATE telegram_outbox SET state = 'superseded', done_at = now()
             WHERE state = 'pending' AND chat_id = $1 AND kind = $2 AND id < $5
               AND target_key IS NOT DISTINCT FROM $3
               AND target_message_id IS NOT DISTINCT FROM $4",
        )
        .bind(message.chat_id)
        .bind(message.kind.as_str())
        .bind(key)
        .bind(message_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("INSERT INTO telegram_chats (chat_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(message.chat_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Claims the chat that has waited longest among those with a message due,
/// for `lease`. None: nothing is due.
pub async fn claim(
    pool: &PgPool,
    owner: Uuid,
    lease: Duration,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE telegram_chats c
            SET leased_until = now() + make_interval(secs => $2), lease_owner = $1
          WHERE c.chat_id = (
                SELECT d.chat_id FROM telegram_chats d
                 WHERE d.chat_id IN (SELECT chat_id FROM telegram_outbox WHERE state = 'pending')
                   AND d.next_send_at <= now()
                   AND (d.leased_until IS NULL OR d.leased_until < now())
                 ORDER BY d.next_send_at
                 LIMIT 1
                   FOR UPDATE SKIP LOCKED)
         RETURNING c.chat_id",
    )
    .bind(owner)
    .bind(lease.as_secs_f64())
    .fetch_optional(pool)
    .await
}

/// How long until some chat's next message is due (zero if one is due now);
/// None when nothing is pending.
pub async fn next_due_in(pool: &PgPool) -> Result<Option<Duration>, sqlx::Error> {
    let seconds: Option<f64> = sqlx::query_scalar(
        "SELECT GREATEST(0, EXTRACT(EPOCH FROM (min(GREATEST(c.next_send_at, COALESCE(c.leased_until, c.next_send_at))) - now())))::float8
           FROM telegram_chats c
          WHERE c.chat_id IN (SELECT chat_id FROM telegram_outbox WHERE state = 'pending')",
    )
    .fetch_one(pool)
    .await?;
    Ok(seconds.map(Duration::from_secs_f64))
}

/// The claimed chat's next message: replies before background, oldest first,
/// but never ahead of an older pending row for the same message (an edit
/// waits for the send that creates its message).
pub async fn next(pool: &PgPool, chat_id: i64) -> Result<Option<Queued>, sqlx::Error> {
    type Row = (
        i64,
        String,
        Option<String>,
        Option<i32>,
        Value,
        Option<Vec<u8>>,
        Option<Uuid>,
        Option<Uuid>,
        Option<MessagePurpose>,
        i32,
        Option<i32>,
        f64,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT o.id, o.kind, o.target_key, o.target_message_id, o.body, o.photo,
                o.record_project_id, o.record_version_id, o.record_purpose, o.attempts,
                m.message_id, EXTRACT(EPOCH FROM now() - o.created_at)::float8
           FROM telegram_outbox o
           LEFT JOIN telegram_messages m ON m.chat_id = o.chat_id AND m.target_key = o.target_key
          WHERE o.chat_id = $1 AND o.state = 'pending'
            AND NOT EXISTS (
                SELECT 1 FROM telegram_outbox e
                 WHERE e.chat_id = o.chat_id AND e.state = 'pending' AND e.id < o.id
                   AND (e.target_key = o.target_key OR e.target_message_id = o.target_message_id))
          ORDER BY o.priority, o.id
          LIMIT 1",
    )
    .bind(chat_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(
        |(
            id,
            kind,
            key,
            message_id,
            body,
            photo,
            project_id,
            version_id,
            purpose,
            attempts,
            keyed_message_id,
            queued_for,
        )| Queued {
            id,
            chat_id,
            kind: Kind::parse(&kind).unwrap_or(Kind::Text),
            target: match (key, message_id) {
                (Some(key), _) => Target::Keyed(key),
                (None, Some(id)) => Target::Message(id),
                (None, None) => Target::New,
            },
            body,
            photo,
            // Written together, or not at all.
            record: project_id.zip(purpose).map(|(project_id, purpose)| Record {
                project_id,
                version_id,
                purpose,
            }),
            attempts,
            keyed_message_id,
            queued_for: Duration::from_secs_f64(queued_for.max(0.0)),
        },
    ))
}

/// Releases the chat: its next message may go after `wait`.
async fn release(
    tx: &mut Transaction<'_, Postgres>,
    chat_id: i64,
    owner: Uuid,
    wait: Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE telegram_chats
            SET next_send_at = GREATEST(next_send_at, now() + make_interval(secs => $3)),
                leased_until = NULL, lease_owner = NULL
          WHERE chat_id = $1 AND lease_owner = $2",
    )
    .bind(chat_id)
    .bind(owner)
    .bind(wait.as_secs_f64())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Releases a claimed chat that had nothing to send.
pub async fn release_idle(pool: &PgPool, chat_id: i64, owner: Uuid) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    release(&mut tx, chat_id, owner, Duration::ZERO).await?;
    tx.commit().await
}

/// Telegram took the message (`message_id` is what it became): marks it sent,
/// remembers its key and what it is about, and paces the chat by `spacing`.
pub async fn delivered(
    pool: &PgPool,
    message: &Queued,
    message_id: Option<i32>,
    owner: Uuid,
    spacing: Duration,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE telegram_outbox SET state = 'sent', message_id = $2, done_at = now(),
                attempts = attempts + 1
          WHERE id = $1",
    )
    .bind(message.id)
    .bind(message_id)
    .execute(&mut *tx)
    .await?;
    if let (Target::Keyed(key), Some(id)) = (&message.target, message_id) {
        sqlx::query(
            "INSERT INTO telegram_messages (chat_id, target_key, message_id) VALUES ($1, $2, $3)
             ON CONFLICT (chat_id, target_key) DO UPDATE SET message_id = EXCLUDED.message_id",
        )
        .bind(message.chat_id)
        .bind(key)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    if let (Some(record), Some(id)) = (&message.record, message_id) {
        super::chat::record(
            &mut *tx,
            message.chat_id,
            id,
            record.project_id,
            record.version_id,
            record.purpose,
        )
        .await?;
    }
    release(&mut tx, message.chat_id, owner, spacing).await?;
    tx.commit().await
}

/// What to do with a message Telegram did not take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undelivered {
    /// It stays first in line; the whole chat waits (Telegram's
    /// `retry_after`, or a backoff).
    Retry,
    /// It will never go (Telegram refused it for good): marked failed, and
    /// the chat moves on to its next message.
    GiveUp,
}

/// Records why `message` was not delivered and releases its chat for
/// `wait`.
pub async fn undelivered(
    pool: &PgPool,
    message: &Queued,
    outcome: Undelivered,
    error: &str,
    owner: Uuid,
    wait: Duration,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE telegram_outbox
            SET attempts = attempts + 1, last_error = $2,
                state = CASE WHEN $3 THEN 'failed' ELSE state END,
                done_at = CASE WHEN $3 THEN now() END
          WHERE id = $1",
    )
    .bind(message.id)
    .bind(error)
    .bind(outcome == Undelivered::GiveUp)
    .execute(&mut *tx)
    .await?;
    release(&mut tx, message.chat_id, owner, wait).await?;
    tx.commit().await
}

/// Deletes delivered, superseded and failed rows older than `age`.
pub async fn prune(pool: &PgPool, age: Duration) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "DELETE FROM telegram_outbox
          WHERE state <> 'pending' AND done_at < now() - make_interval(secs => $1)",
    )
    .bind(age.as_secs_f64())
    .execute(pool)
    .await?
    .rows_affected())
}

/// Messages still waiting, over all chats.
pub async fn pending(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM telegram_outbox WHERE state = 'pending'")
        .fetch_one(pool)
        .await
}
