//! The `episodes:` list: per-episode metadata that overrides the tags (title, date, guid,
//! numbering, artwork, chapters, transcript), with one spelling per file, unique files and
//! guids, dates in the accepted forms and chapters and transcripts of a known kind. It does
//! not read the MP3s (that is `publish::probe`); only checks that the named files exist.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use serde_norway::Value;

use super::check::{kind, Checker, Fields};
use super::paths::{existing_file, normalize_rel};

/// `itunes:episodeType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpisodeType {
    /// A normal episode.
    Full,
    /// A trailer.
    Trailer,
    /// Bonus content.
    Bonus,
}

impl EpisodeType {
    /// The value written into the feed.
    pub fn as_str(self) -> &'static str {
        match self {
            EpisodeType::Full => "full",
            EpisodeType::Trailer => "trailer",
            EpisodeType::Bonus => "bonus",
        }
    }
}

/// Metadata for one episode from the `episodes:` list; unset fields come from the tags.
#[derive(Debug, Clone, Default)]
pub struct EpisodeConfig {
    /// Path relative to episodes_dir, with `/` separators.
    pub file: String,
    /// Title.
    pub title: Option<String>,
    /// Description (HTML allowed).
    pub description: Option<String>,
    /// Show notes in Markdown, a local file (rendered to HTML by publish).
    pub description_file: Option<PathBuf>,
    /// Publication date.
    pub date: Option<DateTime<Utc>>,
    /// Item guid.
    pub guid: Option<String>,
    /// Season number.
    pub season: Option<u32>,
    /// Episode number.
    pub episode: Option<u32>,
    /// Episode type.
    pub episode_type: Option<EpisodeType>,
    /// Explicit flag.
    pub explicit: Option<bool>,
    /// Episode artwork, a local file.
    pub image: Option<PathBuf>,
    /// Podcasting 2.0 JSON chapters file.
    pub chapters: Option<PathBuf>,
    /// Transcript file (.vtt or .srt).
    pub transcript: Option<PathBuf>,
}

/// Publication years accepted; others are typos (or tag garbage), and RSS dates need four
/// digits.
pub const PLAUSIBLE_YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

/// Parses `2024-05-01`, `2024-05-01 10:00`, `2024-05-01T10:00:00` (UTC) or RFC 3339.
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    let parsed = DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
                .iter()
                .find_map(|fmt| NaiveDateTime::parse_from_str(t, fmt).ok())
                .map(|d| d.and_utc())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
        })?;
    PLAUSIBLE_YEARS.contains(&parsed.year()).then_some(parsed)
}

