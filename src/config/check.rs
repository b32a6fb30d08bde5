//! The plumbing that reads `podcast.yaml` field by field: [`Checker`] collects every
//! problem with its `file:LINE:COL`, and [`Fields`] reads one mapping's keys as text,
//! numbers, booleans, URLs or lists, reporting wrong types and, at the end, unknown keys.
//! It knows no section's schema or defaults; the section files (`show`, `serve`, ...) do.

use std::collections::BTreeSet;

use serde_norway::{Mapping, Value};
use url::Url;

use super::{Position, PositionIndex, Problem};

/// Collects the problems of one config file, each located by its field path.
pub(super) struct Checker<'t> {
    file: String,
    text: &'t str,
    /// Built at the first problem: a clean config is parsed once, not twice.
    index: Option<PositionIndex<'t>>,
    problems: Vec<Problem>,
    /// Problems past [`MAX_PROBLEMS`], counted, not kept.
    more: usize,
    /// Whether a check stopped early because the list was full (so `more` is a lower bound).
    cut_short: bool,
}

/// Problems listed at most: a file with thousands of bad entries gets the first ones and a
/// count, in bounded memory and output.
pub(super) const MAX_PROBLEMS: usize = 100;

/// The end of the closing line of a list cut at [`MAX_PROBLEMS`].
pub(super) const MORE_NOT_LISTED: &str = "more problems not listed; fix these first";

impl<'t> Checker<'t> {
    /// A checker for `text`, the contents of the config named `file`.
    pub(super) fn new(file: String, text: &'t str) -> Checker<'t> {
        Checker {
            file,
            text,
            index: None,
            problems: Vec::new(),
            more: 0,
            cut_short: false,
        }
    }

    /// Where things are in the text, indexed on first use.
    fn index(&mut self) -> &mut PositionIndex<'t> {
        let text = self.text;
        self.index.get_or_insert_with(|| PositionIndex::new(text))
    }

    /// Position of the value at `path` (see [`PositionIndex::value`]).
    pub(super) fn value_position(&mut self, path: &str) -> Option<Position> {
        if self.is_full() {
            return None;
        }
        self.index().value(path)
    }

    /// Position of the key at `path` (see [`PositionIndex::key`]).
    pub(super) fn key_position(&mut self, path: &str) -> Option<Position> {
        if self.is_full() {
            return None;
        }
        self.index().key(path)
    }

    /// Whether [`MAX_PROBLEMS`] are listed: a long list's remaining checks may stop, so a
    /// file of a million bad entries costs no more than reading it.
    pub(super) fn is_full(&self) -> bool {
        self.problems.len() >= MAX_PROBLEMS
    }

    /// Notes that a check stopped early because the list was full.
    pub(super) fn cut_short(&mut self) {
        self.cut_short = true;
    }

    /// The problems found, in the order of the file.
    pub(super) fn into_problems(mut self) -> Vec<Problem> {
        // In the order of the file, whatever order the checks ran in; problems of the whole
        // file (no position) last. Stable, so one place keeps its checks' order.
        self.problems
            .sort_by_key(|p| p.position.map_or((usize::MAX, 0), |p| (p.line, p.column)));
        if self.more > 0 || self.cut_short {
            self.problems.push(Problem {
                file: self.file.clone(),
                position: None,
                field: String::new(),
                // Cut short, the count would be a guess: say only that there are more.
                message: if self.cut_short {
                    MORE_NOT_LISTED.to_string()
                } else {
                    format!("{} {MORE_NOT_LISTED}", self.more)
                },
            });
        }
        self.problems
    }

    /// Whether nothing was wrong.
    pub(super) fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// Reports `message` at the value of `field`.
    pub(super) fn problem(&mut self, field: &str, message: impl Into<String>) {
        let position = self.value_position(field);
        self.push(field, position, message.into());
    }

    /// Reports `message` for `field` at an explicit position.
    pub(super) fn push(&mut self, field: &str, position: Option<Position>, message: String) {
        if self.problems.len() >= MAX_PROBLEMS {
            self.more += 1;
            return;
        }
        self.problems.push(Problem {
            file: self.file.clone(),
            position,
            field: field.to_string(),
            message,
        });
    }
}

/// Reads the fields of one mapping, remembering which were used so the rest are "unknown".
pub(super) struct Fields<'a> {
    map: Option<&'a Mapping>,
    path: String,
    used: BTreeSet<&'static str>,
}

impl<'a> Fields<'a> {
    /// Starts reading `value` (at `path`), which must be a mapping or nothing.
    pub(super) fn new(c: &mut Checker, value: &'a Value, path: &str) -> Fields<'a> {
        let map = match value {
            Value::Mapping(m) => Some(m),
            Value::Null => None,
            other => {
                c.problem(path, format!("expected a mapping, found {}", kind(other)));
                None
            }
        };
        Fields {
            map,
            path: path.to_string(),
            used: BTreeSet::new(),
        }
    }

    /// The path of `key` in this mapping, such as `serve.http`.
    pub(super) fn field_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The raw value of `key` and its path, None when absent or null.
    pub(super) fn get(&mut self, key: &'static str) -> Option<(&'a Value, String)> {
        self.used.insert(key);
        let v = self.map?.get(key)?;
        if v.is_null() {
            return None;
        }
        Some((v, self.field_path(key)))
    }

    /// `key` as text (numbers and booleans spelled out).
    pub(super) fn text(&mut self, c: &mut Checker, key: &'static str) -> Option<String> {
        let (v, path) = self.get(key)?;
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => {
                c.problem(&path, format!("expected text, found {}", kind(other)));
                None
            }
        }
    }

