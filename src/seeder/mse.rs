//! Message Stream Encryption (MSE/PE, the "encrypted handshake" of Azureus, libtorrent,
//! aria2 and Transmission), receiver side, so clients that try it first connect at once
//! instead of retrying in plain a second later, and clients that require it connect at all.
//!
//! A Diffie-Hellman exchange (768-bit prime, generator 2) gives a shared secret; the
//! initiator proves which torrent it wants with hashes of the info hash; RC4 keys derive
//! from both. When the initiator allows it we select plaintext after the handshake (it
//! costs nothing per byte); otherwise the stream stays RC4. [`CryptoStream`] wraps the
//! socket either way. Protocol facts only from the MSE specification.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use num_bigint::BigUint;
use rc4::consts::U20;
use rc4::{KeyInit, Rc4, StreamCipher};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::bt::InfoHash;
use crate::net::Replay;

/// The MSE prime (768 bits).
const PRIME_HEX: &str = "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563";
/// Most padding either side may send.
const MAX_PAD: usize = 512;
/// Most initial payload we accept (a BitTorrent handshake and a little more).
const MAX_IA: usize = 4096;
/// crypto_provide / crypto_select bits.
const CRYPTO_PLAIN: u32 = 0x01;
const CRYPTO_RC4: u32 = 0x02;

/// Why an encrypted handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum MseError {
    /// Socket trouble.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The initiator broke the protocol or asked for a torrent we do not seed.
    #[error("encrypted handshake: {0}")]
    Protocol(&'static str),
}

type Cipher = Rc4<U20>;

fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// RC4 keyed with `key`, its first 1024 bytes discarded (as MSE requires).
fn cipher(key: &[u8; 20]) -> Cipher {
    let mut c = Cipher::new(key.into());
    let mut discard = [0u8; 1024];
    c.apply_keystream(&mut discard);
    c
}

fn to_96(n: &BigUint) -> [u8; 96] {
    let bytes = n.to_bytes_be();
    let mut out = [0u8; 96];
    let start = 96usize.saturating_sub(bytes.len());
    out[start..].copy_from_slice(&bytes[bytes.len().saturating_sub(96)..]);
    out
}

