//! The output folder as static files over HTTP: the site that browsers and podcatchers fetch,
//! and the BEP 19 web seed that BitTorrent clients (aria2, libtorrent) read pieces from with
//! Range requests.
//!
//! One GET or HEAD in, one response out: strong ETags with If-None-Match, If-Modified-Since,
//! one byte range per request with If-Range. Known files are answered from a table of the
//! build made at each (re)load (`index`: small files in memory, larger ones from handles
//! opened then, read by `read`), so serving them touches neither paths nor metadata; a path
//! the table does not list is looked up on disk with the same checks.
//! Hidden paths (any segment starting with `.`, which covers the `.podseed/` state and
//! temporary files older versions of publish left) and anything resolving outside the
//! output folder are never served. Not here: routing, the tracker endpoints, where statistics are kept (the
//! caller's `on_body_bytes` does the counting), cache lifetimes, directory listings,
//! multipart ranges and compression.

mod index;
mod read;

use std::convert::Infallible;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use chrono::{DateTime, NaiveDateTime, Utc};
use futures_util::StreamExt;
use percent_encoding::percent_decode_str;

use index::{Entry, Index, Source};
use read::BufferPool;

/// Body chunk size for files held in memory: the counter hears of an aborted transfer
/// at this granularity. Files on disk go in chunks of `read::READ_BYTES`.
const CHUNK_BYTES: usize = 64 * 1024;

/// The smallest body from disk that [`StaticFiles::respond_zero_copy`] leaves to `sendfile`.
const ZERO_COPY_MIN: u64 = 64 * 1024;

/// The per-chunk byte counter `respond` reports to: (relative path, bytes in this chunk).
pub type OnBodyBytes = Arc<dyn Fn(&str, u64) + Send + Sync>;

/// The static handler: the output folder and the table of its current build.
#[derive(Debug)]
pub struct StaticFiles {
    /// Canonical output folder; every served file must resolve under it.
    root: PathBuf,
    /// The table of the build indexed last; swapped whole at a reload.
    index: RwLock<Arc<Index>>,
    /// Read buffers shared by every response streamed from disk.
    buffers: Arc<BufferPool>,
}

/// Why a request path cannot name a file in the output folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathRejection {
    /// The path does not start with `/`.
    #[error("request path does not start with '/'")]
    NotAbsolute,
    /// Percent-decoding gave bytes that are not UTF-8.
    #[error("request path is not UTF-8 after percent-decoding")]
    NotUtf8,
    /// A NUL byte, which no file name can hold.
    #[error("request path contains a NUL byte")]
    Nul,
    /// A backslash, a path separator on Windows.
    #[error("request path contains a backslash")]
    Backslash,
    /// An empty segment (`//`), the start of absolute-path tricks.
    #[error("request path contains an empty segment")]
    EmptySegment,
    /// A `..` segment.
    #[error("request path contains a '..' segment")]
    Traversal,
    /// A segment starting with `.`: private state or a temp file.
    #[error("request path names a hidden file")]
    Hidden,
    /// A segment longer than any file name can be (255 bytes on the usual filesystems):
    /// nothing by that name exists.
    #[error("request path has a segment longer than a file name can be")]
    NameTooLong,
}

impl PathRejection {
    /// The status to answer with: 404 for hidden paths, so their existence is not revealed,
    /// 400 for malformed ones.
    pub fn status(self) -> StatusCode {
        match self {
            PathRejection::Hidden | PathRejection::NameTooLong => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// A `Range` header as it applies to one file of known size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: send the whole file with 200.
    Full,
    /// Send these bytes with 206.
    Partial {
        /// First byte offset.
        start: u64,
        /// Last byte offset, already clamped to the file.
        end_inclusive: u64,
    },
    /// A well-formed range the file cannot satisfy: 416.
    Unsatisfiable,
}

impl StaticFiles {
    /// `root` is the output folder; fails if it does not exist. Indexes it at once.
    pub fn new(root: &Path) -> io::Result<Self> {
        let root = std::fs::canonicalize(root)?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a folder", root.display()),
            ));
        }
        let files = StaticFiles {
            root,
            index: RwLock::new(Arc::new(Index::default())),
            buffers: Arc::default(),
        };
        files.reindex();
        Ok(files)
    }

    /// The canonical output folder being served.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Indexes the build now in the output folder and serves from that table from now on;
    /// responses under way finish from the handles of the table they started with.
    /// Blocking (it reads the small files): call it off the async workers, at a reload.
    ///
    /// `publish` may swap a build in while the walk runs; the output folder's inode tells,
    /// and the walk is redone, so a table never mixes two builds.
    pub fn reindex(&self) -> IndexSummary {
        let mut index = Index::default();
        for _ in 0..4 {
            let before = folder_identity(&self.root);
            index = Index::build(&self.root);
            if before.is_some() && before == folder_identity(&self.root) {
                break;
            }
        }
        let summary = IndexSummary {
            paths: index.len(),
            memory_bytes: index.memory(),
        };
        *self.index.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(index);
        summary
    }

    /// Answers one GET or HEAD request for `path`, the raw, still percent-encoded URL path
    /// (e.g. "/episodes/my%20show.mp3").
    ///
    /// `on_body_bytes` is called with the resolved relative path ("episodes/my show.mp3") and
    /// the length of each body chunk as the connection pulls it, so an aborted download
    /// counts what was handed to the connection, not the whole file. HEAD answers with
    /// GET's headers, ranges included, and no body.
    pub async fn respond(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        on_body_bytes: OnBodyBytes,
    ) -> Response {
        self.respond_with(method, path, headers, on_body_bytes, false)
            .await
    }

    /// [`StaticFiles::respond`] for a writer that sends file bytes itself with
    /// `sendfile(2)`: a body of 64 KiB or more from a file on disk is then a stream of zeros
    /// of the chunks' lengths (counted as the real ones are, and costing no read), and the
    /// response carries the [`ZeroCopy`] slice the writer must send in their place. Only
    /// for such a writer: any other would send the zeros.
    pub async fn respond_zero_copy(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        on_body_bytes: OnBodyBytes,
    ) -> Response {
        self.respond_with(method, path, headers, on_body_bytes, true)
            .await
    }

    async fn respond_with(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        on_body_bytes: OnBodyBytes,
        zero_copy: bool,
    ) -> Response {
        let reply = if method == Method::GET || method == Method::HEAD {
            self.reply(path, headers).await
        } else {
            let mut reply = Reply::text(StatusCode::METHOD_NOT_ALLOWED);
            reply
                .headers
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            reply
        };
        reply.into_response(
            method == Method::HEAD,
            on_body_bytes,
            &self.buffers,
            zero_copy,
        )
    }

    /// Decides status, headers and body source for a GET or HEAD.
    async fn reply(&self, path: &str, request: &HeaderMap) -> Reply {
        let rel = match resolve_request_path(path) {
            Ok(rel) => rel,
            Err(rejection) => return Reply::text(rejection.status()),
        };
        let indexed = self
            .index
            .read()
            .ok()
            .and_then(|index| index.get(&rel).cloned());
        let entry = match indexed {
            Some(entry) if entry.unchanged_on_disk() => entry,
            // Not in the table (added since the last reload, or past its limits) or
            // rewritten in place: looked up on disk, with every check.
            _ => match self.open(rel).await {
                Ok(Some(entry)) => entry,
                Ok(None) => return Reply::text(StatusCode::NOT_FOUND),
                Err((rel, error)) => {
                    tracing::warn!(path = %rel, %error, "cannot serve file");
                    return Reply::text(StatusCode::INTERNAL_SERVER_ERROR);
                }
            },
        };
        reply_for(entry, request)
    }

    /// Opens the regular file `rel` names, or a folder's `index.html`, on the blocking pool
    /// in one trip.
    async fn open(&self, rel: String) -> Result<Option<Arc<Entry>>, (String, io::Error)> {
        let root = self.root.clone();
        let opened = tokio::task::spawn_blocking(move || match open_on_disk(&root, &rel) {
            Ok(found) => Ok(found.map(Arc::new)),
            Err(error) => Err((rel, error)),
        })
        .await;
        opened.unwrap_or_else(|join| Err((String::new(), io::Error::other(join))))
    }
}

