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
//! The bridge is a thin shell: its decisions are those of `state::BridgeState`,
//! plain state whose handlers queue actions; the shell carries them out in order
//! through a `link::BridgeLink` (the session's actors, or a fake in tests). The
//! coordinator tells the bridge how far the analytics got, its contract and the
//! steering values asked for through the bridge's inbox (`crate::inbox`); a rank
//! that must wait for one of these waits on the bridge, until the notice comes or its
//! bound passes. `hold.rs` chooses how each chunk is held, `pace.rs` has the waits.

mod hold;
mod link;
mod pace;
pub(crate) mod state;

use crate::coordinator::state::Progress;
use crate::decl::{AheadPolicy, ChunkDecl};
use crate::error::{InsituError, Result};
use crate::inbox::{BridgeInbox, BridgeInboxHandle, Inboxes, NoticeSink};
use crate::notice::{Notice, Registration};
use crate::session_info::SessionInfo;
use crate::shm::{SegmentPool, SharedChunk};
use doreisa_core::{Blob, DepartureWatch, NodeId, ObjectRef, TaskOptions, Worker};
use doreisa_sched::SourceKey;
use link::{ActorLink, BridgeLink};
use state::{BridgeState, Pacing};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How a bridge behaves.
#[derive(Debug, Clone, Copy)]
pub struct BridgeOptions {
    /// How many timesteps the simulation may run ahead of the analytics.
    pub max_ahead: i64,
    pub policy: AheadPolicy,
    pub delivery: Delivery,
    /// The bound on every wait of the simulation: for the analytics to catch up
    /// (back-pressure: the publish then fails, and the bridge's later chunks are
    /// dropped until the analytics moves again), for an answer of the session's actors.
    pub timeout: Duration,
}

impl Default for BridgeOptions {
    fn default() -> Self {
        BridgeOptions {
            max_ahead: 2,
            policy: AheadPolicy::Block,
            delivery: Delivery::Reference,
            timeout: Duration::from_secs(300),
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
#[derive(Debug)]
pub(crate) enum Held {
    Stored(ObjectRef<Blob>),
    Shared(SharedChunk),
    Bytes(Blob),
}

/// A rank's published chunk, as the bridge holds it until the iteration is done.
type HeldChunk = (SourceKey, Held);

/// The state and what signals its changes: shared by the bridge's ranks and its
/// inbox, which hands it the coordinator's notices.
struct Shared {
    state: Mutex<BridgeState<Held>>,
    /// Signalled when a notice came (a rank may be waiting for it).
    changed: Condvar,
}

impl NoticeSink for Shared {
    fn receive(&self, notice: Notice) {
        {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            match notice {
                Notice::Progress { seq, progress } => state.on_progress(seq, progress),
                Notice::Contract(contract) => state.on_contract(contract),
                Notice::Feedback {
                    key,
                    timestep,
                    value,
                } => state.on_feedback(key, timestep, value),
            }
        }
        self.changed.notify_all();
    }
}

impl Shared {
    /// The analytics' coordinator was lost with `node`: no notice will come any more,
    /// so the ranks waiting for one are woken (their waits end).
    fn analytics_lost(&self, node: NodeId) {
        tracing::warn!(?node, "the analytics' coordinator was lost with its node");
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .on_analytics_lost(node);
        self.changed.notify_all();
    }
}

/// The bridge's inbox: the actor the coordinator calls, and its number in this
/// process (its notices stop with the bridge).
struct Inbox {
    actor: BridgeInboxHandle,
    inboxes: Arc<Inboxes>,
    id: u64,
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.inboxes.close(self.id);
    }
}

/// The publishing side of one node in one process.
pub struct Bridge {
    node: NodeId,
    options: BridgeOptions,
    link: Box<dyn BridgeLink>,
    /// This bridge's segments in the node's shared memory ([`Delivery::Shared`] with
    /// the node on this host).
    pool: Option<Mutex<SegmentPool>>,
    shared: Arc<Shared>,
    /// Held while carrying out the state's actions, so that they leave in the order
    /// they were queued, whichever rank's thread queued them.
    sending: Mutex<()>,
    _inbox: Option<Inbox>,
    /// Tells the state when the coordinator is lost with its node (the analytics'
    /// process died): it sends no notice then, and the ranks would wait in vain.
    _coordinator_watch: Option<DepartureWatch>,
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
    /// with [`Delivery::Reference`], in transit with [`Delivery::Stream`]). A bridge
    /// for no rank is allowed (a node with no rank): it holds nothing back.
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
        let inboxes = worker.registry().extension::<Inboxes>().ok_or_else(|| {
            InsituError::Runtime(doreisa_core::CoreError::Invalid(
                "the in situ layer is not registered (doreisa::registry())".into(),
            ))
        })?;
        let shared = Arc::new(Shared {
            state: Mutex::new(BridgeState::new(ranks, pacing(&options))),
            changed: Condvar::new(),
        });
        let sink: Arc<dyn NoticeSink> = shared.clone();
        let id = inboxes.open(Arc::downgrade(&sink));
        let inbox = Inbox {
            actor: BridgeInbox::create(worker, TaskOptions::on(worker.node()), id)?,
            inboxes,
            id,
        };
        let lost = Arc::downgrade(&shared);
        let coordinator_watch = worker.watch_actor(info.coordinator.address, move |node| {
            if let Some(shared) = lost.upgrade() {
                shared.analytics_lost(node);
            }
        });
        let within = Some(options.timeout);
        worker.get_timeout(inbox.actor.actor.created(), within)?;
        let registered = info.coordinator.register_bridge(
            worker,
            node,
            ranks as u64,
            Some(inbox.actor.address()),
            options.delivery != Delivery::Reference,
        )?;
        let registration: Registration = worker.get_timeout(&registered, within)?;
        {
            let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            state.on_progress(registration.seq, registration.progress);
            if let Some(contract) = registration.contract {
                state.on_contract(contract);
            }
        }
        gate.join(worker, registration.id)?;
        let pool = match options.delivery {
            Delivery::Shared => shared_pool(worker, gate, options.timeout)?.map(Mutex::new),
            _ => None,
        };
        let link = ActorLink {
            worker: worker.clone(),
            node,
            id: registration.id,
            coordinator: info.coordinator,
            scheduler,
            gate,
            last_shared: Mutex::new(None),
        };
        let bridge = Arc::new(Bridge {
            node,
            options,
            link: Box::new(link),
            pool,
            shared,
            sending: Mutex::new(()),
            _inbox: Some(inbox),
            _coordinator_watch: Some(coordinator_watch),
        });
        // A bridge for no rank leaves at once.
        bridge.flush()?;
        Ok(bridge)
    }

    /// A bridge for `ranks` ranks that reaches the session through `link`, its notices
    /// handed to it by [`Bridge::receive`] (the tests' fake session).
    #[cfg(test)]
    fn with_link(ranks: usize, options: BridgeOptions, link: Box<dyn BridgeLink>) -> Arc<Bridge> {
        let bridge = Arc::new(Bridge {
            node: NodeId(0),
            options,
            link,
            pool: None,
            shared: Arc::new(Shared {
                state: Mutex::new(BridgeState::new(ranks, pacing(&options))),
                changed: Condvar::new(),
            }),
            sending: Mutex::new(()),
            _inbox: None,
            _coordinator_watch: None,
        });
        bridge.flush().expect("the fake link takes everything");
        bridge
    }

    /// Hands a notice to this bridge, as its inbox does.
    #[cfg(test)]
    fn receive(&self, notice: Notice) {
        self.shared.receive(notice);
    }

    pub fn node(&self) -> NodeId {
        self.node
    }

    pub fn stats(&self) -> BridgeStats {
        self.lock().stats()
    }

    /// The analytics' progress, as this bridge last heard of it.
    pub fn progress(&self) -> Progress {
        self.lock().progress()
    }

    /// The worker of this process, for preprocessing kernels.
    pub(crate) fn worker(&self) -> Option<&Worker> {
        self.link.worker()
    }

    fn lock(&self) -> MutexGuard<'_, BridgeState<Held>> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `handler` on the state, then carries out the actions it queued.
    fn act<R>(&self, handler: impl FnOnce(&mut BridgeState<Held>) -> R) -> Result<R> {
        let outcome = handler(&mut self.lock());
        self.flush()?;
        Ok(outcome)
    }

    /// Carries out the actions queued so far, in order.
    fn flush(&self) -> Result<()> {
        if self.lock().out.is_empty() {
            return Ok(());
        }
        let _sending = self.sending.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let actions = std::mem::take(&mut self.lock().out);
            if actions.is_empty() {
                return Ok(());
            }
            for action in actions {
                self.link.send(action)?;
            }
        }
    }

