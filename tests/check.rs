//! Black-box tests of `podseed check` (each rule tripped once, and a show that passes them
//! all), of `--online` against `podseed serve` and against deliberately wrong static servers
//! started here on 127.0.0.1, of Markdown show notes, and of what `init` writes.

// Test code reports by panicking; helpers outside #[test] functions too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;
use serde_json::Value;

const WELCOME: &str = "2026-01-15-welcome.mp3";
const SWARM_BASICS: &str = "2026-02-01-swarm-basics.mp3";
const BONUS: &str = "bonus-behind-the-scenes.mp3";
const LISTENER_QUESTIONS: &str = "2026-03-01-listener-questions.m4a";

/// Every rule id `check` knows offline.
const OFFLINE_RULES: &[&str] = &[
    "artwork-format",
    "artwork-size",
    "artwork-colour",
    "placeholder",
    "show-image-missing",
    "owner-email-missing",
    "category-missing",
    "explicit-missing",
    "description-empty",
    "description-is-title",
    "description-too-long",
    "title-duplicate",
    "enclosure-not-https",
    "torrent-no-tracker",
];

/// The example's public URL (a reserved example domain, so a placeholder to `check`).
const EXAMPLE_BASE_URL: &str = "base_url: https://podcast.example.com/seedbox/";

/// The example made to pass every rule: [`fixed_example`] at a real-looking base_url.
fn clean_show() -> Show {
    fixed_example().with_yaml(EXAMPLE_BASE_URL, "base_url: https://podcast.seedbox.test/")
}

/// The example with a real owner address, show notes in Markdown for the episodes that
/// had none, and the show's cover for the episodes whose embedded pictures are 300 px; its
/// base_url is still the example's (for the loopback and static-server tests to replace).
fn fixed_example() -> Show {
    let show = Show::example()
        .with_yaml("alex@example.com", "alex@seedbox.test")
        .with_yaml(
            "    season: 1\n    episode: 1\n",
            "    season: 1\n    episode: 1\n    image: ../cover.png\n",
        )
        .with_yaml(
            "episodes:\n",
            "episodes:\n  - file: 2026-03-01-listener-questions.m4a\n    image: ../cover.png\n",
        );
    write_notes(&show, SWARM_BASICS, "How a **swarm** shares an episode.\n");
    write_notes(
        &show,
        BONUS,
        "Behind the scenes: [the code](https://seedbox.test/code).\n",
    );
    show
}

fn write_notes(show: &Show, episode: &str, markdown: &str) {
    let md = show
        .episodes()
        .join(Path::new(episode).with_extension("md"));
    std::fs::write(md, markdown).expect("write notes");
}

/// `podseed check --json ARGS`: the exit code and the findings.
fn check(show: &Show, args: &[&str]) -> (i32, Vec<Value>) {
    let out = show.podseed(&[&["check", "--json"], args].concat());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "check --json printed no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let findings = report["findings"].as_array().expect("findings").clone();
    for f in &findings {
        for key in ["rule", "severity", "place", "message", "fix"] {
            assert!(f[key].is_string(), "finding without {key}: {f}");
        }
    }
    (out.status.code().expect("exit code"), findings)
}

/// The findings of `rule`.
fn of_rule<'a>(findings: &'a [Value], rule: &str) -> Vec<&'a Value> {
    findings.iter().filter(|f| f["rule"] == rule).collect()
}

/// `rule` was found, with `severity`, at a place containing `place`.
fn assert_found(findings: &[Value], rule: &str, severity: &str, place: &str) {
    assert!(
        of_rule(findings, rule)
            .iter()
            .any(|f| f["severity"] == severity && f["place"].as_str().unwrap().contains(place)),
        "expected {severity} {rule} at {place}, found {findings:#?}"
    );
}

/// A PNG header of `w`×`h` (colour type `colour`): all a header reader looks at.
fn png_header(w: u32, h: u32, colour: u8) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&[8, colour, 0, 0, 0, 0, 0, 0, 0]);
    b
}

/// The clean show with its cover replaced by `bytes` (named `name`).
fn with_cover(name: &str, bytes: &[u8]) -> Show {
    let show = clean_show().with_yaml(
        "image: examples/cover.png\ncategories",
        &format!("image: examples/{name}\ncategories"),
    );
    std::fs::write(show.path().join("examples").join(name), bytes).expect("write cover");
    show
}

