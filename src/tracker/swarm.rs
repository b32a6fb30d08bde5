//! One torrent's swarm: its peers, split into seeders and leechers, with bounded size.
//!
//! Peers are keyed by (ip, port). Each group is a vector plus an index map, so adding,
//! removing and sampling are O(1) per peer; an insertion-order queue (compacted as it grows)
//! finds the oldest peer to evict when the swarm is full. Time is passed in, never read,
//! so tests control it. No I/O and no locking here.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

/// One peer as the tracker knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its peer id.
    pub peer_id: [u8; 20],
    /// When it last announced (seconds, caller's clock).
    pub last_seen: u64,
    /// Bytes it reported uploaded.
    pub uploaded: u64,
    /// Bytes it reported downloaded.
    pub downloaded: u64,
}

/// Peers of one kind, indexable and removable in O(1).
#[derive(Debug, Default)]
struct PeerSet {
    peers: Vec<Peer>,
    index: HashMap<SocketAddr, usize>,
}

impl PeerSet {
    fn get_mut(&mut self, addr: &SocketAddr) -> Option<&mut Peer> {
        let i = *self.index.get(addr)?;
        self.peers.get_mut(i)
    }

    fn insert(&mut self, peer: Peer) {
        self.index.insert(peer.addr, self.peers.len());
        self.peers.push(peer);
    }

    fn remove(&mut self, addr: &SocketAddr) -> Option<Peer> {
        let i = self.index.remove(addr)?;
        let peer = self.peers.swap_remove(i);
        if let Some(moved) = self.peers.get(i) {
            self.index.insert(moved.addr, i);
        }
        Some(peer)
    }

    fn len(&self) -> usize {
        self.peers.len()
    }
}

/// Adds peers of `set` to `out` until it holds `want`, from a random starting point.
fn take_from<'a>(set: &'a PeerSet, requester: &SocketAddr, want: usize, out: &mut Vec<&'a Peer>) {
    let n = set.peers.len();
    if n == 0 {
        return;
    }
    let start = fastrand::usize(..n);
    for i in 0..n {
        if out.len() >= want {
            break;
        }
        let p = &set.peers[(start + i) % n];
        if p.addr != *requester {
            out.push(p);
        }
    }
}

/// Byte counters reported by a peer's announce, as deltas since its previous one.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// Newly reported downloaded bytes.
    pub downloaded: u64,
    /// Newly reported uploaded bytes.
    pub uploaded: u64,
}

/// One torrent's swarm.
#[derive(Debug, Default)]
pub struct Swarm {
    seeders: PeerSet,
    leechers: PeerSet,
    /// Announce order for eviction: (addr, last_seen at push); stale entries are skipped.
    order: VecDeque<(SocketAddr, u64)>,
    /// Completed downloads ever seen (the scrape's `downloaded`).
    pub completed: u64,
    /// Sum of `downloaded` increases peers reported.
    pub peer_downloaded: u64,
    /// Sum of `uploaded` increases peers reported.
    pub peer_uploaded: u64,
}

/// What an announce does to the swarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A regular announce.
    None,
    /// The first announce.
    Started,
    /// The download finished.
    Completed,
    /// The peer leaves.
    Stopped,
}

/// One announce, as the swarm needs it.
#[derive(Debug, Clone)]
pub struct PeerUpdate {
    /// Where the peer listens.
    pub addr: SocketAddr,
    /// Its peer id.
    pub peer_id: [u8; 20],
    /// Event.
    pub event: Event,
    /// Bytes left; 0 makes it a seeder.
    pub left: u64,
    /// Uploaded so far.
    pub uploaded: u64,
    /// Downloaded so far.
    pub downloaded: u64,
}

impl Swarm {
    /// Seeders now.
    pub fn seeders(&self) -> usize {
        self.seeders.len()
    }

    /// Leechers now.
    pub fn leechers(&self) -> usize {
        self.leechers.len()
    }

    /// Applies an announce at time `now`, evicting the oldest peer if the swarm would
    /// exceed `max_peers`.
    pub fn update(&mut self, u: &PeerUpdate, now: u64, max_peers: usize) -> Transfer {
        let previous = self
            .seeders
            .remove(&u.addr)
            .or_else(|| self.leechers.remove(&u.addr));
        let transfer = previous
            .as_ref()
            .map_or_else(Transfer::default, |p| Transfer {
                downloaded: u.downloaded.saturating_sub(p.downloaded),
                uploaded: u.uploaded.saturating_sub(p.uploaded),
            });
        self.peer_downloaded += transfer.downloaded;
        self.peer_uploaded += transfer.uploaded;
        if u.event == Event::Completed {
            self.completed += 1;
        }
        if u.event == Event::Stopped {
            return transfer;
        }
        if previous.is_none() {
            while self.seeders.len() + self.leechers.len() >= max_peers.max(1) {
                if !self.evict_oldest() {
                    break;
                }
            }
        }
        let peer = Peer {
            addr: u.addr,
            peer_id: u.peer_id,
            last_seen: now,
            uploaded: u.uploaded,
            downloaded: u.downloaded,
        };
        if u.left == 0 {
            self.seeders.insert(peer);
        } else {
            self.leechers.insert(peer);
        }
        self.order.push_back((u.addr, now));
        self.compact_order();
        transfer
    }

    fn lookup(&mut self, addr: &SocketAddr) -> Option<&mut Peer> {
        if self.seeders.index.contains_key(addr) {
            self.seeders.get_mut(addr)
        } else {
            self.leechers.get_mut(addr)
        }
    }

