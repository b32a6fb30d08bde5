//! Ogg Opus (RFC 7845): the probe reads the first two packets (`OpusHead`, `OpusTags` with
//! its Vorbis comments and `METADATA_BLOCK_PICTURE`); the hash stage's [`OggScanner`] walks
//! the pages of the single read for the last granule position, which gives the duration.
//!
//! Hand-written rather than the `ogg` crate: its packet reader owns a `Read + Seek` and
//! cannot be fed the chunks of the hash stage's read, and Ogg's page header is 27 bytes
//! plus a segment table. Sizes come from one-byte lacing values, so no size in the file
//! can ask for more than 255 × 255 bytes a page; the tags are capped at [`MAX_TAGS`].
//! Only the first logical stream is read (chained or multiplexed Ogg files are rare for
//! podcasts; their later streams do not count towards the duration).

use std::fs::File;
use std::io::{BufReader, Read};

use super::media::{read_up_to, ContainerTags};
use base64::Engine;

/// Largest `OpusTags` packet read (cover art included).
pub const MAX_TAGS: usize = 16 * 1024 * 1024;

/// Opus granule positions count 48 kHz samples, whatever the input rate.
const RATE: f64 = 48_000.0;

/// Most chapters kept.
const MAX_CHAPTERS: usize = 1000;

/// What the header packets say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpusInfo {
    /// Samples to drop at the start (`OpusHead` pre-skip).
    pub pre_skip: u16,
    /// TITLE, ARTIST, COMMENT, DESCRIPTION, DATE, the picture and the chapters.
    pub tags: ContainerTags,
}

/// One page header.
#[derive(Debug, Clone, PartialEq)]
struct Page {
    granule: u64,
    serial: u32,
    /// Lacing values.
    segments: Vec<u8>,
}

/// Reads a page header (27 bytes and the segment table); None at a clean end of file.
fn read_page(r: &mut impl Read, offset: u64) -> Result<Option<Page>, String> {
    let mut h = [0u8; 27];
    let n = read_up_to(r, &mut h).map_err(|e| format!("cannot be read ({e})"))?;
    if n == 0 {
        return Ok(None);
    }
    if n < 27 {
        return Err(cut_short(offset));
    }
    if &h[..4] != b"OggS" || h[4] != 0 {
        return Err(format!(
            "has no Ogg page at offset {offset}: the file is damaged; export it again"
        ));
    }
    let mut segments = vec![0u8; usize::from(h[26])];
    let n = read_up_to(r, &mut segments).map_err(|e| format!("cannot be read ({e})"))?;
    if n < segments.len() {
        return Err(cut_short(offset));
    }
    Ok(Some(Page {
        granule: u64::from_le_bytes([h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13]]),
        serial: u32::from_le_bytes([h[14], h[15], h[16], h[17]]),
        segments,
    }))
}

fn cut_short(offset: u64) -> String {
    format!("ends inside an Ogg page at offset {offset}: it looks cut short (an interrupted copy or export); copy or export it again")
}

