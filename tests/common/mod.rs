//! Shared helpers for the integration tests: run the real binary, copy the example, find
//! third-party tools (SKIP when missing, but a failure under CI=true).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `podseed ARGS` in `dir`.
pub fn podseed(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podseed"))
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run podseed")
}

/// Runs podseed and insists on success; returns stdout.
pub fn podseed_ok(dir: &Path, args: &[&str]) -> String {
    let out = podseed(dir, args);
    assert!(
        out.status.success(),
        "podseed {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A temp folder holding a copy of the shipped example (podcast.yaml + examples/).
pub fn example_copy() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    copy_tree(&repo().join("examples"), &d.path().join("examples"));
    std::fs::copy(repo().join("podcast.yaml"), d.path().join("podcast.yaml")).expect("copy");
    d
}

/// Copies a folder recursively.
pub fn copy_tree(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.expect("walk");
        let rel = e.path().strip_prefix(from).expect("prefix");
        let dest = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

/// Every file below `dir` (relative path → bytes).
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(dir)
                .expect("prefix")
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read(e.path()).expect("read"))
        })
        .collect()
}

/// Whether `tool` is on PATH. When it is missing, prints a SKIP line and returns false,
/// except under CI=true where a missing tool fails the test.
pub fn have_tool(tool: &str, test: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is required under CI=true (install it: .ci/run does)"
        );
        // Straight to the stderr handle: libtest captures eprintln! of passing tests, and
        // a skip must be visible.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("SKIP {test}: {tool} not installed\n").as_bytes(),
        );
    }
    found
}

/// An `aria2c` download of `what` (a .torrent path or a magnet link) into `dir`: quiet, no
/// seeding afterwards, and DHT, local peer discovery and peer exchange off so that only the
/// swarm under test counts; `extra` options come after these (a later option wins).
pub fn aria2c_command(dir: &Path, what: impl AsRef<std::ffi::OsStr>, extra: &[&str]) -> Command {
    let mut c = Command::new("aria2c");
    c.args([
        "--quiet=true",
        "--seed-time=0",
        "--enable-dht=false",
        "--enable-dht6=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
    ])
    .args(extra)
    .arg("--dir")
    .arg(dir)
    .arg(what)
    .stdout(std::process::Stdio::null());
    c
}

/// The decoded length of an MP3: the sum of ffprobe's packet durations.
pub fn ffprobe_decoded_secs(path: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "a",
            "-show_entries",
            "packet=duration_time",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(out.status.success(), "ffprobe failed on {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse::<f64>().ok())
        .sum()
}

/// A free loopback TCP port (bound, then released for a server to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A free loopback UDP port.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The example's podcast.yaml made to be served from `base` (`http://127.0.0.1:PORT/`):
/// base_url there, `trackers` instead of the public one, and a `serve:` section appended.
pub fn loopback_yaml(dir: &Path, base: &str, trackers: &[String], serve: &str) -> String {
    let yaml = std::fs::read_to_string(dir.join("podcast.yaml")).expect("yaml");
    let list = if trackers.is_empty() {
        "  trackers: []\n".to_string()
    } else {
        let items: String = trackers.iter().map(|t| format!("    - {t}\n")).collect();
        format!("  trackers:\n{items}")
    };
    let yaml = yaml
        .replace("https://podcast.example.com/seedbox/", base)
        .replace(
            "  trackers:\n    - udp://tracker.opentrackr.org:1337/announce\n",
            &list,
        );
    format!("{yaml}serve:\n{serve}")
}

/// Drops an example episode from disk (`examples/episodes/FILE`) and its entry from
/// `podcast.yaml`'s episodes list, as a podcaster removing it would.
pub fn remove_episode(dir: &Path, file: &str) {
    std::fs::remove_file(dir.join("examples/episodes").join(file)).expect("rm");
    let yaml = std::fs::read_to_string(dir.join("podcast.yaml")).expect("yaml");
    let start = yaml
        .find(&format!("  - file: {file}\n"))
        .expect("episode entry");
    // The entry ends at the next episode, or at the next top-level key.
    let rest = &yaml[start + 1..];
    let end = rest
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .find(|&i| {
            let line = &rest[i..];
            line.starts_with("  - ") || line.starts_with(|c: char| !c.is_whitespace())
        })
        .map_or(yaml.len(), |i| start + 1 + i);
    std::fs::write(
        dir.join("podcast.yaml"),
        format!("{}{}", &yaml[..start], &yaml[end..]),
    )
    .expect("write yaml");
}
