//! A worker's object store: its results by key, with the bytes it holds
//! counted against the worker's memory limit.
//!
//! Above the spill fraction of the limit the least recently used results go
//! to files under `local_directory` (see [`spill`]) and come back when a task
//! or a fetch asks for them, transparently. A result still in use elsewhere
//! (an input of a running task, a value being sent) is not spilled: writing
//! it would free nothing until that use ends. So the bytes in memory can stay
//! above the spill fraction; above the pause fraction the worker loop holds
//! new tasks back (see `worker::pause`) until they are back below.
//!
//! A result read back keeps its file until it is freed, so spilling it again
//! writes nothing (results are immutable).
//!
//! A failed write (a full disk, a directory that cannot be made) keeps the
//! value in memory, counts a spill failure and logs a warning the first time.
//!
//! Files are written and read outside the store's lock, so that a task
//! putting its result or a fetch of a value in memory never waits for the
//! disk. An entry being written is marked `Spilling` (its value stays in
//! memory, and readers take it from there); one being read back is marked
//! `Reloading`, and other readers of it wait until it is back. An entry
//! freed or replaced meanwhile is left as it is when the I/O ends (each
//! entry has a serial number that says whether it is still the same one).

mod spill;
#[cfg(test)]
mod tests;

use crate::task::Key;
use serde::{Deserialize, Serialize};
use spill::SpillDir;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// How a worker manages its memory: the limit, the two fractions of it, and
/// where spilled results go. Built from the configuration's
/// `memory_limit`, `spill_fraction`, `pause_fraction` and `local_directory`.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryPolicy {
    /// Bytes of results this worker may hold.
    pub limit: u64,
    /// Above this fraction of `limit`, results are spilled to disk.
    pub spill_fraction: f64,
    /// Above this fraction of `limit`, the worker takes no new tasks.
    pub pause_fraction: f64,
    /// Spilled results go to a directory of this worker's own under here.
    pub directory: PathBuf,
}

impl MemoryPolicy {
    /// No limit: nothing is ever spilled and the worker never pauses.
    pub fn unlimited() -> Self {
        MemoryPolicy {
            limit: u64::MAX,
            spill_fraction: 1.0,
            pause_fraction: 1.0,
            directory: std::env::temp_dir(),
        }
    }

    fn threshold(&self, fraction: f64) -> u64 {
        if self.limit == u64::MAX {
            return u64::MAX;
        }
        (self.limit as f64 * fraction) as u64
    }
}

/// What a worker's store has done with memory, for logs and diagnostics
/// (read inside a task or a `run` function with [`memory_stats`](crate::memory_stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// The memory limit in bytes.
    pub limit: u64,
    /// Bytes of results in memory now.
    pub in_memory: u64,
    /// Bytes of results on disk now.
    pub on_disk: u64,
    /// Most bytes of results in memory at once.
    pub peak_in_memory: u64,
    /// Results moved from memory to disk.
    pub spilled: u64,
    /// Bytes moved from memory to disk.
    pub spilled_bytes: u64,
    /// Bytes written to disk: less than `spilled_bytes` when results read
    /// back were spilled again (their files were still there).
    pub written_bytes: u64,
    /// Results read back from disk.
    pub reloaded: u64,
    /// Bytes read back from disk.
    pub reloaded_bytes: u64,
    /// Writes to disk that failed (the value stayed in memory).
    pub spill_failures: u64,
    /// Times the worker paused (stopped taking new tasks).
    pub pauses: u64,
    /// Tasks failed because their result was over the limit.
    pub oversized: u64,
}

/// Where a value is.
enum Place {
    Memory(Arc<Vec<u8>>),
    /// Being written to disk, outside the lock; still in memory until then.
    Spilling(Arc<Vec<u8>>),
    Disk,
    /// Being read back from disk, outside the lock.
    Reloading,
}

struct Entry {
    len: u64,
    /// Whether its file is on disk (it was spilled, maybe read back since).
    filed: bool,
    /// Its position in `lru` while in memory.
    tick: u64,
    /// Which entry of its key this is (see the module docs).
    serial: u64,
    place: Place,
}