#[test]
fn a_show_that_keeps_every_rule_is_clean_and_exits_0() {
    let show = clean_show();
    let (code, findings) = check(&show, &[]);
    assert_eq!(findings, Vec::<Value>::new());
    assert_eq!(code, 0);
    let text = show.podseed(&["check"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("clean"));
    // check writes nothing.
    assert!(!show.public().exists());
}

#[test]
fn a_gif_renamed_jpg_or_a_broken_jpeg_is_not_artwork() {
    // The config already refuses a cover that is not JPEG or PNG by its first bytes.
    let (code, f) = check(&with_cover("cover.jpg", b"GIF89a\x01\x00\x01\x00"), &[]);
    assert_found(&f, "config", "error", "podcast.yaml");
    assert!(f[0]["message"]
        .as_str()
        .unwrap()
        .contains("not a PNG or JPEG"));
    assert_eq!(code, 2);
    // A JPEG signature with no frame header behind it gets past that; check reads on.
    let (code, f) = check(&with_cover("cut.jpg", b"\xFF\xD8\xFF\xE0\x00\x10JFIF"), &[]);
    assert_found(&f, "artwork-format", "error", "cut.jpg");
    assert_eq!(code, 2);
}

#[test]
fn artwork_that_is_not_square_or_too_small_is_an_error() {
    let (code, f) = check(&with_cover("wide.png", &png_header(500, 300, 2)), &[]);
    assert_found(&f, "artwork-size", "error", "wide.png");
    assert_eq!(code, 2);
    let (_, f) = check(&with_cover("big.png", &png_header(3001, 3001, 2)), &[]);
    assert_found(&f, "artwork-size", "error", "big.png");
}

#[test]
fn greyscale_artwork_is_not_rgb() {
    let (_, f) = check(&with_cover("grey.png", &png_header(1400, 1400, 0)), &[]);
    assert_found(&f, "artwork-colour", "error", "grey.png");
    assert!(of_rule(&f, "artwork-size").is_empty());
}

#[test]
fn episode_artwork_is_held_to_the_same_rules_as_a_warning() {
    // The example's first episode carries a 300×300 picture in its ID3 tag.
    let show = clean_show().with_yaml("    image: ../cover.png\n", "");
    let (code, f) = check(&show, &[]);
    assert_found(&f, "artwork-size", "warning", WELCOME);
    assert_eq!(code, 1, "warnings only: exit 1");
}

#[test]
fn a_show_without_image_owner_category_or_explicit_is_told_what_apple_wants() {
    let show = clean_show()
        .with_yaml("image: examples/cover.png\n", "")
        .with_yaml(
            "owner:\n  name: Alex Example\n  email: alex@seedbox.test\n",
            "",
        )
        .with_yaml("locked: true", "locked: false")
        .with_yaml("categories:\n  - Technology\n  - Education > How To\n", "")
        .with_yaml("explicit: false\n", "");
    let (code, f) = check(&show, &[]);
    assert_found(&f, "show-image-missing", "error", "image");
    assert_found(&f, "owner-email-missing", "error", "owner.email");
    assert_found(&f, "category-missing", "error", "categories");
    assert_found(&f, "explicit-missing", "warning", "explicit");
    assert_eq!(code, 2);
}

#[test]
fn an_untouched_init_is_all_placeholders_with_a_placeholder_cover_and_no_tracker() {
    let d = tempfile::tempdir().expect("tmp");
    let out = podseed_ok(d.path(), &["init"]);
    assert!(out.contains("placeholder"), "{out}");
    assert!(out.contains("public_url"), "{out}");
    let cover = std::fs::read(d.path().join("cover.png")).expect("init wrote cover.png");
    assert_eq!(&cover[12..16], b"IHDR");
    std::fs::copy(
        repo().join("examples/episodes").join(WELCOME),
        d.path().join("episodes").join(WELCOME),
    )
    .expect("copy");
    let out = podseed(d.path(), &["check", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    let f = report["findings"].as_array().expect("findings").clone();
    for place in [
        "base_url",
        "owner.email",
        "title",
        "author",
        "description",
        "image",
    ] {
        assert_found(&f, "placeholder", "error", place);
    }
    assert_found(&f, "torrent-no-tracker", "warning", "torrent.trackers");
    // The placeholder cover itself is good artwork: only its being a placeholder is flagged.
    assert!(
        !f.iter()
            .any(|x| x["rule"].as_str().unwrap().starts_with("artwork")
                && x["place"].as_str().unwrap().contains("cover.png")),
        "{f:#?}"
    );
    // publish says the same, once each, and builds.
    let out = podseed(d.path(), &["publish"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.matches("[torrent-no-tracker: a warning").count(),
        1,
        "{err}"
    );
    assert_eq!(
        err.matches("placeholder `podseed init` wrote").count(),
        1,
        "{err}"
    );
}

#[test]
fn with_a_tracker_configured_no_tracker_warning() {
    let show = clean_show().with_trackers(&[]);
    let (code, f) = check(&show, &[]);
    assert_found(&f, "torrent-no-tracker", "warning", "torrent.trackers");
    assert_eq!(code, 1);
    // serve.public_url puts podseed's own trackers in: no warning.
    let show = clean_show()
        .with_trackers(&[])
        .with_serve(Serve::tracker().set("public_url", "https://seedbox.test/"));
    let (_, f) = check(&show, &[]);
    assert!(of_rule(&f, "torrent-no-tracker").is_empty(), "{f:#?}");
}

#[test]
fn descriptions_empty_equal_to_the_title_or_too_long() {
    let show = clean_show();
    write_notes(&show, SWARM_BASICS, "");
    std::fs::remove_file(show.episodes().join("bonus-behind-the-scenes.md")).expect("rm");
    let (code, f) = check(&show, &[]);
    assert_found(&f, "description-empty", "warning", SWARM_BASICS);
    assert_found(&f, "description-is-title", "warning", BONUS);
    assert_eq!(code, 1);
    write_notes(&show, SWARM_BASICS, &"Long notes. ".repeat(400));
    let (_, f) = check(&show, &[]);
    assert_found(&f, "description-too-long", "warning", SWARM_BASICS);
}

#[test]
fn duplicate_titles_are_named() {
    let show = clean_show().with_yaml(
        "    date: 2026-02-10 18:00\n",
        "    date: 2026-02-10 18:00\n    title: Welcome to the Seedbox Hour\n",
    );
    let (code, f) = check(&show, &[]);
    // The later of the two in feed order is named, with the other in the message.
    assert_found(&f, "title-duplicate", "warning", ".mp3");
    assert_eq!(of_rule(&f, "title-duplicate").len(), 1);
    assert_eq!(code, 1);
}

#[test]
fn plain_http_enclosures_are_a_warning_but_not_on_loopback() {
    let show = fixed_example().with_yaml(EXAMPLE_BASE_URL, "base_url: http://seedbox.test/");
    let (_, f) = check(&show, &[]);
    assert_found(
        &f,
        "enclosure-not-https",
        "warning",
        "http://seedbox.test/episodes/",
    );
    let show = fixed_example().served_from_loopback(&[]);
    let (_, f) = check(&show, &[]);
    assert!(of_rule(&f, "enclosure-not-https").is_empty(), "{f:#?}");
}

#[test]
fn what_stops_publish_is_an_error_finding() {
    let show = clean_show();
    std::fs::copy(fixture("not-audio.mp3"), show.episodes().join("broken.mp3")).expect("copy");
    let (code, f) = check(&show, &[]);
    assert_found(&f, "media", "error", "broken.mp3");
    assert_eq!(code, 2);
    let show = clean_show().with_yaml("type: episodic", "type: sometimes");
    let (code, f) = check(&show, &[]);
    assert_found(&f, "config", "error", "podcast.yaml");
    assert_eq!(code, 2);
}

#[test]
fn help_states_the_exit_codes() {
    let out = podseed(Path::new("."), &["check", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("0 clean, 1 only warnings, 2 errors"),
        "{text}"
    );
}

// ---- Markdown show notes ----

fn feed_item(show: &Show, title_part: &str) -> rss::Item {
    let xml = std::fs::read(show.public().join("feed.xml")).expect("feed");
    let channel = rss::Channel::read_from(&xml[..]).expect("feed parses");
    channel
        .items()
        .iter()
        .find(|i| i.title().is_some_and(|t| t.contains(title_part)))
        .cloned()
        .unwrap_or_else(|| panic!("no item titled *{title_part}*"))
}

#[test]
fn markdown_beside_the_episode_is_its_html_notes_in_feed_and_page() {
    let show = clean_show();
    write_notes(
        &show,
        SWARM_BASICS,
        "# Notes\n\nA **swarm**, <script>alert(1)</script> and [a link](https://seedbox.test/x).\n",
    );
    show.publish();
    let item = feed_item(&show, "warm");
    let html = item.content().expect("content:encoded");
    assert!(html.contains("<strong>swarm</strong>"), "{html}");
    assert!(
        html.contains(r#"<a href="https://seedbox.test/x">a link</a>"#),
        "{html}"
    );
    assert!(!html.contains("<script>"), "raw HTML is escaped: {html}");
    assert_eq!(item.description(), Some(html));
    let summary = item
        .itunes_ext()
        .and_then(|i| i.summary())
        .expect("itunes:summary");
    assert!(
        summary.starts_with("Notes\nA swarm, <script>"),
        "plain text: {summary}"
    );
    let page = std::fs::read_to_string(show.public().join("e/2026-02-01-swarm-basics.html"))
        .expect("episode page");
    assert!(
        page.contains("<strong>swarm</strong>"),
        "the page shows the notes"
    );
}

#[test]
fn description_file_in_the_config_is_used_and_the_sidecar_wins() {
    let show = clean_show();
    std::fs::remove_file(show.episodes().join("bonus-behind-the-scenes.md")).expect("rm");
    std::fs::write(
        show.episodes().join("bonus-notes.md"),
        "From the *config*.\n",
    )
    .expect("write");
    let show = show.with_yaml(
        "    date: 2026-02-10 18:00\n",
        "    date: 2026-02-10 18:00\n    description_file: bonus-notes.md\n",
    );
    show.publish();
    let html = feed_item(&show, "Behind").content().unwrap().to_string();
    assert_eq!(html, "<p>From the <em>config</em>.</p>");
    write_notes(&show, BONUS, "From the *sidecar*.\n");
    show.publish();
    let html = feed_item(&show, "Behind").content().unwrap().to_string();
    assert_eq!(html, "<p>From the <em>sidecar</em>.</p>");
}

#[test]
fn an_edited_note_changes_the_build_without_rehashing_the_media() {
    let show = clean_show();
    show.publish();
    let before = std::fs::read(show.public().join("feed.xml")).expect("feed");
    write_notes(&show, SWARM_BASICS, "New notes.\n");
    let s = show.publish();
    assert_eq!(s["bytes_hashed"], 0, "{:?}", s.0);
    assert_eq!(s["unchanged"], 4);
    let after = std::fs::read(show.public().join("feed.xml")).expect("feed");
    assert_ne!(before, after);
    assert_eq!(
        feed_item(&show, "warm").content(),
        Some("<p>New notes.</p>")
    );
}

// ---- --online ----

#[test]
fn online_against_podseed_serve_is_clean() {
    let udp = free_udp_port();
    let show = fixed_example()
        .served_from_loopback(&[])
        .with_serve(Serve::tracker().set("udp_tracker", &format!("127.0.0.1:{udp}")));
    show.publish();
    let _server = Server::start(&show);
    let (code, f) = check(&show, &["--online"]);
    assert_eq!(f, Vec::<Value>::new());
    assert_eq!(code, 0);
}

#[test]
fn online_names_what_is_not_served_and_a_dead_tracker() {
    let udp = free_udp_port();
    let show = fixed_example()
        .served_from_loopback(&[])
        .with_serve(Serve::tracker().set("udp_tracker", &format!("127.0.0.1:{udp}")));
    show.publish();
    // Nothing listens on the show's port: every URL and the built-in tracker fail.
    let (code, f) = check(&show, &["--online"]);
    assert_found(&f, "online-unreachable", "error", "/feed.xml");
    assert_found(&f, "online-unreachable", "error", "/episodes/");
    assert_found(&f, "online-tracker", "error", "/announce");
    assert_eq!(code, 2);
}

/// How a [`StaticServer`] gets things wrong.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    /// Ignores Range: every answer is 200 with the whole file.
    NoRange,
    /// Serves everything as text/plain (Range works).
    WrongType,
}

/// A deliberately wrong static file server on 127.0.0.1 (port 0), one connection at a
/// time, `Connection: close`; stops when dropped.
struct StaticServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StaticServer {
    fn start(listener: TcpListener, root: PathBuf, fault: Fault) -> StaticServer {
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(s) = stream {
                    answer(s, &root, fault);
                }
            }
        });
        StaticServer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(stream: TcpStream, root: &Path, fault: Fault) {
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if let Some(r) = lower.strip_prefix("range: bytes=") {
            let (a, b) = r.trim().split_once('-').unwrap_or(("0", ""));
            range = Some((a.parse::<usize>().unwrap_or(0), b.parse::<usize>().ok()));
        }
    }
    let mut out = &stream;
    let Ok(body) = std::fs::read(root.join(path.trim_start_matches('/'))) else {
        let _ = out
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let ext = path.rsplit('.').next().unwrap_or("");
    let mime = match (fault, ext) {
        (Fault::WrongType, _) => "text/plain",
        (_, "mp3") => "audio/mpeg",
        (_, "m4a") => "audio/x-m4a",
        (_, "xml") => "application/rss+xml",
        (_, "png") => "image/png",
        (_, "jpg") => "image/jpeg",
        (_, "torrent") => "application/x-bittorrent",
        (_, "json") => "application/json",
        (_, "vtt") => "text/vtt",
        _ => "application/octet-stream",
    };
    let head = match range.filter(|_| fault != Fault::NoRange) {
        Some((a, b)) => {
            let b = b.unwrap_or(body.len() - 1).min(body.len() - 1);
            let part = &body[a..=b];
            let head = format!(
                "HTTP/1.1 206 Partial Content\r\nContent-Type: {mime}\r\nAccept-Ranges: bytes\r\nContent-Range: bytes {a}-{b}/{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len(),
                part.len()
            );
            let _ = out.write_all(head.as_bytes());
            let _ = out.write_all(part);
            return;
        }
        None => format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {mime}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        ),
    };
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&body);
}

/// The clean show published for a static server on a port bound first, then served.
fn on_static_server(fault: Fault) -> (Show, StaticServer) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let show = fixed_example().with_trackers(&[]).with_yaml(
        EXAMPLE_BASE_URL,
        &format!("base_url: http://127.0.0.1:{port}/"),
    );
    show.publish();
    let server = StaticServer::start(listener, show.public(), fault);
    (show, server)
}

#[test]
fn online_a_host_without_range_support_is_an_error_for_every_enclosure() {
    let (show, _server) = on_static_server(Fault::NoRange);
    let (code, f) = check(&show, &["--online"]);
    for ep in [WELCOME, SWARM_BASICS, BONUS, LISTENER_QUESTIONS] {
        assert_found(&f, "online-range", "error", ep);
    }
    assert!(of_rule(&f, "online-content-type").is_empty(), "{f:#?}");
    assert!(of_rule(&f, "online-length").is_empty(), "{f:#?}");
    assert_eq!(code, 2);
}

#[test]
fn online_a_host_with_wrong_content_types_is_named_per_url() {
    let (show, _server) = on_static_server(Fault::WrongType);
    let (code, f) = check(&show, &["--online"]);
    assert_found(&f, "online-content-type", "error", "/feed.xml");
    assert_found(&f, "online-content-type", "error", WELCOME);
    assert_found(&f, "online-content-type", "error", "cover.png");
    assert_found(&f, "online-content-type", "warning", ".torrent");
    assert!(of_rule(&f, "online-range").is_empty(), "{f:#?}");
    assert_eq!(code, 2);
}

#[test]
fn online_a_stale_upload_is_a_warning() {
    let (show, _server) = on_static_server(Fault::NoRange);
    // The local build moves on; the host keeps the old files.
    write_notes(&show, SWARM_BASICS, "Edited after the upload.\n");
    let public = show.public();
    let old_feed = std::fs::read(public.join("feed.xml")).expect("feed");
    show.publish();
    std::fs::write(public.join("feed.xml"), old_feed).expect("restore the old feed");
    let (_, f) = check(&show, &["--online"]);
    assert_found(&f, "online-stale", "warning", "/feed.xml");
}

#[test]
fn every_offline_rule_id_is_documented() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README");
    for rule in OFFLINE_RULES.iter().chain(&[
        "media",
        "config",
        "online-unreachable",
        "online-status",
        "online-content-type",
        "online-length",
        "online-range",
        "online-stale",
        "online-tracker",
    ]) {
        assert!(
            readme.contains(&format!("`{rule}`")),
            "README lacks `{rule}`"
        );
    }
}

