//! Chunks a gate takes in for its node's scheduling actor: sent in the call (in
//! transit, several packed one after the other) or written by a process of this host
//! into the node's shared memory. Either way they become this node's objects, owned
//! by the gate's worker, and are published to the scheduler by reference.

use crate::shm::{SharedChunk, SharedDir};
use doreisa_core::{Blob, ObjectRef, Worker};
use doreisa_sched::SourceKey;

/// Stores the chunks of `packed` (`keys` give their lengths, in order).
pub(super) fn store_packed(
    worker: &Worker,
    keys: Vec<(SourceKey, u64)>,
    packed: Blob,
) -> Vec<(SourceKey, ObjectRef<Blob>)> {
    let mut stored = Vec::with_capacity(keys.len());
    let mut at = 0usize;
    for (key, len) in keys {
        let end = at.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
        if end > packed.0.len() {
            tracing::error!(%key, "a packed chunk runs past the end of its message");
            break;
        }
        match worker.put(&Blob(packed.0.slice(at..end))) {
            Ok(chunk) => stored.push((key, chunk)),
            Err(e) => tracing::error!(%key, error = %e, "cannot store a published chunk"),
        }
        at = end;
    }
    stored
}

/// Maps the segments named in `chunks` and stores each mapping as an object (no copy).
pub(super) fn adopt_shared(
    worker: &Worker,
    dir: Option<&SharedDir>,
    chunks: Vec<(SourceKey, SharedChunk)>,
) -> Vec<(SourceKey, ObjectRef<Blob>)> {
    let mut stored = Vec::with_capacity(chunks.len());
    for (key, chunk) in chunks {
        let Some(dir) = dir else {
            tracing::error!(%key, "a shared chunk named before the node made its directory");
            continue;
        };
        let adopted = dir
            .adopt(&chunk)
            .map_err(|e| e.to_string())
            .and_then(|bytes| worker.put(&Blob(bytes)).map_err(|e| e.to_string()));
        match adopted {
            Ok(chunk) => stored.push((key, chunk)),
            Err(e) => tracing::error!(%key, error = %e, "cannot take a chunk from shared memory"),
        }
    }
    stored
}
