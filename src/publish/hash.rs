//! Stage 3: one streaming read of each episode gives its SHA-1 pieces (the torrent), its
//! SHA-256 (`podcast:integrity`) and its container walk ([`super::media::Scanner`]: MPEG frames
//! for duration and bitrate, Ogg pages for duration, MP4 boxes for completeness).
//!
//! Files are hashed largest first, one per core, each in one pass ([`hash_file`]), while
//! every core gets one; the last few (fewer than the cores, or a single large episode) are
//! each split across two cores, so that both stay busy to the last byte rather than one
//! idling while the other finishes a file alone: one thread reads the file and computes
//! the SHA-1 pieces, the other computes the SHA-256 and feeds the media scanner, over the
//! same read buffers, in file order. The two costs are close (both use the CPU's SHA
//! instructions where it has them), which is what makes the split even; whole files stay
//! the rule because a split costs a little more (each buffer crosses cores). Buffers come
//! from a small fixed pool, so memory stays bounded whatever the file sizes. This is the
//! only stage that reads whole files; it does not decide which files need hashing (the
//! cache does).

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::media::{Format, Scanner, Stats};
use super::PublishError;

/// Read size: large enough to amortise syscalls, small enough to stay in L2 while both
/// hashers and the frame walker pass over it.
const CHUNK: usize = 256 * 1024;

/// Read buffers one pair of threads shares: the reader runs at most this far ahead. Few,
/// so that they stay in cache between the read and both hashes (16 cost 10 % more time in
/// the kernel's copy into colder memory).
const POOL: usize = 4;

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
    /// Its size as the scan found it: orders the work (the read goes to the file's end).
    pub size: u64,
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
    let mut pieces = Pieces::new(job.piece_length);
    let mut scanner = Scanner::new(job.format, job.audio_start);
    let mut size = 0u64;
    loop {
        let n = match read_some(&mut file, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => return Err(io_err(e)),
        };
        let chunk = &buf[..n];
        sha256.update(chunk);
        scanner.feed(chunk);
        pieces.feed(chunk);
        size += n as u64;
        progress.fetch_add(n as u64, Ordering::Relaxed);
    }
    Ok(FileDigest {
        size,
        piece_length: job.piece_length,
        pieces: pieces.finish(),
        sha256: sha256.finalize().into(),
        frames: scanner.finish(),
    })
}

/// Hashes every job on up to `threads` threads; results come back in job order.
pub fn hash_all(
    jobs: &[HashJob],
    threads: usize,
    progress: &AtomicU64,
) -> Vec<Result<FileDigest, PublishError>> {
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Result<FileDigest, PublishError>>>> =
        jobs.iter().map(|_| Mutex::new(None)).collect();
    let store = |i: usize, r| {
        if let Some(Ok(mut slot)) = results.get(i).map(|m| m.lock()) {
            *slot = Some(r);
        }
    };
    let threads = threads.max(1);
    // Largest first, so that the threads' whole files end close together; then the last
    // files (fewer than the threads) are each split across a pair of threads, so that no
    // core idles while another finishes a file alone. Whole files are cheaper where there
    // are enough of them (no buffer crosses cores).
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(jobs[i].size));
    let pairs = threads / 2;
    let tail = if pairs == 0 { 0 } else { order.len() % threads };
    let (whole, split) = order.split_at(order.len() - tail);
    std::thread::scope(|s| {
        for _ in 0..threads.min(whole.len()) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = whole.get(k) else { break };
                store(i, hash_file(&jobs[i], progress));
            });
        }
    });
    split_across_pairs(jobs, split, pairs, &store, progress);
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

