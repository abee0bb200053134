//! Consuming the work queues: manual acks, a prefetch limit per queue, and
//! the decision what happens to a message after its run.
//!
//! Ack timing: a delivery's ack is held until its run ends, and every run is
//! capped by `WORKER_RUN_TIMEOUT_SECS` (default 15 min), below RabbitMQ's
//! `consumer_timeout` (30 min by default). Holding the ack is what makes a
//! crash safe without any sweeper: if the worker dies, the broker redelivers
//! at once, and the job resumes from the state PostgreSQL holds. Long LLM
//! calls are bounded by `LLM_TIMEOUT_SECS` well inside that cap.

use std::{sync::Arc, time::Duration};

use futures::StreamExt;
use lapin::{
    Channel, Connection,
    message::Delivery,
    options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions},
    types::FieldTable,
};
use pagesmith::{
    backoff::Backoff,
    db,
    domain::{JobMessage, WorkQueue},
    queue::{self, ConfirmedChannel, FAILURE_REASON_HEADER, Outgoing, REQUEST_ID_HEADER, Topology},
};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{environment::Environment, error::JobError, process, stages::notify, texts};

/// What became of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Done (or a duplicate): acked.
    Done,
    /// Republished to a delay queue, then acked.
    Retried { delay: Duration },
    /// Failed: the job is `failed`, the message went to the dead-letter
    /// queue with its reason, and was acked.
    DeadLettered { reason: String },
}

/// How soon a message whose job another run holds is looked at again.
const BUSY_RECHECK: Duration = Duration::from_secs(5);

/// Runs consumers for both work queues until `stop`, reconnecting after
/// broker failures.
pub async fn run(env: Arc<Environment>, stop: CancellationToken) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    // The runs outlive the connection that delivered them: a lost
    // connection must not cut one short (one stopped between its callback
    // and recording it would call back twice when its message comes
    // again). They finish on their own, and are awaited before stopping.
    let mut running = JoinSet::new();
    while !stop.is_cancelled() {
        match consume(&env, &stop, &mut running).await {
            Ok(()) => break,
            Err(e) => {
                let wait = backoff.next_wait();
                tracing::warn!(error = %e, retry_in = ?wait, "worker lost RabbitMQ");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stop.cancelled() => break,
                }
            }
        }
    }
    // Runs in flight finish (their messages are acked or come back), then stop.
    while running.join_next().await.is_some() {}
}

