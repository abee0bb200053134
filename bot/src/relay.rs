//! The outbox relay: moves committed outbox rows to RabbitMQ.
//!
//! A row is marked sent only after the broker confirmed its message (and did
//! not return it as unroutable). While the broker is away, rows wait in
//! PostgreSQL, ingress keeps accepting, and the relay reconnects with backoff
//! and drains the backlog when the broker is back. A crash between confirm
//! and marking can publish a row twice; consumers are idempotent.

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use lapin::Connection;
use pagesmith::{
    backoff::Backoff,
    db::{self, outbox::OutboxMessage},
    queue::{Brokers, ConfirmedChannel, Outgoing, Topology},
};
use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::settings::RelaySettings;

/// What the relay knows about the broker, for `/health`.
#[derive(Clone, Default)]
pub struct BrokerStatus(Arc<RwLock<BrokerState>>);

#[derive(Default)]
enum BrokerState {
    #[default]
    Connecting,
    Connected(lapin::ConnectionStatus),
    Down(String),
}

impl BrokerStatus {
    /// `Ok` while the relay holds a live connection; otherwise why not.
    pub fn check(&self) -> Result<(), String> {
        match &*self.0.read().expect("lock") {
            BrokerState::Connected(status) if status.connected() => Ok(()),
            BrokerState::Connected(_) => Err("connection lost".into()),
            BrokerState::Connecting => Err("not connected yet".into()),
            BrokerState::Down(reason) => Err(reason.clone()),
        }
    }

    fn set(&self, state: BrokerState) {
        *self.0.write().expect("lock") = state;
    }
}

enum RelayError {
    Broker(String),
    Database(sqlx::Error),
}

impl From<sqlx::Error> for RelayError {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(e)
    }
}

/// The relay task's inputs.
pub struct Relay {
    pub pool: PgPool,
    pub brokers: Brokers,
    pub topology: Topology,
    /// Notified by ingress after each commit that added rows.
    pub wakeup: Arc<Notify>,
    pub status: BrokerStatus,
    pub settings: RelaySettings,
}

