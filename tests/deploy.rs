//! The deployment recipes in `examples/deploy/`, run for real rather than only written:
//! the systemd unit checked by `systemd-analyze` and its command line started; the nginx
//! and Caddy examples (ports, certificates and the upstream rewritten, nothing else) in
//! front of `podseed serve` with HTTPS, passing feeds, Range requests, the listener's own
//! address and WebSocket upgrades; the CI workflow's publish and deploy steps run on a
//! show. One behaviour per test.

// Test code reports by panicking; helpers outside #[test] functions too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const EPISODE: &str = "2026-02-01-swarm-basics.mp3";

/// The text of `examples/deploy/NAME`.
fn example(name: &str) -> String {
    std::fs::read_to_string(repo().join("examples/deploy").join(name)).expect("example")
}

/// Replaces `from` (which must be there) by `to`.
fn rewrite(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the example lacks {from:?}");
    text.replace(from, to)
}

/// A reply fetched with curl.
struct Fetched {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// `curl` of `url` over HTTP/1.1 from the loopback address `source` (so the proxy sees a
/// client other than itself), the server's certificate not checked, within `secs`.
fn curl(url: &str, source: &str, headers: &[&str], secs: u32) -> Fetched {
    let dir = tempfile::tempdir().expect("tmp");
    let (head, body) = (dir.path().join("head"), dir.path().join("body"));
    let mut c = Command::new("curl");
    c.args(["-sk", "--http1.1", "--interface", source, "--max-time"])
        .arg(secs.to_string())
        .arg("-D")
        .arg(&head)
        .arg("-o")
        .arg(&body);
    for h in headers {
        c.args(["-H", h]);
    }
    let _ = c.arg(url).status().expect("run curl");
    let head = std::fs::read_to_string(&head).unwrap_or_default();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Fetched {
        status,
        headers,
        body: std::fs::read(&body).unwrap_or_default(),
    }
}

/// A self-signed certificate for 127.0.0.1 in `dir`: (certificate, key).
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(ok.success());
    (cert, key)
}

fn pct(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

/// The compact peers of a bencoded announce reply, as `IP:PORT` (IPv4 only).
fn compact_peers(body: &[u8]) -> Vec<String> {
    let Some(at) = body.windows(5).position(|w| w == b"peers") else {
        return Vec::new();
    };
    let rest = &body[at + 5..];
    let colon = rest.iter().position(|&b| b == b':').expect("peers length");
    let len: usize = std::str::from_utf8(&rest[..colon])
        .expect("digits")
        .parse()
        .expect("length");
    rest[colon + 1..colon + 1 + len]
        .chunks(6)
        .map(|p| {
            format!(
                "{}.{}.{}.{}:{}",
                p[0],
                p[1],
                p[2],
                p[3],
                u16::from_be_bytes([p[4], p[5]])
            )
        })
        .collect()
}

/// What every proxy example must pass through to `podseed serve` at `base` (`https://…/`):
/// the feed as published, a Range of an episode, the listener's own address to the tracker
/// (two listeners on 127.0.0.2 and 127.0.0.3, each seeing the other), and a WebSocket
/// upgrade of `/announce` (the browsers' tracker).
fn assert_proxied(base: &str, show: &Show) {
    let feed = curl(&format!("{base}feed.xml"), "127.0.0.2", &[], 10);
    assert_eq!(feed.status, 200);
    assert_eq!(
        feed.body,
        std::fs::read(show.public().join("feed.xml")).expect("feed")
    );

    let mp3 = show.source(EPISODE);
    let range = curl(
        &format!("{base}episodes/{EPISODE}"),
        "127.0.0.2",
        &["Range: bytes=1000-1999"],
        10,
    );
    assert_eq!(range.status, 206);
    assert_eq!(
        range.headers["content-range"],
        format!("bytes 1000-1999/{}", mp3.len())
    );
    assert_eq!(range.body, &mp3[1000..2000]);

    let hash = show.published_info_hashes()[0];
    let announce = |peer: u8, source: &str| {
        let url = format!(
            "{base}announce?info_hash={}&peer_id={}&port={}&uploaded=0&downloaded=0&left=5&compact=1",
            pct(&hash),
            pct(&[peer; 20]),
            7000 + u16::from(peer)
        );
        let r = curl(&url, source, &[], 10);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        compact_peers(&r.body)
    };
    announce(1, "127.0.0.2");
    let seen = announce(2, "127.0.0.3");
    assert!(
        seen.contains(&"127.0.0.2:7001".to_string()),
        "the tracker saw the proxy, not the listener: {seen:?}"
    );

    // A browser's WebSocket to the tracker (RFC 6455's sample key and its accept value).
    let upgrade = curl(
        &format!("{base}announce"),
        "127.0.0.2",
        &[
            "Connection: Upgrade",
            "Upgrade: websocket",
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        ],
        3,
    );
    assert_eq!(
        upgrade.status, 101,
        "no WebSocket upgrade through the proxy"
    );
    assert_eq!(
        upgrade.headers["sec-websocket-accept"],
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_and_its_command_serves_the_show() {
    require!(Tool::SystemdAnalyze);
    let show = Show::example().with_serve(Serve::tracker());
    show.publish();
    let dir = tempfile::tempdir().expect("tmp");
    let unit = example("podseed.service");
    let unit = rewrite(
        &unit,
        "/usr/local/bin/podseed",
        env!("CARGO_BIN_EXE_podseed"),
    );
    let unit = rewrite(&unit, "/srv/podcast", &show.path().display().to_string());
    let file = dir.path().join("podseed.service");
    std::fs::write(&file, &unit).expect("write unit");

    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&file)
        .output()
        .expect("systemd-analyze");
    let said = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success() && said.trim().is_empty(), "{said}");

    // The hardening the unit claims, as systemd scores it (0 best, 10 worst; "OK" < 4).
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(&file)
        .output()
        .expect("systemd-analyze security");
    let text = String::from_utf8_lossy(&security.stdout);
    let score: f64 = text
        .split("Overall exposure level for podseed.service:")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    assert!(score <= 2.0, "exposure {score}:\n{text}");

    // The unit's own command line serves the show and stops cleanly on SIGTERM.
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let mut words = exec.split_whitespace();
    let ready = dir.path().join("ready.json");
    let mut child = Command::new(words.next().expect("program"))
        .args(words)
        .arg("--ready-file")
        .arg(&ready)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the unit's command");
    wait_until(10, "serve ready", || ready.exists());
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&ready).expect("ready")).expect("json");
    let http: SocketAddr = info["http"].as_str().expect("http").parse().expect("addr");
    assert_eq!(http_request(http, "GET", "/feed.xml", &[]).status, 200);
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    let mut status = None;
    wait_until(15, "serve to stop", || {
        status = child.try_wait().expect("wait");
        status.is_some()
    });
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}

