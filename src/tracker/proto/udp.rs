//! BEP 15 UDP tracker codec: parse requests and write replies (and the client side, for
//! the seeder's announces), as pure functions over byte slices.
//!
//! No sockets and no state here: the loop in `serve::udp` moves datagrams and calls these;
//! connection ids are `tracker::connection_id`'s.

use std::net::{IpAddr, SocketAddr};

use crate::bt::{InfoHash, PeerId};
use crate::tracker::ScrapeCounts;

/// The magic constant a connect request starts with.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;

/// Action codes.
pub const ACTION_CONNECT: u32 = 0;
/// Announce action.
pub const ACTION_ANNOUNCE: u32 = 1;
/// Scrape action.
pub const ACTION_SCRAPE: u32 = 2;
/// Error action.
pub const ACTION_ERROR: u32 = 3;

/// Most info hashes one scrape may ask for (BEP 15: about 74 fit a datagram).
pub const MAX_SCRAPE_HASHES: usize = 74;

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Connect: ask for a connection id.
    Connect {
        /// Transaction id to echo.
        transaction_id: u32,
    },
    /// Announce.
    Announce(AnnounceRequest),
    /// Scrape.
    Scrape {
        /// Connection id from a connect reply.
        connection_id: u64,
        /// Transaction id to echo.
        transaction_id: u32,
        /// Up to 74 info hashes.
        info_hashes: Vec<InfoHash>,
    },
}

/// The fields of a UDP announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// Connection id from a connect reply.
    pub connection_id: u64,
    /// Transaction id to echo.
    pub transaction_id: u32,
    /// Torrent.
    pub info_hash: InfoHash,
    /// Client's peer id.
    pub peer_id: PeerId,
    /// Bytes downloaded so far.
    pub downloaded: u64,
    /// Bytes left.
    pub left: u64,
    /// Bytes uploaded so far.
    pub uploaded: u64,
    /// 0 none, 1 completed, 2 started, 3 stopped.
    pub event: u32,
    /// Requested IPv4 address (0 = use the sender's).
    pub ip: u32,
    /// Client key.
    pub key: u32,
    /// Peers wanted; -1 for the default.
    pub num_want: i32,
    /// Client's listening port.
    pub port: u16,
}

/// Why a datagram was not a valid request. Some carry the transaction id, so the
/// server can answer with an error packet; the rest are dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Shorter than any request (16 bytes): dropped.
    #[error("packet of {0} bytes is too short")]
    TooShort(usize),
    /// A connect without the protocol magic: dropped.
    #[error("connect without the protocol id")]
    BadProtocolId,
    /// Shorter than this action needs.
    #[error("truncated {action}")]
    Truncated {
        /// Which action.
        action: &'static str,
        /// Its length.
        len: usize,
        /// To echo in the error reply.
        transaction_id: u32,
    },
    /// An action we do not know.
    #[error("unknown action {action}")]
    UnknownAction {
        /// The action code.
        action: u32,
        /// To echo in the error reply.
        transaction_id: u32,
    },
    /// A scrape of no hashes or of too many.
    #[error("scrape 1-74 hashes")]
    ScrapeCount {
        /// Hash count.
        count: usize,
        /// To echo in the error reply.
        transaction_id: u32,
    },
}

impl ParseError {
    /// The transaction id to answer with an error packet, if the request deserves one.
    pub fn transaction_id(&self) -> Option<u32> {
        match self {
            ParseError::TooShort(_) | ParseError::BadProtocolId => None,
            ParseError::Truncated { transaction_id, .. }
            | ParseError::UnknownAction { transaction_id, .. }
            | ParseError::ScrapeCount { transaction_id, .. } => Some(*transaction_id),
        }
    }
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_be_bytes(a)
}

fn hash20(b: &[u8], i: usize) -> [u8; 20] {
    let mut a = [0u8; 20];
    a.copy_from_slice(&b[i..i + 20]);
    a
}

