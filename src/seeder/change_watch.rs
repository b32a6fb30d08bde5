//! Knows when a published file is written to, so a piece that matched its SHA-1 once need
//! not be hashed again on every read from disk while nothing has written to the file.
//!
//! Linux inotify on each seeded file's inode (the published MP3 and the podcaster's file
//! are hard links to one inode, so a write through either path is seen). A write(2) queues
//! its event before it returns, so a read that sees changed bytes finds the event queued
//! when [`FileWatch::changed_since`] drains the queue after the read. What inotify does not
//! report (a file without a watch, a full queue, another OS) counts as changed: the piece
//! is hashed again. Not the check itself: that is `storage`'s.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A file's change counter: it moves on every write inotify reports.
#[derive(Debug)]
pub struct FileWatch {
    epoch: Arc<AtomicU64>,
    watch: Arc<ChangeWatch>,
    #[cfg(target_os = "linux")]
    wd: Option<inotify::WatchDescriptor>,
}

impl FileWatch {
    /// The counter now; [`None`] when the file is not watched (every read must be hashed).
    pub fn epoch(&self) -> Option<u64> {
        if !self.watched() {
            return None;
        }
        self.watch.drain();
        Some(self.epoch.load(Ordering::Acquire))
    }

    /// Whether the file may have been written since the counter read `epoch`. Call it after
    /// reading the bytes: a write that the read saw has queued its event by then.
    pub fn changed_since(&self, epoch: u64) -> bool {
        !self.watched() || {
            self.watch.drain();
            self.epoch.load(Ordering::Acquire) != epoch
        }
    }

    fn watched(&self) -> bool {
        #[cfg(target_os = "linux")]
        return self.wd.is_some();
        #[cfg(not(target_os = "linux"))]
        return false;
    }
}

impl Drop for FileWatch {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(wd) = self.wd.take() {
            self.watch.forget(wd, &self.epoch);
        }
    }
}

/// One inotify instance for all seeded files.
#[derive(Debug, Default)]
pub struct ChangeWatch {
    /// Made on first use; None when the system has no inotify for us.
    #[cfg(target_os = "linux")]
    inner: std::sync::OnceLock<Option<std::sync::Mutex<linux::Watcher>>>,
}