    /// A rank of this bridge declares the chunks it will publish; returns its number
    /// in this bridge.
    pub(crate) fn attach(&self, decls: &[ChunkDecl]) -> Result<u64> {
        self.act(|state| state.attach(decls.to_vec()))?
    }

    /// Rank `rank` is rank `label` of its communicator (how errors name it).
    pub(crate) fn label(&self, rank: u64, label: u64) -> Result<()> {
        self.act(|state| state.label(rank, label))
    }

    /// Rank `rank` starts on `timestep`: it is done with the earlier ones.
    pub(crate) fn begin(&self, rank: u64, timestep: i64) -> Result<()> {
        self.act(|state| state.begin(rank, timestep))
    }

    /// Rank `rank` published its chunk `key`, held as `chunk` (`None`: dropped by
    /// back-pressure).
    pub(crate) fn published(&self, rank: u64, key: SourceKey, chunk: Option<Held>) -> Result<()> {
        self.act(|state| state.published(rank, key, chunk))
    }

    /// Rank `rank` is done, `timestep` its last and `last` the last it published; once
    /// every rank is, the bridge leaves.
    pub(crate) fn rank_closed(&self, rank: u64, timestep: i64, last: Option<i64>) -> Result<()> {
        self.act(|state| state.rank_closed(rank, timestep, last))
    }
}

/// How a bridge with `options` paces its ranks.
fn pacing(options: &BridgeOptions) -> Pacing {
    Pacing {
        max_ahead: options.max_ahead,
        policy: options.policy,
    }
}

/// A pool in the shared memory of `gate`'s node, if this process is on its host.
fn shared_pool(
    worker: &Worker,
    gate: crate::gate::NodeGateAddress,
    within: Duration,
) -> Result<Option<SegmentPool>> {
    let asked = gate.shared_dir(worker)?;
    let dir: Option<String> = worker.get_timeout(&asked, Some(within))?;
    let pool =
        dir.and_then(|dir| SegmentPool::attach(std::path::Path::new(&dir), SHARED_POOL_BYTES));
    if pool.is_none() {
        tracing::info!("the node's shared memory is not on this host: streaming instead");
    }
    Ok(pool)
}

#[cfg(test)]
mod tests;
