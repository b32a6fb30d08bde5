//! Stage 3: one streaming read of each episode gives its SHA-1 pieces (the torrent), its
//! SHA-256 (`podcast:integrity`) and its container walk ([`super::media::Scanner`]: MPEG frames
//! for duration and bitrate, Ogg pages for duration, MP4 boxes for completeness).
//!
//! Files are hashed largest first, one per thread, each in one pass, the SHA-256 and the
//! current piece's SHA-1 fed one 64-byte block each in turn: the two round chains are
//! independent, so the CPU overlaps them (see `Pieces::feed`). A thread that finds
//! no file left to start offers its help, and the next thread to read a chunk of a file it
//! reads alone hands it the file's SHA-256 and walk as they stand: from there the reader
//! computes the SHA-1 pieces and the helper the SHA-256 and the walk, over the same read
//! buffers, in file order. So both cores stay busy to the last byte, whatever the number
//! and sizes of the files, rather than one idling while the other finishes a file alone.
//! The two costs are close (both use the CPU's SHA instructions where it has them), which
//! is what makes the share even; a whole file per thread stays the rule because it costs
//! less (a thread alone overlaps the two hashes, each side of a share runs one, and each
//! shared buffer crosses cores). Buffers come from a small fixed
//! pool, so memory stays bounded whatever the file sizes. This is the only stage that
//! reads whole files; it does not decide which files need hashing (the cache does).

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::media::{Format, Scanner, Stats};
use super::PublishError;

/// Read size: large enough to amortise syscalls, small enough to stay in L2 while both
/// hashers and the frame walker pass over it.
const CHUNK: usize = 256 * 1024;

/// The block of SHA-1 and SHA-256: the step at which the two hashes of a file alternate.
const BLOCK: usize = 64;

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

/// Hashes one file in a single pass, on this thread; `progress` grows by the bytes read.
pub fn hash_file(job: &HashJob, progress: &AtomicU64) -> Result<FileDigest, PublishError> {
    let work = Work::new(std::slice::from_ref(job), progress);
    work.worker();
    work.into_results()
        .pop()
        .unwrap_or_else(|| Err(worker_failed(job)))
}

/// Hashes every job on up to `threads` threads; results come back in job order.
pub fn hash_all(
    jobs: &[HashJob],
    threads: usize,
    progress: &AtomicU64,
) -> Vec<Result<FileDigest, PublishError>> {
    let work = Work::new(jobs, progress);
    // Two threads per file at most: one reads it, one other can help.
    let threads = threads.clamp(1, (jobs.len() * 2).max(1));
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(|| work.worker());
        }
        work.worker();
    });
    work.into_results()
}

/// Whether the two hashes of a file gain from advancing a block each in turn: where the
/// crates run them on the CPU's SHA instructions, whose rounds wait on each other within a
/// chain (measured on x86 with SHA-NI: a third faster). Without them the software rounds
/// already keep the CPU busy and the turns only cost (measured: about 15 % slower); there,
/// and on other CPUs, where it was not measured, each hash takes the whole chunk in turn.
fn overlap_pays() -> bool {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        // The features the sha1 and sha2 crates ask for before using SHA-NI.
        std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("sse2")
            && std::arch::is_x86_feature_detected!("ssse3")
            && std::arch::is_x86_feature_detected!("sse4.1")
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    {
        false
    }
}

/// The error of a file whose hashing thread died (a bug, not the file's fault).
fn worker_failed(job: &HashJob) -> PublishError {
    PublishError::Io {
        path: job.path.clone(),
        source: std::io::Error::other("hash worker failed"),
    }
}

