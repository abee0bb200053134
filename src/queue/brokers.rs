//! The RabbitMQ nodes to connect to (`AMQP_URL`, one URL or several
//! separated by commas) and which one to try first.
//!
//! A process connects to the first node that answers. When that connection
//! drops, its owner reconnects through the same [`Brokers`], which starts
//! with the node after the one that was lost, so a dead node costs one
//! refused connection, not a wait. Every node of a cluster serves every
//! queue (quorum queues replicate to the others), so any node will do.

use std::{
    fmt,
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use lapin::{Connection, ConnectionProperties};
use secrecy::{ExposeSecret, SecretString};

/// How long one node may take to accept a connection before the next is
/// tried: a node cut off by the network would otherwise hold a reconnect
/// for the operating system's TCP timeout (minutes).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The nodes of `AMQP_URL`, in order. Clones share the position.
#[derive(Clone)]
pub struct Brokers {
    urls: Arc<[SecretString]>,
    /// The node to try first on the next connect.
    next: Arc<AtomicUsize>,
}

impl Brokers {
    /// How many nodes are listed.
    pub fn len(&self) -> usize {
        self.urls.len()
    }

    /// Never true: parsing refuses an empty list.
    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// Where node `index` is (`host:port`, no credentials), for logs.
    pub fn address(&self, index: usize) -> String {
        address(self.urls[index].expose_secret())
    }

    /// Opens a connection named after the process (the broker's management
    /// views show who is connected), trying each node once, starting after
    /// the one used last. The error names every node and why it failed.
    pub async fn connect(&self, name: &str) -> Result<Connection, ConnectError> {
        let start = self.next.load(Ordering::Relaxed);
        let mut failures = Vec::new();
        for step in 0..self.urls.len() {
            let index = (start + step) % self.urls.len();
            let properties =
                ConnectionProperties::default().with_connection_name(name.to_owned().into());
            let attempt = tokio::time::timeout(
                CONNECT_TIMEOUT,
                Connection::connect(self.urls[index].expose_secret(), properties),
            )
            .await;
            match attempt {
                Ok(Ok(connection)) => {
                    // The next connect happens when this one is lost: start
                    // it at the following node.
                    self.next.store(index + 1, Ordering::Relaxed);
                    if !failures.is_empty() || self.urls.len() > 1 {
                        tracing::info!(node = %self.address(index), skipped = ?failures, "connected to RabbitMQ");
                    }
                    return Ok(connection);
                }
                Ok(Err(e)) => failures.push(format!("{}: {e}", self.address(index))),
                Err(_) => failures.push(format!(
                    "{}: no answer within {CONNECT_TIMEOUT:?}",
                    self.address(index)
                )),
            }
        }
        Err(ConnectError(failures.join("; ")))
    }
}

/// No node accepted a connection; says why for each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no RabbitMQ node accepted a connection: {0}")]
pub struct ConnectError(String);

impl FromStr for Brokers {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let mut urls = Vec::new();
        for (position, part) in raw.split(',').map(str::trim).enumerate() {
            let n = position + 1;
            if part.is_empty() {
                return Err(format!("URL {n} of the list is empty"));
            }
            let parsed =
                url::Url::parse(part).map_err(|e| format!("URL {n} is not a URL ({e})"))?;
            if !matches!(parsed.scheme(), "amqp" | "amqps") {
                return Err(format!(
                    "URL {n} has scheme `{}`; expected amqp:// or amqps://",
                    parsed.scheme()
                ));
            }
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(format!("URL {n} names no host"));
            }
            urls.push(SecretString::from(part.to_owned()));
        }
        Ok(Self {
            urls: urls.into(),
            next: Arc::default(),
        })
    }
}

/// The list without credentials.
impl fmt::Debug for Brokers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nodes: Vec<String> = (0..self.len()).map(|i| self.address(i)).collect();
        f.debug_tuple("Brokers").field(&nodes).finish()
    }
}

fn address(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}:{}",
            u.host_str().unwrap_or("?"),
            u.port().unwrap_or(match u.scheme() {
                "amqps" => 5671,
                _ => 5672,
            })
        ),
        Err(_) => "?".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_split_trimmed_and_shown_without_credentials() {
        let brokers: Brokers = "amqp://u:secret@a:5701/%2f, amqps://u:secret@b/vh ,amqp://c"
            .parse()
            .unwrap();
        assert_eq!(brokers.len(), 3);
        let shown = format!("{brokers:?}");
        assert_eq!(shown, r#"Brokers(["a:5701", "b:5671", "c:5672"])"#);
        assert!(!shown.contains("secret"));
    }

    #[test]
    fn bad_lists_are_refused_with_the_position() {
        let err = |raw: &str| raw.parse::<Brokers>().unwrap_err();
        assert_eq!(err("amqp://a,,amqp://b"), "URL 2 of the list is empty");
        assert_eq!(
            err("amqp://a,http://b"),
            "URL 2 has scheme `http`; expected amqp:// or amqps://"
        );
        assert!(
            err("nonsense").starts_with("URL 1 is not a URL"),
            "{}",
            err("nonsense")
        );
        assert!(err("amqp://a,").contains("URL 2"));
    }

    #[tokio::test]
    async fn when_no_node_answers_the_error_names_each_one() {
        // Nothing listens on port 1. (Skipping a refused node for a live one
        // is tested against RabbitMQ in tests/queues.rs.)
        let brokers: Brokers = "amqp://127.0.0.1:1/%2f,amqp://127.0.0.1:1/%2f"
            .parse()
            .unwrap();
        let err = brokers.connect("test").await.unwrap_err().to_string();
        assert_eq!(err.matches("127.0.0.1:1: ").count(), 2, "{err}");
    }
}
