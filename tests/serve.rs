//! Black-box tests of `podseed serve`: the real binary on 127.0.0.1 with ephemeral ports,
//! driven over raw HTTP and UDP, and by a real BitTorrent client (aria2c); one behaviour per
//! test.

// Test code reports by panicking; helpers outside #[test] functions too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use common::*;
use lava_torrent::bencode::BencodeElem;
use lava_torrent::torrent::v1::Torrent;
use serde_json::Value;

const SWARM_BASICS: &str = "2026-02-01-swarm-basics.mp3";
const BONUS: &str = "bonus-behind-the-scenes.mp3";

/// The example published and served as tracker and web seed (HTTP and UDP on ephemeral
/// loopback ports, no seeder).
fn tracker() -> Served {
    tracker_with(Serve::tracker())
}

fn tracker_with(serve: Serve) -> Served {
    Served::start(Show::example().with_serve(serve))
}

fn pct(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02x}")).collect()
}

fn announce_query(hash: &[u8; 20], peer: u8, ip: &str, left: u64, extra: &str) -> String {
    format!(
        "/announce?info_hash={}&peer_id={}&port={}&uploaded=0&downloaded=0&left={left}&ip={ip}{extra}",
        pct(hash),
        pct(&[peer; 20]),
        6000 + u16::from(peer)
    )
}

fn bdecode(body: &[u8]) -> HashMap<String, BencodeElem> {
    match BencodeElem::from_bytes(body)
        .expect("bencode")
        .into_iter()
        .next()
    {
        Some(BencodeElem::Dictionary(d)) => d.into_iter().collect(),
        other => panic!(
            "not a dictionary: {other:?} from {:?}",
            String::from_utf8_lossy(body)
        ),
    }
}

fn raw_bytes(e: &BencodeElem) -> Vec<u8> {
    match e {
        BencodeElem::Bytes(b) => b.clone(),
        BencodeElem::String(s) => s.as_bytes().to_vec(),
        other => panic!("not a string: {other:?}"),
    }
}

