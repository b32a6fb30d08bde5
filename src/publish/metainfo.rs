//! Stage 4: the `.torrent` (BEP 3 single-file v1) and magnet link of each episode.
//!
//! The info dict holds only `length`, `name`, `piece length` and `pieces`, so the info hash
//! depends on the audio alone; trackers (BEP 12) and the web seed (BEP 19) sit outside it.
//! `bt::bencode` writes the metainfo (sorted keys, hence deterministic) and [`read`] reads it
//! back for the seeder; the pieces come from our own hasher. No I/O here.

use chrono::{DateTime, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha1::{Digest, Sha1};

use crate::bt::{bencode, InfoHash};

/// Smallest and largest piece lengths podseed chooses.
pub const MIN_PIECE_LENGTH: u64 = 16 * 1024;
/// Largest automatic piece length.
pub const MAX_PIECE_LENGTH: u64 = 16 * 1024 * 1024;

/// libtorrent's rule: aim for a piece list of about 2·√size bytes, i.e. size / (that / 20)
/// bytes per piece, rounded up to a power of two within 16 KiB..16 MiB.
pub fn auto_piece_length(size: u64) -> u64 {
    let list_bytes = 2.0 * (size as f64).sqrt();
    let pieces = (list_bytes / 20.0).max(1.0);
    let target = (size as f64 / pieces).ceil() as u64;
    target
        .max(1)
        .next_power_of_two()
        .clamp(MIN_PIECE_LENGTH, MAX_PIECE_LENGTH)
}

/// What goes into one episode's torrent.
#[derive(Debug, Clone)]
pub struct TorrentSpec<'a> {
    /// File name inside the torrent.
    pub name: &'a str,
    /// File size.
    pub length: u64,
    /// Piece length.
    pub piece_length: u64,
    /// Concatenated SHA-1 pieces.
    pub pieces: &'a [u8],
    /// Announce URLs, one per tier, in order.
    pub trackers: &'a [String],
    /// BEP 19 web seed: the episode's own HTTP URL.
    pub web_seed: Option<&'a str>,
    /// `creation date`: the episode's publication date.
    pub created: DateTime<Utc>,
    /// Where the .torrent itself is published (for the magnet's `xs`).
    pub torrent_url: &'a str,
}

/// A built torrent.
#[derive(Debug, Clone)]
pub struct BuiltTorrent {
    /// The bencoded .torrent file.
    pub bytes: Vec<u8>,
    /// Its info hash.
    pub info_hash: InfoHash,
    /// The magnet link.
    pub magnet: String,
}

