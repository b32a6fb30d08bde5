//! The BitTorrent peer wire protocol as pure codecs: the 68-byte handshake and the
//! length-prefixed messages of BEP 3, the fast extension (BEP 6), the extension protocol
//! (BEP 10) with its handshake, and ut_metadata (BEP 9). Bytes go in and typed values come
//! out, and back; nothing here touches a socket, a clock or a torrent, so every rule is
//! unit-tested with literal bytes and the connection task in [`super::peer`] only moves
//! bytes. Whatever a peer sends is untrusted: decoding never panics, never allocates more
//! than the caller's length cap, and never recurses deeper than a small bound.

use std::net::IpAddr;

use lava_torrent::bencode::BencodeElem;

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
    pub info_hash: [u8; 20],
    /// The sender's peer id (BEP 20 style for us).
    pub peer_id: [u8; 20],
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

    /// Whether the peer runs a DHT node (BEP 5: reserved[7] & 0x01).
    pub fn supports_dht(&self) -> bool {
        self.reserved[7] & 0x01 != 0
    }

    /// Sets the DHT bit, for when we run a DHT node and will send a Port message.
    pub fn with_dht(mut self) -> Handshake {
        self.reserved[7] |= 0x01;
        self
    }

    /// Our reserved bytes: extension protocol + fast extension (see [`Self::with_dht`]).
    pub fn ours(info_hash: [u8; 20], peer_id: [u8; 20]) -> Handshake {
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
        b[28..48].copy_from_slice(&self.info_hash);
        b[48..68].copy_from_slice(&self.peer_id);
        b
    }

    /// Parses the 68 bytes; Err on a bad pstrlen/protocol string.
    pub fn decode(b: &[u8; 68]) -> Result<Handshake, WireError> {
        if usize::from(b[0]) != PROTOCOL.len() || &b[1..20] != PROTOCOL {
            return Err(WireError::BadProtocol);
        }
        let mut hs = Handshake {
            reserved: [0; 8],
            info_hash: [0; 20],
            peer_id: [0; 20],
        };
        hs.reserved.copy_from_slice(&b[20..28]);
        hs.info_hash.copy_from_slice(&b[28..48]);
        hs.peer_id.copy_from_slice(&b[48..68]);
        Ok(hs)
    }
}

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

/// Why bytes from a peer are not a valid handshake or message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    /// The handshake does not start with 19 and "BitTorrent protocol".
    #[error("not a BitTorrent handshake (bad protocol string)")]
    BadProtocol,
    /// The length prefix exceeds the caller's cap.
    #[error("message of {len} bytes exceeds the limit of {max}")]
    TooLong {
        /// The announced length.
        len: u32,
        /// The cap it exceeds.
        max: u32,
    },
    /// A message whose length does not fit its id (e.g. a Have that is not 5 bytes).
    #[error("message id {id} cannot be {len} bytes long")]
    Malformed {
        /// The message id.
        id: u8,
        /// The length prefix it came with.
        len: u32,
    },
    /// An extension handshake that is not a bencoded dictionary.
    #[error("bad extension handshake: {0}")]
    BadExtended(String),
    /// A ut_metadata message that is not a valid bencoded request, data or reject.
    #[error("bad ut_metadata message: {0}")]
    BadMetadata(String),
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

// ---------------------------------------------------------------------------------------
// BEP 10 / BEP 9

/// The id WE assign to ut_metadata in our handshake's `m`: peers send us ut_metadata with it.
pub const UT_METADATA_ID: u8 = 1;
/// Size of a ut_metadata piece; only the last piece of the info dict may be shorter (BEP 9).
pub const METADATA_PIECE: usize = 16 * 1024;

/// What we use from a peer's extension handshake (BEP 10); every field is optional there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtendedHandshake {
    /// The id the peer wants us to use when sending ut_metadata to it (None: absent or disabled).
    pub ut_metadata: Option<u8>,
    /// How many outstanding requests the peer handles.
    pub reqq: Option<u32>,
    /// The peer's client name and version (`v`).
    pub client: Option<String>,
    /// The peer only uploads (BEP 21): a seed gains nothing from the connection.
    pub upload_only: bool,
}