fn int(e: &BencodeElem) -> i64 {
    match e {
        BencodeElem::Integer(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

/// The stats entry of the episode whose `key` is `value`.
fn stats_episode(stats: &Value, key: &str, value: &str) -> Value {
    stats["episodes"]
        .as_array()
        .expect("episodes")
        .iter()
        .find(|e| e[key] == value)
        .expect("episode")
        .clone()
}

// The web seed.

const MEDIA_PATH: &str = "/episodes/2026-02-01-swarm-basics.mp3";

#[test]
fn the_web_seed_answers_whole_files_and_byte_ranges_exactly() {
    let s = tracker();
    let mp3 = s.show.source(SWARM_BASICS);
    let full = s.server.get(MEDIA_PATH);
    assert_eq!(full.status, 200);
    assert_eq!(full.body, mp3);
    assert_eq!(full.headers["content-type"], "audio/mpeg");
    assert_eq!(full.headers["accept-ranges"], "bytes");
    let range = |r: &str| http_request(s.server.http, "GET", MEDIA_PATH, &[("Range", r)]);
    let r = range("bytes=1000-1999");
    assert_eq!(r.status, 206);
    assert_eq!(r.body, mp3[1000..2000]);
    assert_eq!(
        r.headers["content-range"],
        format!("bytes 1000-1999/{}", mp3.len())
    );
    let r = range("bytes=-100");
    assert_eq!(r.body, mp3[mp3.len() - 100..]);
    let r = range(&format!("bytes={}-", mp3.len()));
    assert_eq!(r.status, 416);
}

#[test]
fn the_web_seed_answers_head_and_if_none_match() {
    let s = tracker();
    let mp3 = s.show.source(SWARM_BASICS);
    let head = http_request(s.server.http, "HEAD", MEDIA_PATH, &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.headers["content-length"], mp3.len().to_string());
    let etag = s.server.get(MEDIA_PATH).headers["etag"].clone();
    let r = http_request(
        s.server.http,
        "GET",
        MEDIA_PATH,
        &[("If-None-Match", &etag)],
    );
    assert_eq!(r.status, 304);
}

#[test]
fn every_published_file_is_served_with_its_content_type() {
    let s = tracker();
    for (p, t) in [
        ("/feed.xml", "application/xml"),
        (
            "/torrents/2026-01-15-welcome.torrent",
            "application/x-bittorrent",
        ),
        ("/chapters/2026-02-01-swarm-basics.json", "application/json"),
        ("/transcripts/2026-01-15-welcome.vtt", "text/vtt"),
        ("/", "text/html"),
    ] {
        let r = s.server.get(p);
        assert_eq!(r.status, 200, "{p}");
        assert!(
            r.headers["content-type"].starts_with(t),
            "{p}: {}",
            r.headers["content-type"]
        );
    }
}

/// A path segment longer than any file name can be (255 bytes) is a plain 404, not a
/// server error logged with the whole path on every request.
#[test]
fn an_overlong_file_name_is_not_found_and_not_logged() {
    let s = tracker();
    let long = "a".repeat(300);
    for target in [format!("/{long}"), format!("/episodes/{long}.mp3")] {
        let r = s.server.get(&target);
        assert_eq!(r.status, 404, "{}", &target[..20]);
    }
    assert!(!s.server.log().contains(&long), "the path was logged");
}

#[test]
fn nothing_outside_the_output_folder_or_in_its_state_is_served() {
    let s = tracker();
    std::os::unix::fs::symlink(
        s.show.path().join("podcast.yaml"),
        s.show.public().join("leak.yaml"),
    )
    .expect("symlink");
    for target in [
        "/../podcast.yaml",
        "/%2e%2e/podcast.yaml",
        "/episodes/%2E%2E/%2e%2e/podcast.yaml",
        "/.podseed/manifest.json",
        "/%2epodseed/manifest.json",
        "//etc/passwd",
        "/episodes/",
        "/leak.yaml",
        "/nope.mp3",
    ] {
        let r = s.server.get(target);
        assert!(
            r.status == 404 || r.status == 400,
            "{target} gave {} {:?}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
    // The server is still fine.
    assert_eq!(s.server.get("/feed.xml").status, 200);
}

// The HTTP tracker.

/// A swarm of 210 IPv4 leechers with distinct addresses (`ip=` is honoured from loopback),
/// one IPv6 leecher (peer 7, 2001:db8::7), and a seeder (peer 8, 10.9.9.9) that asked for
/// 500 peers, on the first episode: its info hash, and the reply the seeder got.
///
/// The seeder matters to the later tests: a reply samples each group of the swarm (IPv4
/// and IPv6 leechers, seeders) in proportion, so which peers a capped reply lists depends
/// on who is there.
fn crowded_swarm(s: &Served) -> ([u8; 20], HashMap<String, BencodeElem>) {
    let hash = s.show.published_info_hashes()[0];
    for i in 0..210u32 {
        let ip = format!("10.1.{}.{}", i / 250, i % 250 + 1);
        let q = format!(
            "/announce?info_hash={}&peer_id={}&port=7000&uploaded=0&downloaded=0&left=5&ip={ip}",
            pct(&hash),
            pct(&[(i % 250) as u8; 20])
        );
        let r = bdecode(&s.server.get(&q).body);
        assert!(r.contains_key("interval"), "{r:?}");
    }
    let r = s
        .server
        .get(&announce_query(&hash, 7, "2001:db8::7", 5, ""));
    assert!(bdecode(&r.body).contains_key("peers"));
    let seeder = bdecode(
        &s.server
            .get(&announce_query(&hash, 8, "10.9.9.9", 0, "&numwant=500"))
            .body,
    );
    (hash, seeder)
}

#[test]
fn http_announce_caps_numwant_at_200_and_counts_the_swarm() {
    // A seeder asking for more than the cap gets 200 compact peers (leechers only).
    let (_, r) = crowded_swarm(&tracker());
    let v4 = raw_bytes(&r["peers"]).len() / 6;
    let v6 = r.get("peers6").map_or(0, |p| raw_bytes(p).len() / 18);
    assert_eq!(v4 + v6, 200, "numwant cap");
    assert_eq!(int(&r["incomplete"]), 211);
    assert_eq!(int(&r["complete"]), 1);
    assert!(int(&r["interval"]) > 0 && r.contains_key("min interval"));
}

#[test]
fn http_announce_dictionary_form_lists_ipv6_peers_and_peer_ids() {
    let s = tracker();
    let (hash, _) = crowded_swarm(&s);
    let r = bdecode(
        &s.server
            .get(&announce_query(
                &hash,
                9,
                "10.9.9.10",
                5,
                "&compact=0&numwant=300",
            ))
            .body,
    );
    let BencodeElem::List(peers) = &r["peers"] else {
        panic!("dictionary peers expected: {r:?}");
    };
    let ips: Vec<String> = peers
        .iter()
        .map(|p| match p {
            BencodeElem::Dictionary(d) => String::from_utf8(raw_bytes(&d["ip"])).expect("ip"),
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(
        ips.contains(&"2001:db8::7".to_string()),
        "IPv6 peer missing"
    );
    assert!(matches!(&peers[0], BencodeElem::Dictionary(d) if d.contains_key("peer id")));
}

#[test]
fn http_announce_no_peer_id_leaves_peer_ids_out() {
    let s = tracker();
    let (hash, _) = crowded_swarm(&s);
    let r = bdecode(
        &s.server
            .get(&announce_query(
                &hash,
                9,
                "10.9.9.10",
                5,
                "&compact=0&no_peer_id=1",
            ))
            .body,
    );
    let BencodeElem::List(peers) = &r["peers"] else {
        panic!("list");
    };
    assert!(matches!(&peers[0], BencodeElem::Dictionary(d) if !d.contains_key("peer id")));
}

#[test]
fn http_announce_compact_carries_ipv6_peers_in_peers6() {
    // BEP 7.
    let s = tracker();
    let (hash, _) = crowded_swarm(&s);
    let r = bdecode(
        &s.server
            .get(&announce_query(&hash, 10, "10.9.9.11", 5, "&numwant=300"))
            .body,
    );
    assert_eq!(raw_bytes(&r["peers6"]).len(), 18);
}

#[test]
fn http_scrape_counts_completed_and_stopped_peers() {
    let s = tracker();
    let hashes = s.show.published_info_hashes();
    let h = hashes[0];
    s.server
        .get(&announce_query(&h, 1, "10.0.0.1", 100, "&event=started"));
    s.server
        .get(&announce_query(&h, 2, "10.0.0.2", 100, "&event=started"));
    s.server
        .get(&announce_query(&h, 1, "10.0.0.1", 0, "&event=completed"));
    s.server
        .get(&announce_query(&h, 2, "10.0.0.2", 100, "&event=stopped"));
    let q = format!(
        "/scrape?info_hash={}&info_hash={}",
        pct(&h),
        pct(&hashes[1])
    );
    let r = bdecode(&s.server.get(&q).body);
    let BencodeElem::RawDictionary(files) = &r["files"] else {
        panic!("files keyed by raw hashes: {r:?}");
    };
    assert_eq!(files.len(), 2);
    let BencodeElem::Dictionary(f) = &files[&h.to_vec()] else {
        panic!("entry");
    };
    assert_eq!(
        (
            int(&f["complete"]),
            int(&f["incomplete"]),
            int(&f["downloaded"])
        ),
        (1, 0, 1)
    );
    assert_eq!(s.server.stats()["episodes"][0]["completed"], 1);
}

#[test]
fn http_announce_failures_say_why() {
    let s = tracker();
    let h = s.show.published_info_hashes()[0];
    let failure = |target: &str| -> String {
        let r = bdecode(&s.server.get(target).body);
        String::from_utf8(raw_bytes(&r["failure reason"])).expect("utf8")
    };
    assert_eq!(
        failure(&announce_query(&[7; 20], 1, "10.0.0.1", 1, "")),
        "unregistered torrent"
    );
    assert!(
        failure(&announce_query(&h, 1, "10.0.0.1", 1, "").replace("port=6001", "port=0"))
            .contains("port")
    );
    assert!(failure("/announce?info_hash=short").contains("info_hash"));
    assert!(failure(&format!("/announce?{}", "x=1&".repeat(3000))).contains("too long"));
}

#[test]
fn silent_peers_expire_after_two_intervals() {
    let s = tracker_with(Serve::tracker().set("announce_interval", "1"));
    let h = s.show.published_info_hashes()[0];
    s.server
        .get(&announce_query(&h, 1, "10.0.0.1", 5, "&event=started"));
    let r = bdecode(&s.server.get(&announce_query(&h, 2, "10.0.0.2", 5, "")).body);
    assert_eq!(int(&r["incomplete"]), 2);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        // Peer 2 keeps announcing; peer 1 has gone silent.
        let r = bdecode(&s.server.get(&announce_query(&h, 2, "10.0.0.2", 5, "")).body);
        if int(&r["incomplete"]) == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "silent peer never expired");
    }
}

// The UDP tracker (BEP 15), byte for byte.

/// A BEP 15 connect request with transaction id `tid`.
fn connect_packet(tid: u32) -> Vec<u8> {
    let mut p = 0x41727101980u64.to_be_bytes().to_vec();
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&tid.to_be_bytes());
    p
}

/// A BEP 15 announce on connection `conn` with transaction id `tid`, from peer id
/// `[tid; 20]` listening on `port`.
fn announce_packet(
    conn: &[u8],
    tid: u32,
    hash: &[u8; 20],
    left: u64,
    event: u32,
    port: u16,
) -> Vec<u8> {
    let mut p = conn.to_vec();
    p.extend_from_slice(&1u32.to_be_bytes());
    p.extend_from_slice(&tid.to_be_bytes());
    p.extend_from_slice(hash);
    p.extend_from_slice(&[tid as u8; 20]);
    p.extend_from_slice(&0u64.to_be_bytes());
    p.extend_from_slice(&left.to_be_bytes());
    p.extend_from_slice(&0u64.to_be_bytes());
    p.extend_from_slice(&event.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&(-1i32).to_be_bytes());
    p.extend_from_slice(&port.to_be_bytes());
    p
}

/// A UDP tracker client on its own loopback socket (so its own address), with the
/// connection id the tracker gave it.
struct UdpClient {
    sock: UdpSocket,
    to: SocketAddr,
    conn: Vec<u8>,
}

impl UdpClient {
    /// A socket on the loopback of `to`'s family, not yet connected.
    fn bind(to: SocketAddr) -> UdpClient {
        let sock = UdpSocket::bind(if to.is_ipv6() {
            "[::1]:0"
        } else {
            "127.0.0.1:0"
        })
        .expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(1500)))
            .expect("timeout");
        UdpClient {
            sock,
            to,
            conn: Vec::new(),
        }
    }

    /// Bound, and connected (BEP 15 connect).
    fn connect(to: SocketAddr) -> UdpClient {
        let mut c = UdpClient::bind(to);
        let r = c.exchange(&connect_packet(0x1234_5678)).expect("connect");
        c.conn = r[8..16].to_vec();
        c
    }

    /// Sends `packet`; the reply, or None after 1.5 s of silence.
    fn exchange(&self, packet: &[u8]) -> Option<Vec<u8>> {
        self.sock.send_to(packet, self.to).expect("send");
        let mut buf = [0u8; 2048];
        match self.sock.recv_from(&mut buf) {
            Ok((n, _)) => Some(buf[..n].to_vec()),
            Err(_) => None,
        }
    }

    /// Announces on its own connection id, listening on port 6000 + `tid`.
    fn announce(&self, tid: u32, hash: &[u8; 20], left: u64, event: u32) -> Option<Vec<u8>> {
        self.exchange(&announce_packet(
            &self.conn,
            tid,
            hash,
            left,
            event,
            6000 + tid as u16,
        ))
    }
}

/// Two UDP peers on the first episode: a leecher (tid 1, port 6001), and one that started
/// and completed (tid 2); with the tracker's replies to the first's announce and the
/// second's completion.
fn two_udp_peers(s: &Served) -> (UdpClient, UdpClient, Vec<u8>, Vec<u8>) {
    let hash = s.show.published_info_hashes()[0];
    let a = UdpClient::connect(s.server.udp());
    let first = a.announce(1, &hash, 10, 2).expect("reply");
    let b = UdpClient::connect(s.server.udp());
    // It starts as a leecher, then completes (a completion counts only for a known leecher).
    b.announce(2, &hash, 10, 2).expect("reply");
    let completed = b.announce(2, &hash, 0, 1).expect("reply");
    (a, b, first, completed)
}

#[test]
fn udp_connect_echoes_the_transaction_id_with_a_connection_id() {
    // connect: magic, action 0, transaction id → action 0, same tid, 8-byte id.
    let s = tracker();
    let c = UdpClient::bind(s.server.udp());
    let r = c
        .exchange(&connect_packet(0x1234_5678))
        .expect("connect reply");
    assert_eq!(r.len(), 16);
    assert_eq!(&r[..8], &[0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]);
}

#[test]
fn udp_announce_counts_the_swarm_and_lists_the_other_peers() {
    let s = tracker();
    let (_, _, first, completed) = two_udp_peers(&s);
    // action 1, tid 1, interval, leechers 1, seeders 0, no other peers.
    assert_eq!(&first[..8], &[0, 0, 0, 1, 0, 0, 0, 1]);
    assert_eq!(&first[12..20], &[0, 0, 0, 1, 0, 0, 0, 0]);
    assert_eq!(first.len(), 20);
    // The second peer (another port) sees the first: 127.0.0.1:6001.
    assert_eq!(&completed[12..20], &[0, 0, 0, 1, 0, 0, 0, 1]);
    assert_eq!(&completed[20..], &[127, 0, 0, 1, 0x17, 0x71]);
}

#[test]
fn udp_scrape_gives_seeders_completed_and_leechers_per_hash() {
    let s = tracker();
    let hashes = s.show.published_info_hashes();
    let (a, _b, _, _) = two_udp_peers(&s);
    let mut sp = a.conn.clone();
    sp.extend_from_slice(&2u32.to_be_bytes());
    sp.extend_from_slice(&3u32.to_be_bytes());
    sp.extend_from_slice(&hashes[0]);
    sp.extend_from_slice(&hashes[1]);
    let r = a.exchange(&sp).expect("scrape");
    assert_eq!(
        r,
        [
            0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0
        ]
    );
}

#[test]
fn udp_a_connection_id_issued_to_another_address_is_refused() {
    let s = tracker();
    let hash = s.show.published_info_hashes()[0];
    let a = UdpClient::connect(s.server.udp());
    let b = UdpClient::connect(s.server.udp());
    let r = b
        .exchange(&announce_packet(&a.conn, 4, &hash, 10, 0, 6004))
        .expect("error");
    assert_eq!(&r[..8], &[0, 0, 0, 3, 0, 0, 0, 4]);
    assert!(String::from_utf8_lossy(&r[8..]).contains("connection id"));
}

#[test]
fn udp_announce_for_an_unknown_torrent_is_an_error() {
    let s = tracker();
    let a = UdpClient::connect(s.server.udp());
    let r = a.announce(5, &[9; 20], 10, 0).expect("error");
    assert_eq!(&r[..8], &[0, 0, 0, 3, 0, 0, 0, 5]);
}

#[test]
fn udp_truncated_packets_get_an_error_or_silence_never_a_crash() {
    let s = tracker();
    let hash = s.show.published_info_hashes()[0];
    let a = UdpClient::connect(s.server.udp());
    // An error when a transaction id is there, or silence.
    let full = announce_packet(&a.conn, 6, &hash, 10, 0, 6006);
    let r = a
        .exchange(&full[..50])
        .expect("error for a truncated announce");
    assert_eq!(&r[..8], &[0, 0, 0, 3, 0, 0, 0, 6]);
    assert_eq!(a.exchange(&[1, 2, 3]), None);
    // Still serving.
    let r = a
        .exchange(&connect_packet(0x1234_5678))
        .expect("connect after junk");
    assert_eq!(r.len(), 16);
}

#[test]
fn udp_tracker_over_ipv6_returns_18_byte_peers() {
    if UdpSocket::bind("[::1]:0").is_err() {
        skip(test_name!(), "no IPv6 loopback");
        return;
    }
    let s = tracker_with(Serve::tracker().set("udp_tracker", "\"[::1]:0\""));
    let to = s.server.udp();
    assert!(to.is_ipv6());
    let hash = s.show.published_info_hashes()[0];
    let peers: Vec<UdpClient> = (0..2)
        .map(|_| {
            let mut c = UdpClient::bind(to);
            let r = c.exchange(&connect_packet(9)).expect("connect");
            c.conn = r[8..16].to_vec();
            c
        })
        .collect();
    let replies: Vec<Vec<u8>> = peers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let p = announce_packet(&c.conn, i as u32, &hash, 5, 0, 7000 + i as u16);
            c.exchange(&p).expect("announce")
        })
        .collect();
    // The second peer gets the first: ::1 port 7000, in 18 bytes.
    let mut want = std::net::Ipv6Addr::LOCALHOST.octets().to_vec();
    want.extend_from_slice(&7000u16.to_be_bytes());
    assert_eq!(&replies[1][20..], want.as_slice());
}

