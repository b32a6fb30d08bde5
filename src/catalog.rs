//! What a build publishes, as `serve`, the tracker and the seeder see it: the read side of
//! the manifest that `publish` writes last, so a catalog always describes a complete build.
//! It only reads; writing builds is `publish`'s.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::bt::InfoHash;
use crate::publish::cache;
use crate::publish::output::MANIFEST;

/// Why the build in an output folder cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The output folder holds no build.
    #[error("no published build in {} (no .podseed/manifest.json): run `podseed publish` first", .0.display())]
    NoBuild(PathBuf),
    /// The manifest could not be read.
    #[error("{}: {source}", .path.display())]
    Read {
        /// The manifest.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The manifest is not what `publish` writes.
    #[error("{}: {source}; run `podseed publish` again", .path.display())]
    Parse {
        /// The manifest.
        path: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
}

/// One published episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEpisode {
    /// Title.
    pub title: String,
    /// Info hash.
    pub info_hash: InfoHash,
    /// The MP3's path in the output folder.
    pub media: String,
    /// The .torrent's path in the output folder.
    pub torrent: String,
    /// MP3 size.
    pub size: u64,
    /// MP3 mtime (seconds, nanoseconds) when published.
    pub mtime: (i64, u32),
    /// Average audio bitrate (bits per second) when publish measured it, else None; the
    /// download counter's one-minute threshold comes from it.
    pub bitrate_bps: Option<u64>,
}

/// Every published episode, in feed order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Episodes.
    pub episodes: Vec<CatalogEpisode>,
    by_media: HashMap<String, usize>,
}

impl Catalog {
    /// The info hashes, for the tracker's whitelist.
    pub fn info_hashes(&self) -> Vec<InfoHash> {
        self.episodes.iter().map(|e| e.info_hash).collect()
    }

    /// (info hash, file size) of every episode, for the tracker.
    pub fn torrents(&self) -> Vec<(InfoHash, u64)> {
        self.episodes
            .iter()
            .map(|e| (e.info_hash, e.size))
            .collect()
    }

    /// The episode whose MP3 is at `media` (a path in the output folder).
    pub fn by_media(&self, media: &str) -> Option<&CatalogEpisode> {
        self.by_media.get(media).map(|&i| &self.episodes[i])
    }
}

/// Where the manifest of `out` is.
pub fn manifest_path(out: &Path) -> PathBuf {
    out.join(MANIFEST)
}

/// What tells one build in `out` from the next, cheaply: the output folder itself (publish
/// swaps in a new folder for each build that changes the site) and the manifest's mtime and
/// size (a build that changes only the manifest replaces it alone).
pub fn stamp(out: &Path) -> Option<(u64, SystemTime, u64)> {
    let m = std::fs::metadata(manifest_path(out)).ok()?;
    #[cfg(unix)]
    let folder = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(out).ok()?.ino()
    };
    #[cfg(not(unix))]
    let folder = 0;
    Some((folder, m.modified().ok()?, m.len()))
}

/// Reads the catalog of the build in `out`.
pub fn load(out: &Path) -> Result<Catalog, CatalogError> {
    let path = manifest_path(out);
    let bytes = std::fs::read(&path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            CatalogError::NoBuild(out.to_path_buf())
        } else {
            CatalogError::Read {
                path: path.clone(),
                source,
            }
        }
    })?;
    let manifest: cache::Manifest =
        serde_json::from_slice(&bytes).map_err(|source| CatalogError::Parse {
            path: path.clone(),
            source,
        })?;
    // The bitrate lives in the cache entry of the source, matched by info hash.
    let bitrates: HashMap<&str, u64> = manifest
        .episodes
        .values()
        .filter_map(|c| {
            let from_duration =
                (c.duration_ms > 0).then(|| c.size.saturating_mul(8000) / c.duration_ms);
            Some((c.info_hash.as_str(), c.bitrate_bps.or(from_duration)?))
        })
        .collect();
    let mut catalog = Catalog::default();
    for p in manifest.published.iter().cloned() {
        let bitrate_bps = bitrates.get(p.info_hash.as_str()).copied();
        let Some(info_hash) = InfoHash::from_hex(&p.info_hash) else {
            tracing::warn!("{}: bad info hash for {}; skipped", path.display(), p.media);
            continue;
        };
        catalog
            .by_media
            .insert(p.media.clone(), catalog.episodes.len());
        catalog.episodes.push(CatalogEpisode {
            title: p.title,
            info_hash,
            media: p.media,
            torrent: p.torrent,
            size: p.size,
            mtime: p.mtime,
            bitrate_bps,
        });
    }
    Ok(catalog)
}
