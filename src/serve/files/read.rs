//! Response bodies read from an open handle: positioned reads (many responses share one
//! handle) into buffers that return to a pool when the connection is done with them.
//!
//! The first chunk of a response (all of a web seed's 256 KiB range) is read on the async
//! worker with `RWF_NOWAIT` on Linux, which copies from the page cache or refuses at once
//! rather than wait for the disk: no thread hop before the first byte, the way nginx reads.
//! What is not cached, and every later chunk of a long transfer, is read on tokio's blocking
//! pool, so the copies of whole-file downloads run beside the workers instead of holding
//! them (measured: whole-file throughput was about 1.6 times higher this way on two busy
//! cores, and single ranges no faster). Not here: which bytes to send (the caller passes
//! offset and length).

use std::fs::File;
use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::Stream;

/// Bytes of a response's first read and chunk: a 256 KiB web-seed range in one read, and
/// little over-counted when a transfer is aborted early.
pub const READ_BYTES: usize = 256 * 1024;
/// Bytes of every later read and chunk of a long transfer: fewer trips to the blocking pool
/// and through the connection per megabyte.
pub const LATER_READ_BYTES: usize = 1024 * 1024;
/// Idle buffers kept for reuse, of each size (16 + 16 MiB); more are freed when returned.
const POOL_MAX: [usize; 2] = [64, 16];

/// Read buffers for reuse, so a chunk costs no allocation and no page faults: one list of
/// each size.
#[derive(Debug, Default)]
pub struct BufferPool {
    free: [Mutex<Vec<Vec<u8>>>; 2],
}

impl BufferPool {
    fn list(size: usize) -> Option<usize> {
        match size {
            READ_BYTES => Some(0),
            LATER_READ_BYTES => Some(1),
            _ => None,
        }
    }

    fn take(&self, size: usize) -> Vec<u8> {
        let pooled = Self::list(size)
            .and_then(|i| self.free[i].lock().ok())
            .and_then(|mut free| free.pop());
        pooled.unwrap_or_else(|| vec![0; size])
    }

    fn give(&self, buffer: Vec<u8>) {
        let Some(i) = Self::list(buffer.len()) else {
            return;
        };
        if let Ok(mut free) = self.free[i].lock() {
            if free.len() < POOL_MAX[i] {
                free.push(buffer);
            }
        }
    }
}

/// A filled buffer lent to the connection as `Bytes`; dropping it returns the buffer.
struct Chunk {
    buffer: Vec<u8>,
    len: usize,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for Chunk {
    fn as_ref(&self) -> &[u8] {
        self.buffer.get(..self.len).unwrap_or_default()
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.buffer));
    }
}

/// `len` bytes of `file` from `start`: a first chunk of up to [`READ_BYTES`], then chunks
/// of up to [`LATER_READ_BYTES`]. A file
/// that turns out shorter ends the stream with an error, so the connection is cut rather
/// than padded.
pub fn stream(
    file: Arc<File>,
    start: u64,
    len: u64,
    pool: Arc<BufferPool>,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures_util::stream::try_unfold(
        (file, start, len, pool),
        move |(file, at, left, pool)| async move {
            if left == 0 {
                return Ok(None);
            }
            let inline = at == start;
            let (size, want) = next_chunk(left, inline);
            let buffer = read_exact_at(&file, pool.take(size), want, at, inline).await?;
            let chunk = Bytes::from_owner(Chunk {
                buffer,
                len: want,
                pool: pool.clone(),
            });
            Ok(Some((
                chunk,
                (file, at + want as u64, left - want as u64, pool),
            )))
        },
    )
}

/// Zeros as the chunks [`stream`] would yield for `len` bytes (see [`next_chunk`]), for a
/// writer that sends the file's bytes itself: the chunks are counted like real ones and
/// cost nothing to make.
pub fn zeros(len: u64) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    static ZEROS: [u8; LATER_READ_BYTES] = [0; LATER_READ_BYTES];
    futures_util::stream::unfold((len, true), |(left, first)| async move {
        if left == 0 {
            return None;
        }
        let (_, n) = next_chunk(left, first);
        let zeros = Bytes::from_static(ZEROS.get(..n).unwrap_or_default());
        Some((Ok(zeros), (left - n as u64, false)))
    })
}

/// The next chunk of a body with `left` bytes to go, `first` or not: its buffer's size
/// ([`READ_BYTES`] first, then [`LATER_READ_BYTES`]) and how many bytes it carries.
fn next_chunk(left: u64, first: bool) -> (usize, usize) {
    let size = if first { READ_BYTES } else { LATER_READ_BYTES };
    (size, usize::try_from(left).map_or(size, |l| l.min(size)))
}

/// Fills `buffer[..want]` from offset `at`: with `inline`, from the page cache on this
/// thread where it can; the rest on the blocking pool.
async fn read_exact_at(
    file: &Arc<File>,
    mut buffer: Vec<u8>,
    want: usize,
    at: u64,
    inline: bool,
) -> io::Result<Vec<u8>> {
    let done = if inline {
        cached_read(file, &mut buffer[..want], at)
    } else {
        0
    };
    if done == want {
        return Ok(buffer);
    }
    let file = file.clone();
    tokio::task::spawn_blocking(move || {
        blocking_read(&file, &mut buffer[done..want], at + done as u64)?;
        Ok(buffer)
    })
    .await
    .map_err(io::Error::other)?
}

/// Reads what the page cache holds without waiting for the disk; returns the count read.
#[cfg(target_os = "linux")]
fn cached_read(file: &File, buffer: &mut [u8], at: u64) -> usize {
    use rustix::io::{preadv2, ReadWriteFlags};
    let mut done = 0;
    while done < buffer.len() {
        let mut slices = [io::IoSliceMut::new(&mut buffer[done..])];
        match preadv2(file, &mut slices, at + done as u64, ReadWriteFlags::NOWAIT) {
            Ok(0) | Err(_) => break,
            Ok(n) => done += n,
        }
    }
    done
}

#[cfg(not(target_os = "linux"))]
fn cached_read(_file: &File, _buffer: &mut [u8], _at: u64) -> usize {
    0
}

#[cfg(unix)]
fn blocking_read(file: &File, buffer: &mut [u8], at: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buffer, at)
}

#[cfg(windows)]
fn blocking_read(file: &File, mut buffer: &mut [u8], mut at: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buffer.is_empty() {
        match file.seek_read(buffer, at)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buffer = &mut buffer[n..];
                at += n as u64;
            }
        }
    }
    Ok(())
}