/// Reads `OpusHead` and `OpusTags` from the start of the file.
pub fn read(file: &mut File) -> Result<OpusInfo, String> {
    let mut r = BufReader::new(file);
    let mut offset = 0u64;
    let mut serial = None;
    let mut packets: Vec<Vec<u8>> = Vec::new();
    let mut packet = Vec::new();
    while packets.len() < 2 {
        if offset > 2 * MAX_TAGS as u64 {
            return Err(format!(
                "has no Opus header packets in its first {} bytes; export it again",
                2 * MAX_TAGS
            ));
        }
        let Some(page) = read_page(&mut r, offset)? else {
            return Err("ends before its Opus header packets; export it again".into());
        };
        let body_len: usize = page.segments.iter().map(|&s| usize::from(s)).sum();
        let page_start = offset;
        offset += 27 + page.segments.len() as u64 + body_len as u64;
        let mut body = vec![0u8; body_len];
        let n = read_up_to(&mut r, &mut body).map_err(|e| format!("cannot be read ({e})"))?;
        if n < body_len {
            return Err(cut_short(page_start));
        }
        let ours = *serial.get_or_insert(page.serial);
        if page.serial != ours {
            continue;
        }
        let mut at = 0;
        for &lace in &page.segments {
            let seg = body
                .get(at..at + usize::from(lace))
                .ok_or_else(|| cut_short(page_start))?;
            at += usize::from(lace);
            if packet.len() + seg.len() > MAX_TAGS {
                return Err(format!(
                    "has Opus tags over {MAX_TAGS} bytes; make the embedded picture smaller"
                ));
            }
            packet.extend_from_slice(seg);
            if lace < 255 {
                packets.push(std::mem::take(&mut packet));
                if packets.len() == 2 {
                    break;
                }
            }
        }
        if packets.first().is_some_and(|p| !p.starts_with(b"OpusHead")) {
            let what = match packets.first() {
                Some(p) if p.starts_with(b"\x01vorbis") => "Ogg Vorbis",
                Some(p) if p.starts_with(b"\x7fFLAC") => "Ogg FLAC",
                Some(p) if p.starts_with(b"Speex") => "Ogg Speex",
                _ => "an Ogg file but not Opus",
            };
            return Err(format!(
                "is {what}, which podseed does not publish; convert it: `ffmpeg -i IN -c:a libopus -b:a 64k OUT.opus` (or `-c:a aac OUT.m4a`)"
            ));
        }
    }
    let head = &packets[0];
    if head.len() < 19 || head[8] >= 16 {
        return Err("has an OpusHead packet podseed cannot read (a future Opus version?)".into());
    }
    let mut info = OpusInfo {
        pre_skip: u16::from_le_bytes([head[10], head[11]]),
        ..Default::default()
    };
    let tags = &packets[1];
    if !tags.starts_with(b"OpusTags") {
        return Err("has no OpusTags packet after its OpusHead; export it again".into());
    }
    read_comments(&tags[8..], &mut info);
    Ok(info)
}

/// Vorbis comments: vendor string, count, then `KEY=value` strings (lengths little-endian).
fn read_comments(b: &[u8], info: &mut OpusInfo) {
    let le32 = |at: usize| -> Option<usize> {
        let v = u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?);
        usize::try_from(v).ok()
    };
    let Some(vendor) = le32(0) else { return };
    let mut at = 4usize.saturating_add(vendor);
    let Some(count) = le32(at) else { return };
    at += 4;
    let mut chapter_starts: Vec<(String, u64)> = Vec::new();
    let mut chapter_names: Vec<(String, String)> = Vec::new();
    let mut pictures: Vec<(u32, Vec<u8>)> = Vec::new();
    for _ in 0..count {
        let Some(len) = le32(at) else { break };
        let Some(c) = b.get(at + 4..(at + 4).saturating_add(len)) else {
            break;
        };
        at += 4 + len;
        let Some(eq) = c.iter().position(|&x| x == b'=') else {
            continue;
        };
        let key = String::from_utf8_lossy(&c[..eq]).to_ascii_uppercase();
        let value = &c[eq + 1..];
        let text = || {
            let t = String::from_utf8_lossy(value).trim().to_string();
            (!t.is_empty()).then_some(t)
        };
        match key.as_str() {
            "TITLE" => info.tags.title = info.tags.title.take().or_else(text),
            "ARTIST" => info.tags.artist = info.tags.artist.take().or_else(text),
            "COMMENT" => info.tags.comment = info.tags.comment.take().or_else(text),
            "DESCRIPTION" => info.tags.description = info.tags.description.take().or_else(text),
            "DATE" => info.tags.date = info.tags.date.take().or_else(text),
            "METADATA_BLOCK_PICTURE" => {
                if let Some(p) = flac_picture(value) {
                    pictures.push(p);
                }
            }
            k if k.starts_with("CHAPTER") => {
                let rest = &k[7..];
                if let Some(n) = rest.strip_suffix("NAME") {
                    if let Some(t) = text() {
                        chapter_names.push((n.to_string(), t));
                    }
                } else if rest.bytes().all(|x| x.is_ascii_digit()) {
                    if let Some(ms) = text().as_deref().and_then(parse_clock) {
                        chapter_starts.push((rest.to_string(), ms));
                    }
                }
            }
            _ => {}
        }
    }
    info.tags.picture = pictures
        .iter()
        .find(|(t, _)| *t == 3)
        .or(pictures.first())
        .map(|(_, d)| d.clone());
    let mut chapters: Vec<(u64, String)> = chapter_starts
        .into_iter()
        .take(MAX_CHAPTERS)
        .map(|(n, ms)| {
            let name = chapter_names
                .iter()
                .find(|(m, _)| *m == n)
                .map(|(_, t)| t.clone())
                .unwrap_or_default();
            (ms, name)
        })
        .collect();
    chapters.sort_by_key(|c| c.0);
    info.tags.chapters = chapters;
}

