//! A bridge: the publishing side of one node in one process, shared by the ranks that
//! run there. Each rank's chunk is either stored in this process and handed over by
//! reference ([`Delivery::Reference`]: no copy when the buffer is handed over, and the
//! node pulls the bytes only if a task elsewhere needs them), or written into the
//! node's shared memory ([`Delivery::Shared`]: a rank in another process on the node's
//! host), or streamed to the node in the call itself ([`Delivery::Stream`]: in
//! transit); in the last two the node keeps the chunk and this process keeps nothing.
//! Once every rank of the bridge is done with an iteration (published each array it
//! declared, or moved on), the iteration's chunks go to the node's scheduling actor
//! and are reported to the node's gate, which announces the node's iteration to the
//! coordinator in one message once every bridge of the node reported it.
//! Back-pressure keeps the simulation at most `max_ahead` timesteps ahead of the
//! analytics.
//!
//! `hold.rs` chooses how each chunk is held, `pace.rs` asks the coordinator how far
//! the analytics got (back-pressure, contract, exit) and for steering values.

mod hold;
mod pace;

use crate::contract::Contract;
use crate::coordinator::CoordinatorAddress;
use crate::coordinator::state::{Announced, Progress};
use crate::decl::{AheadPolicy, ChunkDecl};
use crate::error::{InsituError, Result};
use crate::gate::NodeGateAddress;
use crate::gather::{Gather, RankIteration};
use crate::session_info::SessionInfo;
use crate::shm::{SegmentPool, SharedChunk};
use doreisa_core::{Blob, NodeId, ObjectRef, Worker};
use doreisa_sched::SourceKey;
use doreisa_sched::cluster::SchedulingActorAddress;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a bridge behaves.
#[derive(Debug, Clone, Copy)]
pub struct BridgeOptions {
    /// How many timesteps the simulation may run ahead of the analytics.
    pub max_ahead: i64,
    pub policy: AheadPolicy,
    pub delivery: Delivery,
}

impl Default for BridgeOptions {
    fn default() -> Self {
        BridgeOptions {
            max_ahead: 2,
            policy: AheadPolicy::Block,
            delivery: Delivery::Reference,
        }
    }
}

/// How a bridge hands its chunks to the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// Stored in this process, owned by it; the node gets a reference (in situ, the
    /// ranks in the node's process: no copy).
    #[default]
    Reference,
    /// Copied once into the node's shared memory and named to it; stored and owned
    /// there (in situ, the ranks in another process on the node's host). Streamed as
    /// with [`Delivery::Stream`] when the node is on another host, or when its shared
    /// memory for this bridge is full.
    Shared,
    /// Sent to the node in the call; stored and owned there (in transit).
    Stream,
}

/// The most bytes of shared memory one bridge's segments take.
const SHARED_POOL_BYTES: usize = 1 << 30;

/// How a bridge handed its chunks over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeStats {
    /// Chunks sent to their node in the call (in transit).
    pub streamed: u64,
    /// Chunks copied into their node's shared memory.
    pub shared: u64,
    /// Chunks stored in this process and handed over by reference (in situ, or read
    /// by no graph of the analytics' contract).
    pub by_reference: u64,
}

/// One published chunk as the bridge holds it until its node's timestep is complete.
pub(crate) enum Held {
    Stored(ObjectRef<Blob>),
    Shared(SharedChunk),
    Bytes(Blob),
}

/// A rank's published chunk, as the bridge holds it until the iteration is done.
type HeldChunk = (SourceKey, Held);

/// The most bytes of streamed chunks sent in one call.
const STREAM_BATCH_BYTES: usize = 16 << 20;

struct BridgeState {
    /// Where each attached rank is in its iteration.
    ranks: BTreeMap<u64, RankIteration>,
    /// The ranks' chunks, by timestep, until all ranks are done with it (nothing
    /// leaves before every rank attached: a rank attaching later may publish it).
    gather: Gather<HeldChunk>,
    /// How far the gate was told this bridge is done.
    told: Option<i64>,
    /// The last timestep of the ranks that closed.
    closed_at: Option<i64>,
    close_sent: bool,
    progress: Progress,
    /// What the analytics' graphs read (version 0: everything).
    contract: Contract,
    stats: BridgeStats,
    /// A background question about the analytics' progress.
    asked: Option<ObjectRef<Progress>>,
    /// The last timestep a background question was asked at.
    refreshed_for: Option<i64>,
    /// The answer to the last chunks named to the node in shared memory: once it
    /// came, the node mapped them all (calls run in order).
    last_shared: Option<ObjectRef<usize>>,
    /// The newest timesteps given room to publish (back-pressure counts them).
    paced: BTreeSet<i64>,
}

