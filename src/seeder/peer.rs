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

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinHandle;

use crate::bt::{BlockRequest, InfoHash};

use super::mse::{self, CryptoStream, MseError};
use super::outbox::Outbox;
use super::storage::{Block, SeededTorrent, StorageError};
use super::wire::{self, Handshake, Message, MetadataMessage, WireError, METADATA_PIECE};
use super::Seeder;

/// Time a peer has to send its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A peer silent this long is dropped (BEP 3 peers keep-alive every 2 minutes).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(180);
/// How often we send a keep-alive. Well inside the socket's no-progress timeout
/// (`PEER_IDLE_TIMEOUT`), so a quiet peer (choked, waiting for its turn in the rotation,
/// keep-alive every 2 minutes) is not cut off by it: the 3-minute silence rule decides.
const KEEPALIVE_EVERY: Duration = Duration::from_secs(30);
const _: () = assert!(KEEPALIVE_EVERY.as_secs() * 2 <= super::PEER_IDLE_TIMEOUT.as_secs());
/// Largest message we accept: a 16 KiB block plus headers is the biggest a leecher sends
/// us; extension messages are small. Anything longer is abuse.
pub const MAX_MESSAGE: u32 = 64 * 1024;
/// Requests queued per peer (advertised as `reqq`).
/// aria2 ignores `reqq` and keeps up to 256 requests out per peer, whole pieces at a time;
/// libtorrent's request queue defaults to 500. Below that, fast peers get Rejects for the
/// tail of every piece and must ask again. Each entry is 12 bytes, not the block.
pub const REQQ: usize = 500;
/// Blocks are gathered into writes of about this size.
const BATCH_BYTES: usize = 256 * 1024;
/// Pieces one batch may draw on: a batch keeps its pieces in memory until written, and a
/// peer that asks for scattered blocks and stops reading must not pin many of them.
const BATCH_PIECES: usize = 2;

/// Why a connection ended (for the debug log).
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// Socket trouble or the peer hung up.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The peer sent bytes that are not the protocol.
    #[error("protocol: {0}")]
    Wire(#[from] WireError),
    /// The peer broke a rule of the protocol with well-formed messages.
    #[error("protocol: {0}")]
    Protocol(&'static str),
    /// The encrypted handshake failed.
    #[error("encrypted handshake: {0}")]
    Mse(#[from] MseError),
    /// A request outside the torrent, from a peer without the fast extension to reject it.
    #[error("protocol: request out of range: {0:?}")]
    OutOfRange(BlockRequest),
    /// Not one of our torrents, or no longer seeded.
    #[error("unknown or disabled torrent")]
    UnknownTorrent,
    /// No handshake in time, or silent too long.
    #[error("timed out")]
    Timeout,
}

/// Serves one incoming connection until it ends. The stream should carry a no-progress
/// timeout (the listener wraps it in `net::IdleTimeout`), so a peer that stops
/// reading cannot hold a write, a slot and a turn in the rotation forever.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    addr: SocketAddr,
    seeder: Arc<Seeder>,
) -> Result<(), PeerError> {
    // A plain handshake starts with 19 and "BitTorrent protocol"; anything else is taken
    // for an encrypted (MSE) handshake, which most clients try first.
    let mut first = [0u8; 20];
    tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.read_exact(&mut first))
        .await
        .map_err(|_| PeerError::Timeout)??;
    let stream = if first[0] == 19 && first[1..] == wire::PROTOCOL[..] {
        CryptoStream::plain(stream, first.to_vec())
    } else {
        let hashes = seeder.active();
        tokio::time::timeout(
            HANDSHAKE_TIMEOUT,
            mse::accept(stream, &first, |_| true, &hashes),
        )
        .await
        .map_err(|_| PeerError::Timeout)??
    };
    serve_handshaken(stream, addr, seeder).await
}

/// The BitTorrent handshake and session, on a stream that a plain or MSE start unwrapped.
async fn serve_handshaken<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    addr: SocketAddr,
    seeder: Arc<Seeder>,
) -> Result<(), PeerError> {
    let theirs = read_handshake(&mut stream).await?;
    let torrent = seeder
        .torrent(&theirs.info_hash)
        .filter(|t| t.is_active())
        .ok_or(PeerError::UnknownTorrent)?;
    let mut out = Vec::with_capacity(64 * 1024);
    out.extend_from_slice(&our_handshake(&seeder, theirs.info_hash).encode());
    start(stream, out, addr, &seeder, &torrent, &theirs).await
}

