//! `podseed check --online`: fetches every public URL the build names (feed, artwork,
//! enclosures, .torrent files, chapters, transcripts) and announces the info hashes of the
//! newest [`TRACKER_SAMPLE`] episodes to every HTTP and UDP tracker its torrents name.
//!
//! Per URL: the status, the Content-Type, the length against the published size, and for
//! enclosures a `Range` request that must come back 206 (podcast apps seek with it, and
//! BitTorrent clients use the enclosure as a web seed only through it); the feed and the
//! torrents served are compared with the ones this build makes. Enclosures are never
//! downloaded (one byte is asked for); other bodies are read up to [`MAX_BODY`]. Bounded:
//! [`CONCURRENT`] requests at once, each with a timeout. Announces use the `stopped`
//! event, so probing never adds a peer to a swarm. WebSocket trackers are not probed.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{
    HeaderMap, ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE,
};
use tokio::sync::Semaphore;
use url::Url;

use crate::bt::InfoHash;
use crate::publish::Build;
use crate::seeder::announce::{self, AnnounceEvent, Identity};

use super::{Finding, Severity};

/// Requests (and announces) in flight at once.
pub const CONCURRENT: usize = 8;
/// One request may take this long, body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Info hashes announced to each tracker: those of the newest episodes.
pub const TRACKER_SAMPLE: usize = 25;
/// Connecting may take this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bodies read in full (feed, torrents, images...) stop here.
pub const MAX_BODY: usize = 32 << 20;

/// What a URL is, which decides what is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// feed.xml.
    Feed,
    /// Show or episode artwork.
    Image,
    /// An episode's media file.
    Enclosure,
    /// A .torrent file.
    Torrent,
    /// JSON chapters.
    Chapters,
    /// A transcript.
    Transcript,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Feed => "feed",
            Kind::Image => "artwork",
            Kind::Enclosure => "enclosure",
            Kind::Torrent => "torrent",
            Kind::Chapters => "chapters",
            Kind::Transcript => "transcript",
        }
    }

    /// What a wrong answer for this URL breaks: the feed, its art and its audio are what
    /// apps need; the rest degrades one feature.
    fn severity(self) -> Severity {
        match self {
            Kind::Feed | Kind::Image | Kind::Enclosure => Severity::Error,
            Kind::Torrent | Kind::Chapters | Kind::Transcript => Severity::Warning,
        }
    }
}

/// One URL to probe and what it should be.
#[derive(Debug, Clone)]
pub struct Target {
    /// The public URL.
    pub url: Url,
    /// What it is.
    pub kind: Kind,
    /// The published size, when the feed states it.
    pub size: Option<u64>,
    /// The bytes this build makes for it (feed, torrents), to tell a stale upload.
    pub expected: Option<Vec<u8>>,
}

/// Every URL the build names, each once.
pub fn targets(build: &Build) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::new();
    // A set, not a scan of `out`: a daily show names tens of thousands of URLs.
    let mut seen = std::collections::HashSet::new();
    let mut add = |url: Url, kind: Kind, size: Option<u64>, expected: Option<Vec<u8>>| {
        if seen.insert(url.as_str().to_owned()) {
            out.push(Target {
                url,
                kind,
                size,
                expected,
            });
        }
    };
    let feed = build.layout.feed();
    add(feed.url, Kind::Feed, None, build.planned_bytes(&feed.rel));
    if let Some((cover, _)) = build.layout.cover() {
        add(cover.url, Kind::Image, None, None);
    }
    for e in &build.episodes {
        add(e.media_url.clone(), Kind::Enclosure, Some(e.size), None);
        add(
            e.torrent_url.clone(),
            Kind::Torrent,
            Some(e.torrent_size),
            build.planned_bytes(&e.torrent_rel),
        );
        if let Some(u) = &e.image_url {
            add(u.clone(), Kind::Image, None, None);
        }
        if let Some(u) = &e.chapters_url {
            add(u.clone(), Kind::Chapters, None, None);
        }
        if let Some((u, _)) = &e.transcript {
            add(u.clone(), Kind::Transcript, None, None);
        }
    }
    out
}

/// Probes every URL and tracker of the build; the findings, in target order.
pub fn probe(build: &Build) -> Vec<Finding> {
    let targets = targets(build);
    // The newest episodes only: a daily show's thousands of announces to a public tracker
    // would look like abuse, and a tracker that answers for these answers for the rest.
    let mut newest: Vec<_> = build.episodes.iter().collect();
    newest.sort_by_key(|e| std::cmp::Reverse(e.pub_date));
    let hashes: Vec<InfoHash> = newest
        .iter()
        .take(TRACKER_SAMPLE)
        .map(|e| e.info_hash)
        .collect();
    let trackers: Vec<String> = build
        .trackers
        .iter()
        .filter(|t| {
            t.starts_with("http://") || t.starts_with("https://") || t.starts_with("udp://")
        })
        .cloned()
        .collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return vec![Finding::new(
                "online-unreachable",
                Severity::Error,
                "podseed",
                format!("cannot start the network runtime: {e}"),
                "run the check again",
            )]
        }
    };
    runtime.block_on(probe_async(targets, trackers, hashes))
}

