//! Black-box tests of the built-in seeder: real clients (aria2c, libtorrent) download from
//! it alone, by .torrent and by magnet link, and a raw test peer probes the edge cases, one
//! behaviour per test.

// Test code reports by panicking; helpers outside #[test] functions too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::peer::metadata_request;
use common::*;
use podseed::bt::{InfoHash, PeerId};
use podseed::seeder::peer::MAX_MESSAGE;
use podseed::seeder::wire::{Handshake, Message};
use serde_json::Value;

/// The episode most seeder tests fetch.
const SWARM_BASICS: &str = "2026-02-01-swarm-basics.mp3";
const WELCOME: &str = "2026-01-15-welcome.mp3";
const BONUS: &str = "bonus-behind-the-scenes.mp3";

/// The example seeded by our seeder alone (no web seed, no other tracker).
fn seeded() -> Served {
    Served::start(Show::seeded_alone(Serve::seeder()))
}

/// One episode seeded alone, for a raw test peer to probe.
struct Probe {
    served: Served,
    hash: [u8; 20],
    src: Vec<u8>,
}

impl Probe {
    fn swarm_basics() -> Probe {
        let served = seeded();
        let hash = served.summary.info_hash(SWARM_BASICS);
        let src = served.show.source(SWARM_BASICS);
        Probe { served, hash, src }
    }

    fn addr(&self) -> SocketAddr {
        self.served.server.peer()
    }

    /// A test peer that has handshaken for the episode (with fast and extensions).
    fn peer(&self) -> TestPeer {
        TestPeer::connect(self.addr(), self.hash)
    }

    /// A test peer that has been unchoked.
    fn unchoked_peer(&self) -> TestPeer {
        let mut c = self.peer();
        c.get_unchoked();
        c
    }

    /// Whatever the test did, a well-behaved peer is still served.
    fn still_serves(&self) {
        TestPeer::fetch_first_block(self.addr(), self.hash, &self.src);
    }
}

// Misbehaving peers: each is dropped or refused, and the seeder goes on serving others.

#[test]
fn a_well_behaved_peer_gets_have_all_then_the_block_it_asks_for() {
    Probe::swarm_basics().still_serves();
}

#[test]
fn an_unknown_info_hash_is_closed_without_a_handshake() {
    let p = Probe::swarm_basics();
    assert!(!seeds(p.addr(), [9; 20]), "answered an unknown torrent");
    p.still_serves();
}

#[test]
fn junk_instead_of_a_handshake_is_closed_and_never_answered_with_one() {
    let p = Probe::swarm_basics();
    // More than an encrypted handshake may take to show its sync marker, so the seeder
    // closes it (EOF or reset) rather than our read timing out. What it sent first is its
    // MSE key (junk looks like one), never a BitTorrent handshake.
    let mut c = TestPeer::raw(p.addr());
    let _ = c.stream.write_all(&[0x42; 1024]);
    let mut junk_reply = Vec::new();
    match c.stream.read_to_end(&mut junk_reply) {
        Ok(_) => {}
        Err(e) => assert_eq!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset,
            "junk was not closed: {e}"
        ),
    }
    assert!(
        !junk_reply.starts_with(b"\x13BitTorrent protocol"),
        "answered junk with a handshake"
    );
    p.still_serves();
}

#[test]
fn a_largest_frame_arriving_in_parts_is_waited_for() {
    // An earlier version spun on the partial frame and never read again.
    let p = Probe::swarm_basics();
    let mut c = p.peer();
    let mut frame = MAX_MESSAGE.to_be_bytes().to_vec();
    frame.push(20); // extended message, an extension we never offered: ignored
    frame.push(99);
    frame.resize(4 + MAX_MESSAGE as usize, 0);
    let (head, tail) = frame.split_at(frame.len() - 3);
    c.write(head);
    std::thread::sleep(Duration::from_millis(300));
    c.write(tail);
    c.send(&Message::Interested);
    assert!(
        c.next_where(|m| *m == Message::Unchoke).is_some(),
        "no answer after a frame that arrived in parts"
    );
    p.still_serves();
}

