//! `podseed serve`: the output folder over HTTP (site and BEP 19 web seed), the tracker over
//! HTTP, UDP and WebSocket ([`ws`]), and reloads when `publish` writes a new build.
//!
//! One tokio runtime; the HTTP listener and the background loops are tasks, the UDP
//! tracker a dedicated thread (see [`udp`]), all sharing one [`State`]. The catalog of
//! published episodes comes from the build manifest and is swapped whole on reload, so the
//! tracker never serves half a build. This module wires things up; protocol logic lives in
//! `tracker`, file serving in [`files`].

pub mod access_log;
pub mod cors;
pub mod downloads;
pub mod files;
pub mod http;
mod lane;
pub mod sent;
pub mod udp;
pub mod ws;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{Config, ServeSettings};
use crate::tracker::connection_id::ConnectionIds;
use crate::tracker::{Tracker, TrackerConfig};

use crate::catalog::{self, Catalog, CatalogError};
use files::StaticFiles;

/// How often the manifest is checked for a new build.
const RELOAD_POLL: Duration = Duration::from_secs(1);

/// Why `serve` could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The output folder holds no readable build.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A listener could not bind.
    #[error(
        "cannot listen on {addr} ({what}): {source}; pick another address in serve: of the config"
    )]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl ServeError {
    /// Whether the user can fix it by publishing or by editing the config (exit 2).
    pub fn is_user_error(&self) -> bool {
        matches!(self, ServeError::Catalog(CatalogError::NoBuild(_)))
    }
}

/// How to run `serve`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Overrides the config's output_dir.
    pub output_dir: Option<PathBuf>,
    /// Where to write the bound addresses as JSON once every listener is up.
    pub ready_file: Option<PathBuf>,
}

use files::OnBodyBytes as Counter;

/// What every listener shares.
pub struct State {
    /// The tracker.
    pub tracker: Tracker,
    /// The static files.
    pub files: StaticFiles,
    /// UDP connection ids.
    pub connection_ids: ConnectionIds,
    /// Honour proxy headers and `ip=`.
    pub trust_proxy: bool,
    /// HTTP connection cap.
    pub max_connections: usize,
    /// HTTP connections per client address.
    pub max_connections_per_ip: usize,
    /// The WebSocket tracker's caps.
    pub ws: ws::WsFront,
    /// The access log (off unless configured).
    pub access_log: access_log::AccessLog,
    /// Downloads counted per episode and day (see [`downloads`]).
    pub downloads: downloads::Downloads,
    /// The secret that opens `/stats.html` (None: off).
    pub stats_token: Option<String>,
    /// The seeder, when on.
    pub seeder: Option<Arc<crate::seeder::Seeder>>,
    /// Where the tracker lists our seeder.
    seeder_addrs: RwLock<Vec<SocketAddr>>,
    out: PathBuf,
    catalog: Arc<RwLock<Arc<Catalog>>>,
    http_bytes: Arc<Mutex<HashMap<String, u64>>>,
    counter: Counter,
    started: Instant,
    /// STUN Binding requests answered on the UDP port.
    stun_requests: std::sync::atomic::AtomicU64,
}

