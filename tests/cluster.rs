//! A real three-node RabbitMQ cluster (`scripts/rabbitmq-cluster`, which
//! `scripts/test` starts and names in TEST_AMQP_CLUSTER_URLS): quorum queues
//! keep every message when the node a client is connected to dies, and the
//! client carries on on the next node of `AMQP_URL`.
//!
//! One test, because it kills a node of the shared cluster.

use std::{path::Path, process::Command, time::Duration};

use lapin::{
    BasicProperties,
    options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions, QueueDeleteOptions},
};
use pagesmith::{
    domain::WorkQueue,
    queue::{Brokers, QueueType, Topology},
};

fn cluster(args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/rabbitmq-cluster");
    let status = Command::new(script)
        .args(args)
        .status()
        .expect("script runs");
    assert!(status.success(), "rabbitmq-cluster {args:?} failed");
}

#[tokio::test]
async fn quorum_queues_keep_every_message_when_the_connected_node_dies() {
    let Ok(urls) = std::env::var("TEST_AMQP_CLUSTER_URLS") else {
        assert!(
            std::env::var("PAGESMITH_REQUIRE_CLUSTER").as_deref() != Ok("1"),
            "PAGESMITH_REQUIRE_CLUSTER=1 but TEST_AMQP_CLUSTER_URLS is not set"
        );
        eprintln!(
            "SKIPPED: no RabbitMQ cluster (TEST_AMQP_CLUSTER_URLS); run through scripts/test"
        );
        return;
    };
    let brokers: Brokers = urls.parse().expect("cluster URLs");
    assert_eq!(brokers.len(), 3);
    let topology = Topology::new(format!("cluster-{}", uuid::Uuid::new_v4().simple()))
        .with_queue_type(QueueType::Quorum);
    let jobs = topology.work(WorkQueue::Jobs);

    // Connected to node 1: declare, publish 20 confirmed messages.
    let connection = brokers.connect("cluster-test").await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    topology.declare(&channel).await.unwrap();
    channel.confirm_select(Default::default()).await.unwrap();
    for n in 0..20 {
        let confirm = channel
            .basic_publish(
                "".into(),
                jobs.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                format!("job {n}").as_bytes(),
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirm.is_ack());
    }

    cluster(&["kill", "1"]);
    testkit::eventually(
        "the client sees node 1 gone",
        Duration::from_secs(15),
        || {
            let connected = connection.status().connected();
            async move { (!connected).then_some(()) }
        },
    )
    .await;

    // The next connect goes to node 2; every message is there, once. Until
    // the queue has elected a new leader (seconds), reads fail with
    // `nodedown` and close the connection: connect again and retry.
    let mut bodies = Vec::new();
    let mut last_error = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut channel = None;
    while bodies.len() < 20 && tokio::time::Instant::now() < deadline {
        if channel.is_none() {
            let connection = brokers.connect("cluster-test").await.unwrap();
            channel = Some((connection.create_channel().await.unwrap(), connection));
        }
        let (open, _) = channel.as_ref().unwrap();
        match open
            .basic_get(jobs.as_str().into(), BasicGetOptions::default())
            .await
        {
            Ok(Some(message)) => {
                message
                    .delivery
                    .acker
                    .ack(BasicAckOptions::default())
                    .await
                    .unwrap();
                bodies.push(String::from_utf8(message.delivery.data).unwrap());
            }
            Ok(None) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => {
                last_error = Some(e.to_string());
                channel = None;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let expected: Vec<String> = (0..20).map(|n| format!("job {n}")).collect();
    assert_eq!(bodies, expected, "last read error: {last_error:?}");

    // Node 1 back; the queues go.
    cluster(&["up"]);
    let connection = brokers.connect("cluster-test").await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    for queue in topology.all_queues() {
        let _ = channel
            .queue_delete(queue.into(), QueueDeleteOptions::default())
            .await;
    }
}
