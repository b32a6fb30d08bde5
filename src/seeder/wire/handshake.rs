//! The 68-byte handshake of BEP 3 and the reserved bits podseed reads and sets (BEP 10's
//! extension protocol, BEP 6's fast extension, BEP 5's DHT). Pure: bytes in, values out.

use crate::bt::{InfoHash, PeerId};

use super::WireError;

/// The protocol string of the BEP 3 handshake (its length, 19, is the first byte).
pub const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";

/// Reserved byte and mask of the extension protocol bit (BEP 10).
const EXTENSION_BYTE: usize = 5;
const EXTENSION_MASK: u8 = 0x10;
/// Reserved byte and mask of the fast extension bit (BEP 6).
const FAST_BYTE: usize = 7;
const FAST_MASK: u8 = 0x04;

/// The handshake each side sends first: reserved feature bits, info hash and peer id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    /// Feature bits (BEP 4 lists the assignments).
    pub reserved: [u8; 8],
    /// SHA-1 of the torrent's info dict.
    pub info_hash: InfoHash,
    /// The sender's peer id (BEP 20 style for us).
    pub peer_id: PeerId,
}

impl Handshake {
    /// Encoded size: pstrlen, protocol string, reserved, info hash, peer id.
    pub const LEN: usize = 68;

    /// Whether the sender supports the extension protocol (BEP 10).
    pub fn supports_extensions(&self) -> bool {
        self.reserved[EXTENSION_BYTE] & EXTENSION_MASK != 0
    }

    /// Whether the sender supports the fast extension (BEP 6).
    pub fn supports_fast(&self) -> bool {
        self.reserved[FAST_BYTE] & FAST_MASK != 0
    }

    /// Whether the peer runs a DHT node (BEP 5: `reserved[7] & 0x01`).
    pub fn supports_dht(&self) -> bool {
        self.reserved[7] & 0x01 != 0
    }

    /// Sets the DHT bit, for when we run a DHT node and will send a Port message.
    pub fn with_dht(mut self) -> Handshake {
        self.reserved[7] |= 0x01;
        self
    }

    /// Our reserved bytes: extension protocol + fast extension (see [`Self::with_dht`]).
    pub fn ours(info_hash: InfoHash, peer_id: PeerId) -> Handshake {
        let mut reserved = [0u8; 8];
        reserved[EXTENSION_BYTE] |= EXTENSION_MASK;
        reserved[FAST_BYTE] |= FAST_MASK;
        Handshake {
            reserved,
            info_hash,
            peer_id,
        }
    }

    /// The 68 bytes on the wire.
    pub fn encode(&self) -> [u8; 68] {
        let mut b = [0u8; Self::LEN];
        b[0] = PROTOCOL.len() as u8;
        b[1..20].copy_from_slice(PROTOCOL);
        b[20..28].copy_from_slice(&self.reserved);
        b[28..48].copy_from_slice(&self.info_hash.0);
        b[48..68].copy_from_slice(&self.peer_id.0);
        b
    }

    /// Parses the 68 bytes; Err on a bad pstrlen/protocol string.
    pub fn decode(b: &[u8; 68]) -> Result<Handshake, WireError> {
        if usize::from(b[0]) != PROTOCOL.len() || &b[1..20] != PROTOCOL {
            return Err(WireError::BadProtocol);
        }
        let mut hs = Handshake {
            reserved: [0; 8],
            info_hash: InfoHash([0; 20]),
            peer_id: PeerId([0; 20]),
        };
        hs.reserved.copy_from_slice(&b[20..28]);
        hs.info_hash.0.copy_from_slice(&b[28..48]);
        hs.peer_id.0.copy_from_slice(&b[48..68]);
        Ok(hs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_bytes_carry_our_reserved_bits() {
        let ih = InfoHash([0xAA; 20]);
        let pid = PeerId(*b"-PS0100-abcdefghijkl");
        let bytes = Handshake::ours(ih, pid).encode();
        let mut expected = vec![19u8];
        expected.extend_from_slice(b"BitTorrent protocol");
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0x04]);
        expected.extend_from_slice(&ih.0);
        expected.extend_from_slice(&pid.0);
        assert_eq!(bytes.to_vec(), expected);
        let back = Handshake::decode(&bytes).unwrap();
        assert_eq!(back, Handshake::ours(ih, pid));
        assert!(back.supports_extensions());
        assert!(back.supports_fast());
    }

    #[test]
    fn handshake_reserved_bits_are_read_separately() {
        let mut hs = Handshake::ours(InfoHash([1; 20]), PeerId([2; 20]));
        hs.reserved = [0; 8];
        assert!(!hs.supports_extensions() && !hs.supports_fast());
        // A DHT-only client (reserved[7] = 0x01) supports neither.
        hs.reserved[7] = 0x01;
        assert!(!hs.supports_extensions() && !hs.supports_fast());
        hs.reserved[5] = 0x10;
        assert!(hs.supports_extensions() && !hs.supports_fast());
        hs.reserved = [0, 0, 0, 0, 0, 0, 0, 0x05];
        assert!(!hs.supports_extensions() && hs.supports_fast());
        // Other bits (e.g. libtorrent's v2 upgrade bit reserved[7] & 0x10) are kept as sent.
        hs.reserved = [0x80, 0, 0, 0, 0, 0x10, 0, 0x15];
        let back = Handshake::decode(&hs.encode()).unwrap();
        assert_eq!(back.reserved, hs.reserved);
    }

    #[test]
    fn handshake_with_bad_protocol_is_rejected() {
        let good = Handshake::ours(InfoHash([1; 20]), PeerId([2; 20])).encode();
        let mut bad = good;
        bad[0] = 18;
        assert_eq!(Handshake::decode(&bad), Err(WireError::BadProtocol));
        let mut bad = good;
        bad[1] = b'b';
        assert_eq!(Handshake::decode(&bad), Err(WireError::BadProtocol));
        // An HTTP request on the BitTorrent port.
        let mut http = [0u8; 68];
        http[..16].copy_from_slice(b"GET / HTTP/1.1\r\n");
        assert_eq!(Handshake::decode(&http), Err(WireError::BadProtocol));
    }
}
