//! Stage 2: read what an episode says about itself: its container (by its first bytes),
//! tags (ID3 v2.2/2.3/2.4 else v1; iTunes `ilst`; Vorbis comments), artwork, chapters,
//! and whether the file is audio podseed publishes at all.
//!
//! Reads only the head of an MP3 (the tag and the first frames) and, for ID3v1, its last
//! 128 bytes; of an MP4, its top-level box headers and its `moov` box; of an Ogg Opus file,
//! its first two packets. The full read that yields MP3 and Opus durations is the hash
//! stage's single pass; an MP4's duration is in its `moov`.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sha2::Digest;

use crate::config::{image_extension, PLAUSIBLE_YEARS};
use id3::{Content, TagLike};
use serde::{Deserialize, Serialize};

use super::id3_guard::TagShape;
use super::media::{self, read_up_to, ContainerTags, Format};
use super::mp3::{id3v2_len, FrameScanner};
use super::{mp4, opus, PublishError};

/// Bumped when probing learns to read more from tags; a manifest entry from an older probe
/// is read again (1: descriptions from TXXX, TDES and container tags).
pub const TAGS_VERSION: u32 = 1;

/// How far past the ID3 tag we look for the first MPEG frame before calling a file "not audio".
const SNIFF_BYTES: u64 = 256 * 1024;

/// Metadata an MP3 carries about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tags {
    /// TIT2.
    pub title: Option<String>,
    /// TPE1.
    pub artist: Option<String>,
    /// A comment: ID3 COMM (else TXXX:comment), iTunes `©cmt`, Vorbis COMMENT.
    pub comment: Option<String>,
    /// A description: ID3 TDES (else TXXX:description), iTunes `ldes` (else `desc`),
    /// Vorbis DESCRIPTION.
    #[serde(default)]
    pub description: Option<String>,
    /// TDRL, else TDRC, else TYER + TDAT.
    pub date: Option<DateTime<Utc>>,
    /// APIC: the embedded artwork's format and digest (the bytes are in [`Probe::picture`]).
    pub picture: Option<PictureInfo>,
    /// CHAP frames, in start order.
    pub chapters: Vec<Chapter>,
}

/// What the manifest remembers of embedded artwork, to tell whether an earlier extraction
/// is still current without reading the MP3 again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PictureInfo {
    /// File extension from the image's magic bytes: jpg, png, gif or webp.
    pub ext: String,
    /// SHA-256 of the image bytes (hex).
    pub sha256: String,
}

/// One ID3 chapter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chapter {
    /// Start in milliseconds.
    pub start_ms: u32,
    /// End in milliseconds.
    pub end_ms: u32,
    /// TIT2 inside the CHAP frame.
    pub title: Option<String>,
    /// WXXX inside the CHAP frame.
    pub url: Option<String>,
}

/// What probing one file found.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Tag metadata.
    pub tags: Tags,
    /// Embedded artwork bytes.
    pub picture: Option<Vec<u8>>,
    /// Offset of the audio after the leading ID3v2 tag(s).
    pub audio_start: u64,
    /// The container.
    pub format: Format,
    /// Duration when the container's header states it (MP4's `moov`).
    pub duration_secs: Option<f64>,
}

impl Tags {
    /// The text a description can come from: an explicit description before a comment.
    pub fn description_text(&self) -> Option<&str> {
        self.description.as_deref().or(self.comment.as_deref())
    }
}

