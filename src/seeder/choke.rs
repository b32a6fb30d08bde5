//! Who gets served: seed choking with a bounded number of unchoke slots rotated
//! round-robin, plus one optimistic slot, and the process-wide upload rate limit.
//!
//! A seed has nothing to gain from tit-for-tat, so slots simply rotate every interval
//! among interested peers so that everyone is served in turn; with fewer interested peers
//! than slots, all are unchoked at once. Peers learn their state through a watch channel.
//! No I/O here (the rate limiter only sleeps).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// How often unchoke slots rotate.
pub const ROTATE_EVERY: Duration = Duration::from_secs(15);

#[derive(Debug)]
struct Entry {
    interested: bool,
    unchoked: watch::Sender<bool>,
}

#[derive(Debug, Default)]
struct State {
    peers: BTreeMap<u64, Entry>,
    next_key: u64,
    /// Round-robin position: the key after the last peer given a regular slot.
    cursor: u64,
}

/// The choker for all of the seeder's peers.
#[derive(Debug)]
pub struct Choker {
    slots: usize,
    state: Mutex<State>,
}

impl Choker {
    /// `slots` regular unchoke slots (plus one optimistic).
    pub fn new(slots: usize) -> Self {
        Choker {
            slots: slots.max(1),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a peer; it starts choked.
    pub fn join(&self) -> (u64, watch::Receiver<bool>) {
        let mut s = self.lock();
        let key = s.next_key;
        s.next_key += 1;
        let (tx, rx) = watch::channel(false);
        s.peers.insert(
            key,
            Entry {
                interested: false,
                unchoked: tx,
            },
        );
        (key, rx)
    }

    /// Forgets a peer and gives its slot to someone waiting.
    pub fn leave(&self, key: u64) {
        let mut s = self.lock();
        s.peers.remove(&key);
        self.fill(&mut s);
    }

    /// Records interest; an interested peer is unchoked at once if a slot is free, and a
    /// peer that loses interest frees its slot.
    pub fn set_interested(&self, key: u64, interested: bool) {
        let mut s = self.lock();
        let Some(e) = s.peers.get_mut(&key) else {
            return;
        };
        // A repeated Interested or NotInterested changes nothing: return before the walk
        // over every peer, so a peer flooding them costs next to nothing.
        if e.interested == interested {
            return;
        }
        e.interested = interested;
        if !interested {
            set(&e.unchoked, false);
        }
        self.fill(&mut s);
    }

    fn unchoked_count(s: &State) -> usize {
        s.peers.values().filter(|e| *e.unchoked.borrow()).count()
    }

    /// Unchokes waiting interested peers while slots (regular + optimistic) are free.
    fn fill(&self, s: &mut State) {
        let mut free = (self.slots + 1).saturating_sub(Self::unchoked_count(s));
        if free == 0 {
            return;
        }
        let cursor = s.cursor;
        let keys: Vec<u64> = s
            .peers
            .range(cursor..)
            .chain(s.peers.range(..cursor))
            .filter(|(_, e)| e.interested && !*e.unchoked.borrow())
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            if free == 0 {
                break;
            }
            if let Some(e) = s.peers.get(&k) {
                set(&e.unchoked, true);
                free -= 1;
            }
        }
    }

    /// The periodic rotation: the next `slots` interested peers after the cursor get the
    /// regular slots, one random other interested peer the optimistic slot, the rest wait.
    pub fn rotate(&self) {
        let mut s = self.lock();
        let cursor = s.cursor;
        let interested: Vec<u64> = s
            .peers
            .range(cursor..)
            .chain(s.peers.range(..cursor))
            .filter(|(_, e)| e.interested)
            .map(|(k, _)| *k)
            .collect();
        let mut chosen: Vec<u64> = interested.iter().take(self.slots).copied().collect();
        if interested.len() > self.slots {
            let rest = &interested[self.slots..];
            chosen.push(rest[fastrand::usize(..rest.len())]);
        }
        if let Some(last) = interested.get(self.slots.min(interested.len()).saturating_sub(1)) {
            s.cursor = last + 1;
        }
        for (k, e) in &s.peers {
            set(&e.unchoked, chosen.contains(k));
        }
    }
}

/// Changes a peer's state, waking it only when the state really changes (a rotation must
/// not re-send Unchoke to peers that stay unchoked).
fn set(tx: &watch::Sender<bool>, unchoked: bool) {
    tx.send_if_modified(|v| {
        let changed = *v != unchoked;
        *v = unchoked;
        changed
    });
}

/// A token bucket shared by every upload (bytes per second; 0 means unlimited).
#[derive(Debug)]
pub struct RateLimiter {
    rate: u64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    /// A limiter of `rate` bytes per second with a one-second burst.
    pub fn new(rate: u64) -> Self {
        RateLimiter {
            rate,
            state: Mutex::new((rate as f64, Instant::now())),
        }
    }

