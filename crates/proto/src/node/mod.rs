//! The state machine of one node, as plain data and functions: the reference tables
//! of the workers it hosts, the tasks it submitted and runs, the objects it waits for.
//! It is driven by [`NodeEvent`]s and fills an [`Outbox`] (messages to other nodes,
//! jobs to run, waiters to fill); it touches no thread, socket or clock, and reaches
//! the node's object store only through its [`Host`]. So it can be driven step by step
//! in tests, and the `sim` feature runs whole clusters of it deterministically. The
//! runtime's node actor is the thin shell that feeds it and carries out its outbox.

mod event;
mod membership;
#[cfg(any(test, feature = "sim"))]
pub mod memory;
mod message;
mod objects;
#[cfg(feature = "sim")]
pub mod sim;
mod status;
mod tasks;
#[cfg(test)]
mod tests;

pub use event::{Command, Computed, Fill, Job, NodeCounters, NodeEvent, TaskOutput, Waiter};
pub use message::{Envelope, NodeMessage};
pub use status::{NodeStatus, StoreSummary};

use crate::error::ProtoError;
use crate::ids::{ActorId, NodeId, ObjectId, TaskId, WorkerId};
use crate::ownership::{Effect, LossReason, ProtocolMessage, RefTable, TableConfig};
use crate::task::{ArgBytes, TaskSpec};
use bytes::Bytes;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::VecDeque;

/// What the node state machine needs from its surroundings: the node's object store,
/// and the types of what it keeps without looking inside (waiters, actor instances).
pub trait Host {
    /// Something waiting for values (a pending `get`).
    type Waiter: Waiter;
    /// A live actor instance.
    type Instance;
    /// Whether the store holds `id`.
    fn contains(&self, id: ObjectId) -> bool;
    /// The stored value of `id`, if any.
    fn get(&self, id: ObjectId) -> Result<Option<Bytes>, ProtoError>;
    /// Stores `bytes` as `id`: the primary copy (pinned), or a secondary one (a cache).
    fn put(&mut self, id: ObjectId, bytes: Bytes, primary: bool) -> Result<(), ProtoError>;
    /// Drops the stored copy of `id`, if any.
    fn delete(&mut self, id: ObjectId);
}

/// The event type of a node whose host is `H`.
pub type EventOf<H> = NodeEvent<<H as Host>::Waiter, <H as Host>::Instance>;

/// What handling events produced, for the shell to carry out.
pub struct Outbox<W, I> {
    pub messages: Vec<(NodeId, NodeMessage)>,
    pub jobs: Vec<Job<I>>,
    /// Values (or errors) for waiters: fill them after the step.
    pub fills: Vec<Fill<W>>,
    /// Membership changed: a node now takes spread tasks (`true`) or not any more.
    pub spread: Vec<(NodeId, bool)>,
    pub stop: bool,
}

impl<W, I> Default for Outbox<W, I> {
    fn default() -> Self {
        Outbox {
            messages: Vec::new(),
            jobs: Vec::new(),
            fills: Vec::new(),
            spread: Vec::new(),
            stop: false,
        }
    }
}

/// Something waiting for an object's value on this node.
enum ObjectWaiter<W> {
    Get(W, usize),
    Arg(TaskId, usize),
    Fetch(NodeId),
}

/// A task submitted by a worker of this node, not finished. (The spec of a task that
/// may be re-run stays in `lineage`.)
struct PendingTask {
    executor: NodeId,
    caller: WorkerId,
    num_returns: u32,
    referenced: Vec<ObjectId>,
    retries: u32,
    actor: Option<ActorId>,
}

/// A task accepted here, waiting for argument values.
struct WaitingTask {
    spec: TaskSpec,
    args: Vec<Option<ArgBytes>>,
    missing: usize,
}

/// An actor living here.
struct ActorSlot<I> {
    instance: Option<I>,
    /// Method calls in arrival order; the head runs when its arguments are ready.
    queue: VecDeque<TaskId>,
    busy: bool,
    dead: Option<ProtoError>,
}

impl<I> Default for ActorSlot<I> {
    fn default() -> Self {
        ActorSlot {
            instance: None,
            queue: VecDeque::new(),
            busy: false,
            dead: None,
        }
    }
}

