//! A running `podseed serve`: the real binary started on a [`Show`] with `--ready-file`,
//! its HTTP, UDP tracker and peer addresses read from that file, its log kept beside the
//! show, and its own child process (by PID, never by name) stopped when dropped. Also the
//! plain HTTP/1.1 client the tests talk to it with.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::show::Show;
use super::tools::tail;

/// A running `podseed serve`; killed when dropped.
pub struct Server {
    child: Child,
    /// The HTTP address (tracker, web seed, stats).
    pub http: SocketAddr,
    udp: Option<SocketAddr>,
    peer: Option<SocketAddr>,
    log: PathBuf,
}

impl Server {
    /// `podseed serve` with the show's podcast.yaml, logging to `serve.log` beside it.
    pub fn start(show: &Show) -> Server {
        Self::start_with(show, "podcast.yaml", "serve.log")
    }

    /// `podseed serve -c CONFIG`, logging (at info) to `log` in the show's folder; waits up
    /// to 10 s for the ready file.
    // The child is waited for in Drop, which clippy's lint cannot see.
    #[allow(clippy::zombie_processes)]
    pub fn start_with(show: &Show, config: &str, log: &str) -> Server {
        let dir = show.path();
        let ready = dir.join(format!("{log}.ready.json"));
        let _ = std::fs::remove_file(&ready);
        let log = dir.join(log);
        let mut child = Command::new(env!("CARGO_BIN_EXE_podseed"))
            .args(["serve", "-c", config, "--ready-file"])
            .arg(&ready)
            .current_dir(dir)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("start serve");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                let v: Value = serde_json::from_str(&text).expect("ready JSON");
                let addr = |k: &str| v[k].as_str().map(|a| a.parse().expect("addr"));
                return Server {
                    http: addr("http").expect("http address"),
                    udp: addr("udp_tracker"),
                    peer: addr("peer"),
                    child,
                    log,
                };
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("serve did not become ready:\n{}", tail(&log));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The seeder's listening address.
    pub fn peer(&self) -> SocketAddr {
        self.peer.expect("serve runs a seeder")
    }

    /// The UDP tracker's address.
    pub fn udp(&self) -> SocketAddr {
        self.udp.expect("serve runs a UDP tracker")
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).expect("log")
    }

    /// `GET target` over a fresh connection.
    pub fn get(&self, target: &str) -> HttpReply {
        http_request(self.http, "GET", target, &[])
    }

    /// The `/stats` JSON.
    pub fn stats(&self) -> Value {
        serde_json::from_slice(&self.get("/stats").body).expect("stats JSON")
    }

    /// Sends SIGTERM to this server's own process.
    pub fn sigterm(&self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success());
    }

    /// Its exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("wait")
    }

    /// Waits for it to exit.
    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().expect("wait")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP reply: status, lowercase header names, and the body (de-chunked).
pub struct HttpReply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// One HTTP/1.1 request over a fresh connection, the target sent byte for byte.
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> HttpReply {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("send");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status");
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .get("transfer-encoding")
        .is_some_and(|t| t == "chunked")
    {
        body = dechunk(&body);
    }
    HttpReply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
}

/// A published show and the server serving it.
pub struct Served {
    pub show: Show,
    pub summary: super::show::Summary,
    pub server: Server,
}

impl Served {
    /// Publishes `show` (`publish --json`) and starts `podseed serve` on it.
    pub fn start(show: Show) -> Served {
        let summary = show.publish();
        let server = Server::start(&show);
        Served {
            show,
            summary,
            server,
        }
    }
}
