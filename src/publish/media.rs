//! The media formats podseed publishes (MP3, MP4 audio, MP4 video, Ogg Opus): which file
//! is which, the enclosure MIME type of each, the per-format scanner the hash stage feeds
//! (one streaming read per file), and the hint for media files it does not publish.
//!
//! The format is told by the file's first bytes (`ftyp` box, `OggS` page), not its name,
//! so a mislabelled file is read by the right parser; the name only decides which files in
//! `episodes_dir` are candidates (see [`candidate`]).

use serde::{Deserialize, Serialize};

use super::mp3::{FrameScanner, FrameStats};
use super::mp4::{BoxWalker, Walk};
use super::opus::{OggScanner, OggStats};

/// A container podseed publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// MPEG audio (layer III), with ID3 tags.
    #[default]
    Mp3,
    /// MP4 (ISO BMFF) with no video track: AAC (or ALAC) audio, iTunes tags.
    M4a,
    /// MP4 with a video track.
    Video,
    /// Ogg Opus, with Vorbis comments.
    Opus,
}

impl Format {
    /// The enclosure MIME type. Apple's podcast guide lists `audio/x-m4a`, `video/mp4`
    /// and `video/x-m4v`; Ogg Opus is `audio/ogg` (RFC 7845 section 9; `audio/opus` is the
    /// RTP payload type of RFC 7587, not a file type).
    pub fn mime_type(self, rel: &str) -> &'static str {
        match self {
            Format::Mp3 => "audio/mpeg",
            Format::M4a => "audio/x-m4a",
            Format::Video if extension(rel).eq_ignore_ascii_case("m4v") => "video/x-m4v",
            Format::Video => "video/mp4",
            Format::Opus => "audio/ogg",
        }
    }

    /// A short human name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Mp3 => "MP3",
            Format::M4a => "M4A",
            Format::Video => "MP4 video",
            Format::Opus => "Opus",
        }
    }
}

/// The container a file's first bytes announce: MP4 (`ftyp` at offset 4), Ogg (`OggS`),
/// else MP3 (whose probe tells whether it really is MPEG audio).
pub fn sniff(head: &[u8]) -> Format {
    if head.get(4..8) == Some(b"ftyp") {
        Format::M4a
    } else if head.starts_with(b"OggS") {
        Format::Opus
    } else {
        Format::Mp3
    }
}

/// Extensions of the files podseed publishes (`.ogg` only when it holds Opus).
const PUBLISHED: &[&str] = &["mp3", "m4a", "m4b", "mp4", "m4v", "opus", "ogg"];

/// Whether a file in `episodes_dir` is an episode candidate, by extension.
pub fn candidate(rel: &str) -> bool {
    let ext = extension(rel);
    PUBLISHED.iter().any(|e| e.eq_ignore_ascii_case(ext))
}

/// For a file that looks like media podseed does not publish: what it is and the ffmpeg
/// command that converts it. None for anything else (notes, images, transcripts).
pub fn unpublished_hint(rel: &str) -> Option<String> {
    let ext = extension(rel).to_ascii_lowercase();
    let video = matches!(
        ext.as_str(),
        "webm" | "mkv" | "mov" | "avi" | "wmv" | "flv" | "mpg" | "mpeg" | "ogv" | "ts" | "3gp"
    );
    let audio = matches!(
        ext.as_str(),
        "wav"
            | "wave"
            | "aif"
            | "aiff"
            | "aifc"
            | "flac"
            | "aac"
            | "adts"
            | "ac3"
            | "wma"
            | "mka"
            | "oga"
            | "ogg"
            | "spx"
            | "amr"
            | "caf"
            | "ape"
            | "wv"
            | "mp2"
            | "alac"
    );
    let stem = rel.rsplit_once('.').map_or(rel, |(s, _)| s);
    if video {
        Some(format!(
            "{rel}: .{ext} video is not published (podcast apps play MP4); convert it: `ffmpeg -i '{rel}' -c:v libx264 -c:a aac -movflags +faststart '{stem}.mp4'`"
        ))
    } else if audio {
        let what = if ext == "ogg" || ext == "oga" {
            "Ogg audio that is not Opus (Vorbis, FLAC or Speex)".to_string()
        } else {
            format!(".{ext} audio")
        };
        Some(format!(
            "{rel}: {what} is not published (podcast apps play MP3, M4A and, some, Opus); convert it: `ffmpeg -i '{rel}' -c:a aac -b:a 96k -movflags +faststart '{stem}.m4a'` (or `-c:a libmp3lame -q:a 4 '{stem}.mp3'`)"
        ))
    } else {
        None
    }
}

/// Tags as an MP4 or Ogg Opus file gives them, before probing turns them into
/// [`super::probe::Tags`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerTags {
    /// MP4 `©nam`; Opus TITLE.
    pub title: Option<String>,
    /// MP4 `©ART`, else `aART`; Opus ARTIST.
    pub artist: Option<String>,
    /// MP4 `©cmt`; Opus COMMENT.
    pub comment: Option<String>,
    /// MP4 `ldes`, else `desc`; Opus DESCRIPTION.
    pub description: Option<String>,
    /// MP4 `©day`; Opus DATE; as written.
    pub date: Option<String>,
    /// MP4 `covr` (the first image); Opus METADATA_BLOCK_PICTURE (the front cover, else the
    /// first picture).
    pub picture: Option<Vec<u8>>,
    /// (start in ms, title), in start order: MP4 `chpl` or the chapter track; Opus
    /// CHAPTERnnn / CHAPTERnnnNAME.
    pub chapters: Vec<(u64, String)>,
}

