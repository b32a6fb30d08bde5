//! Downloads counted the way the podcast industry counts them (IAB Tech Lab Podcast
//! Measurement Technical Guidelines v2.x): per episode, one download per listener — client
//! address (IPv6 cut to its /64) and User-Agent — in a rolling 24 h window, once that
//! listener has been sent at least one minute of the episode's audio (by its bitrate), over
//! any number of requests. Known bots and pre-load probes (`Range: bytes=0-1`) never count.
//! BitTorrent and browser-swarm completions (from the tracker) and the bytes each path
//! delivered (our HTTP, our seeder, the swarm) are kept beside them, per UTC day.
//!
//! Each response body of an episode is wrapped (as the access log does) so that, when it
//! ends or is dropped, the bytes actually sent are added to the listener's window. Days are
//! written to `<state_dir>/downloads/YYYY-MM-DD.{json,csv}` atomically every few seconds
//! when they changed and at shutdown, and read back at start. Not here: serving files
//! (`files`) and the tracker's own figures (`tracker`).

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::catalog::Catalog;

use super::State;

/// Seconds a listener's window lasts (IAB: 24 hours).
pub const WINDOW_SECS: i64 = 24 * 60 * 60;
/// Listener windows kept at most; see [`Downloads::track`] for what happens past it.
/// About 150 bytes each (key, window, the path's copy), so under 40 MB.
pub const WINDOW_CAP: usize = 250_000;
/// Audio a listener must have received for a download to count (IAB: one minute).
const MIN_SECONDS: u64 = 60;
/// The bitrate assumed when publish could not measure one (a common podcast MP3 rate).
const FALLBACK_BITRATE_BPS: u64 = 128_000;
/// How often changed days are written (a kill -9 loses at most this much).
pub const FLUSH_EVERY: Duration = Duration::from_secs(10);
/// Version of the daily JSON file.
const FORMAT: u32 = 1;

/// User-Agent substrings (lowercase) that mark a client as a bot or a tool, not a listener.
/// Our own short list: the generic words the OPAWG user-agents list and OP3 treat as bots
/// ("bot", "crawler", "spider"), search and link-preview fetchers, uptime monitors, and
/// the command-line and scripting HTTP libraries nobody listens with. Podcast apps that use
/// a generic library (okhttp, CFNetwork, Lavf, AppleCoreMedia) are listeners and stay in.
pub const BOT_PATTERNS: &[&str] = &[
    "bot",
    "crawler",
    "spider",
    "slurp",
    "facebookexternalhit",
    "headlesschrome",
    "lighthouse",
    "pingdom",
    "uptime",
    "monitor",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "go-http-client",
    "libwww-perl",
    "java/",
    "node-fetch",
    "axios/",
    "scrapy",
];

/// Words that contain a bot pattern but name listeners' devices (CUBOT phones).
const NOT_BOTS: &[&str] = &["cubot"];

/// Whether `user_agent` is a bot by [`BOT_PATTERNS`]; a missing or empty one is too (OP3).
pub fn is_bot(user_agent: &str) -> bool {
    let mut ua = user_agent.trim().to_ascii_lowercase();
    for word in NOT_BOTS {
        ua = ua.replace(word, " ");
    }
    user_agent.trim().is_empty() || BOT_PATTERNS.iter().any(|p| ua.contains(p))
}

/// Whether a `Range` header asks for two bytes or fewer from the start — the probe
/// (`bytes=0-1`, `bytes=0-0`) players and Apple's podcast app send before any real
/// download, which IAB excludes.
pub fn is_probe(range: Option<&str>) -> bool {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return false;
    };
    if spec.contains(',') {
        return false;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return false;
    };
    match (first.trim().parse::<u64>(), last.trim().parse::<u64>()) {
        (Ok(a), Ok(b)) => b >= a && b - a < 2,
        _ => false,
    }
}

/// Bytes that make a download of an episode: one minute at its bitrate, at most its size.
pub fn threshold(bitrate_bps: Option<u64>, size: u64) -> u64 {
    let bps = bitrate_bps
        .filter(|&b| b > 0)
        .unwrap_or(FALLBACK_BITRATE_BPS);
    (bps / 8).saturating_mul(MIN_SECONDS).min(size).max(1)
}

/// The address a listener is known by: IPv4 whole, IPv6 cut to its /64 (IAB v2.1), as
/// one device's privacy addresses change within its /64.
fn listener_addr(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// One listener of one episode.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    ip: IpAddr,
    ua: u64,
    media: Arc<str>,
}

