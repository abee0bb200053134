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

use std::time::Duration;

use lapin::{
    Channel,
    options::QueueDeclareOptions,
    types::{AMQPValue, FieldTable, LongString, ShortString},
};

use crate::domain::WorkQueue;

/// The queue names under one prefix. Tests use a unique prefix each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    prefix: String,
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

    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
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
    /// connect, so either may start first.
    pub async fn declare(&self, channel: &Channel) -> Result<(), lapin::Error> {
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        channel
            .queue_declare(self.dead_letters().into(), durable, FieldTable::default())
            .await?;
        for queue in WorkQueue::ALL {
            let mut args = FieldTable::default();
            args.insert("x-dead-letter-exchange".into(), string(""));
            args.insert(
                "x-dead-letter-routing-key".into(),
                string(&self.dead_letters()),
            );
            channel
                .queue_declare(self.work(*queue).into(), durable, args)
                .await?;

            for (tier, delay) in Self::RETRY_TIERS.iter().enumerate() {
                let mut args = FieldTable::default();
                args.insert(
                    "x-message-ttl".into(),
                    AMQPValue::LongLongInt(delay.as_millis() as i64),
                );
                args.insert("x-dead-letter-exchange".into(), string(""));
                args.insert(
                    "x-dead-letter-routing-key".into(),
                    string(&self.work(*queue)),
                );
                channel
                    .queue_declare(self.retry(*queue, tier).into(), durable, args)
                    .await?;
            }
        }
        Ok(())
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
