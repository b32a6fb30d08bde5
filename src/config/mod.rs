//! `podcast.yaml` as one validated [`Config`]: the entry point ([`Config::load`]) and how
//! problems are reported. The file is parsed once into YAML, then each section is read by
//! its own file, which owns that section's schema, defaults and checks (`show`, `episodes`,
//! `torrent`, `serve`, `page`, `paths` for folders and URLs; `check` is the field-reading
//! plumbing). Every problem is collected, not just the first, and names `file:LINE:COL`, the
//! field and what is expected. Later stages take [`Config`] and never read YAML; nothing
//! here touches media beyond checking that the files it names exist.

mod categories;
mod check;
mod episodes;
mod feed;
mod page;
mod paths;
mod position;
mod serve;
mod show;
mod torrent;

use std::fmt;
use std::path::{Path, PathBuf};

use serde_norway::Value;
use url::Url;

pub use categories::APPLE_CATEGORIES;
pub use position::{Position, PositionIndex};

use check::{kind, Checker, Fields};
use episodes::read_episodes;
pub use episodes::{parse_date, transcript_type, EpisodeConfig, EpisodeType, PLAUSIBLE_YEARS};
use feed::read_feed;
pub use feed::FeedSettings;
use page::read_page;
pub use page::PageSettings;
pub use paths::image_extension;
use paths::{check_artwork, check_output_is_separate, check_sources_inside, resolved};
pub use paths::{join_url, normalize_rel};
use serve::read_serve;
pub use serve::{AccessLog, ServeSettings};
use show::ShowDraft;
pub use show::{podcast_guid_for, Category, Funding, Owner, Show, ShowType};
use torrent::read_torrent;
pub use torrent::TorrentSettings;

/// The commented starter file that `podseed init` writes.
pub const STARTER_YAML: &str = include_str!("starter.yaml");

/// The placeholder cover that `podseed init` writes beside the starter config (1400×1400
/// PNG saying "Replace this cover"); `check` recognises it by its bytes.
pub const PLACEHOLDER_COVER: &[u8] = include_bytes!("placeholder-cover.png");

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

/// The problem of a config that is not UTF-8, at its first bad byte.
fn not_utf8(path: &Path, e: &std::string::FromUtf8Error) -> ConfigError {
    let bytes = e.as_bytes();
    let at = e.utf8_error().valid_up_to();
    let before = bytes.get(..at).unwrap_or_default();
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(before.get(line_start..).unwrap_or_default())
        .chars()
        .count()
        + 1;
    ConfigError::Invalid(vec![Problem {
        file: path.display().to_string(),
        position: Some(Position { line, column }),
        field: String::new(),
        message: format!(
            "not UTF-8 text (byte 0x{:02X}); save the file as UTF-8 (Latin-1 or Windows-1252 text is the usual cause)",
            bytes.get(at).copied().unwrap_or_default()
        ),
    }])
}

/// `text` with every line break YAML knows (CR LF, a lone CR as in old Mac files, NEL, LS
/// and PS) written as LF, so that each position counts lines as the YAML parser does and
/// as `lines()` does.
fn unix_breaks(text: &str) -> std::borrow::Cow<'_, str> {
    const OTHERS: [char; 4] = ['\r', '\u{85}', '\u{2028}', '\u{2029}'];
    if !text.contains(OTHERS) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(text.replace("\r\n", "\n").replace(OTHERS, "\n"))
}

/// Largest config read: parsing and checking cost memory in proportion to the file (about
/// fifty times its size), so an absurd one is refused before it is read.
const MAX_CONFIG_BYTES: u64 = 8 << 20;

/// Deepest `[`/`{` nesting accepted. The YAML parser's work grows with the square of the
/// nesting, so a deep document is refused by a linear scan before it is parsed.
const MAX_FLOW_DEPTH: usize = 64;

