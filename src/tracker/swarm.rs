//! One torrent's swarm: its peers, kept in four groups (seeders and leechers, IPv4 and
//! IPv6), with bounded size.
//!
//! Peers are keyed by (ip, port). Each group is a vector plus an index map, so adding,
//! removing and sampling cost O(1) per peer. An announce-order queue tagged with a
//! per-announce sequence number (compacted as it grows) finds the oldest peer to evict when
//! the swarm is full; a per-address cap (per /64 for IPv6) keeps one host from filling it.
//! Time is passed in, never read, so tests control it. No I/O and no locking here.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use crate::bt::PeerId;

/// One peer as the tracker knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its peer id.
    pub peer_id: PeerId,
    /// When it last announced (seconds, caller's clock).
    pub last_seen: u64,
    /// Bytes it reported uploaded.
    pub uploaded: u64,
    /// Bytes it reported downloaded.
    pub downloaded: u64,
    /// Sequence number of its latest announce, matching its entry in the order queue.
    seq: u64,
}

/// Peers of one kind, indexable and removable in O(1).
#[derive(Debug, Default)]
struct PeerSet {
    peers: Vec<Peer>,
    index: HashMap<SocketAddr, usize>,
}

impl PeerSet {
    fn get(&self, addr: &SocketAddr) -> Option<&Peer> {
        self.peers.get(*self.index.get(addr)?)
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

/// Byte counters reported by a peer's announce, as deltas since its previous one.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// Newly reported downloaded bytes.
    pub downloaded: u64,
    /// Newly reported uploaded bytes.
    pub uploaded: u64,
}

/// Which address family a client can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// IPv4 only (a UDP announce over IPv4).
    V4,
    /// IPv6 only (a UDP announce over IPv6).
    V6,
}

/// Limits that keep a swarm's memory flat and one host from owning it.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Peers in the swarm; the least recently seen is evicted beyond it.
    pub max_peers: usize,
    /// Peers per address (per /64 for IPv6); further ones are not stored.
    pub max_per_ip: usize,
    /// Largest byte increase one announce may report (the file's size, plus slack).
    pub max_transfer: u64,
}

/// One torrent's swarm.
#[derive(Debug, Default)]
pub struct Swarm {
    /// [seeder as usize][ipv6 as usize].
    groups: [[PeerSet; 2]; 2],
    /// Announce order for eviction: (addr, seq); entries whose seq is stale are skipped.
    order: VecDeque<(SocketAddr, u64)>,
    next_seq: u64,
    per_host: HashMap<IpAddr, usize>,
    /// Completed downloads seen (the scrape's `downloaded`).
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
    pub peer_id: PeerId,
    /// Event.
    pub event: Event,
    /// Bytes left; 0 makes it a seeder.
    pub left: u64,
    /// Uploaded so far.
    pub uploaded: u64,
    /// Downloaded so far.
    pub downloaded: u64,
}

/// The key per-address caps count by: the address, or its /64 for IPv6.
pub fn host_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

impl Swarm {
    fn group(&self, seeder: bool, v6: bool) -> &PeerSet {
        &self.groups[usize::from(seeder)][usize::from(v6)]
    }

    fn group_mut(&mut self, seeder: bool, v6: bool) -> &mut PeerSet {
        &mut self.groups[usize::from(seeder)][usize::from(v6)]
    }

    /// Seeders now.
    pub fn seeders(&self) -> usize {
        self.group(true, false).len() + self.group(true, true).len()
    }

    /// Leechers now.
    pub fn leechers(&self) -> usize {
        self.group(false, false).len() + self.group(false, true).len()
    }

    fn len(&self) -> usize {
        self.seeders() + self.leechers()
    }

    fn find(&self, addr: &SocketAddr) -> Option<&Peer> {
        let v6 = addr.is_ipv6();
        self.group(true, v6)
            .get(addr)
            .or_else(|| self.group(false, v6).get(addr))
    }

