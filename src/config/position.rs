//! Where each node of a YAML document stands (line and column), so that a validation error
//! found on the parsed value can point at `podcast.yaml:LINE:COL`.
//!
//! serde_norway parses the document but keeps no spans; yaml-rust2's event parser does, so
//! this module walks its events once and records the position of every key and value by its
//! field path (`torrent.piece_length`, `episodes[2].date`). It knows nothing of the schema.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A 1-based line and column in the YAML source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// Positions of keys and values by field path, read from the text as far as the lookups
/// need: the first problems of a long file cost a short read, not a parse of the whole file.
pub struct PositionIndex<'t> {
    builder: Builder,
    /// The event parser, where it stopped; None once the document is read (or broken).
    parser: Option<Parser<std::str::Chars<'t>>>,
    /// Where a problem of the whole document points when nothing nearer is known: its
    /// first line (None for an empty document).
    start: Option<Position>,
}

impl<'t> PositionIndex<'t> {
    /// An index of `source`, read on demand. Of a document that yaml-rust2 cannot scan
    /// (serde_norway reads a few that it cannot, such as tabs after a colon) only what
    /// comes before the error is indexed; a problem elsewhere points at the first line.
    pub fn new(source: &'t str) -> Self {
        PositionIndex {
            builder: Builder::default(),
            parser: Some(Parser::new_from_str(source)),
            start: (!source.trim().is_empty()).then_some(Position { line: 1, column: 1 }),
        }
    }

    /// Reads events until `found` holds and one event more (a block mapping's position is
    /// its first key, which the event after its start gives), or to the document's end.
    fn read_until(&mut self, found: impl Fn(&Places) -> bool) {
        let mut extra = 1;
        loop {
            if found(&self.builder.places) {
                if extra == 0 {
                    return;
                }
                extra -= 1;
            }
            let Some(parser) = self.parser.as_mut() else {
                return;
            };
            match parser.next_token() {
                Ok((Event::StreamEnd | Event::DocumentEnd, _)) | Err(_) => self.parser = None,
                Ok((ev, mark)) => self.builder.on_event(ev, mark),
            }
        }
    }

    /// Position of the value at `path`, else of the nearest enclosing node that has one.
    pub fn value(&mut self, path: &str) -> Option<Position> {
        self.read_until(|p| p.values.contains_key(path));
        let mut p = path;
        loop {
            if let Some(pos) = self.builder.places.values.get(p) {
                return Some(*pos);
            }
            let Some(up) = parent(p) else {
                return self.start;
            };
            p = up;
        }
    }

    /// Position of the key that names `path` (for unknown-field errors), else of its value.
    pub fn key(&mut self, path: &str) -> Option<Position> {
        self.read_until(|p| p.keys.contains_key(path));
        match self.builder.places.keys.get(path) {
            Some(pos) => Some(*pos),
            None => self.value(path),
        }
    }
}

/// Where a document that does not load as one YAML mapping goes wrong, for the errors
/// serde_norway gives no useful position: the second of two equal keys in a mapping, the
/// start of a second document, or where the scanner stopped.
pub fn structure_error(source: &str) -> Option<Position> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(source);
    let scanned = parser.load(&mut builder, true);
    if let Some(repeat) = builder.repeated_key {
        return Some(repeat);
    }
    if let Some(second) = builder.documents.get(1) {
        return Some(*second);
    }
    scanned.err().map(|e| Position {
        line: e.marker().line(),
        column: e.marker().col() + 1,
    })
}

fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '[']).unwrap_or(0);
    Some(&path[..cut])
}

enum Frame {
    Map {
        path: String,
        key: Option<String>,
        seen_key: bool,
    },
    Seq {
        path: String,
        next: usize,
    },
}

/// What the event walk found so far.
#[derive(Default)]
struct Places {
    values: HashMap<String, Position>,
    keys: HashMap<String, Position>,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    places: Places,
    /// The first key seen twice in one mapping, where it is seen the second time.
    repeated_key: Option<Position>,
    /// Where each document starts.
    documents: Vec<Position>,
}

impl Builder {
    /// Path of the node now starting, or None if it is a mapping key (recorded separately).
    fn place(&mut self, scalar: Option<&str>, pos: Position) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Seq { path, next }) => {
                let p = format!("{path}[{next}]");
                *next += 1;
                Some(p)
            }
            Some(Frame::Map {
                path,
                key,
                seen_key,
            }) => match key.take() {
                Some(k) => Some(join(path, &k)),
                None => {
                    // A key: remember it; complex (non-scalar) keys are named by "?".
                    let k = scalar.unwrap_or("?").to_string();
                    let earlier = self.places.keys.insert(join(path, &k), pos);
                    if earlier.is_some() && scalar.is_some() && self.repeated_key.is_none() {
                        self.repeated_key = Some(pos);
                    }
                    if !*seen_key {
                        // A block mapping's start mark lies after its first key; its first
                        // key is where a reader looks for it.
                        *seen_key = true;
                        self.places.values.insert(path.clone(), pos);
                    }
                    *key = Some(k);
                    None
                }
            },
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = Position {
            line: mark.line(),
            column: mark.col() + 1,
        };
        match ev {
            Event::Scalar(ref value, ..) => {
                if let Some(p) = self.place(Some(value), pos) {
                    self.places.values.entry(p).or_insert(pos);
                }
            }
            Event::Alias(_) => {
                if let Some(p) = self.place(None, pos) {
                    self.places.values.entry(p).or_insert(pos);
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_map = matches!(ev, Event::MappingStart(..));
                let path = self.place(None, pos).unwrap_or_else(|| "?".to_string());
                self.places.values.entry(path.clone()).or_insert(pos);
                self.stack.push(if is_map {
                    Frame::Map {
                        path,
                        key: None,
                        seen_key: false,
                    }
                } else {
                    Frame::Seq { path, next: 0 }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::DocumentStart => {
                // Keys repeat across documents without being duplicates.
                self.places.keys.clear();
                self.documents.push(pos);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_nested_keys_and_values() {
        let src = "title: Show\ntorrent:\n  piece_length: 3\nepisodes:\n  - file: a.mp3\n    date: nope\n";
        let mut idx = PositionIndex::new(src);
        assert_eq!(idx.value("title"), Some(Position { line: 1, column: 8 }));
        assert_eq!(
            idx.key("torrent.piece_length"),
            Some(Position { line: 3, column: 3 })
        );
        assert_eq!(
            idx.value("torrent.piece_length"),
            Some(Position {
                line: 3,
                column: 17
            })
        );
        assert_eq!(
            idx.value("episodes[0].date"),
            Some(Position {
                line: 6,
                column: 11
            })
        );
        // A path that is absent falls back to its nearest parent.
        assert_eq!(
            idx.value("episodes[0].guid"),
            Some(Position { line: 5, column: 5 })
        );
    }

    #[test]
    fn broken_yaml_keeps_what_came_before_and_falls_back_to_the_first_line() {
        let mut idx = PositionIndex::new("a: 1\nb: [1, 2\n");
        assert_eq!(idx.value("a"), Some(Position { line: 1, column: 4 }));
        let mut idx = PositionIndex::new("title:\tone.mp3");
        assert_eq!(
            idx.value("description"),
            Some(Position { line: 1, column: 1 })
        );
        assert_eq!(PositionIndex::new("  \n").value("title"), None);
    }
}
