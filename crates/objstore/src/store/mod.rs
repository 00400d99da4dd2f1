//! The [`ObjectStore`]: objects, memory accounting, eviction, spilling and restoring.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Debug};
use std::mem;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::error::StoreError;
use crate::spill::{self, SpillDir};
use crate::types::{CopyKind, ObjectKey, StoreConfig, StoreStats};
use crate::waiters::Waiters;

mod future;
pub use future::WaitFuture;

/// Where an object's bytes are.
#[derive(Debug)]
enum Residence {
    Memory(Bytes),
    Spilled(PathBuf),
}

#[derive(Debug)]
struct Entry {
    size: u64,
    kind: CopyKind,
    /// Last use, on the store's clock: the object's key in the LRU index of its kind.
    tick: u64,
    residence: Residence,
}

/// The state behind the lock.
#[derive(Debug)]
pub(crate) struct Inner<K> {
    capacity: u64,
    spill: Option<SpillDir>,
    objects: HashMap<K, Entry>,
    /// In-memory secondary copies by last use, oldest first.
    secondary_lru: BTreeMap<u64, K>,
    /// In-memory primary copies by last use, oldest first.
    primary_lru: BTreeMap<u64, K>,
    clock: u64,
    used_bytes: u64,
    primary_objects: usize,
    spilled_objects: usize,
    spilled_bytes: u64,
    evictions: u64,
    spills: u64,
    restores: u64,
    pub(crate) waiters: Waiters<K>,
}

/// What the store and its [`WaitFuture`]s share.
pub(crate) struct Shared<K> {
    inner: Mutex<Inner<K>>,
    /// Notified when a key that blocking waiters wait for is put.
    put_signal: Condvar,
}

