//! The `serve:` section: listeners, the public address, tracker and seeder limits, each
//! with its one default, and the checks on them. The tracker and the seeder take their
//! settings from [`ServeSettings`] by conversion (`TrackerConfig::from`,
//! `SeederConfig::from`), never by restating a default. It binds nothing and starts
//! nothing; that is `serve`'s work.

use std::net::SocketAddr;

use url::Url;

use super::check::{Checker, Fields};
use super::paths::{as_directory, join_url};

/// The `/stats.html` token; Debug never shows it, so no log or panic message can leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct StatsToken(pub String);

impl std::fmt::Debug for StatsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatsToken(…)")
    }
}

/// `serve:` settings: listeners, public address and tracker limits.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// HTTP listener (site, web seed, HTTP tracker, stats).
    pub http: SocketAddr,
    /// UDP tracker listener, or None when off.
    pub udp_tracker: Option<SocketAddr>,
    /// How the world reaches this box; the tracker URLs in torrents derive from it.
    pub public_url: Option<Url>,
    /// Seconds between announces.
    pub announce_interval: u32,
    /// Peers kept per torrent.
    pub max_peers_per_torrent: usize,
    /// Take the client address from X-Forwarded-For / X-Real-IP and honour `ip=`.
    pub trust_proxy: bool,
    /// Where HTTP requests are logged in the combined log format (off by default).
    pub access_log: AccessLog,
    /// Where the daily download counts are kept (None: `$STATE_DIRECTORY`, else `state/`
    /// beside the config).
    pub state_dir: Option<std::path::PathBuf>,
    /// The secret that opens `/stats.html` (None: the page is off).
    pub stats_token: Option<StatsToken>,
    /// Most HTTP connections at once.
    pub max_connections: usize,
    /// Most HTTP connections from one address.
    pub max_connections_per_ip: usize,
    /// Peers one address (one /64 for IPv6) may have in a torrent.
    pub max_peers_per_ip: usize,
    /// The seeder's listener, or None when off.
    pub peer: Option<SocketAddr>,
    /// The seeder's address as the world sees it, when public_url's host is not it.
    pub peer_public_addr: Option<SocketAddr>,
    /// Seeder unchoke slots (plus one optimistic).
    pub unchoke_slots: usize,
    /// Seeder peer connections at once.
    pub max_peer_connections: usize,
    /// Seeder peer connections per address.
    pub max_peer_connections_per_ip: usize,
    /// Upload limit of the seeder, bytes per second (0: none).
    pub max_upload_rate: u64,
    /// The seeder dials leechers that announce to the built-in tracker.
    pub connect_to_peers: bool,
    /// Announce seeded torrents on the DHT.
    pub dht: bool,
    /// DHT bootstrap nodes (`host:port`); empty for the public defaults.
    pub dht_bootstrap: Vec<String>,
    /// The WebTorrent (WebSocket) tracker on the HTTP listener's `/announce`.
    pub ws_tracker: bool,
    /// Seconds between a browser's announces.
    pub ws_announce_interval: u32,
    /// Most WebSocket tracker connections at once.
    pub ws_max_connections: usize,
    /// Most WebSocket tracker connections from one address.
    pub ws_max_connections_per_ip: usize,
    /// Browser peers kept per torrent.
    pub ws_max_peers_per_torrent: usize,
}

impl Default for ServeSettings {
    fn default() -> Self {
        ServeSettings {
            http: SocketAddr::from(([0, 0, 0, 0], 8080)),
            udp_tracker: Some(SocketAddr::from(([0, 0, 0, 0], 6969))),
            public_url: None,
            announce_interval: 1800,
            max_peers_per_torrent: 10_000,
            trust_proxy: false,
            access_log: AccessLog::Off,
            state_dir: None,
            stats_token: None,
            max_connections: 1024,
            max_connections_per_ip: 32,
            max_peers_per_ip: 16,
            // Dual stack where the host has IPv6 (serve falls back to 0.0.0.0 otherwise).
            peer: Some(SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 6881))),
            peer_public_addr: None,
            unchoke_slots: 8,
            max_peer_connections: 200,
            max_peer_connections_per_ip: 8,
            max_upload_rate: 0,
            connect_to_peers: true,
            dht: true,
            dht_bootstrap: Vec::new(),
            ws_tracker: true,
            ws_announce_interval: 120,
            ws_max_connections: 512,
            ws_max_connections_per_ip: 8,
            ws_max_peers_per_torrent: 1000,
        }
    }
}