impl State {
    /// Builds the state for the output folder `out` with `catalog`.
    pub fn new(config: &Config, out: &Path, catalog: Catalog) -> Result<State, ServeError> {
        let files = StaticFiles::new(out).map_err(|source| ServeError::Io {
            path: out.to_path_buf(),
            source,
        })?;
        let tracker = Tracker::new(TrackerConfig::from(&config.serve));
        tracker.set_torrents(&catalog.torrents());
        let http_bytes: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
        let catalog = Arc::new(RwLock::new(Arc::new(catalog)));
        // Counts MP3 bytes per episode as the file handler sends them.
        let counter: Counter = {
            let catalog = catalog.clone();
            let counted = http_bytes.clone();
            Arc::new(move |path: &str, n: u64| {
                let is_episode = catalog
                    .read()
                    .map(|c| c.by_media(path).is_some())
                    .unwrap_or(false);
                if is_episode {
                    if let Ok(mut m) = counted.lock() {
                        *m.entry(path.to_string()).or_default() += n;
                    }
                }
            })
        };
        Ok(State {
            tracker,
            files,
            connection_ids: ConnectionIds::new(),
            trust_proxy: config.serve.trust_proxy,
            max_connections: config.serve.max_connections,
            max_connections_per_ip: config.serve.max_connections_per_ip,
            ws: ws::WsFront::new(&config.serve),
            access_log: open_access_log(&config.serve.access_log)?,
            downloads: downloads::Downloads::open(None),
            stats_token: config.serve.stats_token.as_ref().map(|t| t.0.clone()),
            seeder: config.serve.peer.map(|_| {
                Arc::new(crate::seeder::Seeder::new(
                    crate::seeder::SeederConfig::from(&config.serve),
                ))
            }),
            seeder_addrs: RwLock::new(Vec::new()),
            out: out.to_path_buf(),
            catalog,
            http_bytes,
            counter,
            started: Instant::now(),
            stun_requests: Default::default(),
        })
    }