/// The publishing side of one node in one process.
pub struct Bridge {
    worker: Worker,
    node: NodeId,
    coordinator: CoordinatorAddress,
    scheduler: SchedulingActorAddress,
    /// The node's gate: declarations, reports and the close go there.
    gate: NodeGateAddress,
    id: u64,
    options: BridgeOptions,
    /// This bridge's segments in the node's shared memory ([`Delivery::Shared`] with
    /// the node on this host).
    pool: Option<Mutex<SegmentPool>>,
    state: Mutex<BridgeState>,
    /// Held while taking what is ready and sending it, so that iterations leave in
    /// order whichever rank's thread completes them.
    sending: Mutex<()>,
}

impl Bridge {
    /// A bridge for `ranks` ranks publishing beside the node of `beside`.
    pub fn start(
        beside: &Worker,
        info: &SessionInfo,
        ranks: usize,
        options: BridgeOptions,
    ) -> Result<Arc<Bridge>> {
        Self::start_for(beside, beside.node(), info, ranks, options)
    }

    /// A bridge for `ranks` ranks of the process of `worker` publishing to `node`, which
    /// may be another process's (a rank that joined the cluster as a driver: in situ
    /// with [`Delivery::Reference`], in transit with [`Delivery::Stream`]).
    pub fn start_for(
        worker: &Worker,
        node: NodeId,
        info: &SessionInfo,
        ranks: usize,
        options: BridgeOptions,
    ) -> Result<Arc<Bridge>> {
        let unknown = || InsituError::Runtime(doreisa_core::CoreError::UnknownNode(node));
        let scheduler = info.scheduler(node).ok_or_else(unknown)?;
        let gate = info.gate(node).ok_or_else(unknown)?;
        let registered = info.coordinator.register_bridge(worker)?;
        let id: u64 = worker.get(&registered)?;
        gate.join(worker, id)?;
        let pool = match options.delivery {
            Delivery::Shared => shared_pool(worker, gate)?.map(Mutex::new),
            _ => None,
        };
        Ok(Arc::new(Bridge {
            worker: worker.clone(),
            node,
            coordinator: info.coordinator,
            scheduler,
            gate,
            id,
            options,
            pool,
            state: Mutex::new(BridgeState {
                ranks: BTreeMap::new(),
                gather: Gather::new(ranks.max(1)),
                told: None,
                closed_at: None,
                close_sent: false,
                progress: Progress::default(),
                contract: Contract::default(),
                stats: BridgeStats::default(),
                asked: None,
                refreshed_for: None,
                last_shared: None,
                paced: BTreeSet::new(),
            }),
            sending: Mutex::new(()),
        }))
    }

    pub fn node(&self) -> NodeId {
        self.node
    }

    pub fn stats(&self) -> BridgeStats {
        self.lock().stats
    }

