//! Queuing a message for a chat: what every stage and command does instead
//! of calling Telegram. A queued message is durable (PostgreSQL), so a job
//! acks as soon as its messages are queued; the delivery loop sends them.

use pagesmith::domain::MessagePurpose;
use std::sync::Arc;

use pagesmith::db::telegram::{self as queue, Kind, NewMessage, Priority, Record, Target};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::Notify;
use uuid::Uuid;

use super::Buttons;

/// The queue, and a bell for this worker's delivery loop.
#[derive(Clone)]
pub struct Outbox {
    pool: PgPool,
    bell: Arc<Notify>,
    /// Without a bot token nothing would ever deliver; queue nothing.
    enabled: bool,
}

impl Outbox {
    pub fn new(pool: PgPool, enabled: bool) -> Self {
        Self {
            pool,
            bell: Arc::new(Notify::new()),
            enabled,
        }
    }

    /// Queues `message`; false when it was queued before (its `once` key) or
    /// Telegram is off.
    pub async fn put(&self, message: Message) -> Result<bool, sqlx::Error> {
        if !self.enabled {
            return Ok(false);
        }
        let queued = queue::enqueue(&self.pool, &message.0).await?;
        if queued {
            self.bell.notify_one();
        }
        Ok(queued)
    }

    /// Queues `message`, logging (not returning) a failure: for messages a
    /// job can do without.
    pub async fn put_or_log(&self, message: Message, what: &str) {
        if let Err(e) = self.put(message).await {
            tracing::warn!(error = %e, "could not queue the {what} message");
        }
    }

    pub(super) fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(super) fn bell(&self) -> &Notify {
        &self.bell
    }
}

/// A message to queue, built up from one of the constructors.
#[derive(Debug, Clone)]
pub struct Message(NewMessage);

impl Message {
    /// A new HTML text message, as a reply (see [`Message::background`]).
    pub fn text(chat_id: i64, html: impl Into<String>) -> Self {
        Self(NewMessage {
            chat_id,
            priority: Priority::Reply,
            kind: Kind::Text,
            target: Target::New,
            body: json!({ "html": html.into() }),
            photo: None,
            once: None,
            record: None,
        })
    }

    /// A photo with an HTML caption; background by nature.
    pub fn photo(chat_id: i64, png: Vec<u8>, file_name: &str, caption_html: &str) -> Self {
        Self(NewMessage {
            chat_id,
            priority: Priority::Background,
            kind: Kind::Photo,
            target: Target::New,
            body: json!({ "file_name": file_name, "caption": caption_html }),
            photo: Some(png),
            once: None,
            record: None,
        })
    }

    /// New buttons (`None`: none) on the existing message `message_id`.
    pub fn buttons(chat_id: i64, message_id: i32, buttons: Option<Buttons>) -> Self {
        Self(NewMessage {
            chat_id,
            priority: Priority::Reply,
            kind: Kind::Buttons,
            target: Target::Message(message_id),
            body: json!({ "buttons": buttons }),
            photo: None,
            once: None,
            record: None,
        })
    }

    /// Shows the text with these buttons.
    pub fn with_buttons(mut self, buttons: Buttons) -> Self {
        self.0.body["buttons"] = json!(buttons);
        self
    }

    /// Edits the existing message `message_id` instead of sending one.
    pub fn editing(mut self, message_id: i32) -> Self {
        self.0.target = Target::Message(message_id);
        self
    }

    /// Sends the message named `key` the first time and edits it after; a
    /// newer text for the key replaces a queued older one.
    pub fn keyed(mut self, key: String) -> Self {
        self.0.target = Target::Keyed(key);
        self
    }

    /// Lets replies to commands and buttons go first.
    pub fn background(mut self) -> Self {
        self.0.priority = Priority::Background;
        self
    }

    /// Queues it once only under `key`, however often the job runs.
    pub fn once(mut self, key: String) -> Self {
        self.0.once = Some(key);
        self
    }

    /// Remembers, once delivered, what the message is about.
    pub fn about(
        mut self,
        project_id: Uuid,
        version_id: Option<Uuid>,
        purpose: MessagePurpose,
    ) -> Self {
        self.0.record = Some(Record {
            project_id,
            version_id,
            purpose,
        });
        self
    }
}

/// The key of a job's status message, which its ready message replaces.
pub fn status_key(job_id: Uuid) -> String {
    format!("status:{job_id}")
}

/// The text, buttons or caption a queued body carries.
pub(super) struct Body<'a>(pub &'a Value);

impl Body<'_> {
    pub fn html(&self) -> &str {
        self.0["html"].as_str().unwrap_or_default()
    }

    pub fn caption(&self) -> &str {
        self.0["caption"].as_str().unwrap_or_default()
    }

    pub fn file_name(&self) -> &str {
        self.0["file_name"].as_str().unwrap_or("screenshot.png")
    }

    pub fn buttons(&self) -> Option<Buttons> {
        serde_json::from_value::<Option<Buttons>>(self.0["buttons"].clone())
            .ok()
            .flatten()
    }
}
