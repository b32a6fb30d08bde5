//! Pure MPEG audio (MP1/MP2/MP3) parsing used to find the duration and bitrate of podcast
//! episodes: frame headers, Xing/Info/VBRI headers, ID3v2 tag sizes and a streaming frame
//! walker fed with the bytes the hashing loop already reads. No I/O happens here: callers
//! read the file and pass bytes in. It does not decode audio, check CRCs, apply LAME
//! gapless (encoder delay/padding) trimming or read tag contents.

use std::borrow::Cow;

/// Give up looking for a (first or resynced) frame after this many bytes without one.
const SEARCH_LIMIT: u64 = 1 << 20;

/// Longest possible frame (MPEG-2.5 layer II, 160 kbps, 8000 Hz, padded).
pub const MAX_FRAME_LEN: u32 = 2881;

/// Bytes of lookahead the walker may need at a frame boundary (an ID3v2 header).
const BOUNDARY_LOOKAHEAD: usize = 10;

/// MPEG audio version of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MpegVersion {
    /// MPEG-1 (ISO/IEC 11172-3): 32, 44.1 and 48 kHz.
    V1,
    /// MPEG-2 LSF (ISO/IEC 13818-3): 16, 22.05 and 24 kHz.
    V2,
    /// MPEG-2.5, the unofficial extension: 8, 11.025 and 12 kHz.
    V25,
}

/// A decoded 4-byte MPEG audio frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// MPEG version.
    pub version: MpegVersion,
    /// Layer: 1, 2 or 3.
    pub layer: u8,
    /// Bitrate in kbit/s; never 0 because free-format frames are rejected.
    pub bitrate_kbps: u32,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Whether the frame carries one padding slot.
    pub padding: bool,
    /// 1 for mono (single channel), 2 otherwise.
    pub channels: u8,
    /// PCM samples per channel in the frame (384, 1152 or 576).
    pub samples_per_frame: u32,
    /// Frame length in bytes, including the 4-byte header.
    pub frame_len: u32,
}

impl FrameHeader {
    /// True when `other` can belong to the same stream (same version, layer and sample rate).
    pub fn same_stream(&self, other: &FrameHeader) -> bool {
        self.version == other.version
            && self.layer == other.layer
            && self.sample_rate == other.sample_rate
    }
}

// Bitrates in kbit/s by index; 0 marks "free" (index 0) and "bad" (index 15).
const BR_V1_L1: [u16; 16] = [
    0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448, 0,
];
const BR_V1_L2: [u16; 16] = [
    0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 0,
];
const BR_V1_L3: [u16; 16] = [
    0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0,
];
const BR_V2_L1: [u16; 16] = [
    0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256, 0,
];
const BR_V2_L23: [u16; 16] = [
    0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0,
];

/// Parses a 4-byte frame header; None when it is not a valid MPEG audio header
/// (bad sync, reserved version/layer, bad/free bitrate index, reserved sample rate, emphasis 2).
pub fn parse_frame_header(b: [u8; 4]) -> Option<FrameHeader> {
    // 11 sync bits; MPEG-2.5 uses the 12th bit as part of the version field.
    if b[0] != 0xFF || b[1] & 0xE0 != 0xE0 {
        return None;
    }
    let version = match (b[1] >> 3) & 3 {
        0 => MpegVersion::V25,
        2 => MpegVersion::V2,
        3 => MpegVersion::V1,
        _ => return None,
    };
    let layer = match (b[1] >> 1) & 3 {
        1 => 3u8,
        2 => 2,
        3 => 1,
        _ => return None,
    };
    if b[3] & 3 == 2 {
        return None; // reserved emphasis
    }
    let table = match (version, layer) {
        (MpegVersion::V1, 1) => &BR_V1_L1,
        (MpegVersion::V1, 2) => &BR_V1_L2,
        (MpegVersion::V1, _) => &BR_V1_L3,
        (_, 1) => &BR_V2_L1,
        _ => &BR_V2_L23,
    };
    let bitrate_kbps = u32::from(table[usize::from(b[2] >> 4)]);
    if bitrate_kbps == 0 {
        return None;
    }
    let base_rate = match (b[2] >> 2) & 3 {
        0 => 44_100,
        1 => 48_000,
        2 => 32_000,
        _ => return None,
    };
    let sample_rate = match version {
        MpegVersion::V1 => base_rate,
        MpegVersion::V2 => base_rate / 2,
        MpegVersion::V25 => base_rate / 4,
    };
    let padding = b[2] & 2 != 0;
    let pad = u32::from(padding);
    let channels = if b[3] >> 6 == 3 { 1 } else { 2 };
    let lsf = version != MpegVersion::V1;
    let samples_per_frame = match layer {
        1 => 384,
        3 if lsf => 576,
        _ => 1152,
    };
    let bps = bitrate_kbps * 1000;
    let frame_len = match layer {
        // Layer I counts in 4-byte slots.
        1 => (12 * bps / sample_rate + pad) * 4,
        3 if lsf => 72 * bps / sample_rate + pad,
        _ => 144 * bps / sample_rate + pad,
    };
    Some(FrameHeader {
        version,
        layer,
        bitrate_kbps,
        sample_rate,
        padding,
        channels,
        samples_per_frame,
        frame_len,
    })
}

/// Which kind of VBR information header the first frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VbrKind {
    /// Xing header (VBR, written by LAME and others).
    Xing,
    /// LAME's "Info" header: same layout as Xing, written for CBR files.
    Info,
    /// Fraunhofer VBRI header.
    Vbri,
}

