//! The show page's browser player: our own `player.js` and WebTorrent's two browser files,
//! found where `npm ci` installed them and checked against the SHA-256 pinned here, so the
//! output holds exactly the release `package-lock.json` pins. WebTorrent is never part of
//! this repository, and there is no CDN fallback: its streaming service worker must come
//! from the page's own origin, so without the files the page plays plain HTTP.
//! No disk writes here (`output` writes what this returns).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::Config;

use super::output::{Content, OutputFile};
use super::PublishError;

/// Our player script, written by us, copied into the output beside the page.
pub const PLAYER_JS: &str = include_str!("../../templates/player.js");

/// The output path of [`PLAYER_JS`].
pub const PLAYER_REL: &str = "player.js";

/// The WebTorrent release `package-lock.json` pins (a unit test keeps the two in step).
pub const WEBTORRENT_VERSION: &str = "2.8.5";

/// The files the page needs from WebTorrent's `dist/`, with the SHA-256 of that release.
/// Both go to the output's root: a service worker controls only the pages under its own
/// folder, and the page is at the root.
pub const WEBTORRENT_FILES: [(&str, &str); 2] = [
    (
        "webtorrent.min.js",
        "98f65d27e64f5872427544e53566bba011ace28af867ac44fc8fc08c2f92bcae",
    ),
    (
        "sw.min.js",
        "9aa1f71d26b4d4eb51786baa575309ca550fdfd9c96842fe25a3b643f2173da2",
    ),
];

/// Where WebTorrent is looked for when `page.webtorrent_dir` is not set, relative to the
/// config's folder.
pub const DEFAULT_DIR: &str = "node_modules/webtorrent/dist";

/// What the page gets of the browser player.
#[derive(Debug, Clone)]
pub enum Player {
    /// The player is on: these files go into the output.
    On(Vec<OutputFile>),
    /// Turned off in the config.
    Off,
    /// On, but WebTorrent is not installed where it was looked for: plain HTTP, and a hint.
    NotInstalled(PathBuf),
}

/// The folder WebTorrent's scripts are read from: `page.webtorrent_dir`, else
/// [`DEFAULT_DIR`] beside the config.
pub fn dir(config: &Config) -> PathBuf {
    match &config.page.webtorrent_dir {
        Some(d) => d.clone(),
        None => config
            .path
            .parent()
            .unwrap_or(Path::new(""))
            .join(DEFAULT_DIR),
    }
}

/// Decides whether the page gets the player, reading and checking WebTorrent's files.
pub fn player(config: &Config) -> Result<Player, PublishError> {
    if !config.page.browser_player {
        return Ok(Player::Off);
    }
    let dir = dir(config);
    if !dir.join(WEBTORRENT_FILES[0].0).is_file() && config.page.webtorrent_dir.is_none() {
        return Ok(Player::NotInstalled(dir));
    }
    let mut files = Vec::with_capacity(WEBTORRENT_FILES.len() + 1);
    for (name, sha256) in WEBTORRENT_FILES {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).map_err(|source| PublishError::Io {
            path: path.clone(),
            source,
        })?;
        check_pinned(&path, &bytes, sha256)?;
        files.push(OutputFile {
            rel: name.to_string(),
            content: Content::Bytes(bytes),
        });
    }
    files.push(OutputFile {
        rel: PLAYER_REL.to_string(),
        content: Content::Bytes(PLAYER_JS.as_bytes().to_vec()),
    });
    Ok(Player::On(files))
}

/// The one-line hint publish prints when the player is on but WebTorrent is missing.
pub fn not_installed_hint(dir: &Path) -> String {
    format!(
        "the page plays episodes over plain HTTP: WebTorrent is not installed in {} (run `npm ci` beside podcast.yaml with podseed's package.json and package-lock.json so listeners share episodes peer to peer; `page: {{browser_player: false}}` silences this)",
        dir.display()
    )
}