/// What one indexing found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexSummary {
    /// Paths answered from the table (a folder with an index.html counts as one more).
    pub paths: usize,
    /// Bytes of small files held in memory.
    pub memory_bytes: u64,
}

/// What tells one build's output folder from the next: publish swaps folders, so the inode.
fn folder_identity(root: &Path) -> Option<(u64, u64)> {
    let meta = std::fs::metadata(root).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Some((0, 0))
    }
}

/// Status and headers for `entry`, after the conditional and Range headers.
fn reply_for(entry: Arc<Entry>, request: &HeaderMap) -> Reply {
    let size = entry.size;
    if not_modified(request, &entry.etag, entry.mtime_secs) {
        let mut reply = Reply::new(StatusCode::NOT_MODIFIED, ReplyBody::Empty);
        reply.headers.insert(header::ETAG, entry.etag_value.clone());
        return reply;
    }
    let range = requested_range(request, &entry.etag, entry.mtime_secs, size);
    let (status, start, len) = match range {
        RangeRequest::Full => (StatusCode::OK, 0, size),
        RangeRequest::Partial {
            start,
            end_inclusive,
        } => (
            StatusCode::PARTIAL_CONTENT,
            start,
            end_inclusive - start + 1,
        ),
        RangeRequest::Unsatisfiable => {
            let mut reply = Reply::new(StatusCode::RANGE_NOT_SATISFIABLE, ReplyBody::Empty);
            reply
                .headers
                .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            insert_string(
                &mut reply.headers,
                header::CONTENT_RANGE,
                format!("bytes */{size}"),
            );
            return reply;
        }
    };
    let mut headers = HeaderMap::with_capacity(8);
    headers.insert(header::CONTENT_TYPE, entry.content_type.clone());
    if status == StatusCode::OK {
        headers.insert(header::CONTENT_LENGTH, entry.content_length.clone());
    } else {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::ETAG, entry.etag_value.clone());
    if let Some(modified) = &entry.last_modified {
        headers.insert(header::LAST_MODIFIED, modified.clone());
    }
    if status == StatusCode::PARTIAL_CONTENT {
        let end = start + len - 1;
        insert_string(
            &mut headers,
            header::CONTENT_RANGE,
            format!("bytes {start}-{end}/{size}"),
        );
    }
    Reply {
        status,
        headers,
        body: ReplyBody::File { entry, start, len },
    }
}

/// The disk lookup for paths the table does not answer.
///
/// `Ok(None)` is "not found" in all its forms: missing, outside the root, hidden behind a
/// symlink, a folder without index, or not a regular file (opening a FIFO would block).
fn open_on_disk(root: &Path, rel: &str) -> io::Result<Option<Entry>> {
    let Some(mut canonical) = contained(root, &root.join(rel))? else {
        return Ok(None);
    };
    let Some(mut meta) = missing_is_none(std::fs::metadata(&canonical))? else {
        return Ok(None);
    };
    let mut served = rel.to_owned();
    if meta.is_dir() {
        // The index may itself be a symlink, so it is checked like any requested file.
        let Some(index) = contained(root, &canonical.join("index.html"))? else {
            return Ok(None);
        };
        let Some(index_meta) = missing_is_none(std::fs::metadata(&index))? else {
            return Ok(None);
        };
        canonical = index;
        meta = index_meta;
        served = format!("{}/index.html", rel.trim_end_matches('/'));
    }
    if !meta.is_file() {
        return Ok(None);
    }
    let Some(file) = missing_is_none(std::fs::File::open(&canonical))? else {
        return Ok(None);
    };
    // Size and time come from the open handle, so the headers describe the bytes we
    // stream even if `publish` renames a new build into place meanwhile.
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(None);
    }
    Ok(Some(Entry::new(served, file, &meta)))
}

/// Canonicalizes `path` and keeps it only if it stays under `root` and no component below
/// it is hidden (a symlink could point at `.podseed/`).
fn contained(root: &Path, path: &Path) -> io::Result<Option<PathBuf>> {
    let Some(canonical) = missing_is_none(std::fs::canonicalize(path))? else {
        return Ok(None);
    };
    let Ok(below) = canonical.strip_prefix(root) else {
        return Ok(None);
    };
    let hidden = below.components().any(|c| match c {
        Component::Normal(name) => name.as_encoded_bytes().first() == Some(&b'.'),
        _ => true,
    });
    Ok((!hidden).then_some(canonical))
}

/// The bytes of a file a zero-copy response stands for: `len` bytes of `file` from
/// `start`, which its writer sends with `sendfile(2)` as its body yields chunks (of zeros)
/// of the same lengths.
#[derive(Debug, Clone)]
pub struct ZeroCopy {
    /// The open file (shared by every response of the build).
    pub file: Arc<std::fs::File>,
    /// First byte.
    pub start: u64,
    /// Byte count.
    pub len: u64,
}

/// A response before the HEAD/GET body decision.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: ReplyBody,
}

enum ReplyBody {
    Empty,
    Text(&'static str),
    File {
        entry: Arc<Entry>,
        start: u64,
        len: u64,
    },
}

impl Reply {
    fn new(status: StatusCode, body: ReplyBody) -> Self {
        Reply {
            status,
            headers: HeaderMap::new(),
            body,
        }
    }

    /// An error status with a one-line plain-text body, so curl users see what happened.
    fn text(status: StatusCode) -> Self {
        let text = match status {
            StatusCode::BAD_REQUEST => "bad request\n",
            StatusCode::NOT_FOUND => "not found\n",
            StatusCode::METHOD_NOT_ALLOWED => "method not allowed\n",
            _ => "internal server error\n",
        };
        let mut reply = Reply::new(status, ReplyBody::Text(text));
        reply.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        reply
    }

