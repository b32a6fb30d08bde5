//! Bencode (BEP 3), the one codec podseed uses for it: `.torrent` files, tracker replies,
//! the extension handshake and ut_metadata.
//!
//! Writing goes straight into a byte buffer ([`dict`], [`DictWriter`]), with keys written
//! in the sorted order bencode requires (checked in debug builds), so hot paths such as
//! tracker replies build no tree. Reading ([`decode`], [`decode_prefix`]) borrows from the
//! input, never recurses deeper than [`MAX_DEPTH`] and allocates in proportion to the
//! input, since much of what it reads comes from peers. No I/O here.

/// Deepest nesting accepted when reading: torrents and peer messages need three or four
/// levels; the bound keeps hostile input far from the stack's end.
pub const MAX_DEPTH: usize = 32;

/// One bencoded value, borrowing its strings from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// `i…e`.
    Int(i64),
    /// `<len>:<bytes>`: text or binary, bencode does not tell them apart.
    Bytes(&'a [u8]),
    /// `l…e`.
    List(Vec<Value<'a>>),
    /// `d…e`, entries in input order.
    Dict(Vec<(&'a [u8], Value<'a>)>),
}

/// Why bytes are not bencode; positions are byte offsets into the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ends inside a value.
    #[error("truncated")]
    Truncated,
    /// An integer with no digits, a leading zero, `-0` or too many digits for 64 bits.
    #[error("bad integer at byte {0}")]
    BadInt(usize),
    /// A string length that is not digits followed by `:`.
    #[error("bad string length at byte {0}")]
    BadLength(usize),
    /// A dictionary key that is not a string.
    #[error("dictionary key at byte {0} is not a string")]
    KeyNotString(usize),
    /// A byte that starts no value.
    #[error("unexpected byte at {0}")]
    Unexpected(usize),
    /// Lists and dictionaries nested deeper than [`MAX_DEPTH`].
    #[error("nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// Bytes after a complete value where none may follow.
    #[error("{0} bytes after the value")]
    Trailing(usize),
}

impl<'a> Value<'a> {
    /// The value under `key`, when this is a dictionary that has it.
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        match self {
            Value::Dict(entries) => entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The integer, when this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The bytes, when this is a string.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The string as text, when it is UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.as_bytes()?).ok()
    }

    /// The items, when this is a list.
    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// Whether this is a dictionary.
    pub fn is_dict(&self) -> bool {
        matches!(self, Value::Dict(_))
    }

    /// Appends the encoding to `out`, dictionary keys sorted (canonical bencode).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(n) => write_int(out, *n),
            Value::Bytes(b) => write_bytes(out, b),
            Value::List(items) => {
                out.push(b'l');
                for v in items {
                    v.encode(out);
                }
                out.push(b'e');
            }
            Value::Dict(entries) => {
                let mut sorted: Vec<&(&[u8], Value<'_>)> = entries.iter().collect();
                sorted.sort_by_key(|(k, _)| *k);
                out.push(b'd');
                for (k, v) in sorted {
                    write_bytes(out, k);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }
}

/// Decodes a buffer that holds exactly one value.
pub fn decode(buf: &[u8]) -> Result<Value<'_>, DecodeError> {
    let (value, end) = decode_prefix(buf)?;
    match buf.len() - end {
        0 => Ok(value),
        n => Err(DecodeError::Trailing(n)),
    }
}

/// Decodes the value at the front of `buf` and says where it ends (ut_metadata data
/// messages carry raw bytes after their dictionary).
pub fn decode_prefix(buf: &[u8]) -> Result<(Value<'_>, usize), DecodeError> {
    // Structure and depth are checked first by a scan that allocates nothing, so a hostile
    // nesting is refused before any tree is built.
    let end = value_end(buf, 0, 0)?;
    let mut reader = Reader { buf, pos: 0 };
    let value = reader.value()?;
    debug_assert_eq!(reader.pos, end);
    Ok((value, end))
}

/// The raw bytes of the value under `key` in the dictionary that `buf` holds (a torrent's
/// info dict, whose exact bytes give the info hash and feed ut_metadata).
pub fn raw_value<'a>(buf: &'a [u8], key: &[u8]) -> Result<Option<&'a [u8]>, DecodeError> {
    value_end(buf, 0, 0)?;
    if buf.first() != Some(&b'd') {
        return Ok(None);
    }
    let mut pos = 1;
    while buf.get(pos) != Some(&b'e') {
        let key_end = value_end(buf, pos, 1)?;
        let mut reader = Reader { buf, pos };
        let k = reader.string()?;
        let end = value_end(buf, key_end, 1)?;
        if k == key {
            return Ok(buf.get(key_end..end));
        }
        pos = end;
    }
    Ok(None)
}

