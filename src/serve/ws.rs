//! The WebSocket front of the tracker (the WebTorrent tracker browsers use): a WebSocket
//! upgrade on the HTTP listener's `/announce`, one task per connection moving JSON text
//! frames between the socket and `tracker` (which parses with `proto::ws` and relays).
//!
//! Bounded: connections in all and per client address (refused before the upgrade),
//! message size, messages per connection (a token bucket), a bounded outgoing queue per
//! connection (a reader too slow to keep up is closed, never waited for), and an idle
//! timeout of two announce intervals plus slack. Pings every half HTTP idle timeout keep
//! proxies and our own socket timeout from cutting a quiet browser. A closed connection
//! leaves its swarms as `stopped`; on shutdown every connection gets a Close frame.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::FromRequestParts;
use axum::http::{header, HeaderMap, Request, Response, StatusCode};
use axum::response::IntoResponse;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

use crate::bt::InfoHash;
use crate::config::ServeSettings;
use crate::net::PerIp;
use crate::tracker::proto::ws::{self as codec, Action, Reply, Request as WsRequest};
use crate::tracker::{BrowserLink, ConnId, Inbox, Outbox};

use super::State;

/// Largest message (and frame) a browser may send: an announce with ten offers of a few
/// KiB of SDP each fits with room to spare.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Frames, and bytes, queued for one connection before it counts as too slow and is
/// closed: 512 connections hold at most 128 MiB of queued relays.
const OUTBOX_FRAMES: usize = 64;
const OUTBOX_BYTES: usize = 256 * 1024;
/// Messages a connection may send in a burst, and how many per second after that.
const BURST_MESSAGES: f64 = 50.0;
const MESSAGES_PER_SEC: f64 = 1.0;
/// How long one frame may take to go out.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The WebSocket tracker's connection caps, shared by all connections.
#[derive(Debug)]
pub struct WsFront {
    enabled: bool,
    max: u32,
    slots: Arc<Semaphore>,
    per_ip: PerIp,
    next_conn: AtomicU64,
}

impl WsFront {
    /// Caps from `serve:`.
    pub fn new(serve: &ServeSettings) -> Self {
        let max = u32::try_from(serve.ws_max_connections).unwrap_or(u32::MAX);
        WsFront {
            enabled: serve.ws_tracker,
            max,
            slots: Arc::new(Semaphore::new(max as usize)),
            per_ip: PerIp::new(serve.ws_max_connections_per_ip),
            next_conn: AtomicU64::new(1),
        }
    }

    /// Whether this request asks for the WebSocket tracker.
    pub fn wants(&self, headers: &HeaderMap) -> bool {
        self.enabled
            && headers
                .get(header::UPGRADE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
    }

    /// Resolves once every WebSocket connection has ended.
    pub async fn drained(&self) {
        let _ = self.slots.acquire_many(self.max).await;
    }
}

/// Answers an upgrade request on `/announce`: 101 and a connection task, or a refusal
/// (429 for an address over its cap, 503 when all slots are taken).
pub async fn upgrade<B>(
    state: &Arc<State>,
    req: Request<B>,
    client: IpAddr,
    shutdown: watch::Receiver<bool>,
) -> Response<Body> {
    let (mut parts, _) = req.into_parts();
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let front = &state.ws;
    let Some(ip_slot) = front.per_ip.acquire(client) else {
        tracing::debug!("ws tracker: {client} has too many connections");
        return refusal(
            StatusCode::TOO_MANY_REQUESTS,
            "too many connections from your address",
        );
    };
    let Ok(permit) = front.slots.clone().try_acquire_owned() else {
        tracing::debug!("ws tracker: connection cap reached; refusing {client}");
        return refusal(StatusCode::SERVICE_UNAVAILABLE, "too many connections");
    };
    let conn = front.next_conn.fetch_add(1, Ordering::Relaxed);
    let state = state.clone();
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_failed_upgrade(move |e| tracing::debug!("ws tracker: {client}: upgrade failed: {e}"))
        .on_upgrade(move |socket| async move {
            let (c, inbox) = Connection::new(state, conn, client);
            c.run(inbox, socket, shutdown).await;
            drop((permit, ip_slot));
        })
}

fn refusal(status: StatusCode, why: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::from(why));
    *r.status_mut() = status;
    r
}

/// A token bucket: `BURST_MESSAGES` at once, `MESSAGES_PER_SEC` after that.
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * MESSAGES_PER_SEC;
        self.tokens = (self.tokens + refill).min(BURST_MESSAGES);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One browser's connection.
struct Connection {
    state: Arc<State>,
    link: BrowserLink,
    /// Swarms this connection announced to (at most the served torrents).
    joined: HashSet<InfoHash>,
}

impl Connection {
    fn new(state: Arc<State>, conn: ConnId, ip: IpAddr) -> (Self, Inbox) {
        let (outbox, inbox) = Outbox::new(OUTBOX_FRAMES, OUTBOX_BYTES);
        (
            Connection {
                state,
                link: BrowserLink { conn, ip, outbox },
                joined: HashSet::new(),
            },
            inbox,
        )
    }

