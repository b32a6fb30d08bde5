//! Stage 4b: what is known about each file becomes an [`Episode`] and the output files it
//! brings: media, .torrent, artwork, chapters and transcript.
//!
//! Each piece is its own small function: the torrent (via [`super::metainfo`]), the artwork
//! (config file, else the ID3 picture), the chapters (config JSON, else ID3 CHAP frames),
//! the transcript, and the text of the episode. Paths and URLs come from [`Layout`]. The
//! output files are only planned here (no writes); rendering them into feeds is
//! [`super::feed`]'s and [`super::site`]'s job.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use url::Url;
use uuid::Uuid;

use crate::bt::InfoHash;
use crate::config::{transcript_type, Config, EpisodeType};

use super::cache::{self, CachedEpisode, Manifest, Rendered};
use super::layout::{extension, EpisodeFiles, Layout, OutputPath};
use super::metainfo::{self, TorrentSpec};
use super::output::{Content, OutputFile};
use super::scan::SourceFile;
use super::transcript::{self as cues_of, ChapterMark, Cue};
use super::{notes, probe, site, Known, MediaProblem, PublishError};

/// One episode with everything the renderers need.
#[derive(Debug, Clone)]
pub struct Episode {
    /// Path relative to episodes_dir (and to `episodes/` in the output).
    pub rel: String,
    /// File name (the torrent's `name`).
    pub name: String,
    /// HTML id on the page.
    pub anchor: String,
    /// Title.
    pub title: String,
    /// Description (HTML).
    pub description: String,
    /// Publication date.
    pub pub_date: DateTime<Utc>,
    /// Item guid.
    pub guid: String,
    /// Episode author when it differs from the show's.
    pub author: Option<String>,
    /// Season number.
    pub season: Option<u32>,
    /// Episode number.
    pub episode: Option<u32>,
    /// Episode type.
    pub episode_type: EpisodeType,
    /// Explicit flag, when set for this episode.
    pub explicit: Option<bool>,
    /// File size.
    pub size: u64,
    /// Duration in seconds.
    pub duration_secs: f64,
    /// Average bitrate in bits per second.
    pub bitrate_bps: Option<u64>,
    /// SHA-256 of the file.
    pub sha256: [u8; 32],
    /// Torrent info hash.
    pub info_hash: InfoHash,
    /// Size of the .torrent file.
    pub torrent_size: u64,
    /// Magnet link.
    pub magnet: String,
    /// HTTP URL of the media file (enclosure and web seed).
    pub media_url: Url,
    /// The enclosure's MIME type (by container, see [`super::media::Format::mime_type`]).
    pub mime_type: &'static str,
    /// The .torrent's path in the output folder.
    pub torrent_rel: String,
    /// URL of the .torrent.
    pub torrent_url: Url,
    /// The episode's own page (its permalink, the feed item's `<link>`).
    pub page_url: Url,
    /// That page's path in the output folder.
    pub page_rel: String,
    /// Episode artwork.
    pub image_url: Option<Url>,
    /// JSON chapters.
    pub chapters_url: Option<Url>,
    /// Transcript URL and MIME type.
    pub transcript: Option<(Url, &'static str)>,
    /// The chapters as the episode page lists them.
    pub chapter_marks: Vec<ChapterMark>,
    /// The transcript's cues as the episode page shows them.
    pub cues: Vec<Cue>,
}

/// The episodes of a build, the output files they bring and the manifest's record of them.
pub(super) struct Assembled {
    /// Every episode, in the order they were known.
    pub episodes: Vec<Episode>,
    /// Media, torrents, artwork, chapters and transcripts.
    pub assets: Vec<OutputFile>,
    /// The new manifest's episodes (outputs and published are filled in later).
    pub manifest: Manifest,
}

/// Builds episodes, their output files and the new manifest from what is known.
pub(super) fn assemble(
    config: &Config,
    layout: &Layout,
    rendered: &BTreeMap<String, Rendered>,
    known: Vec<Known>,
) -> Result<Assembled, PublishError> {
    let trackers = trackers(config);
    let mut episodes = Vec::with_capacity(known.len());
    let mut manifest = Manifest {
        format: cache::FORMAT,
        ..Default::default()
    };
    // Output files, each with the episode it belongs to, for the collision check.
    let mut owned: Vec<(String, OutputFile)> = Vec::new();
    let mut anchors = HashSet::new();
    for k in known {
        let rel = k.source.rel.clone();
        let ctx = Context {
            config,
            layout,
            trackers: &trackers,
            rendered,
        };
        let (episode, assets, cached, stamps) = assemble_one(&ctx, &mut anchors, k)?;
        manifest.rendered.extend(stamps);
        owned.extend(assets.into_iter().map(|f| (rel.clone(), f)));
        episodes.push(episode);
        manifest.episodes.insert(rel, cached);
    }
    let problems = check_collisions(&owned);
    if !problems.is_empty() {
        return Err(PublishError::Media(problems));
    }
    let assets = owned.into_iter().map(|(_, f)| f).collect();
    Ok(Assembled {
        episodes,
        assets,
        manifest,
    })
}

/// The built-in tracker first (BEP 12 tiers in order), then the user's extra ones.
pub(super) fn trackers(config: &Config) -> Vec<String> {
    let mut trackers = config.serve.tracker_urls();
    for t in &config.torrent.trackers {
        if !trackers.contains(t) {
            trackers.push(t.clone());
        }
    }
    trackers
}

/// What every episode of a build is assembled with.
struct Context<'a> {
    config: &'a Config,
    layout: &'a Layout,
    trackers: &'a [String],
    /// What the previous build's generated files were made from.
    rendered: &'a BTreeMap<String, Rendered>,
}