/// What a listener has been sent in its window.
#[derive(Debug, Clone, Copy)]
struct Seen {
    since: i64,
    bytes: u64,
    counted: bool,
}

/// One episode's figures on one day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpisodeDay {
    /// Title when last seen.
    pub title: String,
    /// Downloads counted by the rules above.
    pub downloads: u64,
    /// BitTorrent clients that completed (tracker `completed`, or `left=0`).
    pub torrent_completions: u64,
    /// Browser (WebTorrent) peers that announced `completed`.
    pub browser_completions: u64,
    /// Audio bytes our HTTP sent (players and web seed).
    pub http_bytes: u64,
    /// Bytes our seeder sent to peers.
    pub seeder_bytes: u64,
    /// Bytes listeners got from each other (reported, minus what we sent).
    pub swarm_bytes: u64,
}

impl EpisodeDay {
    fn add(&mut self, o: &EpisodeDay) {
        self.downloads += o.downloads;
        self.torrent_completions += o.torrent_completions;
        self.browser_completions += o.browser_completions;
        self.http_bytes += o.http_bytes;
        self.seeder_bytes += o.seeder_bytes;
        self.swarm_bytes += o.swarm_bytes;
    }
}

/// One UTC day: the daily file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Day {
    /// Layout version.
    pub format: u32,
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Per episode, by its MP3 path in the output folder.
    pub episodes: BTreeMap<String, EpisodeDay>,
}

impl Day {
    /// The sums over episodes.
    pub fn totals(&self) -> EpisodeDay {
        let mut t = EpisodeDay::default();
        for e in self.episodes.values() {
            t.add(e);
        }
        t
    }
}

/// Cumulative figures of one episode since `serve` started, as the tracker, the file
/// handler and the seeder count them; the book turns them into per-day increments.
#[derive(Debug, Clone, Default)]
pub struct Running {
    /// MP3 path.
    pub media: String,
    /// Title.
    pub title: String,
    /// Tracker completions.
    pub torrent_completions: u64,
    /// Browser completions.
    pub browser_completions: u64,
    /// HTTP bytes.
    pub http_bytes: u64,
    /// Seeder bytes.
    pub seeder_bytes: u64,
    /// Bytes listeners reported downloading, BitTorrent and browsers (only grows).
    pub listener_bytes: u64,
}

/// The counts: the listeners' windows and the days.
#[derive(Default)]
struct Book {
    window: HashMap<Key, Seen>,
    days: BTreeMap<String, Day>,
    dirty: BTreeSet<String>,
    last: HashMap<String, Running>,
    untracked: u64,
    bots: u64,
    probes: u64,
}