/// Refuses a file whose SHA-256 is not the pinned one, naming it and what to do.
fn check_pinned(path: &Path, bytes: &[u8], expected: &str) -> Result<(), PublishError> {
    let found = crate::bt::hex(&Sha256::digest(bytes));
    if found == expected {
        return Ok(());
    }
    Err(PublishError::Vendored {
        path: path.to_path_buf(),
        message: format!(
            "is not the file of webtorrent {WEBTORRENT_VERSION} that podseed pins (SHA-256 {found}, expected {expected}); run `npm ci` with podseed's package-lock.json to install that exact release, or set `page: {{browser_player: false}}`"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_in(dir: &Path, page: &str) -> Config {
        std::fs::create_dir_all(dir.join("episodes")).expect("mkdir");
        let text =
            format!("title: Show\ndescription: About\nbase_url: https://example.com/pod\n{page}");
        Config::parse(&text, &dir.join("podcast.yaml")).expect("config")
    }

    /// A fake install whose files carry the given bytes, with the pins swapped for theirs
    /// in the check below (the real files are 200 kB of someone else's code).
    fn install(dir: &Path) {
        let dist = dir.join(DEFAULT_DIR);
        std::fs::create_dir_all(&dist).expect("mkdir");
        for (name, _) in WEBTORRENT_FILES {
            std::fs::write(dist.join(name), format!("// {name}")).expect("write");
        }
    }

    #[test]
    fn the_player_is_off_when_configured_so() {
        let d = tempfile::tempdir().expect("tempdir");
        install(d.path());
        let c = config_in(d.path(), "page:\n  browser_player: false\n");
        assert!(matches!(player(&c).expect("player"), Player::Off));
    }

    #[test]
    fn without_an_install_the_page_plays_http_with_a_hint() {
        let d = tempfile::tempdir().expect("tempdir");
        let c = config_in(d.path(), "");
        let Player::NotInstalled(dir) = player(&c).expect("player") else {
            panic!("expected NotInstalled");
        };
        assert_eq!(dir, d.path().join(DEFAULT_DIR));
        let hint = not_installed_hint(&dir);
        assert!(hint.contains("npm ci"), "{hint}");
        assert!(!hint.contains('\n'), "one line: {hint}");
    }

    #[test]
    fn a_file_that_is_not_the_pinned_release_is_refused_by_name() {
        let d = tempfile::tempdir().expect("tempdir");
        install(d.path());
        let c = config_in(d.path(), "");
        let err = player(&c).expect_err("not the pinned bytes");
        let msg = err.to_string();
        assert!(msg.contains("webtorrent.min.js"), "{msg}");
        assert!(msg.contains("npm ci"), "{msg}");
        assert!(msg.contains(WEBTORRENT_FILES[0].1), "{msg}");
        assert!(err.is_user_error());
    }

    #[test]
    fn a_configured_folder_without_the_files_is_an_error() {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(d.path().join("js")).expect("mkdir");
        let c = config_in(d.path(), "page:\n  webtorrent_dir: js\n");
        let msg = player(&c).expect_err("missing").to_string();
        assert!(msg.contains("webtorrent.min.js"), "{msg}");
    }

    #[test]
    fn the_pinned_bytes_pass_and_are_copied_with_our_player() {
        let bytes = b"// webtorrent.min.js";
        let pin = crate::bt::hex(&Sha256::digest(bytes));
        check_pinned(Path::new("x"), bytes, &pin).expect("pinned bytes pass");
        assert!(check_pinned(Path::new("x"), b"other", &pin).is_err());
    }

    /// The repository's own install (after `npm ci`), when there is one, is the pinned one.
    #[test]
    fn the_repository_install_matches_the_pins() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dist = repo.join(DEFAULT_DIR);
        if !dist.is_dir() {
            return;
        }
        for (name, sha256) in WEBTORRENT_FILES {
            let bytes = std::fs::read(dist.join(name)).expect("read");
            check_pinned(&dist.join(name), &bytes, sha256).expect("npm ci installed the pin");
        }
        let d = tempfile::tempdir().expect("tempdir");
        let c = config_in(
            d.path(),
            &format!("page:\n  webtorrent_dir: {}\n", dist.display()),
        );
        let Player::On(files) = player(&c).expect("player") else {
            panic!("expected the player on");
        };
        let names: Vec<&str> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(names, ["webtorrent.min.js", "sw.min.js", "player.js"]);
    }

    #[test]
    fn the_pinned_version_is_the_lockfiles() {
        let lock = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("package-lock.json"),
        )
        .expect("package-lock.json");
        let lock: serde_json::Value = serde_json::from_str(&lock).expect("json");
        assert_eq!(
            lock["packages"]["node_modules/webtorrent"]["version"],
            WEBTORRENT_VERSION
        );
        assert_eq!(
            lock["packages"][""]["dependencies"]["webtorrent"],
            WEBTORRENT_VERSION
        );
    }
}