#[test]
fn the_nginx_example_passes_feeds_ranges_client_addresses_and_websockets() {
    require!(Tool::Nginx, Tool::Curl, Tool::Openssl);
    let show = Show::example().with_serve(Serve::tracker().set("trust_proxy", "true"));
    show.publish();
    let server = Server::start(&show);
    let dir = tempfile::tempdir().expect("tmp");
    let (cert, key) = self_signed(dir.path());
    let (http_port, https_port) = (free_port(), free_port());
    let conf = example("nginx.conf");
    let conf = rewrite(
        &conf,
        "listen 80;",
        &format!("listen 127.0.0.1:{http_port};"),
    );
    let conf = rewrite(&conf, "listen [::]:80;", "");
    let conf = rewrite(
        &conf,
        "listen 443 ssl http2;",
        &format!("listen 127.0.0.1:{https_port} ssl http2;"),
    );
    let conf = rewrite(&conf, "listen [::]:443 ssl http2;", "");
    let conf = rewrite(
        &conf,
        "server 127.0.0.1:8080;",
        &format!("server {};", server.http),
    );
    let conf = rewrite(
        &conf,
        "/etc/letsencrypt/live/podcast.example.com/fullchain.pem",
        &cert.display().to_string(),
    );
    let conf = rewrite(
        &conf,
        "/etc/letsencrypt/live/podcast.example.com/privkey.pem",
        &key.display().to_string(),
    );
    let https: SocketAddr = format!("127.0.0.1:{https_port}").parse().expect("addr");
    let _nginx = Nginx::start(dir.path(), &conf, https);

    // Plain HTTP is sent to HTTPS.
    let plain = curl(
        &format!("http://127.0.0.1:{http_port}/feed.xml"),
        "127.0.0.2",
        &[],
        10,
    );
    assert_eq!(plain.status, 301);
    assert_proxied(&format!("https://127.0.0.1:{https_port}/"), &show);
}

