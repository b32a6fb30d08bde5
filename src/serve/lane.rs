//! The zero-copy lane: static GETs (the media above all, which podcast apps download whole
//! and BitTorrent clients read as a web seed) answered by our own small HTTP/1.1 loop, so
//! that a large file's bytes go from the page cache to the socket with `sendfile(2)`, as
//! nginx sends them, rather than being read into a buffer first: hyper writes only bytes it
//! holds, which costs a whole-file download a third more copying.
//!
//! Each connection starts here. A request head is read (bounded, with the header timeout)
//! and parsed with `httparse`; a plain HTTP/1.1 GET of a static file (none of the routes;
//! no body, no upgrade, no `Expect`) is answered by the same code as hyper's (the static
//! files, then CORS, the download counter and the access log, see `http::Observed`). A body
//! of 64 KiB or more from a file on disk is sent by `sendfile` on the blocking pool (it
//! may wait for the disk) while the response's body yields chunks of zeros of the same
//! lengths, which the counters count as they would count the real ones; other bodies are
//! written with the head in one write. Keep-alive and pipelined requests go round again.
//! Anything else (a route, another method, HTTP/1.0, a malformed or oversized head) hands
//! the connection, with every byte read so far, to hyper for the rest of its life, which
//! answers it as before, errors included. Not on Linux: everything goes to hyper.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Response, Uri, Version};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::State;

/// How a connection left the lane.
pub(super) enum Outcome {
    /// Closed: the client hung up, asked to close, timed out, or the server is stopping.
    Closed,
    /// For hyper, with the bytes read from the connection and not yet answered.
    HandOver(Vec<u8>),
}

/// Headers a request in the lane may have (more: hyper answers it).
const MAX_HEADERS: usize = 64;

/// Serves `stream`'s requests while they are static GETs.
#[cfg(target_os = "linux")]
pub(super) async fn serve(
    stream: &mut TcpStream,
    state: &Arc<State>,
    peer: std::net::SocketAddr,
    stop: &mut watch::Receiver<bool>,
    limits: Limits,
) -> Outcome {
    use tokio::io::AsyncReadExt;
    use tokio::time::Instant;

    let mut buf: Vec<u8> = Vec::with_capacity(2048);
    loop {
        // The whole head must arrive within the header timeout of its first byte (a client
        // sending a byte at a time holds no slot); an idle keep-alive connection waits for
        // that first byte as long as any idle connection.
        let mut deadline = (!buf.is_empty()).then(|| Instant::now() + limits.header_timeout);
        // A whole head in `buf`, parsed; or why not.
        let head = loop {
            match parse(&buf) {
                Parsed::Head(head) => break head,
                Parsed::Other => return Outcome::HandOver(buf),
                Parsed::Partial if buf.len() >= limits.max_head => return Outcome::HandOver(buf),
                Parsed::Partial => {}
            }
            let mut chunk = [0u8; 4096];
            let until = deadline.unwrap_or_else(|| Instant::now() + limits.idle_timeout);
            let read = tokio::select! {
                r = tokio::time::timeout_at(until, stream.read(&mut chunk)) => r,
                () = super::http::stopping(stop), if buf.is_empty() => return Outcome::Closed,
            };
            match read {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Outcome::Closed,
                Ok(Ok(n)) => {
                    buf.extend_from_slice(&chunk[..n]);
                    deadline.get_or_insert_with(|| Instant::now() + limits.header_timeout);
                }
            }
        };
        buf.drain(..head.len);
        let close = head.close || *stop.borrow();
        let seen = super::http::Observed::new(
            state,
            peer,
            &Method::GET,
            &head.uri,
            Version::HTTP_11,
            &head.headers,
        );
        let response = state
            .files
            .respond_zero_copy(
                &Method::GET,
                head.uri.path(),
                &head.headers,
                state.http_counter(),
            )
            .await;
        let response = seen.finish(state, response);
        if let Err(e) = write::response(stream, response, close, limits.idle_timeout).await {
            tracing::debug!("http: {peer}: {e}");
            return Outcome::Closed;
        }
        if close {
            return Outcome::Closed;
        }
    }
}

