//! Downloads as `podseed serve` counts them, seen from outside: requests from several
//! listeners, bots and probes against the real server, the counts in `/stats` and
//! `/metrics`, the daily file that survives a kill -9, and the token-guarded `stats.html`.
//! One behaviour per test; the counting rules themselves are unit-tested in
//! `src/serve/downloads.rs`.

// Test code reports by panicking; helpers outside #[test] functions too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;

use serde_json::Value;

use common::*;

const EPISODE: &str = "2026-02-01-swarm-basics.mp3";
const TOKEN: &str = "s3cret-token-for-the-podcaster";

/// A player: `GET` of the episode with this User-Agent and Range; the bytes received.
fn fetch(http: SocketAddr, ua: &str, range: Option<&str>) -> usize {
    let target = format!("/episodes/{EPISODE}");
    let mut headers = vec![("User-Agent", ua)];
    if let Some(r) = range {
        headers.push(("Range", r));
    }
    let r = http_request(http, "GET", &target, &headers);
    assert!(r.status == 200 || r.status == 206, "{}", r.status);
    r.body.len()
}

/// The `/stats` entry of the episode.
fn episode(stats: &Value) -> Value {
    stats["episodes"]
        .as_array()
        .expect("episodes")
        .iter()
        .find(|e| e["media"] == format!("episodes/{EPISODE}"))
        .cloned()
        .expect("the episode in /stats")
}

/// The show, with its state folder beside the config and the page's token set.
fn show() -> Show {
    let show =
        Show::example().with_serve(Serve::tracker().set("stats_token", &format!("\"{TOKEN}\"")));
    show.publish();
    show
}

/// Listeners, bots and a probe; two downloads in all.
fn listen(http: SocketAddr) {
    let size = fetch(http, "AntennaPod/3.4.0", None);
    // The same listener again, and in two halves: still one download.
    fetch(http, "AntennaPod/3.4.0", None);
    let half = size / 2;
    fetch(
        http,
        "Podcasts/1650.20 CFNetwork/1410.1 Darwin/22.6.0",
        Some(&format!("bytes=0-{}", half - 1)),
    );
    fetch(
        http,
        "Podcasts/1650.20 CFNetwork/1410.1 Darwin/22.6.0",
        Some(&format!("bytes={half}-")),
    );
    // Not downloads: a probe, a bot, a tool, a few hundred bytes.
    fetch(http, "Overcast/3.0", Some("bytes=0-1"));
    fetch(
        http,
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
        None,
    );
    fetch(http, "curl/8.5.0", None);
    fetch(http, "Pocket Casts", Some("bytes=0-499"));
}

#[test]
fn stats_count_one_download_per_listener_and_none_for_bots_or_probes() {
    let show = show();
    let server = Server::start(&show);
    listen(server.http);
    // The counts land when the last body is dropped, just after the client has read it.
    let mut stats = Value::Null;
    wait_until(10, "two downloads in /stats", || {
        stats = server.stats();
        episode(&stats)["downloads_today"] == 2
    });
    let e = episode(&stats);
    assert_eq!(e["downloads_total"], 2, "{e}");
    assert_eq!(stats["totals"]["downloads_today"], 2);
    assert_eq!(stats["downloads"]["bot_requests"], 2, "{stats}");
    assert_eq!(stats["downloads"]["probe_requests"], 1, "{stats}");
    let metrics = String::from_utf8(server.get("/metrics").body).expect("utf-8");
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("podseed_downloads_today{")
                && l.contains(e["info_hash"].as_str().expect("hash"))
        })
        .unwrap_or_else(|| panic!("no downloads line in:\n{metrics}"));
    assert!(line.ends_with(" 2"), "{line}");
}