    /// Removes a peer; returns it and whether it was a seeder.
    fn remove(&mut self, addr: &SocketAddr) -> Option<(Peer, bool)> {
        let v6 = addr.is_ipv6();
        let (peer, seeder) = match self.group_mut(true, v6).remove(addr) {
            Some(p) => (p, true),
            None => (self.group_mut(false, v6).remove(addr)?, false),
        };
        let key = host_key(addr.ip());
        if let Some(n) = self.per_host.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.per_host.remove(&key);
            }
        }
        Some((peer, seeder))
    }

    /// Applies an announce at time `now`.
    pub fn update(&mut self, u: &PeerUpdate, now: u64, limits: &Limits) -> Transfer {
        let previous = self.remove(&u.addr);
        // Deltas are clamped: a client's numbers are only claims.
        let transfer = previous
            .as_ref()
            .map_or_else(Transfer::default, |(p, _)| Transfer {
                downloaded: u
                    .downloaded
                    .saturating_sub(p.downloaded)
                    .min(limits.max_transfer),
                uploaded: u
                    .uploaded
                    .saturating_sub(p.uploaded)
                    .min(limits.max_transfer),
            });
        self.peer_downloaded = self.peer_downloaded.saturating_add(transfer.downloaded);
        self.peer_uploaded = self.peer_uploaded.saturating_add(transfer.uploaded);
        // A leecher we knew that now has everything completed, whether it says so with
        // `completed` or not: a client stopping right after it finishes (aria2 with
        // --seed-time=0) may send only `stopped` with left=0. Only a leecher we knew can
        // complete, so repeating the event counts nothing.
        if u.left == 0 && matches!(previous, Some((_, false))) {
            self.completed = self.completed.saturating_add(1);
        }
        if u.event == Event::Stopped {
            return transfer;
        }
        let key = host_key(u.addr.ip());
        if previous.is_none() {
            if self.per_host.get(&key).copied().unwrap_or(0) >= limits.max_per_ip.max(1) {
                return transfer;
            }
            while self.len() >= limits.max_peers.max(1) {
                if !self.evict_oldest() {
                    break;
                }
            }
        }
        self.next_seq += 1;
        let peer = Peer {
            addr: u.addr,
            peer_id: u.peer_id,
            last_seen: now,
            uploaded: u.uploaded,
            downloaded: u.downloaded,
            seq: self.next_seq,
        };
        *self.per_host.entry(key).or_default() += 1;
        self.group_mut(u.left == 0, u.addr.is_ipv6()).insert(peer);
        self.order.push_back((u.addr, self.next_seq));
        self.compact_order();
        transfer
    }

    /// Removes the peer that announced least recently; false if none is left.
    fn evict_oldest(&mut self) -> bool {
        while let Some((addr, seq)) = self.order.pop_front() {
            if self.find(&addr).is_some_and(|p| p.seq == seq) {
                self.remove(&addr);
                return true;
            }
        }
        false
    }

    /// Keeps the order queue within twice the peer count: every re-announce leaves a stale
    /// entry behind, and only the latest (by sequence number) survives compaction.
    fn compact_order(&mut self) {
        if self.order.len() > 2 * self.len() + 64 {
            let mut order = std::mem::take(&mut self.order);
            order.retain(|(addr, seq)| self.find(addr).is_some_and(|p| p.seq == *seq));
            self.order = order;
        }
    }

    /// Up to `want` peers for `requester` (never itself): leechers get seeders and
    /// leechers, seeders get leechers, each group contributing in proportion to its size.
    /// `family` restricts the draw to what the client can use (UDP replies carry one).
    ///
    /// Each group gives one contiguous run from a random start: peers sit in arrival order
    /// churned by removals, so a run is a fair sample, and reading neighbours keeps the
    /// draw cache-friendly (a uniform draw of scattered peers was a fifth of an announce's
    /// cost, in cache misses).
    pub fn sample(
        &self,
        requester: &SocketAddr,
        is_seeder: bool,
        want: usize,
        family: Option<Family>,
    ) -> Vec<&Peer> {
        let families: &[bool] = match family {
            None => &[false, true],
            Some(Family::V4) => &[false],
            Some(Family::V6) => &[true],
        };
        let kinds: &[bool] = if is_seeder { &[false] } else { &[false, true] };
        let mut picked = Vec::with_capacity(want.saturating_add(1).min(self.len()));
        let sets = kinds
            .iter()
            .flat_map(|&s| families.iter().map(move |&v6| (s, v6)))
            .map(|(s, v6)| self.group(s, v6));
        let total: usize = sets.clone().map(PeerSet::len).sum();
        // One more than wanted, in case the requester is among them.
        let k = want.saturating_add(1).min(total);
        let (mut before, mut seen) = (0usize, 0usize);
        for set in sets {
            let n = set.len();
            seen += n;
            // Quotas from cumulative shares add up to exactly k, each at most n.
            let upto = k * seen / total.max(1);
            let quota = upto - before;
            before = upto;
            if quota == 0 {
                continue;
            }
            let start = fastrand::usize(..n);
            picked.extend((0..quota).map(|i| &set.peers[(start + i) % n]));
        }
        picked.retain(|p| p.addr != *requester);
        // Shuffled before the cut, so the extra draw is dropped from a random group, not
        // always from the last one drawn (the seeders, or IPv6).
        fastrand::shuffle(&mut picked);
        picked.truncate(want);
        picked
    }

    /// Drops peers not seen since `cutoff`; returns how many.
    pub fn expire(&mut self, cutoff: u64) -> usize {
        let stale: Vec<SocketAddr> = self
            .groups
            .iter()
            .flatten()
            .flat_map(|g| &g.peers)
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

    const LIMITS: Limits = Limits {
        max_peers: 100,
        max_per_ip: 100,
        max_transfer: 1 << 40,
    };

    fn addr(i: u32) -> SocketAddr {
        SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 6881))
    }

    fn up(i: u32, event: Event, left: u64) -> PeerUpdate {
        PeerUpdate {
            addr: addr(i),
            peer_id: PeerId([i as u8; 20]),
            event,
            left,
            uploaded: 0,
            downloaded: 0,
        }
    }

    #[test]
    fn seeders_leechers_stop_and_complete() {
        let mut s = Swarm::default();
        s.update(&up(1, Event::Started, 100), 0, &LIMITS);
        s.update(&up(2, Event::Started, 0), 0, &LIMITS);
        assert_eq!((s.seeders(), s.leechers()), (1, 1));
        // Peer 1 finishes: it moves to the seeders and counts as completed, once.
        s.update(&up(1, Event::Completed, 0), 1, &LIMITS);
        s.update(&up(1, Event::Completed, 0), 2, &LIMITS);
        s.update(&up(2, Event::Completed, 0), 2, &LIMITS);
        assert_eq!((s.seeders(), s.leechers(), s.completed), (2, 0, 1));
        s.update(&up(2, Event::Stopped, 0), 2, &LIMITS);
        assert_eq!((s.seeders(), s.leechers()), (1, 0));
        // A leecher that reaches left=0 without `completed` (a regular announce, or straight
        // to `stopped`) has completed too.
        s.update(&up(3, Event::Started, 100), 3, &LIMITS);
        s.update(&up(3, Event::None, 0), 4, &LIMITS);
        s.update(&up(4, Event::Started, 100), 3, &LIMITS);
        s.update(&up(4, Event::Stopped, 0), 4, &LIMITS);
        // A leecher that stops unfinished has not.
        s.update(&up(5, Event::Started, 100), 3, &LIMITS);
        s.update(&up(5, Event::Stopped, 40), 4, &LIMITS);
        assert_eq!(s.completed, 3);
    }

    #[test]
    fn seeders_get_no_seeders_and_nobody_gets_themselves() {
        let mut s = Swarm::default();
        for i in 0..10 {
            s.update(&up(i, Event::Started, u64::from(i % 2)), 0, &LIMITS);
        }
        let got = s.sample(&addr(0), true, 50, None);
        assert_eq!(got.len(), 5);
        assert!(got.iter().all(|p| p.addr != addr(0)));
        let got = s.sample(&addr(1), false, 50, None);
        assert_eq!(got.len(), 9);
        assert_eq!(s.sample(&addr(1), false, 3, None).len(), 3);
    }

    #[test]
    fn a_newcomer_is_not_denied_the_last_group_when_the_reply_is_capped() {
        // Ten leechers and one seeder; a peer not yet in the swarm asks for ten. One more
        // than wanted is drawn in case the asker is among them; when it is not, the extra
        // must be dropped at random, not always from the last group drawn (the seeders).
        let mut s = Swarm::default();
        for i in 0..10 {
            s.update(&up(i, Event::Started, 5), 0, &LIMITS);
        }
        s.update(&up(10, Event::Started, 0), 0, &LIMITS);
        let seeder_listed = (0..100)
            .filter(|_| {
                let got = s.sample(&addr(99), false, 10, None);
                assert_eq!(got.len(), 10);
                got.iter().any(|p| p.addr == addr(10))
            })
            .count();
        // 10 in 11 replies should list it; never is the bug.
        assert!(
            seeder_listed > 50,
            "seeder listed in {seeder_listed} of 100 replies"
        );
    }

    #[test]
    fn leechers_get_seeders_even_in_a_crowd_of_leechers() {
        let mut s = Swarm::default();
        for i in 0..60 {
            s.update(&up(i, Event::Started, 5), 0, &LIMITS);
        }
        for i in 60..70 {
            s.update(&up(i, Event::Started, 0), 0, &LIMITS);
        }
        let mut seeders_seen = 0;
        for _ in 0..50 {
            let got = s.sample(&addr(0), false, 20, None);
            assert_eq!(got.len(), 20);
            let distinct: std::collections::HashSet<SocketAddr> =
                got.iter().map(|p| p.addr).collect();
            assert_eq!(distinct.len(), 20, "sampled twice");
            seeders_seen += got.iter().filter(|p| p.addr >= addr(60)).count();
        }
        // Uniform draws give 50 × 20 × 10/69 ≈ 145 seeders; 0 would mean leechers first.
        assert!(
            seeders_seen > 60,
            "only {seeders_seen} seeders in 1000 draws"
        );
    }

    #[test]
    fn family_filter_fills_the_reply_from_one_family() {
        let mut s = Swarm::default();
        for i in 0..100 {
            s.update(&up(i, Event::Started, 5), 0, &LIMITS);
        }
        for i in 0..5u16 {
            let mut u = up(0, Event::Started, 5);
            u.addr = SocketAddr::new(
                IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, i, 0, 0, 0, 0, 1)),
                7000,
            );
            s.update(&u, 0, &LIMITS);
        }
        let me = SocketAddr::from(([127, 0, 0, 1], 1));
        assert_eq!(s.sample(&me, false, 10, Some(Family::V6)).len(), 5);
        let v4 = s.sample(&me, false, 10, Some(Family::V4));
        assert_eq!(v4.len(), 10);
        assert!(v4.iter().all(|p| p.addr.is_ipv4()));
    }

    #[test]
    fn full_swarm_evicts_the_oldest_and_one_host_cannot_fill_it() {
        let limits = Limits {
            max_peers: 5,
            max_per_ip: 2,
            ..LIMITS
        };
        let mut s = Swarm::default();
        for i in 0..5 {
            s.update(&up(i, Event::None, 1), u64::from(i), &limits);
        }
        // Peer 0 re-announces: peer 1 is now the oldest.
        s.update(&up(0, Event::None, 1), 10, &limits);
        s.update(&up(9, Event::None, 1), 11, &limits);
        let addrs: Vec<SocketAddr> = s
            .sample(&addr(99), false, 10, None)
            .iter()
            .map(|p| p.addr)
            .collect();
        assert_eq!(addrs.len(), 5);
        assert!(!addrs.contains(&addr(1)));
        assert!(addrs.contains(&addr(0)) && addrs.contains(&addr(9)));
        // Many ports of one address: only two are kept, and nobody else is evicted.
        for port in 0..50 {
            let mut u = up(77, Event::None, 1);
            u.addr.set_port(10_000 + port);
            s.update(&u, 12, &limits);
        }
        let from_77 = s
            .sample(&addr(99), false, 10, None)
            .iter()
            .filter(|p| p.addr.ip() == addr(77).ip())
            .count();
        assert_eq!(from_77, 2);
    }

    #[test]
    fn reannouncing_within_one_second_keeps_the_order_queue_short() {
        let mut s = Swarm::default();
        for _ in 0..20_000 {
            s.update(&up(1, Event::None, 1), 0, &LIMITS);
        }
        assert!(s.order.len() <= 2 + 64 + 1, "{}", s.order.len());
    }

    #[test]
    fn expiry_and_clamped_transfer_deltas() {
        let limits = Limits {
            max_transfer: 1000,
            ..LIMITS
        };
        let mut s = Swarm::default();
        let mut u = up(1, Event::Started, 10);
        s.update(&u, 0, &limits);
        u.downloaded = 500;
        u.uploaded = 20;
        u.event = Event::None;
        let t = s.update(&u, 5, &limits);
        assert_eq!(
            t,
            Transfer {
                downloaded: 500,
                uploaded: 20
            }
        );
        u.downloaded = u64::MAX;
        s.update(&u, 6, &limits);
        assert_eq!((s.peer_downloaded, s.peer_uploaded), (1500, 20));
        s.update(&up(2, Event::Started, 10), 9, &limits);
        assert_eq!(s.expire(7), 1);
        assert_eq!(s.leechers(), 1);
    }
}