impl ServeSettings {
    /// The STUN server browsers on the show's page should ask (RFC 7064 `stun:host:port`):
    /// `serve` answers STUN on the UDP tracker's port, at `public_url`'s host. None without
    /// a `public_url` or a UDP tracker.
    pub fn stun_url(&self) -> Option<String> {
        let host = self.public_url.as_ref()?.host_str()?;
        Some(format!("stun:{host}:{}", self.udp_tracker?.port()))
    }

    /// The built-in tracker's announce URLs (HTTP, then UDP, then WebSocket), when
    /// `public_url` is set.
    pub fn tracker_urls(&self) -> Vec<String> {
        let Some(public) = &self.public_url else {
            return Vec::new();
        };
        let http = join_url(public, "announce");
        let mut urls = vec![http.to_string()];
        if let (Some(udp), Some(host)) = (self.udp_tracker, public.host_str()) {
            urls.push(format!("udp://{host}:{}/announce", udp.port()));
        }
        // The same listener and path; browsers upgrade to a WebSocket there.
        let ws_scheme = if public.scheme() == "https" {
            "wss"
        } else {
            "ws"
        };
        let mut ws = http;
        if self.ws_tracker && ws.set_scheme(ws_scheme).is_ok() {
            urls.push(ws.to_string());
        }
        urls
    }
}

/// Reads `serve:` from the top-level mapping; every key left out keeps its default.
/// Where `serve` writes its access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLog {
    /// No access log.
    Off,
    /// Standard output (journald or a container's log collector takes it from there).
    Stdout,
    /// Appended to this file (relative paths are resolved against the config's folder).
    File(std::path::PathBuf),
}

pub(super) fn read_serve(c: &mut Checker, f: &mut Fields<'_>) -> ServeSettings {
    let mut s = ServeSettings::default();
    let Some((v, p)) = f.get("serve") else {
        return s;
    };
    let mut sf = Fields::new(c, v, &p);
    read_listeners(c, &mut sf, &mut s);
    if let Some(n) = sf.number(c, "max_upload_rate") {
        s.max_upload_rate = n;
    }
    if let Some(u) = sf.url(c, "public_url") {
        s.public_url = Some(as_directory(u));
    }
    read_limits(c, &mut sf, &mut s);
    read_peer_options(c, &mut sf, &mut s);
    if s.public_url.is_some() && s.udp_tracker.is_some_and(|a| a.port() == 0) {
        let path = sf.field_path("udp_tracker");
        c.problem(
            &path,
            "port 0 cannot be announced in torrents; with public_url set, give the UDP tracker a fixed port (or `off`)",
        );
    }
    sf.finish(c);
    s
}

/// The listening addresses; `off` turns a listener off (all but HTTP may be).
fn read_listeners(c: &mut Checker, sf: &mut Fields<'_>, s: &mut ServeSettings) {
    let addr = |c: &mut Checker, sf: &mut Fields<'_>, key: &'static str| {
        let text = sf.text(c, key)?;
        if text == "off" {
            return Some(None);
        }
        match text.parse::<SocketAddr>() {
            Ok(a) => Some(Some(a)),
            Err(_) => {
                let path = sf.field_path(key);
                c.problem(
                    &path,
                    format!("{text:?} is not an address; expected IP:PORT such as 0.0.0.0:8080 or [::]:8080"),
                );
                None
            }
        }
    };
    if let Some(a) = addr(c, sf, "http") {
        match a {
            Some(a) => s.http = a,
            None => {
                let path = sf.field_path("http");
                c.problem(&path, "the HTTP listener cannot be off");
            }
        }
    }
    if let Some(a) = addr(c, sf, "udp_tracker") {
        s.udp_tracker = a;
    }
    if let Some(a) = addr(c, sf, "peer") {
        s.peer = a;
    }
    if let Some(a) = addr(c, sf, "peer_public_addr") {
        s.peer_public_addr = a;
    }
}