/// What generated files were made from, by path ([`Manifest::rendered`]'s entries).
type Stamps = Vec<(String, Rendered)>;

/// One episode: its output files, the [`Episode`] naming them, its manifest entry and what
/// its torrent and extracted artwork were made from.
fn assemble_one(
    ctx: &Context<'_>,
    anchors: &mut HashSet<String>,
    known: Known,
) -> Result<(Episode, Vec<OutputFile>, CachedEpisode, Stamps), PublishError> {
    let Context { config, layout, .. } = *ctx;
    let Known {
        source: f,
        mut cached,
        picture,
        pieces,
        ..
    } = known;
    let files = layout.episode(&f.rel);
    let media = files.media();
    let torrent_file = files.torrent();
    let built = torrent(ctx, &files, &f, &cached, pieces, &media.url, &torrent_file)?;
    let mut assets = Vec::new();
    let mut add = |(file, content): (OutputPath, Content)| {
        assets.push(OutputFile {
            rel: file.rel,
            content,
        });
        file.url
    };
    let media_url = add((media, Content::SameAs(f.path.clone())));
    let torrent_rel = torrent_file.rel.clone();
    let torrent_url = add((torrent_file, built.content));
    let mut stamps: Stamps = Vec::new();
    let image_url = artwork(ctx, &files, &f, &cached, picture, &mut stamps)?.map(&mut add);
    let chapter_marks = chapter_marks(&f, &cached);
    let chapters_url = chapters(&files, &f, &cached).map(&mut add);
    let cues = f.transcript.as_deref().map(read_cues).unwrap_or_default();
    let transcript = transcript(&files, &f).map(|(file, mime)| (add(file), mime));
    let anchor = unique_anchor(&files, anchors);
    let ec = &f.config;
    let title = title(&f, &cached);
    let episode = Episode {
        name: files.name().to_string(),
        page_url: files.page().url,
        page_rel: files.page().rel,
        anchor,
        description: description(&f, &cached, &title)?,
        title,
        pub_date: cached.pub_date,
        guid: ec
            .guid
            .clone()
            .unwrap_or_else(|| default_episode_guid(&f.rel)),
        author: author(config, &cached),
        season: ec.season,
        episode: ec.episode,
        episode_type: ec.episode_type.unwrap_or(EpisodeType::Full),
        explicit: ec.explicit,
        size: cached.size,
        duration_secs: cached.duration_ms as f64 / 1000.0,
        bitrate_bps: cached.bitrate_bps,
        sha256: sha256(&cached),
        info_hash: built.info_hash,
        torrent_size: built.stamp.size,
        magnet: built.magnet,
        media_url,
        mime_type: cached.format.mime_type(&f.rel),
        torrent_rel,
        torrent_url,
        image_url,
        chapters_url,
        transcript,
        chapter_marks,
        cues,
        rel: f.rel.clone(),
    };
    cached.info_hash = built.info_hash.to_hex();
    stamps.push((episode.torrent_rel.clone(), built.stamp));
    Ok((episode, assets, cached, stamps))
}

