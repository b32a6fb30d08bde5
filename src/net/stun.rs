//! STUN Binding (RFC 8489, which obsoletes RFC 5389) as a pure codec: a datagram in, a
//! typed request out, and the success or error response written back as bytes.
//!
//! This is what a browser asks a STUN server for while gathering ICE candidates: "from
//! where do you see me?". We answer it on the UDP tracker's port so that the show's page
//! needs no third-party STUN server. Only the server side of Binding: no authentication,
//! no TURN, no RFC 5780 NAT discovery (CHANGE-REQUEST gets 420 Unknown Attribute, as that
//! RFC asks of servers without it). No sockets here; `serve::udp` moves the bytes.

use std::net::{IpAddr, SocketAddr};

/// The fixed value at bytes 4..8 of every RFC 5389/8489 message.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// Bytes in a message header.
pub const HEADER_LEN: usize = 20;
/// The largest request we parse: browsers send under 100 bytes, and a limit keeps the
/// attribute walk short.
pub const MAX_REQUEST_LEN: usize = 1280;

/// Binding, the one method a plain STUN server offers.
const METHOD_BINDING: u16 = 0x001;
/// Message types (method and class interleaved as in RFC 8489 section 5).
const BINDING_SUCCESS: u16 = 0x0101;
const BINDING_ERROR: u16 = 0x0111;

const ATTR_ERROR_CODE: u16 = 0x0009;
const ATTR_UNKNOWN_ATTRIBUTES: u16 = 0x000A;
const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
const ATTR_SOFTWARE: u16 = 0x8022;
const ATTR_FINGERPRINT: u16 = 0x8028;
/// XORed into the CRC-32 of a FINGERPRINT ("STUN" in ASCII), RFC 8489 section 14.7.
const FINGERPRINT_XOR: u32 = 0x5354_554E;

/// Comprehension-required attributes (type below 0x8000) that a Binding request may carry
/// and that we understand well enough to ignore: RFC 8489's own (credentials we do not
/// check, since this server asks for none) and ICE's PRIORITY and USE-CANDIDATE (RFC 8445).
/// Any other one gets 420, as RFC 8489 section 6.3.1 requires.
const UNDERSTOOD: &[u16] = &[
    0x0001, // MAPPED-ADDRESS
    0x0006, // USERNAME
    0x0008, // MESSAGE-INTEGRITY
    0x0009, // ERROR-CODE
    0x000A, // UNKNOWN-ATTRIBUTES
    0x0014, // REALM
    0x0015, // NONCE
    0x001C, // MESSAGE-INTEGRITY-SHA256
    0x001D, // PASSWORD-ALGORITHM
    0x001E, // USERHASH
    0x0020, // XOR-MAPPED-ADDRESS
    0x0024, // PRIORITY
    0x0025, // USE-CANDIDATE
];

/// What we name ourselves in the SOFTWARE attribute (no version: it only helps debugging).
const SOFTWARE: &str = "podseed";

/// The 96-bit transaction id a response must echo.
pub type TransactionId = [u8; 12];

/// A Binding request we can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A well-formed Binding request: answer with the client's address.
    Binding {
        /// Echoed in the response.
        transaction_id: TransactionId,
    },
    /// A Binding request with comprehension-required attributes we do not know: answer
    /// with 420 listing them.
    UnknownAttributes {
        /// Echoed in the response.
        transaction_id: TransactionId,
        /// The unknown attribute types, in order of appearance, without repeats.
        attributes: Vec<u16>,
    },
}