/// Where flow nesting first goes past [`MAX_FLOW_DEPTH`], by a scan that skips quoted text
/// and comments. A quote opens only where a quoted scalar can start and ends with its line
/// here (so a stray apostrophe cannot hide what follows); brackets in plain scalars count
/// too, which only errs towards refusing a document with dozens of unclosed brackets.
fn too_deep(text: &str) -> Option<Position> {
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut previous = '\n';
    for ch in text.chars() {
        column += 1;
        if ch == '\n' {
            (line, column, comment, quote) = (line + 1, 0, false, None);
            previous = ch;
            continue;
        }
        let opens = previous.is_whitespace() || matches!(previous, '[' | '{' | ',' | ':');
        match (quote, ch) {
            _ if comment => {}
            (Some('"'), '"') if previous == '\\' => {}
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') if opens => quote = Some(ch),
            (None, '#') if previous.is_whitespace() => comment = true,
            (None, '[' | '{') => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Some(Position { line, column });
                }
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        previous = ch;
    }
    None
}

/// What to do about the structural YAML errors editors produce.
fn yaml_hint(message: &str) -> &'static str {
    if message.contains("duplicate entry") {
        "; a key may appear once per mapping: keep one of them"
    } else if message.contains("more than one document") {
        "; the config is one YAML document: remove any `---` or `...` line and merge what follows"
    } else {
        ""
    }
}

fn format_problems(problems: &[Problem]) -> String {
    let cut = problems
        .last()
        .is_some_and(|p| p.field.is_empty() && p.message.ends_with(check::MORE_NOT_LISTED));
    let mut s = if cut {
        format!("more than {} problems in the config:", check::MAX_PROBLEMS)
    } else {
        format!(
            "{} problem{} in the config:",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        )
    };
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
    /// The show page's browser player.
    pub page: PageSettings,
    /// How many episodes the feeds list.
    pub feed: FeedSettings,
    /// Per-episode metadata from the `episodes:` list, in file order.
    pub episodes: Vec<EpisodeConfig>,
    /// The folder every source must resolve inside (the config's, links followed), or None
    /// when `allow_sources_outside: true` lifts the rule.
    pub sources_root: Option<PathBuf>,
}

