//! The third-party programs some tests drive (aria2c, mktorrent, ffprobe, ffmpeg, lame,
//! python3-libtorrent, coturn's STUN client, nginx, Caddy, curl, openssl, rsync, git,
//! systemd-analyze, node with npm bittorrent-tracker, headless Chromium with Node and the
//! npm packages of package-lock.json, unshare), and `require!`: a test that lacks one prints
//! a SKIP line and
//! passes, except under CI=true where the missing tool fails it.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A program a test needs beside podseed.
#[derive(Clone, Copy, Debug)]
pub enum Tool {
    Aria2c,
    Mktorrent,
    Ffprobe,
    /// ffmpeg, which makes M4A, MP4 and Opus episodes for the format tests.
    Ffmpeg,
    Lame,
    /// Debian's python3-libtorrent, imported by /usr/bin/python3.
    Libtorrent,
    /// `turnutils_stunclient`, the STUN client in Debian's coturn package.
    Stunclient,
    /// Debian's nginx, as a static host for the published folder and a reverse proxy.
    Nginx,
    /// Debian's Caddy, as a reverse proxy.
    Caddy,
    /// curl, an HTTPS client that skips certificate checks on request.
    Curl,
    /// openssl, to make a self-signed certificate.
    Openssl,
    /// rsync, which the CI workflow example deploys with.
    Rsync,
    /// git, for a podcaster's repository and its fresh checkouts.
    Git,
    /// `systemd-analyze`, which checks the systemd unit example offline.
    SystemdAnalyze,
    /// Debian's chromium, driven headless by tests/browser/*.mjs.
    Chromium,
    /// Node with the packages `npm ci` installs from package-lock.json (webtorrent for the
    /// page, ws for the DevTools driver).
    NpmPackages,
    /// `unshare` allowed to make user and network namespaces (the browser tests' network).
    Unshare,
    /// Node.js with npm `bittorrent-tracker` installed in tests/interop (`npm ci`).
    NodeTrackerClient,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Aria2c => "aria2c",
            Tool::Mktorrent => "mktorrent",
            Tool::Ffprobe => "ffprobe",
            Tool::Ffmpeg => "ffmpeg",
            Tool::Lame => "lame",
            Tool::Libtorrent => "python3-libtorrent",
            Tool::Stunclient => "turnutils_stunclient",
            Tool::Nginx => "nginx",
            Tool::Caddy => "caddy",
            Tool::Curl => "curl",
            Tool::Openssl => "openssl",
            Tool::Rsync => "rsync",
            Tool::Git => "git",
            Tool::SystemdAnalyze => "systemd-analyze",
            Tool::Chromium => "chromium",
            Tool::NpmPackages => "node with `npm ci` run in the repository",
            Tool::Unshare => "unshare -rn (user namespaces)",
            Tool::NodeTrackerClient => {
                "node with tests/interop's npm packages (npm ci --prefix tests/interop)"
            }
        }
    }

    fn installed(self) -> bool {
        let probe = match self {
            Tool::Libtorrent => Command::new("/usr/bin/python3")
                .args(["-c", "import libtorrent"])
                .output(),
            // /usr/sbin is not on every user's PATH.
            Tool::Nginx => Command::new(nginx_path()).arg("-v").output(),
            Tool::NpmPackages => {
                let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
                if !repo
                    .join("node_modules/webtorrent/dist/webtorrent.min.js")
                    .is_file()
                {
                    return false;
                }
                Command::new("node")
                    .args(["-e", "require.resolve('ws')"])
                    .current_dir(repo)
                    .output()
            }
            Tool::Unshare => Command::new("unshare").args(["-rn", "true"]).output(),
            Tool::NodeTrackerClient => {
                let installed = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/interop/node_modules/bittorrent-tracker/package.json");
                if !installed.is_file() {
                    return false;
                }
                Command::new("node").arg("--version").output()
            }
            _ => Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {}", self.name()))
                .output(),
        };
        probe.is_ok_and(|o| o.status.success())
    }
}

