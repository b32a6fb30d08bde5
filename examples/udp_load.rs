//! UDP tracker load generator (BEP 15) for `scripts/bench-tracker.sh`.
//!
//! Usage: udp_load ADDR SECONDS THREADS HASHES_FILE
//! Each thread owns a socket, connects once (and again when told its id expired), then
//! announces random peers on the listed info hashes with up to 16 requests in flight,
//! counting valid announce replies. Prints `announces/s N`. Loopback targets only.

// A benchmark tool run by scripts: it stops at the first failure and prints its count.
#![allow(clippy::expect_used, clippy::print_stdout)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WINDOW: usize = 16;

fn connect(sock: &UdpSocket) -> Option<[u8; 8]> {
    let mut p = 0x0417_2710_1980u64.to_be_bytes().to_vec();
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&7u32.to_be_bytes());
    let mut buf = [0u8; 64];
    for _ in 0..5 {
        sock.send(&p).ok()?;
        if let Ok(n) = sock.recv(&mut buf) {
            if n >= 16 && buf[3] == 0 {
                return buf[8..16].try_into().ok();
            }
        }
    }
    None
}

fn announce(conn: &[u8; 8], tid: u32, hash: &[u8; 20]) -> Vec<u8> {
    let mut p = Vec::with_capacity(98);
    p.extend_from_slice(conn);
    p.extend_from_slice(&1u32.to_be_bytes());
    p.extend_from_slice(&tid.to_be_bytes());
    p.extend_from_slice(hash);
    let peer_id: [u8; 20] = std::array::from_fn(|_| fastrand::u8(..));
    p.extend_from_slice(&peer_id);
    p.extend_from_slice(&0u64.to_be_bytes());
    p.extend_from_slice(&fastrand::u64(0..2).to_be_bytes());
    p.extend_from_slice(&0u64.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes());
    p.extend_from_slice(&fastrand::u32(..).to_be_bytes());
    p.extend_from_slice(&50i32.to_be_bytes());
    p.extend_from_slice(&fastrand::u16(1024..).to_be_bytes());
    p
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: udp_load ADDR SECONDS THREADS HASHES_FILE");
        std::process::exit(2);
    }
    let target: SocketAddr = args[1].parse().expect("ADDR must be IP:PORT");
    assert!(target.ip().is_loopback(), "load is only sent to loopback");
    let secs: u64 = args[2].parse().expect("SECONDS");
    let threads: usize = args[3].parse().expect("THREADS");
    let hashes: Arc<Vec<[u8; 20]>> = Arc::new(
        std::fs::read_to_string(&args[4])
            .expect("HASHES_FILE")
            .lines()
            .filter(|l| l.len() == 40)
            .map(|l| {
                let v: Vec<u8> = (0..20)
                    .map(|i| u8::from_str_radix(&l[2 * i..2 * i + 2], 16).expect("hex"))
                    .collect();
                v.try_into().expect("20 bytes")
            })
            .collect(),
    );
    assert!(!hashes.is_empty(), "no info hashes in {}", args[4]);
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (done, stop, hashes) = (done.clone(), stop.clone(), hashes.clone());
            std::thread::spawn(move || {
                let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
                sock.connect(target).expect("connect");
                sock.set_read_timeout(Some(Duration::from_millis(200)))
                    .expect("timeout");
                let Some(mut conn) = connect(&sock) else {
                    return;
                };
                let mut buf = [0u8; 2048];
                let mut tid = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..WINDOW {
                        tid = tid.wrapping_add(1);
                        let h = &hashes[fastrand::usize(..hashes.len())];
                        let _ = sock.send(&announce(&conn, tid, h));
                    }
                    for _ in 0..WINDOW {
                        match sock.recv(&mut buf) {
                            Ok(n) if n >= 20 && buf[3] == 1 => {
                                done.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(n) if n >= 8 && buf[3] == 3 => {
                                if let Some(c) = connect(&sock) {
                                    conn = c;
                                }
                                break;
                            }
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let n = done.load(Ordering::Relaxed);
    println!(
        "announces/s {:.0}",
        n as f64 / started.elapsed().as_secs_f64()
    );
}