/// Hashes the jobs at the indices `split`, each across a pair of threads, on `pairs` pairs.
fn split_across_pairs(
    jobs: &[HashJob],
    split: &[usize],
    pairs: usize,
    store: &(impl Fn(usize, Result<FileDigest, PublishError>) + Sync),
    progress: &AtomicU64,
) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..pairs.min(split.len()) {
            let (to_sha256, from_reader) = sync_channel::<ToSha256>(POOL * 2);
            let (give_back, returned) = sync_channel::<Arc<Vec<u8>>>(POOL);
            s.spawn(move || sha256_side(&from_reader, &give_back, store));
            let next = &next;
            s.spawn(move || {
                let mut pool = Pool {
                    returned,
                    spare: Vec::new(),
                    made: 0,
                };
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = split.get(k) else { break };
                    let job = &jobs[i];
                    // On success the SHA-256 side completes the digest and stores it.
                    if let Err(e) = sha1_side(i, job, &to_sha256, &mut pool, progress) {
                        store(i, Err(e));
                    }
                }
            });
        }
    });
}

/// What the reading (SHA-1) thread tells the SHA-256 thread, in file order.
enum ToSha256 {
    /// A new file begins.
    Start { format: Format, audio_start: u64 },
    /// Its next bytes (`len` of the buffer).
    Chunk(Arc<Vec<u8>>, usize),
    /// The file ended: complete the digest of job `index` with these pieces and size.
    End {
        index: usize,
        pieces: Vec<u8>,
        size: u64,
        piece_length: u64,
    },
    /// The file could not be read (the reader stores the error).
    Abort,
}

/// The read buffers of one pair: made on demand up to [`POOL`], then only reused.
struct Pool {
    returned: Receiver<Arc<Vec<u8>>>,
    /// Buffers the reader holds unused (the one an end of file left empty).
    spare: Vec<Vec<u8>>,
    made: usize,
}

impl Pool {
    /// A buffer no one else holds, waiting for one to come back when all are in use.
    fn take(&mut self) -> Vec<u8> {
        if let Some(buf) = self.spare.pop() {
            return buf;
        }
        let back = match self.returned.try_recv() {
            Ok(b) => Some(b),
            Err(_) if self.made < POOL => None,
            Err(_) => self.returned.recv().ok(),
        };
        // The reader dropped its own handle before asking, so the returned one is the last.
        match back.map(Arc::try_unwrap) {
            Some(Ok(buf)) => buf,
            _ => {
                self.made += 1;
                vec![0u8; CHUNK]
            }
        }
    }
}

/// Reads job `index` and computes its pieces; every chunk also goes to the SHA-256 side.
fn sha1_side(
    index: usize,
    job: &HashJob,
    to_sha256: &SyncSender<ToSha256>,
    pool: &mut Pool,
    progress: &AtomicU64,
) -> Result<(), PublishError> {
    let io_err = |source| PublishError::Io {
        path: job.path.clone(),
        source,
    };
    let hung_up = || io_err(std::io::Error::other("hash worker failed"));
    let mut file = File::open(&job.path).map_err(io_err)?;
    to_sha256
        .send(ToSha256::Start {
            format: job.format,
            audio_start: job.audio_start,
        })
        .map_err(|_| hung_up())?;
    let mut pieces = Pieces::new(job.piece_length);
    let mut size = 0u64;
    loop {
        let mut buf = pool.take();
        let n = match read_some(&mut file, &mut buf) {
            Ok(0) => {
                pool.spare.push(buf);
                break;
            }
            Ok(n) => n,
            Err(e) => {
                pool.spare.push(buf);
                let _ = to_sha256.send(ToSha256::Abort);
                return Err(io_err(e));
            }
        };
        let buf = Arc::new(buf);
        to_sha256
            .send(ToSha256::Chunk(Arc::clone(&buf), n))
            .map_err(|_| hung_up())?;
        pieces.feed(&buf[..n]);
        size += n as u64;
        progress.fetch_add(n as u64, Ordering::Relaxed);
    }
    to_sha256
        .send(ToSha256::End {
            index,
            pieces: pieces.finish(),
            size,
            piece_length: job.piece_length,
        })
        .map_err(|_| hung_up())
}

