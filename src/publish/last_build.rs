//! The nothing-changed check of a warm build: a record of what the last build read and
//! wrote, so that a build with nothing changed stats its inputs and outputs, compares them
//! with the record, writes nothing, and says what the last build said.
//!
//! What a build reads: the validated config (its `Debug` form holds every setting, the
//! resolved paths and the texts read with it), the podseed binary, the working folder, and
//! the metadata (type, size, mtime, inode) of every file below `episodes_dir` and of every
//! other file a build may open: the files the config names, the templates, WebTorrent's
//! scripts, and git's index when the episodes are in a work tree (the manifest keeps git's
//! blob ids). What it wrote: the metadata of every file it put in the output, the manifest
//! included, and which folder the output is. Any difference, a missing or unreadable record,
//! one of another format, or `--force`: the full build runs, exactly as without the record,
//! which is only ever a shortcut. The record is removed before a build may write anything and
//! written once the output is in place, so a failed or killed build leaves none.
//!
//! Same size and mtime count as the same file, as in the manifest (an edit in place that
//! keeps both needs `--force`, as it always did).

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use walkdir::WalkDir;

use crate::config::Config;

use super::output::{self, MANIFEST};
use super::summary::{EpisodeSummary, Status, Summary};
use super::webtorrent;

/// The record's name in the output's staging folder (beside the output, so that it is
/// never uploaded or served, and a failed build changes nothing in the output).
pub const FILE: &str = "last-build.json";

/// The record's format; another one reads as no record.
const FORMAT: u32 = 1;

/// The digest of everything a build reads, taken before it reads any of it (so a file that
/// changes during the build makes the next build a full one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs(String);

impl Inputs {
    /// Stats the inputs of a build of `config` into the output folder `root`; None when
    /// something cannot be looked at (the full build then says what).
    pub fn of(config: &Config, root: &Path) -> Option<Inputs> {
        let mut d = Digester::default();
        d.text("podseed inputs");
        d.text(env!("CARGO_PKG_VERSION"));
        // A rebuilt binary may render differently under the same version number.
        d.file(&std::env::current_exe().ok()?);
        d.text(&std::env::current_dir().ok()?.to_string_lossy());
        d.text(&format!("{config:?}"));
        d.text(&root.to_string_lossy());
        d.tree(&config.episodes_dir)?;
        for e in &config.episodes {
            d.file(&config.episodes_dir.join(&e.file));
            for p in [&e.description_file, &e.image, &e.chapters, &e.transcript]
                .into_iter()
                .flatten()
            {
                d.file(p);
            }
        }
        if let Some(image) = &config.show.image {
            d.file(image);
        }
        if let Some(t) = &config.templates_dir {
            d.tree(t)?;
        }
        let player = webtorrent::dir(config);
        for (name, _) in webtorrent::WEBTORRENT_FILES {
            d.file(&player.join(name));
        }
        if let Some(index) = git_index(&config.episodes_dir) {
            d.file(&index);
        }
        Some(Inputs(d.finish()))
    }
}

/// What the last build wrote and said.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    format: u32,
    /// [`Inputs`] of the build.
    inputs: String,
    /// The digest of its output files' metadata, taken after they were in place.
    outputs: String,
    /// Its output files, relative to the output folder.
    files: Vec<String>,
    /// What it said.
    said: Said,
}

/// The part of a build's summary that a build of the same inputs says again.
#[derive(Debug, Serialize, Deserialize)]
struct Said {
    feed_url: String,
    podcast_guid: String,
    episodes: Vec<EpisodeSummary>,
    warnings: Vec<String>,
}

/// The summary of the last build into `root`, as a build now would say it, when that build
/// had these `inputs` and its output is still as it left it; None otherwise.
pub fn up_to_date(root: &Path, inputs: &Inputs, started: Instant) -> Option<Summary> {
    let bytes = std::fs::read(output::staging_dir(root)?.join(FILE)).ok()?;
    let record: Record = serde_json::from_slice(&bytes).ok()?;
    if record.format != FORMAT
        || record.inputs != inputs.0
        || outputs_digest(root, &record.files) != record.outputs
    {
        return None;
    }
    let Said {
        feed_url,
        podcast_guid,
        mut episodes,
        warnings,
    } = record.said;
    for e in &mut episodes {
        e.status = Status::Unchanged;
    }
    Some(Summary {
        output_dir: root.to_path_buf(),
        feed_url,
        podcast_guid,
        new: 0,
        changed: 0,
        unchanged: episodes.len(),
        episodes,
        removed_files: 0,
        written_files: 0,
        bytes_hashed: 0,
        elapsed: started.elapsed(),
        warnings,
        up_to_date: true,
    })
}

/// Removes the record of `root`, before a build may change the output.
pub fn forget(root: &Path) {
    if let Some(dir) = output::staging_dir(root) {
        let _ = std::fs::remove_file(dir.join(FILE));
    }
}

