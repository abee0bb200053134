//! Zero-copy sending of cached files: `sendfile(2)` in place of `writev`.
//!
//! hyper writes a response body from memory, which copies every byte into
//! the kernel; nginx hands the file to the kernel with `sendfile` and skips
//! that copy. On the 200 KB script of `scripts/bench-preview` the preview
//! was at 0.98x nginx; with `sendfile` and the head sent `MSG_MORE` (below)
//! it was at 1.05-1.09x. hyper cannot be given a file, so this works under
//! it, at the connection:
//!
//! * [`file_backed`] wraps a large file's cached bytes in an owner that
//!   records the file and offset they were read from, and registers the
//!   bytes' address range;
//! * [`SendfileStream`], the connection hyper writes to, looks up every
//!   slice it is asked to write. A slice inside a registered range is sent
//!   from the file with `sendfile`, what comes before it with `MSG_MORE`;
//!   anything else goes out with `writev`.
//!
//! Bundles are immutable (written once, then renamed into place), so the
//! file holds exactly the bytes the slice does, and a slice that is not
//! found (bytes copied by a layer, a compressed body) is simply written.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{self, IoSlice},
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll, ready},
};

use axum::serve::Listener;
use bytes::Bytes;
use rustix::net::SendFlags;
use tokio::{
    io::{AsyncRead, AsyncWrite, Interest, ReadBuf},
    net::TcpStream,
};

/// Smaller files are written from memory: copying a few KiB costs less than
/// the separate system call for the headers that `sendfile` needs.
const MIN_LEN: usize = 32 * 1024;

/// At most this many cached files keep their bundle's file open for
/// `sendfile`; the rest are written from memory.
const MAX_REGIONS: usize = 1024;

/// Address ranges of file-backed bytes, by start address.
static REGIONS: RwLock<BTreeMap<usize, Region>> = RwLock::new(BTreeMap::new());

/// Bytes sent with `sendfile`, for tests and the curious.
static SENT_FROM_FILES: AtomicU64 = AtomicU64::new(0);

struct Region {
    len: usize,
    file: Arc<File>,
    /// Where the range's first byte is in `file`.
    offset: u64,
}

/// Cached bytes that `file` holds at `offset`; unregistered when the last
/// `Bytes` pointing into them is dropped.
struct FileBacked {
    data: Box<[u8]>,
}

impl AsRef<[u8]> for FileBacked {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for FileBacked {
    fn drop(&mut self) {
        REGIONS
            .write()
            .expect("lock")
            .remove(&(self.data.as_ptr() as usize));
    }
}

/// `data`, which is exactly what `file` holds at `offset` and must stay so,
/// as `Bytes` that a [`SendfileStream`] sends from the file. Small files,
/// and files past the open-file budget, stay plain bytes.
pub fn file_backed(data: Vec<u8>, file: Arc<File>, offset: u64) -> Bytes {
    if data.len() < MIN_LEN {
        return Bytes::from(data);
    }
    let data = data.into_boxed_slice();
    let start = data.as_ptr() as usize;
    {
        let mut regions = REGIONS.write().expect("lock");
        if regions.len() >= MAX_REGIONS {
            return Bytes::from(data);
        }
        let len = data.len();
        regions.insert(start, Region { len, file, offset });
    }
    // Moving the box does not move its heap bytes, so `start` stays right.
    Bytes::from_owner(FileBacked { data })
}

/// How many bytes have gone out with `sendfile` since start-up.
pub fn bytes_sent_from_files() -> u64 {
    SENT_FROM_FILES.load(Ordering::Relaxed)
}

/// The file and offset holding `slice`, when it lies in a registered range.
fn source_of(slice: &[u8]) -> Option<(Arc<File>, u64)> {
    if slice.is_empty() {
        return None;
    }
    let at = slice.as_ptr() as usize;
    let regions = REGIONS.read().expect("lock");
    let (&start, region) = regions.range(..=at).next_back()?;
    (at + slice.len() <= start + region.len)
        .then(|| (region.file.clone(), region.offset + (at - start) as u64))
}

fn is_disconnect(error: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        error.kind(),
        BrokenPipe | ConnectionReset | ConnectionAborted | NotConnected
    )
}

/// A TCP connection that sends file-backed slices with `sendfile`.
pub struct SendfileStream {
    inner: TcpStream,
}

impl SendfileStream {
    pub fn new(inner: TcpStream) -> Self {
        Self { inner }
    }

    /// Writes `bufs` (a response's head) flagged `MSG_MORE`: the file
    /// follows at once, so the kernel holds the head back to go out in the
    /// file's first segment, as nginx's `tcp_nopush` does, not as a packet
    /// of its own (the socket is `TCP_NODELAY`).
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
            // The file ended before the range did: not the bytes we hold,
            // so let the caller write those instead.
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file is shorter than its cached bytes",
            )),
            Ok(n) => {
                SENT_FROM_FILES.fetch_add(n as u64, Ordering::Relaxed);
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
                done => return Poll::Ready(done),
            }
        }
    }
}

