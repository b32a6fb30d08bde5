//! One torrent's browser swarm: WebTorrent peers on the show's page (or any web app) that
//! find each other through our WebSocket tracker and connect over WebRTC.
//!
//! Browsers have no address another peer could dial, so the tracker does not hand out
//! peers: it relays each announcing peer's WebRTC offers to other peers of the swarm, and
//! their answers back, through the connections' [`Outbox`]es. Peers are keyed by peer id and
//! bound to the connection that announced them. Bounded: peers per swarm and per address,
//! offers per announce (the codec's cap), and every outbox (a full one marks its connection
//! as lagging, and its owner closes it; nobody waits for a slow reader). Time is passed in;
//! no sockets here (`serve::ws` owns them).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, Notify};

use super::proto::ws::{self, AnnounceRequest, AnswerRequest, Reply};
use super::swarm::{host_key, Limits, Transfer};
use super::{Event, TrackerError};
use crate::bt::PeerId;

/// Identifies one WebSocket connection for the life of the process.
pub type ConnId = u64;

/// A connection's bounded outgoing queue of JSON text frames, as the tracker sees it:
/// bounded in frames and in bytes (relayed SDP can be large).
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::Sender<String>,
    shared: Arc<Queued>,
}

/// What both ends of a queue share.
#[derive(Debug)]
struct Queued {
    lagging: Notify,
    bytes: AtomicUsize,
    max_bytes: usize,
}

/// The connection's end of its [`Outbox`].
#[derive(Debug)]
pub struct Inbox {
    rx: mpsc::Receiver<String>,
    shared: Arc<Queued>,
}

impl Outbox {
    /// A queue of at most `frames` frames and `max_bytes` bytes.
    pub fn new(frames: usize, max_bytes: usize) -> (Outbox, Inbox) {
        let (tx, rx) = mpsc::channel(frames.max(1));
        let shared = Arc::new(Queued {
            lagging: Notify::new(),
            bytes: AtomicUsize::new(0),
            max_bytes,
        });
        (
            Outbox {
                tx,
                shared: shared.clone(),
            },
            Inbox { rx, shared },
        )
    }

    /// Queues `text` without waiting; a full queue marks the connection as lagging.
    pub fn send(&self, text: String) {
        let len = text.len();
        let before = self.shared.bytes.fetch_add(len, Ordering::Relaxed);
        let full = before.saturating_add(len) > self.shared.max_bytes
            || matches!(
                self.tx.try_send(text),
                Err(mpsc::error::TrySendError::Full(_))
            );
        if full {
            self.shared.bytes.fetch_sub(len, Ordering::Relaxed);
            self.shared.lagging.notify_one();
        }
    }
}

impl Inbox {
    /// The next frame to send; None once the queue overflowed (close the connection).
    pub async fn next(&mut self) -> Option<String> {
        let m = tokio::select! {
            biased;
            () = self.shared.lagging.notified() => None,
            m = self.rx.recv() => m,
        }?;
        self.shared.bytes.fetch_sub(m.len(), Ordering::Relaxed);
        Some(m)
    }
}

/// Who announces: the connection, its client address and its outbox.
#[derive(Debug, Clone)]
pub struct BrowserLink {
    /// The connection.
    pub conn: ConnId,
    /// The client's address (the proxy's view with `trust_proxy`).
    pub ip: IpAddr,
    /// Where relayed offers and answers for this peer go.
    pub outbox: Outbox,
}

#[derive(Debug)]
struct BrowserPeer {
    link: BrowserLink,
    seeder: bool,
    uploaded: u64,
    downloaded: u64,
    last_seen: u64,
}

/// One torrent's browser peers and the figures they reported.
#[derive(Debug, Default)]
pub struct BrowserSwarm {
    peers: HashMap<PeerId, BrowserPeer>,
    per_host: HashMap<IpAddr, usize>,
    /// Completed downloads seen.
    pub completed: u64,
    /// Sum of `downloaded` increases peers reported.
    pub downloaded: u64,
    /// Sum of `uploaded` increases peers reported.
    pub uploaded: u64,
}

impl BrowserSwarm {
    /// Peers with the whole file.
    pub fn seeders(&self) -> usize {
        self.peers.values().filter(|p| p.seeder).count()
    }