#[test]
fn a_4_gb_length_prefix_drops_the_peer() {
    // Dropped after a good handshake, nothing allocated.
    let p = Probe::swarm_basics();
    let mut c = p.peer();
    c.write(&[0xff, 0xff, 0xff, 0xff, 7]);
    assert!(c.next_where(|_| false).is_none());
    p.still_serves();
}

#[test]
fn requests_while_choked_are_rejected_with_fast() {
    // The fast extension's RejectRequest, not data.
    let p = Probe::swarm_basics();
    let mut c = p.peer();
    let got = c.request(0, 0, 16384);
    assert!(
        matches!(
            got,
            Some(Message::Reject {
                index: 0,
                begin: 0,
                length: 16384
            })
        ),
        "{got:?}"
    );
    p.still_serves();
}

#[test]
fn out_of_range_and_oversized_requests_are_rejected() {
    let p = Probe::swarm_basics();
    let mut c = p.unchoked_peer();
    for (index, begin, length) in [(10_000, 0, 16384), (0, 16380, 16384), (0, 0, 200_000)] {
        c.send(&Message::Request {
            index,
            begin,
            length,
        });
        let got = c.next_where(|m| matches!(m, Message::Reject { .. }));
        assert_eq!(
            got,
            Some(Message::Reject {
                index,
                begin,
                length
            })
        );
    }
    p.still_serves();
}

#[test]
fn a_request_flood_beyond_reqq_is_rejected() {
    let p = Probe::swarm_basics();
    let mut c = p.unchoked_peer();
    let flood: Vec<Message> = (0..2000u32)
        .map(|i| Message::Request {
            index: 0,
            begin: (i % 8) * 1024,
            length: 1024,
        })
        .collect();
    c.send_all(&flood);
    let rejected = (0..100)
        .filter_map(|_| c.next_where(|m| matches!(m, Message::Reject { .. })))
        .count();
    assert!(rejected > 0, "no request of the flood was rejected");
    drop(c);
    p.still_serves();
}

#[test]
fn with_fast_every_request_gets_one_answer_even_when_cancelled() {
    // BEP 6: a piece or a Reject for each request.
    let p = Probe::swarm_basics();
    let mut c = p.unchoked_peer();
    let block = |i: u32| (i % 8, (i / 8) * 1024, 1024);
    let requests = (0..40u32)
        .map(block)
        .map(|(index, begin, length)| Message::Request {
            index,
            begin,
            length,
        });
    let cancels = (0..40u32)
        .map(block)
        .map(|(index, begin, length)| Message::Cancel {
            index,
            begin,
            length,
        });
    c.send_all(&requests.chain(cancels).collect::<Vec<_>>());
    let mut answers = 0;
    while c
        .next_where(|m| matches!(m, Message::Reject { .. } | Message::Piece { .. }))
        .is_some()
    {
        answers += 1;
        if answers == 40 {
            break;
        }
    }
    assert_eq!(answers, 40, "requests answered");
    drop(c);
    p.still_serves();
}

#[test]
fn a_peer_without_fast_gets_a_bitfield_and_no_answer_to_choked_requests() {
    // BEP 3: a full bitfield, and requests while choked are ignored, not rejected.
    let p = Probe::swarm_basics();
    let plain = Handshake {
        reserved: [0; 8],
        info_hash: InfoHash(p.hash),
        peer_id: PeerId(*b"-TS0001-plainpeer000"),
    };
    let (mut c, _) = TestPeer::handshake(p.addr(), plain);
    let got = c.next_where(|m| matches!(m, Message::Bitfield(_) | Message::HaveAll));
    let pieces = p.src.len().div_ceil(16384);
    let Some(Message::Bitfield(bits)) = got else {
        panic!("no bitfield for a peer without fast: {got:?}");
    };
    assert_eq!(bits.len(), pieces.div_ceil(8));
    c.send(&Message::Request {
        index: 0,
        begin: 0,
        length: 16384,
    });
    c.send(&Message::Interested);
    let got = c.next_where(|m| {
        matches!(
            m,
            Message::Unchoke | Message::Reject { .. } | Message::Piece { .. }
        )
    });
    assert_eq!(
        got,
        Some(Message::Unchoke),
        "a choked request must get no answer without fast"
    );
    drop(c);
    p.still_serves();
}