/// Intervals and the caps on peers and connections.
fn read_limits(c: &mut Checker, sf: &mut Fields<'_>, s: &mut ServeSettings) {
    if let Some(n) = sf.small_number(c, "announce_interval") {
        if (1..=86_400).contains(&n) {
            s.announce_interval = n;
        } else {
            let path = sf.field_path("announce_interval");
            c.problem(&path, "expected seconds from 1 to 86400");
        }
    }
    if let Some(n) = sf.small_number(c, "ws_announce_interval") {
        if (10..=3600).contains(&n) {
            s.ws_announce_interval = n;
        } else {
            let path = sf.field_path("ws_announce_interval");
            c.problem(&path, "expected seconds from 10 to 3600");
        }
    }
    if let Some(n) = sf.small_number(c, "max_peers_per_torrent") {
        if n >= 1 {
            s.max_peers_per_torrent = n as usize;
        } else {
            let path = sf.field_path("max_peers_per_torrent");
            c.problem(&path, "expected at least 1");
        }
    }
    for (key, slot) in [
        ("max_connections", &mut s.max_connections),
        ("max_connections_per_ip", &mut s.max_connections_per_ip),
        ("max_peers_per_ip", &mut s.max_peers_per_ip),
        ("unchoke_slots", &mut s.unchoke_slots),
        ("max_peer_connections", &mut s.max_peer_connections),
        (
            "max_peer_connections_per_ip",
            &mut s.max_peer_connections_per_ip,
        ),
        ("ws_max_connections", &mut s.ws_max_connections),
        (
            "ws_max_connections_per_ip",
            &mut s.ws_max_connections_per_ip,
        ),
        ("ws_max_peers_per_torrent", &mut s.ws_max_peers_per_torrent),
    ] {
        if let Some(n) = sf.small_number(c, key) {
            if n >= 1 {
                *slot = n as usize;
            } else {
                let path = sf.field_path(key);
                c.problem(&path, "expected at least 1");
            }
        }
    }
}

