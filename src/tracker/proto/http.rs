//! HTTP tracker codec (BEP 3, 23, 7, 48): parse announce and scrape query strings and
//! write bencoded replies. Pure functions; the HTTP listener in `serve::http` calls them.
//!
//! The query is parsed raw, because `info_hash` and `peer_id` are 20 arbitrary bytes,
//! percent-encoded, which a UTF-8 query extractor would reject or mangle.

use std::net::{IpAddr, SocketAddr};

use percent_encoding::percent_decode;

use crate::bt::{bencode, InfoHash, PeerId};

use crate::tracker::{Event, ScrapeCounts};

/// Longest query string accepted (a full 74-hash scrape fits; anything longer is abuse).
pub const MAX_QUERY_LEN: usize = 8192;

/// A parsed HTTP announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnnounce {
    /// Torrent.
    pub info_hash: InfoHash,
    /// Client's peer id.
    pub peer_id: PeerId,
    /// Client's listening port (never 0).
    pub port: u16,
    /// Uploaded so far.
    pub uploaded: u64,
    /// Downloaded so far.
    pub downloaded: u64,
    /// Bytes left.
    pub left: u64,
    /// Event.
    pub event: Event,
    /// Compact peer list (BEP 23); the default.
    pub compact: bool,
    /// Peers wanted.
    pub numwant: Option<usize>,
    /// Omit peer ids in the dictionary form.
    pub no_peer_id: bool,
    /// The `ip` parameter (honoured only from trusted sources).
    pub ip: Option<IpAddr>,
}

/// What is wrong with a query; the text goes into `failure reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Over [`MAX_QUERY_LEN`].
    #[error("query too long")]
    TooLong,
    /// A required parameter is absent.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A parameter has a bad value.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// Port 0 cannot be connected to.
    #[error("invalid port 0")]
    PortZero,
}

/// Splits `a=1&b=2` into decoded (key, value) byte pairs.
fn pairs(query: &str) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    query.split('&').filter(|s| !s.is_empty()).map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (
            percent_decode(k.as_bytes()).collect(),
            percent_decode(v.as_bytes()).collect(),
        )
    })
}

fn id20(v: &[u8], name: &'static str) -> Result<[u8; 20], QueryError> {
    v.try_into().map_err(|_| QueryError::Invalid(name))
}

fn number<T: std::str::FromStr>(v: &[u8], name: &'static str) -> Result<T, QueryError> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(QueryError::Invalid(name))
}

/// Parses an announce query string (without the `?`).
pub fn parse_announce(query: &str) -> Result<HttpAnnounce, QueryError> {
    if query.len() > MAX_QUERY_LEN {
        return Err(QueryError::TooLong);
    }
    let (mut info_hash, mut peer_id, mut port) = (None, None, None);
    let (mut uploaded, mut downloaded, mut left) = (None, None, None);
    let mut a = HttpAnnounce {
        info_hash: InfoHash([0; 20]),
        peer_id: PeerId([0; 20]),
        port: 0,
        uploaded: 0,
        downloaded: 0,
        left: 0,
        event: Event::None,
        compact: true,
        numwant: None,
        no_peer_id: false,
        ip: None,
    };
    for (k, v) in pairs(query) {
        match k.as_slice() {
            b"info_hash" => info_hash = Some(id20(&v, "info_hash")?),
            b"peer_id" => peer_id = Some(id20(&v, "peer_id")?),
            b"port" => port = Some(number::<u16>(&v, "port")?),
            b"uploaded" => uploaded = Some(number::<u64>(&v, "uploaded")?),
            b"downloaded" => downloaded = Some(number::<u64>(&v, "downloaded")?),
            // Some clients send left=-1 when they do not know: count them as leechers.
            b"left" => {
                let n = number::<i128>(&v, "left")?;
                left = Some(u64::try_from(n).unwrap_or(u64::MAX));
            }
            b"event" => {
                a.event = match v.as_slice() {
                    b"started" => Event::Started,
                    b"completed" => Event::Completed,
                    b"stopped" => Event::Stopped,
                    b"" | b"empty" | b"paused" => Event::None,
                    _ => return Err(QueryError::Invalid("event")),
                }
            }
            b"compact" => a.compact = v.as_slice() != b"0",
            b"no_peer_id" => a.no_peer_id = v.as_slice() == b"1",
            // Optional hints: a value we cannot use (numwant=-1, a host name in ip=) is
            // ignored rather than failing the announce.
            b"numwant" => a.numwant = number::<usize>(&v, "numwant").ok(),
            b"ip" => a.ip = std::str::from_utf8(&v).ok().and_then(|s| s.parse().ok()),
            _ => {}
        }
    }
    a.info_hash = InfoHash(info_hash.ok_or(QueryError::Missing("info_hash"))?);
    a.peer_id = PeerId(peer_id.ok_or(QueryError::Missing("peer_id"))?);
    a.port = port.ok_or(QueryError::Missing("port"))?;
    if a.port == 0 {
        return Err(QueryError::PortZero);
    }
    a.uploaded = uploaded.ok_or(QueryError::Missing("uploaded"))?;
    a.downloaded = downloaded.ok_or(QueryError::Missing("downloaded"))?;
    a.left = left.ok_or(QueryError::Missing("left"))?;
    Ok(a)
}