// Builds published while serving.

#[test]
fn a_new_build_is_picked_up_without_restart() {
    let s = tracker();
    let h0 = s.show.published_info_hashes()[0];
    s.server
        .get(&announce_query(&h0, 1, "10.0.0.1", 5, "&event=started"));
    s.show
        .add_episode("2026-03-01-late.mp3", &fixture("cbr-mpeg25.mp3"));
    s.show.publish();
    let hashes = s.show.published_info_hashes();
    assert_eq!(hashes.len(), 5);
    let new = *hashes
        .iter()
        .find(|h| !info_hashes_before(&h0, h))
        .expect("new hash");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = bdecode(
            &s.server
                .get(&announce_query(&new, 2, "10.0.0.2", 5, ""))
                .body,
        );
        if r.contains_key("interval") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "new episode never tracked: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(s.server.get("/episodes/2026-03-01-late.mp3").status, 200);
    // Peers of unchanged episodes survived the reload.
    let r = bdecode(
        &s.server
            .get(&announce_query(&h0, 3, "10.0.0.3", 5, ""))
            .body,
    );
    assert_eq!(int(&r["incomplete"]), 2);
    assert_eq!(
        s.server.stats()["episodes"].as_array().map(Vec::len),
        Some(5)
    );
}

#[test]
fn the_feed_after_a_new_build_is_the_new_builds_feed() {
    // serve holds small files in memory, so this fails if a reload does not re-index.
    let s = tracker();
    let first = s.server.get("/feed.xml");
    assert_eq!(first.status, 200);
    s.show
        .add_episode("2026-03-01-late.mp3", &fixture("cbr-mpeg25.mp3"));
    s.show.publish();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let feed = s.server.get("/feed.xml");
        if String::from_utf8_lossy(&feed.body).contains("2026-03-01-late.mp3") {
            assert_ne!(feed.headers.get("etag"), first.headers.get("etag"));
            assert_eq!(
                feed.headers.get("content-length"),
                Some(&feed.body.len().to_string())
            );
            break;
        }
        assert!(Instant::now() < deadline, "the old feed is still served");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn info_hashes_before(old: &[u8; 20], h: &[u8; 20]) -> bool {
    // Only the new one differs from every hash the example had; the example's first hash
    // stands for them here since the example's three are all in the first build.
    h == old || EXAMPLE_HASHES.iter().any(|e| hex(h) == *e)
}

const EXAMPLE_HASHES: [&str; 3] = [
    "b139c175a3314d3bd83930328e7e72cd7d82e0c0",
    "f364bc337574f829ea1f0bc17405fc9172d89b71",
    "89a935d045be353886242dc95482a1519668dce5",
];

#[test]
fn a_removed_episode_stops_being_served_and_tracked() {
    let s = tracker();
    let before = s.show.published_info_hashes();
    s.show.remove_episode(BONUS);
    s.show.publish();
    let after = s.show.published_info_hashes();
    let gone = *before
        .iter()
        .find(|h| !after.contains(h))
        .expect("one hash removed");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = bdecode(
            &s.server
                .get(&announce_query(&gone, 1, "10.0.0.1", 5, ""))
                .body,
        );
        if r.contains_key("failure reason") {
            break;
        }
        assert!(Instant::now() < deadline, "removed episode still tracked");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        s.server.get("/episodes/bonus-behind-the-scenes.mp3").status,
        404
    );
    assert_eq!(
        s.server.stats()["episodes"].as_array().map(Vec::len),
        Some(3)
    );
}

