//! The `page:` section: the show page's browser player (listeners share episodes peer to
//! peer with WebTorrent), where its third-party script is installed, and the STUN servers the
//! page may use. Its defaults and checks only; finding and checking the installed files is
//! `publish::webtorrent`, the page itself `publish::site`.

use std::path::{Path, PathBuf};

use super::check::{kind, Checker, Fields};

/// `page:` settings.
#[derive(Debug, Clone)]
pub struct PageSettings {
    /// Whether the page's player streams episodes peer to peer (when WebTorrent is installed).
    pub browser_player: bool,
    /// The folder holding WebTorrent's `webtorrent.min.js` and `sw.min.js`, when set;
    /// else `node_modules/webtorrent/dist` beside the config is looked for.
    pub webtorrent_dir: Option<PathBuf>,
    /// STUN servers (`stun:host:port`) the page uses in place of podseed's own.
    pub stun_servers: Vec<String>,
    /// Episodes on `index.html` and on each archive page after it (`archive/2.html`…).
    pub episodes_per_page: usize,
}

/// Episodes per list page unless `page.episodes_per_page` says otherwise: about a
/// megabyte of HTML at most, which a phone on a slow connection still loads quickly.
pub const DEFAULT_EPISODES_PER_PAGE: usize = 50;

/// The largest `page.episodes_per_page` allowed, so that no page grows without bound.
pub const MAX_EPISODES_PER_PAGE: u64 = 1000;

impl Default for PageSettings {
    fn default() -> Self {
        PageSettings {
            browser_player: true,
            webtorrent_dir: None,
            stun_servers: Vec::new(),
            episodes_per_page: DEFAULT_EPISODES_PER_PAGE,
        }
    }
}

/// Reads `page:` from the top-level mapping; every key left out keeps its default.
pub(super) fn read_page(c: &mut Checker, f: &mut Fields<'_>, root: &Path) -> PageSettings {
    let mut settings = PageSettings::default();
    let Some((v, p)) = f.get("page") else {
        return settings;
    };
    let mut pf = Fields::new(c, v, &p);
    if let Some(b) = pf.boolean(c, "browser_player") {
        settings.browser_player = b;
    }
    if let Some(dir) = pf.text(c, "webtorrent_dir") {
        let dir = root.join(dir);
        if !dir.is_dir() {
            let path = pf.field_path("webtorrent_dir");
            c.problem(
                &path,
                format!(
                    "{} is not a folder; run `npm ci` where podseed's package.json is and name its node_modules/webtorrent/dist here",
                    dir.display()
                ),
            );
        }
        settings.webtorrent_dir = Some(dir);
    }
    for (v, p) in pf.list(c, "stun_servers") {
        match v.as_str() {
            Some(s) if is_stun_url(s) => {
                if !settings.stun_servers.iter().any(|x| x == s) {
                    settings.stun_servers.push(s.to_string());
                }
            }
            Some(s) => c.problem(
                &p,
                format!("{s:?} is not a STUN server; expected stun:host:port or stuns:host:port"),
            ),
            None => c.problem(&p, format!("expected a STUN URL, found {}", kind(v))),
        }
    }
    if let Some(n) = pf.number(c, "episodes_per_page") {
        if (1..=MAX_EPISODES_PER_PAGE).contains(&n) {
            settings.episodes_per_page = n as usize;
        } else {
            let path = pf.field_path("episodes_per_page");
            c.problem(
                &path,
                format!("expected a number of episodes from 1 to {MAX_EPISODES_PER_PAGE}"),
            );
        }
    }
    pf.finish(c);
    settings
}

/// `stun:host[:port]` or `stuns:host[:port]` (RFC 7064), with a host and no spaces.
fn is_stun_url(s: &str) -> bool {
    let rest = s.strip_prefix("stun:").or_else(|| s.strip_prefix("stuns:"));
    let Some(rest) = rest else {
        return false;
    };
    let host = rest.rsplit_once(':').map_or(rest, |(h, port)| {
        if port.parse::<u16>().is_ok_and(|p| p > 0) {
            h
        } else {
            ""
        }
    });
    !host.is_empty() && !rest.contains(|c: char| c.is_whitespace() || c == '/' || c == '?')
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{dir_with_episode, parse_in, MINIMAL};
    use super::DEFAULT_EPISODES_PER_PAGE;

    #[test]
    fn defaults_turn_the_player_on() {
        let d = dir_with_episode();
        let c = parse_in(d.path(), MINIMAL).expect("valid");
        assert!(c.page.browser_player);
        assert_eq!(c.page.webtorrent_dir, None);
        assert!(c.page.stun_servers.is_empty());
        assert_eq!(c.page.episodes_per_page, DEFAULT_EPISODES_PER_PAGE);
    }

    #[test]
    fn episodes_per_page_is_bounded() {
        let d = dir_with_episode();
        let text = format!("{MINIMAL}page:\n  episodes_per_page: 20\n");
        let c = parse_in(d.path(), &text).expect("valid");
        assert_eq!(c.page.episodes_per_page, 20);
        for bad in ["0", "1001", "many"] {
            let text = format!("{MINIMAL}page:\n  episodes_per_page: {bad}\n");
            let err = parse_in(d.path(), &text).expect_err("bad").to_string();
            assert!(err.contains("page.episodes_per_page: expected"), "{err}");
        }
    }

    #[test]
    fn the_player_can_be_turned_off_and_pointed_at_an_install() {
        let d = dir_with_episode();
        std::fs::create_dir_all(d.path().join("js/dist")).expect("mkdir");
        let text = format!(
            "{MINIMAL}page:\n  browser_player: false\n  webtorrent_dir: js/dist\n  stun_servers: [\"stun:stun.example.net:3478\", \"stuns:s.example.net\"]\n"
        );
        let c = parse_in(d.path(), &text).expect("valid");
        assert!(!c.page.browser_player);
        assert_eq!(c.page.webtorrent_dir, Some(d.path().join("js/dist")));
        assert_eq!(
            c.page.stun_servers,
            ["stun:stun.example.net:3478", "stuns:s.example.net"]
        );
    }

    #[test]
    fn bad_page_keys_are_named() {
        let d = dir_with_episode();
        let text = format!(
            "{MINIMAL}page:\n  browser_player: sometimes\n  webtorrent_dir: nowhere\n  stun_servers: [\"https://x\", \"stun:\", \"stun:h:0\", 5]\n  colour: red\n"
        );
        let err = parse_in(d.path(), &text).expect_err("bad").to_string();
        for needle in [
            "page.browser_player: expected true or false",
            "page.webtorrent_dir: ",
            "is not a folder; run `npm ci`",
            "page.stun_servers[0]: \"https://x\" is not a STUN server",
            "page.stun_servers[1]: \"stun:\" is not a STUN server",
            "page.stun_servers[2]: \"stun:h:0\" is not a STUN server",
            "page.stun_servers[3]: expected a STUN URL",
            "page.colour: unknown field",
        ] {
            assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
        }
    }
}