    fn into_response(
        self,
        head: bool,
        on_body_bytes: OnBodyBytes,
        buffers: &Arc<BufferPool>,
        zero_copy: bool,
    ) -> Response {
        let Reply {
            status,
            mut headers,
            body,
        } = self;
        let mut slice = None;
        let body = match body {
            ReplyBody::Empty => {
                // A 304 may only carry the length a 200 would have had, so it carries none.
                if status != StatusCode::NOT_MODIFIED {
                    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0u64));
                }
                Body::empty()
            }
            ReplyBody::Text(text) => {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
                if head {
                    Body::empty()
                } else {
                    Body::from(text)
                }
            }
            ReplyBody::File { .. } if head => Body::empty(),
            ReplyBody::File { entry, start, len } => match &entry.source {
                // Below this a copy costs less than the trip to the blocking pool
                // (a web seed's 256 KiB range: 51 against 76 µs of CPU, measured).
                Source::Disk(file) if zero_copy && len >= ZERO_COPY_MIN => {
                    slice = Some(ZeroCopy {
                        file: file.clone(),
                        start,
                        len,
                    });
                    let rel = entry.rel.clone();
                    Body::from_stream(read::zeros(len).inspect(move |chunk| {
                        if let Ok(bytes) = chunk {
                            on_body_bytes(&rel, bytes.len() as u64);
                        }
                    }))
                }
                _ => file_body(entry, start, len, on_body_bytes, buffers),
            },
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        if let Some(slice) = slice {
            response.extensions_mut().insert(slice);
        }
        response
    }
}

/// The body of `len` bytes of `entry` from `start`, counted chunk by chunk as the
/// connection takes them.
fn file_body(
    entry: Arc<Entry>,
    start: u64,
    len: u64,
    on_body_bytes: OnBodyBytes,
    buffers: &Arc<BufferPool>,
) -> Body {
    if len == 0 {
        return Body::empty();
    }
    match &entry.source {
        Source::Memory(bytes) => {
            let (Ok(from), Ok(to)) = (usize::try_from(start), usize::try_from(start + len)) else {
                return Body::empty();
            };
            let to = to.min(bytes.len());
            let bytes = bytes.slice(from.min(to)..to);
            if bytes.len() <= CHUNK_BYTES {
                // One chunk, handed over whole: counted now, without a stream.
                on_body_bytes(&entry.rel, bytes.len() as u64);
                return Body::from(bytes);
            }
            let chunks: Vec<Bytes> = (0..bytes.len())
                .step_by(CHUNK_BYTES)
                .map(|at| bytes.slice(at..(at + CHUNK_BYTES).min(bytes.len())))
                .collect();
            let stream = futures_util::stream::iter(chunks).map(move |chunk| {
                on_body_bytes(&entry.rel, chunk.len() as u64);
                Ok::<_, Infallible>(chunk)
            });
            Body::from_stream(stream)
        }
        Source::Disk(file) => {
            let stream =
                read::stream(file.clone(), start, len, buffers.clone()).inspect(move |chunk| {
                    match chunk {
                        Ok(bytes) => on_body_bytes(&entry.rel, bytes.len() as u64),
                        Err(error) => {
                            tracing::warn!(path = %entry.rel, %error, "read failed mid-body")
                        }
                    }
                });
            Body::from_stream(stream)
        }
    }
}

/// The longest file name the usual filesystems store (ext4, XFS, btrfs: 255 bytes).
const MAX_NAME: usize = 255;

/// Percent-decodes a URL path and turns it into a path relative to the output folder, with
/// `/` separators; "/" and paths ending in "/" get "index.html" appended.
///
/// Hidden segments are rejected here ([`PathRejection::Hidden`], answered with 404) rather
/// than looked up, so private state never reaches the file system layer. A query string or
/// fragment, if the caller left one on, is dropped first.
pub fn resolve_request_path(raw: &str) -> Result<String, PathRejection> {
    let raw = raw.split(['?', '#']).next().unwrap_or_default();
    let encoded = raw.strip_prefix('/').ok_or(PathRejection::NotAbsolute)?;
    // Decoding before splitting means `%2F` separates and `%2e%2e` is `..`, so no encoded
    // form slips past the segment checks below.
    let decoded = percent_decode_str(encoded)
        .decode_utf8()
        .map_err(|_| PathRejection::NotUtf8)?;
    if decoded.contains('\0') {
        return Err(PathRejection::Nul);
    }
    if decoded.contains('\\') {
        return Err(PathRejection::Backslash);
    }
    if decoded.is_empty() {
        return Ok("index.html".to_owned());
    }
    let segments: Vec<&str> = decoded.split('/').collect();
    let last = segments.len() - 1;
    // Malformed beats hidden: a path that is both gets 400.
    for (i, segment) in segments.iter().enumerate() {
        if segment.is_empty() && i != last {
            return Err(PathRejection::EmptySegment);
        }
        if *segment == ".." {
            return Err(PathRejection::Traversal);
        }
    }
    if segments.iter().any(|segment| segment.len() > MAX_NAME) {
        return Err(PathRejection::NameTooLong);
    }
    if segments.iter().any(|segment| segment.starts_with('.')) {
        return Err(PathRejection::Hidden);
    }
    let mut rel = decoded.into_owned();
    if rel.ends_with('/') {
        rel.push_str("index.html");
    }
    Ok(rel)
}

/// Interprets one `Range` header value for a file of `size` bytes.
///
/// Only a single `bytes=` range is served; multiple ranges and anything malformed give
/// `Full` (RFC 9110 lets a server ignore Range), since web seeds ask for one span at a time.
pub fn parse_range(header: &str, size: u64) -> RangeRequest {
    let Some((unit, set)) = header.split_once('=') else {
        return RangeRequest::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeRequest::Full;
    }
    let specs: Vec<&str> = set
        .split(',')
        .map(str::trim)
        .filter(|spec| !spec.is_empty())
        .collect();
    let [spec] = specs.as_slice() else {
        return RangeRequest::Full;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return RangeRequest::Full;
    };
    if first.is_empty() {
        let Some(suffix) = parse_digits(last) else {
            return RangeRequest::Full;
        };
        if suffix == 0 || size == 0 {
            return RangeRequest::Unsatisfiable;
        }
        return RangeRequest::Partial {
            start: size - suffix.min(size),
            end_inclusive: size - 1,
        };
    }
    let Some(start) = parse_digits(first) else {
        return RangeRequest::Full;
    };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match parse_digits(last) {
            Some(end) => end,
            None => return RangeRequest::Full,
        }
    };
    if start > end || start >= size {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Partial {
        start,
        end_inclusive: end.min(size - 1),
    }
}

