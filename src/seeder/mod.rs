//! The built-in BitTorrent seeder: one TCP port that seeds every published episode, so a
//! torrent downloads even when no listener is online.
//!
//! [`wire`] is the pure peer-protocol codec, [`storage`] the verified bytes, [`choke`] who
//! gets served, [`peer`] one connection. This module holds what they share (the torrents
//! by info hash, the choker, the rate limit, caps) and accepts connections. It seeds only
//! what the catalog publishes, and swaps torrents on reload.

pub mod announce;
pub mod change_watch;
pub mod choke;
pub mod dht;
pub mod dial;
pub mod mse;
pub mod outbox;
pub mod peer;
pub mod piece_cache;
pub mod storage;
pub mod wire;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

use crate::bt::{InfoHash, PeerId};
use crate::catalog::Catalog;
use crate::config::ServeSettings;
use crate::net::{IpSlot, PerIp};

use choke::{Choker, RateLimiter};
use storage::SeededTorrent;

/// A connection making no progress either way for this long is closed.
pub(crate) const PEER_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Seeder settings (from `serve:`).
#[derive(Debug, Clone)]
pub struct SeederConfig {
    /// Regular unchoke slots (one optimistic slot comes on top).
    pub unchoke_slots: usize,
    /// Peer connections at once.
    pub max_peers: usize,
    /// Peer connections per address.
    pub max_peers_per_ip: usize,
    /// Upload limit for the whole process, bytes per second (0: none).
    pub max_upload_rate: u64,
    /// Dial leechers that announce to our tracker.
    pub connect_to_peers: bool,
}

impl From<&ServeSettings> for SeederConfig {
    fn from(serve: &ServeSettings) -> Self {
        SeederConfig {
            unchoke_slots: serve.unchoke_slots,
            max_peers: serve.max_peer_connections,
            max_peers_per_ip: serve.max_peer_connections_per_ip,
            max_upload_rate: serve.max_upload_rate,
            connect_to_peers: serve.connect_to_peers,
        }
    }
}

/// What every peer connection shares.
pub struct Seeder {
    /// Our BEP 20 peer id: `-PS0100-` and 12 random characters.
    pub peer_id: PeerId,
    /// Who gets served.
    pub choker: Choker,
    /// The process-wide upload limit.
    pub limiter: RateLimiter,
    torrents: RwLock<HashMap<InfoHash, Arc<SeededTorrent>>>,
    /// Recently read pieces of every torrent.
    cache: Arc<piece_cache::PieceCache>,
    /// Writes to the seeded files, so checked pieces need no hashing until one happens.
    watch: Arc<change_watch::ChangeWatch>,
    /// Our DHT node's UDP port once it runs (0: none), sent to peers in a Port message.
    pub dht_port: std::sync::atomic::AtomicU16,
    /// Who we have sessions with (a connected leecher is not dialled).
    pub sessions: dial::Sessions,
    dialer: dial::Dialer,
    /// Peer connections at once, both ways.
    connections: Arc<Semaphore>,
    per_ip: PerIp,
    config: SeederConfig,
}

/// A BEP 20 (Azureus-style) peer id for podseed 0.1.0.
pub fn new_peer_id() -> PeerId {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut id = *b"-PS0100-000000000000";
    for b in &mut id[8..] {
        *b = ALPHABET[fastrand::usize(..ALPHABET.len())];
    }
    PeerId(id)
}

impl Seeder {
    /// A seeder with no torrents yet.
    pub fn new(config: SeederConfig) -> Self {
        Seeder {
            peer_id: new_peer_id(),
            choker: Choker::new(config.unchoke_slots),
            limiter: RateLimiter::new(config.max_upload_rate),
            torrents: RwLock::new(HashMap::new()),
            cache: Arc::default(),
            watch: Arc::default(),
            dht_port: std::sync::atomic::AtomicU16::new(0),
            sessions: dial::Sessions::default(),
            dialer: dial::Dialer::default(),
            connections: Arc::new(Semaphore::new(config.max_peers)),
            per_ip: PerIp::new(config.max_peers_per_ip),
            config,
        }
    }

    /// Where the tracker sends leechers for us to dial (None when `connect_to_peers` is off).
    pub fn dial_requests(&self) -> Option<mpsc::Sender<crate::tracker::Leecher>> {
        self.config.connect_to_peers.then(|| self.dialer.requests())
    }

    /// A place for one more connection with `addr`, within the total and per-address caps.
    fn connection_slot(&self, addr: SocketAddr) -> Option<(OwnedSemaphorePermit, IpSlot)> {
        let Some(ip_slot) = self
            .per_ip
            .acquire(crate::tracker::swarm::host_key(addr.ip().to_canonical()))
        else {
            tracing::debug!("seeder: {} has too many connections", addr.ip());
            return None;
        };
        let Ok(permit) = self.connections.clone().try_acquire_owned() else {
            tracing::debug!("seeder: peer cap reached; no connection with {addr}");
            return None;
        };
        Some((permit, ip_slot))
    }