/// Reads the `episodes:` list at `path`; listed files are relative to `dir`.
pub(super) fn read_episodes(
    c: &mut Checker,
    v: &Value,
    path: &str,
    dir: &Path,
) -> Vec<EpisodeConfig> {
    let Value::Sequence(items) = v else {
        c.problem(
            path,
            format!("expected a list of episodes, found {}", kind(v)),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    let mut guids: BTreeMap<String, String> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        if c.is_full() {
            // The rest would only be counted; checking them (a stat each) is not worth it.
            c.cut_short();
            break;
        }
        let p = format!("{path}[{i}]");
        let mut f = Fields::new(c, item, &p);
        let file = f.required_text(c, "file");
        let mut ep = read_episode_fields(c, &mut f, &p, dir);
        f.finish(c);
        let Some(file) = file.and_then(|file| episode_file(c, &p, dir, &file)) else {
            continue;
        };
        let fp = format!("{p}.file");
        if let Some(first) = files.insert(file.clone(), p.clone()) {
            c.problem(&fp, format!("{file:?} is already listed at {first}"));
        }
        if let Some(g) = &ep.guid {
            if let Some(first) = guids.insert(g.clone(), p.clone()) {
                c.problem(
                    &format!("{p}.guid"),
                    format!("guid {g:?} is already used by {first}; every episode needs its own"),
                );
            }
        }
        ep.file = file;
        out.push(ep);
    }
    out
}

/// Every field of one episode entry but `file`, each checked.
fn read_episode_fields(c: &mut Checker, f: &mut Fields<'_>, p: &str, dir: &Path) -> EpisodeConfig {
    let mut ep = EpisodeConfig {
        title: f.text(c, "title"),
        description: f.text(c, "description"),
        guid: f.text(c, "guid"),
        season: f.small_number(c, "season"),
        episode: f.small_number(c, "episode"),
        explicit: f.boolean(c, "explicit"),
        ..Default::default()
    };
    if let Some(d) = f.text(c, "date") {
        ep.date = parse_date(&d);
        if ep.date.is_none() {
            c.problem(
                &format!("{p}.date"),
                format!("{d:?} is not a date; expected 2024-05-01, 2024-05-01 18:30 (UTC) or 2024-05-01T18:30:00+02:00"),
            );
        }
    }
    if let Some(t) = f.text(c, "episode_type") {
        ep.episode_type = match t.as_str() {
            "full" => Some(EpisodeType::Full),
            "trailer" => Some(EpisodeType::Trailer),
            "bonus" => Some(EpisodeType::Bonus),
            other => {
                c.problem(
                    &format!("{p}.episode_type"),
                    format!("{other:?} is not an episode type; expected full, trailer or bonus"),
                );
                None
            }
        };
    }
    for (key, slot) in [
        ("image", &mut ep.image),
        ("chapters", &mut ep.chapters),
        ("transcript", &mut ep.transcript),
        ("description_file", &mut ep.description_file),
    ] {
        if let Some(t) = f.text(c, key) {
            *slot = existing_file(c, &format!("{p}.{key}"), dir, &t);
        }
    }
    if ep.description.is_some() && ep.description_file.is_some() {
        c.problem(
            &format!("{p}.description_file"),
            "set description or description_file, not both",
        );
    }
    if let Some(t) = &ep.transcript {
        if transcript_type(t).is_none() {
            c.problem(&format!("{p}.transcript"), "expected a .vtt or .srt file");
        }
    }
    if let Some(ch) = &ep.chapters {
        if let Err(msg) = check_chapters_file(ch) {
            c.problem(&format!("{p}.chapters"), msg);
        }
    }
    ep
}

/// The entry's `file` in one spelling, when it names a place inside episodes_dir (a
/// missing file is reported but kept, so its other problems are reported too).
fn episode_file(c: &mut Checker, p: &str, dir: &Path, file: &str) -> Option<String> {
    let fp = format!("{p}.file");
    if Path::new(file).is_absolute() || file.split(['/', '\\']).any(|s| s == "..") {
        c.problem(
            &fp,
            format!(
                "{file:?} must be a path inside episodes_dir ({})",
                dir.display()
            ),
        );
        return None;
    }
    // One spelling per file, so `./a.mp3` and `a.mp3` are the same episode.
    let file = normalize_rel(file);
    if !dir.join(&file).is_file() {
        c.problem(
            &fp,
            format!(
                "{} does not exist; put the MP3 there or fix the name",
                dir.join(&file).display()
            ),
        );
    }
    Some(file)
}

/// A Podcasting 2.0 JSON chapters file must be JSON with a `chapters` list.
fn check_chapters_file(path: &Path) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "{} is not valid JSON ({e}); expected a Podcasting 2.0 chapters file",
            path.display()
        )
    })?;
    if v.get("chapters").is_some_and(serde_json::Value::is_array) {
        Ok(())
    } else {
        Err(format!(
            "{} has no \"chapters\" list; expected a Podcasting 2.0 chapters file",
            path.display()
        ))
    }
}

/// The MIME type of a transcript, from its extension.
pub fn transcript_type(path: &Path) -> Option<&'static str> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "vtt" => Some("text/vtt"),
        "srt" => Some("application/x-subrip"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{dir_with_episode, parse_in, MINIMAL};
    use super::*;

    #[test]
    fn listed_files_are_normalized_and_chapters_checked() {
        let d = dir_with_episode();
        std::fs::write(d.path().join("episodes/bad.json"), b"{}").expect("write");
        let text = format!(
            "{MINIMAL}episodes:\n  - file: ./one.mp3\n  - file: one.mp3\n    chapters: bad.json\n"
        );
        let err = parse_in(d.path(), &text).expect_err("dup").to_string();
        assert!(
            err.contains("\"one.mp3\" is already listed at episodes[0]"),
            "{err}"
        );
        assert!(
            err.contains("episodes[1].chapters:") && err.contains("no \"chapters\" list"),
            "{err}"
        );
        assert_eq!(normalize_rel("./a//b\\c.mp3"), "a/b/c.mp3");
    }

    #[test]
    fn dates_in_every_accepted_form() {
        for (text, want) in [
            ("2024-05-01", "2024-05-01T00:00:00Z"),
            ("2024-05-01 18:30", "2024-05-01T18:30:00Z"),
            ("2024-05-01T18:30:00", "2024-05-01T18:30:00Z"),
            ("2024-05-01T18:30:00+02:00", "2024-05-01T16:30:00Z"),
        ] {
            let d = parse_date(text).expect(text);
            assert_eq!(d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), want);
        }
        assert!(parse_date("01/05/2024").is_none());
        assert!(parse_date("0000-01-01").is_none());
        assert!(parse_date("1969-12-31").is_none());
    }
}
