//! The UDP tracker front (BEP 15): one socket, datagrams in, replies out; the same socket
//! answers STUN Binding requests, so that browsers on the show's page learn their public
//! address from us rather than from a third party's STUN server.
//!
//! Parsing and replies are `tracker::proto::udp`'s and `net::stun`'s pure functions; this
//! loop only moves bytes and asks the shared [`Tracker`](crate::tracker::Tracker). Invalid
//! datagrams get an error reply when they carry a transaction id, else are dropped; nothing
//! a client sends can stop the loop. A datagram with STUN's shape ([`stun::is_stun`]) is
//! STUN: no BEP 15 packet we could accept has it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use std::time::Duration;

use tokio::sync::watch;

use crate::net::stun;
use crate::tracker::proto::udp::{self, Request};
use crate::tracker::{Announce, Event, Family, PeerUpdate, ScrapeCounts};

use super::State;

/// How often the receive loop looks at the shutdown flag when no datagram arrives.
const SHUTDOWN_POLL: Duration = Duration::from_millis(200);

/// Receives and answers datagrams until `shutdown` turns true.
///
/// This one loop runs on a dedicated thread with a blocking socket rather than as a tokio
/// task: it has no per-client state to multiplex, and measured under a flood of announces
/// the task version spent about a third of its CPU in scheduler wake-ups and context
/// switches. A reply the kernel cannot take is dropped: UDP clients retry.
pub fn run(socket: std::net::UdpSocket, state: Arc<State>, shutdown: watch::Receiver<bool>) {
    if let Err(e) = socket.set_read_timeout(Some(SHUTDOWN_POLL)) {
        tracing::warn!("udp tracker: cannot set a read timeout ({e}); not serving UDP");
        return;
    }
    let mut buf = vec![0u8; 2048];
    let mut out = Vec::with_capacity(1500);
    while !*shutdown.borrow() {
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => {
                // ICMP errors from earlier replies surface here on some systems.
                tracing::debug!("udp tracker: receive failed: {e}");
                continue;
            }
        };
        out.clear();
        handle(&state, &buf[..n], from, &mut out);
        if !out.is_empty() {
            if let Err(e) = socket.send_to(&out, from) {
                tracing::debug!("udp tracker: reply to {from} dropped: {e}");
            }
        }
    }
}

/// Answers one datagram into `out` (left empty to drop it).
pub fn handle(state: &State, packet: &[u8], from: SocketAddr, out: &mut Vec<u8>) {
    let from = SocketAddr::new(from.ip().to_canonical(), from.port());
    if stun::is_stun(packet) {
        return answer_stun(state, packet, from, out);
    }
    let now = state.now();
    let request = match udp::parse_request(packet) {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!("udp tracker: {from}: {e}");
            if let Some(tid) = e.transaction_id() {
                udp::write_error(out, tid, &e.to_string());
            }
            return;
        }
    };
    match request {
        Request::Connect { transaction_id } => {
            udp::write_connect(out, transaction_id, state.connection_ids.issue(&from, now));
        }
        Request::Announce(a) => {
            if !state.connection_ids.check(a.connection_id, &from, now) {
                udp::write_error(out, a.transaction_id, "bad connection id; connect again");
                return;
            }
            if a.port == 0 {
                udp::write_error(out, a.transaction_id, "invalid port 0");
                return;
            }
            // The ip field is honoured only from this machine, like HTTP's `ip=`.
            let ip = if a.ip != 0 && from.ip().is_loopback() {
                IpAddr::V4(Ipv4Addr::from(a.ip))
            } else {
                from.ip()
            };
            let announce = Announce {
                info_hash: a.info_hash,
                update: PeerUpdate {
                    addr: SocketAddr::new(ip, a.port),
                    peer_id: a.peer_id,
                    event: match a.event {
                        1 => Event::Completed,
                        2 => Event::Started,
                        3 => Event::Stopped,
                        _ => Event::None,
                    },
                    left: a.left,
                    uploaded: a.uploaded,
                    downloaded: a.downloaded,
                },
                numwant: usize::try_from(a.num_want).ok(),
                // A UDP reply carries one family: the one the client asked over.
                family: Some(if from.is_ipv6() {
                    Family::V6
                } else {
                    Family::V4
                }),
                observed: !(a.ip != 0 && from.ip().is_loopback()),
            };
            match state.tracker.announce(&announce, now) {
                Ok(reply) => udp::write_announce(
                    out,
                    a.transaction_id,
                    reply.interval,
                    clamp(reply.incomplete),
                    clamp(reply.complete),
                    reply.peers.iter().map(|(addr, _)| *addr),
                    from.is_ipv6(),
                ),
                Err(e) => udp::write_error(out, a.transaction_id, &e.to_string()),
            }
        }
        Request::Scrape {
            connection_id,
            transaction_id,
            info_hashes,
        } => {
            if !state.connection_ids.check(connection_id, &from, now) {
                udp::write_error(out, transaction_id, "bad connection id; connect again");
                return;
            }
            let hashes = info_hashes;
            let known = state.tracker.scrape(&hashes);
            let counts: Vec<ScrapeCounts> = hashes
                .iter()
                .map(|h| {
                    known
                        .iter()
                        .find(|(k, _)| k == h)
                        .map_or_else(ScrapeCounts::default, |(_, c)| *c)
                })
                .collect();
            udp::write_scrape(out, transaction_id, &counts);
        }
    }
}

/// Answers a STUN Binding request with the address it came from; drops anything else
/// (see [`stun::parse_request`] for why other methods get no error response).
fn answer_stun(state: &State, packet: &[u8], from: SocketAddr, out: &mut Vec<u8>) {
    match stun::parse_request(packet) {
        Ok(stun::Request::Binding { transaction_id }) => {
            state.count_stun_request();
            stun::write_binding_success(out, &transaction_id, from);
        }
        Ok(stun::Request::UnknownAttributes {
            transaction_id,
            attributes,
        }) => {
            state.count_stun_request();
            stun::write_unknown_attributes(out, &transaction_id, &attributes);
        }
        Err(e) => tracing::debug!("stun: {from}: {e}; dropped"),
    }
}

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
