//! An isolated set of RabbitMQ queues per test: the real topology under a
//! unique prefix, deleted when the test ends.

use std::time::Duration;

use lapin::{
    Connection, ConnectionProperties,
    options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions, QueueDeleteOptions},
    types::FieldTable,
};
use pagesmith::queue::{QueueType, Topology};

/// A message taken off a queue by a test.
#[derive(Debug, Clone)]
pub struct TakenMessage {
    pub body: Vec<u8>,
    pub properties: lapin::BasicProperties,
}

impl TakenMessage {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("message body is JSON")
    }
}

/// Queues for one test.
pub struct TestBroker {
    /// The broker URL (direct, not proxied).
    pub url: String,
    pub topology: Topology,
    connection: Connection,
}

fn broker_url() -> String {
    std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

impl TestBroker {
    /// Declares the full topology under a fresh prefix.
    pub async fn new() -> Self {
        Self::with_queue_type(QueueType::Classic).await
    }

    /// [`Self::new`] with queues of `queue_type`.
    pub async fn with_queue_type(queue_type: QueueType) -> Self {
        Self::on(&broker_url(), queue_type).await
    }

    /// [`Self::with_queue_type`] on the broker (or cluster node) at `url`.
    pub async fn on(url: &str, queue_type: QueueType) -> Self {
        let url = url.to_owned();
        let connection = Connection::connect(&url, ConnectionProperties::default())
            .await
            .expect("RabbitMQ is reachable at TEST_AMQP_URL (run the tests through scripts/test)");
        let topology = Topology::new(format!("test-{}", uuid::Uuid::new_v4().simple()))
            .with_queue_type(queue_type);
        let channel = connection.create_channel().await.expect("channel");
        topology.declare(&channel).await.expect("topology declared");
        Self {
            url,
            topology,
            connection,
        }
    }

    /// The broker URL with host and port replaced, to route through a proxy.
    pub fn url_via(&self, addr: std::net::SocketAddr) -> String {
        crate::with_address(&self.url, addr)
    }

    /// The connection the queues were declared on.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Messages ready in `queue`.
    pub async fn ready(&self, queue: &str) -> u32 {
        let channel = self.connection.create_channel().await.expect("channel");
        let declared = channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("queue exists");
        declared.message_count()
    }

    /// Takes (and acks) every message from `queue` until `expected` arrived
    /// or `timeout` passed, then keeps reading briefly to catch extras, so a
    /// test can assert on the exact count.
    pub async fn take(&self, queue: &str, expected: usize, timeout: Duration) -> Vec<TakenMessage> {
        let channel = self.connection.create_channel().await.expect("channel");
        let mut taken = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut quiet_since: Option<tokio::time::Instant> = None;
        loop {
            let got = channel
                .basic_get(queue.into(), BasicGetOptions::default())
                .await
                .expect("basic.get");
            match got {
                Some(message) => {
                    quiet_since = None;
                    message
                        .delivery
                        .acker
                        .ack(BasicAckOptions::default())
                        .await
                        .expect("ack");
                    taken.push(TakenMessage {
                        body: message.delivery.data.clone(),
                        properties: message.delivery.properties.clone(),
                    });
                }
                None => {
                    let now = tokio::time::Instant::now();
                    if taken.len() >= expected {
                        let since = *quiet_since.get_or_insert(now);
                        if now - since > Duration::from_millis(300) {
                            return taken;
                        }
                    }
                    if now >= deadline {
                        return taken;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let url = self.url.clone();
        let queues: Vec<String> = self
            .topology
            .all_queues()
            .into_iter()
            .flat_map(|q| [format!("{q}.converting"), q])
            .collect();
        crate::block_on_detached(async move {
            let Ok(conn) = Connection::connect(&url, ConnectionProperties::default()).await else {
                return;
            };
            if let Ok(channel) = conn.create_channel().await {
                for queue in queues {
                    let _ = channel
                        .queue_delete(queue.into(), QueueDeleteOptions::default())
                        .await;
                }
            }
            let _ = conn.close(200, "test done".into()).await;
        });
    }
}