/// The offset just past the value that starts at `pos`, checking structure, integer
/// syntax, string lengths and depth without allocating.
fn value_end(buf: &[u8], pos: usize, depth: usize) -> Result<usize, DecodeError> {
    match buf.get(pos) {
        None => Err(DecodeError::Truncated),
        Some(b'i') => int_end(buf, pos).map(|(_, end)| end),
        Some(&open @ (b'l' | b'd')) => {
            if depth >= MAX_DEPTH {
                return Err(DecodeError::TooDeep);
            }
            let mut p = pos + 1;
            loop {
                match buf.get(p) {
                    None => return Err(DecodeError::Truncated),
                    Some(b'e') => return Ok(p + 1),
                    Some(c) => {
                        if open == b'd' {
                            if !c.is_ascii_digit() {
                                return Err(DecodeError::KeyNotString(p));
                            }
                            p = string_span(buf, p)?.1;
                        }
                        p = value_end(buf, p, depth + 1)?;
                    }
                }
            }
        }
        Some(b'0'..=b'9') => string_span(buf, pos).map(|(_, end)| end),
        Some(_) => Err(DecodeError::Unexpected(pos)),
    }
}

/// The integer at `pos` (which holds `i`) and the offset past its `e`.
fn int_end(buf: &[u8], pos: usize) -> Result<(i64, usize), DecodeError> {
    let start = pos + 1;
    let rest = buf.get(start..).unwrap_or_default();
    // 20 digits and a sign cover i64; a longer run is refused without scanning further.
    let len = rest
        .iter()
        .take(22)
        .position(|&c| c == b'e')
        .ok_or(if rest.len() < 22 {
            DecodeError::Truncated
        } else {
            DecodeError::BadInt(pos)
        })?;
    let text = rest.get(..len).unwrap_or_default();
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    let canonical = match digits {
        [] => false,
        [b'0'] => digits.len() == text.len(),
        [b'0', ..] => false,
        _ => digits.iter().all(u8::is_ascii_digit),
    };
    if !canonical {
        return Err(DecodeError::BadInt(pos));
    }
    let n = std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or(DecodeError::BadInt(pos))?;
    Ok((n, start + len + 1))
}

/// Where the bytes of the string at `pos` start and where the string ends.
fn string_span(buf: &[u8], pos: usize) -> Result<(usize, usize), DecodeError> {
    let mut p = pos;
    let mut len: usize = 0;
    loop {
        match buf.get(p) {
            Some(&c @ b'0'..=b'9') => {
                // A leading zero is only allowed for the empty string ("0:").
                if p > pos && buf.get(pos) == Some(&b'0') {
                    return Err(DecodeError::BadLength(pos));
                }
                len = len
                    .checked_mul(10)
                    .and_then(|l| l.checked_add(usize::from(c - b'0')))
                    .ok_or(DecodeError::BadLength(pos))?;
                p += 1;
            }
            Some(b':') if p > pos => break,
            Some(_) => return Err(DecodeError::BadLength(pos)),
            None => return Err(DecodeError::Truncated),
        }
    }
    let end = (p + 1)
        .checked_add(len)
        .ok_or(DecodeError::BadLength(pos))?;
    if end > buf.len() {
        return Err(DecodeError::Truncated);
    }
    Ok((p + 1, end))
}

/// Builds values from input that [`value_end`] already checked.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn value(&mut self) -> Result<Value<'a>, DecodeError> {
        match self.buf.get(self.pos) {
            Some(b'i') => {
                let (n, end) = int_end(self.buf, self.pos)?;
                self.pos = end;
                Ok(Value::Int(n))
            }
            Some(b'l') => {
                self.pos += 1;
                let mut items = Vec::new();
                while !self.at_end()? {
                    items.push(self.value()?);
                }
                Ok(Value::List(items))
            }
            Some(b'd') => {
                self.pos += 1;
                let mut entries = Vec::new();
                while !self.at_end()? {
                    let k = self.string()?;
                    entries.push((k, self.value()?));
                }
                Ok(Value::Dict(entries))
            }
            Some(_) => Ok(Value::Bytes(self.string()?)),
            None => Err(DecodeError::Truncated),
        }
    }

    fn string(&mut self) -> Result<&'a [u8], DecodeError> {
        let (start, end) = string_span(self.buf, self.pos)?;
        self.pos = end;
        self.buf.get(start..end).ok_or(DecodeError::Truncated)
    }

    /// Consumes the `e` closing a list or dictionary, if it is next.
    fn at_end(&mut self) -> Result<bool, DecodeError> {
        match self.buf.get(self.pos) {
            Some(b'e') => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => Err(DecodeError::Truncated),
        }
    }
}

