//! What one peer connection is about to write: encoded messages, and blocks that go out
//! straight from the cached pieces in one vectored write, never copied into a send buffer.
//!
//! Copying every block into a per-connection buffer cost about a tenth of the seeder's CPU
//! (perf during `scripts/bench-seeder.sh`) and a quarter megabyte per busy connection.

use std::io::{self, IoSlice};

use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::storage::Block;
use super::wire::{self, Message};

/// Slices handed to one `writev` (well under every platform's IOV_MAX).
const MAX_SLICES: usize = 64;

/// One run of output, in order.
#[derive(Debug)]
enum Part {
    /// `bytes[start..end]`: messages and piece headers.
    Bytes { start: usize, end: usize },
    /// A block's payload.
    Block(Block),
}

/// The bytes a connection will write next, in order.
#[derive(Debug, Default)]
pub struct Outbox {
    bytes: Vec<u8>,
    parts: Vec<Part>,
    len: usize,
}

impl Outbox {
    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends bytes written by `f` to the message buffer.
    fn push_with(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        let start = self.bytes.len();
        f(&mut self.bytes);
        let end = self.bytes.len();
        if end == start {
            return;
        }
        self.len += end - start;
        match self.parts.last_mut() {
            Some(Part::Bytes { end: e, .. }) if *e == start => *e = end,
            _ => self.parts.push(Part::Bytes { start, end }),
        }
    }

    /// Appends one message.
    pub fn message(&mut self, msg: &Message) {
        self.push_with(|b| wire::encode(msg, b));
    }

    /// Appends a Piece message carrying `block` (which is not copied).
    pub fn piece(&mut self, index: u32, begin: u32, block: Block) {
        let header = wire::piece_header(index, begin, block.len() as u32);
        self.push_with(|b| b.extend_from_slice(&header));
        if !block.is_empty() {
            self.len += block.len();
            self.parts.push(Part::Block(block));
        }
    }

    fn slice<'a>(&'a self, part: &'a Part) -> &'a [u8] {
        match part {
            Part::Bytes { start, end } => &self.bytes[*start..*end],
            Part::Block(b) => b,
        }
    }

    /// Writes everything to `w` (vectored writes, partial writes resumed) and flushes it
    /// (an encrypting stream may still hold bytes the socket did not take), then empties.
    pub async fn write_to<W: AsyncWrite + Unpin>(&mut self, w: &mut W) -> io::Result<()> {
        let (mut part, mut offset) = (0, 0);
        while part < self.parts.len() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut n = 0;
            for (i, p) in self.parts[part..].iter().take(MAX_SLICES).enumerate() {
                let s = self.slice(p);
                slices[i] = IoSlice::new(if i == 0 { &s[offset..] } else { s });
                n = i + 1;
            }
            let mut written = w.write_vectored(&slices[..n]).await?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            // Parts are never empty, so this ends on the first part not fully written.
            while written > 0 && part < self.parts.len() {
                let left = self.slice(&self.parts[part]).len() - offset;
                if written >= left {
                    written -= left;
                    part += 1;
                    offset = 0;
                } else {
                    offset += written;
                    written = 0;
                }
            }
        }
        w.flush().await?;
        self.clear();
        Ok(())
    }

    fn clear(&mut self) {
        self.parts.clear();
        self.len = 0;
        self.bytes.clear();
        // Metadata replies are 16 KiB; a long burst of them should not pin memory.
        if self.bytes.capacity() > 256 * 1024 {
            self.bytes = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A writer that takes at most `step` bytes per call and records them.
    struct Trickle {
        got: Vec<u8>,
        step: usize,
        calls: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            let n = data.len().min(this.step);
            this.got.extend_from_slice(&data[..n]);
            this.calls += 1;
            Poll::Ready(Ok(n))
        }
        fn poll_write_vectored(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            let mut left = this.step;
            for b in bufs {
                let n = b.len().min(left);
                this.got.extend_from_slice(&b[..n]);
                left -= n;
            }
            this.calls += 1;
            Poll::Ready(Ok(this.step - left))
        }
        fn is_write_vectored(&self) -> bool {
            true
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn block(data: &[u8]) -> Block {
        Block::for_test(data)
    }

    #[tokio::test]
    async fn writes_messages_and_blocks_in_order_whatever_the_socket_takes() {
        let a: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let b: Vec<u8> = (0..300u32).map(|i| (i % 13) as u8).collect();
        let mut want = Vec::new();
        wire::encode(&Message::Unchoke, &mut want);
        want.extend_from_slice(&wire::piece_header(1, 0, a.len() as u32));
        want.extend_from_slice(&a);
        want.extend_from_slice(&wire::piece_header(2, 16384, b.len() as u32));
        want.extend_from_slice(&b);
        wire::encode(&Message::KeepAlive, &mut want);
        for step in [1, 7, 13, 4096, 1 << 20] {
            let mut o = Outbox::default();
            o.message(&Message::Unchoke);
            o.piece(1, 0, block(&a));
            o.piece(2, 16384, block(&b));
            o.message(&Message::KeepAlive);
            assert_eq!(o.len(), want.len());
            let mut w = Trickle {
                got: Vec::new(),
                step,
                calls: 0,
            };
            o.write_to(&mut w).await.expect("write");
            assert_eq!(w.got, want, "step {step}");
            assert!(o.is_empty());
            if step == 1 << 20 {
                assert_eq!(w.calls, 1, "one writev for everything");
            }
        }
    }

    #[tokio::test]
    async fn more_parts_than_one_writev_takes() {
        let data = [9u8; 10];
        let mut o = Outbox::default();
        let mut want = Vec::new();
        for i in 0..(MAX_SLICES as u32 * 2) {
            o.piece(i, 0, block(&data));
            want.extend_from_slice(&wire::piece_header(i, 0, 10));
            want.extend_from_slice(&data);
        }
        let mut w = Trickle {
            got: Vec::new(),
            step: usize::MAX,
            calls: 0,
        };
        o.write_to(&mut w).await.expect("write");
        assert_eq!(w.got, want);
        assert_eq!(w.calls, 4, "64 slices per call, 256 slices");
    }
}