/// Errors building metainfo.
#[derive(Debug, thiserror::Error)]
pub enum MetainfoError {
    /// A .torrent that is not bencode.
    #[error("not a readable torrent: {0}")]
    Bencode(#[from] bencode::DecodeError),
    /// A .torrent without a field a single-file v1 torrent needs.
    #[error("not a single-file v1 torrent: {0}")]
    Field(&'static str),
    /// The pieces do not fit the length.
    #[error("torrent {name}: {pieces} pieces do not cover {length} bytes")]
    Pieces {
        /// Torrent name.
        name: String,
        /// Piece count.
        pieces: usize,
        /// File length.
        length: u64,
    },
}

/// Builds the .torrent bytes, info hash and magnet link.
pub fn build(spec: &TorrentSpec<'_>) -> Result<BuiltTorrent, MetainfoError> {
    let count = spec.pieces.len() / 20;
    if spec.pieces.len() % 20 != 0 || count as u64 != spec.length.div_ceil(spec.piece_length) {
        return Err(MetainfoError::Pieces {
            name: spec.name.to_string(),
            pieces: count,
            length: spec.length,
        });
    }
    let info = info_dict(spec);
    let info_hash = InfoHash(Sha1::digest(&info).into());
    let mut bytes = Vec::with_capacity(info.len() + 256);
    // Keys in bencode's sorted order.
    bencode::dict(&mut bytes, |d| {
        if let Some(first) = spec.trackers.first() {
            d.bytes(b"announce", first.as_bytes());
            d.list(b"announce-list", |tiers| {
                for t in spec.trackers {
                    tiers.list(|tier| {
                        tier.bytes(t.as_bytes());
                    });
                }
            });
        }
        // No version: a podseed upgrade must not change published torrents.
        d.bytes(b"created by", b"podseed")
            .int(b"creation date", spec.created.timestamp())
            .raw(b"info", &info);
        if let Some(ws) = spec.web_seed {
            d.list(b"url-list", |l| {
                l.bytes(ws.as_bytes());
            });
        }
    });
    Ok(BuiltTorrent {
        magnet: magnet_link(spec, &info_hash),
        bytes,
        info_hash,
    })
}

/// The info dict: only what the audio decides, so the info hash changes with it alone.
fn info_dict(spec: &TorrentSpec<'_>) -> Vec<u8> {
    let mut info = Vec::with_capacity(spec.pieces.len() + 96);
    bencode::dict(&mut info, |d| {
        d.int(b"length", i64::try_from(spec.length).unwrap_or(i64::MAX))
            .bytes(b"name", spec.name.as_bytes())
            .int(
                b"piece length",
                i64::try_from(spec.piece_length).unwrap_or(i64::MAX),
            )
            .bytes(b"pieces", spec.pieces);
    });
    info
}

/// What the seeder needs of a published .torrent.
#[derive(Debug, Clone)]
pub struct ReadTorrent {
    /// The info dict's exact bytes (served by ut_metadata).
    pub info: Vec<u8>,
    /// SHA-1 of `info`.
    pub info_hash: InfoHash,
    /// File length.
    pub length: u64,
    /// Piece length.
    pub piece_length: u64,
    /// One SHA-1 per piece.
    pub pieces: Vec<[u8; 20]>,
    /// Announce URLs, `announce` first, then every tier's, each once.
    pub trackers: Vec<String>,
}

/// Reads a single-file v1 .torrent (what [`build`] writes).
pub fn read(bytes: &[u8]) -> Result<ReadTorrent, MetainfoError> {
    let torrent = bencode::decode(bytes)?;
    let info = bencode::raw_value(bytes, b"info")?.ok_or(MetainfoError::Field("no info"))?;
    let dict = torrent
        .get(b"info")
        .ok_or(MetainfoError::Field("no info"))?;
    let int = |key: &[u8], why| {
        dict.get(key)
            .and_then(bencode::Value::as_int)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or(MetainfoError::Field(why))
    };
    let length = int(b"length", "no length (a multi-file torrent?)")?;
    let piece_length = int(b"piece length", "no piece length")?;
    let pieces = dict
        .get(b"pieces")
        .and_then(bencode::Value::as_bytes)
        .filter(|p| p.len() % 20 == 0)
        .ok_or(MetainfoError::Field("pieces is not a list of SHA-1s"))?
        .chunks_exact(20)
        .filter_map(|p| <[u8; 20]>::try_from(p).ok())
        .collect();
    let mut trackers: Vec<String> = Vec::new();
    let tiers = torrent
        .get(b"announce-list")
        .and_then(bencode::Value::as_list);
    let urls = torrent.get(b"announce").into_iter().chain(
        tiers
            .unwrap_or_default()
            .iter()
            .filter_map(bencode::Value::as_list)
            .flatten(),
    );
    for url in urls.filter_map(bencode::Value::as_str) {
        if !trackers.iter().any(|t| t == url) {
            trackers.push(url.to_owned());
        }
    }
    Ok(ReadTorrent {
        info: info.to_vec(),
        info_hash: InfoHash(Sha1::digest(info).into()),
        length,
        piece_length,
        pieces,
        trackers,
    })
}

/// SHA-1 (hex) of everything the .torrent's bytes depend on besides the pieces, whose
/// info hash stands for them: equal digests mean [`build`] would write the same bytes.
pub fn inputs_digest(spec: &TorrentSpec<'_>, info_hash: &InfoHash) -> String {
    let mut h = Sha1::new();
    // The layout of build's output, bumped if build ever writes other bytes.
    h.update(b"podseed torrent 1\0");
    for part in [spec.name.as_bytes(), info_hash.0.as_slice()] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.update(spec.length.to_le_bytes());
    h.update(spec.piece_length.to_le_bytes());
    h.update(spec.created.timestamp().to_le_bytes());
    h.update((spec.trackers.len() as u64).to_le_bytes());
    for t in spec.trackers {
        h.update((t.len() as u64).to_le_bytes());
        h.update(t.as_bytes());
    }
    match spec.web_seed {
        Some(ws) => {
            h.update([1]);
            h.update(ws.as_bytes());
        }
        None => h.update([0]),
    }
    crate::bt::hex(&h.finalize())
}

/// Characters a magnet parameter value may keep unescaped (RFC 3986 unreserved).
const MAGNET_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `magnet:?xt=urn:btih:<hex>&dn&xl&tr…&ws&xs`, every value percent-encoded.
pub fn magnet_link(spec: &TorrentSpec<'_>, info_hash: &InfoHash) -> String {
    let enc = |s: &str| utf8_percent_encode(s, MAGNET_VALUE).to_string();
    let mut m = format!(
        "magnet:?xt=urn:btih:{}&dn={}&xl={}",
        info_hash.to_hex(),
        enc(spec.name),
        spec.length
    );
    for t in spec.trackers {
        m.push_str("&tr=");
        m.push_str(&enc(t));
    }
    if let Some(ws) = spec.web_seed {
        m.push_str("&ws=");
        m.push_str(&enc(ws));
    }
    m.push_str("&xs=");
    m.push_str(&enc(spec.torrent_url));
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn piece_length_rule() {
        assert_eq!(auto_piece_length(0), MIN_PIECE_LENGTH);
        assert_eq!(auto_piece_length(100_000), 16 * 1024);
        // 60 MB: √ ≈ 7746 → list 15.5 KB → 775 pieces → 77 KB → 128 KiB.
        assert_eq!(auto_piece_length(60_000_000), 128 * 1024);
        // 1 GB: √ ≈ 31623 → 3162 pieces → 316 KB → 512 KiB.
        assert_eq!(auto_piece_length(1_000_000_000), 512 * 1024);
        assert_eq!(auto_piece_length(u64::MAX / 2), MAX_PIECE_LENGTH);
        for s in [1u64, 20_000, 5_000_000, 300_000_000] {
            assert!(auto_piece_length(s).is_power_of_two());
        }
    }

    fn spec<'a>(pieces: &'a [u8], trackers: &'a [String]) -> TorrentSpec<'a> {
        TorrentSpec {
            name: "my show #1.mp3",
            length: 20_000,
            piece_length: 16384,
            pieces,
            trackers,
            web_seed: Some("https://e.com/episodes/my%20show%20%231.mp3"),
            created: DateTime::from_timestamp(1_714_521_600, 0).expect("date"),
            torrent_url: "https://e.com/torrents/my%20show%20%231.torrent",
        }
    }

    #[test]
    fn torrent_round_trips_and_info_hash_ignores_trackers() {
        // Not valid UTF-8, like real digests (lava_torrent reads ASCII "pieces" as text).
        // lava_torrent is the independent reader here: it must agree with our writer.
        use lava_torrent::bencode::BencodeElem;
        use lava_torrent::torrent::v1::Torrent;
        let pieces = [0xffu8; 40];
        let t1 = vec!["https://e.com/announce".to_string()];
        let t2 = vec![
            "udp://other:6969/announce".to_string(),
            "https://x/a".to_string(),
        ];
        let a = build(&spec(&pieces, &t1)).expect("build");
        let b = build(&spec(&pieces, &t2)).expect("build");
        assert_eq!(a.info_hash, b.info_hash);
        assert_ne!(a.bytes, b.bytes);
        let parsed = Torrent::read_from_bytes(&b.bytes).expect("parse");
        assert_eq!(parsed.info_hash(), b.info_hash.to_hex());
        assert_eq!(parsed.name, "my show #1.mp3");
        assert_eq!(
            parsed.announce.as_deref(),
            Some("udp://other:6969/announce")
        );
        assert_eq!(
            parsed.announce_list,
            Some(vec![vec![t2[0].clone()], vec![t2[1].clone()]])
        );
        let extra = parsed.extra_fields.expect("extra");
        assert_eq!(
            extra.get("creation date"),
            Some(&BencodeElem::Integer(1_714_521_600))
        );
        assert!(extra.contains_key("url-list"));
        assert!(
            parsed.extra_info_fields.is_none(),
            "info dict has extra keys"
        );
    }

    #[test]
    fn magnet_has_every_parameter_encoded() {
        let pieces = [7u8; 40];
        let t = vec!["https://e.com/announce".to_string()];
        let m = build(&spec(&pieces, &t)).expect("build").magnet;
        assert!(m.starts_with("magnet:?xt=urn:btih:"));
        assert!(m.contains("&dn=my%20show%20%231.mp3&xl=20000"), "{m}");
        assert!(m.contains("&tr=https%3A%2F%2Fe.com%2Fannounce"), "{m}");
        assert!(
            m.contains("&ws=https%3A%2F%2Fe.com%2Fepisodes%2Fmy%2520show"),
            "{m}"
        );
        assert!(m.contains("&xs=https%3A%2F%2Fe.com%2Ftorrents%2F"), "{m}");
    }

    #[test]
    fn read_gives_back_what_build_wrote() {
        let pieces = [0xffu8; 40];
        let t = vec!["udp://a:1/announce".to_string(), "https://b/a".to_string()];
        let built = build(&spec(&pieces, &t)).expect("build");
        let read = read(&built.bytes).expect("read");
        assert_eq!(read.info_hash, built.info_hash);
        assert_eq!((read.length, read.piece_length), (20_000, 16384));
        assert_eq!(read.pieces, vec![[0xff; 20]; 2]);
        assert_eq!(read.trackers, t);
        assert!(built.bytes.windows(read.info.len()).any(|w| w == read.info));
        assert!(matches!(
            super::read(b"d4:infod4:name1:xee"),
            Err(MetainfoError::Field(_))
        ));
        assert!(matches!(
            super::read(b"d4:info"),
            Err(MetainfoError::Bencode(_))
        ));
    }

    #[test]
    fn bytes_equal_what_lava_torrent_writes_for_the_same_torrent() {
        use lava_torrent::bencode::BencodeElem;
        use lava_torrent::torrent::v1::Torrent;
        let pieces = [0x5au8; 40];
        let t = vec![
            "https://e.com/announce".to_string(),
            "udp://o:1".to_string(),
        ];
        let s = spec(&pieces, &t);
        let ours = build(&s).expect("build");
        let extra = std::collections::HashMap::from([
            (
                "creation date".to_string(),
                BencodeElem::Integer(1_714_521_600),
            ),
            (
                "created by".to_string(),
                BencodeElem::String("podseed".into()),
            ),
            (
                "url-list".to_string(),
                BencodeElem::List(vec![BencodeElem::String(
                    s.web_seed.expect("web seed").to_string(),
                )]),
            ),
        ]);
        let theirs = Torrent {
            announce: Some(t[0].clone()),
            announce_list: Some(vec![vec![t[0].clone()], vec![t[1].clone()]]),
            length: 20_000,
            files: None,
            name: s.name.to_string(),
            piece_length: 16384,
            pieces: pieces.chunks(20).map(<[u8]>::to_vec).collect(),
            extra_fields: Some(extra),
            extra_info_fields: None,
        }
        .encode()
        .expect("lava_torrent encodes");
        assert_eq!(ours.bytes, theirs);
    }

    #[test]
    fn wrong_piece_count_is_refused() {
        let pieces = [7u8; 20];
        assert!(build(&spec(&pieces, &[])).is_err());
    }

    /// The owned parts of an arbitrary valid [`TorrentSpec`].
    #[derive(Debug, Clone)]
    struct Owned {
        name: String,
        length: u64,
        piece_length: u64,
        pieces: Vec<u8>,
        trackers: Vec<String>,
        web_seed: Option<String>,
        created: DateTime<Utc>,
        torrent_url: String,
    }

    impl Owned {
        fn spec(&self) -> TorrentSpec<'_> {
            TorrentSpec {
                name: &self.name,
                length: self.length,
                piece_length: self.piece_length,
                pieces: &self.pieces,
                trackers: &self.trackers,
                web_seed: self.web_seed.as_deref(),
                created: self.created,
                torrent_url: &self.torrent_url,
            }
        }
    }

    /// A piece length that is a power of two in 16 KiB..=16 MiB, a piece count, a length
    /// those pieces cover exactly, and the other fields anything.
    fn owned_spec() -> impl Strategy<Value = Owned> {
        (14u32..=24, 0u64..=6)
            .prop_flat_map(|(shift, count)| {
                let piece_length = 1u64 << shift;
                let length = if count == 0 {
                    Just(0).boxed()
                } else {
                    ((count - 1) * piece_length + 1..=count * piece_length).boxed()
                };
                (
                    Just(piece_length),
                    length,
                    proptest::collection::vec(any::<u8>(), count as usize * 20),
                )
            })
            .prop_flat_map(|(piece_length, length, pieces)| {
                (
                    Just((piece_length, length, pieces)),
                    ".{0,40}",
                    // Duplicates included: `read` keeps each tracker once.
                    proptest::collection::vec(
                        prop_oneof![
                            "(udp|https?)://[a-z.]{1,12}(:[0-9]{1,5})?/announce",
                            ".{0,20}"
                        ],
                        0..5,
                    ),
                    proptest::option::of(".{0,40}"),
                    0i64..4_000_000_000,
                    ".{0,40}",
                )
            })
            .prop_map(
                |((piece_length, length, pieces), name, trackers, web_seed, secs, torrent_url)| {
                    Owned {
                        name,
                        length,
                        piece_length,
                        pieces,
                        trackers,
                        web_seed,
                        created: DateTime::from_timestamp(secs, 0).unwrap_or_default(),
                        torrent_url,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn read_never_panics_on_arbitrary_bytes(
            buf in proptest::collection::vec(any::<u8>(), 0..256)
        ) {
            let _ = read(&buf);
        }

        #[test]
        fn read_never_panics_on_an_edited_torrent(
            o in owned_spec(),
            edits in proptest::collection::vec(
                (any::<usize>(), proptest::sample::select(b"dlie0123456789:-x".to_vec())),
                1..6,
            ),
            cut in any::<usize>(),
        ) {
            let mut bytes = build(&o.spec()).expect("valid spec").bytes;
            for (at, c) in edits {
                let i = at % bytes.len();
                bytes[i] = c;
            }
            bytes.truncate(bytes.len() - cut % 8);
            let _ = read(&bytes);
        }

        #[test]
        fn built_torrents_read_back_to_their_spec(o in owned_spec()) {
            let built = build(&o.spec()).expect("valid spec");
            let back = read(&built.bytes).expect("reads");
            let info = bencode::decode(&back.info).expect("info is bencode");
            prop_assert_eq!(
                info.get(b"name").and_then(bencode::Value::as_str),
                Some(o.name.as_str())
            );
            prop_assert_eq!(back.length, o.length);
            prop_assert_eq!(back.piece_length, o.piece_length);
            let pieces: Vec<[u8; 20]> = o
                .pieces
                .chunks_exact(20)
                .map(|p| <[u8; 20]>::try_from(p).expect("20 bytes"))
                .collect();
            prop_assert_eq!(back.pieces, pieces);
            let mut trackers: Vec<String> = Vec::new();
            for t in &o.trackers {
                if !trackers.contains(t) {
                    trackers.push(t.clone());
                }
            }
            prop_assert_eq!(back.trackers, trackers);
        }

        #[test]
        fn web_seed_is_the_url_list(o in owned_spec()) {
            let built = build(&o.spec()).expect("valid spec");
            let torrent = bencode::decode(&built.bytes).expect("bencode");
            let url_list: Option<Vec<&str>> = torrent
                .get(b"url-list")
                .and_then(bencode::Value::as_list)
                .map(|l| l.iter().filter_map(bencode::Value::as_str).collect());
            prop_assert_eq!(url_list, o.web_seed.as_deref().map(|w| vec![w]));
        }

        #[test]
        fn read_computes_the_info_hash_build_returned(o in owned_spec()) {
            let built = build(&o.spec()).expect("valid spec");
            prop_assert_eq!(read(&built.bytes).expect("reads").info_hash, built.info_hash);
        }
    }
}
