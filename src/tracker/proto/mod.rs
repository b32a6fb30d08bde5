//! The tracker's wire formats as pure codecs: the HTTP announce and scrape query with its
//! bencoded replies ([`http`]), BEP 15 packets ([`udp`]), and the WebTorrent tracker's JSON
//! messages ([`ws`]). Bytes in, typed values out, and back; no sockets, no swarm state.

pub mod http;
pub mod udp;
pub mod ws;