async fn consume(
    env: &Arc<Environment>,
    stop: &CancellationToken,
    running: &mut JoinSet<()>,
) -> Result<(), String> {
    let err = |e: lapin::Error| e.to_string();
    let connection = env
        .settings
        .common
        .brokers
        .connect("pagesmith-worker")
        .await
        .map_err(|e| e.to_string())?;
    let publisher = ConfirmedChannel::open(&connection).await.map_err(err)?;
    env.topology
        .declare(publisher.channel())
        .await
        .map_err(err)?;
    let mut streams = Vec::new();
    // A job waiting on the LLM holds its delivery but no CPU slot, so each
    // generation queue (prompts; /app tasks) delivers enough to fill both
    // limits; the slots then serve the nearest deadline first (`slots`).
    let jobs_prefetch = env
        .settings
        .concurrency
        .saturating_add(env.settings.llm_max_concurrent);
    for (queue, prefetch) in [
        (WorkQueue::Deadline, jobs_prefetch),
        (WorkQueue::Jobs, jobs_prefetch),
        (WorkQueue::Interactive, env.settings.interactive_concurrency),
    ] {
        let channel = open_consumer_channel(&connection, prefetch)
            .await
            .map_err(err)?;
        let consumer = channel
            .basic_consume(
                env.topology.work(queue).into(),
                format!("worker-{}-{}", queue.as_str(), std::process::id()).into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(err)?;
        streams.push(consumer.map(move |d| (queue, d)));
    }
    tracing::info!("worker consuming");
    let mut deliveries = futures::stream::select_all(streams);
    loop {
        tokio::select! {
            next = deliveries.next() => match next {
                Some((queue, Ok(delivery))) => {
                    let env = env.clone();
                    let publisher = publisher.clone();
                    running.spawn(async move { handle(&env, &publisher, queue, delivery).await; });
                }
                Some((_, Err(e))) => return Err(e.to_string()),
                None => return Err("the broker closed the consumers".to_owned()),
            },
            Some(_) = running.join_next(), if !running.is_empty() => {}
            () = stop.cancelled() => {
                // Let runs in flight finish (their messages are acked), then stop.
                while running.join_next().await.is_some() {}
                let _ = connection.close(200, "worker stopping".into()).await;
                return Ok(());
            }
        }
    }
}

async fn open_consumer_channel(
    connection: &Connection,
    prefetch: u16,
) -> Result<Channel, lapin::Error> {
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await?;
    Ok(channel)
}

/// Runs one delivery and settles it.
pub async fn handle(
    env: &Environment,
    publisher: &ConfirmedChannel,
    queue: WorkQueue,
    delivery: Delivery,
) -> Disposition {
    let request_id = queue::header(&delivery.properties, REQUEST_ID_HEADER);
    let message: JobMessage = match serde_json::from_slice(&delivery.data) {
        Ok(m) => m,
        Err(e) => {
            let reason = format!("malformed message: {e}");
            tracing::error!(%reason, "dead-lettering a message nobody can process");
            return settle_dead(env, publisher, &delivery, None, reason).await;
        }
    };
    let span = tracing::info_span!("job", job.id = %message.job_id, request_id = request_id.as_deref().unwrap_or("-"));
    async {
        let outcome = match tokio::time::timeout(
            env.settings.run_timeout,
            process::process(env, message.job_id),
        )
        .await
        {
            Ok(outcome) => outcome,
            Err(_) => Err(JobError::retryable(
                format!("the run took longer than {:?}", env.settings.run_timeout),
                texts::RUN_SLOW,
            )),
        };
        settle(env, publisher, queue, &delivery, &message, outcome).await
    }
    .instrument(span)
    .await
}

async fn settle(
    env: &Environment,
    publisher: &ConfirmedChannel,
    queue: WorkQueue,
    delivery: &Delivery,
    message: &JobMessage,
    outcome: Result<(), JobError>,
) -> Disposition {
    let retry =
        |delay: Duration| async move { settle_retry(env, publisher, queue, delivery, delay).await };
    match outcome {
        Ok(()) => {
            ack(delivery).await;
            Disposition::Done
        }
        // Another run holds the job. Its own message may be gone (a run that
        // outlived its connection: the broker gave its message back, and
        // this is it), so this copy is parked, not dropped: it comes back
        // and finds the job done, or runs it if that run did not finish it.
        Err(JobError::Busy) => retry(BUSY_RECHECK).await,
        Err(JobError::Deferred { reason, delay }) => {
            tracing::info!(%reason, ?delay, "deferred");
            retry(delay).await
        }
        Err(JobError::Retryable {
            reason,
            user_message,
            not_before,
        }) => {
            let failures = db::jobs::failed_attempts(&env.pool, message.job_id)
                .await
                .unwrap_or(0);
            if failures >= i64::from(env.settings.max_attempts) {
                let reason = format!("gave up after {failures} attempts; last error: {reason}");
                let told = format!("{user_message} {}", texts::gave_up(failures));
                fail(env, message, &reason, &told).await;
                return settle_dead(env, publisher, delivery, Some(message), reason).await;
            }
            let tier = Topology::tier_for_attempt(failures.max(1) as u32);
            let delay = Topology::RETRY_TIERS[tier].max(not_before.unwrap_or_default());
            tracing::warn!(%reason, attempt = failures, ?delay, "retrying");
            tell(
                env,
                message,
                &format!(
                    "⏳ {user_message} {}",
                    texts::retrying(failures + 1, env.settings.max_attempts)
                ),
            )
            .await;
            retry(delay).await
        }
        Err(JobError::Permanent {
            reason,
            user_message,
        }) => {
            tracing::warn!(%reason, "job failed");
            fail(env, message, &reason, &user_message).await;
            settle_dead(env, publisher, delivery, Some(message), reason).await
        }
    }
}

/// Republishes to the smallest delay queue covering `delay`, then acks.
async fn settle_retry(
    env: &Environment,
    publisher: &ConfirmedChannel,
    queue: WorkQueue,
    delivery: &Delivery,
    delay: Duration,
) -> Disposition {
    let tier = Topology::RETRY_TIERS
        .iter()
        .position(|t| *t >= delay)
        .unwrap_or(Topology::RETRY_TIERS.len() - 1);
    let outgoing = forward(delivery, env.topology.retry(queue, tier), Vec::new());
    match publisher.publish(&outgoing).await {
        Ok(()) => {
            ack(delivery).await;
            Disposition::Retried {
                delay: Topology::RETRY_TIERS[tier],
            }
        }
        Err(e) => {
            // Could not park it: hand it back to the broker instead.
            tracing::warn!(error = %e, "could not republish for retry; requeueing");
            let _ = delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                })
                .await;
            Disposition::Retried {
                delay: Duration::ZERO,
            }
        }
    }
}

