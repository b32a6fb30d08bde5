//! The bytes the seeder serves: one published MP3 per torrent, read with positioned reads
//! off the async workers, every piece checked against its SHA-1 the first time it is read,
//! and the file's size and mtime checked on every read.
//!
//! A piece that fails its check means the file changed after `publish`: the torrent stops
//! seeding for good (until a new build), and the log says which file to republish. Start-up
//! checks only size and mtime against the manifest, so it is instant with any catalogue.
//! The seeder's shared [`PieceCache`] keeps recently read pieces, so the 16 KiB blocks of
//! one piece cost one read.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use sha1::{Digest, Sha1};

use crate::bt::{BlockRequest, InfoHash};
use crate::catalog::CatalogEpisode;
use crate::publish::metainfo::{self, MetainfoError};

use super::change_watch::{ChangeWatch, FileWatch};
use super::piece_cache::{Piece, PieceCache};

/// Largest block a peer may request (BEP 3 clients use 16 KiB; some ask up to 128 KiB).
pub const MAX_BLOCK: u32 = 128 * 1024;
/// Numbers each load of a torrent, to key its pieces in the shared cache.
static NEXT_LOAD: AtomicU64 = AtomicU64::new(1);

/// Why a torrent cannot be seeded, or a block not served.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The .torrent or the MP3 is missing or unreadable.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The .torrent does not describe the published episode.
    #[error("{}: {message}; run `podseed publish` again", .path.display())]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// What differs.
        message: String,
    },
    /// The .torrent cannot be read.
    #[error("{}: {source}; run `podseed publish` again", .path.display())]
    Torrent {
        /// The .torrent.
        path: PathBuf,
        /// What is wrong with it.
        source: MetainfoError,
    },
    /// A request outside the torrent.
    #[error("request out of range")]
    OutOfRange,
    /// The file no longer matches its pieces: this torrent is not seeded any more.
    #[error("torrent disabled: its file changed after publish")]
    Disabled,
}

/// A block: a view into a cached, verified piece (no copy until it is written out).
#[derive(Debug, Clone)]
pub struct Block {
    piece: Arc<Piece>,
    range: std::ops::Range<usize>,
}

impl Block {
    fn of(piece: Arc<Piece>, begin: u32, length: u32) -> Option<Block> {
        let range = begin as usize..begin as usize + length as usize;
        piece.get(range.clone())?;
        Some(Block { piece, range })
    }
}

#[cfg(test)]
impl Block {
    /// A block holding a copy of `data`, for tests of what writes blocks.
    pub(crate) fn for_test(data: &[u8]) -> Block {
        let piece = PieceCache::new(usize::MAX).insert((0, 0), data.to_vec());
        Block {
            range: 0..data.len(),
            piece,
        }
    }
}

impl std::ops::Deref for Block {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.piece[self.range.clone()]
    }
}

/// One torrent the seeder serves.
#[derive(Debug)]
pub struct SeededTorrent {
    /// Info hash.
    pub info_hash: InfoHash,
    /// The exact bencoded info dict (served by ut_metadata).
    pub info_bytes: Vec<u8>,
    /// The MP3.
    pub path: PathBuf,
    /// The MP3, opened once (positioned reads need no seeking, so it is shared).
    file: std::fs::File,
    /// File length.
    pub length: u64,
    /// Piece length.
    pub piece_length: u64,
    /// Announce URLs of the torrent, tiers flattened, in order.
    pub trackers: Vec<String>,
    /// Bytes of this torrent sent to peers.
    pub uploaded: std::sync::atomic::AtomicU64,
    /// Size and mtime the catalog published, to tell a republished or edited file.
    published: (u64, (i64, u32)),
    pieces: Vec<[u8; 20]>,
    /// Per piece, 1 + the file's change counter when it last matched its SHA-1 (0: never);
    /// trusted without hashing only while the counter has not moved.
    checked_at: Vec<AtomicU64>,
    /// Writes to the file, as inotify reports them.
    watch: FileWatch,
    disabled: AtomicBool,
    /// Whether it was disabled because its file no longer matched (not for leaving the
    /// catalog): it stays off across reloads until the file is published anew.
    failed: AtomicBool,
    /// This load's key in `cache`.
    load_id: u64,
    cache: Arc<PieceCache>,
}