#[test]
fn ut_metadata_piece_0_is_the_exact_info_dict() {
    let p = Probe::swarm_basics();
    let (mut c, theirs) = TestPeer::with_metadata(p.addr(), p.hash);
    let payload = c.request_metadata(theirs, 0).expect("no metadata");
    let info = p.served.show.info_dict(SWARM_BASICS);
    assert!(
        payload.ends_with(&info),
        "metadata is not the exact info dict"
    );
}

#[test]
fn ut_metadata_piece_out_of_range_is_rejected() {
    let p = Probe::swarm_basics();
    let (mut c, theirs) = TestPeer::with_metadata(p.addr(), p.hash);
    let payload = c.request_metadata(theirs, 99).expect("no reject");
    assert!(
        payload.starts_with(b"d8:msg_typei2e"),
        "{:?}",
        String::from_utf8_lossy(&payload)
    );
    p.still_serves();
}

// Real clients.

#[test]
fn aria2c_downloads_from_our_seeder_alone_by_torrent() {
    require!(Tool::Aria2c);
    let s = seeded();
    let dir = s.show.path().join("by-torrent");
    aria2c(&dir, s.show.torrent(SWARM_BASICS), &[]).wait_ok("torrent");
    assert_eq!(
        std::fs::read(dir.join(SWARM_BASICS)).expect("dl"),
        s.show.source(SWARM_BASICS)
    );
}

#[test]
fn aria2c_downloads_from_our_seeder_alone_by_magnet_link() {
    require!(Tool::Aria2c);
    let s = seeded();
    // The magnet link alone: the metadata comes from our ut_metadata.
    let magnet = s.summary.episode(SWARM_BASICS)["magnet"]
        .as_str()
        .expect("magnet");
    assert!(
        !magnet.contains("&ws="),
        "web seed must be off for this test"
    );
    let dir = s.show.path().join("by-magnet");
    aria2c(&dir, magnet, &[]).wait_ok("magnet");
    assert_eq!(
        std::fs::read(dir.join(SWARM_BASICS)).expect("dl"),
        s.show.source(SWARM_BASICS)
    );
}

#[test]
fn five_clients_at_once_all_finish() {
    require!(Tool::Aria2c);
    let s = seeded();
    let torrent = s.show.torrent(WELCOME);
    let clients: Vec<_> = (0..5)
        .map(|i| aria2c(&s.show.path().join(format!("c{i}")), &torrent, &[]))
        .collect();
    for (i, c) in clients.into_iter().enumerate() {
        c.wait_ok(&format!("client {i}"));
        let got = std::fs::read(s.show.path().join(format!("c{i}")).join(WELCOME)).expect("dl");
        assert_eq!(got, s.show.source(WELCOME), "client {i}");
    }
}

#[test]
fn clients_that_require_encryption_connect_plain_after_mse_or_rc4() {
    require!(Tool::Aria2c);
    let s = seeded();
    let torrent = s.show.torrent(SWARM_BASICS);
    // Only the encrypted handshake (never a plain one): we select plaintext after it.
    let a = aria2c(
        &s.show.path().join("mse-plain"),
        &torrent,
        &["--bt-require-crypto=true"],
    );
    // Full RC4 stream encryption required.
    let b = aria2c(
        &s.show.path().join("mse-rc4"),
        &torrent,
        &["--bt-require-crypto=true", "--bt-min-crypto-level=arc4"],
    );
    a.wait_ok("MSE, plaintext after the handshake");
    b.wait_ok("MSE with RC4");
    for dir in ["mse-plain", "mse-rc4"] {
        let got = std::fs::read(s.show.path().join(dir).join(SWARM_BASICS)).expect("dl");
        assert_eq!(got, s.show.source(SWARM_BASICS), "{dir}");
    }
}