/// Our handshake: {m: {ut_metadata: 1}, metadata_size, upload_only: 1, reqq, v, yourip (4 or 16 raw bytes)}; keys sorted (lava_torrent's encoder sorts).
pub fn encode_our_extended_handshake(
    metadata_size: u32,
    reqq: u32,
    client: &str,
    yourip: Option<IpAddr>,
) -> Vec<u8> {
    let m = BencodeElem::Dictionary(
        [("ut_metadata".to_owned(), BencodeElem::from(UT_METADATA_ID))].into(),
    );
    let mut dict = std::collections::HashMap::from([
        ("m".to_owned(), m),
        ("metadata_size".to_owned(), BencodeElem::from(metadata_size)),
        ("upload_only".to_owned(), BencodeElem::from(1u8)),
        ("reqq".to_owned(), BencodeElem::from(reqq)),
        ("v".to_owned(), BencodeElem::from(client)),
    ]);
    if let Some(ip) = yourip {
        // A v4-mapped v6 address is an IPv4 peer on a dual-stack socket: tell it 4 bytes.
        let raw = match ip.to_canonical() {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        dict.insert("yourip".to_owned(), BencodeElem::Bytes(raw));
    }
    BencodeElem::Dictionary(dict).encode()
}

/// Parses a peer's extension handshake payload; unknown keys and ill-typed values are ignored.
pub fn decode_extended_handshake(payload: &[u8]) -> Result<ExtendedHandshake, WireError> {
    let (dict, _) = parse_prefix(payload).map_err(WireError::BadExtended)?;
    if !is_dict(&dict) {
        return Err(WireError::BadExtended("not a dictionary".into()));
    }
    // BEP 10: id 0 means "disabled"; ids are one byte, so anything else is unusable.
    let ut_metadata = dict_get(&dict, "m")
        .and_then(|m| dict_get(m, "ut_metadata"))
        .and_then(as_int)
        .and_then(|n| u8::try_from(n).ok())
        .filter(|&n| n != 0);
    let reqq = dict_get(&dict, "reqq")
        .and_then(as_int)
        .and_then(|n| u32::try_from(n).ok());
    let client = dict_get(&dict, "v").and_then(|v| match v {
        BencodeElem::String(s) => Some(s.clone()),
        BencodeElem::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    });
    let upload_only = dict_get(&dict, "upload_only")
        .and_then(as_int)
        .is_some_and(|n| n != 0);
    Ok(ExtendedHandshake {
        ut_metadata,
        reqq,
        client,
        upload_only,
    })
}

/// One ut_metadata message (BEP 9), without the raw data a Data message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataMessage {
    /// msg_type 0: asks for a 16 KiB piece of the info dict.
    Request {
        /// Metadata piece index.
        piece: u32,
    },
    /// msg_type 1: a piece of the info dict follows the dictionary.
    Data {
        /// Metadata piece index.
        piece: u32,
        /// Size of the whole info dict.
        total_size: u32,
    },
    /// msg_type 2: the sender will not send that piece.
    Reject {
        /// Metadata piece index.
        piece: u32,
    },
    /// Any other msg_type, which BEP 9 says MUST be ignored.
    Unknown {
        /// The msg_type value.
        msg_type: i64,
    },
}

/// Parses a ut_metadata payload (a bencoded dict, possibly followed by raw data for msg_type 1; return the dict part parsed and ignore trailing data for our purposes).
pub fn decode_metadata_message(payload: &[u8]) -> Result<MetadataMessage, WireError> {
    let bad = |why: &str| WireError::BadMetadata(why.to_owned());
    let (dict, _) = parse_prefix(payload).map_err(WireError::BadMetadata)?;
    if !is_dict(&dict) {
        return Err(bad("not a dictionary"));
    }
    let msg_type = dict_get(&dict, "msg_type")
        .and_then(as_int)
        .ok_or_else(|| bad("no integer msg_type"))?;
    let u32_key = |key: &str| {
        dict_get(&dict, key)
            .and_then(as_int)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| bad(&format!("no {key} between 0 and 2^32-1")))
    };
    Ok(match msg_type {
        0 => MetadataMessage::Request {
            piece: u32_key("piece")?,
        },
        1 => MetadataMessage::Data {
            piece: u32_key("piece")?,
            total_size: u32_key("total_size")?,
        },
        2 => MetadataMessage::Reject {
            piece: u32_key("piece")?,
        },
        other => MetadataMessage::Unknown { msg_type: other },
    })
}

/// ut_metadata request payload: {msg_type: 0, piece}.
pub fn encode_metadata_request(piece: u32) -> Vec<u8> {
    metadata_dict(0, piece, None)
}

