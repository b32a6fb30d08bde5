//! The built-in BitTorrent tracker: which torrents it serves, their swarms, and the rules
//! of an announce (intervals, numwant, who gets whom), shared by the HTTP and UDP fronts;
//! and the browser swarms ([`browser`]) the WebSocket front relays WebRTC signalling in.
//!
//! It is not an open tracker: only info hashes that the output folder publishes are
//! accepted, so memory is bounded by (published torrents × `max_peers_per_torrent`).
//! Codecs live in [`proto`]; sockets live in `serve`. Time is passed in.

pub mod browser;
pub mod connection_id;
pub mod proto;
pub mod swarm;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, RwLock};

use crate::bt::{InfoHash, PeerId};
use crate::config::ServeSettings;

pub use browser::{BrowserLink, BrowserReply, BrowserSwarm, ConnId, Inbox, Outbox};
pub use swarm::{Event, Family, Limits, PeerUpdate, Swarm};

/// Per-torrent counts of a scrape (both fronts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScrapeCounts {
    /// Peers with the whole file.
    pub seeders: u32,
    /// Completed downloads.
    pub completed: u32,
    /// Peers still downloading.
    pub leechers: u32,
}

/// Tracker settings (from `serve:` in the config).
#[derive(Debug, Clone)]
pub struct TrackerConfig {
    /// Seconds between announces we ask for.
    pub interval: u32,
    /// Peers per torrent; the oldest is evicted beyond it.
    pub max_peers_per_torrent: usize,
    /// Peers per address (per /64 for IPv6) in one torrent.
    pub max_peers_per_ip: usize,
    /// Peers returned when the client does not say.
    pub default_numwant: usize,
    /// Most peers returned.
    pub max_numwant: usize,
    /// Seconds between a browser's announces (WebSocket).
    pub browser_interval: u32,
    /// Browser peers per torrent; further ones are refused.
    pub max_browser_peers_per_torrent: usize,
}

/// Peers returned when the client does not say how many it wants.
const DEFAULT_NUMWANT: usize = 50;
/// Most peers returned, whatever the client asks for.
const MAX_NUMWANT: usize = 200;

impl From<&ServeSettings> for TrackerConfig {
    fn from(serve: &ServeSettings) -> Self {
        TrackerConfig {
            interval: serve.announce_interval,
            max_peers_per_torrent: serve.max_peers_per_torrent,
            max_peers_per_ip: serve.max_peers_per_ip,
            default_numwant: DEFAULT_NUMWANT,
            max_numwant: MAX_NUMWANT,
            browser_interval: serve.ws_announce_interval,
            max_browser_peers_per_torrent: serve.ws_max_peers_per_torrent,
        }
    }
}

impl Default for TrackerConfig {
    /// The settings of a `serve:` section left at its defaults.
    fn default() -> Self {
        TrackerConfig::from(&ServeSettings::default())
    }
}

/// One announce, from either front.
#[derive(Debug, Clone)]
pub struct Announce {
    /// Torrent.
    pub info_hash: InfoHash,
    /// The peer's update.
    pub update: PeerUpdate,
    /// Peers wanted.
    pub numwant: Option<usize>,
    /// The address family the reply can carry (UDP), or None for both (HTTP).
    pub family: Option<Family>,
    /// Whether `update.addr`'s IP is where the announce came from (the socket, or a trusted
    /// proxy's header) rather than a claimed `ip`: only such peers are dialled.
    pub observed: bool,
}

/// What an announce gets back.
#[derive(Debug, Clone)]
pub struct AnnounceReply {
    /// Seconds until the next announce.
    pub interval: u32,
    /// Seconds a client must at least wait.
    pub min_interval: u32,
    /// Seeders.
    pub complete: usize,
    /// Leechers.
    pub incomplete: usize,
    /// Other peers.
    pub peers: Vec<(SocketAddr, PeerId)>,
}

