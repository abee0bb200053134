//! Every queue pagesmith uses, and how they connect.
//!
//! ```text
//! {prefix}.jobs ─────────┐  consumed by workers (generation, publishing)
//! {prefix}.interactive ──┤  consumed by workers (commands, button clicks)
//!                        │  nack without requeue ─▶ {prefix}.dead
//! {prefix}.<work>.retry.<delay>   no consumers; queue TTL = delay, then
//!                                 dead-lettered back to {prefix}.<work>
//! {prefix}.dead          failed messages, kept with their reason
//! ```
//!
//! All queues are durable and all messages persistent. Messages go through
//! the default exchange, routed by queue name, published `mandatory` so a
//! missing queue is an error, not a silent drop.
//!
//! Every queue is of one [`QueueType`] (`AMQP_QUEUE_TYPE`): classic, on one
//! node, or quorum, replicated over a cluster's nodes (Raft) so a node may
//! die without losing a message. Quorum queues dead-letter at least once
//! (RabbitMQ 3.10+), so a retry leaving its delay queue, or a failure going
//! to `{prefix}.dead`, survives a node failure on the way too.

use std::{fmt, str::FromStr, time::Duration};

use lapin::{
    Channel,
    options::QueueDeclareOptions,
    types::{AMQPValue, FieldTable, LongString, ShortString},
};

use crate::{config::parse_word, domain::WorkQueue};

/// What kind of queue every pagesmith queue is (`AMQP_QUEUE_TYPE`). A queue
/// cannot change type in place: `bot convert-queues` moves an existing
/// deployment's queues, messages included (see [`super::convert`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueType {
    /// One node holds each queue (the default: one broker, nothing to
    /// replicate).
    #[default]
    Classic,
    /// Replicated over a cluster's nodes.
    Quorum,
}

impl QueueType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Classic => "classic",
            Self::Quorum => "quorum",
        }
    }
}

impl FromStr for QueueType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_word(s, &[("classic", Self::Classic), ("quorum", Self::Quorum)])
    }
}

impl fmt::Display for QueueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The queue names under one prefix. Tests use a unique prefix each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    prefix: String,
    queue_type: QueueType,
}

impl Topology {
    /// Backoff tiers for retries: the n-th retry waits `RETRY_TIERS[n]` (the
    /// last tier repeats).
    pub const RETRY_TIERS: &[Duration] = &[
        Duration::from_secs(1),
        Duration::from_secs(5),
        Duration::from_secs(30),
        Duration::from_secs(120),
    ];

    /// Classic queues under `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            queue_type: QueueType::Classic,
        }
    }

    /// The same names, declared as `queue_type`.
    pub fn with_queue_type(self, queue_type: QueueType) -> Self {
        Self { queue_type, ..self }
    }

    pub fn queue_type(&self) -> QueueType {
        self.queue_type
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The queue workers consume for `queue`.
    pub fn work(&self, queue: WorkQueue) -> String {
        format!("{}.{}", self.prefix, queue.as_str())
    }

    /// The delay queue of retry `tier` for `queue`.
    pub fn retry(&self, queue: WorkQueue, tier: usize) -> String {
        let delay = Self::RETRY_TIERS[tier.min(Self::RETRY_TIERS.len() - 1)];
        format!(
            "{}.{}.retry.{}s",
            self.prefix,
            queue.as_str(),
            delay.as_secs()
        )
    }

    /// The tier to use for the `attempt`-th retry (1-based), exponential.
    pub fn tier_for_attempt(attempt: u32) -> usize {
        (attempt.saturating_sub(1) as usize).min(Self::RETRY_TIERS.len() - 1)
    }

    /// Where failed messages end up.
    pub fn dead_letters(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    /// Every queue name, for declaring and for tests that clean up.
    pub fn all_queues(&self) -> Vec<String> {
        let mut names = Vec::new();
        for queue in WorkQueue::ALL {
            names.push(self.work(*queue));
            for tier in 0..Self::RETRY_TIERS.len() {
                names.push(self.retry(*queue, tier));
            }
        }
        names.push(self.dead_letters());
        names
    }

    /// Declares every queue. Idempotent; both bot and worker call it when they
    /// connect, so either may start first. Fails (and closes the channel)
    /// when a queue exists with another type or other arguments.
    pub async fn declare(&self, channel: &Channel) -> Result<(), lapin::Error> {
        for name in self.all_queues() {
            self.declare_one(channel, &name, &name).await?;
        }
        Ok(())
    }

    /// Declares `as_name` with the type and arguments this topology gives
    /// `name` (one of [`Self::all_queues`]); converting declares a queue's
    /// arguments under a temporary name.
    pub(crate) async fn declare_one(
        &self,
        channel: &Channel,
        name: &str,
        as_name: &str,
    ) -> Result<(), lapin::Error> {
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(as_name.into(), durable, self.arguments(name))
            .await?;
        Ok(())
    }

    /// The declaration arguments of queue `name`.
    fn arguments(&self, name: &str) -> FieldTable {
        let mut args = FieldTable::default();
        if self.queue_type == QueueType::Quorum {
            args.insert("x-queue-type".into(), string("quorum"));
        }
        let mut dead_letter_to = |target: &str| {
            args.insert("x-dead-letter-exchange".into(), string(""));
            args.insert("x-dead-letter-routing-key".into(), string(target));
            if self.queue_type == QueueType::Quorum {
                // At-least-once dead-lettering needs reject-publish overflow;
                // no queue has a length limit, so nothing is ever rejected.
                args.insert("x-dead-letter-strategy".into(), string("at-least-once"));
                args.insert("x-overflow".into(), string("reject-publish"));
            }
        };
        for queue in WorkQueue::ALL {
            if name == self.work(*queue) {
                dead_letter_to(&self.dead_letters());
                return args;
            }
            for (tier, delay) in Self::RETRY_TIERS.iter().enumerate() {
                if name == self.retry(*queue, tier) {
                    dead_letter_to(&self.work(*queue));
                    args.insert(
                        "x-message-ttl".into(),
                        AMQPValue::LongLongInt(delay.as_millis() as i64),
                    );
                    return args;
                }
            }
        }
        args
    }
}

fn string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

/// A short string key, for callers building headers.
pub(crate) fn key(s: &str) -> ShortString {
    ShortString::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prefix() {
        let t = Topology::new("ps");
        assert_eq!(t.work(WorkQueue::Jobs), "ps.jobs");
        assert_eq!(t.retry(WorkQueue::Jobs, 1), "ps.jobs.retry.5s");
        assert_eq!(
            t.retry(WorkQueue::Interactive, 99),
            "ps.interactive.retry.120s"
        );
        assert_eq!(t.dead_letters(), "ps.dead");
        assert_eq!(t.work(WorkQueue::Deadline), "ps.deadline");
        assert_eq!(
            t.all_queues().len(),
            3 * (1 + Topology::RETRY_TIERS.len()) + 1
        );
    }

    #[test]
    fn retries_back_off_exponentially_then_hold() {
        let tiers: Vec<_> = (1..=6).map(Topology::tier_for_attempt).collect();
        assert_eq!(tiers, [0, 1, 2, 3, 3, 3]);
    }
}
