//! Corpus-driven fuzz targets for every parser that reads what a user, a file or a peer
//! controls: each target takes a seed from `fuzz/corpus/<target>/` (MP3, M4A and Opus
//! files from the test fixtures and the example), mutates it (bit flips, boundary bytes,
//! truncation, splices, inserted noise) and feeds it to the parser, which must not panic and must keep its
//! invariants. A normal test run tries a few dozen cases per target; `scripts/fuzz.sh`
//! runs them for a time budget with many more. `cargo fuzz` needs nightly, which these
//! machines cannot install; proptest drives the mutations instead (not coverage-guided).
//!
//! A failure prints the minimal input; make it a regression test beside the parser.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use podseed::bt::bencode;
use podseed::seeder::wire;
use podseed::tracker::proto;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file of the given folders (relative to the repository), sorted, as bytes.
fn corpus(dirs: &[&str]) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(repo().join(d)).expect("corpus folder"))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus in {dirs:?}");
    files
        .iter()
        .map(|p| std::fs::read(p).expect("read corpus file"))
        .collect()
}

/// One change to a seed.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(usize, u8),
    SetByte(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    Splice(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Bytes at the edges of lengths, counts and signs, and the bencode and YAML syntax.
    let interesting = proptest::sample::select(vec![
        0x00u8, 0x01, 0x7f, 0x80, 0xff, b'0', b'9', b'-', b':', b'e', b'i', b'l', b'd', b'[', b'{',
        b'"', b'\'', b'\n', b'\t', b' ', b'#', b'&', b'=', b'%',
    ]);
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        (any::<usize>(), interesting).prop_map(|(at, b)| Mutation::SetByte(at, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..32)
        )
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| Mutation::Remove(at, n)),
        (any::<usize>(), any::<usize>()).prop_map(|(at, from)| Mutation::Splice(at, from)),
    ]
}

/// A corpus seed with up to eight mutations applied.
fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    (0..n, 0..n, proptest::collection::vec(mutation(), 0..8)).prop_map(move |(pick, other, ms)| {
        let mut b = seeds[pick].clone();
        for m in ms {
            apply(&mut b, &m, &seeds[other]);
        }
        b
    })
}

fn apply(b: &mut Vec<u8>, m: &Mutation, other: &[u8]) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match *m {
        Mutation::FlipBit(i, bit) if !b.is_empty() => {
            let i = at(i, b.len());
            b[i] ^= 1 << bit;
        }
        Mutation::SetByte(i, v) if !b.is_empty() => {
            let i = at(i, b.len());
            b[i] = v;
        }
        Mutation::Truncate(i) => b.truncate(at(i, b.len() + 1)),
        Mutation::Insert(i, ref bytes) => {
            let i = at(i, b.len() + 1);
            b.splice(i..i, bytes.iter().copied());
        }
        Mutation::Remove(i, n) if !b.is_empty() => {
            let i = at(i, b.len());
            let end = (i + n).min(b.len());
            b.drain(i..end);
        }
        Mutation::Splice(i, from) if !other.is_empty() => {
            let i = at(i, b.len() + 1);
            let from = at(from, other.len());
            b.truncate(i);
            b.extend_from_slice(&other[from..]);
        }
        _ => {}
    }
}

fn config() -> ProptestConfig {
    // Overridden by PROPTEST_CASES (scripts/fuzz.sh); a normal test run stays quick.
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(48),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn bencode(input in mutated(corpus(&["fuzz/corpus/bencode"]))) {
        if let Ok((value, end)) = bencode::decode_prefix(&input) {
            prop_assert!(end <= input.len());
            let mut again = Vec::new();
            value.encode(&mut again);
            prop_assert!(bencode::decode(&again).is_ok(), "our own encoding must decode");
        }
        let _ = bencode::raw_value(&input, b"info");
    }

    #[test]
    fn torrent_files(input in mutated(corpus(&["fuzz/corpus/bencode"]))) {
        if let Ok(t) = podseed::publish::metainfo::read(&input) {
            prop_assert!(t.info.len() <= input.len());
        }
    }

    #[test]
    fn peer_wire(input in mutated(corpus(&["fuzz/corpus/wire"]))) {
        if let Some(hs) = input.get(..68) {
            let _ = wire::Handshake::decode(hs.try_into().expect("68 bytes"));
        }
        let mut used = input.len().min(68);
        while let Ok(Some((msg, n))) = wire::decode(&input[used..], 64 * 1024 + 13) {
            prop_assert!(n >= 4 && used + n <= input.len());
            used += n;
            if let wire::Message::Extended { id, payload } = msg {
                match id {
                    0 => { let _ = wire::decode_extended_handshake(&payload); }
                    _ => { let _ = wire::decode_metadata_message(&payload); }
                }
            }
        }
    }

    #[test]
    fn udp_tracker_packets(input in mutated(corpus(&["fuzz/corpus/udp_tracker"]))) {
        let _ = proto::udp::parse_request(&input);
        let _ = proto::udp::parse_reply(&input, 0xdead_beef);
    }

    #[test]
    fn http_tracker_queries(input in mutated(corpus(&["fuzz/corpus/http_tracker"]))) {
        let query = String::from_utf8_lossy(&input);
        let _ = proto::http::parse_announce(&query);
        let _ = proto::http::parse_scrape(&query);
    }

    #[test]
    fn ws_tracker_messages(input in mutated(corpus(&["fuzz/corpus/ws_tracker"]))) {
        let _ = proto::ws::parse_request(&String::from_utf8_lossy(&input));
    }

    #[test]
    fn config_files(input in mutated(corpus(&["fuzz/corpus/config"]))) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("episodes")).expect("mkdir");
        let path = dir.path().join("podcast.yaml");
        std::fs::write(&path, &input).expect("write");
        if let Err(podseed::config::ConfigError::Invalid(problems)) =
            podseed::config::Config::load(&path)
        {
            prop_assert!(!problems.is_empty());
            prop_assert!(problems.len() <= 101, "{} problems listed", problems.len());
        }
    }

    #[test]
    fn mp3_frames(input in mutated(corpus(&["tests/fixtures", "examples/episodes"])), chunk in 1usize..5000) {
        let mut scanner = podseed::publish::mp3::FrameScanner::new(0);
        for c in input.chunks(chunk) {
            scanner.feed(c);
        }
        let stats = scanner.finish();
        prop_assert!(stats.audio_bytes <= input.len() as u64);
        let _ = stats.duration_secs();
        let _ = stats.truncated();
    }

    #[test]
    fn container_walks(input in mutated(corpus(&["tests/fixtures", "examples/episodes"])), chunk in 1usize..5000) {
        use podseed::publish::media::{Format, Scanner};
        for format in [Format::Mp3, Format::M4a, Format::Opus] {
            let mut scanner = Scanner::new(format, 0);
            for c in input.chunks(chunk) {
                scanner.feed(c);
            }
            let stats = scanner.finish();
            let _ = stats.duration_secs();
            let _ = stats.problem();
        }
        let _ = podseed::publish::mp4::parse_moov(&input);
    }

    #[test]
    fn media_files(input in mutated(corpus(&["tests/fixtures", "examples/episodes"]))) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("episode.mp3");
        std::fs::write(&path, &input).expect("write");
        let _ = podseed::publish::probe::probe(Path::new(&path));
    }
}