/// The state of one node.
pub struct NodeState<H: Host> {
    pub id: NodeId,
    host: H,
    tables: FxHashMap<WorkerId, RefTable>,
    /// The worker that runs the tasks sent to this node.
    executor: WorkerId,
    /// Deaths applied (one per worker), stamped on outgoing messages.
    epoch: u64,
    dead_nodes: FxHashSet<NodeId>,
    live_nodes: Vec<NodeId>,
    /// Messages sent after a death this node has not heard of yet: they wait for it
    /// (membership news reach nodes at different times; the barrier needs the order).
    early: Vec<Envelope>,
    // caller side
    pending: FxHashMap<TaskId, PendingTask>,
    lineage: FxHashMap<TaskId, TaskSpec>,
    /// Owned here, primary copy on another node.
    primary_elsewhere: FxHashMap<ObjectId, NodeId>,
    /// Values that cannot be obtained, and why.
    failed: FxHashMap<ObjectId, ProtoError>,
    /// Actor objects owned here: releasing one stops its actor.
    actor_objects: FxHashMap<ObjectId, (ActorId, NodeId)>,
    // executor side
    waiting: FxHashMap<TaskId, WaitingTask>,
    running: usize,
    actors: FxHashMap<ActorId, ActorSlot<H::Instance>>,
    /// Actors that lived here and ended: calls to them fail at once.
    ended_actors: FxHashSet<ActorId>,
    /// Calls that arrived before their actor's creation (they come from other callers
    /// than the creator, over other connections): started once it arrives.
    unborn_calls: FxHashMap<ActorId, Vec<TaskSpec>>,
    /// Primary copies kept here for owners on other nodes.
    /// Primary copies kept here for their owners on other nodes, with the owner.
    held_for_remote: FxHashMap<ObjectId, WorkerId>,
    // objects
    waiters: FxHashMap<ObjectId, Vec<ObjectWaiter<H::Waiter>>>,
    fetching: FxHashMap<ObjectId, NodeId>,
    /// `put_with_owner` calls waiting for their owner's answer.
    assignments: FxHashMap<ObjectId, (WorkerId, H::Waiter)>,
    /// Protocol messages between workers of this node, delivered in the same step.
    local_protocol: VecDeque<(WorkerId, WorkerId, ProtocolMessage)>,
    effects: Vec<Effect>,
    /// Return values up to this size travel in the task's reply.
    inline_return_max: usize,
    pub out: Outbox<H::Waiter, H::Instance>,
    pub counters: NodeCounters,
}

impl<H: Host> NodeState<H> {
    /// Node `id` of a cluster of `nodes`, with its executor worker (index 0); drivers
    /// join with [`NodeState::add_worker`].
    pub fn new(id: NodeId, host: H, nodes: &[NodeId]) -> Self {
        let executor = WorkerId::new(id, 0);
        let mut state = NodeState {
            id,
            host,
            tables: FxHashMap::default(),
            executor,
            epoch: 0,
            dead_nodes: FxHashSet::default(),
            live_nodes: nodes.to_vec(),
            early: Vec::new(),
            pending: FxHashMap::default(),
            lineage: FxHashMap::default(),
            primary_elsewhere: FxHashMap::default(),
            failed: FxHashMap::default(),
            actor_objects: FxHashMap::default(),
            waiting: FxHashMap::default(),
            running: 0,
            actors: FxHashMap::default(),
            ended_actors: FxHashSet::default(),
            unborn_calls: FxHashMap::default(),
            held_for_remote: FxHashMap::default(),
            waiters: FxHashMap::default(),
            fetching: FxHashMap::default(),
            assignments: FxHashMap::default(),
            local_protocol: VecDeque::new(),
            effects: Vec::new(),
            inline_return_max: tasks::INLINE_RETURN_MAX,
            out: Outbox::default(),
            counters: NodeCounters::default(),
        };
        state.add_worker(executor);
        state
    }

    /// Hosts a new worker here (the executor, or a driver).
    pub fn add_worker(&mut self, worker: WorkerId) {
        let mut table = RefTable::new(worker, TableConfig::default());
        table.start_at_death_epoch(self.epoch);
        for &node in &self.live_nodes {
            // Peers: the executor of every node and the workers of this one.
            table.add_peer(WorkerId::new(node, 0));
        }
        for &other in self.tables.keys() {
            table.add_peer(other);
        }
        for table_of_other in self.tables.values_mut() {
            table_of_other.add_peer(worker);
        }
        self.tables.insert(worker, table);
    }

    /// Return values of tasks run here for callers elsewhere travel in the reply up to
    /// `bytes`; larger ones stay in this node's store until their owner frees them.
    pub fn set_inline_return_max(&mut self, bytes: usize) {
        self.inline_return_max = bytes;
    }

    /// The host (the node's store and what the shell keeps there).
    pub fn host(&self) -> &H {
        &self.host
    }

    /// The workers hosted here.
    pub fn worker_ids(&self) -> Vec<WorkerId> {
        let mut ids: Vec<WorkerId> = self.tables.keys().copied().collect();
        ids.sort();
        ids
    }

    /// The worker that runs the tasks sent to this node.
    pub fn executor(&self) -> WorkerId {
        self.executor
    }

