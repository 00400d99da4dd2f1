//! doreisa-objstore: the per-node object store.
//!
//! Immutable objects by key with zero-copy reads ([`bytes::Bytes`]), memory accounting
//! against a capacity, pinning of primary copies, waiting for an object to appear, eviction
//! of secondary copies and spilling under pressure.
//!
//! - [`ObjectStore::put`] stores a [`CopyKind::Primary`] copy (the one an owner relies on:
//!   pinned, never evicted) or a [`CopyKind::Secondary`] copy (a cache, dropped under
//!   pressure). When memory is short, secondary copies are evicted least recently used
//!   first, then primary copies are spilled to one file each in [`StoreConfig::spill_dir`],
//!   least recently used first; without a spill directory the put fails with
//!   [`StoreError::Full`] and changes nothing.
//! - A store never waits for room. The policy of a full store, which every put path of the
//!   runtime shares (a local put, a task's return value, a copy fetched from another node,
//!   a chunk a node takes in from a simulation): the put fails at once with
//!   [`StoreError::Full`], which names the object, its size, the capacity, the bytes in use
//!   and how many could be freed, and the failure goes to whoever waits for the object (the
//!   caller of the put, the task, the reader of the chunk); nothing is dropped silently.
//!   Back-pressure on how much is in flight is the producers' business (the in situ
//!   bridges' bound on timesteps ahead), not the store's.
//! - [`ObjectStore::get`] returns a zero-copy handle, reading a spilled object back first.
//! - [`ObjectStore::wait`] is a runtime-agnostic future; [`ObjectStore::wait_timeout`]
//!   blocks.
//!
//! The store is generic over its key type ([`ObjectKey`]). It knows nothing about refs,
//! owners or the network, and must not depend on any other doreisa crate nor on an async
//! runtime.
//!
//! ```
//! use bytes::Bytes;
//! use doreisa_objstore::{CopyKind, ObjectStore, StoreConfig};
//!
//! let store = ObjectStore::<u64>::new(StoreConfig::new(1024));
//! store.put(7, Bytes::from_static(b"hello"), CopyKind::Primary).unwrap();
//! assert_eq!(store.get(7).unwrap().unwrap(), "hello");
//! assert_eq!(store.stats().used_bytes, 5);
//! ```

mod error;
mod spill;
mod store;
mod types;
mod waiters;

#[cfg(test)]
mod tests;

pub use error::StoreError;
pub use store::ObjectStore;
pub use store::WaitFuture;
pub use types::{CopyKind, ObjectKey, StoreConfig, StoreStats};
