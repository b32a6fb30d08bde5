//! `podcast.yaml`: its schema, every default and every check, in one place.
//!
//! The file is parsed once (serde_norway) into a YAML value, then read field by field into
//! typed structs, collecting every problem instead of stopping at the first; each problem
//! names `file:LINE:COL`, the field path and what is expected. Later stages take [`Config`]
//! and never look at YAML again. This module does not touch media files, except to check
//! that the ones it names exist.

mod categories;
mod check;
mod episodes;
mod paths;
mod position;
mod serve;
mod torrent;

use std::fmt;
use std::path::{Path, PathBuf};

use serde_norway::Value;
use url::Url;
use uuid::Uuid;

pub use categories::APPLE_CATEGORIES;
pub use position::{Position, PositionIndex};

use check::{kind, Checker, Fields};
use episodes::read_episodes;
pub use episodes::{parse_date, transcript_type, EpisodeConfig, EpisodeType, PLAUSIBLE_YEARS};
use paths::{as_directory, check_output_is_separate, existing_file, join_dir};
pub use paths::{join_url, normalize_rel};
use serve::read_serve;
pub use serve::ServeSettings;
use torrent::read_torrent;
pub use torrent::TorrentSettings;

/// The commented starter file that `podseed init` writes.
pub const STARTER_YAML: &str = include_str!("starter.yaml");

/// A problem found in the config, located as precisely as the YAML allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The config file as the user named it.
    pub file: String,
    /// Line and column, when known.
    pub position: Option<Position>,
    /// Field path such as `episodes[2].date`; empty for the whole document.
    pub field: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(p) = self.position {
            write!(f, ":{}:{}", p.line, p.column)?;
        }
        if self.field.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.field, self.message)
        }
    }
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("cannot read {}: {source} (run `podseed init` to create one, or pass -c FILE)", .path.display())]
    Read {
        /// The path tried.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was read but has problems; all of them are listed.
    #[error("{}", format_problems(.0))]
    Invalid(Vec<Problem>),
}

fn format_problems(problems: &[Problem]) -> String {
    let mut s = format!(
        "{} problem{} in the config:",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        s.push_str("\n  ");
        s.push_str(&p.to_string());
    }
    s
}

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file.
    pub path: PathBuf,
    /// Show-level metadata.
    pub show: Show,
    /// Where episode MP3s are read from.
    pub episodes_dir: PathBuf,
    /// Where the site is written.
    pub output_dir: PathBuf,
    /// User templates overriding the built-in ones.
    pub templates_dir: Option<PathBuf>,
    /// Torrent settings.
    pub torrent: TorrentSettings,
    /// `podseed serve` settings.
    pub serve: ServeSettings,
    /// Per-episode metadata from the `episodes:` list, in file order.
    pub episodes: Vec<EpisodeConfig>,
}

/// Show (channel) metadata.
#[derive(Debug, Clone)]
pub struct Show {
    /// Show title.
    pub title: String,
    /// Show description (HTML allowed).
    pub description: String,
    /// Where the output folder is served; always ends with `/`.
    pub base_url: Url,
    /// Where episode MP3s are served; always ends with `/`.
    pub media_base_url: Url,
    /// Language code such as `en` or `en-us`.
    pub language: String,
    /// `itunes:author`.
    pub author: String,
    /// `itunes:owner`.
    pub owner: Option<Owner>,
    /// Show artwork, a local file copied to the output root.
    pub image: Option<PathBuf>,
    /// Apple categories.
    pub categories: Vec<Category>,
    /// `itunes:explicit`.
    pub explicit: bool,
    /// `itunes:type`.
    pub kind: ShowType,
    /// Copyright line.
    pub copyright: Option<String>,
    /// The show's website; defaults to base_url.
    pub link: Url,
    /// `podcast:locked`.
    pub locked: bool,
    /// `podcast:funding` links.
    pub funding: Vec<Funding>,
    /// `podcast:guid`, pinned in the config or derived from the feed URL.
    pub guid: Uuid,
    /// Whether the config pins `guid` (else it follows base_url).
    pub guid_pinned: bool,
}

