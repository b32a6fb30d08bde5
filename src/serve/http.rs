//! The HTTP front: one listener for the site and web seed (static files), the HTTP tracker
//! (`/announce`, `/scrape`; a WebSocket upgrade on `/announce` goes to [`super::ws`]), and
//! the figures (`/stats` JSON, `/metrics` Prometheus text), all with CORS headers (see
//! `cors`).
//!
//! Connections are accepted by our own loop so that they are capped (a semaphore), have a
//! header-read timeout (slow clients cannot hold slots), and drain on shutdown. Routing is a
//! plain match on the path; tracker queries are parsed raw by `tracker::proto::http`.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::tracker::proto;
use crate::tracker::proto::http::ReplyPeer;
use crate::tracker::{Announce, PeerUpdate};

use super::{access_log, cors, State};
use crate::net::{IdleTimeout, PerIp, Rewind};

/// How long a client may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may make no progress at all (a reader that stopped reading).
pub(super) const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Request buffer per connection: tracker queries are capped at 8 KiB, so 16 KiB is
/// plenty, and 1000 connections cannot pin hyper's 400 KB default each.
const MAX_REQUEST_BUFFER: usize = 16 * 1024;
/// The zero-copy lane's bounds: hyper's own.
const LANE: super::lane::Limits = super::lane::Limits {
    max_head: MAX_REQUEST_BUFFER,
    header_timeout: HEADER_TIMEOUT,
    idle_timeout: IDLE_TIMEOUT,
};
/// How long shutdown waits for in-flight responses.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(4);

/// Accepts connections until `shutdown` turns true, then lets in-flight ones finish
/// (up to [`DRAIN_TIMEOUT`]).
pub async fn run(listener: TcpListener, state: Arc<State>, mut shutdown: watch::Receiver<bool>) {
    let max = u32::try_from(state.max_connections).unwrap_or(u32::MAX);
    let slots = Arc::new(Semaphore::new(max as usize));
    let per_ip = PerIp::new(state.max_connections_per_ip);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_REQUEST_BUFFER)
        .keep_alive(true);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("http: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(ip_slot) = per_ip.acquire(peer.ip().to_canonical()) else {
            tracing::debug!("http: {} has too many connections; closing one", peer.ip());
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::debug!("http: connection cap reached; closing {peer}");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let lane_state = state.clone();
        let (state, stop) = (state.clone(), shutdown.clone());
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let (state, stop) = (state.clone(), stop.clone());
            async move {
                // CORS in one place, for every route (see `cors`).
                if req.method() == Method::OPTIONS {
                    return Ok::<_, Infallible>(cors::preflight());
                }
                let seen = Observed::new(
                    &state,
                    peer,
                    req.method(),
                    req.uri(),
                    req.version(),
                    req.headers(),
                );
                let response = respond(&state, req, peer, stop).await;
                Ok(seen.finish(&state, response))
            }
        });
        let mut stop = shutdown.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let mut stream = stream;
            // Static GETs first (see `lane`); the rest of the connection is hyper's.
            let read =
                match super::lane::serve(&mut stream, &lane_state, peer, &mut stop, LANE).await {
                    super::lane::Outcome::Closed => {
                        drop((permit, ip_slot));
                        return;
                    }
                    super::lane::Outcome::HandOver(read) => read,
                };
            let io = TokioIo::new(IdleTimeout::new(Rewind::new(read, stream), IDLE_TIMEOUT));
            // With upgrades: a WebSocket request on /announce takes the socket over.
            let conn = builder.serve_connection(io, service).with_upgrades();
            tokio::pin!(conn);
            let done = tokio::select! {
                r = conn.as_mut() => r,
                () = stopping(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = done {
                tracing::debug!("http: {peer}: {e}");
            }
            drop((permit, ip_slot));
        });
    }
    drop(listener);
    // Every HTTP connection has returned its slot, and every WebSocket has closed.
    let http_drained = async {
        let _ = slots.acquire_many(max).await;
    };
    let drained = futures_util::future::join(http_drained, state.ws.drained());
    if tokio::time::timeout(DRAIN_TIMEOUT, drained).await.is_err() {
        tracing::warn!("http: some responses were still running at shutdown");
    }
}