/// An episode's torrent as the build plans it.
struct PlannedTorrent {
    /// The .torrent's content: built now, or the published file when nothing it depends
    /// on changed.
    content: Content,
    info_hash: InfoHash,
    magnet: String,
    stamp: Rendered,
}

/// The episode's single-file v1 torrent; its web seed is the media URL when enabled. It is
/// only built when something it depends on changed since the previous build (which kept it
/// in the output folder); the pieces come from this run's hashing, from a format 1
/// manifest, or from the published .torrent, and only when all fail is the file hashed.
fn torrent(
    ctx: &Context<'_>,
    files: &EpisodeFiles<'_>,
    f: &SourceFile,
    cached: &CachedEpisode,
    pieces: Option<Vec<u8>>,
    media_url: &Url,
    torrent_file: &OutputPath,
) -> Result<PlannedTorrent, PublishError> {
    let mut spec = TorrentSpec {
        name: files.name(),
        length: cached.size,
        piece_length: cached.piece_length,
        pieces: &[],
        trackers: ctx.trackers,
        web_seed: ctx.config.torrent.web_seed.then_some(media_url.as_str()),
        created: cached.pub_date,
        torrent_url: torrent_file.url.as_str(),
    };
    let published = ctx.layout.local(&torrent_file.rel);
    let known_hash = InfoHash::from_hex(&cached.info_hash);
    if let (None, Some(info_hash)) = (&pieces, known_hash) {
        let inputs = metainfo::inputs_digest(&spec, &info_hash);
        let kept = ctx
            .rendered
            .get(&torrent_file.rel)
            .filter(|r| r.still_made_from(&inputs, &published));
        if let Some(r) = kept {
            return Ok(PlannedTorrent {
                content: Content::Kept,
                magnet: metainfo::magnet_link(&spec, &info_hash),
                info_hash,
                stamp: r.clone(),
            });
        }
    }
    let pieces = match pieces {
        Some(p) => p,
        None => match known_hash.and_then(|h| pieces_of_published(&published, cached, &h)) {
            Some(p) => p,
            None => {
                tracing::info!("{}: its torrent is missing; hashing it again", f.rel);
                hash_pieces(f, cached)?
            }
        },
    };
    spec.pieces = &pieces;
    let built = metainfo::build(&spec)?;
    let stamp = Rendered {
        inputs: metainfo::inputs_digest(&spec, &built.info_hash),
        size: built.bytes.len() as u64,
    };
    Ok(PlannedTorrent {
        content: Content::Bytes(built.bytes),
        info_hash: built.info_hash,
        magnet: built.magnet,
        stamp,
    })
}

/// The pieces of the published .torrent, when it is the one the manifest describes.
fn pieces_of_published(
    path: &Path,
    cached: &CachedEpisode,
    info_hash: &InfoHash,
) -> Option<Vec<u8>> {
    let t = metainfo::read(&std::fs::read(path).ok()?).ok()?;
    (t.info_hash == *info_hash && t.length == cached.size && t.piece_length == cached.piece_length)
        .then(|| t.pieces.concat())
}