    /// `key` as non-empty text, reported as missing when absent.
    pub(super) fn required_text(&mut self, c: &mut Checker, key: &'static str) -> Option<String> {
        let t = self.text(c, key);
        match t {
            Some(s) if !s.trim().is_empty() => Some(s),
            Some(_) => {
                let path = self.field_path(key);
                c.problem(&path, "must not be empty");
                None
            }
            None => {
                if self.missing(key) {
                    self.report_missing(c, key, "this field is required");
                }
                None
            }
        }
    }

    /// Reports `key` as missing, at the mapping that should hold it.
    pub(super) fn report_missing(&self, c: &mut Checker, key: &'static str, why: &str) {
        let path = self.field_path(key);
        let pos = c.value_position(&self.path);
        c.push(&path, pos, format!("missing: {why}"));
    }

    /// `key` as `true` or `false`.
    pub(super) fn boolean(&mut self, c: &mut Checker, key: &'static str) -> Option<bool> {
        let (v, path) = self.get(key)?;
        match v {
            Value::Bool(b) => Some(*b),
            other => {
                c.problem(
                    &path,
                    format!("expected true or false, found {}", kind(other)),
                );
                None
            }
        }
    }

    /// `key` as a whole number ≥ 0.
    pub(super) fn number(&mut self, c: &mut Checker, key: &'static str) -> Option<u64> {
        let (v, path) = self.get(key)?;
        match v.as_u64() {
            Some(n) => Some(n),
            None => {
                c.problem(
                    &path,
                    format!("expected a whole number ≥ 0, found {}", kind(v)),
                );
                None
            }
        }
    }

    /// `key` as a whole number that fits 32 bits.
    pub(super) fn small_number(&mut self, c: &mut Checker, key: &'static str) -> Option<u32> {
        let n = self.number(c, key)?;
        match u32::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                let path = self.field_path(key);
                c.problem(&path, format!("{n} is too large"));
                None
            }
        }
    }

    /// `key` as an http:// or https:// URL.
    pub(super) fn url(&mut self, c: &mut Checker, key: &'static str) -> Option<Url> {
        let text = self.text(c, key)?;
        let path = self.field_path(key);
        parse_http_url(c, &path, &text)
    }

    /// `key` as a list: each item with its path (`key[i]`).
    pub(super) fn list(&mut self, c: &mut Checker, key: &'static str) -> Vec<(&'a Value, String)> {
        let Some((v, path)) = self.get(key) else {
            return Vec::new();
        };
        match v {
            Value::Sequence(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (item, format!("{path}[{i}]")))
                .collect(),
            other => {
                c.problem(&path, format!("expected a list, found {}", kind(other)));
                Vec::new()
            }
        }
    }

    /// Whether this is a mapping in which `key` is absent or null.
    pub(super) fn missing(&self, key: &str) -> bool {
        self.map
            .is_some_and(|m| m.get(key).is_none_or(Value::is_null))
    }

    /// Whether this is a mapping without `key` at all (a null value counts as present).
    pub(super) fn absent(&self, key: &str) -> bool {
        self.map.is_some_and(|m| m.get(key).is_none())
    }

    /// Reports keys that no reader asked for.
    pub(super) fn finish(self, c: &mut Checker) {
        let Some(map) = self.map else { return };
        for key in map.keys() {
            let name = match key {
                Value::String(s) => s.clone(),
                other => format!("{other:?}"),
            };
            if !self.used.contains(name.as_str()) {
                let path = if self.path.is_empty() {
                    name.clone()
                } else {
                    format!("{}.{name}", self.path)
                };
                let known: Vec<&str> = self.used.iter().copied().collect();
                let pos = c.key_position(&path);
                c.push(
                    &path,
                    pos,
                    format!("unknown field; expected one of: {}", known.join(", ")),
                );
            }
        }
    }
}

/// How a YAML value is named in messages ("a list", "text", ...).
pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// `text` as an http:// or https:// URL with a host, else a problem at `path`.
pub(super) fn parse_http_url(c: &mut Checker, path: &str, text: &str) -> Option<Url> {
    match Url::parse(text.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
        Ok(u) => {
            c.problem(
                path,
                format!(
                    "expected an http:// or https:// URL, found scheme {:?}",
                    u.scheme()
                ),
            );
            None
        }
        Err(e) => {
            c.problem(
                path,
                format!(
                    "{text:?} is not a valid URL ({e}); expected e.g. https://example.com/podcast/"
                ),
            );
            None
        }
    }
}
