//! Stage 6: switch the output folder from one build to the next in one atomic step.
//!
//! A reader of the output folder (a podcast app, a BitTorrent client, `serve`, a static
//! server) must see the whole previous build or the whole new one, even when publish is
//! killed at any instant. Replacing files one by one cannot give that (a feed and the MP3 it
//! describes are two files), so each build that changes anything is made complete in a
//! staging folder beside the output, `.<name>.podseed/next/`, and then swapped with the
//! output folder by one `renameat2(RENAME_EXCHANGE)` (Linux): the output path stays a real
//! folder, so uploads (rsync, object stores, Pages), nginx roots and git ignores that name it
//! keep working, and no symlink is involved. The old build, now in the staging path, is then
//! removed. Where the kernel or filesystem cannot exchange, two renames do the switch and a
//! reader may find the output missing for that instant (never mixed).
//!
//! A new build is cheap: every file that is already right in the current output (same
//! bytes, or the same source file) is hard-linked from it, so it keeps its inode and mtime
//! (ETags stay) and nothing is copied again; media are hard links to the sources when the
//! filesystem allows, else copies. Files in the output that podseed did not write (a
//! `CNAME`, a `robots.txt`) are carried into every new build. A build where every file is
//! already right writes nothing but, when it changed, the manifest (the build cache, never
//! served), which is replaced by a rename of its own. A lock file in the staging folder
//! keeps two publishes from writing one output at once.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use super::PublishError;