/// Reads tags and checks that `path` holds audio podseed publishes (MP3, MP4, Ogg Opus).
pub fn probe(path: &Path) -> Result<Probe, PublishError> {
    let io_err = |source| PublishError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io_err)?;
    let size = file.metadata().map_err(io_err)?.len();
    if size == 0 {
        return Err(PublishError::media(
            path,
            "is empty (0 bytes); export the episode again",
        ));
    }
    let mut head = [0u8; 12];
    let n = read_up_to(&mut file, &mut head).map_err(io_err)?;
    match media::sniff(&head[..n]) {
        Format::Mp3 => {}
        Format::M4a | Format::Video => {
            let info = mp4::read(&mut file, size).map_err(|m| PublishError::media(path, m))?;
            let (tags, picture) = container_tags(info.tags, info.duration_secs);
            return Ok(Probe {
                tags,
                picture,
                audio_start: 0,
                format: info.format,
                duration_secs: Some(info.duration_secs),
            });
        }
        Format::Opus => {
            file.rewind().map_err(io_err)?;
            let info = opus::read(&mut file).map_err(|m| PublishError::media(path, m))?;
            let (tags, picture) = container_tags(
                info.tags,
                // Known after the hash stage's read; the last chapter ends there.
                f64::INFINITY,
            );
            return Ok(Probe {
                tags,
                picture,
                audio_start: 0,
                format: Format::Opus,
                duration_secs: None,
            });
        }
    }
    let audio_start = leading_tags_len(&mut file).map_err(io_err)?;
    if is_riff_wave(&mut file).map_err(io_err)? {
        return Err(PublishError::media(
            path,
            "is a WAV (RIFF) file, whatever audio it holds; podcast apps expect a plain MP3: convert it, e.g. `ffmpeg -i IN -codec:a libmp3lame -q:a 4 OUT.mp3` (or `-codec:a copy` when it holds MP3)",
        ));
    }
    let (has_frames, chapters) = sniff(&mut file, audio_start).map_err(io_err)?;
    if !has_frames {
        return Err(PublishError::media(
            path,
            "is not MPEG audio (no MP3 frame found, no MP4 or Ogg header either); podseed publishes MP3, M4A, MP4 and Opus files: convert it, e.g. `ffmpeg -i IN -codec:a libmp3lame -q:a 4 OUT.mp3`",
        ));
    }
    if chapters > MAX_CHAPTERS {
        return Err(PublishError::media(
            path,
            format!(
                "has {chapters} ID3 chapter frames; podseed reads at most {MAX_CHAPTERS} (reading more costs far more than their size): remove the CHAP frames, or give the episode a chapters JSON file in podcast.yaml"
            ),
        ));
    }
    let read = match super::id3_guard::check(&mut file).map_err(io_err)? {
        TagShape::Sound => {
            file.rewind().map_err(io_err)?;
            id3::v1v2::read_from(&mut file)
        }
        TagShape::DamagedAt { at } => {
            tracing::warn!(
                "{}: damaged ID3 tag (the frame at byte {at} claims more than the tag holds); reading the frames before it",
                path.display()
            );
            let intact = super::id3_guard::intact_part(&mut file, at).map_err(io_err)?;
            id3::Tag::read_from2(std::io::Cursor::new(intact))
        }
    };
    let tag = match read {
        Ok(t) => Some(t),
        Err(e) if matches!(e.kind, id3::ErrorKind::NoTag) => None,
        Err(e) => {
            // A damaged tag should not stop a publish: the config can supply the metadata.
            tracing::warn!(
                "{}: unreadable ID3 tag ({e}); using file name and config",
                path.display()
            );
            e.partial_tag
        }
    };
    let (tags, picture) = tag.map(|t| from_id3(&t)).unwrap_or_default();
    Ok(Probe {
        tags,
        picture,
        audio_start,
        format: Format::Mp3,
        duration_secs: None,
    })
}

/// [`Tags`] and artwork bytes from a container's tags; each chapter ends where the next
/// starts, the last at `duration_secs`.
fn container_tags(raw: ContainerTags, duration_secs: f64) -> (Tags, Option<Vec<u8>>) {
    let picture = raw.picture.filter(|p| image_extension(p).is_some());
    let end_ms = (duration_secs * 1000.0).min(f64::from(u32::MAX)) as u64;
    let ms = |v: u64| u32::try_from(v.min(end_ms)).unwrap_or(u32::MAX);
    let chapters = raw
        .chapters
        .iter()
        .enumerate()
        .filter(|(_, (start, _))| *start < end_ms)
        .map(|(i, (start, title))| Chapter {
            start_ms: ms(*start),
            end_ms: ms(raw.chapters.get(i + 1).map_or(end_ms, |c| c.0)),
            title: non_empty(Some(title)),
            url: None,
        })
        .collect();
    let tags = Tags {
        title: non_empty(raw.title.as_deref()),
        artist: non_empty(raw.artist.as_deref()),
        comment: non_empty(raw.comment.as_deref()),
        description: non_empty(raw.description.as_deref()),
        date: raw.date.as_deref().and_then(tag_text_date),
        picture: picture.as_ref().and_then(|p| {
            Some(PictureInfo {
                ext: image_extension(p)?.to_string(),
                sha256: crate::bt::hex(&sha2::Sha256::digest(p)),
            })
        }),
        chapters,
    };
    (tags, picture)
}

