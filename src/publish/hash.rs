//! Stage 3: one streaming read of each episode gives its SHA-1 pieces (the torrent), its
//! SHA-256 (`podcast:integrity`) and its container walk ([`super::media::Scanner`]: MPEG frames
//! for duration and bitrate, Ogg pages for duration, MP4 boxes for completeness).
//!
//! Files hash in parallel, one worker per core, each with one fixed buffer, so memory stays
//! bounded whatever the file sizes. This is the only stage that reads whole files; it does
//! not decide which files need hashing (the cache does).

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::media::{Format, Scanner, Stats};
use super::PublishError;

/// Read size: large enough to amortise syscalls, small enough to stay in L2 while both
/// hashers and the frame walker pass over it.
const CHUNK: usize = 256 * 1024;

/// A file to hash.
#[derive(Debug, Clone)]
pub struct HashJob {
    /// The file.
    pub path: PathBuf,
    /// Torrent piece length (a power of two).
    pub piece_length: u64,
    /// Where the MPEG audio starts (after ID3v2), for the frame walk.
    pub audio_start: u64,
    /// The container, which decides the walk.
    pub format: Format,
}

/// Everything one pass over a file yields.
#[derive(Debug, Clone, PartialEq)]
pub struct FileDigest {
    /// Bytes read.
    pub size: u64,
    /// Piece length used.
    pub piece_length: u64,
    /// Concatenated 20-byte SHA-1 of each piece.
    pub pieces: Vec<u8>,
    /// SHA-256 of the whole file.
    pub sha256: [u8; 32],
    /// The container walk.
    pub frames: Stats,
}

/// Hashes one file in a single pass; `progress` grows by the bytes read.
pub fn hash_file(job: &HashJob, progress: &AtomicU64) -> Result<FileDigest, PublishError> {
    let io_err = |source| PublishError::Io {
        path: job.path.clone(),
        source,
    };
    let mut file = File::open(&job.path).map_err(io_err)?;
    let mut buf = vec![0u8; CHUNK];
    let mut sha256 = Sha256::new();
    let mut piece = Sha1::new();
    let mut in_piece = 0u64;
    let mut pieces = Vec::new();
    let mut scanner = Scanner::new(job.format, job.audio_start);
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(e)),
        };
        let chunk = &buf[..n];
        sha256.update(chunk);
        scanner.feed(chunk);
        let mut rest = chunk;
        while !rest.is_empty() {
            let take = rest.len().min((job.piece_length - in_piece) as usize);
            piece.update(&rest[..take]);
            in_piece += take as u64;
            rest = &rest[take..];
            if in_piece == job.piece_length {
                pieces.extend_from_slice(&piece.finalize_reset());
                in_piece = 0;
            }
        }
        size += n as u64;
        progress.fetch_add(n as u64, Ordering::Relaxed);
    }
    if in_piece > 0 {
        pieces.extend_from_slice(&piece.finalize());
    }
    Ok(FileDigest {
        size,
        piece_length: job.piece_length,
        pieces,
        sha256: sha256.finalize().into(),
        frames: scanner.finish(),
    })
}

/// Hashes every job on up to `threads` workers; results come back in job order.
pub fn hash_all(
    jobs: &[HashJob],
    threads: usize,
    progress: &AtomicU64,
) -> Vec<Result<FileDigest, PublishError>> {
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Result<FileDigest, PublishError>>>> =
        jobs.iter().map(|_| Mutex::new(None)).collect();
    let workers = threads.clamp(1, jobs.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let r = hash_file(job, progress);
                if let Ok(mut slot) = results[i].lock() {
                    *slot = Some(r);
                }
            });
        }
    });
    results
        .into_iter()
        .zip(jobs)
        .map(|(m, job)| {
            m.into_inner().ok().flatten().unwrap_or_else(|| {
                Err(PublishError::Io {
                    path: job.path.clone(),
                    source: std::io::Error::other("hash worker failed"),
                })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job_for(data: &[u8], piece_length: u64) -> (tempfile::NamedTempFile, HashJob) {
        let mut f = tempfile::NamedTempFile::new().expect("tmp");
        std::io::Write::write_all(&mut f, data).expect("write");
        let job = HashJob {
            path: f.path().to_path_buf(),
            piece_length,
            audio_start: 0,
            format: Format::Mp3,
        };
        (f, job)
    }

    #[test]
    fn pieces_and_sha256_match_a_direct_computation() {
        // Not a multiple of the piece length or of the read size, to exercise both edges.
        let data: Vec<u8> = (0..(CHUNK * 3 + 12345))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let pl = 16 * 1024;
        let (_f, job) = job_for(&data, pl);
        let progress = AtomicU64::new(0);
        let d = hash_file(&job, &progress).expect("hash");
        let want: Vec<u8> = data
            .chunks(pl as usize)
            .flat_map(|c| Sha1::digest(c).to_vec())
            .collect();
        assert_eq!(d.pieces, want);
        assert_eq!(d.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
        assert_eq!(d.size, data.len() as u64);
        assert_eq!(progress.load(Ordering::Relaxed), data.len() as u64);
    }

    #[test]
    fn hash_all_keeps_job_order_and_reports_errors() {
        let (_a, ja) = job_for(b"aaaa", 16384);
        let (_b, jb) = job_for(b"bbbbbbbb", 16384);
        let missing = HashJob {
            path: PathBuf::from("/nonexistent/podseed-test.mp3"),
            piece_length: 16384,
            audio_start: 0,
            format: Format::Mp3,
        };
        let progress = AtomicU64::new(0);
        let r = hash_all(&[ja, missing, jb], 2, &progress);
        assert_eq!(r[0].as_ref().expect("a").size, 4);
        assert!(r[1].is_err());
        assert_eq!(r[2].as_ref().expect("b").size, 8);
    }
}
