//! The length-prefixed messages after the handshake: BEP 3's core set, BEP 5's `port`,
//! BEP 6's fast extension, and BEP 10's `extended` frame (whose payloads are
//! [`super::extended`]'s and [`super::metadata`]'s). Pure: bytes in, values out, and back.

use super::WireError;

/// Message ids (BEP 3, BEP 5's port, BEP 6, BEP 10).
mod id {
    pub const CHOKE: u8 = 0;
    pub const UNCHOKE: u8 = 1;
    pub const INTERESTED: u8 = 2;
    pub const NOT_INTERESTED: u8 = 3;
    pub const HAVE: u8 = 4;
    pub const BITFIELD: u8 = 5;
    pub const REQUEST: u8 = 6;
    pub const PIECE: u8 = 7;
    pub const CANCEL: u8 = 8;
    pub const PORT: u8 = 9;
    pub const SUGGEST: u8 = 0x0D;
    pub const HAVE_ALL: u8 = 0x0E;
    pub const HAVE_NONE: u8 = 0x0F;
    pub const REJECT: u8 = 0x10;
    pub const ALLOWED_FAST: u8 = 0x11;
    pub const EXTENDED: u8 = 20;
}

/// One peer wire message after the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Zero-length message that only keeps the connection open.
    KeepAlive,
    /// The sender will not answer requests.
    Choke,
    /// The sender will answer requests.
    Unchoke,
    /// The sender wants pieces we have.
    Interested,
    /// The sender wants nothing from us.
    NotInterested,
    /// The sender now has piece `index`.
    Have {
        /// Piece index.
        index: u32,
    },
    /// The sender's pieces, high bit of the first byte = piece 0.
    Bitfield(Vec<u8>),
    /// Asks for `length` bytes of piece `index` from offset `begin`.
    Request {
        /// Piece index.
        index: u32,
        /// Byte offset within the piece.
        begin: u32,
        /// Block length.
        length: u32,
    },
    /// A block of piece `index` starting at `begin`.
    Piece {
        /// Piece index.
        index: u32,
        /// Byte offset within the piece.
        begin: u32,
        /// The block's bytes.
        block: Vec<u8>,
    },
    /// Withdraws an earlier request.
    Cancel {
        /// Piece index.
        index: u32,
        /// Byte offset within the piece.
        begin: u32,
        /// Block length.
        length: u32,
    },
    /// The sender's DHT port (BEP 5).
    Port(u16),
    // BEP 6
    /// A hint that piece `index` would be a good one to request (BEP 6).
    Suggest {
        /// Piece index.
        index: u32,
    },
    /// The sender has every piece (BEP 6).
    HaveAll,
    /// The sender has no piece (BEP 6).
    HaveNone,
    /// A request that will not be answered (BEP 6).
    Reject {
        /// Piece index.
        index: u32,
        /// Byte offset within the piece.
        begin: u32,
        /// Block length.
        length: u32,
    },
    /// Piece `index` may be requested even while choked (BEP 6).
    AllowedFast {
        /// Piece index.
        index: u32,
    },
    /// BEP 10: extended message id (0 = handshake) and its payload.
    Extended {
        /// Extended message id: 0 for the handshake, else one named in an `m` dict.
        id: u8,
        /// The extension's payload (bencoded for the handshake and ut_metadata).
        payload: Vec<u8>,
    },
    /// Any other id: kept so the caller can ignore it (BEP 3 says unknown messages are ignored).
    Unknown {
        /// The message id byte.
        id: u8,
        /// Everything after the id.
        payload: Vec<u8>,
    },
}