/// ASCII digits only (`u64::from_str` would take a `+`); too many digits saturate, which
/// still answers correctly: a huge start is unsatisfiable, a huge end is clamped.
fn parse_digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// The Content-Type for a path relative to the output folder, by extension.
pub fn content_type(rel_path: &str) -> &'static str {
    let name = rel_path.rsplit('/').next().unwrap_or(rel_path);
    let Some((_, extension)) = name.rsplit_once('.') else {
        return "application/octet-stream";
    };
    match extension.to_ascii_lowercase().as_str() {
        "mp3" => "audio/mpeg",
        // The enclosure types the feed gives (see publish::media::Format::mime_type).
        "m4a" | "m4b" => "audio/x-m4a",
        "mp4" => "video/mp4",
        "m4v" => "video/x-m4v",
        "opus" | "ogg" => "audio/ogg",
        // The only XML we publish is the two feeds. Podcast apps take any XML type; as
        // application/xml a browser also runs feed.xsl (application/rss+xml it shows as text).
        "xml" => "application/xml; charset=utf-8",
        "xsl" => "application/xslt+xml",
        "html" => "text/html; charset=utf-8",
        "torrent" => "application/x-bittorrent",
        "json" => "application/json",
        "vtt" => "text/vtt; charset=utf-8",
        "srt" => "application/x-subrip",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "css" => "text/css",
        "js" => "text/javascript",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A strong, quoted entity tag from the file's size and mtime in nanoseconds.
///
/// `publish` replaces files by rename, which gives a new mtime, so a changed file gets a new
/// tag; the nanoseconds catch two builds within one second.
pub fn etag(size: u64, mtime: SystemTime) -> String {
    let nanos = mtime
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_nanos())
        .unwrap_or(0);
    format!("\"{size:x}-{nanos:x}\"")
}

/// Whether If-None-Match (or, without it, If-Modified-Since) lets us answer 304.
fn not_modified(request: &HeaderMap, tag: &str, mtime_secs: Option<i64>) -> bool {
    let mut none_match = request.get_all(header::IF_NONE_MATCH).iter().peekable();
    if none_match.peek().is_some() {
        // RFC 9110 13.1.2: weak comparison for GET and HEAD; an unreadable value matches
        // nothing, so the client gets the full file.
        return none_match.any(|value| {
            value
                .to_str()
                .is_ok_and(|list| none_match_list_matches(list, tag))
        });
    }
    let since = request
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|value| value.to_str().ok())
        .and_then(parse_http_date);
    matches!((since, mtime_secs), (Some(since), Some(mtime)) if mtime <= since)
}

/// Whether an If-None-Match list (`*` or entity tags, weak or strong) matches `current`.
fn none_match_list_matches(list: &str, current: &str) -> bool {
    if list.trim() == "*" {
        return true;
    }
    let current = opaque_tag(current);
    let mut rest = list;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
        if rest.is_empty() {
            return false;
        }
        // Tags are read quote to quote, since a comma is a legal character inside one.
        let unweak = rest.strip_prefix("W/").unwrap_or(rest);
        let Some(quoted) = unweak.strip_prefix('"') else {
            return false;
        };
        let Some(close) = quoted.find('"') else {
            return false;
        };
        if quoted[..close] == *current {
            return true;
        }
        rest = &quoted[close + 1..];
    }
}

/// The tag between the quotes, without any `W/`.
fn opaque_tag(tag: &str) -> &str {
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.trim_matches('"')
}

/// The range to send, after If-Range and duplicate Range headers are taken into account.
fn requested_range(
    request: &HeaderMap,
    tag: &str,
    mtime_secs: Option<i64>,
    size: u64,
) -> RangeRequest {
    let mut ranges = request.get_all(header::RANGE).iter();
    let (Some(range), None) = (ranges.next(), ranges.next()) else {
        // None, or several headers, which amount to a multi-range request.
        return RangeRequest::Full;
    };
    if let Some(if_range) = request.get(header::IF_RANGE) {
        let Ok(if_range) = if_range.to_str() else {
            return RangeRequest::Full;
        };
        let if_range = if_range.trim();
        // Strong comparison: a weak tag never matches, a date must equal Last-Modified.
        let current = if if_range.starts_with('"') {
            if_range == tag
        } else if if_range.starts_with("W/") {
            false
        } else {
            parse_http_date(if_range).is_some_and(|date| Some(date) == mtime_secs)
        };
        if !current {
            return RangeRequest::Full;
        }
    }
    match range.to_str() {
        Ok(range) => parse_range(range, size),
        Err(_) => RangeRequest::Full,
    }
}