/// The pieces of the file, read again (its published torrent is gone or damaged).
fn hash_pieces(f: &SourceFile, cached: &CachedEpisode) -> Result<Vec<u8>, PublishError> {
    let job = super::hash::HashJob {
        path: f.path.clone(),
        piece_length: cached.piece_length,
        audio_start: cached.audio_start,
        format: cached.format,
        size: f.size,
    };
    let d = super::hash::hash_file(&job, &std::sync::atomic::AtomicU64::new(0))?;
    Ok(d.pieces)
}

/// Artwork: the config's file, else the embedded picture (ID3 APIC, MP4 `covr`, Opus
/// METADATA_BLOCK_PICTURE). The picture's bytes are this run's
/// when the file was probed; for an unchanged episode, the previous build's extraction
/// when it is this picture, else the file is probed again.
fn artwork(
    ctx: &Context<'_>,
    files: &EpisodeFiles<'_>,
    f: &SourceFile,
    cached: &CachedEpisode,
    picture: Option<Vec<u8>>,
    stamps: &mut Stamps,
) -> Result<Option<(OutputPath, Content)>, PublishError> {
    if let Some(img) = &f.config.image {
        let file = files.image(&extension(img));
        return Ok(Some((file, Content::SameAs(img.clone()))));
    }
    let Some(pic) = &cached.tags.picture else {
        return Ok(None);
    };
    let file = files.image(&pic.ext);
    let existing = ctx.layout.local(&file.rel);
    // The previous build extracted this picture (by its SHA-256) to a file still of the
    // size it wrote: kept without reading it (a show's embedded art, episode after
    // episode, would otherwise be read and hashed on every build).
    let kept = ctx
        .rendered
        .get(&file.rel)
        .filter(|r| picture.is_none() && r.still_made_from(&pic.sha256, &existing));
    if let Some(r) = kept {
        stamps.push((file.rel.clone(), r.clone()));
        return Ok(Some((file, Content::Kept)));
    }
    let bytes = match picture {
        Some(bytes) => Some(bytes),
        None => match std::fs::read(&existing) {
            Ok(b) if sha256_hex(&b) == pic.sha256 => Some(b),
            _ => probe::probe(&f.path)?.picture,
        },
    };
    Ok(bytes.map(|b| {
        let stamp = Rendered {
            inputs: pic.sha256.clone(),
            size: b.len() as u64,
        };
        stamps.push((file.rel.clone(), stamp));
        (file, Content::Bytes(b))
    }))
}

/// Chapters: the config's JSON file (checked with the config), else the file's own (ID3
/// CHAP frames, MP4 `chpl`, Vorbis CHAPTERnnn comments).
fn chapters(
    files: &EpisodeFiles<'_>,
    f: &SourceFile,
    cached: &CachedEpisode,
) -> Option<(OutputPath, Content)> {
    let content = if let Some(path) = &f.config.chapters {
        Content::SameAs(path.clone())
    } else if !cached.tags.chapters.is_empty() {
        Content::Bytes(site::chapters_json(&cached.tags.chapters))
    } else {
        return None;
    };
    Some((files.chapters(), content))
}

/// The chapters for the episode page: the config's JSON file, else the ID3 CHAP frames.
fn chapter_marks(f: &SourceFile, cached: &CachedEpisode) -> Vec<ChapterMark> {
    match &f.config.chapters {
        // Checked with the config; read again here because its content is not cached.
        Some(path) => std::fs::read(path)
            .map(|b| cues_of::chapters_from_json(&b))
            .unwrap_or_default(),
        None => cached
            .tags
            .chapters
            .iter()
            .map(|c| ChapterMark {
                start_secs: f64::from(c.start_ms) / 1000.0,
                title: c.title.clone().unwrap_or_default(),
            })
            .collect(),
    }
}

/// The transcript's cues for the episode page (none when it cannot be read as text).
fn read_cues(path: &Path) -> Vec<Cue> {
    std::fs::read(path)
        .map(|b| cues_of::cues(&String::from_utf8_lossy(&b)))
        .unwrap_or_default()
}