/// Fills `buf` from `r` as far as it goes; the count read (short only at the end).
pub fn read_up_to(r: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn extension(rel: &str) -> &str {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.rsplit_once('.').map_or("", |(_, e)| e)
}

/// The per-format walk the hash stage feeds every chunk of a file to, beside the hashers.
#[derive(Debug)]
pub enum Scanner {
    /// MPEG frames (duration, bitrate, Xing truncation).
    Mpeg(FrameScanner),
    /// MP4 top-level boxes (the file must end where its last box does).
    Mp4(BoxWalker),
    /// Ogg pages (duration from the last granule position).
    Ogg(OggScanner),
}

impl Scanner {
    /// A scanner for `format`; MPEG audio starts at `audio_start` (after ID3v2).
    pub fn new(format: Format, audio_start: u64) -> Self {
        match format {
            Format::Mp3 => Scanner::Mpeg(FrameScanner::new(audio_start)),
            Format::M4a | Format::Video => Scanner::Mp4(BoxWalker::new()),
            Format::Opus => Scanner::Ogg(OggScanner::new()),
        }
    }

    /// Feeds the next chunk of the file.
    pub fn feed(&mut self, chunk: &[u8]) {
        match self {
            Scanner::Mpeg(s) => s.feed(chunk),
            Scanner::Mp4(s) => s.feed(chunk),
            Scanner::Ogg(s) => s.feed(chunk),
        }
    }

    /// What the walk found.
    pub fn finish(self) -> Stats {
        match self {
            Scanner::Mpeg(s) => Stats::Mpeg(s.finish()),
            Scanner::Mp4(s) => Stats::Mp4(s.finish()),
            Scanner::Ogg(s) => Stats::Ogg(s.finish()),
        }
    }
}

/// What a [`Scanner`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Stats {
    /// MPEG frame totals.
    Mpeg(FrameStats),
    /// MP4 box walk (the duration is the `moov` box's, read by the probe).
    Mp4(Walk),
    /// Ogg page walk.
    Ogg(OggStats),
}

impl Stats {
    /// Duration in seconds, when the stream itself tells (MP4's is in its `moov`).
    pub fn duration_secs(&self) -> Option<f64> {
        match self {
            Stats::Mpeg(s) => s.duration_secs(),
            Stats::Mp4(_) => None,
            Stats::Ogg(s) => s.duration_secs(),
        }
    }

    /// Average bitrate over `duration_secs`: MPEG's from its
    /// frames, MP4's from its media data and Ogg's from its audio pages (neither counts the
    /// index, tags or cover art).
    pub fn bitrate_bps(&self, duration_secs: f64) -> Option<u64> {
        let bytes = match self {
            Stats::Mpeg(s) => return s.bitrate_bps(),
            Stats::Mp4(w) => w.media_bytes,
            Stats::Ogg(s) => s.audio_bytes,
        };
        (duration_secs > 0.0 && bytes > 0)
            .then(|| (bytes as f64 * 8.0 / duration_secs).round() as u64)
    }

    /// Why the file cannot be published, as a sentence after its name.
    pub fn problem(&self) -> Option<String> {
        match self {
            Stats::Mpeg(s) => {
                if s.duration_secs().is_none() {
                    return Some(
                        "has no complete MPEG audio frame; export the episode again as MP3".into(),
                    );
                }
                s.truncated().map(|(found, claimed)| format!(
                    "holds {found} audio frames but its Xing/VBRI header claims {claimed}: it looks cut short (an interrupted copy or upload); copy or export it again"
                ))
            }
            Stats::Mp4(w) => w.problem.clone(),
            Stats::Ogg(s) => s.problem(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_types_and_candidates() {
        assert_eq!(Format::M4a.mime_type("a.m4a"), "audio/x-m4a");
        assert_eq!(Format::Video.mime_type("s/a.M4V"), "video/x-m4v");
        assert_eq!(Format::Video.mime_type("a.mp4"), "video/mp4");
        assert_eq!(Format::Opus.mime_type("a.opus"), "audio/ogg");
        assert!(candidate("x/A.M4A") && candidate("b.opus") && !candidate("c.wav"));
        assert_eq!(sniff(b"\0\0\0\x20ftypM4A "), Format::M4a);
        assert_eq!(sniff(b"OggS\0\x02"), Format::Opus);
        assert_eq!(sniff(b"ID3\x03"), Format::Mp3);
    }

    #[test]
    fn other_media_get_a_conversion_hint() {
        let wav = unpublished_hint("s1/take.WAV").expect("wav");
        assert!(
            wav.contains("s1/take.WAV") && wav.contains("'s1/take.m4a'"),
            "{wav}"
        );
        let mkv = unpublished_hint("v.mkv").expect("mkv");
        assert!(mkv.contains("libx264"), "{mkv}");
        assert!(unpublished_hint("notes.md").is_none());
        assert!(unpublished_hint("cover.jpg").is_none());
    }
}