/// The async part of [`probe`].
pub async fn probe_async(
    targets: Vec<Target>,
    trackers: Vec<String>,
    hashes: Vec<InfoHash>,
) -> Vec<Finding> {
    let client = match reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("podseed-check/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return vec![Finding::new(
                "online-unreachable",
                Severity::Error,
                "podseed",
                format!("cannot make an HTTP client: {e}"),
                "run the check again",
            )]
        }
    };
    let limit = Arc::new(Semaphore::new(CONCURRENT));
    let mut tasks = Vec::new();
    for t in targets {
        let (client, limit) = (client.clone(), limit.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await.ok();
            probe_url(&client, &t).await
        }));
    }
    let me = Identity {
        peer_id: crate::seeder::new_peer_id(),
        port: 6881,
        ip: None,
    };
    for tracker in trackers {
        for hash in &hashes {
            let (client, limit, me, tracker, hash) = (
                client.clone(),
                limit.clone(),
                me.clone(),
                tracker.clone(),
                *hash,
            );
            tasks.push(tokio::spawn(async move {
                let _permit = limit.acquire_owned().await.ok();
                probe_tracker(&client, &tracker, &hash, &me).await
            }));
        }
    }
    let mut findings = Vec::new();
    for t in tasks {
        if let Ok(mut f) = t.await {
            findings.append(&mut f);
        }
    }
    findings
}

/// One announce (`stopped`, so nothing is added to the swarm); a finding when it fails.
async fn probe_tracker(
    client: &reqwest::Client,
    tracker: &str,
    hash: &InfoHash,
    me: &Identity,
) -> Vec<Finding> {
    let result = tokio::time::timeout(
        REQUEST_TIMEOUT,
        announce::announce(client, tracker, hash, me, AnnounceEvent::Stopped, 0),
    )
    .await
    .unwrap_or_else(|_| Err("timed out".into()));
    match result {
        Ok(_) => Vec::new(),
        Err(why) => vec![Finding::new(
            "online-tracker",
            Severity::Error,
            tracker,
            format!("does not answer an announce for info hash {}: {why}", hash.to_hex()),
            "run `podseed serve` where serve.public_url points (or fix torrent.trackers), and let the tracker know the torrent",
        )],
    }
}

/// A finding about `t`.
fn finding(
    t: &Target,
    rule: &'static str,
    severity: Severity,
    message: String,
    fix: &str,
) -> Finding {
    Finding::new(
        rule,
        severity,
        t.url.as_str(),
        format!("{}: {message}", t.kind.name()),
        fix,
    )
}

/// Status, type, length and (for enclosures) range support of one URL.
async fn probe_url(client: &reqwest::Client, t: &Target) -> Vec<Finding> {
    let mut out = Vec::new();
    let sev = t.kind.severity();
    let mut request = client.get(t.url.clone());
    if t.kind == Kind::Enclosure {
        request = request.header(RANGE, "bytes=0-0");
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            out.push(finding(
                t,
                "online-unreachable",
                sev,
                format!("cannot be fetched: {}", error_chain(&e)),
                "upload the output folder to where base_url points, and check the host is up",
            ));
            return out;
        }
    };
    let status = response.status();
    if !status.is_success() {
        out.push(finding(
            t,
            "online-status",
            sev,
            format!("answers HTTP {status}"),
            "upload the whole output folder (every build file) to where base_url points",
        ));
        return out;
    }
    let headers = response.headers().clone();
    content_type(t, &headers, &mut out);
    if t.kind == Kind::Enclosure {
        range(t, status.as_u16(), &headers, &mut out);
        return out;
    }
    if let (Some(size), Some(len)) = (t.size, header_u64(&headers, CONTENT_LENGTH)) {
        if size != len {
            out.push(finding(
                t,
                "online-length",
                sev,
                format!("Content-Length is {len} but the feed publishes {size} bytes"),
                "upload the current build again",
            ));
        }
    }
    match read_body(response).await {
        Ok(body) => {
            if t.expected.as_ref().is_some_and(|e| *e != body) {
                out.push(finding(
                    t,
                    "online-stale",
                    Severity::Warning,
                    "differs from what this build makes".into(),
                    "run `podseed publish` and upload the output folder again",
                ));
            }
        }
        Err(why) => out.push(finding(
            t,
            "online-unreachable",
            sev,
            format!("the body cannot be read: {why}"),
            "check the host is up and serves whole files",
        )),
    }
    out
}

