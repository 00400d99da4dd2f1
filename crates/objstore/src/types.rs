//! The store's public value types: key bound, configuration, copy kinds, statistics.

use std::fmt::Debug;
use std::hash::Hash;
use std::path::PathBuf;

/// What a store key must be: small, hashable, printable and shareable across threads.
/// Implemented for every such type.
pub trait ObjectKey: Copy + Eq + Hash + Debug + Send + Sync + 'static {}

impl<T: Copy + Eq + Hash + Debug + Send + Sync + 'static> ObjectKey for T {}

/// How a store is sized, and where it spills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The most bytes of object data held in memory at once.
    pub capacity_bytes: u64,
    /// Where primary copies are spilled under memory pressure. `None`: never spill, and
    /// fail with [`StoreError::Full`](crate::StoreError::Full) when only primary copies
    /// are left to free.
    pub spill_dir: Option<PathBuf>,
}

impl StoreConfig {
    /// A store of `capacity_bytes` that never spills.
    pub fn new(capacity_bytes: u64) -> Self {
        let spill_dir = None;
        Self {
            capacity_bytes,
            spill_dir,
        }
    }

    /// The same, spilling primary copies into `dir` (created on first spill).
    pub fn with_spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spill_dir = Some(dir.into());
        self
    }
}

/// What kind of copy of an object a store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CopyKind {
    /// The copy its owner relies on: pinned, never evicted; under memory pressure it is
    /// spilled to disk if a spill directory is configured.
    Primary,
    /// A cached copy of an object whose primary copy lives elsewhere: evicted (dropped)
    /// under memory pressure, least recently used first.
    Secondary,
}

/// A snapshot of a store's accounting and counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Bytes of object data in memory; never above `capacity_bytes`.
    pub used_bytes: u64,
    /// The configured capacity.
    pub capacity_bytes: u64,
    /// Objects stored, in memory or spilled.
    pub objects: usize,
    /// Of which primary copies.
    pub primary_objects: usize,
    /// Of which spilled to disk (always primary copies).
    pub spilled_objects: usize,
    /// Bytes of the spilled objects.
    pub spilled_bytes: u64,
    /// Secondary copies dropped to make room, since the store was created.
    pub evictions: u64,
    /// Primary copies written to disk to make room, since the store was created.
    pub spills: u64,
    /// Spilled objects read back into memory, since the store was created.
    pub restores: u64,
    /// Waiters currently registered by [`ObjectStore::wait`](crate::ObjectStore::wait) and
    /// [`ObjectStore::wait_timeout`](crate::ObjectStore::wait_timeout).
    pub waiters: usize,
}
