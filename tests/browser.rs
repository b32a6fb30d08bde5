//! The show page's player in real browsers (issue 10): headless Chromium opens the page that
//! `publish` wrote, served by the real `podseed serve`, and plays an episode.
//!
//! Everything runs inside tests/browser/netns.sh under `unshare -rnpm`: a network of its own
//! (Chromium gathers no WebRTC candidates on loopback alone, so the namespace has a veth
//! interface at 10.99.0.1) and a PID namespace, so serve and the browsers die with it. The
//! page is http://127.0.0.1:PORT/ (a secure context, which service workers need); the
//! browsers reach each other at 10.99.0.1. tests/browser/swarm.mjs drives them over the
//! DevTools protocol and writes what each saw, with serve's `/stats`, as JSON.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::process::Command;

use serde_json::Value;

use common::show::{Serve, Show};
use common::tools::{require, Tool};
use common::{free_udp_port, repo, run_with_deadline};

/// The episode the listeners play: several MB, playable (silence).
const EPISODE: &str = "2026-03-01-listeners.mp3";
const EPISODE_BYTES: usize = 6_000_000;

/// The example served from loopback with the WebSocket tracker and STUN, the player's
/// scripts from the repository's `npm ci`, and a playable episode of several MB, published.
fn show_with_listeners_episode(player: bool) -> (Show, String) {
    let show = Show::example().served_from_loopback(&[]).with_serve(
        Serve::tracker()
            .set("udp_tracker", &format!("127.0.0.1:{}", free_udp_port()))
            .set("dht", "false"),
    );
    let dist = repo().join("node_modules/webtorrent/dist");
    let yaml = show.yaml();
    show.write_yaml(&format!(
        "{yaml}page:\n  browser_player: {player}\n  webtorrent_dir: {}\n",
        dist.display()
    ));
    show.add_playable_episode(EPISODE, EPISODE_BYTES);
    let summary = show.publish();
    let info_hash = summary.episode(EPISODE)["info_hash"]
        .as_str()
        .expect("info hash")
        .to_string();
    (show, info_hash)
}

/// Runs tests/browser/swarm.mjs with `args` inside a namespace of its own; its JSON report.
/// Stops it (by PID: unshare, whose death takes the namespace and all in it) after 4 minutes.
fn listeners(show: &Show, args: &[&str]) -> Value {
    let out = show.path().join("listeners.json");
    let size = std::fs::metadata(show.episodes().join(EPISODE))
        .expect("episode")
        .len()
        .to_string();
    let mut swarm = Command::new("unshare");
    swarm
        .args(["-rnpm", "--fork", "--kill-child", "--mount-proc", "sh"])
        .arg(repo().join("tests/browser/netns.sh"))
        .arg("node")
        .arg(repo().join("tests/browser/swarm.mjs"))
        .arg("--podseed")
        .arg(env!("CARGO_BIN_EXE_podseed"))
        .arg("--show")
        .arg(show.path())
        .args(["--file", EPISODE, "--size", &size, "--timeout-ms", "200000"])
        .arg("--out")
        .arg(&out)
        .args(args);
    let (status, stderr) = run_with_deadline(swarm, 240, "the listeners (swarm.mjs)");
    let serve_log = std::fs::read_to_string(show.path().join("serve.log")).unwrap_or_default();
    assert!(
        status.success(),
        "swarm.mjs failed ({status}):\n{stderr}\nserve log tail:\n{}",
        tail_of(&serve_log)
    );
    let text = std::fs::read_to_string(&out).expect("report");
    serde_json::from_str(&text).expect("JSON report")
}

fn tail_of(text: &str) -> &str {
    let start = text.len().saturating_sub(4000);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[start..]
}

/// `/stats` of the episode with `info_hash`, from the report.
fn episode_stats<'a>(report: &'a Value, info_hash: &str) -> &'a Value {
    report["stats"]["episodes"]
        .as_array()
        .expect("episodes")
        .iter()
        .find(|e| e["info_hash"] == info_hash)
        .expect("the episode's stats")
}

