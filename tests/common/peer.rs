//! A raw BitTorrent test peer for probing our seeder on loopback: it handshakes, sends
//! messages (well-formed or not) and reads the seeder's, with the crate's own wire codec.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use podseed::bt::{InfoHash, PeerId};
use podseed::seeder::wire::{self, Handshake, Message};

/// The peer id our test peers use unless a test needs its own.
pub const TEST_PEER_ID: [u8; 20] = *b"-TS0001-testpeer0000";

/// One connection to (or from) the seeder, with what has been read and not yet decoded.
pub struct TestPeer {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl TestPeer {
    /// Connects and handshakes with the fast and extension bits; checks the seeder's
    /// handshake (same torrent, our peer id prefix, fast and extensions).
    pub fn connect(addr: SocketAddr, info_hash: [u8; 20]) -> TestPeer {
        let (peer, theirs) = TestPeer::handshake(
            addr,
            Handshake::ours(InfoHash(info_hash), PeerId(TEST_PEER_ID)),
        );
        assert_eq!(theirs.info_hash, InfoHash(info_hash));
        assert!(theirs.peer_id.0.starts_with(b"-PS0100-"));
        assert!(theirs.supports_fast() && theirs.supports_extensions());
        peer
    }

    /// Connects, sends `ours` and reads the seeder's handshake.
    pub fn handshake(addr: SocketAddr, ours: Handshake) -> (TestPeer, Handshake) {
        let mut peer = TestPeer::raw(addr);
        peer.write(&ours.encode());
        let theirs = peer.read_handshake();
        (peer, theirs)
    }

    /// A connection with nothing sent yet.
    pub fn raw(addr: SocketAddr) -> TestPeer {
        TestPeer::on(TcpStream::connect(addr).expect("connect"))
    }

    /// A peer on a connection already open (e.g. one the seeder dialled).
    pub fn on(stream: TcpStream) -> TestPeer {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        TestPeer {
            stream,
            buf: Vec::new(),
        }
    }

    /// Reads and decodes a handshake.
    pub fn read_handshake(&mut self) -> Handshake {
        let mut hs = [0u8; Handshake::LEN];
        self.stream.read_exact(&mut hs).expect("their handshake");
        Handshake::decode(&hs).expect("valid")
    }

    /// Writes raw bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    pub fn send(&mut self, m: &Message) {
        self.send_all(std::slice::from_ref(m));
    }

    /// Sends `messages` in one write.
    pub fn send_all(&mut self, messages: &[Message]) {
        let mut out = Vec::new();
        for m in messages {
            wire::encode(m, &mut out);
        }
        self.write(&out);
    }

    /// Reads messages until `pred` matches one; None when the seeder closes, or after 10 s.
    pub fn next_where(&mut self, pred: impl Fn(&Message) -> bool) -> Option<Message> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut chunk = [0u8; 65536];
        loop {
            while let Ok(Some((m, n))) = wire::decode(&self.buf, 1 << 20) {
                self.buf.drain(..n);
                if pred(&m) {
                    return Some(m);
                }
            }
            if Instant::now() > deadline {
                return None;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// The next message.
    pub fn next(&mut self) -> Option<Message> {
        self.next_where(|_| true)
    }

    /// Says Interested and waits for Unchoke.
    pub fn get_unchoked(&mut self) {
        self.send(&Message::Interested);
        assert!(
            self.next_where(|m| *m == Message::Unchoke).is_some(),
            "not unchoked"
        );
    }

    /// Requests a block and returns the next Piece or Reject.
    pub fn request(&mut self, index: u32, begin: u32, length: u32) -> Option<Message> {
        self.send(&Message::Request {
            index,
            begin,
            length,
        });
        self.next_where(|m| matches!(m, Message::Reject { .. } | Message::Piece { .. }))
    }

    /// A peer that has exchanged extension handshakes, offering ut_metadata as 3; returns
    /// it and the seeder's ut_metadata id.
    pub fn with_metadata(addr: SocketAddr, info_hash: [u8; 20]) -> (TestPeer, u8) {
        let mut c = TestPeer::connect(addr, info_hash);
        let hs = c.next_where(|m| matches!(m, Message::Extended { id: 0, .. }));
        let Some(Message::Extended { payload, .. }) = hs else {
            panic!("no extended handshake");
        };
        let ext = wire::decode_extended_handshake(&payload).expect("ext");
        let theirs = ext.ut_metadata.expect("ut_metadata id");
        c.send(&Message::Extended {
            id: 0,
            payload: b"d1:md11:ut_metadatai3eee".to_vec(),
        });
        (c, theirs)
    }

    /// A BEP 9 request for metadata `piece` (to the seeder's ut_metadata id `theirs`); the
    /// payload of its answer (to our id, 3).
    pub fn request_metadata(&mut self, theirs: u8, piece: u32) -> Option<Vec<u8>> {
        self.send(&metadata_request(theirs, piece));
        self.next_metadata()
    }

    /// The payload of the next ut_metadata message to us (id 3).
    pub fn next_metadata(&mut self) -> Option<Vec<u8>> {
        match self.next_where(|m| matches!(m, Message::Extended { id: 3, .. })) {
            Some(Message::Extended { payload, .. }) => Some(payload),
            _ => None,
        }
    }

    /// A well-behaved peer gets block 0 of piece 0 with the right bytes (`src` is the
    /// episode's file).
    pub fn fetch_first_block(addr: SocketAddr, info_hash: [u8; 20], src: &[u8]) {
        let mut s = TestPeer::connect(addr, info_hash);
        // BEP 6: HaveAll is the very first message after the handshake.
        assert_eq!(s.next(), Some(Message::HaveAll));
        s.get_unchoked();
        let got = s.request(0, 0, 16384);
        let Some(Message::Piece {
            index: 0,
            begin: 0,
            block,
        }) = got
        else {
            panic!("no piece: {got:?}");
        };
        assert_eq!(block, src[..16384]);
    }
}

/// A BEP 9 request for metadata `piece`, to the seeder's ut_metadata id `theirs`.
pub fn metadata_request(theirs: u8, piece: u32) -> Message {
    Message::Extended {
        id: theirs,
        payload: format!("d8:msg_typei0e5:piecei{piece}ee").into_bytes(),
    }
}

/// Whether the seeder answers a handshake for `info_hash` (it closes on torrents it does
/// not seed).
pub fn seeds(addr: SocketAddr, info_hash: [u8; 20]) -> bool {
    let Ok(mut c) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
    let mut hs = [0u8; Handshake::LEN];
    c.write_all(&Handshake::ours(InfoHash(info_hash), PeerId(*b"-TS0001-probe0000000")).encode())
        .is_ok()
        && c.read_exact(&mut hs).is_ok()
}
