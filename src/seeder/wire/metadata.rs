//! ut_metadata (BEP 9): the request, data and reject messages that let a magnet-link client
//! fetch a torrent's info dict from us. Pure: bytes in, values out; the bencode is
//! `bt::bencode`'s.

use crate::bt::bencode;

use super::WireError;

/// Size of a ut_metadata piece; only the last piece of the info dict may be shorter (BEP 9).
pub const METADATA_PIECE: usize = 16 * 1024;

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

/// What is wrong with a ut_metadata message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// It is not bencode.
    #[error(transparent)]
    Bencode(#[from] bencode::DecodeError),
    /// A field its type needs is missing or out of range.
    #[error("{0}")]
    Field(&'static str),
}

/// Parses a ut_metadata payload: a bencoded dict, followed by raw data for msg_type 1,
/// which is not parsed (an info dict looks like bencode too).
pub fn decode_metadata_message(payload: &[u8]) -> Result<MetadataMessage, WireError> {
    let bad = |why: &'static str| WireError::BadMetadata(MetadataError::Field(why));
    let (dict, _) = bencode::decode_prefix(payload)
        .map_err(|e| WireError::BadMetadata(MetadataError::Bencode(e)))?;
    if !dict.is_dict() {
        return Err(bad("not a dictionary"));
    }
    let msg_type = dict
        .get(b"msg_type")
        .and_then(bencode::Value::as_int)
        .ok_or(bad("no integer msg_type"))?;
    let u32_key = |key: &'static str, why: &'static str| {
        dict.get(key.as_bytes())
            .and_then(bencode::Value::as_int)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(bad(why))
    };
    let piece = || u32_key("piece", "no piece between 0 and 2^32-1");
    Ok(match msg_type {
        0 => MetadataMessage::Request { piece: piece()? },
        1 => MetadataMessage::Data {
            piece: piece()?,
            total_size: u32_key("total_size", "no total_size between 0 and 2^32-1")?,
        },
        2 => MetadataMessage::Reject { piece: piece()? },
        other => MetadataMessage::Unknown { msg_type: other },
    })
}

/// ut_metadata request payload: {msg_type: 0, piece}.
pub fn encode_metadata_request(piece: u32) -> Vec<u8> {
    metadata_dict(0, piece, None)
}

/// ut_metadata data message payload: bencoded {msg_type: 1, piece, total_size} followed by
/// `data` (16 KiB pieces of the info dict).
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
    let mut out = Vec::with_capacity(48);
    bencode::dict(&mut out, |d| {
        d.int(b"msg_type", i64::from(msg_type))
            .int(b"piece", i64::from(piece));
        if let Some(size) = total_size {
            d.int(b"total_size", i64::from(size));
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeder::wire::{decode, encode, Message, UT_METADATA_ID};

    const MAX: u32 = 128 * 1024 + 13;

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
}