/// What a file of the output should contain.
#[derive(Debug, Clone)]
pub enum Content {
    /// These bytes.
    Bytes(Vec<u8>),
    /// The same bytes as this source file (hard link, else copy).
    SameAs(PathBuf),
    /// The file already in the output at this path, as it is: the planner saw it there and
    /// knows its inputs unchanged (a kept torrent or page), so it is not looked at again.
    Kept,
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

/// The folder of the manifest, which is not part of the site.
const MANIFEST_DIR: &str = ".podseed";

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

/// Puts the build `plan` into the output folder `out`: nothing when every file is already
/// there, else a complete new build, swapped in whole. `previous` lists what the build now in
/// `out` wrote (its manifest's `outputs`); whatever else is there is carried over.
///
/// A failure before the swap (an unreadable source, a full disk, permissions, another
/// publish holding the lock) leaves `out` exactly as it was.
pub fn write(out: &Path, plan: &Plan, previous: &[String]) -> Result<WriteStats, PublishError> {
    let out = resolve_output(out)?;
    let staging = Staging::lock(&out)?;
    staging.clear()?;
    let had_output = out.is_dir();
    let files: Vec<&OutputFile> = plan.assets.iter().chain(&plan.pages).collect();
    let current: Vec<bool> = files
        .iter()
        .map(|f| had_output && is_current(&out, f))
        .collect();
    let wanted: BTreeSet<&str> = files.iter().map(|f| f.rel.as_str()).collect();
    let removed = previous
        .iter()
        .filter(|rel| !wanted.contains(rel.as_str()) && is_safe_rel(rel))
        .filter(|rel| fs::symlink_metadata(out.join(rel)).is_ok())
        .count();
    let unchanged = current.iter().filter(|&&c| c).count();
    let stats = WriteStats {
        written: files.len() - unchanged,
        unchanged,
        removed,
    };
    if had_output && stats.written == 0 && removed == 0 {
        replace_manifest(&out, &staging, &plan.manifest)?;
        return Ok(stats);
    }

    let next = staging.next();
    let built = build(&out, &next, &files, &current, previous, &plan.manifest);
    if let Err(e) = built {
        let _ = fs::remove_dir_all(&next);
        return Err(e);
    }
    if had_output {
        // The new build is reached with the rights the output folder had (a group a web
        // server reads through, say).
        if let Ok(meta) = fs::metadata(&out) {
            let _ = fs::set_permissions(&next, meta.permissions());
        }
    }
    let old = switch(&out, &staging, had_output).map_err(|source| {
        let _ = fs::remove_dir_all(&next);
        PublishError::Io {
            path: out.clone(),
            source,
        }
    })?;
    if let Some(old) = old {
        // A failure here leaves only the staging folder untidy; the next build clears it.
        if let Err(e) = fs::remove_dir_all(&old) {
            tracing::warn!("could not remove the previous build {}: {e}", old.display());
        }
    }
    Ok(stats)
}

/// The output folder as an absolute path with symlinks resolved (a symlinked output is
/// built beside its target, so that the swap replaces the folder, not the link).
fn resolve_output(out: &Path) -> Result<PathBuf, PublishError> {
    let resolved = if fs::symlink_metadata(out).is_ok() {
        fs::canonicalize(out).map_err(io_err(out))?
    } else {
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        fs::create_dir_all(parent).map_err(io_err(parent))?;
        let parent = fs::canonicalize(parent).map_err(io_err(parent))?;
        match out.file_name() {
            Some(name) => parent.join(name),
            None => parent,
        }
    };
    if resolved.parent().is_none() || resolved.file_name().is_none() {
        return Err(PublishError::Output {
            path: out.to_path_buf(),
            message: "cannot be the output folder: podseed keeps its next build beside it; choose a folder such as public/".into(),
        });
    }
    if fs::metadata(&resolved).is_ok_and(|m| !m.is_dir()) {
        return Err(PublishError::Output {
            path: out.to_path_buf(),
            message: "is not a folder; remove it or choose another output_dir".into(),
        });
    }
    Ok(resolved)
}

/// The staging folder of the output folder `out` (`.<name>.podseed` beside it), found
/// without creating anything; None when `out` cannot be resolved (the build then says why).
pub fn staging_dir(out: &Path) -> Option<PathBuf> {
    let resolved = if fs::symlink_metadata(out).is_ok() {
        fs::canonicalize(out).ok()?
    } else {
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        fs::canonicalize(parent).ok()?.join(out.file_name()?)
    };
    Some(staging_of(&resolved))
}

/// `.<name>.podseed` beside the resolved output folder `out`.
fn staging_of(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    out.with_file_name(format!(".{name}.podseed"))
}

/// `.<output name>.podseed/` beside the output: the next build, the lock, the previous
/// build while it is being removed, and the record of the last build
/// ([`super::last_build`]). Locked for as long as this value lives.
struct Staging {
    dir: PathBuf,
    _lock: fs::File,
}

impl Staging {
    fn lock(out: &Path) -> Result<Staging, PublishError> {
        let dir = staging_of(out);
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        // Git ignores the folder on its own, whatever the project's .gitignore says.
        let ignore = dir.join(".gitignore");
        if !ignore.exists() {
            fs::write(
                &ignore,
                "# podseed's staging folder for the next build\n*\n",
            )
            .map_err(io_err(&ignore))?;
        }
        let lock_path = dir.join("lock");
        let lock = fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        #[cfg(unix)]
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |e| {
                if e == rustix::io::Errno::WOULDBLOCK {
                    PublishError::Output {
                        path: out.to_path_buf(),
                        message: "another podseed publish is writing it; wait for it to finish"
                            .into(),
                    }
                } else {
                    io_err(&lock_path)(e.into())
                }
            },
        )?;
        Ok(Staging { dir, _lock: lock })
    }

    /// Where the next build is made.
    fn next(&self) -> PathBuf {
        self.dir.join("next")
    }

    /// Where the previous build goes when the output cannot be exchanged in one step.
    fn old(&self) -> PathBuf {
        self.dir.join("old")
    }

