//! The build manifest (`public/.podseed/manifest.json`): what the last build learned about
//! each episode, so an unchanged file (same size and mtime) is neither hashed nor read again.
//!
//! It also keeps the first-seen publication date of episodes that have no other date source,
//! and the list of files the build wrote, so the next build can remove what disappeared.
//! This module only (de)serialises; `output` writes it, atomically, last.
//!
//! Format 2 keeps it small: the SHA-1 piece lists live only in the published `.torrent`
//! files (format 1 repeated them here in hex, about 22 KB per hour of audio), and
//! [`Manifest::rendered`] records what each generated file was made from, so a file whose
//! inputs did not change is neither rendered nor read again. A format 1 manifest is read
//! (its pieces then rebuild each torrent once, without re-hashing) and written back as 2.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::media::Format;
use super::probe::Tags;

/// Bumped when the manifest layout changes; an unknown one is ignored (full rebuild).
pub const FORMAT: u32 = 2;

/// The previous layout, still read: its entries carry their pieces in hex.
pub const FORMAT_1: u32 = 1;

/// The whole manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version.
    pub format: u32,
    /// Per episode, keyed by path relative to episodes_dir.
    pub episodes: BTreeMap<String, CachedEpisode>,
    /// Every file (relative to the output folder) the build wrote.
    pub outputs: Vec<String>,
    /// What the build publishes, in feed order: what `serve` tracks and seeds.
    #[serde(default)]
    pub published: Vec<Published>,
    /// Per generated file (relative to the output folder): what it was made from.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rendered: BTreeMap<String, Rendered>,
}

/// What one generated file (a `.torrent`, an episode page) was made from: a digest of its
/// inputs and the size it had, so an unchanged file is kept without rendering it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    /// SHA-1 (hex) of everything the file's bytes depend on.
    pub inputs: String,
    /// Its size in bytes.
    pub size: u64,
}

impl Rendered {
    /// Whether the file at `local` is still the one this record describes: made from
    /// `inputs`, and in place at the size it was written with (so it can be kept unread).
    pub fn still_made_from(&self, inputs: &str, local: &Path) -> bool {
        self.inputs == inputs
            && std::fs::symlink_metadata(local).is_ok_and(|m| m.is_file() && m.len() == self.size)
    }
}

/// One published episode, as `serve` needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// Title.
    pub title: String,
    /// Info hash (hex).
    pub info_hash: String,
    /// The MP3, relative to the output folder.
    pub media: String,
    /// The .torrent, relative to the output folder.
    pub torrent: String,
    /// Size of the MP3.
    pub size: u64,
    /// The MP3's mtime (seconds, nanoseconds), so `serve` can tell it was not edited since.
    #[serde(default)]
    pub mtime: (i64, u32),
}

/// What one build learned about one source file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedEpisode {
    /// Size when hashed.
    pub size: u64,
    /// Modification time when hashed: seconds and nanoseconds since the epoch.
    pub mtime: (i64, u32),
    /// Piece length of the torrent.
    pub piece_length: u64,
    /// Info hash (hex), for `serve` and for humans.
    pub info_hash: String,
    /// SHA-256 of the file (hex).
    pub sha256: String,
    /// Concatenated SHA-1 pieces (hex): only in a format 1 manifest (format 2 reads them
    /// from the published `.torrent` when it must build it again).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pieces: String,
    /// Duration in milliseconds (an integer, so the manifest round-trips exactly).
    pub duration_ms: u64,
    /// Average bitrate in bits per second.
    pub bitrate_bps: Option<u64>,
    /// Offset of the audio after the ID3v2 tag.
    pub audio_start: u64,
    /// ID3 metadata.
    pub tags: Tags,
    /// Publication date chosen for this episode.
    pub pub_date: DateTime<Utc>,
    /// True when `pub_date` came from no source but the first build that saw the file.
    pub date_first_seen: bool,
    /// The file's git blob id when git vouched for its content at hashing time (see
    /// `publish::git`): a fresh checkout with new mtimes but this blob reuses the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_blob: Option<String>,
    /// The container (MP3 in manifests from before other formats).
    #[serde(default)]
    pub format: Format,
    /// The probe's [`super::probe::TAGS_VERSION`] when the tags were read (0 before it).
    #[serde(default)]
    pub tags_version: u32,
}

impl CachedEpisode {
    /// Whether this entry still describes a file of this size and mtime hashed with this piece length.
    pub fn matches(&self, size: u64, mtime: (i64, u32), piece_length: u64) -> bool {
        self.size == size && self.mtime == mtime && self.piece_length == piece_length
    }

    /// Whether this entry describes a file of this size whose content git knows by `blob`,
    /// hashed with this piece length (whatever its mtime).
    pub fn matches_blob(&self, size: u64, blob: Option<&str>, piece_length: u64) -> bool {
        self.size == size
            && self.piece_length == piece_length
            && blob.is_some()
            && self.git_blob.as_deref() == blob
    }
}

