//! Black-box tests of the WebTorrent (WebSocket) tracker in `podseed serve`: the real binary
//! on 127.0.0.1 with ephemeral ports, and two or more WebSocket clients speaking the JSON
//! messages WebTorrent's `bittorrent-tracker` client sends. One behaviour per test.

// Test code reports by panicking; helpers outside #[test] functions too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const SWARM_BASICS: &str = "2026-02-01-swarm-basics.mp3";
const BONUS: &str = "bonus-behind-the-scenes.mp3";

/// How long a test waits for a frame before it fails (a bound, not a measurement).
const PATIENCE: Duration = Duration::from_secs(10);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One browser's connection to the tracker.
struct Browser {
    ws: Socket,
}

impl Browser {
    async fn connect(s: &Served) -> Browser {
        Browser::try_connect(s).await.expect("upgrade")
    }

    async fn try_connect(s: &Served) -> Result<Browser, tokio_tungstenite::tungstenite::Error> {
        let url = format!("ws://{}/announce", s.server.http);
        let (ws, _) = tokio_tungstenite::connect_async(url).await?;
        Ok(Browser { ws })
    }

    async fn send(&mut self, v: &Value) {
        self.send_text(&v.to_string()).await;
    }

    async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// The next text frame as JSON; None when the server closed the connection.
    async fn next(&mut self) -> Option<Value> {
        loop {
            let m = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a frame in time");
            match m {
                Some(Ok(Message::Text(t))) => {
                    return Some(serde_json::from_str(t.as_str()).expect("JSON"))
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(other)) => panic!("unexpected frame {other:?}"),
            }
        }
    }

    async fn reply(&mut self) -> Value {
        self.next().await.expect("a reply")
    }
}

/// 20 bytes as the one-character-per-byte string WebTorrent sends.
fn bin(bytes: &[u8; 20]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn unbin(v: &Value) -> [u8; 20] {
    let bytes: Vec<u8> = v
        .as_str()
        .expect("string")
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("one byte"))
        .collect();
    bytes.try_into().expect("20 bytes")
}

fn peer_id(n: u8) -> [u8; 20] {
    let mut id = *b"-WW0208-000000000000";
    id[19] = n;
    id
}

fn announce(hash: &[u8; 20], peer: u8, left: u64, offers: &[(u8, &str)]) -> Value {
    let offers: Vec<Value> = offers
        .iter()
        .map(|(id, sdp)| json!({"offer_id": bin(&[*id; 20]), "offer": {"type": "offer", "sdp": sdp}}))
        .collect();
    json!({
        "action": "announce",
        "info_hash": bin(hash),
        "peer_id": bin(&peer_id(peer)),
        "event": "started",
        "numwant": offers.len(),
        "uploaded": 0,
        "downloaded": 0,
        "left": left,
        "offers": offers,
    })
}

/// The example published and served with the tracker on ephemeral loopback ports.
fn served() -> Served {
    served_with(Serve::tracker())
}

fn served_with(serve: Serve) -> Served {
    Served::start(Show::example().with_serve(serve))
}