/// Appends `i<n>e`.
pub fn write_int(out: &mut Vec<u8>, n: i64) {
    out.push(b'i');
    out.extend_from_slice(n.to_string().as_bytes());
    out.push(b'e');
}

/// Appends `<len>:<bytes>`.
pub fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

/// Appends a dictionary whose entries `fill` writes, in sorted key order.
pub fn dict(out: &mut Vec<u8>, fill: impl FnOnce(&mut DictWriter<'_>)) {
    out.push(b'd');
    fill(&mut DictWriter {
        out,
        #[cfg(debug_assertions)]
        last: None,
    });
    out.push(b'e');
}

/// Appends a list whose items `fill` writes.
pub fn list(out: &mut Vec<u8>, fill: impl FnOnce(&mut ListWriter<'_>)) {
    out.push(b'l');
    fill(&mut ListWriter { out });
    out.push(b'e');
}

/// Writes the entries of one dictionary; keys must come in ascending byte order.
pub struct DictWriter<'o> {
    out: &'o mut Vec<u8>,
    /// The previous key, to catch unsorted writers in tests (release builds skip it).
    #[cfg(debug_assertions)]
    last: Option<Vec<u8>>,
}

impl DictWriter<'_> {
    fn key(&mut self, key: &[u8]) -> &mut Vec<u8> {
        #[cfg(debug_assertions)]
        {
            assert!(
                self.last.as_deref().is_none_or(|last| last < key),
                "bencode keys out of order: {} after {:?}",
                key.escape_ascii(),
                self.last.as_deref().map(|l| l.escape_ascii().to_string())
            );
            self.last = Some(key.to_vec());
        }
        write_bytes(self.out, key);
        self.out
    }

    /// An integer entry.
    pub fn int(&mut self, key: &[u8], n: i64) -> &mut Self {
        write_int(self.key(key), n);
        self
    }

    /// A string entry.
    pub fn bytes(&mut self, key: &[u8], b: &[u8]) -> &mut Self {
        write_bytes(self.key(key), b);
        self
    }

    /// An entry whose value is already bencoded (a torrent's info dict).
    pub fn raw(&mut self, key: &[u8], encoded: &[u8]) -> &mut Self {
        self.key(key).extend_from_slice(encoded);
        self
    }

    /// A dictionary entry.
    pub fn dict(&mut self, key: &[u8], fill: impl FnOnce(&mut DictWriter<'_>)) -> &mut Self {
        dict(self.key(key), fill);
        self
    }

    /// A list entry.
    pub fn list(&mut self, key: &[u8], fill: impl FnOnce(&mut ListWriter<'_>)) -> &mut Self {
        list(self.key(key), fill);
        self
    }
}

/// Writes the items of one list.
pub struct ListWriter<'o> {
    out: &'o mut Vec<u8>,
}

impl ListWriter<'_> {
    /// An integer item.
    pub fn int(&mut self, n: i64) -> &mut Self {
        write_int(self.out, n);
        self
    }

    /// A string item.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        write_bytes(self.out, b);
        self
    }

    /// A dictionary item.
    pub fn dict(&mut self, fill: impl FnOnce(&mut DictWriter<'_>)) -> &mut Self {
        dict(self.out, fill);
        self
    }

    /// A list item.
    pub fn list(&mut self, fill: impl FnOnce(&mut ListWriter<'_>)) -> &mut Self {
        list(self.out, fill);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bep3_examples_decode() {
        assert_eq!(decode(b"4:spam"), Ok(Value::Bytes(b"spam")));
        assert_eq!(decode(b"0:"), Ok(Value::Bytes(b"")));
        assert_eq!(decode(b"i3e"), Ok(Value::Int(3)));
        assert_eq!(decode(b"i-3e"), Ok(Value::Int(-3)));
        assert_eq!(decode(b"i0e"), Ok(Value::Int(0)));
        assert_eq!(
            decode(b"l4:spam4:eggse"),
            Ok(Value::List(vec![
                Value::Bytes(b"spam"),
                Value::Bytes(b"eggs")
            ]))
        );
        assert_eq!(
            decode(b"d3:cow3:moo4:spam4:eggse"),
            Ok(Value::Dict(vec![
                (b"cow".as_slice(), Value::Bytes(b"moo")),
                (b"spam".as_slice(), Value::Bytes(b"eggs")),
            ]))
        );
    }

    #[test]
    fn non_canonical_and_broken_input_is_refused() {
        assert_eq!(decode(b"i-0e"), Err(DecodeError::BadInt(0)));
        assert_eq!(decode(b"i03e"), Err(DecodeError::BadInt(0)));
        assert_eq!(decode(b"ie"), Err(DecodeError::BadInt(0)));
        assert_eq!(
            decode(b"i99999999999999999999e"),
            Err(DecodeError::BadInt(0))
        );
        assert_eq!(decode(b"i12"), Err(DecodeError::Truncated));
        assert_eq!(decode(b"05:hello"), Err(DecodeError::BadLength(0)));
        assert_eq!(decode(b"5:hell"), Err(DecodeError::Truncated));
        assert_eq!(decode(b"di1ei2ee"), Err(DecodeError::KeyNotString(1)));
        assert_eq!(decode(b"x"), Err(DecodeError::Unexpected(0)));
        assert_eq!(decode(b"i1ei2e"), Err(DecodeError::Trailing(3)));
        assert_eq!(decode(b"l"), Err(DecodeError::Truncated));
        assert_eq!(
            decode(b"99999999999999999999999:"),
            Err(DecodeError::BadLength(0))
        );
    }

    #[test]
    fn deep_nesting_is_refused_before_building_anything() {
        let ok = format!("{}{}", "l".repeat(MAX_DEPTH), "e".repeat(MAX_DEPTH));
        assert!(decode(ok.as_bytes()).is_ok());
        let deep = format!("{}{}", "l".repeat(MAX_DEPTH + 1), "e".repeat(MAX_DEPTH + 1));
        assert_eq!(decode(deep.as_bytes()), Err(DecodeError::TooDeep));
        // A million open lists cost one pass and no stack.
        assert_eq!(decode(&vec![b'l'; 1_000_000]), Err(DecodeError::TooDeep));
    }

    #[test]
    fn a_prefix_says_where_it_ends() {
        let (v, end) = decode_prefix(b"d8:msg_typei1ee<raw data>").expect("prefix");
        assert_eq!(end, 15);
        assert_eq!(v.get(b"msg_type").and_then(Value::as_int), Some(1));
    }

    #[test]
    fn raw_value_returns_the_exact_bytes_of_an_entry() {
        let t = b"d8:announce3:url4:infod6:lengthi5e4:name1:xee";
        assert_eq!(
            raw_value(t, b"info"),
            Ok(Some(b"d6:lengthi5e4:name1:xe".as_slice()))
        );
        assert_eq!(raw_value(t, b"nope"), Ok(None));
        assert_eq!(raw_value(b"i1e", b"info"), Ok(None));
        assert!(raw_value(b"d4:info", b"info").is_err());
    }

    #[test]
    fn writers_produce_sorted_canonical_bencode() {
        let mut out = Vec::new();
        dict(&mut out, |d| {
            d.int(b"a", -5)
                .bytes(b"b", b"xy")
                .list(b"c", |l| {
                    l.int(0).bytes(b"").dict(|d| {
                        d.int(b"k", 1);
                    });
                })
                .raw(b"d", b"i7e");
        });
        assert_eq!(out, b"d1:ai-5e1:b2:xy1:cli0e0:d1:ki1eee1:di7ee");
        assert!(decode(&out).is_ok());
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "out of order")]
    fn unsorted_keys_are_caught_in_debug_builds() {
        dict(&mut Vec::new(), |d| {
            d.int(b"b", 1).int(b"a", 2);
        });
    }

    /// Any value with sorted, distinct keys: what every encoder here produces.
    fn value() -> impl Strategy<Value = Value<'static>> {
        fn leak(v: Vec<u8>) -> &'static [u8] {
            Box::leak(v.into_boxed_slice())
        }
        let leaf = prop_oneof![
            any::<i64>().prop_map(Value::Int),
            proptest::collection::vec(any::<u8>(), 0..12).prop_map(|b| Value::Bytes(leak(b))),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
                proptest::collection::btree_map(
                    proptest::collection::vec(any::<u8>(), 0..6),
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Dict(m.into_iter().map(|(k, v)| (leak(k), v)).collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn encoded_values_decode_to_themselves(v in value()) {
            let mut out = Vec::new();
            v.encode(&mut out);
            prop_assert_eq!(decode(&out), Ok(v));
        }

        #[test]
        fn decoding_then_encoding_gives_the_same_bytes(v in value()) {
            let mut first = Vec::new();
            v.encode(&mut first);
            let mut second = Vec::new();
            decode(&first).expect("decodes").encode(&mut second);
            prop_assert_eq!(first, second);
        }

        #[test]
        fn arbitrary_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok((_, end)) = decode_prefix(&buf) {
                prop_assert!(end <= buf.len());
            }
            let _ = raw_value(&buf, b"info");
        }

        #[test]
        fn bencode_shaped_noise_never_panics(
            buf in proptest::collection::vec(proptest::sample::select(b"dlie0123456789:-x".to_vec()), 0..64)
        ) {
            let _ = decode(&buf);
            let _ = raw_value(&buf, b"info");
        }
    }
}