/// ut_metadata data message payload: bencoded {msg_type: 1, piece, total_size} followed by `data` (16 KiB pieces of the info dict).
pub fn encode_metadata_data(piece: u32, total_size: u32, data: &[u8]) -> Vec<u8> {
    let mut out = metadata_dict(1, piece, Some(total_size));
    out.extend_from_slice(data);
    out
}

/// ut_metadata reject payload: {msg_type: 2, piece}.
pub fn encode_metadata_reject(piece: u32) -> Vec<u8> {
    metadata_dict(2, piece, None)
}

fn metadata_dict(msg_type: u8, piece: u32, total_size: Option<u32>) -> Vec<u8> {
    let mut dict = std::collections::HashMap::from([
        ("msg_type".to_owned(), BencodeElem::from(msg_type)),
        ("piece".to_owned(), BencodeElem::from(piece)),
    ]);
    if let Some(size) = total_size {
        dict.insert("total_size".to_owned(), BencodeElem::from(size));
    }
    BencodeElem::Dictionary(dict).encode()
}

fn is_dict(elem: &BencodeElem) -> bool {
    matches!(
        elem,
        BencodeElem::Dictionary(_) | BencodeElem::RawDictionary(_)
    )
}

/// A key of a dictionary, whichever variant lava_torrent chose (it picks RawDictionary as
/// soon as one key is not UTF-8, e.g. a peer's Latin-1 extension name).
fn dict_get<'a>(elem: &'a BencodeElem, key: &str) -> Option<&'a BencodeElem> {
    match elem {
        BencodeElem::Dictionary(d) => d.get(key),
        BencodeElem::RawDictionary(d) => d.get(key.as_bytes()),
        _ => None,
    }
}

fn as_int(elem: &BencodeElem) -> Option<i64> {
    match elem {
        BencodeElem::Integer(n) => Some(*n),
        _ => None,
    }
}

/// Nesting limit for peer-supplied bencode: our messages are two levels deep, and the
/// bound keeps lava_torrent's recursive parser far from the stack's end.
const MAX_BENCODE_DEPTH: usize = 32;

/// Parses the one bencoded value at the front of `buf`, returning it and its length.
/// lava_torrent's `from_bytes` parses a whole buffer, so trailing bytes (ut_metadata data)
/// are cut off first by [`bencode_end`], which also bounds nesting before any recursion.
fn parse_prefix(buf: &[u8]) -> Result<(BencodeElem, usize), String> {
    let end = bencode_end(buf, 0, 0)?;
    let value = buf.get(..end).ok_or("truncated")?;
    let elems = BencodeElem::from_bytes(value).map_err(|e| e.to_string())?;
    let elem = elems.into_iter().next().ok_or("empty")?;
    Ok((elem, end))
}

