//! The WebTorrent tracker's messages (npm `bittorrent-tracker`'s WebSocket protocol, also
//! spoken by `aquatic_ws`) as a pure codec: a JSON text frame in, a typed [`Request`] out;
//! a typed [`Reply`] in, JSON text out.
//!
//! Binary values (info hash, peer id, offer id) travel as 20-character strings with one
//! character per byte (U+0000 to U+00FF), as JavaScript's "binary strings" do; anything
//! else is refused with an error naming the field. The SDP of offers and answers is opaque
//! text passed through. No sockets and no swarm state here: `tracker::browser` relays,
//! `serve::ws` moves frames.

use serde_json::{Map, Value};

use crate::bt::{InfoHash, PeerId};
use crate::tracker::{Event, ScrapeCounts};

/// Offers one announce may carry; more are dropped (WebTorrent sends at most 10).
pub const MAX_OFFERS: usize = 10;
/// Info hashes one scrape may name.
pub const MAX_SCRAPE_HASHES: usize = 100;

/// A WebRTC offer's id, chosen by the offering peer to match the answer to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OfferId(pub [u8; 20]);

/// One WebRTC offer a peer hands the tracker to pass on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Its id.
    pub offer_id: OfferId,
    /// The session description (`offer.sdp`).
    pub sdp: String,
}

/// `action: "announce"` without an answer: a peer joins, updates or leaves a swarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// Torrent.
    pub info_hash: InfoHash,
    /// The announcing peer.
    pub peer_id: PeerId,
    /// `started`, `stopped`, `completed`, or none (`update`, `paused`, absent).
    pub event: Event,
    /// Bytes left, when known (WebTorrent sends `null` before it has the metadata).
    pub left: Option<u64>,
    /// Uploaded so far.
    pub uploaded: u64,
    /// Downloaded so far.
    pub downloaded: u64,
    /// Peers wanted, when given.
    pub numwant: Option<usize>,
    /// Offers to pass to other peers (at most [`MAX_OFFERS`]).
    pub offers: Vec<Offer>,
}

/// `action: "announce"` with an `answer`: a peer answers another's offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerRequest {
    /// Torrent.
    pub info_hash: InfoHash,
    /// The answering peer.
    pub peer_id: PeerId,
    /// The peer whose offer this answers.
    pub to_peer_id: PeerId,
    /// The offer it answers.
    pub offer_id: OfferId,
    /// The session description (`answer.sdp`).
    pub sdp: String,
}

/// A parsed message from a browser peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Announce (with offers, or none).
    Announce(AnnounceRequest),
    /// Answer to a relayed offer.
    Answer(AnswerRequest),
    /// Scrape of these hashes; empty for every served torrent.
    Scrape(Vec<InfoHash>),
}

/// The two actions, as a failure reply names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `announce`.
    Announce,
    /// `scrape`.
    Scrape,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Announce => "announce",
            Action::Scrape => "scrape",
        }
    }
}

/// Why a message was refused.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// Not JSON at all.
    #[error("message is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not an object.
    #[error("message is not a JSON object")]
    NotObject,
    /// `action` missing or unknown.
    #[error("invalid action: expected \"announce\" or \"scrape\"")]
    Action,
    /// A field has the wrong type, length or characters.
    #[error("invalid {field}: {why}")]
    Field {
        /// The JSON key.
        field: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
}

fn field(field: &'static str, why: &'static str) -> WsError {
    WsError::Field { field, why }
}

/// Parses one text frame.
pub fn parse_request(text: &str) -> Result<Request, WsError> {
    let value: Value = serde_json::from_str(text)?;
    let Value::Object(m) = value else {
        return Err(WsError::NotObject);
    };
    match m.get("action").and_then(Value::as_str) {
        Some("announce") if m.get("answer").is_some_and(|a| !a.is_null()) => {
            parse_answer(&m).map(Request::Answer)
        }
        Some("announce") => parse_announce(&m).map(Request::Announce),
        Some("scrape") => parse_scrape(&m).map(Request::Scrape),
        _ => Err(WsError::Action),
    }
}

