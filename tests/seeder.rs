//! Black-box tests of the built-in seeder: real clients (aria2c) download from it alone,
//! by .torrent and by magnet link, and a raw test peer probes the edge cases.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use podseed::seeder::wire::{self, Handshake, Message};
use serde_json::Value;

struct Server {
    child: Child,
    http: SocketAddr,
    peer: SocketAddr,
}

impl Server {
    // The child is waited for in Drop, which clippy's lint cannot see.
    fn start(dir: &Path) -> Server {
        Self::start_with(dir, "podcast.yaml", "serve.log")
    }

    #[allow(clippy::zombie_processes)]
    fn start_with(dir: &Path, config: &str, log: &str) -> Server {
        let ready = dir.join(format!("{log}.ready.json"));
        let _ = std::fs::remove_file(&ready);
        let log = std::fs::File::create(dir.join(log)).expect("log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_podseed"))
            .args(["serve", "-c", config, "--ready-file"])
            .arg(&ready)
            .current_dir(dir)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start serve");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                let v: Value = serde_json::from_str(&text).expect("ready JSON");
                let addr = |k: &str| v[k].as_str().expect(k).parse().expect("addr");
                return Server {
                    http: addr("http"),
                    peer: v["peer"]
                        .as_str()
                        .map_or(addr("http"), |p| p.parse().expect("addr")),
                    child,
                };
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("serve did not become ready");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The example, published for a loopback server with no web seed (the seeder alone).
fn seeded_example() -> (tempfile::TempDir, Value, Server) {
    seeded_example_with("")
}

/// The same, with more `serve:` lines (each indented by two spaces, ending in a newline).
fn seeded_example_with(more_serve: &str) -> (tempfile::TempDir, Value, Server) {
    let d = example_copy();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/");
    let serve = format!(
        "  http: 127.0.0.1:{port}\n  udp_tracker: off\n  public_url: {base}\n  peer: 127.0.0.1:0\n  dht: false\n{more_serve}"
    );
    let yaml = loopback_yaml(d.path(), &base, &[], &serve)
        .replace("  web_seed: true", "  web_seed: false");
    std::fs::write(d.path().join("podcast.yaml"), yaml).expect("write");
    let summary: Value =
        serde_json::from_str(&podseed_ok(d.path(), &["publish", "--json"])).expect("json");
    let server = Server::start(d.path());
    (d, summary, server)
}

fn episode<'a>(summary: &'a Value, file: &str) -> &'a Value {
    summary["episodes"]
        .as_array()
        .expect("episodes")
        .iter()
        .find(|e| e["file"] == file)
        .expect("episode")
}

/// aria2c downloading in the background, giving up after 30 s without progress.
fn aria2c(dir: &Path, what: &str) -> Download {
    aria2c_with(dir, what, &[])
}

/// A running aria2c, with the log it writes beside its download folder.
struct Download {
    child: Child,
    log: std::path::PathBuf,
}

fn aria2c_with(dir: &Path, what: &str, extra: &[&str]) -> Download {
    let log = dir.with_extension("aria2.log");
    let log_arg = format!("--log={}", log.display());
    let child = aria2c_command(
        dir,
        what,
        &[
            &["--bt-stop-timeout=30", &log_arg, "--log-level=info"],
            extra,
        ]
        .concat(),
    )
    .stderr(Stdio::null())
    .spawn()
    .expect("aria2c");
    Download { child, log }
}

/// Waits for a download to succeed; on failure the panic carries the ends of aria2c's log
/// and of the server's (`serve.log` beside the download folder), so a failure in CI can be
/// read without rerunning it.
fn wait_ok(mut dl: Download, what: &str) {
    let status = dl.child.wait().expect("wait");
    if status.success() {
        return;
    }
    let tail = |p: &Path| {
        let text = std::fs::read_to_string(p).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    };
    let serve_log = dl
        .log
        .parent()
        .map(|d| d.join("serve.log"))
        .unwrap_or_default();
    panic!(
        "{what}: aria2c exited with {status}\n--- aria2c log ---\n{}\n--- serve.log ---\n{}",
        tail(&dl.log),
        tail(&serve_log)
    );
}

#[test]
fn aria2c_downloads_from_our_seeder_alone_by_torrent_and_by_magnet() {
    if !have_tool(
        "aria2c",
        "aria2c_downloads_from_our_seeder_alone_by_torrent_and_by_magnet",
    ) {
        return;
    }
    let (d, summary, _s) = seeded_example();
    let file = "2026-02-01-swarm-basics.mp3";
    let src = std::fs::read(d.path().join("examples/episodes").join(file)).expect("src");
    let torrent = d
        .path()
        .join("public/torrents/2026-02-01-swarm-basics.torrent");
    wait_ok(
        aria2c(
            &d.path().join("by-torrent"),
            torrent.to_str().expect("path"),
        ),
        "torrent",
    );
    assert_eq!(
        std::fs::read(d.path().join("by-torrent").join(file)).expect("dl"),
        src
    );
    // The magnet link alone: the metadata comes from our ut_metadata.
    let magnet = episode(&summary, file)["magnet"].as_str().expect("magnet");
    assert!(
        !magnet.contains("&ws="),
        "web seed must be off for this test"
    );
    wait_ok(aria2c(&d.path().join("by-magnet"), magnet), "magnet");
    assert_eq!(
        std::fs::read(d.path().join("by-magnet").join(file)).expect("dl"),
        src
    );
}

