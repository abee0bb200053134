//! The real consumer: retries through the delay queues, dead letters.

use std::time::Duration;

use pagesmith::{
    domain::{JobKind, JobMessage, WorkQueue},
    queue::{self, ConfirmedChannel, Outgoing},
};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Step, TestWorker, good_site, spawn};

async fn publish(w: &TestWorker, job: uuid::Uuid) {
    publish_to(w, job, WorkQueue::Jobs).await;
}

async fn publish_to(w: &TestWorker, job: uuid::Uuid, queue: WorkQueue) {
    let connection =
        lapin::Connection::connect(&w.broker.url, lapin::ConnectionProperties::default())
            .await
            .unwrap();
    let channel = ConfirmedChannel::open(&connection).await.unwrap();
    channel
        .publish(&Outgoing {
            queue: w.env.topology.work(queue),
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

/// Jobs all waiting on a slow LLM, through the real consumer, with one CPU
/// slot: how many are in the LLM at once, and that each then finishes.
async fn jobs_waiting_on_the_llm(jobs: usize, llm_max: &str) -> (TestWorker, Vec<uuid::Uuid>) {
    let gate = std::sync::Arc::new(tokio::sync::Notify::new());
    let w = spawn(
        vec![Step::Block(gate.clone()); jobs],
        vec![],
        &[
            ("WORKER_CONCURRENCY", "1"),
            ("LLM_MAX_CONCURRENT", llm_max),
            // All the prompts come from one chat; its allowance is not
            // what is tested here.
            ("CHAT_LLM_PER_HOUR", "0"),
            // Fewer connections than waiting jobs: a job waiting on the LLM
            // holds none (its lock is on the worker's one lock session).
            ("DATABASE_MAX_CONNECTIONS", "4"),
        ],
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..jobs {
        let job = w.prompt(&format!("A site for shop number {i}"), None).await;
        publish(&w, job).await;
        ids.push(job);
    }
    let stop = start(&w);
    let limit: usize = llm_max.parse().unwrap();
    let in_llm = jobs.min(limit);
    // The jobs queue delivers CPU slots + LLM slots (1 + limit) at once.
    let delivered = jobs.min(1 + limit);
    testkit::eventually(
        "the jobs to wait on the LLM",
        Duration::from_secs(30),
        || async { (w.env.slots.llm_use() == (in_llm, delivered - in_llm)).then_some(()) },
    )
    .await;
    assert_eq!(
        w.llm.calls(),
        in_llm,
        "only the jobs in a slot call the LLM"
    );
    assert_eq!(
        w.env.slots.cpu_use(),
        (0, 0),
        "no CPU slot held while waiting"
    );
    // Let them all answer (a job whose turn comes later waits on the gate
    // again, so keep ringing until every job is done).
    let done = async {
        for job in &ids {
            while w.state(*job).await != "preview_ready" {
                gate.notify_waiters();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), done)
        .await
        .expect("every job finishes");
    stop.cancel();
    (w, ids)
}

#[tokio::test]
async fn twenty_jobs_wait_on_the_llm_at_once_with_one_cpu_slot() {
    let (w, ids) = jobs_waiting_on_the_llm(20, "64").await;
    assert_eq!(w.llm.calls(), 20, "one LLM call each");
    for job in ids {
        assert_eq!(w.version_of(job).await.number, 1);
    }
}

#[tokio::test]
async fn llm_max_concurrent_bounds_the_calls_in_flight() {
    let (w, _) = jobs_waiting_on_the_llm(8, "3").await;
    assert_eq!(w.llm.calls(), 8);
}

/// A worker with one CPU slot and one LLM slot whose LLM answers only when
/// the test lets it, one call at a time.
async fn one_llm_slot(calls: usize) -> (TestWorker, std::sync::Arc<tokio::sync::Notify>) {
    let gate = std::sync::Arc::new(tokio::sync::Notify::new());
    let w = spawn(
        vec![Step::Block(gate.clone()); calls],
        vec![],
        &[
            ("WORKER_CONCURRENCY", "1"),
            ("LLM_MAX_CONCURRENT", "1"),
            ("CHAT_LLM_PER_HOUR", "0"),
        ],
    )
    .await;
    (w, gate)
}

/// Lets the LLM answer one call at a time until `calls` calls were made;
/// returns the briefs in the order they were served.
async fn serve_llm_calls(w: &TestWorker, gate: &tokio::sync::Notify, calls: usize) -> Vec<String> {
    testkit::eventually(
        "the LLM calls to be served",
        Duration::from_secs(60),
        || async {
            if w.llm.calls() >= calls {
                return Some(());
            }
            gate.notify_one();
            tokio::time::sleep(Duration::from_millis(50)).await;
            None
        },
    )
    .await;
    w.llm
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.brief.clone())
        .collect()
}

const APP_BRIEF: &str = "A page that shows the date in #date.";

#[tokio::test]
async fn an_app_task_overtakes_prompts_waiting_for_the_llm() {
    let (w, gate) = one_llm_slot(4).await;
    let stop = start(&w);
    for i in 0..3 {
        let job = w.prompt(&format!("A site for shop number {i}"), None).await;
        publish(&w, job).await;
    }
    testkit::eventually(
        "a prompt in the LLM, one waiting",
        Duration::from_secs(30),
        || async { (w.env.slots.llm_use() == (1, 1)).then_some(()) },
    )
    .await;
    let task = w
        .app_job("overtaker", 1, "n-1", "http://127.0.0.1:9/notify", 600.0)
        .await;
    publish_to(&w, task, WorkQueue::Deadline).await;
    testkit::eventually("the task waiting too", Duration::from_secs(30), || async {
        (w.env.slots.llm_use() == (1, 2)).then_some(())
    })
    .await;
    let served = serve_llm_calls(&w, &gate, 2).await;
    stop.cancel();
    assert!(served[0].starts_with("A site for shop"), "{served:?}");
    assert_eq!(
        served[1], APP_BRIEF,
        "the task went before the waiting prompt"
    );
}

#[tokio::test]
async fn prompts_still_get_the_llm_under_a_storm_of_app_tasks() {
    let (w, gate) = one_llm_slot(14).await;
    for i in 0..12 {
        let task = w
            .app_job(
                &format!("storm-{i}"),
                1,
                "n",
                "http://127.0.0.1:9/notify",
                600.0,
            )
            .await;
        publish_to(&w, task, WorkQueue::Deadline).await;
    }
    for i in 0..2 {
        let job = w.prompt(&format!("A site for shop number {i}"), None).await;
        publish(&w, job).await;
    }
    let stop = start(&w);
    let served = serve_llm_calls(&w, &gate, 14).await;
    stop.cancel();
    let prompts: Vec<usize> = served
        .iter()
        .enumerate()
        .filter(|(_, brief)| brief.starts_with("A site for shop"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(prompts.len(), 2, "{served:?}");
    // One in four slots goes to a prompt while tasks wait: both are served
    // among the first nine calls, not after the twelve tasks.
    assert!(prompts[1] < 9, "prompts served at {prompts:?}: {served:?}");
}

/// A worker reaching RabbitMQ through a proxy the test can cut, consuming,
/// with one prompt's run waiting in its first LLM call (`llm`'s first step
/// should block).
async fn waiting_on_the_llm(
    llm: Vec<Step>,
) -> (testkit::TcpProxy, TestWorker, uuid::Uuid, CancellationToken) {
    let broker_url = std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    let proxy = testkit::TcpProxy::start_for_url(&broker_url).await;
    let via_proxy = testkit::with_address(&broker_url, proxy.addr());
    let w = spawn(llm, vec![], &[("AMQP_URL", via_proxy.as_str())]).await;
    let job = w.prompt("A site for my bakery please", None).await;
    publish(&w, job).await;
    let stop = start(&w);
    testkit::eventually(
        "the run to wait on the LLM",
        Duration::from_secs(30),
        || async { (w.llm.calls() == 1).then_some(()) },
    )
    .await;
    (proxy, w, job, stop)
}

/// A run in flight when the broker connection drops is not cut short: it
/// finishes (so nothing it did, such as a callback, is done twice), and
/// its redelivery then finds the job done and does nothing more.
#[tokio::test]
async fn a_run_in_flight_finishes_when_the_broker_connection_drops() {
    let gate = std::sync::Arc::new(tokio::sync::Notify::new());
    let (proxy, w, job, stop) = waiting_on_the_llm(vec![Step::Block(gate.clone())]).await;

    proxy.cut();
    // The LLM answers after the connection is gone; the run carries on.
    testkit::eventually("the run to finish", Duration::from_secs(30), || async {
        gate.notify_waiters();
        (w.state(job).await == "preview_ready").then_some(())
    })
    .await;

    proxy.restore();
    // Redelivered (its ack died with the channel) and found done.
    testkit::eventually(
        "the redelivery to be settled",
        Duration::from_secs(30),
        || async {
            let jobs = w.broker.ready(&w.env.topology.work(WorkQueue::Jobs)).await;
            (proxy.forwarded() >= 2 && jobs == 0).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(w.llm.calls(), 1, "generated once");
    assert_eq!(w.version_of(job).await.number, 1);
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM versions WHERE job_id = $1")
        .bind(job)
        .fetch_one(&w.env.pool)
        .await
        .unwrap();
    assert_eq!(versions, 1);
    stop.cancel();
}

/// The broker gives a run's message back when the connection drops, while
/// the run itself carries on. That copy, delivered again at once, finds the
/// job held and is parked, not dropped: when the first run then fails in a
/// way worth retrying (and cannot settle its own message on the dead
/// channel), the parked copy runs the job again.
#[tokio::test]
async fn a_message_given_back_while_its_run_goes_on_is_not_lost() {
    let gate = std::sync::Arc::new(tokio::sync::Notify::new());
    let (proxy, w, job, stop) = waiting_on_the_llm(vec![
        Step::BlockThenRetryable(gate.clone(), "the provider hiccupped"),
        Step::Files(crate::helpers::good_site("Second try")),
    ])
    .await;

    // The connection drops and comes back while the run still waits: the
    // given-back message is delivered again and finds the job held.
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.restore();
    testkit::eventually(
        "the worker to reconnect",
        Duration::from_secs(30),
        || async { (proxy.forwarded() >= 2).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Now the first run fails; only the parked copy can finish the job.
    gate.notify_waiters();
    testkit::eventually(
        "the job to be generated",
        Duration::from_secs(60),
        || async { (w.state(job).await == "preview_ready").then_some(()) },
    )
    .await;
    assert_eq!(w.llm.calls(), 2, "the failed try and the second");
    stop.cancel();
}
