//! Announcing our seeder to every other tracker of each torrent: HTTP(S) via reqwest, UDP
//! per BEP 15 (the client side of `tracker::proto::udp`), `started` first, then every interval
//! with `left=0`, `stopped` when the torrent stops being seeded and at shutdown. Failures
//! are logged and retried with backoff, never fatal. The built-in tracker is told in
//! process, not here.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{percent_encode, NON_ALPHANUMERIC};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::Instant;

use crate::bt::{bencode, InfoHash, PeerId};
use crate::tracker::proto::udp::{self, AnnounceRequest, Reply};

use super::Seeder;

/// One announce may take this long.
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(15);
/// Announces in flight at once.
const CONCURRENT: usize = 8;
/// Bounds on the interval a tracker may ask for.
const MIN_INTERVAL: u64 = 60;
const MAX_INTERVAL: u64 = 7200;
/// First retry delay after a failure; it doubles up to the interval bound.
const RETRY_FIRST: u64 = 60;

/// What we say to trackers about ourselves.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Our peer id.
    pub peer_id: PeerId,
    /// The port peers should connect to.
    pub port: u16,
    /// An address to announce explicitly (`serve.peer_public_addr`), else the tracker
    /// uses the one our packets come from.
    pub ip: Option<std::net::IpAddr>,
}

/// Announce events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnounceEvent {
    /// First announce.
    Started,
    /// Regular.
    Regular,
    /// Leaving.
    Stopped,
}

#[derive(Debug)]
struct Slot {
    due: Instant,
    started: bool,
    failures: u32,
    /// An announce is queued or under way: no second one until it reports back, however
    /// long it waits for a place (dead trackers must not pile up duplicates).
    in_flight: bool,
    /// Tells this slot's results from those of an earlier slot of the same key (the
    /// torrent left and came back while an announce was out).
    generation: u64,
    /// What we last told this tracker we uploaded (the count is gone with the torrent).
    uploaded: u64,
}

type Key = (InfoHash, String);

/// What an announce task reports: its key, its slot's generation, the uploaded count it
/// sent, and the interval the tracker asked for or why it failed.
type Done = (Key, u64, u64, Result<u32, String>);

/// Reports a task's result; a task that ends without one (it panicked) reports a failure
/// as it is dropped, so its slot is never left waiting.
struct Report {
    tx: mpsc::UnboundedSender<Done>,
    what: Option<(Key, u64, u64)>,
}

impl Report {
    fn send(mut self, result: Result<u32, String>) {
        if let Some((key, generation, uploaded)) = self.what.take() {
            let _ = self.tx.send((key, generation, uploaded, result));
        }
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        if let Some((key, generation, uploaded)) = self.what.take() {
            let lost = Err("the announce ended without an answer".to_string());
            let _ = self.tx.send((key, generation, uploaded, lost));
        }
    }
}

/// `stopped` for one torrent at one tracker; a failure is only logged (the tracker
/// expires us anyway).
async fn send_stopped(client: &reqwest::Client, identity: &Identity, key: &Key, uploaded: u64) {
    let event = AnnounceEvent::Stopped;
    if let Err(e) = announce(client, &key.1, &key.0, identity, event, uploaded).await {
        tracing::debug!("seeder: stopped to {}: {e}", key.1);
    }
}

/// [`send_stopped`] in the background, within the announce cap.
fn spawn_stopped(
    client: &reqwest::Client,
    identity: &Identity,
    limit: &Arc<Semaphore>,
    key: Key,
    uploaded: u64,
) {
    let (client, identity, limit) = (client.clone(), identity.clone(), limit.clone());
    tokio::spawn(async move {
        let _permit = limit.acquire_owned().await;
        send_stopped(&client, &identity, &key, uploaded).await;
    });
}

/// Announces every active torrent to its trackers other than `own`, until `shutdown`;
/// then sends `stopped` where `started` got through.
pub async fn run(
    seeder: Arc<Seeder>,
    identity: Identity,
    own: Vec<String>,
    mut shutdown: watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder()
        .timeout(ANNOUNCE_TIMEOUT)
        .user_agent(concat!("podseed/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("seeder: no HTTP client ({e}); not announcing to other trackers");
            return;
        }
    };
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let mut announcer = Announcer {
        seeder,
        identity,
        own,
        client,
        limit: Arc::new(Semaphore::new(CONCURRENT)),
        done_tx,
        slots: HashMap::new(),
        generations: 0,
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tick.tick() => {
                announcer.follow_seeded();
                announcer.announce_due();
            }
            Some(done) = done_rx.recv() => announcer.answered(done),
        }
    }
    announcer.stop_all().await;
}

/// The announce state of every (torrent, tracker) pair we seed for.
struct Announcer {
    seeder: Arc<Seeder>,
    identity: Identity,
    /// Our own trackers' URLs: those hear from us in process, not over the network.
    own: Vec<String>,
    client: reqwest::Client,
    limit: Arc<Semaphore>,
    done_tx: mpsc::UnboundedSender<Done>,
    slots: HashMap<Key, Slot>,
    generations: u64,
}

