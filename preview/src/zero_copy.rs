//! Large cached files go out with `sendfile(2)`, as nginx sends them,
//! instead of being copied from memory into the socket.
//!
//! hyper writes a body from memory, so every byte of a 200 KB script is
//! copied into the kernel; under `scripts/bench-preview` that copy was a
//! third of the preview's CPU on such a file. hyper takes no file, so the
//! route and the connection arrange it between them, with public APIs
//! only (axum's `Listener` and `ConnectInfo`, tokio's `AsyncWrite`):
//!
//! * every accepted connection is a [`ZeroCopyStream`] with an [`Outbox`]
//!   of its own, which the requests on it reach as [`Connection`];
//! * a route answering with a large cached file offers the very `Bytes` it
//!   answers with, and the file and offset they were read from
//!   ([`SendfileOffer`], [`FileSource`]); the preview's `finish`
//!   middleware, outside the compression layer, [`hand_over`]s the offer to
//!   the connection if the body was not compressed meanwhile;
//! * the stream sends a slice that lies inside an offered body from the
//!   file, the slices before it flagged `MSG_MORE` so the head leaves in the
//!   file's first segment (nginx's `tcp_nopush`).
//!
//! What goes out never depends on how hyper handles buffers. An offer holds
//! its `Bytes`, so while it is in the outbox no other buffer can sit at its
//! addresses, and the file holds the same bytes at that offset (bundles are
//! immutable, written once and renamed into place). A slice that is not
//! inside an offer (a copy, a compressed body, a head) is written as it is.
//! What does depend on hyper is the saving: it needs hyper to hand the
//! body's own buffer to the socket, which hyper does on connections that
//! take vectored writes (`http1::Builder::writev`: flattening "may mean more
//! copies of body data"). `preview/tests/api/serving.rs` checks that large
//! files do go out with `sendfile`, so an upgrade that stopped it would fail
//! there, not quietly slow down.

use std::{
    fs::File,
    io::{self, IoSlice},
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, LazyLock, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll, ready},
};

use axum::{
    extract::{ConnectInfo, connect_info::Connected},
    http::{Method, Response, Version, header, request::Parts},
    serve::{IncomingStream, Listener},
};
use bytes::Bytes;
use rustix::net::SendFlags;
use tokio::{
    io::{AsyncRead, AsyncWrite, Interest, ReadBuf},
    net::TcpStream,
};

/// Smaller files are written from memory: copying a few KiB costs less
/// than the separate system call for the head that `sendfile` needs.
pub const MIN_LEN: usize = 32 * 1024;

/// At most this many cached files keep their bundle file open (fewer
/// under a low descriptor limit: [`open_file_budget`]); the rest are
/// written from memory. An open file also keeps the disk space of a local
/// bundle copy evicted meanwhile, until its cache entry goes.
const MAX_OPEN_FILES: usize = 512;

/// How many files may stay open: [`MAX_OPEN_FILES`], or a quarter of the
/// process's descriptor limit if that is less (1,024 is a common default),
/// so that connections never run short of descriptors because of them.
fn open_file_budget() -> usize {
    static BUDGET: LazyLock<usize> = LazyLock::new(|| {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
        limit.map_or(MAX_OPEN_FILES, |limit| {
            MAX_OPEN_FILES.min(usize::try_from(limit / 4).unwrap_or(usize::MAX))
        })
    });
    *BUDGET
}

/// Offers a connection keeps. Only HTTP/1 connections get offers, and an
/// offer is made as its response is about to be written, so more than one
/// waits only with pipelined requests (hyper may read the next request
/// while the previous body is still queued). Past the cap, the oldest is
/// dropped, and its body, if still to be written, goes out from memory.
const MAX_OFFERS: usize = 4;

/// Files open for `sendfile`, in the whole process: descriptors are the
/// process's.
static OPEN_FILES: AtomicUsize = AtomicUsize::new(0);

/// What one server's connections did: for `/metrics` and for tests.
#[derive(Default)]
pub struct Stats {
    sent_from_files: AtomicU64,
    offers_waiting: AtomicUsize,
}