// The server as a whole.

#[test]
fn stats_and_metrics_count_http_bytes() {
    let s = tracker();
    let r = http_request(
        s.server.http,
        "GET",
        "/episodes/bonus-behind-the-scenes.mp3",
        &[("Range", "bytes=0-999")],
    );
    assert_eq!(r.body.len(), 1000);
    let stats = s.server.stats();
    let ep = stats_episode(&stats, "title", "Behind the Scenes");
    assert_eq!(ep["http_bytes"], 1000);
    assert_eq!(stats["totals"]["http_bytes"], 1000);
    assert!(stats["uptime_secs"].is_u64());
    let m = String::from_utf8(s.server.get("/metrics").body).expect("text");
    assert!(m.contains("# TYPE podseed_http_bytes_total counter"));
    assert!(m.contains("title=\"Behind the Scenes\"} 1000"), "{m}");
    assert!(m.contains("podseed_seeders{info_hash=\""));
}

#[test]
fn sigterm_stops_serve_cleanly_within_five_seconds() {
    let Served { mut server, .. } = tracker();
    server.sigterm();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = server.try_wait() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "serve still running 5 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_without_a_build_says_to_publish() {
    let show = Show::example();
    let out = show.podseed(&["serve"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("podseed publish"));
}

#[test]
fn one_address_cannot_take_every_connection() {
    let s = tracker_with(Serve::tracker().set("max_connections_per_ip", "4"));
    // Four idle connections hold this address's slots...
    let idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(s.server.http).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    // ...so a fifth is closed without an answer.
    let mut extra = TcpStream::connect(s.server.http).expect("connect");
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let _ = extra.write_all(b"GET /feed.xml HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut buf = [0u8; 64];
    let n = extra.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "a connection over the per-address cap was served");
    // Once they close, the address is served again.
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let ok = std::panic::catch_unwind(|| s.server.get("/feed.xml").status).unwrap_or(0);
        if ok == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "slots were not released");
    }
}