impl ChangeWatch {
    /// Starts watching `path`; when inotify cannot (no instance, no watches left), the
    /// returned watch says "changed" every time, so every read is hashed.
    pub fn watch(self: &Arc<Self>, path: &Path) -> FileWatch {
        let epoch = Arc::new(AtomicU64::new(0));
        #[cfg(target_os = "linux")]
        {
            let wd = self.lock().and_then(|mut w| w.add(path, &epoch));
            FileWatch {
                epoch,
                watch: self.clone(),
                wd,
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = path;
            FileWatch {
                epoch,
                watch: self.clone(),
            }
        }
    }

    /// Takes in every queued event, moving the counters of the files written to.
    fn drain(&self) {
        #[cfg(target_os = "linux")]
        if let Some(mut w) = self.lock() {
            w.drain();
        }
    }

    #[cfg(target_os = "linux")]
    fn forget(&self, wd: inotify::WatchDescriptor, epoch: &Arc<AtomicU64>) {
        if let Some(mut w) = self.lock() {
            w.forget(wd, epoch);
        }
    }

    #[cfg(target_os = "linux")]
    fn lock(&self) -> Option<std::sync::MutexGuard<'_, linux::Watcher>> {
        let watcher = self
            .inner
            .get_or_init(|| linux::Watcher::new().map(std::sync::Mutex::new))
            .as_ref()?;
        Some(watcher.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::HashMap;
    use std::path::Path;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};

    /// The inotify instance and which counters each watch moves.
    #[derive(Debug)]
    pub(super) struct Watcher {
        /// The instance (non-blocking: reading it never waits).
        inotify: Inotify,
        pub(super) counters: HashMap<WatchDescriptor, Vec<Arc<AtomicU64>>>,
        buf: Vec<u8>,
    }

    impl Watcher {
        pub(super) fn new() -> Option<Watcher> {
            match Inotify::init() {
                Ok(inotify) => Some(Watcher {
                    inotify,
                    counters: HashMap::new(),
                    buf: vec![0; 4096],
                }),
                Err(e) => {
                    tracing::info!("seeder: no inotify ({e}); every piece read is hashed");
                    None
                }
            }
        }

        pub(super) fn add(
            &mut self,
            path: &Path,
            epoch: &Arc<AtomicU64>,
        ) -> Option<WatchDescriptor> {
            // Writes, truncation and attribute changes (a restored mtime follows a write).
            let mask = WatchMask::MODIFY | WatchMask::ATTRIB;
            match self.inotify.watches().add(path, mask) {
                Ok(wd) => {
                    self.counters
                        .entry(wd.clone())
                        .or_default()
                        .push(epoch.clone());
                    Some(wd)
                }
                Err(e) => {
                    tracing::debug!(
                        "seeder: cannot watch {} ({e}); its pieces are hashed on every read",
                        path.display()
                    );
                    None
                }
            }
        }

        pub(super) fn forget(&mut self, wd: WatchDescriptor, epoch: &Arc<AtomicU64>) {
            if let Some(list) = self.counters.get_mut(&wd) {
                list.retain(|e| !Arc::ptr_eq(e, epoch));
                if list.is_empty() {
                    self.counters.remove(&wd);
                    let _ = self.inotify.watches().remove(wd);
                }
            }
        }

        pub(super) fn drain(&mut self) {
            loop {
                let events = match self.inotify.read_events(&mut self.buf) {
                    Ok(events) => events,
                    // WouldBlock: nothing queued. Anything else: treat as a lost event.
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                    Err(_) => {
                        bump_all(&self.counters);
                        return;
                    }
                };
                let mut any = false;
                for event in events {
                    any = true;
                    if event.mask.contains(EventMask::Q_OVERFLOW) {
                        bump_all(&self.counters);
                    } else if let Some(list) = self.counters.get(&event.wd) {
                        for e in list {
                            e.fetch_add(1, Ordering::AcqRel);
                        }
                    }
                }
                if !any {
                    return;
                }
            }
        }
    }

    /// Every counter moves: events were lost, so any file may have been written.
    fn bump_all(counters: &HashMap<WatchDescriptor, Vec<Arc<AtomicU64>>>) {
        for e in counters.values().flatten() {
            e.fetch_add(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn a_write_through_either_hard_link_moves_the_counter() {
        use std::io::Write;
        let d = tempfile::tempdir().expect("tempdir");
        let source = d.path().join("episode.mp3");
        std::fs::write(&source, b"audio").expect("write");
        let published = d.path().join("published.mp3");
        std::fs::hard_link(&source, &published).expect("link");
        let watch = Arc::new(ChangeWatch::default());
        let w = watch.watch(&published);
        let before = w.epoch().expect("watched");
        assert!(!w.changed_since(before), "nothing written yet");
        // Written in place through the other name, mtime restored: still seen.
        let mtime = std::fs::metadata(&source)
            .and_then(|m| m.modified())
            .expect("mtime");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&source)
            .expect("open");
        f.write_all(b"AUDIO").expect("write");
        f.set_modified(mtime).expect("mtime");
        assert!(w.changed_since(before));
        let after = w.epoch().expect("watched");
        assert!(!w.changed_since(after));
    }

    #[test]
    fn an_unwatchable_file_always_counts_as_changed() {
        let watch = Arc::new(ChangeWatch::default());
        let w = watch.watch(Path::new("/nonexistent/podseed/episode.mp3"));
        assert_eq!(w.epoch(), None);
        assert!(w.changed_since(0));
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn dropping_the_last_watch_of_a_file_removes_it() {
        let d = tempfile::tempdir().expect("tempdir");
        let path = d.path().join("a.mp3");
        std::fs::write(&path, b"x").expect("write");
        let watch = Arc::new(ChangeWatch::default());
        let a = watch.watch(&path);
        let b = watch.watch(&path);
        drop(a);
        assert_eq!(watch.lock().map(|w| w.counters.len()), Some(1));
        drop(b);
        assert_eq!(watch.lock().map(|w| w.counters.len()), Some(0));
    }
}
