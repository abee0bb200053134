//! Moving an existing deployment's queues to another [`QueueType`]
//! (`bot convert-queues`), messages included.
//!
//! RabbitMQ cannot change a queue's type: declaring it again with another
//! `x-queue-type` fails. So each queue of the wrong type is converted
//! through a holding queue of the new type:
//!
//! 1. move its messages to `<name>.converting` (published with confirms,
//!    then acked: a message is in one of the two queues at every moment);
//! 2. delete it (only when empty and unused; anything published meanwhile
//!    is moved first) and declare it again with the new type;
//! 3. move the messages back and delete the holding queue.
//!
//! Each step is done for every queue before the next begins, so while a
//! work queue is recreated its delay queues' messages wait in holding
//! queues, where they can neither expire nor be dead-lettered to it.
//!
//! A run stopped anywhere can be run again: a holding queue left behind is
//! drained into its queue. Messages keep their properties and headers
//! (`x-death` included); a delay queue's messages wait their full delay
//! again. Stop the bot and workers first: a queue is deleted only when no
//! consumer is attached (the messages a consumer holds unacked would go
//! with it), and a process declaring the old type on a converted queue
//! fails to connect until it is restarted with the new `AMQP_QUEUE_TYPE`.

use lapin::{
    Channel, Confirmation, Connection,
    options::{
        BasicAckOptions, BasicGetOptions, BasicPublishOptions, QueueDeclareOptions,
        QueueDeleteOptions,
    },
    types::{AMQPValue, FieldTable, LongString},
};

use super::{ConfirmedChannel, QueueType, Topology};

/// What a conversion did, queue by queue.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ConvertReport {
    /// Queues that were of another type (or left half-way), with the number
    /// of messages carried over.
    pub converted: Vec<(String, u64)>,
    /// Queues that were already of the wanted type.
    pub unchanged: Vec<String>,
}

/// Why a conversion stopped. What it moved so far is safe; run it again.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker did not confirm a message moved to `{0}`")]
    NotConfirmed(String),
    #[error(
        "`{0}` is still consumed or kept receiving messages; stop the bot and workers, then run this again"
    )]
    StillReceiving(String),
}

/// Brings every queue of `topology` to `topology.queue_type()`, in three
/// passes, so that no message expires or is dead-lettered into a queue
/// while that queue is being recreated: first every queue of the other
/// type empties into its holding queue (which has no TTL and no
/// dead-lettering), then those queues are recreated, then every holding
/// queue empties back.
pub async fn convert(
    connection: &Connection,
    topology: &Topology,
) -> Result<ConvertReport, ConvertError> {
    let holding = |name: &str| format!("{name}.converting");
    let mut other_type = Vec::new();
    for name in topology.all_queues() {
        // A failed declaration closes its channel, so each probe gets one.
        let probe = connection.create_channel().await?;
        if topology.declare_one(&probe, &name, &name).await.is_err() {
            let channel = ConfirmedChannel::open(connection).await?;
            declare_holding(channel.channel(), &holding(&name), topology.queue_type()).await?;
            drain(&channel, &name, &holding(&name)).await?;
            other_type.push(name);
        }
    }
    for name in &other_type {
        delete_when_empty(connection, name, &holding(name)).await?;
        let channel = connection.create_channel().await?;
        topology.declare_one(&channel, name, name).await?;
    }
    let mut report = ConvertReport::default();
    for name in topology.all_queues() {
        // Also what a run stopped half-way left in the holding queue.
        let holding = holding(&name);
        if exists(connection, &holding).await? {
            let channel = ConfirmedChannel::open(connection).await?;
            let moved = drain(&channel, &holding, &name).await?;
            channel
                .channel()
                .queue_delete(holding.as_str().into(), QueueDeleteOptions::default())
                .await?;
            tracing::info!(queue = %name, moved, to = %topology.queue_type(), "queue converted");
            report.converted.push((name, moved));
        } else {
            report.unchanged.push(name);
        }
    }
    Ok(report)
}

/// A plain durable queue of `queue_type`: no TTL and no dead-lettering, so
/// messages held there wait, whatever queue they came from.
async fn declare_holding(
    channel: &Channel,
    name: &str,
    queue_type: QueueType,
) -> Result<(), lapin::Error> {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from(queue_type.as_str().as_bytes().to_vec())),
    );
    channel
        .queue_declare(
            name.into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            args,
        )
        .await?;
    Ok(())
}

/// Deletes `name` once empty, moving to `holding` whatever arrives
/// meanwhile.
async fn delete_when_empty(
    connection: &Connection,
    name: &str,
    holding: &str,
) -> Result<(), ConvertError> {
    for _ in 0..10 {
        // A refused deletion closes its channel: one channel per attempt.
        let channel = ConfirmedChannel::open(connection).await?;
        let deleted = channel
            .channel()
            .queue_delete(
                name.into(),
                // Refused while a consumer is attached: the messages it
                // holds unacked would go with the queue.
                QueueDeleteOptions {
                    if_empty: true,
                    if_unused: true,
                    ..QueueDeleteOptions::default()
                },
            )
            .await;
        match deleted {
            Ok(_) => return Ok(()),
            Err(_) => {
                let channel = ConfirmedChannel::open(connection).await?;
                drain(&channel, name, holding).await?;
            }
        }
    }
    Err(ConvertError::StillReceiving(name.to_owned()))
}

/// Moves every message from `from` to `to`; returns how many.
async fn drain(channel: &ConfirmedChannel, from: &str, to: &str) -> Result<u64, ConvertError> {
    let mut moved = 0;
    while let Some(message) = channel
        .channel()
        .basic_get(from.into(), BasicGetOptions::default())
        .await?
    {
        let delivery = message.delivery;
        let confirm = channel
            .channel()
            .basic_publish(
                "".into(),
                to.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &delivery.data,
                // Headers (x-death too), ids and persistence, as they were.
                delivery.properties.clone(),
            )
            .await?
            .await?;
        if !matches!(confirm, Confirmation::Ack(None)) {
            return Err(ConvertError::NotConfirmed(to.to_owned()));
        }
        delivery.acker.ack(BasicAckOptions::default()).await?;
        moved += 1;
    }
    Ok(moved)
}

/// Whether queue `name` exists (a passive declaration of a missing queue
/// closes its channel, so it gets its own).
async fn exists(connection: &Connection, name: &str) -> Result<bool, lapin::Error> {
    let channel = connection.create_channel().await?;
    let declared = channel
        .queue_declare(
            name.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await;
    if declared.is_ok() {
        let _ = channel.close(200, "probed".into()).await;
    }
    Ok(declared.is_ok())
}