/// The UTC date of unix time `t`.
fn date_of(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

impl Book {
    fn episode_day(&mut self, now: i64, media: &str) -> &mut EpisodeDay {
        let date = date_of(now);
        self.dirty.insert(date.clone());
        let day = self.days.entry(date.clone()).or_insert_with(|| Day {
            format: FORMAT,
            date,
            episodes: BTreeMap::new(),
        });
        day.episodes.entry(media.to_string()).or_default()
    }

    /// Adds `bytes` sent to `key` at `now`; true when that made a download.
    fn add(&mut self, key: Key, bytes: u64, threshold: u64, now: i64) -> bool {
        if !self.window.contains_key(&key) && self.window.len() >= WINDOW_CAP {
            // Full of listeners seen within 24 h: a new one is not tracked and not counted
            // (an undercount, never a double count); the sweep frees room as windows end.
            self.untracked += 1;
            if self.untracked.is_power_of_two() {
                tracing::warn!(
                    "downloads: {} requests not counted (more than {WINDOW_CAP} listeners in 24 h)",
                    self.untracked
                );
            }
            return false;
        }
        let media = key.media.clone();
        let seen = self.window.entry(key).or_insert(Seen {
            since: now,
            bytes: 0,
            counted: false,
        });
        if now - seen.since >= WINDOW_SECS {
            *seen = Seen {
                since: now,
                bytes: 0,
                counted: false,
            };
        }
        seen.bytes = seen.bytes.saturating_add(bytes);
        if seen.counted || seen.bytes < threshold {
            return false;
        }
        seen.counted = true;
        self.episode_day(now, &media).downloads += 1;
        true
    }

    /// Drops windows that ended.
    fn sweep(&mut self, now: i64) {
        self.window.retain(|_, s| now - s.since < WINDOW_SECS);
    }

    /// Turns cumulative figures into today's increments (a counter that went down was
    /// reset, e.g. a torrent replaced by a new build: its whole value is new).
    fn observe(&mut self, now: i64, running: &[Running]) {
        for r in running {
            let last = self.last.get(&r.media).cloned().unwrap_or_default();
            let delta = |cur: u64, before: u64| if cur < before { cur } else { cur - before };
            let (http_bytes, seeder_bytes) = (
                delta(r.http_bytes, last.http_bytes),
                delta(r.seeder_bytes, last.seeder_bytes),
            );
            let inc = EpisodeDay {
                title: r.title.clone(),
                downloads: 0,
                torrent_completions: delta(r.torrent_completions, last.torrent_completions),
                browser_completions: delta(r.browser_completions, last.browser_completions),
                http_bytes,
                seeder_bytes,
                // What listeners got in this interval that we did not send (as /stats'
                // swarm_saved_bytes, per interval).
                swarm_bytes: delta(r.listener_bytes, last.listener_bytes)
                    .saturating_sub(http_bytes.saturating_add(seeder_bytes)),
            };
            if inc
                != (EpisodeDay {
                    title: r.title.clone(),
                    ..EpisodeDay::default()
                })
            {
                let day = self.episode_day(now, &r.media);
                day.title = inc.title.clone();
                day.add(&inc);
            }
            self.last.insert(r.media.clone(), r.clone());
        }
    }
}

/// An episode request worth following: who asked, for what, and how much makes a download.
pub struct Tracked {
    key: Key,
    threshold: u64,
}

/// The download counter of one `serve`; cheap to share.
#[derive(Clone)]
pub struct Downloads {
    book: Arc<Mutex<Book>>,
    ua_hasher: RandomState,
    dir: Option<PathBuf>,
    /// Held while this server writes the folder, so a second one cannot overwrite its days.
    _lock: Option<Arc<std::fs::File>>,
}

/// Figures about the counter itself, for `/stats`.
#[derive(Debug, Serialize)]
pub struct CounterStats {
    /// Where the daily files are (None: not kept, counts live in memory only).
    pub state_dir: Option<PathBuf>,
    /// Listener windows open now.
    pub listeners_in_window: usize,
    /// The most windows kept.
    pub window_cap: usize,
    /// Requests not counted because the window was full.
    pub untracked_requests: u64,
    /// Episode requests from bots, ignored.
    pub bot_requests: u64,
    /// Range probes (`bytes=0-1`), ignored.
    pub probe_requests: u64,
}

/// Unix time now.
fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Downloads {
    /// A counter keeping its days in `dir/downloads/` (None: memory only), read back now.
    pub fn open(dir: Option<PathBuf>) -> Downloads {
        let mut book = Book::default();
        let mut lock = None;
        let dir = dir.and_then(|d| {
            let days = d.join("downloads");
            match std::fs::create_dir_all(&days).and_then(|()| lock_folder(&days)) {
                Ok(held) => {
                    lock = Some(Arc::new(held));
                    Some(days)
                }
                Err(e) => {
                    tracing::warn!(
                        "downloads: cannot use {}: {e}; counts are kept in memory only",
                        days.display()
                    );
                    None
                }
            }
        });
        if let Some(d) = &dir {
            book.days = read_days(d);
            tracing::info!(
                "downloads: counting into {} ({} days read back)",
                d.display(),
                book.days.len()
            );
        }
        Downloads {
            book: Arc::new(Mutex::new(book)),
            ua_hasher: RandomState::new(),
            dir,
            _lock: lock,
        }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The request to follow, if it is a GET of an episode's MP3 by a listener (not a bot,
    /// not a probe); bots and probes are counted as such.
    pub fn track(
        &self,
        client: IpAddr,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        catalog: &Catalog,
    ) -> Option<Tracked> {
        if method != Method::GET {
            return None;
        }
        let path = percent_decode_str(uri.path().strip_prefix('/')?)
            .decode_utf8()
            .ok()?;
        let episode = catalog.by_media(&path)?;
        let text = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let ua = text(header::USER_AGENT).unwrap_or_default();
        if is_bot(&ua) {
            self.book().bots += 1;
            return None;
        }
        if is_probe(text(header::RANGE).as_deref()) {
            self.book().probes += 1;
            return None;
        }
        Some(Tracked {
            key: Key {
                ip: listener_addr(client),
                ua: self.ua_hasher.hash_one(ua.as_str()),
                media: Arc::from(episode.media.as_str()),
            },
            threshold: threshold(episode.bitrate_bps, episode.size),
        })
    }

    /// Wraps `response` so that the bytes its body actually sent count for `tracked` once
    /// it ends or is dropped. Only 200 and 206 carry audio.
    pub fn record(&self, tracked: Tracked, response: Response<Body>) -> Response<Body> {
        if !matches!(
            response.status(),
            StatusCode::OK | StatusCode::PARTIAL_CONTENT
        ) {
            return response;
        }
        let downloads = self.clone();
        super::sent::when_sent(response, move |_, bytes| downloads.add(tracked, bytes))
    }

    fn add(&self, tracked: Tracked, bytes: u64) {
        if bytes > 0 {
            self.book()
                .add(tracked.key, bytes, tracked.threshold, now());
        }
    }

    /// Takes in the cumulative figures (completions, bytes by path) as of now.
    pub fn observe(&self, running: &[Running]) {
        self.book().observe(now(), running);
    }

    /// Per episode MP3 path: (today, all days).
    pub fn per_episode(&self) -> HashMap<String, (EpisodeDay, EpisodeDay)> {
        let book = self.book();
        let today = date_of(now());
        let mut out: HashMap<String, (EpisodeDay, EpisodeDay)> = HashMap::new();
        for (date, day) in &book.days {
            for (media, e) in &day.episodes {
                let slot = out.entry(media.clone()).or_default();
                slot.1.add(e);
                if *date == today {
                    slot.0.add(e);
                }
            }
        }
        out
    }

    /// Every day kept, oldest first.
    pub fn days(&self) -> Vec<Day> {
        self.book().days.values().cloned().collect()
    }

    /// The counter's own figures.
    pub fn counter_stats(&self) -> CounterStats {
        let book = self.book();
        CounterStats {
            state_dir: self.dir.clone(),
            listeners_in_window: book.window.len(),
            window_cap: WINDOW_CAP,
            untracked_requests: book.untracked,
            bot_requests: book.bots,
            probe_requests: book.probes,
        }
    }

    /// Ends old windows and writes the days that changed (blocking file I/O).
    pub fn flush(&self) {
        let (days, dir) = {
            let mut book = self.book();
            book.sweep(now());
            let Some(dir) = &self.dir else {
                book.dirty.clear();
                return;
            };
            let dirty = std::mem::take(&mut book.dirty);
            let days: Vec<Day> = dirty
                .iter()
                .filter_map(|d| book.days.get(d).cloned())
                .collect();
            (days, dir.clone())
        };
        for day in days {
            if let Err(e) = write_day(&dir, &day) {
                tracing::warn!("downloads: cannot write {}: {e}", day.date);
                // Written again at the next flush.
                self.book().dirty.insert(day.date.clone());
            }
        }
    }
}

/// Takes the folder's lock file; fails when another `serve` holds it.
fn lock_folder(days: &Path) -> std::io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(days.join(".lock"))?;
    #[cfg(unix)]
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
        |_| {
            std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                "another podseed serve counts into this folder (give each its own serve.state_dir)",
            )
        },
    )?;
    Ok(file)
}