impl<K> Shared<K> {
    /// Locks the state, ignoring poisoning: no code that runs under the lock panics
    /// between two related updates of the accounting, and this keeps `WaitFuture::drop`
    /// from panicking during unwinding.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner<K>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A per-node store of immutable objects, keyed by `K`.
///
/// Thread-safe: every method takes `&self`; share it with an `Arc`. Objects are
/// [`Bytes`], stored and returned without copying the data. Memory use is accounted
/// against [`StoreConfig::capacity_bytes`]; see [`ObjectStore::put`] for what happens
/// under pressure.
///
/// All state sits behind one mutex. Critical sections are short, except that spilling and
/// restoring do their file I/O under the lock for now (simple and correct, but it stalls
/// other callers while a spill file is written or read).
///
/// Spill files are removed on [`ObjectStore::delete`] and when the store is dropped (once
/// its outstanding [`WaitFuture`]s, which share its state, are dropped too).
pub struct ObjectStore<K> {
    shared: Arc<Shared<K>>,
}

impl<K: ObjectKey> ObjectStore<K> {
    /// An empty store.
    pub fn new(config: StoreConfig) -> Self {
        let inner = Inner {
            capacity: config.capacity_bytes,
            spill: config.spill_dir.map(SpillDir::new),
            objects: HashMap::new(),
            secondary_lru: BTreeMap::new(),
            primary_lru: BTreeMap::new(),
            clock: 0,
            used_bytes: 0,
            primary_objects: 0,
            spilled_objects: 0,
            spilled_bytes: 0,
            evictions: 0,
            spills: 0,
            restores: 0,
            waiters: Waiters::new(),
        };
        let shared = Shared {
            inner: Mutex::new(inner),
            put_signal: Condvar::new(),
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    /// Stores `data` under `key` (without copying the bytes) and wakes its waiters.
    ///
    /// If the key is already stored: a `Secondary` put is a no-op; a `Primary` put over a
    /// secondary copy upgrades it to primary (keeping the stored bytes: objects are
    /// immutable); a `Primary` put over a primary copy fails with
    /// [`StoreError::Duplicate`].
    ///
    /// When the object does not fit in the free memory, the store first evicts secondary
    /// copies, least recently used first, then, if a spill directory is configured, spills
    /// primary copies, least recently used first. If that cannot make enough room it fails
    /// with [`StoreError::Full`] and changes nothing. An object larger than the capacity
    /// fails with [`StoreError::TooLarge`]. A spill I/O error fails the put before any
    /// eviction; the copies already spilled stay spilled (readable, restored on `get`).
    pub fn put(&self, key: K, data: Bytes, kind: CopyKind) -> Result<(), StoreError> {
        let mut inner = self.shared.lock();
        if inner.objects.contains_key(&key) {
            return inner.put_existing(key, kind);
        }
        let size = data.len() as u64;
        if size > inner.capacity {
            let (key, capacity) = (format!("{key:?}"), inner.capacity);
            return Err(StoreError::TooLarge {
                key,
                size,
                capacity,
            });
        }
        inner.make_room(key, size)?;
        let (wakers, blocked) = inner.waiters.fulfil(key, &data);
        inner.insert(key, data, kind);
        drop(inner);
        if blocked {
            self.shared.put_signal.notify_all();
        }
        wakers.into_iter().for_each(|waker| waker.wake());
        Ok(())
    }

    /// The object's bytes (a zero-copy handle), or `None` if it is not stored.
    ///
    /// Counts as a use for eviction order. A spilled object is read back into memory
    /// first, making room as `put` does (counted in [`StoreStats::restores`]); only that
    /// can fail.
    pub fn get(&self, key: K) -> Result<Option<Bytes>, StoreError> {
        self.shared.lock().get(key)
    }

    /// Whether the object is stored, in memory or spilled.
    pub fn contains(&self, key: K) -> bool {
        self.shared.lock().objects.contains_key(&key)
    }

    /// The object's size in bytes, if stored.
    pub fn size_of(&self, key: K) -> Option<u64> {
        self.shared.lock().objects.get(&key).map(|entry| entry.size)
    }

    /// Whether the store holds the primary copy of the object.
    pub fn is_primary(&self, key: K) -> bool {
        let inner = self.shared.lock();
        let entry = inner.objects.get(&key);
        entry.is_some_and(|entry| entry.kind == CopyKind::Primary)
    }

    /// Removes the object, freeing its memory and its spill file. Returns whether it was
    /// stored.
    pub fn delete(&self, key: K) -> bool {
        let removed = self.shared.lock().remove(key);
        match removed {
            Some(Residence::Spilled(path)) => spill::remove(&path),
            Some(Residence::Memory(_)) => {}
            None => return false,
        }
        true
    }

    /// A future resolving to the object's bytes once it is stored: at once if it already
    /// is. It fails only if the object was spilled and reading it back failed.
    pub fn wait(&self, key: K) -> WaitFuture<K> {
        let shared = Arc::clone(&self.shared);
        let mut inner = self.shared.lock();
        if inner.objects.contains_key(&key) {
            let value = inner.get(key).map(|bytes| bytes.expect("checked present"));
            drop(inner);
            return WaitFuture::ready(shared, key, value);
        }
        let id = inner.waiters.register(key, None);
        drop(inner);
        WaitFuture::waiting(shared, key, id)
    }

    /// Blocks until the object is stored and returns its bytes, or `None` after
    /// `timeout`. Fails only if the object was spilled and reading it back failed.
    pub fn wait_timeout(&self, key: K, timeout: Duration) -> Result<Option<Bytes>, StoreError> {
        let deadline = Instant::now() + timeout;
        let mut inner = self.shared.lock();
        if inner.objects.contains_key(&key) {
            return inner.get(key);
        }
        let id = inner.waiters.register(key, None);
        loop {
            if let Some(bytes) = inner.waiters.poll(key, id, None) {
                return Ok(Some(bytes));
            }
            let now = Instant::now();
            if now >= deadline {
                inner.waiters.cancel(key, id);
                return Ok(None);
            }
            let signal = &self.shared.put_signal;
            inner = signal
                .wait_timeout(inner, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// A snapshot of the accounting and counters.
    pub fn stats(&self) -> StoreStats {
        let inner = self.shared.lock();
        StoreStats {
            used_bytes: inner.used_bytes,
            capacity_bytes: inner.capacity,
            objects: inner.objects.len(),
            primary_objects: inner.primary_objects,
            spilled_objects: inner.spilled_objects,
            spilled_bytes: inner.spilled_bytes,
            evictions: inner.evictions,
            spills: inner.spills,
            restores: inner.restores,
            waiters: inner.waiters.len(),
        }
    }

    /// The keys of all stored objects, in no particular order (for diagnostics).
    pub fn keys(&self) -> Vec<K> {
        self.shared.lock().objects.keys().copied().collect()
    }
}

impl<K: ObjectKey> Debug for ObjectStore<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStore")
            .field("stats", &self.stats())
            .finish()
    }
}

impl<K: ObjectKey> Inner<K> {
    fn lru(&mut self, kind: CopyKind) -> &mut BTreeMap<u64, K> {
        match kind {
            CopyKind::Primary => &mut self.primary_lru,
            CopyKind::Secondary => &mut self.secondary_lru,
        }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// `put` of a key already stored.
    fn put_existing(&mut self, key: K, kind: CopyKind) -> Result<(), StoreError> {
        let entry = self.objects.get_mut(&key).expect("checked present");
        match (entry.kind, kind) {
            (_, CopyKind::Secondary) => Ok(()),
            (CopyKind::Primary, CopyKind::Primary) => {
                Err(StoreError::Duplicate(format!("{key:?}")))
            }
            (CopyKind::Secondary, CopyKind::Primary) => {
                // Secondary copies are never spilled: this one is in memory.
                entry.kind = CopyKind::Primary;
                let tick = entry.tick;
                self.secondary_lru.remove(&tick);
                self.primary_lru.insert(tick, key);
                self.primary_objects += 1;
                Ok(())
            }
        }
    }

    /// Adds a new in-memory object; the room was made.
    fn insert(&mut self, key: K, data: Bytes, kind: CopyKind) {
        let size = data.len() as u64;
        let tick = self.tick();
        self.lru(kind).insert(tick, key);
        self.used_bytes += size;
        if kind == CopyKind::Primary {
            self.primary_objects += 1;
        }
        let residence = Residence::Memory(data);
        let entry = Entry {
            size,
            kind,
            tick,
            residence,
        };
        self.objects.insert(key, entry);
    }

    /// The object's bytes, restoring it if spilled; a use for eviction order.
    fn get(&mut self, key: K) -> Result<Option<Bytes>, StoreError> {
        let Some(entry) = self.objects.get(&key) else {
            return Ok(None);
        };
        let (kind, old_tick) = (entry.kind, entry.tick);
        let data = match &entry.residence {
            Residence::Memory(data) => {
                let data = data.clone();
                let tick = self.tick();
                self.lru(kind).remove(&old_tick);
                self.lru(kind).insert(tick, key);
                self.objects.get_mut(&key).expect("present").tick = tick;
                data
            }
            Residence::Spilled(_) => self.restore(key)?,
        };
        Ok(Some(data))
    }

    /// Reads a spilled object back into memory (making room first) and removes its file.
    fn restore(&mut self, key: K) -> Result<Bytes, StoreError> {
        let entry = &self.objects[&key];
        let Residence::Spilled(path) = &entry.residence else {
            unreachable!("restore of an object in memory");
        };
        let (size, kind, path) = (entry.size, entry.kind, path.clone());
        // Read before making room, so that a bad file evicts nothing.
        let data = spill::read(&path, size)?;
        self.make_room(key, size)?;
        spill::remove(&path);
        let tick = self.tick();
        self.lru(kind).insert(tick, key);
        let entry = self.objects.get_mut(&key).expect("present");
        entry.tick = tick;
        entry.residence = Residence::Memory(data.clone());
        self.used_bytes += size;
        self.spilled_objects -= 1;
        self.spilled_bytes -= size;
        self.restores += 1;
        Ok(data)
    }

    /// Frees memory until `needed` more bytes (for `key`) fit: evicts secondary copies,
    /// then spills primary copies, least recently used first. Changes nothing if that
    /// cannot be enough. `needed` must not exceed the capacity.
    fn make_room(&mut self, key: K, needed: u64) -> Result<(), StoreError> {
        let free = self.capacity - self.used_bytes;
        if needed <= free {
            return Ok(());
        }
        let size = |key: &K| self.objects[key].size;
        let mut freed = 0;
        let mut evict = Vec::new();
        for key in self.secondary_lru.values() {
            if free + freed >= needed {
                break;
            }
            freed += size(key);
            evict.push(*key);
        }
        let mut to_spill = Vec::new();
        if self.spill.is_some() {
            for key in self.primary_lru.values() {
                if free + freed >= needed {
                    break;
                }
                freed += size(key);
                to_spill.push(*key);
            }
        }
        if free + freed < needed {
            return Err(StoreError::Full {
                key: format!("{key:?}"),
                needed,
                capacity: self.capacity,
                used: self.used_bytes,
                available: free + freed,
            });
        }
        // Spill first: if the disk fails, no secondary copy has been dropped for nothing.
        for key in to_spill {
            self.spill_one(key)?;
        }
        for key in evict {
            self.remove(key);
            self.evictions += 1;
        }
        Ok(())
    }

    /// Writes an in-memory primary copy to a spill file and drops its bytes.
    fn spill_one(&mut self, key: K) -> Result<(), StoreError> {
        let spill = self.spill.as_mut().expect("spilling needs a spill dir");
        let entry = self
            .objects
            .get_mut(&key)
            .expect("spilling a stored object");
        let Residence::Memory(data) = &entry.residence else {
            unreachable!("spilling a spilled object");
        };
        let path = spill.write(data)?;
        entry.residence = Residence::Spilled(path);
        let (size, tick) = (entry.size, entry.tick);
        self.primary_lru.remove(&tick);
        self.used_bytes -= size;
        self.spilled_objects += 1;
        self.spilled_bytes += size;
        self.spills += 1;
        Ok(())
    }

    /// Removes an object from the index and the accounting. The caller removes the spill
    /// file, if any, preferably after unlocking.
    fn remove(&mut self, key: K) -> Option<Residence> {
        let entry = self.objects.remove(&key)?;
        if entry.kind == CopyKind::Primary {
            self.primary_objects -= 1;
        }
        match entry.residence {
            Residence::Memory(_) => {
                self.lru(entry.kind).remove(&entry.tick);
                self.used_bytes -= entry.size;
            }
            Residence::Spilled(_) => {
                self.spilled_objects -= 1;
                self.spilled_bytes -= entry.size;
            }
        }
        Some(entry.residence)
    }
}

impl<K> Drop for Inner<K> {
    /// Removes the spill files this store created and still holds.
    fn drop(&mut self) {
        for entry in mem::take(&mut self.objects).into_values() {
            if let Residence::Spilled(path) = entry.residence {
                spill::remove(&path);
            }
        }
    }
}

#[cfg(test)]
impl<K: ObjectKey> ObjectStore<K> {
    /// Checks the accounting against the objects (unit tests only).
    pub(crate) fn assert_consistent(&self) {
        let inner = self.shared.lock();
        let in_memory = |entry: &&Entry| matches!(entry.residence, Residence::Memory(_));
        let memory: Vec<_> = inner.objects.values().filter(in_memory).collect();
        let used: u64 = memory.iter().map(|entry| entry.size).sum();
        assert_eq!(inner.used_bytes, used);
        assert!(inner.used_bytes <= inner.capacity);
        let spilled = inner.objects.len() - memory.len();
        assert_eq!(inner.spilled_objects, spilled);
        let lru_len = inner.primary_lru.len() + inner.secondary_lru.len();
        assert_eq!(lru_len, memory.len());
        let primaries = inner
            .objects
            .values()
            .filter(|e| e.kind == CopyKind::Primary);
        assert_eq!(inner.primary_objects, primaries.count());
        for (key, entry) in &inner.objects {
            if let Residence::Memory(data) = &entry.residence {
                assert_eq!(data.len() as u64, entry.size);
                let lru = match entry.kind {
                    CopyKind::Primary => &inner.primary_lru,
                    CopyKind::Secondary => &inner.secondary_lru,
                };
                assert_eq!(lru.get(&entry.tick), Some(key));
            }
        }
    }
}