    /// Records on every local table that `worker` (hosted elsewhere) is a live peer.
    pub fn add_peer(&mut self, worker: WorkerId) {
        for table in self.tables.values_mut() {
            table.add_peer(worker);
        }
    }

    /// Handles one event; results accumulate in `self.out`.
    pub fn handle(&mut self, event: EventOf<H>) {
        match event {
            NodeEvent::Command(command) => self.on_command(command),
            NodeEvent::Remote(envelope) => self.on_remote(envelope),
            NodeEvent::Computed(done) => self.on_computed(*done),
            NodeEvent::NodeJoined {
                node,
                workers,
                takes_tasks,
            } => self.on_node_joined(node, workers, takes_tasks),
            NodeEvent::NodeLeft { node, workers } => {
                self.on_node_left(node, workers);
                self.deliver_early();
            }
            NodeEvent::Stop => self.out.stop = true,
        }
        self.settle();
    }

    fn on_command(&mut self, command: Command<H::Waiter>) {
        match command {
            Command::Put { worker, id, nested } => {
                let node = self.id;
                self.table(worker).put(id, &nested, Some(node));
                self.object_arrived(id);
            }
            Command::PutWithOwner {
                worker,
                id,
                owner,
                done,
            } => self.put_with_owner(worker, id, owner, done),
            Command::Drop { worker, id } => self.table(worker).remove_local(id),
            Command::Deserialized {
                worker,
                id,
                owner,
                outer,
            } => self.table(worker).deserialize_ref(id, owner, outer),
            Command::Submit { worker, spec } => self.submit(worker, spec),
            Command::Get { worker, request } => self.get(worker, request),
            Command::Free { worker, ids } => self.table(worker).free(&ids),
        }
    }

    /// Delivers the early messages whose deaths are now applied, in arrival order
    /// (a sender's epochs only grow, so each sender's messages stay in order).
    fn deliver_early(&mut self) {
        if self.early.is_empty() {
            return;
        }
        let epoch = self.epoch;
        let (due, still_early): (Vec<Envelope>, Vec<Envelope>) = std::mem::take(&mut self.early)
            .into_iter()
            .partition(|e| e.epoch <= epoch);
        self.early = still_early;
        for envelope in due {
            self.on_remote(envelope);
        }
    }

    fn on_remote(&mut self, envelope: Envelope) {
        if envelope.epoch > self.epoch {
            self.early.push(envelope);
            return;
        }
        if self.dead_nodes.contains(&envelope.from) {
            return;
        }
        match envelope.message {
            NodeMessage::Protocol { from, to, message } => self.deliver_protocol(from, to, message),
            NodeMessage::Task(spec) => self.accept_task(spec),
            NodeMessage::Reply(reply) => self.on_reply(reply),
            NodeMessage::Fetch { id, requester } => self.on_fetch(id, requester),
            NodeMessage::Object { id, data } => self.on_object(id, data),
            NodeMessage::ObjectFailed { id, error } => self.on_object_failed(id, error),
            NodeMessage::Free { ids } => self.on_free(&ids),
            NodeMessage::KillActor { actor } => self.kill_actor(actor),
        }
    }

    /// Hands a protocol message to worker `to`'s table, noting where adopted objects
    /// are and completing `put_with_owner` calls.
    fn deliver_protocol(&mut self, from: WorkerId, to: WorkerId, message: ProtocolMessage) {
        let adopted = match &message {
            ProtocolMessage::AssignOwner { id } => Some(*id),
            ProtocolMessage::OwnerAssigned { id } => {
                if let Some((_, done)) = self.assignments.remove(id) {
                    self.out.fills.push((done, 0, Ok(Bytes::new())));
                }
                None
            }
            _ => None,
        };
        let Some(table) = self.tables.get_mut(&to) else {
            return;
        };
        table.handle_message(from, message);
        if let Some(id) = adopted {
            // The putter's node holds the primary copy.
            table.object_pinned_at(id, from.node());
            if from.node() != self.id {
                self.primary_elsewhere.insert(id, from.node());
            }
        }
    }

    /// `worker` put `id` (stored here) on behalf of `owner`.
    fn put_with_owner(&mut self, worker: WorkerId, id: ObjectId, owner: WorkerId, done: H::Waiter) {
        if self.dead_nodes.contains(&owner.node()) || !self.live_nodes.contains(&owner.node()) {
            self.out
                .fills
                .push((done, 0, Err(ProtoError::OwnerDied(id))));
            return;
        }
        self.table(worker).put_with_owner(id, owner);
        if owner.node() != self.id {
            self.held_for_remote.insert(id, owner);
        }
        self.assignments.insert(id, (owner, done));
    }

    fn table(&mut self, worker: WorkerId) -> &mut RefTable {
        self.tables
            .get_mut(&worker)
            .unwrap_or_else(|| panic!("{worker:?} is not hosted on this node"))
    }

