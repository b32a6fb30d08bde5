//! Stage 1: find the episode files and pair each with its `episodes:` entry and transcript.
//!
//! Reads directory entries and file metadata only (size, mtime), and the first page of an
//! `.ogg` (Opus or not); opening files is the later stages' job. Every `.mp3`, `.m4a`,
//! `.m4b`, `.mp4`, `.m4v`, `.opus` and Opus `.ogg` below `episodes_dir` is an episode, and
//! so is every file the config lists, whatever its extension (probe then tells what it
//! holds). Other files that look like media are reported by [`unpublished`], never
//! skipped in silence.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::config::{Config, EpisodeConfig};

use super::{media, notes, PublishError};

/// One episode's source file, as found on disk.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to episodes_dir, `/`-separated; also its path under `episodes/` in the output.
    pub rel: String,
    /// Full path of the source.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Modification time as (seconds, nanoseconds) since the epoch, for the cache key.
    pub mtime: (i64, u32),
    /// The `episodes:` entry for this file, if any.
    pub config: EpisodeConfig,
    /// Transcript: from the config, else a `.vtt`/`.srt` beside the MP3 with the same stem.
    pub transcript: Option<PathBuf>,
    /// Markdown show notes beside the file with the same stem (`.md`, `.MD`, `.markdown`).
    pub notes: Option<PathBuf>,
}

/// Lists the episodes in `config.episodes_dir`, sorted by relative path.
pub fn scan(config: &Config) -> Result<Vec<SourceFile>, PublishError> {
    let dir = &config.episodes_dir;
    let mut rels: Vec<String> = Vec::new();
    // Every file the walk saw: sidecars (transcripts, notes) are looked up here rather than
    // asked of the filesystem, which costs a failed stat per extension and episode.
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut bad_names = Vec::new();
    for entry in WalkDir::new(dir).follow_links(true).sort_by_file_name() {
        let entry = entry.map_err(|e| PublishError::Io {
            path: e.path().unwrap_or(dir).to_path_buf(),
            source: e.into(),
        })?;
        if !entry.file_type().is_file() || is_hidden(entry.path(), dir) {
            continue;
        }
        seen.insert(entry.path().to_path_buf());
        if !is_episode(entry.path()) {
            continue;
        }
        match relative(entry.path(), dir) {
            Some(rel) => rels.push(rel),
            None => bad_names.push(super::MediaProblem {
                path: entry.path().to_path_buf(),
                message:
                    "has a name that is not valid UTF-8; rename it (URLs and feeds need text names)"
                        .into(),
            }),
        }
    }
    if !bad_names.is_empty() {
        return Err(PublishError::Media(bad_names));
    }
    let walked: HashSet<String> = rels.iter().cloned().collect();
    for ep in &config.episodes {
        if !walked.contains(&ep.file) {
            rels.push(ep.file.clone());
        }
    }
    rels.sort();
    rels.dedup();
    let entries: HashMap<&str, &EpisodeConfig> = config
        .episodes
        .iter()
        .map(|e| (e.file.as_str(), e))
        .collect();

    let mut files = Vec::with_capacity(rels.len());
    let mut outside = Vec::new();
    for rel in rels {
        let path = dir.join(&rel);
        let meta = std::fs::metadata(&path).map_err(|source| PublishError::Io {
            path: path.clone(),
            source,
        })?;
        let mtime = super::cache::mtime_key(&meta);
        let config_entry = entries
            .get(rel.as_str())
            .map(|e| (*e).clone())
            .unwrap_or_else(|| EpisodeConfig {
                file: rel.clone(),
                ..Default::default()
            });
        // A file the walk found has its siblings in `seen`; one only the config names (not
        // walked: hidden, say) is asked of the filesystem.
        let exists = |p: &Path| {
            if seen.contains(&path) {
                seen.contains(p)
            } else {
                p.is_file()
            }
        };
        let sibling = |exts: &[&str]| {
            exts.iter()
                .map(|ext| path.with_extension(ext))
                .find(|p| exists(p))
        };
        let transcript = config_entry
            .transcript
            .clone()
            .or_else(|| sibling(&["vtt", "VTT", "srt", "SRT"]));
        let notes = sibling(&notes::SIDECAR_EXTENSIONS);
        for source in std::iter::once(&path).chain(&transcript) {
            if let Some(problem) = outside_problem(config, source) {
                outside.push(problem);
            }
        }
        files.push(SourceFile {
            rel,
            path,
            size: meta.len(),
            mtime,
            config: config_entry,
            transcript,
            notes,
        });
    }
    if !outside.is_empty() {
        return Err(PublishError::Media(outside));
    }
    Ok(files)
}