/// Not Linux: no `sendfile` here, so hyper serves everything.
#[cfg(not(target_os = "linux"))]
pub(super) async fn serve(
    _stream: &mut TcpStream,
    _state: &Arc<State>,
    _peer: std::net::SocketAddr,
    _stop: &mut watch::Receiver<bool>,
    _limits: Limits,
) -> Outcome {
    Outcome::HandOver(Vec::new())
}

/// The lane's bounds, the same as hyper's for the rest.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Longest request head.
    pub max_head: usize,
    /// How long a head may take to arrive.
    pub header_timeout: Duration,
    /// How long a response may make no progress.
    pub idle_timeout: Duration,
}

/// A static GET the lane answers.
#[derive(Debug)]
struct Head {
    /// Bytes of the head, blank line included.
    len: usize,
    uri: Uri,
    headers: HeaderMap,
    /// The client asked to close after this response.
    close: bool,
}

#[derive(Debug)]
enum Parsed {
    Head(Head),
    /// Not all of the head yet.
    Partial,
    /// Not for the lane (or not HTTP at all): hyper's.
    Other,
}

/// Reads one request head from the start of `buf`.
fn parse(buf: &[u8]) -> Parsed {
    if buf.is_empty() {
        return Parsed::Partial;
    }
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::Other,
    };
    let (Some("GET"), Some(1), Some(path)) = (req.method, req.version, req.path) else {
        return Parsed::Other;
    };
    let Ok(uri) = path.parse::<Uri>() else {
        return Parsed::Other;
    };
    if !path.starts_with('/') || !super::http::is_static(uri.path()) {
        return Parsed::Other;
    }
    let mut headers = HeaderMap::with_capacity(req.headers.len());
    let mut close = false;
    for h in req.headers.iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) else {
            return Parsed::Other;
        };
        // A body, an upgrade or an expectation: hyper knows what to do.
        if name == header::TRANSFER_ENCODING
            || name == header::UPGRADE
            || name == header::EXPECT
            || (name == header::CONTENT_LENGTH && h.value != b"0")
        {
            return Parsed::Other;
        }
        if name == header::CONNECTION {
            close |= h
                .value
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"));
        }
        headers.append(name, value);
    }
    Parsed::Head(Head {
        len,
        uri,
        headers,
        close,
    })
}

/// Writing a response: its head, then its body, a zero-copy one with `sendfile`.
#[cfg(target_os = "linux")]
mod write {
    use std::io;
    use std::os::fd::{AsFd, OwnedFd};
    use std::sync::Arc;
    use std::time::Duration;

    use axum::http::{header, HeaderValue};
    use futures_util::StreamExt;
    use tokio::io::{AsyncWriteExt, Interest};
    use tokio::net::TcpStream;

    use super::{Body, Response};
    use crate::serve::files::ZeroCopy;