#[test]
fn libtorrent_downloads_from_our_seeder() {
    require!(Tool::Libtorrent);
    let s = seeded();
    // libtorrent is the engine of qBittorrent and Deluge.
    let script = r#"
import libtorrent as lt, sys, time
s = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
                "enable_upnp": False, "enable_natpmp": False})
h = s.add_torrent({"ti": lt.torrent_info(sys.argv[1]), "save_path": sys.argv[2]})
start = time.time()
while not h.status().is_seeding and time.time() - start < 60:
    time.sleep(0.1)
sys.exit(0 if h.status().is_seeding else 1)
"#;
    let status = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .arg(s.show.torrent(WELCOME))
        .arg(s.show.path().join("lt"))
        .status()
        .expect("python3");
    assert!(status.success(), "libtorrent did not finish");
    assert_eq!(
        std::fs::read(s.show.path().join("lt").join(WELCOME)).expect("dl"),
        s.show.source(WELCOME)
    );
}

#[test]
fn aria2c_downloads_from_a_seeder_it_cannot_reach() {
    require!(Tool::Aria2c);
    // The tracker hands out a closed port as our seeder's address (like a seed behind NAT
    // with no port forwarded), and there is no web seed: the listener gets the episode only
    // because our seeder dials it.
    let closed = free_port();
    let s = Served::start(Show::seeded_alone(
        Serve::seeder().set("peer_public_addr", &format!("127.0.0.1:{closed}")),
    ));
    let listen = format!("--listen-port={}", free_port());
    let dir = s.show.path().join("dl");
    aria2c(&dir, s.show.torrent(SWARM_BASICS), &[&listen]).wait_ok("unreachable seeder");
    assert_eq!(
        std::fs::read(dir.join(SWARM_BASICS)).expect("dl"),
        s.show.source(SWARM_BASICS)
    );
}

// What is seeded follows what is published.

#[test]
fn a_file_changed_after_publish_is_never_served() {
    require!(Tool::Aria2c);
    let Served { show, server, .. } = seeded();
    drop(server);
    // Corrupt the published MP3 in place, keeping its size and mtime (so only the piece
    // check can notice).
    let media = show.public().join("episodes").join(BONUS);
    let mtime = std::fs::metadata(&media)
        .expect("meta")
        .modified()
        .expect("mtime");
    let mut bytes = std::fs::read(&media).expect("read");
    for b in &mut bytes[20_000..20_100] {
        *b ^= 0x5a;
    }
    write_keeping_mtime(&media, &bytes, mtime);
    let s = Server::start(&show);
    let status = aria2c_command(
        &show.path().join("dl"),
        show.torrent(BONUS),
        &["--bt-stop-timeout=8"],
    )
    .stderr(Stdio::null())
    .status()
    .expect("aria2c");
    assert!(
        !status.success(),
        "a corrupted episode downloaded completely"
    );
    assert!(s.log().contains("no longer seeded"), "{}", s.log());
    // Other episodes are still served.
    aria2c(&show.path().join("other"), show.torrent(WELCOME), &[]).wait_ok("other episode");
    // A new build that leaves that file as it was (another episode is added) does not
    // bring the corrupted episode back.
    show.add_copy_of_welcome("2026-03-01-another.mp3");
    let summary = show.publish();
    let another = summary.info_hash("2026-03-01-another.mp3");
    wait_until(10, "the new build was not loaded", || {
        seeds(s.peer(), another)
    });
    TestPeer::fetch_first_block(s.peer(), another, &show.source("2026-03-01-another.mp3"));
    let bonus = summary.info_hash(BONUS);
    assert!(
        !seeds(s.peer(), bonus),
        "the corrupted episode is seeded again after a reload"
    );
    // The podcaster restores the source as a new file (a restore from backup keeps the
    // mtime), and publish links it into place: the next build seeds it again.
    let good = std::fs::read(repo().join("examples/episodes").join(BONUS)).expect("example");
    let restored = show.episodes().join("restored.tmp");
    write_keeping_mtime(&restored, &good, mtime);
    std::fs::rename(&restored, show.episodes().join(BONUS)).expect("rename");
    show.add_copy_of_welcome("2026-03-02-third.mp3");
    assert_eq!(show.publish().info_hash(BONUS), bonus);
    wait_until(
        10,
        "the restored episode is not seeded after publish",
        || seeds(s.peer(), bonus),
    );
    TestPeer::fetch_first_block(s.peer(), bonus, &good);
}