// Real clients.

#[test]
fn aria2c_downloads_through_our_tracker_and_web_seed() {
    require!(Tool::Aria2c);
    let show = Show::example()
        .served_from_loopback(&[])
        .with_serve(Serve::tracker().set("udp_tracker", "off"));
    show.publish();
    let torrent = show.torrent(SWARM_BASICS);
    let t = Torrent::read_from_file(&torrent).expect("torrent");
    let base = show.base_url();
    assert_eq!(
        t.announce.as_deref(),
        Some(format!("{base}announce").as_str())
    );
    let s = Server::start(&show);
    let dl = show.path().join("download");
    let status = aria2c_command(&dl, &torrent, &["--bt-stop-timeout=60", "--max-tries=3"])
        .status()
        .expect("aria2c");
    assert!(status.success(), "aria2c failed: {status}");
    assert_eq!(
        std::fs::read(dl.join(SWARM_BASICS)).expect("downloaded"),
        show.source(SWARM_BASICS)
    );
    let ep = stats_episode(&s.stats(), "info_hash", &t.info_hash());
    assert!(
        ep["completed"].as_u64() >= Some(1),
        "tracker saw no completed peer: {ep}"
    );
    assert!(
        ep["http_bytes"].as_u64() >= Some(t.length as u64),
        "web seed bytes: {ep}"
    );
}

