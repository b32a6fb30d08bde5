//! BitTorrent values every layer shares: info hashes, peer ids and block requests.
//!
//! Plain typed values with their hex forms; no protocol framing (that is in the codecs) and
//! no I/O. Everything above `config` may use this module.

pub mod bencode;

use std::fmt;

/// A torrent's v1 info hash: the SHA-1 of its bencoded info dict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InfoHash(pub [u8; 20]);

impl InfoHash {
    /// Lower-case hex, as in magnet links.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Parses 40 hex digits.
    pub fn from_hex(s: &str) -> Option<InfoHash> {
        let bytes = unhex(s)?;
        Some(InfoHash(bytes.try_into().ok()?))
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl From<[u8; 20]> for InfoHash {
    fn from(bytes: [u8; 20]) -> Self {
        InfoHash(bytes)
    }
}

/// A peer's 20-byte id (BEP 20 style for ours, anything for others').
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PeerId(pub [u8; 20]);

impl PeerId {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }
}

impl fmt::Debug for PeerId {
    // Client prefixes are printable ("-PS0001-"), the rest random: show printable bytes
    // as they are and the others escaped, as in tracker logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId(\"{}\")", self.0.escape_ascii())
    }
}

impl From<[u8; 20]> for PeerId {
    fn from(bytes: [u8; 20]) -> Self {
        PeerId(bytes)
    }
}

/// A request for one block: piece index, offset in the piece, length (BEP 3 `request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockRequest {
    /// Piece index.
    pub piece: u32,
    /// Byte offset within the piece.
    pub offset: u32,
    /// Length in bytes.
    pub length: u32,
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Bytes from hex digits (either case); None on odd length or a non-hex digit.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_hash_hex_round_trips() {
        let h = InfoHash([0xab; 20]);
        assert_eq!(h.to_hex(), "ab".repeat(20));
        assert_eq!(InfoHash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(InfoHash::from_hex(&"AB".repeat(20)), Some(h));
        assert_eq!(InfoHash::from_hex("zz"), None);
        assert_eq!(InfoHash::from_hex("abc"), None);
        assert_eq!(InfoHash::from_hex(&"ab".repeat(21)), None);
    }

    #[test]
    fn peer_ids_debug_print_their_client_prefix() {
        let mut id = [0u8; 20];
        id[..8].copy_from_slice(b"-PS0001-");
        assert!(format!("{:?}", PeerId(id)).starts_with("PeerId(\"-PS0001-\\x00"));
    }
}