fn parse_announce(m: &Map<String, Value>) -> Result<AnnounceRequest, WsError> {
    let event = match m.get("event") {
        None | Some(Value::Null) => Event::None,
        Some(Value::String(s)) => match s.as_str() {
            "started" => Event::Started,
            "stopped" => Event::Stopped,
            "completed" => Event::Completed,
            "update" | "paused" | "empty" | "" => Event::None,
            _ => return Err(field("event", "unknown event")),
        },
        Some(_) => return Err(field("event", "not a string")),
    };
    let offers = match m.get("offers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .take(MAX_OFFERS)
            .map(parse_offer)
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(field("offers", "not a list")),
    };
    Ok(AnnounceRequest {
        info_hash: InfoHash(id20(m, "info_hash")?),
        peer_id: PeerId(id20(m, "peer_id")?),
        event,
        left: number(m, "left")?,
        uploaded: number(m, "uploaded")?.unwrap_or(0),
        downloaded: number(m, "downloaded")?.unwrap_or(0),
        numwant: number(m, "numwant")?.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        offers,
    })
}

fn parse_offer(v: &Value) -> Result<Offer, WsError> {
    let Value::Object(o) = v else {
        return Err(field("offers", "an entry is not an object"));
    };
    Ok(Offer {
        offer_id: OfferId(id20(o, "offer_id")?),
        sdp: sdp(o, "offer", "offer")?,
    })
}

fn parse_answer(m: &Map<String, Value>) -> Result<AnswerRequest, WsError> {
    Ok(AnswerRequest {
        info_hash: InfoHash(id20(m, "info_hash")?),
        peer_id: PeerId(id20(m, "peer_id")?),
        to_peer_id: PeerId(id20(m, "to_peer_id")?),
        offer_id: OfferId(id20(m, "offer_id")?),
        sdp: sdp(m, "answer", "answer")?,
    })
}

fn parse_scrape(m: &Map<String, Value>) -> Result<Vec<InfoHash>, WsError> {
    match m.get("info_hash") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![InfoHash(
            binary20(s).ok_or_else(|| field("info_hash", BINARY20))?,
        )]),
        Some(Value::Array(list)) => {
            if list.len() > MAX_SCRAPE_HASHES {
                return Err(field("info_hash", "more than 100 hashes"));
            }
            list.iter()
                .map(|v| {
                    v.as_str()
                        .and_then(binary20)
                        .map(InfoHash)
                        .ok_or_else(|| field("info_hash", BINARY20))
                })
                .collect()
        }
        Some(_) => Err(field("info_hash", "not a string or a list")),
    }
}

const BINARY20: &str = "expected 20 characters, each U+0000 to U+00FF";

/// `{type, sdp}` with the expected `type`; the SDP itself is opaque.
fn sdp(m: &Map<String, Value>, key: &'static str, kind: &str) -> Result<String, WsError> {
    let Some(Value::Object(o)) = m.get(key) else {
        return Err(field(key, "not an object with type and sdp"));
    };
    if o.get("type").and_then(Value::as_str) != Some(kind) {
        return Err(field(key, "wrong type"));
    }
    match o.get("sdp") {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(field(key, "sdp is not a string")),
    }
}

fn id20(m: &Map<String, Value>, key: &'static str) -> Result<[u8; 20], WsError> {
    m.get(key)
        .and_then(Value::as_str)
        .and_then(binary20)
        .ok_or_else(|| field(key, BINARY20))
}

/// A non-negative number (fractions truncated, huge ones saturated), or None when absent
/// or null.
fn number(m: &Map<String, Value>, key: &'static str) -> Result<Option<u64>, WsError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(u), _) => Ok(Some(u)),
            // `as` saturates: 1e300 is u64::MAX.
            (None, Some(f)) if f >= 0.0 => Ok(Some(f as u64)),
            _ => Err(field(key, "negative")),
        },
        Some(_) => Err(field(key, "not a number")),
    }
}

/// 20 bytes from a string of exactly 20 characters, each at most U+00FF.
pub fn binary20(s: &str) -> Option<[u8; 20]> {
    let mut out = [0u8; 20];
    let mut chars = s.chars();
    for b in &mut out {
        *b = u8::try_from(u32::from(chars.next()?)).ok()?;
    }
    chars.next().is_none().then_some(out)
}

/// The string form of 20 bytes: one character per byte.
pub fn to_binary(bytes: &[u8; 20]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// What the tracker sends a browser peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The answer to an announce.
    Announce {
        /// Torrent.
        info_hash: InfoHash,
        /// Seconds until the next announce.
        interval: u32,
        /// Browser peers with the whole file.
        complete: usize,
        /// Browser peers still downloading.
        incomplete: usize,
    },
    /// Another peer's offer, relayed.
    Offer {
        /// Torrent.
        info_hash: InfoHash,
        /// The offering peer.
        peer_id: PeerId,
        /// Its offer id.
        offer_id: OfferId,
        /// The offer's SDP.
        sdp: String,
    },
    /// An answer to one of this peer's offers, relayed.
    Answer {
        /// Torrent.
        info_hash: InfoHash,
        /// The answering peer.
        peer_id: PeerId,
        /// The offer answered.
        offer_id: OfferId,
        /// The answer's SDP.
        sdp: String,
    },
    /// Counts per torrent.
    Scrape(Vec<(InfoHash, ScrapeCounts)>),
    /// A refusal.
    Failure {
        /// Why.
        reason: String,
        /// The action refused, when known.
        action: Option<Action>,
        /// The torrent, when known.
        info_hash: Option<InfoHash>,
    },
}