/// Why a datagram is not a Binding request we answer. Every one of these is dropped
/// without a reply: a malformed message, a response or indication (nothing to answer), or
/// a method other than Binding (see [`parse_request`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StunError {
    /// Not STUN's shape at all (see [`is_stun`]).
    #[error("not a STUN message")]
    NotStun,
    /// Longer than [`MAX_REQUEST_LEN`].
    #[error("STUN message of {0} bytes is longer than {MAX_REQUEST_LEN}")]
    TooLong(usize),
    /// The header's length field disagrees with the datagram or is not a multiple of 4.
    #[error("STUN length field {field} does not match the {body} bytes after the header")]
    BadLength {
        /// The header's length field.
        field: u16,
        /// Bytes actually after the header.
        body: usize,
    },
    /// An attribute runs past the end of the message.
    #[error("STUN attribute {0:#06x} runs past the end of the message")]
    TruncatedAttribute(u16),
    /// FINGERPRINT is not a 4-byte value at the very end, where it must be.
    #[error("STUN FINGERPRINT is not the last attribute or not 4 bytes")]
    MisplacedFingerprint,
    /// The FINGERPRINT does not match the message.
    #[error("STUN FINGERPRINT does not match")]
    BadFingerprint,
    /// An indication, success or error response: nothing to answer.
    #[error("STUN message type {0:#06x} is not a request")]
    NotRequest(u16),
    /// A request for a method other than Binding (TURN's Allocate, for one).
    #[error("STUN method {0:#05x} is not Binding")]
    UnsupportedMethod(u16),
}

/// Whether a datagram has the shape of an RFC 5389/8489 message: at least a header, the
/// first two bits zero and the magic cookie at bytes 4..8.
///
/// This is how the UDP port tells STUN from BEP 15: a BEP 15 connect starts with the
/// protocol id 0x41727101980, whose bytes 4..8 are not the cookie, and announces and
/// scrapes start with a connection id, which `tracker::connection_id` never lets take
/// this shape.
pub fn is_stun(packet: &[u8]) -> bool {
    packet.len() >= HEADER_LEN
        && packet[0] & 0xC0 == 0
        && packet[4..8] == MAGIC_COOKIE.to_be_bytes()
}

/// Whether the first 8 bytes of a BEP 15 packet (the connection id, big-endian) would make
/// the packet look like STUN by [`is_stun`], given a long enough packet.
pub fn id_looks_like_stun(connection_id: u64) -> bool {
    (connection_id >> 62) == 0 && (connection_id & 0xFFFF_FFFF) as u32 == MAGIC_COOKIE
}

/// Parses a datagram that [`is_stun`] accepted.
///
/// Methods other than Binding are refused with [`StunError::UnsupportedMethod`] and the
/// caller drops them rather than answering 400: this port offers nothing but Binding, a
/// TURN client pointed at it fails the same way as at any STUN-only server that stays
/// silent, and a silent port reflects nothing toward a spoofed source.
pub fn parse_request(packet: &[u8]) -> Result<Request, StunError> {
    if !is_stun(packet) {
        return Err(StunError::NotStun);
    }
    if packet.len() > MAX_REQUEST_LEN {
        return Err(StunError::TooLong(packet.len()));
    }
    let message_type = u16_at(packet, 0);
    let field = u16_at(packet, 2);
    let body = packet.len() - HEADER_LEN;
    if usize::from(field) != body || field % 4 != 0 {
        return Err(StunError::BadLength { field, body });
    }
    let mut transaction_id = [0u8; 12];
    transaction_id.copy_from_slice(&packet[8..HEADER_LEN]);
    let unknown = walk_attributes(packet)?;
    // The class bits are 0x0110 of the type; the method is the other twelve bits.
    if message_type & 0x0110 != 0 {
        return Err(StunError::NotRequest(message_type));
    }
    let method =
        (message_type & 0x000F) | ((message_type & 0x00E0) >> 1) | ((message_type & 0x3E00) >> 2);
    if method != METHOD_BINDING {
        return Err(StunError::UnsupportedMethod(method));
    }
    if unknown.is_empty() {
        Ok(Request::Binding { transaction_id })
    } else {
        Ok(Request::UnknownAttributes {
            transaction_id,
            attributes: unknown,
        })
    }
}

