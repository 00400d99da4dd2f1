//! doreisa-objstore: the per-node object store.
//!
//! Immutable objects by id with zero-copy reads, memory accounting against a capacity,
//! pinning of primary copies, waiting for an object to appear, eviction of secondary
//! copies and spilling under pressure.
//!
//! It knows nothing about refs, owners or the network, and must not depend on any other
//! doreisa crate.
