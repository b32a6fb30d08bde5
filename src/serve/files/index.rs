//! The published build as a table made once per (re)load, so a request for a known file
//! costs a hash lookup and no system call: path → size, times, entity tag, ready-made header
//! values, and either the bytes themselves (small files: feeds, pages, torrents, chapters,
//! artwork) or a file handle opened at indexing time (media).
//!
//! Holding the handles is what keeps a response whole across builds: `publish` swaps a new
//! build in by renaming folders and then deletes the old one, but a handle keeps reading the
//! file it opened, so a response that started on one build finishes on it even after the
//! table is replaced. Not here: request parsing, conditional requests and ranges (the
//! parent module), reading the handles (`read`), and anything the table does not list,
//! which the parent looks up on disk as before.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::{Component, Path};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderValue;
use bytes::Bytes;

use super::{content_type, etag, http_date, unix_seconds};

/// Files up to this size are held in memory.
pub const MEMORY_FILE_MAX: u64 = 256 * 1024;
/// Memory all held files may take together; later small files get a handle instead.
pub const MEMORY_TOTAL_MAX: u64 = 64 * 1024 * 1024;
/// Handles the table keeps open: every larger file takes one, and the process shares its
/// descriptor limit (often 1024) with its connections. Files past it are served from disk
/// by the path, as files the table does not list.
pub const MAX_HANDLES: usize = 256;
/// Paths the table lists at most; a bigger site is served from disk past it.
pub const MAX_ENTRIES: usize = 20_000;

/// One servable file, as the table holds it.
#[derive(Debug)]
pub struct Entry {
    /// The path relative to the output folder that the byte counter is told about (a
    /// folder's entry names its `index.html`).
    pub rel: String,
    /// Length in bytes.
    pub size: u64,
    /// Modification time, for Last-Modified and the entity tag.
    pub mtime: Option<SystemTime>,
    /// `mtime` in whole seconds, as HTTP dates compare.
    pub mtime_secs: Option<i64>,
    /// The strong entity tag, quoted.
    pub etag: String,
    /// The same tag as a header value.
    pub etag_value: HeaderValue,
    /// Last-Modified, when the time is known.
    pub last_modified: Option<HeaderValue>,
    /// Content-Type, by extension.
    pub content_type: HeaderValue,
    /// Content-Length of a full response.
    pub content_length: HeaderValue,
    /// Where the bytes are.
    pub source: Source,
}

/// Where an entry's bytes are.
#[derive(Debug)]
pub enum Source {
    /// Read at indexing time.
    Memory(Bytes),
    /// An open handle to the file that was indexed; reads are positioned, so one handle
    /// serves every response at once.
    Disk(Arc<File>),
}

impl Entry {
    /// Describes the open regular file `file` whose metadata is `meta`.
    pub fn new(rel: String, file: File, meta: &Metadata) -> Entry {
        Entry::with_source(
            rel,
            meta.len(),
            meta.modified().ok(),
            Source::Disk(Arc::new(file)),
        )
    }

    fn with_source(rel: String, size: u64, mtime: Option<SystemTime>, source: Source) -> Entry {
        let tag = etag(size, mtime.unwrap_or(UNIX_EPOCH));
        Entry {
            etag_value: HeaderValue::try_from(tag.as_str())
                .unwrap_or_else(|_| HeaderValue::from_static("\"0\"")),
            etag: tag,
            last_modified: mtime.and_then(|t| HeaderValue::try_from(http_date(t)).ok()),
            mtime_secs: mtime.and_then(unix_seconds),
            content_type: HeaderValue::from_static(content_type(&rel)),
            content_length: HeaderValue::from(size),
            rel,
            size,
            mtime,
            source,
        }
    }

    /// Whether the handle still shows the file as indexed. False when someone rewrote it in
    /// place (publish never does; it writes new files and renames), so the caller looks
    /// again instead of sending the new bytes under the old length and tag.
    pub fn unchanged_on_disk(&self) -> bool {
        match &self.source {
            Source::Memory(_) => true,
            Source::Disk(file) => file
                .metadata()
                .is_ok_and(|m| m.len() == self.size && m.modified().ok() == self.mtime),
        }
    }
}

/// The table of one build.
#[derive(Debug, Default)]
pub struct Index {
    entries: HashMap<String, Arc<Entry>>,
    memory: u64,
    handles: usize,
}