/// Decodes one length-prefixed message from the front of `buf`.
/// Ok(None): not enough bytes yet (partial read). Ok(Some((msg, consumed))) otherwise.
/// A length prefix over `max_len` is an error before any allocation (a 4 GB prefix must not allocate).
pub fn decode(buf: &[u8], max_len: u32) -> Result<Option<(Message, usize)>, WireError> {
    let Some((prefix, rest)) = buf.split_first_chunk::<4>() else {
        return Ok(None);
    };
    let len = u32::from_be_bytes(*prefix);
    // Checked before waiting for the body, so a hostile prefix fails at once instead of
    // making the caller buffer up to 4 GiB.
    if len > max_len {
        return Err(WireError::TooLong { len, max: max_len });
    }
    let Ok(body_len) = usize::try_from(len) else {
        return Err(WireError::TooLong { len, max: max_len });
    };
    let Some(body) = rest.get(..body_len) else {
        return Ok(None);
    };
    let consumed = 4 + body_len;
    let Some((&msg_id, payload)) = body.split_first() else {
        return Ok(Some((Message::KeepAlive, consumed)));
    };
    let malformed = || WireError::Malformed { id: msg_id, len };
    let msg = match msg_id {
        id::CHOKE
        | id::UNCHOKE
        | id::INTERESTED
        | id::NOT_INTERESTED
        | id::HAVE_ALL
        | id::HAVE_NONE => {
            if !payload.is_empty() {
                return Err(malformed());
            }
            match msg_id {
                id::CHOKE => Message::Choke,
                id::UNCHOKE => Message::Unchoke,
                id::INTERESTED => Message::Interested,
                id::NOT_INTERESTED => Message::NotInterested,
                id::HAVE_ALL => Message::HaveAll,
                _ => Message::HaveNone,
            }
        }
        id::HAVE | id::SUGGEST | id::ALLOWED_FAST => {
            let [index] = be_u32s(payload).ok_or_else(malformed)?;
            match msg_id {
                id::HAVE => Message::Have { index },
                id::SUGGEST => Message::Suggest { index },
                _ => Message::AllowedFast { index },
            }
        }
        id::REQUEST | id::CANCEL | id::REJECT => {
            let [index, begin, length] = be_u32s(payload).ok_or_else(malformed)?;
            match msg_id {
                id::REQUEST => Message::Request {
                    index,
                    begin,
                    length,
                },
                id::CANCEL => Message::Cancel {
                    index,
                    begin,
                    length,
                },
                _ => Message::Reject {
                    index,
                    begin,
                    length,
                },
            }
        }
        id::BITFIELD => Message::Bitfield(payload.to_vec()),
        id::PIECE => {
            let (header, block) = payload.split_first_chunk::<8>().ok_or_else(malformed)?;
            let [index, begin] = be_u32s(header).ok_or_else(malformed)?;
            Message::Piece {
                index,
                begin,
                block: block.to_vec(),
            }
        }
        id::PORT => {
            let port: [u8; 2] = payload.try_into().map_err(|_| malformed())?;
            Message::Port(u16::from_be_bytes(port))
        }
        id::EXTENDED => {
            // BEP 10: the extended id byte is mandatory, the payload may be empty.
            let (&ext_id, ext_payload) = payload.split_first().ok_or_else(malformed)?;
            Message::Extended {
                id: ext_id,
                payload: ext_payload.to_vec(),
            }
        }
        _ => Message::Unknown {
            id: msg_id,
            payload: payload.to_vec(),
        },
    };
    Ok(Some((msg, consumed)))
}

/// Reads exactly `N` big-endian u32s; None unless `bytes` is exactly `4 * N` long.
fn be_u32s<const N: usize>(bytes: &[u8]) -> Option<[u32; N]> {
    if bytes.len() != 4 * N {
        return None;
    }
    let mut out = [0u32; N];
    for (slot, chunk) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *slot = u32::from_be_bytes(chunk.try_into().ok()?);
    }
    Some(out)
}