#[test]
fn the_caddy_example_passes_feeds_ranges_client_addresses_and_websockets() {
    require!(Tool::Caddy, Tool::Curl);
    let show = Show::example().with_serve(Serve::tracker().set("trust_proxy", "true"));
    show.publish();
    let server = Server::start(&show);
    let dir = tempfile::tempdir().expect("tmp");
    let (http_port, https_port) = (free_port(), free_port());
    let d = dir.path().display();
    // Caddy's own test settings: no admin endpoint, no trust store, a certificate from its
    // internal CA for 127.0.0.1, every file under the test's folder.
    let global = format!(
        "{{\n\tadmin off\n\tskip_install_trust\n\tauto_https disable_redirects\n\
         \thttp_port {http_port}\n\thttps_port {https_port}\n\tstorage file_system {d}/data\n}}\n"
    );
    let site = example("Caddyfile");
    let site = rewrite(
        &site,
        "podcast.example.com {",
        &format!("https://127.0.0.1:{https_port} {{\n\ttls internal"),
    );
    let site = rewrite(&site, "127.0.0.1:8080", &server.http.to_string());
    let file = dir.path().join("Caddyfile");
    std::fs::write(&file, format!("{global}{site}")).expect("write Caddyfile");
    let mut caddy = Command::new("caddy")
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&file)
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("caddy.log")).expect("log"))
        .spawn()
        .expect("start caddy");
    let https: SocketAddr = format!("127.0.0.1:{https_port}").parse().expect("addr");
    let up = std::time::Instant::now();
    while std::net::TcpStream::connect(https).is_err() {
        if let Ok(Some(status)) = caddy.try_wait() {
            let log = std::fs::read_to_string(dir.path().join("caddy.log")).unwrap_or_default();
            panic!("caddy exited with {status}:\n{log}");
        }
        assert!(
            up.elapsed() < Duration::from_secs(20),
            "caddy never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Caddy listens before its internal CA has issued the site's certificate: wait until a
    // request gets through (once it failed with no answer on a loaded machine).
    let base = format!("https://127.0.0.1:{https_port}/");
    wait_until(30, "caddy to answer over TLS", || {
        curl(&format!("{base}feed.xml"), "127.0.0.2", &[], 5).status == 200
    });
    assert_proxied(&base, &show);
    let _ = caddy.kill();
    let _ = caddy.wait();
}

/// `git ARGS` in `dir`, which must succeed (no user config needed).
fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args([
            "-c",
            "user.name=Podcaster",
            "-c",
            "user.email=p@example.com",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "advice.detachedHead=false",
        ])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("git");
    assert!(ok.success(), "git {args:?} failed");
}

/// The `run:` script of the workflow step named `name`.
fn workflow_step(workflow: &serde_norway::Value, name: &str) -> String {
    workflow["jobs"]["publish"]["steps"]
        .as_sequence()
        .expect("steps")
        .iter()
        .find(|s| s["name"].as_str() == Some(name))
        .and_then(|s| s["run"].as_str())
        .unwrap_or_else(|| panic!("no step {name:?} with a run script"))
        .to_string()
}

/// Runs a workflow step's script as GitHub does (`bash -eo pipefail`), podseed on the PATH.
fn run_step(script: &str, dir: &Path, env: &[(&str, &str)]) -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_podseed"))
        .parent()
        .expect("bin dir");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("bash");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "step failed:\n{script}\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn the_ci_workflow_deploys_the_build_and_its_cache_skips_hashing_in_a_fresh_checkout() {
    require!(Tool::Git, Tool::Rsync);
    let workflow: serde_norway::Value =
        serde_norway::from_str(&example("github-publish.yml")).expect("workflow YAML");
    let (publish, deploy) = (
        workflow_step(&workflow, "Publish"),
        workflow_step(&workflow, "Deploy"),
    );
    // The podcaster's repository: the example show, committed.
    let show = Show::example();
    git(show.path(), &["init", "-q"]);
    git(show.path(), &["add", "."]);
    git(show.path(), &["commit", "-qm", "show"]);
    let work = tempfile::tempdir().expect("tmp");
    let server = work.path().join("srv/public");
    std::fs::create_dir_all(&server).expect("mkdir");
    let target = server.display().to_string();

    // First run: a fresh clone, no cache.
    let first = work.path().join("run1");
    git(
        work.path(),
        &["clone", "-q", &show.path().display().to_string(), "run1"],
    );
    let said = run_step(&publish, &first, &[]);
    assert!(said.contains("(4 new, 0 changed, 0 unchanged)"), "{said}");
    run_step(&deploy, &first, &[("DEPLOY_TARGET", &target)]);
    assert!(
        snapshot(&server) == snapshot(&first.join("public")),
        "the server's copy differs from the build"
    );

    // Second run: a new episode pushed, a new clone (every mtime new), the cache restored.
    show.add_episode("2026-03-01-late.mp3", &fixture("cbr-mpeg25.mp3"));
    git(show.path(), &["add", "."]);
    git(show.path(), &["commit", "-qm", "late episode"]);
    let second = work.path().join("run2");
    git(
        work.path(),
        &["clone", "-q", &show.path().display().to_string(), "run2"],
    );
    copy_tree(
        &first.join("public/.podseed"),
        &second.join("public/.podseed"),
    );
    let said = run_step(&publish, &second, &[]);
    assert!(
        said.contains("(1 new, 0 changed, 4 unchanged)"),
        "the restored cache was not used: {said}"
    );
    run_step(&deploy, &second, &[("DEPLOY_TARGET", &target)]);
    let deployed = snapshot(&server);
    assert!(deployed == snapshot(&second.join("public")));
    assert!(deployed.contains_key("episodes/2026-03-01-late.mp3"));
}
