//! The real consumer: retries through the delay queues, dead letters.

use std::time::Duration;

use pagesmith::{
    domain::{JobKind, JobMessage, WorkQueue},
    queue::{self, ConfirmedChannel, Outgoing},
};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Step, TestWorker, good_site, spawn};

async fn publish(w: &TestWorker, job: uuid::Uuid) {
    let connection =
        lapin::Connection::connect(&w.broker.url, lapin::ConnectionProperties::default())
            .await
            .unwrap();
    let channel = ConfirmedChannel::open(&connection).await.unwrap();
    channel
        .publish(&Outgoing {
            queue: w.env.topology.work(WorkQueue::Jobs),
            body: serde_json::to_vec(&JobMessage {
                job_id: job,
                kind: JobKind::Generate,
            })
            .unwrap(),
            request_id: Some("req-test-1".into()),
            ..Outgoing::default()
        })
        .await
        .unwrap();
}

fn start(w: &TestWorker) -> CancellationToken {
    let stop = CancellationToken::new();
    tokio::spawn(worker::consumer::run(w.env.clone(), stop.clone()));
    stop
}

async fn wait_for_state(w: &TestWorker, job: uuid::Uuid, want: &str) {
    testkit::eventually(
        &format!("job to reach {want}"),
        Duration::from_secs(30),
        || async { (w.state(job).await == want).then_some(()) },
    )
    .await;
}

/// Runs the consumer until the job fails; returns its dead letter.
async fn dead_letter_of(w: &TestWorker, job: uuid::Uuid) -> testkit::TakenMessage {
    let stop = start(w);
    publish(w, job).await;
    wait_for_state(w, job, "failed").await;
    let mut dead = w
        .broker
        .take(
            &w.broker.topology.dead_letters(),
            1,
            Duration::from_secs(10),
        )
        .await;
    stop.cancel();
    assert_eq!(dead.len(), 1, "exactly one dead letter");
    dead.remove(0)
}

#[tokio::test]
async fn a_retryable_failure_goes_through_the_delay_queue_and_then_succeeds() {
    let w = spawn(
        vec![
            Step::Retryable("503 Service Unavailable"),
            Step::Files(good_site("Later")),
        ],
        vec![],
        &[],
    )
    .await;
    let job = w.prompt("A site", None).await;
    let stop = start(&w);
    publish(&w, job).await;

    wait_for_state(&w, job, "preview_ready").await;
    // The attempt is closed just after the state commits.
    let outcomes = testkit::eventually(
        "both attempts recorded",
        Duration::from_secs(10),
        || async {
            let outcomes: Vec<Option<String>> = sqlx::query_scalar(
                "SELECT outcome FROM job_attempts WHERE job_id = $1 ORDER BY id",
            )
            .bind(job)
            .fetch_all(&w.db.pool)
            .await
            .unwrap();
            outcomes.iter().all(Option::is_some).then_some(outcomes)
        },
    )
    .await;
    stop.cancel();
    assert_eq!(
        w.version_of(job).await.generator,
        "llm:test-model",
        "the LLM's second answer was used"
    );
    assert_eq!(
        outcomes,
        [Some("retrying".to_owned()), Some("succeeded".to_owned())]
    );
    let calls = w.telegram_calls().await;
    assert!(
        calls.iter().any(|(_, body)| body["text"]
            .as_str()
            .is_some_and(|t| t.contains("attempt 2 of 5"))),
        "the user is told about the retry"
    );
    assert_eq!(w.broker.ready(&w.broker.topology.dead_letters()).await, 0);
}

#[tokio::test]
async fn a_job_that_keeps_failing_is_dead_lettered_with_its_reason_after_n_attempts() {
    let w = spawn(
        vec![Step::Files(good_site("Never bundled"))],
        vec![],
        &[("JOB_MAX_ATTEMPTS", "2")],
    )
    .await;
    // Bundling fails every time: DATA_DIR/bundles is a file.
    std::fs::write(w.data_dir.path().join("bundles"), b"in the way").unwrap();
    let job = w.prompt("A site", None).await;
    let dead = dead_letter_of(&w, job).await;
    let reason = queue::header(&dead.properties, queue::FAILURE_REASON_HEADER).unwrap();
    assert!(
        reason.contains("gave up after 2 attempts") && reason.contains("bundle"),
        "{reason}"
    );
    assert_eq!(
        queue::header(&dead.properties, queue::REQUEST_ID_HEADER).as_deref(),
        Some("req-test-1")
    );
    let error: String = sqlx::query_scalar("SELECT error FROM jobs WHERE id = $1")
        .bind(job)
        .fetch_one(&w.db.pool)
        .await
        .unwrap();
    assert!(error.contains("gave up"));
    let calls = w.telegram_calls().await;
    let last = calls.last().unwrap().1["text"].as_str().unwrap().to_owned();
    assert!(
        last.starts_with("❌"),
        "the user is told in plain words: {last}"
    );
}

#[tokio::test]
async fn a_permanent_failure_is_dead_lettered_at_once() {
    let mut site = good_site("Leaky");
    site.push(("k.js", "AKIAIOSFODNN7EXAMPLE".to_owned()));
    let w = spawn(vec![Step::Files(site)], vec![], &[]).await;
    let job = w.prompt("A site", None).await;
    let dead = dead_letter_of(&w, job).await;
    let reason = queue::header(&dead.properties, queue::FAILURE_REASON_HEADER).unwrap();
    assert!(reason.contains("AWS access key id"), "{reason}");
    assert_eq!(
        w.count("SELECT count(*) FROM job_attempts").await,
        1,
        "no retries"
    );
}

#[tokio::test]
async fn a_malformed_message_is_dead_lettered_not_retried_forever() {
    let w = spawn(vec![], vec![], &[]).await;
    let connection =
        lapin::Connection::connect(&w.broker.url, lapin::ConnectionProperties::default())
            .await
            .unwrap();
    let channel = ConfirmedChannel::open(&connection).await.unwrap();
    channel
        .publish(&Outgoing {
            queue: w.env.topology.work(WorkQueue::Jobs),
            body: b"not json".to_vec(),
            ..Outgoing::default()
        })
        .await
        .unwrap();
    let stop = start(&w);
    let dead = w
        .broker
        .take(
            &w.broker.topology.dead_letters(),
            1,
            Duration::from_secs(10),
        )
        .await;
    stop.cancel();
    assert_eq!(dead.len(), 1);
    assert!(
        queue::header(&dead[0].properties, queue::FAILURE_REASON_HEADER)
            .unwrap()
            .contains("malformed")
    );
    assert_eq!(
        w.broker.ready(&w.env.topology.work(WorkQueue::Jobs)).await,
        0
    );
}