/// `itunes:owner`.
#[derive(Debug, Clone)]
pub struct Owner {
    /// Owner name.
    pub name: String,
    /// Owner email (Apple uses it to verify ownership).
    pub email: String,
}

/// One Apple category with its subcategories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// Top-level name.
    pub name: String,
    /// Subcategory names.
    pub subcategories: Vec<String>,
}

/// A `podcast:funding` link.
#[derive(Debug, Clone)]
pub struct Funding {
    /// Where listeners can support the show.
    pub url: Url,
    /// Link text.
    pub text: String,
}

/// `itunes:type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowType {
    /// Newest first; the default.
    Episodic,
    /// Oldest first, numbered.
    Serial,
}

impl ShowType {
    /// The value written into the feed.
    pub fn as_str(self) -> &'static str {
        match self {
            ShowType::Episodic => "episodic",
            ShowType::Serial => "serial",
        }
    }
}

impl Config {
    /// Reads and validates the config at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Validates `text` as the config at `path` (relative paths resolve against its folder).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let value: Value = match serde_norway::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                let position = e.location().map(|l| Position {
                    line: l.line(),
                    column: l.column(),
                });
                return Err(ConfigError::Invalid(vec![Problem {
                    file,
                    position,
                    field: String::new(),
                    message: format!("not valid YAML: {}", strip_location(&e.to_string())),
                }]));
            }
        };
        let mut checker = Checker::new(file, text);
        let root = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let config = read_config(&mut checker, &value, path, &root);
        match config {
            Some(c) if checker.is_clean() => Ok(c),
            _ => Err(ConfigError::Invalid(checker.into_problems())),
        }
    }

    /// The URL of `feed.xml`.
    pub fn feed_url(&self) -> Url {
        join_url(&self.show.base_url, "feed.xml")
    }
}

/// The `podcast:guid` rule: UUIDv5 of the feed URL without scheme and trailing slashes.
pub fn podcast_guid_for(feed_url: &Url) -> Uuid {
    const NAMESPACE: Uuid = Uuid::from_u128(0xead4c236_bf58_58c6_a2c6_a6b28d128cb6);
    let s = feed_url.as_str();
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    Uuid::new_v5(&NAMESPACE, s.trim_end_matches('/').as_bytes())
}

fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn read_config(c: &mut Checker, value: &Value, path: &Path, root: &Path) -> Option<Config> {
    if !matches!(value, Value::Mapping(_)) {
        c.problem(
            "",
            format!(
                "expected a mapping of fields (title:, base_url:, …), found {}",
                kind(value)
            ),
        );
        return None;
    }
    let mut f = Fields::new(c, value, "");
    let title = f.required_text(c, "title");
    let description = f.required_text(c, "description");
    let base_url = match f.url(c, "base_url") {
        Some(u) => Some(as_directory(u)),
        None => {
            if f.missing("base_url") {
                c.push(
                    "base_url",
                    None,
                    "missing: this field is required (where the output folder is served, e.g. https://example.com/podcast/)".into(),
                );
            }
            None
        }
    };
    let media_base_url = f.url(c, "media_base_url").map(as_directory);
    let language = f.text(c, "language").unwrap_or_else(|| "en".to_string());
    if !is_language_code(&language) {
        c.problem(
            "language",
            format!("{language:?} is not a language code; expected e.g. en or en-us"),
        );
    }
    let author = f.text(c, "author");
    let owner = f.get("owner").and_then(|(v, p)| {
        let mut o = Fields::new(c, v, &p);
        let name = o.required_text(c, "name");
        let email = o.required_text(c, "email");
        if let Some(e) = &email {
            if !is_email(e) {
                c.problem(
                    &format!("{p}.email"),
                    format!("{e:?} is not an email address"),
                );
            }
        }
        o.finish(c);
        Some(Owner {
            name: name?,
            email: email?,
        })
    });
    let image = f
        .text(c, "image")
        .and_then(|t| existing_file(c, "image", root, &t));
    let mut categories: Vec<Category> = Vec::new();
    for (v, p) in f.list(c, "categories") {
        let Some(spec) = v.as_str() else {
            c.problem(
                &p,
                format!(
                    "expected text like \"Technology\" or \"Arts > Books\", found {}",
                    kind(v)
                ),
            );
            continue;
        };
        match categories::lookup(spec) {
            Ok((name, sub)) => {
                let cat = match categories.iter_mut().find(|c| c.name == name) {
                    Some(cat) => cat,
                    None => {
                        categories.push(Category {
                            name: name.to_string(),
                            subcategories: Vec::new(),
                        });
                        categories.last_mut()?
                    }
                };
                if let Some(s) = sub {
                    if !cat.subcategories.iter().any(|x| x == s) {
                        cat.subcategories.push(s.to_string());
                    }
                }
            }
            Err(msg) => c.problem(&p, msg),
        }
    }
    let explicit = f.boolean(c, "explicit").unwrap_or(false);
    let kind_text = f.text(c, "type");
    let show_kind = match kind_text.as_deref() {
        None | Some("episodic") => ShowType::Episodic,
        Some("serial") => ShowType::Serial,
        Some(other) => {
            c.problem(
                "type",
                format!("{other:?} is not a show type; expected episodic or serial"),
            );
            ShowType::Episodic
        }
    };
    let copyright = f.text(c, "copyright");
    let link = f.url(c, "link");
    let locked = f.boolean(c, "locked").unwrap_or(false);
    let mut funding = Vec::new();
    for (v, p) in f.list(c, "funding") {
        let mut ff = Fields::new(c, v, &p);
        let url = ff.url(c, "url");
        let text = ff.text(c, "text");
        if ff.absent("url") {
            c.problem(&p, "missing url");
        }
        ff.finish(c);
        if let Some(url) = url {
            funding.push(Funding {
                text: text.unwrap_or_else(|| "Support the show".to_string()),
                url,
            });
        }
    }
    let guid = f.text(c, "guid").and_then(|g| match Uuid::parse_str(&g) {
        Ok(u) => Some(u),
        Err(_) => {
            c.problem(
                "guid",
                format!("{g:?} is not a UUID; expected e.g. 917393e3-1b1e-5cef-ace4-edaa54e1f810, or remove it to derive one from the feed URL"),
            );
            None
        }
    });
    let episodes_dir = root.join(
        f.text(c, "episodes_dir")
            .unwrap_or_else(|| "episodes".into()),
    );
    let output_dir = root.join(f.text(c, "output_dir").unwrap_or_else(|| "public".into()));
    let templates_dir = f.text(c, "templates_dir").map(|t| root.join(t));
    if let Some(t) = &templates_dir {
        if !t.is_dir() {
            c.problem("templates_dir", format!("{} is not a folder", t.display()));
        }
    }
    let torrent = read_torrent(c, &mut f);
    let serve = read_serve(c, &mut f);
    let episodes_value = f.get("episodes");
    f.finish(c);
    if locked && owner.is_none() {
        c.problem(
            "locked",
            "locked: true needs owner.email (podcast:locked names the owner)",
        );
    }

    let episodes = match episodes_value {
        Some((v, p)) => read_episodes(c, v, &p, &episodes_dir),
        None => Vec::new(),
    };
    if !episodes_dir.is_dir() {
        c.problem(
            "episodes_dir",
            format!(
                "{} is not a folder; create it and put the episode MP3s there",
                episodes_dir.display()
            ),
        );
    }
    check_output_is_separate(
        c,
        &output_dir,
        &episodes_dir,
        &image,
        &templates_dir,
        &episodes,
    );

    let base_url = base_url?;
    let media_base_url = media_base_url.unwrap_or_else(|| join_dir(&base_url, "episodes"));
    let feed = join_url(&base_url, "feed.xml");
    Some(Config {
        path: path.to_path_buf(),
        show: Show {
            title: title?,
            description: description?,
            link: link.unwrap_or_else(|| base_url.clone()),
            guid_pinned: guid.is_some(),
            guid: guid.unwrap_or_else(|| podcast_guid_for(&feed)),
            base_url,
            media_base_url,
            language,
            author: author.unwrap_or_default(),
            owner,
            image,
            categories,
            explicit,
            kind: show_kind,
            copyright,
            locked,
            funding,
        },
        episodes_dir,
        output_dir,
        templates_dir,
        torrent,
        serve,
        episodes,
    })
}