#[test]
fn notes_that_are_not_utf8_text_are_a_media_error_naming_the_file() {
    let show = clean_show();
    std::fs::write(
        show.episodes().join("bonus-behind-the-scenes.md"),
        b"caf\xe9\n",
    )
    .expect("write");
    let (code, f) = check(&show, &[]);
    assert_found(&f, "media", "error", "bonus-behind-the-scenes.md");
    assert_eq!(code, 2);
    let out = show.podseed(&["publish"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bonus-behind-the-scenes.md"));
}

#[test]
fn online_a_tracker_that_does_not_track_our_torrents_is_named() {
    // Another show's tracker: the same audio cut in other pieces, so other info hashes.
    let other = Served::start(
        Show::example()
            .with_yaml("  piece_length: auto", "  piece_length: 32768")
            .with_serve(Serve::tracker()),
    );
    let tracker = format!("http://{}/announce", other.server.http);
    let udp = free_udp_port();
    let show = fixed_example()
        .served_from_loopback(std::slice::from_ref(&tracker))
        .with_serve(Serve::tracker().set("udp_tracker", &format!("127.0.0.1:{udp}")));
    show.publish();
    let _server = Server::start(&show);
    let (code, f) = check(&show, &["--online"]);
    let wrong = of_rule(&f, "online-tracker");
    assert_eq!(
        wrong.len(),
        4,
        "one per episode, only for the other tracker: {f:#?}"
    );
    assert!(
        wrong.iter().all(|x| x["place"] == tracker.as_str()),
        "{f:#?}"
    );
    assert_eq!(code, 2);
}

#[test]
fn an_opus_episode_is_flagged_for_apple_an_m4a_is_not() {
    let show = clean_show();
    std::fs::copy(
        fixture("short.opus"),
        show.episodes().join("2026-03-05-opus.opus"),
    )
    .expect("copy opus");
    let (code, f) = check(&show, &[]);
    assert_found(&f, "enclosure-not-apple", "warning", "2026-03-05-opus.opus");
    assert_eq!(of_rule(&f, "enclosure-not-apple").len(), 1, "{f:#?}");
    assert_eq!(code, 1);
}

/// Issue 12's end to end: a show of MP3, M4A, Opus and MP4 video episodes with Markdown
/// notes, published and served by `podseed serve`, checked online: every URL, Range and
/// tracker answers right, and the one finding left is that Apple does not play Opus.
#[test]
fn every_format_with_notes_checks_clean_online_against_serve() {
    require!(Tool::Ffmpeg);
    let udp = free_udp_port();
    // The Opus fixture's embedded picture is 300 px: the show's cover stands in.
    let show = fixed_example()
        .with_yaml(
            "episodes:\n",
            "episodes:\n  - file: 2026-03-05-opus.opus\n    image: ../cover.png\n",
        )
        .served_from_loopback(&[])
        .with_serve(Serve::tracker().set("udp_tracker", &format!("127.0.0.1:{udp}")));
    let eps = show.episodes();
    std::fs::copy(fixture("short.opus"), eps.join("2026-03-05-opus.opus")).expect("opus");
    ffmpeg(
        &eps,
        "-f lavfi -i testsrc=s=160x120:d=3:r=10 -f lavfi -i sine=d=3 -c:v libx264 -preset ultrafast -c:a aac -shortest -metadata title=Video -metadata date=2026-03-06",
        &["2026-03-06-video.mp4"],
    );
    for (stem, notes) in [
        ("2026-03-05-opus", "The **Opus** edition.\n"),
        ("2026-03-06-video", "A short *video* episode.\n"),
        (
            "2026-03-01-listener-questions",
            "Your questions, [answered](https://seedbox.test/q).\n",
        ),
    ] {
        std::fs::write(eps.join(format!("{stem}.md")), notes).expect("notes");
    }
    let summary = show.publish();
    assert_eq!(summary.episodes().len(), 6, "{:?}", summary.0);
    let types: Vec<&str> = summary
        .episodes()
        .iter()
        .filter_map(|e| e["mime_type"].as_str())
        .collect();
    for t in ["audio/mpeg", "audio/x-m4a", "audio/ogg", "video/mp4"] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
    let _server = Server::start(&show);
    let (code, f) = check(&show, &["--online"]);
    assert_eq!(of_rule(&f, "enclosure-not-apple").len(), 1, "{f:#?}");
    assert_eq!(f.len(), 1, "nothing else: {f:#?}");
    assert_eq!(code, 1);
}
