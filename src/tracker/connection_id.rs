//! Stateless BEP 15 connection ids: a keyed hash of the client's address and a 2-minute
//! time window, so checking one needs no storage (and a flood of connects costs no memory).
//!
//! Not the packet format (that is `proto::udp`), only the ids it carries.
//!
//! The ids always have their top bit set. The UDP port also answers STUN, told apart by a
//! packet's first two bits being 0 and bytes 4..8 being STUN's magic cookie; an announce or
//! scrape starts with its connection id, so an id with the top bit 0 and the cookie as its
//! low half (one in 2^34 of raw hashes) would make a valid announce look like STUN. With
//! the top bit set no issued id can, and none equals BEP 15's connect magic either.

use std::hash::{BuildHasher, Hash};
use std::net::SocketAddr;

/// Length of one connection-id window; an id is accepted in its window and the next.
pub const WINDOW_SECS: u64 = 120;

/// Set in every id: STUN messages start with two zero bits (see the module doc).
const STUN_PROOF_BIT: u64 = 1 << 63;

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
        std::hash::Hasher::finish(&h) | STUN_PROOF_BIT
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
    use crate::net::stun;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn issued_ids_never_look_like_stun(ip in any::<[u8; 16]>(), port in any::<u16>(), now in any::<u64>()) {
            let ids = ConnectionIds::new();
            let addr = SocketAddr::new(std::net::Ipv6Addr::from(ip).to_canonical(), port);
            let id = ids.issue(&addr, now);
            prop_assert!(!stun::id_looks_like_stun(id));
            // The same, on a whole announce packet as the UDP port sees it.
            let mut packet = id.to_be_bytes().to_vec();
            packet.extend_from_slice(&[0u8; 90]);
            packet[4..8].copy_from_slice(&stun::MAGIC_COOKIE.to_be_bytes());
            prop_assert!(!stun::is_stun(&packet));
        }
    }

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
