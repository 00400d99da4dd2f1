//! Spill files: one file per spilled object, in the configured spill directory.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::error::{StoreError, io_error};

/// Distinguishes the stores of one process, so that they can share a spill directory.
static NEXT_STORE: AtomicU64 = AtomicU64::new(0);

/// Names and writes the spill files of one store.
///
/// File names are `doreisa-spill-<pid>-<store>-<seq>.obj`: unique per process, store and
/// object, so the store only ever touches files that it created.
#[derive(Debug)]
pub(crate) struct SpillDir {
    dir: PathBuf,
    prefix: String,
    next: u64,
    created: bool,
}

impl SpillDir {
    pub(crate) fn new(dir: PathBuf) -> Self {
        let store = NEXT_STORE.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("doreisa-spill-{}-{store}", std::process::id());
        Self {
            dir,
            prefix,
            next: 0,
            created: false,
        }
    }

    /// Writes `data` to a new file (creating the directory on first use) and returns its path.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<PathBuf, StoreError> {
        if !self.created {
            fs::create_dir_all(&self.dir).map_err(|e| io_error(&self.dir, e))?;
            self.created = true;
        }
        let path = self.dir.join(format!("{}-{}.obj", self.prefix, self.next));
        self.next += 1;
        let written = File::create_new(&path).and_then(|mut file| file.write_all(data));
        if let Err(err) = written {
            remove(&path);
            return Err(io_error(&path, err));
        }
        Ok(path)
    }
}

/// Reads a spill file back, checking that it holds `size` bytes.
pub(crate) fn read(path: &Path, size: u64) -> Result<Bytes, StoreError> {
    let read = || -> io::Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        File::open(path)?.read_to_end(&mut buf)?;
        if buf.len() as u64 != size {
            let msg = format!("spill file holds {} bytes, expected {size}", buf.len());
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, msg));
        }
        Ok(buf)
    };
    read().map(Bytes::from).map_err(|e| io_error(path, e))
}

/// Removes a spill file. Best effort: it is called on delete and drop, which cannot fail.
pub(crate) fn remove(path: &Path) {
    let _ = fs::remove_file(path);
}