impl AsyncRead for SendfileStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SendfileStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    /// Writes the slices before the first file-backed one, or, when that
    /// one comes first, sends it from its file. A short count is a normal
    /// partial write: hyper calls again with what is left.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        for (i, buf) in bufs.iter().enumerate() {
            if let Some((file, offset)) = source_of(buf) {
                if i > 0 {
                    return self.poll_send_more(cx, &bufs[..i]);
                }
                return match ready!(self.poll_sendfile(cx, &file, offset, buf.len())) {
                    Ok(n) => Poll::Ready(Ok(n)),
                    // A client that went away: nothing to fall back to.
                    Err(error) if is_disconnect(&error) => Poll::Ready(Err(error)),
                    // The bytes are in memory too: should the file refuse
                    // (EIO, a file system without sendfile), write them.
                    Err(error) => {
                        tracing::warn!(%error, "sendfile failed; writing from memory");
                        Pin::new(&mut self.inner).poll_write_vectored(cx, &bufs[..1])
                    }
                };
            }
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        // hyper queues body chunks as they are (no copy into its buffer)
        // only on a connection that takes vectored writes.
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Wraps the connections a TCP listener accepts in [`SendfileStream`].
pub struct SendfileListener<L>(pub L);

impl<L> Listener for SendfileListener<L>
where
    L: Listener<Io = TcpStream, Addr = SocketAddr>,
{
    type Io = SendfileStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = self.0.accept().await;
        (SendfileStream::new(io), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A file of `len` bytes after a `skip`-byte prefix, and the bytes.
    fn file_with(skip: usize, len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let body: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&vec![b'x'; skip]).unwrap();
        file.write_all(&body).unwrap();
        (file, body)
    }

    /// The tests watch the one global registry; one at a time.
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    async fn pair() -> (SendfileStream, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        (SendfileStream::new(accepted.unwrap().0), client.unwrap())
    }

    #[tokio::test]
    async fn file_backed_slices_go_out_from_the_file_in_order_with_the_rest() {
        let _serial = SERIAL.lock().await;
        // Larger than a send buffer may grow (Linux's default
        // net.ipv4.tcp_wmem allows 4 MiB), so some writes come back short.
        let (file, body) = file_with(100, 16 * 1024 * 1024);
        let bytes = file_backed(
            body.clone(),
            Arc::new(File::open(file.path()).unwrap()),
            100,
        );
        let (mut server, mut client) = pair().await;
        let before = bytes_sent_from_files();

        // Headers, the body in two pieces (as hyper sends what is left after
        // a partial write), and a trailer, to a reader that takes its time.
        let head = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        let tail = b"--end".to_vec();
        let reader = tokio::spawn(async move {
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
        });
        let mut parts: Vec<Bytes> = vec![
            Bytes::from(head.clone()),
            bytes.slice(..1000),
            bytes.slice(1000..),
            Bytes::from(tail.clone()),
        ];
        let mut writes = 0;
        while !parts.is_empty() {
            writes += 1;
            let slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
            let mut n =
                std::future::poll_fn(|cx| Pin::new(&mut server).poll_write_vectored(cx, &slices))
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
        server.shutdown().await.unwrap();
        drop(server);

        assert!(writes > 4, "partial writes were resumed ({writes} writes)");
        let got = reader.await.unwrap();
        let mut expected = head;
        expected.extend_from_slice(&body);
        expected.extend_from_slice(&tail);
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "the bytes arrive exactly, in order");
        assert!(
            bytes_sent_from_files() - before >= body.len() as u64,
            "the body went out with sendfile"
        );
    }

    /// What a client receives when `bytes` are written to it whole.
    async fn send_through(bytes: &[u8]) -> Vec<u8> {
        let (mut server, mut client) = pair().await;
        let write = async {
            server.write_all(bytes).await.unwrap();
            server.shutdown().await.unwrap();
        };
        let mut got = Vec::new();
        let (_, read) = tokio::join!(write, client.read_to_end(&mut got));
        read.unwrap();
        got
    }

    #[tokio::test]
    async fn bytes_whose_file_refuses_sendfile_are_written_from_memory() {
        let _serial = SERIAL.lock().await;
        let dir = tempfile::tempdir().unwrap();
        let body: Vec<u8> = (0..MIN_LEN * 4).map(|i| (i % 253) as u8).collect();
        // A directory's handle: sendfile from it fails (EINVAL).
        let refusing = Arc::new(File::open(dir.path()).unwrap());
        let bytes = file_backed(body.clone(), refusing, 0);
        let before = bytes_sent_from_files();
        let got = send_through(&bytes).await;
        assert!(got == body, "every byte arrives, from memory");
        assert_eq!(bytes_sent_from_files(), before, "nothing went by sendfile");
    }

    #[tokio::test]
    async fn bytes_whose_file_is_too_short_are_written_from_memory() {
        let _serial = SERIAL.lock().await;
        let (file, body) = file_with(0, MIN_LEN * 2);
        // Registered as if they were further into the file than it goes.
        let bytes = file_backed(
            body.clone(),
            Arc::new(File::open(file.path()).unwrap()),
            (MIN_LEN * 2) as u64,
        );
        let got = send_through(&bytes).await;
        assert!(got == body, "every byte arrives, from memory");
    }

    #[test]
    fn small_files_stay_in_memory_and_dropped_bytes_are_forgotten() {
        let _serial = SERIAL.blocking_lock();
        let (file, body) = file_with(0, MIN_LEN * 2);
        let file = Arc::new(File::open(file.path()).unwrap());
        let small = file_backed(body[..MIN_LEN - 1].to_vec(), file.clone(), 0);
        assert!(source_of(&small).is_none(), "below MIN_LEN: plain bytes");

        let large = file_backed(body, file, 0);
        let (at, offset) = (large.as_ptr() as usize, 10);
        assert_eq!(
            source_of(&large[offset..]).map(|(_, o)| o),
            Some(offset as u64)
        );
        assert!(REGIONS.read().unwrap().contains_key(&at));
        drop(large);
        assert!(
            !REGIONS.read().unwrap().contains_key(&at),
            "the range is unregistered with its last Bytes"
        );
    }
}
