//! `podseed publish`: podcast.yaml + episodes (MP3, M4A, MP4, Opus) → feeds, torrents and a
//! page in the output folder.
//!
//! A pipeline of stages with plain data between them: [`scan`] (which files) → [`probe`]
//! (tags, which [`media`] format: [`mp3`], [`mp4`], [`opus`]) → [`hash`] (one read: pieces,
//! SHA-256, container walk) → [`episode`] (each
//! episode with its [`metainfo`] torrent, artwork, chapters and transcript) → [`feed`] and
//! [`site`] (render; [`webtorrent`] decides whether the page gets its browser player and
//! checks the installed WebTorrent files) → [`output`] (atomic write) → [`summary`]. [`cache`] decides which files
//! skip probe and hash; [`layout`] names every output path and URL. This file is only the
//! glue: [`publish`] calls one named function per stage, and the work lives in the stage
//! modules. Only `hash` and `output` touch the disk heavily.

pub mod artwork;
pub mod cache;
pub mod episode;
pub mod feed;
pub mod git;
pub mod hash;
pub mod id3_guard;
pub mod last_build;
pub mod layout;
pub mod lint;
pub mod media;
pub mod metainfo;
pub mod mp3;
pub mod mp4;
pub mod notes;
pub mod opus;
pub mod output;
pub mod probe;
pub mod scan;
pub mod site;
pub mod summary;
pub mod transcript;
pub mod webtorrent;

pub use episode::Episode;
pub use summary::{EpisodeSummary, Status, Summary};

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::config::{Config, ConfigError};