/// Writes a reply as one JSON text frame.
pub fn write_reply(reply: &Reply) -> String {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    let id = |b: &[u8; 20]| Value::String(to_binary(b));
    let desc = |kind: &str, sdp: &str| {
        let mut d = Map::new();
        d.insert("type".into(), kind.into());
        d.insert("sdp".into(), sdp.into());
        Value::Object(d)
    };
    match reply {
        Reply::Announce {
            info_hash,
            interval,
            complete,
            incomplete,
        } => {
            put("action", "announce".into());
            put("info_hash", id(&info_hash.0));
            put("interval", (*interval).into());
            put("complete", (*complete).into());
            put("incomplete", (*incomplete).into());
        }
        // A relayed offer and a relayed answer differ only in the key (and type) of the SDP.
        Reply::Offer {
            info_hash,
            peer_id,
            offer_id,
            sdp,
        }
        | Reply::Answer {
            info_hash,
            peer_id,
            offer_id,
            sdp,
        } => {
            let kind = if matches!(reply, Reply::Offer { .. }) {
                "offer"
            } else {
                "answer"
            };
            put("action", "announce".into());
            put("info_hash", id(&info_hash.0));
            put("peer_id", id(&peer_id.0));
            put("offer_id", id(&offer_id.0));
            put(kind, desc(kind, sdp));
        }
        Reply::Scrape(files) => {
            let mut f = Map::new();
            for (hash, c) in files {
                let mut counts = Map::new();
                counts.insert("complete".into(), c.seeders.into());
                counts.insert("incomplete".into(), c.leechers.into());
                counts.insert("downloaded".into(), c.completed.into());
                f.insert(to_binary(&hash.0), Value::Object(counts));
            }
            put("action", "scrape".into());
            put("files", Value::Object(f));
        }
        Reply::Failure {
            reason,
            action,
            info_hash,
        } => {
            put("failure reason", reason.as_str().into());
            if let Some(a) = action {
                put("action", a.name().into());
            }
            if let Some(h) = info_hash {
                put("info_hash", id(&h.0));
            }
        }
    }
    Value::Object(m).to_string()
}

