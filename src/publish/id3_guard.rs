//! A walk over an ID3v2 tag's frame headers before the id3 library reads the tag.
//!
//! The library allocates each frame's declared size before it reads the frame, so a file of
//! a few bytes that declares a 2.8 GB frame costs 2.8 GB of memory, and aborts `publish`
//! where the machine cannot give it (a small server, a CI runner with a memory limit). A
//! frame can never be larger than what is left of its tag (unsynchronisation only shrinks
//! the data), so a frame that claims more marks the tag as damaged from there on: the frames
//! before it are read, the rest is not.

use super::media::read_up_to;
use std::io::{self, Read, Seek, SeekFrom};

/// What the walk found in the tag at the start of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagShape {
    /// No ID3v2 tag, or one whose every frame fits in it.
    Sound,
    /// The frame that starts `at` bytes into the stream claims more than the tag holds; the
    /// tag's frames before it are intact.
    DamagedAt {
        /// Offset of the offending frame's header.
        at: u64,
    },
}

/// Reads a frame's declared body size from its header.
type FrameSize = fn(&[u8]) -> Option<u64>;

/// Walks the frame headers of the ID3v2 tag at the start of `stream` (reading 10 bytes per
/// frame, never a frame's body).
pub fn check(stream: &mut (impl Read + Seek)) -> io::Result<TagShape> {
    stream.seek(SeekFrom::Start(0))?;
    let mut head = [0u8; 10];
    if read_up_to(stream, &mut head)? < 10 || &head[..3] != b"ID3" {
        return Ok(TagShape::Sound);
    }
    let (version, flags) = (head[3], head[5]);
    let Some(tag_size) = synchsafe(&head[6..10]) else {
        return Ok(TagShape::Sound); // not a tag the library will read either
    };
    let end = 10 + tag_size;
    let (header_len, size_of): (u64, FrameSize) = match version {
        2 => (6, |h| {
            Some(u64::from(u32::from_be_bytes([0, h[3], h[4], h[5]])))
        }),
        3 => (10, |h| {
            Some(u64::from(u32::from_be_bytes([h[4], h[5], h[6], h[7]])))
        }),
        4 => (10, |h| synchsafe(&h[4..8])),
        _ => return Ok(TagShape::Sound),
    };
    let mut at = 10u64;
    if version >= 3 && flags & 0x40 != 0 {
        // The extended header: its size excludes its 4 size bytes in v2.3, includes them in v2.4.
        let mut size = [0u8; 4];
        if read_up_to(stream, &mut size)? < 4 {
            return Ok(TagShape::DamagedAt { at });
        }
        let ext = if version == 3 {
            u64::from(u32::from_be_bytes(size)) + 4
        } else {
            synchsafe(&size).unwrap_or(u64::MAX)
        };
        if ext > end - at {
            return Ok(TagShape::DamagedAt { at });
        }
        at += ext;
    }
    let mut frame = [0u8; 10];
    let frame = &mut frame[..header_len as usize];
    while at + header_len <= end {
        stream.seek(SeekFrom::Start(at))?;
        if read_up_to(stream, frame)? < frame.len() || frame[0] == 0 {
            break; // the end of the file, or padding: nothing more for the library to read
        }
        match size_of(frame) {
            Some(size) if size <= end - at - header_len => at += header_len + size,
            _ => return Ok(TagShape::DamagedAt { at }),
        }
    }
    Ok(TagShape::Sound)
}

/// The first `at` bytes of a damaged tag (read from `stream`) with its header's size
/// shortened to match: a whole tag the library can read without the damaged frames.
pub fn intact_part(stream: &mut (impl Read + Seek), at: u64) -> io::Result<Vec<u8>> {
    stream.seek(SeekFrom::Start(0))?;
    let mut bytes = Vec::new();
    stream.take(at).read_to_end(&mut bytes)?;
    let size = at.saturating_sub(10);
    if bytes.len() >= 10 && size < 1 << 28 {
        for (i, b) in bytes[6..10].iter_mut().enumerate() {
            *b = ((size >> (7 * (3 - i))) & 0x7f) as u8;
        }
        // Whatever the footer flag said, the shortened tag has none.
        bytes[5] &= !0x10;
    }
    Ok(bytes)
}

