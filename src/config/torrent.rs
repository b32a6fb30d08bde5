//! The `torrent:` section: extra trackers, the piece length and the web seed switch,
//! with their defaults and checks. It does not build torrents (that is
//! `publish::metainfo`), and the built-in tracker's own URLs come from `serve:`.

use serde_norway::Value;
use url::Url;

use super::check::{kind, Checker, Fields};

/// Torrent settings.
#[derive(Debug, Clone)]
pub struct TorrentSettings {
    /// Extra announce URLs, one tier each, after the built-in tracker's.
    pub trackers: Vec<String>,
    /// A fixed piece length, or None for the automatic rule.
    pub piece_length: Option<u64>,
    /// Whether torrents carry the episode's HTTP URL as a BEP 19 web seed.
    pub web_seed: bool,
}

impl Default for TorrentSettings {
    fn default() -> Self {
        TorrentSettings {
            trackers: Vec::new(),
            piece_length: None,
            web_seed: true,
        }
    }
}

/// Reads `torrent:` from the top-level mapping; every key left out keeps its default.
pub(super) fn read_torrent(c: &mut Checker, f: &mut Fields<'_>) -> TorrentSettings {
    let mut settings = TorrentSettings::default();
    let Some((v, p)) = f.get("torrent") else {
        return settings;
    };
    let mut t = Fields::new(c, v, &p);
    for (v, p) in t.list(c, "trackers") {
        let Some(s) = v.as_str() else {
            c.problem(&p, format!("expected a tracker URL, found {}", kind(v)));
            continue;
        };
        match Url::parse(s) {
            // UDP has no default port; port 0 reaches nobody.
            Ok(u) if u.port() == Some(0) || (u.scheme() == "udp" && u.port().is_none()) => c
                .problem(
                    &p,
                    format!("{s:?} has no port a client can reach; write the tracker's port, as in udp://host:6969"),
                ),
            Ok(u) if matches!(u.scheme(), "http" | "https" | "udp") && u.host().is_some() => {
                if !settings.trackers.iter().any(|x| x == s) {
                    settings.trackers.push(s.to_string());
                }
            }
            _ => c.problem(
                &p,
                format!("{s:?} is not a tracker URL; expected http(s)://host/announce or udp://host:port"),
            ),
        }
    }
    if let Some((v, pl)) = t.get("piece_length") {
        match v {
            Value::String(s) if s == "auto" => {}
            _ => match v.as_u64() {
                Some(n) if n.is_power_of_two() && (16 * 1024..=16 * 1024 * 1024).contains(&n) => {
                    settings.piece_length = Some(n)
                }
                _ => c.problem(
                    &pl,
                    "expected auto or a power of two from 16384 (16 KiB) to 16777216 (16 MiB)",
                ),
            },
        }
    }
    if let Some(b) = t.boolean(c, "web_seed") {
        settings.web_seed = b;
    }
    t.finish(c);
    settings
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{dir_with_episode, parse_in, MINIMAL};

    #[test]
    fn trackers_are_deduplicated_and_piece_length_bounded() {
        let d = dir_with_episode();
        let text = format!(
            "{MINIMAL}torrent:\n  trackers: [udp://t.example:80, udp://t.example:80, https://t2.example/announce]\n  piece_length: 262144\n  web_seed: false\n"
        );
        let c = parse_in(d.path(), &text).expect("valid");
        assert_eq!(
            c.torrent.trackers,
            ["udp://t.example:80", "https://t2.example/announce"]
        );
        assert_eq!(c.torrent.piece_length, Some(262_144));
        assert!(!c.torrent.web_seed);
        let text = format!("{MINIMAL}torrent:\n  piece_length: 33554432\n  trackers: [ftp://x]\n");
        let err = parse_in(d.path(), &text).expect_err("bad").to_string();
        assert!(err.contains("torrent.piece_length: expected auto"), "{err}");
        assert!(
            err.contains("torrent.trackers[0]: \"ftp://x\" is not a tracker URL"),
            "{err}"
        );
    }

    #[test]
    fn tracker_urls_need_a_port_clients_can_reach() {
        let d = dir_with_episode();
        for bad in [
            "udp://nohost",
            "udp://t.example:0",
            "http://t.example:0/announce",
        ] {
            let text = format!("{MINIMAL}torrent:\n  trackers: [\"{bad}\"]\n");
            let err = parse_in(d.path(), &text).expect_err(bad).to_string();
            assert!(err.contains("torrent.trackers[0]"), "{bad}: {err}");
            assert!(err.contains("port"), "{bad}: {err}");
        }
        let text = format!("{MINIMAL}torrent:\n  trackers: [\"http://t.example/announce\"]\n");
        assert!(
            parse_in(d.path(), &text).is_ok(),
            "the scheme's port is fine for HTTP"
        );
    }
}
