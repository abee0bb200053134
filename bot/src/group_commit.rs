//! Group commit for webhook updates.
//!
//! Each webhook request hands its update to the [`Ingestor`] and waits. A
//! lane collects whatever arrived meanwhile into one batch and writes it
//! with one statement (see `pagesmith::db::updates`), so under load many
//! requests share one commit, and each request is answered only after the
//! commit that holds its update. At low load a batch is a single update and
//! nothing waits for company.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use pagesmith::db::{
    self,
    updates::{UpdateOutcome, UpdateRecord},
};
use sqlx::PgPool;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::settings::IngestSettings;

/// How long a batch may take before its requests are answered 503.
const BATCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why an update could not be recorded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    /// The database is unreachable; nothing was stored.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database refused the write for another reason.
    #[error("could not record the update: {0}")]
    Failed(String),
}

struct Pending {
    record: UpdateRecord,
    reply: oneshot::Sender<Result<UpdateOutcome, IngestError>>,
}

/// The handle routes submit updates through.
#[derive(Clone)]
pub struct Ingestor {
    lanes: Arc<Vec<mpsc::Sender<Pending>>>,
}

impl Ingestor {
    /// Starts one writer per lane. `committed` is notified after every commit
    /// that created outbox rows, to wake the relay.
    ///
    /// An update always goes to the lane of its `update_id`, and a lane
    /// writes one batch at a time, so two concurrent batches never hold the
    /// same key: a retried update cannot deadlock with its original.
    pub fn spawn(
        pool: PgPool,
        bot_id: i64,
        dedupe_ttl: Duration,
        settings: IngestSettings,
        committed: Arc<Notify>,
    ) -> Self {
        let writer = Arc::new(Writer {
            pool,
            bot_id,
            dedupe_ttl,
            committed,
        });
        let lanes = (0..settings.max_inflight)
            .map(|_| {
                let (tx, rx) = mpsc::channel(settings.max_batch * 4);
                tokio::spawn(lane(rx, writer.clone(), settings.max_batch));
                tx
            })
            .collect();
        Self {
            lanes: Arc::new(lanes),
        }
    }

    /// Records one update and returns once it is committed (or failed).
    pub async fn submit(&self, record: UpdateRecord) -> Result<UpdateOutcome, IngestError> {
        let lane = &self.lanes[record.update_id.rem_euclid(self.lanes.len() as i64) as usize];
        let (reply, answer) = oneshot::channel();
        lane.send(Pending { record, reply })
            .await
            .map_err(|_| IngestError::Failed("ingest stopped".into()))?;
        answer
            .await
            .map_err(|_| IngestError::Failed("ingest stopped".into()))?
    }
}

/// Writes whatever queued up while the previous batch was committing.
async fn lane(mut rx: mpsc::Receiver<Pending>, writer: Arc<Writer>, max_batch: usize) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        writer.write(batch).await;
    }
}

struct Writer {
    pool: PgPool,
    bot_id: i64,
    dedupe_ttl: Duration,
    committed: Arc<Notify>,
}

impl Writer {
    async fn write(&self, batch: Vec<Pending>) {
        metrics::histogram!("pagesmith_ingest_batch_size").record(batch.len() as f64);
        // The same update twice in one batch: the first is written, the rest
        // share its fate as duplicates.
        let mut seen = HashSet::new();
        let (mut unique, repeats): (Vec<Pending>, Vec<Pending>) = batch
            .into_iter()
            .partition(|p| seen.insert(p.record.update_id));
        // Lock rows in a stable order, as a matter of hygiene.
        unique.sort_by_key(|p| p.record.update_id);
        let position: HashMap<i64, usize> = unique
            .iter()
            .enumerate()
            .map(|(i, p)| (p.record.update_id, i))
            .collect();
        let repeats: Vec<(usize, Pending)> = repeats
            .into_iter()
            .map(|p| (position[&p.record.update_id], p))
            .collect();
        let records: Vec<UpdateRecord> = unique.iter().map(|p| p.record.clone()).collect();
        let results: Vec<Result<UpdateOutcome, IngestError>> = match self.record(&records).await {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(IngestError::Failed(reason)) if records.len() > 1 => {
                // Something in the batch was refused. Write one by one so a
                // single bad update cannot fail the others.
                tracing::warn!(%reason, size = records.len(), "batch refused; retrying updates one by one");
                let mut results = Vec::with_capacity(records.len());
                for record in &records {
                    results.push(
                        self.record(std::slice::from_ref(record))
                            .await
                            .map(|mut o| o.remove(0)),
                    );
                }
                results
            }
            Err(e) => vec![Err(e); records.len()],
        };

        if results
            .iter()
            .any(|r| matches!(r, Ok(UpdateOutcome::Recorded)))
        {
            self.committed.notify_one();
        }
        for (i, pending) in repeats {
            let result = match &results[i] {
                Ok(_) => Ok(UpdateOutcome::Duplicate),
                Err(e) => Err(e.clone()),
            };
            let _ = pending.reply.send(result);
        }
        for (pending, result) in unique.into_iter().zip(results) {
            let _ = pending.reply.send(result);
        }
    }

    async fn record(&self, records: &[UpdateRecord]) -> Result<Vec<UpdateOutcome>, IngestError> {
        let write = db::updates::record_updates(&self.pool, self.bot_id, records, self.dedupe_ttl);
        match tokio::time::timeout(BATCH_TIMEOUT, write).await {
            Ok(Ok(outcomes)) => Ok(outcomes),
            Ok(Err(e)) if db::is_unavailable(&e) => Err(IngestError::Unavailable(e.to_string())),
            Ok(Err(e)) if db::is_transient(&e) => {
                // A deadlock or serialization failure: nothing was written,
                // and the same batch goes through on a second try.
                tracing::warn!(error = %e, "transient conflict; retrying the batch");
                db::updates::record_updates(&self.pool, self.bot_id, records, self.dedupe_ttl)
                    .await
                    .map_err(|e| IngestError::Failed(e.to_string()))
            }
            // Logged once, by each request it fails (see `startup::observe`).
            Ok(Err(e)) => Err(IngestError::Failed(e.to_string())),
            Err(_) => Err(IngestError::Unavailable(format!(
                "no commit within {BATCH_TIMEOUT:?}"
            ))),
        }
    }
}