#[test]
fn five_clients_at_once_all_finish() {
    if !have_tool("aria2c", "five_clients_at_once_all_finish") {
        return;
    }
    let (d, _summary, _s) = seeded_example();
    let torrent = d.path().join("public/torrents/2026-01-15-welcome.torrent");
    let src =
        std::fs::read(d.path().join("examples/episodes/2026-01-15-welcome.mp3")).expect("src");
    let clients: Vec<Download> = (0..5)
        .map(|i| {
            aria2c(
                &d.path().join(format!("c{i}")),
                torrent.to_str().expect("path"),
            )
        })
        .collect();
    for (i, c) in clients.into_iter().enumerate() {
        wait_ok(c, &format!("client {i}"));
        let got = std::fs::read(d.path().join(format!("c{i}/2026-01-15-welcome.mp3"))).expect("dl");
        assert_eq!(got, src, "client {i}");
    }
}

#[test]
fn a_file_changed_after_publish_is_never_served() {
    if !have_tool("aria2c", "a_file_changed_after_publish_is_never_served") {
        return;
    }
    let (d, _summary, s) = seeded_example();
    drop(s);
    // Corrupt the published MP3 in place, keeping its size and mtime (so only the piece
    // check can notice).
    let media = d.path().join("public/episodes/bonus-behind-the-scenes.mp3");
    let meta = std::fs::metadata(&media).expect("meta");
    let mtime = meta.modified().expect("mtime");
    let mut bytes = std::fs::read(&media).expect("read");
    for b in &mut bytes[20_000..20_100] {
        *b ^= 0x5a;
    }
    write_keeping_mtime(&media, &bytes, mtime);
    let s = Server::start(d.path());
    let torrent = d
        .path()
        .join("public/torrents/bonus-behind-the-scenes.torrent");
    let dl = d.path().join("dl");
    let status = aria2c_command(&dl, &torrent, &["--bt-stop-timeout=8"])
        .stderr(Stdio::null())
        .status()
        .expect("aria2c");
    assert!(
        !status.success(),
        "a corrupted episode downloaded completely"
    );
    let log = std::fs::read_to_string(d.path().join("serve.log")).expect("log");
    assert!(log.contains("no longer seeded"), "{log}");
    // Other episodes are still served.
    let other = d.path().join("public/torrents/2026-01-15-welcome.torrent");
    wait_ok(
        aria2c(&d.path().join("other"), other.to_str().expect("path")),
        "other episode",
    );
    // A new build that leaves that file as it was (another episode is added) does not
    // bring the corrupted episode back.
    let episodes = d.path().join("examples/episodes");
    let summary = publish_with_new_episode(d.path(), "2026-03-01-another.mp3");
    let another = hash_of(&summary, "2026-03-01-another.mp3");
    let src = std::fs::read(episodes.join("2026-03-01-another.mp3")).expect("src");
    wait_until(10, "the new build was not loaded", || {
        seeds(s.peer, another)
    });
    fetch_first_block(s.peer, another, &src);
    let bonus = hash_of(&summary, "bonus-behind-the-scenes.mp3");
    assert!(
        !seeds(s.peer, bonus),
        "the corrupted episode is seeded again after a reload"
    );
    // The podcaster restores the source as a new file (a restore from backup keeps the
    // mtime), and publish links it into place: the next build seeds it again.
    let good = std::fs::read(repo().join("examples/episodes/bonus-behind-the-scenes.mp3"))
        .expect("shipped example");
    let restored = episodes.join("restored.tmp");
    write_keeping_mtime(&restored, &good, mtime);
    std::fs::rename(&restored, episodes.join("bonus-behind-the-scenes.mp3")).expect("rename");
    let summary = publish_with_new_episode(d.path(), "2026-03-02-third.mp3");
    assert_eq!(hash_of(&summary, "bonus-behind-the-scenes.mp3"), bonus);
    wait_until(
        10,
        "the restored episode is not seeded after publish",
        || seeds(s.peer, bonus),
    );
    fetch_first_block(s.peer, bonus, &good);
    drop(s);
}

/// Writes `bytes` to `path` and sets its mtime to `mtime` (so only content checks notice).
fn write_keeping_mtime(path: &Path, bytes: &[u8], mtime: std::time::SystemTime) {
    std::fs::write(path, bytes).expect("write");
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(mtime))
        .expect("mtime");
}

/// Adds an episode `file` (a copy of the welcome episode under another name, so another
/// info hash) to the example in `dir` and publishes; returns publish's JSON summary.
fn publish_with_new_episode(dir: &Path, file: &str) -> Value {
    let episodes = dir.join("examples/episodes");
    std::fs::copy(episodes.join("2026-01-15-welcome.mp3"), episodes.join(file)).expect("copy");
    serde_json::from_str(&podseed_ok(dir, &["publish", "--json"])).expect("json")
}

