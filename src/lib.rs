//! podseed: publish a podcast over HTTP and BitTorrent.
//!
//! The library holds every stage; `main.rs` only parses arguments and maps errors to exit
//! codes. `publish` is a pipeline (config → scan → probe → hash → metainfo → render →
//! write), see `DESIGN.md`.

pub mod cli;
pub mod config;
pub mod publish;
pub mod seeder;
pub mod serve;
pub mod tracker;
