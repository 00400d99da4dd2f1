//! Node-local shared memory: how a process on a node's host hands the node an object
//! with at most one copy and no network.
//!
//! The node owns a [`SharedDir`], a directory on the host's tmpfs (`/dev/shm`). A
//! producing process that sees that directory keeps a [`SegmentPool`] of files in it,
//! each a small header and a payload. To hand over an object it leases a free segment
//! ([`SegmentPool::lease`]), writes the object into it (where the object is built, or
//! one copy) and sends the node the [`SharedChunk`] naming it ([`SegmentLease::hand`]); the node maps the segment and keeps the mapping as its copy of the
//! object ([`SharedDir::adopt`]: no copy). When the node drops its last handle to the
//! bytes, the segment is marked free again and the producer reuses it: its pages stay
//! resident, so steady-state hand-overs run at memory speed instead of paying the
//! first-touch cost of fresh pages.
//!
//! The header's state word is the whole protocol between the two processes:
//! `FREE → WRITING` (the producer leases it) `→ HANDED` (written, named to the node)
//! `→ ADOPTED` (mapped by the node) `→ FREE` (the node's copy is gone).
//!
//! Only the node's user reads the simulation's chunks: the directory is 0700 and its
//! segments 0600. The node holds a lock (`flock`) on the directory's `.lock` file for
//! as long as it lives; a later node removes a directory left behind only when it is
//! its own user's and that lock is free, which proves its node is gone (whatever PID
//! namespace it ran in, and even if its PID was reused). A directory without a lock
//! file proves nothing and is left alone.

use crate::error::{InsituError, Result};
use bytes::Bytes;
use memmap2::{MmapMut, MmapOptions, MmapRaw};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes before a segment's payload: the state word, padded so payloads are 64-aligned.
const HEADER: usize = 64;

const FREE: u64 = 0;
const WRITING: u64 = 1;
const HANDED: u64 = 2;
const ADOPTED: u64 = 3;

/// Where node directories are made: the host's memory-backed file system.
const SHM_ROOT: &str = "/dev/shm";

/// Names of node directories start with this, then the node process's id.
const DIR_PREFIX: &str = "doreisa-";

/// The file in a node directory whose lock the node holds while it lives.
const LOCK_FILE: &str = ".lock";

fn shm_error(what: &str, e: impl std::fmt::Display) -> InsituError {
    InsituError::SharedMemory(format!("{what}: {e}"))
}

/// An object handed over in a segment: what the producer sends the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedChunk {
    /// The segment's file name in the node's directory.
    pub segment: String,
    /// The object's length, from the start of the payload.
    pub len: u64,
}

/// The state word at the start of a mapped segment.
fn state_of(map: &[u8]) -> &AtomicU64 {
    // SAFETY: every mapping is at least HEADER bytes and page-aligned, so its first 8
    // bytes are a valid, aligned u64; both processes only touch them atomically.
    unsafe { &*map.as_ptr().cast::<AtomicU64>() }
}

/// A node's directory of shared segments; removed with everything in it when dropped.
#[derive(Debug)]
pub struct SharedDir {
    path: PathBuf,
    /// Locked while the node lives: the proof a sweep looks for.
    _lock: File,
}

impl SharedDir {
    /// A fresh directory under `/dev/shm` for this process, after removing those left
    /// by nodes that died without cleaning up. `None` where there is no `/dev/shm`.
    pub fn create() -> Result<Option<SharedDir>> {
        Self::create_in(Path::new(SHM_ROOT))
    }

