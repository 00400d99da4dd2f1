//! The state of one node, as plain data and functions: the reference tables of the
//! workers it hosts, the tasks it submitted and runs, the objects it waits for. It is
//! driven by [`NodeEvent`]s and fills an [`Outbox`]; it never touches threads, sockets
//! or clocks, so it can be driven step by step in tests. The node actor
//! (`runtime::actor`) is the thin shell that feeds it.

mod membership;
mod objects;
mod tasks;
#[cfg(test)]
mod tests;

use crate::error::CoreError;
use crate::ids::{ActorId, NodeId, ObjectId, TaskId, WorkerId};
use crate::ownership::{Effect, LossReason, ProtocolMessage, RefTable, TableConfig};
use crate::registry::{ActorInstance, ArgBytes};
use crate::runtime::event::{Command, Envelope, NodeCounters, NodeEvent, NodeMessage};
use crate::runtime::get::GetRequest;
use crate::runtime::worker::{NodeShared, WorkerShared};
use crate::task::TaskSpec;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::VecDeque;
use std::sync::Arc;

/// Task bodies to run on the compute pool, in order: one task, or a batch of method
/// calls on one actor.
pub struct Job {
    pub tasks: Vec<(TaskSpec, Vec<ArgBytes>)>,
    pub worker: Arc<WorkerShared>,
    /// For methods: the instance to run them on (handed back when done).
    pub actor: Option<(ActorId, Box<dyn ActorInstance>)>,
}

/// What handling events produced, for the shell to carry out.
#[derive(Default)]
pub struct Outbox {
    pub messages: Vec<(NodeId, NodeMessage)>,
    pub jobs: Vec<Job>,
    pub stop: bool,
}

/// Something waiting for an object's value on this node.
enum ObjectWaiter {
    Get(Arc<GetRequest>, usize),
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
#[derive(Default)]
struct ActorSlot {
    instance: Option<Box<dyn ActorInstance>>,
    /// Method calls in arrival order; the head runs when its arguments are ready.
    queue: VecDeque<TaskId>,
    busy: bool,
    dead: Option<CoreError>,
}

/// The state of one node.
pub struct NodeState {
    pub id: NodeId,
    shared: Arc<NodeShared>,
    tables: FxHashMap<WorkerId, RefTable>,
    workers: FxHashMap<WorkerId, Arc<WorkerShared>>,
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
    failed: FxHashMap<ObjectId, CoreError>,
    /// Actor objects owned here: releasing one stops its actor.
    actor_objects: FxHashMap<ObjectId, (ActorId, NodeId)>,
    // executor side
    waiting: FxHashMap<TaskId, WaitingTask>,
    running: usize,
    actors: FxHashMap<ActorId, ActorSlot>,
    /// Actors that lived here and ended: calls to them fail at once.
    ended_actors: FxHashSet<ActorId>,
    /// Calls that arrived before their actor's creation (they come from other callers
    /// than the creator, over other connections): started once it arrives.
    unborn_calls: FxHashMap<ActorId, Vec<TaskSpec>>,
    /// Primary copies kept here for owners on other nodes.
    held_for_remote: FxHashSet<ObjectId>,
    // objects
    waiters: FxHashMap<ObjectId, Vec<ObjectWaiter>>,
    fetching: FxHashMap<ObjectId, NodeId>,
    /// `put_with_owner` calls waiting for their owner's answer.
    assignments: FxHashMap<ObjectId, (WorkerId, Arc<GetRequest>)>,
    /// Protocol messages between workers of this node, delivered in the same step.
    local_protocol: VecDeque<(WorkerId, WorkerId, crate::ownership::ProtocolMessage)>,
    effects: Vec<Effect>,
    pub out: Outbox,
    pub counters: NodeCounters,
}

impl NodeState {
    /// A node with its executor worker (index 0) and the given extra workers (drivers).
    pub fn new(shared: Arc<NodeShared>, nodes: &[NodeId]) -> Self {
        let id = shared.id;
        let executor = WorkerId::new(id, 0);
        let mut state = NodeState {
            id,
            shared,
            tables: FxHashMap::default(),
            workers: FxHashMap::default(),
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
            held_for_remote: FxHashSet::default(),
            waiters: FxHashMap::default(),
            fetching: FxHashMap::default(),
            assignments: FxHashMap::default(),
            local_protocol: VecDeque::new(),
            effects: Vec::new(),
            out: Outbox::default(),
            counters: NodeCounters::default(),
        };
        state.add_worker(executor);
        state
    }

    /// Hosts a new worker here (the executor, or a driver); returns its shared handle.
    pub fn add_worker(&mut self, worker: WorkerId) -> Arc<WorkerShared> {
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
        let shared = Arc::new(WorkerShared::new(worker, self.shared.clone()));
        self.workers.insert(worker, shared.clone());
        shared
    }

    pub(crate) fn store(&self) -> &crate::ObjectStore {
        &self.shared.store
    }

    /// The workers hosted here.
    pub fn worker_ids(&self) -> Vec<WorkerId> {
        let mut ids: Vec<WorkerId> = self.tables.keys().copied().collect();
        ids.sort();
        ids
    }

    pub fn executor(&self) -> Arc<WorkerShared> {
        self.workers[&self.executor].clone()
    }

    /// Records on every local table that `worker` (hosted elsewhere) is a live peer.
    pub fn add_peer(&mut self, worker: WorkerId) {
        for table in self.tables.values_mut() {
            table.add_peer(worker);
        }
    }

    /// Handles one event; results accumulate in `self.out`.
    pub fn handle(&mut self, event: NodeEvent) {
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

    fn on_command(&mut self, command: Command) {
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
                    done.fill(0, Ok(bytes::Bytes::new()));
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
    fn put_with_owner(
        &mut self,
        worker: WorkerId,
        id: ObjectId,
        owner: WorkerId,
        done: Arc<GetRequest>,
    ) {
        if self.dead_nodes.contains(&owner.node()) || !self.live_nodes.contains(&owner.node()) {
            done.fill(0, Err(CoreError::OwnerDied(id)));
            return;
        }
        self.table(worker).put_with_owner(id, owner);
        if owner.node() != self.id {
            self.held_for_remote.insert(id);
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
                self.fail_object(id, CoreError::ObjectFreed(id));
            }
            Effect::Forgotten { id } => {
                if !self.tables.values().any(|t| t.has(id)) {
                    self.failed.remove(&id);
                }
            }
            Effect::Lost { id, reason } => {
                let error = match reason {
                    LossReason::OwnerDied => CoreError::OwnerDied(id),
                    reason => CoreError::ObjectLost { id, reason },
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
    pub fn stopped(&mut self, leftovers: Vec<NodeEvent>) {
        for (_, waiters) in self.waiters.drain() {
            for waiter in waiters {
                if let ObjectWaiter::Get(request, index) = waiter {
                    request.fill(index, Err(CoreError::Stopped));
                }
            }
        }
        for (_, (_, done)) in self.assignments.drain() {
            done.fill(0, Err(CoreError::Stopped));
        }
        for event in leftovers {
            if let NodeEvent::Command(command) = event {
                command.refuse_stopped();
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

    /// Tasks submitted here and not finished, waiting for arguments, and running.
    pub fn task_counts(&self) -> (usize, usize, usize) {
        (self.pending.len(), self.waiting.len(), self.running)
    }
}