    /// Peers still downloading.
    pub fn leechers(&self) -> usize {
        self.peers.len() - self.seeders()
    }

    /// Applies an announce from `from` and relays its offers to other peers.
    pub fn announce(
        &mut self,
        a: &AnnounceRequest,
        from: &BrowserLink,
        now: u64,
        limits: &Limits,
    ) -> Result<(), TrackerError> {
        let previous = match self.peers.get(&a.peer_id) {
            // The same browser on a new connection (a reconnect) takes its id back; a
            // stranger who learnt the id from a relayed offer does not.
            Some(p) if p.link.conn != from.conn && p.link.ip != from.ip => {
                return Err(TrackerError::PeerIdTaken)
            }
            Some(_) => self.remove(&a.peer_id),
            None => None,
        };
        // Deltas are clamped: a client's numbers are only claims.
        let transfer = previous
            .as_ref()
            .map_or_else(Transfer::default, |p| Transfer {
                downloaded: a
                    .downloaded
                    .saturating_sub(p.downloaded)
                    .min(limits.max_transfer),
                uploaded: a
                    .uploaded
                    .saturating_sub(p.uploaded)
                    .min(limits.max_transfer),
            });
        self.downloaded = self.downloaded.saturating_add(transfer.downloaded);
        self.uploaded = self.uploaded.saturating_add(transfer.uploaded);
        let seeder = a.left == Some(0);
        if seeder && previous.as_ref().is_some_and(|p| !p.seeder) {
            self.completed = self.completed.saturating_add(1);
        }
        if a.event == Event::Stopped {
            return Ok(());
        }
        let key = host_key(from.ip);
        if previous.is_none() {
            if self.per_host.get(&key).copied().unwrap_or(0) >= limits.max_per_ip.max(1) {
                return Err(TrackerError::TooManyFromAddress);
            }
            if self.peers.len() >= limits.max_peers.max(1) {
                return Err(TrackerError::SwarmFull);
            }
        }
        *self.per_host.entry(key).or_default() += 1;
        self.peers.insert(
            a.peer_id,
            BrowserPeer {
                link: from.clone(),
                seeder,
                uploaded: a.uploaded,
                downloaded: a.downloaded,
                last_seen: now,
            },
        );
        self.relay_offers(a, seeder);
        Ok(())
    }

    /// Sends each offer to a different random peer: anyone for a leecher, leechers for a
    /// seeder (two seeders have nothing to trade).
    fn relay_offers(&self, a: &AnnounceRequest, seeder: bool) {
        let want = a
            .numwant
            .unwrap_or(a.offers.len())
            .min(a.offers.len())
            .min(ws::MAX_OFFERS);
        if want == 0 {
            return;
        }
        // Peers on the same connection count: bittorrent-tracker's client shares one
        // socket among all its torrents and clients in a page (or process).
        let mut others: Vec<&BrowserPeer> = self
            .peers
            .iter()
            .filter(|(id, p)| **id != a.peer_id && !(seeder && p.seeder))
            .map(|(_, p)| p)
            .collect();
        fastrand::shuffle(&mut others);
        for (peer, offer) in others.into_iter().zip(&a.offers).take(want) {
            peer.link.outbox.send(ws::write_reply(&Reply::Offer {
                info_hash: a.info_hash,
                peer_id: a.peer_id,
                offer_id: offer.offer_id,
                sdp: offer.sdp.clone(),
            }));
        }
    }

    /// Relays an answer to the peer whose offer it answers. Only a peer of this swarm, on
    /// the connection it announced from, may answer.
    pub fn answer(
        &mut self,
        a: &AnswerRequest,
        conn: ConnId,
        now: u64,
    ) -> Result<(), TrackerError> {
        match self.peers.get_mut(&a.peer_id) {
            Some(p) if p.link.conn == conn => p.last_seen = now,
            _ => return Err(TrackerError::NotInSwarm),
        }
        let to = self
            .peers
            .get(&a.to_peer_id)
            .ok_or(TrackerError::UnknownPeer)?;
        to.link.outbox.send(ws::write_reply(&Reply::Answer {
            info_hash: a.info_hash,
            peer_id: a.peer_id,
            offer_id: a.offer_id,
            sdp: a.sdp.clone(),
        }));
        Ok(())
    }

