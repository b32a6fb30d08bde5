//! Stage 6: put the build into the output folder without ever leaving it half-written.
//!
//! Every file is written to a temporary name in its folder and renamed into place, so a
//! reader sees the old file or the new one, never a mix. Media and torrents go first, the
//! feeds and the page after them (a feed never names a file that is not there yet), then the
//! manifest, and only then are files of the previous build that this one no longer has
//! removed. Files whose content is already right are left untouched (same mtime, no write).
//! Media are hard links to the sources when the filesystem allows, else copies.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::PublishError;

/// What a file of the output should contain.
#[derive(Debug, Clone)]
pub enum Content {
    /// These bytes.
    Bytes(Vec<u8>),
    /// The same bytes as this source file (hard link, else copy).
    SameAs(PathBuf),
}

/// One file of the output, by path relative to the output folder (`/`-separated).
#[derive(Debug, Clone)]
pub struct OutputFile {
    /// Relative path.
    pub rel: String,
    /// Its content.
    pub content: Content,
}

/// Everything a build writes, in the order it must land.
#[derive(Debug, Default)]
pub struct Plan {
    /// Media, torrents, artwork, chapters, transcripts.
    pub assets: Vec<OutputFile>,
    /// feed.xml, torrents.xml, index.html: written after every asset.
    pub pages: Vec<OutputFile>,
    /// The manifest bytes, written last of all.
    pub manifest: Vec<u8>,
}

/// Where the manifest lives inside the output folder.
pub const MANIFEST: &str = ".podseed/manifest.json";

/// What writing did.
#[derive(Debug, Default, Clone, Copy)]
pub struct WriteStats {
    /// Files created or replaced.
    pub written: usize,
    /// Files already right.
    pub unchanged: usize,
    /// Stale files removed.
    pub removed: usize,
}

impl Plan {
    /// Every path the plan writes, for the manifest's `outputs`.
    pub fn paths(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .assets
            .iter()
            .chain(&self.pages)
            .map(|f| f.rel.clone())
            .collect();
        v.sort();
        v
    }
}

/// Writes `plan` into `out`, then removes the `previous` outputs that the plan no longer has.
///
/// Two phases: every new or changed file is first prepared under a temporary name (the
/// part that can fail: copying, a full disk, permissions); only when all are ready are
/// they renamed into place, assets first, then pages, then the manifest. A failure while
/// preparing removes the temporary files and leaves the previous output untouched.
pub fn write(out: &Path, plan: &Plan, previous: &[String]) -> Result<WriteStats, PublishError> {
    let mut stats = WriteStats::default();
    sweep_temp_files(out);
    let manifest = OutputFile {
        rel: MANIFEST.to_string(),
        content: Content::Bytes(plan.manifest.clone()),
    };
    let mut ready: Vec<(PathBuf, PathBuf)> = Vec::new();
    let discard = |ready: &[(PathBuf, PathBuf)]| {
        for (tmp, _) in ready {
            let _ = fs::remove_file(tmp);
        }
    };
    for f in plan.assets.iter().chain(&plan.pages) {
        match prepare(out, f) {
            Ok(Some(pair)) => ready.push(pair),
            Ok(None) => stats.unchanged += 1,
            Err(e) => {
                discard(&ready);
                return Err(e);
            }
        }
    }
    stats.written = ready.len();
    match prepare(out, &manifest) {
        Ok(pair) => ready.extend(pair),
        Err(e) => {
            discard(&ready);
            return Err(e);
        }
    }
    for (i, (tmp, target)) in ready.iter().enumerate() {
        if let Err(source) = fs::rename(tmp, target) {
            discard(&ready[i..]);
            return Err(PublishError::Io {
                path: target.clone(),
                source,
            });
        }
    }
    let keep: BTreeSet<String> = plan.paths().into_iter().collect();
    for rel in previous {
        if keep.contains(rel) || !is_safe_rel(rel) {
            continue;
        }
        let p = out.join(rel);
        match fs::remove_file(&p) {
            Ok(()) => {
                stats.removed += 1;
                remove_empty_parents(out, &p);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(PublishError::Io { path: p, source }),
        }
    }
    Ok(stats)
}

/// A manifest path must stay inside the output folder (it is data a user could edit).
fn is_safe_rel(rel: &str) -> bool {
    !rel.is_empty()
        && !rel.starts_with('/')
        && !rel.contains('\\')
        && rel
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..")
}

/// Removes temporary files that a killed build left behind.
fn sweep_temp_files(out: &Path) {
    for e in walkdir::WalkDir::new(out)
        .into_iter()
        .filter_map(Result::ok)
    {
        if e.file_type().is_file() && e.file_name().to_string_lossy().contains(TEMP_MARK) {
            let _ = fs::remove_file(e.path());
        }
    }
}

fn remove_empty_parents(out: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == out || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Prepares one file under a temporary name beside its target; None when the target is
/// already right. Returns (temporary, target).
fn prepare(out: &Path, f: &OutputFile) -> Result<Option<(PathBuf, PathBuf)>, PublishError> {
    let target = out.join(&f.rel);
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PublishError::Io { path, source }
    };
    let parent = target.parent().unwrap_or(out);
    fs::create_dir_all(parent).map_err(io_err(parent))?;
    let tmp = temp_name(&target);
    let result = match &f.content {
        Content::Bytes(bytes) => {
            if fs::read(&target).is_ok_and(|old| old == *bytes) {
                return Ok(None);
            }
            // No fsync: rename makes the swap atomic for readers and against a killed build;
            // a build interrupted by power loss is repaired by running publish again.
            fs::File::create(&tmp)
                .and_then(|mut file| file.write_all(bytes))
                .map_err(io_err(&tmp))
        }
        Content::SameAs(src) => {
            // Link the file itself, not a symlink that would dangle once uploaded.
            let src = fs::canonicalize(src).map_err(io_err(src))?;
            if same_file(&src, &target) {
                return Ok(None);
            }
            let _ = fs::remove_file(&tmp);
            if fs::hard_link(&src, &tmp).is_ok() {
                Ok(())
            } else {
                copy_with_mtime(&src, &tmp)
            }
        }
    };
    match result {
        Ok(()) => Ok(Some((tmp, target))),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Another filesystem (or one without links): copy, keeping the source's mtime so the next
/// build can tell the copy is current without reading it. The mtime is set through the
/// handle we wrote with, so a read-only source (whose mode the copy would inherit) works.
fn copy_with_mtime(src: &Path, tmp: &Path) -> Result<(), PublishError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PublishError::Io { path, source }
    };
    let mut from = fs::File::open(src).map_err(io_err(src))?;
    let mut to = fs::File::create(tmp).map_err(io_err(tmp))?;
    std::io::copy(&mut from, &mut to).map_err(io_err(tmp))?;
    let mtime = from.metadata().and_then(|m| m.modified());
    if let Ok(t) = mtime {
        to.set_modified(t).map_err(io_err(tmp))?;
    }
    Ok(())
}

/// Part of every temporary file's name, so leftovers of a killed build can be swept.
const TEMP_MARK: &str = ".podseed-tmp-";

fn temp_name(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}{TEMP_MARK}{}", std::process::id()))
}