/// Connects to a leecher that announced to our tracker and seeds
/// it as if it had connected to us: a seed behind NAT still reaches listeners, and a
/// listener's client need not wait for its next connect round. Plain handshake only.
pub async fn dial(
    addr: SocketAddr,
    torrent: Arc<SeededTorrent>,
    seeder: Arc<Seeder>,
    dialing: tokio::sync::OwnedSemaphorePermit,
) -> Result<(), PeerError> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| PeerError::Timeout)??;
    let _ = stream.set_nodelay(true);
    let mut stream = crate::net::IdleTimeout::new(stream, super::PEER_IDLE_TIMEOUT);
    let hash = torrent.info_hash;
    stream
        .write_all(&our_handshake(&seeder, hash).encode())
        .await?;
    let theirs = read_handshake(&mut stream).await?;
    if theirs.info_hash != hash {
        return Err(PeerError::Protocol("answered for another torrent"));
    }
    // The dial cap covers connecting and the handshake; the session counts as a peer.
    drop(dialing);
    start(
        stream,
        Vec::with_capacity(64 * 1024),
        addr,
        &seeder,
        &torrent,
        &theirs,
    )
    .await
}

/// Time a dialled peer has to accept the TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

async fn read_handshake<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Handshake, PeerError> {
    let mut hs = [0u8; Handshake::LEN];
    tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.read_exact(&mut hs))
        .await
        .map_err(|_| PeerError::Timeout)??;
    Ok(Handshake::decode(&hs)?)
}

fn our_handshake(seeder: &Seeder, info_hash: InfoHash) -> Handshake {
    let ours = Handshake::ours(info_hash, seeder.peer_id);
    if seeder.dht_port.load(std::sync::atomic::Ordering::Relaxed) != 0 {
        ours.with_dht()
    } else {
        ours
    }
}

/// After the handshakes: what a seed says first, then the session. `out` may already
/// hold our handshake.
async fn start<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    mut out: Vec<u8>,
    addr: SocketAddr,
    seeder: &Arc<Seeder>,
    torrent: &Arc<SeededTorrent>,
    theirs: &Handshake,
) -> Result<(), PeerError> {
    if theirs.peer_id == seeder.peer_id {
        return Err(PeerError::Protocol("connected to ourselves"));
    }
    // Known while it lasts, so the tracker's next announce from this peer is not dialled.
    let _registered = seeder.sessions.register(torrent.info_hash, theirs.peer_id);
    let dht_port = seeder.dht_port.load(std::sync::atomic::Ordering::Relaxed);
    let fast = theirs.supports_fast();
    // BEP 3/6: the bitfield (or HaveAll) must be the first message after the handshake;
    // the extension handshake (BEP 10) and the DHT port (BEP 5) follow it.
    if fast {
        wire::encode(&Message::HaveAll, &mut out);
    } else {
        wire::encode(
            &Message::Bitfield(wire::full_bitfield(torrent.piece_count())),
            &mut out,
        );
    }
    if theirs.supports_extensions() {
        let payload = wire::encode_our_extended_handshake(
            torrent.info_bytes.len() as u32,
            REQQ as u32,
            concat!("podseed ", env!("CARGO_PKG_VERSION")),
            Some(addr.ip().to_canonical()),
        );
        wire::encode(&Message::Extended { id: 0, payload }, &mut out);
    }
    let send_port = dht_port != 0 && theirs.supports_dht();
    if send_port {
        wire::encode(&Message::Port(dht_port), &mut out);
    }
    stream.write_all(&out).await?;

    let slot = ChokeSlot::join(seeder);
    let session = Session {
        seeder,
        torrent,
        fast,
        their_metadata_id: None,
        metadata_bytes: 0,
        queue: VecDeque::new(),
        choked_sent: true,
        key: slot.key,
    };
    session.run(stream, slot.unchoked.clone()).await
}

/// A place in the choker, given back however the connection ends.
struct ChokeSlot<'a> {
    seeder: &'a Seeder,
    key: u64,
    unchoked: tokio::sync::watch::Receiver<bool>,
}

impl<'a> ChokeSlot<'a> {
    fn join(seeder: &'a Seeder) -> Self {
        let (key, unchoked) = seeder.choker.join();
        ChokeSlot {
            seeder,
            key,
            unchoked,
        }
    }
}

impl Drop for ChokeSlot<'_> {
    fn drop(&mut self) {
        self.seeder.choker.leave(self.key);
    }
}

/// A BEP 6 Reject for `r`.
fn reject(r: BlockRequest) -> Message {
    Message::Reject {
        index: r.piece,
        begin: r.offset,
        length: r.length,
    }
}