    /// Removes what a killed build left.
    fn clear(&self) -> Result<(), PublishError> {
        for leftover in [self.next(), self.old(), self.dir.join("manifest.json")] {
            let gone = match fs::symlink_metadata(&leftover) {
                Err(_) => Ok(()),
                Ok(m) if m.is_dir() => fs::remove_dir_all(&leftover),
                Ok(_) => fs::remove_file(&leftover),
            };
            gone.map_err(|source| PublishError::Io {
                path: leftover.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

/// Makes the complete new build in `next`: current files linked from `out`, the others
/// produced, files podseed did not write carried over, the manifest last.
fn build(
    out: &Path,
    next: &Path,
    files: &[&OutputFile],
    current: &[bool],
    previous: &[String],
    manifest: &[u8],
) -> Result<(), PublishError> {
    fs::create_dir_all(next).map_err(io_err(next))?;
    // Folders made so far: a long show has thousands of files in a few folders, and asking
    // the filesystem again for each costs a failed mkdir and a stat.
    let mut made: HashSet<PathBuf> = HashSet::new();
    for (f, &is_current) in files.iter().zip(current) {
        let target = next.join(&f.rel);
        let parent = target.parent().unwrap_or(next);
        if !made.contains(parent) {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
            made.insert(parent.to_path_buf());
        }
        // Same filesystem, so a link keeps the file as it is; produce it anew if refused.
        if is_current && fs::hard_link(out.join(&f.rel), &target).is_ok() {
            continue;
        }
        produce(f, &target)?;
    }
    if out.is_dir() {
        let ours: BTreeSet<&str> = files
            .iter()
            .map(|f| f.rel.as_str())
            .chain(previous.iter().map(String::as_str))
            .collect();
        carry_over(out, next, &ours)?;
    }
    let target = next.join(MANIFEST);
    let parent = target.parent().unwrap_or(next);
    fs::create_dir_all(parent).map_err(io_err(parent))?;
    fs::write(&target, manifest).map_err(io_err(&target))
}

/// Writes one output file at `target` (a fresh path in the next build).
fn produce(f: &OutputFile, target: &Path) -> Result<(), PublishError> {
    match &f.content {
        // No fsync: the swap is atomic for readers and against a killed build; a build
        // interrupted by power loss is repaired by running publish again.
        Content::Bytes(bytes) => fs::write(target, bytes).map_err(|source| PublishError::Io {
            path: target.to_path_buf(),
            source,
        }),
        Content::Kept => Err(PublishError::Output {
            path: target.to_path_buf(),
            message: "disappeared from the output during the build; publish again".into(),
        }),
        Content::SameAs(src) => {
            // Link the file itself, not a symlink that would dangle once uploaded.
            let src = fs::canonicalize(src).map_err(|source| PublishError::Io {
                path: src.clone(),
                source,
            })?;
            if fs::hard_link(&src, target).is_ok() {
                Ok(())
            } else {
                copy_with_mtime(&src, target)
            }
        }
    }
}

/// Whether `out` already holds `f` as the plan wants it.
fn is_current(out: &Path, f: &OutputFile) -> bool {
    let target = out.join(&f.rel);
    match &f.content {
        Content::Bytes(bytes) => {
            fs::symlink_metadata(&target)
                .is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64)
                && fs::read(&target).is_ok_and(|old| old == *bytes)
        }
        // `same_file` follows a symlinked source itself: no path resolution per file.
        Content::SameAs(src) => same_file(src, &target),
        Content::Kept => true,
    }
}

/// Links (or copies) into `next` what `out` holds besides podseed's own files: the
/// manifest folder and every path in `ours` stay behind, so do leftovers of old versions'
/// temporary files. Empty folders are kept; a folder emptied of podseed's files is not.
fn carry_over(out: &Path, next: &Path, ours: &BTreeSet<&str>) -> Result<(), PublishError> {
    let manifest_dir = out.join(MANIFEST_DIR);
    let walk = walkdir::WalkDir::new(out)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| e.path() != manifest_dir);
    for entry in walk {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(out).to_path_buf();
            PublishError::Io {
                path,
                source: e.into(),
            }
        })?;
        let Ok(rel) = entry.path().strip_prefix(out) else {
            continue;
        };
        let rel_text = rel.to_string_lossy().replace('\\', "/");
        let kind = entry.file_type();
        if ours.contains(rel_text.as_str())
            || entry.file_name().to_string_lossy().contains(TEMP_MARK)
        {
            continue;
        }
        let target = next.join(rel);
        if kind.is_dir() {
            let empty = fs::read_dir(entry.path())
                .map_err(io_err(entry.path()))?
                .next()
                .is_none();
            if empty {
                fs::create_dir_all(&target).map_err(io_err(&target))?;
            }
            continue;
        }
        if fs::symlink_metadata(&target).is_ok() {
            // The plan wrote this path; podseed's file wins.
            continue;
        }
        let parent = target.parent().unwrap_or(next);
        fs::create_dir_all(parent).map_err(io_err(parent))?;
        if kind.is_symlink() {
            let to = fs::read_link(entry.path()).map_err(io_err(entry.path()))?;
            #[cfg(unix)]
            std::os::unix::fs::symlink(&to, &target).map_err(io_err(&target))?;
            #[cfg(not(unix))]
            let _ = to;
        } else if fs::hard_link(entry.path(), &target).is_err() {
            copy_with_mtime(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Replaces only the manifest of the build in `out` (the site itself is unchanged): written
/// in the staging folder, renamed into place.
fn replace_manifest(out: &Path, staging: &Staging, manifest: &[u8]) -> Result<(), PublishError> {
    let target = out.join(MANIFEST);
    if fs::read(&target).is_ok_and(|old| old == manifest) {
        return Ok(());
    }
    let tmp = staging.dir.join("manifest.json");
    fs::write(&tmp, manifest).map_err(io_err(&tmp))?;
    let parent = target.parent().unwrap_or(out);
    fs::create_dir_all(parent).map_err(io_err(parent))?;
    fs::rename(&tmp, &target).map_err(io_err(&target))
}

/// Puts the staged build in place of `out`; returns where the previous build now is, to be
/// removed. One exchange where the kernel and filesystem support it, else two renames.
fn switch(out: &Path, staging: &Staging, had_output: bool) -> std::io::Result<Option<PathBuf>> {
    let next = staging.next();
    if !had_output {
        fs::rename(&next, out)?;
        return Ok(None);
    }
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        use rustix::io::Errno;
        match renameat_with(CWD, &next, CWD, out, RenameFlags::EXCHANGE) {
            Ok(()) => return Ok(Some(next)),
            // Old kernels and some filesystems (network ones, say) cannot exchange.
            Err(e) if e == Errno::INVAL || e == Errno::NOSYS || e == Errno::NOTSUP => {}
            Err(e) => return Err(e.into()),
        }
    }
    let old = staging.old();
    fs::rename(out, &old)?;
    if let Err(e) = fs::rename(&next, out) {
        let _ = fs::rename(&old, out);
        return Err(e);
    }
    Ok(Some(old))
}

/// Turns an I/O error at `path` into a [`PublishError`] that names it.
fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PublishError {
    let path = path.to_path_buf();
    move |source| PublishError::Io { path, source }
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

/// Another filesystem (or one without links): copy, keeping the source's mtime so the next
/// build can tell the copy is current without reading it. The mtime is set through the
/// handle we wrote with, so a read-only source (whose mode the copy would inherit) works.
fn copy_with_mtime(src: &Path, target: &Path) -> Result<(), PublishError> {
    let mut from = fs::File::open(src).map_err(io_err(src))?;
    let mut to = fs::File::create(target).map_err(io_err(target))?;
    std::io::copy(&mut from, &mut to).map_err(io_err(target))?;
    let mtime = from.metadata().and_then(|m| m.modified());
    if let Ok(t) = mtime {
        to.set_modified(t).map_err(io_err(target))?;
    }
    Ok(())
}

/// Part of the temporary files' names of podseed versions that replaced files one by one;
/// such leftovers are not carried into a new build.
const TEMP_MARK: &str = ".podseed-tmp-";

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

    fn bytes(rel: &str, b: &[u8]) -> OutputFile {
        OutputFile {
            rel: rel.into(),
            content: Content::Bytes(b.to_vec()),
        }
    }

    fn ino(p: &Path) -> u64 {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            fs::symlink_metadata(p).expect("meta").ino()
        }
        #[cfg(not(unix))]
        {
            let _ = p;
            0
        }
    }

    #[test]
    fn a_failure_while_preparing_changes_nothing() {
        let d = tempfile::tempdir().expect("tmp");
        let out = d.path().join("public");
        let first = Plan {
            assets: vec![bytes("torrents/a.torrent", b"old")],
            pages: vec![bytes("feed.xml", b"<old/>")],
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
                bytes("torrents/a.torrent", b"new"),
                OutputFile {
                    rel: "episodes/b.mp3".into(),
                    content: Content::SameAs(d.path().join("missing.mp3")),
                },
            ],
            pages: vec![bytes("feed.xml", b"<new/>")],
            manifest: b"{\"x\":1}".to_vec(),
        };
        assert!(write(&out, &second, &first.paths()).is_err());
        let after: Vec<Vec<u8>> = ["torrents/a.torrent", "feed.xml", MANIFEST]
            .iter()
            .map(|p| fs::read(out.join(p)).expect("read"))
            .collect();
        assert_eq!(before, after);
        assert!(!d.path().join(".public.podseed/next").exists());
    }

    #[test]
    fn a_build_is_swapped_in_whole_and_a_no_op_build_touches_nothing() {
        let d = tempfile::tempdir().expect("tmp");
        let src = d.path().join("src.mp3");
        fs::write(&src, b"audio").expect("write");
        let out = d.path().join("public");
        let plan = Plan {
            assets: vec![
                OutputFile {
                    rel: "episodes/a.mp3".into(),
                    content: Content::SameAs(src.clone()),
                },
                bytes("torrents/a.torrent", b"t"),
            ],
            pages: vec![bytes("feed.xml", b"<rss/>")],
            manifest: b"{}".to_vec(),
        };
        let s = write(&out, &plan, &[]).expect("write");
        assert_eq!((s.written, s.unchanged, s.removed), (3, 0, 0));
        assert_eq!(
            ino(&out.join("episodes/a.mp3")),
            ino(&src),
            "not a hard link"
        );
        assert_eq!(fs::read(out.join(MANIFEST)).expect("read"), b"{}");
        let folder = ino(&out);
        let torrent = ino(&out.join("torrents/a.torrent"));

        // Nothing changed: the very same folder and files; a new manifest alone is renamed in.
        let quiet = Plan {
            manifest: b"{\"v\":2}".to_vec(),
            ..plan
        };
        let s = write(&out, &quiet, &quiet.paths()).expect("again");
        assert_eq!((s.written, s.unchanged, s.removed), (0, 3, 0));
        assert_eq!(ino(&out), folder);
        assert_eq!(fs::read(out.join(MANIFEST)).expect("read"), b"{\"v\":2}");

        // A changed feed: a new folder, in which the unchanged files are the same inodes
        // (same mtimes, so the same ETags) and the staging folder holds nothing but the lock.
        let before = quiet.paths();
        let changed = Plan {
            pages: vec![bytes("feed.xml", b"<rss>2</rss>")],
            ..quiet
        };
        let s = write(&out, &changed, &before).expect("changed");
        assert_eq!((s.written, s.unchanged, s.removed), (1, 2, 0));
        assert_ne!(ino(&out), folder);
        assert_eq!(ino(&out.join("torrents/a.torrent")), torrent);
        assert_eq!(
            fs::read(out.join("feed.xml")).expect("read"),
            b"<rss>2</rss>"
        );
        let mut staged: Vec<String> = fs::read_dir(d.path().join(".public.podseed"))
            .expect("staging")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        staged.sort();
        assert_eq!(staged, [".gitignore", "lock"]);
    }

    #[test]
    fn stale_outputs_go_and_the_podcasters_own_files_stay() {
        let d = tempfile::tempdir().expect("tmp");
        let out = d.path().join("public");
        let plan = Plan {
            assets: vec![
                bytes("torrents/a.torrent", b"a"),
                bytes("transcripts/a.vtt", b"WEBVTT"),
            ],
            pages: vec![bytes("feed.xml", b"<rss/>")],
            manifest: b"{}".to_vec(),
        };
        write(&out, &plan, &[]).expect("write");
        fs::write(out.join("CNAME"), b"show.example").expect("write");
        fs::create_dir_all(out.join(".well-known/acme")).expect("mkdir");
        fs::write(out.join(".well-known/acme/token"), b"t").expect("write");
        fs::create_dir_all(out.join("empty")).expect("mkdir");
        #[cfg(unix)]
        std::os::unix::fs::symlink("feed.xml", out.join("rss")).expect("symlink");
        // What a version that replaced files one by one could leave.
        fs::write(out.join(".feed.xml.podseed-tmp-77"), b"junk").expect("write");

        let smaller = Plan {
            assets: vec![bytes("torrents/a.torrent", b"a2")],
            pages: vec![bytes("feed.xml", b"<rss/>")],
            manifest: b"{}".to_vec(),
        };
        let s = write(&out, &smaller, &plan.paths()).expect("again");
        assert_eq!((s.written, s.unchanged, s.removed), (1, 1, 1));
        assert!(!out.join("transcripts").exists(), "emptied folder kept");
        assert_eq!(fs::read(out.join("CNAME")).expect("cname"), b"show.example");
        assert!(out.join(".well-known/acme/token").is_file());
        assert!(out.join("empty").is_dir());
        #[cfg(unix)]
        assert_eq!(
            fs::read_link(out.join("rss")).expect("link"),
            Path::new("feed.xml")
        );
        assert!(!out.join(".feed.xml.podseed-tmp-77").exists());
    }

    #[test]
    fn a_killed_builds_leftovers_are_cleared_and_a_second_publish_is_refused() {
        let d = tempfile::tempdir().expect("tmp");
        let out = d.path().join("public");
        let plan = Plan {
            assets: vec![],
            pages: vec![bytes("feed.xml", b"<rss/>")],
            manifest: b"{}".to_vec(),
        };
        write(&out, &plan, &[]).expect("write");
        let staging = d.path().join(".public.podseed");
        fs::create_dir_all(staging.join("next/episodes")).expect("mkdir");
        fs::write(staging.join("next/episodes/half.mp3"), b"half").expect("write");
        fs::create_dir_all(staging.join("old")).expect("mkdir");
        let other = Plan {
            pages: vec![bytes("feed.xml", b"<rss>2</rss>")],
            ..plan
        };
        write(&out, &other, &other.paths()).expect("again");
        assert!(!staging.join("next").exists() && !staging.join("old").exists());
        assert!(!out.join("episodes").exists(), "a half build leaked in");

        #[cfg(unix)]
        {
            let held = Staging::lock(&out).expect("lock");
            let err = write(&out, &other, &other.paths()).expect_err("locked");
            assert!(err.to_string().contains("another podseed publish"), "{err}");
            drop(held);
            write(&out, &other, &other.paths()).expect("after the lock");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_output_is_built_beside_its_target_and_stays_a_link() {
        let d = tempfile::tempdir().expect("tmp");
        let real = d.path().join("disk/site");
        fs::create_dir_all(&real).expect("mkdir");
        let out = d.path().join("public");
        std::os::unix::fs::symlink(&real, &out).expect("symlink");
        let plan = Plan {
            assets: vec![],
            pages: vec![bytes("feed.xml", b"<rss/>")],
            manifest: b"{}".to_vec(),
        };
        write(&out, &plan, &[]).expect("write");
        assert!(fs::symlink_metadata(&out).expect("meta").is_symlink());
        assert_eq!(fs::read(real.join("feed.xml")).expect("read"), b"<rss/>");
        assert!(d.path().join("disk/.site.podseed").is_dir());
        let not_a_folder = d.path().join("file");
        fs::write(&not_a_folder, b"x").expect("write");
        let err = write(&not_a_folder, &plan, &[]).expect_err("a file");
        assert!(err.to_string().contains("is not a folder"), "{err}");
    }
}