    /// [`SharedDir::create`] under `root`.
    fn create_in(root: &Path) -> Result<Option<SharedDir>> {
        if !root.is_dir() {
            return Ok(None);
        }
        remove_stale(root, effective_uid());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path = root.join(format!("{DIR_PREFIX}{}-{nanos:x}", std::process::id()));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&path)
            .map_err(|e| shm_error("cannot create its directory", e))?;
        match lock_new_dir(&path) {
            Ok(lock) => Ok(Some(SharedDir { path, _lock: lock })),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&path);
                Err(shm_error("cannot lock its directory", e))
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Maps the segment a producer named in `chunk` and returns the object in it,
    /// without copying. Names outside this directory, short segments and segments not
    /// handed over are refused.
    pub fn adopt(&self, chunk: &SharedChunk) -> Result<Bytes> {
        let name = chunk.segment.as_str();
        if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\', '\0']) {
            return Err(shm_error("not a segment name", format!("{name:?}")));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.path.join(name))
            .map_err(|e| shm_error(&format!("cannot open segment {name}"), e))?;
        let size = file
            .metadata()
            .map_err(|e| shm_error(&format!("segment {name}"), e))?
            .len();
        let len = usize::try_from(chunk.len).unwrap_or(usize::MAX);
        let end = HEADER.saturating_add(len);
        if (size as usize) < end {
            return Err(shm_error(
                &format!("segment {name}"),
                format!("{size} bytes cannot hold a {len}-byte object"),
            ));
        }
        // SAFETY: the producer does not write a segment between HANDED and FREE, and we
        // only hand out the payload once the state says HANDED (checked just below).
        let map = unsafe { MmapOptions::new().len(end).map_mut(&file) }
            .map_err(|e| shm_error(&format!("cannot map segment {name}"), e))?;
        state_of(&map)
            .compare_exchange(HANDED, ADOPTED, Ordering::AcqRel, Ordering::Acquire)
            .map_err(|state| {
                shm_error(
                    &format!("segment {name}"),
                    format!("not handed over (state {state})"),
                )
            })?;
        Ok(Bytes::from_owner(Adopted { map, len }))
    }
}

impl Drop for SharedDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove shared memory");
        }
    }
}

/// Makes the lock file of the new node directory `dir` and locks it. It is locked
/// under another name and then renamed, so that a sweep never finds it unlocked.
fn lock_new_dir(dir: &Path) -> std::io::Result<File> {
    let fresh = dir.join(".lock-new");
    let lock = private_file().create_new(true).open(&fresh)?;
    lock.try_lock().map_err(std::io::Error::from)?;
    std::fs::rename(&fresh, dir.join(LOCK_FILE))?;
    Ok(lock)
}

/// Options for a file only its user reads, never opened through a symbolic link.
fn private_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options
}

fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Removes the node directories of user `uid` under `root` whose node is provably
/// gone: the lock it held while it lived is free. Other users' directories, symbolic
/// links and directories without a lock file are left alone.
fn remove_stale(root: &Path, uid: u32) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let is_node_dir = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(DIR_PREFIX));
        let path = entry.path();
        if !is_node_dir || !owned_directory(&path, uid) {
            continue;
        }
        let mut options = OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
        }
        let Ok(lock) = options.open(path.join(LOCK_FILE)) else {
            continue;
        };
        if lock.try_lock().is_ok() {
            tracing::info!(path = %path.display(), "removing the shared memory of a node that is gone");
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// Whether `path` is a directory (not a link to one) that belongs to user `uid`.
fn owned_directory(path: &Path, uid: u32) -> bool {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        metadata.is_dir() && metadata.uid() == uid
    }
    #[cfg(not(unix))]
    {
        let _ = uid;
        metadata.is_dir()
    }
}

/// A node's copy of an object: the mapped segment; frees it for reuse when dropped.
struct Adopted {
    map: MmapMut,
    len: usize,
}

impl AsRef<[u8]> for Adopted {
    fn as_ref(&self) -> &[u8] {
        &self.map[HEADER..HEADER + self.len]
    }
}

impl Drop for Adopted {
    fn drop(&mut self) {
        state_of(&self.map).store(FREE, Ordering::Release);
    }
}

/// One segment of a producer's pool, mapped for writing.
struct Segment {
    name: String,
    map: MmapRaw,
    capacity: usize,
}

impl Segment {
    fn state(&self) -> &AtomicU64 {
        // SAFETY: the mapping is HEADER + capacity bytes, alive as long as `self`.
        state_of(unsafe { std::slice::from_raw_parts(self.map.as_ptr(), HEADER) })
    }
}

/// A segment leased for writing one object of `len` bytes: hand it to the node, or
/// drop it to give the segment back unused.
pub struct SegmentLease {
    segment: Arc<Segment>,
    len: usize,
    handed: bool,
}