impl Stats {
    /// How many bytes have gone out with `sendfile` since start-up.
    pub fn bytes_sent_from_files(&self) -> u64 {
        self.sent_from_files.load(Ordering::Relaxed)
    }

    /// How many offered bodies wait in connections' outboxes: none once
    /// every response has gone out.
    pub fn offers_waiting(&self) -> usize {
        self.offers_waiting.load(Ordering::Relaxed)
    }
}

/// Where a cached file's bytes are on disk: the open bundle file and the
/// offset of their first byte.
#[derive(Clone)]
pub struct FileSource {
    file: Arc<OpenFile>,
    offset: u64,
}

/// An open file, counted against [`open_file_budget`] while it is open.
struct OpenFile(File);

impl Drop for OpenFile {
    fn drop(&mut self) {
        OPEN_FILES.fetch_sub(1, Ordering::Relaxed);
    }
}

impl FileSource {
    /// `file` at `offset` as the source of `len` cached bytes, when they
    /// are worth sending from it and the open-file budget allows.
    pub fn new(file: File, offset: u64, len: usize) -> Option<Self> {
        if len < MIN_LEN {
            return None;
        }
        if OPEN_FILES.fetch_add(1, Ordering::Relaxed) >= open_file_budget() {
            OPEN_FILES.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(Self {
            file: Arc::new(OpenFile(file)),
            offset,
        })
    }
}

/// A body offered for `sendfile`: the bytes (held, so their addresses stay
/// theirs) and where the same bytes are on disk.
struct Offer {
    bytes: Bytes,
    source: FileSource,
}

impl Offer {
    fn range(&self) -> (usize, usize) {
        let start = self.bytes.as_ptr() as usize;
        (start, start + self.bytes.len())
    }
}

/// One connection's offered bodies, oldest first.
pub struct Outbox {
    offers: Mutex<Vec<Offer>>,
    /// Whether `offers` has any, read without the lock on every write.
    any: AtomicBool,
    stats: Arc<Stats>,
}

impl Outbox {
    fn new(stats: Arc<Stats>) -> Self {
        Self {
            offers: Mutex::default(),
            any: AtomicBool::new(false),
            stats,
        }
    }

    fn offer(&self, bytes: Bytes, source: FileSource) {
        let mut offers = self.offers.lock().expect("outbox lock");
        if offers.len() == MAX_OFFERS {
            offers.remove(0);
            self.stats.offers_waiting.fetch_sub(1, Ordering::Relaxed);
        }
        offers.push(Offer { bytes, source });
        self.stats.offers_waiting.fetch_add(1, Ordering::Relaxed);
        self.any.store(true, Ordering::Release);
    }

    fn any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// The file and offset holding `slice`, when it lies inside an offer
    /// and is long enough to be worth a `sendfile`.
    fn source_of(&self, slice: &[u8]) -> Option<(Arc<OpenFile>, u64)> {
        if slice.len() < MIN_LEN {
            return None;
        }
        let (start, end) = (
            slice.as_ptr() as usize,
            slice.as_ptr() as usize + slice.len(),
        );
        let offers = self.offers.lock().expect("outbox lock");
        offers.iter().find_map(|offer| {
            let (from, to) = offer.range();
            (from <= start && end <= to).then(|| {
                let offset = offer.source.offset + (start - from) as u64;
                (offer.source.file.clone(), offset)
            })
        })
    }