struct Inner {
    entries: HashMap<Key, Entry>,
    /// The keys in memory, least recently used first.
    lru: BTreeMap<u64, Key>,
    tick: u64,
    serial: u64,
    /// Bytes in memory being written to disk now.
    spilling: u64,
    stats: MemoryStats,
    warned: bool,
    /// Spilled results that could not be read back: gone for good (until the
    /// scheduler frees the key). A fetch of one is answered `Gone`.
    lost: HashSet<Key>,
}

/// A value chosen to be spilled, written outside the lock.
struct Victim {
    key: Key,
    serial: u64,
    bytes: Arc<Vec<u8>>,
    /// Its file is already there (it was read back): nothing to write.
    filed: bool,
}

/// Results held by one worker, by key.
pub struct Store {
    rank: usize,
    policy: MemoryPolicy,
    dir: SpillDir,
    inner: Mutex<Inner>,
    /// Told when a value being read back is back (or could not be).
    reloaded: Condvar,
}

impl Default for Store {
    fn default() -> Self {
        Store::new(0, MemoryPolicy::unlimited())
    }
}

impl Store {
    /// An empty store for worker `rank`.
    pub fn new(rank: usize, policy: MemoryPolicy) -> Self {
        let dir = SpillDir::new(&policy.directory, rank);
        let stats = MemoryStats {
            limit: policy.limit,
            ..MemoryStats::default()
        };
        Store {
            rank,
            policy,
            dir,
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                lru: BTreeMap::new(),
                tick: 0,
                serial: 0,
                spilling: 0,
                stats,
                warned: false,
                lost: HashSet::new(),
            }),
            reloaded: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The memory limit in bytes.
    pub fn limit(&self) -> u64 {
        self.policy.limit
    }

    /// Whether `key` is held (in memory or on disk), without reading it back.
    pub fn contains(&self, key: Key) -> bool {
        self.lock().entries.contains_key(&key)
    }

    /// The length of `key`'s value, if held, without reading it back.
    pub fn len_of(&self, key: Key) -> Option<u64> {
        self.lock().entries.get(&key).map(|e| e.len)
    }

    /// The value of `key`, if held; read back from disk if it was spilled
    /// (which may spill others). A value that cannot be read back is logged
    /// and dropped.
    pub fn get(&self, key: Key) -> Option<Arc<Vec<u8>>> {
        let mut g = self.lock();
        loop {
            let inner = &mut *g;
            let tick = inner.tick;
            let entry = inner.entries.get_mut(&key)?;
            match &entry.place {
                Place::Memory(b) => {
                    let b = b.clone();
                    inner.lru.remove(&entry.tick);
                    entry.tick = tick;
                    inner.lru.insert(tick, key);
                    inner.tick += 1;
                    self.spill_over(g);
                    return Some(b);
                }
                Place::Spilling(b) => return Some(b.clone()),
                Place::Reloading => {
                    g = self.reloaded.wait(g).unwrap_or_else(|e| e.into_inner());
                }
                Place::Disk => {
                    entry.place = Place::Reloading;
                    let (serial, len) = (entry.serial, entry.len);
                    drop(g);
                    let read = self.dir.read(key, serial, len);
                    return self.reloaded_back(key, serial, len, read);
                }
            }
        }
    }

    /// Settles a read back of `key` (entry `serial`, `len` bytes) that
    /// ended with `read`, and wakes the readers waiting for it.
    fn reloaded_back(
        &self,
        key: Key,
        serial: u64,
        len: u64,
        read: std::io::Result<Vec<u8>>,
    ) -> Option<Arc<Vec<u8>>> {
        let mut g = self.lock();
        let inner = &mut *g;
        let ours = inner
            .entries
            .get(&key)
            .is_some_and(|e| e.serial == serial && matches!(e.place, Place::Reloading));
        self.reloaded.notify_all();
        match read {
            Ok(v) => {
                let b = Arc::new(v);
                if !ours {
                    // Freed (or replaced) while it was read: its file was
                    // left for this read.
                    self.dir.remove(key, serial);
                } else {
                    let tick = inner.tick;
                    inner.tick += 1;
                    if let Some(entry) = inner.entries.get_mut(&key) {
                        entry.place = Place::Memory(b.clone());
                        entry.tick = tick;
                    }
                    inner.lru.insert(tick, key);
                    let s = &mut inner.stats;
                    s.on_disk -= len;
                    s.in_memory += len;
                    s.peak_in_memory = s.peak_in_memory.max(s.in_memory);
                    s.reloaded += 1;
                    s.reloaded_bytes += len;
                    log::debug!("worker {}: reloaded {key} ({len} bytes)", self.rank);
                }
                self.spill_over(g);
                Some(b)
            }
            // Freed (or replaced) while it was read: its file was left for
            // this read, and the reader gets nothing, as after a free.
            Err(_) if !ours => {
                self.dir.remove(key, serial);
                None
            }
            Err(e) => {
                log::error!(
                    "worker {}: cannot read spilled result {key} back: {e}",
                    self.rank
                );
                inner.entries.remove(&key);
                self.dir.remove(key, serial);
                inner.stats.on_disk -= len;
                inner.lost.insert(key);
                None
            }
        }
    }

