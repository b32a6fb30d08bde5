//! One peer connection of the seeder: handshake, then answer requests while unchoked.
//!
//! A single task per connection reads messages (decoded by [`super::wire`]), keeps the
//! peer's queue of requests (at most `reqq`), and sends blocks from [`super::storage`] when
//! the choker allows. Everything a peer sends is validated; a peer that breaks the protocol
//! or stays silent too long is dropped, and nothing it does reaches another connection.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::publish::metainfo::InfoHash;

use super::storage::{SeededTorrent, StorageError};
use super::wire::{self, Handshake, Message, MetadataMessage, METADATA_PIECE};
use super::Seeder;

/// Time a peer has to send its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A peer silent this long is dropped (BEP 3 peers keep-alive every 2 minutes).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(180);
/// How often we send a keep-alive when we have nothing else to say.
const KEEPALIVE_EVERY: Duration = Duration::from_secs(90);
/// Largest message we accept: a 16 KiB block plus headers is the biggest a leecher sends
/// us; extension messages are small. Anything longer is abuse.
pub const MAX_MESSAGE: u32 = 64 * 1024;
/// Requests queued per peer (advertised as `reqq`).
pub const REQQ: usize = 250;
/// Blocks are gathered into writes of about this size.
const BATCH_BYTES: usize = 256 * 1024;

/// Why a connection ended (for the debug log).
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// Socket trouble or the peer hung up.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The peer broke the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// Not one of our torrents, or no longer seeded.
    #[error("unknown or disabled torrent")]
    UnknownTorrent,
    /// No handshake in time, or silent too long.
    #[error("timed out")]
    Timeout,
}

/// Serves one incoming connection until it ends.
pub async fn serve(
    mut stream: TcpStream,
    addr: SocketAddr,
    seeder: Arc<Seeder>,
) -> Result<(), PeerError> {
    let mut hs = [0u8; Handshake::LEN];
    tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.read_exact(&mut hs))
        .await
        .map_err(|_| PeerError::Timeout)??;
    let theirs = Handshake::decode(&hs).map_err(|e| PeerError::Protocol(e.to_string()))?;
    let torrent = seeder
        .torrent(&InfoHash(theirs.info_hash))
        .filter(|t| t.is_active())
        .ok_or(PeerError::UnknownTorrent)?;
    let mut out = Vec::with_capacity(64 * 1024);
    out.extend_from_slice(&Handshake::ours(theirs.info_hash, seeder.peer_id).encode());
    let fast = theirs.supports_fast();
    if theirs.supports_extensions() {
        let payload = wire::encode_our_extended_handshake(
            torrent.info_bytes.len() as u32,
            REQQ as u32,
            concat!("podseed ", env!("CARGO_PKG_VERSION")),
            Some(addr.ip().to_canonical()),
        );
        wire::encode(&Message::Extended { id: 0, payload }, &mut out);
    }
    if fast {
        wire::encode(&Message::HaveAll, &mut out);
    } else {
        wire::encode(
            &Message::Bitfield(wire::full_bitfield(torrent.piece_count())),
            &mut out,
        );
    }
    stream.write_all(&out).await?;

    let (key, mut unchoked) = seeder.choker.join();
    let result = Session {
        seeder: &seeder,
        torrent: &torrent,
        fast,
        their_metadata_id: None,
        queue: VecDeque::new(),
        choked_sent: true,
        key,
    }
    .run(&mut stream, &mut unchoked)
    .await;
    seeder.choker.leave(key);
    result
}

struct Session<'a> {
    seeder: &'a Arc<Seeder>,
    torrent: &'a Arc<SeededTorrent>,
    fast: bool,
    their_metadata_id: Option<u8>,
    queue: VecDeque<(u32, u32, u32)>,
    /// What we last told the peer.
    choked_sent: bool,
    key: u64,
}