impl Config {
    /// Reads and validates the config at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let read_err = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        // Read one byte past the cap, so an oversized file costs no more than the cap.
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(file, MAX_CONFIG_BYTES + 1),
            &mut bytes,
        )
        .map_err(read_err)?;
        if bytes.len() as u64 > MAX_CONFIG_BYTES {
            return Err(ConfigError::Invalid(vec![Problem {
                file: path.display().to_string(),
                position: None,
                field: String::new(),
                message: format!(
                    "larger than {} MiB; a config with thousands of episodes and their notes is a few MiB (is this the right file?)",
                    MAX_CONFIG_BYTES >> 20
                ),
            }]));
        }
        let text = String::from_utf8(bytes).map_err(|e| not_utf8(path, &e))?;
        Self::parse(&text, path)
    }

    /// The config with the output folder a command line gave (`-o DIR`, relative to the
    /// working directory), checked like `output_dir:`: it may not overlap the episodes nor
    /// hold a source.
    pub fn with_output_dir(mut self, dir: &Path) -> Result<Config, ConfigError> {
        let mut c = Checker::new(format!("-o {}", dir.display()), "");
        check_output_is_separate(
            &mut c,
            dir,
            &self.episodes_dir,
            &self.show.image,
            &self.templates_dir,
            &self.episodes,
        );
        if !c.is_clean() {
            return Err(ConfigError::Invalid(c.into_problems()));
        }
        self.output_dir = dir.to_path_buf();
        Ok(self)
    }

    /// Validates `text` as the config at `path` (relative paths resolve against its folder).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        // Editors on Windows start UTF-8 files with a byte order mark; it is not YAML.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let unix = unix_breaks(text);
        let text = unix.as_ref();
        if let Some(position) = too_deep(text) {
            return Err(ConfigError::Invalid(vec![Problem {
                file,
                position: Some(position),
                field: String::new(),
                message: format!(
                    "nested deeper than {MAX_FLOW_DEPTH} levels of [ ] or {{ }}; a config needs three or four"
                ),
            }]));
        }
        let value: Value = match serde_norway::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                // serde_norway puts a repeated key at its mapping's start and a second
                // document nowhere: the event scan finds both where they are.
                let message = e.to_string();
                let structural = message.contains("duplicate entry")
                    || message.contains("more than one document");
                // When the event scan cannot place it either, the document as a whole.
                let first_line = Position { line: 1, column: 1 };
                let position = if structural {
                    position::structure_error(text).or(Some(first_line))
                } else {
                    None
                }
                .or_else(|| {
                    e.location().map(|l| Position {
                        line: l.line(),
                        column: l.column(),
                    })
                });
                return Err(ConfigError::Invalid(vec![Problem {
                    file,
                    position,
                    field: String::new(),
                    message: format!(
                        "not valid YAML: {}{}",
                        strip_location(&message),
                        yaml_hint(&message)
                    ),
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
    let show = ShowDraft::read(c, &mut f, root);
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
    let mut serve = read_serve(c, &mut f);
    if let serve::AccessLog::File(p) = &serve.access_log {
        serve.access_log = serve::AccessLog::File(root.join(p));
    }
    serve.state_dir = serve.state_dir.map(|p| root.join(p));
    let page = read_page(c, &mut f, root);
    let feed = read_feed(c, &mut f);
    let episodes_value = f.get("episodes");
    let allow_outside = f.boolean(c, "allow_sources_outside").unwrap_or(false);
    f.finish(c);
    show.check_lock(c);

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
        &show.image,
        &templates_dir,
        &episodes,
    );
    // A config named without a folder (`-c podcast.yaml`) lives in the working directory.
    let config_dir = if root.as_os_str().is_empty() {
        Path::new(".")
    } else {
        root
    };
    let sources_root = (!allow_outside).then(|| resolved(config_dir));
    if let Some(r) = &sources_root {
        check_sources_inside(c, r, &episodes_dir, &show.image, &templates_dir, &episodes);
    }
    if let Some(i) = &show.image {
        check_artwork(c, "image", i);
    }
    for (i, e) in episodes.iter().enumerate() {
        if let Some(img) = &e.image {
            check_artwork(c, &format!("episodes[{i}].image"), img);
        }
    }

    Some(Config {
        path: path.to_path_buf(),
        show: show.finish()?,
        episodes_dir,
        output_dir,
        templates_dir,
        torrent,
        serve,
        page,
        feed,
        episodes,
        sources_root,
    })
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
    use proptest::prelude::*;

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
        std::fs::write(d.path().join("cover.png"), PLACEHOLDER_COVER).expect("write cover");
        parse_in(d.path(), STARTER_YAML).expect("starter parses");
    }

    /// Pieces of YAML syntax, real field names and plausible values.
    const YAML_TOKENS: &[&str] = &[
        "title",
        "description",
        "base_url",
        "media_base_url",
        "episodes",
        "episodes_dir",
        "output_dir",
        "serve",
        "torrent",
        "piece_length",
        "owner",
        "name",
        "email",
        "categories",
        "funding",
        "file",
        "date",
        "guid",
        "season",
        "chapters",
        "http",
        "udp",
        "locked",
        "explicit",
        ":",
        ": ",
        "-",
        "- ",
        "{",
        "}",
        "[",
        "]",
        ",",
        "\"",
        "'",
        "\n",
        "\n  ",
        "\n    ",
        "  ",
        "#",
        "&a ",
        "*a",
        "!!str ",
        "!!map ",
        "? ",
        "|",
        ">",
        "---",
        "...",
        "%YAML 1.2\n",
        "one.mp3",
        "https://example.com/pod",
        "ftp://x",
        "2024-05-01",
        "auto",
        "16384",
        "-1",
        "1e999",
        "0x10",
        "true",
        "null",
        "~",
        "x",
        "é",
        "\t",
        "<<: ",
    ];

    /// Token soup from [`YAML_TOKENS`].
    fn yaml_soup() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(YAML_TOKENS), 0..80)
            .prop_map(|t| t.concat())
    }

    /// Lines of `indent [- ]key: value`, closer to real configs than token soup.
    fn yaml_lines() -> impl Strategy<Value = String> {
        let line = (
            0usize..4,
            any::<bool>(),
            proptest::sample::select(YAML_TOKENS),
            proptest::option::of(proptest::sample::select(YAML_TOKENS)),
        )
            .prop_map(|(indent, dash, key, value)| {
                let dash = if dash { "- " } else { "" };
                match value {
                    Some(v) => format!("{}{dash}{key}: {v}\n", "  ".repeat(indent)),
                    None => format!("{}{dash}{key}:\n", "  ".repeat(indent)),
                }
            });
        proptest::collection::vec(line, 0..30).prop_map(|l| l.concat())
    }

    fn yaml_noise() -> impl Strategy<Value = String> {
        prop_oneof![yaml_soup(), yaml_lines()]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn parse_never_panics_on_arbitrary_strings(text in ".{0,400}") {
            let d = dir_with_episode();
            let _ = parse_in(d.path(), &text);
        }

        #[test]
        fn parse_never_panics_on_yaml_shaped_noise(text in yaml_noise()) {
            let d = dir_with_episode();
            let _ = parse_in(d.path(), &text);
        }

        #[test]
        fn every_problem_names_the_config_file(text in yaml_noise()) {
            let d = dir_with_episode();
            let file = d.path().join("podcast.yaml").display().to_string();
            if let Err(ConfigError::Invalid(problems)) = parse_in(d.path(), &text) {
                prop_assert!(!problems.is_empty());
                for p in &problems {
                    prop_assert_eq!(&p.file, &file);
                }
            }
        }

        #[test]
        fn problem_positions_lie_inside_the_text(
            text in prop_oneof![yaml_noise(), ".{0,200}"]
        ) {
            let d = dir_with_episode();
            if let Err(ConfigError::Invalid(problems)) = parse_in(d.path(), &text) {
                // Lines as YAML counts them (a lone CR or NEL breaks a line too).
                let lines = unix_breaks(&text).lines().count().max(1);
                for p in problems.iter().filter_map(|p| p.position.map(|pos| (p, pos))) {
                    let (p, pos) = p;
                    prop_assert!(
                        (1..=lines + 1).contains(&pos.line) && pos.column >= 1,
                        "{} lies outside {:?}", p, text
                    );
                }
            }
        }

        #[test]
        fn every_problem_in_a_non_empty_document_has_a_position(
            text in prop_oneof![yaml_noise(), ".{0,200}"]
        ) {
            // An empty or comment-only file has no node to point at.
            let empty = matches!(serde_norway::from_str::<Value>(&text), Ok(Value::Null));
            let d = dir_with_episode();
            if let (Err(ConfigError::Invalid(problems)), false) = (parse_in(d.path(), &text), empty) {
                for p in &problems {
                    prop_assert!(p.position.is_some(), "{} has no position in {:?}", p, text);
                }
            }
        }
    }

    #[test]
    fn several_documents_are_refused_with_a_position() {
        let d = dir_with_episode();
        for text in ["title: Show\n---\ntitle: x\n", "one.mp3\t#\ntitle"] {
            let Err(ConfigError::Invalid(problems)) = parse_in(d.path(), text) else {
                panic!("expected problems for {text:?}");
            };
            assert!(
                problems.iter().all(|p| p.position.is_some()),
                "{text:?}: {problems:?}"
            );
        }
    }

    #[test]
    fn deep_flow_nesting_is_refused_before_parsing() {
        let deep = format!(
            "title: x\nlink: {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(
            too_deep(&deep),
            Some(Position {
                line: 2,
                column: 71
            })
        );
        let ok = format!(
            "funding: {}{}\n",
            "[".repeat(MAX_FLOW_DEPTH),
            "]".repeat(MAX_FLOW_DEPTH)
        );
        assert_eq!(too_deep(&ok), None);
        // Quoted and commented brackets do not count; a stray apostrophe hides nothing.
        let quoted = format!("title: \"{}\" # {}\n", "[".repeat(100), "{".repeat(100));
        assert_eq!(too_deep(&quoted), None);
        let sneaky = format!("title: it's\nlink: {}\n", "[".repeat(100));
        assert!(too_deep(&sneaky).is_some());
    }

    #[test]
    fn missing_base_url_has_a_position() {
        let d = dir_with_episode();
        let Err(ConfigError::Invalid(problems)) = parse_in(d.path(), "media_base_url: title")
        else {
            panic!("expected problems");
        };
        let base_url = problems
            .iter()
            .find(|p| p.field == "base_url")
            .expect("base_url problem");
        assert!(base_url.position.is_some(), "{base_url}");
    }
}
