//! The queue topology on a real RabbitMQ: quorum queues with their delay
//! tiers and dead-lettering, converting classic queues to quorum, and
//! failing over between the nodes of `AMQP_URL`.

use std::time::Duration;

use futures::StreamExt;

use lapin::{
    BasicProperties, Connection,
    options::{BasicNackOptions, BasicPublishOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, LongString},
};
use pagesmith::{
    domain::WorkQueue,
    queue::{Brokers, QueueType, Topology, convert},
};
use testkit::{TcpProxy, TestBroker};

async fn publish(connection: &Connection, queue: &str, body: &str) {
    let channel = connection.create_channel().await.unwrap();
    channel.confirm_select(Default::default()).await.unwrap();
    let mut headers = FieldTable::default();
    headers.insert(
        "x-job-id".into(),
        AMQPValue::LongString(LongString::from(format!("job-{body}").into_bytes())),
    );
    channel
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            body.as_bytes(),
            BasicProperties::default()
                .with_delivery_mode(2)
                .with_message_id(format!("m-{body}").into())
                .with_headers(headers),
        )
        .await
        .unwrap()
        .await
        .unwrap();
}

fn bodies(taken: &[testkit::TakenMessage]) -> Vec<String> {
    taken
        .iter()
        .map(|m| String::from_utf8(m.body.clone()).unwrap())
        .collect()
}

/// Whether `queue` exists as a queue of `topology`'s type: declaring it with
/// another type's arguments fails.
async fn is_of_type(connection: &Connection, topology: &Topology) -> bool {
    let channel = connection.create_channel().await.unwrap();
    topology.declare(&channel).await.is_ok()
}

#[tokio::test]
async fn quorum_queues_keep_their_delay_tiers_and_dead_letters() {
    let broker = TestBroker::with_queue_type(QueueType::Quorum).await;
    let t = &broker.topology;
    let jobs = t.work(WorkQueue::Jobs);

    // A retry waits its tier (1 s) in the delay queue, then comes back.
    publish(broker.connection(), &t.retry(WorkQueue::Jobs, 0), "later").await;
    assert_eq!(broker.ready(&jobs).await, 0, "still waiting its delay");
    let back = broker.take(&jobs, 1, Duration::from_secs(10)).await;
    assert_eq!(bodies(&back), ["later"]);
    let headers = back[0].properties.headers().clone().unwrap();
    assert!(
        headers.inner().contains_key("x-death"),
        "came back by dead-lettering: {headers:?}"
    );

    // A message rejected from a work queue goes to the dead-letter queue.
    publish(broker.connection(), &jobs, "broken").await;
    let channel = broker.connection().create_channel().await.unwrap();
    let got = channel
        .basic_get(jobs.as_str().into(), Default::default())
        .await
        .unwrap()
        .expect("a message");
    got.delivery
        .acker
        .nack(BasicNackOptions {
            requeue: false,
            ..Default::default()
        })
        .await
        .unwrap();
    let dead = broker
        .take(&t.dead_letters(), 1, Duration::from_secs(10))
        .await;
    assert_eq!(bodies(&dead), ["broken"]);

    // The type is really quorum: declaring the same queues classic fails.
    let classic = Topology::new(t.prefix());
    assert!(!is_of_type(broker.connection(), &classic).await);
    assert!(is_of_type(broker.connection(), t).await);
}

#[tokio::test]
async fn classic_queues_convert_to_quorum_with_every_message() {
    let broker = TestBroker::with_queue_type(QueueType::Classic).await;
    let classic = broker.topology.clone();
    let jobs = classic.work(WorkQueue::Jobs);
    let slow_retry = classic.retry(WorkQueue::Interactive, 3); // 120 s: stays put
    for body in ["a", "b", "c"] {
        publish(broker.connection(), &jobs, body).await;
    }
    publish(broker.connection(), &slow_retry, "r").await;
    publish(broker.connection(), &classic.dead_letters(), "d").await;

    let quorum = classic.clone().with_queue_type(QueueType::Quorum);
    assert!(
        !is_of_type(broker.connection(), &quorum).await,
        "redeclaring with another type fails, hence the conversion"
    );
    let report = convert(broker.connection(), &quorum).await.unwrap();
    assert_eq!(report.converted.len(), classic.all_queues().len());
    assert!(report.unchanged.is_empty());
    let moved = |queue: &str| {
        report
            .converted
            .iter()
            .find(|(q, _)| q == queue)
            .map(|(_, n)| *n)
    };
    assert_eq!(moved(&jobs), Some(3));
    assert_eq!(moved(&slow_retry), Some(1));
    assert_eq!(moved(&classic.dead_letters()), Some(1));

    assert!(is_of_type(broker.connection(), &quorum).await);
    assert_eq!(broker.ready(&slow_retry).await, 1);
    let taken = broker.take(&jobs, 3, Duration::from_secs(5)).await;
    assert_eq!(bodies(&taken), ["a", "b", "c"], "in order, once each");
    let first = &taken[0].properties;
    assert_eq!(first.message_id().as_ref().unwrap().as_str(), "m-a");
    assert_eq!(first.delivery_mode(), &Some(2));
    assert!(
        first
            .headers()
            .as_ref()
            .unwrap()
            .inner()
            .contains_key("x-job-id"),
        "headers kept"
    );

    // Running it again changes nothing.
    let again = convert(broker.connection(), &quorum).await.unwrap();
    assert!(again.converted.is_empty(), "{again:?}");
    assert_eq!(again.unchanged.len(), quorum.all_queues().len());
}

