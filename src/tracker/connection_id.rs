//! Stateless BEP 15 connection ids: a keyed hash of the client's address and a 2-minute
//! time window, so checking one needs no storage (and a flood of connects costs no memory).
//!
//! Not the packet format (that is `proto::udp`), only the ids it carries.

use std::hash::{BuildHasher, Hash};
use std::net::SocketAddr;

/// Length of one connection-id window; an id is accepted in its window and the next.
pub const WINDOW_SECS: u64 = 120;

/// Stateless connection ids: a keyed hash (SipHash with a random per-process key) of the
/// client's IP and port and the time window.
#[derive(Debug, Clone)]
pub struct ConnectionIds {
    key: std::collections::hash_map::RandomState,
}

impl Default for ConnectionIds {
    fn default() -> Self {
        Self::new()
    }
}

impl ConnectionIds {
    /// A fresh random key: ids do not survive a restart (clients reconnect, as BEP 15 expects).
    pub fn new() -> Self {
        ConnectionIds {
            key: std::collections::hash_map::RandomState::new(),
        }
    }

    fn id(&self, addr: &SocketAddr, window: u64) -> u64 {
        let mut h = self.key.build_hasher();
        addr.ip().hash(&mut h);
        addr.port().hash(&mut h);
        window.hash(&mut h);
        std::hash::Hasher::finish(&h)
    }

    /// The id for `addr` at `now_secs` (any clock in seconds, the same for `check`).
    pub fn issue(&self, addr: &SocketAddr, now_secs: u64) -> u64 {
        self.id(addr, now_secs / WINDOW_SECS)
    }

    /// Whether `id` was issued to `addr` in this window or the previous one.
    pub fn check(&self, id: u64, addr: &SocketAddr, now_secs: u64) -> bool {
        let w = now_secs / WINDOW_SECS;
        id == self.id(addr, w) || (w > 0 && id == self.id(addr, w - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_ids_are_bound_to_address_and_time() {
        let ids = ConnectionIds::new();
        let a: SocketAddr = "10.0.0.1:1000".parse().expect("addr");
        let b: SocketAddr = "10.0.0.2:1000".parse().expect("addr");
        let t = 1_000_000;
        let id = ids.issue(&a, t);
        assert!(ids.check(id, &a, t));
        assert!(ids.check(id, &a, t + WINDOW_SECS));
        assert!(!ids.check(id, &a, t + 3 * WINDOW_SECS));
        assert!(!ids.check(id, &b, t));
        assert!(
            !ConnectionIds::new().check(id, &a, t),
            "keys differ per process"
        );
    }
}