impl SeededTorrent {
    /// Loads the torrent of a published episode and checks the MP3 is the one published
    /// (size and mtime, no reading). Its pieces are cached in `cache`.
    pub fn load(
        out: &Path,
        episode: &CatalogEpisode,
        cache: Arc<PieceCache>,
        watch: &Arc<ChangeWatch>,
    ) -> Result<SeededTorrent, StorageError> {
        let torrent_path = out.join(&episode.torrent);
        let bytes = std::fs::read(&torrent_path).map_err(|source| StorageError::Io {
            path: torrent_path.clone(),
            source,
        })?;
        let mismatch = |message: String| StorageError::Mismatch {
            path: torrent_path.clone(),
            message,
        };
        let torrent = metainfo::read(&bytes).map_err(|source| StorageError::Torrent {
            path: torrent_path.clone(),
            source,
        })?;
        let info_hash = torrent.info_hash;
        if info_hash != episode.info_hash {
            return Err(mismatch(format!(
                "info hash {info_hash} is not the published {}",
                episode.info_hash
            )));
        }
        let path = out.join(&episode.media);
        let meta = std::fs::metadata(&path).map_err(|source| StorageError::Io {
            path: path.clone(),
            source,
        })?;
        let mtime = crate::publish::cache::mtime_key(&meta);
        if meta.len() != episode.size || torrent.length != episode.size {
            return Err(StorageError::Mismatch {
                path,
                message: format!("is {} bytes, published as {}", meta.len(), episode.size),
            });
        }
        if mtime != episode.mtime {
            return Err(StorageError::Mismatch {
                path,
                message: "was modified after publish".into(),
            });
        }
        let pieces = torrent.pieces;
        let piece_length = torrent.piece_length;
        if piece_length == 0 || pieces.len() as u64 != episode.size.div_ceil(piece_length) {
            return Err(mismatch("piece list does not cover the file".into()));
        }
        let trackers = torrent.trackers;
        let file = std::fs::File::open(&path).map_err(|source| StorageError::Io {
            path: path.clone(),
            source,
        })?;
        // Watched before any piece is read, so no write can slip between.
        let watch = watch.watch(&path);
        Ok(SeededTorrent {
            checked_at: (0..pieces.len()).map(|_| AtomicU64::new(0)).collect(),
            watch,
            published: (episode.size, episode.mtime),
            file,
            info_hash,
            info_bytes: torrent.info,
            trackers,
            uploaded: std::sync::atomic::AtomicU64::new(0),
            path,
            length: episode.size,
            piece_length,
            pieces,
            disabled: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            load_id: NEXT_LOAD.fetch_add(1, Ordering::Relaxed),
            cache,
        })
    }

    /// Whether this torrent serves the file `episode` describes (same size and mtime).
    pub fn published_as(&self, episode: &CatalogEpisode) -> bool {
        self.info_hash == episode.info_hash && self.published == (episode.size, episode.mtime)
    }

    /// Stops seeding this torrent (its episode left the catalog or was republished).
    pub fn disable(&self) {
        self.disabled.store(true, Ordering::Relaxed);
        self.cache.forget(self.load_id);
    }

    /// Number of pieces.
    pub fn piece_count(&self) -> u32 {
        self.pieces.len() as u32
    }

    /// Whether this torrent still seeds.
    pub fn is_active(&self) -> bool {
        !self.disabled.load(Ordering::Relaxed)
    }

