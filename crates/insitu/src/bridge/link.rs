//! What a bridge does outside its state, behind one small trait ([`BridgeLink`]): the
//! messages its state queues (to the node's gate and scheduling actor, to the
//! coordinator), the few questions it asks the coordinator (each with a bound), and
//! storing chunks in this process. [`ActorLink`] calls the session's actors through
//! their typed addresses; the bridge's tests use a fake that records what would be
//! sent.

use super::state::Action;
use super::{Held, HeldChunk};
use crate::coordinator::CoordinatorAddress;
use crate::error::Result;
use crate::gate::NodeGateAddress;
use crate::notice::Progress;
use bytes::Bytes;
use doreisa_core::{Blob, NodeId, ObjectRef, Worker};
use doreisa_sched::SourceKey;
use doreisa_sched::cluster::SchedulingActorAddress;
use std::sync::Mutex;
use std::time::Duration;

/// A bridge's way to the rest of the session (see the module).
pub(crate) trait BridgeLink: Send + Sync {
    /// Carries out one action of the bridge's state.
    fn send(&self, action: Action<Held>) -> Result<()>;
    /// The value of steering key `key` set for `timestep` (the latest one with `None`),
    /// asked now; fails after `within`.
    fn feedback(
        &self,
        key: &str,
        timestep: Option<i64>,
        within: Duration,
    ) -> Result<Option<(i64, Vec<u8>)>>;
    /// The analytics' progress, asked now; fails after `within`.
    fn progress(&self, within: Duration) -> Result<Progress>;
    /// Stores a chunk's encoded bytes in this process (handed over by reference).
    fn store(&self, bytes: Bytes) -> Result<Held>;
    /// Stores the `len` bytes `write` appends (into a recycled buffer when large).
    fn store_with(&self, len: usize, write: &mut dyn FnMut(&mut Vec<u8>)) -> Result<Held>;
    /// Stores a copy of `data`.
    fn store_slice(&self, data: &[u8]) -> Result<Held>;
    /// The worker of this process (for preprocessing kernels), if there is one.
    fn worker(&self) -> Option<&Worker>;
}

/// The most bytes of streamed chunks sent in one call.
const STREAM_BATCH_BYTES: usize = 16 << 20;

/// The bound on waiting for the node to confirm the chunks named in shared memory.
const SHARED_CONFIRM: Duration = Duration::from_secs(30);

/// The link of a bridge in a running session: typed calls to its actors.
pub(crate) struct ActorLink {
    pub worker: Worker,
    pub node: NodeId,
    /// The bridge's number in the session.
    pub id: u64,
    pub coordinator: CoordinatorAddress,
    pub scheduler: SchedulingActorAddress,
    pub gate: NodeGateAddress,
    /// The answer to the last chunks named to the node in shared memory: once it came,
    /// the node mapped them all (calls run in order).
    pub last_shared: Mutex<Option<ObjectRef<usize>>>,
}

impl BridgeLink for ActorLink {
    fn send(&self, action: Action<Held>) -> Result<()> {
        let (w, id) = (&self.worker, self.id);
        match action {
            Action::Declare { rank, decls } => {
                self.gate.declare(w, id, rank, decls, self.node)?;
            }
            Action::Label { rank, label } => {
                self.gate.label(w, id, rank, label)?;
            }
            Action::HandOver(chunks) => self.hand_over(chunks)?,
            Action::Report { through, announced } => {
                self.gate.report(w, id, through, announced)?;
            }
            Action::RankClosed { rank, last } => {
                self.gate.rank_closed(w, id, rank, last)?;
            }
            Action::Leave { last } => {
                self.wait_shared_taken();
                self.gate.leave(w, id, last)?;
            }
            Action::SkipBelow(timestep) => {
                self.coordinator.skip_below(w, timestep)?;
            }
            Action::WatchFeedback { key, timestep } => {
                self.coordinator.watch_feedback(w, id, key, timestep)?;
            }
        }
        Ok(())
    }