/// The body, up to [`MAX_BODY`] bytes.
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| error_chain(&e))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("longer than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An error with its causes (reqwest's own text leaves out why a connect failed).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn header_u64(h: &HeaderMap, name: reqwest::header::HeaderName) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The Content-Type must be one that apps take for this kind of file.
fn content_type(t: &Target, headers: &HeaderMap, out: &mut Vec<Finding>) {
    let Some(accepted) = accepted_types(t) else {
        return;
    };
    let found = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = found
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !accepted.contains(&mime.as_str()) {
        let shown = if found.is_empty() { "none" } else { found };
        out.push(finding(
            t,
            "online-content-type",
            t.kind.severity(),
            format!(
                "Content-Type is {shown}, expected {}",
                accepted.join(" or ")
            ),
            "configure the host's MIME types for this extension",
        ));
    }
}

/// The MIME types apps accept for the target (None: not checked).
pub fn accepted_types(t: &Target) -> Option<&'static [&'static str]> {
    let ext = t
        .url
        .path()
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    Some(match t.kind {
        Kind::Feed => &["application/rss+xml", "application/xml", "text/xml"],
        Kind::Torrent => &["application/x-bittorrent"],
        Kind::Chapters => &["application/json", "application/json+chapters"],
        Kind::Image => match ext.as_str() {
            "jpg" | "jpeg" => &["image/jpeg"],
            "png" => &["image/png"],
            _ => return None,
        },
        Kind::Transcript => match ext.as_str() {
            "vtt" => &["text/vtt"],
            "srt" => &[
                "application/x-subrip",
                "application/srt",
                "text/srt",
                "text/plain",
            ],
            _ => return None,
        },
        Kind::Enclosure => match ext.as_str() {
            "mp3" => &["audio/mpeg"],
            "m4a" => &["audio/mp4", "audio/x-m4a", "audio/aac"],
            "mp4" => &["video/mp4"],
            "m4v" => &["video/x-m4v", "video/mp4"],
            "opus" | "ogg" | "oga" => &["audio/ogg", "audio/opus"],
            _ => return None,
        },
    })
}

/// The enclosure was asked for byte 0: a 206 with `bytes 0-0/SIZE` and SIZE the
/// published size; a 200 means the host ignores Range.
fn range(t: &Target, status: u16, headers: &HeaderMap, out: &mut Vec<Finding>) {
    let size = t.size.unwrap_or(0);
    let fix_range =
        "serve the media from a host that supports byte ranges (podseed serve, nginx, any CDN)";
    if status != 206 {
        out.push(finding(
            t,
            "online-range",
            Severity::Error,
            format!("a Range request got HTTP {status}, not 206 Partial Content: apps cannot seek and BitTorrent clients cannot use it as a web seed"),
            fix_range,
        ));
        if let Some(len) = header_u64(headers, CONTENT_LENGTH) {
            if len != size {
                out.push(finding(
                    t,
                    "online-length",
                    Severity::Error,
                    format!("Content-Length is {len} but the feed publishes {size} bytes"),
                    "upload the current build again",
                ));
            }
        }
        return;
    }
    let total = headers
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit_once('/'))
        .and_then(|(_, n)| n.trim().parse::<u64>().ok());
    match total {
        Some(n) if n == size => {}
        Some(n) => out.push(finding(
            t,
            "online-length",
            Severity::Error,
            format!("the host says the file has {n} bytes but the feed publishes {size}"),
            "upload the current build again",
        )),
        None => out.push(finding(
            t,
            "online-range",
            Severity::Error,
            "a 206 answer without a Content-Range total".into(),
            fix_range,
        )),
    }
    let accepts = headers
        .get(ACCEPT_RANGES)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("bytes"));
    if !accepts {
        out.push(finding(
            t,
            "online-range",
            Severity::Warning,
            "answers Range requests but does not say Accept-Ranges: bytes".into(),
            "add Accept-Ranges: bytes to the host's responses for media",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str, kind: Kind) -> Target {
        Target {
            url: Url::parse(url).expect("url"),
            kind,
            size: Some(10),
            expected: None,
        }
    }

    #[test]
    fn accepted_types_by_kind_and_extension() {
        let t = target("https://e.com/episodes/a.MP3", Kind::Enclosure);
        assert_eq!(accepted_types(&t), Some(&["audio/mpeg"][..]));
        let t = target("https://e.com/x.webp", Kind::Image);
        assert_eq!(accepted_types(&t), None);
    }

    #[test]
    fn range_answers() {
        let t = target("https://e.com/episodes/a.mp3", Kind::Enclosure);
        let mut h = HeaderMap::new();
        h.insert(CONTENT_RANGE, "bytes 0-0/10".parse().expect("header"));
        h.insert(ACCEPT_RANGES, "bytes".parse().expect("header"));
        let mut out = Vec::new();
        range(&t, 206, &h, &mut out);
        assert!(out.is_empty(), "{out:?}");
        h.insert(CONTENT_RANGE, "bytes 0-0/11".parse().expect("header"));
        range(&t, 206, &h, &mut out);
        assert_eq!(out[0].rule, "online-length");
        out.clear();
        let mut h = HeaderMap::new();
        h.insert(CONTENT_LENGTH, "10".parse().expect("header"));
        range(&t, 200, &h, &mut out);
        let rules: Vec<_> = out.iter().map(|f| f.rule).collect();
        assert_eq!(rules, ["online-range"]);
    }
}
