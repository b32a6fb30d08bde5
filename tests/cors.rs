//! CORS over real HTTP: `podseed serve` answers preflights and cross-origin reads of the
//! site, the web seed and the tracker's endpoints; and the nginx configuration the README
//! gives a podcaster who hosts `public/` elsewhere gives the same answers, checked against
//! Debian's nginx on a loopback port. One behaviour per test.

// Test code reports by panicking; helpers outside #[test] functions too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::tools::nginx_path;
use common::*;

const EPISODE: &str = "2026-02-01-swarm-basics.mp3";
const MEDIA_PATH: &str = "/episodes/2026-02-01-swarm-basics.mp3";
const ORIGIN: (&str, &str) = ("Origin", "https://listeners.example");

/// A browser's preflight for a ranged `fetch` of `path`, as WebTorrent's web seed makes it.
fn preflight(addr: SocketAddr, path: &str) -> HttpReply {
    http_request(
        addr,
        "OPTIONS",
        path,
        &[
            ORIGIN,
            ("Access-Control-Request-Method", "GET"),
            (
                "Access-Control-Request-Headers",
                "cache-control,range,user-agent",
            ),
        ],
    )
}

fn listed(value: &str, name: &str) -> bool {
    value
        .split(',')
        .any(|v| v.trim().eq_ignore_ascii_case(name))
}

/// What a browser checks on a preflight answer before it sends a ranged GET.
fn assert_preflight_allows_ranged_reads(r: &HttpReply) {
    assert_eq!(r.status, 204);
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    let methods = &r.headers["access-control-allow-methods"];
    for m in ["GET", "HEAD", "OPTIONS"] {
        assert!(listed(methods, m), "{m} in {methods}");
    }
    let allowed = &r.headers["access-control-allow-headers"];
    for h in [
        "range",
        "cache-control",
        "if-none-match",
        "if-modified-since",
        "if-range",
        "user-agent",
    ] {
        assert!(listed(allowed, h), "{h} in {allowed}");
    }
    assert_eq!(r.headers["access-control-max-age"], "86400");
}

/// A cross-origin ranged GET: the right bytes, readable by the page, with the range headers
/// exposed to it.
fn assert_ranged_get_is_shared(addr: SocketAddr, mp3: &[u8]) {
    let r = http_request(
        addr,
        "GET",
        MEDIA_PATH,
        &[ORIGIN, ("Range", "bytes=100-1123")],
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body, mp3[100..1124]);
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    let exposed = &r.headers["access-control-expose-headers"];
    for h in ["Content-Range", "Content-Length", "Accept-Ranges", "ETag"] {
        assert!(listed(exposed, h), "{h} in {exposed}");
    }
}

/// Errors are readable cross-origin too (a page must see a 404 or 416 to handle it).
fn assert_errors_are_shared(addr: SocketAddr, mp3: &[u8]) {
    let missing = http_request(addr, "GET", "/episodes/missing.mp3", &[ORIGIN]);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.headers["access-control-allow-origin"], "*");
    let past_end = format!("bytes={}-", mp3.len());
    let r = http_request(addr, "GET", MEDIA_PATH, &[ORIGIN, ("Range", &past_end)]);
    assert_eq!(r.status, 416);
    assert_eq!(r.headers["access-control-allow-origin"], "*");
}

#[test]
fn serve_answers_preflights_and_shares_ranged_reads_and_errors() {
    let s = Served::start(Show::example().with_serve(Serve::tracker()));
    let mp3 = s.show.source(EPISODE);
    for path in [MEDIA_PATH, "/feed.xml", "/announce", "/missing"] {
        assert_preflight_allows_ranged_reads(&preflight(s.server.http, path));
    }
    assert_ranged_get_is_shared(s.server.http, &mp3);
    assert_errors_are_shared(s.server.http, &mp3);
}

#[test]
fn serve_shares_304s_and_the_tracker_endpoints() {
    let s = Served::start(Show::example().with_serve(Serve::tracker()));
    let etag = s.server.get(MEDIA_PATH).headers["etag"].clone();
    let r = http_request(
        s.server.http,
        "GET",
        MEDIA_PATH,
        &[ORIGIN, ("If-None-Match", &etag)],
    );
    assert_eq!(r.status, 304);
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    for path in [
        "/stats",
        "/metrics",
        "/scrape",
        "/announce?bad",
        "/feed.xml",
    ] {
        let r = http_request(s.server.http, "GET", path, &[ORIGIN]);
        assert_eq!(r.headers["access-control-allow-origin"], "*", "{path}");
        let head = http_request(s.server.http, "HEAD", path, &[ORIGIN]);
        assert_eq!(
            head.headers["access-control-allow-origin"], "*",
            "HEAD {path}"
        );
    }
}

/// The nginx block the README's "Hosting the output" section gives.
fn readme_nginx_snippet() -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README");
    let hosting = readme
        .split("## Hosting the output")
        .nth(1)
        .expect("a Hosting the output section");
    let block = hosting
        .split("```nginx\n")
        .nth(1)
        .expect("an nginx block in Hosting the output");
    block.split("```").next().expect("block end").to_string()
}

/// nginx in the foreground, one process, everything (pid, logs, temp files) in `dir`;
/// killed (its own PID) when dropped.
struct Nginx {
    child: Child,
    addr: SocketAddr,
}

impl Nginx {
    fn start(dir: &Path, root: &Path, server_block: &str) -> Nginx {
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let d = dir.display();
        let config = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n\
             client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             types {{ audio/mpeg mp3; application/rss+xml xml; text/html html; }}\n\
             server {{\n  listen {addr};\n  root {root};\n{server_block}\n}}\n}}\n",
            root = root.display()
        );
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config).expect("write nginx.conf");
        let child = Command::new(nginx_path())
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut n = Nginx { child, addr };
        wait_until(10, "nginx listening", || {
            if let Ok(Some(status)) = n.child.try_wait() {
                let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
                panic!("nginx exited with {status}:\n{log}");
            }
            TcpStream::connect(addr).is_ok()
        });
        n
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_readme_nginx_snippet_gives_the_same_cors_answers() {
    require!(Tool::Nginx);
    let show = Show::example();
    show.publish();
    let mp3 = show.source(EPISODE);
    let dir = tempfile::tempdir().expect("tempdir");
    let nginx = Nginx::start(dir.path(), &show.public(), &readme_nginx_snippet());
    assert_preflight_allows_ranged_reads(&preflight(nginx.addr, MEDIA_PATH));
    assert_preflight_allows_ranged_reads(&preflight(nginx.addr, "/feed.xml"));
    assert_ranged_get_is_shared(nginx.addr, &mp3);
    assert_errors_are_shared(nginx.addr, &mp3);
    let state = http_request(nginx.addr, "GET", "/.podseed/manifest.json", &[ORIGIN]);
    assert_eq!(state.status, 404);
}
