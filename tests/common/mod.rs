//! Fixtures for the integration tests, shared by every `tests/*.rs` crate: a [`Show`] to
//! publish (a temp copy of the shipped example, edited by builder calls), a running
//! [`Server`] (the real `podseed serve` on loopback), a raw BitTorrent [`TestPeer`], and the
//! third-party [`Tool`]s some tests drive (`require!` skips without them, but fails under
//! CI=true).
//!
//! Not for assertions about behaviour: those stay in the test that names the behaviour.

#![allow(dead_code, unused_imports, unused_macros)]

pub mod nginx;
pub mod peer;
pub mod server;
pub mod show;
pub mod tools;

pub use nginx::Nginx;
pub use peer::{seeds, TestPeer};
pub use server::{http_request, HttpReply, Served, Server};
pub use show::{Serve, Show, Summary};
pub use tools::{
    aria2c, aria2c_command, ffmpeg, ffprobe_decoded_secs, run_with_deadline, skip, Tool,
};
pub(crate) use tools::{require, test_name};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file in `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
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

/// Writes `bytes` to `path` and sets its mtime to `mtime` (so only content checks notice).
pub fn write_keeping_mtime(path: &Path, bytes: &[u8], mtime: std::time::SystemTime) {
    std::fs::write(path, bytes).expect("write");
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(mtime))
        .expect("mtime");
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

/// Waits up to `secs` seconds for `ready` (polled every 100 ms), failing with `what`.
pub fn wait_until(secs: u64, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ready() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The 20 bytes of a 40-digit hex info hash.
pub fn unhex20(hex: &str) -> [u8; 20] {
    let v: Vec<u8> = (0..20)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    v.try_into().expect("20 bytes")
}
