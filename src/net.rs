//! Network plumbing shared by every listener: per-address slots and an idle timeout on a
//! socket, for HTTP and peer connections alike.
//!
//! hyper's header-read timeout stops slow request headers, but not a client that asks for
//! an MP3 and never reads it, nor one address opening every slot. [`IdleTimeout`] fails a
//! connection whose reads and writes make no progress for a while; [`PerIp`] counts
//! connections per client address. No protocol logic here, except [`stun`]: the STUN
//! Binding codec, which is no BitTorrent protocol and so lives at the bottom, where the UDP
//! front and the connection ids that must never look like STUN can both reach it.

pub mod stun;

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A socket that errors out when neither reads nor writes progress for `timeout`.
///
/// Progress only notes the time; the timer is moved when it fires early (after progress),
/// not on every read and write: a keep-alive connection serving a feed does a read and a
/// write per request, and moving a timer costs more than the clock read.
pub struct IdleTimeout<T> {
    inner: T,
    timeout: Duration,
    last_progress: Instant,
    deadline: Pin<Box<Sleep>>,
}

impl<T> IdleTimeout<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, timeout: Duration) -> Self {
        IdleTimeout {
            inner,
            timeout,
            last_progress: Instant::now(),
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }

    fn progressed(&mut self) {
        self.last_progress = Instant::now();
    }

    /// Turns a pending operation into an error once `timeout` has passed since the last
    /// progress.
    fn check(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            match self.deadline.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => {
                    let due = self.last_progress + self.timeout;
                    if due <= Instant::now() {
                        return Poll::Ready(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "connection idle too long",
                        ));
                    }
                    // Progress since the timer was set: it fires again when due.
                    self.deadline.as_mut().reset(due);
                }
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleTimeout<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.progressed();
                Poll::Ready(r)
            }
            Poll::Pending => this.check(cx).map(Err),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, data) {
            Poll::Ready(r) => {
                this.progressed();
                Poll::Ready(r)
            }
            Poll::Pending => this.check(cx).map(Err),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => this.check(cx).map(Err),
            ready => ready,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                this.progressed();
                Poll::Ready(r)
            }
            Poll::Pending => this.check(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Bytes read ahead of a stream's consumer (by a parser that then handed the stream on), to
/// be read again first.
#[derive(Debug, Default)]
pub struct Replay {
    bytes: Vec<u8>,
    at: usize,
}

impl Replay {
    /// `bytes`, to be read again.
    pub fn new(bytes: Vec<u8>) -> Self {
        Replay { bytes, at: 0 }
    }

    /// Moves what is left of the bytes into `buf`, as much as fits; false when none was left.
    pub fn read_into(&mut self, buf: &mut ReadBuf<'_>) -> bool {
        let Some(left) = self.bytes.get(self.at..).filter(|l| !l.is_empty()) else {
            return false;
        };
        let n = left.len().min(buf.remaining());
        buf.put_slice(&left[..n]);
        self.at += n;
        if self.at == self.bytes.len() {
            *self = Replay::default();
        }
        true
    }
}

/// A stream whose first reads return bytes already read from it (by a parser that then
/// handed the connection on), then read on from the stream itself.
pub struct Rewind<T> {
    read: Replay,
    inner: T,
}

impl<T> Rewind<T> {
    /// `inner`, with `read` to be read again first.
    pub fn new(read: Vec<u8>, inner: T) -> Self {
        Rewind {
            read: Replay::new(read),
            inner,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Rewind<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.read.read_into(buf) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Rewind<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Connections per client address, capped.
#[derive(Debug, Default, Clone)]
pub struct PerIp {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max: usize,
}

/// A held per-address slot; released when dropped.
#[derive(Debug)]
pub struct IpSlot {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl PerIp {
    /// At most `max` connections per address.
    pub fn new(max: usize) -> Self {
        PerIp {
            counts: Arc::default(),
            max: max.max(1),
        }
    }

    /// A slot for `ip`, or None when it already holds `max`.
    pub fn acquire(&self, ip: IpAddr) -> Option<IpSlot> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(ip).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            counts: self.counts.clone(),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn per_ip_slots_are_capped_and_released() {
        let p = PerIp::new(2);
        let ip: IpAddr = "10.0.0.1".parse().expect("ip");
        let a = p.acquire(ip).expect("first");
        let _b = p.acquire(ip).expect("second");
        assert!(p.acquire(ip).is_none());
        assert!(p.acquire("10.0.0.2".parse().expect("ip")).is_some());
        drop(a);
        assert!(p.acquire(ip).is_some());
    }

    #[tokio::test]
    async fn rewind_reads_what_was_read_first_then_the_stream() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut s = Rewind::new(b"GET / HT".to_vec(), server);
        client.write_all(b"TP/1.1\r\n").await.expect("write");
        let mut small = [0u8; 3];
        s.read_exact(&mut small).await.expect("read");
        assert_eq!(&small, b"GET");
        let mut rest = [0u8; 13];
        s.read_exact(&mut rest).await.expect("read");
        assert_eq!(&rest, b" / HTTP/1.1\r\n");
        s.write_all(b"ok").await.expect("write");
        let mut back = [0u8; 2];
        client.read_exact(&mut back).await.expect("read");
        assert_eq!(&back, b"ok");
    }

    #[tokio::test]
    async fn a_silent_peer_times_out_an_active_one_does_not() {
        let (client, server) = tokio::io::duplex(64);
        let mut server = IdleTimeout::new(server, Duration::from_millis(200));
        let mut client = client;
        let mut buf = [0u8; 4];
        // Activity keeps it alive past one timeout.
        for _ in 0..3 {
            client.write_all(b"ping").await.expect("write");
            server.read_exact(&mut buf).await.expect("read");
            tokio::time::sleep(Duration::from_millis(120)).await;
        }
        // Then nothing: the read fails with TimedOut.
        let err = server.read(&mut buf).await.expect_err("idle");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        // A writer whose reader never reads times out too.
        let (_slow_reader, other) = tokio::io::duplex(16);
        let mut w = IdleTimeout::new(other, Duration::from_millis(200));
        let err = w.write_all(&[0u8; 1024]).await.expect_err("stuck");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