#[tokio::test]
async fn a_conversion_stopped_half_way_finishes_on_the_next_run() {
    let broker = TestBroker::with_queue_type(QueueType::Quorum).await;
    let t = &broker.topology;
    let jobs = t.work(WorkQueue::Jobs);
    // As a run killed after recreating the queue leaves it: the messages
    // wait in the holding queue.
    let holding = format!("{jobs}.converting");
    let channel = broker.connection().create_channel().await.unwrap();
    channel
        .queue_declare(
            holding.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    publish(broker.connection(), &holding, "held-1").await;
    publish(broker.connection(), &holding, "held-2").await;

    let report = convert(broker.connection(), t).await.unwrap();
    assert_eq!(report.converted, vec![(jobs.clone(), 2)]);
    let taken = broker.take(&jobs, 2, Duration::from_secs(5)).await;
    assert_eq!(bodies(&taken), ["held-1", "held-2"]);
    let probe = broker.connection().create_channel().await.unwrap();
    let gone = probe
        .queue_declare(
            holding.as_str().into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await;
    assert!(gone.is_err(), "the holding queue is deleted");
}

#[tokio::test]
async fn a_dead_node_is_skipped_and_a_lost_connection_moves_to_the_next_node() {
    let broker = TestBroker::new().await;
    let first = TcpProxy::start_for_url(&broker.url).await;
    let second = TcpProxy::start_for_url(&broker.url).await;
    let urls = format!(
        "amqp://guest:guest@127.0.0.1:1/%2f,{},{}",
        broker.url_via(first.addr()),
        broker.url_via(second.addr())
    );
    let brokers: Brokers = urls.parse().unwrap();

    // Node 1 refuses: node 2 is used.
    let connection = brokers.connect("test").await.unwrap();
    assert_eq!((first.forwarded(), second.forwarded()), (1, 0));

    // Node 2 goes away: the next connect starts at node 3, even though node
    // 2 is back by then.
    first.cut();
    testkit::eventually("the connection notices", Duration::from_secs(10), || {
        let connected = connection.status().connected();
        async move { (!connected).then_some(()) }
    })
    .await;
    first.restore();
    let reconnected = brokers.connect("test").await.unwrap();
    assert_eq!((first.forwarded(), second.forwarded()), (1, 1));
    assert!(reconnected.status().connected());

    // Every node down: one error naming each.
    first.cut();
    second.cut();
    let err = brokers.connect("test").await.unwrap_err().to_string();
    assert!(err.contains("127.0.0.1:1:"), "{err}");
    assert!(err.contains(&first.addr().to_string()), "{err}");
    assert!(err.contains(&second.addr().to_string()), "{err}");
}

#[tokio::test]
async fn a_queue_still_consumed_is_not_converted_and_keeps_its_messages() {
    let broker = TestBroker::with_queue_type(QueueType::Classic).await;
    let jobs = broker.topology.work(WorkQueue::Jobs);
    publish(broker.connection(), &jobs, "held-by-a-worker").await;

    // A worker that took the message and has not acked it.
    let worker = broker.connection().create_channel().await.unwrap();
    let mut consumer = worker
        .basic_consume(
            jobs.as_str().into(),
            "still-running".into(),
            Default::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let _unacked = consumer.next().await.unwrap().unwrap();

    let quorum = broker.topology.clone().with_queue_type(QueueType::Quorum);
    let refused = convert(broker.connection(), &quorum).await.unwrap_err();
    assert!(
        refused.to_string().contains("stop the bot and workers"),
        "{refused}"
    );

    // The worker goes (its message returns); the next run converts it all.
    worker.close(200, "stopped".into()).await.unwrap();
    convert(broker.connection(), &quorum).await.unwrap();
    let taken = broker.take(&jobs, 1, Duration::from_secs(5)).await;
    assert_eq!(bodies(&taken), ["held-by-a-worker"]);
    assert!(is_of_type(broker.connection(), &quorum).await);
}
