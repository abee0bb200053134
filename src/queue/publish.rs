//! Publishing with publisher confirms, where a message counts as sent only
//! once the broker has taken responsibility for it.

use futures::future::join_all;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection,
    options::{BasicPublishOptions, ConfirmSelectOptions},
    types::{AMQPValue, FieldTable, LongString},
};

use super::{JOB_ID_HEADER, REQUEST_ID_HEADER, topology::key};

/// A message to publish.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    /// The destination queue (routed through the default exchange).
    pub queue: String,
    pub body: Vec<u8>,
    /// Set as the AMQP `message-id`, for tracing duplicates.
    pub message_id: Option<String>,
    pub job_id: Option<String>,
    pub request_id: Option<String>,
    /// Further string headers.
    pub headers: Vec<(String, String)>,
}

/// Why a publish did not count.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("broker connection failed: {0}")]
    Broker(#[from] lapin::Error),
    #[error("broker refused the message (nack)")]
    Nacked,
    #[error("broker returned the message as unroutable: {0}")]
    Returned(String),
}

impl SendError {
    /// True when the channel or connection is gone and must be reopened.
    pub fn is_connection_error(&self) -> bool {
        matches!(self, Self::Broker(_))
    }
}

/// A channel in confirm mode.
#[derive(Clone)]
pub struct ConfirmedChannel {
    channel: Channel,
}

impl ConfirmedChannel {
    /// Opens a channel on `connection` and turns on publisher confirms.
    pub async fn open(connection: &Connection) -> Result<Self, lapin::Error> {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Self { channel })
    }

    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Publishes one message and waits for its confirm.
    pub async fn publish(&self, message: &Outgoing) -> Result<(), SendError> {
        self.publish_all(std::slice::from_ref(message))
            .await
            .pop()
            .expect("one result per message")
    }

    /// Publishes every message, then waits for all their confirms, so a batch
    /// costs one round trip rather than one per message. Results come back in
    /// order; each message succeeded only if it was acked and not returned.
    pub async fn publish_all(&self, messages: &[Outgoing]) -> Vec<Result<(), SendError>> {
        let mut pending = Vec::with_capacity(messages.len());
        for message in messages {
            let options = BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            };
            let sent = self
                .channel
                .basic_publish(
                    "".into(),
                    message.queue.as_str().into(),
                    options,
                    &message.body,
                    properties(message),
                )
                .await;
            pending.push(sent);
        }
        join_all(pending.into_iter().map(|sent| async move {
            match sent?.await? {
                Confirmation::Ack(None) => Ok(()),
                Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
                    Err(SendError::Returned(returned.reply_text.to_string()))
                }
                Confirmation::Nack(None) => Err(SendError::Nacked),
                // Confirms are always on for this channel.
                Confirmation::NotRequested => Err(SendError::Nacked),
            }
        }))
        .await
    }
}

fn properties(message: &Outgoing) -> BasicProperties {
    let mut headers = FieldTable::default();
    let mut put = |name: &str, value: &str| {
        headers.insert(
            key(name),
            AMQPValue::LongString(LongString::from(value.as_bytes().to_vec())),
        );
    };
    if let Some(id) = &message.request_id {
        put(REQUEST_ID_HEADER, id);
    }
    if let Some(id) = &message.job_id {
        put(JOB_ID_HEADER, id);
    }
    for (name, value) in &message.headers {
        put(name, value);
    }
    let mut props = BasicProperties::default()
        .with_delivery_mode(2) // persistent
        .with_content_type("application/json".into())
        .with_headers(headers);
    if let Some(id) = &message.message_id {
        props = props.with_message_id(id.as_str().into());
    }
    props
}