impl Index {
    /// The entry for a relative path as `resolve_request_path` gives it.
    pub fn get(&self, rel: &str) -> Option<&Arc<Entry>> {
        self.entries.get(rel)
    }

    /// Paths listed (folders with an index count once more).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Bytes held in memory.
    pub fn memory(&self) -> u64 {
        self.memory
    }

    /// Walks the canonical output folder `root`. Hidden names are never entered; a symlink
    /// is listed only if it resolves to a regular file under `root` through no hidden name;
    /// a symlink to a folder is left to the disk lookup. Unreadable entries are skipped.
    pub fn build(root: &Path) -> Index {
        let mut index = Index::default();
        let walk = walkdir::WalkDir::new(root)
            .follow_links(false)
            .min_depth(1)
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name()));
        for entry in walk {
            if index.entries.len() >= MAX_ENTRIES {
                tracing::info!("http: indexed {MAX_ENTRIES} files; the rest are served from disk");
                break;
            }
            let Ok(entry) = entry else { continue };
            let Some(rel) = relative(root, entry.path()) else {
                continue;
            };
            let file_type = entry.file_type();
            let opened = if file_type.is_file() {
                open_checked(entry.path(), entry.metadata().ok().as_ref())
            } else if file_type.is_symlink() {
                open_link(root, entry.path())
            } else {
                continue;
            };
            match opened {
                Ok(Some((file, meta))) => index.add(rel, file, &meta),
                Ok(None) => {}
                Err(error) => tracing::debug!(path = %rel, %error, "http: not indexed"),
            }
        }
        // A folder's URL serves its index.html.
        let folders: Vec<(String, Arc<Entry>)> = index
            .entries
            .iter()
            .filter_map(|(rel, entry)| {
                let folder = rel.strip_suffix("/index.html")?;
                Some((folder.to_owned(), entry.clone()))
            })
            .collect();
        for (folder, entry) in folders {
            index.entries.entry(folder).or_insert(entry);
        }
        index
    }

    fn add(&mut self, rel: String, mut file: File, meta: &Metadata) {
        let size = meta.len();
        if size <= MEMORY_FILE_MAX && self.memory + size <= MEMORY_TOTAL_MAX {
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            if file.read_to_end(&mut bytes).is_ok() && bytes.len() as u64 == size {
                self.memory += size;
                let source = Source::Memory(Bytes::from(bytes));
                let entry = Entry::with_source(rel.clone(), size, meta.modified().ok(), source);
                self.entries.insert(rel, Arc::new(entry));
            }
            // A file changing while we read it is left to the disk lookup.
            return;
        }
        if self.handles >= MAX_HANDLES {
            return;
        }
        self.handles += 1;
        let entry = Entry::new(rel.clone(), file, meta);
        self.entries.insert(rel, Arc::new(entry));
    }
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

/// `path` below `root` with `/` separators, if it is UTF-8 (a request path always is).
fn relative(root: &Path, path: &Path) -> Option<String> {
    let below = path.strip_prefix(root).ok()?;
    let mut rel = String::new();
    for component in below.components() {
        let Component::Normal(name) = component else {
            return None;
        };
        if !rel.is_empty() {
            rel.push('/');
        }
        rel.push_str(name.to_str()?);
    }
    (!rel.is_empty()).then_some(rel)
}

/// Opens a regular file the walk saw and checks the handle is that same file (the name
/// could have been replaced since, by a FIFO or a symlink, say).
fn open_checked(path: &Path, seen: Option<&Metadata>) -> io::Result<Option<(File, Metadata)>> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(None);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if seen.is_some_and(|s| (s.dev(), s.ino()) != (meta.dev(), meta.ino())) {
            return Ok(None);
        }
    }
    #[cfg(not(unix))]
    let _ = seen;
    Ok(Some((file, meta)))
}

/// Follows a symlink and opens its target if that is a regular file under `root` reached
/// through no hidden name.
fn open_link(root: &Path, link: &Path) -> io::Result<Option<(File, Metadata)>> {
    let Ok(target) = std::fs::canonicalize(link) else {
        return Ok(None);
    };
    let Ok(below) = target.strip_prefix(root) else {
        return Ok(None);
    };
    let hidden = below.components().any(|c| match c {
        Component::Normal(name) => is_hidden(name),
        _ => true,
    });
    if hidden || !std::fs::metadata(&target)?.is_file() {
        return Ok(None);
    }
    open_checked(&target, None)
}