#[test]
fn counts_survive_a_kill_9_through_the_daily_file() {
    let show = show();
    let server = Server::start(&show);
    listen(server.http);
    // The daily file, written every few seconds, has both downloads.
    let days = show.path().join("state/downloads");
    let mut day = Value::Null;
    wait_until(30, "the daily file with two downloads", || {
        let Some(path) = std::fs::read_dir(&days).ok().and_then(|d| {
            d.flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "json"))
        }) else {
            return false;
        };
        day = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        day["episodes"][format!("episodes/{EPISODE}")]["downloads"] == 2
    });
    // Its format: the date, then per MP3 path the day's figures; a CSV beside it.
    let date = day["date"].as_str().expect("date").to_string();
    assert_eq!(day["format"], 1);
    let figures = &day["episodes"][format!("episodes/{EPISODE}")];
    for field in [
        "title",
        "downloads",
        "torrent_completions",
        "browser_completions",
        "http_bytes",
        "seeder_bytes",
        "swarm_bytes",
    ] {
        assert!(!figures[field].is_null(), "{field} missing: {day}");
    }
    let csv = std::fs::read_to_string(days.join(format!("{date}.csv"))).expect("csv");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("date,media,title,downloads,torrent_completions,browser_completions,http_bytes,seeder_bytes,swarm_bytes")
    );
    assert!(
        lines.any(
            |l| l.starts_with(&format!("{date},\"episodes/{EPISODE}\",")) && l.contains(",2,")
        ),
        "{csv}"
    );

    // kill -9 (Drop sends SIGKILL), then a new server reads the day back.
    drop(server);
    let server = Server::start(&show);
    let stats = server.stats();
    assert_eq!(episode(&stats)["downloads_total"], 2, "{stats}");
    // The windows are in memory: a listener seen before the restart counts once more.
    fetch(server.http, "AntennaPod/3.4.0", None);
    wait_until(10, "the third download", || {
        episode(&server.stats())["downloads_total"] == 3
    });
}

fn pct(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02x}")).collect()
}

/// A BitTorrent client announcing to our HTTP tracker, `left` bytes to go.
fn announce(http: SocketAddr, hash: &[u8; 20], peer: u8, left: u64, event: &str) {
    let q = format!(
        "/announce?info_hash={}&peer_id={}&port={}&uploaded=0&downloaded=0&left={left}&event={event}",
        pct(hash),
        pct(&[peer; 20]),
        6000 + u16::from(peer)
    );
    assert_eq!(http_request(http, "GET", &q, &[]).status, 200);
}

#[test]
fn torrent_completions_count_per_day_and_survive_a_restart() {
    let show = show();
    let server = Server::start(&show);
    let hash = show.published_info_hashes()[0];
    announce(server.http, &hash, 1, 1000, "started");
    announce(server.http, &hash, 1, 0, "completed");
    announce(server.http, &hash, 2, 1000, "started");
    let completions = |server: &Server| {
        server.stats()["episodes"]
            .as_array()
            .expect("episodes")
            .iter()
            .find(|e| e["info_hash"] == hex(&hash))
            .expect("episode")["torrent_completions_total"]
            .clone()
    };
    assert_eq!(completions(&server), 1);
    // SIGTERM writes the day at once.
    let mut server = server;
    server.sigterm();
    assert_eq!(server.wait().code(), Some(0));
    let server = Server::start(&show);
    assert_eq!(completions(&server), 1);
}

#[test]
fn stats_html_needs_the_token() {
    let show = show();
    let server = Server::start(&show);
    fetch(server.http, "AntennaPod/3.4.0", None);
    assert_eq!(server.get("/stats.html").status, 401);
    assert_eq!(server.get("/stats.html?token=wrong").status, 401);
    let almost = &TOKEN[..TOKEN.len() - 1];
    assert_eq!(
        server.get(&format!("/stats.html?token={almost}")).status,
        401
    );
    let page = server.get(&format!("/stats.html?token={TOKEN}"));
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    let html = String::from_utf8(page.body).expect("utf-8");
    assert!(html.contains("<svg"), "{html}");
    assert!(html.contains("Downloads per day") && html.contains("Bytes by path"));
    assert!(!html.contains("<script"), "no script on the page");
    let by_header = http_request(
        server.http,
        "GET",
        "/stats.html",
        &[("X-Podseed-Token", TOKEN)],
    );
    assert_eq!(by_header.status, 200);
    let bearer = format!("Bearer {TOKEN}");
    let by_bearer = http_request(
        server.http,
        "GET",
        "/stats.html",
        &[("Authorization", bearer.as_str())],
    );
    assert_eq!(by_bearer.status, 200);
}

#[test]
fn stats_html_is_off_without_a_token() {
    let show = Show::example().with_serve(Serve::tracker());
    show.publish();
    let server = Server::start(&show);
    assert_eq!(server.get("/stats.html").status, 404);
    assert_eq!(server.get("/stats.html?token=anything").status, 404);
}