    /// Waits until `bytes` may be sent.
    pub async fn acquire(&self, bytes: u64) {
        if self.rate == 0 {
            return;
        }
        let wait = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let refill = now.duration_since(s.1).as_secs_f64() * self.rate as f64;
            s.0 = (s.0 + refill).min(self.rate as f64);
            s.1 = now;
            // Take the tokens now (possibly going negative) and sleep off the debt, so
            // concurrent senders queue fairly instead of all waking at once.
            s.0 -= bytes as f64;
            if s.0 < 0.0 {
                Duration::from_secs_f64(-s.0 / self.rate as f64)
            } else {
                Duration::ZERO
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unchoked(rxs: &[(u64, watch::Receiver<bool>)]) -> Vec<u64> {
        rxs.iter()
            .filter(|(_, r)| *r.borrow())
            .map(|(k, _)| *k)
            .collect()
    }

    #[test]
    fn few_interested_peers_are_all_unchoked_at_once() {
        let c = Choker::new(2);
        let peers: Vec<_> = (0..3).map(|_| c.join()).collect();
        for (k, _) in &peers {
            c.set_interested(*k, true);
        }
        // 2 regular + 1 optimistic.
        assert_eq!(unchoked(&peers).len(), 3);
        c.set_interested(peers[0].0, false);
        assert_eq!(unchoked(&peers), vec![1, 2]);
    }

    #[test]
    fn slots_rotate_so_everyone_is_served_in_turn() {
        let c = Choker::new(2);
        let peers: Vec<_> = (0..7).map(|_| c.join()).collect();
        for (k, _) in &peers {
            c.set_interested(*k, true);
        }
        let mut served = std::collections::BTreeSet::new();
        for _ in 0..4 {
            c.rotate();
            let now = unchoked(&peers);
            assert_eq!(now.len(), 3, "2 regular + 1 optimistic");
            served.extend(now);
        }
        assert_eq!(
            served.len(),
            7,
            "every interested peer got a turn: {served:?}"
        );
    }

    #[test]
    fn leaving_frees_a_slot_for_a_waiting_peer() {
        let c = Choker::new(1);
        let peers: Vec<_> = (0..3).map(|_| c.join()).collect();
        for (k, _) in &peers {
            c.set_interested(*k, true);
        }
        assert_eq!(unchoked(&peers), vec![0, 1]);
        c.leave(0);
        assert_eq!(unchoked(&peers[1..]), vec![1, 2]);
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limit_spreads_uploads_over_time() {
        let l = RateLimiter::new(100_000);
        let start = Instant::now();
        for _ in 0..30 {
            l.acquire(10_000).await;
        }
        // 300 kB at 100 kB/s with a 100 kB burst: about 2 s.
        let took = start.elapsed().as_secs_f64();
        assert!((1.9..2.2).contains(&took), "{took}");
        let free = RateLimiter::new(0);
        let start = Instant::now();
        free.acquire(u64::MAX).await;
        assert!(start.elapsed() < Duration::from_millis(1));
    }
}