    fn feedback(
        &self,
        key: &str,
        timestep: Option<i64>,
        within: Duration,
    ) -> Result<Option<(i64, Vec<u8>)>> {
        let asked = self
            .coordinator
            .feedback(&self.worker, key.to_string(), timestep)?;
        Ok(self.worker.get_timeout(&asked, Some(within))?)
    }

    fn progress(&self, within: Duration) -> Result<Progress> {
        let asked = self.coordinator.progress(&self.worker)?;
        Ok(self.worker.get_timeout(&asked, Some(within))?)
    }

    fn store(&self, bytes: Bytes) -> Result<Held> {
        Ok(Held::Stored(self.worker.put_blob(bytes)?))
    }

    fn store_with(&self, len: usize, write: &mut dyn FnMut(&mut Vec<u8>)) -> Result<Held> {
        Ok(Held::Stored(self.worker.put_with(len, write)?))
    }

    fn store_slice(&self, data: &[u8]) -> Result<Held> {
        Ok(Held::Stored(self.worker.put_slice(data)?))
    }

    fn worker(&self) -> Option<&Worker> {
        Some(&self.worker)
    }
}

impl ActorLink {
    /// Hands chunks to the node: stored ones to its scheduling actor by reference,
    /// shared and streamed ones to its gate (streamed in batches of at most
    /// [`STREAM_BATCH_BYTES`]).
    fn hand_over(&self, chunks: Vec<HeldChunk>) -> Result<()> {
        let mut stored = Vec::new();
        let mut shared = Vec::new();
        let mut streamed = Vec::new();
        let mut streamed_bytes = 0;
        for (key, chunk) in chunks {
            match chunk {
                Held::Stored(chunk) => stored.push((key, chunk)),
                Held::Shared(chunk) => shared.push((key, chunk)),
                Held::Bytes(chunk) => {
                    streamed_bytes += chunk.0.len();
                    streamed.push((key, chunk));
                    if streamed_bytes >= STREAM_BATCH_BYTES {
                        self.stream(std::mem::take(&mut streamed))?;
                        streamed_bytes = 0;
                    }
                }
            }
        }
        if !streamed.is_empty() {
            self.stream(streamed)?;
        }
        if !shared.is_empty() {
            let answer = self.gate.publish_shared(&self.worker, shared)?;
            *self.last_shared.lock().unwrap_or_else(|e| e.into_inner()) = Some(answer);
        }
        if !stored.is_empty() {
            self.scheduler.publish_many(&self.worker, stored)?;
        }
        Ok(())
    }

    /// Sends chunks to the node's gate in the call, one after the other in one buffer
    /// (a single chunk as it is).
    fn stream(&self, chunks: Vec<(SourceKey, Blob)>) -> Result<()> {
        let keys: Vec<(SourceKey, u64)> = chunks
            .iter()
            .map(|(key, chunk)| (key.clone(), chunk.0.len() as u64))
            .collect();
        let packed = match <[_; 1]>::try_from(chunks) {
            Ok([(_, chunk)]) => chunk,
            Err(chunks) => {
                let len = chunks.iter().map(|(_, c)| c.0.len()).sum();
                let mut packed = Vec::with_capacity(len);
                for (_, chunk) in &chunks {
                    packed.extend_from_slice(&chunk.0);
                }
                Blob(packed.into())
            }
        };
        self.gate.publish_packed(&self.worker, keys, packed)?;
        Ok(())
    }

    /// Waits (at most [`SHARED_CONFIRM`]) until the node mapped every chunk named to it
    /// in shared memory, so that this process may unlink its segments (and exit)
    /// without losing any.
    fn wait_shared_taken(&self) {
        let last = self
            .last_shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(last) = last
            && let Err(e) = self.worker.get_timeout(&last, Some(SHARED_CONFIRM))
        {
            tracing::warn!(error = %e, "the node did not confirm its shared chunks");
        }
    }
}
