//! What an artwork file really is, from its bytes: JPEG or PNG (or what else it is),
//! width, height and colour model, and whether it breaks Apple's artwork rules (JPEG or
//! PNG, square, 1400 to 3000 pixels, RGB).
//!
//! A header reader, not a decoder: the PNG `IHDR` chunk and the JPEG start-of-frame
//! segment hold everything the rules need, so nothing is decompressed and no image crate
//! (with its decoders and their dependencies) is pulled in for a few dozen bytes of
//! header. A cut-short or malformed header is an [`ArtworkError`], never a panic.

use std::fmt;

/// Apple's bounds for podcast artwork, in pixels.
pub const MIN_SIDE: u32 = 1400;
/// See [`MIN_SIDE`].
pub const MAX_SIDE: u32 = 3000;

/// The two formats Apple accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JPEG (any SOF variant).
    Jpeg,
    /// PNG.
    Png,
}

/// How the pixels are coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    /// RGB, YCbCr or a palette of RGB colours (with or without alpha).
    Rgb,
    /// Shades of grey.
    Grey,
    /// CMYK or YCCK (print colours).
    Cmyk,
}

/// What the header of an artwork file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Artwork {
    /// The real format.
    pub format: Format,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Colour model.
    pub colour: Colour,
}

/// Why the bytes are not usable artwork.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtworkError {
    /// Another image format (named) or not an image at all.
    #[error("is {0}, not JPEG or PNG")]
    OtherFormat(&'static str),
    /// JPEG or PNG, but the header ends early or is malformed.
    #[error("is a {0:?} file whose header is cut short or malformed")]
    BadHeader(Format),
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Jpeg => "JPEG",
            Format::Png => "PNG",
        })
    }
}

/// Reads the header of an artwork file's bytes.
pub fn inspect(bytes: &[u8]) -> Result<Artwork, ArtworkError> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        png(bytes).ok_or(ArtworkError::BadHeader(Format::Png))
    } else if bytes.starts_with(&[0xFF, 0xD8]) {
        jpeg(bytes).ok_or(ArtworkError::BadHeader(Format::Jpeg))
    } else {
        Err(ArtworkError::OtherFormat(other_format(bytes)))
    }
}

/// A rule the artwork breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Not square, or a side outside 1400–3000 px.
    Size(String),
    /// Not RGB.
    Colour(String),
}

/// The rules the artwork breaks (none for good artwork).
pub fn problems(a: &Artwork) -> Vec<Problem> {
    let mut out = Vec::new();
    let (w, h) = (a.width, a.height);
    if w != h {
        out.push(Problem::Size(format!("is {w}×{h} pixels, not square")));
    } else if !(MIN_SIDE..=MAX_SIDE).contains(&w) {
        out.push(Problem::Size(format!(
            "is {w}×{h} pixels, outside {MIN_SIDE} to {MAX_SIDE}"
        )));
    }
    match a.colour {
        Colour::Rgb => {}
        Colour::Grey => out.push(Problem::Colour("is greyscale, not RGB".into())),
        Colour::Cmyk => out.push(Problem::Colour("is CMYK, not RGB".into())),
    }
    out
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// PNG: the first chunk must be IHDR (width, height, bit depth, colour type).
fn png(b: &[u8]) -> Option<Artwork> {
    if b.get(12..16)? != b"IHDR" {
        return None;
    }
    let (width, height) = (be32(b, 16)?, be32(b, 20)?);
    let colour = match *b.get(25)? {
        0 | 4 => Colour::Grey,
        2 | 3 | 6 => Colour::Rgb,
        _ => return None,
    };
    (width > 0 && height > 0).then_some(Artwork {
        format: Format::Png,
        width,
        height,
        colour,
    })
}

/// JPEG: walks the marker segments up to the first start-of-frame; an Adobe APP14
/// segment tells RGB/YCbCr from CMYK/YCCK for four components.
fn jpeg(b: &[u8]) -> Option<Artwork> {
    let mut at = 2;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        if *b.get(at)? != 0xFF {
            return None;
        }
        while *b.get(at)? == 0xFF {
            at += 1;
        }
        let marker = *b.get(at)?;
        at += 1;
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            continue;
        }
        // Start of scan or end of image before any frame header: not a usable JPEG.
        if marker == 0xDA || marker == 0xD9 {
            return None;
        }
        let len = usize::from(be16(b, at)?);
        if len < 2 {
            return None;
        }
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let height = u32::from(be16(b, at + 3)?);
            let width = u32::from(be16(b, at + 5)?);
            let colour = match *b.get(at + 7)? {
                1 => Colour::Grey,
                3 => Colour::Rgb,
                4 => Colour::Cmyk,
                _ => return None,
            };
            return (width > 0 && height > 0).then_some(Artwork {
                format: Format::Jpeg,
                width,
                height,
                colour,
            });
        }
        at += len;
    }
}