/// Stream totals from a Xing/Info/VBRI header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VbrHeader {
    /// Which header was found.
    pub kind: VbrKind,
    /// Number of audio frames, when recorded.
    pub frames: Option<u32>,
    /// Number of stream bytes, when recorded.
    pub bytes: Option<u32>,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(s.try_into().ok()?))
}

/// Looks for a Xing/Info (at the side-info offset that depends on version and channels) or VBRI
/// (at offset 36 from frame start) header inside the first frame; `frame` is the whole first frame
/// (starting with its 4-byte header).
pub fn parse_vbr_header(header: &FrameHeader, frame: &[u8]) -> Option<VbrHeader> {
    // Layer III side-info sizes: the Xing tag takes the place of the main data.
    let side_info = match (header.version, header.channels) {
        (MpegVersion::V1, 1) => 17,
        (MpegVersion::V1, _) => 32,
        (_, 1) => 9,
        _ => 17,
    };
    let xing_at = 4 + side_info;
    // Encoders write the tag right after the side info; with a CRC some place it 2 bytes later.
    let crc = frame.get(1).is_some_and(|b| b & 1 == 0);
    let candidates: &[usize] = if crc {
        &[xing_at, xing_at + 2]
    } else {
        &[xing_at]
    };
    for &at in candidates {
        let kind = match frame.get(at..at + 4) {
            Some(b"Xing") => VbrKind::Xing,
            Some(b"Info") => VbrKind::Info,
            _ => continue,
        };
        let flags = be32(frame, at + 4)?;
        let mut p = at + 8;
        let frames = if flags & 1 != 0 {
            let v = be32(frame, p)?;
            p += 4;
            Some(v)
        } else {
            None
        };
        let bytes = if flags & 2 != 0 {
            Some(be32(frame, p)?)
        } else {
            None
        };
        return Some(VbrHeader {
            kind,
            frames,
            bytes,
        });
    }
    if frame.get(36..40) == Some(b"VBRI") {
        // After "VBRI": version u16, delay u16, quality u16, bytes u32, frames u32.
        return Some(VbrHeader {
            kind: VbrKind::Vbri,
            frames: Some(be32(frame, 50)?),
            bytes: Some(be32(frame, 46)?),
        });
    }
    None
}

/// Size in bytes of an ID3v2 tag at the start of `head` (10-byte header + syncsafe size + 10 if the
/// footer flag is set), or None if `head` does not start with a well-formed 10-byte ID3v2 header.
pub fn id3v2_len(head: &[u8]) -> Option<u64> {
    let h = head.get(..10)?;
    if &h[..3] != b"ID3" || h[3] == 0xFF || h[4] == 0xFF {
        return None;
    }
    // Syncsafe: 4 x 7 bits, the top bit of every byte must be clear.
    let mut size = 0u64;
    for &b in &h[6..10] {
        if b & 0x80 != 0 {
            return None;
        }
        size = (size << 7) | u64::from(b);
    }
    let footer = if h[5] & 0x10 != 0 { 10 } else { 0 };
    Some(10 + size + footer)
}

/// Totals gathered by a [`FrameScanner`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FrameStats {
    /// Audio frames counted (not counting the Xing/Info/VBRI frame).
    pub frames: u64,
    /// Sum of `samples_per_frame` of the counted frames.
    pub samples: u64,
    /// Sum of `frame_len` of the counted frames.
    pub audio_bytes: u64,
    /// Header of the first frame found (the Xing/Info/VBRI frame if there is one).
    pub first: Option<FrameHeader>,
    /// VBR header parsed from the first frame, if present.
    pub vbr: Option<VbrHeader>,
    /// File offset of the first frame.
    pub first_frame_offset: Option<u64>,
}

impl FrameStats {
    /// Duration in seconds: from the Xing/Info/VBRI frame count when present and > 0
    /// (frames * samples_per_frame / sample_rate), else samples / sample_rate; None if no frames.
    pub fn duration_secs(&self) -> Option<f64> {
        let first = self.first?;
        let rate = f64::from(first.sample_rate);
        if let Some(n) = self.vbr.and_then(|v| v.frames).filter(|&n| n > 0) {
            return Some(f64::from(n) * f64::from(first.samples_per_frame) / rate);
        }
        if self.samples == 0 {
            return None;
        }
        Some(self.samples as f64 / rate)
    }

    /// When a Xing/Info/VBRI header claims clearly more frames than the file holds (a copy
    /// cut short keeps the header of the whole): (frames found, frames claimed). Encoders
    /// count a frame or two differently, so up to 1 % (at least 3 frames) is tolerated.
    pub fn truncated(&self) -> Option<(u64, u64)> {
        let claimed = u64::from(self.vbr.and_then(|v| v.frames).filter(|&n| n > 0)?);
        let slack = (claimed / 100).max(3);
        (self.frames + slack < claimed).then_some((self.frames, claimed))
    }

    /// Average bitrate in bits per second (audio bytes * 8 / duration; use the VBR header's byte count when present), None if unknown.
    pub fn bitrate_bps(&self) -> Option<u64> {
        let secs = self.duration_secs().filter(|&d| d > 0.0)?;
        let bytes = self
            .vbr
            .and_then(|v| v.bytes)
            .filter(|&b| b > 0)
            .map_or(self.audio_bytes, u64::from);
        if bytes == 0 {
            return None;
        }
        Some((bytes as f64 * 8.0 / secs).round() as u64)
    }
}

