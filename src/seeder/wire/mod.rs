//! The BitTorrent peer wire protocol as pure codecs, one file per part: the handshake
//! ([`handshake`]), the length-prefixed messages of BEP 3, 5 and 6 ([`message`]), the
//! extension handshake of BEP 10 ([`extended`]) and ut_metadata of BEP 9 ([`metadata`]).
//! Bytes go in and typed values come out, and back; nothing here touches a socket, a clock
//! or a torrent, so every rule is unit-tested with literal bytes and the connection task in
//! [`super::peer`] only moves bytes. Whatever a peer sends is untrusted: decoding never
//! panics, never allocates more than the caller's length cap, and never recurses deeper
//! than a small bound.

pub mod extended;
pub mod handshake;
pub mod message;
pub mod metadata;

use crate::bt::bencode;

pub use extended::{
    decode_extended_handshake, encode_our_extended_handshake, ExtendedHandshake, UT_METADATA_ID,
};
pub use handshake::{Handshake, PROTOCOL};
pub use message::{decode, encode, full_bitfield, piece_header, Message};
pub use metadata::{
    decode_metadata_message, encode_metadata_data, encode_metadata_reject, encode_metadata_request,
    MetadataError, MetadataMessage, METADATA_PIECE,
};

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
    BadExtended(#[source] bencode::DecodeError),
    /// A ut_metadata message that is not a valid bencoded request, data or reject.
    #[error("bad ut_metadata message: {0}")]
    BadMetadata(#[source] metadata::MetadataError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        ok.extend(std::iter::repeat_n(b'l', bencode::MAX_DEPTH - 1));
        ok.extend(std::iter::repeat_n(b'e', bencode::MAX_DEPTH));
        assert_eq!(
            decode_extended_handshake(&ok),
            Ok(ExtendedHandshake::default())
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            mut buf in proptest::collection::vec(any::<u8>(), 0..96),
            small_prefix in proptest::option::of(0u32..96),
            hs in proptest::array::uniform32(any::<u8>()),
        ) {
            // Most cases get a small length prefix so the body parsers are reached.
            if let (Some(n), true) = (small_prefix, buf.len() >= 4) {
                buf[..4].copy_from_slice(&n.to_be_bytes());
            }
            let mut used = 0;
            while let Ok(Some((_, n))) = decode(&buf[used..], 64) {
                prop_assert!(n >= 4 && used + n <= buf.len());
                used += n;
            }
            let mut handshake = [0u8; 68];
            handshake[..32].copy_from_slice(&hs);
            handshake[36..68].copy_from_slice(&hs);
            let _ = Handshake::decode(&handshake);
            let _ = decode_extended_handshake(&buf);
            let _ = decode_metadata_message(&buf);
        }

        #[test]
        fn bencode_shaped_noise_never_panics(
            seed in proptest::sample::select(vec![
                &b"d1:md11:ut_metadatai3ee13:metadata_sizei1234e4:reqqi250e1:v12:aria2/1.36.0e"[..],
                b"d8:msg_typei1e5:piecei0e10:total_sizei34256eexxxxxxxx",
                b"d8:msg_typei2e5:piecei0ee",
                b"",
            ]),
            edits in proptest::collection::vec(
                (any::<usize>(), proptest::sample::select(b"dlie0123456789:-x".to_vec())),
                0..6,
            ),
            tail in proptest::collection::vec(proptest::sample::select(b"dlie0123456789:-x".to_vec()), 0..24),
        ) {
            let mut buf = seed.to_vec();
            buf.extend_from_slice(&tail);
            for (at, c) in edits {
                if !buf.is_empty() {
                    let i = at % buf.len();
                    buf[i] = c;
                }
            }
            let _ = decode_extended_handshake(&buf);
            let _ = decode_metadata_message(&buf);
        }

        #[test]
        fn messages_round_trip(msg in message()) {
            let mut out = Vec::new();
            encode(&msg, &mut out);
            prop_assert_eq!(decode(&out, u32::MAX), Ok(Some((msg, out.len()))));
        }
    }

    /// Any message our encoder can write.
    fn message() -> impl Strategy<Value = Message> {
        let bytes = || proptest::collection::vec(any::<u8>(), 0..40);
        prop_oneof![
            Just(Message::KeepAlive),
            Just(Message::Choke),
            Just(Message::Unchoke),
            Just(Message::Interested),
            Just(Message::NotInterested),
            Just(Message::HaveAll),
            Just(Message::HaveNone),
            any::<u32>().prop_map(|index| Message::Have { index }),
            any::<u32>().prop_map(|index| Message::Suggest { index }),
            any::<u32>().prop_map(|index| Message::AllowedFast { index }),
            any::<u16>().prop_map(Message::Port),
            bytes().prop_map(Message::Bitfield),
            (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(index, begin, length)| {
                Message::Request {
                    index,
                    begin,
                    length,
                }
            }),
            (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(index, begin, length)| {
                Message::Cancel {
                    index,
                    begin,
                    length,
                }
            }),
            (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(index, begin, length)| {
                Message::Reject {
                    index,
                    begin,
                    length,
                }
            }),
            (any::<u32>(), any::<u32>(), bytes()).prop_map(|(index, begin, block)| {
                Message::Piece {
                    index,
                    begin,
                    block,
                }
            }),
            (any::<u8>(), bytes()).prop_map(|(id, payload)| Message::Extended { id, payload }),
        ]
    }
}
