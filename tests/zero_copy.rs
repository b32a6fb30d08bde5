//! The zero-copy lane of `podseed serve`: static GETs answered by its own HTTP/1.1 loop,
//! file bodies sent with `sendfile`, and a connection handed to hyper with its unanswered
//! bytes when a request is not for the lane.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Serve, Served, Show};

const BIG: &str = "2026-05-01-big.mp3";

/// One response read off a keep-alive connection: status, headers, body (by its length).
fn read_response(r: &mut BufReader<TcpStream>) -> (u16, HashMap<String, String>, Vec<u8>) {
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("status line {line:?}"));
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).expect("header");
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').expect("header line");
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let len: usize = headers
        .get("content-length")
        .map_or(0, |l| l.parse().expect("length"));
    let mut body = vec![0; len];
    r.read_exact(&mut body).expect("body");
    (status, headers, body)
}

/// The example show with one more episode of `bytes`, served on ephemeral ports.
fn served_with_big_episode(bytes: usize) -> Served {
    let show = Show::example().with_serve(Serve::tracker());
    show.add_synthetic_episode(BIG, bytes);
    Served::start(show)
}

#[test]
fn one_connection_mixes_media_pages_and_routes_in_any_order() {
    let s = served_with_big_episode(3_000_000);
    let big = s.show.source(BIG);
    let feed = std::fs::read(s.show.public().join("feed.xml")).expect("feed");
    let media = format!("/episodes/{BIG}");
    let stream = TcpStream::connect(s.server.http).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut w = stream.try_clone().expect("clone");
    let mut r = BufReader::new(stream);
    let get =
        |target: &str, extra: &str| format!("GET {target} HTTP/1.1\r\nHost: test\r\n{extra}\r\n");

    // Pipelined in one write: a whole file (sent with sendfile), the feed (from memory), a
    // long range (sendfile) and a short one (one read), a conditional GET.
    let etag = {
        w.write_all(get(&media, "").as_bytes()).expect("send");
        let (status, headers, body) = read_response(&mut r);
        assert_eq!(status, 200);
        assert!(body == big, "the whole file, byte for byte");
        assert!(headers.contains_key("date"), "{headers:?}");
        assert_eq!(headers["access-control-allow-origin"], "*");
        headers["etag"].clone()
    };
    let batch = [
        get("/feed.xml", ""),
        get(&media, "Range: bytes=1000-2000999\r\n"),
        get(&media, "Range: bytes=-100\r\n"),
        get(&media, &format!("If-None-Match: {etag}\r\n")),
    ]
    .concat();
    w.write_all(batch.as_bytes()).expect("send");
    let (status, _, body) = read_response(&mut r);
    assert_eq!((status, body == feed), (200, true), "the feed");
    let (status, headers, body) = read_response(&mut r);
    assert_eq!(status, 206);
    assert_eq!(
        headers["content-range"],
        format!("bytes 1000-2000999/{}", big.len())
    );
    assert!(body == big[1000..2_001_000], "a long range, byte for byte");
    let (status, _, body) = read_response(&mut r);
    assert_eq!((status, body.as_slice()), (206, &big[big.len() - 100..]));
    let (status, _, body) = read_response(&mut r);
    assert_eq!((status, body.len()), (304, 0));

    // A route (hyper's): the connection goes over with what was read, and stays usable.
    w.write_all(
        [get("/stats", ""), get(&media, "Range: bytes=0-9\r\n")]
            .concat()
            .as_bytes(),
    )
    .expect("send");
    let (status, headers, body) = read_response(&mut r);
    assert_eq!(status, 200);
    assert!(headers["content-type"].starts_with("application/json"));
    let stats: serde_json::Value = serde_json::from_slice(&body).expect("stats JSON");
    assert!(stats.is_object());
    let (status, _, body) = read_response(&mut r);
    assert_eq!((status, body.as_slice()), (206, &big[..10]));

    // Asked to close: the server closes after the response.
    w.write_all(get(&media, "Range: bytes=0-0\r\nConnection: close\r\n").as_bytes())
        .expect("send");
    let (status, _, _) = read_response(&mut r);
    assert_eq!(status, 206);
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).expect("closed");
    assert!(rest.is_empty());

    // Every byte counted: two whole-file-sized figures came through the lane.
    let http_bytes = s.server.stats()["totals"]["http_bytes"].as_u64();
    assert!(
        http_bytes.is_some_and(|b| b >= (big.len() + 2_000_000) as u64),
        "{http_bytes:?}"
    );
}

#[test]
fn a_file_cut_short_while_it_is_sent_ends_the_connection_without_padding() {
    let s = served_with_big_episode(12_000_000);
    let big = s.show.source(BIG);
    // A small receive buffer: with the server's send buffer (4 MiB at most on Linux), what
    // can be in flight is far less than the file.
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(64 * 1024).expect("SO_RCVBUF");
    socket.connect(&s.server.http.into()).expect("connect");
    let mut stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(stream, "GET /episodes/{BIG} HTTP/1.1\r\nHost: test\r\n\r\n").expect("send");
    // Read the head and a little, then cut the file (the published one is the same inode).
    let mut r = BufReader::new(stream);
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        r.read_exact(&mut byte).expect("head");
        head.push(byte[0]);
    }
    assert!(String::from_utf8_lossy(&head).contains(&format!("content-length: {}", big.len())));
    let mut first = vec![0; 64 * 1024];
    r.read_exact(&mut first).expect("first bytes");
    let cut = 1_000_000;
    std::fs::File::options()
        .write(true)
        .open(s.show.public().join("episodes").join(BIG))
        .and_then(|f| f.set_len(cut as u64))
        .expect("truncate");
    let mut rest = Vec::new();
    // The connection ends (a reset may come instead of an orderly close).
    let _ = r.read_to_end(&mut rest);
    let got = [first, rest].concat();
    assert!(
        got.len() < big.len(),
        "sent {} of {} bytes after the cut",
        got.len(),
        big.len()
    );
    // Bytes before the cut are the file's. Bytes past it that were already handed to the
    // kernel when the file was cut may read as the file does now (zeros): `sendfile` queues
    // the file's pages, not copies, as nginx's does. The client can tell, as the response
    // ends short of its length, and an edit in place is what the README warns against.
    let sent_from_file = got.len().min(cut);
    assert!(
        got[..sent_from_file] == big[..sent_from_file],
        "what was sent before the cut is the file"
    );
    // The server goes on serving.
    let feed = s.server.get("/feed.xml");
    assert_eq!(feed.status, 200);
}

#[test]
fn a_head_sent_a_byte_at_a_time_is_cut_off_at_the_header_timeout() {
    let s = Served::start(Show::example().with_serve(Serve::tracker()));
    let mut stream = TcpStream::connect(s.server.http).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    stream
        .write_all(b"GET /feed.xml HTTP/1.1\r\nHost: test\r\nX-Slow: ")
        .expect("send");
    let started = std::time::Instant::now();
    // Each byte comes well within any per-read timeout; the head as a whole never ends.
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "a client sending its head a byte at a time still holds its connection"
        );
        if stream.write_all(b"a").is_err() {
            break;
        }
        let mut reply = [0u8; 256];
        match stream.read(&mut reply) {
            // Closed (after an error status, if any).
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    // Others are served meanwhile and after.
    assert_eq!(s.server.get("/feed.xml").status, 200);
}
