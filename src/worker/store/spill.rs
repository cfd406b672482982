//! The files of spilled results: one file per stored entry (`KEY-SERIAL.bin`,
//! the serial telling apart the entries a key had over time, so that an
//! entry freed and put again never shares a file with the old one) in a
//! directory of this worker's own under `local_directory`, made at the first
//! spill and removed when the worker leaves.

use crate::task::Key;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The spill directory of one worker. Its methods take `&self`: files are
/// written and read outside the store's lock, by several threads at once.
pub(crate) struct SpillDir {
    /// `local_directory/rankflow-<pid>-<n>-w<rank>`, `n` counting the stores
    /// of this process (two embedded clusters in one process never share).
    path: PathBuf,
    /// Whether the directory has been made.
    made: AtomicBool,
}

impl SpillDir {
    /// The directory worker `rank` of this process would spill to under `base`.
    pub fn new(base: &Path, rank: usize) -> Self {
        static STORES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STORES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("rankflow-{}-{n}-w{rank}", std::process::id());
        SpillDir {
            path: base.join(name),
            made: AtomicBool::new(false),
        }
    }

    /// Where the directory is (made or not).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file of entry `serial` of `key`.
    pub fn file(&self, key: Key, serial: u64) -> PathBuf {
        self.path.join(format!("{key}-{serial}.bin"))
    }

    /// Writes the bytes of entry `serial` of `key`, making the directory first if needed.
    pub fn write(&self, key: Key, serial: u64, bytes: &[u8]) -> io::Result<()> {
        if !self.made.load(Ordering::Acquire) {
            std::fs::create_dir_all(&self.path)?;
            self.made.store(true, Ordering::Release);
        }
        let file = self.file(key, serial);
        if let Err(e) = std::fs::write(&file, bytes) {
            // A partial file (a full disk) is of no use.
            let _ = std::fs::remove_file(&file);
            return Err(e);
        }
        Ok(())
    }

    /// Reads the bytes of entry `serial` of `key` back (the file stays);
    /// `len` is the size it was written with.
    pub fn read(&self, key: Key, serial: u64, len: u64) -> io::Result<Vec<u8>> {
        let file = self.file(key, serial);
        let bytes = std::fs::read(&file)?;
        if bytes.len() as u64 != len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} holds {} bytes, {len} were written",
                    file.display(),
                    bytes.len()
                ),
            ));
        }
        Ok(bytes)
    }

    /// Removes the file of entry `serial` of `key`, if any.
    pub fn remove(&self, key: Key, serial: u64) {
        let _ = std::fs::remove_file(self.file(key, serial));
    }

    /// Removes the directory and every file in it.
    pub fn clean(&self) {
        if self.made.swap(false, Ordering::AcqRel) {
            if let Err(e) = std::fs::remove_dir_all(&self.path) {
                log::warn!(
                    "cannot remove the spill directory {}: {e}",
                    self.path.display()
                );
            }
        }
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        self.clean();
    }
}