/// A piece checked and served once, evicted from the piece cache, then changed on disk in
/// place with the mtime kept (what taggers that "preserve modification time" do): read
/// again, it is checked again, and the seeder stops instead of sending it.
#[test]
fn a_piece_changed_in_place_after_it_was_served_is_never_sent() {
    require!(Tool::Aria2c);
    const LONG: &str = "2026-03-05-long.mp3";
    let show = Show::seeded_alone(Serve::seeder());
    // Larger than the seeder's 8 MiB piece cache, so early pieces leave it.
    show.add_synthetic_episode(LONG, 12 << 20);
    let Served { show, server, .. } = Served::start(show);
    aria2c(&show.path().join("first"), show.torrent(LONG), &[]).wait_ok("first download");
    let media = show.public().join("episodes").join(LONG);
    let mtime = std::fs::metadata(&media)
        .expect("meta")
        .modified()
        .expect("mtime");
    // One changed byte in every 16 KiB, so in every piece: whichever pieces are still in
    // the cache, the rest (at least a third of the file) must come from disk.
    let mut bytes = std::fs::read(&media).expect("read");
    for b in bytes.iter_mut().skip(1000).step_by(16 * 1024) {
        *b ^= 0x5a;
    }
    write_keeping_mtime(&media, &bytes, mtime);
    let second = show.path().join("second");
    let log = second.with_extension("aria2.log");
    let status = aria2c_command(
        &second,
        show.torrent(LONG),
        &[
            "--bt-stop-timeout=8",
            &format!("--log={}", log.display()),
            "--log-level=info",
        ],
    )
    .stderr(Stdio::null())
    .status()
    .expect("aria2c");
    assert!(!status.success(), "a changed episode downloaded completely");
    let leecher = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !leecher.contains("wrong piece"),
        "the seeder sent a changed piece:\n{}",
        leecher
            .lines()
            .filter(|l| l.contains("wrong piece"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        server.log().contains("does not match torrent"),
        "{}",
        server.log()
    );
}

#[test]
fn publish_serve_builds_then_serves_in_one_process() {
    let show = Show::example().with_serve(Serve::seeder());
    let ready = show.path().join("ready.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_podseed"))
        .args(["publish", "--quiet", "--serve", "--ready-file"])
        .arg(&ready)
        .current_dir(show.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&ready).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    let v: Value = serde_json::from_str(&text).expect("ready JSON after publishing");
    assert!(v["http"].is_string() && v["peer"].is_string(), "{v}");
    assert!(show.public().join("feed.xml").is_file());
}

#[test]
fn episodes_published_while_serving_are_seeded_and_removed_ones_stop() {
    let tracker = FakeTracker::start();
    let other = format!("http://127.0.0.1:{}/announce", tracker.port);
    let Served {
        show,
        summary,
        server: s,
    } = Served::start(
        Show::example()
            .served_from_loopback(&[other])
            .with_serve(Serve::seeder()),
    );
    let bonus = summary.info_hash(BONUS);
    let welcome = summary.info_hash(WELCOME);
    let wait_for = |hash: [u8; 20], event: &str| {
        wait_until(20, &format!("no event={event} for {hash:02x?}"), || {
            tracker.events(hash).iter().any(|e| e == event)
        })
    };
    wait_for(bonus, "started");
    wait_for(welcome, "started");
    // Drop the bonus episode, and publish again while serving, with a new episode in the
    // same build.
    show.remove_episode(BONUS);
    let new_file = "2026-03-01-new-episode.mp3";
    show.add_copy_of_welcome(new_file);
    let new = show.publish().info_hash(new_file);
    wait_for(bonus, "stopped");
    wait_for(new, "started");
    // The new episode is seeded by the running server; the removed one is not.
    TestPeer::fetch_first_block(s.peer(), new, &show.source(new_file));
    assert!(!seeds(s.peer(), bonus), "a removed episode is still seeded");
    // The episodes still published are not stopped, and each was started once.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(tracker.events(welcome), ["started"]);
    assert_eq!(tracker.events(bonus), ["started", "stopped"]);
}