    /// Keeps `bytes` under `key` (replacing any value there), spilling the
    /// least recently used results if memory is over the spill fraction.
    pub fn put(&self, key: Key, bytes: Arc<Vec<u8>>) {
        let mut g = self.lock();
        let inner = &mut *g;
        self.remove(inner, key);
        let len = bytes.len() as u64;
        let tick = inner.tick;
        inner.tick += 1;
        inner.serial += 1;
        inner.entries.insert(
            key,
            Entry {
                len,
                filed: false,
                tick,
                serial: inner.serial,
                place: Place::Memory(bytes),
            },
        );
        inner.lru.insert(tick, key);
        let s = &mut inner.stats;
        s.in_memory += len;
        s.peak_in_memory = s.peak_in_memory.max(s.in_memory);
        self.spill_over(g);
    }

    /// Drops `key`, from memory or disk.
    pub fn free(&self, key: Key) {
        let mut inner = self.lock();
        inner.lost.remove(&key);
        self.remove(&mut inner, key);
    }

    /// Whether `key` was spilled and could not be read back: it will not
    /// come back here (see [`get`](Self::get)).
    pub fn lost(&self, key: Key) -> bool {
        self.lock().lost.contains(&key)
    }

    /// The directory this store spills to (made on the first spill).
    #[cfg(test)]
    pub fn spill_dir(&self) -> std::path::PathBuf {
        self.dir.path().to_path_buf()
    }

    fn remove(&self, inner: &mut Inner, key: Key) {
        if let Some(e) = inner.entries.remove(&key) {
            // A file being read back is removed by its reader when done.
            if e.filed && !matches!(e.place, Place::Reloading) {
                self.dir.remove(key, e.serial);
            }
            match e.place {
                Place::Memory(_) => {
                    inner.lru.remove(&e.tick);
                    inner.stats.in_memory -= e.len;
                }
                Place::Spilling(_) => {
                    inner.stats.in_memory -= e.len;
                    inner.spilling -= e.len;
                }
                Place::Disk | Place::Reloading => inner.stats.on_disk -= e.len,
            }
        }
    }

    /// Spills what it can now: values that were in use when memory went
    /// over the spill fraction may be free by now.
    pub fn relieve(&self) {
        self.spill_over(self.lock());
    }

    /// Whether the bytes in memory are over the pause fraction.
    pub fn over_pause(&self) -> bool {
        self.lock().stats.in_memory > self.policy.threshold(self.policy.pause_fraction)
    }

    /// How many results are held and their bytes (memory and disk).
    pub fn summary(&self) -> (usize, u64) {
        let g = self.lock();
        (g.entries.len(), g.stats.in_memory + g.stats.on_disk)
    }

    /// The counters so far.
    pub fn stats(&self) -> MemoryStats {
        self.lock().stats
    }

    /// Counts a pause of the worker.
    pub fn note_pause(&self) {
        self.lock().stats.pauses += 1;
    }

    /// Counts a task failed for a result over the limit.
    pub fn note_oversized(&self) {
        self.lock().stats.oversized += 1;
    }