/// One hashing run: the files still to start, the threads offering help, the results.
struct Work<'a> {
    jobs: &'a [HashJob],
    /// Job indices, largest first, so that the files that end the run are the small ones.
    order: Vec<usize>,
    state: Mutex<State>,
    /// How many offers `state` holds: read without the lock before every chunk.
    offered: AtomicUsize,
    /// Whether a thread alone feeds its two hashes a block each in turn ([`overlap_pays`]).
    overlap: bool,
    /// Files handed to a helper part-way (for the tests).
    handoffs: AtomicUsize,
    results: Vec<Mutex<Option<Result<FileDigest, PublishError>>>>,
    progress: &'a AtomicU64,
}

/// What the threads share under the lock.
struct State {
    /// Position in `order` of the next file to start.
    next: usize,
    /// Threads reading a file that no helper shares yet.
    alone: usize,
    /// Idle threads waiting for a file to help with.
    offers: Vec<Offer>,
}

/// An idle thread's offer to compute the SHA-256 and the container walk of the rest of
/// another thread's file.
struct Offer {
    to_helper: SyncSender<ToHelper>,
    returned: Receiver<Arc<Vec<u8>>>,
}

/// What a reading thread tells its helper, in file order.
enum ToHelper {
    /// The SHA-256 and the walk so far: the helper carries them on.
    Take(Box<(Sha256, Scanner)>),
    /// The file's next bytes (`len` of the buffer).
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

/// How a reading thread hashes its file: alone, with the SHA-256 and the walk as they
/// stand, or shared, the helper holding them.
enum Side {
    Alone(Box<(Sha256, Scanner)>),
    Shared(Helped),
}

/// A reading thread's side of a shared file: the channel to the helper and the buffers.
struct Helped {
    to_helper: SyncSender<ToHelper>,
    pool: Pool,
}

impl<'a> Work<'a> {
    fn new(jobs: &'a [HashJob], progress: &'a AtomicU64) -> Self {
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(jobs[i].size));
        Work {
            jobs,
            order,
            state: Mutex::new(State {
                next: 0,
                alone: 0,
                offers: Vec::new(),
            }),
            offered: AtomicUsize::new(0),
            overlap: overlap_pays(),
            handoffs: AtomicUsize::new(0),
            results: jobs.iter().map(|_| Mutex::new(None)).collect(),
            progress,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent under every lock holder, so a panic elsewhere leaves
        // it usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn store(&self, index: usize, r: Result<FileDigest, PublishError>) {
        if let Some(slot) = self.results.get(index) {
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
        }
    }

    fn into_results(self) -> Vec<Result<FileDigest, PublishError>> {
        self.results
            .into_iter()
            .zip(self.jobs)
            .map(|(m, job)| {
                m.into_inner()
                    .unwrap_or_else(PoisonError::into_inner)
                    .unwrap_or_else(|| Err(worker_failed(job)))
            })
            .collect()
    }

    /// One thread's part: whole files while any is left to start, then help to the
    /// threads still reading one alone, until every file is done. So both cores stay busy
    /// to the last byte, whatever the number and sizes of the files, and the cheaper
    /// one-thread read stays the rule (a shared file's buffers cross cores).
    fn worker(&self) {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let mut state = self.lock();
            if let Some(&index) = self.order.get(state.next) {
                state.next += 1;
                state.alone += 1;
                drop(state);
                buf = self.hash_one(index, buf);
                continue;
            }
            if state.alone == 0 {
                // Nothing to start, no one to help: the waiting helpers are let go.
                state.offers.clear();
                self.offered.store(0, Ordering::Relaxed);
                return;
            }
            let (to_helper, from_reader) = sync_channel(POOL * 2);
            let (give_back, returned) = sync_channel(POOL);
            state.offers.push(Offer {
                to_helper,
                returned,
            });
            self.offered.store(state.offers.len(), Ordering::Relaxed);
            drop(state);
            self.help(&from_reader, &give_back);
        }
    }

    /// An offer, if one is still there; the file taking it no longer counts as alone.
    fn take_offer(&self) -> Option<Offer> {
        let mut state = self.lock();
        let offer = state.offers.pop()?;
        state.alone -= 1;
        self.offered.store(state.offers.len(), Ordering::Relaxed);
        Some(offer)
    }