/// Whether a file in episodes_dir is an episode by its name (and, for `.ogg`, its first
/// page: only Ogg Opus is published).
fn is_episode(path: &Path) -> bool {
    let name = path.to_string_lossy();
    if !media::candidate(&name) {
        return false;
    }
    let ogg = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("ogg"));
    !ogg || is_ogg_opus(path)
}

/// Whether the first Ogg page holds `OpusHead` (at byte 28 when the page has one segment).
fn is_ogg_opus(path: &Path) -> bool {
    let mut head = [0u8; 64];
    let Ok(mut f) = std::fs::File::open(path) else {
        // Unreadable: let the probe say so.
        return true;
    };
    let n = std::io::Read::read(&mut f, &mut head).unwrap_or(0);
    let head = &head[..n];
    let segments = head.get(26).map_or(0, |&s| usize::from(s));
    head.starts_with(b"OggS") && head.get(27 + segments..35 + segments) == Some(b"OpusHead")
}

/// Warnings for the files in episodes_dir that look like media podseed does not publish
/// (WAV, FLAC, AAC, WebM, Ogg Vorbis...), each with the ffmpeg command that converts it.
/// Files the config lists are episodes, not reported here.
pub fn unpublished(config: &Config) -> Vec<String> {
    let dir = &config.episodes_dir;
    WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && !is_hidden(e.path(), dir))
        .filter(|e| !is_episode(e.path()))
        .filter_map(|e| relative(e.path(), dir))
        .filter(|rel| !config.episodes.iter().any(|ep| ep.file == *rel))
        .filter_map(|rel| media::unpublished_hint(&rel))
        .collect()
}

/// A file found in episodes_dir that is a link to somewhere outside the config's folder
/// (unless `allow_sources_outside` says that is intended).
fn outside_problem(config: &Config, path: &Path) -> Option<super::MediaProblem> {
    let root = config.sources_root.as_ref()?;
    let real = path.canonicalize().ok()?;
    (!real.starts_with(root)).then(|| super::MediaProblem {
        path: path.to_path_buf(),
        message: format!(
            "links to {}, outside the config's folder {}; move the file inside, or set `allow_sources_outside: true` if publishing files from elsewhere is intended",
            real.display(),
            root.display()
        ),
    })
}