/// Why an announce was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackerError {
    /// Not a torrent the output folder publishes.
    #[error("unregistered torrent")]
    Unregistered,
    /// A browser announced a peer id that another address holds in this swarm.
    #[error("peer_id in use by another connection")]
    PeerIdTaken,
    /// The browser swarm holds as many peers as it may.
    #[error("swarm full, try again later")]
    SwarmFull,
    /// One address holds as many browser peers in this swarm as it may.
    #[error("too many peers from this address in this swarm")]
    TooManyFromAddress,
    /// An answer from a peer that has not announced on this connection.
    #[error("announce on this connection before answering")]
    NotInSwarm,
    /// An answer to a peer that is not (or no longer) in the swarm.
    #[error("no peer with that to_peer_id")]
    UnknownPeer,
}

/// Figures for `/stats` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwarmStats {
    /// Seeders now.
    pub seeders: usize,
    /// Leechers now.
    pub leechers: usize,
    /// Completed downloads seen.
    pub completed: u64,
    /// Sum of the `downloaded` increases peers reported.
    pub peer_downloaded: u64,
    /// Sum of the `uploaded` increases peers reported.
    pub peer_uploaded: u64,
    /// Browser (WebSocket) peers now.
    pub browser_peers: usize,
    /// Completed downloads browser peers reported.
    pub browser_completed: u64,
    /// Sum of the `downloaded` increases browser peers reported.
    pub browser_downloaded: u64,
    /// Sum of the `uploaded` increases browser peers reported.
    pub browser_uploaded: u64,
}

/// The tracker.
#[derive(Debug, Default)]
pub struct Tracker {
    config: TrackerConfig,
    swarms: RwLock<HashMap<InfoHash, Tracked>>,
    /// Our own seeder: its address, peer id and the torrents it seeds right now.
    local: RwLock<Option<LocalSeeder>>,
}

/// A served torrent: its swarm and the file size that bounds reported transfers.
#[derive(Debug, Default)]
struct Tracked {
    swarm: Mutex<Swarm>,
    browser: Mutex<BrowserSwarm>,
    size: u64,
}

impl Tracked {
    fn limits(&self, max_peers: usize, max_per_ip: usize) -> Limits {
        Limits {
            max_peers,
            max_per_ip,
            max_transfer: self.size.saturating_mul(2).saturating_add(TRANSFER_SLACK),
        }
    }

    fn browser(&self) -> std::sync::MutexGuard<'_, BrowserSwarm> {
        self.browser.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Our own seeder as the tracker lists it.
#[derive(Debug, Clone)]
pub struct LocalSeeder {
    /// Where peers reach it: at most one address per family (an IPv4-only client gets the
    /// IPv4 one, an IPv6 UDP announce the IPv6 one, HTTP both).
    pub addrs: Vec<SocketAddr>,
    /// Its peer id (for dictionary-form replies).
    pub peer_id: PeerId,
    /// The torrents it seeds now.
    pub torrents: Vec<InfoHash>,
    /// Where to pass leechers for it to dial (None: it only accepts connections).
    pub dial: Option<tokio::sync::mpsc::Sender<Leecher>>,
}

/// A leecher that announced from the address it listens on, passed to our seeder to dial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leecher {
    /// The torrent it downloads.
    pub info_hash: InfoHash,
    /// Where it listens (the announcing socket's IP and the announced port).
    pub addr: SocketAddr,
    /// The peer id it announced (so the seeder can tell it is already connected).
    pub peer_id: PeerId,
}

/// Slack over twice the file size for reported per-announce transfers (re-downloads,
/// discarded pieces).
const TRANSFER_SLACK: u64 = 16 << 20;

/// Seconds of slack over two intervals before a silent browser peer is dropped.
const BROWSER_SLACK_SECS: u64 = 60;

impl Tracker {
    /// A tracker for no torrents yet.
    pub fn new(config: TrackerConfig) -> Self {
        Tracker {
            config,
            swarms: RwLock::new(HashMap::new()),
            local: RwLock::new(None),
        }
    }