/// Listener A plays an episode alone and gets it from the web seed; listener B then plays it
/// and gets most of it from A over WebRTC; both start on the episode's first bytes over plain
/// HTTP; B hears it, seeks to 60 % and plays on from there, and the origin sent well under two
/// copies over HTTP.
#[test]
fn a_second_listener_gets_the_episode_from_the_first_over_webrtc() {
    require!(Tool::Chromium, Tool::NpmPackages, Tool::Unshare);
    let (show, info_hash) = show_with_listeners_episode(true);
    let page = std::fs::read_to_string(show.public().join("index.html")).expect("page");
    assert!(page.contains("player.js"), "the page has the player");
    let report = listeners(
        &show,
        &["--listeners", "2", "--after-whole", "--seek", "0.6"],
    );
    let size = EPISODE_BYTES as f64;
    let (a, b) = (&report["listeners"][0], &report["listeners"][1]);
    let num = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0);
    assert!(num(a, "from_web") > 0.0, "A used the web seed: {a}");
    assert_eq!(a["whole"], true, "A has the whole episode: {a}");
    assert_eq!(b["whole"], true, "B has the whole episode: {b}");
    assert!(
        num(b, "from_peers") > 0.5 * size,
        "B got most of the episode from A: {b}"
    );
    assert!(num(b, "current_time") > 1.0, "B's audio plays: {b}");
    // Both started on the first bytes over plain HTTP (as fast as a plain player), not on
    // the torrent's first piece.
    for (who, l) in [("A", a), ("B", b)] {
        let marks = l["marks"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        assert!(
            marks
                .iter()
                .any(|m| m.as_str().is_some_and(|m| m.starts_with("head 0- "))),
            "{who} started on the episode's head over HTTP: {l}"
        );
    }
    assert_eq!(
        b["src_is_stream"], true,
        "B streams through WebTorrent: {b}"
    );
    let stats = episode_stats(&report, &info_hash);
    let http = num(stats, "http_bytes");
    assert!(
        http < 1.3 * size,
        "origin HTTP bytes {http} for a {size}-byte episode and two listeners: {stats}"
    );
    assert!(
        stats["browser_peers"].as_u64() >= Some(2),
        "/stats shows the browser swarm: {stats}"
    );
    // One line of figures where it is seen (libtest captures println! of passing tests).
    let _ = writeln!(
        std::io::stderr(),
        "browser swarm: episode {size} B; A: {} B from the web seed, {} B from peers; B: {} B from peers, {} B from the web seed, played {} s; origin HTTP bytes {http} ({:.2} x the file)",
        num(a, "from_web"),
        num(a, "from_peers"),
        num(b, "from_peers"),
        num(b, "from_web"),
        num(b, "current_time"),
        http / size
    );
}

/// With `page.browser_player: false` the page has no script and a listener plays the MP3
/// over plain HTTP.
#[test]
fn without_the_player_the_page_plays_plain_http() {
    require!(Tool::Chromium, Tool::NpmPackages, Tool::Unshare);
    let (show, info_hash) = show_with_listeners_episode(false);
    let page = std::fs::read_to_string(show.public().join("index.html")).expect("page");
    assert!(!page.contains("player.js"), "no player on the page");
    assert!(!show.public().join("webtorrent.min.js").exists());
    let report = listeners(&show, &["--listeners", "1", "--mode", "http"]);
    let listener = &report["listeners"][0];
    assert!(
        listener["current_time"].as_f64() > Some(1.0),
        "the audio plays: {listener}"
    );
    assert_eq!(listener["src_is_stream"], false, "{listener}");
    let stats = episode_stats(&report, &info_hash);
    assert!(stats["http_bytes"].as_u64() > Some(0), "{stats}");
}

/// When WebTorrent cannot stream an episode (here its .torrent is gone from the site), the
/// player puts the MP3's URL back and the listener hears it over plain HTTP, without a word.
#[test]
fn the_player_falls_back_to_plain_http_when_it_cannot_stream() {
    require!(Tool::Chromium, Tool::NpmPackages, Tool::Unshare);
    let (show, info_hash) = show_with_listeners_episode(true);
    let torrent = show.torrent(EPISODE);
    std::fs::remove_file(&torrent).expect("remove the .torrent");
    let report = listeners(&show, &["--listeners", "1", "--mode", "fallback"]);
    let listener = &report["listeners"][0];
    assert!(
        listener["current_time"].as_f64() > Some(1.0),
        "the audio plays: {listener}"
    );
    assert_eq!(listener["src_is_stream"], false, "{listener}");
    assert_eq!(listener["error"], Value::Null, "{listener}");
    assert_eq!(listener["status"], "", "no word of the failure: {listener}");
    let stats = episode_stats(&report, &info_hash);
    assert!(stats["http_bytes"].as_u64() > Some(0), "{stats}");
}