/// Records the build just put in `root`: its `inputs`, its output `files` and what it said.
pub fn remember(
    root: &Path,
    inputs: &Inputs,
    files: Vec<String>,
    summary: &Summary,
) -> std::io::Result<()> {
    let record = Record {
        format: FORMAT,
        inputs: inputs.0.clone(),
        outputs: outputs_digest(root, &files),
        files,
        said: Said {
            feed_url: summary.feed_url.clone(),
            podcast_guid: summary.podcast_guid.clone(),
            episodes: summary.episodes.clone(),
            warnings: summary.warnings.clone(),
        },
    };
    let bytes = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
    let dir = output::staging_dir(root).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "the output folder is gone")
    })?;
    let path = dir.join(FILE);
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, &path)
}

/// The digest of the output's state: which folder it is, and each file's metadata.
fn outputs_digest(root: &Path, files: &[String]) -> String {
    let mut d = Digester::default();
    d.text("podseed outputs");
    // A build that changed anything swapped in another folder.
    d.text(&format!(
        "{:?}",
        std::fs::metadata(root).as_ref().map(identity)
    ));
    for f in files.iter().map(String::as_str).chain([MANIFEST]) {
        d.text(f);
        // Not followed: a file replaced by a link is not the file podseed wrote.
        d.meta(std::fs::symlink_metadata(root.join(f)));
    }
    d.finish()
}

/// A SHA-256 over length-prefixed texts and metadata.
#[derive(Default)]
struct Digester(Sha256);

impl Digester {
    fn text(&mut self, s: &str) {
        self.0.update((s.len() as u64).to_le_bytes());
        self.0.update(s.as_bytes());
    }

    fn meta(&mut self, m: std::io::Result<Metadata>) {
        let text = match m {
            Ok(m) => {
                let (secs, nanos) = super::cache::mtime_key(&m);
                format!("{} {} {secs}.{nanos} {:?}", kind(&m), m.len(), identity(&m))
            }
            Err(e) => format!("{:?}", e.kind()),
        };
        self.text(&text);
    }

    /// A file the build may read (links followed, as the build does); a missing one counts.
    fn file(&mut self, path: &Path) {
        self.text(&path.to_string_lossy());
        self.meta(std::fs::metadata(path));
    }

    /// Every entry below `dir`, as the scan walks it; None if the walk fails.
    fn tree(&mut self, dir: &Path) -> Option<()> {
        self.text(&dir.to_string_lossy());
        for entry in WalkDir::new(dir).follow_links(true).sort_by_file_name() {
            let entry = entry.ok()?;
            let rel = entry.path().strip_prefix(dir).ok()?;
            self.text(&rel.to_string_lossy());
            self.meta(entry.metadata().map_err(std::io::Error::from));
        }
        Some(())
    }

    fn finish(self) -> String {
        crate::bt::hex(&self.0.finalize())
    }
}

fn kind(m: &Metadata) -> &'static str {
    if m.is_dir() {
        "dir"
    } else if m.is_symlink() {
        "link"
    } else {
        "file"
    }
}

/// Which file this is (device and inode): a file replaced by another with the same size
/// and mtime (a copy that kept its times) is told apart.
#[cfg(unix)]
fn identity(m: &Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn identity(_: &Metadata) -> (u64, u64) {
    (0, 0)
}

/// Git's index for the work tree `dir` is in, if any: the manifest records git's blob ids,
/// which change with it.
fn git_index(dir: &Path) -> Option<PathBuf> {
    let dir = std::fs::canonicalize(dir).ok()?;
    for folder in dir.ancestors() {
        let dot_git = folder.join(".git");
        let Ok(m) = std::fs::metadata(&dot_git) else {
            continue;
        };
        if m.is_dir() {
            return Some(dot_git.join("index"));
        }
        // A linked work tree or a submodule: `.git` is a file naming the real folder.
        let text = std::fs::read_to_string(&dot_git).ok()?;
        let gitdir = text.strip_prefix("gitdir:")?.trim();
        return Some(folder.join(gitdir).join("index"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_index_is_found_in_a_work_tree_and_a_linked_one() {
        let d = tempfile::tempdir().expect("tmp");
        let show = d.path().join("show");
        std::fs::create_dir_all(show.join("episodes/2026")).expect("mkdir");
        assert_eq!(git_index(&show.join("episodes/2026")), None);
        std::fs::write(show.join(".git"), "gitdir: ../main/.git/worktrees/show\n").expect("w");
        let found = git_index(&show.join("episodes/2026")).expect("linked work tree");
        assert!(
            found.ends_with("main/.git/worktrees/show/index"),
            "{found:?}"
        );
        std::fs::remove_file(show.join(".git")).expect("rm");
        std::fs::create_dir_all(show.join(".git")).expect("mkdir");
        let found = git_index(&show.join("episodes")).expect("work tree");
        assert!(found.ends_with("show/.git/index"), "{found:?}");
    }

    #[test]
    fn a_tree_digest_changes_with_a_file_added_or_rewritten() {
        let d = tempfile::tempdir().expect("tmp");
        let digest = || {
            let mut g = Digester::default();
            g.tree(d.path()).expect("walk");
            g.finish()
        };
        std::fs::write(d.path().join("a.mp3"), b"one").expect("w");
        let first = digest();
        assert_eq!(digest(), first, "nothing changed");
        std::fs::write(d.path().join("a.md"), b"notes").expect("w");
        let second = digest();
        assert_ne!(second, first, "a new sidecar");
        std::fs::write(d.path().join("a.mp3"), b"three").expect("w");
        assert_ne!(digest(), second, "a rewritten file");
    }
}