    /// Reads job `index` to its end, alone until a helper offers, then with it; gives
    /// back a read buffer for the next file.
    fn hash_one(&self, index: usize, mut buf: Vec<u8>) -> Vec<u8> {
        let job = &self.jobs[index];
        let mut side = Side::Alone(Box::new((
            Sha256::new(),
            Scanner::new(job.format, job.audio_start),
        )));
        let mut pieces = Pieces::new(job.piece_length);
        let mut size = 0u64;
        let read = File::open(&job.path).and_then(|mut file| loop {
            if matches!(side, Side::Alone(_)) && self.offered.load(Ordering::Relaxed) > 0 {
                if let Some(offer) = self.take_offer() {
                    let shared = Side::Shared(Helped {
                        to_helper: offer.to_helper,
                        pool: Pool {
                            returned: offer.returned,
                            spare: vec![std::mem::take(&mut buf)],
                            made: 1,
                        },
                    });
                    // The state as it stands goes to the helper; a helper gone is caught at
                    // the next send.
                    if let (Side::Alone(state), Side::Shared(h)) =
                        (std::mem::replace(&mut side, shared), &side)
                    {
                        let _ = h.to_helper.send(ToHelper::Take(state));
                    }
                    self.handoffs.fetch_add(1, Ordering::Relaxed);
                }
            }
            let n = match &mut side {
                Side::Alone(state) => {
                    let n = read_some(&mut file, &mut buf)?;
                    let chunk = &buf[..n];
                    let (sha256, scanner) = &mut **state;
                    scanner.feed(chunk);
                    if self.overlap {
                        pieces.feed(chunk, Some(sha256));
                    } else {
                        sha256.update(chunk);
                        pieces.feed(chunk, None);
                    }
                    n
                }
                Side::Shared(h) => {
                    let mut b = h.pool.take();
                    let n = match read_some(&mut file, &mut b) {
                        Ok(n) if n > 0 => n,
                        end => {
                            h.pool.spare.push(b);
                            end?;
                            return Ok(());
                        }
                    };
                    let b = Arc::new(b);
                    h.to_helper
                        .send(ToHelper::Chunk(Arc::clone(&b), n))
                        .map_err(|_| std::io::Error::other("hash worker failed"))?;
                    pieces.feed(&b[..n], None);
                    n
                }
            };
            if n == 0 {
                return Ok(());
            }
            size += n as u64;
            self.progress.fetch_add(n as u64, Ordering::Relaxed);
        });
        let read = read.map_err(|source| PublishError::Io {
            path: job.path.clone(),
            source,
        });
        match side {
            Side::Alone(state) => {
                self.lock().alone -= 1;
                let digest = read.map(|()| {
                    let (sha256, scanner) = *state;
                    FileDigest {
                        size,
                        piece_length: job.piece_length,
                        pieces: pieces.finish(),
                        sha256: sha256.finalize().into(),
                        frames: scanner.finish(),
                    }
                });
                self.store(index, digest);
                buf
            }
            Side::Shared(mut h) => {
                let sent = match read {
                    Ok(()) => h.to_helper.send(ToHelper::End {
                        index,
                        pieces: pieces.finish(),
                        size,
                        piece_length: job.piece_length,
                    }),
                    Err(e) => {
                        self.store(index, Err(e));
                        h.to_helper.send(ToHelper::Abort)
                    }
                };
                if sent.is_err() {
                    self.store(index, Err(worker_failed(job)));
                }
                h.pool.spare.pop().unwrap_or_else(|| vec![0u8; CHUNK])
            }
        }
    }