    /// Writes `response` (to a GET) on `stream`; `close` adds `connection: close`.
    pub(super) async fn response(
        stream: &mut TcpStream,
        response: Response<Body>,
        close: bool,
        idle: Duration,
    ) -> io::Result<()> {
        let (parts, body) = response.into_parts();
        let slice = parts.extensions.get::<ZeroCopy>().cloned();
        let mut head = Vec::with_capacity(512);
        head.extend_from_slice(b"HTTP/1.1 ");
        head.extend_from_slice(parts.status.as_str().as_bytes());
        head.push(b' ');
        head.extend_from_slice(
            parts
                .status
                .canonical_reason()
                .unwrap_or("Unknown")
                .as_bytes(),
        );
        head.extend_from_slice(b"\r\n");
        for (name, value) in &parts.headers {
            line(&mut head, name.as_str(), value);
        }
        if !parts.headers.contains_key(header::DATE) {
            date(&mut head);
        }
        // Every response of the static files says its length (a 304 has none, and no body).
        let with_body = parts.status != axum::http::StatusCode::NOT_MODIFIED;
        if with_body && !parts.headers.contains_key(header::CONTENT_LENGTH) {
            return Err(io::Error::other("a response without a length"));
        }
        if close {
            line(&mut head, "connection", &HeaderValue::from_static("close"));
        }
        head.extend_from_slice(b"\r\n");

        let mut chunks = body.into_data_stream();
        let mut sender = slice.map(|s| Sender::new(stream, s)).transpose()?;
        // The head goes out with the first chunk of a copied body, in one write.
        let mut head = Some(head);
        loop {
            let chunk = match timed(idle, async { Ok(chunks.next().await) }).await? {
                None => break,
                Some(Ok(c)) => c,
                // A read failed mid-body: the connection is cut rather than padded.
                Some(Err(e)) => return Err(io::Error::other(e)),
            };
            match &mut sender {
                Some(s) => {
                    if let Some(h) = head.take() {
                        timed(idle, stream.write_all(&h)).await?;
                    }
                    s.send(stream, chunk.len(), idle).await?
                }
                None => {
                    let h = head.take().unwrap_or_default();
                    timed(idle, write_both(stream, &h, &chunk)).await?
                }
            }
        }
        if let Some(h) = head {
            timed(idle, stream.write_all(&h)).await?;
        }
        if let Some(s) = sender {
            s.done()?;
        }
        Ok(())
    }

    /// Writes `a` then `b`, together where the socket takes both.
    async fn write_both(stream: &mut TcpStream, a: &[u8], b: &[u8]) -> io::Result<()> {
        let (mut a, mut b) = (a, b);
        while !a.is_empty() {
            let n = stream
                .write_vectored(&[io::IoSlice::new(a), io::IoSlice::new(b)])
                .await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            let from_a = n.min(a.len());
            a = &a[from_a..];
            b = &b[n - from_a..];
        }
        stream.write_all(b).await
    }

    /// A `date` header line, formatted once a second per thread (as hyper does).
    fn date(head: &mut Vec<u8>) {
        use std::cell::RefCell;
        use std::time::{SystemTime, UNIX_EPOCH};
        thread_local! {
            static CACHED: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
        }
        let now = SystemTime::now();
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        CACHED.with(|c| {
            let mut c = c.borrow_mut();
            if c.0 != second {
                *c = (second, crate::serve::files::http_date(now));
            }
            head.extend_from_slice(b"date: ");
            head.extend_from_slice(c.1.as_bytes());
            head.extend_from_slice(b"\r\n");
        });
    }

    fn line(head: &mut Vec<u8>, name: &str, value: &HeaderValue) {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }

    async fn timed<T>(
        idle: Duration,
        f: impl std::future::Future<Output = io::Result<T>>,
    ) -> io::Result<T> {
        tokio::time::timeout(idle, f)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connection idle too long"))?
    }

    /// Sends a [`ZeroCopy`] slice in step with its body's chunks.
    struct Sender {
        /// The socket, duplicated for the blocking pool (it stays non-blocking).
        socket: Arc<OwnedFd>,
        slice: ZeroCopy,
        /// Next byte of the file to send.
        at: u64,
    }

    impl Sender {
        fn new(stream: &TcpStream, slice: ZeroCopy) -> io::Result<Sender> {
            Ok(Sender {
                socket: Arc::new(stream.as_fd().try_clone_to_owned()?),
                at: slice.start,
                slice,
            })
        }

        /// Sends the next `n` bytes of the slice.
        async fn send(&mut self, stream: &TcpStream, n: usize, idle: Duration) -> io::Result<()> {
            let end = self.at + n as u64;
            if end > self.slice.start + self.slice.len {
                return Err(io::Error::other("body longer than its file slice"));
            }
            while self.at < end {
                let (socket, file) = (self.socket.clone(), self.slice.file.clone());
                let (at, want) = (self.at, (end - self.at) as usize);
                // Off the async workers: a page not in the cache waits for the disk.
                let sent = tokio::task::spawn_blocking(move || send_some(&socket, &file, at, want))
                    .await
                    .map_err(io::Error::other)??;
                self.at += sent as u64;
                if self.at < end {
                    wait_writable(stream, idle).await?;
                }
            }
            Ok(())
        }