use cache::{CachedEpisode, Manifest};
use hash::HashJob;
use layout::Layout;
use output::{Content, OutputFile, Plan};
use scan::SourceFile;
use summary::{Run, Statuses};

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The config is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// One or more media files are unusable; all are listed.
    #[error("{}", format_media(.0))]
    Media(Vec<MediaProblem>),
    /// The page template does not render.
    #[error("template {name}: {message}")]
    Template {
        /// Which template.
        name: String,
        /// minijinja's explanation.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A torrent could not be built.
    #[error(transparent)]
    Metainfo(#[from] metainfo::MetainfoError),
    /// An installed third-party file for the page is not the release podseed pins.
    #[error("{}: {message}", .path.display())]
    Vendored {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// The output folder cannot take a new build (not a folder, or another publish holds it).
    #[error("{}: {message}", .path.display())]
    Output {
        /// The output folder.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
}

/// A media file podseed cannot publish, and why.
#[derive(Debug, Clone)]
pub struct MediaProblem {
    /// The file.
    pub path: PathBuf,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for MediaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

fn format_media(problems: &[MediaProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl PublishError {
    /// A single media problem.
    pub fn media(path: &Path, message: impl Into<String>) -> Self {
        PublishError::Media(vec![MediaProblem {
            path: path.to_path_buf(),
            message: message.into(),
        }])
    }

    /// True when the user's input is at fault (exit code 2) rather than the system (1).
    pub fn is_user_error(&self) -> bool {
        match self {
            // A config that is not there is a usage mistake; one that cannot be read is not.
            PublishError::Config(ConfigError::Read { source, .. }) => {
                source.kind() == std::io::ErrorKind::NotFound
            }
            PublishError::Config(_)
            | PublishError::Media(_)
            | PublishError::Template { .. }
            | PublishError::Vendored { .. } => true,
            PublishError::Io { .. } | PublishError::Metainfo(_) | PublishError::Output { .. } => {
                false
            }
        }
    }
}

/// How to run a publish.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Overrides the config's output_dir.
    pub output_dir: Option<PathBuf>,
    /// Re-read and re-hash every file.
    pub force: bool,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
    /// Hashing threads; 0 means one per core.
    pub threads: usize,
}

/// What the pipeline knows about one file before rendering.
struct Known {
    source: SourceFile,
    status: Status,
    cached: CachedEpisode,
    /// Artwork bytes when the file was probed in this run.
    picture: Option<Vec<u8>>,
    /// The publication date the previous build gave this file.
    earlier_date: Option<DateTime<Utc>>,
    /// The SHA-1 pieces when this run has them (hashed now, or from a format 1 manifest);
    /// else the torrent is kept as published, or its pieces are read back from it.
    pieces: Option<Vec<u8>>,
}

/// A file that must be read: new, changed, or every file under `--force`.
struct ToRead {
    source: SourceFile,
    piece_length: u64,
}

/// A file whose tags and container were read, waiting to be hashed.
struct Probed {
    source: SourceFile,
    piece_length: u64,
    probe: probe::Probe,
}

/// A build planned in memory: every file publish would write, not yet written, and the
/// findings of [`lint`] on it. `podseed check` stops here.
pub struct Build {
    /// The episodes, in feed order.
    pub episodes: Vec<Episode>,
    /// Where everything goes.
    pub layout: Layout,
    /// The rules the build breaks (publish prints them as warnings and goes on).
    pub findings: Vec<lint::Finding>,
    /// The trackers every torrent names.
    pub trackers: Vec<String>,
    /// Why some of the work was done this way (dates, player), for the summary.
    pub warnings: Vec<String>,
    plan: Plan,
    previous: Manifest,
    statuses: Statuses,
    bytes_hashed: u64,
    started: Instant,
    /// Some episode has no date but the one this build's clock gave it.
    dated_now: bool,
}

impl Build {
    /// The bytes the build would write at `rel` (a page or an in-memory asset), or the
    /// file a linked asset is the same as.
    pub fn planned_bytes(&self, rel: &str) -> Option<Vec<u8>> {
        let f = self
            .plan
            .pages
            .iter()
            .chain(&self.plan.assets)
            .find(|f| f.rel == rel)?;
        match &f.content {
            Content::Bytes(b) => Some(b.clone()),
            Content::SameAs(p) => std::fs::read(p).ok(),
            Content::Kept => std::fs::read(self.layout.root().join(rel)).ok(),
        }
    }
}

/// Runs the whole pipeline, unless nothing changed since the last build (then it only
/// compares, see [`last_build`]).
pub fn publish(config: &Config, opts: &Options) -> Result<Summary, PublishError> {
    let started = Instant::now();
    let root = opts.output_dir.as_deref().unwrap_or(&config.output_dir);
    let inputs = last_build::Inputs::of(config, root);
    if !opts.force {
        if let Some(summary) = inputs
            .as_ref()
            .and_then(|i| last_build::up_to_date(root, i, started))
        {
            return Ok(summary);
        }
    }
    last_build::forget(root);
    let mut b = build(config, opts)?;
    b.started = started;
    let written = output::write(b.layout.root(), &b.plan, &b.previous.outputs)?;
    let mut warnings = b.warnings;
    // Once each: two episodes may share a finding's text (a common artwork file). A set,
    // as a long show can have a finding per episode.
    let mut seen: HashSet<String> = warnings.iter().cloned().collect();
    for f in b.findings.iter().map(lint::Finding::as_publish_warning) {
        if seen.insert(f.clone()) {
            warnings.push(f);
        }
    }
    let run = Run {
        started: b.started,
        bytes_hashed: b.bytes_hashed,
        warnings,
    };
    let summary = summary::summarise(config, &b.layout, &b.episodes, &b.statuses, written, run);
    // An episode dated by this build's clock is dated differently (with another warning)
    // by the next one: that build is not the one to repeat.
    if let Some(inputs) = inputs.filter(|_| !b.dated_now) {
        if let Err(e) = last_build::remember(root, &inputs, b.plan.paths(), &summary) {
            // Only the next build's shortcut is lost.
            tracing::debug!("could not record the build in {}: {e}", root.display());
        }
    }
    Ok(summary)
}

/// Every stage but the write: config → scan → probe → hash → episodes → render, checked.
pub fn build(config: &Config, opts: &Options) -> Result<Build, PublishError> {
    let started = Instant::now();
    let layout = Layout::new(
        config,
        opts.output_dir.as_deref().unwrap_or(&config.output_dir),
    );
    let cache::Loaded {
        manifest: previous,
        bytes: previous_bytes,
    } = cache::load(&layout.manifest_file());
    let mut warnings = Vec::new();

    let files = scan::scan(config)?;
    warnings.extend(scan::unpublished(config));
    if files.is_empty() {
        warnings.push(format!(
            "no episodes: put MP3, M4A, MP4 or Opus files in {}",
            config.episodes_dir.display()
        ));
    }
    let blobs = git::CleanBlobs::of(&config.episodes_dir);
    let (mut known, to_read) = plan_reads(config, &previous, &blobs, files, opts.force);
    let probed = probe_all(to_read)?;
    let (digests, bytes_hashed) = hash_all(&probed, opts);
    known.extend(known_from_digests(&previous, &blobs, probed, digests)?);
    let dated_now = choose_dates(&mut known, &mut warnings);
    let statuses: Statuses = known
        .iter()
        .map(|k| (k.source.rel.clone(), k.status))
        .collect();

    let episode::Assembled {
        mut episodes,
        assets,
        mut manifest,
    } = episode::assemble(config, &layout, &previous.rendered, known)?;
    feed::sort_for_feed(config.show.kind, &mut episodes);
    let player = webtorrent::player(config)?;
    if let webtorrent::Player::NotInstalled(dir) = &player {
        warnings.push(webtorrent::not_installed_hint(dir));
    }
    let trackers = episode::trackers(config);
    let findings = lint::lint(config, &layout, &episodes, &assets, &trackers);
    let mut plan = render(
        config,
        &layout,
        &episodes,
        assets,
        player,
        &previous.rendered,
        &mut manifest.rendered,
    )?;
    let manifest = record(manifest, &plan, &layout, &episodes);
    // Unchanged (a build with nothing to write): the bytes as read, instead of printing a
    // long show's few megabytes of JSON again only to find them equal.
    plan.manifest = match previous_bytes {
        Some(bytes) if manifest == previous => bytes,
        _ => cache::to_bytes(&manifest),
    };
    Ok(Build {
        episodes,
        layout,
        findings,
        trackers,
        warnings,
        plan,
        previous,
        statuses,
        bytes_hashed,
        started,
        dated_now,
    })
}

/// Splits the scanned files into those the previous build knows unchanged (kept from the
/// manifest, not read) and those that must be read again.
fn plan_reads(
    config: &Config,
    previous: &Manifest,
    blobs: &git::CleanBlobs,
    files: Vec<SourceFile>,
    force: bool,
) -> (Vec<Known>, Vec<ToRead>) {
    let mut known = Vec::new();
    let mut to_read = Vec::new();
    for f in files {
        let piece_length = config
            .torrent
            .piece_length
            .unwrap_or_else(|| metainfo::auto_piece_length(f.size));
        match previous.episodes.get(&f.rel) {
            Some(c)
                if !force
                    && (c.matches(f.size, f.mtime, piece_length)
                        || c.matches_blob(f.size, blobs.get(&f.rel), piece_length))
                    && c.is_consistent() =>
            {
                // Same content under a new mtime (a fresh checkout): the manifest takes the
                // new mtime, which `serve` checks the published file against. Known by its
                // mtime, the file is what was hashed: git's blob id for it, if git vouches
                // for it now, is recorded for the next fresh checkout.
                let mut cached = c.clone();
                // A format 1 entry brings its pieces; format 2 keeps them in the .torrent.
                let pieces =
                    crate::bt::unhex(&std::mem::take(&mut cached.pieces)).filter(|p| !p.is_empty());
                if cached.mtime == f.mtime {
                    cached.git_blob = blobs.get(&f.rel).map(str::to_string);
                }
                cached.mtime = f.mtime;
                // Tags read by an older probe are read again (the head of the file only);
                // the digests stand, so an upgrade of podseed hashes nothing.
                let mut picture = None;
                if c.tags_version != probe::TAGS_VERSION {
                    match probe::probe(&f.path) {
                        Ok(p) => {
                            cached.tags = p.tags;
                            cached.tags_version = probe::TAGS_VERSION;
                            picture = p.picture;
                        }
                        Err(_) => {
                            // Whatever is wrong now, the full read reports it.
                            to_read.push(ToRead {
                                source: f,
                                piece_length,
                            });
                            continue;
                        }
                    }
                }
                known.push(Known {
                    status: Status::Unchanged,
                    earlier_date: Some(c.pub_date),
                    cached,
                    source: f,
                    picture,
                    pieces,
                });
            }
            _ => to_read.push(ToRead {
                source: f,
                piece_length,
            }),
        }
    }
    (known, to_read)
}

/// Probes every file first, so that all bad files are reported before any hashing.
fn probe_all(to_read: Vec<ToRead>) -> Result<Vec<Probed>, PublishError> {
    let mut problems = Vec::new();
    let mut probed = Vec::new();
    for r in to_read {
        match probe::probe(&r.source.path) {
            Ok(probe) => probed.push(Probed {
                source: r.source,
                piece_length: r.piece_length,
                probe,
            }),
            Err(PublishError::Media(mut m)) => problems.append(&mut m),
            Err(e) => return Err(e),
        }
    }
    if !problems.is_empty() {
        return Err(PublishError::Media(problems));
    }
    Ok(probed)
}

/// Hashes the probed files in parallel (one read each), with a progress bar if wanted;
/// also says how many bytes were read.
fn hash_all(
    probed: &[Probed],
    opts: &Options,
) -> (Vec<Result<hash::FileDigest, PublishError>>, u64) {
    let jobs: Vec<HashJob> = probed
        .iter()
        .map(|p| HashJob {
            path: p.source.path.clone(),
            piece_length: p.piece_length,
            audio_start: p.probe.audio_start,
            format: p.probe.format,
            size: p.source.size,
        })
        .collect();
    let total: u64 = jobs.iter().map(|j| j.size).sum();
    let progress = AtomicU64::new(0);
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        opts.threads
    };
    let digests = with_progress(opts.progress && total > 0, total, &progress, || {
        hash::hash_all(&jobs, threads, &progress)
    });
    (digests, progress.load(Ordering::Relaxed))
}

/// What the probe and the hash of each read file tell, checked: every file must hold
/// MPEG audio and must not have changed while it was read.
fn known_from_digests(
    previous: &Manifest,
    blobs: &git::CleanBlobs,
    probed: Vec<Probed>,
    digests: Vec<Result<hash::FileDigest, PublishError>>,
) -> Result<Vec<Known>, PublishError> {
    let mut problems = Vec::new();
    let mut known = Vec::new();
    for (
        Probed {
            source: f,
            probe: p,
            ..
        },
        d,
    ) in probed.into_iter().zip(digests)
    {
        let d = d?;
        if let Some(message) = d.frames.problem() {
            problems.push(MediaProblem {
                path: f.path.clone(),
                message,
            });
            continue;
        }
        // MP3 and Opus durations come from the read, MP4's from its `moov` (the probe).
        let Some(duration_secs) = d
            .frames
            .duration_secs()
            .or(p.duration_secs)
            .filter(|s| *s > 0.0)
        else {
            problems.push(MediaProblem {
                path: f.path.clone(),
                message: "has no duration; export the episode again".into(),
            });
            continue;
        };
        let mut tags = p.tags;
        if p.format == media::Format::Opus {
            // An Opus file's chapters end, at the latest, where its audio does: known now.
            let end_ms = (duration_secs * 1000.0).round().min(f64::from(u32::MAX)) as u32;
            tags.chapters.retain(|c| c.start_ms < end_ms);
            for c in &mut tags.chapters {
                c.end_ms = c.end_ms.min(end_ms);
            }
        }
        if d.size != f.size {
            problems.push(MediaProblem {
                path: f.path.clone(),
                message: "changed while it was being read; publish again when it is written".into(),
            });
            continue;
        }
        let old = previous.episodes.get(&f.rel);
        // git vouched for the content before the read; the blob is kept only if the file
        // was not touched since, so it names exactly the bytes just hashed.
        let untouched = std::fs::metadata(&f.path)
            .is_ok_and(|m| m.len() == f.size && cache::mtime_key(&m) == f.mtime);
        let blob = blobs.get(&f.rel).filter(|_| untouched).map(str::to_string);
        known.push(Known {
            status: if old.is_some() {
                Status::Changed
            } else {
                Status::New
            },
            cached: CachedEpisode {
                size: d.size,
                mtime: f.mtime,
                piece_length: d.piece_length,
                // Filled in when the torrent is built.
                info_hash: String::new(),
                sha256: crate::bt::hex(&d.sha256),
                pieces: String::new(),
                duration_ms: (duration_secs * 1000.0).round() as u64,
                bitrate_bps: d.frames.bitrate_bps(duration_secs),
                audio_start: p.audio_start,
                tags,
                // Chosen by choose_dates, with every other episode's.
                pub_date: DateTime::UNIX_EPOCH,
                date_first_seen: false,
                git_blob: blob,
                format: p.format,
                tags_version: probe::TAGS_VERSION,
            },
            earlier_date: old.map(|o| o.pub_date),
            picture: p.picture,
            source: f,
            pieces: Some(d.pieces),
        });
    }
    if !problems.is_empty() {
        return Err(PublishError::Media(problems));
    }
    Ok(known)
}

/// Chooses every episode's date again (the config may have changed since the cached
/// build); an earlier build's date only fills in when no source gives one, with a warning.
/// Says whether some episode got the time of this build.
fn choose_dates(known: &mut [Known], warnings: &mut Vec<String>) -> bool {
    let mut dated_now = false;
    for k in known {
        let (d, source) = choose_date(&k.source, &k.cached.tags, k.earlier_date);
        let kept = match source {
            DateSource::Given => None,
            DateSource::EarlierBuild => Some("keeping {date} from an earlier build"),
            DateSource::ThisBuild => Some("dated {date}, the time of this first build"),
        };
        if let Some(kept) = kept {
            warnings.push(format!(
                "{}: no date in podcast.yaml, the ID3 tag or the file name; {}. Add `date:` for it in podcast.yaml so that builds from a fresh checkout agree",
                k.source.rel,
                kept.replace("{date}", &d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            ));
        }
        k.cached.pub_date = d;
        k.cached.date_first_seen = source != DateSource::Given;
        dated_now |= source == DateSource::ThisBuild;
    }
    dated_now
}

/// The plan of the build: the episodes' assets, the cover and the player's scripts, then
/// the feeds and the pages. A page whose inputs are those the previous build recorded in
/// `previous` (and which is still there, at its size) is kept without rendering it; what
/// each page was made from goes into `rendered`.
fn render(
    config: &Config,
    layout: &Layout,
    episodes: &[Episode],
    assets: Vec<OutputFile>,
    player: webtorrent::Player,
    previous: &BTreeMap<String, cache::Rendered>,
    rendered: &mut BTreeMap<String, cache::Rendered>,
) -> Result<Plan, PublishError> {
    let mut plan = Plan {
        assets,
        ..Default::default()
    };
    let with_player = matches!(player, webtorrent::Player::On(_));
    if let webtorrent::Player::On(scripts) = player {
        plan.assets.extend(scripts);
    }
    if let Some((cover, source)) = layout.cover() {
        plan.assets.push(OutputFile {
            rel: cover.rel,
            content: Content::SameAs(source.to_path_buf()),
        });
    }
    let in_feed = feed::in_feed(config, episodes);
    plan.pages = vec![
        OutputFile {
            rel: layout.feed().rel,
            content: Content::Bytes(feed::render_feed(config, layout, in_feed)),
        },
        OutputFile {
            rel: layout.torrent_feed().rel,
            content: Content::Bytes(feed::render_torrent_feed(config, layout, in_feed)),
        },
        OutputFile {
            rel: layout.feed_stylesheet().rel,
            content: Content::Bytes(site::FEED_XSL.as_bytes().to_vec()),
        },
    ];
    let pages = site::Pages::new(config)?;
    let mut page = |rel: String, job: site::PageJob<'_>| -> Result<OutputFile, PublishError> {
        let local = layout.local(&rel);
        let kept = previous
            .get(&rel)
            .is_some_and(|r| r.still_made_from(&job.inputs, &local));
        let (content, size) = if kept {
            (Content::Kept, previous.get(&rel).map_or(0, |r| r.size))
        } else {
            let bytes = pages.render(&job)?;
            let size = bytes.len() as u64;
            (Content::Bytes(bytes), size)
        };
        rendered.insert(
            rel.clone(),
            cache::Rendered {
                inputs: job.inputs,
                size,
            },
        );
        Ok(OutputFile { rel, content })
    };
    let per_page = config.page.episodes_per_page.max(1);
    let count = episodes.len().div_ceil(per_page).max(1);
    for number in 1..=count {
        let from = (number - 1) * per_page;
        let list = site::ListPage {
            number,
            count,
            episodes: episodes
                .get(from..(from + per_page).min(episodes.len()))
                .unwrap_or(&[]),
        };
        let job = pages.list_page(config, layout, list, with_player);
        plan.pages.push(page(layout.list_page(number).rel, job)?);
    }
    plan.pages.push(page(
        layout.subscribe_page().rel,
        pages.subscribe(config, layout),
    )?);
    for e in episodes {
        plan.pages
            .push(page(e.page_rel.clone(), pages.episode(config, layout, e))?);
    }
    Ok(plan)
}

/// The new manifest: the episodes' cache entries, every output path of the plan,
/// and what the build publishes (for `serve`).
fn record(mut manifest: Manifest, plan: &Plan, layout: &Layout, episodes: &[Episode]) -> Manifest {
    manifest.outputs = plan.paths();
    manifest.published = episodes
        .iter()
        .map(|e| cache::Published {
            title: e.title.clone(),
            info_hash: e.info_hash.to_hex(),
            media: layout.episode(&e.rel).media().rel,
            torrent: e.torrent_rel.clone(),
            size: e.size,
            mtime: manifest.episodes.get(&e.rel).map_or((0, 0), |c| c.mtime),
        })
        .collect();
    manifest
}

/// Runs `work` while a progress bar (if wanted) follows `progress` up to `total` bytes.
fn with_progress<T>(show: bool, total: u64, progress: &AtomicU64, work: impl FnOnce() -> T) -> T {
    if !show {
        return work();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "hashing {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                bar.set_position(progress.load(Ordering::Relaxed));
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let r = work();
        done.store(true, Ordering::Relaxed);
        bar.finish_and_clear();
        r
    })
}

/// Where an episode's publication date came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateSource {
    /// The config, the ID3 tag or the file name.
    Given,
    /// None of those: the date an earlier build gave it.
    EarlierBuild,
    /// None of those and no earlier build: now.
    ThisBuild,
}

/// The publication date, in order: config, ID3, file name, an earlier build's date, now.
fn choose_date(
    f: &SourceFile,
    tags: &probe::Tags,
    earlier: Option<DateTime<Utc>>,
) -> (DateTime<Utc>, DateSource) {
    if let Some(d) = f.config.date.or(tags.date) {
        return (d, DateSource::Given);
    }
    if let Some(d) = probe::date_from_file_name(&f.rel) {
        return (d, DateSource::Given);
    }
    if let Some(d) = earlier {
        return (d, DateSource::EarlierBuild);
    }
    let now = Utc::now();
    let now = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    (now, DateSource::ThisBuild)
}