/// The `/`-separated path below `dir`, or None if a component is not UTF-8.
fn relative(path: &Path, dir: &Path) -> Option<String> {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

fn is_hidden(path: &Path, dir: &Path) -> bool {
    path.strip_prefix(dir)
        .unwrap_or(path)
        .components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn finds_every_published_format_and_reports_other_media() {
        let d = tempfile::tempdir().expect("tempdir");
        let eps = d.path().join("episodes");
        std::fs::create_dir_all(&eps).expect("mkdir");
        let mut opus_page = b"OggS\0\x02".to_vec();
        opus_page.extend_from_slice(&[0; 20]);
        opus_page.push(1);
        opus_page.push(19);
        opus_page.extend_from_slice(b"OpusHead");
        let mut vorbis_page = opus_page.clone();
        vorbis_page.truncate(28);
        vorbis_page.extend_from_slice(b"\x01vorbis");
        for (f, bytes) in [
            ("a.m4a", &b"x"[..]),
            ("b.opus", b"x"),
            ("c.mp4", b"x"),
            ("d.M4V", b"x"),
            ("e.ogg", &opus_page),
            ("f.ogg", &vorbis_page),
            ("g.flac", b"x"),
            ("h.wav", b"x"),
            ("i.webm", b"x"),
            ("j.txt", b"x"),
            ("k.wav", b"x"),
        ] {
            std::fs::write(eps.join(f), bytes).expect("write");
        }
        let yaml =
            "title: T\ndescription: D\nbase_url: https://e.com/\nepisodes:\n  - file: k.wav\n";
        let config = Config::parse(yaml, &d.path().join("podcast.yaml")).expect("config");
        let files = scan(&config).expect("scan");
        let rels: Vec<&str> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(
            rels,
            ["a.m4a", "b.opus", "c.mp4", "d.M4V", "e.ogg", "k.wav"]
        );
        let warned = unpublished(&config);
        assert_eq!(warned.len(), 4, "{warned:?}");
        for (w, name) in warned.iter().zip(["f.ogg", "g.flac", "h.wav", "i.webm"]) {
            assert!(w.starts_with(name) && w.contains("ffmpeg -i"), "{w}");
        }
    }

    #[test]
    fn finds_mp3s_listed_files_and_transcripts() {
        let d = tempfile::tempdir().expect("tempdir");
        let eps = d.path().join("episodes");
        std::fs::create_dir_all(eps.join("s1")).expect("mkdir");
        std::fs::create_dir_all(eps.join(".git")).expect("mkdir");
        for f in [
            "b.mp3",
            "a.MP3",
            "s1/c.mp3",
            "a.vtt",
            "notes.txt",
            ".git/x.mp3",
            "x.wav",
        ] {
            std::fs::write(eps.join(f), b"data").expect("write");
        }
        let yaml = "title: T\ndescription: D\nbase_url: https://e.com/\nepisodes:\n  - file: x.wav\n    title: Listed\n";
        let config = Config::parse(yaml, &d.path().join("podcast.yaml")).expect("config");
        let files = scan(&config).expect("scan");
        let rels: Vec<&str> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["a.MP3", "b.mp3", "s1/c.mp3", "x.wav"]);
        assert_eq!(files[0].transcript, Some(eps.join("a.vtt")));
        assert_eq!(files[1].transcript, None);
        assert_eq!(files[3].config.title.as_deref(), Some("Listed"));
        assert_eq!(files[1].size, 4);
    }

    #[test]
    fn sidecars_come_from_the_listing_and_hidden_files_from_the_disk() {
        let d = tempfile::tempdir().expect("tempdir");
        let eps = d.path().join("episodes");
        std::fs::create_dir_all(eps.join(".hidden")).expect("mkdir");
        for f in [
            "a.mp3",
            "a.md",
            "a.srt",
            "b.mp3",
            "c.mp3",
            "c.markdown",
            "c.VTT",
        ] {
            std::fs::write(eps.join(f), b"x").expect("write");
        }
        // Named by the config only, in a folder the walk skips: its notes are asked of the disk.
        for f in [".hidden/h.mp3", ".hidden/h.md"] {
            std::fs::write(eps.join(f), b"x").expect("write");
        }
        let yaml = "title: T\ndescription: D\nbase_url: https://e.com/\nepisodes:\n  - file: .hidden/h.mp3\n";
        let config = Config::parse(yaml, &d.path().join("podcast.yaml")).expect("config");
        let files = scan(&config).expect("scan");
        let found: Vec<(&str, Option<PathBuf>, Option<PathBuf>)> = files
            .iter()
            .map(|f| (f.rel.as_str(), f.notes.clone(), f.transcript.clone()))
            .collect();
        assert_eq!(
            found,
            [
                (".hidden/h.mp3", Some(eps.join(".hidden/h.md")), None),
                ("a.mp3", Some(eps.join("a.md")), Some(eps.join("a.srt"))),
                ("b.mp3", None, None),
                (
                    "c.mp3",
                    Some(eps.join("c.markdown")),
                    Some(eps.join("c.VTT"))
                ),
            ]
        );
    }
}