        fn done(self) -> io::Result<()> {
            if self.at == self.slice.start + self.slice.len {
                Ok(())
            } else {
                Err(io::Error::other("body shorter than its file slice"))
            }
        }
    }

    /// Waits until the socket, found full by a `sendfile` on another thread, takes bytes
    /// again. Tokio learns that it was full only inside `try_io`, whose check cannot lose a
    /// wake-up that arrives meanwhile (clearing its readiness from outside could).
    async fn wait_writable(stream: &TcpStream, idle: Duration) -> io::Result<()> {
        loop {
            timed(idle, stream.writable()).await?;
            let checked = stream.try_io(Interest::WRITABLE, || {
                let mut fds = [rustix::event::PollFd::new(
                    stream,
                    rustix::event::PollFlags::OUT,
                )];
                let zero = rustix::event::Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                match rustix::event::poll(&mut fds, Some(&zero)) {
                    // Writable, or in error: the next `sendfile` says which.
                    Ok(n) if n > 0 => Ok(()),
                    Ok(_) => Err(io::ErrorKind::WouldBlock.into()),
                    Err(e) => Err(e.into()),
                }
            });
            match checked {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends up to `want` bytes of `file` from `at` until the socket is full; how many went.
    /// A file that ends early is an error: the connection is cut, never padded.
    fn send_some(
        socket: &OwnedFd,
        file: &std::fs::File,
        at: u64,
        want: usize,
    ) -> io::Result<usize> {
        let mut offset = at;
        let mut sent = 0;
        while sent < want {
            match rustix::fs::sendfile(socket, file, Some(&mut offset), want - sent) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file is shorter than when it was indexed",
                    ))
                }
                Ok(n) => sent += n,
                Err(rustix::io::Errno::AGAIN) => break,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Parsed {
        parse(text.as_bytes())
    }

    #[test]
    fn static_gets_are_the_lanes_and_the_rest_is_hypers() {
        let Parsed::Head(h) = head(
            "GET /episodes/a%20b.mp3 HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\nConnection: keep-alive, Close\r\n\r\nGET",
        ) else {
            panic!("a media GET");
        };
        assert!(matches!(
            head("GET /feed.xml HTTP/1.1\r\n\r\n"),
            Parsed::Head(_)
        ));
        assert_eq!(h.uri.path(), "/episodes/a%20b.mp3");
        assert_eq!(
            h.headers.get(header::RANGE).map(|v| v.as_bytes()),
            Some(&b"bytes=0-9"[..])
        );
        assert!(h.close);
        assert_eq!(h.len, "GET /episodes/a%20b.mp3 HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\nConnection: keep-alive, Close\r\n\r\n".len());
        for other in [
            "HEAD /episodes/a.mp3 HTTP/1.1\r\n\r\n",
            "GET /stats HTTP/1.1\r\n\r\n",
            "GET /announce?info_hash=x HTTP/1.1\r\n\r\n",
            "GET * HTTP/1.1\r\n\r\n",
            "GET /episodes/a.mp3 HTTP/1.0\r\n\r\n",
            "GET http://x/episodes/a.mp3 HTTP/1.1\r\n\r\n",
            "GET /episodes/a.mp3 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
            "GET /episodes/a.mp3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /episodes/a.mp3 HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            "GET /episodes/a.mp3 HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            "GET /episodes/a.mp3 HTTP/1.1\r\nBad Header: x\r\n\r\n",
            "\u{16}\u{3}\u{1}binary",
        ] {
            assert!(matches!(head(other), Parsed::Other), "{other:?}");
        }
        assert!(matches!(
            head("GET /episodes/a.mp3 HTTP/1.1\r\nHost"),
            Parsed::Partial
        ));
        assert!(matches!(head(""), Parsed::Partial));
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: y\r\n")).collect();
        assert!(matches!(
            head(&format!("GET /episodes/a.mp3 HTTP/1.1\r\n{many}\r\n")),
            Parsed::Other
        ));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_without_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse(&bytes);
        }
    }
}