impl Announcer {
    /// Takes in a finished announce: when the next is due, or a backoff after a failure.
    fn answered(&mut self, (key, generation, uploaded, result): Done) {
        let Some(slot) = self
            .slots
            .get_mut(&key)
            .filter(|s| s.generation == generation)
        else {
            // The torrent stopped being seeded while this announce was out (and perhaps
            // came back, with a slot of its own). If the tracker took it and nothing seeds
            // it now, take it back: a `stopped` sent at removal may have reached the
            // tracker first.
            if result.is_ok() && !self.slots.contains_key(&key) {
                spawn_stopped(&self.client, &self.identity, &self.limit, key, uploaded);
            }
            return;
        };
        slot.in_flight = false;
        match result {
            Ok(interval) => {
                if !slot.started {
                    tracing::info!("seeder: announced {} to {}", key.0, key.1);
                }
                slot.started = true;
                slot.failures = 0;
                let wait = u64::from(interval).clamp(MIN_INTERVAL, MAX_INTERVAL);
                slot.due = Instant::now() + Duration::from_secs(wait);
            }
            Err(e) => {
                slot.failures += 1;
                let wait = (RETRY_FIRST << slot.failures.min(6)).min(MAX_INTERVAL);
                tracing::warn!(
                    "seeder: announce of {} to {} failed ({e}); retrying in {wait} s",
                    key.0,
                    key.1
                );
                slot.due = Instant::now() + Duration::from_secs(wait);
            }
        }
    }

    /// Follows the seeded set: new torrents get slots, removed ones lose them.
    fn follow_seeded(&mut self) {
        let mut wanted: HashSet<Key> = HashSet::new();
        for hash in self.seeder.active() {
            if let Some(t) = self.seeder.torrent(&hash) {
                for url in &t.trackers {
                    if !self.own.contains(url) {
                        wanted.insert((hash, url.clone()));
                    }
                }
            }
        }
        // A torrent no longer seeded (removed from the build, or disabled) says `stopped`
        // where it said `started`, so those trackers stop listing us for it now.
        let gone: Vec<(Key, u64)> = self
            .slots
            .iter()
            .filter(|(k, s)| s.started && !wanted.contains(k))
            .map(|(k, s)| (k.clone(), s.uploaded))
            .collect();
        self.slots.retain(|k, _| wanted.contains(k));
        for (key, uploaded) in gone {
            spawn_stopped(&self.client, &self.identity, &self.limit, key, uploaded);
        }
        let now = Instant::now();
        for key in wanted {
            self.slots.entry(key).or_insert_with(|| {
                self.generations += 1;
                Slot {
                    due: now,
                    started: false,
                    failures: 0,
                    in_flight: false,
                    generation: self.generations,
                    uploaded: 0,
                }
            });
        }
    }

    /// Starts the announces that are due, at most one in flight per slot.
    fn announce_due(&mut self) {
        let now = Instant::now();
        for (key, slot) in &mut self.slots {
            if slot.in_flight || slot.due > now {
                continue;
            }
            slot.in_flight = true;
            let event = if slot.started {
                AnnounceEvent::Regular
            } else {
                AnnounceEvent::Started
            };
            slot.uploaded = self.seeder.uploaded(&key.0);
            let uploaded = slot.uploaded;
            let report = Report {
                tx: self.done_tx.clone(),
                what: Some((key.clone(), slot.generation, uploaded)),
            };
            let (client, identity) = (self.client.clone(), self.identity.clone());
            let (limit, key) = (self.limit.clone(), key.clone());
            tokio::spawn(async move {
                let _permit = limit.acquire_owned().await;
                report.send(announce(&client, &key.1, &key.0, &identity, event, uploaded).await);
            });
        }
    }

    /// Shutdown: `stopped` to every tracker that heard `started`, within a few seconds.
    async fn stop_all(self) {
        let stops = self
            .slots
            .into_iter()
            .filter(|(_, s)| s.started)
            .map(|(key, _)| {
                let (client, identity) = (&self.client, &self.identity);
                let uploaded = self.seeder.uploaded(&key.0);
                async move { send_stopped(client, identity, &key, uploaded).await }
            });
        let _ = tokio::time::timeout(
            Duration::from_secs(3),
            futures_util::future::join_all(stops),
        )
        .await;
    }
}

/// One announce; returns the interval the tracker asks for.
pub async fn announce(
    client: &reqwest::Client,
    url: &str,
    hash: &InfoHash,
    me: &Identity,
    event: AnnounceEvent,
    uploaded: u64,
) -> Result<u32, String> {
    if url.starts_with("udp://") {
        tokio::time::timeout(
            ANNOUNCE_TIMEOUT,
            announce_udp(url, hash, me, event, uploaded),
        )
        .await
        .map_err(|_| "timed out".to_string())?
    } else if url.starts_with("http://") || url.starts_with("https://") {
        announce_http(client, url, hash, me, event, uploaded).await
    } else {
        Err("unsupported tracker scheme".into())
    }
}

fn enc(bytes: &[u8]) -> String {
    percent_encode(bytes, NON_ALPHANUMERIC).to_string()
}