    /// Lists our seeder at `addr` for `hashes` in every leecher's reply (None: list it
    /// nowhere, e.g. when its address is unknown).
    pub fn set_local_seeder(&self, seeder: Option<LocalSeeder>) {
        *self.local.write().unwrap_or_else(|p| p.into_inner()) = seeder;
    }

    /// Our seeder's addresses and peer id when it seeds `hash`; a leecher announcing
    /// (`dial`) is passed on for it to connect to.
    fn local_for(
        &self,
        hash: &InfoHash,
        dial: Option<Leecher>,
    ) -> Option<([Option<SocketAddr>; 2], PeerId)> {
        let local = self.local.read().unwrap_or_else(|p| p.into_inner());
        let l = local
            .as_ref()
            .filter(|l| !l.addrs.is_empty() && l.torrents.contains(hash))?;
        if let (Some(tx), Some(peer)) = (&l.dial, dial) {
            // Loopback is a peer only when we are loopback too (tests); otherwise it is a
            // local proxy in front of us, and its ports are not peers.
            let we_are_loopback = l.addrs.iter().any(|a| a.ip().is_loopback());
            let loopback_ok = !peer.addr.ip().is_loopback() || we_are_loopback;
            if !l.addrs.contains(&peer.addr) && loopback_ok {
                // Full queue: the leecher still connects to us itself.
                let _ = tx.try_send(peer);
            }
        }
        // Copied out, not cloned: this runs for every announce (no allocation), and there
        // is at most one address per family.
        let mut addrs = [None; 2];
        for (slot, a) in addrs.iter_mut().zip(&l.addrs) {
            *slot = Some(*a);
        }
        Some((addrs, l.peer_id))
    }

    /// The settings.
    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// Makes `torrents` (info hash, file size) the served set: new ones start empty,
    /// removed ones are dropped, the rest keep their peers.
    pub fn set_torrents(&self, torrents: &[(InfoHash, u64)]) {
        let mut swarms = self.swarms.write().unwrap_or_else(|p| p.into_inner());
        swarms.retain(|h, _| torrents.iter().any(|(t, _)| t == h));
        for (h, size) in torrents {
            swarms.entry(*h).or_default().size = *size;
        }
    }

