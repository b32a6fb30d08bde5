//! What a publish did, as plain data for the CLI: per-episode status and URLs, counts of
//! new, changed and unchanged episodes, files written and removed, bytes hashed, warnings.
//!
//! Built once at the end of the pipeline from the rendered episodes; it serialises to the
//! `--json` output. Nothing here decides anything about the build or prints anything.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::Config;

use super::layout::Layout;
use super::output::WriteStats;
use super::Episode;

/// Whether an episode is new to this output, changed or unchanged since the last build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not in the previous build.
    New,
    /// In the previous build, with other content.
    Changed,
    /// Same size and mtime as last time: not read.
    Unchanged,
}

/// One episode in the summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpisodeSummary {
    /// Path relative to episodes_dir.
    pub file: String,
    /// Title.
    pub title: String,
    /// Item guid.
    pub guid: String,
    /// Publication date (RFC 3339).
    pub pub_date: String,
    /// Duration in seconds.
    pub duration_secs: f64,
    /// Size in bytes.
    pub size: u64,
    /// Info hash (hex).
    pub info_hash: String,
    /// Magnet link.
    pub magnet: String,
    /// Media file URL.
    pub media_url: String,
    /// The enclosure's MIME type.
    pub mime_type: String,
    /// .torrent URL.
    pub torrent_url: String,
    /// New, changed or unchanged.
    pub status: Status,
}

/// What a publish did.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The output folder.
    pub output_dir: PathBuf,
    /// The feed URL.
    pub feed_url: String,
    /// `podcast:guid`.
    pub podcast_guid: String,
    /// Episodes, in feed order.
    pub episodes: Vec<EpisodeSummary>,
    /// Episodes new to this output.
    pub new: usize,
    /// Episodes whose file changed.
    pub changed: usize,
    /// Episodes not read at all.
    pub unchanged: usize,
    /// Output files removed because their episode disappeared.
    pub removed_files: usize,
    /// Output files written (the rest were already right).
    pub written_files: usize,
    /// Bytes read by the hasher.
    pub bytes_hashed: u64,
    /// Wall time.
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
    /// Things the user should know.
    pub warnings: Vec<String>,
    /// Nothing changed since the last build: its inputs and outputs were compared with
    /// what that build recorded, and nothing was read or written.
    pub up_to_date: bool,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// Each episode's status, by its path relative to episodes_dir.
pub(super) type Statuses = HashMap<String, Status>;

/// What the run measured on its way, beside the episodes.
pub(super) struct Run {
    /// When the publish began.
    pub started: Instant,
    /// Bytes read by the hasher.
    pub bytes_hashed: u64,
    /// Things the user should know.
    pub warnings: Vec<String>,
}

/// The summary of a finished publish; `episodes` are in feed order.
pub(super) fn summarise(
    config: &Config,
    layout: &Layout,
    episodes: &[Episode],
    statuses: &Statuses,
    written: WriteStats,
    run: Run,
) -> Summary {
    let count = |s: Status| statuses.values().filter(|v| **v == s).count();
    Summary {
        output_dir: layout.root().to_path_buf(),
        feed_url: layout.feed().url.to_string(),
        podcast_guid: config.show.guid.to_string(),
        new: count(Status::New),
        changed: count(Status::Changed),
        unchanged: count(Status::Unchanged),
        removed_files: written.removed,
        written_files: written.written,
        bytes_hashed: run.bytes_hashed,
        elapsed: run.started.elapsed(),
        warnings: run.warnings,
        up_to_date: false,
        episodes: episodes
            .iter()
            .map(|e| EpisodeSummary {
                file: e.rel.clone(),
                title: e.title.clone(),
                guid: e.guid.clone(),
                pub_date: e.pub_date.to_rfc3339(),
                duration_secs: e.duration_secs,
                size: e.size,
                info_hash: e.info_hash.to_hex(),
                magnet: e.magnet.clone(),
                media_url: e.media_url.to_string(),
                mime_type: e.mime_type.to_string(),
                torrent_url: e.torrent_url.to_string(),
                status: statuses.get(&e.rel).copied().unwrap_or(Status::Unchanged),
            })
            .collect(),
    }
}