/// Parses one datagram.
pub fn parse_request(b: &[u8]) -> Result<Request, ParseError> {
    if b.len() < 16 {
        return Err(ParseError::TooShort(b.len()));
    }
    let connection_id = u64_at(b, 0);
    let action = u32_at(b, 8);
    let transaction_id = u32_at(b, 12);
    match action {
        ACTION_CONNECT => {
            if connection_id != PROTOCOL_ID {
                return Err(ParseError::BadProtocolId);
            }
            Ok(Request::Connect { transaction_id })
        }
        ACTION_ANNOUNCE => {
            if b.len() < 98 {
                return Err(ParseError::Truncated {
                    action: "announce",
                    len: b.len(),
                    transaction_id,
                });
            }
            Ok(Request::Announce(AnnounceRequest {
                connection_id,
                transaction_id,
                info_hash: InfoHash(hash20(b, 16)),
                peer_id: PeerId(hash20(b, 36)),
                downloaded: u64_at(b, 56),
                left: u64_at(b, 64),
                uploaded: u64_at(b, 72),
                event: u32_at(b, 80),
                ip: u32_at(b, 84),
                key: u32_at(b, 88),
                num_want: u32_at(b, 92) as i32,
                port: u16_at(b, 96),
            }))
        }
        ACTION_SCRAPE => {
            let count = (b.len() - 16) / 20;
            if count == 0 || count > MAX_SCRAPE_HASHES {
                return Err(ParseError::ScrapeCount {
                    count,
                    transaction_id,
                });
            }
            let info_hashes = (0..count)
                .map(|i| InfoHash(hash20(b, 16 + 20 * i)))
                .collect();
            Ok(Request::Scrape {
                connection_id,
                transaction_id,
                info_hashes,
            })
        }
        _ => Err(ParseError::UnknownAction {
            action,
            transaction_id,
        }),
    }
}