    /// Sends `message` to `node` (handled at once when it is this node).
    fn send(&mut self, node: NodeId, message: NodeMessage) {
        if node == self.id {
            let envelope = Envelope {
                from: self.id,
                epoch: self.epoch,
                message,
            };
            self.on_remote(envelope);
        } else if !self.dead_nodes.contains(&node) {
            self.counters.messages_sent += 1;
            self.out.messages.push((node, message));
        }
    }

    /// This node joins a cluster where `deaths` worker deaths were applied already.
    pub fn start_at_epoch(&mut self, deaths: u64) {
        self.epoch = deaths;
        for table in self.tables.values_mut() {
            table.start_at_death_epoch(deaths);
        }
    }

    /// The epoch to stamp on outgoing messages.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Carries out what the reference tables decided, until nothing is left.
    fn settle(&mut self) {
        loop {
            let mut any = false;
            let workers: Vec<WorkerId> = self.tables.keys().copied().collect();
            for worker in workers {
                let mut effects = std::mem::take(&mut self.effects);
                self.table(worker).drain_effects_into(&mut effects);
                if effects.is_empty() {
                    self.effects = effects;
                    continue;
                }
                any = true;
                for effect in effects.drain(..) {
                    self.apply_effect(worker, effect);
                }
                self.effects = effects;
            }
            while let Some((from, to, message)) = self.local_protocol.pop_front() {
                any = true;
                self.deliver_protocol(from, to, message);
            }
            if !any {
                break;
            }
        }
    }

    fn apply_effect(&mut self, worker: WorkerId, effect: Effect) {
        match effect {
            Effect::Send { to, message } => {
                if to.node() == self.id {
                    self.local_protocol.push_back((worker, to, message));
                } else {
                    self.send(
                        to.node(),
                        NodeMessage::Protocol {
                            from: worker,
                            to,
                            message,
                        },
                    );
                }
            }
            Effect::ReleaseValue { id, owned: true } => self.release_owned(id),
            Effect::ReleaseValue { id, owned: false } => self.release_copy(id),
            Effect::FreedOnRequest { id } => {
                self.release_owned(id);
                self.fail_object(id, ProtoError::ObjectFreed(id));
            }
            Effect::Forgotten { id } => {
                if !self.tables.values().any(|t| t.has(id)) {
                    self.failed.remove(&id);
                }
            }
            Effect::Lost { id, reason } => {
                let error = match reason {
                    LossReason::OwnerDied => ProtoError::OwnerDied(id),
                    reason => ProtoError::ObjectLost { id, reason },
                };
                self.fail_object(id, error);
            }
            Effect::Reconstruct { id, task } => self.reconstruct(worker, id, task),
            Effect::LineageReleased { task } => {
                self.lineage.remove(&task);
            }
        }
    }

    /// Number of records in the reference tables of this node (for tests and status).
    pub fn records(&self) -> usize {
        self.tables.values().map(RefTable::len).sum()
    }

    /// The node stops: everyone waiting on it (gets, puts for another owner, commands
    /// it will not handle) fails with `Stopped` instead of waiting forever.
    pub fn stopped(&mut self, leftovers: Vec<EventOf<H>>) {
        for (_, waiters) in self.waiters.drain() {
            for waiter in waiters {
                if let ObjectWaiter::Get(request, index) = waiter {
                    self.out
                        .fills
                        .push((request, index, Err(ProtoError::Stopped)));
                }
            }
        }
        for (_, (_, done)) in self.assignments.drain() {
            self.out.fills.push((done, 0, Err(ProtoError::Stopped)));
        }
        for event in leftovers {
            if let NodeEvent::Command(command) = event {
                self.out.fills.extend(command.refusals());
            }
        }
    }

    /// One line per reference-table record of this node: worker, object, record.
    pub fn describe_records(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (worker, table) in &self.tables {
            for id in table.ids() {
                let record = table.describe(id).unwrap_or_default();
                lines.push(format!("{worker:?} {id:?} {record}"));
            }
        }
        lines
    }

    /// One line per task submitted here and not finished, and per task waiting here
    /// for arguments (diagnostics: what a node still waits for).
    pub fn describe_tasks(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .pending
            .iter()
            .map(|(task, p)| format!("pending {task:?} on {:?}", p.executor))
            .collect();
        lines.extend(
            self.waiting
                .iter()
                .map(|(task, w)| format!("waiting {task:?}: {} arguments missing", w.missing)),
        );
        lines.sort();
        lines
    }

    /// Tasks submitted here and not finished, waiting for arguments, and running.
    pub fn task_counts(&self) -> (usize, usize, usize) {
        (self.pending.len(), self.waiting.len(), self.running)
    }
}