/// The offset just past the bencoded value that starts at `pos`. Checks structure and
/// lengths only; the finer rules (sorted keys, no leading zeros) are lava_torrent's.
fn bencode_end(buf: &[u8], pos: usize, depth: usize) -> Result<usize, String> {
    match buf.get(pos) {
        None => Err("truncated".into()),
        Some(b'i') => {
            let digits_start = pos + 1;
            let rest = buf.get(digits_start..).unwrap_or_default();
            let len = rest
                .iter()
                .position(|&c| c == b'e')
                .ok_or("truncated integer")?;
            let digits = rest.get(..len).unwrap_or_default();
            let digits = digits.strip_prefix(b"-").unwrap_or(digits);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err("bad integer".into());
            }
            Ok(digits_start + len + 1)
        }
        Some(&open @ (b'l' | b'd')) => {
            if depth >= MAX_BENCODE_DEPTH {
                return Err("nested too deeply".into());
            }
            let mut p = pos + 1;
            loop {
                match buf.get(p) {
                    None => return Err("truncated".into()),
                    Some(b'e') => return Ok(p + 1),
                    Some(c) => {
                        if open == b'd' {
                            if !c.is_ascii_digit() {
                                return Err("dictionary key is not a string".into());
                            }
                            p = bencode_end(buf, p, depth + 1)?;
                        }
                        p = bencode_end(buf, p, depth + 1)?;
                    }
                }
            }
        }
        Some(b'0'..=b'9') => {
            let mut p = pos;
            let mut len: usize = 0;
            loop {
                match buf.get(p) {
                    Some(&c @ b'0'..=b'9') => {
                        len = len
                            .checked_mul(10)
                            .and_then(|l| l.checked_add(usize::from(c - b'0')))
                            .ok_or("string length overflows")?;
                        p += 1;
                    }
                    Some(b':') => break,
                    Some(_) => return Err("bad string length".into()),
                    None => return Err("truncated".into()),
                }
            }
            let end = (p + 1).checked_add(len).ok_or("string length overflows")?;
            if end > buf.len() {
                return Err("truncated string".into());
            }
            Ok(end)
        }
        Some(_) => Err("not bencode".into()),
    }
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
    fn handshake_bytes_carry_our_reserved_bits() {
        let ih = [0xAA; 20];
        let pid = *b"-PS0100-abcdefghijkl";
        let bytes = Handshake::ours(ih, pid).encode();
        let mut expected = vec![19u8];
        expected.extend_from_slice(b"BitTorrent protocol");
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0x04]);
        expected.extend_from_slice(&ih);
        expected.extend_from_slice(&pid);
        assert_eq!(bytes.to_vec(), expected);
        let back = Handshake::decode(&bytes).unwrap();
        assert_eq!(back, Handshake::ours(ih, pid));
        assert!(back.supports_extensions());
        assert!(back.supports_fast());
    }

    #[test]
    fn handshake_reserved_bits_are_read_separately() {
        let mut hs = Handshake::ours([1; 20], [2; 20]);
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
        let good = Handshake::ours([1; 20], [2; 20]).encode();
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

    #[test]
    fn our_extended_handshake_bytes() {
        let v4 =
            encode_our_extended_handshake(1234, 250, "podseed", Some("1.2.3.4".parse().unwrap()));
        assert_eq!(
            v4,
            b"d1:md11:ut_metadatai1ee13:metadata_sizei1234e4:reqqi250e\
              11:upload_onlyi1e1:v7:podseed6:yourip4:\x01\x02\x03\x04e"
                .to_vec()
        );
        let none = encode_our_extended_handshake(5, 10, "p", None);
        assert_eq!(
            none,
            b"d1:md11:ut_metadatai1ee13:metadata_sizei5e4:reqqi10e11:upload_onlyi1e1:v1:pe"
                .to_vec()
        );
        let v6 = encode_our_extended_handshake(5, 10, "p", Some("2001:db8::1".parse().unwrap()));
        let mut ip = vec![0x20, 0x01, 0x0d, 0xb8];
        ip.extend_from_slice(&[0; 11]);
        ip.push(1);
        assert!(v6.ends_with(&[&b"6:yourip16:"[..], &ip, b"e"].concat()));
        let mapped =
            encode_our_extended_handshake(5, 10, "p", Some("::ffff:10.0.0.7".parse().unwrap()));
        assert!(mapped.ends_with(b"6:yourip4:\x0a\x00\x00\x07e"));
    }

    #[test]
    fn our_extended_handshake_round_trips() {
        let payload = encode_our_extended_handshake(
            31235,
            250,
            "podseed 0.1.0",
            Some("::1".parse().unwrap()),
        );
        assert_eq!(
            decode_extended_handshake(&payload),
            Ok(ExtendedHandshake {
                ut_metadata: Some(UT_METADATA_ID),
                reqq: Some(250),
                client: Some("podseed 0.1.0".into()),
                upload_only: true,
            })
        );
        // And inside its wire frame.
        let mut out = Vec::new();
        encode(
            &Message::Extended {
                id: 0,
                payload: payload.clone(),
            },
            &mut out,
        );
        assert_eq!(
            decode(&out, MAX),
            Ok(Some((Message::Extended { id: 0, payload }, out.len())))
        );
    }

    #[test]
    fn aria2_extended_handshake_decodes() {
        let hs = decode_extended_handshake(
            b"d1:md11:ut_metadatai3ee13:metadata_sizei1234e4:reqqi250e1:v12:aria2/1.36.0e",
        )
        .unwrap();
        assert_eq!(
            hs,
            ExtendedHandshake {
                ut_metadata: Some(3),
                reqq: Some(250),
                client: Some("aria2/1.36.0".into()),
                upload_only: false,
            }
        );
    }

    #[test]
    fn bep10_example_handshake_with_latin1_key_decodes() {
        // BEP 10's example, with µ as the single Latin-1 byte its length of 6 implies:
        // one non-UTF-8 key turns `m` into a RawDictionary.
        let hs = decode_extended_handshake(
            b"d1:md11:LT_metadatai1e6:\xb5T_PEXi2ee1:pi6881e1:v13:\xc2\xb5Torrent 1.2e",
        )
        .unwrap();
        assert_eq!(hs.ut_metadata, None);
        assert_eq!(hs.client.as_deref(), Some("µTorrent 1.2"));
        assert_eq!(hs.reqq, None);
    }

    #[test]
    fn extended_handshake_edge_cases() {
        // Disabled (BEP 10: 0 turns an extension off), out of u8 range, wrong type.
        for m in [&b"i0e"[..], b"i300e", b"i-1e", b"3:one"] {
            let payload = [&b"d1:md11:ut_metadata"[..], m, b"ee"].concat();
            assert_eq!(
                decode_extended_handshake(&payload).unwrap().ut_metadata,
                None
            );
        }
        assert_eq!(
            decode_extended_handshake(b"de"),
            Ok(ExtendedHandshake::default())
        );
        let hs = decode_extended_handshake(b"d4:reqqi-5e11:upload_onlyi1e1:v2:\xff\xfee").unwrap();
        assert_eq!(hs.reqq, None);
        assert!(hs.upload_only);
        assert_eq!(hs.client.as_deref(), Some("\u{FFFD}\u{FFFD}"));
        // Trailing bytes after the dictionary are ignored.
        assert_eq!(
            decode_extended_handshake(b"d4:reqqi7eeXYZ").unwrap().reqq,
            Some(7)
        );
        for bad in [
            &b""[..],
            b"i5e",
            b"l1:me",
            b"d1:md11:ut_metadatai1e",
            b"d4:reqqi250e",
            b"d4:reqq",
            b"d9:reqq",
            b"di1ei2ee",
            b"x",
            b"d4:reqqi0250ee",
        ] {
            assert!(
                matches!(
                    decode_extended_handshake(bad),
                    Err(WireError::BadExtended(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_refused_at_a_bounded_depth() {
        let mut deep = vec![b'l'; 100_000];
        deep.extend(std::iter::repeat_n(b'e', 100_000));
        assert!(decode_extended_handshake(&deep).is_err());
        let mut nested = b"d1:m".to_vec();
        nested.extend(std::iter::repeat_n(b'l', 1000));
        assert!(decode_metadata_message(&nested).is_err());
        // Just inside the bound still parses.
        let mut ok = b"d1:x".to_vec();
        ok.extend(std::iter::repeat_n(b'l', MAX_BENCODE_DEPTH - 1));
        ok.extend(std::iter::repeat_n(b'e', MAX_BENCODE_DEPTH));
        assert_eq!(
            decode_extended_handshake(&ok),
            Ok(ExtendedHandshake::default())
        );
    }

    #[test]
    fn metadata_request_both_ways() {
        // BEP 9's example.
        let bytes = b"d8:msg_typei0e5:piecei0ee";
        assert_eq!(encode_metadata_request(0), bytes.to_vec());
        assert_eq!(
            decode_metadata_message(bytes),
            Ok(MetadataMessage::Request { piece: 0 })
        );
        assert_eq!(
            decode_metadata_message(&encode_metadata_request(70000)),
            Ok(MetadataMessage::Request { piece: 70000 })
        );
    }

    #[test]
    fn metadata_data_both_ways() {
        // BEP 9's example: the data follows the dictionary.
        let bytes = b"d8:msg_typei1e5:piecei0e10:total_sizei34256eexxxxxxxx";
        assert_eq!(encode_metadata_data(0, 34256, b"xxxxxxxx"), bytes.to_vec());
        assert_eq!(
            decode_metadata_message(bytes),
            Ok(MetadataMessage::Data {
                piece: 0,
                total_size: 34256
            })
        );
        // Metadata that itself looks like bencode (an info dict does) is not parsed.
        let info = b"d6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces20:01234567890123456789e";
        let payload = encode_metadata_data(1, 16384 + info.len() as u32, info);
        assert_eq!(
            decode_metadata_message(&payload),
            Ok(MetadataMessage::Data {
                piece: 1,
                total_size: 16384 + info.len() as u32
            })
        );
        let full = encode_metadata_data(0, METADATA_PIECE as u32, &[0xFF; METADATA_PIECE]);
        assert_eq!(full.len(), METADATA_PIECE + 45);
        assert!(matches!(
            decode_metadata_message(b"d8:msg_typei1e5:piecei0ee"),
            Err(WireError::BadMetadata(_))
        ));
    }

    #[test]
    fn metadata_reject_both_ways() {
        // BEP 9's text prints msg_type 1 here by mistake; a reject is msg_type 2.
        let bytes = b"d8:msg_typei2e5:piecei0ee";
        assert_eq!(encode_metadata_reject(0), bytes.to_vec());
        assert_eq!(
            decode_metadata_message(bytes),
            Ok(MetadataMessage::Reject { piece: 0 })
        );
        assert_eq!(
            decode_metadata_message(&encode_metadata_reject(3)),
            Ok(MetadataMessage::Reject { piece: 3 })
        );
    }

    #[test]
    fn metadata_message_edge_cases() {
        assert_eq!(
            decode_metadata_message(b"d8:msg_typei7ee"),
            Ok(MetadataMessage::Unknown { msg_type: 7 })
        );
        for bad in [
            &b"d5:piecei0ee"[..],
            b"d8:msg_typei0ee",
            b"d8:msg_typei0e5:piecei-1ee",
            b"d8:msg_typei0e5:piecei4294967296ee",
            b"d8:msg_type1:05:piecei0ee",
            b"le",
            b"",
            b"d8:msg_typei0e5:piecei0e",
        ] {
            assert!(
                matches!(decode_metadata_message(bad), Err(WireError::BadMetadata(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn metadata_message_in_a_wire_frame() {
        let payload = encode_metadata_data(2, 40000, &[7; 7232]);
        let mut out = Vec::new();
        encode(
            &Message::Extended {
                id: UT_METADATA_ID,
                payload: payload.clone(),
            },
            &mut out,
        );
        let Some((Message::Extended { id, payload: back }, used)) = decode(&out, MAX).unwrap()
        else {
            panic!("not an extended message");
        };
        assert_eq!((id, used), (UT_METADATA_ID, out.len()));
        assert_eq!(back, payload);
        assert_eq!(
            decode_metadata_message(&back),
            Ok(MetadataMessage::Data {
                piece: 2,
                total_size: 40000
            })
        );
    }

    /// A 64-bit LCG (Knuth's MMIX constants): reproducible noise without a dependency.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u8 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) as u8
        }

        fn below(&mut self, n: usize) -> usize {
            (usize::from(self.next()) << 8 | usize::from(self.next())) % n
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Lcg(0x5EED);
        for round in 0..5000 {
            let len = rng.below(80);
            let mut buf: Vec<u8> = (0..len).map(|_| rng.next()).collect();
            // Most rounds get a small length prefix so the body parsers are reached.
            if round % 4 != 0 && buf.len() >= 4 {
                let n = rng.below(buf.len()) as u32;
                buf[..4].copy_from_slice(&n.to_be_bytes());
            }
            let mut used = 0;
            while let Ok(Some((_, n))) = decode(&buf[used..], 64) {
                assert!(n >= 4 && used + n <= buf.len());
                used += n;
            }
            let mut hs = [0u8; 68];
            for b in hs.iter_mut() {
                *b = rng.next();
            }
            let _ = Handshake::decode(&hs);
            let _ = decode_extended_handshake(&buf);
            let _ = decode_metadata_message(&buf);
        }
    }

    #[test]
    fn random_bencode_never_panics() {
        // Bencode-shaped noise reaches deeper into the scanner than uniform bytes.
        const ALPHABET: &[u8] = b"dlie0123456789:-x";
        let seeds: [&[u8]; 3] = [
            b"d1:md11:ut_metadatai3ee13:metadata_sizei1234e4:reqqi250e1:v12:aria2/1.36.0e",
            b"d8:msg_typei1e5:piecei0e10:total_sizei34256eexxxxxxxx",
            b"d8:msg_typei2e5:piecei0ee",
        ];
        let mut rng = Lcg(42);
        for round in 0..5000 {
            let mut buf = if round % 2 == 0 {
                seeds[round % 3].to_vec()
            } else {
                (0..rng.below(40))
                    .map(|_| ALPHABET[rng.below(ALPHABET.len())])
                    .collect()
            };
            for _ in 0..rng.below(4) {
                if buf.is_empty() {
                    break;
                }
                let at = rng.below(buf.len());
                buf[at] = ALPHABET[rng.below(ALPHABET.len())];
            }
            let _ = decode_extended_handshake(&buf);
            let _ = decode_metadata_message(&buf);
        }
    }
}
