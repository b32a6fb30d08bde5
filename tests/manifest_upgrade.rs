//! The build manifest across formats: a show last published by a podseed that wrote format 1
//! (every SHA-1 piece list in hex, `tests/fixtures/manifest-v1/`, written by that version)
//! is read, upgraded to format 2 (no pieces), and no media is read again: neither on the
//! upgrading build, nor when a later change of the torrents' inputs rebuilds every torrent
//! (its pieces then come from the published `.torrent`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use common::{copy_tree, fixture, podseed_ok, snapshot, write_keeping_mtime};
use serde_json::Value;

const EPISODE: &str = "2026-01-05-first.mp3";

fn manifest(public: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(public.join(".podseed/manifest.json")).expect("read"))
        .expect("json")
}

fn publish(dir: &Path) -> Value {
    serde_json::from_str(&podseed_ok(dir, &["publish", "--json"])).expect("summary")
}

#[test]
fn a_format_1_manifest_is_upgraded_without_reading_the_media_again() {
    let d = tempfile::tempdir().expect("tmp");
    copy_tree(&fixture("manifest-v1"), d.path());
    let public = d.path().join("public");
    let old = manifest(&public);
    assert_eq!(old["format"], 1);
    let entry = &old["episodes"][EPISODE];
    let old_pieces = entry["pieces"]
        .as_str()
        .expect("format 1 has pieces")
        .to_string();
    let old_hash = entry["info_hash"].as_str().expect("hash").to_string();

    // The same file as the old build saw it (size and mtime), but other bytes: if podseed
    // read it again, the info hash and the SHA-256 would change.
    let size = entry["size"].as_u64().expect("size") as usize;
    let mtime = UNIX_EPOCH
        + Duration::new(
            entry["mtime"][0].as_u64().expect("secs"),
            entry["mtime"][1].as_u64().expect("nanos") as u32,
        );
    let mut other = std::fs::read(fixture("cbr-mpeg25.mp3")).expect("mp3");
    assert_eq!(other.len(), size);
    let last = other.len() - 1;
    other[last] ^= 0xff;
    std::fs::create_dir_all(d.path().join("episodes")).expect("mkdir");
    write_keeping_mtime(&d.path().join("episodes").join(EPISODE), &other, mtime);

    let s = publish(d.path());
    assert_eq!(s["bytes_hashed"], 0, "{s}");
    assert_eq!(s["unchanged"], 1, "{s}");
    let new = manifest(&public);
    assert_eq!(new["format"], 2);
    let e = &new["episodes"][EPISODE];
    assert!(e.get("pieces").is_none(), "format 2 keeps no pieces: {e}");
    // Tags from an older probe were read again (the head of the file), the digests kept.
    assert_eq!(e["tags_version"], 1, "{e}");
    assert_eq!(e["info_hash"], old_hash.as_str());
    assert_eq!(e["sha256"], entry["sha256"]);
    // The torrent holds the pieces the old manifest had.
    let torrent = std::fs::read(public.join("torrents/2026-01-05-first.torrent")).expect("torrent");
    let hex: String = torrent.iter().map(|b| format!("{b:02x}")).collect();
    assert!(hex.contains(&old_pieces), "pieces kept in the torrent");
    assert!(new["rendered"]["torrents/2026-01-05-first.torrent"]["inputs"].is_string());
    // The manifest is much smaller without piece lists, and readable JSON still.
    assert!(
        std::fs::read_to_string(public.join(".podseed/manifest.json"))
            .expect("text")
            .contains("\"format\": 2")
    );

    // Nothing changed: nothing is written, not even the manifest.
    let before = snapshot(&public);
    let manifest_mtime = std::fs::metadata(public.join(".podseed/manifest.json"))
        .and_then(|m| m.modified())
        .expect("mtime");
    let s = publish(d.path());
    assert_eq!(s["written_files"], 0, "{s}");
    assert_eq!(snapshot(&public), before);
    assert_eq!(
        std::fs::metadata(public.join(".podseed/manifest.json"))
            .and_then(|m| m.modified())
            .expect("mtime"),
        manifest_mtime
    );

    // Another tracker changes every torrent: they are rebuilt from the published .torrent's
    // pieces, still without reading the media.
    let config = d.path().join("podcast.yaml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        text.replace(
            "trackers: [http://tracker.example:6969/announce]",
            "trackers: [http://tracker.example:6969/announce, udp://t2.example:80]",
        ),
    )
    .expect("write");
    let s = publish(d.path());
    assert_eq!(s["bytes_hashed"], 0, "{s}");
    let torrent = std::fs::read(public.join("torrents/2026-01-05-first.torrent")).expect("torrent");
    assert!(String::from_utf8_lossy(&torrent).contains("udp://t2.example:80"));
    let hex: String = torrent.iter().map(|b| format!("{b:02x}")).collect();
    assert!(hex.contains(&old_pieces));
    assert_eq!(
        manifest(&public)["episodes"][EPISODE]["info_hash"],
        old_hash.as_str()
    );

    // A deleted .torrent is rebuilt; with nothing else to read the pieces from, the file
    // is hashed again (and, its bytes being other now, gets another info hash).
    std::fs::remove_file(public.join("torrents/2026-01-05-first.torrent")).expect("rm");
    publish(d.path());
    assert_ne!(
        manifest(&public)["episodes"][EPISODE]["info_hash"],
        old_hash.as_str()
    );
}