#[test]
fn aria2c_announces_over_our_udp_tracker() {
    require!(Tool::Aria2c);
    let udp_port = free_udp_port();
    let show = Show::example()
        .served_from_loopback(&[])
        .with_serve(Serve::tracker().set("udp_tracker", &format!("127.0.0.1:{udp_port}")));
    show.publish();
    let torrent = show.torrent(BONUS);
    let t = Torrent::read_from_file(&torrent).expect("torrent");
    let base = show.base_url();
    let udp_url = format!("udp://127.0.0.1:{udp_port}/announce");
    let ws_url = format!("{}announce", base.replacen("http://", "ws://", 1));
    assert_eq!(
        t.announce_list,
        Some(vec![
            vec![format!("{base}announce")],
            vec![udp_url],
            vec![ws_url]
        ])
    );
    let s = Server::start(&show);
    let dl = show.path().join("download");
    // aria2 speaks UDP trackers through its DHT socket, so DHT is on (with no nodes to
    // find, on loopback); the HTTP tracker is excluded so the UDP one must do.
    let exclude = format!("--bt-exclude-tracker={base}announce");
    let dht_file = format!("--dht-file-path={}", show.path().join("dht.dat").display());
    let status = aria2c_command(
        &dl,
        &torrent,
        &[
            "--enable-dht=true",
            "--bt-stop-timeout=60",
            &exclude,
            &dht_file,
        ],
    )
    .status()
    .expect("aria2c");
    assert!(status.success(), "aria2c failed: {status}");
    assert_eq!(
        std::fs::read(dl.join(BONUS)).expect("downloaded"),
        show.source(BONUS)
    );
    let ep = stats_episode(&s.stats(), "info_hash", &t.info_hash());
    assert!(
        ep["completed"].as_u64() >= Some(1),
        "UDP tracker saw no completed peer: {ep}"
    );
}
