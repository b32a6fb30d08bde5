//! Memory for pieces: recently read pieces shared by all torrents within one byte budget,
//! and their buffers reused instead of freed.
//!
//! The budget is for the whole seeder, not per torrent, so a catalogue of hundreds of
//! episodes costs no more than one. Reuse matters for speed: a fresh piece-sized
//! allocation per read cost about a quarter of the seeder's CPU in page faults and zeroing
//! (perf, `scripts/bench-seeder.sh`), because the allocator hands such buffers back to the
//! kernel when they are freed.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};

/// Bytes of pieces the cache keeps (pieces still in use by a connection live on past it).
pub const CACHE_BYTES: usize = 8 << 20;
/// Bytes of idle buffers kept for reuse.
const SPARE_BYTES: usize = 4 << 20;

/// A cache key: the torrent's load id (unique per load, so a republished file never meets
/// the old one's pieces) and the piece index.
pub type PieceKey = (u64, u32);

/// Piece buffers waiting to be reused.
#[derive(Debug, Default)]
struct Spare {
    bufs: Mutex<Vec<Vec<u8>>>,
}

impl Spare {
    fn put(&self, buf: Vec<u8>) {
        let mut bufs = self.bufs.lock().unwrap_or_else(|p| p.into_inner());
        let held: usize = bufs.iter().map(Vec::capacity).sum();
        if held + buf.capacity() <= SPARE_BYTES {
            bufs.push(buf);
        }
    }

    /// A buffer of exactly `len` bytes with unspecified contents (the caller overwrites
    /// all of them): the closest spare that fits without wasting more than `len` bytes,
    /// else a new one.
    fn take(&self, len: usize) -> Vec<u8> {
        let reused = {
            let mut bufs = self.bufs.lock().unwrap_or_else(|p| p.into_inner());
            bufs.iter()
                .enumerate()
                .filter(|(_, b)| b.capacity() >= len && b.capacity() <= len.saturating_mul(2))
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i)
                .map(|i| bufs.swap_remove(i))
        };
        match reused {
            Some(mut b) => {
                // Shrinking keeps the old bytes; growing zeroes only the new tail.
                b.truncate(len);
                b.resize(len, 0);
                b
            }
            None => vec![0; len],
        }
    }
}

/// The bytes of one piece; its buffer goes back for reuse when the last user drops it.
#[derive(Debug)]
pub struct Piece {
    data: Vec<u8>,
    home: Weak<Spare>,
}

impl Piece {
    /// Memory the piece holds (its buffer may be larger than the piece).
    fn footprint(&self) -> usize {
        self.data.capacity()
    }
}

impl std::ops::Deref for Piece {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.data
    }
}

impl Drop for Piece {
    fn drop(&mut self) {
        if let Some(spare) = self.home.upgrade() {
            spare.put(std::mem::take(&mut self.data));
        }
    }
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<PieceKey, Arc<Piece>>,
    /// Insertion order, for eviction (first in, first out).
    order: VecDeque<PieceKey>,
    bytes: usize,
}

/// Recently read pieces of every torrent, within [`CACHE_BYTES`].
#[derive(Debug)]
pub struct PieceCache {
    budget: usize,
    entries: Mutex<Entries>,
    spare: Arc<Spare>,
}

impl Default for PieceCache {
    fn default() -> Self {
        PieceCache::new(CACHE_BYTES)
    }
}