/// Where the counts are kept: `serve.state_dir`, else systemd's `$STATE_DIRECTORY` (set by
/// `StateDirectory=`), else `state/` beside the config. A folder inside the output `out`
/// is named in a warning: it would be published, and replaced by the next build.
pub fn state_dir(config: &crate::config::Config, out: &Path) -> PathBuf {
    let dir = choose_state_dir(config);
    let inside = |a: &Path, b: &Path| {
        let (a, b) = (std::path::absolute(a), std::path::absolute(b));
        matches!((a, b), (Ok(a), Ok(b)) if a.starts_with(&b))
    };
    if inside(&dir, out) {
        tracing::warn!(
            "downloads: the state folder {} is inside the output folder {}: its counts would be served to anyone and lost at the next build; set serve.state_dir elsewhere",
            dir.display(),
            out.display()
        );
    }
    dir
}

fn choose_state_dir(config: &crate::config::Config) -> PathBuf {
    if let Some(d) = &config.serve.state_dir {
        return d.clone();
    }
    if let Some(d) = std::env::var_os("STATE_DIRECTORY").filter(|d| !d.is_empty()) {
        // systemd may list several, separated by colons; the first is ours.
        let first = d
            .to_string_lossy()
            .split(':')
            .next()
            .unwrap_or("")
            .to_string();
        if !first.is_empty() {
            return PathBuf::from(first);
        }
    }
    let root = config
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    root.join("state")
}