    /// The torrent with this info hash, if seeded.
    pub fn torrent(&self, hash: &InfoHash) -> Option<Arc<SeededTorrent>> {
        self.torrents
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(hash)
            .cloned()
    }

    /// Info hashes seeded now (active ones only).
    pub fn active(&self) -> Vec<InfoHash> {
        self.torrents
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|t| t.is_active())
            .map(|t| t.info_hash)
            .collect()
    }

    /// Bytes of blocks sent to peers for the torrent `hash` (0 when not seeded).
    pub fn uploaded(&self, hash: &InfoHash) -> u64 {
        self.torrent(hash)
            .map_or(0, |t| t.uploaded.load(Ordering::Relaxed))
    }

    /// Seeds the catalog's episodes from the output folder `out`: new ones are loaded (size
    /// and mtime checked, no hashing), removed ones dropped, unchanged ones kept with their
    /// cached pieces. Blocking (reads the .torrent files): call off the async workers.
    pub fn install(&self, out: &Path, catalog: &Catalog) {
        let current: HashMap<InfoHash, Arc<SeededTorrent>> = self
            .torrents
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut next = HashMap::new();
        for e in &catalog.episodes {
            // Keep a torrent (and its cached pieces) only while it seeds the very file the
            // catalog names; a republished file gets a fresh start. One whose file failed a
            // check stays off, whatever else the new build changed, until that file is
            // published anew (another size or mtime, or publish put another file there).
            if let Some(t) = current.get(&e.info_hash) {
                if t.published_as(e) && t.is_active() {
                    next.insert(e.info_hash, t.clone());
                    continue;
                }
                if t.published_as(e) && t.failed() && t.path_is_open_file() {
                    tracing::warn!(
                        "seeder: still not seeding {}: it failed a check after publish; republish it",
                        t.path.display()
                    );
                    next.insert(e.info_hash, t.clone());
                    continue;
                }
            }
            match SeededTorrent::load(out, e, self.cache.clone(), &self.watch) {
                Ok(t) => {
                    next.insert(e.info_hash, Arc::new(t));
                }
                Err(err) => tracing::warn!("seeder: not seeding {:?}: {err}", e.title),
            }
        }
        // Connections to torrents that are gone end (their sessions check `is_active`).
        for (hash, t) in &current {
            if !next.get(hash).is_some_and(|n| Arc::ptr_eq(n, t)) {
                t.disable();
            }
        }
        *self.torrents.write().unwrap_or_else(|p| p.into_inner()) = next;
    }
}

/// Accepts peer connections, and dials the peers the tracker passes on, until `shutdown`
/// turns true.
pub async fn run(listener: TcpListener, seeder: Arc<Seeder>, mut shutdown: watch::Receiver<bool>) {
    let mut rotate = tokio::time::interval(choke::ROTATE_EVERY);
    let mut dials = seeder.dialer.take_queue();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => return,
            _ = rotate.tick() => {
                seeder.choker.rotate();
                continue;
            }
            Some(leecher) = async { match dials.as_mut() { Some(q) => q.recv().await, None => std::future::pending().await } } => {
                dial::consider(&seeder, leecher, shutdown.clone());
                continue;
            }
            a = listener.accept() => a,
        };
        let (stream, addr) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("seeder: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(slot) = seeder.connection_slot(addr) else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        // A peer that stops reading (or sending) for a minute is dropped, even mid-write.
        let stream = crate::net::IdleTimeout::new(stream, PEER_IDLE_TIMEOUT);
        let seeder = seeder.clone();
        spawn_session(
            addr,
            slot,
            shutdown.clone(),
            peer::serve(stream, addr, seeder),
        );
    }
}

/// Runs one connection's session, holding its connection slot, until it ends or `stop`
/// turns true.
fn spawn_session(
    addr: SocketAddr,
    slot: (OwnedSemaphorePermit, IpSlot),
    mut stop: watch::Receiver<bool>,
    session: impl std::future::Future<Output = Result<(), peer::PeerError>> + Send + 'static,
) {
    tokio::spawn(async move {
        tokio::select! {
            r = session => {
                if let Err(e) = r {
                    tracing::debug!("seeder: {addr}: {e}");
                }
            }
            _ = stop.changed() => {}
        }
        drop(slot);
    });
}