/// `HH:MM:SS.mmm` (the Vorbis chapter extension) in milliseconds.
fn parse_clock(t: &str) -> Option<u64> {
    let mut parts = t.split(':');
    let h: u64 = parts.next()?.parse().ok()?;
    let m: u64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || m >= 60 || !(0.0..60.0).contains(&s) || h > 1000 {
        return None;
    }
    Some(h * 3_600_000 + m * 60_000 + (s * 1000.0).round() as u64)
}

/// A FLAC picture block (base64 in the comment): (picture type, image bytes).
fn flac_picture(b64: &[u8]) -> Option<(u32, Vec<u8>)> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let b = engine.decode(b64).ok()?;
    let be32 = |at: usize| -> Option<usize> {
        let v = u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?);
        usize::try_from(v).ok()
    };
    let kind = u32::try_from(be32(0)?).ok()?;
    let mime = be32(4)?;
    let at = 8usize.checked_add(mime)?;
    let desc = be32(at)?;
    let at = at.checked_add(4)?.checked_add(desc)?.checked_add(16)?;
    let len = be32(at)?;
    let start = at.checked_add(4)?;
    let data = b.get(start..start.checked_add(len)?)?;
    Some((kind, data.to_vec()))
}
/// The page walk of the hash stage's single read. It keeps at most one page header
/// (282 bytes) and the first 19 bytes of the first packet, whatever it is fed.
#[derive(Debug, Clone, Default)]
pub struct OggScanner {
    /// Bytes fed so far.
    pos: u64,
    /// Where the current page's body ends (the next header starts).
    next: u64,
    /// The header being gathered.
    head: Vec<u8>,
    /// Serial of the first logical stream.
    serial: Option<u32>,
    /// The start of the first page's body (`OpusHead`).
    first_packet: Vec<u8>,
    stats: OggStats,
}

/// What an [`OggScanner`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OggStats {
    /// Pages seen.
    pub pages: u64,
    /// The last granule position of the first stream.
    pub last_granule: Option<u64>,
    /// `OpusHead` pre-skip.
    pub pre_skip: Option<u16>,
    /// Bytes fed.
    pub bytes: u64,
    /// Bytes of the first stream's audio pages (granule position above 0: not the header
    /// pages, which hold the tags and cover art), for the bitrate.
    pub audio_bytes: u64,
    /// Why the file is unusable.
    pub damage: Option<String>,
}

impl OggStats {
    /// Duration: (last granule − pre-skip) / 48 kHz.
    pub fn duration_secs(&self) -> Option<f64> {
        let g = self.last_granule?;
        let samples = g.checked_sub(u64::from(self.pre_skip?))?;
        (samples > 0).then(|| samples as f64 / RATE)
    }

    /// Why the file cannot be published.
    pub fn problem(&self) -> Option<String> {
        if let Some(d) = &self.damage {
            return Some(d.clone());
        }
        if self.duration_secs().is_none() {
            return Some(
                "has no Opus audio (no page with a granule position); export it again".into(),
            );
        }
        None
    }
}

