//! A TCP proxy that a test can cut, to take PostgreSQL or RabbitMQ away from
//! the process under test without touching the real server other tests use.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use tokio::{
    net::{TcpListener, TcpStream},
    task::AbortHandle,
};

/// Forwards connections from `addr()` to a target while up. When cut, it
/// closes every open connection and closes new ones on arrival, which the
/// process under test sees as the server going away.
pub struct TcpProxy {
    addr: SocketAddr,
    down: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    forwarded: Arc<AtomicUsize>,
    acceptor: AbortHandle,
}

impl TcpProxy {
    /// Starts forwarding to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let down = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let forwarded = Arc::new(AtomicUsize::new(0));
        let acceptor = tokio::spawn({
            let down = down.clone();
            let connections = connections.clone();
            let forwarded = forwarded.clone();
            async move {
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    if down.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    forwarded.fetch_add(1, Ordering::SeqCst);
                    let task = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    let mut open = connections.lock().expect("lock");
                    open.retain(|t| !t.is_finished());
                    open.push(task.abort_handle());
                }
            }
        })
        .abort_handle();
        Self {
            addr,
            down,
            connections,
            forwarded,
            acceptor,
        }
    }

    /// How many connections were forwarded so far (refused ones not counted).
    pub fn forwarded(&self) -> usize {
        self.forwarded.load(Ordering::SeqCst)
    }

    /// Starts forwarding to a `host:port` parsed from a URL such as
    /// `postgres://user@127.0.0.1:5432/db`.
    pub async fn start_for_url(url: &str) -> Self {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or(rest);
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let target = tokio::net::lookup_host(hostport)
            .await
            .expect("resolvable target")
            .next()
            .expect("an address");
        Self::start(target).await
    }

    /// Where clients should connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts every connection and refuses new ones until [`Self::restore`].
    pub fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for task in self.connections.lock().expect("lock").drain(..) {
            task.abort();
        }
    }

    /// Forwards again.
    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.acceptor.abort();
    }
}