    /// After `n` bytes of `bufs` went out, however they went: forgets an
    /// offer for each slice whose written part ended where an offer ends.
    fn written(&self, bufs: &[IoSlice<'_>], mut n: usize) {
        for buf in bufs {
            if n == 0 {
                break;
            }
            let taken = n.min(buf.len());
            let end = buf.as_ptr() as usize + taken;
            self.forget(|(_, to)| to == end);
            n -= taken;
        }
    }

    /// Forgets the offer holding the address `at`: its file failed, so the
    /// rest of it is written from memory.
    fn withdraw(&self, at: usize) {
        self.forget(|(from, to)| from <= at && at < to);
    }

    /// Forgets the first offer `which` picks: with a pipeline, the same
    /// cached bytes may be offered twice, and each response sends one.
    fn forget(&self, which: impl Fn((usize, usize)) -> bool) {
        let mut offers = self.offers.lock().expect("outbox lock");
        if let Some(found) = offers.iter().position(|offer| which(offer.range())) {
            offers.remove(found);
            self.stats.offers_waiting.fetch_sub(1, Ordering::Relaxed);
        }
        self.any.store(!offers.is_empty(), Ordering::Release);
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let left = self.offers.get_mut().map_or(0, |offers| offers.len());
        self.stats.offers_waiting.fetch_sub(left, Ordering::Relaxed);
    }
}

/// What a request knows of its connection (axum's `ConnectInfo`): where to
/// offer a body for `sendfile`.
#[derive(Clone)]
pub struct Connection(Arc<Outbox>);

impl<L> Connected<IncomingStream<'_, ZeroCopyListener<L>>> for Connection
where
    L: Listener<Io = TcpStream, Addr = SocketAddr>,
{
    fn connect_info(stream: IncomingStream<'_, ZeroCopyListener<L>>) -> Self {
        Self(stream.io().outbox.clone())
    }
}

/// A response body its connection may send from a file. The route puts it
/// on the response; [`hand_over`] gives it to the connection once the
/// response is final, because a layer may still compress the body.
#[derive(Clone)]
pub struct SendfileOffer {
    connection: Connection,
    bytes: Bytes,
    source: FileSource,
}

impl SendfileOffer {
    /// The offer for answering `request` with `bytes`, which `source`
    /// holds: for a GET over HTTP/1 on a [`ZeroCopyStream`]. (HTTP/2 cuts a
    /// body into frames of its own, 16 KiB by default, and HEAD sends none.)
    pub fn new(request: &Parts, bytes: &Bytes, source: FileSource) -> Option<Self> {
        let http1 = matches!(request.version, Version::HTTP_10 | Version::HTTP_11);
        if !http1 || request.method != Method::GET {
            return None;
        }
        let ConnectInfo(connection) = request.extensions.get::<ConnectInfo<Connection>>()?;
        Some(Self {
            connection: connection.clone(),
            bytes: bytes.clone(),
            source,
        })
    }
}

/// Gives `response`'s [`SendfileOffer`], if it has one, to its connection,
/// unless the body was compressed on the way and is no longer the bytes.
pub fn hand_over<B>(response: &mut Response<B>) {
    let Some(offer) = response.extensions_mut().remove::<SendfileOffer>() else {
        return;
    };
    if !response.headers().contains_key(header::CONTENT_ENCODING) {
        offer.connection.0.offer(offer.bytes, offer.source);
    }
}

/// Accepts the TCP connections of `L` as [`ZeroCopyStream`]s.
pub struct ZeroCopyListener<L> {
    listener: L,
    stats: Arc<Stats>,
}

impl<L> ZeroCopyListener<L> {
    /// Connections from `listener`, counting into `stats`.
    pub fn new(listener: L, stats: Arc<Stats>) -> Self {
        Self { listener, stats }
    }
}

impl<L> Listener for ZeroCopyListener<L>
where
    L: Listener<Io = TcpStream, Addr = SocketAddr>,
{
    type Io = ZeroCopyStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (tcp, addr) = self.listener.accept().await;
        (ZeroCopyStream::new(tcp, self.stats.clone()), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// A TCP connection that sends offered bodies with `sendfile`.
pub struct ZeroCopyStream {
    inner: TcpStream,
    outbox: Arc<Outbox>,
}

impl ZeroCopyStream {
    pub fn new(inner: TcpStream, stats: Arc<Stats>) -> Self {
        Self {
            inner,
            outbox: Arc::new(Outbox::new(stats)),
        }
    }

    /// Writes `bufs` (what comes before an offered body, its head) flagged
    /// `MSG_MORE`: the body follows at once, so the kernel holds the head
    /// back to leave in the body's first segment, not as a packet of its
    /// own (the socket is `TCP_NODELAY`).
    fn poll_send_more(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let flags = SendFlags::MORE | SendFlags::NOSIGNAL;
        self.poll_nonblocking(cx, |socket| {
            rustix::net::sendmsg(socket, bufs, &mut Default::default(), flags)
        })
    }

    /// Sends `len` bytes of `file` from `offset`. The kernel reads them
    /// through the page cache: a page evicted since the bytes were cached
    /// (under memory pressure) is read from disk on this thread, as
    /// nginx's workers read without aio threads.
    fn poll_sendfile(
        &self,
        cx: &mut Context<'_>,
        file: &File,
        offset: u64,
        len: usize,
    ) -> Poll<io::Result<usize>> {
        let sent = ready!(self.poll_nonblocking(cx, |socket| {
            rustix::fs::sendfile(socket, file, Some(&mut { offset }), len)
        }));
        Poll::Ready(match sent {
            // The file ended before the body did: not the bytes we hold,
            // so the caller writes those instead.
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file is shorter than its cached bytes",
            )),
            Ok(n) => {
                let stats = &self.outbox.stats;
                stats.sent_from_files.fetch_add(n as u64, Ordering::Relaxed);
                Ok(n)
            }
            Err(e) => Err(e),
        })
    }

    /// Runs the non-blocking `send` once the socket is writable, waiting
    /// again when the readiness turns out stale.
    fn poll_nonblocking(
        &self,
        cx: &mut Context<'_>,
        mut send: impl FnMut(&TcpStream) -> rustix::io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.inner.poll_write_ready(cx))?;
            match self.inner.try_io(Interest::WRITABLE, || {
                send(&self.inner).map_err(io::Error::from)
            }) {
                // `try_io` cleared the readiness; wait for it again.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                done => return Poll::Ready(done),
            }
        }
    }
}