/// Parses a scrape query: every `info_hash` (none means "all").
pub fn parse_scrape(query: &str) -> Result<Vec<InfoHash>, QueryError> {
    if query.len() > MAX_QUERY_LEN {
        return Err(QueryError::TooLong);
    }
    pairs(query)
        .filter(|(k, _)| k.as_slice() == b"info_hash")
        .map(|(_, v)| id20(&v, "info_hash").map(InfoHash))
        .collect()
}

/// The peer list of an announce reply.
#[derive(Debug, Clone)]
pub struct ReplyPeer {
    /// Address.
    pub addr: SocketAddr,
    /// Peer id.
    pub peer_id: PeerId,
}

/// Writes an announce reply (keys in bencode's sorted order).
pub fn write_announce(
    interval: u32,
    min_interval: u32,
    complete: usize,
    incomplete: usize,
    peers: &[ReplyPeer],
    compact: bool,
    no_peer_id: bool,
) -> Vec<u8> {
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let mut out = Vec::with_capacity(96 + peers.len() * 18);
    bencode::dict(&mut out, |d| {
        d.int(b"complete", count(complete))
            .int(b"incomplete", count(incomplete))
            .int(b"interval", i64::from(interval))
            .int(b"min interval", i64::from(min_interval));
        if compact {
            let (mut v4, mut v6) = (Vec::new(), Vec::new());
            for p in peers {
                match p.addr.ip() {
                    IpAddr::V4(ip) => {
                        v4.extend_from_slice(&ip.octets());
                        v4.extend_from_slice(&p.addr.port().to_be_bytes());
                    }
                    IpAddr::V6(ip) => {
                        v6.extend_from_slice(&ip.octets());
                        v6.extend_from_slice(&p.addr.port().to_be_bytes());
                    }
                }
            }
            d.bytes(b"peers", &v4);
            if !v6.is_empty() {
                d.bytes(b"peers6", &v6);
            }
        } else {
            d.list(b"peers", |l| {
                for p in peers {
                    l.dict(|peer| {
                        peer.bytes(b"ip", p.addr.ip().to_string().as_bytes());
                        if !no_peer_id {
                            peer.bytes(b"peer id", &p.peer_id.0);
                        }
                        peer.int(b"port", i64::from(p.addr.port()));
                    });
                }
            });
        }
    });
    out
}

/// Writes a scrape reply; `files` is keyed by the raw 20-byte hash (sorted here).
pub fn write_scrape(entries: &[(InfoHash, ScrapeCounts)]) -> Vec<u8> {
    let mut sorted: Vec<&(InfoHash, ScrapeCounts)> = entries.iter().collect();
    sorted.sort_by_key(|e| e.0);
    sorted.dedup_by(|a, b| a.0 == b.0);
    let mut out = Vec::with_capacity(16 + sorted.len() * 80);
    bencode::dict(&mut out, |d| {
        d.dict(b"files", |files| {
            for (hash, c) in sorted {
                files.dict(&hash.0, |f| {
                    f.int(b"complete", i64::from(c.seeders))
                        .int(b"downloaded", i64::from(c.completed))
                        .int(b"incomplete", i64::from(c.leechers));
                });
            }
        });
    });
    out
}