/// What every request is seen for before it is answered: the client, the download it may
/// be, its access log line.
pub(super) struct Observed {
    tracked: Option<super::downloads::Tracked>,
    logged: Option<access_log::Request>,
}

impl Observed {
    /// Looks at a request from `peer` before it is answered.
    pub(super) fn new(
        state: &State,
        peer: SocketAddr,
        method: &Method,
        uri: &axum::http::Uri,
        version: axum::http::Version,
        headers: &HeaderMap,
    ) -> Observed {
        let client = client_ip(state, headers, peer);
        // Episodes live under episodes/ (publish's layout): other requests, the feeds and
        // pages most of all, skip the catalog lookup.
        let maybe_episode = method == Method::GET && uri.path().starts_with("/episodes/");
        let tracked = maybe_episode
            .then(|| {
                state
                    .downloads
                    .track(client, method, uri, headers, &state.catalog())
            })
            .flatten();
        let logged = state
            .access_log
            .is_on()
            .then(|| access_log::Request::new(client, method, uri, version, headers));
        Observed { tracked, logged }
    }

    /// What every response gets: CORS headers (see `cors`), the download counter and the
    /// access log (both told the bytes as they are sent).
    pub(super) fn finish(self, state: &State, mut response: Response<Body>) -> Response<Body> {
        cors::add_headers(response.headers_mut());
        if let Some(t) = self.tracked {
            response = state.downloads.record(t, response);
        }
        match self.logged {
            Some(request) => state.access_log.record(request, response),
            None => response,
        }
    }
}

/// Resolves once shutdown begins (at once if it has).
pub(super) async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, never held across an await.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The paths [`respond`] answers itself; every other is a static file. A new route goes
/// here too: the lane answers every other GET from the static files without asking hyper.
const ROUTES: [&str; 5] = ["/announce", "/scrape", "/stats", "/stats.html", "/metrics"];

/// Whether `path` names a static file (is none of the routes).
pub(super) fn is_static(path: &str) -> bool {
    !ROUTES.contains(&path)
}

/// Routes one request (a route added here goes into [`ROUTES`] as well).
async fn respond(
    state: &Arc<State>,
    req: Request<Incoming>,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let method = req.method().clone();
    let is_get = method == Method::GET || method == Method::HEAD;
    match path.as_str() {
        "/announce" if is_get && state.ws.wants(req.headers()) => {
            let client = client_ip(state, req.headers(), peer);
            super::ws::upgrade(state, req, client, shutdown).await
        }
        "/announce" if is_get => {
            let client = client_ip(state, req.headers(), peer);
            bencoded(announce(
                state,
                &query,
                client,
                peer.ip().is_loopback() || state.trust_proxy,
            ))
        }
        "/scrape" if is_get => bencoded(scrape(state, &query)),
        "/stats" if is_get => json(&stats(state)),
        "/stats.html" if is_get => super::downloads::page(state, &query, req.headers()),
        "/metrics" if is_get => text(metrics(state), "text/plain; version=0.0.4; charset=utf-8"),
        _ => {
            let counter = state.http_counter();
            state
                .files
                .respond(&method, &path, req.headers(), counter)
                .await
        }
    }
}

/// The client's address: the socket's, or with `trust_proxy` the one the proxy saw:
/// `X-Real-IP`, else the last `X-Forwarded-For` entry (the one our proxy appended; earlier
/// entries come from the client and prove nothing).
fn client_ip(state: &State, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
    if state.trust_proxy {
        let forwarded = headers
            .get("x-real-ip")
            .and_then(|v| v.to_str().ok())
            .or_else(|| {
                headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .next_back()
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.rsplit(',').next())
            })
            .and_then(|v| v.trim().parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return ip.to_canonical();
        }
    }
    peer.ip().to_canonical()
}