/// Runs the receiver's side after the first 20 bytes (`first`, which were not a plain
/// handshake) arrived. `knows` says whether an info hash is one we seed. Returns the stream
/// wrapped for what was selected, with the initial payload (the BitTorrent handshake,
/// decrypted) to be read first.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    first: &[u8; 20],
    knows: impl Fn(&InfoHash) -> bool,
    hashes: &[InfoHash],
) -> Result<CryptoStream<S>, MseError> {
    let prime =
        BigUint::parse_bytes(PRIME_HEX.as_bytes(), 16).ok_or(MseError::Protocol("bad prime"))?;
    let mut ya = [0u8; 96];
    ya[..20].copy_from_slice(first);
    stream.read_exact(&mut ya[20..]).await?;
    let secret: [u8; 20] = std::array::from_fn(|_| fastrand::u8(..));
    let xb = BigUint::from_bytes_be(&secret);
    let yb = to_96(&BigUint::from(2u8).modpow(&xb, &prime));
    let s = to_96(&BigUint::from_bytes_be(&ya).modpow(&xb, &prime));
    let mut hello = yb.to_vec();
    hello.extend((0..fastrand::usize(..=MAX_PAD)).map(|_| fastrand::u8(..)));
    stream.write_all(&hello).await?;

    // PadA, then HASH('req1', S): find the hash within the padding allowance.
    let req1 = sha1(&[b"req1", &s]);
    let mut window: Vec<u8> = Vec::with_capacity(MAX_PAD + 20);
    loop {
        let mut b = [0u8; 1];
        stream.read_exact(&mut b).await?;
        window.push(b[0]);
        if window.len() >= 20 && window[window.len() - 20..] == req1 {
            break;
        }
        if window.len() > MAX_PAD + 20 {
            return Err(MseError::Protocol("no req1 hash"));
        }
    }
    let mut x = [0u8; 20];
    stream.read_exact(&mut x).await?;
    let req3 = sha1(&[b"req3", &s]);
    let want: [u8; 20] = std::array::from_fn(|i| x[i] ^ req3[i]);
    let skey = hashes
        .iter()
        .find(|h| knows(h) && sha1(&[b"req2", &h.0]) == want)
        .map(|h| h.0)
        .ok_or(MseError::Protocol("unknown torrent"))?;
    let mut dec = cipher(&sha1(&[b"keyA", &s, &skey]));
    let mut enc = cipher(&sha1(&[b"keyB", &s, &skey]));

    let mut head = [0u8; 14];
    stream.read_exact(&mut head).await?;
    dec.apply_keystream(&mut head);
    if head[..8] != [0u8; 8] {
        return Err(MseError::Protocol("bad verification constant"));
    }
    let provide = u32::from_be_bytes([head[8], head[9], head[10], head[11]]);
    let pad_c = usize::from(u16::from_be_bytes([head[12], head[13]]));
    if pad_c > MAX_PAD {
        return Err(MseError::Protocol("padding too long"));
    }
    let mut pad = vec![0u8; pad_c];
    stream.read_exact(&mut pad).await?;
    dec.apply_keystream(&mut pad);
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await?;
    dec.apply_keystream(&mut len);
    let ia_len = usize::from(u16::from_be_bytes(len));
    if ia_len > MAX_IA {
        return Err(MseError::Protocol("initial payload too long"));
    }
    let mut ia = vec![0u8; ia_len];
    stream.read_exact(&mut ia).await?;
    dec.apply_keystream(&mut ia);

    // Plaintext after the handshake when allowed: no per-byte cost.
    let select = if provide & CRYPTO_PLAIN != 0 {
        CRYPTO_PLAIN
    } else if provide & CRYPTO_RC4 != 0 {
        CRYPTO_RC4
    } else {
        return Err(MseError::Protocol("no method we support"));
    };
    let mut reply = [0u8; 14];
    reply[8..12].copy_from_slice(&select.to_be_bytes());
    enc.apply_keystream(&mut reply);
    stream.write_all(&reply).await?;
    let ciphers = (select == CRYPTO_RC4).then_some((dec, enc));
    Ok(CryptoStream::new(stream, ia, ciphers))
}

/// A socket with bytes to read first (what a handshake already consumed) and, when RC4 was
/// selected, decryption of reads and encryption of writes.
pub struct CryptoStream<S> {
    inner: S,
    prefix: Replay,
    ciphers: Option<(Cipher, Cipher)>,
    /// Encrypted bytes accepted from the caller but not yet written.
    pending: Vec<u8>,
    sent: usize,
}

impl<S> CryptoStream<S> {
    /// Wraps `inner`; `prefix` is read before it; `ciphers` = (decrypt, encrypt).
    pub fn new(inner: S, prefix: Vec<u8>, ciphers: Option<(Cipher, Cipher)>) -> Self {
        CryptoStream {
            inner,
            prefix: Replay::new(prefix),
            ciphers,
            pending: Vec::new(),
            sent: 0,
        }
    }

    /// A plain socket with `prefix` to read first.
    pub fn plain(inner: S, prefix: Vec<u8>) -> Self {
        Self::new(inner, prefix, None)
    }
}