impl SegmentLease {
    /// The object's bytes (whatever an earlier object left there until written).
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the segment is WRITING, so this lease is its only user; the payload
        // holds `len` initialized bytes (tmpfs pages start zeroed).
        unsafe { std::slice::from_raw_parts(self.segment.map.as_ptr().add(HEADER), self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and `&mut self` is exclusive.
        unsafe {
            std::slice::from_raw_parts_mut(self.segment.map.as_mut_ptr().add(HEADER), self.len)
        }
    }

    /// The object is written: the segment is the node's to map, named by the result.
    pub fn hand(mut self) -> SharedChunk {
        self.handed = true;
        self.segment.state().store(HANDED, Ordering::Release);
        SharedChunk {
            segment: self.segment.name.clone(),
            len: self.len as u64,
        }
    }
}

impl Drop for SegmentLease {
    fn drop(&mut self) {
        if !self.handed {
            self.segment.state().store(FREE, Ordering::Release);
        }
    }
}

impl std::fmt::Debug for SegmentLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SegmentLease({}, {} bytes)", self.segment.name, self.len)
    }
}

/// A producer's segments in a node's directory: reused once the node is done with
/// them, created as needed up to a bound, unlinked when the pool is dropped.
pub struct SegmentPool {
    dir: PathBuf,
    prefix: String,
    segments: Vec<Arc<Segment>>,
    created: u64,
    bytes: usize,
    max_bytes: usize,
}

impl SegmentPool {
    /// A pool in the node directory at `dir`, or `None` if this process does not see
    /// it (the node runs on another host). `max_bytes` bounds the segments' total size.
    pub fn attach(dir: &Path, max_bytes: usize) -> Option<SegmentPool> {
        if !dir.is_dir() {
            return None;
        }
        static POOLS: AtomicU64 = AtomicU64::new(0);
        let prefix = format!(
            "p{}-{}",
            std::process::id(),
            POOLS.fetch_add(1, Ordering::Relaxed)
        );
        Some(SegmentPool {
            dir: dir.to_path_buf(),
            prefix,
            segments: Vec::new(),
            created: 0,
            bytes: 0,
            max_bytes,
        })
    }

    /// Total size of the pool's segments.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// A segment of at least `len` bytes (and not much more) leased for writing: a free
    /// one, or a new one; `Ok(None)` when the pool is at its bound and every segment is
    /// still in use.
    pub fn lease(&mut self, len: usize) -> Result<Option<SegmentLease>> {
        let lease = |segment: &Arc<Segment>| SegmentLease {
            segment: segment.clone(),
            len,
            handed: false,
        };
        let fits = |s: &Segment| s.capacity >= len && s.capacity <= len.saturating_mul(2).max(4096);
        let free = self.segments.iter().find(|s| {
            fits(s)
                && s.state()
                    .compare_exchange(FREE, WRITING, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
        });
        if let Some(segment) = free {
            return Ok(Some(lease(segment)));
        }
        let capacity = len.max(1).next_multiple_of(4096);
        if self.bytes + capacity > self.max_bytes {
            return Ok(None);
        }
        let name = format!("{}-{}", self.prefix, self.created);
        let path = self.dir.join(&name);
        let file = private_file()
            .create_new(true)
            .open(&path)
            .map_err(|e| shm_error(&format!("cannot create segment {name}"), e))?;
        let segment = map_new(&file, &name, capacity).inspect_err(|_| {
            let _ = std::fs::remove_file(&path);
        })?;
        segment.state().store(WRITING, Ordering::Release);
        self.created += 1;
        self.bytes += capacity;
        self.segments.push(Arc::new(segment));
        Ok(self.segments.last().map(lease))
    }
}

/// Sizes and maps a new segment file, its pages faulted in at once.
fn map_new(file: &File, name: &str, capacity: usize) -> Result<Segment> {
    file.set_len((HEADER + capacity) as u64)
        .map_err(|e| shm_error(&format!("cannot size segment {name}"), e))?;
    // The file was just created by us, with this size; the node maps it only after we
    // name it, and writes nothing but the state word.
    let map = MmapOptions::new()
        .populate()
        .map_raw(file)
        .map_err(|e| shm_error(&format!("cannot map segment {name}"), e))?;
    Ok(Segment {
        name: name.to_string(),
        map,
        capacity,
    })
}

impl Drop for SegmentPool {
    fn drop(&mut self) {
        // The node's mappings outlive the names: it keeps what it adopted.
        for segment in &self.segments {
            let _ = std::fs::remove_file(self.dir.join(&segment.name));
        }
    }
}

impl std::fmt::Debug for SegmentPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentPool")
            .field("dir", &self.dir)
            .field("segments", &self.segments.len())
            .field("bytes", &self.bytes)
            .finish()
    }
}

#[cfg(test)]
mod tests;