    /// Whether a check of its file failed (size, mtime or a piece's SHA-1).
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Whether the published path still names the file we opened (blocking: two stats).
    /// A publish that replaced it (a new link or copy of the source) makes this false.
    pub fn path_is_open_file(&self) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            match (self.file.metadata(), std::fs::metadata(&self.path)) {
                (Ok(open), Ok(now)) => (open.dev(), open.ino()) == (now.dev(), now.ino()),
                _ => false,
            }
        }
        #[cfg(not(unix))]
        {
            true
        }
    }

    /// Length of piece `index`.
    fn piece_len(&self, index: u32) -> u64 {
        let start = u64::from(index) * self.piece_length;
        self.piece_length.min(self.length.saturating_sub(start))
    }

    /// Whether the block lies inside the torrent and is an acceptable size.
    pub fn check_request(&self, r: BlockRequest) -> bool {
        r.piece < self.piece_count()
            && r.length > 0
            && r.length <= MAX_BLOCK
            && u64::from(r.offset) + u64::from(r.length) <= self.piece_len(r.piece)
    }

    /// The block when its piece is in the cache (and so verified), without waiting.
    pub fn cached_block(&self, r: BlockRequest) -> Option<Block> {
        if !self.is_active() || !self.check_request(r) {
            return None;
        }
        Block::of(self.cached(r.piece)?, r.offset, r.length)
    }

    /// Reads (and on first read verifies) the piece of a block on the blocking pool, and
    /// caches it. The handle can be kept across loop turns, or dropped to forget the read.
    pub fn read_block(
        self: &Arc<Self>,
        r: BlockRequest,
    ) -> tokio::task::JoinHandle<Result<Block, StorageError>> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            if !this.check_request(r) {
                return Err(StorageError::OutOfRange);
            }
            if !this.is_active() {
                return Err(StorageError::Disabled);
            }
            let piece = match this.cached(r.piece) {
                Some(p) => p,
                None => {
                    let buf = this.read_piece(r.piece)?;
                    this.cache.insert((this.load_id, r.piece), buf)
                }
            };
            Block::of(piece, r.offset, r.length).ok_or(StorageError::OutOfRange)
        })
    }

    fn cached(&self, index: u32) -> Option<Arc<Piece>> {
        self.cache.get((self.load_id, index))
    }

    /// Reads piece `index` (blocking) and makes sure it is the published bytes: the
    /// published MP3 is a hard link to the podcaster's file, and a tagger may rewrite it in
    /// place and restore its mtime. So a piece is hashed on every read from disk unless it
    /// matched its SHA-1 before and inotify has reported no write to the file since (checked
    /// after the read, when a write the read saw has queued its event). Every read also
    /// checks (fstat, about a microsecond) the size and mtime it was published with. Only
    /// checked pieces enter the cache, and a cached piece is the bytes that were checked.
    fn read_piece(&self, index: u32) -> Result<Vec<u8>, StorageError> {
        let io_err = |source| StorageError::Io {
            path: self.path.clone(),
            source,
        };
        let meta = self.file.metadata().map_err(io_err)?;
        if (meta.len(), crate::publish::cache::mtime_key(&meta)) != self.published {
            return Err(self.fail(&format!(
                "piece {index}: the file was modified after publish"
            )));
        }
        let epoch = self.watch.epoch();
        let mut buf = self.cache.buffer(self.piece_len(index) as usize);
        read_exact_at(&self.file, &mut buf, u64::from(index) * self.piece_length)
            .map_err(io_err)?;
        let checked_at = self.checked_at.get(index as usize);
        let trusted = epoch.is_some_and(|e| {
            checked_at.is_some_and(|c| c.load(Ordering::Acquire) == e + 1)
                && !self.watch.changed_since(e)
        });
        if trusted {
            return Ok(buf);
        }
        let ok = self
            .pieces
            .get(index as usize)
            .is_some_and(|want| <[u8; 20]>::from(Sha1::digest(&buf)) == *want);
        if !ok {
            return Err(self.fail(&format!(
                "piece {index} does not match torrent {}",
                self.info_hash
            )));
        }
        // Trusted from now on only at the counter the read started under; a write since
        // makes the next read hash again.
        if let (Some(e), Some(c)) = (epoch, checked_at) {
            c.store(e + 1, Ordering::Release);
        }
        Ok(buf)
    }

    /// Disables the torrent, logging once which file to republish.
    fn fail(&self, why: &str) -> StorageError {
        self.failed.store(true, Ordering::Relaxed);
        // Its pieces are never served again: give their room in the shared cache back.
        self.cache.forget(self.load_id);
        if !self.disabled.swap(true, Ordering::Relaxed) {
            tracing::error!(
                "{}: {why}: the file changed after publish; this episode is no longer seeded. Run `podseed publish` to republish it",
                self.path.display()
            );
        }
        StorageError::Disabled
    }
}

