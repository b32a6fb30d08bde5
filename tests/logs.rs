//! What `serve` writes for operators: the access log in the combined log format (file,
//! with the client address a trusted proxy names), plain logs without colour codes when
//! stderr is not a terminal, and JSON log lines with `--json`. One behaviour per test.

// Test code reports by panicking; helpers outside #[test] functions too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Command, Stdio};

use common::*;

const EPISODE: &str = "2026-02-01-swarm-basics.mp3";

#[test]
fn the_access_log_has_a_combined_format_line_per_request_with_the_proxied_client() {
    let show = Show::example().with_serve(
        Serve::tracker()
            .set("trust_proxy", "true")
            .set("access_log", "logs-access.txt"),
    );
    show.publish();
    let server = Server::start(&show);
    let feed = std::fs::read(show.public().join("feed.xml")).expect("feed");
    let r = http_request(
        server.http,
        "GET",
        "/feed.xml",
        &[
            ("X-Real-IP", "203.0.113.7"),
            ("User-Agent", "Podcast\"App/2.0"),
        ],
    );
    assert_eq!(r.status, 200);
    let r = http_request(
        server.http,
        "GET",
        &format!("/episodes/{EPISODE}"),
        &[
            ("Range", "bytes=0-999"),
            ("Referer", "https://listeners.example/"),
        ],
    );
    assert_eq!(r.status, 206);
    let path = show.path().join("logs-access.txt");
    let mut text = String::new();
    wait_until(10, "two access log lines", || {
        text = std::fs::read_to_string(&path).unwrap_or_default();
        text.lines().count() >= 2
    });
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("203.0.113.7 - - ["),
        "not the proxied client: {}",
        lines[0]
    );
    assert!(
        lines[0].ends_with(&format!(
            "] \"GET /feed.xml HTTP/1.1\" 200 {} \"-\" \"Podcast\\\"App/2.0\"",
            feed.len()
        )),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with(&format!(
            "\"GET /episodes/{EPISODE} HTTP/1.1\" 206 1000 \"https://listeners.example/\" \"-\""
        )),
        "{}",
        lines[1]
    );
}

#[test]
fn logs_to_a_file_carry_no_colour_codes() {
    let show = Show::example().with_serve(Serve::tracker());
    show.publish();
    let server = Server::start(&show);
    assert_eq!(server.get("/feed.xml").status, 200);
    let log = server.log();
    assert!(log.contains("http: http://"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "ANSI escape codes in a log file:\n{log:?}"
    );
}

#[test]
fn serve_json_logs_one_json_object_per_line() {
    let show = Show::example().with_serve(Serve::tracker());
    show.publish();
    let dir = tempfile::tempdir().expect("tmp");
    let (ready, log) = (dir.path().join("ready.json"), dir.path().join("log"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_podseed"))
        .args(["serve", "--json", "--ready-file"])
        .arg(&ready)
        .current_dir(show.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("serve");
    wait_until(10, "serve ready", || ready.exists());
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(!text.trim().is_empty());
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["timestamp"].is_string() && v["level"].is_string(),
            "{line}"
        );
        assert!(v["fields"]["message"].is_string(), "{line}");
    }
}
