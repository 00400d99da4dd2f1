//! Chunks a gate takes in for its node's scheduling actor: sent in the call (in
//! transit, several packed one after the other) or written by a process of this host
//! into the node's shared memory. Either way they become this node's objects, owned
//! by the gate's worker, and are published to the scheduler by reference.
//!
//! A chunk the node cannot store (its object store is full) is published all the same,
//! as a ref whose value is the store's error: every graph that reads the chunk fails at
//! once with the reason, instead of waiting for a chunk that never comes (the object
//! store's policy: a full store fails at once, and whoever waits learns why).

use crate::shm::{SharedChunk, SharedDir};
use bytes::Bytes;
use doreisa_core::registry::{Returned, TaskContext, next_arg};
use doreisa_core::{Arg, Blob, CoreError, ObjectRef, Registry, TaskOptions, Worker};
use doreisa_sched::SourceKey;

/// The function whose task stands for a chunk that could not be stored: it fails with
/// the reason it is given.
const NOT_STORED_FN: &str = "doreisa_insitu::chunk_not_stored";

/// Registers the function of chunks that could not be stored.
pub(crate) fn register(registry: &mut Registry) {
    registry.function(NOT_STORED_FN, not_stored);
}

fn not_stored(
    ctx: &TaskContext,
    args: Vec<doreisa_core::registry::ArgBytes>,
) -> doreisa_core::Result<Returned> {
    let reason: String = next_arg(ctx, &mut args.into_iter())?;
    Err(CoreError::Failed(reason))
}

/// Stores `bytes` as chunk `key` on this node; if the store refuses it, a ref that
/// fails with the reason (see the module). `None` only if even that cannot be made.
fn store(worker: &Worker, key: &SourceKey, bytes: Bytes) -> Option<ObjectRef<Blob>> {
    let len = bytes.len();
    let error = match worker.put(&Blob(bytes)) {
        Ok(chunk) => return Some(chunk),
        Err(e) => e,
    };
    let reason = format!(
        "chunk {key} ({len} bytes) could not be stored on {:?}: {error}",
        worker.node()
    );
    tracing::error!("{reason}");
    let failing = worker
        .task_arg(Arg::Value(reason))
        .and_then(|arg| {
            worker.submit_function(NOT_STORED_FN, vec![arg], 1, TaskOptions::on(worker.node()))
        })
        .map(|mut refs| refs.remove(0).cast());
    match failing {
        Ok(chunk) => Some(chunk),
        Err(e) => {
            tracing::error!(%key, error = %e, "cannot publish the failure of a chunk");
            None
        }
    }
}

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
        if let Some(chunk) = store(worker, &key, packed.0.slice(at..end)) {
            stored.push((key, chunk));
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
        match dir.adopt(&chunk) {
            Ok(bytes) => stored.extend(store(worker, &key, bytes).map(|chunk| (key, chunk))),
            Err(e) => tracing::error!(%key, error = %e, "cannot take a chunk from shared memory"),
        }
    }
    stored
}