    /// The helper's side of one shared file: its SHA-256 and walk from where the reader
    /// stopped, each buffer given back once used.
    fn help(&self, from_reader: &Receiver<ToHelper>, give_back: &SyncSender<Arc<Vec<u8>>>) {
        let mut current = None;
        while let Ok(msg) = from_reader.recv() {
            match msg {
                ToHelper::Take(state) => current = Some(state),
                ToHelper::Chunk(buf, n) => {
                    if let Some((sha256, scanner)) = current.as_deref_mut() {
                        sha256.update(&buf[..n]);
                        scanner.feed(&buf[..n]);
                    }
                    // Full means the reader is gone; the buffer is then simply freed.
                    let _ = give_back.try_send(buf);
                }
                ToHelper::End {
                    index,
                    pieces,
                    size,
                    piece_length,
                } => {
                    if let Some(state) = current.take() {
                        let (sha256, scanner) = *state;
                        self.store(
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
                ToHelper::Abort => current = None,
            }
        }
    }
}

/// The read buffers of a shared file: made on demand up to [`POOL`], then only reused.
struct Pool {
    returned: Receiver<Arc<Vec<u8>>>,
    /// Buffers the reader holds unused (its own from before the share, or the one an end
    /// of file left empty).
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

    /// Feeds the next bytes; with `beside`, that whole-file SHA-256 too, one block of each
    /// in turn. The two hashes' round chains are independent, so the CPU runs them
    /// overlapped: a third faster than one hash over the chunk and then the other (the SHA
    /// instructions are slow to give their result, not busy while they work).
    fn feed(&mut self, mut rest: &[u8], mut beside: Option<&mut Sha256>) {
        while !rest.is_empty() {
            let take = rest.len().min((self.piece_length - self.in_piece) as usize);
            let (segment, after) = rest.split_at(take);
            match beside.as_deref_mut() {
                Some(sha256) => {
                    for block in segment.chunks(BLOCK) {
                        sha256.update(block);
                        self.piece.update(block);
                    }
                }
                None => self.piece.update(segment),
            }
            self.in_piece += take as u64;
            rest = after;
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
        assert_eq!(d.pieces, direct_pieces(&data, pl));
        assert_eq!(d.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
        assert_eq!(d.size, data.len() as u64);
        assert_eq!(progress.load(Ordering::Relaxed), data.len() as u64);
    }

    /// The SHA-1 of each piece, each hashed on its own.
    fn direct_pieces(data: &[u8], piece_length: u64) -> Vec<u8> {
        data.chunks(piece_length as usize)
            .flat_map(|c| Sha1::digest(c).to_vec())
            .collect()
    }

    /// MPEG-1 layer III frames (128 kbps, 44.1 kHz, 417 bytes), so that the walk counts
    /// something a lost or doubled chunk would change.
    fn mp3_like(len: usize, seed: usize) -> Vec<u8> {
        (0..len)
            .map(|i| match i % 417 {
                0 => 0xFF,
                1 => 0xFB,
                2 => 0x90,
                3 => 0x64,
                _ => ((i * 31 + seed) % 253) as u8,
            })
            .collect()
    }

    /// The digest computed directly from the bytes, the walk as one thread alone walks them.
    fn expected(data: &[u8], job: &HashJob) -> FileDigest {
        let mut scanner = Scanner::new(job.format, job.audio_start);
        scanner.feed(data);
        FileDigest {
            size: data.len() as u64,
            piece_length: job.piece_length,
            pieces: direct_pieces(data, job.piece_length),
            sha256: Sha256::digest(data).into(),
            frames: scanner.finish(),
        }
    }

    #[test]
    fn every_thread_count_gives_the_one_pass_digests() {
        // One file (shared from the start), an odd and an even count, sizes around the read
        // size and the pool, and more small files than buffers.
        let mut sizes = vec![CHUNK * (POOL + 3) + 777, 0, 1, CHUNK - 1, 70_000];
        sizes.extend((0..POOL * 3).map(|i| 1000 + i * 417));
        let data: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(k, &len)| mp3_like(len, k))
            .collect();
        let files: Vec<_> = data.iter().map(|d| job_for(d, 32 * 1024)).collect();
        let jobs: Vec<HashJob> = files.iter().map(|(_, j)| j.clone()).collect();
        for count in [1, 2, 3, jobs.len()] {
            for threads in [1, 2, 3, 4] {
                let progress = AtomicU64::new(0);
                let got = hash_all(&jobs[..count], threads, &progress);
                for ((got, job), data) in got.into_iter().zip(&jobs).zip(&data) {
                    let got = got.expect("hash");
                    assert_eq!(got, expected(data, job), "{count} files, {threads} threads");
                }
                let total: usize = data[..count].iter().map(Vec::len).sum();
                assert_eq!(progress.load(Ordering::Relaxed), total as u64);
            }
        }
    }

    #[test]
    fn both_ways_of_feeding_the_two_hashes_give_the_one_pass_digest() {
        let data = mp3_like(CHUNK * 2 + 4321, 3);
        let (_f, job) = job_for(&data, 16 * 1024);
        for overlap in [false, true] {
            let progress = AtomicU64::new(0);
            let mut work = Work::new(std::slice::from_ref(&job), &progress);
            work.overlap = overlap;
            work.worker();
            let got = work.into_results().pop().expect("one").expect("hash");
            assert_eq!(got, expected(&data, &job), "overlap {overlap}");
        }
    }

    #[test]
    fn a_file_shared_part_way_gives_the_one_pass_digest() {
        // A named pipe lets the test hold the reader part-way through the file until a
        // second thread has offered its help, so the share happens mid-file every time.
        let dir = tempfile::tempdir().expect("tmp");
        let fifo = dir.path().join("ep.mp3");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let data = mp3_like(CHUNK * (POOL * 2) + 4321, 7);
        let head = CHUNK + 1000;
        let job = HashJob {
            path: fifo,
            piece_length: 16 * 1024,
            audio_start: 0,
            format: Format::Mp3,
            size: data.len() as u64,
        };
        let progress = AtomicU64::new(0);
        let work = Work::new(std::slice::from_ref(&job), &progress);
        let wait_for = |what: &dyn Fn() -> bool| {
            while !what() {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        };
        std::thread::scope(|s| {
            s.spawn(|| work.worker());
            let mut pipe = File::options().write(true).open(&job.path).expect("writer");
            std::io::Write::write_all(&mut pipe, &data[..head]).expect("head");
            wait_for(&|| progress.load(Ordering::Relaxed) == head as u64);
            s.spawn(|| work.worker());
            wait_for(&|| work.offered.load(Ordering::Relaxed) == 1);
            std::io::Write::write_all(&mut pipe, &data[head..]).expect("rest");
        });
        assert_eq!(work.handoffs.load(Ordering::Relaxed), 1);
        let got = work.into_results().pop().expect("one").expect("hash");
        assert_eq!(got, expected(&data, &job));
        assert!(
            matches!(&got.frames, Stats::Mpeg(f) if f.frames > 10),
            "{:?}",
            got.frames
        );
    }

    proptest::proptest! {
        /// Whatever the read sizes (short reads cut blocks anywhere), the pieces and the
        /// SHA-256 fed a block of each in turn are the direct ones.
        #[test]
        fn pieces_fed_beside_the_sha256_in_any_cuts_are_the_direct_ones(
            len in 0usize..20_000,
            log2 in 6u32..13,
            cuts in proptest::collection::vec(1usize..3000, 1..40),
        ) {
            let data = mp3_like(len, log2 as usize);
            let piece_length = 1u64 << log2;
            let mut pieces = Pieces::new(piece_length);
            let mut sha256 = Sha256::new();
            let mut rest = &data[..];
            for cut in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (now, later) = rest.split_at((*cut).min(rest.len()));
                pieces.feed(now, Some(&mut sha256));
                rest = later;
            }
            proptest::prop_assert_eq!(pieces.finish(), direct_pieces(&data, piece_length));
            proptest::prop_assert_eq!(<[u8; 32]>::from(sha256.finalize()), <[u8; 32]>::from(Sha256::digest(&data)));
        }
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