/// The bytes visible to one scanning step: the carried tail of earlier chunks, then the new chunk.
struct Window<'a> {
    carry: &'a [u8],
    chunk: &'a [u8],
    /// File offset of `carry[0]` (or of `chunk[0]` when `carry` is empty).
    start: u64,
}

impl Window<'_> {
    fn chunk_start(&self) -> u64 {
        self.start + self.carry.len() as u64
    }

    fn end(&self) -> u64 {
        self.chunk_start() + self.chunk.len() as u64
    }

    /// `n` bytes at file offset `p`, borrowed when contiguous; None unless all are present.
    fn bytes(&self, p: u64, n: usize) -> Option<Cow<'_, [u8]>> {
        if p < self.start || p.checked_add(n as u64)? > self.end() {
            return None;
        }
        let cs = self.chunk_start();
        if p >= cs {
            let i = (p - cs) as usize;
            return self.chunk.get(i..i + n).map(Cow::Borrowed);
        }
        let i = (p - self.start) as usize;
        if let Some(s) = self.carry.get(i..i + n) {
            return Some(Cow::Borrowed(s));
        }
        // Straddles the carry/chunk boundary: rare, and at most one frame long.
        let head = self.carry.get(i..)?;
        let mut v = Vec::with_capacity(n);
        v.extend_from_slice(head);
        v.extend_from_slice(self.chunk.get(..n - head.len())?);
        Some(Cow::Owned(v))
    }

    fn array<const N: usize>(&self, p: u64) -> Option<[u8; N]> {
        let cs = self.chunk_start();
        if p >= cs {
            // Fast path for the walker: the header lies inside the new chunk.
            let i = usize::try_from(p - cs).ok()?;
            return self.chunk.get(i..i.checked_add(N)?)?.try_into().ok();
        }
        self.bytes(p, N)?.as_ref().try_into().ok()
    }

    /// First offset in `[from, to)` whose byte may start a frame (0xFF) or an ID3v2 tag ('I').
    fn find_candidate(&self, from: u64, to: u64) -> Option<u64> {
        let is_cand = |b: &u8| *b == 0xFF || *b == b'I';
        let cs = self.chunk_start();
        let mut from = from.max(self.start);
        if from < cs.min(to) {
            let i = (from - self.start) as usize;
            let j = (cs.min(to) - self.start) as usize;
            if let Some(k) = self.carry.get(i..j)?.iter().position(is_cand) {
                return Some(from + k as u64);
            }
            from = cs;
        }
        if from < to {
            let i = (from - cs) as usize;
            let j = (to.min(self.end()) - cs) as usize;
            if let Some(k) = self.chunk.get(i..j)?.iter().position(is_cand) {
                return Some(from + k as u64);
            }
        }
        None
    }
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Looking for a frame confirmed by the one that follows it (first frame, or a resync).
    Search {
        /// Next offset to try.
        at: u64,
        /// Where the byte budget of this search started.
        origin: u64,
    },
    /// Walking frame to frame; `pending` is the frame ending at `next`, counted once its
    /// last byte has been seen so that a frame truncated by EOF is not counted.
    Walk {
        next: u64,
        pending: Option<FrameHeader>,
    },
    Done,
}

/// Whether a scanning step made progress or needs more bytes.
enum Step {
    Again,
    Wait,
}

/// Streaming frame walker: fed the whole file in consecutive chunks of any size (1 byte to many MB),
/// it walks MPEG audio frames from `audio_start` (end of the ID3v2 tag(s)) and counts them.
#[derive(Debug, Clone)]
pub struct FrameScanner {
    state: State,
    stats: FrameStats,
    /// Total bytes fed so far (file offset of the next chunk).
    pos: u64,
    /// Tail of earlier chunks still needed: at most one frame plus a header.
    carry: Vec<u8>,
}

impl FrameScanner {
    /// Creates a scanner that starts looking for frames at file offset `audio_start`.
    pub fn new(audio_start: u64) -> Self {
        Self {
            state: State::Search {
                at: audio_start,
                origin: audio_start,
            },
            stats: FrameStats::default(),
            pos: 0,
            carry: Vec::new(),
        }
    }

    /// Feeds the next chunk of the file (chunks arrive in file order starting at offset 0).
    pub fn feed(&mut self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        let start = self.pos - self.carry.len() as u64;
        let w = Window {
            carry: &self.carry,
            chunk,
            start,
        };
        run(&mut self.state, &mut self.stats, &w, false);
        let end = w.end();
        self.pos = end;
        let keep = match self.state {
            State::Search { at, .. } => at,
            State::Walk { next, .. } => next,
            State::Done => end,
        }
        .clamp(start, end);
        let cs = end - chunk.len() as u64;
        if keep >= cs {
            self.carry.clear();
            self.carry
                .extend_from_slice(chunk.get((keep - cs) as usize..).unwrap_or_default());
        } else {
            self.carry.drain(..(keep - start) as usize);
            self.carry.extend_from_slice(chunk);
        }
    }

    /// Ends the stream (the last fed byte is EOF) and returns the totals.
    pub fn finish(mut self) -> FrameStats {
        let w = Window {
            carry: &self.carry,
            chunk: &[],
            start: self.pos - self.carry.len() as u64,
        };
        run(&mut self.state, &mut self.stats, &w, true);
        self.stats
    }
}

fn count(stats: &mut FrameStats, h: &FrameHeader) {
    stats.frames += 1;
    stats.samples += u64::from(h.samples_per_frame);
    stats.audio_bytes += u64::from(h.frame_len);
}