/// A frame length as u32; nothing we send comes near 4 GiB, so saturating is only a guard.
fn frame_len(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Appends the encoding of `msg` to `out`.
pub fn encode(msg: &Message, out: &mut Vec<u8>) {
    let simple = |out: &mut Vec<u8>, msg_id: u8, ints: &[u32]| {
        out.extend_from_slice(&frame_len(1 + 4 * ints.len()).to_be_bytes());
        out.push(msg_id);
        for n in ints {
            out.extend_from_slice(&n.to_be_bytes());
        }
    };
    match msg {
        Message::KeepAlive => out.extend_from_slice(&[0, 0, 0, 0]),
        Message::Choke => simple(out, id::CHOKE, &[]),
        Message::Unchoke => simple(out, id::UNCHOKE, &[]),
        Message::Interested => simple(out, id::INTERESTED, &[]),
        Message::NotInterested => simple(out, id::NOT_INTERESTED, &[]),
        Message::Have { index } => simple(out, id::HAVE, &[*index]),
        Message::Bitfield(bits) => {
            out.extend_from_slice(&frame_len(1 + bits.len()).to_be_bytes());
            out.push(id::BITFIELD);
            out.extend_from_slice(bits);
        }
        Message::Request {
            index,
            begin,
            length,
        } => simple(out, id::REQUEST, &[*index, *begin, *length]),
        Message::Piece {
            index,
            begin,
            block,
        } => {
            out.extend_from_slice(&piece_header(*index, *begin, frame_len(block.len())));
            out.extend_from_slice(block);
        }
        Message::Cancel {
            index,
            begin,
            length,
        } => simple(out, id::CANCEL, &[*index, *begin, *length]),
        Message::Port(port) => {
            out.extend_from_slice(&3u32.to_be_bytes());
            out.push(id::PORT);
            out.extend_from_slice(&port.to_be_bytes());
        }
        Message::Suggest { index } => simple(out, id::SUGGEST, &[*index]),
        Message::HaveAll => simple(out, id::HAVE_ALL, &[]),
        Message::HaveNone => simple(out, id::HAVE_NONE, &[]),
        Message::Reject {
            index,
            begin,
            length,
        } => simple(out, id::REJECT, &[*index, *begin, *length]),
        Message::AllowedFast { index } => simple(out, id::ALLOWED_FAST, &[*index]),
        Message::Extended {
            id: ext_id,
            payload,
        } => {
            out.extend_from_slice(&frame_len(2 + payload.len()).to_be_bytes());
            out.push(id::EXTENDED);
            out.push(*ext_id);
            out.extend_from_slice(payload);
        }
        Message::Unknown {
            id: msg_id,
            payload,
        } => {
            out.extend_from_slice(&frame_len(1 + payload.len()).to_be_bytes());
            out.push(*msg_id);
            out.extend_from_slice(payload);
        }
    }
}

/// The 13-byte header of a Piece message carrying `block_len` bytes (so the caller can write the block without copying it into a message).
pub fn piece_header(index: u32, begin: u32, block_len: u32) -> [u8; 13] {
    let mut h = [0u8; 13];
    h[..4].copy_from_slice(&block_len.saturating_add(9).to_be_bytes());
    h[4] = id::PIECE;
    h[5..9].copy_from_slice(&index.to_be_bytes());
    h[9..13].copy_from_slice(&begin.to_be_bytes());
    h
}

/// A full bitfield for `pieces` pieces (spare bits at the end zero, as BEP 3 requires).
pub fn full_bitfield(pieces: u32) -> Vec<u8> {
    let pieces = pieces as usize;
    let mut bits = vec![0xFF; pieces.div_ceil(8)];
    let spare = (8 - pieces % 8) % 8;
    if let Some(last) = bits.last_mut() {
        // Peers may drop a connection whose bitfield claims pieces past the end.
        *last = 0xFF << spare;
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u32 = 128 * 1024 + 13;

    /// Every message type with its bytes, written by hand from BEP 3, 5, 6 and 10.
    fn table() -> Vec<(Message, Vec<u8>)> {
        vec![
            (Message::KeepAlive, vec![0, 0, 0, 0]),
            (Message::Choke, vec![0, 0, 0, 1, 0]),
            (Message::Unchoke, vec![0, 0, 0, 1, 1]),
            (Message::Interested, vec![0, 0, 0, 1, 2]),
            (Message::NotInterested, vec![0, 0, 0, 1, 3]),
            (
                Message::Have { index: 0x0102_0304 },
                vec![0, 0, 0, 5, 4, 1, 2, 3, 4],
            ),
            (
                Message::Bitfield(vec![0xFF, 0x80]),
                vec![0, 0, 0, 3, 5, 0xFF, 0x80],
            ),
            (
                Message::Request {
                    index: 1,
                    begin: 0x4000,
                    length: 0x4000,
                },
                vec![0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0],
            ),
            (
                Message::Piece {
                    index: 1,
                    begin: 0x4000,
                    block: b"abc".to_vec(),
                },
                vec![0, 0, 0, 12, 7, 0, 0, 0, 1, 0, 0, 0x40, 0, b'a', b'b', b'c'],
            ),
            (
                Message::Cancel {
                    index: 2,
                    begin: 0,
                    length: 0x4000,
                },
                vec![0, 0, 0, 13, 8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0x40, 0],
            ),
            (Message::Port(6881), vec![0, 0, 0, 3, 9, 0x1A, 0xE1]),
            (
                Message::Suggest { index: 7 },
                vec![0, 0, 0, 5, 0x0D, 0, 0, 0, 7],
            ),
            (Message::HaveAll, vec![0, 0, 0, 1, 0x0E]),
            (Message::HaveNone, vec![0, 0, 0, 1, 0x0F]),
            (
                Message::Reject {
                    index: 3,
                    begin: 0x8000,
                    length: 0x4000,
                },
                vec![0, 0, 0, 13, 0x10, 0, 0, 0, 3, 0, 0, 0x80, 0, 0, 0, 0x40, 0],
            ),
            (
                Message::AllowedFast { index: 0xFFFF_FFFF },
                vec![0, 0, 0, 5, 0x11, 0xFF, 0xFF, 0xFF, 0xFF],
            ),
            (
                Message::Extended {
                    id: 0,
                    payload: b"d1:md11:ut_metadatai1eee".to_vec(),
                },
                [&[0, 0, 0, 26, 20, 0][..], b"d1:md11:ut_metadatai1eee"].concat(),
            ),
            (
                Message::Extended {
                    id: 3,
                    payload: b"d8:msg_typei0e5:piecei0ee".to_vec(),
                },
                [&[0, 0, 0, 27, 20, 3][..], b"d8:msg_typei0e5:piecei0ee"].concat(),
            ),
            (
                Message::Extended {
                    id: 5,
                    payload: vec![],
                },
                vec![0, 0, 0, 2, 20, 5],
            ),
            (
                Message::Unknown {
                    id: 0x42,
                    payload: vec![9, 8],
                },
                vec![0, 0, 0, 3, 0x42, 9, 8],
            ),
        ]
    }

    fn stream() -> (Vec<Message>, Vec<u8>) {
        let mut msgs = Vec::new();
        let mut bytes = Vec::new();
        for (m, b) in table() {
            msgs.push(m);
            bytes.extend_from_slice(&b);
        }
        (msgs, bytes)
    }

    /// Decodes every complete message at the front of `buf`.
    fn decode_all(buf: &[u8]) -> (Vec<Message>, usize) {
        let mut used = 0;
        let mut msgs = Vec::new();
        while let Some((m, n)) = decode(&buf[used..], MAX).expect("valid stream") {
            msgs.push(m);
            used += n;
        }
        (msgs, used)
    }

    #[test]
    fn every_message_encodes_to_its_bep_bytes() {
        for (msg, bytes) in table() {
            let mut out = Vec::new();
            encode(&msg, &mut out);
            assert_eq!(out, bytes, "{msg:?}");
        }
    }

    #[test]
    fn every_message_decodes_from_its_bep_bytes() {
        for (msg, bytes) in table() {
            assert_eq!(
                decode(&bytes, MAX),
                Ok(Some((msg.clone(), bytes.len()))),
                "{msg:?}"
            );
        }
    }

    #[test]
    fn every_message_round_trips() {
        for (msg, _) in table() {
            let mut out = Vec::new();
            encode(&msg, &mut out);
            let (back, used) = decode(&out, MAX).unwrap().unwrap();
            assert_eq!((back, used), (msg, out.len()));
        }
    }

    #[test]
    fn decode_leaves_following_bytes_alone() {
        let bytes = [0, 0, 0, 5, 4, 0, 0, 0, 9, 0, 0];
        assert_eq!(
            decode(&bytes, MAX),
            Ok(Some((Message::Have { index: 9 }, 9)))
        );
    }

    #[test]
    fn zero_length_is_keep_alive() {
        assert_eq!(
            decode(&[0, 0, 0, 0], MAX),
            Ok(Some((Message::KeepAlive, 4)))
        );
        assert_eq!(
            decode(&[0, 0, 0, 0, 0, 0, 0, 1, 2], MAX),
            Ok(Some((Message::KeepAlive, 4)))
        );
        // Even a cap of zero admits a keep-alive.
        assert_eq!(decode(&[0, 0, 0, 0], 0), Ok(Some((Message::KeepAlive, 4))));
    }

    #[test]
    fn piece_header_matches_encoded_piece() {
        let block = vec![7u8; 16384];
        let mut out = Vec::new();
        encode(
            &Message::Piece {
                index: 5,
                begin: 32768,
                block: block.clone(),
            },
            &mut out,
        );
        let header = piece_header(5, 32768, 16384);
        assert_eq!(
            header,
            [0, 0, 0x40, 9, 7, 0, 0, 0, 5, 0, 0, 0x80, 0],
            "length 16393 = 9 + 16384"
        );
        assert_eq!(&out[..13], &header);
        assert_eq!(&out[13..], &block[..]);
    }

    #[test]
    fn every_prefix_of_a_stream_decodes_only_whole_messages() {
        let (msgs, bytes) = stream();
        let mut boundaries = vec![0];
        for (_, b) in table() {
            boundaries.push(boundaries.last().unwrap() + b.len());
        }
        for cut in 0..=bytes.len() {
            let (got, used) = decode_all(&bytes[..cut]);
            let complete = boundaries.iter().filter(|&&b| b <= cut).count() - 1;
            assert_eq!(got, msgs[..complete], "cut at {cut}");
            assert_eq!(used, boundaries[complete], "cut at {cut}");
            assert_eq!(decode(&bytes[used..cut], MAX), Ok(None), "cut at {cut}");
        }
    }

    #[test]
    fn byte_by_byte_feed_yields_the_same_messages() {
        let (msgs, bytes) = stream();
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for &b in &bytes {
            buf.push(b);
            let (mut new, used) = decode_all(&buf);
            got.append(&mut new);
            buf.drain(..used);
        }
        assert!(buf.is_empty());
        assert_eq!(got, msgs);
    }

    #[test]
    fn oversized_prefix_fails_before_the_body_arrives() {
        // Only the 4 prefix bytes exist: an error now, not a wait for 4 GiB.
        assert_eq!(
            decode(&[0xFF, 0xFF, 0xFF, 0xFF], MAX),
            Err(WireError::TooLong {
                len: u32::MAX,
                max: MAX
            })
        );
        let over = (MAX + 1).to_be_bytes();
        assert_eq!(
            decode(&over, MAX),
            Err(WireError::TooLong {
                len: MAX + 1,
                max: MAX
            })
        );
        // At the cap it is merely incomplete.
        assert_eq!(decode(&MAX.to_be_bytes(), MAX), Ok(None));
    }

    #[test]
    fn fixed_size_messages_with_wrong_lengths_are_malformed() {
        let cases: &[(&str, &[u8], u8, u32)] = &[
            ("Have, 2-byte index", &[0, 0, 0, 3, 4, 0, 0], 4, 3),
            ("Have, 5-byte index", &[0, 0, 0, 6, 4, 0, 0, 0, 0, 0], 4, 6),
            ("Choke with a payload", &[0, 0, 0, 2, 0, 0], 0, 2),
            ("Unchoke", &[0, 0, 0, 2, 1, 0], 1, 2),
            ("Interested", &[0, 0, 0, 2, 2, 0], 2, 2),
            ("NotInterested", &[0, 0, 0, 2, 3, 0], 3, 2),
            ("HaveAll", &[0, 0, 0, 2, 0x0E, 0], 0x0E, 2),
            ("HaveNone", &[0, 0, 0, 2, 0x0F, 0], 0x0F, 2),
            ("Suggest", &[0, 0, 0, 4, 0x0D, 0, 0, 0], 0x0D, 4),
            ("AllowedFast", &[0, 0, 0, 1, 0x11], 0x11, 1),
            (
                "Request",
                &[0, 0, 0, 12, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                6,
                12,
            ),
            (
                "Cancel",
                &[0, 0, 0, 14, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                8,
                14,
            ),
            ("Reject", &[0, 0, 0, 1, 0x10], 0x10, 1),
            (
                "Piece without begin",
                &[0, 0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0],
                7,
                8,
            ),
            ("Port, 1 byte", &[0, 0, 0, 2, 9, 0], 9, 2),
            ("Port, 3 bytes", &[0, 0, 0, 4, 9, 0, 0, 0], 9, 4),
            ("Extended without its id", &[0, 0, 0, 1, 20], 20, 1),
        ];
        for &(what, bytes, id, len) in cases {
            assert_eq!(
                decode(bytes, MAX),
                Err(WireError::Malformed { id, len }),
                "{what}"
            );
        }
    }

    #[test]
    fn empty_piece_and_bitfield_are_accepted() {
        assert_eq!(
            decode(&[0, 0, 0, 9, 7, 0, 0, 0, 1, 0, 0, 0, 2], MAX),
            Ok(Some((
                Message::Piece {
                    index: 1,
                    begin: 2,
                    block: vec![]
                },
                13
            )))
        );
        assert_eq!(
            decode(&[0, 0, 0, 1, 5], MAX),
            Ok(Some((Message::Bitfield(vec![]), 5)))
        );
    }

    #[test]
    fn full_bitfield_zeroes_spare_bits() {
        assert_eq!(full_bitfield(0), Vec::<u8>::new());
        assert_eq!(full_bitfield(1), vec![0x80]);
        assert_eq!(full_bitfield(7), vec![0xFE]);
        assert_eq!(full_bitfield(8), vec![0xFF]);
        assert_eq!(full_bitfield(9), vec![0xFF, 0x80]);
        assert_eq!(full_bitfield(17), vec![0xFF, 0xFF, 0x80]);
        assert_eq!(full_bitfield(16), vec![0xFF, 0xFF]);
    }
}
