//! MP4 (ISO BMFF: M4A, M4B, MP4, M4V): a bounded walk of the top-level boxes, then the
//! `moov` box read into memory (at most [`MAX_MOOV`]) and parsed for what a feed needs:
//! duration (`mvhd`), whether a video track exists (`hdlr`), iTunes tags (`ilst`), and
//! chapters: Nero `chpl`, else the QuickTime chapter track (`tref`/`chap`: a text track
//! whose samples, at most [`MAX_CHAPTERS`] of them, are then read from `mdat`).
//!
//! Hand-written rather than a crate: the hash stage needs a walker it can feed chunks of
//! its single read ([`BoxWalker`]), and the probe must only ever allocate what the file
//! really holds: every size is checked against the bytes that remain before anything is
//! read, and boxes inside `moov` are slices of that one buffer, so a hostile size can only
//! produce an error.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use super::media::{read_up_to, ContainerTags, Format};

/// Largest `moov` box read: sample tables of a three-hour video plus cover art fit well
/// within it; a larger one is refused rather than buffered.
pub const MAX_MOOV: u64 = 64 * 1024 * 1024;

/// Most top-level boxes walked (a real file has a handful; a fragmented one hundreds).
const MAX_TOP_BOXES: u64 = 100_000;

/// Most chapters kept (and chapter-track samples read).
pub const MAX_CHAPTERS: usize = 1000;

/// Most bytes of one chapter-track sample read (a title, not a document).
const MAX_CHAPTER_SAMPLE: u64 = 2048;

/// What the `moov` box says about the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mp4Info {
    /// M4a or Video (a video track).
    pub format: Format,
    /// Duration in seconds (`mvhd`, else the longest track).
    pub duration_secs: f64,
    /// Title, artist, descriptions, date, `covr` and chapters (`chpl`, else the chapter
    /// track).
    pub tags: ContainerTags,
    /// The chapter track's samples when there is no `chpl`: (start in ms, file offset,
    /// size); [`read`] turns them into `chapters`.
    pub chapter_samples: Vec<(u64, u64, u32)>,
}

/// Reads the file's structure and its `moov`; the error is a sentence to follow the
/// file's name.
pub fn read(file: &mut File, size: u64) -> Result<Mp4Info, String> {
    let io = |e: std::io::Error| format!("cannot be read ({e})");
    let mut pos = 0u64;
    let mut moov = None;
    let mut boxes = 0u64;
    while pos < size {
        boxes += 1;
        if boxes > MAX_TOP_BOXES {
            return Err(format!(
                "has more than {MAX_TOP_BOXES} top-level MP4 boxes; remux it: `ffmpeg -i IN -c copy -movflags +faststart OUT`"
            ));
        }
        file.seek(SeekFrom::Start(pos)).map_err(io)?;
        let mut head = [0u8; 16];
        let n = read_up_to(file, &mut head).map_err(io)?;
        let header = parse_header(&head[..n], size - pos).map_err(|e| e.at(pos))?;
        if boxes == 1 && &header.kind != b"ftyp" {
            return Err("is not an MP4 file (it does not start with an `ftyp` box)".into());
        }
        if &header.kind == b"moov" {
            if moov.is_some() {
                return Err("has two `moov` boxes; remux it: `ffmpeg -i IN -c copy -movflags +faststart OUT`".into());
            }
            moov = Some((pos + header.header_len, header.size - header.header_len));
        }
        if &header.kind == b"moof" {
            return Err("is a fragmented MP4 (streaming segments), which podcast apps do not play as a download; remux it: `ffmpeg -i IN -c copy -movflags +faststart OUT`".into());
        }
        pos += header.size;
    }
    let Some((start, len)) = moov else {
        return Err("has no `moov` box (the MP4 index): the recording or export did not finish; export it again".into());
    };
    if len > MAX_MOOV {
        return Err(format!(
            "has a {len}-byte `moov` box, more than the {MAX_MOOV} podseed reads; remux it without large attachments"
        ));
    }
    file.seek(SeekFrom::Start(start)).map_err(io)?;
    let mut body = Vec::new();
    file.take(len).read_to_end(&mut body).map_err(io)?;
    if body.len() as u64 != len {
        return Err("changed while it was being read; publish again when it is written".into());
    }
    let mut info = parse_moov(&body)?;
    if info.tags.chapters.is_empty() {
        for &(start, offset, len) in &info.chapter_samples {
            if let Some(title) = chapter_title(file, offset, len, size).map_err(io)? {
                info.tags.chapters.push((start, title));
            }
        }
        info.tags.chapters.sort_by_key(|c| c.0);
    }
    Ok(info)
}