fn is_disconnect(error: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        error.kind(),
        BrokenPipe | ConnectionReset | ConnectionAborted | NotConnected
    )
}

impl AsyncRead for ZeroCopyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ZeroCopyStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    /// Writes the slices before the first offered one, or, when that one
    /// comes first, sends it from its file. A short count is a normal
    /// partial write: hyper calls again with what is left.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if !self.outbox.any() {
            return Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        }
        let offered = bufs
            .iter()
            .enumerate()
            .find_map(|(i, buf)| Some((i, self.outbox.source_of(buf)?)));
        let written = match offered {
            None => ready!(Pin::new(&mut self.inner).poll_write_vectored(cx, bufs))?,
            Some((i, _)) if bufs[..i].iter().any(|buf| !buf.is_empty()) => {
                ready!(self.poll_send_more(cx, &bufs[..i]))?
            }
            Some((i, (file, offset))) => {
                let buf = &bufs[i];
                match ready!(self.poll_sendfile(cx, &file.0, offset, buf.len())) {
                    Ok(n) => n,
                    // A client that went away: nothing to fall back to.
                    Err(error) if is_disconnect(&error) => return Poll::Ready(Err(error)),
                    // The bytes are in memory too: should the file refuse
                    // (EIO, a file system without sendfile, a file cut
                    // short), write them, and the rest of the body after.
                    Err(error) => {
                        tracing::warn!(%error, "sendfile failed; writing from memory");
                        self.outbox.withdraw(buf.as_ptr() as usize);
                        ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?
                    }
                }
            }
        };
        // Also when the end of an offer went out from memory (a tail too
        // short for `sendfile`).
        self.outbox.written(bufs, written);
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        // hyper queues body chunks as they are (no copy into its own
        // buffer) only on a connection that takes vectored writes.
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };

    use super::*;

    /// A file of `len` bytes after a `skip`-byte prefix, and the bytes.
    fn file_with(skip: usize, len: usize) -> (tempfile::NamedTempFile, Bytes) {
        let body: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&vec![b'x'; skip]).unwrap();
        file.write_all(&body).unwrap();
        (file, Bytes::from(body))
    }

    fn source(file: &tempfile::NamedTempFile, offset: u64, len: usize) -> FileSource {
        FileSource::new(File::open(file.path()).unwrap(), offset, len).unwrap()
    }

    /// The open-file budget is the process's: the tests, which all open
    /// files, run one at a time.
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    async fn pair() -> (ZeroCopyStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        let stats = Arc::default();
        (
            ZeroCopyStream::new(accepted.unwrap().0, stats),
            client.unwrap(),
        )
    }

    /// Writes `parts` through `server` as hyper does: every write gets
    /// what is left, starting inside a part after a short write. Returns
    /// how many writes it took.
    async fn write_like_hyper(server: &mut ZeroCopyStream, mut parts: Vec<Bytes>) -> usize {
        let mut writes = 0;
        while !parts.is_empty() {
            writes += 1;
            let slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
            let mut n =
                std::future::poll_fn(|cx| Pin::new(&mut *server).poll_write_vectored(cx, &slices))
                    .await
                    .unwrap();
            assert!(n > 0, "progress on every write");
            while n > 0 {
                let take = n.min(parts[0].len());
                let _ = parts[0].split_to(take);
                n -= take;
                if parts[0].is_empty() {
                    parts.remove(0);
                }
            }
        }
        writes
    }

    /// Everything the client receives until the server closes.
    fn read_all(mut client: TcpStream) -> tokio::task::JoinHandle<Vec<u8>> {
        tokio::spawn(async move {
            let mut got = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                let n = client.read(&mut chunk).await.unwrap();
                if n == 0 {
                    return got;
                }
                got.extend_from_slice(&chunk[..n]);
                tokio::task::yield_now().await;
            }
        })
    }

    #[tokio::test]
    async fn an_offered_body_goes_out_from_its_file_in_order_with_the_rest() {
        let _serial = SERIAL.lock().await;
        // Larger than a send buffer may grow (Linux's default
        // net.ipv4.tcp_wmem allows 4 MiB), so some writes come back short.
        let (file, body) = file_with(100, 16 * 1024 * 1024);
        let (mut server, client) = pair().await;
        server
            .outbox
            .offer(body.clone(), source(&file, 100, body.len()));
        let stats = server.outbox.stats.clone();

        // A head, the body in two pieces (as hyper sends what is left after
        // a partial write), and a tail, to a reader that takes its time.
        let reader = read_all(client);
        let head = Bytes::from_static(b"HTTP/1.1 200 OK\r\n\r\n");
        let tail = Bytes::from_static(b"--end");
        let parts = vec![
            head.clone(),
            body.slice(..MIN_LEN),
            body.slice(MIN_LEN..),
            tail.clone(),
        ];
        let writes = write_like_hyper(&mut server, parts).await;
        server.shutdown().await.unwrap();
        drop(server);

        assert!(writes > 4, "partial writes were resumed ({writes} writes)");
        let got = reader.await.unwrap();
        let expected = [&head[..], &body[..], &tail[..]].concat();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "the bytes arrive exactly, in order");
        // All of the body but, at most, a tail that a short write left too
        // short for `sendfile`; and none of the rest.
        let sent = stats.bytes_sent_from_files();
        assert!(
            sent > (body.len() - MIN_LEN) as u64 && sent <= body.len() as u64,
            "the body, and only the body, went out with sendfile ({sent} bytes)"
        );
    }

    #[tokio::test]
    async fn an_offer_ending_in_a_short_tail_is_forgotten_and_the_connection_stays_usable() {
        let _serial = SERIAL.lock().await;
        let (file, body) = file_with(0, MIN_LEN * 3);
        let (mut server, mut client) = pair().await;
        server
            .outbox
            .offer(body.clone(), source(&file, 0, body.len()));
        // The last 100 bytes come as a slice of their own, as after a short
        // write: too short for `sendfile`, so written from memory.
        let cut = body.len() - 100;
        let head = Bytes::from_static(b"HTTP/1.1 200 OK\r\n\r\n");
        let parts = vec![head.clone(), body.slice(..cut), body.slice(cut..)];
        let expected = [&head[..], &body[..]].concat();
        let (_, got) = tokio::join!(write_like_hyper(&mut server, parts), async {
            let mut got = vec![0; expected.len()];
            // No close: a head held back by `MSG_MORE` would stall this.
            tokio::time::timeout(
                std::time::Duration::from_secs(10),
                client.read_exact(&mut got),
            )
            .await
            .expect("the whole response arrives on the open connection")
            .unwrap();
            got
        });
        assert!(got == expected, "the bytes arrive exactly");
        assert!(!server.outbox.any(), "the offer is forgotten");
        assert!(server.outbox.offers.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn bytes_not_offered_on_this_connection_are_written_from_memory() {
        let _serial = SERIAL.lock().await;
        let (file, body) = file_with(0, MIN_LEN * 4);
        // Offered on another connection, and a copy offered on this one:
        // neither is the buffer this connection is asked to write.
        let (mut server, client) = pair().await;
        let (other, _other_client) = pair().await;
        other
            .outbox
            .offer(body.clone(), source(&file, 0, body.len()));
        let copy = Bytes::copy_from_slice(&body);
        server.outbox.offer(copy, source(&file, 0, body.len()));
        let stats = server.outbox.stats.clone();

        let reader = read_all(client);
        write_like_hyper(&mut server, vec![body.clone()]).await;
        server.shutdown().await.unwrap();
        drop(server);
        assert!(reader.await.unwrap() == body, "every byte arrives");
        assert_eq!(stats.bytes_sent_from_files(), 0, "nothing went by sendfile");
    }

    /// What a client receives when `bytes`, offered with `source`, are
    /// written to it whole, and what the server counted.
    async fn send_offered(bytes: &Bytes, source: FileSource) -> (Vec<u8>, Arc<Stats>) {
        let (mut server, client) = pair().await;
        let stats = server.outbox.stats.clone();
        server.outbox.offer(bytes.clone(), source);
        let reader = read_all(client);
        write_like_hyper(&mut server, vec![bytes.clone()]).await;
        server.shutdown().await.unwrap();
        drop(server);
        (reader.await.unwrap(), stats)
    }

    #[tokio::test]
    async fn bytes_whose_file_refuses_sendfile_are_written_from_memory() {
        let _serial = SERIAL.lock().await;
        let dir = tempfile::tempdir().unwrap();
        let (_, body) = file_with(0, MIN_LEN * 4);
        // A directory's handle: sendfile from it fails (EINVAL).
        let refusing = FileSource::new(File::open(dir.path()).unwrap(), 0, body.len()).unwrap();
        let (got, stats) = send_offered(&body, refusing).await;
        assert!(got == body, "every byte arrives, from memory");
        assert_eq!(stats.bytes_sent_from_files(), 0, "nothing went by sendfile");
        assert_eq!(stats.offers_waiting(), 0, "the offer was withdrawn");
    }

    #[tokio::test]
    async fn bytes_whose_file_ends_early_are_finished_from_memory() {
        let _serial = SERIAL.lock().await;
        // The file holds the first half of the body only.
        let (file, body) = file_with(0, MIN_LEN * 4);
        std::fs::OpenOptions::new()
            .write(true)
            .open(file.path())
            .unwrap()
            .set_len((MIN_LEN * 2) as u64)
            .unwrap();
        let (got, stats) = send_offered(&body, source(&file, 0, body.len())).await;
        assert!(got == body, "every byte arrives, the rest from memory");
        assert_eq!(
            stats.bytes_sent_from_files(),
            (MIN_LEN * 2) as u64,
            "what the file holds went by sendfile"
        );
    }

    #[test]
    fn slices_are_found_inside_offers_only_and_sent_offers_are_forgotten() {
        let _serial = SERIAL.blocking_lock();
        let (file, body) = file_with(0, MIN_LEN * 4);
        let outbox = Outbox::new(Arc::default());
        let offset_of = |slice: &[u8]| outbox.source_of(slice).map(|(_, offset)| offset);
        assert_eq!(offset_of(&body), None, "nothing offered yet");

        outbox.offer(body.clone(), source(&file, 10, body.len()));
        assert_eq!(offset_of(&body), Some(10));
        assert_eq!(offset_of(&body[MIN_LEN..]), Some(10 + MIN_LEN as u64));
        assert_eq!(
            offset_of(&body[..MIN_LEN - 1]),
            None,
            "too short to be worth a sendfile"
        );
        let longer = [&body[..], b"x"].concat();
        assert_eq!(offset_of(&longer), None, "a copy is not the offer");

        // Writing up to the offer's end forgets it; writing part does not.
        let head = b"HTTP/1.1 200 OK\r\n\r\n";
        outbox.written(
            &[IoSlice::new(head), IoSlice::new(&body)],
            head.len() + MIN_LEN,
        );
        assert_eq!(offset_of(&body), Some(10));
        outbox.written(&[IoSlice::new(&body[MIN_LEN..])], body.len() - MIN_LEN);
        assert_eq!(offset_of(&body), None, "sent, so forgotten");
    }

    #[test]
    fn offers_are_made_for_http1_gets_on_a_zero_copy_connection_only() {
        let _serial = SERIAL.blocking_lock();
        let (file, body) = file_with(0, MIN_LEN);
        let connection = Connection(Arc::new(Outbox::new(Arc::default())));
        let offer_for = |method: Method, version: Version, on_connection: bool| {
            let mut request = axum::http::Request::builder()
                .method(method)
                .version(version)
                .body(())
                .unwrap();
            if on_connection {
                request
                    .extensions_mut()
                    .insert(ConnectInfo(connection.clone()));
            }
            let source = source(&file, 0, body.len());
            SendfileOffer::new(&request.into_parts().0, &body, source).is_some()
        };
        assert!(offer_for(Method::GET, Version::HTTP_11, true));
        assert!(offer_for(Method::GET, Version::HTTP_10, true));
        assert!(!offer_for(Method::GET, Version::HTTP_2, true), "HTTP/2");
        assert!(!offer_for(Method::HEAD, Version::HTTP_11, true), "HEAD");
        assert!(
            !offer_for(Method::GET, Version::HTTP_11, false),
            "no connection"
        );
    }

    #[test]
    fn a_connection_keeps_its_latest_offers_only() {
        let _serial = SERIAL.blocking_lock();
        let (file, body) = file_with(0, MIN_LEN);
        let stats = Arc::new(Stats::default());
        let outbox = Outbox::new(stats.clone());
        let bodies: Vec<Bytes> = (0..=MAX_OFFERS)
            .map(|_| Bytes::copy_from_slice(&body))
            .collect();
        for bytes in &bodies {
            outbox.offer(bytes.clone(), source(&file, 0, bytes.len()));
        }
        assert!(outbox.source_of(&bodies[0]).is_none(), "the oldest went");
        assert!(bodies[1..].iter().all(|b| outbox.source_of(b).is_some()));
        assert_eq!(stats.offers_waiting(), MAX_OFFERS);
        drop(outbox);
        assert_eq!(stats.offers_waiting(), 0, "gone with the connection");
    }

    #[test]
    fn small_files_and_files_past_the_budget_get_no_source() {
        let _serial = SERIAL.blocking_lock();
        let (file, _) = file_with(0, MIN_LEN);
        let open = || File::open(file.path()).unwrap();
        assert!(FileSource::new(open(), 0, MIN_LEN - 1).is_none());
        let held: Vec<FileSource> = std::iter::from_fn(|| FileSource::new(open(), 0, MIN_LEN))
            .take(MAX_OPEN_FILES + 1)
            .collect();
        assert_eq!(held.len(), open_file_budget(), "the budget holds");
        assert!(open_file_budget() <= MAX_OPEN_FILES);
        let count = held.len();
        drop(held);
        assert!(
            FileSource::new(open(), 0, MIN_LEN).is_some(),
            "closing them gives the budget back ({count} were open)"
        );
    }
}