/// Writes a connect reply.
pub fn write_connect(out: &mut Vec<u8>, transaction_id: u32, connection_id: u64) {
    out.extend_from_slice(&ACTION_CONNECT.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    out.extend_from_slice(&connection_id.to_be_bytes());
}

/// Writes an announce reply. Peers of the other address family than `ipv6` are skipped:
/// BEP 15 sends 6-byte entries to IPv4 clients and 18-byte ones to IPv6 clients.
pub fn write_announce(
    out: &mut Vec<u8>,
    transaction_id: u32,
    interval: u32,
    leechers: u32,
    seeders: u32,
    peers: impl IntoIterator<Item = SocketAddr>,
    ipv6: bool,
) {
    out.extend_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    out.extend_from_slice(&interval.to_be_bytes());
    out.extend_from_slice(&leechers.to_be_bytes());
    out.extend_from_slice(&seeders.to_be_bytes());
    for p in peers {
        match (p.ip(), ipv6) {
            (IpAddr::V4(ip), false) => out.extend_from_slice(&ip.octets()),
            (IpAddr::V6(ip), true) => out.extend_from_slice(&ip.octets()),
            _ => continue,
        }
        out.extend_from_slice(&p.port().to_be_bytes());
    }
}

/// Writes a scrape reply, one entry per requested hash, in order.
pub fn write_scrape(out: &mut Vec<u8>, transaction_id: u32, entries: &[ScrapeCounts]) {
    out.extend_from_slice(&ACTION_SCRAPE.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    for e in entries {
        out.extend_from_slice(&e.seeders.to_be_bytes());
        out.extend_from_slice(&e.completed.to_be_bytes());
        out.extend_from_slice(&e.leechers.to_be_bytes());
    }
}

/// Writes an error reply.
pub fn write_error(out: &mut Vec<u8>, transaction_id: u32, message: &str) {
    out.extend_from_slice(&ACTION_ERROR.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    out.extend_from_slice(message.as_bytes());
}

/// Client side (our seeder announcing to other UDP trackers): a connect request.
pub fn write_connect_request(out: &mut Vec<u8>, transaction_id: u32) {
    out.extend_from_slice(&PROTOCOL_ID.to_be_bytes());
    out.extend_from_slice(&ACTION_CONNECT.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
}

/// Client side: an announce request (98 bytes).
pub fn write_announce_request(out: &mut Vec<u8>, a: &AnnounceRequest) {
    out.extend_from_slice(&a.connection_id.to_be_bytes());
    out.extend_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
    out.extend_from_slice(&a.transaction_id.to_be_bytes());
    out.extend_from_slice(&a.info_hash.0);
    out.extend_from_slice(&a.peer_id.0);
    out.extend_from_slice(&a.downloaded.to_be_bytes());
    out.extend_from_slice(&a.left.to_be_bytes());
    out.extend_from_slice(&a.uploaded.to_be_bytes());
    out.extend_from_slice(&a.event.to_be_bytes());
    out.extend_from_slice(&a.ip.to_be_bytes());
    out.extend_from_slice(&a.key.to_be_bytes());
    out.extend_from_slice(&a.num_want.to_be_bytes());
    out.extend_from_slice(&a.port.to_be_bytes());
}

/// A tracker's reply as the client side reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Connect reply: the connection id.
    Connected(u64),
    /// Announce reply: the interval (peers are of no use to a seed).
    Announced {
        /// Seconds until the next announce.
        interval: u32,
    },
    /// Error reply: the message.
    Error(String),
}

/// Parses a reply to the request with `transaction_id`; None when it is not one.
pub fn parse_reply(b: &[u8], transaction_id: u32) -> Option<Reply> {
    if b.len() < 8 || u32_at(b, 4) != transaction_id {
        return None;
    }
    match u32_at(b, 0) {
        ACTION_CONNECT if b.len() >= 16 => Some(Reply::Connected(u64_at(b, 8))),
        ACTION_ANNOUNCE if b.len() >= 20 => Some(Reply::Announced {
            interval: u32_at(b, 8),
        }),
        ACTION_ERROR => Some(Reply::Error(String::from_utf8_lossy(&b[8..]).into_owned())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn connect_packet(tid: u32) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&PROTOCOL_ID.to_be_bytes());
        p.extend_from_slice(&0u32.to_be_bytes());
        p.extend_from_slice(&tid.to_be_bytes());
        p
    }

    #[test]
    fn connect_request_and_reply_bytes() {
        let p = connect_packet(0xdead_beef);
        assert_eq!(
            p,
            [0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]
        );
        assert_eq!(
            parse_request(&p),
            Ok(Request::Connect {
                transaction_id: 0xdead_beef
            })
        );
        let mut out = Vec::new();
        write_connect(&mut out, 7, 0x0102_0304_0506_0708);
        assert_eq!(out, [0, 0, 0, 0, 0, 0, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn announce_request_layout() {
        let mut p = Vec::new();
        p.extend_from_slice(&42u64.to_be_bytes()); // 0 connection_id
        p.extend_from_slice(&1u32.to_be_bytes()); // 8 action
        p.extend_from_slice(&9u32.to_be_bytes()); // 12 transaction_id
        p.extend_from_slice(&[0xaa; 20]); // 16 info_hash
        p.extend_from_slice(&[0xbb; 20]); // 36 peer_id
        p.extend_from_slice(&100u64.to_be_bytes()); // 56 downloaded
        p.extend_from_slice(&200u64.to_be_bytes()); // 64 left
        p.extend_from_slice(&300u64.to_be_bytes()); // 72 uploaded
        p.extend_from_slice(&2u32.to_be_bytes()); // 80 event
        p.extend_from_slice(&0u32.to_be_bytes()); // 84 ip
        p.extend_from_slice(&77u32.to_be_bytes()); // 88 key
        p.extend_from_slice(&(-1i32).to_be_bytes()); // 92 num_want
        p.extend_from_slice(&6881u16.to_be_bytes()); // 96 port
        assert_eq!(p.len(), 98);
        let Ok(Request::Announce(a)) = parse_request(&p) else {
            panic!("announce");
        };
        assert_eq!(
            a,
            AnnounceRequest {
                connection_id: 42,
                transaction_id: 9,
                info_hash: InfoHash([0xaa; 20]),
                peer_id: PeerId([0xbb; 20]),
                downloaded: 100,
                left: 200,
                uploaded: 300,
                event: 2,
                ip: 0,
                key: 77,
                num_want: -1,
                port: 6881,
            }
        );
        assert!(matches!(
            parse_request(&p[..97]),
            Err(ParseError::Truncated {
                transaction_id: 9,
                ..
            })
        ));
    }

    #[test]
    fn announce_reply_per_family() {
        let peers: Vec<SocketAddr> = vec![
            "1.2.3.4:6881".parse().expect("v4"),
            "[::1]:51413".parse().expect("v6"),
        ];
        let mut v4 = Vec::new();
        write_announce(&mut v4, 5, 1800, 3, 4, peers.iter().copied(), false);
        assert_eq!(
            v4,
            [0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 7, 8, 0, 0, 0, 3, 0, 0, 0, 4, 1, 2, 3, 4, 0x1a, 0xe1]
        );
        let mut v6 = Vec::new();
        write_announce(&mut v6, 5, 1800, 3, 4, peers.iter().copied(), true);
        assert_eq!(v6.len(), 20 + 18);
        assert_eq!(
            &v6[20..36],
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
        );
        assert_eq!(&v6[36..], &51413u16.to_be_bytes());
    }

    #[test]
    fn scrape_request_and_reply() {
        let mut p = Vec::new();
        p.extend_from_slice(&42u64.to_be_bytes());
        p.extend_from_slice(&2u32.to_be_bytes());
        p.extend_from_slice(&3u32.to_be_bytes());
        p.extend_from_slice(&[1; 20]);
        p.extend_from_slice(&[2; 20]);
        let Ok(Request::Scrape { info_hashes, .. }) = parse_request(&p) else {
            panic!("scrape");
        };
        assert_eq!(info_hashes, vec![InfoHash([1; 20]), InfoHash([2; 20])]);
        assert!(matches!(
            parse_request(&p[..16]),
            Err(ParseError::ScrapeCount { count: 0, .. })
        ));
        let mut out = Vec::new();
        write_scrape(
            &mut out,
            3,
            &[ScrapeCounts {
                seeders: 1,
                completed: 2,
                leechers: 3,
            }],
        );
        assert_eq!(
            out,
            [0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]
        );
    }

    #[test]
    fn garbage_is_rejected_not_panicking() {
        assert_eq!(parse_request(&[]), Err(ParseError::TooShort(0)));
        assert_eq!(parse_request(&[0; 15]), Err(ParseError::TooShort(15)));
        let mut bad = connect_packet(1);
        bad[0] = 9;
        assert_eq!(parse_request(&bad), Err(ParseError::BadProtocolId));
        let mut unknown = connect_packet(1);
        unknown[11] = 9;
        assert_eq!(
            parse_request(&unknown).map_err(|e| e.transaction_id()),
            Err(Some(1))
        );
        for len in 0..200 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            let _ = parse_request(&junk);
        }
        let mut err = Vec::new();
        write_error(&mut err, 4, "nope");
        assert_eq!(err, [0, 0, 0, 3, 0, 0, 0, 4, b'n', b'o', b'p', b'e']);
    }

    #[test]
    fn client_side_requests_parse_as_server_side_requests() {
        let mut c = Vec::new();
        write_connect_request(&mut c, 77);
        assert_eq!(
            parse_request(&c),
            Ok(Request::Connect { transaction_id: 77 })
        );
        let a = AnnounceRequest {
            connection_id: 1,
            transaction_id: 2,
            info_hash: InfoHash([3; 20]),
            peer_id: PeerId([4; 20]),
            downloaded: 5,
            left: 0,
            uploaded: 7,
            event: 2,
            ip: 0,
            key: 9,
            num_want: -1,
            port: 6881,
        };
        let mut p = Vec::new();
        write_announce_request(&mut p, &a);
        assert_eq!(parse_request(&p), Ok(Request::Announce(a)));
        let mut r = Vec::new();
        write_connect(&mut r, 5, 99);
        assert_eq!(parse_reply(&r, 5), Some(Reply::Connected(99)));
        assert_eq!(parse_reply(&r, 6), None);
        let mut r = Vec::new();
        write_announce(&mut r, 5, 1800, 0, 1, std::iter::empty(), false);
        assert_eq!(
            parse_reply(&r, 5),
            Some(Reply::Announced { interval: 1800 })
        );
        let mut r = Vec::new();
        write_error(&mut r, 5, "no");
        assert_eq!(parse_reply(&r, 5), Some(Reply::Error("no".into())));
    }

    /// A 16-byte request header: the connect magic or any connection id, a known action.
    fn header() -> impl Strategy<Value = Vec<u8>> {
        (
            prop_oneof![Just(PROTOCOL_ID), any::<u64>()],
            0u32..=2,
            any::<u32>(),
        )
            .prop_map(|(connection_id, action, tid)| {
                let mut p = connection_id.to_be_bytes().to_vec();
                p.extend_from_slice(&action.to_be_bytes());
                p.extend_from_slice(&tid.to_be_bytes());
                p
            })
    }

    fn announce_request() -> impl Strategy<Value = AnnounceRequest> {
        (
            (
                any::<u64>(),
                any::<u32>(),
                any::<[u8; 20]>(),
                any::<[u8; 20]>(),
            ),
            (any::<u64>(), any::<u64>(), any::<u64>(), any::<u32>()),
            (any::<u32>(), any::<u32>(), any::<i32>(), any::<u16>()),
        )
            .prop_map(
                |(
                    (connection_id, transaction_id, info_hash, peer_id),
                    (downloaded, left, uploaded, event),
                    (ip, key, num_want, port),
                )| AnnounceRequest {
                    connection_id,
                    transaction_id,
                    info_hash: InfoHash(info_hash),
                    peer_id: PeerId(peer_id),
                    downloaded,
                    left,
                    uploaded,
                    event,
                    ip,
                    key,
                    num_want,
                    port,
                },
            )
    }

    proptest! {
        #[test]
        fn parse_request_never_panics_on_arbitrary_bytes(
            buf in proptest::collection::vec(any::<u8>(), 0..200)
        ) {
            let _ = parse_request(&buf);
        }

        #[test]
        fn parse_request_never_panics_after_a_valid_header(
            head in header(),
            tail in proptest::collection::vec(any::<u8>(), 0..1600),
        ) {
            let mut p = head;
            p.extend_from_slice(&tail);
            let _ = parse_request(&p);
        }

        #[test]
        fn announce_and_scrape_errors_echo_the_transaction_id(
            head in header(),
            tail in proptest::collection::vec(any::<u8>(), 0..1600),
        ) {
            let action = u32_at(&head, 8);
            let tid = u32_at(&head, 12);
            let mut p = head;
            p.extend_from_slice(&tail);
            if let (Err(e), ACTION_ANNOUNCE | ACTION_SCRAPE) = (parse_request(&p), action) {
                prop_assert_eq!(e.transaction_id(), Some(tid));
            }
        }

        #[test]
        fn announce_requests_round_trip(a in announce_request()) {
            let mut p = Vec::new();
            write_announce_request(&mut p, &a);
            prop_assert_eq!(p.len(), 98);
            prop_assert_eq!(parse_request(&p), Ok(Request::Announce(a)));
        }

        #[test]
        fn connect_requests_round_trip(tid in any::<u32>()) {
            let mut p = Vec::new();
            write_connect_request(&mut p, tid);
            prop_assert_eq!(parse_request(&p), Ok(Request::Connect { transaction_id: tid }));
        }

        #[test]
        fn parse_reply_never_panics(
            buf in proptest::collection::vec(any::<u8>(), 0..64),
            other_tid in any::<u32>(),
            own_tid in any::<bool>(),
        ) {
            // Half the cases ask for the transaction id the packet carries, to reach the body.
            let tid = match buf.get(4..8) {
                Some(t) if own_tid => u32::from_be_bytes([t[0], t[1], t[2], t[3]]),
                _ => other_tid,
            };
            let _ = parse_reply(&buf, tid);
        }

        #[test]
        fn connect_replies_round_trip(tid in any::<u32>(), connection_id in any::<u64>()) {
            let mut r = Vec::new();
            write_connect(&mut r, tid, connection_id);
            prop_assert_eq!(parse_reply(&r, tid), Some(Reply::Connected(connection_id)));
        }

        #[test]
        fn announce_replies_round_trip(
            tid in any::<u32>(),
            interval in any::<u32>(),
            leechers in any::<u32>(),
            seeders in any::<u32>(),
            peers in proptest::collection::vec(any::<SocketAddr>(), 0..8),
            ipv6 in any::<bool>(),
        ) {
            let mut r = Vec::new();
            write_announce(&mut r, tid, interval, leechers, seeders, peers, ipv6);
            prop_assert_eq!(parse_reply(&r, tid), Some(Reply::Announced { interval }));
        }

        #[test]
        fn error_replies_round_trip(tid in any::<u32>(), message in ".{0,64}") {
            let mut r = Vec::new();
            write_error(&mut r, tid, &message);
            prop_assert_eq!(parse_reply(&r, tid), Some(Reply::Error(message)));
        }

        #[test]
        fn replies_to_another_transaction_are_ignored(
            tid in any::<u32>(),
            other in any::<u32>(),
            connection_id in any::<u64>(),
        ) {
            prop_assume!(tid != other);
            let mut r = Vec::new();
            write_connect(&mut r, tid, connection_id);
            prop_assert_eq!(parse_reply(&r, other), None);
        }
    }
}