#[test]
fn metadata_replies_count_against_the_upload_limit() {
    const RATE: u64 = 1000;
    let s = Served::start(Show::seeded_alone(
        Serve::seeder().set("max_upload_rate", &RATE.to_string()),
    ));
    let hash = s.summary.info_hash(SWARM_BASICS);
    let info_len = s.show.info_dict(SWARM_BASICS).len() as u64;
    let (mut c, theirs) = TestPeer::with_metadata(s.server.peer(), hash);
    // Asked for again and again, in one go: the replies must wait for the token bucket
    // (one second of burst), like blocks do.
    let asks = 12u64;
    let burst: Vec<Message> = (0..asks).map(|_| metadata_request(theirs, 0)).collect();
    let t0 = Instant::now();
    c.send_all(&burst);
    for i in 0..asks {
        assert!(c.next_metadata().is_some(), "reply {i} missing");
    }
    // A lower bound only: a slow machine can only take longer.
    let least = (asks * info_len).saturating_sub(RATE) as f64 / RATE as f64;
    assert!(least >= 1.0, "the test needs more requests ({least} s)");
    let took = t0.elapsed().as_secs_f64();
    assert!(
        took >= 0.9 * least,
        "{asks} metadata replies of {info_len} bytes took {took:.2} s at {RATE} B/s (at least {least:.2} s)"
    );
}

// The seeder dials leechers that announce to our tracker.

/// Announces a leecher (left > 0) listening on `port` to the tracker at `http`.
fn announce_leecher(http: SocketAddr, hash: [u8; 20], peer_id: &[u8; 20], port: u16, extra: &str) {
    let enc = |b: &[u8]| b.iter().map(|x| format!("%{x:02X}")).collect::<String>();
    let target = format!(
        "/announce?info_hash={}&peer_id={}&port={port}&uploaded=0&downloaded=0&left=1000&compact=1&event=started{extra}",
        enc(&hash),
        enc(peer_id)
    );
    assert_eq!(
        http_request(http, "GET", &target, &[]).status,
        200,
        "announce failed"
    );
}