/// Advances the state machine over `w` until it needs bytes past its end (or, at EOF, stops).
fn run(state: &mut State, stats: &mut FrameStats, w: &Window<'_>, eof: bool) {
    loop {
        let step = match *state {
            State::Search { at, origin } => search_step(state, stats, w, eof, at, origin),
            State::Walk { next, pending } => walk_step(state, stats, w, eof, next, pending),
            State::Done => return,
        };
        if let Step::Wait = step {
            if eof {
                // Nothing more will come: whatever was waiting cannot complete.
                *state = State::Done;
            }
            return;
        }
    }
}

fn search_step(
    state: &mut State,
    stats: &mut FrameStats,
    w: &Window<'_>,
    eof: bool,
    at: u64,
    origin: u64,
) -> Step {
    let limit = origin.saturating_add(SEARCH_LIMIT);
    let scan_end = w.end().min(limit);
    let Some(at) = w.find_candidate(at, scan_end) else {
        if scan_end >= limit {
            *state = State::Done;
            return Step::Again;
        }
        *state = State::Search {
            at: at.max(scan_end),
            origin,
        };
        return Step::Wait;
    };
    let reject = State::Search { at: at + 1, origin };
    let wait = State::Search { at, origin };
    let Some(b) = w.array::<4>(at) else {
        *state = wait;
        return Step::Wait;
    };
    if &b[..3] == b"ID3" {
        // Extra ID3v2 tags (or a caller that did not skip the first one): jump over them
        // without spending the search budget, so large embedded artwork cannot exhaust it.
        let Some(tag) = w.array::<10>(at) else {
            *state = if eof { reject } else { wait };
            return if eof { Step::Again } else { Step::Wait };
        };
        *state = match id3v2_len(&tag) {
            Some(n) => State::Search {
                at: at + n,
                origin: at + n,
            },
            None => reject,
        };
        return Step::Again;
    }
    let Some(h) = parse_frame_header(b).filter(|h| stats.first.is_none_or(|f| f.same_stream(h)))
    else {
        *state = reject;
        return Step::Again;
    };
    let next = at + u64::from(h.frame_len);
    let confirmed = match w.array::<4>(next) {
        Some(nb) => parse_frame_header(nb).is_some_and(|n| h.same_stream(&n)),
        None if eof => next == w.end(),
        None => {
            *state = wait;
            return Step::Wait;
        }
    };
    if !confirmed {
        *state = reject;
        return Step::Again;
    }
    if stats.first.is_none() {
        stats.first = Some(h);
        stats.first_frame_offset = Some(at);
        // The whole frame is present: confirmation looked at (or reached) its end.
        let vbr = w
            .bytes(at, h.frame_len as usize)
            .and_then(|f| parse_vbr_header(&h, &f));
        stats.vbr = vbr;
        if vbr.is_none() {
            count(stats, &h);
        }
    } else {
        count(stats, &h);
    }
    *state = State::Walk {
        next,
        pending: None,
    };
    Step::Again
}