/// Answers an announce; `trusted` allows the `ip` parameter.
pub fn announce(state: &State, query: &str, client: IpAddr, trusted: bool) -> Vec<u8> {
    let a = match proto::http::parse_announce(query) {
        Ok(a) => a,
        Err(e) => return proto::http::write_failure(&e.to_string()),
    };
    let ip = match a.ip {
        Some(ip) if trusted => ip.to_canonical(),
        _ => client,
    };
    let announce = Announce {
        info_hash: a.info_hash,
        update: PeerUpdate {
            addr: SocketAddr::new(ip, a.port),
            peer_id: a.peer_id,
            event: a.event,
            left: a.left,
            uploaded: a.uploaded,
            downloaded: a.downloaded,
        },
        numwant: a.numwant,
        family: None,
        observed: !(trusted && a.ip.is_some()),
    };
    match state.tracker.announce(&announce, state.now()) {
        Ok(r) => {
            let peers: Vec<ReplyPeer> = r
                .peers
                .iter()
                .map(|(addr, peer_id)| ReplyPeer {
                    addr: *addr,
                    peer_id: *peer_id,
                })
                .collect();
            proto::http::write_announce(
                r.interval,
                r.min_interval,
                r.complete,
                r.incomplete,
                &peers,
                a.compact,
                a.no_peer_id,
            )
        }
        Err(e) => proto::http::write_failure(&e.to_string()),
    }
}

/// Answers a scrape.
pub fn scrape(state: &State, query: &str) -> Vec<u8> {
    match proto::http::parse_scrape(query) {
        Ok(hashes) => proto::http::write_scrape(&state.tracker.scrape(&hashes)),
        Err(e) => proto::http::write_failure(&e.to_string()),
    }
}

fn bencoded(body: Vec<u8>) -> Response<Body> {
    text(body, "text/plain")
}

fn text(body: impl Into<Body>, content_type: &'static str) -> Response<Body> {
    let mut r = Response::new(body.into());
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn json<T: Serialize>(value: &T) -> Response<Body> {
    match serde_json::to_vec_pretty(value) {
        Ok(v) => text(v, "application/json"),
        Err(_) => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
    }
}

/// The figures `/stats` gives per episode and in total.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Figures {
    /// Seeders now.
    pub seeders: usize,
    /// Leechers now.
    pub leechers: usize,
    /// Completed downloads the tracker saw.
    pub completed: u64,
    /// MP3 bytes sent over HTTP (players and web seed).
    pub http_bytes: u64,
    /// Bytes our seeder sent to peers.
    pub seeder_bytes: u64,
    /// Bytes listeners reported downloading (from announces).
    pub peer_downloaded_bytes: u64,
    /// Bytes listeners reported uploading to each other.
    pub peer_uploaded_bytes: u64,
    /// Browser peers (WebTorrent, on the WebSocket tracker) now.
    pub browser_peers: usize,
    /// Bytes browser peers reported downloading (web seed and other browsers).
    pub browser_downloaded_bytes: u64,
    /// Bytes browser peers reported uploading to each other.
    pub browser_uploaded_bytes: u64,
    /// Downloaded by listeners (BitTorrent and browsers) but sent by neither our HTTP nor
    /// our seeder: what the swarm saved.
    pub swarm_saved_bytes: u64,
    /// Downloads today (UTC), counted as `downloads` describes (IAB style).
    pub downloads_today: u64,
    /// Downloads on every day kept in the state folder.
    pub downloads_total: u64,
    /// BitTorrent completions today.
    pub torrent_completions_today: u64,
    /// BitTorrent completions on every day kept.
    pub torrent_completions_total: u64,
    /// Browser-swarm completions today.
    pub browser_completions_today: u64,
    /// Browser-swarm completions on every day kept.
    pub browser_completions_total: u64,
}