/// The nginx binary: Debian's, else whichever is on PATH.
pub fn nginx_path() -> &'static str {
    if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

/// Whether every tool in `tools` is installed. When one is missing, prints a SKIP line for
/// `test` and returns false, except under CI=true where a missing tool fails the test.
pub fn have_tools(test: &str, tools: &[Tool]) -> bool {
    for &tool in tools {
        if !tool.installed() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: {} is required under CI=true (install it: .ci/run does)",
                tool.name()
            );
            skip(test, &format!("{} not installed", tool.name()));
            return false;
        }
    }
    true
}

/// Prints `SKIP test: why` where it is seen: straight to the stderr handle, as libtest
/// captures eprintln! of passing tests.
pub fn skip(test: &str, why: &str) {
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("SKIP {test}: {why}\n").as_bytes(),
    );
}

/// The test function's name from the type name of an item declared inside it
/// (`seeder::some_test::here` → `some_test`), so that a test is named only once.
pub fn test_name_from(item_path: &str) -> &str {
    // An async test's body is a closure inside the function: skip that segment.
    let path = item_path.trim_end_matches("::here");
    let path = path.trim_end_matches("::{{closure}}");
    path.rsplit("::").next().unwrap_or(path)
}

/// The name of the enclosing test function.
macro_rules! test_name {
    () => {{
        fn here() {}
        $crate::common::tools::test_name_from(std::any::type_name_of_val(&here))
    }};
}
pub(crate) use test_name;

/// `require!(Tool::Aria2c, ...)` at the top of a test: returns from it (after a SKIP line)
/// when a tool is missing; a missing tool fails the test under CI=true.
macro_rules! require {
    ($($tool:expr),+ $(,)?) => {
        if !$crate::common::tools::have_tools($crate::common::test_name!(), &[$($tool),+]) {
            return;
        }
    };
}
pub(crate) use require;

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
    .stdout(Stdio::null());
    c
}

/// aria2c downloading `what` into `dir` in the background, giving up after 30 s without
/// progress, with an info log beside `dir`.
pub fn aria2c(dir: &Path, what: impl AsRef<std::ffi::OsStr>, extra: &[&str]) -> Download {
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

/// A running aria2c, with the log it writes beside its download folder.
pub struct Download {
    child: Child,
    log: std::path::PathBuf,
}

impl Download {
    /// Waits for the download to succeed; on failure the panic carries the ends of aria2c's
    /// log and of the server's (`serve.log` beside the download folder), so a failure in CI
    /// can be read without rerunning it.
    pub fn wait_ok(mut self, what: &str) {
        let status = self.child.wait().expect("wait");
        if status.success() {
            return;
        }
        let serve_log = self
            .log
            .parent()
            .map(|d| d.join("serve.log"))
            .unwrap_or_default();
        panic!(
            "{what}: aria2c exited with {status}\n--- aria2c log ---\n{}\n--- serve.log ---\n{}",
            tail(&self.log),
            tail(&serve_log)
        );
    }
}

impl Drop for Download {
    fn drop(&mut self) {
        // Only our own child, and only if the test left it running (a panic elsewhere).
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The last 60 lines of a log file (empty when there is none).
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// Runs ffmpeg quietly in `dir` with `args` (split at spaces) then `more` (kept whole:
/// paths and values with spaces), insisting on success.
pub fn ffmpeg(dir: &Path, args: &str, more: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args.split_whitespace())
        .args(more)
        .current_dir(dir)
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg {args} {more:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
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

/// Runs `command` (its stderr captured) until it exits or `secs` pass (then it is killed
/// and the test fails, naming `what`); its exit status and stderr. Stderr is read on a
/// thread as it comes, so a chatty child never blocks on a full pipe.
pub fn run_with_deadline(
    mut command: Command,
    secs: u64,
    what: &str,
) -> (std::process::ExitStatus, String) {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let mut pipe = child.stderr.take().expect("stderr piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
        text
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish in {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    (status, reader.join().unwrap_or_default())
}