/// The addresses the tracker hands out for our seeder, at most one per family: the
/// override, else `public_url`'s host when it is an IP literal or resolves (an IPv4 and an
/// IPv6 address when it has both and we listen on both), else loopback when we only
/// listen there. Empty when none is known.
pub async fn public_addrs(
    bound: SocketAddr,
    override_addr: Option<SocketAddr>,
    public_url: Option<&url::Url>,
) -> Vec<SocketAddr> {
    if let Some(a) = override_addr {
        return vec![a];
    }
    if bound.ip().is_loopback() {
        return vec![bound];
    }
    let Some(host) = public_url.and_then(|u| u.host_str()) else {
        return Vec::new();
    };
    let host = host.trim_matches(['[', ']']).to_string();
    let found: Vec<SocketAddr> = if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        vec![SocketAddr::new(ip, bound.port())]
    } else {
        match tokio::net::lookup_host((host.as_str(), bound.port())).await {
            Ok(addrs) => addrs.collect(),
            Err(e) => {
                tracing::warn!(
                    "seeder: cannot resolve {host} ({e}); the tracker will not list our seeder. Set serve.peer_public_addr"
                );
                return Vec::new();
            }
        }
    };
    one_per_family(bound, found)
}

/// The first address of each family that a listener bound to `bound` can be reached on:
/// an IPv4 socket takes IPv4 only, a specific IPv6 one IPv6 only, `[::]` (dual-stack) both.
fn one_per_family(
    bound: SocketAddr,
    found: impl IntoIterator<Item = SocketAddr>,
) -> Vec<SocketAddr> {
    let takes_v4 = bound.is_ipv4() || bound.ip().is_unspecified();
    let takes_v6 = bound.is_ipv6();
    let (mut v4, mut v6) = (None, None);
    for a in found {
        let a = SocketAddr::new(a.ip().to_canonical(), a.port());
        match a {
            SocketAddr::V4(_) if takes_v4 => v4 = v4.or(Some(a)),
            SocketAddr::V6(_) if takes_v6 => v6 = v6.or(Some(a)),
            _ => {}
        }
    }
    v4.into_iter().chain(v6).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_ids_follow_bep20() {
        let a = new_peer_id();
        assert!(a.0.starts_with(b"-PS0100-"));
        assert!(a.0[8..].iter().all(u8::is_ascii_alphanumeric));
        assert_ne!(a, new_peer_id());
    }

    #[tokio::test]
    async fn public_address_rules() {
        let lo: SocketAddr = "127.0.0.1:6881".parse().expect("addr");
        let any: SocketAddr = "0.0.0.0:6881".parse().expect("addr");
        assert_eq!(public_addrs(lo, None, None).await, [lo]);
        let url = url::Url::parse("https://203.0.113.5/pod/").expect("url");
        let v4: SocketAddr = "203.0.113.5:6881".parse().expect("addr");
        assert_eq!(public_addrs(any, None, Some(&url)).await, [v4]);
        let o: SocketAddr = "198.51.100.1:7000".parse().expect("addr");
        assert_eq!(public_addrs(any, Some(o), Some(&url)).await, [o]);
        assert!(public_addrs(any, None, None).await.is_empty());
        // An IPv6 literal needs a listener that takes IPv6.
        let url6 = url::Url::parse("https://[2001:db8::5]/pod/").expect("url");
        let dual: SocketAddr = "[::]:6881".parse().expect("addr");
        let v6: SocketAddr = "[2001:db8::5]:6881".parse().expect("addr");
        assert_eq!(public_addrs(dual, None, Some(&url6)).await, [v6]);
        assert!(public_addrs(any, None, Some(&url6)).await.is_empty());
    }

    #[test]
    fn a_host_with_both_families_is_listed_in_both_when_we_listen_on_both() {
        let resolved: Vec<SocketAddr> = [
            "[2001:db8::5]:6881",
            "[2001:db8::6]:6881",
            "203.0.113.5:6881",
            "203.0.113.6:6881",
        ]
        .iter()
        .map(|a| a.parse().expect("addr"))
        .collect();
        let v4: SocketAddr = "203.0.113.5:6881".parse().expect("addr");
        let v6: SocketAddr = "[2001:db8::5]:6881".parse().expect("addr");
        let dual: SocketAddr = "[::]:6881".parse().expect("addr");
        let any4: SocketAddr = "0.0.0.0:6881".parse().expect("addr");
        let only6: SocketAddr = "[2001:db8::5]:6881".parse().expect("addr");
        // The IPv4 one even though AAAA records come first (an IPv4 client could not use
        // an IPv6-only listing).
        assert_eq!(one_per_family(dual, resolved.clone()), [v4, v6]);
        assert_eq!(one_per_family(any4, resolved.clone()), [v4]);
        assert_eq!(one_per_family(only6, resolved), [v6]);
        // A v4-mapped IPv6 address counts as IPv4.
        let mapped: SocketAddr = "[::ffff:203.0.113.5]:6881".parse().expect("addr");
        assert_eq!(one_per_family(dual, [mapped]), [v4]);
    }
}