impl Figures {
    fn add(&mut self, o: &Figures) {
        self.seeders += o.seeders;
        self.leechers += o.leechers;
        self.completed += o.completed;
        self.http_bytes += o.http_bytes;
        self.seeder_bytes += o.seeder_bytes;
        self.peer_downloaded_bytes += o.peer_downloaded_bytes;
        self.peer_uploaded_bytes += o.peer_uploaded_bytes;
        self.browser_peers += o.browser_peers;
        self.browser_downloaded_bytes += o.browser_downloaded_bytes;
        self.browser_uploaded_bytes += o.browser_uploaded_bytes;
        self.swarm_saved_bytes += o.swarm_saved_bytes;
        self.downloads_today += o.downloads_today;
        self.downloads_total += o.downloads_total;
        self.torrent_completions_today += o.torrent_completions_today;
        self.torrent_completions_total += o.torrent_completions_total;
        self.browser_completions_today += o.browser_completions_today;
        self.browser_completions_total += o.browser_completions_total;
    }
}

/// `/stats` for one episode.
#[derive(Debug, Serialize)]
pub struct EpisodeStats {
    /// Title.
    pub title: String,
    /// Info hash (hex).
    pub info_hash: String,
    /// The MP3's path in the output folder (the key of the daily download files).
    pub media: String,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// `/stats`.
#[derive(Debug, Serialize)]
pub struct Stats {
    /// Seconds since start.
    pub uptime_secs: u64,
    /// STUN Binding requests answered on the UDP port (browsers learning their address).
    pub stun_requests: u64,
    /// Episodes, in feed order.
    pub episodes: Vec<EpisodeStats>,
    /// Sums over the episodes.
    pub totals: Figures,
    /// The download counter itself: where its days are kept, its window, what it ignored.
    pub downloads: super::downloads::CounterStats,
}

/// Gathers the figures.
pub fn stats(state: &State) -> Stats {
    let catalog = state.catalog();
    let swarms = state.tracker.stats();
    let http = state.http_bytes();
    state.downloads.observe(&super::downloads::running(state));
    let counted = state.downloads.per_episode();
    let mut totals = Figures::default();
    let episodes = catalog
        .episodes
        .iter()
        .map(|e| {
            let s = swarms.get(&e.info_hash).cloned().unwrap_or_default();
            let http_bytes = http.get(&e.media).copied().unwrap_or(0);
            let seeder_bytes = state
                .seeder
                .as_ref()
                .map_or(0, |sd| sd.uploaded(&e.info_hash));
            let figures = Figures {
                seeders: s.seeders,
                leechers: s.leechers,
                completed: s.completed,
                http_bytes,
                seeder_bytes,
                peer_downloaded_bytes: s.peer_downloaded,
                peer_uploaded_bytes: s.peer_uploaded,
                browser_peers: s.browser_peers,
                browser_downloaded_bytes: s.browser_downloaded,
                browser_uploaded_bytes: s.browser_uploaded,
                swarm_saved_bytes: s
                    .peer_downloaded
                    .saturating_add(s.browser_downloaded)
                    .saturating_sub(http_bytes.saturating_add(seeder_bytes)),
                ..Figures::default()
            };
            let mut figures = figures;
            if let Some((today, all)) = counted.get(&e.media) {
                figures.downloads_today = today.downloads;
                figures.downloads_total = all.downloads;
                figures.torrent_completions_today = today.torrent_completions;
                figures.torrent_completions_total = all.torrent_completions;
                figures.browser_completions_today = today.browser_completions;
                figures.browser_completions_total = all.browser_completions;
            }
            totals.add(&figures);
            EpisodeStats {
                title: e.title.clone(),
                info_hash: e.info_hash.to_hex(),
                media: e.media.clone(),
                figures,
            }
        })
        .collect();
    Stats {
        uptime_secs: state.now(),
        stun_requests: state.stun_requests(),
        episodes,
        totals,
        downloads: state.downloads.counter_stats(),
    }
}

fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A metric: name, type, help, and how to read it off an episode.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&Figures) -> u64,
);