/// A date written as text in a tag: what the config accepts, or a bare year.
fn tag_text_date(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    crate::config::parse_date(t).or_else(|| {
        let year: i32 = t.get(..4)?.parse().ok()?;
        let rest = &t[4..];
        (rest.is_empty() || rest.starts_with('-'))
            .then(|| NaiveDate::from_ymd_opt(year, 1, 1))??
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc())
            .filter(|d| PLAUSIBLE_YEARS.contains(&d.year()))
    })
}

/// Most ID3 chapter frames read: a long show has a few hundred; the id3 library's work grows
/// with the square of their number, so a tag of thousands is refused before it is parsed.
const MAX_CHAPTERS: usize = 1000;

/// Counts CHAP frame ids in the first `limit` bytes of a stream fed in chunks (an image
/// could hold the bytes by chance, but not a thousand times).
struct ChapterCount {
    limit: u64,
    seen: u64,
    /// The last three bytes fed, so an id across two chunks is counted.
    tail: Vec<u8>,
    count: usize,
}

impl ChapterCount {
    fn new(limit: u64) -> Self {
        ChapterCount {
            limit,
            seen: 0,
            tail: Vec::with_capacity(6),
            count: 0,
        }
    }

    fn feed(&mut self, chunk: &[u8]) {
        let take =
            usize::try_from(self.limit - self.seen).map_or(chunk.len(), |l| l.min(chunk.len()));
        let part = &chunk[..take];
        self.seen += take as u64;
        // Ids that start in the tail and end in this part, then those inside the part.
        let tail_len = self.tail.len();
        self.tail.extend_from_slice(&part[..part.len().min(3)]);
        self.count += self
            .tail
            .windows(4)
            .take(tail_len)
            .filter(|w| *w == b"CHAP")
            .count();
        self.count += part.windows(4).filter(|w| *w == b"CHAP").count();
        // The new tail: the last three bytes of the old tail and this part together.
        if part.len() >= 3 {
            self.tail.clear();
            self.tail.extend_from_slice(&part[part.len() - 3..]);
        } else {
            self.tail.drain(..self.tail.len().saturating_sub(3));
        }
    }
}

