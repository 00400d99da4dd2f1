//! A deterministic multi-worker simulator for the ownership protocol (test support).
//!
//! The simulator is the whole world: N workers, each with its own [`RefTable`]; a queue
//! of in-flight messages that a test delivers in order, out of order, or not at all;
//! deaths applied in membership order; and the ground truth a test checks the protocol
//! against (the handles each worker really holds, the values in existence and the refs
//! nested in them). Nothing here uses threads, clocks or randomness: a test (or the
//! random program generator in `tests/`) decides every step.
//!
//! Values are modelled by the refs nested in them; where a value lives does not matter
//! to reference counting, so it is stored once, in the simulator.

mod invariants;
pub mod random;

use super::message::{BorrowReport, Effect, LossReason, ProtocolMessage};
use super::table::{FinishedTask, RefTable, SubmittedTask, TableConfig};
use crate::ids::{IdMinter, ObjectId, TaskId, WorkerId};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::VecDeque;

/// A task as its caller submitted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSpec {
    pub task: TaskId,
    pub caller: WorkerId,
    /// Refs in the spec, with their owners.
    pub args: Vec<(ObjectId, WorkerId)>,
    pub num_returns: u32,
    pub retryable: bool,
}

impl TaskSpec {
    /// Return value `index` (starting at 1).
    pub fn ret(&self, index: u32) -> ObjectId {
        self.task.return_id(index)
    }

    pub fn arg_ids(&self) -> Vec<ObjectId> {
        self.args.iter().map(|&(id, _)| id).collect()
    }
}

/// A task being run by an executor.
#[derive(Debug, Clone)]
pub struct Execution {
    pub spec: TaskSpec,
    pub executor: WorkerId,
    /// Refs the executor stored in each return value so far.
    pub returns: Vec<(ObjectId, Vec<(ObjectId, WorkerId)>)>,
}

/// The reply of a finished task, on its way to the caller.
#[derive(Debug, Clone)]
pub struct TaskReply {
    pub spec: TaskSpec,
    pub executor: WorkerId,
    pub report: BorrowReport,
    pub returns: Vec<(ObjectId, Vec<(ObjectId, WorkerId)>)>,
}

/// What travels between workers.
#[derive(Debug, Clone)]
pub enum Payload {
    Protocol(ProtocolMessage),
    /// Membership notice: apply deaths up to this epoch.
    Deaths {
        epoch: u64,
    },
    /// A task submission (caller → executor).
    Submit(TaskSpec),
    /// A task reply (executor → caller).
    Reply(TaskReply),
}

/// A message in flight, stamped with its sender's death epoch.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub from: WorkerId,
    pub to: WorkerId,
    pub epoch: u64,
    pub payload: Payload,
}

/// Why a simulated `get` did not return a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetError {
    /// The owner died (the answer holders must get, never a hang).
    OwnerDied,
    /// The owner is dead but this worker does not know it yet: the get waits for the
    /// membership notice, which will fail it.
    Waiting,
    /// The value was freed while this worker held a ref to it: a protocol bug.
    Freed,
    /// The value does not exist yet (its task has not returned).
    NotReady,
}

/// One simulated worker.
#[derive(Debug)]
pub struct SimWorker {
    pub id: WorkerId,
    pub table: RefTable,
    pub alive: bool,
    minter: IdMinter,
    /// Ground truth: handle groups this worker's program holds, by id.
    pub(crate) handles: FxHashMap<ObjectId, u32>,
    /// Ground truth: tasks this worker submitted that have not replied or failed, with
    /// the worker running them once known.
    pub(crate) outstanding: Vec<(TaskSpec, Option<WorkerId>)>,
    /// Tasks this worker is running (used by drivers that queue submissions).
    pub running: Vec<Execution>,
    /// Gets waiting for the owner's death to be learnt; each holds a handle group, as a
    /// blocked `get` holds its ref.
    pub(crate) waiting_gets: FxHashMap<ObjectId, u32>,
    /// Owned values this worker released, in order.
    pub released: Vec<ObjectId>,
    /// Values this worker learnt are lost, in order.
    pub lost: Vec<(ObjectId, LossReason)>,
    /// Reconstructions requested, in order.
    pub reconstruct: Vec<(ObjectId, TaskId)>,
    /// Task lineage released, in order.
    pub lineage_released: Vec<TaskId>,
}