/// Checks every attribute's bounds and a FINGERPRINT if there is one; returns the unknown
/// comprehension-required attribute types.
fn walk_attributes(packet: &[u8]) -> Result<Vec<u16>, StunError> {
    let mut unknown = Vec::new();
    let mut at = HEADER_LEN;
    while at < packet.len() {
        if packet.len() - at < 4 {
            return Err(StunError::TruncatedAttribute(0));
        }
        let kind = u16_at(packet, at);
        let len = usize::from(u16_at(packet, at + 2));
        let padded = len.div_ceil(4) * 4;
        if packet.len() - at - 4 < padded {
            return Err(StunError::TruncatedAttribute(kind));
        }
        if kind == ATTR_FINGERPRINT {
            if len != 4 || at + 8 != packet.len() {
                return Err(StunError::MisplacedFingerprint);
            }
            let claimed = u32::from_be_bytes([
                packet[at + 4],
                packet[at + 5],
                packet[at + 6],
                packet[at + 7],
            ]);
            if claimed != fingerprint(&packet[..at]) {
                return Err(StunError::BadFingerprint);
            }
        } else if kind < 0x8000 && !UNDERSTOOD.contains(&kind) && !unknown.contains(&kind) {
            unknown.push(kind);
        }
        at += 4 + padded;
    }
    Ok(unknown)
}

/// Writes a Binding success response carrying `mapped` (the address the request came
/// from) as XOR-MAPPED-ADDRESS, then SOFTWARE and FINGERPRINT.
pub fn write_binding_success(
    out: &mut Vec<u8>,
    transaction_id: &TransactionId,
    mapped: SocketAddr,
) {
    let start = out.len();
    write_header(out, BINDING_SUCCESS, transaction_id);
    write_xor_mapped_address(out, transaction_id, mapped);
    write_attribute(out, ATTR_SOFTWARE, SOFTWARE.as_bytes());
    finish(out, start);
}

/// Writes a Binding error response 420 (Unknown Attribute) with UNKNOWN-ATTRIBUTES.
pub fn write_unknown_attributes(
    out: &mut Vec<u8>,
    transaction_id: &TransactionId,
    attributes: &[u16],
) {
    let start = out.len();
    write_header(out, BINDING_ERROR, transaction_id);
    // ERROR-CODE: 21 reserved bits, the hundreds in 3 bits, the rest in 8, a reason.
    let mut error = vec![0, 0, 4, 20];
    error.extend_from_slice(b"Unknown Attribute");
    write_attribute(out, ATTR_ERROR_CODE, &error);
    let list: Vec<u8> = attributes.iter().flat_map(|a| a.to_be_bytes()).collect();
    write_attribute(out, ATTR_UNKNOWN_ATTRIBUTES, &list);
    finish(out, start);
}

/// The XOR-MAPPED-ADDRESS attribute for `mapped`: the port XORed with the cookie's top
/// half, the address with the cookie (IPv4) or the cookie and transaction id (IPv6).
fn write_xor_mapped_address(out: &mut Vec<u8>, transaction_id: &TransactionId, mapped: SocketAddr) {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let port = mapped.port() ^ (MAGIC_COOKIE >> 16) as u16;
    let mut value = Vec::with_capacity(20);
    match mapped.ip().to_canonical() {
        IpAddr::V4(ip) => {
            value.extend_from_slice(&[0, 0x01]);
            value.extend_from_slice(&port.to_be_bytes());
            value.extend(ip.octets().iter().zip(cookie).map(|(a, k)| a ^ k));
        }
        IpAddr::V6(ip) => {
            value.extend_from_slice(&[0, 0x02]);
            value.extend_from_slice(&port.to_be_bytes());
            let key = cookie.iter().chain(transaction_id.iter());
            value.extend(ip.octets().iter().zip(key).map(|(a, k)| a ^ k));
        }
    }
    write_attribute(out, ATTR_XOR_MAPPED_ADDRESS, &value);
}

fn write_header(out: &mut Vec<u8>, message_type: u16, transaction_id: &TransactionId) {
    out.extend_from_slice(&message_type.to_be_bytes());
    out.extend_from_slice(&[0, 0]); // length, set by `finish`
    out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    out.extend_from_slice(transaction_id);
}

fn write_attribute(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    // Values we write are a few dozen bytes at most.
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
    out.resize(out.len() + (4 - value.len() % 4) % 4, 0);
}