/// How the seeder finds and treats peers: proxies, dialling, the DHT.
fn read_peer_options(c: &mut Checker, sf: &mut Fields<'_>, s: &mut ServeSettings) {
    if let Some(b) = sf.boolean(c, "trust_proxy") {
        s.trust_proxy = b;
    }
    if let Some(t) = sf.text(c, "access_log") {
        s.access_log = match t.as_str() {
            "off" => AccessLog::Off,
            "stdout" => AccessLog::Stdout,
            path => AccessLog::File(path.into()),
        };
    }
    if let Some(t) = sf.text(c, "state_dir") {
        s.state_dir = Some(t.into());
    }
    if let Some(t) = sf.text(c, "stats_token") {
        // A short token is guessable; the page shows a podcaster's numbers.
        if t.len() < 16 {
            c.problem(&sf.field_path("stats_token"), "use at least 16 characters");
        } else {
            s.stats_token = Some(StatsToken(t));
        }
    }
    if let Some(b) = sf.boolean(c, "connect_to_peers") {
        s.connect_to_peers = b;
    }
    if let Some(b) = sf.boolean(c, "dht") {
        s.dht = b;
    }
    if let Some(b) = sf.boolean(c, "ws_tracker") {
        s.ws_tracker = b;
    }
    for (v, p) in sf.list(c, "dht_bootstrap") {
        match v.as_str() {
            Some(node)
                if node
                    .rsplit_once(':')
                    .is_some_and(|(_, port)| port.parse::<u16>().is_ok()) =>
            {
                s.dht_bootstrap.push(node.to_string())
            }
            _ => c.problem(&p, "expected host:port, e.g. router.bittorrent.com:6881"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{dir_with_episode, parse_in, MINIMAL};
    use super::AccessLog;

    #[test]
    fn access_log_is_off_stdout_or_a_file_beside_the_config() {
        let d = dir_with_episode();
        let log = |v: &str| {
            parse_in(d.path(), &format!("{MINIMAL}serve:\n  access_log: {v}\n"))
                .expect("valid")
                .serve
                .access_log
        };
        assert_eq!(
            parse_in(d.path(), MINIMAL).expect("valid").serve.access_log,
            AccessLog::Off
        );
        assert_eq!(log("off"), AccessLog::Off);
        assert_eq!(log("stdout"), AccessLog::Stdout);
        assert_eq!(
            log("logs/access.log"),
            AccessLog::File(d.path().join("logs/access.log"))
        );
        assert_eq!(
            log("/var/log/p.log"),
            AccessLog::File("/var/log/p.log".into())
        );
    }

    #[test]
    fn state_dir_is_beside_the_config_and_a_stats_token_is_long() {
        let d = dir_with_episode();
        let serve = |v: &str| parse_in(d.path(), &format!("{MINIMAL}serve:\n{v}"));
        let s = serve("  state_dir: counts\n  stats_token: 0123456789abcdef\n")
            .expect("valid")
            .serve;
        assert_eq!(s.state_dir, Some(d.path().join("counts")));
        let token = s.stats_token.expect("token");
        assert_eq!(token.0, "0123456789abcdef");
        assert!(!format!("{token:?}").contains("0123"));
        let none = parse_in(d.path(), MINIMAL).expect("valid").serve;
        assert_eq!((none.state_dir, none.stats_token), (None, None));
        let err = serve("  stats_token: short\n")
            .expect_err("short")
            .to_string();
        assert!(err.contains("stats_token"), "{err}");
    }

    #[test]
    fn stun_url_needs_a_public_url_and_a_udp_tracker() {
        let d = dir_with_episode();
        let stun = |serve: &str| {
            parse_in(d.path(), &format!("{MINIMAL}serve:\n{serve}"))
                .expect("valid")
                .serve
                .stun_url()
        };
        assert_eq!(stun("  udp_tracker: 127.0.0.1:7000\n"), None);
        assert_eq!(
            stun("  udp_tracker: off\n  public_url: https://pod.example.com/\n"),
            None
        );
        assert_eq!(
            stun("  udp_tracker: \"[::]:6969\"\n  public_url: http://[2001:db8::1]:8080/\n")
                .as_deref(),
            Some("stun:[2001:db8::1]:6969")
        );
    }

    #[test]
    fn serve_settings_and_tracker_urls() {
        let d = dir_with_episode();
        let c = parse_in(d.path(), MINIMAL).expect("valid");
        assert_eq!(c.serve.http.to_string(), "0.0.0.0:8080");
        assert_eq!(
            c.serve.peer.map(|a| a.to_string()).as_deref(),
            Some("[::]:6881")
        );
        assert!(c.serve.tracker_urls().is_empty());
        let text = format!(
            "{MINIMAL}serve:\n  http: 127.0.0.1:0\n  udp_tracker: 127.0.0.1:7000\n  public_url: https://pod.example.com/x\n  announce_interval: 60\n"
        );
        let c = parse_in(d.path(), &text).expect("valid");
        assert_eq!(
            c.serve.tracker_urls(),
            [
                "https://pod.example.com/x/announce",
                "udp://pod.example.com:7000/announce",
                "wss://pod.example.com/x/announce"
            ]
        );
        assert_eq!(
            c.serve.stun_url().as_deref(),
            Some("stun:pod.example.com:7000")
        );
        // Plain HTTP gives ws://, with the port; `ws_tracker: false` leaves it out.
        let text = format!(
            "{MINIMAL}serve:\n  udp_tracker: off\n  public_url: http://10.0.0.5:8080/\n  ws_max_connections_per_ip: 2\n"
        );
        let c = parse_in(d.path(), &text).expect("valid");
        assert_eq!(c.serve.ws_max_connections_per_ip, 2);
        assert_eq!(
            c.serve.tracker_urls(),
            [
                "http://10.0.0.5:8080/announce",
                "ws://10.0.0.5:8080/announce"
            ]
        );
        let text = format!(
            "{MINIMAL}serve:\n  udp_tracker: off\n  public_url: http://10.0.0.5:8080/\n  ws_tracker: false\n"
        );
        let c = parse_in(d.path(), &text).expect("valid");
        assert_eq!(c.serve.tracker_urls(), ["http://10.0.0.5:8080/announce"]);
        let text = format!(
            "{MINIMAL}serve:\n  udp_tracker: off\n  http: nowhere\n  announce_interval: 0\n"
        );
        let err = parse_in(d.path(), &text).expect_err("bad").to_string();
        assert!(
            err.contains("serve.http: \"nowhere\" is not an address"),
            "{err}"
        );
        assert!(err.contains("serve.announce_interval"), "{err}");
    }
}