/// A value in existence.
#[derive(Debug, Clone)]
pub(crate) struct Value {
    pub owner: WorkerId,
    pub nested: Vec<(ObjectId, WorkerId)>,
}

/// The simulated world.
#[derive(Debug)]
pub struct Sim {
    workers: Vec<SimWorker>,
    queue: VecDeque<Envelope>,
    /// Membership order of deaths.
    deaths: Vec<WorkerId>,
    /// Values in existence: their owner and the refs nested in them.
    values: FxHashMap<ObjectId, Value>,
    /// Values released, with their owner.
    freed: FxHashMap<ObjectId, WorkerId>,
    /// Values freed explicitly by their owner (not a protocol decision).
    freed_on_request: FxHashSet<ObjectId>,
    /// Values released by their owner while a live worker still used them.
    violations: Vec<String>,
    /// Delivered messages, when logging is on.
    log: Option<Vec<String>>,
    /// Arguments of every task submitted (lineage edges).
    task_args: FxHashMap<TaskId, Vec<ObjectId>>,
    /// Messages delivered so far.
    delivered: usize,
}

impl Sim {
    /// `n` workers, `w0 .. w{n-1}`, each knowing all others, lineage pinning on.
    pub fn new(n: usize) -> Self {
        Self::with_config(n, TableConfig::default())
    }

    pub fn with_config(n: usize, config: TableConfig) -> Self {
        let mut workers: Vec<SimWorker> = (0..n as u64)
            .map(|i| {
                let id = WorkerId(i);
                SimWorker {
                    id,
                    table: RefTable::new(id, config),
                    alive: true,
                    minter: IdMinter::new(id),
                    handles: FxHashMap::default(),
                    outstanding: Vec::new(),
                    running: Vec::new(),
                    waiting_gets: FxHashMap::default(),
                    released: Vec::new(),
                    lost: Vec::new(),
                    reconstruct: Vec::new(),
                    lineage_released: Vec::new(),
                }
            })
            .collect();
        for w in &mut workers {
            for i in 0..n as u64 {
                w.table.add_peer(WorkerId(i));
            }
        }
        Sim {
            workers,
            queue: VecDeque::new(),
            deaths: Vec::new(),
            values: FxHashMap::default(),
            freed: FxHashMap::default(),
            freed_on_request: FxHashSet::default(),
            violations: Vec::new(),
            log: None,
            task_args: FxHashMap::default(),
            delivered: 0,
        }
    }

    // ----- inspection ----------------------------------------------------------------

