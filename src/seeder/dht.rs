//! Announcing every seeded torrent on the BitTorrent DHT (BEP 5) with the `mainline`
//! crate, so listeners find our seeder even when no tracker answers.
//!
//! One DHT node per process, bound next to the seeder (loopback when the seeder only
//! listens there). Each active info hash is announced at start, whenever a new build adds
//! one, and every [`REANNOUNCE`] (DHT nodes forget peers after about 30 minutes).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use mainline::{Dht, Id};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::bt::InfoHash;

use super::Seeder;

/// How often each info hash is announced again.
pub const REANNOUNCE: Duration = Duration::from_secs(15 * 60);

/// Starts a DHT node on the seeder's local address `bound` and announces the seeder's
/// torrents with `port` (the port peers reach it on) until `shutdown`.
/// `bootstrap` empty means mainline's default public bootstrap nodes.
pub async fn run(
    seeder: Arc<Seeder>,
    bound: SocketAddr,
    port: u16,
    bootstrap: Vec<String>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut builder = Dht::builder();
    let bind = match bound.ip() {
        IpAddr::V4(ip) => ip,
        IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    };
    builder.bind_address(bind).server_mode();
    if !bootstrap.is_empty() {
        builder.bootstrap(&bootstrap);
    }
    let dht = match builder.build() {
        Ok(d) => d.as_async(),
        Err(e) => {
            tracing::warn!("dht: cannot start ({e}); torrents are found through trackers only");
            return;
        }
    };
    let local = dht.info().await.local_addr();
    tracing::info!("dht: node on udp://{local}");
    seeder
        .dht_port
        .store(local.port(), std::sync::atomic::Ordering::Relaxed);
    let mut announced: HashMap<InfoHash, Instant> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        let active = seeder.active();
        announced.retain(|h, _| active.contains(h));
        for hash in active {
            if announced
                .get(&hash)
                .is_some_and(|t| t.elapsed() < REANNOUNCE)
            {
                continue;
            }
            let result = tokio::select! {
                _ = shutdown.changed() => return,
                r = dht.announce_peer(Id::from(hash.0), Some(port)) => r,
            };
            match result {
                Ok(_) => {
                    tracing::info!("dht: announced {hash}");
                    announced.insert(hash, Instant::now());
                }
                Err(e) => {
                    // Retried on a later tick (e.g. before the node has bootstrapped).
                    tracing::debug!("dht: announce of {hash} failed: {e}");
                    announced.insert(hash, Instant::now() - REANNOUNCE + Duration::from_secs(30));
                }
            }
        }
    }
}