/// `/metrics` in the Prometheus text format.
pub fn metrics(state: &State) -> String {
    let s = stats(state);
    let mut out = String::new();
    let series: [Series; 17] = [
        ("podseed_seeders", "gauge", "Seeders in the swarm.", |e| {
            e.seeders as u64
        }),
        ("podseed_leechers", "gauge", "Leechers in the swarm.", |e| {
            e.leechers as u64
        }),
        (
            "podseed_completed_total",
            "counter",
            "Completed downloads seen by the tracker.",
            |e| e.completed,
        ),
        (
            "podseed_http_bytes_total",
            "counter",
            "MP3 bytes sent over HTTP.",
            |e| e.http_bytes,
        ),
        (
            "podseed_seeder_bytes_total",
            "counter",
            "Bytes our seeder sent to peers.",
            |e| e.seeder_bytes,
        ),
        (
            "podseed_peer_downloaded_bytes_total",
            "counter",
            "Bytes listeners reported downloading.",
            |e| e.peer_downloaded_bytes,
        ),
        (
            "podseed_peer_uploaded_bytes_total",
            "counter",
            "Bytes listeners reported uploading.",
            |e| e.peer_uploaded_bytes,
        ),
        (
            "podseed_browser_peers",
            "gauge",
            "Browser peers on the WebSocket tracker.",
            |e| e.browser_peers as u64,
        ),
        (
            "podseed_browser_downloaded_bytes_total",
            "counter",
            "Bytes browser peers reported downloading.",
            |e| e.browser_downloaded_bytes,
        ),
        (
            "podseed_browser_uploaded_bytes_total",
            "counter",
            "Bytes browser peers reported uploading.",
            |e| e.browser_uploaded_bytes,
        ),
        (
            "podseed_swarm_saved_bytes_total",
            "counter",
            "Bytes listeners got without our HTTP.",
            |e| e.swarm_saved_bytes,
        ),
        (
            "podseed_downloads_today",
            "gauge",
            "Downloads today (UTC), IAB style: per listener in 24 h, a minute of audio, no bots.",
            |e| e.downloads_today,
        ),
        (
            "podseed_downloads_total",
            "counter",
            "Downloads on every day kept in the state folder.",
            |e| e.downloads_total,
        ),
        (
            "podseed_torrent_completions_today",
            "gauge",
            "BitTorrent completions today (UTC).",
            |e| e.torrent_completions_today,
        ),
        (
            "podseed_torrent_completions_total",
            "counter",
            "BitTorrent completions on every day kept.",
            |e| e.torrent_completions_total,
        ),
        (
            "podseed_browser_completions_today",
            "gauge",
            "Browser-swarm completions today (UTC).",
            |e| e.browser_completions_today,
        ),
        (
            "podseed_browser_completions_total",
            "counter",
            "Browser-swarm completions on every day kept.",
            |e| e.browser_completions_total,
        ),
    ];
    for (name, kind, help, get) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for e in &s.episodes {
            let _ = writeln!(
                out,
                "{name}{{info_hash=\"{}\",title=\"{}\"}} {}",
                e.info_hash,
                label(&e.title),
                get(&e.figures)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP podseed_uptime_seconds Seconds since serve started.\n# TYPE podseed_uptime_seconds gauge\npodseed_uptime_seconds {}",
        s.uptime_secs
    );
    let _ = writeln!(
        out,
        "# HELP podseed_stun_requests_total STUN Binding requests answered.\n# TYPE podseed_stun_requests_total counter\npodseed_stun_requests_total {}",
        s.stun_requests
    );
    out
}
