//! Black-box tests of the STUN answers on `podseed serve`'s UDP tracker port: the real
//! binary on loopback, asked by a minimal STUN client written here and by coturn's
//! `turnutils_stunclient`; one behaviour per test.

// Test code reports by panicking; helpers outside #[test] functions too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use common::*;

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];

/// The example served as tracker with its UDP port on `udp` (an address with port 0).
fn served_on(udp: &str) -> Served {
    Served::start(Show::example().with_serve(Serve::tracker().set("udp_tracker", udp)))
}

/// A socket on `to`'s loopback family.
fn client_for(to: SocketAddr) -> UdpSocket {
    let sock = UdpSocket::bind(if to.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    })
    .expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    sock
}

/// A bare Binding request with transaction id `tid`.
fn binding_request(tid: [u8; 12]) -> Vec<u8> {
    let mut p = vec![0x00, 0x01, 0x00, 0x00];
    p.extend_from_slice(&MAGIC_COOKIE);
    p.extend_from_slice(&tid);
    p
}

/// Sends `packet` from `sock` to `to`; the reply, or None after 2 s of silence.
fn exchange(sock: &UdpSocket, to: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    sock.send_to(packet, to).expect("send");
    let mut buf = [0u8; 1500];
    sock.recv_from(&mut buf)
        .ok()
        .map(|(n, _)| buf[..n].to_vec())
}

/// The attributes of a STUN message: (type, value).
fn attributes(message: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 20;
    while at + 4 <= message.len() {
        let kind = u16::from_be_bytes([message[at], message[at + 1]]);
        let len = usize::from(u16::from_be_bytes([message[at + 2], message[at + 3]]));
        out.push((kind, message[at + 4..at + 4 + len].to_vec()));
        at += 4 + len.div_ceil(4) * 4;
    }
    out
}

/// XOR-MAPPED-ADDRESS decoded as a client does (RFC 8489 section 14.2).
fn xor_mapped_address(message: &[u8]) -> SocketAddr {
    let (_, value) = attributes(message)
        .into_iter()
        .find(|(k, _)| *k == 0x0020)
        .expect("XOR-MAPPED-ADDRESS");
    let key = &message[4..20];
    let port = u16::from_be_bytes([value[2], value[3]]) ^ 0x2112;
    let ip = match value[1] {
        1 => IpAddr::from(<[u8; 4]>::try_from(xored(&value[4..8], key)).expect("4")),
        2 => IpAddr::from(<[u8; 16]>::try_from(xored(&value[4..20], key)).expect("16")),
        f => panic!("family {f}"),
    };
    SocketAddr::new(ip, port)
}

fn xored(a: &[u8], key: &[u8]) -> Vec<u8> {
    a.iter().zip(key).map(|(a, k)| a ^ k).collect()
}

/// Asks the server at `to` for our address and checks the answer against our socket's.
fn binding_maps_our_address(to: SocketAddr) {
    let sock = client_for(to);
    let tid = *b"podseed-test";
    let reply = exchange(&sock, to, &binding_request(tid)).expect("a Binding response");
    assert_eq!(reply[..2], [0x01, 0x01], "Binding success response");
    assert_eq!(reply[4..8], MAGIC_COOKIE);
    assert_eq!(reply[8..20], tid, "the transaction id is echoed");
    assert_eq!(
        usize::from(u16::from_be_bytes([reply[2], reply[3]])),
        reply.len() - 20
    );
    assert_eq!(xor_mapped_address(&reply), sock.local_addr().expect("addr"));
}

#[test]
fn stun_binding_over_ipv4_maps_the_clients_address() {
    let s = served_on("127.0.0.1:0");
    binding_maps_our_address(s.server.udp());
}

#[test]
fn stun_binding_over_ipv6_maps_the_clients_address() {
    if UdpSocket::bind("[::1]:0").is_err() {
        skip(test_name!(), "no IPv6 loopback");
        return;
    }
    let s = served_on("\"[::1]:0\"");
    binding_maps_our_address(s.server.udp());
}

#[test]
fn a_dual_stack_port_answers_an_ipv4_client_with_its_ipv4_address() {
    // On `[::]` an IPv4 client arrives as ::ffff:127.0.0.1; the browser must be told the
    // IPv4 address it has, not the mapped form.
    let v6only =
        std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only").is_ok_and(|v| v.trim() == "1");
    if UdpSocket::bind("[::]:0").is_err() || v6only {
        skip(test_name!(), "no dual-stack IPv6 sockets");
        return;
    }
    let s = served_on("\"[::]:0\"");
    let port = s.server.udp().port();
    binding_maps_our_address(SocketAddr::from(([127, 0, 0, 1], port)));
}

#[test]
fn a_bep15_connect_is_still_answered_on_the_stun_port() {
    let s = served_on("127.0.0.1:0");
    let to = s.server.udp();
    let sock = client_for(to);
    binding_maps_our_address(to);
    let mut connect = 0x0417_2710_1980u64.to_be_bytes().to_vec();
    connect.extend_from_slice(&0u32.to_be_bytes());
    connect.extend_from_slice(&0xABCD_EF01u32.to_be_bytes());
    let reply = exchange(&sock, to, &connect).expect("connect reply");
    assert_eq!(reply.len(), 16);
    assert_eq!(reply[..8], [0, 0, 0, 0, 0xAB, 0xCD, 0xEF, 0x01]);
    assert!(reply[8] & 0x80 != 0, "connection ids keep the top bit set");
}

#[test]
fn stun_requests_are_counted_and_other_methods_get_no_answer() {
    let s = served_on("127.0.0.1:0");
    let to = s.server.udp();
    let sock = client_for(to);
    let mut allocate = binding_request(*b"turn-allocat");
    allocate[1] = 0x03; // TURN Allocate: not offered, dropped
    assert_eq!(exchange(&sock, to, &allocate), None);
    for _ in 0..3 {
        binding_maps_our_address(to);
    }
    assert_eq!(s.server.stats()["stun_requests"], 3);
    let metrics = String::from_utf8(s.server.get("/metrics").body).expect("utf-8");
    assert!(
        metrics.contains("\npodseed_stun_requests_total 3\n"),
        "{metrics}"
    );
}

#[test]
fn turnutils_stunclient_learns_its_address_from_us() {
    require!(Tool::Stunclient);
    let s = served_on("127.0.0.1:0");
    let to = s.server.udp();
    let out = Command::new("turnutils_stunclient")
        .args(["-p", &to.port().to_string(), "-L", "127.0.0.1", "127.0.0.1"])
        .output()
        .expect("run turnutils_stunclient");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}\n{}", s.server.log());
    // It prints the reflexive address it decoded from our XOR-MAPPED-ADDRESS.
    assert!(text.contains("UDP reflexive addr: 127.0.0.1:"), "{text}");
    assert_eq!(s.server.stats()["stun_requests"], 1, "{text}");
}