impl Relay {
    /// Runs until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        while !stop.is_cancelled() {
            let reason = match self.connect().await {
                Ok((connection, channel)) => {
                    tracing::info!("outbox relay connected to RabbitMQ");
                    backoff.reset();
                    self.status
                        .set(BrokerState::Connected(connection.status().clone()));
                    let reason = self.pump(&connection, &channel, &stop).await;
                    let _ = connection.close(200, "relay stopping".into()).await;
                    reason
                }
                Err(e) => format!("cannot connect: {e}"),
            };
            if stop.is_cancelled() {
                break;
            }
            let wait = backoff.next_wait();
            tracing::warn!(%reason, retry_in = ?wait, "outbox relay lost RabbitMQ");
            self.status.set(BrokerState::Down(reason));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stop.cancelled() => break,
            }
        }
    }

    async fn connect(&self) -> Result<(Connection, ConfirmedChannel), String> {
        let connection = self
            .brokers
            .connect("pagesmith-bot-relay")
            .await
            .map_err(|e| e.to_string())?;
        let channel = ConfirmedChannel::open(&connection)
            .await
            .map_err(|e| e.to_string())?;
        self.topology
            .declare(channel.channel())
            .await
            .map_err(|e| e.to_string())?;
        Ok((connection, channel))
    }

    /// Publishes until the connection fails; returns why it stopped.
    async fn pump(
        &self,
        connection: &Connection,
        channel: &ConfirmedChannel,
        stop: &CancellationToken,
    ) -> String {
        let mut listener = None;
        loop {
            if stop.is_cancelled() {
                return "stopping".into();
            }
            if !connection.status().connected() {
                return "connection lost".into();
            }
            match self.relay_batch(channel).await {
                Ok(0) => {
                    self.record_backlog().await;
                    self.idle(&mut listener, stop).await;
                }
                Ok(_) => {}
                Err(RelayError::Broker(reason)) => return reason,
                Err(RelayError::Database(e)) => {
                    tracing::warn!(error = %e, "outbox relay cannot use the outbox");
                    self.idle(&mut listener, stop).await;
                }
            }
        }
    }

    /// Locks a batch, publishes it, and marks what the broker confirmed, all
    /// in one transaction. Returns how many rows it handled.
    async fn relay_batch(&self, channel: &ConfirmedChannel) -> Result<usize, RelayError> {
        let mut tx = self.pool.begin().await?;
        // A relay stuck mid-batch must not hold its rows forever.
        let idle_limit = format!("{}ms", (self.settings.confirm_timeout * 2).as_millis());
        sqlx::query("SELECT set_config('idle_in_transaction_session_timeout', $1, true)")
            .bind(idle_limit)
            .execute(&mut *tx)
            .await?;
        let batch = db::outbox::lock_pending(&mut tx, self.settings.batch).await?;
        if batch.is_empty() {
            tx.rollback().await?;
            return Ok(0);
        }

        let outgoing: Vec<Outgoing> = batch.iter().map(|m| self.outgoing(m)).collect();
        let results = match tokio::time::timeout(
            self.settings.confirm_timeout,
            channel.publish_all(&outgoing),
        )
        .await
        {
            Ok(results) => results,
            // Unconfirmed: roll back, so the rows stay unsent and go again.
            Err(_) => return Err(RelayError::Broker("no publisher confirms in time".into())),
        };
        let mut sent = Vec::new();
        let mut failed = Vec::new();
        let mut broken = None;
        for (message, result) in batch.iter().zip(results) {
            match result {
                Ok(()) => sent.push(message.id),
                Err(e) => {
                    if e.is_connection_error() {
                        broken.get_or_insert_with(|| e.to_string());
                    }
                    tracing::warn!(outbox.id = message.id, job.id = %message.job_id, error = %e, "publish failed; will retry");
                    failed.push((message.id, e.to_string()));
                }
            }
        }
        db::outbox::mark_sent(&mut tx, &sent).await?;
        for (id, error) in &failed {
            db::outbox::release(&mut tx, &[*id], Duration::from_secs(1), error).await?;
        }
        // If this commit fails, the confirmed rows are published again later;
        // consumers ignore the duplicates.
        tx.commit().await?;
        metrics::counter!("pagesmith_outbox_published_total").increment(sent.len() as u64);
        metrics::counter!("pagesmith_outbox_publish_failures_total").increment(failed.len() as u64);
        match broken {
            Some(reason) => Err(RelayError::Broker(reason)),
            None => Ok(batch.len()),
        }
    }

    fn outgoing(&self, message: &OutboxMessage) -> Outgoing {
        let queue = match message.queue.parse() {
            Ok(queue) => self.topology.work(queue),
            // The CHECK constraint makes this unreachable; an unknown queue
            // name would come back unroutable and be retried, not lost.
            Err(_) => message.queue.clone(),
        };
        Outgoing {
            queue,
            body: serde_json::to_vec(&message.payload).expect("JSON serializes"),
            message_id: Some(format!("outbox-{}", message.id)),
            job_id: Some(message.job_id.to_string()),
            request_id: message.request_id.clone(),
            headers: Vec::new(),
        }
    }

    /// Waits for a wake-up from ingress, a NOTIFY from another process, or
    /// the poll interval.
    async fn idle(&self, listener: &mut Option<PgListener>, stop: &CancellationToken) {
        if listener.is_none() {
            *listener = listen(&self.pool).await;
        }
        let notified = async {
            match listener.as_mut() {
                Some(l) => l.recv().await.map(|_| ()),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = self.wakeup.notified() => {}
            () = tokio::time::sleep(self.settings.poll) => {}
            () = stop.cancelled() => {}
            result = notified => if result.is_err() { *listener = None; },
        }
    }

    async fn record_backlog(&self) {
        if let Ok(n) = db::outbox::backlog(&self.pool).await {
            metrics::gauge!("pagesmith_outbox_backlog").set(n as f64);
        }
    }
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let mut listener = PgListener::connect_with(pool).await.ok()?;
    listener.listen(db::outbox::NOTIFY_CHANNEL).await.ok()?;
    Some(listener)
}