/// The transcript (config, else a `.vtt`/`.srt` beside the media) and its MIME type.
fn transcript(
    files: &EpisodeFiles<'_>,
    f: &SourceFile,
) -> Option<((OutputPath, Content), &'static str)> {
    let path = f.transcript.as_ref()?;
    let mime = transcript_type(path)?;
    let file = files.transcript(&extension(path));
    Some(((file, Content::SameAs(path.clone())), mime))
}

/// The episode's HTML id, numbered when an earlier episode has it already.
fn unique_anchor(files: &EpisodeFiles<'_>, anchors: &mut HashSet<String>) -> String {
    let mut anchor = files.anchor();
    let mut n = 1;
    while !anchors.insert(anchor.clone()) {
        n += 1;
        anchor = format!("{}-{n}", files.anchor());
    }
    anchor
}

/// Title: config, else ID3, else from the file name.
fn title(f: &SourceFile, cached: &CachedEpisode) -> String {
    f.config
        .title
        .clone()
        .or_else(|| cached.tags.title.clone())
        .unwrap_or_else(|| probe::title_from_file_name(&f.rel))
}

/// Description (HTML), the one place that chooses it: Markdown notes (the `.md` beside the
/// file, else the config's `description_file`), else the config's description, else the
/// file's tags (a description tag before a comment: ID3 TDES/TXXX:description then
/// COMM/TXXX:comment, iTunes `ldes`/`desc` then `©cmt`, Opus DESCRIPTION then COMMENT),
/// else the title.
fn description(
    f: &SourceFile,
    cached: &CachedEpisode,
    title: &str,
) -> Result<String, PublishError> {
    if let Some(md) = f
        .notes
        .clone()
        .or_else(|| f.config.description_file.clone())
    {
        let text = notes::read(&md).map_err(|e| PublishError::media(&md, e))?;
        return Ok(notes::to_html(&text));
    }
    Ok(f.config
        .description
        .clone()
        .unwrap_or_else(|| plain_to_html(cached.tags.description_text().unwrap_or(title))))
}

/// The ID3 artist, when it is set and differs from the show's author.
fn author(config: &Config, cached: &CachedEpisode) -> Option<String> {
    cached
        .tags
        .artist
        .clone()
        .filter(|a| *a != config.show.author && !a.is_empty())
}

/// The file's SHA-256 from the manifest entry.
fn sha256(cached: &CachedEpisode) -> [u8; 32] {
    crate::bt::unhex(&cached.sha256)
        .and_then(|v| v.try_into().ok())
        .unwrap_or([0; 32])
}

/// SHA-256 (hex) of a small file's bytes.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    crate::bt::hex(&sha2::Sha256::digest(bytes))
}

/// Namespace of default episode guids (a fixed UUIDv5 of "podseed episode").
const EPISODE_GUID_NS: Uuid = Uuid::from_u128(0x6e1f_5d5c_8a3e_5b1f_9c47_2f0b_d1a4_7e21);

/// Episode guid when the config sets none: UUIDv5 of the file's path, so it survives
/// changes of base_url, title and audio alike.
pub fn default_episode_guid(rel: &str) -> String {
    Uuid::new_v5(&EPISODE_GUID_NS, rel.as_bytes()).to_string()
}

/// Text from a tag is plain text; descriptions are HTML, so it is escaped on the way in.
fn plain_to_html(text: &str) -> String {
    site::escape_html(text)
}

/// Two episodes may not write the same output path (`a.mp3` and `a.MP3` share
/// `torrents/a.torrent`); hosts may be case-insensitive, so case is ignored.
fn check_collisions(assets: &[(String, OutputFile)]) -> Vec<MediaProblem> {
    let mut seen: HashMap<String, &str> = HashMap::new();
    let mut problems = Vec::new();
    for (rel, f) in assets {
        if let Some(first) = seen.insert(f.rel.to_lowercase(), rel) {
            if first != rel {
                problems.push(MediaProblem {
                    path: PathBuf::from(rel),
                    message: format!(
                        "would be published as {}, like {first}; rename one of them (names must differ in more than letter case and extension)",
                        f.rel
                    ),
                });
            }
        }
    }
    problems
}