/// Waits up to `secs` for a connection on `l` (0: takes one already waiting).
fn accept_within(l: &TcpListener, secs: u64) -> Option<TcpStream> {
    l.set_nonblocking(true).expect("nonblocking");
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok((s, _)) = l.accept() {
            s.set_nonblocking(false).expect("blocking");
            return Some(s);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A leecher listening on loopback, announced to our tracker, for the seeder to dial.
struct Leecher {
    s: Served,
    hash: [u8; 20],
    id: [u8; 20],
    listener: TcpListener,
}

impl Leecher {
    /// The welcome episode seeded alone, and a leecher listening but not yet announced.
    fn listening() -> Leecher {
        let s = seeded();
        let hash = s.summary.info_hash(WELCOME);
        Leecher {
            s,
            hash,
            id: *b"-TS0001-dialledpeer0",
            listener: TcpListener::bind("127.0.0.1:0").expect("bind"),
        }
    }

    fn announce(&self) {
        let port = self.listener.local_addr().expect("addr").port();
        announce_leecher(self.s.server.http, self.hash, &self.id, port, "");
    }

    /// Announces, takes the seeder's dial, and answers its handshake: the dialled session,
    /// after the seeder's HaveAll.
    fn dialled(&self) -> TestPeer {
        self.announce();
        let c = accept_within(&self.listener, 5).expect("the seeder dials the leecher");
        let mut c = TestPeer::on(c);
        // We are the initiator's peer: its handshake comes first, ours answers it.
        let theirs = c.read_handshake();
        assert_eq!(theirs.info_hash, InfoHash(self.hash));
        assert!(theirs.peer_id.0.starts_with(b"-PS0100-"));
        c.write(&Handshake::ours(InfoHash(self.hash), PeerId(self.id)).encode());
        assert_eq!(c.next(), Some(Message::HaveAll));
        c
    }

    /// `c` gets block `begin` of piece 0 (16 KiB at most), with the right bytes.
    fn fetches(&self, c: &mut TestPeer, begin: u32, length: u32) {
        let src = self.s.show.source(WELCOME);
        match c.request(0, begin, length) {
            Some(Message::Piece {
                index: 0,
                begin: b,
                block,
            }) if b == begin => assert_eq!(block, src[begin as usize..(begin + length) as usize]),
            other => panic!("no piece: {other:?}"),
        }
    }
}

#[test]
fn the_seeder_dials_a_leecher_as_soon_as_it_announces() {
    let l = Leecher::listening();
    let mut c = l.dialled();
    c.get_unchoked();
    l.fetches(&mut c, 8192, 8192);
}

#[test]
fn an_address_the_announcer_only_claims_is_not_dialled() {
    // `ip=` is honoured from loopback, but only the announcing address is dialled.
    let l = Leecher::listening();
    let other = TcpListener::bind("127.0.0.2:0").expect("bind");
    let other_port = other.local_addr().expect("addr").port();
    announce_leecher(
        l.s.server.http,
        l.hash,
        b"-TS0001-claimedpeer0",
        other_port,
        "&ip=127.0.0.2",
    );
    let _c = l.dialled();
    assert!(
        accept_within(&other, 2).is_none(),
        "dialled a claimed address"
    );
}

#[test]
fn a_leecher_announcing_again_is_not_dialled_twice() {
    let l = Leecher::listening();
    let _c = l.dialled();
    l.announce();
    assert!(accept_within(&l.listener, 2).is_none(), "dialled twice");
}

#[test]
fn a_connection_crossing_our_dial_is_served_beside_it() {
    // The same peer connecting to us as well (its connect crossing our dial) is answered
    // too: the client keeps one (aria2 and libtorrent drop the second they see from a peer
    // id, in their order, which need not be ours; if we dropped one as well, a crossing
    // could leave the client with none).
    let l = Leecher::listening();
    let mut c = l.dialled();
    c.get_unchoked();
    let (mut dup, _) = TestPeer::handshake(
        l.s.server.peer(),
        Handshake::ours(InfoHash(l.hash), PeerId(l.id)),
    );
    assert_eq!(
        dup.next(),
        Some(Message::HaveAll),
        "the crossing connection is served"
    );
    drop(dup);
    // The dialled session still serves.
    l.fetches(&mut c, 0, 16384);
}

#[test]
fn a_leecher_already_connected_is_not_dialled() {
    let l = Leecher::listening();
    let (mut e, _) = TestPeer::handshake(
        l.s.server.peer(),
        Handshake::ours(InfoHash(l.hash), PeerId(l.id)),
    );
    assert_eq!(e.next(), Some(Message::HaveAll));
    l.announce();
    assert!(
        accept_within(&l.listener, 2).is_none(),
        "dialled a leecher that is connected"
    );
    drop(e);
    // Other peers connect as before.
    TestPeer::fetch_first_block(l.s.server.peer(), l.hash, &l.s.show.source(WELCOME));
}

// Announcing to other trackers and the DHT.

/// A minimal HTTP tracker on loopback that answers every announce with a long interval and
/// records the request lines it got.
struct FakeTracker {
    port: u16,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FakeTracker {
    fn start() -> FakeTracker {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.set_nonblocking(true).expect("nonblocking");
        let port = l.local_addr().expect("addr").port();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline {
                let Ok((mut c, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let _ = c.set_nonblocking(false);
                let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                let mut req = Vec::new();
                let mut chunk = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&chunk[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&req)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                seen2.lock().expect("lock").push(line);
                let body = b"d8:intervali1800e5:peers0:e";
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = c.write_all(head.as_bytes());
                let _ = c.write_all(body);
            }
        });
        FakeTracker { port, seen, stop }
    }

    /// The `event=` of every announce for `hash` so far.
    fn events(&self, hash: [u8; 20]) -> Vec<String> {
        let seen = self.seen.lock().expect("lock");
        seen.iter()
            .filter_map(|line| {
                // "GET /announce?QUERY HTTP/1.1"
                let query = line.split(['?', ' ']).nth(2)?;
                let param = |name: &str| query.split('&').find_map(|kv| kv.strip_prefix(name));
                let h: Vec<u8> =
                    percent_encoding::percent_decode_str(param("info_hash=")?).collect();
                (h == hash).then(|| param("event=").unwrap_or_default().to_string())
            })
            .collect()
    }
}

impl Drop for FakeTracker {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn the_seeder_announces_to_other_trackers_over_http_and_udp() {
    let (b_port, b_udp) = (free_port(), free_udp_port());
    let trackers = [
        format!("http://127.0.0.1:{b_port}/announce"),
        format!("udp://127.0.0.1:{b_udp}/announce"),
    ];
    // A: our seeder with its own tracker; B: another tracker (a second podseed serving the
    // same build, so it accepts these info hashes) that A must announce to.
    let show = Show::example()
        .served_from_loopback(&trackers)
        .with_serve(Serve::seeder());
    show.write_config(
        "b.yaml",
        Serve::tracker()
            .set("http", &format!("127.0.0.1:{b_port}"))
            .set("udp_tracker", &format!("127.0.0.1:{b_udp}")),
    );
    show.publish();
    let b = Server::start_with(&show, "b.yaml", "b.log");
    let mut a = Server::start_with(&show, "podcast.yaml", "a.log");
    let seeders = |v: &Value| -> Vec<u64> {
        v["episodes"]
            .as_array()
            .expect("episodes")
            .iter()
            .map(|e| e["seeders"].as_u64().unwrap_or(0))
            .collect()
    };
    wait_until(20, "B never saw our seeder", || {
        seeders(&b.stats()) == [1, 1, 1, 1]
    });
    // B may count us from one tracker's announce before the other's log line is written.
    wait_until(20, "A logs both announces", || {
        let log = a.log();
        log.contains(&format!("to http://127.0.0.1:{b_port}/announce"))
            && log.contains(&format!("to udp://127.0.0.1:{b_udp}/announce"))
    });
    // SIGTERM: A says `stopped`, and B forgets it.
    a.sigterm();
    let status = a.wait();
    assert!(status.success(), "{status}");
    assert_eq!(seeders(&b.stats()), [0, 0, 0, 0]);
}

#[test]
fn a_client_finds_our_seeder_on_a_local_dht_without_any_tracker() {
    // A private DHT of five nodes on loopback; podseed bootstraps from it.
    let testnet = mainline::Testnet::builder(5).build().expect("testnet");
    let s = Served::start(
        Show::example().with_trackers(&[]).with_serve(
            Serve::seeder()
                .set("dht", "true")
                .list("dht_bootstrap", &testnet.bootstrap),
        ),
    );
    let hash = s.summary.info_hash(WELCOME);
    let peer = s.server.peer();
    // A client that knows only the info hash and the DHT.
    let mut client = mainline::Dht::builder();
    client
        .bootstrap(&testnet.bootstrap)
        .bind_address(std::net::Ipv4Addr::LOCALHOST);
    let client = client.build().expect("client");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        #[allow(deprecated)]
        let found: Vec<std::net::SocketAddrV4> = client
            .get_peers(mainline::Id::from(hash))
            .flatten()
            .collect();
        if found.iter().any(|a| a.port() == peer.port()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "our seeder never appeared on the DHT: {found:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // A DHT-capable peer learns our node's port from a Port message (BEP 5).
    let dht_peer = Handshake::ours(InfoHash(hash), PeerId(*b"-TS0001-dhtpeer00000")).with_dht();
    let (mut c, theirs) = TestPeer::handshake(peer, dht_peer);
    assert!(theirs.supports_dht());
    let port = c.next_where(|m| matches!(m, Message::Port(_)));
    assert!(matches!(port, Some(Message::Port(p)) if p != 0), "{port:?}");
    drop(c);
    // And what it finds there serves the episode.
    TestPeer::fetch_first_block(peer, hash, &s.show.source(WELCOME));
}