async fn announce_http(
    client: &reqwest::Client,
    url: &str,
    hash: &InfoHash,
    me: &Identity,
    event: AnnounceEvent,
    uploaded: u64,
) -> Result<u32, String> {
    let mut q = format!(
        "info_hash={}&peer_id={}&port={}&uploaded={uploaded}&downloaded=0&left=0&compact=1&numwant=0",
        enc(&hash.0),
        enc(&me.peer_id.0),
        me.port
    );
    match event {
        AnnounceEvent::Started => q.push_str("&event=started"),
        AnnounceEvent::Stopped => q.push_str("&event=stopped"),
        AnnounceEvent::Regular => {}
    }
    if let Some(ip) = me.ip {
        q.push_str(&format!("&ip={ip}"));
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    let body = client
        .get(format!("{url}{sep}{q}"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .error_for_status()
        .map_err(|e| e.to_string())?
        .bytes()
        .await
        .map_err(|e| e.to_string())?;
    interval_of_reply(&body)
}

/// The `interval` of an HTTP tracker's reply (1800 when it gives none), or its failure reason.
fn interval_of_reply(body: &[u8]) -> Result<u32, String> {
    let reply = bencode::decode_prefix(body)
        .ok()
        .map(|(v, _)| v)
        .filter(bencode::Value::is_dict)
        .ok_or("reply is not a bencoded dictionary")?;
    if let Some(reason) = reply.get(b"failure reason") {
        let text = reason.as_bytes().map_or_else(
            || format!("{reason:?}"),
            |b| String::from_utf8_lossy(b).into_owned(),
        );
        return Err(format!("tracker says: {text}"));
    }
    Ok(reply
        .get(b"interval")
        .and_then(bencode::Value::as_int)
        .map_or(1800, |i| u32::try_from(i).unwrap_or(u32::MAX)))
}

async fn announce_udp(
    url: &str,
    hash: &InfoHash,
    me: &Identity,
    event: AnnounceEvent,
    uploaded: u64,
) -> Result<u32, String> {
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    let host = parsed.host_str().ok_or("no host")?.trim_matches(['[', ']']);
    let port = parsed.port().ok_or("no port")?;
    let target: SocketAddr = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("host has no address")?;
    let bind: SocketAddr = if target.is_ipv6() {
        "[::]:0".parse().map_err(|_| "bind")?
    } else {
        "0.0.0.0:0".parse().map_err(|_| "bind")?
    };
    let sock = UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
    sock.connect(target).await.map_err(|e| e.to_string())?;
    let exchange = |packet: Vec<u8>, tid: u32| {
        let sock = &sock;
        async move {
            let mut buf = [0u8; 1024];
            // BEP 15: retry with a growing timeout; two tries fit our overall timeout.
            for wait in [3u64, 6] {
                sock.send(&packet).await.map_err(|e| e.to_string())?;
                match tokio::time::timeout(Duration::from_secs(wait), sock.recv(&mut buf)).await {
                    Ok(Ok(n)) => {
                        if let Some(r) = udp::parse_reply(&buf[..n], tid) {
                            return Ok(r);
                        }
                    }
                    Ok(Err(e)) => return Err(e.to_string()),
                    Err(_) => continue,
                }
            }
            Err("no reply".to_string())
        }
    };
    let tid = fastrand::u32(..);
    let mut p = Vec::new();
    udp::write_connect_request(&mut p, tid);
    let connection_id = match exchange(p, tid).await? {
        Reply::Connected(id) => id,
        Reply::Error(m) => return Err(format!("tracker says: {m}")),
        Reply::Announced { .. } => return Err("unexpected reply".into()),
    };
    let tid = fastrand::u32(..);
    let mut p = Vec::new();
    udp::write_announce_request(
        &mut p,
        &AnnounceRequest {
            connection_id,
            transaction_id: tid,
            info_hash: *hash,
            peer_id: me.peer_id,
            downloaded: 0,
            left: 0,
            uploaded,
            event: match event {
                AnnounceEvent::Regular => 0,
                AnnounceEvent::Started => 2,
                AnnounceEvent::Stopped => 3,
            },
            ip: match me.ip {
                Some(std::net::IpAddr::V4(v4)) => u32::from(v4),
                _ => 0,
            },
            key: 0,
            num_want: 0,
            port: me.port,
        },
    );
    match exchange(p, tid).await? {
        Reply::Announced { interval } => Ok(interval),
        Reply::Error(m) => Err(format!("tracker says: {m}")),
        Reply::Connected(_) => Err("unexpected reply".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_replies_give_their_interval_or_their_failure() {
        assert_eq!(interval_of_reply(b"d8:intervali900e5:peers0:e"), Ok(900));
        assert_eq!(interval_of_reply(b"d5:peers0:e"), Ok(1800));
        assert_eq!(interval_of_reply(b"d8:intervali-1ee"), Ok(u32::MAX));
        assert_eq!(
            interval_of_reply(b"d14:failure reason8:not heree"),
            Err("tracker says: not here".into())
        );
        assert!(interval_of_reply(b"<html>").is_err());
        assert!(interval_of_reply(b"li1ee").is_err());
    }
}