impl<S: AsyncWrite + Unpin> CryptoStream<S> {
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.sent += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.pending.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CryptoStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // The bytes read ahead (see `new`), as they are.
        if this.prefix.read_into(buf) {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some((dec, _))) = (&r, this.ciphers.as_mut()) {
            dec.apply_keystream(&mut buf.filled_mut()[before..]);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> CryptoStream<S> {
    /// Encrypts and takes all of `bufs` (RC4 only).
    fn poll_write_encrypted(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        // The keystream advances as bytes are encrypted, so bytes are encrypted once, kept
        // until written, and only then is more accepted.
        match self.poll_pending(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        for b in bufs {
            self.pending.extend_from_slice(b);
        }
        if let Some((_, enc)) = self.ciphers.as_mut() {
            enc.apply_keystream(&mut self.pending);
        }
        let taken = self.pending.len();
        // Start sending now; what the socket does not take waits for the next call.
        if let Poll::Ready(Err(e)) = self.poll_pending(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(taken))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CryptoStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.ciphers.is_none() {
            return Pin::new(&mut this.inner).poll_write(cx, data);
        }
        this.poll_write_encrypted(cx, &[io::IoSlice::new(data)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.ciphers.is_none() {
            return Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        }
        this.poll_write_encrypted(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.ciphers.is_some() || self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_pending(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_pending(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The initiator's side, written from the specification, to test ours against.
    async fn initiate<S: AsyncRead + AsyncWrite + Unpin>(
        mut s: S,
        skey: [u8; 20],
        provide: u32,
        ia: &[u8],
    ) -> (S, u32, Option<(Cipher, Cipher)>) {
        let prime = BigUint::parse_bytes(PRIME_HEX.as_bytes(), 16).expect("prime");
        let xa = BigUint::from_bytes_be(&[7u8; 20]);
        let ya = to_96(&BigUint::from(2u8).modpow(&xa, &prime));
        let mut hello = ya.to_vec();
        hello.extend_from_slice(&[0xaa; 33]); // PadA
        s.write_all(&hello).await.expect("send ya");
        let mut yb = [0u8; 96];
        s.read_exact(&mut yb).await.expect("yb");
        let sec = to_96(&BigUint::from_bytes_be(&yb).modpow(&xa, &prime));
        let mut enc = cipher(&sha1(&[b"keyA", &sec, &skey]));
        let mut dec = cipher(&sha1(&[b"keyB", &sec, &skey]));
        let mut msg = sha1(&[b"req1", &sec]).to_vec();
        let r2 = sha1(&[b"req2", &skey]);
        let r3 = sha1(&[b"req3", &sec]);
        msg.extend((0..20).map(|i| r2[i] ^ r3[i]));
        let mut tail = vec![0u8; 8];
        tail.extend_from_slice(&provide.to_be_bytes());
        tail.extend_from_slice(&3u16.to_be_bytes());
        tail.extend_from_slice(&[1, 2, 3]);
        tail.extend_from_slice(&(ia.len() as u16).to_be_bytes());
        tail.extend_from_slice(ia);
        enc.apply_keystream(&mut tail);
        msg.extend_from_slice(&tail);
        s.write_all(&msg).await.expect("send");
        // Skip PadB by synchronising on the encrypted VC.
        let mut probe = cipher(&sha1(&[b"keyB", &sec, &skey]));
        let mut vc = [0u8; 8];
        probe.apply_keystream(&mut vc);
        let mut window = Vec::new();
        loop {
            let mut b = [0u8; 1];
            s.read_exact(&mut b).await.expect("sync");
            window.push(b[0]);
            if window.len() >= 8 && window[window.len() - 8..] == vc {
                break;
            }
            assert!(window.len() < 600, "no VC");
        }
        let mut skip = [0u8; 8];
        dec.apply_keystream(&mut skip);
        let mut rest = [0u8; 6];
        s.read_exact(&mut rest).await.expect("select");
        dec.apply_keystream(&mut rest);
        let select = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        (s, select, (select == CRYPTO_RC4).then_some((dec, enc)))
    }

    async fn round_trip(provide: u32) -> u32 {
        let (a, b) = tokio::io::duplex(1 << 16);
        let skey = [9u8; 20];
        let server = tokio::spawn(async move {
            let mut b = b;
            let mut first = [0u8; 20];
            b.read_exact(&mut first).await.expect("first");
            let mut s = accept(
                b,
                &first,
                |h| h.0 == [9u8; 20],
                &[InfoHash([1u8; 20]), InfoHash([9u8; 20])],
            )
            .await
            .expect("accept");
            let mut ia = [0u8; 5];
            s.read_exact(&mut ia).await.expect("ia");
            assert_eq!(&ia, b"hello");
            let mut more = [0u8; 4];
            s.read_exact(&mut more).await.expect("more");
            assert_eq!(&more, b"ping");
            s.write_all(b"pong").await.expect("pong");
            s.flush().await.expect("flush");
        });
        let (mut a, select, ciphers) = initiate(a, skey, provide, b"hello").await;
        let mut ping = *b"ping";
        let mut ciphers = ciphers;
        if let Some((_, enc)) = ciphers.as_mut() {
            enc.apply_keystream(&mut ping);
        }
        a.write_all(&ping).await.expect("ping");
        let mut pong = [0u8; 4];
        a.read_exact(&mut pong).await.expect("pong");
        if let Some((dec, _)) = ciphers.as_mut() {
            dec.apply_keystream(&mut pong);
        }
        assert_eq!(&pong, b"pong");
        server.await.expect("server");
        select
    }

    #[tokio::test]
    async fn rc4_vectored_writes_encrypt_every_slice_in_order() {
        let (ours, mut theirs) = tokio::io::duplex(1 << 20);
        let key = [5u8; 20];
        let mut s = CryptoStream::new(ours, Vec::new(), Some((cipher(&[1; 20]), cipher(&key))));
        assert!(s.is_write_vectored());
        let parts: [&[u8]; 3] = [b"header", &[7u8; 5000], b"tail"];
        let slices: Vec<io::IoSlice<'_>> = parts.iter().map(|p| io::IoSlice::new(p)).collect();
        let n = s.write_vectored(&slices).await.expect("write");
        assert_eq!(n, 5010, "all slices are taken at once");
        s.write_all(b"more").await.expect("write");
        s.flush().await.expect("flush");
        let mut got = vec![0u8; 5014];
        theirs.read_exact(&mut got).await.expect("read");
        cipher(&key).apply_keystream(&mut got);
        assert_eq!(&got[..6], b"header");
        assert!(got[6..5006].iter().all(|&b| b == 7));
        assert_eq!(&got[5006..], b"tailmore");
    }

    #[tokio::test]
    async fn an_outbox_batch_reaches_the_peer_whole_over_rc4() {
        // A socket that takes little at a time: the encrypted tail must still go out
        // without another write to push it.
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let key = [5u8; 20];
        let mut s = CryptoStream::new(ours, Vec::new(), Some((cipher(&[1; 20]), cipher(&key))));
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let mut out = crate::seeder::outbox::Outbox::default();
        out.piece(0, 0, crate::seeder::storage::Block::for_test(&data));
        let reader = tokio::spawn(async move {
            let mut got = vec![0u8; 13 + 5000];
            tokio::time::timeout(
                std::time::Duration::from_secs(5),
                theirs.read_exact(&mut got),
            )
            .await
            .expect("every byte arrives")
            .expect("read");
            got
        });
        out.write_to(&mut s).await.expect("write");
        let mut got = reader.await.expect("join");
        cipher(&key).apply_keystream(&mut got);
        assert_eq!(&got[13..], &data[..]);
    }

    #[tokio::test]
    async fn plaintext_is_selected_when_offered() {
        assert_eq!(round_trip(CRYPTO_PLAIN | CRYPTO_RC4).await, CRYPTO_PLAIN);
    }

    #[tokio::test]
    async fn rc4_streams_both_ways_when_required() {
        assert_eq!(round_trip(CRYPTO_RC4).await, CRYPTO_RC4);
    }

    #[tokio::test]
    async fn unknown_torrents_and_garbage_are_refused() {
        let (mut a, b) = tokio::io::duplex(1 << 16);
        let server = tokio::spawn(async move {
            let mut b = b;
            let mut first = [0u8; 20];
            b.read_exact(&mut first).await.expect("first");
            accept(b, &first, |_| false, &[InfoHash([9u8; 20])])
                .await
                .map(|_| ())
        });
        // 96 bytes of "Ya" then 600 bytes without the req1 hash.
        a.write_all(&[5u8; 96 + 600]).await.expect("send");
        let r = server.await.expect("join");
        assert!(
            matches!(r, Err(MseError::Protocol("no req1 hash"))),
            "{r:?}"
        );
    }
}