/// Writes `d14:failure reason…e`.
pub fn write_failure(reason: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + reason.len());
    bencode::dict(&mut out, |d| {
        d.bytes(b"failure reason", reason.as_bytes());
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const Q: &str = "info_hash=%12%34Vx%9a%bc%de%f1%23Eg%89%ab%cd%ef%124Vx%9a&peer_id=-PS0100-abcdefghijkl&port=6881&uploaded=0&downloaded=10&left=99&event=started&numwant=5&key=x";

    #[test]
    fn announce_with_binary_hash() {
        let a = parse_announce(Q).expect("valid");
        assert_eq!(
            a.info_hash.0,
            [
                0x12, 0x34, b'V', b'x', 0x9a, 0xbc, 0xde, 0xf1, 0x23, b'E', b'g', 0x89, 0xab, 0xcd,
                0xef, 0x12, b'4', b'V', b'x', 0x9a
            ]
        );
        assert_eq!(&a.peer_id.0, b"-PS0100-abcdefghijkl");
        assert_eq!((a.port, a.downloaded, a.left), (6881, 10, 99));
        assert_eq!(a.event, Event::Started);
        assert!(a.compact);
        assert_eq!(a.numwant, Some(5));
    }

    #[test]
    fn announce_errors() {
        assert_eq!(
            parse_announce(&Q.replace("port=6881", "port=0")),
            Err(QueryError::PortZero)
        );
        assert_eq!(
            parse_announce(&Q.replace("&left=99", "")),
            Err(QueryError::Missing("left"))
        );
        assert_eq!(
            parse_announce(&Q.replace("%9a&peer", "&peer")),
            Err(QueryError::Invalid("info_hash"))
        );
        assert_eq!(
            parse_announce(&Q.replace("port=6881", "port=70000")),
            Err(QueryError::Invalid("port"))
        );
        assert_eq!(
            parse_announce(&"x=1&".repeat(3000)),
            Err(QueryError::TooLong)
        );
        assert_eq!(parse_announce(""), Err(QueryError::Missing("info_hash")));
        assert_eq!(
            parse_announce(&format!("{Q}&event=bogus")),
            Err(QueryError::Invalid("event"))
        );
    }

    #[test]
    fn unusable_hints_are_ignored() {
        let a = parse_announce(&format!("{Q}&numwant=-1&ip=host.example")).expect("valid");
        assert_eq!((a.numwant, a.ip), (None, None));
        let a = parse_announce(&Q.replace("left=99", "left=-1")).expect("valid");
        assert!(a.left > 0);
        let a = parse_announce(&Q.replace("left=99", "left=0")).expect("valid");
        assert_eq!(a.left, 0);
    }

    #[test]
    fn compact_reply_bytes() {
        let peers = [
            ReplyPeer {
                addr: "1.2.3.4:6881".parse().expect("addr"),
                peer_id: PeerId([b'a'; 20]),
            },
            ReplyPeer {
                addr: "[::1]:7".parse().expect("addr"),
                peer_id: PeerId([b'b'; 20]),
            },
        ];
        let r = write_announce(1800, 900, 1, 2, &peers, true, false);
        let mut want = b"d8:completei1e10:incompletei2e8:intervali1800e12:min intervali900e5:peers6:\x01\x02\x03\x04\x1a\xe16:peers618:".to_vec();
        want.extend_from_slice(&[0; 15]);
        want.extend_from_slice(&[1, 0, 7, b'e']);
        assert_eq!(r, want);
    }

    #[test]
    fn dictionary_reply_and_failure() {
        let peers = [ReplyPeer {
            addr: "1.2.3.4:6881".parse().expect("addr"),
            peer_id: PeerId([b'a'; 20]),
        }];
        let r = write_announce(60, 30, 0, 1, &peers, false, false);
        assert!(
            r.ends_with(b"5:peersld2:ip7:1.2.3.47:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti6881eeee")
        );
        let r = write_announce(60, 30, 0, 1, &peers, false, true);
        assert!(r.ends_with(b"5:peersld2:ip7:1.2.3.44:porti6881eeee"));
        assert_eq!(
            write_failure("unregistered torrent"),
            b"d14:failure reason20:unregistered torrente"
        );
    }

    #[test]
    fn scrape_parse_and_reply() {
        let q = format!(
            "info_hash={}&info_hash={}",
            "%01".repeat(20),
            "%02".repeat(20)
        );
        assert_eq!(
            parse_scrape(&q),
            Ok(vec![InfoHash([1; 20]), InfoHash([2; 20])])
        );
        assert_eq!(parse_scrape(""), Ok(vec![]));
        assert_eq!(
            parse_scrape("info_hash=ab"),
            Err(QueryError::Invalid("info_hash"))
        );
        let c = ScrapeCounts {
            seeders: 1,
            completed: 2,
            leechers: 3,
        };
        let r = write_scrape(&[(InfoHash([2; 20]), c), (InfoHash([1; 20]), c)]);
        let mut want = b"d5:filesd20:".to_vec();
        want.extend_from_slice(&[1; 20]);
        want.extend_from_slice(b"d8:completei1e10:downloadedi2e10:incompletei3ee20:");
        want.extend_from_slice(&[2; 20]);
        want.extend_from_slice(b"d8:completei1e10:downloadedi2e10:incompletei3eeee");
        assert_eq!(r, want);
    }

    /// Query-shaped noise: names, values, separators and broken percent escapes, sometimes
    /// repeated past [`MAX_QUERY_LEN`].
    fn query_noise() -> impl Strategy<Value = String> {
        let token = proptest::sample::select(vec![
            "&",
            "=",
            "%",
            "%2",
            "%zz",
            "%ff",
            "%00",
            "%C3%A9",
            "%e9",
            "+",
            "é",
            "info_hash",
            "peer_id",
            "port",
            "uploaded",
            "downloaded",
            "left",
            "event",
            "started",
            "compact",
            "no_peer_id",
            "numwant",
            "ip",
            "0",
            "1",
            "-1",
            "6881",
            "99999999999999999999999",
            "::1",
            "1.2.3.4",
            "x",
        ]);
        (
            proptest::collection::vec(token, 0..64),
            prop_oneof![4 => Just(1usize), 1 => 1usize..400],
        )
            .prop_map(|(tokens, repeat)| tokens.concat().repeat(repeat))
    }

    /// Any string, or one heavy in `%`, `&` and `=`, sometimes repeated past
    /// [`MAX_QUERY_LEN`] (repeating keeps long inputs cheap to generate).
    fn arbitrary_query() -> impl Strategy<Value = String> {
        (
            prop_oneof![".{0,200}", "[%&=a-fA-F0-9_]{0,200}"],
            prop_oneof![3 => Just(1usize), 1 => 1usize..=80],
        )
            .prop_map(|(s, repeat)| s.repeat(repeat))
    }

    /// Every byte as `%XX`, upper- or lower-case hex.
    fn percent_encode_all(bytes: &[u8], upper: bool) -> String {
        bytes
            .iter()
            .map(|b| {
                if upper {
                    format!("%{b:02X}")
                } else {
                    format!("%{b:02x}")
                }
            })
            .collect()
    }

    /// An announce and one way a client may spell its event.
    fn announce() -> impl Strategy<Value = (HttpAnnounce, &'static str)> {
        let event = proptest::sample::select(vec![
            (Event::None, ""),
            (Event::None, "empty"),
            (Event::None, "paused"),
            (Event::Started, "started"),
            (Event::Completed, "completed"),
            (Event::Stopped, "stopped"),
        ]);
        (
            (any::<[u8; 20]>(), any::<[u8; 20]>(), 1u16..),
            (any::<u64>(), any::<u64>(), any::<u64>()),
            (
                event,
                any::<bool>(),
                proptest::option::of(any::<usize>()),
                any::<bool>(),
                proptest::option::of(any::<IpAddr>()),
            ),
        )
            .prop_map(
                |(
                    (info_hash, peer_id, port),
                    (uploaded, downloaded, left),
                    ((event, spelling), compact, numwant, no_peer_id, ip),
                )| {
                    let a = HttpAnnounce {
                        info_hash: InfoHash(info_hash),
                        peer_id: PeerId(peer_id),
                        port,
                        uploaded,
                        downloaded,
                        left,
                        event,
                        compact,
                        numwant,
                        no_peer_id,
                        ip,
                    };
                    (a, spelling)
                },
            )
    }

    /// The query parameters a client would send for `a` (optional ones only when they
    /// differ from the default), in no particular order yet.
    fn announce_params(a: &HttpAnnounce, event_spelling: &str, upper: bool) -> Vec<String> {
        let mut params = vec![
            format!("info_hash={}", percent_encode_all(&a.info_hash.0, upper)),
            format!("peer_id={}", percent_encode_all(&a.peer_id.0, upper)),
            format!("port={}", a.port),
            format!("uploaded={}", a.uploaded),
            format!("downloaded={}", a.downloaded),
            format!("left={}", a.left),
            "key=abc".to_string(),
        ];
        if a.event != Event::None || !event_spelling.is_empty() {
            params.push(format!("event={event_spelling}"));
        }
        if !a.compact {
            params.push("compact=0".to_string());
        }
        if let Some(n) = a.numwant {
            params.push(format!("numwant={n}"));
        }
        if a.no_peer_id {
            params.push("no_peer_id=1".to_string());
        }
        if let Some(ip) = a.ip {
            params.push(format!("ip={ip}"));
        }
        params
    }

    fn reply_peer() -> impl Strategy<Value = ReplyPeer> {
        (any::<SocketAddr>(), any::<[u8; 20]>()).prop_map(|(addr, id)| ReplyPeer {
            addr,
            peer_id: PeerId(id),
        })
    }

    fn scrape_counts() -> impl Strategy<Value = ScrapeCounts> {
        (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(seeders, completed, leechers)| {
            ScrapeCounts {
                seeders,
                completed,
                leechers,
            }
        })
    }

    proptest! {
        #[test]
        fn parse_announce_never_panics_on_arbitrary_strings(
            q in arbitrary_query()
        ) {
            let _ = parse_announce(&q);
        }

        #[test]
        fn parse_announce_never_panics_on_query_shaped_noise(q in query_noise()) {
            let _ = parse_announce(&q);
        }

        #[test]
        fn parse_scrape_never_panics_on_arbitrary_strings(
            q in arbitrary_query()
        ) {
            let _ = parse_scrape(&q);
        }

        #[test]
        fn parse_scrape_never_panics_on_query_shaped_noise(q in query_noise()) {
            let _ = parse_scrape(&q);
        }

        #[test]
        fn queries_over_the_limit_are_refused(q in query_noise()) {
            if q.len() > MAX_QUERY_LEN {
                prop_assert_eq!(parse_announce(&q), Err(QueryError::TooLong));
                prop_assert_eq!(parse_scrape(&q), Err(QueryError::TooLong));
            }
        }

        #[test]
        fn announce_queries_parse_back_to_their_fields(
            (a, spelling) in announce(),
            upper in any::<bool>(),
            order in Just((0..12).collect::<Vec<usize>>()).prop_shuffle(),
        ) {
            let params = announce_params(&a, spelling, upper);
            // Parameters in any order.
            let query = order
                .iter()
                .filter_map(|&i| params.get(i).map(String::as_str))
                .collect::<Vec<_>>()
                .join("&");
            prop_assert_eq!(parse_announce(&query), Ok(a));
        }

        #[test]
        fn scrape_queries_parse_back_to_their_hashes(
            hashes in proptest::collection::vec(any::<[u8; 20]>(), 0..10),
            upper in any::<bool>(),
        ) {
            let query = hashes
                .iter()
                .map(|h| format!("info_hash={}", percent_encode_all(h, upper)))
                .collect::<Vec<_>>()
                .join("&");
            let want: Vec<InfoHash> = hashes.into_iter().map(InfoHash).collect();
            prop_assert_eq!(parse_scrape(&query), Ok(want));
        }

        #[test]
        fn announce_replies_decode_as_bencode(
            (interval, min_interval) in (any::<u32>(), any::<u32>()),
            (complete, incomplete) in (any::<usize>(), any::<usize>()),
            peers in proptest::collection::vec(reply_peer(), 0..10),
            compact in any::<bool>(),
            no_peer_id in any::<bool>(),
        ) {
            let r = write_announce(
                interval,
                min_interval,
                complete,
                incomplete,
                &peers,
                compact,
                no_peer_id,
            );
            prop_assert!(bencode::decode(&r).is_ok(), "{:?}", String::from_utf8_lossy(&r));
        }

        #[test]
        fn scrape_replies_decode_as_bencode(
            entries in proptest::collection::vec(
                // A small pool of hashes, so that duplicates occur.
                (any::<u8>().prop_map(|b| InfoHash([b % 4; 20])), scrape_counts()),
                0..10,
            ),
        ) {
            let r = write_scrape(&entries);
            prop_assert!(bencode::decode(&r).is_ok(), "{:?}", String::from_utf8_lossy(&r));
        }

        #[test]
        fn failure_replies_decode_to_their_reason(reason in ".{0,100}") {
            let r = write_failure(&reason);
            let v = bencode::decode(&r);
            prop_assert!(v.is_ok(), "{:?}", String::from_utf8_lossy(&r));
            let reason_back = v
                .ok()
                .and_then(|v| v.get(b"failure reason").and_then(|r| r.as_str().map(str::to_owned)));
            prop_assert_eq!(reason_back, Some(reason));
        }
    }
}