    /// Removes the peer that announced least recently; false if none is left.
    fn evict_oldest(&mut self) -> bool {
        while let Some((addr, seen)) = self.order.pop_front() {
            // Only the entry matching the peer's latest announce counts.
            if self.lookup(&addr).is_some_and(|p| p.last_seen == seen) {
                self.remove(&addr);
                return true;
            }
        }
        false
    }

    fn remove(&mut self, addr: &SocketAddr) {
        if self.seeders.remove(addr).is_none() {
            self.leechers.remove(addr);
        }
    }

    /// Keeps the order queue within twice the peer count (stale entries pile up as peers
    /// re-announce).
    fn compact_order(&mut self) {
        let live = self.seeders.len() + self.leechers.len();
        if self.order.len() > 2 * live + 64 {
            let mut order = std::mem::take(&mut self.order);
            order.retain(|(addr, seen)| self.lookup(addr).is_some_and(|p| p.last_seen == *seen));
            self.order = order;
        }
    }

    /// Up to `want` peers for `requester` (excluded), leechers and (unless the requester
    /// is a seeder) seeders, from a random starting point.
    pub fn sample(&self, requester: &SocketAddr, is_seeder: bool, want: usize) -> Vec<&Peer> {
        let mut out = Vec::with_capacity(want.min(self.seeders.len() + self.leechers.len()));
        take_from(&self.leechers, requester, want, &mut out);
        if !is_seeder {
            take_from(&self.seeders, requester, want, &mut out);
        }
        out
    }

    /// Drops peers not seen since `cutoff`; returns how many.
    pub fn expire(&mut self, cutoff: u64) -> usize {
        let stale: Vec<SocketAddr> = self
            .seeders
            .peers
            .iter()
            .chain(&self.leechers.peers)
            .filter(|p| p.last_seen < cutoff)
            .map(|p| p.addr)
            .collect();
        for a in &stale {
            self.remove(a);
        }
        self.compact_order();
        stale.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: u32) -> SocketAddr {
        SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 6881))
    }

    fn up(i: u32, event: Event, left: u64) -> PeerUpdate {
        PeerUpdate {
            addr: addr(i),
            peer_id: [i as u8; 20],
            event,
            left,
            uploaded: 0,
            downloaded: 0,
        }
    }

    #[test]
    fn seeders_leechers_stop_and_complete() {
        let mut s = Swarm::default();
        s.update(&up(1, Event::Started, 100), 0, 100);
        s.update(&up(2, Event::Started, 0), 0, 100);
        assert_eq!((s.seeders(), s.leechers()), (1, 1));
        // Peer 1 finishes: it moves to the seeders and counts as completed.
        s.update(&up(1, Event::Completed, 0), 1, 100);
        assert_eq!((s.seeders(), s.leechers(), s.completed), (2, 0, 1));
        s.update(&up(2, Event::Stopped, 0), 2, 100);
        assert_eq!((s.seeders(), s.leechers()), (1, 0));
    }

    #[test]
    fn seeders_get_no_seeders_and_nobody_gets_themselves() {
        let mut s = Swarm::default();
        for i in 0..10 {
            s.update(&up(i, Event::Started, u64::from(i % 2)), 0, 100);
        }
        let got = s.sample(&addr(0), true, 50);
        assert_eq!(got.len(), 5);
        assert!(got.iter().all(|p| p.addr != addr(0)));
        let got = s.sample(&addr(1), false, 50);
        assert_eq!(got.len(), 9);
        assert_eq!(s.sample(&addr(1), false, 3).len(), 3);
    }

    #[test]
    fn full_swarm_evicts_the_oldest() {
        let mut s = Swarm::default();
        for i in 0..5 {
            s.update(&up(i, Event::None, 1), u64::from(i), 5);
        }
        // Peer 0 re-announces: peer 1 is now the oldest.
        s.update(&up(0, Event::None, 1), 10, 5);
        s.update(&up(9, Event::None, 1), 11, 5);
        let addrs: Vec<SocketAddr> = s
            .sample(&addr(99), false, 10)
            .iter()
            .map(|p| p.addr)
            .collect();
        assert_eq!(addrs.len(), 5);
        assert!(!addrs.contains(&addr(1)));
        assert!(addrs.contains(&addr(0)) && addrs.contains(&addr(9)));
    }

    #[test]
    fn order_queue_stays_bounded_under_reannounces() {
        let mut s = Swarm::default();
        for t in 0..10_000u64 {
            s.update(&up((t % 3) as u32, Event::None, 1), t, 100);
        }
        assert!(s.order.len() <= 2 * 3 + 64 + 1);
    }

    #[test]
    fn expiry_and_transfer_deltas() {
        let mut s = Swarm::default();
        let mut u = up(1, Event::Started, 10);
        s.update(&u, 0, 10);
        u.downloaded = 500;
        u.uploaded = 20;
        u.event = Event::None;
        let t = s.update(&u, 5, 10);
        assert_eq!(
            t,
            Transfer {
                downloaded: 500,
                uploaded: 20
            }
        );
        assert_eq!((s.peer_downloaded, s.peer_uploaded), (500, 20));
        s.update(&up(2, Event::Started, 10), 9, 10);
        assert_eq!(s.expire(6), 1);
        assert_eq!(s.leechers(), 1);
    }
}