/// Whole seconds since the epoch; HTTP dates have no finer precision.
fn unix_seconds(time: SystemTime) -> Option<i64> {
    let secs = time.duration_since(UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

/// IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
pub(super) fn http_date(time: SystemTime) -> String {
    DateTime::<Utc>::from(time)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// Seconds since the epoch of an HTTP date in any of the three forms RFC 9110 says a
/// recipient must accept (IMF-fixdate, RFC 850, asctime).
fn parse_http_date(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(date) = DateTime::parse_from_rfc2822(text) {
        return Some(date.timestamp());
    }
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|date| date.and_utc().timestamp())
}

/// Inserts a header built from our own ASCII text; such text is always a valid value.
fn insert_string(headers: &mut HeaderMap, name: HeaderName, value: String) {
    if let Ok(value) = HeaderValue::try_from(value) {
        headers.insert(name, value);
    }
}

/// Not-found and not-a-folder (a path through a file) are "no such file", not server errors.
fn missing_is_none<T>(result: io::Result<T>) -> io::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error)
            if matches!(
                error.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn resolves_plain_paths() {
        assert_eq!(resolve_request_path("/").as_deref(), Ok("index.html"));
        assert_eq!(resolve_request_path("/feed.xml").as_deref(), Ok("feed.xml"));
        assert_eq!(resolve_request_path("/a%20b.mp3").as_deref(), Ok("a b.mp3"));
        assert_eq!(
            resolve_request_path("/episodes/my%20show.mp3").as_deref(),
            Ok("episodes/my show.mp3")
        );
        assert_eq!(
            resolve_request_path("/dir/").as_deref(),
            Ok("dir/index.html")
        );
        assert_eq!(
            resolve_request_path("/feed.xml?x=1#top").as_deref(),
            Ok("feed.xml")
        );
        assert_eq!(
            resolve_request_path("/caf%C3%A9.mp3").as_deref(),
            Ok("café.mp3")
        );
    }

    #[test]
    fn rejects_traversal_and_tricks() {
        use PathRejection::*;
        assert_eq!(resolve_request_path("/../x"), Err(Traversal));
        assert_eq!(resolve_request_path("/%2e%2e/x"), Err(Traversal));
        assert_eq!(resolve_request_path("/a/%2E%2E/%2e%2e/x"), Err(Traversal));
        assert_eq!(resolve_request_path("/a%2F..%2Fx"), Err(Traversal));
        assert_eq!(resolve_request_path("/a/.."), Err(Traversal));
        assert_eq!(resolve_request_path("//etc/passwd"), Err(EmptySegment));
        assert_eq!(resolve_request_path("/%2Fetc/passwd"), Err(EmptySegment));
        assert_eq!(resolve_request_path("/a//b"), Err(EmptySegment));
        assert_eq!(resolve_request_path("/a\\b"), Err(Backslash));
        assert_eq!(resolve_request_path("/a%5cb"), Err(Backslash));
        assert_eq!(resolve_request_path("/a%00b"), Err(Nul));
        assert_eq!(resolve_request_path("/a%ffb"), Err(NotUtf8));
        assert_eq!(resolve_request_path("feed.xml"), Err(NotAbsolute));
        assert_eq!(resolve_request_path(""), Err(NotAbsolute));
    }

    #[test]
    fn hidden_segments_are_rejected_as_not_found() {
        use PathRejection::*;
        assert_eq!(resolve_request_path("/.podseed/manifest.json"), Err(Hidden));
        assert_eq!(
            resolve_request_path("/%2epodseed/manifest.json"),
            Err(Hidden)
        );
        assert_eq!(
            resolve_request_path("/episodes/.a.mp3.podseed-tmp-1"),
            Err(Hidden)
        );
        assert_eq!(resolve_request_path("/a/./b"), Err(Hidden));
        assert_eq!(Hidden.status(), StatusCode::NOT_FOUND);
        assert_eq!(Traversal.status(), StatusCode::BAD_REQUEST);
        // Malformed wins over hidden.
        assert_eq!(resolve_request_path("/.x/../y"), Err(Traversal));
        let long = "é".repeat(128);
        assert_eq!(
            resolve_request_path(&format!("/episodes/{long}")),
            Err(NameTooLong)
        );
        assert_eq!(NameTooLong.status(), StatusCode::NOT_FOUND);
        assert!(resolve_request_path(&format!("/{}", "a".repeat(255))).is_ok());
    }

    fn partial(start: u64, end_inclusive: u64) -> RangeRequest {
        RangeRequest::Partial {
            start,
            end_inclusive,
        }
    }

    #[test]
    fn parses_single_ranges() {
        assert_eq!(parse_range("bytes=0-0", 1000), partial(0, 0));
        assert_eq!(parse_range("bytes=0-", 1000), partial(0, 999));
        assert_eq!(parse_range("bytes=10-19", 1000), partial(10, 19));
        assert_eq!(parse_range("bytes=-500", 1000), partial(500, 999));
        assert_eq!(parse_range("bytes=-5000", 1000), partial(0, 999));
        assert_eq!(parse_range("bytes=990-5000", 1000), partial(990, 999));
        assert_eq!(parse_range("bytes=999-999", 1000), partial(999, 999));
        assert_eq!(parse_range("Bytes=1-2", 1000), partial(1, 2));
        assert_eq!(parse_range("bytes= 1-2 ", 1000), partial(1, 2));
        assert_eq!(
            parse_range("bytes=5-99999999999999999999999", 1000),
            partial(5, 999)
        );
    }

    #[test]
    fn unsatisfiable_ranges() {
        use RangeRequest::Unsatisfiable;
        assert_eq!(parse_range("bytes=-0", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=100-50", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=2000-3000", 1000), Unsatisfiable);
        assert_eq!(
            parse_range("bytes=99999999999999999999999-", 1000),
            Unsatisfiable
        );
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=-10", 0), Unsatisfiable);
    }

    #[test]
    fn malformed_or_multiple_ranges_mean_full() {
        use RangeRequest::Full;
        assert_eq!(parse_range("bytes=0-1,5-9", 1000), Full);
        assert_eq!(parse_range("bytes=0-1, -5", 1000), Full);
        assert_eq!(parse_range("garbage", 1000), Full);
        assert_eq!(parse_range("0-10", 1000), Full);
        assert_eq!(parse_range("items=0-10", 1000), Full);
        assert_eq!(parse_range("bytes=", 1000), Full);
        assert_eq!(parse_range("bytes=-", 1000), Full);
        assert_eq!(parse_range("bytes=a-b", 1000), Full);
        assert_eq!(parse_range("bytes=+1-5", 1000), Full);
        assert_eq!(parse_range("bytes=1-+5", 1000), Full);
        assert_eq!(parse_range("bytes=1-2-3", 1000), Full);
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("episodes/a b.mp3"), "audio/mpeg");
        assert_eq!(content_type("episodes/LOUD.MP3"), "audio/mpeg");
        assert_eq!(content_type("episodes/a.m4a"), "audio/x-m4a");
        assert_eq!(content_type("episodes/v.M4V"), "video/x-m4v");
        assert_eq!(content_type("episodes/o.opus"), "audio/ogg");
        assert_eq!(content_type("feed.xml"), "application/xml; charset=utf-8");
        assert_eq!(content_type("feed.xsl"), "application/xslt+xml");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(
            content_type("torrents/a.torrent"),
            "application/x-bittorrent"
        );
        assert_eq!(content_type("chapters/a.json"), "application/json");
        assert_eq!(content_type("transcripts/a.vtt"), "text/vtt; charset=utf-8");
        assert_eq!(content_type("transcripts/a.srt"), "application/x-subrip");
        assert_eq!(content_type("images/a.jpg"), "image/jpeg");
        assert_eq!(content_type("images/a.jpeg"), "image/jpeg");
        assert_eq!(content_type("images/a.png"), "image/png");
        assert_eq!(content_type("images/a.gif"), "image/gif");
        assert_eq!(content_type("images/a.webp"), "image/webp");
        assert_eq!(content_type("style.css"), "text/css");
        assert_eq!(content_type("app.js"), "text/javascript");
        assert_eq!(content_type("robots.txt"), "text/plain; charset=utf-8");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
        assert_eq!(content_type("a.xml/b"), "application/octet-stream");
        assert_eq!(content_type("a.bin"), "application/octet-stream");
    }

    #[test]
    fn etag_is_stable_strong_and_quoted() {
        let mtime = UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 123);
        assert_eq!(etag(1000, mtime), etag(1000, mtime));
        let nanos = 1_700_000_000_000_000_123u128;
        assert_eq!(etag(1000, mtime), format!("\"3e8-{nanos:x}\""));
        assert_ne!(etag(1000, mtime), etag(1001, mtime));
        let later = mtime + std::time::Duration::from_nanos(1);
        assert_ne!(etag(1000, mtime), etag(1000, later));
        let tag = etag(0, UNIX_EPOCH);
        assert!(tag.starts_with('"') && tag.ends_with('"') && !tag.starts_with("W/"));
    }

    #[test]
    fn http_dates_format_and_parse() {
        let time = UNIX_EPOCH + std::time::Duration::new(784_111_777, 999_999_999);
        assert_eq!(http_date(time), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Sun Nov  6 08:49:37 1994"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn if_none_match_lists() {
        let tag = "\"3e8-1\"";
        assert!(none_match_list_matches("\"3e8-1\"", tag));
        assert!(none_match_list_matches("W/\"3e8-1\"", tag));
        assert!(none_match_list_matches("\"x\", W/\"3e8-1\"", tag));
        assert!(none_match_list_matches("\"a,b\",\"3e8-1\"", tag));
        assert!(none_match_list_matches(" * ", tag));
        assert!(!none_match_list_matches("\"3e8-2\"", tag));
        assert!(!none_match_list_matches("3e8-1", tag));
        assert!(!none_match_list_matches("", tag));
        assert!(!none_match_list_matches("\"3e8-1", tag));
    }

    /// What one `respond` call produced, with the body collected.
    struct Answer {
        status: StatusCode,
        headers: HeaderMap,
        body: Vec<u8>,
        counted: u64,
        chunks: usize,
        paths: Vec<String>,
    }

    impl Answer {
        fn header(&self, name: HeaderName) -> &str {
            self.headers
                .get(&name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
        }
    }

    async fn ask(
        files: &StaticFiles,
        method: Method,
        path: &str,
        request: &[(HeaderName, &str)],
    ) -> Answer {
        let mut headers = HeaderMap::new();
        for (name, value) in request {
            headers.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        let counted = Arc::new(AtomicU64::new(0));
        let chunks = Arc::new(AtomicUsize::new(0));
        let paths = Arc::new(Mutex::new(Vec::new()));
        let on_body_bytes: OnBodyBytes = {
            let (counted, chunks, paths) = (counted.clone(), chunks.clone(), paths.clone());
            Arc::new(move |rel: &str, n: u64| {
                counted.fetch_add(n, Ordering::SeqCst);
                chunks.fetch_add(1, Ordering::SeqCst);
                let mut paths = paths.lock().unwrap();
                if !paths.iter().any(|p| p == rel) {
                    paths.push(rel.to_owned());
                }
            })
        };
        let response = files.respond(&method, path, &headers, on_body_bytes).await;
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        let paths = paths.lock().unwrap().clone();
        Answer {
            status,
            headers,
            body,
            counted: counted.load(Ordering::SeqCst),
            chunks: chunks.load(Ordering::SeqCst),
            paths,
        }
    }

    async fn get(files: &StaticFiles, path: &str, request: &[(HeaderName, &str)]) -> Answer {
        ask(files, Method::GET, path, request).await
    }

    /// A temp folder holding `public/` (served) and `outside/` (must never be served).
    struct Site {
        _dir: tempfile::TempDir,
        public: PathBuf,
        outside: PathBuf,
        audio: Vec<u8>,
    }

    fn site() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let public = dir.path().join("public");
        let outside = dir.path().join("outside");
        for folder in ["episodes", "torrents", ".podseed", "empty", "sub"] {
            std::fs::create_dir_all(public.join(folder)).unwrap();
        }
        std::fs::create_dir_all(&outside).unwrap();
        // Larger than several chunks and not a multiple of the chunk size.
        let audio: Vec<u8> = (0..200_003u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(public.join("episodes/a b.mp3"), &audio).unwrap();
        std::fs::write(public.join("index.html"), "<h1>show</h1>").unwrap();
        std::fs::write(public.join("feed.xml"), "<rss/>").unwrap();
        std::fs::write(public.join("sub/index.html"), "<p>sub</p>").unwrap();
        std::fs::write(public.join(".podseed/manifest.json"), "{}").unwrap();
        std::fs::write(public.join("episodes/.a.mp3.podseed-tmp-1"), "tmp").unwrap();
        std::fs::write(public.join("empty.txt"), "").unwrap();
        std::fs::write(outside.join("secret.txt"), "secret").unwrap();
        Site {
            _dir: dir,
            public,
            outside,
            audio,
        }
    }

    const MP3: &str = "/episodes/a%20b.mp3";

    #[test]
    fn new_requires_an_existing_folder() {
        let site = site();
        assert!(StaticFiles::new(&site.public.join("missing")).is_err());
        assert!(StaticFiles::new(&site.public.join("feed.xml")).is_err());
        let files = StaticFiles::new(&site.public.join("sub/..")).unwrap();
        assert_eq!(files.root(), site.public.canonicalize().unwrap());
    }

    #[tokio::test]
    async fn full_get_streams_the_file_and_counts_every_byte() {
        let site = site();
        let files = StaticFiles::new(&site.public).unwrap();
        let answer = get(&files, MP3, &[]).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header(header::CONTENT_TYPE), "audio/mpeg");
        assert_eq!(answer.header(header::CONTENT_LENGTH), "200003");
        assert_eq!(answer.header(header::ACCEPT_RANGES), "bytes");
        assert!(answer.header(header::ETAG).starts_with('"'));
        assert!(answer.header(header::LAST_MODIFIED).ends_with(" GMT"));
        assert!(answer.headers.get(header::CONTENT_RANGE).is_none());
        assert_eq!(answer.body, site.audio);
        assert_eq!(answer.counted, 200_003);
        assert!(answer.chunks >= 4, "streamed in 64 KiB chunks");
        assert_eq!(answer.paths, ["episodes/a b.mp3"]);
    }

    #[tokio::test]
    async fn head_has_get_headers_and_no_body() {
        let site = site();
        let files = StaticFiles::new(&site.public).unwrap();
        let full = get(&files, MP3, &[]).await;
        let head = ask(&files, Method::HEAD, MP3, &[]).await;
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(head.headers, full.headers);
        assert!(head.body.is_empty());
        assert_eq!(head.counted, 0);

        let range = [(header::RANGE, "bytes=10-19")];
        let ranged_get = get(&files, MP3, &range).await;
        let ranged_head = ask(&files, Method::HEAD, MP3, &range).await;
        assert_eq!(ranged_head.status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(ranged_head.headers, ranged_get.headers);
        assert!(ranged_head.body.is_empty());

        let missing = ask(&files, Method::HEAD, "/nope.mp3", &[]).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(missing.body.is_empty());
        assert_eq!(missing.header(header::CONTENT_LENGTH), "10");
    }

    #[tokio::test]
    async fn ranges_send_exact_bytes() {
        let site = site();
        let files = StaticFiles::new(&site.public).unwrap();
        let cases: [(&str, usize, usize); 5] = [
            ("bytes=10-19", 10, 19),
            ("bytes=0-0", 0, 0),
            ("bytes=-5", 199_998, 200_002),
            ("bytes=199990-", 199_990, 200_002),
            // Spans chunk boundaries and is clamped at the end.
            ("bytes=65530-9999999", 65_530, 200_002),
        ];
        for (range, start, end) in cases {
            let answer = get(&files, MP3, &[(header::RANGE, range)]).await;
            assert_eq!(answer.status, StatusCode::PARTIAL_CONTENT, "{range}");
            assert_eq!(
                answer.header(header::CONTENT_RANGE),
                format!("bytes {start}-{end}/200003"),
                "{range}"
            );
            let len = end - start + 1;
            assert_eq!(answer.header(header::CONTENT_LENGTH), len.to_string());
            assert_eq!(answer.body, &site.audio[start..=end], "{range}");
            assert_eq!(answer.counted, len as u64, "{range}");
            assert_eq!(answer.header(header::CONTENT_TYPE), "audio/mpeg");
            assert_eq!(answer.header(header::ACCEPT_RANGES), "bytes");
        }
    }

    #[tokio::test]
    async fn unsatisfiable_and_ignored_ranges() {
        let site = site();
        let files = StaticFiles::new(&site.public).unwrap();
        for range in ["bytes=200003-", "bytes=-0", "bytes=100-50"] {
            let answer = get(&files, MP3, &[(header::RANGE, range)]).await;
            assert_eq!(answer.status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
            assert_eq!(answer.header(header::CONTENT_RANGE), "bytes */200003");
            assert!(answer.body.is_empty());
            assert_eq!(answer.counted, 0);
        }
        let empty = get(&files, "/empty.txt", &[(header::RANGE, "bytes=0-")]).await;
        assert_eq!(empty.status, StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(empty.header(header::CONTENT_RANGE), "bytes */0");

        for range in ["bytes=0-1,5-9", "pages=1-2", "bytes=x-"] {
            let answer = get(&files, MP3, &[(header::RANGE, range)]).await;
            assert_eq!(answer.status, StatusCode::OK, "{range}");
            assert_eq!(answer.body.len(), 200_003);
        }
        let twice = [(header::RANGE, "bytes=0-1"), (header::RANGE, "bytes=5-9")];
        assert_eq!(get(&files, MP3, &twice).await.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn if_none_match_gives_304() {
        let site = site();
        let files = StaticFiles::new(&site.public).unwrap();
        let tag = get(&files, "/feed.xml", &[])
            .await
            .header(header::ETAG)
            .to_owned();
        let weak = format!("W/{tag}");
        let listed = format!("\"other\", {tag}");
        for value in [tag.as_str(), weak.as_str(), listed.as_str(), "*"] {
            for method in [Method::GET, Method::HEAD] {
                let answer = ask(
                    &files,
                    method,
                    "/feed.xml",
                    &[(header::IF_NONE_MATCH, value)],
                )
                .await;
                assert_eq!(answer.status, StatusCode::NOT_MODIFIED, "{value}");
                assert_eq!(answer.header(header::ETAG), tag);
                assert!(answer.headers.get(header::CONTENT_LENGTH).is_none());
                assert!(answer.body.is_empty());
                assert_eq!(answer.counted, 0);
            }
        }
        let stale = get(&files, "/feed.xml", &[(header::IF_NONE_MATCH, "\"old\"")]).await;
        assert_eq!(stale.status, StatusCode::OK);
        assert_eq!(stale.body, b"<rss/>");
    }

    #[tokio::test]
    async fn if_modified_since_gives_304_unless_if_none_match_differs() {
        let site = site();
        let files = StaticFiles::new(&site.public).unwrap();
        let first = get(&files, "/feed.xml", &[]).await;
        let modified = first.header(header::LAST_MODIFIED).to_owned();
        let same = get(
            &files,
            "/feed.xml",
            &[(header::IF_MODIFIED_SINCE, &modified)],
        )
        .await;
        assert_eq!(same.status, StatusCode::NOT_MODIFIED);
        assert!(same.body.is_empty());
        let future = "Fri, 01 Jan 2100 00:00:00 GMT";
        let later = get(&files, "/feed.xml", &[(header::IF_MODIFIED_SINCE, future)]).await;
        assert_eq!(later.status, StatusCode::NOT_MODIFIED);
        let epoch = "Thu, 01 Jan 1970 00:00:00 GMT";
        let older = get(&files, "/feed.xml", &[(header::IF_MODIFIED_SINCE, epoch)]).await;
        assert_eq!(older.status, StatusCode::OK);
        let junk = get(&files, "/feed.xml", &[(header::IF_MODIFIED_SINCE, "soon")]).await;
        assert_eq!(junk.status, StatusCode::OK);
        // If-None-Match, when present, decides alone.
        let both = [
            (header::IF_NONE_MATCH, "\"old\""),
            (header::IF_MODIFIED_SINCE, modified.as_str()),
        ];
        assert_eq!(get(&files, "/feed.xml", &both).await.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn if_range_honours_range_only_when_current() {
        let site = site();
        let files = StaticFiles::new(&site.public).unwrap();
        let first = get(&files, MP3, &[]).await;
        let tag = first.header(header::ETAG).to_owned();
        let modified = first.header(header::LAST_MODIFIED).to_owned();
        let weak = format!("W/{tag}");
        let range = (header::RANGE, "bytes=0-9");

        for current in [tag.as_str(), modified.as_str()] {
            let answer = get(&files, MP3, &[range.clone(), (header::IF_RANGE, current)]).await;
            assert_eq!(answer.status, StatusCode::PARTIAL_CONTENT, "{current}");
            assert_eq!(answer.body, &site.audio[..10]);
        }
        let stale = [
            "\"old\"",
            weak.as_str(),
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "nonsense",
        ];
        for value in stale {
            let answer = get(&files, MP3, &[range.clone(), (header::IF_RANGE, value)]).await;
            assert_eq!(answer.status, StatusCode::OK, "{value}");
            assert_eq!(answer.body, site.audio);
            assert_eq!(answer.counted, 200_003);
        }
    }

    #[tokio::test]
    async fn traversal_is_400_and_hidden_is_404() {
        let site = site();
        let files = StaticFiles::new(&site.public).unwrap();
        let cases = [
            ("/../outside/secret.txt", StatusCode::BAD_REQUEST),
            ("/%2e%2e/outside/secret.txt", StatusCode::BAD_REQUEST),
            (
                "/episodes/%2E%2E/%2e%2e/outside/secret.txt",
                StatusCode::BAD_REQUEST,
            ),
            ("//etc/passwd", StatusCode::BAD_REQUEST),
            ("/a%00b", StatusCode::BAD_REQUEST),
            ("/episodes\\a%20b.mp3", StatusCode::BAD_REQUEST),
            ("/.podseed/manifest.json", StatusCode::NOT_FOUND),
            ("/.podseed/", StatusCode::NOT_FOUND),
            ("/episodes/.a.mp3.podseed-tmp-1", StatusCode::NOT_FOUND),
            ("/missing.mp3", StatusCode::NOT_FOUND),
            ("/feed.xml/inside", StatusCode::NOT_FOUND),
        ];
        for (path, status) in cases {
            let answer = get(&files, path, &[]).await;
            assert_eq!(answer.status, status, "{path}");
            assert_eq!(
                answer.header(header::CONTENT_TYPE),
                "text/plain; charset=utf-8"
            );
            assert_eq!(answer.counted, 0);
        }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn symlinks_may_not_leave_the_root_or_reach_hidden_files() {
        use std::os::unix::fs::symlink;
        let site = site();
        symlink(
            site.outside.join("secret.txt"),
            site.public.join("secret.txt"),
        )
        .unwrap();
        symlink(&site.outside, site.public.join("out")).unwrap();
        symlink(
            site.public.join(".podseed/manifest.json"),
            site.public.join("manifest.json"),
        )
        .unwrap();
        symlink("episodes/a b.mp3", site.public.join("latest.mp3")).unwrap();
        let files = StaticFiles::new(&site.public).unwrap();
        for path in ["/secret.txt", "/out/secret.txt", "/out/", "/manifest.json"] {
            assert_eq!(
                get(&files, path, &[]).await.status,
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        let inside = get(&files, "/latest.mp3", &[]).await;
        assert_eq!(inside.status, StatusCode::OK);
        assert_eq!(inside.body, site.audio);
        assert_eq!(inside.paths, ["latest.mp3"]);
    }

    #[tokio::test]
    async fn folders_serve_their_index_or_404() {
        let site = site();
        let files = StaticFiles::new(&site.public).unwrap();
        let root = get(&files, "/", &[]).await;
        assert_eq!(root.status, StatusCode::OK);
        assert_eq!(
            root.header(header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        assert_eq!(root.body, b"<h1>show</h1>");
        assert_eq!(root.paths, ["index.html"]);
        for path in ["/sub", "/sub/"] {
            let sub = get(&files, path, &[]).await;
            assert_eq!(sub.status, StatusCode::OK, "{path}");
            assert_eq!(sub.body, b"<p>sub</p>");
            assert_eq!(sub.paths, ["sub/index.html"]);
        }
        for path in ["/empty", "/empty/", "/episodes/"] {
            assert_eq!(
                get(&files, path, &[]).await.status,
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }

    #[tokio::test]
    async fn other_methods_are_405() {
        let site = site();
        let files = StaticFiles::new(&site.public).unwrap();
        for method in [Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS] {
            let answer = ask(&files, method.clone(), "/feed.xml", &[]).await;
            assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
            assert_eq!(answer.header(header::ALLOW), "GET, HEAD");
            assert_eq!(answer.counted, 0);
        }
    }

    #[tokio::test]
    async fn empty_file_is_200_with_no_body() {
        let site = site();
        let files = StaticFiles::new(&site.public).unwrap();
        let answer = get(&files, "/empty.txt", &[]).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header(header::CONTENT_LENGTH), "0");
        assert!(answer.body.is_empty());
        assert_eq!(answer.counted, 0);
    }

    /// Larger than the in-memory bound, so it is read from a handle, and than a first
    /// read and a later one together, so a full response takes three chunks.
    fn big(seed: u32) -> Vec<u8> {
        (0..1_600_001u32).map(|i| (i * 13 + seed) as u8).collect()
    }

    #[tokio::test]
    async fn large_files_stream_from_the_handle_with_exact_ranges() {
        let site = site();
        let audio = big(1);
        std::fs::write(site.public.join("episodes/big.mp3"), &audio).unwrap();
        let files = StaticFiles::new(&site.public).unwrap();
        let full = get(&files, "/episodes/big.mp3", &[]).await;
        assert_eq!(full.status, StatusCode::OK);
        assert_eq!(full.header(header::CONTENT_LENGTH), "1600001");
        assert_eq!(full.body, audio);
        assert_eq!(full.counted, 1_600_001);
        assert_eq!(full.chunks, 3);
        assert_eq!(full.paths, ["episodes/big.mp3"]);
        // Across a read boundary, and the last byte.
        for (range, start, end) in [
            ("bytes=262000-262200", 262_000, 262_200),
            ("bytes=-1", 1_600_000, 1_600_000),
            ("bytes=1000-", 1000, 1_600_000),
            ("bytes=300000-1400000", 300_000, 1_400_000),
        ] {
            let answer = get(&files, "/episodes/big.mp3", &[(header::RANGE, range)]).await;
            assert_eq!(answer.status, StatusCode::PARTIAL_CONTENT, "{range}");
            assert_eq!(answer.body, &audio[start..=end], "{range}");
            assert_eq!(answer.counted, (end - start + 1) as u64, "{range}");
        }
    }

    /// Swaps `next` in as `public` the way publish's fallback does (two renames) and
    /// deletes the old build.
    fn swap_in(site: &Site, next: &Path) {
        let old = site.public.with_file_name("old");
        std::fs::rename(&site.public, &old).unwrap();
        std::fs::rename(next, &site.public).unwrap();
        std::fs::remove_dir_all(&old).unwrap();
    }

    #[tokio::test]
    async fn a_response_under_way_finishes_from_the_build_it_started_on() {
        let site = site();
        let (first, second) = (big(1), big(2));
        std::fs::write(site.public.join("episodes/big.mp3"), &first).unwrap();
        let files = StaticFiles::new(&site.public).unwrap();
        let started = files
            .respond(
                &Method::GET,
                "/episodes/big.mp3",
                &HeaderMap::new(),
                Arc::new(|_: &str, _: u64| {}),
            )
            .await;

        let next = site.public.with_file_name("next");
        std::fs::create_dir_all(next.join("episodes")).unwrap();
        std::fs::write(next.join("episodes/big.mp3"), &second).unwrap();
        std::fs::write(next.join("feed.xml"), "<rss>2</rss>").unwrap();
        swap_in(&site, &next);
        // Until the reload, the table still answers with the build it indexed.
        assert_eq!(get(&files, "/feed.xml", &[]).await.body, b"<rss/>");
        assert_eq!(get(&files, "/episodes/big.mp3", &[]).await.body, first);
        let summary = files.reindex();
        assert!(summary.paths >= 2, "{summary:?}");
        assert_eq!(get(&files, "/feed.xml", &[]).await.body, b"<rss>2</rss>");
        assert_eq!(get(&files, "/episodes/big.mp3", &[]).await.body, second);
        assert_eq!(
            get(&files, "/index.html", &[]).await.status,
            StatusCode::NOT_FOUND
        );

        let body = axum::body::to_bytes(started.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(body == first, "the old build's bytes, whole");
    }

    #[tokio::test]
    async fn files_added_or_rewritten_after_indexing_are_served_as_on_disk() {
        let site = site();
        std::fs::write(site.public.join("episodes/big.mp3"), big(1)).unwrap();
        let files = StaticFiles::new(&site.public).unwrap();
        std::fs::write(site.public.join("robots.txt"), "User-agent: *\n").unwrap();
        let added = get(&files, "/robots.txt", &[]).await;
        assert_eq!(added.status, StatusCode::OK);
        assert_eq!(added.body, b"User-agent: *\n");
        // Rewritten in place (same inode, new length): never the new bytes under the old
        // length and tag.
        let tag = get(&files, "/episodes/big.mp3", &[])
            .await
            .header(header::ETAG)
            .to_owned();
        let shorter = big(3)[..300_000].to_vec();
        std::fs::write(site.public.join("episodes/big.mp3"), &shorter).unwrap();
        let rewritten = get(&files, "/episodes/big.mp3", &[]).await;
        assert_eq!(rewritten.header(header::CONTENT_LENGTH), "300000");
        assert_ne!(rewritten.header(header::ETAG), tag);
        assert_eq!(rewritten.body, shorter);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn indexing_skips_what_the_disk_lookup_refuses() {
        use std::os::unix::fs::symlink;
        let site = site();
        symlink(
            site.outside.join("secret.txt"),
            site.public.join("secret.txt"),
        )
        .unwrap();
        symlink(
            site.public.join(".podseed/manifest.json"),
            site.public.join("manifest.json"),
        )
        .unwrap();
        symlink("feed.xml", site.public.join("latest.xml")).unwrap();
        let files = StaticFiles::new(&site.public).unwrap();
        let index = files.index.read().unwrap().clone();
        for listed in [
            "feed.xml",
            "index.html",
            "sub",
            "sub/index.html",
            "latest.xml",
        ] {
            assert!(index.get(listed).is_some(), "{listed}");
        }
        for unlisted in [
            "secret.txt",
            "manifest.json",
            ".podseed/manifest.json",
            "episodes/.a.mp3.podseed-tmp-1",
            "empty",
            "episodes",
        ] {
            assert!(index.get(unlisted).is_none(), "{unlisted}");
        }
    }
}