impl OggScanner {
    /// A scanner at the start of a file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk.
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut i = 0usize;
        while i < chunk.len() && self.stats.damage.is_none() {
            let at = self.pos + i as u64;
            if at < self.next {
                let skip = (self.next - at).min((chunk.len() - i) as u64) as usize;
                if self.stats.pages == 1 && self.first_packet.len() < 19 {
                    let want = (19 - self.first_packet.len()).min(skip);
                    self.first_packet.extend_from_slice(&chunk[i..i + want]);
                    if self.first_packet.len() == 19 && self.first_packet.starts_with(b"OpusHead") {
                        self.stats.pre_skip = Some(u16::from_le_bytes([
                            self.first_packet[10],
                            self.first_packet[11],
                        ]));
                    }
                }
                i += skip;
                continue;
            }
            let want = if self.head.len() >= 27 {
                27 + usize::from(self.head[26])
            } else {
                27
            };
            let take = (want - self.head.len()).min(chunk.len() - i);
            self.head.extend_from_slice(&chunk[i..i + take]);
            i += take;
            if self.head.len() < 27 {
                continue;
            }
            if &self.head[..4] != b"OggS" {
                self.stats.damage = Some(format!(
                    "has no Ogg page at offset {}: the file is damaged; export it again",
                    self.next
                ));
                break;
            }
            if self.head.len() < 27 + usize::from(self.head[26]) {
                continue;
            }
            let h = &self.head;
            let granule = u64::from_le_bytes([h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13]]);
            let serial = u32::from_le_bytes([h[14], h[15], h[16], h[17]]);
            let body: u64 = h[27..].iter().map(|&s| u64::from(s)).sum();
            self.stats.pages += 1;
            if *self.serial.get_or_insert(serial) == serial && granule != u64::MAX {
                self.stats.last_granule = Some(granule);
                if granule > 0 {
                    self.stats.audio_bytes += h.len() as u64 + body;
                }
            }
            self.next += h.len() as u64 + body;
            self.head.clear();
        }
        self.pos += chunk.len() as u64;
    }

    /// The walk's result: a page cut short by the end of the file is damage.
    pub fn finish(mut self) -> OggStats {
        if self.stats.damage.is_none() && (!self.head.is_empty() || self.next > self.pos) {
            self.stats.damage = Some(cut_short(self.next));
        }
        self.stats.bytes = self.pos;
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One page holding whole packets (each under 255 × 255 bytes).
    fn page(serial: u32, granule: u64, seq: u32, packets: &[&[u8]]) -> Vec<u8> {
        let mut lacing = Vec::new();
        for p in packets {
            lacing.extend(std::iter::repeat_n(255u8, p.len() / 255));
            lacing.push((p.len() % 255) as u8);
        }
        let mut v = b"OggS\0\0".to_vec();
        v.extend_from_slice(&granule.to_le_bytes());
        v.extend_from_slice(&serial.to_le_bytes());
        v.extend_from_slice(&seq.to_le_bytes());
        v.extend_from_slice(&[0; 4]);
        v.push(lacing.len() as u8);
        v.extend_from_slice(&lacing);
        for p in packets {
            v.extend_from_slice(p);
        }
        v
    }

    fn comments(list: &[&str]) -> Vec<u8> {
        let mut v = b"OpusTags".to_vec();
        v.extend_from_slice(&3u32.to_le_bytes());
        v.extend_from_slice(b"abc");
        v.extend_from_slice(&(list.len() as u32).to_le_bytes());
        for c in list {
            v.extend_from_slice(&(c.len() as u32).to_le_bytes());
            v.extend_from_slice(c.as_bytes());
        }
        v
    }

    pub(crate) fn tiny_opus() -> Vec<u8> {
        let mut head = b"OpusHead\x01\x01".to_vec();
        head.extend_from_slice(&312u16.to_le_bytes());
        head.extend_from_slice(&[0; 7]);
        let mut pic = 3u32.to_be_bytes().to_vec();
        pic.extend_from_slice(&10u32.to_be_bytes());
        pic.extend_from_slice(b"image/jpeg");
        pic.extend_from_slice(&0u32.to_be_bytes());
        pic.extend_from_slice(&[0; 16]);
        pic.extend_from_slice(&4u32.to_be_bytes());
        pic.extend_from_slice(&[0xff, 0xd8, 0xff, 0xe0]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&pic);
        let block = format!("METADATA_BLOCK_PICTURE={b64}");
        let tags = comments(&[
            "title=Hello",
            "ARTIST=Me",
            "DESCRIPTION=Notes",
            "date=2026-01-02",
            "CHAPTER001=00:00:01.500",
            "CHAPTER001NAME=Later",
            "CHAPTER000=00:00:00.000",
            "CHAPTER000NAME=Start",
            &block,
        ]);
        [
            page(7, 0, 0, &[&head]),
            page(7, 0, 1, &[&tags]),
            page(7, 48_000 + 312, 2, &[&[1; 300], &[2; 40]]),
            page(7, 96_000 + 312, 3, &[&[3; 100]]),
        ]
        .concat()
    }

    fn read_bytes(bytes: &[u8]) -> Result<OpusInfo, String> {
        let mut f = tempfile::tempfile().expect("tmp");
        std::io::Write::write_all(&mut f, bytes).expect("write");
        std::io::Seek::rewind(&mut f).expect("rewind");
        read(&mut f)
    }

    #[test]
    fn reads_head_tags_picture_and_chapters() {
        let info = read_bytes(&tiny_opus()).expect("opus");
        assert_eq!(info.pre_skip, 312);
        assert_eq!(info.tags.title.as_deref(), Some("Hello"));
        assert_eq!(info.tags.artist.as_deref(), Some("Me"));
        assert_eq!(info.tags.description.as_deref(), Some("Notes"));
        assert_eq!(info.tags.date.as_deref(), Some("2026-01-02"));
        assert_eq!(info.tags.picture, Some(vec![0xff, 0xd8, 0xff, 0xe0]));
        assert_eq!(
            info.tags.chapters,
            [(0, "Start".to_string()), (1500, "Later".to_string())]
        );
    }

    #[test]
    fn scanner_finds_the_duration_however_the_bytes_are_cut() {
        let bytes = tiny_opus();
        for size in [1, 2, 19, 27, 28, 100, 4096] {
            let mut s = OggScanner::new();
            bytes.chunks(size).for_each(|c| s.feed(c));
            let stats = s.finish();
            assert_eq!(stats.problem(), None, "chunks of {size}");
            assert_eq!(stats.duration_secs(), Some(2.0), "chunks of {size}");
            // The two audio pages: headers of 27 + 3 and 27 + 1 bytes, bodies of 340 and 100.
            assert_eq!(stats.audio_bytes, 30 + 340 + 28 + 100, "chunks of {size}");
            let mut s = OggScanner::new();
            bytes[..bytes.len() - 1]
                .chunks(size)
                .for_each(|c| s.feed(c));
            assert!(s.finish().problem().is_some(), "cut, chunks of {size}");
        }
    }

    #[test]
    fn vorbis_and_damage_are_errors() {
        let vorbis = page(1, 0, 0, &[b"\x01vorbis\0\0\0\0"]);
        let err = read_bytes(&[vorbis.clone(), vorbis].concat()).expect_err("vorbis");
        assert!(err.contains("Ogg Vorbis"), "{err}");
        let bytes = tiny_opus();
        assert!(read_bytes(&bytes[..40])
            .expect_err("cut")
            .contains("cut short"));
        assert!(read_bytes(b"RIFF....WAVE").is_err());
        assert!(read_bytes(b"").is_err());
    }

    // Default 256 cases; scripts/fuzz.sh raises PROPTEST_CASES.
    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..800),
            chunk in 1usize..64,
        ) {
            let mut s = OggScanner::new();
            bytes.chunks(chunk).for_each(|c| s.feed(c));
            let stats = s.finish();
            let _ = stats.problem();
            let _ = read_bytes(&bytes);
            let mut info = OpusInfo::default();
            read_comments(&bytes, &mut info);
            let _ = flac_picture(&bytes);
        }

        #[test]
        fn mutated_opus_never_panics(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = tiny_opus();
            for (at, b) in edits {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            let keep = cut.index(bytes.len() + 1);
            if keep > 0 {
                bytes.truncate(keep);
            }
            let _ = read_bytes(&bytes);
            let mut s = OggScanner::new();
            s.feed(&bytes);
            let _ = s.finish().problem();
        }
    }
}