/// Names a few formats people rename to `.jpg`, for the message.
fn other_format(b: &[u8]) -> &'static str {
    if b.starts_with(b"GIF8") {
        "a GIF image"
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        "a WebP image"
    } else if b.get(4..8) == Some(b"ftyp") {
        "a HEIF/AVIF image"
    } else if b.starts_with(b"BM") {
        "a BMP image"
    } else if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        "a TIFF image"
    } else if b.is_empty() {
        "an empty file"
    } else {
        "not an image podseed knows"
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The header of a PNG of the given size and colour type (all a reader looks at).
    pub(crate) fn png_header(w: u32, h: u32, colour_type: u8) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        b.extend_from_slice(&w.to_be_bytes());
        b.extend_from_slice(&h.to_be_bytes());
        b.extend_from_slice(&[8, colour_type, 0, 0, 0, 0, 0, 0, 0]);
        b
    }

    /// The start of a JPEG: SOI, an APP0 segment, then SOF0 with `components`.
    pub(crate) fn jpeg_header(w: u16, h: u16, components: u8) -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16];
        b.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        b.extend_from_slice(&[0xFF, 0xFF, 0xC0, 0, 8 + 3 * components, 8]);
        b.extend_from_slice(&h.to_be_bytes());
        b.extend_from_slice(&w.to_be_bytes());
        b.push(components);
        for i in 0..components {
            b.extend_from_slice(&[i + 1, 0x11, 0]);
        }
        b.extend_from_slice(&[0xFF, 0xDA]);
        b
    }

    #[test]
    fn reads_png_and_jpeg_headers() {
        let a = inspect(&png_header(1400, 1400, 2)).expect("png");
        assert_eq!(
            (a.format, a.width, a.height, a.colour),
            (Format::Png, 1400, 1400, Colour::Rgb)
        );
        assert!(problems(&a).is_empty());
        let j = inspect(&jpeg_header(3000, 3000, 3)).expect("jpeg");
        assert_eq!(
            (j.format, j.width, j.colour),
            (Format::Jpeg, 3000, Colour::Rgb)
        );
        assert!(problems(&j).is_empty());
    }

    #[test]
    fn flags_size_and_colour() {
        let a = inspect(&png_header(500, 300, 2)).expect("png");
        assert!(matches!(&problems(&a)[..], [Problem::Size(m)] if m.contains("not square")));
        let a = inspect(&png_header(1000, 1000, 0)).expect("png");
        assert_eq!(problems(&a).len(), 2);
        let j = inspect(&jpeg_header(3001, 3001, 4)).expect("jpeg");
        assert_eq!(j.colour, Colour::Cmyk);
        assert_eq!(problems(&j).len(), 2);
    }

    #[test]
    fn names_other_formats_and_bad_headers() {
        assert_eq!(
            inspect(b"GIF89a...."),
            Err(ArtworkError::OtherFormat("a GIF image"))
        );
        assert_eq!(
            inspect(b""),
            Err(ArtworkError::OtherFormat("an empty file"))
        );
        let cut = &png_header(1400, 1400, 2)[..20];
        assert_eq!(inspect(cut), Err(ArtworkError::BadHeader(Format::Png)));
        let cut = &jpeg_header(1400, 1400, 3)[..25];
        assert_eq!(inspect(cut), Err(ArtworkError::BadHeader(Format::Jpeg)));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = inspect(&bytes);
            let mut j = vec![0xFF, 0xD8];
            j.extend_from_slice(&bytes);
            let _ = inspect(&j);
        }
    }
}
