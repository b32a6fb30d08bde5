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

/// Positions of keys and values by field path.
#[derive(Debug, Default)]
pub struct PositionIndex {
    values: HashMap<String, Position>,
    keys: HashMap<String, Position>,
}

impl PositionIndex {
    /// Indexes `source`; a document that does not scan yields an empty index.
    pub fn new(source: &str) -> Self {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(source);
        if parser.load(&mut builder, false).is_err() {
            return Self::default();
        }
        builder.index
    }

    /// Position of the value at `path`, else of the nearest enclosing node that has one.
    pub fn value(&self, path: &str) -> Option<Position> {
        let mut p = path;
        loop {
            if let Some(pos) = self.values.get(p) {
                return Some(*pos);
            }
            p = parent(p)?;
        }
    }

    /// Position of the key that names `path` (for unknown-field errors), else of its value.
    pub fn key(&self, path: &str) -> Option<Position> {
        self.keys.get(path).copied().or_else(|| self.value(path))
    }
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

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    index: PositionIndex,
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
                    self.index.keys.insert(join(path, &k), pos);
                    if !*seen_key {
                        // A block mapping's start mark lies after its first key; its first
                        // key is where a reader looks for it.
                        *seen_key = true;
                        self.index.values.insert(path.clone(), pos);
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
                    self.index.values.entry(p).or_insert(pos);
                }
            }
            Event::Alias(_) => {
                if let Some(p) = self.place(None, pos) {
                    self.index.values.entry(p).or_insert(pos);
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_map = matches!(ev, Event::MappingStart(..));
                let path = self.place(None, pos).unwrap_or_else(|| "?".to_string());
                self.index.values.entry(path.clone()).or_insert(pos);
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
        let idx = PositionIndex::new(src);
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
    fn broken_yaml_gives_empty_index() {
        let idx = PositionIndex::new("a: [1, 2\n");
        assert_eq!(idx.value("a"), None);
    }
}