impl Session<'_> {
    async fn run(
        mut self,
        stream: &mut TcpStream,
        unchoked: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), PeerError> {
        let (mut reader, mut writer) = stream.split();
        let mut buf: Vec<u8> = Vec::with_capacity(32 * 1024);
        let mut out: Vec<u8> = Vec::with_capacity(64 * 1024);
        let mut chunk = vec![0u8; 32 * 1024];
        let mut keepalive = tokio::time::interval(KEEPALIVE_EVERY);
        keepalive.tick().await;
        let mut last_heard = tokio::time::Instant::now();
        loop {
            if !self.torrent.is_active() {
                return Err(PeerError::UnknownTorrent);
            }
            // The block at the front of the queue is read without holding `self`, and taken
            // off the queue only once read: a Cancel that arrives meanwhile wins.
            let front = if self.choked_sent {
                None
            } else {
                self.queue.front().copied()
            };
            let torrent = self.torrent.clone();
            let read_front = async move {
                match front {
                    Some((i, b, l)) => Some(((i, b, l), torrent.block(i, b, l).await)),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                n = reader.read(&mut chunk) => {
                    let n = n?;
                    if n == 0 {
                        return Ok(());
                    }
                    last_heard = tokio::time::Instant::now();
                    buf.extend_from_slice(&chunk[..n]);
                    let mut used = 0;
                    while let Some((msg, len)) = wire::decode(&buf[used..], MAX_MESSAGE)
                        .map_err(|e| PeerError::Protocol(e.to_string()))?
                    {
                        used += len;
                        self.handle(msg, &mut out)?;
                    }
                    buf.drain(..used);
                }
                changed = unchoked.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    let now_unchoked = *unchoked.borrow_and_update();
                    self.choked_sent = !now_unchoked;
                    wire::encode(if now_unchoked { &Message::Unchoke } else { &Message::Choke }, &mut out);
                    if !now_unchoked {
                        // BEP 6: a choke rejects what is queued; without fast it is simply dropped.
                        for (index, begin, length) in self.queue.drain(..) {
                            if self.fast {
                                wire::encode(&Message::Reject { index, begin, length }, &mut out);
                            }
                        }
                    }
                }
                _ = keepalive.tick() => {
                    if last_heard.elapsed() > IDLE_TIMEOUT {
                        return Err(PeerError::Timeout);
                    }
                    wire::encode(&Message::KeepAlive, &mut out);
                }
                Some(((index, begin, length), data)) = read_front => {
                    let data = match data {
                        Ok(d) => d,
                        Err(StorageError::Disabled) => return Err(PeerError::UnknownTorrent),
                        Err(e) => {
                            tracing::warn!("seeder: {}: {e}", self.torrent.path.display());
                            return Err(PeerError::UnknownTorrent);
                        }
                    };
                    if self.queue.front() == Some(&(index, begin, length)) {
                        self.queue.pop_front();
                        // Batch: further queued blocks whose pieces are already in memory go
                        // out in the same write (one syscall for up to BATCH_BYTES, not two
                        // per 16 KiB block).
                        out.extend_from_slice(&wire::piece_header(index, begin, length));
                        out.extend_from_slice(&data);
                        let mut sent = data.len() as u64;
                        while out.len() < BATCH_BYTES {
                            let Some(&(i, b, l)) = self.queue.front() else { break };
                            let Some(block) = self.torrent.cached_block(i, b, l) else { break };
                            self.queue.pop_front();
                            out.extend_from_slice(&wire::piece_header(i, b, l));
                            out.extend_from_slice(&block);
                            sent += u64::from(l);
                        }
                        self.seeder.limiter.acquire(sent).await;
                        self.seeder.count_upload(sent);
                        self.torrent
                            .uploaded
                            .fetch_add(sent, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
            if !out.is_empty() {
                writer.write_all(&out).await?;
                out.clear();
            }
        }
    }

    fn handle(&mut self, msg: Message, out: &mut Vec<u8>) -> Result<(), PeerError> {
        match msg {
            Message::Interested => self.seeder.choker.set_interested(self.key, true),
            Message::NotInterested => self.seeder.choker.set_interested(self.key, false),
            Message::Request {
                index,
                begin,
                length,
            } => {
                let valid = self.torrent.check_request(index, begin, length);
                if !valid && !self.fast {
                    return Err(PeerError::Protocol(format!(
                        "request out of range: {index}/{begin}/{length}"
                    )));
                }
                if valid && !self.choked_sent && self.queue.len() < REQQ {
                    self.queue.push_back((index, begin, length));
                } else if self.fast {
                    // Choked, over the queue limit, or out of range: say so (BEP 6).
                    wire::encode(
                        &Message::Reject {
                            index,
                            begin,
                            length,
                        },
                        out,
                    );
                }
                // Without the fast extension, requests while choked are ignored (BEP 3).
            }
            Message::Cancel {
                index,
                begin,
                length,
            } => self.queue.retain(|r| *r != (index, begin, length)),
            Message::Extended { id: 0, payload } => {
                // A handshake we cannot read only costs the peer the metadata extension;
                // a later one lists changes only, so a missing ut_metadata keeps the old id.
                match wire::decode_extended_handshake(&payload) {
                    Ok(hs) if hs.ut_metadata.is_some() => self.their_metadata_id = hs.ut_metadata,
                    Ok(_) => {}
                    Err(e) => tracing::debug!("seeder: unreadable extended handshake: {e}"),
                }
            }
            Message::Extended { id, payload } if id == wire::UT_METADATA_ID => {
                self.metadata(&payload, out)?;
            }
            // A seed needs nothing else a peer may say: haves, bitfields, pieces (a
            // seed never requests), DHT ports, suggestions, other extensions.
            _ => {}
        }
        Ok(())
    }

    /// BEP 9: the info dict in 16 KiB pieces; out-of-range pieces are rejected.
    fn metadata(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), PeerError> {
        let Some(their_id) = self.their_metadata_id else {
            return Ok(());
        };
        let msg = wire::decode_metadata_message(payload)
            .map_err(|e| PeerError::Protocol(e.to_string()))?;
        if let MetadataMessage::Request { piece } = msg {
            let info = &self.torrent.info_bytes;
            let start = piece as usize * METADATA_PIECE;
            let reply = if start < info.len() {
                let end = (start + METADATA_PIECE).min(info.len());
                wire::encode_metadata_data(piece, info.len() as u32, &info[start..end])
            } else {
                wire::encode_metadata_reject(piece)
            };
            wire::encode(
                &Message::Extended {
                    id: their_id,
                    payload: reply,
                },
                out,
            );
        }
        Ok(())
    }
}