/// Whether the seeder answers a handshake for `hash` (it closes on torrents it does not
/// seed).
fn seeds(peer: SocketAddr, hash: [u8; 20]) -> bool {
    let Ok(mut c) = TcpStream::connect(peer) else {
        return false;
    };
    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
    let mut hs = [0u8; Handshake::LEN];
    c.write_all(&Handshake::ours(hash, *b"-TS0001-probe0000000").encode())
        .is_ok()
        && c.read_exact(&mut hs).is_ok()
}

/// Waits up to `secs` seconds for `ready`, failing with `what`.
fn wait_until(secs: u64, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ready() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A raw test peer: handshake with the fast and extension bits.
fn connect_peer(addr: SocketAddr, info_hash: [u8; 20]) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.write_all(&Handshake::ours(info_hash, *b"-TS0001-testpeer0000").encode())
        .expect("handshake");
    let mut hs = [0u8; Handshake::LEN];
    s.read_exact(&mut hs).expect("their handshake");
    let theirs = Handshake::decode(&hs).expect("valid");
    assert_eq!(theirs.info_hash, info_hash);
    assert!(theirs.peer_id.starts_with(b"-PS0100-"));
    assert!(theirs.supports_fast() && theirs.supports_extensions());
    s
}

/// Reads messages until `pred` matches one (or the peer closes / times out).
fn read_until(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    pred: impl Fn(&Message) -> bool,
) -> Option<Message> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut chunk = [0u8; 65536];
    loop {
        while let Ok(Some((m, n))) = wire::decode(buf, 1 << 20) {
            buf.drain(..n);
            if pred(&m) {
                return Some(m);
            }
        }
        if Instant::now() > deadline {
            return None;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn send(s: &mut TcpStream, m: &Message) {
    let mut out = Vec::new();
    wire::encode(m, &mut out);
    s.write_all(&out).expect("send");
}

/// A test peer that has exchanged extension handshakes (offering ut_metadata as 3); returns
/// it, its read buffer, and the seeder's ut_metadata id.
fn metadata_peer(addr: SocketAddr, hash: [u8; 20]) -> (TcpStream, Vec<u8>, u8) {
    let mut c = connect_peer(addr, hash);
    let mut buf = Vec::new();
    let hs = read_until(&mut c, &mut buf, |m| {
        matches!(m, Message::Extended { id: 0, .. })
    });
    let Some(Message::Extended { payload, .. }) = hs else {
        panic!("no extended handshake");
    };
    let ext = wire::decode_extended_handshake(&payload).expect("ext");
    let theirs = ext.ut_metadata.expect("ut_metadata id");
    send(
        &mut c,
        &Message::Extended {
            id: 0,
            payload: b"d1:md11:ut_metadatai3eee".to_vec(),
        },
    );
    (c, buf, theirs)
}

/// Sends a BEP 9 request for metadata `piece` (to the peer's ut_metadata id `theirs`) and
/// returns the payload of its answer (we advertised ut_metadata as 3).
fn request_metadata(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    theirs: u8,
    piece: u32,
) -> Option<Vec<u8>> {
    send(
        s,
        &Message::Extended {
            id: theirs,
            payload: format!("d8:msg_typei0e5:piecei{piece}ee").into_bytes(),
        },
    );
    match read_until(s, buf, |m| matches!(m, Message::Extended { id: 3, .. })) {
        Some(Message::Extended { payload, .. }) => Some(payload),
        _ => None,
    }
}

fn hash_of(summary: &Value, file: &str) -> [u8; 20] {
    let hex = episode(summary, file)["info_hash"].as_str().expect("hash");
    let v: Vec<u8> = (0..20)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    v.try_into().expect("20")
}

/// A well-behaved peer gets block 0 of piece 0 with the right bytes.
fn fetch_first_block(addr: SocketAddr, hash: [u8; 20], src: &[u8]) {
    let mut s = connect_peer(addr, hash);
    let mut buf = Vec::new();
    // BEP 6: HaveAll is the very first message after the handshake.
    let first = read_until(&mut s, &mut buf, |_| true);
    assert_eq!(first, Some(Message::HaveAll));
    send(&mut s, &Message::Interested);
    assert!(read_until(&mut s, &mut buf, |m| *m == Message::Unchoke).is_some());
    send(
        &mut s,
        &Message::Request {
            index: 0,
            begin: 0,
            length: 16384,
        },
    );
    let got = read_until(&mut s, &mut buf, |m| matches!(m, Message::Piece { .. }));
    let Some(Message::Piece {
        index: 0,
        begin: 0,
        block,
    }) = got
    else {
        panic!("no piece: {got:?}");
    };
    assert_eq!(block, src[..16384]);
}

#[test]
fn misbehaving_peers_do_not_stop_the_seeder() {
    let (d, summary, s) = seeded_example();
    let file = "2026-02-01-swarm-basics.mp3";
    let hash = hash_of(&summary, file);
    let src = std::fs::read(d.path().join("examples/episodes").join(file)).expect("src");
    fetch_first_block(s.peer, hash, &src);

    // An unknown info hash: the connection is closed without a handshake.
    assert!(!seeds(s.peer, [9; 20]), "answered an unknown torrent");

    // Junk instead of a handshake: more than an encrypted handshake may take to show its
    // sync marker, so the seeder closes it (EOF or reset) rather than our read timing out.
    // What it sent first is its MSE key (junk looks like one), never a BitTorrent handshake.
    let mut c = TcpStream::connect(s.peer).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let _ = c.write_all(&[0x42; 1024]);
    let mut junk_reply = Vec::new();
    match c.read_to_end(&mut junk_reply) {
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

    // A frame of the largest allowed size arriving in parts: the seeder waits for the
    // rest (an earlier version spun on the partial frame and never read again).
    let mut c = connect_peer(s.peer, hash);
    let mut frame = (podseed::seeder::peer::MAX_MESSAGE).to_be_bytes().to_vec();
    frame.push(20); // extended message, an extension we never offered: ignored
    frame.push(99);
    frame.resize(4 + podseed::seeder::peer::MAX_MESSAGE as usize, 0);
    let (head, tail) = frame.split_at(frame.len() - 3);
    c.write_all(head).expect("send");
    std::thread::sleep(Duration::from_millis(300));
    c.write_all(tail).expect("send");
    let mut buf = Vec::new();
    send(&mut c, &Message::Interested);
    assert!(
        read_until(&mut c, &mut buf, |m| *m == Message::Unchoke).is_some(),
        "no answer after a frame that arrived in parts"
    );

    // A 4 GB length prefix after a good handshake: dropped, nothing allocated.
    let mut c = connect_peer(s.peer, hash);
    c.write_all(&[0xff, 0xff, 0xff, 0xff, 7]).expect("send");
    let mut buf = Vec::new();
    assert!(read_until(&mut c, &mut buf, |_| false).is_none());

    // Requests while choked get RejectRequest (fast extension), not data.
    let mut c = connect_peer(s.peer, hash);
    let mut buf = Vec::new();
    send(
        &mut c,
        &Message::Request {
            index: 0,
            begin: 0,
            length: 16384,
        },
    );
    let got = read_until(&mut c, &mut buf, |m| {
        matches!(m, Message::Reject { .. } | Message::Piece { .. })
    });
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

    // Out-of-range and oversized requests are rejected; a flood beyond reqq too.
    send(&mut c, &Message::Interested);
    assert!(read_until(&mut c, &mut buf, |m| *m == Message::Unchoke).is_some());
    for (index, begin, length) in [(10_000, 0, 16384), (0, 16380, 16384), (0, 0, 200_000)] {
        send(
            &mut c,
            &Message::Request {
                index,
                begin,
                length,
            },
        );
        let got = read_until(&mut c, &mut buf, |m| matches!(m, Message::Reject { .. }));
        assert_eq!(
            got,
            Some(Message::Reject {
                index,
                begin,
                length
            })
        );
    }
    let mut flood = Vec::new();
    for i in 0..2000u32 {
        wire::encode(
            &Message::Request {
                index: 0,
                begin: (i % 8) * 1024,
                length: 1024,
            },
            &mut flood,
        );
    }
    c.write_all(&flood).expect("flood");
    let rejected = (0..100)
        .filter_map(|_| read_until(&mut c, &mut buf, |m| matches!(m, Message::Reject { .. })))
        .count();
    assert!(rejected > 0, "no request of the flood was rejected");
    drop(c);

    // BEP 6: with the fast extension every request gets exactly one answer, a piece or a
    // Reject, also when it is cancelled.
    let mut c = connect_peer(s.peer, hash);
    let mut buf = Vec::new();
    send(&mut c, &Message::Interested);
    assert!(read_until(&mut c, &mut buf, |m| *m == Message::Unchoke).is_some());
    let mut burst = Vec::new();
    for i in 0..40u32 {
        wire::encode(
            &Message::Request {
                index: i % 8,
                begin: (i / 8) * 1024,
                length: 1024,
            },
            &mut burst,
        );
    }
    for i in 0..40u32 {
        wire::encode(
            &Message::Cancel {
                index: i % 8,
                begin: (i / 8) * 1024,
                length: 1024,
            },
            &mut burst,
        );
    }
    c.write_all(&burst).expect("burst");
    let mut answers = 0;
    while read_until(&mut c, &mut buf, |m| {
        matches!(m, Message::Reject { .. } | Message::Piece { .. })
    })
    .is_some()
    {
        answers += 1;
        if answers == 40 {
            break;
        }
    }
    assert_eq!(answers, 40, "requests answered");
    drop(c);

    // A peer without the fast extension gets a full bitfield, and its requests while
    // choked are ignored (BEP 3), not rejected.
    let mut c = TcpStream::connect(s.peer).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let plain = Handshake {
        reserved: [0; 8],
        info_hash: hash,
        peer_id: *b"-TS0001-plainpeer000",
    };
    c.write_all(&plain.encode()).expect("handshake");
    let mut hs = [0u8; Handshake::LEN];
    c.read_exact(&mut hs).expect("their handshake");
    let mut buf = Vec::new();
    let got = read_until(&mut c, &mut buf, |m| {
        matches!(m, Message::Bitfield(_) | Message::HaveAll)
    });
    let pieces = src.len().div_ceil(16384);
    let Some(Message::Bitfield(bits)) = got else {
        panic!("no bitfield for a peer without fast: {got:?}");
    };
    assert_eq!(bits.len(), pieces.div_ceil(8));
    send(
        &mut c,
        &Message::Request {
            index: 0,
            begin: 0,
            length: 16384,
        },
    );
    send(&mut c, &Message::Interested);
    let got = read_until(&mut c, &mut buf, |m| {
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

    // Through all of it, a normal peer is still served.
    fetch_first_block(s.peer, hash, &src);
    // Metadata: a ut_metadata request for piece 0 returns the info dict; piece 99 is rejected.
    let (mut c, mut buf, theirs) = metadata_peer(s.peer, hash);
    let payload = request_metadata(&mut c, &mut buf, theirs, 0).expect("no metadata");
    let torrent = lava_torrent::torrent::v1::Torrent::read_from_file(
        d.path()
            .join("public/torrents/2026-02-01-swarm-basics.torrent"),
    )
    .expect("torrent");
    let info = torrent.construct_info().encode();
    assert!(
        payload.ends_with(&info),
        "metadata is not the exact info dict"
    );
    let payload = request_metadata(&mut c, &mut buf, theirs, 99).expect("no reject");
    assert!(
        payload.starts_with(b"d8:msg_typei2e"),
        "{:?}",
        String::from_utf8_lossy(&payload)
    );
    let _ = s.http;
}

#[test]
fn publish_serve_builds_then_serves_in_one_process() {
    let d = example_copy();
    let yaml = std::fs::read_to_string(d.path().join("podcast.yaml")).expect("yaml");
    let yaml =
        format!("{yaml}serve:\n  http: 127.0.0.1:0\n  udp_tracker: off\n  peer: 127.0.0.1:0\n  dht: false\n");
    std::fs::write(d.path().join("podcast.yaml"), yaml).expect("write");
    let ready = d.path().join("ready.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_podseed"))
        .args(["publish", "--quiet", "--serve", "--ready-file"])
        .arg(&ready)
        .current_dir(d.path())
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
    assert!(d.path().join("public/feed.xml").is_file());
}

fn get_json(addr: SocketAddr, path: &str) -> Value {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers")
        + 4;
    serde_json::from_slice(&raw[at..]).expect("json")
}

#[test]
fn the_seeder_announces_to_other_trackers_over_http_and_udp() {
    let d = example_copy();
    let (a_port, b_port, b_udp) = (free_port(), free_port(), free_udp_port());
    let a_base = format!("http://127.0.0.1:{a_port}/");
    let trackers = [
        format!("http://127.0.0.1:{b_port}/announce"),
        format!("udp://127.0.0.1:{b_udp}/announce"),
    ];
    // A: our seeder with its own tracker; B: another tracker (a second podseed serving the
    // same build, so it accepts these info hashes) that A must announce to.
    let a_serve = format!("  http: 127.0.0.1:{a_port}\n  udp_tracker: off\n  public_url: {a_base}\n  peer: 127.0.0.1:0\n  dht: false\n");
    let b_serve =
        format!("  http: 127.0.0.1:{b_port}\n  udp_tracker: 127.0.0.1:{b_udp}\n  peer: off\n");
    // Both from the example as shipped, before either is written.
    let a_yaml = loopback_yaml(d.path(), &a_base, &trackers, &a_serve);
    let b_yaml = loopback_yaml(d.path(), &a_base, &trackers, &b_serve);
    std::fs::write(d.path().join("podcast.yaml"), a_yaml).expect("write");
    std::fs::write(d.path().join("b.yaml"), b_yaml).expect("write");
    podseed_ok(d.path(), &["publish", "--quiet"]);
    let b = Server::start_with(d.path(), "b.yaml", "b.log");
    let mut a = Server::start_with(d.path(), "podcast.yaml", "a.log");
    let seeders = |v: &Value| -> Vec<u64> {
        v["episodes"]
            .as_array()
            .expect("episodes")
            .iter()
            .map(|e| e["seeders"].as_u64().unwrap_or(0))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if seeders(&get_json(b.http, "/stats")) == [1, 1, 1] {
            break;
        }
        assert!(Instant::now() < deadline, "B never saw our seeder");
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = std::fs::read_to_string(d.path().join("a.log")).expect("log");
    assert!(
        log.contains(&format!("to http://127.0.0.1:{b_port}/announce")),
        "{log}"
    );
    assert!(
        log.contains(&format!("to udp://127.0.0.1:{b_udp}/announce")),
        "{log}"
    );
    // SIGTERM: A says `stopped`, and B forgets it.
    let pid = a.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let status = a.child.wait().expect("wait");
    assert!(status.success(), "{status}");
    assert_eq!(seeders(&get_json(b.http, "/stats")), [0, 0, 0]);
}

#[test]
fn a_client_finds_our_seeder_on_a_local_dht_without_any_tracker() {
    // A private DHT of five nodes on loopback; podseed bootstraps from it.
    let testnet = mainline::Testnet::builder(5).build().expect("testnet");
    let d = example_copy();
    let yaml = std::fs::read_to_string(d.path().join("podcast.yaml")).expect("yaml");
    let yaml = yaml.replace(
        "  trackers:\n    - udp://tracker.opentrackr.org:1337/announce\n",
        "  trackers: []\n",
    );
    let nodes: String = testnet
        .bootstrap
        .iter()
        .map(|n| format!("    - \"{n}\"\n"))
        .collect();
    std::fs::write(
        d.path().join("podcast.yaml"),
        format!("{yaml}serve:\n  http: 127.0.0.1:0\n  udp_tracker: off\n  peer: 127.0.0.1:0\n  dht: true\n  dht_bootstrap:\n{nodes}"),
    )
    .expect("write");
    let summary: Value =
        serde_json::from_str(&podseed_ok(d.path(), &["publish", "--json"])).expect("json");
    let s = Server::start(d.path());
    let hash = hash_of(&summary, "2026-01-15-welcome.mp3");
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
        if found.iter().any(|a| a.port() == s.peer.port()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "our seeder never appeared on the DHT: {found:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // A DHT-capable peer learns our node's port from a Port message (BEP 5).
    let mut c = TcpStream::connect(s.peer).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    c.write_all(
        &Handshake::ours(hash, *b"-TS0001-dhtpeer00000")
            .with_dht()
            .encode(),
    )
    .expect("handshake");
    let mut hs = [0u8; Handshake::LEN];
    c.read_exact(&mut hs).expect("their handshake");
    assert!(Handshake::decode(&hs).expect("valid").supports_dht());
    let mut buf = Vec::new();
    let port = read_until(&mut c, &mut buf, |m| matches!(m, Message::Port(_)));
    assert!(matches!(port, Some(Message::Port(p)) if p != 0), "{port:?}");
    drop(c);
    // And what it finds there serves the episode.
    let src =
        std::fs::read(d.path().join("examples/episodes/2026-01-15-welcome.mp3")).expect("src");
    fetch_first_block(s.peer, hash, &src);
}

#[test]
fn clients_that_require_encryption_connect_plain_after_mse_or_rc4() {
    if !have_tool(
        "aria2c",
        "clients_that_require_encryption_connect_plain_after_mse_or_rc4",
    ) {
        return;
    }
    let (d, _summary, _s) = seeded_example();
    let torrent = d
        .path()
        .join("public/torrents/2026-02-01-swarm-basics.torrent");
    let torrent = torrent.to_str().expect("path");
    let src = std::fs::read(
        d.path()
            .join("examples/episodes/2026-02-01-swarm-basics.mp3"),
    )
    .expect("src");
    // Only the encrypted handshake (never a plain one): we select plaintext after it.
    let a = aria2c_with(
        &d.path().join("mse-plain"),
        torrent,
        &["--bt-require-crypto=true"],
    );
    // Full RC4 stream encryption required.
    let b = aria2c_with(
        &d.path().join("mse-rc4"),
        torrent,
        &["--bt-require-crypto=true", "--bt-min-crypto-level=arc4"],
    );
    wait_ok(a, "MSE, plaintext after the handshake");
    wait_ok(b, "MSE with RC4");
    for dir in ["mse-plain", "mse-rc4"] {
        let got =
            std::fs::read(d.path().join(dir).join("2026-02-01-swarm-basics.mp3")).expect("dl");
        assert_eq!(got, src, "{dir}");
    }
}

/// Whether Debian's python3-libtorrent is importable (SKIP otherwise; required under CI).
fn have_libtorrent(test: &str) -> bool {
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", "import libtorrent"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3-libtorrent is required under CI=true (.ci/run installs it)"
        );
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("SKIP {test}: python3-libtorrent not installed\n").as_bytes(),
        );
    }
    ok
}

#[test]
fn libtorrent_downloads_from_our_seeder() {
    if !have_libtorrent("libtorrent_downloads_from_our_seeder") {
        return;
    }
    let (d, _summary, _s) = seeded_example();
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
        .arg(d.path().join("public/torrents/2026-01-15-welcome.torrent"))
        .arg(d.path().join("lt"))
        .status()
        .expect("python3");
    assert!(status.success(), "libtorrent did not finish");
    assert_eq!(
        std::fs::read(d.path().join("lt/2026-01-15-welcome.mp3")).expect("dl"),
        std::fs::read(d.path().join("examples/episodes/2026-01-15-welcome.mp3")).expect("src")
    );
}

/// Announces a leecher (left > 0) listening on `port` to the tracker at `http`.
fn announce_leecher(http: SocketAddr, hash: [u8; 20], peer_id: &[u8; 20], port: u16, extra: &str) {
    let enc = |b: &[u8]| b.iter().map(|x| format!("%{x:02X}")).collect::<String>();
    let mut s = TcpStream::connect(http).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        s,
        "GET /announce?info_hash={}&peer_id={}&port={port}&uploaded=0&downloaded=0&left=1000&compact=1&event=started{extra} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        enc(&hash),
        enc(peer_id)
    )
    .expect("send");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    assert!(raw.starts_with(b"HTTP/1.1 200"), "announce failed");
}

/// Waits up to `secs` for a connection on `l` (0: takes one already waiting).
fn accept_within(l: &std::net::TcpListener, secs: u64) -> Option<TcpStream> {
    l.set_nonblocking(true).expect("nonblocking");
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok((s, _)) = l.accept() {
            s.set_nonblocking(false).expect("blocking");
            s.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            return Some(s);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_seeder_dials_a_leecher_as_soon_as_it_announces() {
    let (d, summary, s) = seeded_example();
    let file = "2026-01-15-welcome.mp3";
    let hash = hash_of(&summary, file);
    let src = std::fs::read(d.path().join("examples/episodes").join(file)).expect("src");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let id = *b"-TS0001-dialledpeer0";
    // An address the announcer only claims (`ip=`, honoured from loopback) is not dialled.
    let other = std::net::TcpListener::bind("127.0.0.2:0").expect("bind");
    let other_port = other.local_addr().expect("addr").port();
    announce_leecher(
        s.http,
        hash,
        b"-TS0001-claimedpeer0",
        other_port,
        "&ip=127.0.0.2",
    );
    announce_leecher(s.http, hash, &id, port, "");
    let mut c = accept_within(&listener, 5).expect("the seeder dials the leecher");
    // We are the initiator's peer: its handshake comes first, ours answers it.
    let mut hs = [0u8; Handshake::LEN];
    c.read_exact(&mut hs).expect("handshake");
    let theirs = Handshake::decode(&hs).expect("valid");
    assert_eq!(theirs.info_hash, hash);
    assert!(theirs.peer_id.starts_with(b"-PS0100-"));
    c.write_all(&Handshake::ours(hash, id).encode())
        .expect("answer");
    let mut buf = Vec::new();
    assert_eq!(
        read_until(&mut c, &mut buf, |_| true),
        Some(Message::HaveAll)
    );
    send(&mut c, &Message::Interested);
    assert!(read_until(&mut c, &mut buf, |m| *m == Message::Unchoke).is_some());
    send(
        &mut c,
        &Message::Request {
            index: 0,
            begin: 8192,
            length: 8192,
        },
    );
    match read_until(&mut c, &mut buf, |m| matches!(m, Message::Piece { .. })) {
        Some(Message::Piece {
            index: 0,
            begin: 8192,
            block,
        }) => assert_eq!(block, src[8192..16384]),
        other => panic!("no piece: {other:?}"),
    }
    // Announcing again does not bring a second dial.
    announce_leecher(s.http, hash, &id, port, "");
    assert!(accept_within(&listener, 2).is_none(), "dialled twice");
    assert!(
        accept_within(&other, 0).is_none(),
        "dialled a claimed address"
    );
    // The same peer connecting to us as well (its connect crossing our dial) is answered
    // too: the client keeps one (aria2 and libtorrent drop the second they see from a peer
    // id, in their order, which need not be ours; if we dropped one as well, a crossing
    // could leave the client with none).
    let mut dup = TcpStream::connect(s.peer).expect("connect");
    dup.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    dup.write_all(&Handshake::ours(hash, id).encode())
        .expect("handshake");
    let mut hs = [0u8; Handshake::LEN];
    dup.read_exact(&mut hs).expect("their handshake");
    let mut dup_buf = Vec::new();
    assert_eq!(
        read_until(&mut dup, &mut dup_buf, |_| true),
        Some(Message::HaveAll),
        "the crossing connection is served"
    );
    drop(dup);
    // The dialled session still serves.
    send(
        &mut c,
        &Message::Request {
            index: 0,
            begin: 0,
            length: 16384,
        },
    );
    assert!(read_until(&mut c, &mut buf, |m| matches!(m, Message::Piece { .. })).is_some());
    // A leecher that is connected to us already when it announces is not dialled.
    let early = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let early_port = early.local_addr().expect("addr").port();
    let early_id = *b"-TS0001-connected000";
    let mut e = TcpStream::connect(s.peer).expect("connect");
    e.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    e.write_all(&Handshake::ours(hash, early_id).encode())
        .expect("handshake");
    let mut e_buf = Vec::new();
    let mut hs = [0u8; Handshake::LEN];
    e.read_exact(&mut hs).expect("their handshake");
    assert_eq!(
        read_until(&mut e, &mut e_buf, |_| true),
        Some(Message::HaveAll)
    );
    announce_leecher(s.http, hash, &early_id, early_port, "");
    assert!(
        accept_within(&early, 2).is_none(),
        "dialled a leecher that is connected"
    );
    drop(e);
    // Other peers connect as before.
    fetch_first_block(s.peer, hash, &src);
}

#[test]
fn aria2c_downloads_from_a_seeder_it_cannot_reach() {
    if !have_tool("aria2c", "aria2c_downloads_from_a_seeder_it_cannot_reach") {
        return;
    }
    // The tracker hands out a closed port as our seeder's address (like a seed behind NAT
    // with no port forwarded), and there is no web seed: the listener gets the episode only
    // because our seeder dials it.
    let closed = free_port();
    let (d, _summary, _s) =
        seeded_example_with(&format!("  peer_public_addr: 127.0.0.1:{closed}\n"));
    let file = "2026-02-01-swarm-basics.mp3";
    let torrent = d
        .path()
        .join("public/torrents/2026-02-01-swarm-basics.torrent");
    let listen = format!("--listen-port={}", free_port());
    wait_ok(
        aria2c_with(
            &d.path().join("dl"),
            torrent.to_str().expect("path"),
            &[&listen],
        ),
        "unreachable seeder",
    );
    assert_eq!(
        std::fs::read(d.path().join("dl").join(file)).expect("dl"),
        std::fs::read(d.path().join("examples/episodes").join(file)).expect("src")
    );
}

/// A minimal HTTP tracker on loopback that answers every announce with a long interval and
/// records the request lines it got.
struct FakeTracker {
    port: u16,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FakeTracker {
    fn start() -> FakeTracker {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
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
fn episodes_published_while_serving_are_seeded_and_removed_ones_stop() {
    let tracker = FakeTracker::start();
    let d = example_copy();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/");
    let serve = format!(
        "  http: 127.0.0.1:{port}\n  udp_tracker: off\n  public_url: {base}\n  peer: 127.0.0.1:0\n  dht: false\n"
    );
    let other = format!("http://127.0.0.1:{}/announce", tracker.port);
    let yaml = loopback_yaml(d.path(), &base, &[other], &serve);
    std::fs::write(d.path().join("podcast.yaml"), &yaml).expect("write");
    let summary: Value =
        serde_json::from_str(&podseed_ok(d.path(), &["publish", "--json"])).expect("json");
    let bonus = hash_of(&summary, "bonus-behind-the-scenes.mp3");
    let welcome = hash_of(&summary, "2026-01-15-welcome.mp3");
    let s = Server::start(d.path());
    let wait_for = |hash: [u8; 20], event: &str| {
        wait_until(20, &format!("no event={event} for {hash:02x?}"), || {
            tracker.events(hash).iter().any(|e| e == event)
        })
    };
    wait_for(bonus, "started");
    wait_for(welcome, "started");
    // Drop the bonus episode, and publish again while serving.
    remove_episode(d.path(), "bonus-behind-the-scenes.mp3");
    // A new episode in the same build.
    let new_file = "2026-03-01-new-episode.mp3";
    let episodes = d.path().join("examples/episodes");
    let summary = publish_with_new_episode(d.path(), new_file);
    let new = hash_of(&summary, new_file);
    wait_for(bonus, "stopped");
    wait_for(new, "started");
    // The new episode is seeded by the running server; the removed one is not.
    let src = std::fs::read(episodes.join(new_file)).expect("src");
    fetch_first_block(s.peer, new, &src);
    assert!(!seeds(s.peer, bonus), "a removed episode is still seeded");
    // The episodes still published are not stopped, and each was started once.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(tracker.events(welcome), ["started"]);
    assert_eq!(tracker.events(bonus), ["started", "stopped"]);
}

#[test]
fn metadata_replies_count_against_the_upload_limit() {
    const RATE: u64 = 1000;
    let (d, summary, s) = seeded_example_with(&format!("  max_upload_rate: {RATE}\n"));
    let hash = hash_of(&summary, "2026-02-01-swarm-basics.mp3");
    let info_len = lava_torrent::torrent::v1::Torrent::read_from_file(
        d.path()
            .join("public/torrents/2026-02-01-swarm-basics.torrent"),
    )
    .expect("torrent")
    .construct_info()
    .encode()
    .len() as u64;
    let (mut c, mut buf, theirs) = metadata_peer(s.peer, hash);
    // Asked for again and again, in one go: the replies must wait for the token bucket
    // (one second of burst), like blocks do.
    let asks = 12u64;
    let mut burst = Vec::new();
    for _ in 0..asks {
        wire::encode(
            &Message::Extended {
                id: theirs,
                payload: b"d8:msg_typei0e5:piecei0ee".to_vec(),
            },
            &mut burst,
        );
    }
    let t0 = Instant::now();
    c.write_all(&burst).expect("send");
    for i in 0..asks {
        assert!(
            read_until(&mut c, &mut buf, |m| matches!(
                m,
                Message::Extended { id: 3, .. }
            ))
            .is_some(),
            "reply {i} missing"
        );
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