/// Reads every `YYYY-MM-DD.json` in `dir`; unreadable files are named and skipped.
fn read_days(dir: &Path) -> BTreeMap<String, Day> {
    let mut days = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return days;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let read = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Day>(&b).map_err(|e| e.to_string()));
        match read {
            Ok(day) if day.format == FORMAT && path.file_stem() == Some(day.date.as_ref()) => {
                days.insert(day.date.clone(), day);
            }
            Ok(_) => tracing::warn!("downloads: {} is not a day file; skipped", path.display()),
            Err(e) => tracing::warn!("downloads: {}: {e}; skipped", path.display()),
        }
    }
    days
}

/// The CSV header of a daily file.
pub const CSV_HEADER: &str = "date,media,title,downloads,torrent_completions,browser_completions,http_bytes,seeder_bytes,swarm_bytes";

/// A day as CSV: the header, then one row per episode.
pub fn day_csv(day: &Day) -> String {
    let mut out = format!("{CSV_HEADER}\n");
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    for (media, e) in &day.episodes {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{}",
            day.date,
            quote(media),
            quote(&e.title),
            e.downloads,
            e.torrent_completions,
            e.browser_completions,
            e.http_bytes,
            e.seeder_bytes,
            e.swarm_bytes
        );
    }
    out
}

/// Writes `day` as JSON (read back at start) and CSV (for spreadsheets), each through a
/// temporary file renamed over the old one, so a crash leaves the old or the new file.
fn write_day(dir: &Path, day: &Day) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(day).map_err(std::io::Error::other)?;
    replace(&dir.join(format!("{}.json", day.date)), &json)?;
    replace(
        &dir.join(format!("{}.csv", day.date)),
        day_csv(day).as_bytes(),
    )
}

fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The cumulative per-episode figures `/stats` has now, for [`Downloads::observe`].
pub fn running(state: &State) -> Vec<Running> {
    let catalog = state.catalog();
    let swarms = state.tracker.stats();
    let http = state.http_bytes();
    catalog
        .episodes
        .iter()
        .map(|e| {
            let s = swarms.get(&e.info_hash).cloned().unwrap_or_default();
            let http_bytes = http.get(&e.media).copied().unwrap_or(0);
            let seeder_bytes = state
                .seeder
                .as_ref()
                .map_or(0, |sd| sd.uploaded(&e.info_hash));
            Running {
                media: e.media.clone(),
                title: e.title.clone(),
                torrent_completions: s.completed,
                browser_completions: s.browser_completed,
                http_bytes,
                seeder_bytes,
                listener_bytes: s.peer_downloaded.saturating_add(s.browser_downloaded),
            }
        })
        .collect()
}

/// Takes in the figures and writes changed days every [`FLUSH_EVERY`] until shutdown,
/// then once more.
pub async fn run(state: Arc<State>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        let stop = tokio::select! {
            _ = shutdown.changed() => true,
            _ = tick.tick() => false,
        };
        state.downloads.observe(&running(&state));
        let d = state.downloads.clone();
        let _ = tokio::task::spawn_blocking(move || d.flush()).await;
        if stop {
            return;
        }
    }
}

/// Whether `given` is the token, compared in time independent of where they differ.
pub fn token_matches(given: &str, token: &str) -> bool {
    let (a, b) = (given.as_bytes(), token.as_bytes());
    let mut diff = u8::from(a.len() != b.len());
    for (i, &t) in b.iter().enumerate() {
        diff |= a.get(i).copied().unwrap_or(0) ^ t;
    }
    diff == 0
}