/// The SHA-256 and the media scan of every file the reader sends, in order.
fn sha256_side(
    from_reader: &Receiver<ToSha256>,
    give_back: &SyncSender<Arc<Vec<u8>>>,
    store: &impl Fn(usize, Result<FileDigest, PublishError>),
) {
    let mut current = None;
    while let Ok(msg) = from_reader.recv() {
        match msg {
            ToSha256::Start {
                format,
                audio_start,
            } => {
                current = Some((Sha256::new(), Scanner::new(format, audio_start)));
            }
            ToSha256::Chunk(buf, n) => {
                if let Some((sha256, scanner)) = current.as_mut() {
                    let chunk = &buf[..n];
                    sha256.update(chunk);
                    scanner.feed(chunk);
                }
                // Full means the reader is gone; the buffer is then simply freed.
                let _ = give_back.try_send(buf);
            }
            ToSha256::End {
                index,
                pieces,
                size,
                piece_length,
            } => {
                if let Some((sha256, scanner)) = current.take() {
                    store(
                        index,
                        Ok(FileDigest {
                            size,
                            piece_length,
                            pieces,
                            sha256: sha256.finalize().into(),
                            frames: scanner.finish(),
                        }),
                    );
                }
            }
            ToSha256::Abort => current = None,
        }
    }
}

/// One read, retried when interrupted.
fn read_some(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// The SHA-1 of each piece of a stream fed in arbitrary chunks.
struct Pieces {
    piece_length: u64,
    piece: Sha1,
    in_piece: u64,
    out: Vec<u8>,
}

impl Pieces {
    fn new(piece_length: u64) -> Self {
        Pieces {
            piece_length,
            piece: Sha1::new(),
            in_piece: 0,
            out: Vec::new(),
        }
    }

    fn feed(&mut self, mut rest: &[u8]) {
        while !rest.is_empty() {
            let take = rest.len().min((self.piece_length - self.in_piece) as usize);
            self.piece.update(&rest[..take]);
            self.in_piece += take as u64;
            rest = &rest[take..];
            if self.in_piece == self.piece_length {
                self.out.extend_from_slice(&self.piece.finalize_reset());
                self.in_piece = 0;
            }
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.in_piece > 0 {
            self.out.extend_from_slice(&self.piece.finalize());
        }
        self.out
    }
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
            size: data.len() as u64,
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
    fn split_hashing_matches_one_pass_hashing() {
        // Several files of several sizes, more than the buffer pool, so buffers are reused
        // and files follow each other through the pair of threads.
        let mut sizes = vec![0usize, 1, CHUNK - 1, CHUNK * (POOL + 3) + 777, 70_000];
        // More files than buffers: each file's end must give its buffer back.
        sizes.extend((0..POOL * 3).map(|i| 1000 + i));
        let files: Vec<_> = sizes
            .iter()
            .enumerate()
            .map(|(k, &len)| {
                let data: Vec<u8> = (0..len).map(|i| ((i * 31 + k) % 253) as u8).collect();
                job_for(&data, 32 * 1024)
            })
            .collect();
        let jobs: Vec<HashJob> = files.iter().map(|(_, j)| j.clone()).collect();
        let progress = AtomicU64::new(0);
        let slots: Vec<Mutex<Option<FileDigest>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
        let store = |i: usize, r: Result<FileDigest, PublishError>| {
            *slots[i].lock().expect("lock") = Some(r.expect("split"));
        };
        let all: Vec<usize> = (0..jobs.len()).collect();
        split_across_pairs(&jobs, &all, 1, &store, &progress);
        for (job, got) in jobs.iter().zip(slots) {
            let want = hash_file(job, &AtomicU64::new(0)).expect("one pass");
            assert_eq!(got.into_inner().expect("lock"), Some(want));
        }
        let total: u64 = jobs
            .iter()
            .map(|j| std::fs::metadata(&j.path).expect("meta").len())
            .sum();
        assert_eq!(progress.load(Ordering::Relaxed), total);
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
            size: 0,
        };
        for threads in [1, 2, 4] {
            let progress = AtomicU64::new(0);
            let jobs = [ja.clone(), missing.clone(), jb.clone()];
            let r = hash_all(&jobs, threads, &progress);
            assert_eq!(r[0].as_ref().expect("a").size, 4);
            assert!(r[1].is_err());
            assert_eq!(r[2].as_ref().expect("b").size, 8);
        }
    }
}