/// A 28-bit "synchsafe" integer (four bytes of seven bits), or None if a top bit is set.
fn synchsafe(b: &[u8]) -> Option<u64> {
    b.iter().try_fold(0u64, |n, &x| {
        (x & 0x80 == 0).then_some((n << 7) | u64::from(x))
    })
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn tag(version: u8, frames: &[u8]) -> Vec<u8> {
        let mut t = vec![b'I', b'D', b'3', version, 0, 0];
        let n = frames.len() as u64;
        t.extend((0..4).map(|i| ((n >> (7 * (3 - i))) & 0x7f) as u8));
        t.extend_from_slice(frames);
        t
    }

    fn frame_v3(id: &[u8; 4], declared: u32, body: &[u8]) -> Vec<u8> {
        let mut f = id.to_vec();
        f.extend_from_slice(&declared.to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(body);
        f
    }

    fn text(s: &str) -> Vec<u8> {
        let mut b = vec![3u8];
        b.extend_from_slice(s.as_bytes());
        b
    }

    #[test]
    fn a_sound_tag_and_no_tag_are_sound() {
        let body = text("Episode one");
        let t = tag(3, &frame_v3(b"TIT2", body.len() as u32, &body));
        assert_eq!(check(&mut Cursor::new(&t)).expect("check"), TagShape::Sound);
        assert_eq!(
            check(&mut Cursor::new(b"\xff\xfb\x90\x00")).expect("check"),
            TagShape::Sound
        );
    }

    #[test]
    fn a_frame_larger_than_its_tag_is_found_and_the_frames_before_it_kept() {
        let body = text("Episode one");
        let mut frames = frame_v3(b"TIT2", body.len() as u32, &body);
        let bad_at = 10 + frames.len() as u64;
        frames.extend(frame_v3(b"COMM", 0xAAAA_AAAA, &[0xAA; 40]));
        let t = tag(3, &frames);
        let shape = check(&mut Cursor::new(&t)).expect("check");
        assert_eq!(shape, TagShape::DamagedAt { at: bad_at });
        let part = intact_part(&mut Cursor::new(&t), bad_at).expect("part");
        let read = id3::Tag::read_from2(Cursor::new(part)).expect("the intact part reads");
        assert_eq!(id3::TagLike::title(&read), Some("Episode one"));
    }

    #[test]
    fn v2_4_sizes_are_synchsafe_and_v2_2_sizes_three_bytes() {
        let body = text("x");
        let mut f4 = b"TIT2".to_vec();
        f4.extend_from_slice(&[0, 0, 0, body.len() as u8, 0, 0]);
        f4.extend_from_slice(&body);
        assert_eq!(
            check(&mut Cursor::new(tag(4, &f4))).expect("check"),
            TagShape::Sound
        );
        let mut bad4 = b"TIT2".to_vec();
        bad4.extend_from_slice(&[0x80, 0, 0, 1, 0, 0]); // not synchsafe
        assert_eq!(
            check(&mut Cursor::new(tag(4, &bad4))).expect("check"),
            TagShape::DamagedAt { at: 10 }
        );
        let mut f2 = b"TT2".to_vec();
        f2.extend_from_slice(&[0xff, 0xff, 0xff]);
        f2.extend_from_slice(&[0; 20]);
        assert_eq!(
            check(&mut Cursor::new(tag(2, &f2))).expect("check"),
            TagShape::DamagedAt { at: 10 }
        );
    }

    proptest::proptest! {
        /// Any bytes: the walk ends, and a damaged tag's intact part is never longer than
        /// the input.
        #[test]
        fn any_bytes_walk_in_bounds(version in 2u8..=4, flags: u8, body in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let mut t = tag(version, &body);
            t[5] = flags;
            if let TagShape::DamagedAt { at } = check(&mut Cursor::new(&t)).expect("check") {
                let part = intact_part(&mut Cursor::new(&t), at).expect("part");
                proptest::prop_assert!(part.len() <= t.len());
            }
        }
    }
}