impl PieceCache {
    /// A cache keeping up to `budget` bytes of pieces (at least the newest one).
    pub fn new(budget: usize) -> Self {
        PieceCache {
            budget,
            entries: Mutex::new(Entries::default()),
            spare: Arc::new(Spare::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached piece, if any.
    pub fn get(&self, key: PieceKey) -> Option<Arc<Piece>> {
        self.lock().map.get(&key).cloned()
    }

    /// A buffer of `len` bytes to read a piece into, reused when possible.
    pub fn buffer(&self, len: usize) -> Vec<u8> {
        self.spare.take(len)
    }

    /// Wraps a filled buffer as a piece (its buffer returns here when dropped) and caches it.
    pub fn insert(&self, key: PieceKey, data: Vec<u8>) -> Arc<Piece> {
        let piece = Arc::new(Piece {
            data,
            home: Arc::downgrade(&self.spare),
        });
        let evicted = {
            let mut e = self.lock();
            let mut evicted = Vec::new();
            if let Some(old) = e.map.insert(key, piece.clone()) {
                e.bytes -= old.footprint();
                e.order.retain(|k| *k != key);
                evicted.push(old);
            }
            e.bytes += piece.footprint();
            e.order.push_back(key);
            while e.bytes > self.budget && e.order.len() > 1 {
                let Some(k) = e.order.pop_front() else { break };
                if let Some(p) = e.map.remove(&k) {
                    e.bytes -= p.footprint();
                    evicted.push(p);
                }
            }
            evicted
        };
        // Dropped outside the lock: a last reference returns its buffer to `spare`.
        drop(evicted);
        piece
    }

    /// Forgets every piece of one torrent load (it stopped seeding).
    pub fn forget(&self, load: u64) {
        let gone: Vec<Arc<Piece>> = {
            let mut e = self.lock();
            let keys: Vec<PieceKey> = e.map.keys().filter(|k| k.0 == load).copied().collect();
            let mut gone = Vec::with_capacity(keys.len());
            for k in keys {
                if let Some(p) = e.map.remove(&k) {
                    e.bytes -= p.footprint();
                    gone.push(p);
                }
            }
            e.order.retain(|k| k.0 != load);
            gone
        };
        drop(gone);
    }

    /// Bytes of memory the cached pieces hold now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(cache: &PieceCache, len: usize, byte: u8) -> Vec<u8> {
        let mut b = cache.buffer(len);
        assert_eq!(b.len(), len);
        b.fill(byte);
        b
    }

    #[test]
    fn keeps_pieces_within_the_budget_oldest_out_first() {
        let cache = PieceCache::new(3 * 1000);
        for i in 0..5u32 {
            let b = filled(&cache, 1000, i as u8);
            cache.insert((1, i), b);
        }
        assert_eq!(cache.bytes(), 3000);
        assert!(cache.get((1, 0)).is_none() && cache.get((1, 1)).is_none());
        let p = cache.get((1, 4)).expect("newest kept");
        assert!(p.iter().all(|&b| b == 4));
        // Another load of the same torrent does not see these pieces.
        assert!(cache.get((2, 4)).is_none());
    }

    #[test]
    fn a_piece_bigger_than_the_budget_is_still_kept_alone() {
        let cache = PieceCache::new(100);
        let b = filled(&cache, 1000, 7);
        cache.insert((1, 0), b);
        assert!(cache.get((1, 0)).is_some());
        let b = filled(&cache, 1000, 8);
        cache.insert((1, 1), b);
        assert!(cache.get((1, 0)).is_none());
        assert_eq!(cache.bytes(), 1000);
    }

    #[test]
    fn buffers_of_evicted_pieces_are_reused_once_unused() {
        let cache = PieceCache::new(1000);
        let b = filled(&cache, 1000, 1);
        let ptr = b.as_ptr();
        let held = cache.insert((1, 0), b);
        // Evicted while a connection still holds it: the buffer stays with the holder.
        let b = filled(&cache, 1000, 2);
        assert_ne!(b.as_ptr(), ptr);
        cache.insert((1, 1), b);
        assert!(
            held.iter().all(|&x| x == 1),
            "a held piece is never overwritten"
        );
        drop(held);
        // Now it is free, and the next read (of a smaller piece) gets it back.
        let b = cache.buffer(600);
        assert_eq!(b.as_ptr(), ptr);
        assert_eq!(b.len(), 600);
    }

    #[test]
    fn a_small_piece_does_not_take_a_big_buffer() {
        let cache = PieceCache::new(100_000);
        let b = filled(&cache, 10_000, 1);
        let ptr = b.as_ptr();
        drop(cache.insert((1, 0), b));
        cache.forget(1);
        let small = cache.buffer(100);
        assert_ne!(small.as_ptr(), ptr, "a 10 kB buffer for 100 bytes");
        let fits = cache.buffer(9_000);
        assert_eq!(fits.as_ptr(), ptr);
    }

    #[test]
    fn forget_drops_one_load_only() {
        let cache = PieceCache::new(10_000);
        for (load, i) in [(1, 0), (1, 1), (2, 0)] {
            let b = filled(&cache, 100, 0);
            cache.insert((load, i), b);
        }
        cache.forget(1);
        assert!(cache.get((1, 0)).is_none() && cache.get((1, 1)).is_none());
        assert!(cache.get((2, 0)).is_some());
        assert_eq!(cache.bytes(), 100);
    }
}