    /// Removes the spill directory and logs the counters: for the worker's
    /// exit. The store stays usable (a later spill makes the directory again).
    pub fn close(&self) {
        let s = self.lock().stats;
        self.dir.clean();
        log::info!(
            "worker {} memory: limit {} bytes, peak {} in memory, {} spilled ({} bytes), \
             {} reloaded ({} bytes), {} spill failures, {} pauses, {} results over the limit",
            self.rank,
            s.limit,
            s.peak_in_memory,
            s.spilled,
            s.spilled_bytes,
            s.reloaded,
            s.reloaded_bytes,
            s.spill_failures,
            s.pauses,
            s.oversized
        );
    }

    /// Writes least recently used values not in use elsewhere to disk until
    /// the bytes in memory are at most the spill fraction of the limit: they
    /// are chosen under the lock `g`, written after it is let go, and
    /// settled under it again.
    fn spill_over(&self, mut g: MutexGuard<'_, Inner>) {
        let target = self.policy.threshold(self.policy.spill_fraction);
        let inner = &mut *g;
        // Bytes being written by other threads will leave memory soon.
        let staying = inner.stats.in_memory - inner.spilling;
        if staying <= target {
            return;
        }
        let mut victims = Vec::new();
        let mut freed = 0;
        for (&tick, &key) in &inner.lru {
            if staying - freed <= target {
                break;
            }
            if let Some(Entry {
                len,
                place: Place::Memory(b),
                ..
            }) = inner.entries.get(&key)
            {
                // In use elsewhere: writing it would free nothing now.
                if Arc::strong_count(b) == 1 {
                    victims.push(tick);
                    freed += len;
                }
            }
        }
        let mut chosen = Vec::with_capacity(victims.len());
        for tick in victims {
            let Some(key) = inner.lru.remove(&tick) else {
                continue;
            };
            let Some(entry) = inner.entries.get_mut(&key) else {
                continue;
            };
            let Place::Memory(bytes) = &entry.place else {
                continue;
            };
            let bytes = bytes.clone();
            entry.place = Place::Spilling(bytes.clone());
            inner.spilling += entry.len;
            chosen.push(Victim {
                key,
                serial: entry.serial,
                bytes,
                filed: entry.filed,
            });
        }
        drop(g);
        let mut written = Vec::with_capacity(chosen.len());
        for v in &chosen {
            let outcome = if v.filed {
                Ok(())
            } else {
                self.dir.write(v.key, v.serial, &v.bytes)
            };
            let failed = outcome.is_err();
            written.push(outcome);
            if failed {
                break;
            }
        }
        let mut g = self.lock();
        let inner = &mut *g;
        let mut outcomes = written.into_iter();
        for v in chosen {
            let outcome = outcomes.next();
            let ours = inner
                .entries
                .get_mut(&v.key)
                .filter(|e| e.serial == v.serial && matches!(e.place, Place::Spilling(_)));
            let Some(entry) = ours else {
                // Freed or replaced while it was written: its file (its
                // serial's, no other entry's) is of no use.
                if matches!(outcome, Some(Ok(()))) && !v.filed {
                    self.dir.remove(v.key, v.serial);
                }
                continue;
            };
            inner.spilling -= entry.len;
            match outcome {
                Some(Ok(())) => {
                    if !entry.filed {
                        inner.stats.written_bytes += entry.len;
                    }
                    entry.filed = true;
                    entry.place = Place::Disk;
                    let s = &mut inner.stats;
                    s.in_memory -= entry.len;
                    s.on_disk += entry.len;
                    s.spilled += 1;
                    s.spilled_bytes += entry.len;
                    log::debug!(
                        "worker {}: spilled {} ({} bytes) to {}",
                        self.rank,
                        v.key,
                        entry.len,
                        self.dir.path().display()
                    );
                }
                // Not written (a write before it failed), or failed: it
                // stays in memory, in its place in the LRU order.
                failed => {
                    entry.place = Place::Memory(v.bytes);
                    inner.lru.insert(entry.tick, v.key);
                    if let Some(Err(e)) = failed {
                        inner.stats.spill_failures += 1;
                        if !inner.warned {
                            inner.warned = true;
                            log::warn!(
                                "worker {}: cannot spill to {}: {e}; results stay in memory",
                                self.rank,
                                self.dir.path().display()
                            );
                        } else {
                            log::debug!("worker {}: cannot spill {}: {e}", self.rank, v.key);
                        }
                    }
                }
            }
        }
    }
}