async fn scrape(b: &mut Browser, hash: &[u8; 20]) -> Value {
    b.send(&json!({"action": "scrape", "info_hash": bin(hash)}))
        .await;
    let r = b.reply().await;
    assert_eq!(r["action"], "scrape", "{r}");
    r["files"][bin(hash)].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_reaches_the_other_browser_and_its_answer_comes_back() {
    let s = served();
    let hash = s.summary.info_hash(SWARM_BASICS);
    let (mut a, mut b) = (Browser::connect(&s).await, Browser::connect(&s).await);
    a.send(&announce(&hash, 1, 1000, &[(0xa1, "offer from a")]))
        .await;
    let r = a.reply().await;
    assert_eq!(r["action"], "announce", "{r}");
    assert_eq!(unbin(&r["info_hash"]), hash);
    assert_eq!(
        (r["complete"].as_u64(), r["incomplete"].as_u64()),
        (Some(0), Some(1))
    );
    assert!(r["interval"].as_u64().is_some_and(|i| i > 0), "{r}");

    // B joins with an offer: B gets its reply, A gets B's offer.
    b.send(&announce(&hash, 2, 1000, &[(0xb1, "offer from b")]))
        .await;
    assert_eq!(b.reply().await["incomplete"], 2);
    let offer = a.reply().await;
    assert_eq!(offer["action"], "announce");
    assert_eq!(unbin(&offer["peer_id"]), peer_id(2));
    assert_eq!(unbin(&offer["offer_id"]), [0xb1; 20]);
    assert_eq!(
        offer["offer"],
        json!({"type": "offer", "sdp": "offer from b"})
    );

    // A answers it; the answer goes to B with A's peer id and B's offer id.
    a.send(&json!({
        "action": "announce",
        "info_hash": bin(&hash),
        "peer_id": bin(&peer_id(1)),
        "to_peer_id": offer["peer_id"],
        "offer_id": offer["offer_id"],
        "answer": {"type": "answer", "sdp": "answer from a"},
    }))
    .await;
    let answer = b.reply().await;
    assert_eq!(unbin(&answer["info_hash"]), hash);
    assert_eq!(unbin(&answer["peer_id"]), peer_id(1));
    assert_eq!(unbin(&answer["offer_id"]), [0xb1; 20]);
    assert_eq!(
        answer["answer"],
        json!({"type": "answer", "sdp": "answer from a"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_counts_browser_peers_of_one_many_or_all_torrents() {
    let s = served();
    let (h1, h2) = (
        s.summary.info_hash(SWARM_BASICS),
        s.summary.info_hash(BONUS),
    );
    let mut a = Browser::connect(&s).await;
    a.send(&announce(&h1, 1, 0, &[])).await;
    a.reply().await;
    a.send(&announce(&h1, 2, 500, &[])).await;
    a.reply().await;
    assert_eq!(
        scrape(&mut a, &h1).await,
        json!({"complete": 1, "incomplete": 1, "downloaded": 0})
    );
    a.send(&json!({"action": "scrape", "info_hash": [bin(&h1), bin(&h2)]}))
        .await;
    let r = a.reply().await;
    assert_eq!(r["files"].as_object().expect("files").len(), 2, "{r}");
    assert_eq!(r["files"][bin(&h2)]["incomplete"], 0);
    a.send(&json!({"action": "scrape"})).await;
    let all = a.reply().await;
    let published = s.summary.episodes().len();
    assert_eq!(all["files"].as_object().expect("files").len(), published);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_info_hash_gets_a_failure_reason() {
    let s = served();
    let mut a = Browser::connect(&s).await;
    a.send(&announce(&[7; 20], 1, 10, &[])).await;
    let r = a.reply().await;
    assert_eq!(r["failure reason"], "unregistered torrent", "{r}");
    assert_eq!(r["action"], "announce");
    assert_eq!(unbin(&r["info_hash"]), [7; 20]);
    // The connection stays usable.
    let hash = s.summary.info_hash(SWARM_BASICS);
    a.send(&announce(&hash, 1, 10, &[])).await;
    assert_eq!(a.reply().await["incomplete"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_wide_characters_fail_oversized_closes_and_others_keep_working() {
    let s = served();
    let hash = s.summary.info_hash(SWARM_BASICS);
    let mut good = Browser::connect(&s).await;
    let mut bad = Browser::connect(&s).await;
    for garbage in [
        "not json".to_string(),
        "[1,2,3]".to_string(),
        r#"{"action":"connect"}"#.to_string(),
        // One code point above 255 in the peer id.
        announce(&hash, 1, 10, &[])
            .to_string()
            .replace("-WW0208-", "-WW0208\u{100}"),
        // 19 characters.
        json!({"action": "announce", "info_hash": "x".repeat(19), "peer_id": bin(&peer_id(1))})
            .to_string(),
    ] {
        bad.send_text(&garbage).await;
        let r = bad.reply().await;
        let reason = r["failure reason"].as_str().unwrap_or_default();
        assert!(!reason.is_empty(), "{garbage} got {r}");
    }
    // A message over 64 KiB closes that connection.
    bad.send(&announce(&hash, 1, 10, &[(1, &"x".repeat(70_000))]))
        .await;
    assert!(bad.next().await.is_none(), "oversized message not refused");
    // The other browser never noticed.
    good.send(&announce(&hash, 2, 10, &[])).await;
    assert_eq!(good.reply().await["incomplete"], 1);
    assert!(s.server.get("/stats").status == 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_messages_is_refused_past_the_burst_without_closing() {
    let s = served();
    let hash = s.summary.info_hash(SWARM_BASICS);
    let mut a = Browser::connect(&s).await;
    // Far more than the burst (50) plus what a second refills, one reply read per message
    // so the outbox never fills.
    let mut refused = 0;
    for _ in 0..300 {
        let r = scrape_raw(&mut a, &hash).await;
        if r["failure reason"] == "too many messages, slow down" {
            assert_eq!(r["action"], "scrape", "{r}");
            refused += 1;
        }
    }
    assert!(refused > 0, "300 messages in a row were all answered");
}

async fn scrape_raw(b: &mut Browser, hash: &[u8; 20]) -> Value {
    b.send(&json!({"action": "scrape", "info_hash": bin(hash)}))
        .await;
    b.reply().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_that_never_reads_is_dropped_and_the_others_are_not_held_up() {
    let s = served();
    let hash = s.summary.info_hash(SWARM_BASICS);
    let mut slow = Browser::connect(&s).await;
    slow.send(&announce(&hash, 9, 10, &[])).await;
    // It reads nothing from here on. Three seeders (whose offers go only to leechers: to
    // it) each relay 45 offers of ~60 KiB to it, over 8 MB in all, more than the kernel
    // buffers between us hold, reading their own replies as they go.
    let sdp = "x".repeat(60_000);
    let mut senders = Vec::new();
    for n in 1..=3u8 {
        senders.push(Browser::connect(&s).await);
        let b = senders.last_mut().expect("sender");
        for round in 0..45u8 {
            let mut a = announce(&hash, n, 0, &[(round, &sdp)]);
            a["numwant"] = json!(1);
            b.send(&a).await;
            let r = b.reply().await;
            assert!(r.get("interval").is_some(), "{r}");
        }
    }
    // The slow reader's connection ends: what was buffered, then a close.
    let mut frames = 0;
    while slow.next().await.is_some() {
        frames += 1;
    }
    assert!(
        frames < 3 * 45,
        "all {frames} offers reached the reader that never read"
    );
    // The others are still served.
    let b = &mut senders[0];
    b.send(&json!({"action": "scrape", "info_hash": bin(&hash)}))
        .await;
    let r = b.reply().await;
    assert_eq!(r["files"][bin(&hash)]["complete"], 3, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_address_are_capped() {
    let s = served_with(Serve::tracker().set("ws_max_connections_per_ip", "2"));
    let _a = Browser::connect(&s).await;
    let mut b = Browser::connect(&s).await;
    match Browser::try_connect(&s).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 429),
        Err(e) => panic!("refused otherwise: {e}"),
        Ok(_) => panic!("a third connection from one address was accepted"),
    }
    // Closing one frees its slot.
    b.ws.close(None).await.expect("close");
    drop(b);
    let mut freed = false;
    for _ in 0..100 {
        if Browser::try_connect(&s).await.is_ok() {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(freed, "the closed connection kept its slot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_in_all_are_capped() {
    let s = served_with(Serve::tracker().set("ws_max_connections", "1"));
    let _a = Browser::connect(&s).await;
    match Browser::try_connect(&s).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 503),
        Err(e) => panic!("refused otherwise: {e}"),
        Ok(_) => panic!("a second connection was accepted"),
    }
    // Plain HTTP is not affected.
    assert_eq!(s.server.get("/stats").status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_ws_tracker_off_an_upgrade_is_the_http_tracker() {
    let s = served_with(Serve::tracker().set("ws_tracker", "false"));
    match Browser::try_connect(&s).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status(), 200);
            let body = r.body().as_deref().unwrap_or_default();
            assert!(
                String::from_utf8_lossy(body).contains("failure reason"),
                "{body:?}"
            );
        }
        Err(e) => panic!("failed otherwise: {e}"),
        Ok(_) => panic!("upgraded with ws_tracker: false"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_socket_leaves_the_swarm() {
    let s = served();
    let hash = s.summary.info_hash(SWARM_BASICS);
    let mut watcher = Browser::connect(&s).await;
    let mut leaver = Browser::connect(&s).await;
    leaver.send(&announce(&hash, 1, 10, &[])).await;
    leaver.reply().await;
    // One socket may announce in several swarms; it leaves all of them.
    let bonus = s.summary.info_hash(BONUS);
    leaver.send(&announce(&bonus, 1, 0, &[])).await;
    leaver.reply().await;
    assert_eq!(scrape(&mut watcher, &hash).await["incomplete"], 1);
    leaver.ws.close(None).await.expect("close");
    drop(leaver);
    let mut gone = false;
    for _ in 0..100 {
        let (a, b) = (
            scrape(&mut watcher, &hash).await,
            scrape(&mut watcher, &bonus).await,
        );
        if a["incomplete"] == 0 && b["complete"] == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "the closed socket's peer stayed in its swarms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_and_metrics_show_browser_peers_and_their_bytes() {
    let s = served();
    let hash = s.summary.info_hash(SWARM_BASICS);
    let mut a = Browser::connect(&s).await;
    a.send(&announce(&hash, 1, 1000, &[])).await;
    a.reply().await;
    let mut later = announce(&hash, 1, 0, &[]);
    later["event"] = json!("completed");
    later["downloaded"] = json!(300_000);
    later["uploaded"] = json!(120_000);
    a.send(&later).await;
    a.reply().await;
    let stats = tokio::task::block_in_place(|| s.server.stats());
    let e = stats["episodes"]
        .as_array()
        .expect("episodes")
        .iter()
        .find(|e| e["info_hash"] == hex(&hash))
        .expect("episode")
        .clone();
    assert_eq!(e["browser_peers"], 1, "{e}");
    assert_eq!(e["browser_completions_today"], 1, "{e}");
    assert_eq!(e["browser_downloaded_bytes"], 300_000);
    assert_eq!(e["browser_uploaded_bytes"], 120_000);
    // Nothing went out over HTTP, so all of it was saved; BitTorrent figures stay apart.
    assert_eq!(e["swarm_saved_bytes"], 300_000);
    assert_eq!(
        (e["seeders"].as_u64(), e["leechers"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(stats["totals"]["browser_peers"], 1);
    let metrics = tokio::task::block_in_place(|| s.server.get("/metrics"));
    let text = String::from_utf8(metrics.body).expect("utf-8");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l.contains(&hex(&hash)))
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
            .rsplit(' ')
            .next()
            .expect("value")
            .to_string()
    };
    assert_eq!(line("podseed_browser_peers{"), "1");
    assert_eq!(line("podseed_browser_downloaded_bytes_total{"), "300000");
    assert_eq!(line("podseed_browser_uploaded_bytes_total{"), "120000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_websockets_and_exits_cleanly() {
    let mut s = served();
    let mut a = Browser::connect(&s).await;
    let hash = s.summary.info_hash(SWARM_BASICS);
    a.send(&announce(&hash, 1, 10, &[])).await;
    a.reply().await;
    s.server.sigterm();
    let close = tokio::time::timeout(PATIENCE, a.ws.next())
        .await
        .expect("closed in time");
    match close {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1001),
        other => panic!("no Close frame: {other:?}"),
    }
    let status = tokio::task::block_in_place(|| s.server.wait());
    assert!(status.success(), "{status:?}\n{}", s.server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torrents_and_magnets_name_the_websocket_tracker_that_serve_answers_on() {
    let show = Show::example()
        .served_from_loopback(&[])
        .with_serve(Serve::tracker().set("udp_tracker", "off"));
    let s = tokio::task::block_in_place(|| Served::start(show));
    let ws_url = format!("ws://{}/announce", s.server.http);
    let e = s.summary.episode(SWARM_BASICS);
    let magnet = e["magnet"].as_str().expect("magnet");
    let encoded = ws_url.replace(':', "%3A").replace('/', "%2F");
    assert!(magnet.contains(&format!("tr={encoded}")), "{magnet}");
    let torrent = lava_torrent::torrent::v1::Torrent::read_from_file(s.show.torrent(SWARM_BASICS))
        .expect("torrent");
    let tiers = torrent.announce_list.expect("announce-list");
    assert!(tiers.iter().flatten().any(|t| *t == ws_url), "{tiers:?}");
    // And the URL it names is the tracker.
    let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url)
        .await
        .expect("upgrade");
    let hash = s.summary.info_hash(SWARM_BASICS);
    ws.send(Message::text(announce(&hash, 1, 10, &[]).to_string()))
        .await
        .expect("send");
    let mut b = Browser { ws };
    assert_eq!(b.reply().await["incomplete"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webtorrents_own_tracker_client_signals_through_us() {
    require!(Tool::NodeTrackerClient);
    let s = served();
    let hash = hex(&s.summary.info_hash(SWARM_BASICS));
    let url = format!("ws://{}/announce", s.server.http);
    // The real bittorrent-tracker client code, with a stand-in for the native WebRTC module
    // (tests/interop/fake-webrtc.mjs): the signalling is real, no connection is made.
    // The script gives up by itself after 30 s.
    let dir = repo().join("tests/interop");
    let unknown = "07".repeat(20);
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .args(["--import", "./register.mjs", "ws-tracker-clients.mjs"])
            .args([url.as_str(), hash.as_str(), unknown.as_str()])
            .current_dir(dir)
            .output()
            .expect("node")
    })
    .await
    .expect("joined");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}"))
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert!(
        out.status.success(),
        "{seen}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = format!("2d5757303230382d{}", "aa".repeat(12));
    let b = format!("2d5757303230382d{}", "bb".repeat(12));
    assert_eq!(
        seen["a_update"],
        json!({"complete": 0, "incomplete": 1}),
        "{seen}"
    );
    assert_eq!(
        seen["b_update"],
        json!({"complete": 0, "incomplete": 2}),
        "{seen}"
    );
    // B's offer reached A, and A's answer reached B.
    assert_eq!(seen["a_offer_from"], json!(b), "{seen}");
    assert_eq!(seen["b_answer_from"], json!(a), "{seen}");
    assert_eq!(
        seen["scrape"],
        json!({"complete": 0, "incomplete": 2, "downloaded": 0}),
        "{seen}"
    );
    assert_eq!(seen["unknown_warning"], "unregistered torrent", "{seen}");
    assert!(
        seen.get("a_warning").is_none() && seen.get("b_warning").is_none(),
        "{seen}"
    );
}