/// Writes a request as a browser would (the client side, for tests and tools).
pub fn write_request(request: &Request) -> String {
    let id = |b: &[u8; 20]| Value::String(to_binary(b));
    let desc = |kind: &str, sdp: &str| serde_json::json!({ "type": kind, "sdp": sdp });
    let v = match request {
        Request::Announce(a) => {
            let offers: Vec<Value> = a
                .offers
                .iter()
                .map(|o| serde_json::json!({ "offer_id": id(&o.offer_id.0), "offer": desc("offer", &o.sdp) }))
                .collect();
            let event = match a.event {
                Event::None => "update",
                Event::Started => "started",
                Event::Stopped => "stopped",
                Event::Completed => "completed",
            };
            serde_json::json!({
                "action": "announce",
                "info_hash": id(&a.info_hash.0),
                "peer_id": id(&a.peer_id.0),
                "event": event,
                "left": a.left,
                "uploaded": a.uploaded,
                "downloaded": a.downloaded,
                "numwant": a.numwant,
                "offers": offers,
            })
        }
        Request::Answer(a) => serde_json::json!({
            "action": "announce",
            "info_hash": id(&a.info_hash.0),
            "peer_id": id(&a.peer_id.0),
            "to_peer_id": id(&a.to_peer_id.0),
            "offer_id": id(&a.offer_id.0),
            "answer": desc("answer", &a.sdp),
        }),
        Request::Scrape(hashes) => serde_json::json!({
            "action": "scrape",
            "info_hash": hashes.iter().map(|h| id(&h.0)).collect::<Vec<_>>(),
        }),
    };
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HASH: &str =
        "\u{12}4Vx\u{9a}\u{bc}\u{de}\u{f1}#Eg\u{89}\u{ab}\u{cd}\u{ef}\u{12}4Vx\u{9a}";

    #[test]
    fn a_webtorrent_announce_with_offers() {
        let text = format!(
            r#"{{"numwant":2,"uploaded":0,"downloaded":16384,"left":null,"event":"started","action":"announce","info_hash":"{}","peer_id":"-WW0208-abcdefghijkl","offers":[{{"offer":{{"type":"offer","sdp":"v=0\r\n"}},"offer_id":"ÿ\u0000aaaaaaaaaaaaaaaaaa"}}]}}"#,
            HASH.replace('\u{12}', "\\u0012")
        );
        let Request::Announce(a) = parse_request(&text).expect("valid") else {
            panic!("not an announce");
        };
        assert_eq!(a.info_hash.0[..4], [0x12, 0x34, b'V', b'x']);
        assert_eq!(a.info_hash.0[4], 0x9a);
        assert_eq!(&a.peer_id.0, b"-WW0208-abcdefghijkl");
        assert_eq!(
            (a.event, a.left, a.downloaded, a.numwant),
            (Event::Started, None, 16384, Some(2))
        );
        assert_eq!(a.offers.len(), 1);
        assert_eq!(a.offers[0].offer_id.0[..2], [0xff, 0]);
        assert_eq!(a.offers[0].sdp, "v=0\r\n");
    }

    #[test]
    fn answers_and_scrapes() {
        let pid = "-WW0208-abcdefghijkl";
        let text = format!(
            r#"{{"action":"announce","info_hash":"{pid}","peer_id":"{pid}","to_peer_id":"{pid}","offer_id":"{pid}","answer":{{"type":"answer","sdp":"x"}}}}"#
        );
        assert!(matches!(
            parse_request(&text),
            Ok(Request::Answer(AnswerRequest { ref sdp, .. })) if sdp == "x"
        ));
        // An answer without whom it is for is refused.
        let text = format!(
            r#"{{"action":"announce","info_hash":"{pid}","peer_id":"{pid}","answer":{{"type":"answer","sdp":"x"}}}}"#
        );
        let e = parse_request(&text).expect_err("no to_peer_id");
        assert_eq!(
            e.to_string(),
            format!("invalid to_peer_id: {BINARY20}"),
            "{e}"
        );
        for (text, n) in [
            (r#"{"action":"scrape"}"#.to_string(), 0),
            (format!(r#"{{"action":"scrape","info_hash":"{pid}"}}"#), 1),
            (
                format!(r#"{{"action":"scrape","info_hash":["{pid}","{pid}"]}}"#),
                2,
            ),
        ] {
            match parse_request(&text) {
                Ok(Request::Scrape(h)) => assert_eq!(h.len(), n, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn ids_must_be_twenty_single_byte_characters() {
        assert!(binary20("aaaaaaaaaaaaaaaaaaaa").is_some());
        assert!(binary20("ÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿ").is_some());
        assert!(binary20("aaaaaaaaaaaaaaaaaaa").is_none());
        assert!(binary20("aaaaaaaaaaaaaaaaaaaaa").is_none());
        // U+0100 is the first code point that is not one byte.
        assert!(binary20("aaaaaaaaaaaaaaaaaaa\u{100}").is_none());
        assert!(binary20("aaaaaaaaaaaaaaaaaaa😀").is_none());
        for bad in [
            "[]",
            "\"announce\"",
            "{}",
            r#"{"action":"connect"}"#,
            r#"{"action":"announce","info_hash":"short","peer_id":"-WW0208-abcdefghijkl"}"#,
            r#"{"action":"announce","info_hash":"aaaaaaaaaaaaaaaaaaaa","peer_id":"-WW0208-abcdefghijkl","left":-1}"#,
            r#"{"action":"announce","info_hash":"aaaaaaaaaaaaaaaaaaaa","peer_id":"-WW0208-abcdefghijkl","event":"bogus"}"#,
            r#"{"action":"announce","info_hash":"aaaaaaaaaaaaaaaaaaaa","peer_id":"-WW0208-abcdefghijkl","offers":[{"offer_id":"aaaaaaaaaaaaaaaaaaaa","offer":{"type":"answer","sdp":""}}]}"#,
            r#"{"action":"scrape","info_hash":7}"#,
        ] {
            assert!(parse_request(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn replies_are_the_json_webtorrent_reads() {
        let h = InfoHash([0xff; 20]);
        let text = write_reply(&Reply::Failure {
            reason: "unregistered torrent".into(),
            action: Some(Action::Announce),
            info_hash: Some(h),
        });
        let v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["failure reason"], "unregistered torrent");
        assert_eq!(v["action"], "announce");
        assert_eq!(v["info_hash"], "ÿ".repeat(20));
        let text = write_reply(&Reply::Scrape(vec![(
            h,
            ScrapeCounts {
                seeders: 1,
                completed: 2,
                leechers: 3,
            },
        )]));
        let v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            v["files"]["ÿ".repeat(20)],
            serde_json::json!({"complete": 1, "incomplete": 3, "downloaded": 2})
        );
    }

    fn id() -> impl Strategy<Value = [u8; 20]> {
        proptest::array::uniform20(any::<u8>())
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            Just(Event::None),
            Just(Event::Started),
            Just(Event::Stopped),
            Just(Event::Completed)
        ]
    }

    fn request() -> impl Strategy<Value = Request> {
        let offer = (id(), ".{0,40}").prop_map(|(i, sdp)| Offer {
            offer_id: OfferId(i),
            sdp,
        });
        let announce = (
            (id(), id(), event()),
            (
                proptest::option::of(any::<u64>()),
                any::<u64>(),
                any::<u64>(),
                proptest::option::of(0usize..1000),
            ),
            proptest::collection::vec(offer, 0..=MAX_OFFERS),
        )
            .prop_map(|((h, p, event), (left, up, down, numwant), offers)| {
                Request::Announce(AnnounceRequest {
                    info_hash: InfoHash(h),
                    peer_id: PeerId(p),
                    event,
                    left,
                    uploaded: up,
                    downloaded: down,
                    numwant,
                    offers,
                })
            });
        let answer = (id(), id(), id(), id(), ".{0,40}").prop_map(|(h, p, t, o, sdp)| {
            Request::Answer(AnswerRequest {
                info_hash: InfoHash(h),
                peer_id: PeerId(p),
                to_peer_id: PeerId(t),
                offer_id: OfferId(o),
                sdp,
            })
        });
        let scrape =
            proptest::collection::vec(id().prop_map(InfoHash), 1..5).prop_map(Request::Scrape);
        prop_oneof![announce, answer, scrape]
    }

    /// JSON-ish fragments, so that arbitrary input often gets past the JSON parser.
    fn jsonish() -> impl Strategy<Value = String> {
        let token = proptest::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            "\"",
            "null",
            "1",
            "-1",
            "1e400",
            "0.5",
            "\"action\"",
            "\"announce\"",
            "\"scrape\"",
            "\"info_hash\"",
            "\"peer_id\"",
            "\"offers\"",
            "\"offer\"",
            "\"answer\"",
            "\"to_peer_id\"",
            "\"offer_id\"",
            "\"type\"",
            "\"sdp\"",
            "\"left\"",
            "\"numwant\"",
            "\"event\"",
            "\"aaaaaaaaaaaaaaaaaaaa\"",
            "\"ÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿ\"",
            "\"\\u0100\"",
            "\"\\ud800\"",
        ]);
        proptest::collection::vec(token, 0..40).prop_map(|t| t.concat())
    }

    proptest! {
        #[test]
        fn requests_round_trip(r in request()) {
            let text = write_request(&r);
            prop_assert_eq!(parse_request(&text).expect("parses"), r);
        }

        #[test]
        fn parsing_never_panics(text in prop_oneof![".{0,300}", jsonish()]) {
            let _ = parse_request(&text);
        }

        #[test]
        fn reply_ids_read_back_as_the_same_bytes(h in id(), p in id(), o in id(), sdp in ".{0,40}") {
            let text = write_reply(&Reply::Offer {
                info_hash: InfoHash(h),
                peer_id: PeerId(p),
                offer_id: OfferId(o),
                sdp: sdp.clone(),
            });
            let v: Value = serde_json::from_str(&text).expect("json");
            prop_assert_eq!(v["info_hash"].as_str().and_then(binary20), Some(h));
            prop_assert_eq!(v["peer_id"].as_str().and_then(binary20), Some(p));
            prop_assert_eq!(v["offer_id"].as_str().and_then(binary20), Some(o));
            prop_assert_eq!(v["offer"]["sdp"].as_str(), Some(sdp.as_str()));
        }

        #[test]
        fn any_id_string_of_other_length_or_wider_characters_is_refused(s in ".{0,30}") {
            let ok = s.chars().count() == 20 && s.chars().all(|c| u32::from(c) <= 0xff);
            prop_assert_eq!(binary20(&s).is_some(), ok);
        }
    }
}