fn is_language_code(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or_default();
    (2..=3).contains(&first.len())
        && first.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((user, host)) => {
            !user.is_empty() && host.contains('.') && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod fixture {
    //! A folder with one episode and the smallest valid config, shared by the section tests.

    use std::path::Path;

    use super::{Config, ConfigError};

    pub(super) fn dir_with_episode() -> tempfile::TempDir {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(d.path().join("episodes")).expect("mkdir");
        std::fs::write(d.path().join("episodes/one.mp3"), b"x").expect("write");
        d
    }

    pub(super) fn parse_in(d: &Path, text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, &d.join("podcast.yaml"))
    }

    pub(super) const MINIMAL: &str =
        "title: Show\ndescription: About\nbase_url: https://example.com/pod\n";
}

#[cfg(test)]
mod tests {
    use super::fixture::{dir_with_episode, parse_in, MINIMAL};
    use super::*;

    #[test]
    fn minimal_config_gets_defaults() {
        let d = dir_with_episode();
        let c = parse_in(d.path(), MINIMAL).expect("valid");
        assert_eq!(c.show.base_url.as_str(), "https://example.com/pod/");
        assert_eq!(
            c.show.media_base_url.as_str(),
            "https://example.com/pod/episodes/"
        );
        assert_eq!(c.show.language, "en");
        assert_eq!(c.show.kind, ShowType::Episodic);
        assert!(c.torrent.web_seed);
        assert_eq!(c.torrent.piece_length, None);
        assert_eq!(c.output_dir, d.path().join("public"));
    }

    #[test]
    fn podcast_guid_follows_the_namespace_rule() {
        // The example from the podcast namespace spec.
        let u = Url::parse("https://mp3s.nashownotes.com/pc20rss.xml").expect("url");
        assert_eq!(
            podcast_guid_for(&u).to_string(),
            "917393e3-1b1e-5cef-ace4-edaa54e1f810"
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_position() {
        let d = dir_with_episode();
        let text = "title: Show\ndescription: About\nbase_url: ftp://x\ncategories: [Tech]\ncolour: red\ntorrent:\n  piece_length: 1000\nepisodes:\n  - file: missing.mp3\n    date: May 1\n  - file: one.mp3\n    guid: a\n  - file: one.mp3\n    guid: a\n";
        let Err(ConfigError::Invalid(problems)) = parse_in(d.path(), text) else {
            panic!("expected problems");
        };
        let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        let all = lines.join("\n");
        for needle in [
            "podcast.yaml:3:11: base_url: expected an http:// or https:// URL",
            "podcast.yaml:4:14: categories[0]: unknown Apple category \"Tech\"",
            "podcast.yaml:5:1: colour: unknown field",
            "podcast.yaml:7:17: torrent.piece_length: expected auto or a power of two",
            "podcast.yaml:9:11: episodes[0].file: ",
            "podcast.yaml:10:11: episodes[0].date: \"May 1\" is not a date",
            "episodes[2].file: \"one.mp3\" is already listed at episodes[1]",
            "episodes[2].guid: guid \"a\" is already used by episodes[1]",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let d = dir_with_episode();
        let err = parse_in(d.path(), "title: [a\nb: c\n").expect_err("broken");
        let msg = err.to_string();
        assert!(msg.contains("podcast.yaml:"), "{msg}");
        assert!(msg.contains("not valid YAML"), "{msg}");
    }

    #[test]
    fn wrong_types_and_missing_required_fields() {
        let d = dir_with_episode();
        let text = "title: Show\nexplicit: maybe\nowner: {name: Jo}\nepisodes:\n  - file: one.mp3\n    season: two\n";
        let Err(ConfigError::Invalid(problems)) = parse_in(d.path(), text) else {
            panic!("expected problems");
        };
        let all: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        let all = all.join("\n");
        for needle in [
            "description: missing",
            "base_url: missing",
            "explicit: expected true or false",
            "owner.email: missing",
            "episodes[0].season: expected a whole number",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }

    #[test]
    fn starter_config_is_valid() {
        let d = dir_with_episode();
        parse_in(d.path(), STARTER_YAML).expect("starter parses");
    }
}