    /// Whether `hash` is served.
    pub fn serves(&self, hash: &InfoHash) -> bool {
        self.read().contains_key(hash)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<InfoHash, Tracked>> {
        self.swarms.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Handles an announce at time `now` (seconds).
    pub fn announce(&self, a: &Announce, now: u64) -> Result<AnnounceReply, TrackerError> {
        let swarms = self.read();
        let tracked = swarms.get(&a.info_hash).ok_or(TrackerError::Unregistered)?;
        let limits = tracked.limits(
            self.config.max_peers_per_torrent,
            self.config.max_peers_per_ip,
        );
        let mut swarm = tracked.swarm.lock().unwrap_or_else(|p| p.into_inner());
        swarm.update(&a.update, now, &limits);
        let want = a
            .numwant
            .unwrap_or(self.config.default_numwant)
            .min(self.config.max_numwant);
        // Never dial an address the announcer merely claimed: that would let anyone point
        // our seeder at any host.
        let leeching = a.observed && a.update.left > 0 && a.update.event != Event::Stopped;
        let leecher = Leecher {
            info_hash: a.info_hash,
            addr: a.update.addr,
            peer_id: a.update.peer_id,
        };
        let local = self.local_for(&a.info_hash, leeching.then_some(leecher));
        let listed = local.is_some();
        let (local, local_id) = local.unwrap_or_default();
        let mut peers: Vec<(SocketAddr, PeerId)> = Vec::with_capacity(want);
        let is_seeder = a.update.left == 0;
        // Our seeder is always in the list (first), in each family the client can use,
        // even for a client announcing left=0: one that only has a magnet link does that
        // while it fetches the metadata, and we are where it gets it.
        for addr in local.into_iter().flatten() {
            let family_ok = match a.family {
                None => true,
                Some(Family::V4) => addr.is_ipv4(),
                Some(Family::V6) => addr.is_ipv6(),
            };
            if family_ok && addr != a.update.addr && peers.len() < want {
                peers.push((addr, local_id));
            }
        }
        if a.update.event != Event::Stopped {
            let rest = want - peers.len();
            peers.extend(
                swarm
                    .sample(&a.update.addr, is_seeder, rest, a.family)
                    .into_iter()
                    .filter(|p| !local.contains(&Some(p.addr)))
                    .map(|p| (p.addr, p.peer_id)),
            );
        } else {
            peers.clear();
        }
        Ok(AnnounceReply {
            interval: self.config.interval,
            min_interval: (self.config.interval / 2).max(1),
            complete: swarm.seeders() + usize::from(listed),
            incomplete: swarm.leechers(),
            peers,
        })
    }

    /// Counts for each hash that is served (others are left out).
    pub fn scrape(&self, hashes: &[InfoHash]) -> Vec<(InfoHash, ScrapeCounts)> {
        let swarms = self.read();
        let counts = |t: &Tracked| {
            let s = t.swarm.lock().unwrap_or_else(|p| p.into_inner());
            ScrapeCounts {
                seeders: clamp32(s.seeders() as u64),
                completed: clamp32(s.completed),
                leechers: clamp32(s.leechers() as u64),
            }
        };
        if hashes.is_empty() {
            let mut all: Vec<(InfoHash, ScrapeCounts)> =
                swarms.iter().map(|(h, s)| (*h, counts(s))).collect();
            all.sort_by_key(|(h, _)| *h);
            return all;
        }
        hashes
            .iter()
            .filter_map(|h| swarms.get(h).map(|s| (*h, counts(s))))
            .collect()
    }

    /// Figures for every served torrent.
    pub fn stats(&self) -> HashMap<InfoHash, SwarmStats> {
        self.read()
            .iter()
            .map(|(h, t)| {
                let s = t.swarm.lock().unwrap_or_else(|p| p.into_inner());
                let b = t.browser();
                (
                    *h,
                    SwarmStats {
                        seeders: s.seeders(),
                        leechers: s.leechers(),
                        completed: s.completed,
                        peer_downloaded: s.peer_downloaded,
                        peer_uploaded: s.peer_uploaded,
                        browser_peers: b.seeders() + b.leechers(),
                        browser_completed: b.completed,
                        browser_downloaded: b.downloaded,
                        browser_uploaded: b.uploaded,
                    },
                )
            })
            .collect()
    }

    /// Drops peers silent for two intervals (browsers: two of theirs, plus slack); returns
    /// how many.
    pub fn sweep(&self, now: u64) -> usize {
        let cutoff = now.saturating_sub(2 * u64::from(self.config.interval));
        let browser_cutoff = now.saturating_sub(self.browser_silence());
        self.read()
            .values()
            .map(|t| {
                t.swarm
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .expire(cutoff)
                    + t.browser().expire(browser_cutoff)
            })
            .sum()
    }

    /// Seconds a browser peer may stay silent: two of its intervals, plus slack for a
    /// slow page. Its connection is closed after as long (`serve::ws`).
    pub fn browser_silence(&self) -> u64 {
        2 * u64::from(self.config.browser_interval) + BROWSER_SLACK_SECS
    }

    /// Handles a browser's announce on connection `from`: updates its swarm and relays its
    /// offers to other browser peers.
    pub fn browser_announce(
        &self,
        a: &proto::ws::AnnounceRequest,
        from: &BrowserLink,
        now: u64,
    ) -> Result<BrowserReply, TrackerError> {
        let swarms = self.read();
        let tracked = swarms.get(&a.info_hash).ok_or(TrackerError::Unregistered)?;
        let limits = tracked.limits(
            self.config.max_browser_peers_per_torrent,
            self.config.max_peers_per_ip,
        );
        let mut swarm = tracked.browser();
        swarm.announce(a, from, now, &limits)?;
        Ok(BrowserReply {
            interval: self.config.browser_interval,
            complete: swarm.seeders(),
            incomplete: swarm.leechers(),
        })
    }

    /// Relays a browser's answer to the peer whose offer it answers.
    pub fn browser_answer(
        &self,
        a: &proto::ws::AnswerRequest,
        conn: ConnId,
        now: u64,
    ) -> Result<(), TrackerError> {
        let swarms = self.read();
        let tracked = swarms.get(&a.info_hash).ok_or(TrackerError::Unregistered)?;
        let mut swarm = tracked.browser();
        swarm.answer(a, conn, now)
    }

    /// A closed connection: its peers leave the swarms of `hashes` (as `stopped`).
    pub fn browser_leave(&self, conn: ConnId, hashes: &[InfoHash]) -> usize {
        let swarms = self.read();
        hashes
            .iter()
            .filter_map(|h| swarms.get(h))
            .map(|t| t.browser().leave(conn))
            .sum()
    }

    /// Browser swarm counts for each hash that is served (every served one when empty).
    pub fn browser_scrape(&self, hashes: &[InfoHash]) -> Vec<(InfoHash, ScrapeCounts)> {
        let swarms = self.read();
        let counts = |t: &Tracked| {
            let b = t.browser();
            ScrapeCounts {
                seeders: clamp32(b.seeders() as u64),
                completed: clamp32(b.completed),
                leechers: clamp32(b.leechers() as u64),
            }
        };
        if hashes.is_empty() {
            let mut all: Vec<(InfoHash, ScrapeCounts)> =
                swarms.iter().map(|(h, t)| (*h, counts(t))).collect();
            all.sort_by_key(|(h, _)| *h);
            return all;
        }
        hashes
            .iter()
            .filter_map(|h| swarms.get(h).map(|t| (*h, counts(t))))
            .collect()
    }
}

fn clamp32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announce(hash: u8, peer: u8, left: u64, event: Event, numwant: Option<usize>) -> Announce {
        Announce {
            info_hash: InfoHash([hash; 20]),
            update: PeerUpdate {
                addr: SocketAddr::from(([10, 0, 0, peer], 6881)),
                peer_id: PeerId([peer; 20]),
                event,
                left,
                uploaded: 0,
                downloaded: 0,
            },
            numwant,
            family: None,
            observed: true,
        }
    }

    #[test]
    fn only_published_torrents_are_tracked() {
        let t = Tracker::new(TrackerConfig::default());
        t.set_torrents(&[(InfoHash([1; 20]), 1000)]);
        assert!(t
            .announce(&announce(1, 1, 5, Event::Started, None), 0)
            .is_ok());
        assert_eq!(
            t.announce(&announce(2, 1, 5, Event::Started, None), 0)
                .err(),
            Some(TrackerError::Unregistered)
        );
        // A reload keeps the peers of torrents that stay.
        t.set_torrents(&[(InfoHash([1; 20]), 1000), (InfoHash([3; 20]), 1000)]);
        let r = t
            .announce(&announce(1, 2, 5, Event::Started, None), 1)
            .expect("ok");
        assert_eq!((r.incomplete, r.peers.len()), (2, 1));
        t.set_torrents(&[(InfoHash([3; 20]), 1000)]);
        assert!(!t.serves(&InfoHash([1; 20])));
    }

    #[test]
    fn numwant_is_capped_and_scrape_counts() {
        let cfg = TrackerConfig {
            max_numwant: 3,
            ..TrackerConfig::default()
        };
        let t = Tracker::new(cfg);
        t.set_torrents(&[(InfoHash([1; 20]), 1000)]);
        for p in 0..10 {
            t.announce(&announce(1, p, 5, Event::Started, None), 0)
                .expect("ok");
        }
        t.announce(&announce(1, 99, 5, Event::Started, None), 0)
            .expect("ok");
        let r = t
            .announce(&announce(1, 99, 0, Event::Completed, Some(100)), 0)
            .expect("ok");
        assert_eq!(r.peers.len(), 3);
        let s = t.scrape(&[InfoHash([1; 20]), InfoHash([9; 20])]);
        assert_eq!(s.len(), 1);
        assert_eq!(
            s[0].1,
            ScrapeCounts {
                seeders: 1,
                completed: 1,
                leechers: 10
            }
        );
        assert_eq!(t.scrape(&[]).len(), 1);
    }

    #[test]
    fn our_seeder_is_listed_in_each_family_the_client_can_use() {
        let t = Tracker::new(TrackerConfig::default());
        t.set_torrents(&[(InfoHash([1; 20]), 1000)]);
        let v4: SocketAddr = "192.0.2.1:6881".parse().expect("addr");
        let v6: SocketAddr = "[2001:db8::1]:6881".parse().expect("addr");
        t.set_local_seeder(Some(LocalSeeder {
            addrs: vec![v4, v6],
            peer_id: PeerId([7; 20]),
            torrents: vec![InfoHash([1; 20])],
            dial: None,
        }));
        let ours = |family: Option<Family>| -> Vec<SocketAddr> {
            let mut a = announce(1, 1, 5, Event::Started, None);
            a.family = family;
            let r = t.announce(&a, 0).expect("ok");
            assert_eq!(r.complete, 1, "our seeder counts once");
            r.peers
                .iter()
                .map(|p| p.0)
                .filter(|a| *a == v4 || *a == v6)
                .collect()
        };
        // HTTP carries both (peers and peers6); a UDP reply only its own family.
        assert_eq!(ours(None), [v4, v6]);
        assert_eq!(ours(Some(Family::V4)), [v4]);
        assert_eq!(ours(Some(Family::V6)), [v6]);
    }

    #[test]
    fn our_seeder_is_listed_where_it_seeds() {
        let t = Tracker::new(TrackerConfig::default());
        t.set_torrents(&[(InfoHash([1; 20]), 1000), (InfoHash([2; 20]), 1000)]);
        let me: SocketAddr = "192.0.2.1:6881".parse().expect("addr");
        let (tx, mut dials) = tokio::sync::mpsc::channel(8);
        t.set_local_seeder(Some(LocalSeeder {
            addrs: vec![me],
            peer_id: PeerId([7; 20]),
            torrents: vec![InfoHash([1; 20])],
            dial: Some(tx),
        }));
        let r = t
            .announce(&announce(1, 1, 5, Event::Started, None), 0)
            .expect("ok");
        assert_eq!(r.peers.first().map(|p| p.0), Some(me));
        // The leecher is passed on for our seeder to dial, with the peer id it announced.
        assert_eq!(
            dials.try_recv().ok(),
            Some(Leecher {
                info_hash: InfoHash([1; 20]),
                addr: SocketAddr::from(([10, 0, 0, 1], 6881)),
                peer_id: PeerId([1; 20]),
            })
        );
        assert_eq!(r.complete, 1);
        // A magnet-link client announces left=0 while it fetches the metadata from us.
        let r = t
            .announce(&announce(1, 2, 0, Event::Started, None), 0)
            .expect("ok");
        assert_eq!(r.peers.first().map(|p| p.0), Some(me));
        assert!(r
            .peers
            .iter()
            .skip(1)
            .all(|p| p.0 != SocketAddr::from(([10, 0, 0, 2], 6881))));
        let r = t
            .announce(&announce(2, 3, 5, Event::Started, None), 0)
            .expect("ok");
        assert!(r.peers.is_empty(), "not seeded: not listed");
        t.announce(&announce(1, 1, 5, Event::Stopped, None), 0)
            .expect("ok");
        // A claimed address (`ip=`), and loopback while we are not on loopback (a local
        // proxy's ports), are not dialled either.
        let mut claimed = announce(1, 5, 5, Event::Started, None);
        claimed.observed = false;
        t.announce(&claimed, 0).expect("ok");
        let mut local = announce(1, 6, 5, Event::Started, None);
        local.update.addr = "127.0.0.1:22".parse().expect("addr");
        t.announce(&local, 0).expect("ok");
        // Seeds, magnet clients (left=0), leavers and other torrents are not dialled.
        assert!(dials.try_recv().is_err());
        t.set_local_seeder(None);
        let r = t
            .announce(&announce(1, 4, 5, Event::Started, None), 0)
            .expect("ok");
        assert!(r.peers.iter().all(|p| p.0 != me));
    }

    #[test]
    fn sweep_expires_after_two_intervals() {
        let cfg = TrackerConfig {
            interval: 10,
            ..TrackerConfig::default()
        };
        let t = Tracker::new(cfg);
        t.set_torrents(&[(InfoHash([1; 20]), 1000)]);
        t.announce(&announce(1, 1, 5, Event::Started, None), 0)
            .expect("ok");
        t.announce(&announce(1, 2, 5, Event::Started, None), 15)
            .expect("ok");
        assert_eq!(t.sweep(19), 0);
        assert_eq!(t.sweep(21), 1);
        assert_eq!(t.stats()[&InfoHash([1; 20])].leechers, 1);
    }

    #[test]
    fn browser_peers_are_tracked_apart_and_leave_with_their_connection() {
        let t = Tracker::new(TrackerConfig::default());
        t.set_torrents(&[(InfoHash([1; 20]), 1000)]);
        let req = |hash: u8, peer: u8| proto::ws::AnnounceRequest {
            info_hash: InfoHash([hash; 20]),
            peer_id: PeerId([peer; 20]),
            event: Event::Started,
            left: Some(10),
            uploaded: 0,
            downloaded: 0,
            numwant: None,
            offers: vec![proto::ws::Offer {
                offer_id: proto::ws::OfferId([7; 20]),
                sdp: "v=0".into(),
            }],
        };
        let (outbox, _inbox) = Outbox::new(8, 1 << 20);
        let link = |conn: ConnId, ip: u8| BrowserLink {
            conn,
            ip: std::net::IpAddr::from([10, 0, 0, ip]),
            outbox: outbox.clone(),
        };
        assert_eq!(
            t.browser_announce(&req(2, 1), &link(1, 1), 0).err(),
            Some(TrackerError::Unregistered)
        );
        let r = t.browser_announce(&req(1, 1), &link(1, 1), 0).expect("ok");
        assert_eq!((r.interval, r.complete, r.incomplete), (120, 0, 1));
        t.browser_announce(&req(1, 2), &link(2, 2), 0).expect("ok");
        let mut later = req(1, 2);
        later.downloaded = 400;
        later.event = Event::None;
        t.browser_announce(&later, &link(2, 2), 1).expect("ok");
        let stats = t.stats()[&InfoHash([1; 20])].clone();
        assert_eq!((stats.browser_peers, stats.browser_downloaded), (2, 400));
        // BitTorrent figures and scrapes do not count them.
        assert_eq!(
            (stats.seeders, stats.leechers, stats.peer_downloaded),
            (0, 0, 0)
        );
        assert_eq!(t.scrape(&[])[0].1.leechers, 0);
        assert_eq!(t.browser_scrape(&[])[0].1.leechers, 2);
        assert_eq!(t.browser_leave(2, &[InfoHash([1; 20])]), 1);
        assert_eq!(t.browser_scrape(&[InfoHash([1; 20])])[0].1.leechers, 1);
        // A silent browser is swept after two of its intervals and the slack.
        assert_eq!(t.sweep(t.browser_silence() + 1), 1);
    }
}