/// Whether the file is a RIFF/WAVE container (which may wrap MPEG audio, format 0x55).
fn is_riff_wave(file: &mut File) -> std::io::Result<bool> {
    file.seek(std::io::SeekFrom::Start(0))?;
    let mut head = [0u8; 12];
    let n = read_up_to(file, &mut head)?;
    Ok(n == 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE")
}

/// Length of the ID3v2 tag(s) at the start of the file (several may follow each other).
fn leading_tags_len(file: &mut File) -> std::io::Result<u64> {
    let mut start = 0u64;
    let mut head = [0u8; 10];
    loop {
        file.seek(std::io::SeekFrom::Start(start))?;
        let n = read_up_to(file, &mut head)?;
        match id3v2_len(&head[..n]) {
            Some(len) if len > 0 => start += len,
            _ => return Ok(start),
        }
    }
}

/// One read of the tags and the start of the audio: whether an MPEG frame follows the
/// tags, and how many chapter frames the tags hold.
fn sniff(file: &mut File, audio_start: u64) -> std::io::Result<(bool, usize)> {
    file.seek(std::io::SeekFrom::Start(0))?;
    let mut scanner = FrameScanner::new(audio_start);
    let mut chapters = ChapterCount::new(audio_start);
    let mut buf = vec![0u8; 64 * 1024];
    let mut remaining = audio_start + SNIFF_BYTES;
    while remaining > 0 {
        let want = buf.len().min(remaining as usize);
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        scanner.feed(&buf[..n]);
        chapters.feed(&buf[..n]);
        remaining -= n as u64;
    }
    Ok((scanner.finish().first.is_some(), chapters.count))
}
/// Trimmed text, or None when empty. ID3v2.4 separates multiple values with NUL; they are
/// joined with ", " (a NUL is not even allowed in XML).
fn non_empty(s: Option<&str>) -> Option<String> {
    let joined = s?
        .split('\0')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    (!joined.is_empty()).then_some(joined)
}

fn from_id3(tag: &id3::Tag) -> (Tags, Option<Vec<u8>>) {
    // Only images we can name; a "-->" APIC is a URL, not an image.
    let usable = |p: &&id3::frame::Picture| image_extension(&p.data).is_some();
    let picture = tag
        .pictures()
        .filter(usable)
        .find(|p| p.picture_type == id3::frame::PictureType::CoverFront)
        .or_else(|| tag.pictures().find(usable));
    // ffmpeg writes `-metadata comment=` as TXXX:comment, not COMM.
    let extended = |name: &str| {
        tag.extended_texts()
            .find(|t| t.description.eq_ignore_ascii_case(name))
            .and_then(|t| non_empty(Some(&t.value)))
    };
    let comment = tag
        .comments()
        .find(|c| !c.text.trim().is_empty() && !c.description.starts_with("iTun"))
        .map(|c| c.text.trim().to_string())
        .or_else(|| extended("comment"));
    let description = tag
        .get("TDES")
        .and_then(|f| non_empty(f.content().text()))
        .or_else(|| extended("description"));
    let mut chapters: Vec<Chapter> = tag
        .chapters()
        .map(|c| Chapter {
            start_ms: c.start_time,
            end_ms: c.end_time,
            title: c
                .frames
                .iter()
                .find(|f| f.id() == "TIT2")
                .and_then(|f| non_empty(f.content().text())),
            url: c.frames.iter().find_map(|f| match f.content() {
                Content::ExtendedLink(l) => Some(l.link.clone()),
                Content::Link(l) => Some(l.clone()),
                _ => None,
            }),
        })
        .collect();
    chapters.sort_by_key(|c| c.start_ms);
    let tags = Tags {
        title: non_empty(tag.title()),
        artist: non_empty(tag.artist()),
        comment,
        description,
        date: tag_date(tag),
        picture: picture.and_then(|p| {
            Some(PictureInfo {
                ext: image_extension(&p.data)?.to_string(),
                sha256: crate::bt::hex(&sha2::Sha256::digest(&p.data)),
            })
        }),
        chapters,
    };
    (tags, picture.map(|p| p.data.clone()))
}

fn tag_date(tag: &id3::Tag) -> Option<DateTime<Utc>> {
    let plausible = |d: DateTime<Utc>| PLAUSIBLE_YEARS.contains(&d.year()).then_some(d);
    let from_ts = |t: id3::Timestamp| {
        let date = NaiveDate::from_ymd_opt(
            t.year,
            u32::from(t.month.unwrap_or(1)),
            u32::from(t.day.unwrap_or(1)),
        )?;
        date.and_hms_opt(
            u32::from(t.hour.unwrap_or(0)),
            u32::from(t.minute.unwrap_or(0)),
            u32::from(t.second.unwrap_or(0)),
        )
        .map(|d| d.and_utc())
    };
    if let Some(d) = tag.date_released().and_then(from_ts).and_then(plausible) {
        return Some(d);
    }
    if let Some(d) = tag.date_recorded().and_then(from_ts).and_then(plausible) {
        return Some(d);
    }
    // ID3v2.3 splits the date: TYER "2024", TDAT "DDMM"; a bad TDAT still leaves the year.
    let year: i32 = tag.get("TYER")?.content().text()?.trim().parse().ok()?;
    let day_month = tag
        .get("TDAT")
        .and_then(|f| f.content().text())
        .map(str::trim)
        .filter(|t| t.len() == 4)
        .and_then(|t| Some((t[..2].parse().ok()?, t[2..].parse().ok()?)))
        .and_then(|(day, month)| NaiveDate::from_ymd_opt(year, month, day));
    let date = day_month.or_else(|| NaiveDate::from_ymd_opt(year, 1, 1))?;
    date.and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .and_then(plausible)
}

/// The date an episode's file name starts with (`2024-05-01-title.mp3`), if any.
pub fn date_from_file_name(rel: &str) -> Option<DateTime<Utc>> {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let head = name.get(..10)?;
    NaiveDate::parse_from_str(head, "%Y-%m-%d")
        .ok()?
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
}

/// A readable title from a file name: `2024-05-01-my_great-show.mp3` → `My great show`.
pub fn title_from_file_name(rel: &str) -> String {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let stem = if date_from_file_name(name).is_some() {
        stem[10..].trim_start_matches(['-', '_', ' '])
    } else {
        stem
    };
    let words = stem.replace(['-', '_'], " ");
    let words = words.trim();
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => stem.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chapter_frames_are_counted_across_read_boundaries_and_only_in_the_tags() {
        let d = tempfile::tempdir().expect("tempdir");
        let path = d.path().join("t.mp3");
        let mut bytes = vec![0u8; 64 * 1024 - 2];
        bytes.extend_from_slice(b"CHAP");
        bytes.extend_from_slice(b"xxCHAPCHAP");
        let tags_len = bytes.len() as u64;
        bytes.extend_from_slice(b"CHAP after the tags");
        std::fs::write(&path, &bytes).expect("write");
        let mut f = File::open(&path).expect("open");
        assert_eq!(sniff(&mut f, tags_len).expect("count").1, 3);
        assert_eq!(sniff(&mut f, 0).expect("count").1, 0);
        // However the bytes are cut into chunks.
        for size in [1, 2, 3, 5, 4096] {
            let mut c = ChapterCount::new(tags_len);
            for chunk in bytes.chunks(size) {
                c.feed(chunk);
            }
            assert_eq!(c.count, 3, "chunks of {size}");
        }
    }
    use id3::frame::{Picture, PictureType};
    use id3::{Frame, Tag, Version};
    use proptest::prelude::*;

    #[test]
    fn names_give_dates_and_titles() {
        assert_eq!(
            date_from_file_name("s1/2024-05-01-hello.mp3").map(|d| d.to_rfc3339()),
            Some("2024-05-01T00:00:00+00:00".to_string())
        );
        assert_eq!(date_from_file_name("hello.mp3"), None);
        assert_eq!(
            title_from_file_name("2024-05-01-my_great-show.mp3"),
            "My great show"
        );
        assert_eq!(title_from_file_name("bonus.mp3"), "Bonus");
    }

    #[test]
    fn v23_split_date_and_picture() {
        let mut tag = Tag::with_version(Version::Id3v23);
        tag.set_title("T");
        tag.add_frame(Frame::text("TYER", "2023"));
        tag.add_frame(Frame::text("TDAT", "0703"));
        // A URL "picture" is skipped; the JPEG is taken whatever its declared MIME type.
        tag.add_frame(Picture {
            mime_type: "-->".into(),
            picture_type: PictureType::Other,
            description: String::new(),
            data: b"https://x/y.jpg".to_vec(),
        });
        tag.add_frame(Picture {
            mime_type: "image/jpg".into(),
            picture_type: PictureType::CoverFront,
            description: String::new(),
            data: vec![0xff, 0xd8, 0xff, 0xe0],
        });
        let (tags, pic) = from_id3(&tag);
        assert_eq!(tags.title.as_deref(), Some("T"));
        assert_eq!(
            tags.date.map(|d| d.to_rfc3339()),
            Some("2023-03-07T00:00:00+00:00".to_string())
        );
        assert_eq!(tags.picture.map(|p| p.ext).as_deref(), Some("jpg"));
        assert_eq!(pic, Some(vec![0xff, 0xd8, 0xff, 0xe0]));
    }

    #[test]
    fn implausible_dates_and_multi_values() {
        let mut tag = Tag::new();
        tag.add_frame(Frame::text("TDRC", "99999"));
        tag.add_frame(Frame::text("TPE1", "Alice\0Bob"));
        let (tags, _) = from_id3(&tag);
        assert_eq!(tags.date, None);
        assert_eq!(tags.artist.as_deref(), Some("Alice, Bob"));
        let mut v23 = Tag::with_version(Version::Id3v23);
        v23.add_frame(Frame::text("TYER", "2023"));
        v23.add_frame(Frame::text("TDAT", "3102"));
        let (tags, _) = from_id3(&v23);
        assert_eq!(
            tags.date.map(|d| d.to_rfc3339()),
            Some("2023-01-01T00:00:00+00:00".to_string())
        );
    }

    #[test]
    fn released_date_wins_over_recorded() {
        let mut tag = Tag::new();
        tag.add_frame(Frame::text("TDRC", "2020-01-02"));
        tag.add_frame(Frame::text("TDRL", "2021-02-03T04:05"));
        let (tags, _) = from_id3(&tag);
        assert_eq!(
            tags.date.map(|d| d.to_rfc3339()),
            Some("2021-02-03T04:05:00+00:00".to_string())
        );
    }

    #[test]
    fn empty_and_non_audio_files_are_refused() {
        let d = tempfile::tempdir().expect("tempdir");
        let empty = d.path().join("empty.mp3");
        std::fs::write(&empty, b"").expect("write");
        let err = probe(&empty).expect_err("empty");
        assert!(err.to_string().contains("empty.mp3"), "{err}");
        let text = d.path().join("notes.mp3");
        std::fs::write(&text, b"just some text, not audio\n".repeat(100)).expect("write");
        let err = probe(&text).expect_err("text");
        assert!(err.to_string().contains("not MPEG audio"), "{err}");
    }

    /// Two MPEG-1 layer III 128 kbps frames, enough for the scanner to call it audio.
    fn two_frames() -> Vec<u8> {
        let mut f = vec![0xFF, 0xFB, 0x90, 0x64];
        f.resize(417, 0);
        f.repeat(2)
    }

    /// An ID3v2 frame with a random body, v2.2 (3-byte ids and sizes) or v2.3/2.4.
    fn id3_frame(major: u8) -> impl Strategy<Value = Vec<u8>> {
        let ids: Vec<&'static str> = if major == 2 {
            vec!["TT2", "TP1", "COM", "PIC", "TYE", "TDA", "CHA"]
        } else {
            vec![
                "TIT2", "TPE1", "COMM", "APIC", "TDRC", "TDRL", "TYER", "TDAT", "CHAP", "CTOC",
                "WXXX", "TXXX",
            ]
        };
        (
            proptest::sample::select(ids),
            // Mostly a valid text encoding byte first, then anything.
            (0u8..5, proptest::collection::vec(any::<u8>(), 0..40)),
            prop_oneof![3 => Just(0u16), 1 => any::<u16>()],
            proptest::bool::weighted(0.2),
        )
            .prop_map(move |(id, (encoding, rest), flags, lie)| {
                let body = [&[encoding][..], &rest].concat();
                let mut f = id.as_bytes().to_vec();
                // Sometimes a size that does not match the body.
                let n = if lie {
                    body.len() as u32 + 7
                } else {
                    body.len() as u32
                };
                if major == 2 {
                    f.extend_from_slice(&n.to_be_bytes()[1..]);
                } else {
                    let size = if major == 4 {
                        // Syncsafe.
                        (n & 0x7F) | (n >> 7 & 0x7F) << 8 | (n >> 14 & 0x7F) << 16
                    } else {
                        n
                    };
                    f.extend_from_slice(&size.to_be_bytes());
                    f.extend_from_slice(&flags.to_be_bytes());
                }
                f.extend_from_slice(&body);
                f
            })
    }

    /// An ID3v2 tag of tag-shaped frames (the right size in its header), MPEG frames,
    /// noise, and maybe an ID3v1 tag of noise at the end.
    fn tagged_audio() -> impl Strategy<Value = Vec<u8>> {
        (2u8..=4)
            .prop_flat_map(|major| {
                (
                    Just(major),
                    prop_oneof![3 => Just(0u8), 1 => any::<u8>()],
                    proptest::collection::vec(id3_frame(major), 0..6),
                    proptest::collection::vec(any::<u8>(), 0..200),
                    proptest::option::of(proptest::collection::vec(any::<u8>(), 125)),
                )
            })
            .prop_map(|(major, flags, frames, noise, v1)| {
                let body = frames.concat();
                let n = body.len() as u32;
                let mut v = vec![b'I', b'D', b'3', major, 0, flags];
                v.extend_from_slice(&[
                    (n >> 21 & 0x7F) as u8,
                    (n >> 14 & 0x7F) as u8,
                    (n >> 7 & 0x7F) as u8,
                    (n & 0x7F) as u8,
                ]);
                v.extend_from_slice(&body);
                v.extend_from_slice(&two_frames());
                v.extend_from_slice(&noise);
                if let Some(v1) = v1 {
                    v.extend_from_slice(b"TAG");
                    v.extend_from_slice(&v1);
                }
                v
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn probe_never_panics_on_arbitrary_small_files(
            bytes in proptest::collection::vec(any::<u8>(), 0..2000)
        ) {
            let d = tempfile::tempdir().expect("tempdir");
            let path = d.path().join("episode.mp3");
            std::fs::write(&path, &bytes).expect("write");
            let _ = probe(&path);
        }

        #[test]
        fn probe_never_panics_on_audio_with_noisy_tags(bytes in tagged_audio()) {
            let d = tempfile::tempdir().expect("tempdir");
            let path = d.path().join("episode.mp3");
            std::fs::write(&path, &bytes).expect("write");
            let _ = probe(&path);
        }
    }
}