    /// Moves frames until the socket closes, idles, lags or the server shuts down; then
    /// leaves every swarm it joined.
    async fn run(
        mut self,
        mut inbox: Inbox,
        mut socket: WebSocket,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let c = &mut self;
        let idle = Duration::from_secs(c.state.tracker.browser_silence());
        let mut deadline = Instant::now() + idle;
        let mut ping = tokio::time::interval_at(
            Instant::now() + super::http::IDLE_TIMEOUT / 2,
            super::http::IDLE_TIMEOUT / 2,
        );
        let mut bucket = Bucket {
            tokens: BURST_MESSAGES,
            at: Instant::now(),
        };
        let end = loop {
            tokio::select! {
                () = super::http::stopping(&mut shutdown) => break End::ShuttingDown,
                () = tokio::time::sleep_until(deadline) => break End::Idle,
                _ = ping.tick() => {
                    if !send(&mut socket, Message::Ping(Default::default())).await {
                        break End::Gone;
                    }
                }
                out = inbox.next() => match out {
                    Some(text) => {
                        if !send(&mut socket, Message::Text(text.into())).await {
                            break End::Gone;
                        }
                    }
                    None => break End::TooSlow,
                },
                got = socket.recv() => {
                    let text = match got {
                        Some(Ok(Message::Text(t))) => t.as_str().to_string(),
                        Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(Message::Close(_))) | None => break End::Gone,
                        // Oversized, not UTF-8, or a broken socket.
                        Some(Err(e)) => {
                            tracing::debug!("ws tracker: {}: {e}", c.link.ip);
                            break End::Gone;
                        }
                    };
                    deadline = Instant::now() + idle;
                    let allowed = bucket.take();
                    let reply = c.handle(&text, allowed);
                    if let Some(reply) = reply {
                        c.link.outbox.send(codec::write_reply(&reply));
                    }
                }
            }
        };
        if let Some(frame) = end.close_frame() {
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                socket.send(Message::Close(Some(frame))),
            )
            .await;
        }
        let joined: Vec<InfoHash> = c.joined.drain().collect();
        c.state.tracker.browser_leave(c.link.conn, &joined);
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy)]
enum End {
    /// The browser closed it, or the socket broke or sent something unacceptable.
    Gone,
    /// SIGTERM.
    ShuttingDown,
    /// Nothing from the browser for two announce intervals and the slack.
    Idle,
    /// Its outbox overflowed.
    TooSlow,
}

impl End {
    /// The Close frame we send, if the socket is still ours to write to.
    fn close_frame(self) -> Option<CloseFrame> {
        let (code, reason) = match self {
            End::Gone => return None,
            End::ShuttingDown => (1001, "server shutting down"),
            End::Idle => (1001, "idle"),
            End::TooSlow => (1008, "too slow to read"),
        };
        Some(CloseFrame {
            code,
            reason: reason.into(),
        })
    }
}

/// Sends one frame within [`SEND_TIMEOUT`]; false when the connection is done.
async fn send(socket: &mut WebSocket, m: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(m)).await,
        Ok(Ok(()))
    )
}

impl Connection {
    /// One message in; the reply to queue, if any (relays go out through the tracker).
    /// `allowed` is false when the connection is over its message rate.
    fn handle(&mut self, text: &str, allowed: bool) -> Option<Reply> {
        let state = &self.state;
        let request = match codec::parse_request(text) {
            Ok(r) => r,
            // As bittorrent-tracker's server: no action or hash, just the reason.
            Err(e) => {
                return Some(Reply::Failure {
                    reason: e.to_string(),
                    action: None,
                    info_hash: None,
                })
            }
        };
        if !allowed {
            // Named, so WebTorrent takes it as a warning for that torrent rather than as a
            // broken tracker to reconnect to.
            let (action, hash) = match &request {
                WsRequest::Announce(a) => (Action::Announce, Some(a.info_hash)),
                WsRequest::Answer(a) => (Action::Announce, Some(a.info_hash)),
                WsRequest::Scrape(h) => (Action::Scrape, h.first().copied()),
            };
            return Some(Reply::Failure {
                reason: "too many messages, slow down".into(),
                action: Some(action),
                info_hash: hash,
            });
        }
        let failure = |e: crate::tracker::TrackerError, action, hash| Reply::Failure {
            reason: e.to_string(),
            action: Some(action),
            info_hash: Some(hash),
        };
        match request {
            WsRequest::Announce(a) => {
                match state.tracker.browser_announce(&a, &self.link, state.now()) {
                    Ok(r) => {
                        // Kept after `stopped` too: the connection may hold another peer
                        // id there, and leaving is idempotent.
                        self.joined.insert(a.info_hash);
                        Some(Reply::Announce {
                            info_hash: a.info_hash,
                            interval: r.interval,
                            complete: r.complete,
                            incomplete: r.incomplete,
                        })
                    }
                    Err(e) => Some(failure(e, Action::Announce, a.info_hash)),
                }
            }
            // As bittorrent-tracker does, a relayed answer gets no reply of its own.
            WsRequest::Answer(a) => state
                .tracker
                .browser_answer(&a, self.link.conn, state.now())
                .err()
                .map(|e| failure(e, Action::Announce, a.info_hash)),
            WsRequest::Scrape(hashes) => Some(Reply::Scrape(state.tracker.browser_scrape(&hashes))),
        }
    }
}
