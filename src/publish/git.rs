//! Content ids from git for the episodes, so that a fresh checkout reuses the build cache.
//!
//! The cache knows a file by its size and mtime, but a fresh clone (every CI run) gives
//! every file a new mtime, and every episode would be read and hashed again. When the
//! episodes folder is in a git work tree, git already knows each tracked file's content
//! by its blob id: a file that `git diff` finds unchanged from the index has exactly the
//! content of its index blob. The manifest records that id beside the file's digests, and
//! a later build whose file has another mtime but the same size and blob id reuses them.
//! Only regular files count (a symlink's blob is its target's name, not the audio). No git,
//! no work tree, or git refusing the folder (another owner): nothing is known, and files
//! are matched by mtime alone, as before.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};

/// Blob ids of the files under a folder that git tracks and that are unchanged in the
/// work tree, by path relative to that folder (`/`-separated).
#[derive(Debug, Default)]
pub struct CleanBlobs(HashMap<String, String>);

impl CleanBlobs {
    /// Asks git about `dir` (two commands, each reading the index once).
    pub fn of(dir: &Path) -> CleanBlobs {
        let Some(listed) = git(dir, &["ls-files", "--stage", "-z", "--", "."]) else {
            return CleanBlobs::default();
        };
        let diff = [
            "diff",
            "--no-ext-diff",
            "--name-only",
            "--relative",
            "-z",
            "--",
            ".",
        ];
        let Some(changed) = git(dir, &diff) else {
            return CleanBlobs::default();
        };
        CleanBlobs::parse(&listed, &changed)
    }

    /// From `git ls-files --stage -z` and `git diff --name-only -z` output.
    fn parse(listed: &[u8], changed: &[u8]) -> CleanBlobs {
        let changed: std::collections::HashSet<&[u8]> = changed
            .split(|&b| b == 0)
            .filter(|p| !p.is_empty())
            .collect();
        let mut blobs = HashMap::new();
        for entry in listed.split(|&b| b == 0) {
            // "MODE BLOB STAGE\tPATH"
            let Some(tab) = entry.iter().position(|&b| b == b'\t') else {
                continue;
            };
            let (meta, path) = (&entry[..tab], &entry[tab + 1..]);
            let mut fields = meta.split(|&b| b == b' ');
            let (Some(mode), Some(blob), Some(stage)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let regular = mode == b"100644" || mode == b"100755";
            if !regular || stage != b"0" || changed.contains(path) {
                continue;
            }
            if let (Ok(path), Ok(blob)) = (std::str::from_utf8(path), std::str::from_utf8(blob)) {
                blobs.insert(path.to_string(), blob.to_string());
            }
        }
        CleanBlobs(blobs)
    }

    /// The blob id of `rel` when git vouches for its content.
    pub fn get(&self, rel: &str) -> Option<&str> {
        self.0.get(rel).map(String::as_str)
    }
}

/// `git -C dir ARGS`'s standard output, None when git is missing or fails.
fn git(dir: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        // The repository is the one that holds `dir`, whatever a calling hook exported;
        // never prompt, never page.
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_PAGER", "cat")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unchanged_regular_files_at_stage_zero_are_vouched_for() {
        let listed = [
            "100644 aaaa 0\tep1.mp3",
            "100755 bbbb 0\tsub/ep2.mp3",
            "120000 cccc 0\tlink.mp3",
            "100644 dddd 0\tedited.mp3",
            "100644 eeee 1\tconflict.mp3",
        ]
        .join("\0");
        let listed = listed.as_bytes();
        let blobs = CleanBlobs::parse(listed, b"edited.mp3\0");
        assert_eq!(blobs.get("ep1.mp3"), Some("aaaa"));
        assert_eq!(blobs.get("sub/ep2.mp3"), Some("bbbb"));
        assert_eq!(blobs.get("link.mp3"), None);
        assert_eq!(blobs.get("edited.mp3"), None);
        assert_eq!(blobs.get("conflict.mp3"), None);
    }

    #[test]
    fn outside_a_work_tree_nothing_is_known() {
        let d = tempfile::tempdir().expect("tmp");
        std::fs::write(d.path().join("a.mp3"), b"x").expect("write");
        assert_eq!(CleanBlobs::of(d.path()).get("a.mp3"), None);
    }
}
