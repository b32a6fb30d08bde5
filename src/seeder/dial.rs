//! Connecting out: the seeder dials leechers that announce to our tracker, unless they are
//! connected to us already.
//!
//! A listener's client learns our address from the tracker but connects on its own
//! schedule (aria2 about a second later); dialling it as soon as it announces starts the
//! download at once, and it is how a seed behind NAT, whose port nobody can reach, still
//! serves the listeners that can be reached. Dials are bounded: one per peer and torrent
//! every few minutes, a few at a time, inside the seeder's connection caps.
//!
//! When our dial and the client's own connection cross, we keep both and let the client
//! drop one: aria2 and libtorrent each close the second connection they see from a peer
//! id, and the order they see them in need not be ours, so a seeder that also closed one
//! could leave the client with none.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Semaphore};

use crate::bt::{InfoHash, PeerId};
use crate::tracker::Leecher;

use super::peer;
use super::Seeder;

/// Dial requests waiting (more are dropped: the peer still finds us through the tracker).
const QUEUE: usize = 256;
/// Dials under way at once.
const IN_FLIGHT: usize = 16;
/// A peer and torrent are dialled at most once in this long.
const REDIAL_AFTER: Duration = Duration::from_secs(600);
/// After a failed dial (refused, timed out, broken off) the next announce may retry sooner.
const RETRY_AFTER: Duration = Duration::from_secs(60);
/// Remembered dials (older ones are forgotten first when full).
const REMEMBERED: usize = 10_000;

type Key = (InfoHash, PeerId);

/// The peers we have a session with, per torrent and peer id, so that a leecher already
/// connected to us is not dialled as well. At most one entry per live connection.
#[derive(Debug, Default)]
pub struct Sessions {
    /// Live connections per torrent and peer id.
    map: Mutex<HashMap<Key, usize>>,
}

/// A registered session; dropped when the connection ends.
#[derive(Debug)]
pub struct Registered<'a> {
    sessions: &'a Sessions,
    key: Key,
}

impl Sessions {
    /// Registers a session with `peer_id` for `hash` (both ways, duplicates included: the
    /// client decides which of two crossing connections it keeps).
    pub fn register(&self, hash: InfoHash, peer_id: PeerId) -> Registered<'_> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((hash, peer_id)).or_default() += 1;
        Registered {
            sessions: self,
            key: (hash, peer_id),
        }
    }

    /// Whether we have a session with `peer_id` for `hash` now.
    pub fn connected(&self, hash: InfoHash, peer_id: PeerId) -> bool {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.contains_key(&(hash, peer_id))
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let mut map = self.sessions.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// The queue of peers to dial, and what bounds dialling.
#[derive(Debug)]
pub struct Dialer {
    tx: mpsc::Sender<Leecher>,
    rx: Mutex<Option<mpsc::Receiver<Leecher>>>,
    /// When each peer and torrent may be dialled again.
    recent: Mutex<HashMap<(InfoHash, SocketAddr), Instant>>,
    in_flight: Arc<Semaphore>,
}

impl Default for Dialer {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Dialer {
            tx,
            rx: Mutex::new(Some(rx)),
            recent: Mutex::default(),
            in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
        }
    }
}

impl Dialer {
    /// Where the tracker sends leechers to dial (never blocks: `try_send`).
    pub fn requests(&self) -> mpsc::Sender<Leecher> {
        self.tx.clone()
    }

    /// The receiving end, once (the seeder's accept loop owns it).
    pub fn take_queue(&self) -> Option<mpsc::Receiver<Leecher>> {
        self.rx.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Whether (hash, addr) may be dialled now; records the dial if so.
    fn due(&self, hash: InfoHash, addr: SocketAddr, now: Instant) -> bool {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.get(&(hash, addr)).is_some_and(|until| now < *until) {
            return false;
        }
        if recent.len() >= REMEMBERED {
            recent.retain(|_, until| now < *until);
            if recent.len() >= REMEMBERED {
                // Under a flood of distinct peers, forget the older half.
                let mut times: Vec<Instant> = recent.values().copied().collect();
                times.sort_unstable();
                let cut = times[times.len() / 2];
                recent.retain(|_, until| *until > cut);
            }
        }
        recent.insert((hash, addr), now + REDIAL_AFTER);
        true
    }

    /// A dial failed: its peer may be dialled again after RETRY_AFTER, not REDIAL_AFTER.
    fn failed(&self, hash: InfoHash, addr: SocketAddr, now: Instant) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = recent.get_mut(&(hash, addr)) {
            *until = (*until).min(now + RETRY_AFTER);
        }
    }
}