    pub fn len(&self) -> usize {
        self.workers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    pub fn worker(&self, w: WorkerId) -> &SimWorker {
        &self.workers[w.0 as usize]
    }

    pub fn table(&self, w: WorkerId) -> &RefTable {
        &self.worker(w).table
    }

    /// Direct access to a table, for events the helpers below do not cover. Call
    /// [`Sim::pump`] afterwards to route its effects.
    pub fn table_mut(&mut self, w: WorkerId) -> &mut RefTable {
        &mut self.workers[w.0 as usize].table
    }

    pub fn alive(&self, w: WorkerId) -> bool {
        self.worker(w).alive
    }

    /// Messages in flight, oldest first.
    pub fn queue(&self) -> &VecDeque<Envelope> {
        &self.queue
    }

    /// The owner released the value of `id` (by the protocol, or on request).
    pub fn freed(&self, id: ObjectId) -> bool {
        self.freed.contains_key(&id) || self.freed_on_request.contains(&id)
    }

    /// The value of `id` exists (created and neither freed nor lost).
    pub fn value_exists(&self, id: ObjectId) -> bool {
        self.values.contains_key(&id)
    }

    /// Safety violations seen so far (values freed while in use).
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    /// Handles worker `w` holds on `id` (ground truth).
    pub fn handles(&self, w: WorkerId, id: ObjectId) -> u32 {
        self.worker(w).handles.get(&id).copied().unwrap_or(0)
    }

    /// Ids worker `w` holds handles to, sorted.
    pub fn held(&self, w: WorkerId) -> Vec<ObjectId> {
        let mut ids: Vec<_> = self.worker(w).handles.keys().copied().collect();
        ids.sort();
        ids
    }

    // ----- program actions -----------------------------------------------------------

    /// `w` puts a value containing refs to `contains` (which `w` must know).
    pub fn put(&mut self, w: WorkerId, contains: &[ObjectId]) -> ObjectId {
        let inner = self.with_owners(w, contains);
        let worker = &mut self.workers[w.0 as usize];
        let id = worker.minter.next_put();
        worker.table.put(id, &inner, None);
        *worker.handles.entry(id).or_default() += 1;
        self.values.insert(
            id,
            Value {
                owner: w,
                nested: inner,
            },
        );
        self.pump(w);
        id
    }

    /// `w` puts a value (without refs in it) on behalf of the live worker `owner`,
    /// which owns it. A blocking round trip: the assignment and its answer are
    /// delivered at once, before `w` can use the ref.
    pub fn put_with_owner(&mut self, w: WorkerId, owner: WorkerId) -> ObjectId {
        assert!(self.alive(owner), "put_with_owner needs a live owner");
        let worker = &mut self.workers[w.0 as usize];
        let id = worker.minter.next_put();
        worker.table.put_with_owner(id, owner);
        *worker.handles.entry(id).or_default() += 1;
        let value = Value {
            owner,
            nested: Vec::new(),
        };
        self.values.insert(id, value);
        self.pump(w);
        for (from, to) in [(w, owner), (owner, w)] {
            let at = self.queue.iter().rposition(|env| {
                env.from == from
                    && env.to == to
                    && matches!(
                        env.payload,
                        Payload::Protocol(
                            ProtocolMessage::AssignOwner { .. }
                                | ProtocolMessage::OwnerAssigned { .. }
                        )
                    )
            });
            if let Some(at) = at {
                self.deliver_at(at);
            }
        }
        id
    }

    /// `w` makes another handle group for `id` (e.g. a second deserialization).
    pub fn add_handle(&mut self, w: WorkerId, id: ObjectId) {
        let worker = &mut self.workers[w.0 as usize];
        worker.table.add_local(id);
        *worker.handles.entry(id).or_default() += 1;
        self.pump(w);
    }

    /// `w` drops one handle group of `id`.
    pub fn drop_handle(&mut self, w: WorkerId, id: ObjectId) {
        let worker = &mut self.workers[w.0 as usize];
        let count = worker
            .handles
            .get_mut(&id)
            .expect("dropping a handle not held");
        *count -= 1;
        if *count == 0 {
            worker.handles.remove(&id);
        }
        worker.table.remove_local(id);
        self.pump(w);
    }

    /// `w` deserializes a ref to `id` (owned by `owner`) found in the value of `outer`.
    pub fn deserialize(
        &mut self,
        w: WorkerId,
        id: ObjectId,
        owner: WorkerId,
        outer: Option<ObjectId>,
    ) {
        let worker = &mut self.workers[w.0 as usize];
        worker.table.deserialize_ref(id, owner, outer);
        *worker.handles.entry(id).or_default() += 1;
        self.pump(w);
    }

    /// `w` gets the value of `id` and deserializes the refs nested in it (one handle
    /// each). Returns the nested ids.
    pub fn get(&mut self, w: WorkerId, id: ObjectId) -> Result<Vec<ObjectId>, GetError> {
        let owner = self.table(w).owner_of(id).expect("get of an unknown ref");
        if !self.alive(owner) {
            if self.table(w).is_dead(owner) {
                return Err(GetError::OwnerDied);
            }
            let worker = &mut self.workers[w.0 as usize];
            worker.table.add_local(id);
            *worker.waiting_gets.entry(id).or_default() += 1;
            return Err(GetError::Waiting);
        }
        if self.freed_on_request.contains(&id) {
            return Err(GetError::Freed);
        }
        if self.freed(id) {
            self.violations
                .push(format!("{w:?} got {id:?} after its value was freed"));
            return Err(GetError::Freed);
        }
        let Some(nested) = self.values.get(&id).map(|v| v.nested.clone()) else {
            return Err(GetError::NotReady);
        };
        for &(inner, inner_owner) in &nested {
            self.deserialize(w, inner, inner_owner, Some(id));
        }
        Ok(nested.into_iter().map(|(inner, _)| inner).collect())
    }

    /// `caller` submits a task taking `args`, not retryable.
    pub fn submit(&mut self, caller: WorkerId, args: &[ObjectId], num_returns: u32) -> TaskSpec {
        self.submit_with(caller, args, num_returns, false)
    }

    /// `caller` submits a task taking `args`; its returns are owned by `caller`.
    pub fn submit_with(
        &mut self,
        caller: WorkerId,
        args: &[ObjectId],
        num_returns: u32,
        retryable: bool,
    ) -> TaskSpec {
        let args = self.with_owners(caller, args);
        let worker = &mut self.workers[caller.0 as usize];
        let task = worker.minter.next_task();
        let arg_ids: Vec<_> = args.iter().map(|&(id, _)| id).collect();
        worker.table.submit_task(SubmittedTask {
            task,
            num_returns,
            args: &arg_ids,
            retryable,
            spec_bytes: 100,
        });
        let spec = TaskSpec {
            task,
            caller,
            args,
            num_returns,
            retryable,
        };
        for index in 1..=num_returns {
            *worker.handles.entry(spec.ret(index)).or_default() += 1;
        }
        worker.outstanding.push((spec.clone(), None));
        self.task_args.insert(task, arg_ids);
        self.pump(caller);
        spec
    }

    /// Queues the submission of `spec` to `executor`.
    pub fn send_task(&mut self, spec: &TaskSpec, executor: WorkerId) {
        self.set_executor(spec, executor);
        self.send(spec.caller, executor, Payload::Submit(spec.clone()));
    }

    /// `executor` starts running `spec` now (the submission was delivered).
    pub fn start(&mut self, executor: WorkerId, spec: &TaskSpec) -> Execution {
        self.set_executor(spec, executor);
        self.workers[executor.0 as usize]
            .table
            .begin_task(&spec.args);
        self.pump(executor);
        Execution {
            spec: spec.clone(),
            executor,
            returns: Vec::new(),
        }
    }

    /// Takes the execution of `task` out of `executor`'s running tasks (delivered
    /// submissions start there).
    pub fn take_execution(&mut self, executor: WorkerId, task: TaskId) -> Option<Execution> {
        let running = &mut self.workers[executor.0 as usize].running;
        let index = running.iter().position(|exec| exec.spec.task == task)?;
        Some(running.remove(index))
    }

    /// Puts an execution (back) among `executor`'s running tasks.
    pub fn resume_execution(&mut self, executor: WorkerId, exec: Execution) {
        self.workers[executor.0 as usize].running.push(exec);
    }

    /// The executor stores refs to `inners` (which it must know) in return value `index`.
    pub fn return_refs(&mut self, exec: &mut Execution, index: u32, inners: &[ObjectId]) {
        let e = exec.executor;
        let ret = exec.spec.ret(index);
        let inners = self.with_owners(e, inners);
        self.workers[e.0 as usize]
            .table
            .add_nested(ret, exec.spec.caller, &inners);
        self.pump(e);
        match exec.returns.iter_mut().find(|(id, _)| *id == ret) {
            Some((_, existing)) => existing.extend(inners),
            None => exec.returns.push((ret, inners)),
        }
    }

    /// The executor finishes: unpins the arguments and builds the reply.
    pub fn finish(&mut self, exec: Execution) -> TaskReply {
        let e = exec.executor;
        let report = self.workers[e.0 as usize]
            .table
            .end_task(&exec.spec.arg_ids(), exec.spec.caller);
        self.pump(e);
        TaskReply {
            spec: exec.spec,
            executor: e,
            report,
            returns: exec.returns,
        }
    }

    /// Queues `reply` to its caller.
    pub fn send_reply(&mut self, reply: TaskReply) {
        let (from, to) = (reply.executor, reply.spec.caller);
        self.send(from, to, Payload::Reply(reply));
    }

    /// The caller processes `reply` now. The return values come into existence for
    /// the protocol here: their owner learns what they contain (if it still wants them).
    pub fn deliver_reply(&mut self, reply: TaskReply) {
        let caller = reply.spec.caller;
        for index in 1..=reply.spec.num_returns {
            let ret = reply.spec.ret(index);
            let nested = reply
                .returns
                .iter()
                .find(|(id, _)| *id == ret)
                .map(|(_, inners)| inners.clone())
                .unwrap_or_default();
            self.values.insert(
                ret,
                Value {
                    owner: caller,
                    nested,
                },
            );
        }
        let worker = &mut self.workers[caller.0 as usize];
        worker
            .outstanding
            .retain(|(spec, _)| spec.task != reply.spec.task);
        let args = reply.spec.arg_ids();
        worker.table.task_finished(FinishedTask {
            task: reply.spec.task,
            num_returns: reply.spec.num_returns,
            args: &args,
            executor: reply.executor,
            report: &reply.report,
            nested_in_returns: &reply.returns,
            keep_lineage: reply.spec.retryable,
        });
        self.pump(caller);
        for index in 1..=reply.spec.num_returns {
            let ret = reply.spec.ret(index);
            if !self.table(caller).in_scope(ret) && self.values.remove(&ret).is_some() {
                // The caller dropped the return before it arrived: discard the value.
                self.freed.insert(ret, caller);
            }
        }
    }

    /// The caller gives up on `spec` (its executor died).
    pub fn fail_task(&mut self, spec: &TaskSpec) {
        let worker = &mut self.workers[spec.caller.0 as usize];
        worker.outstanding.retain(|(s, _)| s.task != spec.task);
        worker
            .table
            .task_failed(spec.task, spec.num_returns, &spec.arg_ids());
        self.pump(spec.caller);
    }

    /// Kills `w`: messages to it are dropped from now on, the values it owned are lost,
    /// and every live worker gets a membership notice (queued like any message).
    pub fn kill(&mut self, w: WorkerId) {
        if !self.alive(w) {
            return;
        }
        self.workers[w.0 as usize].alive = false;
        self.deaths.push(w);
        let epoch = self.deaths.len() as u64;
        self.queue.retain(|env| env.to != w);
        self.values.retain(|_, value| value.owner != w);
        for i in 0..self.workers.len() {
            let to = WorkerId(i as u64);
            if self.alive(to) {
                self.queue.push_back(Envelope {
                    from: w,
                    to,
                    epoch: 0,
                    payload: Payload::Deaths { epoch },
                });
            }
        }
    }

    // ----- delivery ------------------------------------------------------------------

    /// Delivers every queued message, oldest first, including those sent meanwhile.
    /// Returns how many were delivered.
    pub fn flush(&mut self) -> usize {
        let mut delivered = 0;
        while let Some(env) = self.queue.pop_front() {
            self.deliver(env);
            delivered += 1;
        }
        delivered
    }

    /// Delivers the messages queued now for `w` (not those sent while delivering them),
    /// like Ray's tests' `FlushBorrowerCallbacks`. Returns how many were delivered.
    pub fn flush_to(&mut self, w: WorkerId) -> usize {
        let (mine, rest): (Vec<_>, Vec<_>) = self.queue.drain(..).partition(|env| env.to == w);
        self.queue = rest.into();
        let n = mine.len();
        for env in mine {
            self.deliver(env);
        }
        n
    }

    /// Delivers the message at `index` of the queue, out of order.
    pub fn deliver_at(&mut self, index: usize) {
        if let Some(env) = self.queue.remove(index) {
            self.deliver(env);
        }
    }

    /// Drops the message at `index` of the queue (lost on the wire).
    pub fn drop_at(&mut self, index: usize) -> Option<Envelope> {
        self.queue.remove(index)
    }

    /// Number of messages delivered so far.
    pub fn delivered(&self) -> usize {
        self.delivered
    }

    /// Number of values released by their owners so far.
    pub fn freed_count(&self) -> usize {
        self.freed.len() + self.freed_on_request.len()
    }

    /// Records every delivered message from now on (for replays).
    pub fn start_logging(&mut self) {
        self.log.get_or_insert_with(Vec::new);
    }

    /// The delivered messages, if logging is on.
    pub fn log(&self) -> &[String] {
        self.log.as_deref().unwrap_or_default()
    }

    fn deliver(&mut self, env: Envelope) {
        let to = env.to;
        if !self.alive(to) {
            return;
        }
        self.delivered += 1;
        if let Some(log) = &mut self.log {
            log.push(format!("{env:?}"));
        }
        self.catch_up_deaths(to, env.epoch);
        let from_dead = self.table(to).is_dead(env.from);
        match env.payload {
            Payload::Protocol(message) => {
                self.workers[to.0 as usize]
                    .table
                    .handle_message(env.from, message);
                self.pump(to);
            }
            Payload::Deaths { epoch } => self.catch_up_deaths(to, epoch),
            Payload::Submit(spec) => {
                if !from_dead {
                    let exec = self.start(to, &spec);
                    self.workers[to.0 as usize].running.push(exec);
                }
            }
            Payload::Reply(reply) => {
                if !from_dead {
                    self.deliver_reply(reply);
                }
            }
        }
    }

    /// Applies at worker `w` every death up to `epoch`, in membership order, with what
    /// the runtime does on each: fail the tasks the dead worker was running for `w`,
    /// abandon the tasks `w` was running for it, fail gets waiting on it.
    fn catch_up_deaths(&mut self, w: WorkerId, epoch: u64) {
        while self.table(w).death_epoch() < epoch {
            let dead = self.deaths[self.table(w).death_epoch() as usize];
            self.workers[w.0 as usize].table.worker_died(dead);
            self.pump(w);
            let failed: Vec<TaskSpec> = self
                .worker(w)
                .outstanding
                .iter()
                .filter(|(_, executor)| *executor == Some(dead))
                .map(|(spec, _)| spec.clone())
                .collect();
            for spec in failed {
                self.fail_task(&spec);
            }
            let (abandoned, kept): (Vec<_>, Vec<_>) =
                std::mem::take(&mut self.workers[w.0 as usize].running)
                    .into_iter()
                    .partition(|exec| exec.spec.caller == dead);
            self.workers[w.0 as usize].running = kept;
            for exec in abandoned {
                self.workers[w.0 as usize]
                    .table
                    .abandon_task(&exec.spec.arg_ids());
                self.pump(w);
            }
        }
    }

    /// Routes the effects worker `w`'s table decided.
    pub fn pump(&mut self, w: WorkerId) {
        let effects = self.workers[w.0 as usize].table.take_effects();
        let mut answered_gets = Vec::new();
        for effect in effects {
            match effect {
                Effect::Send { to, message } => self.send(w, to, Payload::Protocol(message)),
                Effect::ReleaseValue { id, owned: true } => self.release_value(w, id),
                Effect::FreedOnRequest { id } => {
                    self.workers[w.0 as usize].released.push(id);
                    self.values.remove(&id);
                    self.freed_on_request.insert(id);
                }
                Effect::ReleaseValue { owned: false, .. } | Effect::Forgotten { .. } => {}
                Effect::Lost { id, reason } => {
                    let worker = &mut self.workers[w.0 as usize];
                    if let Some(n) = worker.waiting_gets.remove(&id) {
                        answered_gets.extend(std::iter::repeat_n(id, n as usize));
                    }
                    worker.lost.push((id, reason));
                }
                Effect::Reconstruct { id, task } => {
                    self.workers[w.0 as usize].reconstruct.push((id, task))
                }
                Effect::LineageReleased { task } => {
                    self.workers[w.0 as usize].lineage_released.push(task)
                }
            }
        }
        // The answered gets release the refs they held.
        if !answered_gets.is_empty() {
            for id in answered_gets {
                self.workers[w.0 as usize].table.remove_local(id);
            }
            self.pump(w);
        }
    }

    fn release_value(&mut self, owner: WorkerId, id: ObjectId) {
        self.workers[owner.0 as usize].released.push(id);
        if let Some(user) = self.live_user_of(id) {
            self.violations.push(format!(
                "{owner:?} freed {id:?} while {user:?} still uses it"
            ));
        }
        self.values.remove(&id);
        self.freed.insert(id, owner);
    }

    fn send(&mut self, from: WorkerId, to: WorkerId, payload: Payload) {
        if !self.alive(to) {
            return;
        }
        let epoch = self.table(from).death_epoch();
        self.queue.push_back(Envelope {
            from,
            to,
            epoch,
            payload,
        });
    }

    fn set_executor(&mut self, spec: &TaskSpec, executor: WorkerId) {
        for (s, e) in &mut self.workers[spec.caller.0 as usize].outstanding {
            if s.task == spec.task {
                *e = Some(executor);
            }
        }
    }

    fn with_owners(&self, w: WorkerId, ids: &[ObjectId]) -> Vec<(ObjectId, WorkerId)> {
        ids.iter()
            .map(|&id| {
                let owner = self
                    .table(w)
                    .owner_of(id)
                    .unwrap_or_else(|| panic!("{w:?} does not know {id:?}"));
                (id, owner)
            })
            .collect()
    }
}