    /// Counts one STUN Binding request answered.
    pub fn count_stun_request(&self) {
        self.stun_requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// STUN Binding requests answered since start.
    pub fn stun_requests(&self) -> u64 {
        self.stun_requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Seconds since start: the tracker's clock.
    pub fn now(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// The current catalog.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// HTTP bytes sent per MP3 path.
    pub fn http_bytes(&self) -> HashMap<String, u64> {
        self.http_bytes
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// The per-chunk byte counter handed to the static file handler.
    pub fn http_counter(&self) -> Counter {
        self.counter.clone()
    }

    /// Installs a new catalog: the static files' table, the tracker and the seeder follow,
    /// peers of unchanged episodes stay. Blocking (the table holds the small files, the
    /// seeder reads .torrent files): call off async workers.
    pub fn install(&self, catalog: Catalog) {
        let indexed = self.files.reindex();
        tracing::debug!(
            "http: indexed {} paths, {} bytes in memory",
            indexed.paths,
            indexed.memory_bytes
        );
        self.tracker.set_torrents(&catalog.torrents());
        if let Some(seeder) = &self.seeder {
            seeder.install(&self.out, &catalog);
        }
        self.list_seeder();
        if let Ok(mut c) = self.catalog.write() {
            *c = Arc::new(catalog);
        }
    }

    /// Tells the tracker where our seeder is and which torrents it still seeds.
    pub fn list_seeder(&self) {
        let addrs = self
            .seeder_addrs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let listed = match &self.seeder {
            Some(seeder) if !addrs.is_empty() => Some(crate::tracker::LocalSeeder {
                addrs,
                peer_id: seeder.peer_id,
                torrents: seeder.active(),
                dial: seeder.dial_requests(),
            }),
            _ => None,
        };
        self.tracker.set_local_seeder(listed);
    }
}

/// Runs `serve` until Ctrl-C or SIGTERM.
pub fn run(config: &Config, opts: &Options) -> Result<(), ServeError> {
    let out = opts
        .output_dir
        .clone()
        .unwrap_or_else(|| config.output_dir.clone());
    let catalog = catalog::load(&out)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| ServeError::Io {
            path: out.clone(),
            source,
        })?;
    runtime.block_on(serve(config, &out, catalog, opts))
}

/// A TCP listener on `addr`; `[::]` is made dual-stack (IPv4 and IPv6 on one port) rather
/// than left to the host's default (`net.ipv6.bindv6only`, and always IPv6-only on some
/// systems), because the tracker lists our IPv4 address for such a listener too.
fn bind_tcp(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    if addr.ip() == std::net::Ipv6Addr::UNSPECIFIED {
        socket.set_only_v6(false)?;
    }
    // As tokio's own bind does: a restarted server takes its port back at once.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

async fn serve(
    config: &Config,
    out: &Path,
    catalog: Catalog,
    opts: &Options,
) -> Result<(), ServeError> {
    let episodes = catalog.episodes.len();
    let mut state = State::new(config, out, catalog)?;
    state.downloads = downloads::Downloads::open(Some(downloads::state_dir(config, out)));
    let state = Arc::new(state);
    let sockets = Sockets::bind(&config.serve)?;
    tracing::info!(
        "http: http://{}/ serves {} ({episodes} episodes): site, web seed, /announce, /scrape, /stats, /metrics{}",
        sockets.bound.http,
        out.display(),
        if config.serve.ws_tracker { ", WebSocket tracker on /announce" } else { "" }
    );
    let bound = sockets.bound;
    let (stop, stopped) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(http::run(sockets.http, state.clone(), stopped.clone()));
    let udp_thread = match sockets.udp {
        Some(socket) => Some(start_udp_tracker(socket, &state, &stopped)?),
        None => None,
    };
    if let (Some(listener), Some(peer)) = (sockets.peer, bound.peer) {
        start_seeder(config, out, &state, (listener, peer), &mut tasks, &stopped).await;
    }
    tasks.spawn(reload_loop(
        out.to_path_buf(),
        state.clone(),
        stopped.clone(),
    ));
    tasks.spawn(downloads::run(state.clone(), stopped.clone()));
    tasks.spawn(sweep_loop(
        state.clone(),
        stopped.clone(),
        config.serve.announce_interval,
    ));
    // Signal handlers are in place before anyone is told we are ready.
    let signals = Signals::new();
    if let Some(path) = &opts.ready_file {
        write_ready_file(path, &bound)?;
    }
    signals.wait().await;
    shut_down(stop, tasks, udp_thread).await;
    // Responses cut short at the drain timeout counted their bytes when dropped.
    state.downloads.observe(&downloads::running(&state));
    state.downloads.flush();
    state.access_log.close();
    Ok(())
}

/// Opens the access log; a file that cannot be opened is named.
fn open_access_log(
    setting: &crate::config::AccessLog,
) -> Result<access_log::AccessLog, ServeError> {
    access_log::AccessLog::open(setting).map_err(|source| ServeError::Io {
        path: match setting {
            crate::config::AccessLog::File(p) => p.clone(),
            _ => PathBuf::from("stdout"),
        },
        source,
    })
}

/// The addresses the listeners got (ports may have been 0 in the config).
#[derive(Debug, Clone, Copy)]
struct Bound {
    http: SocketAddr,
    udp: Option<SocketAddr>,
    peer: Option<SocketAddr>,
}

/// Every listening socket, bound before any task starts so a taken port fails at once.
struct Sockets {
    http: tokio::net::TcpListener,
    udp: Option<std::net::UdpSocket>,
    peer: Option<tokio::net::TcpListener>,
    bound: Bound,
}

impl Sockets {
    fn bind(serve: &ServeSettings) -> Result<Sockets, ServeError> {
        let bind_err = |what: &'static str, addr: SocketAddr| {
            move |source| ServeError::Bind { what, addr, source }
        };
        let http = bind_tcp(serve.http).map_err(bind_err("http", serve.http))?;
        let http_addr = http.local_addr().map_err(bind_err("http", serve.http))?;
        let mut udp = None;
        let mut udp_addr = None;
        if let Some(addr) = serve.udp_tracker {
            let socket = std::net::UdpSocket::bind(addr).map_err(bind_err("udp tracker", addr))?;
            let bound = socket.local_addr().map_err(bind_err("udp tracker", addr))?;
            tracing::info!("udp tracker: udp://{bound}/announce (also answers STUN)");
            (udp, udp_addr) = (Some(socket), Some(bound));
        }
        let mut peer = None;
        let mut peer_addr = None;
        if let Some(addr) = serve.peer {
            let listener = match bind_tcp(addr) {
                // `[::]` serves IPv4 and IPv6 on one port; a host without IPv6 gets 0.0.0.0.
                Err(e) if addr.ip() == std::net::Ipv6Addr::UNSPECIFIED => {
                    let v4 = SocketAddr::from(([0, 0, 0, 0], addr.port()));
                    tracing::info!("seeder: no IPv6 here ({e}); listening on {v4}");
                    bind_tcp(v4)
                }
                r => r,
            }
            .map_err(bind_err("peer (seeder)", addr))?;
            let bound = listener
                .local_addr()
                .map_err(bind_err("peer (seeder)", addr))?;
            (peer, peer_addr) = (Some(listener), Some(bound));
        }
        Ok(Sockets {
            http,
            udp,
            peer,
            bound: Bound {
                http: http_addr,
                udp: udp_addr,
                peer: peer_addr,
            },
        })
    }
}

/// The UDP tracker runs on a thread of its own with a blocking socket (see `udp`).
fn start_udp_tracker(
    socket: std::net::UdpSocket,
    state: &Arc<State>,
    stopped: &watch::Receiver<bool>,
) -> Result<std::thread::JoinHandle<()>, ServeError> {
    let (state, stopped) = (state.clone(), stopped.clone());
    std::thread::Builder::new()
        .name("udp-tracker".into())
        .spawn(move || udp::run(socket, state, stopped))
        .map_err(|source| ServeError::Io {
            path: PathBuf::from("udp tracker thread"),
            source,
        })
}

/// Installs the catalog's torrents, lists the seeder in our tracker, and starts its
/// listener, its announces to other trackers and the DHT.
async fn start_seeder(
    config: &Config,
    out: &Path,
    state: &Arc<State>,
    (listener, bound): (tokio::net::TcpListener, SocketAddr),
    tasks: &mut tokio::task::JoinSet<()>,
    stopped: &watch::Receiver<bool>,
) {
    let Some(seeder) = state.seeder.clone() else {
        return;
    };
    let catalog = state.catalog();
    let episodes = catalog.episodes.len();
    let (s, dir) = (seeder.clone(), out.to_path_buf());
    let _ = tokio::task::spawn_blocking(move || s.install(&dir, &catalog)).await;
    let serve = &config.serve;
    let listed =
        crate::seeder::public_addrs(bound, serve.peer_public_addr, serve.public_url.as_ref()).await;
    *state
        .seeder_addrs
        .write()
        .unwrap_or_else(|p| p.into_inner()) = listed.clone();
    state.list_seeder();
    tracing::info!(
        "seeder: {bound}, seeding {} of {episodes} episodes, {}",
        seeder.active().len(),
        if listed.is_empty() {
            "not listed by the tracker (address unknown)".to_string()
        } else {
            let shown: Vec<String> = listed.iter().map(ToString::to_string).collect();
            format!("listed by the tracker as {}", shown.join(" and "))
        }
    );
    // Every listed address has the port peers reach us on.
    let public_port = listed.first().map_or(bound.port(), SocketAddr::port);
    let identity = crate::seeder::announce::Identity {
        peer_id: seeder.peer_id,
        port: public_port,
        ip: serve.peer_public_addr.map(|a| a.ip()),
    };
    tasks.spawn(crate::seeder::announce::run(
        seeder.clone(),
        identity,
        serve.tracker_urls(),
        stopped.clone(),
    ));
    if serve.dht {
        tasks.spawn(crate::seeder::dht::run(
            seeder.clone(),
            bound,
            public_port,
            serve.dht_bootstrap.clone(),
            stopped.clone(),
        ));
    }
    tasks.spawn(crate::seeder::run(listener, seeder, stopped.clone()));
}

/// Tells a supervisor (or a test) where each listener is, once all of them are up.
fn write_ready_file(path: &Path, bound: &Bound) -> Result<(), ServeError> {
    let mut ready = serde_json::Map::new();
    ready.insert("http".into(), bound.http.to_string().into());
    if let Some(udp) = &bound.udp {
        ready.insert("udp_tracker".into(), udp.to_string().into());
    }
    if let Some(peer) = &bound.peer {
        ready.insert("peer".into(), peer.to_string().into());
    }
    write_atomically(path, &serde_json::Value::Object(ready).to_string())
}

/// Stops taking connections, lets responses finish within the drain timeout, and joins
/// the UDP thread.
async fn shut_down(
    stop: watch::Sender<bool>,
    mut tasks: tokio::task::JoinSet<()>,
    udp_thread: Option<std::thread::JoinHandle<()>>,
) {
    tracing::info!("shutting down: no new connections, finishing responses");
    let _ = stop.send(true);
    let drained = tokio::time::timeout(http::DRAIN_TIMEOUT + Duration::from_millis(500), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tasks.abort_all();
    }
    if let Some(t) = udp_thread {
        // It notices the flag within one receive timeout.
        let _ = tokio::task::spawn_blocking(move || t.join()).await;
    }
}

fn write_atomically(path: &Path, text: &str) -> Result<(), ServeError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| ServeError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Ctrl-C and SIGTERM, registered when created.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        {
            let recv = |s: &mut Option<tokio::signal::unix::Signal>| {
                let s = s.take();
                async move {
                    match s {
                        Some(mut s) => {
                            s.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                }
            };
            let (term, int) = (recv(&mut self.term), recv(&mut self.int));
            tokio::select! {
                _ = term => {},
                _ = int => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Watches the manifest; a new build is loaded off the async workers and installed whole.
async fn reload_loop(out: PathBuf, state: Arc<State>, mut shutdown: watch::Receiver<bool>) {
    let stamp_of = |out: PathBuf| tokio::task::spawn_blocking(move || catalog::stamp(&out));
    let mut last = stamp_of(out.clone()).await.ok().flatten();
    let mut tick = tokio::time::interval(RELOAD_POLL);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        // A torrent the seeder disabled (its file changed) leaves the tracker's lists.
        state.list_seeder();
        let now = stamp_of(out.clone()).await.ok().flatten();
        if now.is_none() || now == last {
            continue;
        }
        last = now;
        let (dir, st) = (out.clone(), state.clone());
        let loaded = tokio::task::spawn_blocking(move || {
            let catalog = catalog::load(&dir)?;
            let (old, new) = (st.catalog().info_hashes(), catalog.info_hashes());
            let added = new.iter().filter(|h| !old.contains(h)).count();
            let removed = old.iter().filter(|h| !new.contains(h)).count();
            let count = catalog.episodes.len();
            st.install(catalog);
            Ok::<_, ServeError>((count, added, removed))
        })
        .await;
        match loaded {
            Ok(Ok((count, added, removed))) => tracing::info!(
                "reloaded {}: {count} episodes ({added} new, {removed} removed)",
                out.display()
            ),
            Ok(Err(e)) => tracing::warn!("reload skipped: {e}"),
            Err(e) => tracing::warn!("reload failed: {e}"),
        }
    }
}

/// Expires silent peers; runs every half interval.
async fn sweep_loop(state: Arc<State>, mut shutdown: watch::Receiver<bool>, interval: u32) {
    let period = Duration::from_secs(u64::from(interval / 2).max(1));
    let mut tick = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        let n = state.tracker.sweep(state.now());
        if n > 0 {
            tracing::debug!("tracker: expired {n} peers");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unspecified_ipv6_listener_takes_ipv4_too() {
        let any6: SocketAddr = "[::]:0".parse().expect("addr");
        let Ok(listener) = bind_tcp(any6) else {
            eprintln!("SKIP an_unspecified_ipv6_listener_takes_ipv4_too: no IPv6 on this host");
            return;
        };
        let port = listener.local_addr().expect("addr").port();
        let v4 = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
        assert!(v4.is_ok(), "IPv4 refused by [::]: {v4:?}");
        let (_, from) = listener.accept().await.expect("accept");
        assert!(from.ip().to_canonical().is_ipv4(), "{from}");
        // A specific address stays what it is.
        let lo4 = bind_tcp("127.0.0.1:0".parse().expect("addr")).expect("bind");
        assert!(lo4.local_addr().expect("addr").is_ipv4());
    }
}