/// Whether an announced address is one we would dial at all.
fn dialable(addr: &SocketAddr) -> bool {
    let ip = addr.ip().to_canonical();
    addr.port() != 0 && !ip.is_unspecified() && !ip.is_multicast()
}

/// Dials `leecher` in the background when every bound allows it and it is not connected to
/// us already; the session ends when `stop` turns true.
pub fn consider(seeder: &Arc<Seeder>, leecher: Leecher, stop: tokio::sync::watch::Receiver<bool>) {
    let Leecher {
        info_hash: hash,
        addr,
        peer_id,
    } = leecher;
    if !dialable(&addr) || seeder.sessions.connected(hash, peer_id) {
        return;
    }
    let Some(torrent) = seeder.torrent(&hash).filter(|t| t.is_active()) else {
        return;
    };
    let Ok(dialing) = seeder.dialer.in_flight.clone().try_acquire_owned() else {
        tracing::debug!("seeder: dial queue full; {addr} will connect to us itself");
        return;
    };
    // Only a dial that happens counts against the peer's next one.
    let Some((permit, ip_slot)) = seeder.connection_slot(addr) else {
        return;
    };
    if !seeder.dialer.due(hash, addr, Instant::now()) {
        return;
    }
    let seeder = seeder.clone();
    super::spawn_session(addr, (permit, ip_slot), stop, async move {
        let r = peer::dial(addr, torrent, seeder.clone(), dialing).await;
        if r.is_err() {
            seeder.dialer.failed(hash, addr, Instant::now());
        }
        r
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_count_every_connection_and_clean_up() {
        let s = Sessions::default();
        let (h, p) = (InfoHash([1; 20]), PeerId([2; 20]));
        assert!(!s.connected(h, p));
        let a = s.register(h, p);
        // A crossing second connection is registered too: the client picks which stays.
        let b = s.register(h, p);
        assert!(s.connected(h, p));
        // Another torrent, or another peer, is another session.
        assert!(!s.connected(InfoHash([9; 20]), p));
        assert!(!s.connected(h, PeerId([3; 20])));
        drop(a);
        assert!(s.connected(h, p), "one connection is left");
        drop(b);
        assert!(!s.connected(h, p));
        assert!(s.map.lock().expect("lock").is_empty(), "guards clean up");
    }

    #[test]
    fn a_peer_is_dialled_once_per_interval_and_memory_is_bounded() {
        let d = Dialer::default();
        let h = InfoHash([1; 20]);
        let a: SocketAddr = "10.0.0.1:6881".parse().expect("addr");
        let t0 = Instant::now();
        assert!(d.due(h, a, t0));
        assert!(!d.due(h, a, t0 + Duration::from_secs(5)));
        assert!(d.due(InfoHash([2; 20]), a, t0));
        assert!(d.due(h, a, t0 + REDIAL_AFTER));
        // A failed dial may be retried after RETRY_AFTER.
        let t1 = t0 + REDIAL_AFTER;
        d.failed(h, a, t1);
        assert!(!d.due(h, a, t1 + RETRY_AFTER / 2));
        assert!(d.due(h, a, t1 + RETRY_AFTER));
        for i in 0..(REMEMBERED as u32 + 10) {
            let addr = SocketAddr::from((std::net::Ipv4Addr::from(i), 1000));
            assert!(d.due(
                h,
                addr,
                t0 + REDIAL_AFTER + Duration::from_millis(u64::from(i))
            ));
        }
        assert!(d.recent.lock().expect("lock").len() <= REMEMBERED);
    }

    #[test]
    fn only_real_addresses_are_dialled() {
        for (a, ok) in [
            ("10.0.0.1:6881", true),
            ("[2001:db8::1]:6881", true),
            ("10.0.0.1:0", false),
            ("0.0.0.0:6881", false),
            ("[::]:6881", false),
            ("224.0.0.1:6881", false),
        ] {
            assert_eq!(dialable(&a.parse().expect("addr")), ok, "{a}");
        }
    }
}
