//! podseed: publish a podcast over HTTP and BitTorrent.
//!
//! The library holds every stage; `main.rs` only parses arguments and maps errors to exit
//! codes. Modules are layered, and a module imports only from the layers below it:
//!
//! | layer | what it is for |
//! | --- | --- |
//! | [`cli`] | clap definitions, exit codes, the one place that prints for humans |
//! | [`serve`] | wires the listeners together: HTTP, UDP, WebSocket, seeder, reload |
//! | [`check`] | `podseed check`: the build's rules, and with `--online` its host and trackers probed |
//! | [`seeder`] | the BitTorrent peer side: wire sessions, storage, choking, announces, DHT |
//! | [`tracker`] | swarms and announce rules, shared by the HTTP, UDP and WebSocket fronts, and their codecs |
//! | [`catalog`] | what a build publishes, read from the manifest (serve's and the seeder's view) |
//! | [`publish`] | config → scan → probe → hash → metainfo → render → write |
//! | [`config`] | `podcast.yaml`: schema, defaults and every check, one file per section |
//! | [`bt`], [`net`] | shared BitTorrent values (`InfoHash`, `PeerId`, `BlockRequest`) and network plumbing (idle timeouts, per-address caps, the STUN codec) |
//!
//! Protocol codecs (the HTTP announce query, BEP 15 packets, WebTorrent JSON, the peer wire) are pure: bytes
//! in, typed values out, no sockets; the servers only move bytes.

pub mod bt;
pub mod catalog;
pub mod check;
pub mod cli;
pub mod config;
pub mod net;
pub mod publish;
pub mod seeder;
pub mod serve;
pub mod tracker;