/// The target is the source: the same inode on one filesystem (a link), else a copy with
/// the same size and mtime. On one filesystem a same-looking other inode is not enough:
/// the source may have been replaced by a new file of equal size and mtime.
fn same_file(src: &Path, target: &Path) -> bool {
    let (Ok(a), Ok(b)) = (fs::metadata(src), fs::symlink_metadata(target)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if a.dev() == b.dev() {
            return a.ino() == b.ino();
        }
    }
    b.is_file()
        && a.len() == b.len()
        && a.modified().ok().is_some()
        && a.modified().ok() == b.modified().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_while_preparing_changes_nothing() {
        let d = tempfile::tempdir().expect("tmp");
        let out = d.path().join("public");
        let first = Plan {
            assets: vec![OutputFile {
                rel: "torrents/a.torrent".into(),
                content: Content::Bytes(b"old".to_vec()),
            }],
            pages: vec![OutputFile {
                rel: "feed.xml".into(),
                content: Content::Bytes(b"<old/>".to_vec()),
            }],
            manifest: b"{}".to_vec(),
        };
        write(&out, &first, &[]).expect("first");
        let before: Vec<Vec<u8>> = ["torrents/a.torrent", "feed.xml", MANIFEST]
            .iter()
            .map(|p| fs::read(out.join(p)).expect("read"))
            .collect();
        // The second build changes the torrent and the feed but one source is missing.
        let second = Plan {
            assets: vec![
                OutputFile {
                    rel: "torrents/a.torrent".into(),
                    content: Content::Bytes(b"new".to_vec()),
                },
                OutputFile {
                    rel: "episodes/b.mp3".into(),
                    content: Content::SameAs(d.path().join("missing.mp3")),
                },
            ],
            pages: vec![OutputFile {
                rel: "feed.xml".into(),
                content: Content::Bytes(b"<new/>".to_vec()),
            }],
            manifest: b"{\"x\":1}".to_vec(),
        };
        assert!(write(&out, &second, &first.paths()).is_err());
        let after: Vec<Vec<u8>> = ["torrents/a.torrent", "feed.xml", MANIFEST]
            .iter()
            .map(|p| fs::read(out.join(p)).expect("read"))
            .collect();
        assert_eq!(before, after);
        let temps = walkdir::WalkDir::new(&out)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(TEMP_MARK))
            .count();
        assert_eq!(temps, 0);
    }

    #[test]
    fn writes_links_skips_unchanged_and_removes_stale() {
        let d = tempfile::tempdir().expect("tmp");
        let src = d.path().join("src.mp3");
        fs::write(&src, b"audio").expect("write");
        let out = d.path().join("public");
        let plan = Plan {
            assets: vec![OutputFile {
                rel: "episodes/a.mp3".into(),
                content: Content::SameAs(src.clone()),
            }],
            pages: vec![OutputFile {
                rel: "feed.xml".into(),
                content: Content::Bytes(b"<rss/>".to_vec()),
            }],
            manifest: b"{}".to_vec(),
        };
        let s = write(&out, &plan, &[]).expect("write");
        assert_eq!(s.written, 2);
        assert_eq!(
            fs::read(out.join("episodes/a.mp3")).expect("read"),
            b"audio"
        );
        assert_eq!(fs::read(out.join(MANIFEST)).expect("read"), b"{}");
        let s = write(&out, &plan, &plan.paths()).expect("again");
        assert_eq!((s.written, s.unchanged, s.removed), (0, 2, 0));

        fs::create_dir_all(out.join("torrents")).expect("mkdir");
        fs::write(out.join("torrents/old.torrent"), b"x").expect("write");
        let previous = vec![
            "torrents/old.torrent".to_string(),
            "../outside".to_string(),
            "feed.xml".to_string(),
        ];
        let s = write(&out, &plan, &previous).expect("again");
        assert_eq!(s.removed, 1);
        assert!(!out.join("torrents").exists(), "empty folder left behind");
        // A leftover of a killed build is swept; no temporary files remain.
        fs::write(out.join("episodes/.a.mp3.podseed-tmp-1"), b"junk").expect("write");
        write(&out, &plan, &plan.paths()).expect("again");
        let leftovers: Vec<_> = walkdir::WalkDir::new(&out)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains("podseed-tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
