//! Black-box tests of `podseed serve`: the real binary on 127.0.0.1 with ephemeral ports,
//! driven over raw HTTP and UDP, and by a real BitTorrent client (aria2c).

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use lava_torrent::bencode::BencodeElem;
use lava_torrent::torrent::v1::Torrent;
use serde_json::Value;

/// A running `podseed serve`; killed when dropped.
struct Server {
    child: Child,
    http: SocketAddr,
    udp: Option<SocketAddr>,
}

impl Server {
    // The child is waited for in Drop, which clippy's lint cannot see.
    #[allow(clippy::zombie_processes)]
    fn start(dir: &Path, config: &str) -> Server {
        let ready = dir.join("ready.json");
        let _ = std::fs::remove_file(&ready);
        let mut child = Command::new(env!("CARGO_BIN_EXE_podseed"))
            .args(["serve", "-c", config, "--ready-file"])
            .arg(&ready)
            .current_dir(dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start serve");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                let v: Value = serde_json::from_str(&text).expect("ready JSON");
                let http = v["http"].as_str().expect("http").parse().expect("addr");
                let udp = v["udp_tracker"].as_str().map(|s| s.parse().expect("addr"));
                return Server { child, http, udp };
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("serve did not become ready");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn get(&self, target: &str) -> HttpReply {
        http_request(self.http, "GET", target, &[])
    }

    fn stats(&self) -> Value {
        serde_json::from_slice(&self.get("/stats").body).expect("stats JSON")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct HttpReply {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// One HTTP/1.1 request over a fresh connection, the target sent byte for byte.
fn http_request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> HttpReply {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("send");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status");
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .get("transfer-encoding")
        .is_some_and(|t| t == "chunked")
    {
        body = dechunk(&body);
    }
    HttpReply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
}

/// A published example with a serve: section binding loopback ephemeral ports.
fn served_example(extra_serve: &str) -> (tempfile::TempDir, Server) {
    let d = example_copy();
    let yaml = std::fs::read_to_string(d.path().join("podcast.yaml")).expect("yaml");
    let yaml = format!(
        "{yaml}serve:\n  http: 127.0.0.1:0\n  udp_tracker: 127.0.0.1:0\n  peer: off\n{extra_serve}"
    );
    std::fs::write(d.path().join("podcast.yaml"), yaml).expect("write");
    podseed_ok(d.path(), &["publish", "--quiet"]);
    let server = Server::start(d.path(), "podcast.yaml");
    (d, server)
}

fn info_hashes(dir: &Path) -> Vec<[u8; 20]> {
    let m: Value = serde_json::from_slice(
        &std::fs::read(dir.join("public/.podseed/manifest.json")).expect("manifest"),
    )
    .expect("json");
    m["published"]
        .as_array()
        .expect("published")
        .iter()
        .map(|p| {
            let hex = p["info_hash"].as_str().expect("hash");
            let v: Vec<u8> = (0..20)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
                .collect();
            v.try_into().expect("20 bytes")
        })
        .collect()
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

#[test]
fn the_web_seed_answers_ranges_head_and_conditionals_exactly() {
    let (d, s) = served_example("");
    let mp3 = std::fs::read(
        d.path()
            .join("examples/episodes/2026-02-01-swarm-basics.mp3"),
    )
    .expect("mp3");
    let path = "/episodes/2026-02-01-swarm-basics.mp3";
    let full = s.get(path);
    assert_eq!(full.status, 200);
    assert_eq!(full.body, mp3);
    assert_eq!(full.headers["content-type"], "audio/mpeg");
    assert_eq!(full.headers["accept-ranges"], "bytes");
    let r = http_request(s.http, "GET", path, &[("Range", "bytes=1000-1999")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, mp3[1000..2000]);
    assert_eq!(
        r.headers["content-range"],
        format!("bytes 1000-1999/{}", mp3.len())
    );
    let r = http_request(s.http, "GET", path, &[("Range", "bytes=-100")]);
    assert_eq!(r.body, mp3[mp3.len() - 100..]);
    let r = http_request(
        s.http,
        "GET",
        path,
        &[("Range", &format!("bytes={}-", mp3.len()))],
    );
    assert_eq!(r.status, 416);
    let head = http_request(s.http, "HEAD", path, &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.headers["content-length"], mp3.len().to_string());
    let etag = full.headers["etag"].clone();
    let r = http_request(s.http, "GET", path, &[("If-None-Match", &etag)]);
    assert_eq!(r.status, 304);
    for (p, t) in [
        ("/feed.xml", "application/rss+xml"),
        (
            "/torrents/2026-01-15-welcome.torrent",
            "application/x-bittorrent",
        ),
        ("/chapters/2026-02-01-swarm-basics.json", "application/json"),
        ("/transcripts/2026-01-15-welcome.vtt", "text/vtt"),
        ("/", "text/html"),
    ] {
        let r = s.get(p);
        assert_eq!(r.status, 200, "{p}");
        assert!(
            r.headers["content-type"].starts_with(t),
            "{p}: {}",
            r.headers["content-type"]
        );
    }
}

#[test]
fn nothing_outside_the_output_folder_or_in_its_state_is_served() {
    let (d, s) = served_example("");
    std::os::unix::fs::symlink(
        d.path().join("podcast.yaml"),
        d.path().join("public/leak.yaml"),
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
        let r = s.get(target);
        assert!(
            r.status == 404 || r.status == 400,
            "{target} gave {} {:?}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
    // The server is still fine.
    assert_eq!(s.get("/feed.xml").status, 200);
}

#[test]
fn http_announce_compact_dictionary_ipv6_and_numwant() {
    let (d, s) = served_example("");
    let hash = info_hashes(d.path())[0];
    // 210 leechers with distinct addresses (ip= is honoured from loopback).
    for i in 0..210u32 {
        let ip = format!("10.1.{}.{}", i / 250, i % 250 + 1);
        let q = format!(
            "/announce?info_hash={}&peer_id={}&port=7000&uploaded=0&downloaded=0&left=5&ip={ip}",
            pct(&hash),
            pct(&[(i % 250) as u8; 20])
        );
        let r = bdecode(&s.get(&q).body);
        assert!(r.contains_key("interval"), "{r:?}");
    }
    // An IPv6 peer.
    let r = s.get(&announce_query(&hash, 7, "2001:db8::7", 5, ""));
    assert!(bdecode(&r.body).contains_key("peers"));
    // A seeder asking for more than the cap gets 200 compact peers (leechers only).
    let r = bdecode(
        &s.get(&announce_query(&hash, 8, "10.9.9.9", 0, "&numwant=500"))
            .body,
    );
    let v4 = raw_bytes(&r["peers"]).len() / 6;
    let v6 = r.get("peers6").map_or(0, |p| raw_bytes(p).len() / 18);
    assert_eq!(v4 + v6, 200, "numwant cap");
    assert_eq!(int(&r["incomplete"]), 211);
    assert_eq!(int(&r["complete"]), 1);
    assert!(int(&r["interval"]) > 0 && r.contains_key("min interval"));
    // Dictionary form with and without peer ids; the IPv6 peer shows up as such.
    let r = bdecode(
        &s.get(&announce_query(
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
    let r = bdecode(
        &s.get(&announce_query(
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
    // Compact replies carry IPv6 peers in peers6 (BEP 7).
    let r = bdecode(
        &s.get(&announce_query(&hash, 10, "10.9.9.11", 5, "&numwant=300"))
            .body,
    );
    assert_eq!(raw_bytes(&r["peers6"]).len(), 18);
}

#[test]
fn stopped_completed_scrape_and_failures() {
    let (d, s) = served_example("");
    let hashes = info_hashes(d.path());
    let h = hashes[0];
    s.get(&announce_query(&h, 1, "10.0.0.1", 100, "&event=started"));
    s.get(&announce_query(&h, 2, "10.0.0.2", 100, "&event=started"));
    s.get(&announce_query(&h, 1, "10.0.0.1", 0, "&event=completed"));
    s.get(&announce_query(&h, 2, "10.0.0.2", 100, "&event=stopped"));
    let q = format!(
        "/scrape?info_hash={}&info_hash={}",
        pct(&h),
        pct(&hashes[1])
    );
    let r = bdecode(&s.get(&q).body);
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

    let failure = |target: &str| -> String {
        let r = bdecode(&s.get(target).body);
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
    let stats = s.stats();
    assert_eq!(stats["episodes"][0]["completed"], 1);
}

#[test]
fn silent_peers_expire_after_two_intervals() {
    let (d, s) = served_example("  announce_interval: 1\n");
    let h = info_hashes(d.path())[0];
    s.get(&announce_query(&h, 1, "10.0.0.1", 5, "&event=started"));
    let r = bdecode(&s.get(&announce_query(&h, 2, "10.0.0.2", 5, "")).body);
    assert_eq!(int(&r["incomplete"]), 2);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        // Peer 2 keeps announcing; peer 1 has gone silent.
        let r = bdecode(&s.get(&announce_query(&h, 2, "10.0.0.2", 5, "")).body);
        if int(&r["incomplete"]) == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "silent peer never expired");
    }
}

fn udp_exchange(sock: &UdpSocket, to: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    sock.send_to(packet, to).expect("send");
    let mut buf = [0u8; 2048];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

#[test]
fn udp_tracker_speaks_bep15_byte_for_byte() {
    let (d, s) = served_example("");
    let hashes = info_hashes(d.path());
    let to = s.udp.expect("udp tracker");
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(1500)))
        .expect("timeout");

    // connect: magic, action 0, transaction id → action 0, same tid, 8-byte id.
    let mut p = 0x41727101980u64.to_be_bytes().to_vec();
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    let r = udp_exchange(&sock, to, &p).expect("connect reply");
    assert_eq!(r.len(), 16);
    assert_eq!(&r[..8], &[0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]);
    let conn = r[8..16].to_vec();

    let announce = |conn: &[u8], tid: u32, hash: &[u8; 20], left: u64, event: u32| {
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
        p.extend_from_slice(&(6000 + tid as u16).to_be_bytes());
        p
    };
    let r = udp_exchange(&sock, to, &announce(&conn, 1, &hashes[0], 10, 2)).expect("reply");
    // action 1, tid 1, interval, leechers 1, seeders 0, no other peers.
    assert_eq!(&r[..8], &[0, 0, 0, 1, 0, 0, 0, 1]);
    assert_eq!(&r[12..20], &[0, 0, 0, 1, 0, 0, 0, 0]);
    assert_eq!(r.len(), 20);
    // A second peer (another port) sees the first: 127.0.0.1:6001.
    let sock2 = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock2
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .expect("timeout");
    let r = udp_exchange(&sock2, to, &p).expect("connect");
    let conn2 = r[8..16].to_vec();
    // It starts as a leecher, then completes (a completion counts only for a known leecher).
    udp_exchange(&sock2, to, &announce(&conn2, 2, &hashes[0], 10, 2)).expect("reply");
    let r = udp_exchange(&sock2, to, &announce(&conn2, 2, &hashes[0], 0, 1)).expect("reply");
    assert_eq!(&r[12..20], &[0, 0, 0, 1, 0, 0, 0, 1]);
    assert_eq!(&r[20..], &[127, 0, 0, 1, 0x17, 0x71]);

    // scrape two hashes: seeders, completed, leechers each.
    let mut sp = conn.clone();
    sp.extend_from_slice(&2u32.to_be_bytes());
    sp.extend_from_slice(&3u32.to_be_bytes());
    sp.extend_from_slice(&hashes[0]);
    sp.extend_from_slice(&hashes[1]);
    let r = udp_exchange(&sock, to, &sp).expect("scrape");
    assert_eq!(
        r,
        [
            0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0
        ]
    );

    // A connection id issued to another address is refused with an error packet.
    let r = udp_exchange(&sock2, to, &announce(&conn, 4, &hashes[0], 10, 0)).expect("error");
    assert_eq!(&r[..8], &[0, 0, 0, 3, 0, 0, 0, 4]);
    assert!(String::from_utf8_lossy(&r[8..]).contains("connection id"));
    // Unknown torrent.
    let r = udp_exchange(&sock, to, &announce(&conn, 5, &[9; 20], 10, 0)).expect("error");
    assert_eq!(&r[..8], &[0, 0, 0, 3, 0, 0, 0, 5]);
    // Truncated packets: an error (when a transaction id is there) or silence, never a crash.
    let full = announce(&conn, 6, &hashes[0], 10, 0);
    let r = udp_exchange(&sock, to, &full[..50]).expect("error for a truncated announce");
    assert_eq!(&r[..8], &[0, 0, 0, 3, 0, 0, 0, 6]);
    assert_eq!(udp_exchange(&sock, to, &[1, 2, 3]), None);
    // Still serving.
    let r = udp_exchange(&sock, to, &p).expect("connect after junk");
    assert_eq!(r.len(), 16);
}

#[test]
fn a_new_build_is_picked_up_without_restart() {
    let (d, s) = served_example("");
    let h0 = info_hashes(d.path())[0];
    s.get(&announce_query(&h0, 1, "10.0.0.1", 5, "&event=started"));
    std::fs::copy(
        repo().join("tests/fixtures/cbr-mpeg25.mp3"),
        d.path().join("examples/episodes/2026-03-01-late.mp3"),
    )
    .expect("copy");
    podseed_ok(d.path(), &["publish", "--quiet"]);
    let hashes = info_hashes(d.path());
    assert_eq!(hashes.len(), 4);
    let new = *hashes
        .iter()
        .find(|h| !info_hashes_before(&h0, h))
        .expect("new hash");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = bdecode(&s.get(&announce_query(&new, 2, "10.0.0.2", 5, "")).body);
        if r.contains_key("interval") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "new episode never tracked: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(s.get("/episodes/2026-03-01-late.mp3").status, 200);
    // Peers of unchanged episodes survived the reload.
    let r = bdecode(&s.get(&announce_query(&h0, 3, "10.0.0.3", 5, "")).body);
    assert_eq!(int(&r["incomplete"]), 2);
    assert_eq!(s.stats()["episodes"].as_array().map(Vec::len), Some(4));
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

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn stats_and_metrics_count_http_bytes() {
    let (_d, s) = served_example("");
    let r = http_request(
        s.http,
        "GET",
        "/episodes/bonus-behind-the-scenes.mp3",
        &[("Range", "bytes=0-999")],
    );
    assert_eq!(r.body.len(), 1000);
    let stats = s.stats();
    let ep = stats["episodes"]
        .as_array()
        .expect("episodes")
        .iter()
        .find(|e| e["title"] == "Behind the Scenes")
        .expect("episode")
        .clone();
    assert_eq!(ep["http_bytes"], 1000);
    assert_eq!(stats["totals"]["http_bytes"], 1000);
    assert!(stats["uptime_secs"].is_u64());
    let m = String::from_utf8(s.get("/metrics").body).expect("text");
    assert!(m.contains("# TYPE podseed_http_bytes_total counter"));
    assert!(m.contains("title=\"Behind the Scenes\"} 1000"), "{m}");
    assert!(m.contains("podseed_seeders{info_hash=\""));
}

#[test]
fn sigterm_stops_serve_cleanly_within_five_seconds() {
    let (_d, mut s) = served_example("");
    let pid = s.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = s.child.try_wait().expect("wait") {
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
    let d = example_copy();
    let out = podseed(d.path(), &["serve"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("podseed publish"));
}

#[test]
fn aria2c_downloads_through_our_tracker_and_web_seed() {
    if !have_tool(
        "aria2c",
        "aria2c_downloads_through_our_tracker_and_web_seed",
    ) {
        return;
    }
    let d = example_copy();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/");
    let serve = format!(
        "  http: 127.0.0.1:{port}\n  udp_tracker: off\n  public_url: {base}\n  peer: off\n"
    );
    let yaml = loopback_yaml(d.path(), &base, &[], &serve);
    std::fs::write(d.path().join("podcast.yaml"), yaml).expect("write");
    podseed_ok(d.path(), &["publish", "--quiet"]);
    let torrent = d
        .path()
        .join("public/torrents/2026-02-01-swarm-basics.torrent");
    let t = Torrent::read_from_file(&torrent).expect("torrent");
    assert_eq!(
        t.announce.as_deref(),
        Some(format!("{base}announce").as_str())
    );
    let s = Server::start(d.path(), "podcast.yaml");
    let dl: PathBuf = d.path().join("download");
    let status = aria2c_command(&dl, &torrent, &["--bt-stop-timeout=60", "--max-tries=3"])
        .status()
        .expect("aria2c");
    assert!(status.success(), "aria2c failed: {status}");
    assert_eq!(
        std::fs::read(dl.join("2026-02-01-swarm-basics.mp3")).expect("downloaded"),
        std::fs::read(
            d.path()
                .join("examples/episodes/2026-02-01-swarm-basics.mp3")
        )
        .expect("src")
    );
    let stats = s.stats();
    let ep = stats["episodes"]
        .as_array()
        .expect("episodes")
        .iter()
        .find(|e| e["info_hash"] == t.info_hash())
        .expect("episode")
        .clone();
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
fn udp_tracker_over_ipv6_returns_18_byte_peers() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"SKIP udp_tracker_over_ipv6_returns_18_byte_peers: no IPv6 loopback\n",
        );
        return;
    }
    let d = example_copy();
    let yaml = std::fs::read_to_string(d.path().join("podcast.yaml")).expect("yaml");
    let yaml =
        format!("{yaml}serve:\n  http: 127.0.0.1:0\n  udp_tracker: \"[::1]:0\"\n  peer: off\n");
    std::fs::write(d.path().join("podcast.yaml"), yaml).expect("write");
    podseed_ok(d.path(), &["publish", "--quiet"]);
    let s = Server::start(d.path(), "podcast.yaml");
    let to = s.udp.expect("udp");
    assert!(to.is_ipv6());
    let hash = info_hashes(d.path())[0];
    let mut connect = 0x41727101980u64.to_be_bytes().to_vec();
    connect.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 9]);
    let mut ids = Vec::new();
    let socks: Vec<UdpSocket> = (0..2)
        .map(|_| {
            let s = UdpSocket::bind("[::1]:0").expect("bind v6");
            s.set_read_timeout(Some(Duration::from_millis(1500)))
                .expect("timeout");
            s
        })
        .collect();
    for s6 in &socks {
        let r = udp_exchange(s6, to, &connect).expect("connect");
        ids.push(r[8..16].to_vec());
    }
    let mut replies = Vec::new();
    for (i, s6) in socks.iter().enumerate() {
        let mut p = ids[i].clone();
        p.extend_from_slice(&1u32.to_be_bytes());
        p.extend_from_slice(&(i as u32).to_be_bytes());
        p.extend_from_slice(&hash);
        p.extend_from_slice(&[i as u8; 20]);
        p.extend_from_slice(&[0; 8]);
        p.extend_from_slice(&5u64.to_be_bytes());
        p.extend_from_slice(&[0; 8]);
        p.extend_from_slice(&[0; 12]); // event, ip, key
        p.extend_from_slice(&(-1i32).to_be_bytes());
        p.extend_from_slice(&(7000 + i as u16).to_be_bytes());
        replies.push(udp_exchange(s6, to, &p).expect("announce"));
    }
    // The second peer gets the first: ::1 port 7000, in 18 bytes.
    let mut want = std::net::Ipv6Addr::LOCALHOST.octets().to_vec();
    want.extend_from_slice(&7000u16.to_be_bytes());
    assert_eq!(&replies[1][20..], want.as_slice());
}

#[test]
fn a_removed_episode_stops_being_served_and_tracked() {
    let (d, s) = served_example("");
    let before = info_hashes(d.path());
    remove_episode(d.path(), "bonus-behind-the-scenes.mp3");
    podseed_ok(d.path(), &["publish", "--quiet"]);
    let after = info_hashes(d.path());
    let gone = *before
        .iter()
        .find(|h| !after.contains(h))
        .expect("one hash removed");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = bdecode(&s.get(&announce_query(&gone, 1, "10.0.0.1", 5, "")).body);
        if r.contains_key("failure reason") {
            break;
        }
        assert!(Instant::now() < deadline, "removed episode still tracked");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(s.get("/episodes/bonus-behind-the-scenes.mp3").status, 404);
    assert_eq!(s.stats()["episodes"].as_array().map(Vec::len), Some(2));
}

#[test]
fn one_address_cannot_take_every_connection() {
    let (_d, s) = served_example("  max_connections_per_ip: 4\n");
    // Four idle connections hold this address's slots...
    let idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(s.http).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    // ...so a fifth is closed without an answer.
    let mut extra = TcpStream::connect(s.http).expect("connect");
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
        let ok = std::panic::catch_unwind(|| s.get("/feed.xml").status).unwrap_or(0);
        if ok == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "slots were not released");
    }
}

#[test]
fn aria2c_announces_over_our_udp_tracker() {
    if !have_tool("aria2c", "aria2c_announces_over_our_udp_tracker") {
        return;
    }
    let d = example_copy();
    let (port, udp_port) = (free_port(), free_udp_port());
    let base = format!("http://127.0.0.1:{port}/");
    let serve = format!(
        "  http: 127.0.0.1:{port}\n  udp_tracker: 127.0.0.1:{udp_port}\n  public_url: {base}\n  peer: off\n"
    );
    let yaml = loopback_yaml(d.path(), &base, &[], &serve);
    std::fs::write(d.path().join("podcast.yaml"), yaml).expect("write");
    podseed_ok(d.path(), &["publish", "--quiet"]);
    let torrent = d
        .path()
        .join("public/torrents/bonus-behind-the-scenes.torrent");
    let t = Torrent::read_from_file(&torrent).expect("torrent");
    let udp_url = format!("udp://127.0.0.1:{udp_port}/announce");
    assert_eq!(
        t.announce_list,
        Some(vec![vec![format!("{base}announce")], vec![udp_url]])
    );
    let s = Server::start(d.path(), "podcast.yaml");
    let dl = d.path().join("download");
    // aria2 speaks UDP trackers through its DHT socket, so DHT is on (with no nodes to
    // find, on loopback); the HTTP tracker is excluded so the UDP one must do.
    let exclude = format!("--bt-exclude-tracker={base}announce");
    let dht_file = format!("--dht-file-path={}", d.path().join("dht.dat").display());
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
        std::fs::read(dl.join("bonus-behind-the-scenes.mp3")).expect("downloaded"),
        std::fs::read(
            d.path()
                .join("examples/episodes/bonus-behind-the-scenes.mp3")
        )
        .expect("src")
    );
    let ep = s.stats()["episodes"]
        .as_array()
        .expect("episodes")
        .iter()
        .find(|e| e["info_hash"] == t.info_hash())
        .expect("episode")
        .clone();
    assert!(
        ep["completed"].as_u64() >= Some(1),
        "UDP tracker saw no completed peer: {ep}"
    );
}