impl CachedEpisode {
    /// Whether the entry is well-formed (it is a file users may edit or merge badly); a
    /// damaged entry is a cache miss, never published.
    pub fn is_consistent(&self) -> bool {
        let hex_len = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        let pieces = self.size.div_ceil(self.piece_length.max(1)) as usize;
        self.piece_length.is_power_of_two()
            && hex_len(&self.sha256, 64)
            && (self.pieces.is_empty() || hex_len(&self.pieces, pieces * 40))
            && self.duration_ms > 0
    }
}

/// A file's mtime as the manifest records it: (seconds, nanoseconds) since the epoch, or
/// (0, 0) when the filesystem has none.
pub fn mtime_key(meta: &std::fs::Metadata) -> (i64, u32) {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or((0, 0), |d| (d.as_secs() as i64, d.subsec_nanos()))
}

/// A manifest as loaded, with the bytes it was read from when they are a current-format
/// manifest (a build that changes nothing writes them back as they are).
#[derive(Debug, Default)]
pub struct Loaded {
    /// The manifest.
    pub manifest: Manifest,
    /// Its file's bytes, when it is of the current format.
    pub bytes: Option<Vec<u8>>,
}

/// Loads the manifest; a missing, unreadable or foreign-format one reads as empty (with a
/// warning), because the cost is only a full rebuild.
pub fn load(path: &Path) -> Loaded {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Loaded::default(),
        Err(e) => {
            tracing::warn!(
                "cannot read {} ({e}); rebuilding everything",
                path.display()
            );
            return Loaded::default();
        }
    };
    let manifest = match serde_json::from_slice::<Manifest>(&text) {
        Ok(m) if m.format == FORMAT => {
            return Loaded {
                manifest: m,
                bytes: Some(text),
            }
        }
        Ok(m) if m.format == FORMAT_1 => {
            tracing::info!(
                "{}: upgrading the build manifest to format {FORMAT}",
                path.display()
            );
            m
        }
        Ok(_) => Manifest::default(),
        Err(e) => {
            tracing::warn!(
                "ignoring damaged {} ({e}); rebuilding everything",
                path.display()
            );
            Manifest::default()
        }
    };
    Loaded {
        manifest,
        bytes: None,
    }
}

/// Serialises the manifest (pretty, stable key order).
pub fn to_bytes(manifest: &Manifest) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(manifest).unwrap_or_default();
    v.push(b'\n');
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damaged_file() {
        let d = tempfile::tempdir().expect("tmp");
        let p = d.path().join("manifest.json");
        let mut m = Manifest {
            format: FORMAT,
            ..Default::default()
        };
        m.episodes.insert(
            "a.mp3".into(),
            CachedEpisode {
                size: 10,
                mtime: (1, 2),
                piece_length: 16384,
                info_hash: "00".repeat(20),
                sha256: "11".repeat(32),
                pieces: "22".repeat(20),
                duration_ms: 1500,
                bitrate_bps: Some(64000),
                audio_start: 0,
                tags: Tags::default(),
                pub_date: DateTime::from_timestamp(0, 0).expect("date"),
                date_first_seen: false,
                git_blob: None,
                format: Format::Mp3,
                tags_version: 1,
            },
        );
        std::fs::write(&p, to_bytes(&m)).expect("write");
        let loaded = load(&p);
        assert_eq!(loaded.manifest, m);
        assert_eq!(loaded.bytes, Some(to_bytes(&m)));
        assert!(m.episodes["a.mp3"].matches(10, (1, 2), 16384));
        assert!(!m.episodes["a.mp3"].matches(10, (1, 3), 16384));
        assert!(m.episodes["a.mp3"].is_consistent());
        let mut bad = m.episodes["a.mp3"].clone();
        bad.sha256 = "AAAA".into();
        assert!(!bad.is_consistent());
        let mut bad = m.episodes["a.mp3"].clone();
        bad.pieces.push_str("00");
        assert!(!bad.is_consistent());
        // A manifest from before other formats: MP3, tags from an older probe (read again).
        let mut old: serde_json::Value = serde_json::from_slice(&to_bytes(&m)).expect("json");
        let entry = old["episodes"]["a.mp3"].as_object_mut().expect("entry");
        entry.remove("format");
        entry.remove("tags_version");
        std::fs::write(&p, old.to_string()).expect("write");
        let loaded = load(&p).manifest;
        assert_eq!(loaded.episodes["a.mp3"].format, Format::Mp3);
        assert_eq!(loaded.episodes["a.mp3"].tags_version, 0);
        std::fs::write(&p, b"{not json").expect("write");
        assert_eq!(load(&p).manifest, Manifest::default());
        assert_eq!(load(&p).bytes, None);
        assert_eq!(
            load(&d.path().join("missing.json")).manifest,
            Manifest::default()
        );
    }
}