/// The block a read on the blocking pool produced, or why the session must end.
fn read_result(
    joined: Result<Result<Block, StorageError>, tokio::task::JoinError>,
    torrent: &SeededTorrent,
) -> Result<Block, PeerError> {
    match joined {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(StorageError::Disabled)) => Err(PeerError::UnknownTorrent),
        Ok(Err(e)) => {
            tracing::warn!("seeder: {}: {e}", torrent.path.display());
            Err(PeerError::UnknownTorrent)
        }
        Err(e) => {
            tracing::warn!("seeder: block read failed: {e}");
            Err(PeerError::UnknownTorrent)
        }
    }
}

struct Session<'a> {
    seeder: &'a Arc<Seeder>,
    torrent: &'a Arc<SeededTorrent>,
    fast: bool,
    their_metadata_id: Option<u8>,
    /// ut_metadata bytes queued since the last write, to be paid to the upload limit.
    metadata_bytes: u64,
    queue: VecDeque<BlockRequest>,
    /// What we last told the peer.
    choked_sent: bool,
    key: u64,
}

/// A block read under way, kept across loop turns so incoming messages do not restart it.
type PendingRead = (BlockRequest, JoinHandle<Result<Block, StorageError>>);

impl Session<'_> {
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        mut self,
        stream: S,
        mut unchoked: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), PeerError> {
        let (mut reader, mut writer) = tokio::io::split(stream);
        let mut buf: Vec<u8> = Vec::with_capacity(32 * 1024);
        let mut out = Outbox::default();
        let mut chunk = vec![0u8; 32 * 1024];
        let mut keepalive = tokio::time::interval(KEEPALIVE_EVERY);
        keepalive.tick().await;
        let mut last_heard = tokio::time::Instant::now();
        let mut pending: Option<PendingRead> = None;
        let result = loop {
            if !self.torrent.is_active() {
                break Err(PeerError::UnknownTorrent);
            }
            let backlog = self.take_in(&mut buf, &mut out)?;
            if !out.is_empty() {
                // Metadata replies count against the upload limit like blocks do, so a
                // peer asking for them again and again cannot get round it.
                if self.metadata_bytes > 0 {
                    self.seeder.limiter.acquire(self.metadata_bytes).await;
                    self.metadata_bytes = 0;
                }
                out.write_to(&mut writer).await?;
            }
            if backlog {
                // More may be waiting in `buf`: handle it before reading more. (Judged by
                // why decoding stopped, not by buf's size: a partial frame of up to
                // MAX_MESSAGE + 4 bytes must go on to the read below.)
                tokio::task::yield_now().await;
                continue;
            }
            let mut ready = self.next_block(&mut pending);
            tokio::select! {
                biased;
                n = reader.read(&mut chunk) => {
                    let n = n?;
                    if n == 0 {
                        break Ok(());
                    }
                    last_heard = tokio::time::Instant::now();
                    buf.extend_from_slice(&chunk[..n]);
                }
                changed = unchoked.changed() => {
                    if changed.is_err() {
                        break Ok(());
                    }
                    let now_unchoked = *unchoked.borrow_and_update();
                    self.choke_changed(now_unchoked, &mut out);
                }
                _ = keepalive.tick() => {
                    if last_heard.elapsed() > IDLE_TIMEOUT {
                        break Err(PeerError::Timeout);
                    }
                    out.message(&Message::KeepAlive);
                }
                // Only once the socket has nothing for us (biased), so requests, cancels and
                // chokes are always taken in before more blocks go out.
                () = std::future::ready(()), if ready.is_some() => {
                    let Some(block) = ready.take() else { continue };
                    self.send_from(block, &mut out).await;
                }
                joined = async { match pending.as_mut() { Some((_, h)) => h.await, None => std::future::pending().await } } => {
                    let Some((req, _)) = pending.take() else { continue };
                    let data = match read_result(joined, self.torrent) {
                        Ok(data) => data,
                        Err(e) => break Err(e),
                    };
                    if self.choked_sent || self.queue.front() != Some(&req) {
                        continue;
                    }
                    self.send_from(data, &mut out).await;
                }
            }
        };
        if let Some((_, h)) = pending {
            h.abort();
        }
        result
    }

    /// Decodes what has arrived, but stops once a batch of replies is waiting: the rest
    /// stays in `buf`, and no more is read until it is handled, so neither buffer can grow
    /// without bound (ut_metadata replies are 16 KiB each). True when it stopped for a full
    /// batch rather than for want of bytes.
    fn take_in(&mut self, buf: &mut Vec<u8>, out: &mut Outbox) -> Result<bool, PeerError> {
        let mut used = 0;
        let mut backlog = false;
        loop {
            if out.len() >= BATCH_BYTES {
                backlog = true;
                break;
            }
            match wire::decode(&buf[used..], MAX_MESSAGE)? {
                Some((msg, len)) => {
                    used += len;
                    self.handle(msg, out)?;
                }
                None => break,
            }
        }
        buf.drain(..used);
        Ok(backlog)
    }

    /// The block at the front of the queue: at once when its piece is cached, else a read
    /// off the workers is started (or kept) in `pending`. It leaves the queue only once
    /// sent, so a Cancel that arrives meanwhile wins.
    fn next_block(&self, pending: &mut Option<PendingRead>) -> Option<Block> {
        if pending.is_some() || self.choked_sent {
            return None;
        }
        let req = *self.queue.front()?;
        match self.torrent.cached_block(req) {
            Some(block) => Some(block),
            None => {
                *pending = Some((req, self.torrent.read_block(req)));
                None
            }
        }
    }

    /// Tells the peer the choker's decision; a choke rejects what is queued (BEP 6), or
    /// without the fast extension simply drops it.
    fn choke_changed(&mut self, now_unchoked: bool, out: &mut Outbox) {
        if now_unchoked != self.choked_sent {
            return;
        }
        self.choked_sent = !now_unchoked;
        out.message(if now_unchoked {
            &Message::Unchoke
        } else {
            &Message::Choke
        });
        if !now_unchoked {
            for r in self.queue.drain(..) {
                if self.fast {
                    out.message(&reject(r));
                }
            }
        }
    }

    /// Queues the front request's block, and behind it further queued blocks whose pieces
    /// are in memory, as one write of up to BATCH_BYTES (one syscall, not two per block).
    async fn send_from(&mut self, first: Block, out: &mut Outbox) {
        let Some(first_req) = self.queue.pop_front() else {
            return;
        };
        out.piece(first_req.piece, first_req.offset, first);
        let mut sent = u64::from(first_req.length);
        let (mut pieces, mut last) = (1, first_req.piece);
        while out.len() < BATCH_BYTES {
            let Some(&r) = self.queue.front() else {
                break;
            };
            if r.piece != last {
                if pieces == BATCH_PIECES {
                    break;
                }
                pieces += 1;
                last = r.piece;
            }
            let Some(block) = self.torrent.cached_block(r) else {
                break;
            };
            self.queue.pop_front();
            out.piece(r.piece, r.offset, block);
            sent += u64::from(r.length);
        }
        self.seeder.limiter.acquire(sent).await;
        self.torrent
            .uploaded
            .fetch_add(sent, std::sync::atomic::Ordering::Relaxed);
    }

    fn handle(&mut self, msg: Message, out: &mut Outbox) -> Result<(), PeerError> {
        match msg {
            Message::Interested => self.seeder.choker.set_interested(self.key, true),
            Message::NotInterested => self.seeder.choker.set_interested(self.key, false),
            Message::Request {
                index,
                begin,
                length,
            } => {
                let r = BlockRequest {
                    piece: index,
                    offset: begin,
                    length,
                };
                let valid = self.torrent.check_request(r);
                if !valid && !self.fast {
                    return Err(PeerError::OutOfRange(r));
                }
                if valid && !self.choked_sent && self.queue.len() < REQQ {
                    self.queue.push_back(r);
                } else if self.fast {
                    // Choked, over the queue limit, or out of range: say so (BEP 6).
                    out.message(&reject(r));
                }
                // Without the fast extension, requests while choked are ignored (BEP 3).
            }
            Message::Cancel {
                index,
                begin,
                length,
            } => {
                let r = BlockRequest {
                    piece: index,
                    offset: begin,
                    length,
                };
                let found = self.queue.iter().position(|q| *q == r);
                let cancelled = found.and_then(|i| self.queue.remove(i)).is_some();
                // BEP 6: every request gets exactly one answer, a cancelled one a Reject.
                if self.fast && cancelled {
                    out.message(&reject(r));
                }
            }
            // We never request, so a piece is unsolicited (BEP 6: close the connection).
            Message::Piece { .. } => {
                return Err(PeerError::Protocol("unsolicited piece"));
            }
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
    fn metadata(&mut self, payload: &[u8], out: &mut Outbox) -> Result<(), PeerError> {
        let Some(their_id) = self.their_metadata_id else {
            return Ok(());
        };
        let msg = wire::decode_metadata_message(payload)?;
        if let MetadataMessage::Request { piece } = msg {
            let info = &self.torrent.info_bytes;
            let start = u64::from(piece) * METADATA_PIECE as u64;
            let reply = if start < info.len() as u64 {
                let start = start as usize;
                let end = (start + METADATA_PIECE).min(info.len());
                self.metadata_bytes += (end - start) as u64;
                wire::encode_metadata_data(piece, info.len() as u32, &info[start..end])
            } else {
                wire::encode_metadata_reject(piece)
            };
            out.message(&Message::Extended {
                id: their_id,
                payload: reply,
            });
        }
        Ok(())
    }
}
