//! The extension protocol's handshake (BEP 10): ours, and what we read of a peer's.
//! Pure: bytes in, values out; the bencode is `bt::bencode`'s.

use std::net::IpAddr;

use crate::bt::bencode;

use super::WireError;

/// The id WE assign to ut_metadata in our handshake's `m`: peers send us ut_metadata with it.
pub const UT_METADATA_ID: u8 = 1;
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

/// Our handshake: {m: {ut_metadata: 1}, metadata_size, reqq, upload_only: 1, v, yourip (4 or
/// 16 raw bytes)}, keys in bencode's sorted order.
pub fn encode_our_extended_handshake(
    metadata_size: u32,
    reqq: u32,
    client: &str,
    yourip: Option<IpAddr>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    bencode::dict(&mut out, |d| {
        d.dict(b"m", |m| {
            m.int(b"ut_metadata", i64::from(UT_METADATA_ID));
        })
        .int(b"metadata_size", i64::from(metadata_size))
        .int(b"reqq", i64::from(reqq))
        .int(b"upload_only", 1)
        .bytes(b"v", client.as_bytes());
        if let Some(ip) = yourip {
            // A v4-mapped v6 address is an IPv4 peer on a dual-stack socket: tell it 4 bytes.
            match ip.to_canonical() {
                IpAddr::V4(v4) => d.bytes(b"yourip", &v4.octets()),
                IpAddr::V6(v6) => d.bytes(b"yourip", &v6.octets()),
            };
        }
    });
    out
}

/// Parses a peer's extension handshake payload; unknown keys and ill-typed values are
/// ignored, and so are bytes after the dictionary.
pub fn decode_extended_handshake(payload: &[u8]) -> Result<ExtendedHandshake, WireError> {
    let (dict, _) = bencode::decode_prefix(payload).map_err(WireError::BadExtended)?;
    if !dict.is_dict() {
        // The first byte opens something other than a dictionary.
        return Err(WireError::BadExtended(bencode::DecodeError::Unexpected(0)));
    }
    let int = |v: &bencode::Value<'_>| v.as_int();
    // BEP 10: id 0 means "disabled"; ids are one byte, so anything else is unusable.
    let ut_metadata = dict
        .get(b"m")
        .and_then(|m| m.get(b"ut_metadata"))
        .and_then(int)
        .and_then(|n| u8::try_from(n).ok())
        .filter(|&n| n != 0);
    let reqq = dict
        .get(b"reqq")
        .and_then(int)
        .and_then(|n| u32::try_from(n).ok());
    let client = dict
        .get(b"v")
        .and_then(bencode::Value::as_bytes)
        .map(|b| String::from_utf8_lossy(b).into_owned());
    let upload_only = dict
        .get(b"upload_only")
        .and_then(int)
        .is_some_and(|n| n != 0);
    Ok(ExtendedHandshake {
        ut_metadata,
        reqq,
        client,
        upload_only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeder::wire::{decode, encode, Message};

    const MAX: u32 = 128 * 1024 + 13;

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
}
