//! Stage 1: find the episode files and pair each with its `episodes:` entry and transcript.
//!
//! Reads directory entries and file metadata only (size, mtime); opening files is the
//! later stages' job. Every `.mp3` below `episodes_dir` is an episode, and so is every file
//! the config lists, whatever its extension (probe then tells whether it is MPEG audio).

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::config::{Config, EpisodeConfig};

use super::PublishError;

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
}

/// Lists the episodes in `config.episodes_dir`, sorted by relative path.
pub fn scan(config: &Config) -> Result<Vec<SourceFile>, PublishError> {
    let dir = &config.episodes_dir;
    let mut rels: Vec<String> = Vec::new();
    let mut bad_names = Vec::new();
    for entry in WalkDir::new(dir).follow_links(true).sort_by_file_name() {
        let entry = entry.map_err(|e| PublishError::Io {
            path: e.path().unwrap_or(dir).to_path_buf(),
            source: e.into(),
        })?;
        if !entry.file_type().is_file() || is_hidden(entry.path(), dir) {
            continue;
        }
        let is_mp3 = entry
            .path()
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("mp3"));
        if !is_mp3 {
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
    for ep in &config.episodes {
        if !rels.contains(&ep.file) {
            rels.push(ep.file.clone());
        }
    }
    rels.sort();

    let mut files = Vec::with_capacity(rels.len());
    let mut outside = Vec::new();
    for rel in rels {
        let path = dir.join(&rel);
        let meta = std::fs::metadata(&path).map_err(|source| PublishError::Io {
            path: path.clone(),
            source,
        })?;
        let mtime = super::cache::mtime_key(&meta);
        let config_entry = config
            .episodes
            .iter()
            .find(|e| e.file == rel)
            .cloned()
            .unwrap_or_else(|| EpisodeConfig {
                file: rel.clone(),
                ..Default::default()
            });
        let transcript = config_entry
            .transcript
            .clone()
            .or_else(|| sibling_transcript(&path));
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
        });
    }
    if !outside.is_empty() {
        return Err(PublishError::Media(outside));
    }
    Ok(files)
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

fn sibling_transcript(mp3: &Path) -> Option<PathBuf> {
    ["vtt", "VTT", "srt", "SRT"]
        .iter()
        .map(|ext| mp3.with_extension(ext))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

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
}