#[cfg(unix)]
fn read_exact_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_exact_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    f.read_exact(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::metainfo::{build, TorrentSpec};
    use std::time::UNIX_EPOCH;

    impl SeededTorrent {
        /// One block as a session gets it: from the cache, else read on the blocking pool.
        async fn block(
            self: &Arc<Self>,
            index: u32,
            begin: u32,
            length: u32,
        ) -> Result<Block, StorageError> {
            let r = req(index, begin, length);
            match self.cached_block(r) {
                Some(b) => Ok(b),
                None => self.read_block(r).await.expect("read task"),
            }
        }
    }

    fn req(piece: u32, offset: u32, length: u32) -> BlockRequest {
        BlockRequest {
            piece,
            offset,
            length,
        }
    }

    /// A published-like folder with one file and its torrent.
    fn fixture(data: &[u8]) -> (tempfile::TempDir, CatalogEpisode) {
        let d = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(d.path().join("episodes")).expect("mkdir");
        std::fs::create_dir_all(d.path().join("torrents")).expect("mkdir");
        let media = d.path().join("episodes/a.mp3");
        std::fs::write(&media, data).expect("write");
        let pl = 16384u64;
        let pieces: Vec<u8> = data
            .chunks(pl as usize)
            .flat_map(|c| Sha1::digest(c).to_vec())
            .collect();
        let built = build(&TorrentSpec {
            name: "a.mp3",
            length: data.len() as u64,
            piece_length: pl,
            pieces: &pieces,
            trackers: &[],
            web_seed: None,
            created: chrono::DateTime::UNIX_EPOCH,
            torrent_url: "http://x/a.torrent",
        })
        .expect("build");
        std::fs::write(d.path().join("torrents/a.torrent"), &built.bytes).expect("write");
        let meta = std::fs::metadata(&media).expect("meta");
        let mtime = meta
            .modified()
            .expect("mtime")
            .duration_since(UNIX_EPOCH)
            .expect("epoch");
        let ep = CatalogEpisode {
            title: "A".into(),
            info_hash: built.info_hash,
            media: "episodes/a.mp3".into(),
            torrent: "torrents/a.torrent".into(),
            size: data.len() as u64,
            mtime: (mtime.as_secs() as i64, mtime.subsec_nanos()),
            bitrate_bps: None,
        };
        (d, ep)
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 253) as u8).collect()
    }

    #[tokio::test]
    async fn blocks_are_served_exactly_and_ranges_checked() {
        let bytes = data(50_000);
        let (d, ep) = fixture(&bytes);
        let t = Arc::new(
            SeededTorrent::load(d.path(), &ep, Arc::default(), &Arc::default()).expect("load"),
        );
        assert_eq!(t.piece_count(), 4);
        assert!(t.cached_block(req(1, 100, 1000)).is_none(), "not read yet");
        let b = t.block(1, 100, 1000).await.expect("block");
        assert_eq!(&*b, &bytes[16384 + 100..16384 + 1100]);
        assert_eq!(
            t.cached_block(req(1, 0, 50)).as_deref(),
            Some(&bytes[16384..16384 + 50])
        );
        // The last, short piece.
        let last = t
            .block(3, 0, (50_000 - 3 * 16384) as u32)
            .await
            .expect("last");
        assert_eq!(&*last, &bytes[3 * 16384..]);
        for (i, b, l) in [
            (4, 0, 16),
            (3, 0, 16384),
            (0, 16380, 16),
            (0, 0, 0),
            (0, 0, MAX_BLOCK + 1),
        ] {
            assert!(matches!(
                t.block(i, b, l).await,
                Err(StorageError::OutOfRange)
            ));
        }
    }

    #[tokio::test]
    async fn a_changed_file_is_never_served() {
        let bytes = data(40_000);
        let (d, ep) = fixture(&bytes);
        let t = Arc::new(
            SeededTorrent::load(d.path(), &ep, Arc::default(), &Arc::default()).expect("load"),
        );
        assert!(t.block(0, 0, 16).await.is_ok());
        // Change piece 1 in place (same size; the mtime check was at load).
        let mut changed = bytes.clone();
        changed[20_000] ^= 0xff;
        std::fs::write(d.path().join("episodes/a.mp3"), &changed).expect("write");
        assert!(matches!(
            t.block(1, 0, 16).await,
            Err(StorageError::Disabled)
        ));
        assert!(!t.is_active() && t.failed());
        // Even verified, cached pieces are not served any more.
        assert!(matches!(
            t.block(0, 0, 16).await,
            Err(StorageError::Disabled)
        ));
    }

    #[tokio::test]
    async fn an_edit_after_a_piece_was_served_is_caught_too() {
        let bytes = data(16384 * 20);
        let (d, ep) = fixture(&bytes);
        let cache = Arc::new(PieceCache::new(4 * 16384));
        let t = Arc::new(SeededTorrent::load(d.path(), &ep, cache, &Arc::default()).expect("load"));
        assert!(t.block(0, 0, 16).await.is_ok());
        // Push piece 0 out of the cache, then edit it in place.
        for i in 1..20 {
            assert!(t.block(i, 0, 16).await.is_ok());
        }
        let mut changed = bytes.clone();
        changed[5] ^= 1;
        std::fs::write(d.path().join("episodes/a.mp3"), &changed).expect("write");
        assert!(matches!(
            t.block(0, 0, 16).await,
            Err(StorageError::Disabled)
        ));
    }

    #[tokio::test]
    async fn an_edit_in_place_that_keeps_the_mtime_is_caught_after_eviction() {
        let bytes = data(16384 * 20);
        let (d, ep) = fixture(&bytes);
        let media = d.path().join("episodes/a.mp3");
        let cache = Arc::new(PieceCache::new(4 * 16384));
        let t = Arc::new(SeededTorrent::load(d.path(), &ep, cache, &Arc::default()).expect("load"));
        // Every piece checked once; piece 0 leaves the cache.
        for i in 0..20 {
            assert!(t.block(i, 0, 16).await.is_ok());
        }
        let mtime = std::fs::metadata(&media)
            .and_then(|m| m.modified())
            .expect("mtime");
        let mut changed = bytes.clone();
        changed[5] ^= 1;
        std::fs::write(&media, &changed).expect("write");
        std::fs::File::options()
            .write(true)
            .open(&media)
            .and_then(|f| f.set_modified(mtime))
            .expect("restore mtime");
        assert!(matches!(
            t.block(0, 0, 16).await,
            Err(StorageError::Disabled)
        ));
    }

    #[test]
    fn a_file_touched_after_publish_is_not_loaded() {
        let (d, mut ep) = fixture(&data(20_000));
        ep.mtime.0 -= 10;
        let err =
            SeededTorrent::load(d.path(), &ep, Arc::default(), &Arc::default()).expect_err("mtime");
        assert!(err.to_string().contains("modified after publish"), "{err}");
        ep.info_hash = InfoHash([0; 20]);
        assert!(SeededTorrent::load(d.path(), &ep, Arc::default(), &Arc::default()).is_err());
    }
}