/// A box header: its type, total size and header length.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Header {
    kind: [u8; 4],
    size: u64,
    header_len: u64,
}

/// Why a box header cannot be used.
#[derive(Debug, Clone, PartialEq)]
enum HeaderError {
    /// Fewer bytes than a header remain.
    Short,
    /// The size is smaller than the header.
    Impossible([u8; 4], u64),
    /// The size goes past the end of the file (or parent).
    PastEnd([u8; 4], u64, u64),
}

impl HeaderError {
    fn at(&self, pos: u64) -> String {
        match self {
            HeaderError::Short => format!(
                "ends inside an MP4 box header at offset {pos}: it looks cut short (an interrupted copy or export); copy or export it again"
            ),
            HeaderError::Impossible(k, s) => format!(
                "has an MP4 box `{}` at offset {pos} with an impossible size {s}: the file is damaged; export it again",
                kind_name(k)
            ),
            HeaderError::PastEnd(k, s, left) => format!(
                "has an MP4 box `{}` at offset {pos} of {s} bytes, but only {left} remain: it looks cut short (an interrupted copy or export); copy or export it again",
                kind_name(k)
            ),
        }
    }
}

fn kind_name(k: &[u8; 4]) -> String {
    k.iter()
        .map(|&b| {
            if b.is_ascii_graphic() {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

/// Parses the header at the start of `b`, where `left` bytes remain in the file (or
/// parent); size 0 means "to the end".
fn parse_header(b: &[u8], left: u64) -> Result<Header, HeaderError> {
    if b.len() < 8 || left < 8 {
        return Err(HeaderError::Short);
    }
    let size32 = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let kind = [b[4], b[5], b[6], b[7]];
    let (size, header_len) = match size32 {
        0 => (left, 8),
        1 => {
            if b.len() < 16 || left < 16 {
                return Err(HeaderError::Short);
            }
            let mut s = [0u8; 8];
            s.copy_from_slice(&b[8..16]);
            (u64::from_be_bytes(s), 16)
        }
        s => (u64::from(s), 8),
    };
    if size < header_len {
        return Err(HeaderError::Impossible(kind, size));
    }
    if size > left {
        return Err(HeaderError::PastEnd(kind, size, left));
    }
    Ok(Header {
        kind,
        size,
        header_len,
    })
}

/// A child box: its type and body.
type Child<'a> = ([u8; 4], &'a [u8]);

/// The child boxes of a box body, as (type, body) slices.
fn children(data: &[u8]) -> Result<Vec<Child<'_>>, HeaderError> {
    let mut out = Vec::new();
    let mut rest = data;
    // A QuickTime `udta` may end with a 32-bit zero; fewer than 8 bytes are padding.
    while rest.len() >= 8 {
        let h = parse_header(rest, rest.len() as u64)?;
        let size = usize::try_from(h.size).map_err(|_| HeaderError::Short)?;
        let hl = h.header_len as usize;
        out.push((h.kind, &rest[hl..size]));
        rest = &rest[size..];
    }
    Ok(out)
}

fn child<'a>(list: &[Child<'a>], kind: &[u8; 4]) -> Option<&'a [u8]> {
    list.iter().find(|(k, _)| k == kind).map(|(_, b)| *b)
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// (duration, timescale) of an `mvhd` or `mdhd` body (both start the same way).
fn header_duration(b: &[u8]) -> Option<(u64, u32)> {
    match b.first()? {
        0 => Some((u64::from(be_u32(b, 16)?), be_u32(b, 12)?)),
        1 => Some((be_u64(b, 24)?, be_u32(b, 20)?)),
        _ => None,
    }
}