/// The token a request carries: `?token=`, `Authorization: Bearer`, or `X-Podseed-Token`.
fn given_token(query: &str, headers: &HeaderMap) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(t) = header("authorization").and_then(|v| v.strip_prefix("Bearer ")) {
        return Some(t.trim().to_string());
    }
    if let Some(t) = header("x-podseed-token") {
        return Some(t.trim().to_string());
    }
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// `/stats.html`: 404 without a configured token, 401 without the right one, else the page.
pub fn page(state: &State, query: &str, headers: &HeaderMap) -> Response<Body> {
    let status = match (&state.stats_token, given_token(query, headers)) {
        (None, _) => StatusCode::NOT_FOUND,
        (Some(token), Some(given)) if token_matches(&given, token) => StatusCode::OK,
        _ => StatusCode::UNAUTHORIZED,
    };
    let body = if status == StatusCode::OK {
        state.downloads.observe(&running(state));
        render_page(state)
    } else if status == StatusCode::UNAUTHORIZED {
        "token required: /stats.html?token=...\n".to_string()
    } else {
        "not found\n".to_string()
    };
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    let kind = if status == StatusCode::OK {
        "text/html; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The token may be in the URL: never send it on, never index the page, run no script.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    r
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Days shown in the charts.
const CHART_DAYS: usize = 30;

/// A bar chart as inline SVG: one bar per day, stacked by series.
fn svg_bars(days: &[(String, Vec<u64>)], colours: &[&str], unit: &str) -> String {
    let (w, h, left, bottom) = (640.0_f64, 200.0_f64, 56.0_f64, 24.0_f64);
    let max = days
        .iter()
        .map(|(_, v)| v.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let n = days.len().max(1) as f64;
    let slot = (w - left) / n;
    let mut svg = format!(
        "<svg viewBox=\"0 0 {w} {}\" width=\"100%\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">",
        h + bottom
    );
    let _ = write!(
        svg,
        "<text x=\"0\" y=\"12\" font-size=\"11\">{}</text><text x=\"0\" y=\"{h}\" font-size=\"11\">0</text><line x1=\"{left}\" y1=\"{h}\" x2=\"{w}\" y2=\"{h}\" stroke=\"#999\"/>",
        escape_html(&human(max as u64, unit)),
    );
    for (i, (date, values)) in days.iter().enumerate() {
        let x = left + slot * i as f64 + slot * 0.1;
        let mut y = h;
        let total: u64 = values.iter().sum();
        for (v, colour) in values.iter().zip(colours) {
            let bh = (*v as f64 / max) * (h - 16.0);
            y -= bh;
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{colour}\"><title>{} {}</title></rect>",
                slot * 0.8,
                escape_html(date),
                escape_html(&human(*v, unit))
            );
        }
        let _ = write!(
            svg,
            "<title>{} {}</title>",
            escape_html(date),
            escape_html(&human(total, unit))
        );
        if i == 0 || i + 1 == days.len() {
            // The last label ends at its bar, so it stays inside the chart.
            let (lx, anchor) = if i == 0 {
                (x, "start")
            } else {
                (x + slot * 0.8, "end")
            };
            let _ = write!(
                svg,
                "<text x=\"{lx:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"{anchor}\">{}</text>",
                h + 16.0,
                escape_html(date.get(5..).unwrap_or(date))
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn human(n: u64, unit: &str) -> String {
    if unit != "B" {
        return format!("{n} {unit}");
    }
    let units = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    format!("{v:.1} {}", units[i])
}

/// The podcaster's page: a table per episode and two charts over the last days.
fn render_page(state: &State) -> String {
    let days: BTreeMap<String, EpisodeDay> = state
        .downloads
        .days()
        .iter()
        .map(|d| (d.date.clone(), d.totals()))
        .collect();
    // The last days up to today, a day without a file shown as zero.
    let today = chrono::Utc::now().date_naive();
    let totals: Vec<(String, EpisodeDay)> = (0..CHART_DAYS as u64)
        .rev()
        .filter_map(|back| today.checked_sub_days(chrono::Days::new(back)))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .map(|d| {
            let t = days.get(&d).cloned().unwrap_or_default();
            (d, t)
        })
        .collect();
    let downloads: Vec<(String, Vec<u64>)> = totals
        .iter()
        .map(|(d, t)| (d.clone(), vec![t.downloads]))
        .collect();
    let bytes: Vec<(String, Vec<u64>)> = totals
        .iter()
        .map(|(d, t)| (d.clone(), vec![t.http_bytes, t.seeder_bytes, t.swarm_bytes]))
        .collect();
    let per = state.downloads.per_episode();
    let mut rows = String::new();
    for e in &state.catalog().episodes {
        let (today, all) = per.get(&e.media).cloned().unwrap_or_default();
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape_html(&e.title),
            today.downloads,
            all.downloads,
            all.torrent_completions,
            all.browser_completions
        );
    }
    let (c_http, c_seed, c_swarm) = ("#2b6cb0", "#dd6b20", "#38a169");
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"robots\" content=\"noindex\"><title>Downloads</title><style>body{{font-family:system-ui,sans-serif;max-width:720px;margin:1em auto;padding:0 1em;color:#222}}table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:4px;text-align:right}}td:first-child,th:first-child{{text-align:left}}.key span{{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}}</style></head><body>\
<h1>Downloads</h1><p>Counted as the IAB podcast guidelines count them: one per listener (address and app) and episode in 24 hours, once a minute of audio was sent; bots and probes left out. Days are UTC.</p>\
<h2>Downloads per day</h2>{}\
<h2>Bytes by path per day</h2><p class=\"key\"><span style=\"background:{c_http}\"></span>our HTTP<span style=\"background:{c_seed}\"></span>our seeder<span style=\"background:{c_swarm}\"></span>the swarm</p>{}\
<h2>Episodes</h2><div style=\"overflow-x:auto\"><table><tr><th>Episode</th><th>Today</th><th>Downloads</th><th>Torrent completions</th><th>Browser completions</th></tr>{rows}</table></div></body></html>\n",
        svg_bars(&downloads, &["#2b6cb0"], "downloads"),
        svg_bars(&bytes, &[c_http, c_seed, c_swarm], "B"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEDIA: &str = "episodes/a.mp3";
    /// One minute at 64 kbps.
    const MINUTE: u64 = 480_000;

    fn key(ip: &str, ua: u64) -> Key {
        Key {
            ip: listener_addr(ip.parse().expect("ip")),
            ua,
            media: Arc::from(MEDIA),
        }
    }

    fn downloads(book: &Book) -> u64 {
        book.days
            .values()
            .map(|d| d.episodes.get(MEDIA).map_or(0, |e| e.downloads))
            .sum()
    }

    const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    #[test]
    fn the_same_listener_twice_in_24_hours_is_one_download() {
        let mut b = Book::default();
        assert!(b.add(key("203.0.113.9", 1), MINUTE, MINUTE, T0));
        assert!(!b.add(key("203.0.113.9", 1), MINUTE * 3, MINUTE, T0 + 3600));
        assert!(!b.add(key("203.0.113.9", 1), MINUTE, MINUTE, T0 + WINDOW_SECS - 1));
        assert_eq!(downloads(&b), 1);
        // Another app on the same address, or another address, is another listener.
        assert!(b.add(key("203.0.113.9", 2), MINUTE, MINUTE, T0));
        assert!(b.add(key("203.0.113.10", 1), MINUTE, MINUTE, T0));
        // After 24 h the window starts again.
        assert!(b.add(key("203.0.113.9", 1), MINUTE, MINUTE, T0 + WINDOW_SECS));
        assert_eq!(downloads(&b), 4);
    }

    #[test]
    fn under_a_minute_of_audio_is_no_download() {
        let mut b = Book::default();
        assert!(!b.add(key("203.0.113.9", 1), MINUTE - 1, MINUTE, T0));
        assert_eq!(downloads(&b), 0);
        assert_eq!(threshold(Some(64_000), 10_000_000), MINUTE);
        // Unknown bitrate: 128 kbps; a file shorter than a minute counts when whole.
        assert_eq!(threshold(None, 10_000_000), 960_000);
        assert_eq!(threshold(Some(64_000), 1000), 1000);
    }

    #[test]
    fn a_download_spread_over_range_requests_is_one() {
        let mut b = Book::default();
        let k = || key("2001:db8:1:2:aaaa::1", 7);
        assert!(!b.add(k(), MINUTE / 3, MINUTE, T0));
        assert!(!b.add(k(), MINUTE / 3, MINUTE, T0 + 10));
        // Another address in the same /64 is the same device.
        let same64 = key("2001:db8:1:2:bbbb::9", 7);
        assert!(b.add(same64, MINUTE / 3 + 1, MINUTE, T0 + 20));
        assert!(!b.add(k(), 10 * MINUTE, MINUTE, T0 + 30));
        assert_eq!(downloads(&b), 1);
    }

    #[test]
    fn bots_and_probes_are_recognised() {
        for ua in [
            "",
            "Googlebot/2.1 (+http://www.google.com/bot.html)",
            "curl/8.5.0",
            "Wget/1.21",
            "python-requests/2.31",
            "facebookexternalhit/1.1",
            "Go-http-client/1.1",
        ] {
            assert!(is_bot(ua), "{ua}");
        }
        for ua in [
            "AppleCoreMedia/1.0.0.21E236 (iPhone; U; CPU OS 17_4 like Mac OS X; en_us)",
            "Podcasts/1650.20 CFNetwork/1410.1 Darwin/22.6.0",
            "AntennaPod/3.4.0",
            "okhttp/4.12.0",
            "Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 Chrome/120.0 Mobile",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ] {
            assert!(!is_bot(ua), "{ua}");
        }
        assert!(is_probe(Some("bytes=0-1")));
        assert!(is_probe(Some("bytes=0-0")));
        assert!(!is_probe(Some("bytes=0-")));
        assert!(!is_probe(Some("bytes=0-1023")));
        assert!(!is_probe(Some("bytes=0-1,5-9")));
        assert!(!is_probe(None));
    }

    #[test]
    fn only_episodes_of_the_catalog_are_followed() {
        let d = Downloads::open(None);
        let catalog = Catalog::default();
        let uri: Uri = "/episodes/a.mp3".parse().expect("uri");
        // Not an episode of the catalog: nothing to follow.
        // A second counter on the same folder keeps to memory.
        let dir = tempfile::tempdir().expect("tmp");
        let first = Downloads::open(Some(dir.path().to_path_buf()));
        assert!(first.dir.is_some());
        #[cfg(unix)]
        assert!(Downloads::open(Some(dir.path().to_path_buf()))
            .dir
            .is_none());
        assert!(d
            .track(
                "203.0.113.9".parse().expect("ip"),
                &Method::GET,
                &uri,
                &HeaderMap::new(),
                &catalog
            )
            .is_none());
    }

    #[test]
    fn a_full_window_counts_no_new_listener_until_windows_end() {
        let mut b = Book::default();
        for i in 0..WINDOW_CAP as u64 {
            b.window.insert(
                key("203.0.113.9", i + 100),
                Seen {
                    since: T0,
                    bytes: 0,
                    counted: false,
                },
            );
        }
        assert!(!b.add(key("203.0.113.9", 1), MINUTE, MINUTE, T0 + 1));
        assert_eq!(b.untracked, 1);
        // A listener already in the window still counts.
        assert!(b.add(key("203.0.113.9", 100), MINUTE, MINUTE, T0 + 1));
        b.sweep(T0 + WINDOW_SECS);
        assert!(b.window.is_empty());
        assert!(b.add(key("203.0.113.9", 1), MINUTE, MINUTE, T0 + WINDOW_SECS));
    }

    #[test]
    fn completions_and_bytes_become_daily_increments() {
        let mut b = Book::default();
        let r = |c: u64, bytes: u64| Running {
            media: MEDIA.into(),
            title: "A".into(),
            torrent_completions: c,
            browser_completions: 1,
            http_bytes: bytes,
            listener_bytes: bytes * 3,
            ..Running::default()
        };
        b.observe(T0, &[r(2, 100)]);
        b.observe(T0 + 10, &[r(5, 150)]);
        // Next day; then a reset (a new torrent): its whole count is new.
        b.observe(T0 + WINDOW_SECS, &[r(6, 150)]);
        b.observe(T0 + WINDOW_SECS + 1, &[r(1, 150)]);
        let day1 = &b.days["2026-01-01"].episodes[MEDIA];
        assert_eq!(
            (
                day1.torrent_completions,
                day1.browser_completions,
                day1.http_bytes,
                day1.swarm_bytes
            ),
            (5, 1, 150, 300)
        );
        let day2 = &b.days["2026-01-02"].episodes[MEDIA];
        assert_eq!((day2.torrent_completions, day2.http_bytes), (2, 0));
    }

    #[test]
    fn the_daily_file_round_trips_and_its_csv_is_quoted() {
        let d = tempfile::tempdir().expect("tmp");
        let mut b = Book::default();
        b.add(key("203.0.113.9", 1), MINUTE, MINUTE, T0);
        let day = b.days["2026-01-01"].clone();
        let mut day = day;
        day.episodes.get_mut(MEDIA).expect("episode").title = "Say \"hi\", all".into();
        write_day(d.path(), &day).expect("write");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.path().join("2026-01-01.json")).expect("json"))
                .expect("parse");
        assert_eq!(json["format"], 1);
        assert_eq!(json["date"], "2026-01-01");
        assert_eq!(json["episodes"][MEDIA]["downloads"], 1);
        assert_eq!(json["episodes"][MEDIA]["swarm_bytes"], 0);
        let csv = std::fs::read_to_string(d.path().join("2026-01-01.csv")).expect("csv");
        assert_eq!(
            csv,
            format!(
                "{CSV_HEADER}\n2026-01-01,\"episodes/a.mp3\",\"Say \"\"hi\"\", all\",1,0,0,0,0,0\n"
            )
        );
        assert_eq!(read_days(d.path())["2026-01-01"], day);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(d.path())
            .expect("dir")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn the_token_must_match_exactly() {
        assert!(token_matches("0123456789abcdef", "0123456789abcdef"));
        assert!(!token_matches("0123456789abcdeF", "0123456789abcdef"));
        assert!(!token_matches("0123456789abcde", "0123456789abcdef"));
        assert!(!token_matches("0123456789abcdef0", "0123456789abcdef"));
        assert!(!token_matches("", "0123456789abcdef"));
    }
}