fn walk_step(
    state: &mut State,
    stats: &mut FrameStats,
    w: &Window<'_>,
    eof: bool,
    next: u64,
    pending: Option<FrameHeader>,
) -> Step {
    let Some(first) = stats.first else {
        *state = State::Done; // unreachable: walking starts at the first frame
        return Step::Again;
    };
    let (mut next, mut pending) = (next, pending);
    // Hot loop over frames: most consecutive headers repeat, so reuse the last decode.
    let mut last: Option<([u8; 4], FrameHeader)> = None;
    let b = loop {
        if let Some(h) = pending {
            if next > w.end() {
                *state = State::Walk { next, pending };
                return Step::Wait;
            }
            count(stats, &h);
            pending = None;
        }
        let Some(b) = w.array::<4>(next) else {
            *state = State::Walk { next, pending };
            return Step::Wait;
        };
        let h = match last {
            Some((raw, h)) if raw == b => Some(h),
            _ => parse_frame_header(b).filter(|h| first.same_stream(h)),
        };
        match h {
            Some(h) => {
                last = Some((b, h));
                pending = Some(h);
                next += u64::from(h.frame_len);
            }
            None => break b,
        }
    };
    *state = State::Walk { next, pending };
    // Not a frame: a trailer ends the audio, an ID3v2 tag is skipped, anything else is junk.
    let magic: Option<(&[u8], usize)> = match b[0] {
        b'T' => Some((b"TAG", 3)),
        b'A' => Some((b"APETAGEX", 8)),
        b'L' => Some((b"LYRICS", 6)),
        b'I' => Some((b"ID3", BOUNDARY_LOOKAHEAD)),
        _ => None,
    };
    if let Some((tag, need)) = magic {
        match w.bytes(next, need) {
            None if !eof => return Step::Wait,
            None => {}
            Some(s) if s.starts_with(tag) => {
                if tag != b"ID3" {
                    *state = State::Done;
                    return Step::Again;
                }
                if let Some(n) = id3v2_len(&s) {
                    *state = State::Walk {
                        next: next + n,
                        pending: None,
                    };
                    return Step::Again;
                }
            }
            Some(_) => {}
        }
    }
    *state = State::Search {
        at: next,
        origin: next,
    };
    Step::Again
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_claiming_more_frames_than_found_means_truncated() {
        let stats = |found: u64, claimed: Option<u32>| FrameStats {
            frames: found,
            vbr: Some(VbrHeader {
                kind: VbrKind::Xing,
                frames: claimed,
                bytes: None,
            }),
            ..FrameStats::default()
        };
        assert_eq!(stats(300, Some(1000)).truncated(), Some((300, 1000)));
        // Encoders count a frame or two differently.
        assert_eq!(stats(998, Some(1000)).truncated(), None);
        assert_eq!(stats(1000, Some(1000)).truncated(), None);
        assert_eq!(stats(300, None).truncated(), None);
        assert_eq!(FrameStats::default().truncated(), None);
    }
    use proptest::prelude::*;

    /// Builds a header: version bits (3 = V1, 2 = V2, 0 = V2.5), layer (1..=3), bitrate index,
    /// sample-rate index, padding, mono.
    fn hdr(ver: u8, layer: u8, br: u8, sr: u8, pad: bool, mono: bool) -> [u8; 4] {
        let layer_bits = 4 - layer;
        [
            0xFF,
            0xE0 | (ver << 3) | (layer_bits << 1) | 1,
            (br << 4) | (sr << 2) | (u8::from(pad) << 1),
            if mono { 0xC0 } else { 0x40 },
        ]
    }

    /// A frame with a zeroed payload.
    fn frame(h: [u8; 4]) -> Vec<u8> {
        let p = parse_frame_header(h).expect("test header is valid");
        let mut v = h.to_vec();
        v.resize(p.frame_len as usize, 0);
        v
    }

    fn scan(data: &[u8], audio_start: u64, chunk: usize) -> FrameStats {
        let mut s = FrameScanner::new(audio_start);
        for c in data.chunks(chunk) {
            s.feed(c);
            assert!(s.carry.len() <= MAX_FRAME_LEN as usize + 4, "carry bounded");
        }
        s.finish()
    }

    /// Scans with several chunk sizes and checks they all agree.
    fn scan_all(data: &[u8], audio_start: u64) -> FrameStats {
        let whole = scan(data, audio_start, data.len().max(1));
        for size in [1, 3, 4, 7, 417, 4096] {
            assert_eq!(scan(data, audio_start, size), whole, "chunk size {size}");
        }
        whole
    }

    fn id3_tag(body: usize, footer: bool) -> Vec<u8> {
        let mut v = b"ID3\x04\x00".to_vec();
        v.push(if footer { 0x10 } else { 0 });
        let n = body as u32;
        v.extend([
            (n >> 21) as u8 & 0x7F,
            (n >> 14) as u8 & 0x7F,
            (n >> 7) as u8 & 0x7F,
            n as u8 & 0x7F,
        ]);
        v.resize(10 + body, 0);
        if footer {
            v.extend_from_slice(b"3DI\x04\x00\x10");
            v.extend_from_slice(&[0; 4]);
        }
        v
    }

    fn xing_frame(h: [u8; 4], frames: u32, bytes: u32) -> Vec<u8> {
        let p = parse_frame_header(h).expect("valid");
        let mut v = frame(h);
        let side = match (p.version, p.channels) {
            (MpegVersion::V1, 1) => 17,
            (MpegVersion::V1, _) => 32,
            (_, 1) => 9,
            _ => 17,
        };
        let at = 4 + side;
        v[at..at + 4].copy_from_slice(b"Xing");
        v[at + 4..at + 8].copy_from_slice(&3u32.to_be_bytes());
        v[at + 8..at + 12].copy_from_slice(&frames.to_be_bytes());
        v[at + 12..at + 16].copy_from_slice(&bytes.to_be_bytes());
        v
    }

    #[test]
    fn parses_known_header() {
        let h = parse_frame_header([0xFF, 0xFB, 0x90, 0x64]).expect("valid");
        assert_eq!(
            h,
            FrameHeader {
                version: MpegVersion::V1,
                layer: 3,
                bitrate_kbps: 128,
                sample_rate: 44_100,
                padding: false,
                channels: 2,
                samples_per_frame: 1152,
                frame_len: 417,
            }
        );
        let p = parse_frame_header([0xFF, 0xFB, 0x92, 0x64]).expect("valid");
        assert!(p.padding);
        assert_eq!(p.frame_len, 418);
        let mono = parse_frame_header([0xFF, 0xFB, 0x90, 0xC4]).expect("valid");
        assert_eq!(mono.channels, 1);
    }

    #[test]
    fn rejects_reserved_values() {
        let ok = [0xFF, 0xFB, 0x90, 0x64];
        assert!(parse_frame_header(ok).is_some());
        assert!(
            parse_frame_header([0xFE, 0xFB, 0x90, 0x64]).is_none(),
            "sync"
        );
        assert!(
            parse_frame_header([0xFF, 0xDB, 0x90, 0x64]).is_none(),
            "sync"
        );
        assert!(
            parse_frame_header([0xFF, 0xEB, 0x90, 0x64]).is_none(),
            "version 01"
        );
        assert!(
            parse_frame_header([0xFF, 0xF9, 0x90, 0x64]).is_none(),
            "layer 00"
        );
        assert!(
            parse_frame_header([0xFF, 0xFB, 0x00, 0x64]).is_none(),
            "free"
        );
        assert!(
            parse_frame_header([0xFF, 0xFB, 0xF0, 0x64]).is_none(),
            "bad bitrate"
        );
        assert!(
            parse_frame_header([0xFF, 0xFB, 0x9C, 0x64]).is_none(),
            "sample rate 11"
        );
        assert!(
            parse_frame_header([0xFF, 0xFB, 0x90, 0x66]).is_none(),
            "emphasis 10"
        );
        assert!(
            parse_frame_header([0xFF, 0xFB, 0x90, 0x67]).is_some(),
            "emphasis 11"
        );
    }

    #[test]
    fn frame_lengths_per_version_and_layer() {
        let p = |h: [u8; 4]| parse_frame_header(h).expect("valid");
        // (version bits, layer, bitrate idx, sr idx, pad) -> (kbps, Hz, samples, len)
        let cases = [
            ((3, 1, 12, 0, false), (384, 44_100, 384, 416)), // (12*384000/44100)*4
            ((3, 1, 12, 0, true), (384, 44_100, 384, 420)),
            ((3, 2, 10, 1, false), (192, 48_000, 1152, 576)),
            ((3, 2, 14, 2, true), (384, 32_000, 1152, 1729)),
            ((3, 3, 9, 1, false), (128, 48_000, 1152, 384)),
            ((3, 3, 14, 2, true), (320, 32_000, 1152, 1441)),
            ((2, 1, 9, 0, false), (144, 22_050, 384, 312)), // (12*144000/22050)*4 = 78*4
            ((2, 2, 14, 2, false), (160, 16_000, 1152, 1440)),
            ((2, 3, 8, 0, false), (64, 22_050, 576, 208)), // 72*64000/22050
            ((2, 3, 8, 0, true), (64, 22_050, 576, 209)),
            ((0, 1, 14, 2, true), (256, 8_000, 384, 1540)),
            ((0, 2, 14, 2, true), (160, 8_000, 1152, MAX_FRAME_LEN)),
            ((0, 3, 8, 2, false), (64, 8_000, 576, 576)),
            ((0, 3, 1, 1, false), (8, 12_000, 576, 48)),
            ((0, 3, 5, 0, false), (40, 11_025, 576, 261)), // 72*40000/11025
        ];
        for ((v, l, br, sr, pad), (kbps, hz, spf, len)) in cases {
            let h = p(hdr(v, l, br, sr, pad, false));
            assert_eq!(
                (
                    h.bitrate_kbps,
                    h.sample_rate,
                    h.samples_per_frame,
                    h.frame_len
                ),
                (kbps, hz, spf, len),
                "{h:?}"
            );
        }
        assert_eq!(p(hdr(0, 3, 8, 2, false, false)).version, MpegVersion::V25);
        assert_eq!(p(hdr(2, 3, 8, 2, false, false)).version, MpegVersion::V2);
    }

    #[test]
    fn id3v2_sizes() {
        assert_eq!(id3v2_len(&id3_tag(1000, false)), Some(1010));
        assert_eq!(id3v2_len(&id3_tag(1000, true)), Some(1020));
        // 0x7F7F7F7F syncsafe = 2^28 - 1.
        let max = *b"ID3\x03\x00\x00\x7F\x7F\x7F\x7F";
        assert_eq!(id3v2_len(&max), Some(10 + (1 << 28) - 1));
        assert_eq!(id3v2_len(b"ID3\x03\x00\x00\x00\x00\x80\x00"), None);
        assert_eq!(id3v2_len(b"TAG\x03\x00\x00\x00\x00\x00\x00"), None);
        assert_eq!(id3v2_len(b"ID3\x03"), None);
    }

    #[test]
    fn stream_in_any_chunk_size() {
        let tag = id3_tag(300, false);
        let mut data = tag.clone();
        let hs = [
            hdr(3, 3, 9, 0, false, false),
            hdr(3, 3, 9, 0, true, false),
            hdr(3, 3, 14, 0, false, false),
            hdr(3, 3, 1, 0, true, false),
        ];
        let mut bytes = 0;
        for i in 0..40 {
            let f = frame(hs[i % hs.len()]);
            bytes += f.len() as u64;
            data.extend(f);
        }
        let st = scan_all(&data, tag.len() as u64);
        assert_eq!(st.frames, 40);
        assert_eq!(st.samples, 40 * 1152);
        assert_eq!(st.audio_bytes, bytes);
        assert_eq!(st.first_frame_offset, Some(310));
        assert_eq!(st.first, parse_frame_header(hs[0]));
        assert_eq!(st.vbr, None);
        // A scanner told nothing about the tag skips it by itself.
        assert_eq!(scan_all(&data, 0), st);
    }

    #[test]
    fn xing_frame_is_parsed_not_counted() {
        let h = hdr(3, 3, 9, 0, false, false);
        let mut data = xing_frame(h, 10, 4170);
        for _ in 0..10 {
            data.extend(frame(h));
        }
        let st = scan_all(&data, 0);
        assert_eq!(
            st.vbr,
            Some(VbrHeader {
                kind: VbrKind::Xing,
                frames: Some(10),
                bytes: Some(4170)
            })
        );
        assert_eq!((st.frames, st.audio_bytes), (10, 4170));
        assert_eq!(st.first_frame_offset, Some(0));
        // Mono MPEG-2: the tag sits after 9 bytes of side info.
        let m = hdr(2, 3, 8, 0, false, true);
        let mut data = xing_frame(m, 1000, 0);
        data.extend(frame(m));
        let st = scan_all(&data, 0);
        assert_eq!(st.vbr.map(|v| v.frames), Some(Some(1000)));
        assert_eq!(st.frames, 1);
        let secs = st.duration_secs().expect("duration");
        assert!((secs - 1000.0 * 576.0 / 22_050.0).abs() < 1e-9);
    }

    #[test]
    fn info_and_vbri_headers() {
        let h = hdr(3, 3, 9, 1, false, true);
        let p = parse_frame_header(h).expect("valid");
        let mut f = frame(h);
        f[21..25].copy_from_slice(b"Info");
        f[25..29].copy_from_slice(&1u32.to_be_bytes());
        f[29..33].copy_from_slice(&77u32.to_be_bytes());
        let v = parse_vbr_header(&p, &f).expect("info");
        assert_eq!((v.kind, v.frames, v.bytes), (VbrKind::Info, Some(77), None));

        let mut f = frame(h);
        f[36..40].copy_from_slice(b"VBRI");
        f[46..50].copy_from_slice(&123_456u32.to_be_bytes());
        f[50..54].copy_from_slice(&789u32.to_be_bytes());
        let v = parse_vbr_header(&p, &f).expect("vbri");
        assert_eq!(
            (v.kind, v.frames, v.bytes),
            (VbrKind::Vbri, Some(789), Some(123_456))
        );
        assert_eq!(parse_vbr_header(&p, &frame(h)), None);
        // A truncated tag is not trusted.
        assert_eq!(parse_vbr_header(&p, &f[..48]), None);
    }

    #[test]
    fn junk_before_and_tag_after() {
        let h = hdr(3, 3, 9, 0, false, false);
        let mut data = vec![0u8; 100];
        // A false sync: valid header whose "next frame" is zeros.
        data.extend(hdr(3, 3, 5, 0, false, false));
        data.extend([0x55; 200]);
        // A second tag before the audio, holding what looks like two frames.
        let mut tag = id3_tag(500, true);
        let fake: Vec<u8> = (0..2)
            .flat_map(|_| frame(hdr(3, 3, 5, 0, false, false)))
            .collect();
        tag[20..20 + fake.len()].copy_from_slice(&fake);
        data.extend(tag);
        let first = data.len() as u64;
        for _ in 0..5 {
            data.extend(frame(h));
        }
        let mut v1 = b"TAG".to_vec();
        v1.resize(128, 0xFF);
        v1[50..54].copy_from_slice(&h); // a header-looking pattern inside the tag
        data.extend(v1);
        let st = scan_all(&data, 0);
        assert_eq!(st.first_frame_offset, Some(first));
        assert_eq!((st.frames, st.audio_bytes), (5, 5 * 417));
    }

    #[test]
    fn ape_and_lyrics_trailers_end_audio() {
        let h = hdr(3, 3, 9, 0, false, false);
        for trailer in [&b"APETAGEX"[..], b"LYRICSBEGIN"] {
            let mut data = Vec::new();
            for _ in 0..3 {
                data.extend(frame(h));
            }
            data.extend_from_slice(trailer);
            data.extend(frame(h)); // would be counted if the walker went on
            data.extend(frame(h));
            assert_eq!(scan_all(&data, 0).frames, 3);
        }
    }

    #[test]
    fn resyncs_over_junk_mid_stream() {
        let h = hdr(2, 3, 8, 0, false, false);
        let mut data = Vec::new();
        for _ in 0..4 {
            data.extend(frame(h));
        }
        data.extend([0xFF; 37]);
        data.extend(hdr(3, 3, 9, 0, false, false)); // valid but another stream
        data.extend([0u8; 500]);
        for _ in 0..6 {
            data.extend(frame(h));
        }
        let st = scan_all(&data, 0);
        assert_eq!((st.frames, st.audio_bytes), (10, 10 * 208));
    }

    #[test]
    fn truncated_last_frame_not_counted() {
        let h = hdr(3, 3, 9, 0, false, false);
        let mut data = Vec::new();
        for _ in 0..3 {
            data.extend(frame(h));
        }
        let full = data.clone();
        data.extend(&frame(h)[..200]);
        assert_eq!(scan_all(&data, 0).frames, 3);
        // A file that ends exactly at a frame boundary counts every frame.
        assert_eq!(scan_all(&full, 0).frames, 3);
        // A lone frame reaching EOF exactly is accepted; one byte short is not.
        let one = frame(h);
        assert_eq!(scan_all(&one, 0).frames, 1);
        assert_eq!(scan_all(&one[..416], 0).frames, 0);
        // Neither is one followed by a few stray bytes (no room for a confirming header).
        let mut stray = one.clone();
        stray.extend([0, 0]);
        assert_eq!(scan_all(&stray, 0).frames, 0);
        // While walking, a last frame one byte short is dropped.
        let mut short = full.clone();
        short.extend(&one[..416]);
        assert_eq!(scan_all(&short, 0).frames, 3);
    }

    #[test]
    fn gives_up_after_search_limit() {
        let h = hdr(3, 3, 9, 0, false, false);
        let mut data = vec![0u8; SEARCH_LIMIT as usize + 10];
        for _ in 0..3 {
            data.extend(frame(h));
        }
        let st = scan(&data, 0, 65_536);
        assert_eq!(st, FrameStats::default());
        assert_eq!(st.duration_secs(), None);
        assert_eq!(st.bitrate_bps(), None);
        // Empty input.
        assert_eq!(FrameScanner::new(0).finish(), FrameStats::default());
    }

    #[test]
    fn duration_and_bitrate() {
        // 48 kHz, 128 kbps: 384-byte frames of 24 ms.
        let h = hdr(3, 3, 9, 1, false, false);
        let mut data = Vec::new();
        for _ in 0..250 {
            data.extend(frame(h));
        }
        let st = scan_all(&data, 0);
        assert_eq!(st.frames, 250);
        let secs = st.duration_secs().expect("duration");
        assert!((secs - 6.0).abs() < 1e-9, "{secs}");
        assert_eq!(st.bitrate_bps(), Some(128_000));

        // The VBR header's totals win over the counted ones.
        let mut x = xing_frame(h, 500, 500 * 384 / 2);
        x.extend(&data);
        let st = scan_all(&x, 0);
        assert_eq!(st.frames, 250);
        assert!((st.duration_secs().expect("d") - 12.0).abs() < 1e-9);
        assert_eq!(st.bitrate_bps(), Some(64_000));

        // 44.1 kHz: 100 unpadded frames = 115200 samples.
        let h = hdr(3, 3, 9, 0, false, false);
        let data: Vec<u8> = (0..100).flat_map(|_| frame(h)).collect();
        let st = scan_all(&data, 0);
        let secs = st.duration_secs().expect("d");
        assert!((secs - 115_200.0 / 44_100.0).abs() < 1e-9);
        assert_eq!(st.bitrate_bps(), Some(127_706)); // 41700*8/2.6122449 = 127706.1
    }

    #[test]
    fn id3_tag_mid_stream_is_skipped() {
        let h = hdr(3, 3, 9, 0, false, false);
        let mut data: Vec<u8> = (0..3).flat_map(|_| frame(h)).collect();
        let mut tag = id3_tag(600, false);
        for i in 0..100 {
            tag[20 + 4 * i..24 + 4 * i].copy_from_slice(&h); // fake syncs inside the tag
        }
        data.extend(tag);
        data.extend((0..4).flat_map(|_| frame(h)));
        let st = scan_all(&data, 0);
        assert_eq!((st.frames, st.audio_bytes), (7, 7 * 417));
    }

    #[test]
    fn layer1_and_largest_frames() {
        // MPEG-1 layer I and MPEG-2.5 layer II at the maximum frame size (2881 bytes).
        for (h, n, spf) in [
            (hdr(3, 1, 12, 0, true, false), 9, 384),
            (hdr(0, 2, 14, 2, true, true), 5, 1152),
        ] {
            let p = parse_frame_header(h).expect("valid");
            let mut data = vec![0u8; 33];
            data.extend((0..n).flat_map(|_| frame(h)));
            let st = scan_all(&data, 0);
            assert_eq!(st.frames, n);
            assert_eq!(st.samples, n * spf);
            assert_eq!(st.audio_bytes, n * u64::from(p.frame_len));
            assert_eq!(st.first_frame_offset, Some(33));
        }
    }

    #[test]
    fn xing_after_crc() {
        // CRC-protected header (protection bit 0): the tag may follow the 2-byte CRC.
        let mut h = hdr(3, 3, 9, 0, false, false);
        h[1] &= !1;
        let p = parse_frame_header(h).expect("valid");
        let mut f = frame(h);
        f[38..42].copy_from_slice(b"Xing");
        f[42..46].copy_from_slice(&1u32.to_be_bytes());
        f[46..50].copy_from_slice(&42u32.to_be_bytes());
        let v = parse_vbr_header(&p, &f).expect("xing");
        assert_eq!((v.kind, v.frames, v.bytes), (VbrKind::Xing, Some(42), None));
    }

    /// Any valid frame header [`hdr`] can build.
    fn valid_header() -> impl Strategy<Value = [u8; 4]> {
        (
            proptest::sample::select(vec![0u8, 2, 3]),
            1u8..=3,
            1u8..=14,
            0u8..=2,
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(ver, layer, br, sr, pad, mono)| hdr(ver, layer, br, sr, pad, mono))
    }

    /// A valid header then noise, or a few whole frames (some Xing) then noise, with a
    /// few bytes overwritten anywhere.
    fn mpeg_noise() -> impl Strategy<Value = Vec<u8>> {
        let noise = || proptest::collection::vec(any::<u8>(), 0..3000);
        prop_oneof![
            (valid_header(), noise()).prop_map(|(h, tail)| {
                let mut v = h.to_vec();
                v.extend_from_slice(&tail);
                v
            }),
            (
                valid_header(),
                0usize..4,
                any::<bool>(),
                noise(),
                proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
            )
                .prop_map(|(h, frames, xing, tail, edits)| {
                    // `xing_frame` needs room for the side info and the Xing fields.
                    let roomy = parse_frame_header(h).is_some_and(|p| p.frame_len >= 64);
                    let mut v = if xing && roomy {
                        xing_frame(h, 1000, 400_000)
                    } else {
                        frame(h)
                    };
                    for _ in 0..frames {
                        v.extend_from_slice(&frame(h));
                    }
                    v.extend_from_slice(&tail);
                    for (at, b) in edits {
                        let i = at % v.len();
                        v[i] = b;
                    }
                    v
                }),
        ]
    }

    fn any_input() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..3000),
            mpeg_noise()
        ]
    }

    proptest! {
        #[test]
        fn scanner_never_panics(
            data in any_input(),
            audio_start in 0u64..64,
            chunk in 1usize..700,
        ) {
            let _ = scan(&data, audio_start, chunk).duration_secs();
        }

        #[test]
        fn scanner_never_reports_more_bytes_than_it_was_fed(
            data in any_input(),
            audio_start in 0u64..64,
            chunk in 1usize..700,
        ) {
            let stats = scan(&data, audio_start, chunk);
            let fed = data.len() as u64;
            let offset = stats.first_frame_offset.unwrap_or(0);
            prop_assert!(offset <= fed, "{stats:?} from {fed} bytes");
            prop_assert!(offset + stats.audio_bytes <= fed, "{stats:?} from {fed} bytes");
        }

        #[test]
        fn chunk_sizes_do_not_change_what_the_scanner_finds(
            data in mpeg_noise(),
            audio_start in 0u64..64,
        ) {
            let _ = scan_all(&data, audio_start);
        }
    }
}