/// Appends FINGERPRINT to the message that starts at `start`, with the length field
/// counting it as RFC 8489 section 14.7 asks, and sets the final length.
fn finish(out: &mut Vec<u8>, start: usize) {
    let length = out.len() - start - HEADER_LEN + 8;
    set_length(out, start, length);
    let crc = fingerprint(&out[start..]);
    write_attribute(out, ATTR_FINGERPRINT, &crc.to_be_bytes());
}

fn set_length(out: &mut [u8], start: usize, length: usize) {
    let field = (length as u16).to_be_bytes();
    out[start + 2] = field[0];
    out[start + 3] = field[1];
}

/// The FINGERPRINT value of the message bytes before it (header length already counting it).
fn fingerprint(before: &[u8]) -> u32 {
    crc32fast::hash(before) ^ FINGERPRINT_XOR
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Hex as RFC 5769 prints it (spaces, line breaks) to bytes.
    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).expect("ascii"), 16).expect("hex"))
            .collect()
    }

    // RFC 5769 section 2.1, "Sample Request": Binding with SOFTWARE, PRIORITY,
    // ICE-CONTROLLED, USERNAME, MESSAGE-INTEGRITY and FINGERPRINT.
    const SAMPLE_REQUEST: &str = "
        00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
        00 24 00 04 6e 00 01 ff
        80 29 00 08 93 2f f9 b1 51 26 3b 36
        00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
        00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
        80 28 00 04 e5 7a 3b cf";

    // RFC 5769 section 2.2, "Sample IPv4 Response": 192.0.2.1:32853.
    const SAMPLE_IPV4_RESPONSE: &str = "
        01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
        00 20 00 08 00 01 a1 47 e1 12 a6 43
        00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
        80 28 00 04 c0 7d 4c 96";

    // RFC 5769 section 2.3, "Sample IPv6 Response":
    // [2001:db8:1234:5678:11:2233:4455:6677]:32853.
    const SAMPLE_IPV6_RESPONSE: &str = "
        01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
        00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
        00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
        80 28 00 04 c8 fb 0b 4c";

    const RFC_TID: TransactionId = [
        0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
    ];

    /// The attribute of type `kind` in a message, with its header.
    fn attribute(message: &[u8], kind: u16) -> Option<&[u8]> {
        let mut at = HEADER_LEN;
        while at + 4 <= message.len() {
            let len = usize::from(u16_at(message, at + 2));
            let end = at + 4 + len.div_ceil(4) * 4;
            if u16_at(message, at) == kind {
                return Some(&message[at..end]);
            }
            at = end;
        }
        None
    }

    #[test]
    fn xor_mapped_address_matches_rfc5769_ipv4_and_ipv6() {
        for (vector, addr) in [
            (SAMPLE_IPV4_RESPONSE, "192.0.2.1:32853"),
            (
                SAMPLE_IPV6_RESPONSE,
                "[2001:db8:1234:5678:11:2233:4455:6677]:32853",
            ),
        ] {
            let vector = hex(vector);
            let mut ours = Vec::new();
            write_binding_success(&mut ours, &RFC_TID, addr.parse().expect("addr"));
            assert_eq!(ours[..2], vector[..2], "{addr}: message type");
            assert_eq!(
                ours[4..HEADER_LEN],
                vector[4..HEADER_LEN],
                "{addr}: cookie, tid"
            );
            assert_eq!(
                attribute(&ours, ATTR_XOR_MAPPED_ADDRESS),
                attribute(&vector, ATTR_XOR_MAPPED_ADDRESS),
                "{addr}"
            );
        }
    }

    #[test]
    fn fingerprint_matches_rfc5769_vectors() {
        for vector in [SAMPLE_REQUEST, SAMPLE_IPV4_RESPONSE, SAMPLE_IPV6_RESPONSE] {
            let vector = hex(vector);
            let (before, fp) = vector.split_at(vector.len() - 8);
            assert_eq!(fp[..4], [0x80, 0x28, 0x00, 0x04]);
            assert_eq!(fingerprint(before).to_be_bytes(), fp[4..]);
        }
    }

    #[test]
    fn rfc5769_sample_request_is_a_binding_request() {
        // Its PRIORITY and USERNAME are understood, ICE-CONTROLLED and SOFTWARE are
        // comprehension-optional, and its FINGERPRINT checks out.
        assert_eq!(
            parse_request(&hex(SAMPLE_REQUEST)),
            Ok(Request::Binding {
                transaction_id: RFC_TID
            })
        );
    }

    #[test]
    fn our_responses_are_well_formed_with_a_valid_fingerprint() {
        for addr in ["127.0.0.1:40000", "[::1]:40000", "[::ffff:10.0.0.1]:9"] {
            let mut out = Vec::new();
            write_binding_success(&mut out, &RFC_TID, addr.parse().expect("addr"));
            assert!(is_stun(&out));
            assert_eq!(usize::from(u16_at(&out, 2)), out.len() - HEADER_LEN);
            assert_eq!(walk_attributes(&out), Ok(vec![]), "{addr}");
            let software = attribute(&out, ATTR_SOFTWARE).expect("SOFTWARE");
            assert_eq!(&software[4..11], b"podseed");
        }
        // A v4-mapped v6 address is answered as the IPv4 address it is.
        let mut out = Vec::new();
        write_binding_success(
            &mut out,
            &RFC_TID,
            "[::ffff:192.0.2.1]:32853".parse().expect("addr"),
        );
        assert_eq!(
            attribute(&out, ATTR_XOR_MAPPED_ADDRESS),
            attribute(&hex(SAMPLE_IPV4_RESPONSE), ATTR_XOR_MAPPED_ADDRESS)
        );
    }

    fn binding(attributes: &[u8]) -> Vec<u8> {
        let mut p = vec![0x00, 0x01];
        p.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
        p.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        p.extend_from_slice(&RFC_TID);
        p.extend_from_slice(attributes);
        p
    }

    #[test]
    fn a_bare_binding_request_parses() {
        assert_eq!(
            parse_request(&binding(&[])),
            Ok(Request::Binding {
                transaction_id: RFC_TID
            })
        );
    }

    #[test]
    fn unknown_required_attributes_get_420() {
        // CHANGE-REQUEST (RFC 5780) twice and an unassigned 0x7777; 0x8123 is optional.
        let attrs = hex("0003 0004 00000006  8123 0000  7777 0001 ab000000  0003 0004 00000000");
        let parsed = parse_request(&binding(&attrs));
        assert_eq!(
            parsed,
            Ok(Request::UnknownAttributes {
                transaction_id: RFC_TID,
                attributes: vec![0x0003, 0x7777]
            })
        );
        let mut out = Vec::new();
        write_unknown_attributes(&mut out, &RFC_TID, &[0x0003, 0x7777]);
        assert_eq!(u16_at(&out, 0), BINDING_ERROR);
        assert_eq!(&out[8..HEADER_LEN], &RFC_TID);
        let code = attribute(&out, ATTR_ERROR_CODE).expect("ERROR-CODE");
        assert_eq!(code[6..8], [4, 20]);
        assert_eq!(&code[8..25], b"Unknown Attribute");
        assert_eq!(
            attribute(&out, ATTR_UNKNOWN_ATTRIBUTES).expect("UNKNOWN-ATTRIBUTES"),
            &hex("000a 0004 0003 7777")[..]
        );
        assert_eq!(walk_attributes(&out), Ok(vec![]));
    }

    #[test]
    fn other_methods_classes_and_malformed_messages_are_refused() {
        let mut allocate = binding(&[]);
        allocate[1] = 0x03; // TURN Allocate request
        assert_eq!(
            parse_request(&allocate),
            Err(StunError::UnsupportedMethod(0x003))
        );
        let mut indication = binding(&[]);
        indication[1] = 0x11; // Binding indication (a keep-alive)
        assert_eq!(
            parse_request(&indication),
            Err(StunError::NotRequest(0x0011))
        );
        let success = hex(SAMPLE_IPV4_RESPONSE);
        assert_eq!(parse_request(&success), Err(StunError::NotRequest(0x0101)));

        let mut long = binding(&[]);
        long[3] = 4; // claims 4 bytes of attributes it does not have
        assert!(matches!(
            parse_request(&long),
            Err(StunError::BadLength { .. })
        ));
        let truncated = binding(&hex("0006 0009 65767400"));
        assert_eq!(
            parse_request(&truncated),
            Err(StunError::TruncatedAttribute(0x0006))
        );
        let mut bad_fp = hex(SAMPLE_REQUEST);
        let last = bad_fp.len() - 1;
        bad_fp[last] ^= 1;
        assert_eq!(parse_request(&bad_fp), Err(StunError::BadFingerprint));
        let mut after_fp = hex(SAMPLE_REQUEST);
        after_fp.extend_from_slice(&hex("8022 0000"));
        after_fp[3] += 4;
        assert_eq!(
            parse_request(&after_fp),
            Err(StunError::MisplacedFingerprint)
        );
        assert_eq!(parse_request(&[0u8; 19]), Err(StunError::NotStun));
        let mut rfc3489 = binding(&[]);
        rfc3489[4] = 0; // the classic protocol had no cookie
        assert_eq!(parse_request(&rfc3489), Err(StunError::NotStun));
    }

    #[test]
    fn bep15_connect_is_not_stun() {
        let mut connect = 0x0417_2710_1980u64.to_be_bytes().to_vec();
        connect.extend_from_slice(&[0; 12]);
        assert!(!is_stun(&connect));
        assert!(!id_looks_like_stun(0x0417_2710_1980));
        assert!(id_looks_like_stun(0x0000_0000_2112_A442));
        assert!(id_looks_like_stun(0x3FFF_FFFF_2112_A442));
        assert!(!id_looks_like_stun(0x4000_0000_2112_A442));
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_request(&bytes);
        }

        #[test]
        fn parse_never_panics_on_stun_shaped_input(
            message_type in 0u16..0x4000,
            tid in any::<[u8; 12]>(),
            body in proptest::collection::vec(any::<u8>(), 0..120),
            length_matches in any::<bool>(),
        ) {
            let mut p = message_type.to_be_bytes().to_vec();
            let len = if length_matches { body.len() as u16 } else { body.len() as u16 ^ 4 };
            p.extend_from_slice(&len.to_be_bytes());
            p.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
            p.extend_from_slice(&tid);
            p.extend_from_slice(&body);
            let _ = parse_request(&p);
        }

        #[test]
        fn responses_round_trip_any_address(
            tid in any::<[u8; 12]>(),
            v6 in any::<[u8; 16]>(),
            v4 in any::<[u8; 4]>(),
            port in any::<u16>(),
        ) {
            for ip in [IpAddr::from(v4), IpAddr::from(v6)] {
                let addr = SocketAddr::new(ip, port);
                let mut out = Vec::new();
                write_binding_success(&mut out, &tid, addr);
                prop_assert!(is_stun(&out));
                prop_assert_eq!(walk_attributes(&out), Ok(vec![]));
                prop_assert_eq!(decode_xor_mapped(&out), Some(SocketAddr::new(ip.to_canonical(), port)));
            }
        }
    }

    /// A client's reading of XOR-MAPPED-ADDRESS, for the round trip.
    fn decode_xor_mapped(message: &[u8]) -> Option<SocketAddr> {
        let a = attribute(message, ATTR_XOR_MAPPED_ADDRESS)?;
        let port = u16_at(a, 6) ^ 0x2112;
        let key: Vec<u8> = message[4..HEADER_LEN].to_vec();
        let ip = match a[5] {
            1 => {
                let o: [u8; 4] = std::array::from_fn(|i| a[8 + i] ^ key[i]);
                IpAddr::from(o)
            }
            2 => {
                let o: [u8; 16] = std::array::from_fn(|i| a[8 + i] ^ key[i]);
                IpAddr::from(o)
            }
            _ => return None,
        };
        Some(SocketAddr::new(ip, port))
    }
}