    pub(crate) fn worker(&self) -> &Worker {
        &self.worker
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BridgeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A rank of this bridge declares the chunks it will publish; returns its number
    /// in this bridge.
    pub(crate) fn attach(&self, decls: &[ChunkDecl]) -> Result<u64> {
        self.gate.declare(&self.worker, decls.to_vec(), self.node)?;
        let rank = {
            let mut state = self.lock();
            let rank = state.ranks.len() as u64;
            let arrays = decls.iter().map(|d| d.meta.name.clone());
            let iteration = RankIteration::new(arrays);
            let through = iteration.done_through();
            state.ranks.insert(rank, iteration);
            state.gather.join(rank);
            if let Some(through) = through {
                state.gather.done_through(rank, through);
            }
            rank
        };
        self.send_ready()?;
        Ok(rank)
    }

    /// Rank `rank` starts on `timestep`: it is done with the earlier ones.
    pub(crate) fn begin(&self, rank: u64, timestep: i64) -> Result<()> {
        self.progressed(rank, |r| r.begin(timestep), None)
    }

    /// Rank `rank` published its chunk `key`, held as `chunk` (`None`: dropped by
    /// back-pressure).
    pub(crate) fn published(&self, rank: u64, key: SourceKey, chunk: Option<Held>) -> Result<()> {
        let (array, timestep) = (key.array.clone(), key.timestep);
        let chunk = chunk.map(|chunk| (key, chunk));
        self.progressed(rank, |r| r.published(&array, timestep), chunk)
    }

    /// Rank `rank` moved on (`step`), holding `chunk` if any; sends what is ready when
    /// that can change anything: the rank is done with more, or the chunk is of a
    /// timestep already sent.
    fn progressed(
        &self,
        rank: u64,
        step: impl FnOnce(&mut RankIteration),
        chunk: Option<HeldChunk>,
    ) -> Result<()> {
        let changed = {
            let mut state = self.lock();
            let Some(iteration) = state.ranks.get_mut(&rank) else {
                return Ok(());
            };
            let before = iteration.done_through();
            step(iteration);
            let after = iteration.done_through();
            if let Some(through) = after {
                state.gather.done_through(rank, through);
            }
            let late = chunk
                .as_ref()
                .is_some_and(|(key, _)| Some(key.timestep) <= state.told);
            if let Some((key, chunk)) = chunk {
                state.gather.add(key.timestep, (key, chunk));
            }
            after > before || late
        };
        if changed {
            self.send_ready()?;
        }
        Ok(())
    }

    /// Sends what the ranks are done with: the chunks to the node's scheduling actor,
    /// then one report to its gate.
    fn send_ready(&self) -> Result<()> {
        let _sending = self.sending.lock().unwrap_or_else(|e| e.into_inner());
        let (ready, through) = {
            let mut state = self.lock();
            let ready = state.gather.take_ready();
            let worth = ready.worth_telling(state.told);
            let Some(through) = ready.through.filter(|_| worth) else {
                return Ok(());
            };
            state.told = state.told.max(Some(through));
            (ready.timesteps, through)
        };
        let mut announced = Vec::new();
        let mut chunks = Vec::new();
        for (timestep, held) in ready {
            let positions = held
                .iter()
                .map(|(key, _)| (key.array.clone(), std::iter::once(key.chunk.clone())));
            announced.extend(Announced::group(timestep, positions));
            chunks.extend(held);
        }
        self.hand_over(chunks)?;
        self.gate
            .report(&self.worker, self.id, through, announced)?;
        Ok(())
    }

    /// Hands chunks to the node's scheduling actor: one call per way they are held
    /// (streamed ones in batches of at most [`STREAM_BATCH_BYTES`]).
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
            self.lock().last_shared = Some(answer);
        }
        if !stored.is_empty() {
            self.scheduler.publish_many(&self.worker, stored)?;
        }
        Ok(())
    }

    /// Sends chunks to the node's scheduling actor in the call, one after the other in
    /// one buffer (a single chunk as it is).
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

    /// Rank `rank` is done, `timestep` its last; once every rank is, the gate is told
    /// (and through it the coordinator).
    pub(crate) fn rank_closed(&self, rank: u64, timestep: i64) -> Result<()> {
        {
            let mut state = self.lock();
            state.gather.close(rank);
            state.closed_at = state.closed_at.max(Some(timestep));
        }
        self.send_ready()?;
        let last = {
            let mut state = self.lock();
            let send = state.gather.all_closed() && !state.close_sent;
            state.close_sent |= send;
            state.closed_at.filter(|_| send)
        };
        if let Some(last) = last {
            self.wait_shared_taken();
            self.gate.leave(&self.worker, self.id, last)?;
        }
        Ok(())
    }

    /// Waits until the node mapped every chunk named to it in shared memory, so that
    /// this process may unlink its segments (and exit) without losing any.
    fn wait_shared_taken(&self) {
        let Some(last) = self.lock().last_shared.take() else {
            return;
        };
        if let Err(e) = self
            .worker
            .get_timeout(&last, Some(Duration::from_secs(30)))
        {
            tracing::warn!(error = %e, "the node did not confirm its shared chunks");
        }
    }
}

/// A pool in the shared memory of the node of `scheduler`, if this process is on its
/// host.
fn shared_pool(worker: &Worker, gate: NodeGateAddress) -> Result<Option<SegmentPool>> {
    let asked = gate.shared_dir(worker)?;
    let dir: Option<String> = worker.get(&asked)?;
    let pool =
        dir.and_then(|dir| SegmentPool::attach(std::path::Path::new(&dir), SHARED_POOL_BYTES));
    if pool.is_none() {
        tracing::info!("the node's shared memory is not on this host: streaming instead");
    }
    Ok(pool)
}