    fn remove(&mut self, id: &PeerId) -> Option<BrowserPeer> {
        let p = self.peers.remove(id)?;
        let key = host_key(p.link.ip);
        if let Some(n) = self.per_host.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.per_host.remove(&key);
            }
        }
        Some(p)
    }

    /// Removes every peer that announced on `conn` (its socket closed: `stopped`).
    pub fn leave(&mut self, conn: ConnId) -> usize {
        self.remove_where(|p| p.link.conn == conn)
    }

    /// Drops peers not seen since `cutoff`; returns how many.
    pub fn expire(&mut self, cutoff: u64) -> usize {
        self.remove_where(|p| p.last_seen < cutoff)
    }

    fn remove_where(&mut self, gone: impl Fn(&BrowserPeer) -> bool) -> usize {
        let ids: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| gone(p))
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            self.remove(id);
        }
        ids.len()
    }
}

/// What a browser's announce gets back (its offers went out already).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrowserReply {
    /// Seconds until the next announce.
    pub interval: u32,
    /// Browser peers with the whole file.
    pub complete: usize,
    /// Browser peers still downloading.
    pub incomplete: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bt::InfoHash;
    use crate::tracker::proto::ws::{Offer, OfferId};

    const LIMITS: Limits = Limits {
        max_peers: 4,
        max_per_ip: 2,
        max_transfer: 1000,
    };

    fn link(conn: ConnId, ip: u8) -> (BrowserLink, Inbox) {
        let (outbox, inbox) = Outbox::new(4, 1 << 20);
        let ip = IpAddr::from([10, 0, 0, ip]);
        (BrowserLink { conn, ip, outbox }, inbox)
    }

    fn announce(peer: u8, left: Option<u64>, offers: usize) -> AnnounceRequest {
        AnnounceRequest {
            info_hash: InfoHash([1; 20]),
            peer_id: PeerId([peer; 20]),
            event: Event::Started,
            left,
            uploaded: 0,
            downloaded: 0,
            numwant: None,
            offers: (0..offers)
                .map(|i| Offer {
                    offer_id: OfferId([i as u8; 20]),
                    sdp: format!("sdp {peer}/{i}"),
                })
                .collect(),
        }
    }

    fn try_next(inbox: &mut Inbox) -> Option<serde_json::Value> {
        let text = inbox.rx.try_recv().ok()?;
        Some(serde_json::from_str(&text).expect("json"))
    }

    #[test]
    fn offers_go_to_other_peers_and_answers_come_back() {
        let mut s = BrowserSwarm::default();
        let (a, mut a_in) = link(1, 1);
        let (b, mut b_in) = link(2, 2);
        s.announce(&announce(1, Some(5), 3), &a, 0, &LIMITS)
            .expect("a");
        // Nobody else yet: the offers go nowhere.
        assert!(try_next(&mut a_in).is_none());
        s.announce(&announce(2, Some(5), 3), &b, 1, &LIMITS)
            .expect("b");
        // One offer per other peer, never to itself.
        let offer = try_next(&mut a_in).expect("offer for a");
        assert_eq!(
            offer["peer_id"].as_str().and_then(ws::binary20),
            Some([2; 20])
        );
        assert_eq!(offer["offer"]["sdp"], "sdp 2/0");
        assert!(try_next(&mut a_in).is_none() && try_next(&mut b_in).is_none());
        // A answers B's offer: B gets it with A's peer id and its own offer id.
        let answer = AnswerRequest {
            info_hash: InfoHash([1; 20]),
            peer_id: PeerId([1; 20]),
            to_peer_id: PeerId([2; 20]),
            offer_id: OfferId([0; 20]),
            sdp: "answer sdp".into(),
        };
        s.answer(&answer, 1, 2).expect("relayed");
        let got = try_next(&mut b_in).expect("answer for b");
        assert_eq!(
            got["peer_id"].as_str().and_then(ws::binary20),
            Some([1; 20])
        );
        assert_eq!(
            got["answer"],
            serde_json::json!({"type": "answer", "sdp": "answer sdp"})
        );
        // Only from the connection that announced the answering peer, and only to a member.
        assert_eq!(s.answer(&answer, 2, 2), Err(TrackerError::NotInSwarm));
        let lost = AnswerRequest {
            to_peer_id: PeerId([9; 20]),
            ..answer
        };
        assert_eq!(s.answer(&lost, 1, 2), Err(TrackerError::UnknownPeer));
    }

    #[test]
    fn seeders_offer_only_to_leechers() {
        let mut s = BrowserSwarm::default();
        let (a, mut a_in) = link(1, 1);
        let (b, mut b_in) = link(2, 2);
        let (c, _c_in) = link(3, 3);
        s.announce(&announce(1, Some(0), 0), &a, 0, &LIMITS)
            .expect("a");
        s.announce(&announce(2, Some(9), 0), &b, 0, &LIMITS)
            .expect("b");
        s.announce(&announce(3, Some(0), 5), &c, 0, &LIMITS)
            .expect("c");
        assert!(try_next(&mut a_in).is_none());
        assert!(try_next(&mut b_in).is_some());
        assert_eq!((s.seeders(), s.leechers()), (2, 1));
    }

    #[test]
    fn closing_a_connection_leaves_and_ids_are_bound_to_their_address() {
        let mut s = BrowserSwarm::default();
        let (a, _a_in) = link(1, 1);
        let (thief, _t_in) = link(2, 2);
        let (again, _r_in) = link(3, 1);
        s.announce(&announce(1, Some(5), 0), &a, 0, &LIMITS)
            .expect("a");
        assert_eq!(
            s.announce(&announce(1, Some(5), 0), &thief, 0, &LIMITS),
            Err(TrackerError::PeerIdTaken)
        );
        // The same address on a new connection (a reconnect) takes it over.
        s.announce(&announce(1, Some(5), 0), &again, 0, &LIMITS)
            .expect("reconnect");
        assert_eq!(s.leave(1), 0);
        assert_eq!(s.leave(3), 1);
        assert_eq!(s.leechers(), 0);
    }

    #[test]
    fn caps_and_clamped_figures() {
        let mut s = BrowserSwarm::default();
        let links: Vec<(BrowserLink, Inbox)> = (0..6).map(|i| link(i, i as u8 / 2)).collect();
        for (i, (l, _)) in links.iter().enumerate().take(4) {
            s.announce(&announce(i as u8, Some(5), 0), l, 0, &LIMITS)
                .expect("fits");
        }
        // Address 0 and 1 have two each; the swarm holds four.
        assert_eq!(
            s.announce(&announce(9, Some(5), 0), &links[0].0, 0, &LIMITS),
            Err(TrackerError::TooManyFromAddress)
        );
        assert_eq!(
            s.announce(&announce(4, Some(5), 0), &links[4].0, 0, &LIMITS),
            Err(TrackerError::SwarmFull)
        );
        // Reported bytes count as clamped deltas; reaching left=0 completes once.
        let mut up = announce(0, Some(0), 0);
        up.downloaded = 1_000_000;
        up.uploaded = 300;
        s.announce(&up, &links[0].0, 1, &LIMITS).expect("update");
        s.announce(&up, &links[0].0, 2, &LIMITS).expect("again");
        assert_eq!((s.downloaded, s.uploaded, s.completed), (1000, 300, 1));
        up.event = Event::Stopped;
        s.announce(&up, &links[0].0, 3, &LIMITS).expect("stop");
        assert_eq!(s.peers.len(), 3);
        assert_eq!(s.expire(1), 3);
    }

    #[test]
    fn a_full_outbox_marks_its_connection_lagging() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        // Too many frames.
        let (outbox, mut inbox) = Outbox::new(2, 1000);
        for i in 0..3 {
            outbox.send(format!("{i}"));
        }
        assert_eq!(rt.block_on(inbox.next()), None);
        // Too many bytes; what was sent frees its bytes.
        let (outbox, mut inbox) = Outbox::new(100, 10);
        outbox.send("12345678".into());
        assert_eq!(rt.block_on(inbox.next()).as_deref(), Some("12345678"));
        outbox.send("12345678".into());
        outbox.send("123".into());
        assert_eq!(rt.block_on(inbox.next()), None);
    }
}