fn seconds((duration, timescale): (u64, u32)) -> Option<f64> {
    // All ones means "unknown" (a file still being written).
    (timescale > 0 && duration > 0 && duration != u64::from(u32::MAX) && duration != u64::MAX)
        .then(|| duration as f64 / f64::from(timescale))
}

/// Parses a `moov` body.
pub fn parse_moov(moov: &[u8]) -> Result<Mp4Info, String> {
    let damaged = |e: HeaderError| e.at(0).replace(" at offset 0", " inside `moov`");
    let boxes = children(moov).map_err(damaged)?;
    let mut info = Mp4Info::default();
    let mut longest_track = 0f64;
    let mut has_video = false;
    let mut has_audio = false;
    // Chapter track ids that tracks point to (`tref`/`chap`), and every track by id.
    let mut chapter_refs: Vec<u32> = Vec::new();
    let mut tracks: Vec<(u32, Vec<Child<'_>>)> = Vec::new();
    for (kind, body) in &boxes {
        if kind != b"trak" {
            continue;
        }
        let trak = children(body).map_err(damaged)?;
        if let Some(chap) = child(&trak, b"tref")
            .and_then(|t| children(t).ok())
            .and_then(|t| child(&t, b"chap"))
        {
            chapter_refs.extend((0..chap.len() / 4).filter_map(|i| be_u32(chap, 4 * i)));
        }
        let Some(mdia) = child(&trak, b"mdia") else {
            continue;
        };
        let mdia = children(mdia).map_err(damaged)?;
        if let Some(id) = track_id(&trak) {
            tracks.push((id, mdia.clone()));
        }
        let handler = child(&mdia, b"hdlr").and_then(|h| h.get(8..12));
        has_video |= handler == Some(b"vide");
        has_audio |= handler == Some(b"soun");
        if let Some(s) = child(&mdia, b"mdhd")
            .and_then(header_duration)
            .and_then(seconds)
        {
            longest_track = longest_track.max(s);
        }
    }
    if !has_audio && !has_video {
        return Err("has no audio or video track; export it again".into());
    }
    info.format = if has_video {
        Format::Video
    } else {
        Format::M4a
    };
    info.duration_secs = child(&boxes, b"mvhd")
        .and_then(header_duration)
        .and_then(seconds)
        .unwrap_or(longest_track);
    if info.duration_secs <= 0.0 {
        return Err("has no duration in its `moov` box; remux it: `ffmpeg -i IN -c copy -movflags +faststart OUT`".into());
    }
    // Tags are optional: a damaged `udta` loses them, not the episode.
    if let Some(udta) = child(&boxes, b"udta").and_then(|u| children(u).ok()) {
        if let Some(meta) = child(&udta, b"meta") {
            read_ilst(meta, &mut info);
        }
        if let Some(chpl) = child(&udta, b"chpl") {
            info.tags.chapters = read_chpl(chpl);
        }
    }
    if info.tags.chapters.is_empty() {
        // Chapters are optional too: a damaged chapter track loses them.
        info.chapter_samples = chapter_refs
            .iter()
            .find_map(|id| tracks.iter().find(|(t, _)| t == id))
            .and_then(|(_, mdia)| track_samples(mdia))
            .unwrap_or_default();
    }
    Ok(info)
}

/// The title in a QuickTime text sample (a 16-bit length, then UTF-8, or UTF-16 after a
/// byte order mark); None when the sample lies outside the file or holds no text.
fn chapter_title(
    file: &mut File,
    offset: u64,
    len: u32,
    file_len: u64,
) -> std::io::Result<Option<String>> {
    let len = u64::from(len).min(MAX_CHAPTER_SAMPLE);
    if len < 2 || offset.checked_add(len).is_none_or(|end| end > file_len) {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; len as usize];
    let n = read_up_to(file, &mut buf)?;
    // Fewer bytes than the table said: the file changed since; no title.
    let [hi, lo, ..] = buf[..n] else {
        return Ok(None);
    };
    let text_len = usize::from(u16::from_be_bytes([hi, lo]));
    let Some(text) = buf[..n].get(2..2 + text_len) else {
        return Ok(None);
    };
    let title = match text {
        [0xFE, 0xFF, rest @ ..] => text_value(2, rest),
        _ => text_value(1, text),
    };
    Ok(title)
}

/// The samples of a chapter (text) track: (start in ms, file offset, size), at most
/// [`MAX_CHAPTERS`]. Every table is read within its slice; None when one is damaged.
fn track_samples(mdia: &[Child<'_>]) -> Option<Vec<(u64, u64, u32)>> {
    let timescale = child(mdia, b"mdhd").and_then(header_duration)?.1;
    if timescale == 0 {
        return None;
    }
    let minf = children(child(mdia, b"minf")?).ok()?;
    let stbl = children(child(&minf, b"stbl")?).ok()?;
    let (stts, stsz, stsc) = (
        child(&stbl, b"stts")?,
        child(&stbl, b"stsz")?,
        child(&stbl, b"stsc")?,
    );
    let chunks: Vec<u64> = if let Some(stco) = child(&stbl, b"stco") {
        let n = (be_u32(stco, 4)? as usize).min(stco.len().saturating_sub(8) / 4);
        (0..n)
            .map(|i| be_u32(stco, 8 + 4 * i).map(u64::from))
            .collect::<Option<_>>()?
    } else {
        let co64 = child(&stbl, b"co64")?;
        let n = (be_u32(co64, 4)? as usize).min(co64.len().saturating_sub(8) / 8);
        (0..n)
            .map(|i| be_u64(co64, 8 + 8 * i))
            .collect::<Option<_>>()?
    };
    let fixed = be_u32(stsz, 4)?;
    let n = (be_u32(stsz, 8)? as usize).min(MAX_CHAPTERS);
    let sizes: Vec<u32> = (0..n)
        .map(|i| {
            if fixed != 0 {
                Some(fixed)
            } else {
                be_u32(stsz, 12 + 4 * i)
            }
        })
        .collect::<Option<_>>()?;
    let mut starts = Vec::with_capacity(n);
    let mut t = 0u64;
    for e in 0..be_u32(stts, 4)? as usize {
        let (count, delta) = (be_u32(stts, 8 + 8 * e)?, be_u32(stts, 12 + 8 * e)?);
        for _ in 0..count {
            if starts.len() == n {
                break;
            }
            starts.push(t.saturating_mul(1000) / u64::from(timescale));
            t = t.saturating_add(u64::from(delta));
        }
        if starts.len() == n {
            break;
        }
    }
    // stsc: runs of chunks (first chunk, 1-based; samples per chunk).
    let runs = be_u32(stsc, 4)? as usize;
    let mut offsets = Vec::with_capacity(n);
    'runs: for r in 0..runs {
        let first = be_u32(stsc, 8 + 12 * r)? as usize;
        let per_chunk = be_u32(stsc, 12 + 12 * r)?;
        let end = if r + 1 < runs {
            be_u32(stsc, 8 + 12 * (r + 1))? as usize
        } else {
            chunks.len() + 1
        };
        // Each chunk index is looked up, so a run past the table ends the walk.
        for chunk in first..end {
            let mut at = *chunks.get(chunk.checked_sub(1)?)?;
            for _ in 0..per_chunk {
                if offsets.len() == n {
                    break 'runs;
                }
                offsets.push(at);
                at = at.saturating_add(u64::from(sizes[offsets.len() - 1]));
            }
        }
    }
    Some(
        starts
            .into_iter()
            .zip(offsets)
            .zip(sizes)
            .map(|((t, o), s)| (t, o, s))
            .collect(),
    )
}

/// A track's id (`tkhd`).
fn track_id(trak: &[Child<'_>]) -> Option<u32> {
    let tkhd = child(trak, b"tkhd")?;
    match tkhd.first()? {
        0 => be_u32(tkhd, 12),
        _ => be_u32(tkhd, 20),
    }
}

/// iTunes tags from a `meta` body (a full box in ISO files, a plain one in QuickTime's).
fn read_ilst(meta: &[u8], info: &mut Mp4Info) {
    let body = if meta.get(4..8) == Some(b"hdlr") {
        meta
    } else {
        meta.get(4..).unwrap_or_default()
    };
    let Some(ilst) = children(body).ok().and_then(|c| child(&c, b"ilst")) else {
        return;
    };
    let Ok(items) = children(ilst) else {
        return;
    };
    for (kind, item) in items {
        let Some((data_type, value)) = first_data(item) else {
            continue;
        };
        let text = || text_value(data_type, value);
        match &kind {
            b"\xa9nam" => info.tags.title = info.tags.title.take().or_else(text),
            b"\xa9ART" => info.tags.artist = text().or(info.tags.artist.take()),
            b"aART" => info.tags.artist = info.tags.artist.take().or_else(text),
            b"\xa9cmt" => info.tags.comment = info.tags.comment.take().or_else(text),
            b"ldes" => info.tags.description = text().or(info.tags.description.take()),
            b"desc" => info.tags.description = info.tags.description.take().or_else(text),
            b"\xa9day" => info.tags.date = info.tags.date.take().or_else(text),
            b"covr" if info.tags.picture.is_none() => info.tags.picture = Some(value.to_vec()),
            _ => {}
        }
    }
}

/// The first `data` box of an `ilst` item: (type indicator, value).
fn first_data(item: &[u8]) -> Option<(u32, &[u8])> {
    let list = children(item).ok()?;
    let data = child(&list, b"data")?;
    Some((be_u32(data, 0)? & 0x00FF_FFFF, data.get(8..)?))
}

/// Text of a UTF-8 (1) or UTF-16 (2) value, trimmed, None when empty or not text.
fn text_value(data_type: u32, value: &[u8]) -> Option<String> {
    let s = match data_type {
        1 => String::from_utf8_lossy(value).into_owned(),
        2 => {
            let units: Vec<u16> = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => return None,
    };
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!t.is_empty()).then(|| t.to_string())
}

/// Nero chapters: version, flags, (4 reserved bytes in version 1), count, then per chapter
/// a start in 100 ns units, a title length and the UTF-8 title.
fn read_chpl(b: &[u8]) -> Vec<(u64, String)> {
    let mut at = if b.first() == Some(&1) { 8 } else { 4 };
    let Some(&count) = b.get(at) else {
        return Vec::new();
    };
    at += 1;
    let mut out = Vec::new();
    for _ in 0..count {
        let Some(start) = be_u64(b, at) else { break };
        let Some(&len) = b.get(at + 8) else { break };
        let Some(title) = b.get(at + 9..at + 9 + usize::from(len)) else {
            break;
        };
        out.push((
            start / 10_000,
            String::from_utf8_lossy(title).trim().to_string(),
        ));
        at += 9 + usize::from(len);
        if out.len() >= MAX_CHAPTERS {
            break;
        }
    }
    out.sort_by_key(|c| c.0);
    out
}
/// The top-level box walk of the hash stage's single read: the boxes must chain to the
/// end of the file exactly. It keeps at most one 16-byte header, whatever it is fed.
#[derive(Debug, Clone, Default)]
pub struct BoxWalker {
    /// Bytes fed so far.
    pos: u64,
    /// Where the next header starts.
    next: u64,
    /// The header being gathered across chunks.
    head: Vec<u8>,
    /// The last box runs to the end of the file (size 0).
    to_end: bool,
    /// Where that box's body starts, when it is `mdat`.
    mdat_to_end: Option<u64>,
    walk: Walk,
}

/// What a [`BoxWalker`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Walk {
    /// Top-level boxes seen.
    pub boxes: u64,
    /// Bytes in `mdat` bodies: the media, without the index and cover art (for the bitrate).
    pub media_bytes: u64,
    /// Why the file is unusable, as a sentence after its name.
    pub problem: Option<String>,
}

impl BoxWalker {
    /// A walker at the start of a file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk.
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut i = 0usize;
        while i < chunk.len() && self.walk.problem.is_none() && !self.to_end {
            let at = self.pos + i as u64;
            if at < self.next {
                let skip = (self.next - at).min((chunk.len() - i) as u64);
                i += skip as usize;
                continue;
            }
            // Gather a header: 8 bytes, 16 when the size says "64-bit size follows".
            let want = if self.head.len() >= 4 && self.head[..4] == [0, 0, 0, 1] {
                16
            } else {
                8
            };
            let take = (want - self.head.len()).min(chunk.len() - i);
            self.head.extend_from_slice(&chunk[i..i + take]);
            i += take;
            if self.head.len() < want || (want == 8 && self.head[..4] == [0, 0, 0, 1]) {
                continue;
            }
            self.walk.boxes += 1;
            let start = self.next;
            match parse_header(&self.head, u64::MAX - start) {
                Ok(h) if self.head[..4] == [0, 0, 0, 0] => {
                    self.to_end = true;
                    self.mdat_to_end = (&h.kind == b"mdat").then_some(start + h.header_len);
                }
                Ok(h) => {
                    self.next = start + h.size;
                    if &h.kind == b"mdat" {
                        self.walk.media_bytes += h.size - h.header_len;
                    }
                }
                Err(e) => self.walk.problem = Some(e.at(start)),
            }
            self.head.clear();
        }
        self.pos += chunk.len() as u64;
    }

    /// The walk's result: a box cut short by the end of the file is a problem.
    pub fn finish(mut self) -> Walk {
        if let Some(body) = self.mdat_to_end {
            self.walk.media_bytes += self.pos.saturating_sub(body);
        }
        if self.walk.problem.is_none() && !self.to_end {
            if !self.head.is_empty() {
                self.walk.problem = Some(HeaderError::Short.at(self.next));
            } else if self.next > self.pos {
                self.walk.problem = Some(format!(
                    "ends at byte {} inside an MP4 box that runs to byte {}: it looks cut short (an interrupted copy or upload); copy or export it again",
                    self.pos, self.next
                ));
            }
        }
        if self.walk.boxes == 0 && self.walk.problem.is_none() {
            self.walk.problem = Some("is empty".into());
        }
        self.walk
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    fn data(kind: &[u8; 4], t: u32, value: &[u8]) -> Vec<u8> {
        let mut d = t.to_be_bytes().to_vec();
        d.extend_from_slice(&[0; 4]);
        d.extend_from_slice(value);
        bx(kind, &bx(b"data", &d))
    }

    /// A small M4A: ftyp, moov (mvhd 2.5 s, one sound track, tags, chapters), mdat.
    pub(crate) fn tiny_m4a() -> Vec<u8> {
        tiny_m4a_with(true)
    }

    /// A small M4A: ftyp, moov (mvhd 2.5 s, a sound track pointing to a text chapter
    /// track, tags, and `chpl` chapters when `chpl`), mdat holding the two chapter samples.
    fn tiny_m4a_with(chpl: bool) -> Vec<u8> {
        let full = |v: &[u8]| [&[0u8; 4][..], v].concat();
        let u32s = |v: &[u32]| v.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
        let mut mvhd = vec![0u8; 100];
        mvhd[12..16].copy_from_slice(&1000u32.to_be_bytes());
        mvhd[16..20].copy_from_slice(&2500u32.to_be_bytes());
        let hdlr = |kind: &[u8; 4]| {
            let mut h = vec![0u8; 24];
            h[8..12].copy_from_slice(kind);
            bx(b"hdlr", &h)
        };
        let tkhd = |id: u32| {
            let mut t = vec![0u8; 84];
            t[12..16].copy_from_slice(&id.to_be_bytes());
            bx(b"tkhd", &t)
        };
        let sound = bx(
            b"trak",
            &[
                tkhd(1),
                bx(b"tref", &bx(b"chap", &2u32.to_be_bytes())),
                bx(b"mdia", &hdlr(b"soun")),
            ]
            .concat(),
        );
        // Two text samples: "One" at 0 ms, "Two" at 1000 ms (timescale 1000).
        let samples = [b"\0\x03One".to_vec(), b"\0\x03Two".to_vec()];
        let text_track = |first_offset: u32| {
            let mut mdhd = vec![0u8; 24];
            mdhd[12..16].copy_from_slice(&1000u32.to_be_bytes());
            let stbl = [
                bx(b"stts", &full(&u32s(&[2, 1, 1000, 1, 1500]))),
                bx(b"stsz", &full(&u32s(&[0, 2, 5, 5]))),
                bx(b"stsc", &full(&u32s(&[1, 1, 2, 1]))),
                bx(b"stco", &full(&u32s(&[1, first_offset]))),
            ]
            .concat();
            let minf = bx(b"minf", &bx(b"stbl", &stbl));
            let mdia = bx(b"mdia", &[bx(b"mdhd", &mdhd), hdlr(b"text"), minf].concat());
            bx(b"trak", &[tkhd(2), mdia].concat())
        };
        let ilst = [
            data(b"\xa9nam", 1, b"Title"),
            data(b"\xa9ART", 1, b"Artist"),
            data(b"desc", 1, b"Short"),
            data(b"ldes", 1, b"Long"),
            data(b"\xa9day", 1, b"2026-03-04"),
            data(b"covr", 13, &[0xff, 0xd8, 0xff, 0xe0]),
        ]
        .concat();
        let meta = [&[0u8; 4][..], &bx(b"hdlr", &[0; 25]), &bx(b"ilst", &ilst)].concat();
        let mut nero = vec![1, 0, 0, 0, 0, 0, 0, 0, 2];
        for (start, title) in [(0u64, "One"), (10_000_000, "Two")] {
            nero.extend_from_slice(&start.to_be_bytes());
            nero.push(title.len() as u8);
            nero.extend_from_slice(title.as_bytes());
        }
        let mut udta = bx(b"meta", &meta);
        if chpl {
            udta.extend_from_slice(&bx(b"chpl", &nero));
        }
        let ftyp = bx(b"ftyp", b"M4A \0\0\0\0");
        let moov = |offset| {
            bx(
                b"moov",
                &[
                    bx(b"mvhd", &mvhd),
                    sound.clone(),
                    text_track(offset),
                    bx(b"udta", &udta),
                ]
                .concat(),
            )
        };
        // The samples start after ftyp, moov and mdat's header (moov's size does not
        // depend on the offset it holds).
        let offset = (ftyp.len() + moov(0).len() + 8) as u32;
        let mut body = samples.concat();
        body.extend_from_slice(&[7; 300]);
        [ftyp, moov(offset), bx(b"mdat", &body)].concat()
    }

    fn read_bytes(bytes: &[u8]) -> Result<Mp4Info, String> {
        let mut f = tempfile::tempfile().expect("tmp");
        std::io::Write::write_all(&mut f, bytes).expect("write");
        read(&mut f, bytes.len() as u64)
    }

    #[test]
    fn reads_duration_tags_cover_and_chapters() {
        let info = read_bytes(&tiny_m4a()).expect("m4a");
        assert_eq!(info.format, Format::M4a);
        assert!((info.duration_secs - 2.5).abs() < 1e-9);
        assert_eq!(info.tags.title.as_deref(), Some("Title"));
        assert_eq!(info.tags.artist.as_deref(), Some("Artist"));
        assert_eq!(info.tags.description.as_deref(), Some("Long"));
        assert_eq!(info.tags.date.as_deref(), Some("2026-03-04"));
        assert_eq!(info.tags.picture, Some(vec![0xff, 0xd8, 0xff, 0xe0]));
        assert_eq!(
            info.tags.chapters,
            [(0, "One".into()), (1000, "Two".into())]
        );
    }

    #[test]
    fn reads_a_quicktime_chapter_track_without_chpl() {
        let info = read_bytes(&tiny_m4a_with(false)).expect("m4a");
        assert_eq!(
            info.tags.chapters,
            [(0, "One".into()), (1000, "Two".into())]
        );
    }

    #[test]
    fn hostile_structures_are_errors() {
        let good = tiny_m4a();
        // Cut short inside mdat.
        let cut = read_bytes(&good[..good.len() - 10]).expect_err("cut");
        assert!(cut.contains("cut short"), "{cut}");
        // A top-level box claiming 4 GiB.
        let mut huge = good.clone();
        huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, b'f', b'r', b'e', b'e']);
        assert!(read_bytes(&huge).expect_err("huge").contains("`free`"));
        // A 64-bit size of 2^63.
        let mut big = good.clone();
        big.extend_from_slice(&[
            0, 0, 0, 1, b'f', b'r', b'e', b'e', 0x80, 0, 0, 0, 0, 0, 0, 0,
        ]);
        assert!(read_bytes(&big).is_err());
        // Sizes below the header length (the classic zero-progress loop).
        let mut tiny = good.clone();
        tiny.extend_from_slice(&[0, 0, 0, 4, b'f', b'r', b'e', b'e']);
        assert!(read_bytes(&tiny).expect_err("tiny").contains("impossible"));
        // Size 0 runs to the end: fine at the end.
        let mut zero = good.clone();
        zero.extend_from_slice(&[0, 0, 0, 0, b'f', b'r', b'e', b'e', 1, 2, 3]);
        assert!(read_bytes(&zero).is_ok());
        // Not MP4 at all.
        assert!(read_bytes(b"OggS and so on").is_err());
        // No moov.
        let no_moov = [b"\0\0\0\x10ftypM4A \0\0\0\0".to_vec(), bx(b"mdat", &[0; 9])].concat();
        assert!(read_bytes(&no_moov).expect_err("moov").contains("moov"));
    }

    #[test]
    fn walker_agrees_however_the_bytes_are_cut() {
        let good = tiny_m4a();
        for size in [1, 3, 7, 8, 16, 100, 10_000] {
            let mut w = BoxWalker::new();
            good.chunks(size).for_each(|c| w.feed(c));
            let walk = w.finish();
            assert_eq!(walk.problem, None, "chunks of {size}");
            // The two 5-byte chapter samples and 300 bytes of "audio".
            assert_eq!(walk.media_bytes, 310, "chunks of {size}");
            let mut w = BoxWalker::new();
            good[..good.len() - 1].chunks(size).for_each(|c| w.feed(c));
            assert!(w.finish().problem.is_some(), "cut, chunks of {size}");
        }
    }

    // Default 256 cases; scripts/fuzz.sh raises PROPTEST_CASES.
    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            chunk in 1usize..64,
        ) {
            let mut w = BoxWalker::new();
            bytes.chunks(chunk).for_each(|c| w.feed(c));
            let _ = w.finish();
            let _ = parse_moov(&bytes);
            let _ = read_bytes(&bytes);
        }

        #[test]
        fn mutated_m4a_never_panics(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
            chpl in any::<bool>(),
        ) {
            let mut bytes = tiny_m4a_with(chpl);
            for (at, b) in edits {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            let keep = cut.index(bytes.len() + 1);
            if keep > 0 {
                bytes.truncate(keep);
            }
            let _ = read_bytes(&bytes);
            let mut w = BoxWalker::new();
            w.feed(&bytes);
            let _ = w.finish();
        }
    }
}