/// Sends the message to the dead-letter queue with its reason, then acks.
async fn settle_dead(
    env: &Environment,
    publisher: &ConfirmedChannel,
    delivery: &Delivery,
    message: Option<&JobMessage>,
    reason: String,
) -> Disposition {
    let mut outgoing = forward(
        delivery,
        env.topology.dead_letters(),
        vec![(FAILURE_REASON_HEADER.to_owned(), reason.clone())],
    );
    if let Some(message) = message {
        outgoing.job_id = Some(message.job_id.to_string());
    }
    if let Err(e) = publisher.publish(&outgoing).await {
        // The queue's dead-letter exchange catches a rejected message too.
        tracing::warn!(error = %e, "could not publish the dead letter; rejecting instead");
        let _ = delivery
            .nack(BasicNackOptions {
                requeue: false,
                ..Default::default()
            })
            .await;
        return Disposition::DeadLettered { reason };
    }
    ack(delivery).await;
    Disposition::DeadLettered { reason }
}

/// The delivery as a message for `queue`, keeping its ids and request id.
fn forward(delivery: &Delivery, queue: String, headers: Vec<(String, String)>) -> Outgoing {
    Outgoing {
        queue,
        body: delivery.data.clone(),
        message_id: delivery
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.to_string()),
        job_id: queue::header(&delivery.properties, queue::JOB_ID_HEADER),
        request_id: queue::header(&delivery.properties, REQUEST_ID_HEADER),
        headers,
    }
}

async fn ack(delivery: &Delivery) {
    if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
        // The channel died; the broker redelivers and the rerun is a no-op.
        tracing::warn!(error = %e, "could not ack");
    }
}

async fn fail(env: &Environment, message: &JobMessage, reason: &str, user_message: &str) {
    match db::jobs::fail(&env.pool, message.job_id, reason).await {
        Ok(true) => {
            metrics::counter!("pagesmith_jobs_failed_total").increment(1);
            tell(env, message, &format!("❌ {user_message}")).await;
        }
        Ok(false) => {}
        Err(e) => tracing::error!(error = %e, "could not record the failure"),
    }
}

/// Tells the job's requester something, on its status message.
async fn tell(env: &Environment, message: &JobMessage, text: &str) {
    if let Ok(Some(job)) = db::jobs::load(&env.pool, message.job_id).await
        && job.kind == pagesmith::domain::JobKind::Generate
    {
        notify::trouble(env, job.chat_id, job.id, text).await;
    }
}
