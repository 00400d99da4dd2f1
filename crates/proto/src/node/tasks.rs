//! Tasks on a node: submission and placement (caller side), argument resolution,
//! dispatch and completion (executor side), replies, actors, and re-execution from
//! lineage.

use super::event::task_failed;
use super::{ActorSlot, Job, NodeState, ObjectWaiter, PendingTask, WaitingTask};
use super::{Computed, Host, NodeMessage, TaskOutput};
use crate::error::ProtoError;
use crate::ids::{ActorId, NodeId, ObjectId, TaskId, WorkerId};
use crate::ownership::{FinishedTask, SubmittedTask};
use crate::task::ArgBytes;
use crate::task::{Placement, ReturnData, ReturnValue, TaskArg, TaskKind, TaskReply, TaskSpec};
use bytes::Bytes;

/// Return values up to this size travel in the reply, to be stored by their owner
/// (the default of [`NodeState::set_inline_return_max`]).
pub(super) const INLINE_RETURN_MAX: usize = 64 * 1024;

impl<H: Host> NodeState<H> {
    // ----- caller side ---------------------------------------------------------------

    pub(super) fn submit(&mut self, worker: WorkerId, spec: TaskSpec) {
        let referenced: Vec<ObjectId> = spec.referenced().into_iter().map(|(id, _)| id).collect();
        let retryable = spec.retries > 0;
        self.table(worker).submit_task(SubmittedTask {
            task: spec.task,
            num_returns: spec.num_returns,
            args: &referenced,
            retryable,
            spec_bytes: spec.approximate_size(),
        });
        if let TaskKind::CreateActor { actor, .. } = &spec.kind
            && let Placement::Node(node) = spec.placement
        {
            self.actor_objects.insert(spec.return_id(1), (*actor, node));
        }
        if retryable {
            self.lineage.insert(spec.task, spec.clone());
        }
        self.counters.tasks_submitted += 1;
        self.send_task(referenced, spec);
    }

    /// Sends `spec` to the node that should run it, and waits for its reply.
    pub(super) fn send_task(&mut self, referenced: Vec<ObjectId>, spec: TaskSpec) {
        let actor = match &spec.kind {
            TaskKind::Method { actor, .. } | TaskKind::CreateActor { actor, .. } => Some(*actor),
            TaskKind::Function(_) => None,
        };
        let mut pending = PendingTask {
            executor: self.id,
            caller: spec.caller,
            num_returns: spec.num_returns,
            referenced,
            retries: spec.retries,
            actor,
        };
        let Some(executor) = self.choose_node(spec.caller, &spec) else {
            let error = match actor {
                Some(actor) => ProtoError::ActorDied(actor),
                None => ProtoError::Invalid(format!("no live node can run {:?}", spec.task)),
            };
            self.fail_pending(spec.task, pending, error);
            return;
        };
        pending.executor = executor;
        self.pending.insert(spec.task, pending);
        self.send(executor, NodeMessage::Task(spec));
    }

    fn choose_node(&self, worker: WorkerId, spec: &TaskSpec) -> Option<NodeId> {
        let alive = |n: &NodeId| !self.dead_nodes.contains(n);
        match spec.placement {
            Placement::Node(node) | Placement::Actor(_, node) => Some(node).filter(alive),
            Placement::Spread | Placement::Locality => {
                // Where most of the ref arguments are: the primary copy for objects we
                // own, the owner's node for the others.
                let mut votes: Vec<(NodeId, usize)> = Vec::new();
                for (id, owner) in spec.referenced() {
                    let node = if self.host.contains(id) {
                        self.id
                    } else if owner.node() == self.id {
                        self.tables[&worker]
                            .pinned_at(id)
                            .or_else(|| self.primary_elsewhere.get(&id).copied())
                            .unwrap_or(self.id)
                    } else {
                        owner.node()
                    };
                    match votes.iter_mut().find(|(n, _)| *n == node) {
                        Some((_, count)) => *count += 1,
                        None => votes.push((node, 1)),
                    }
                }
                votes.sort_by_key(|&(n, c)| (std::cmp::Reverse(c), n != self.id, n));
                votes
                    .into_iter()
                    .map(|(n, _)| n)
                    .find(alive)
                    .or(Some(self.id))
            }
        }
    }

    /// A task of ours can never run or finish: its returns fail with `error`.
    pub(super) fn fail_pending(&mut self, task: TaskId, pending: PendingTask, error: ProtoError) {
        self.table(pending.caller)
            .task_failed(task, pending.num_returns, &pending.referenced);
        for index in 1..=pending.num_returns {
            self.fail_object(task.return_id(index), error.clone());
        }
    }

    /// The reply of a task submitted here.
    pub(super) fn on_reply(&mut self, reply: TaskReply) {
        let Some(pending) = self.pending.remove(&reply.task) else {
            // Already failed or re-sent: its values are not wanted.
            self.discard_returns(&reply);
            return;
        };
        let task = reply.task;
        let caller = pending.caller;
        let nested: Vec<(ObjectId, Vec<(ObjectId, WorkerId)>)> = match &reply.outcome {
            Ok(returns) => returns
                .iter()
                .filter(|r| !r.nested.is_empty())
                .map(|r| (r.id, r.nested.clone()))
                .collect(),
            Err(_) => Vec::new(),
        };
        self.table(caller).task_finished(FinishedTask {
            task,
            num_returns: pending.num_returns,
            args: &pending.referenced,
            executor: reply.executor,
            report: &reply.report,
            nested_in_returns: &nested,
            keep_lineage: pending.retries > 0 && reply.outcome.is_ok(),
        });
        let span = tracing::debug_span!(
            "task.finish",
            ?task,
            executor = ?reply.executor,
            ok = reply.outcome.is_ok()
        );
        let _entered = span.enter();
        match reply.outcome {
            Ok(returns) => {
                for ret in returns {
                    self.store_return(caller, ret);
                }
            }
            Err(message) => {
                let observed = (1..=pending.num_returns)
                    .any(|index| self.tables[&caller].in_scope(task.return_id(index)));
                if !observed {
                    // Fire-and-forget: nobody will ever read this error, so say it here.
                    tracing::warn!(?task, %message, "a task nobody waits for failed");
                }
                for index in 1..=pending.num_returns {
                    self.fail_object(task.return_id(index), task_failed(task, message.clone()));
                }
            }
        }
    }

    fn store_return(&mut self, caller: WorkerId, ret: ReturnValue) {
        let wanted = self.tables[&caller].in_scope(ret.id);
        match ret.data {
            ReturnData::Inline(bytes) => {
                if !wanted {
                    return;
                }
                if let Err(e) = self.host.put(ret.id, bytes, true) {
                    self.fail_object(ret.id, e);
                    return;
                }
                let node = self.id;
                self.table(caller).object_pinned_at(ret.id, node);
            }
            ReturnData::Stored { node, .. } => {
                if !wanted {
                    if node != self.id {
                        self.send(node, NodeMessage::Free { ids: vec![ret.id] });
                    } else {
                        self.host.delete(ret.id);
                    }
                    return;
                }
                self.table(caller).object_pinned_at(ret.id, node);
                if node != self.id {
                    self.primary_elsewhere.insert(ret.id, node);
                    self.forward_parked_fetches(ret.id, node);
                    if self.waiters.contains_key(&ret.id) {
                        self.ensure_fetch(ret.id, caller);
                    }
                    return;
                }
            }
        }
        self.object_arrived(ret.id);
    }

    fn discard_returns(&mut self, reply: &TaskReply) {
        if let Ok(returns) = &reply.outcome {
            for ret in returns {
                if let ReturnData::Stored { node, .. } = ret.data
                    && node != self.id
                {
                    self.send(node, NodeMessage::Free { ids: vec![ret.id] });
                }
            }
        }
    }

    /// A value we own was lost with its node: run its task again.
    pub(super) fn reconstruct(&mut self, worker: WorkerId, id: ObjectId, task: TaskId) {
        let Some(mut spec) = self.lineage.get(&task).cloned() else {
            self.fail_object(
                id,
                ProtoError::ObjectLost {
                    id,
                    reason: crate::ownership::LossReason::LineageEvicted,
                },
            );
            return;
        };
        if self.pending.contains_key(&task) {
            return;
        }
        if spec.retries == 0 || !self.table(worker).resubmit_task(task) {
            self.fail_object(
                id,
                task_failed(task, "lost, and no retries left to rebuild it"),
            );
            return;
        }
        spec.retries -= 1;
        if let Placement::Node(node) = spec.placement
            && self.dead_nodes.contains(&node)
        {
            spec.placement = Placement::Locality;
        }
        self.lineage.insert(task, spec.clone());
        tracing::debug!(?task, ?id, "rebuilding from lineage");
        let referenced = spec.referenced().into_iter().map(|(id, _)| id).collect();
        self.send_task(referenced, spec);
    }

    // ----- executor side -------------------------------------------------------------

    /// A task to run here.
    pub(super) fn accept_task(&mut self, spec: TaskSpec) {
        let task = spec.task;
        match &spec.kind {
            TaskKind::Method { actor, .. } => match self.actors.get_mut(actor) {
                Some(slot) if slot.dead.is_none() => slot.queue.push_back(task),
                Some(slot) => {
                    let error = slot.dead.clone().expect("dead");
                    self.reply_failure(spec, error);
                    return;
                }
                None if self.ended_actors.contains(actor)
                    || self.dead_nodes.contains(&actor.creator.node()) =>
                {
                    let error = ProtoError::ActorDied(*actor);
                    self.reply_failure(spec, error);
                    return;
                }
                None => {
                    // Its creation is still on its way from the creator.
                    self.unborn_calls.entry(*actor).or_default().push(spec);
                    return;
                }
            },
            TaskKind::CreateActor { actor, .. } => {
                let actor = *actor;
                self.actors.insert(actor, ActorSlot::default());
                let early = self.unborn_calls.remove(&actor).unwrap_or_default();
                self.accept_created(spec);
                for call in early {
                    self.accept_task(call);
                }
                return;
            }
            TaskKind::Function(_) => {}
        }
        self.accept_created(spec);
    }

    /// Takes `spec` in: its arguments, then its start (or its place in its actor's
    /// queue).
    fn accept_created(&mut self, spec: TaskSpec) {
        let task = spec.task;
        let mut waiting = WaitingTask {
            args: vec![None; spec.args.len()],
            missing: 0,
            spec,
        };
        let mut fetches = Vec::new();
        for (index, arg) in waiting.spec.args.iter().enumerate() {
            match arg {
                TaskArg::Value { bytes, .. } => {
                    waiting.args[index] = Some(ArgBytes {
                        bytes: bytes.clone(),
                        from: None,
                    })
                }
                TaskArg::Ref { id, owner } => match self.local_value(*id) {
                    Some(Ok(bytes)) => {
                        waiting.args[index] = Some(ArgBytes {
                            bytes,
                            from: Some(*id),
                        })
                    }
                    Some(Err(error)) => {
                        let spec = waiting.spec.clone();
                        self.reply_failure(spec, error);
                        return;
                    }
                    None => {
                        waiting.missing += 1;
                        fetches.push((index, *id, *owner));
                    }
                },
            }
        }
        let actor = match &waiting.spec.kind {
            TaskKind::Method { actor, .. } => Some(*actor),
            _ => None,
        };
        if fetches.is_empty() && actor.is_none() {
            // Everything is here: start at once.
            self.start(waiting);
            return;
        }
        self.waiting.insert(task, waiting);
        for (index, id, owner) in fetches {
            self.waiters
                .entry(id)
                .or_default()
                .push(ObjectWaiter::Arg(task, index));
            self.ensure_fetch(id, owner);
        }
        match actor {
            Some(actor) => self.pump_actor(actor),
            None => self.try_start(task),
        }
    }

    /// Argument `index` of `task` (the value of `id`) is here, or failed.
    pub(super) fn argument_ready(
        &mut self,
        task: TaskId,
        index: usize,
        id: ObjectId,
        value: Result<Bytes, ProtoError>,
    ) {
        let Some(waiting) = self.waiting.get_mut(&task) else {
            return;
        };
        match value {
            Ok(bytes) => {
                if waiting.args[index].is_none() {
                    waiting.args[index] = Some(ArgBytes {
                        bytes,
                        from: Some(id),
                    });
                    waiting.missing -= 1;
                }
                self.try_start(task);
            }
            Err(error) => {
                let waiting = self.waiting.remove(&task).expect("waiting");
                if let TaskKind::Method { actor, .. } = &waiting.spec.kind
                    && let Some(slot) = self.actors.get_mut(actor)
                {
                    slot.queue.retain(|t| *t != task);
                }
                self.reply_failure(waiting.spec, error);
            }
        }
    }

    /// Starts waiting `task` if its arguments are here (a method waits for its turn:
    /// see [`NodeState::pump_actor`]).
    fn try_start(&mut self, task: TaskId) {
        let Some(waiting) = self.waiting.get(&task) else {
            return;
        };
        if waiting.missing > 0 {
            return;
        }
        if let TaskKind::Method { actor, .. } = &waiting.spec.kind {
            let actor = *actor;
            self.pump_actor(actor);
            return;
        }
        let waiting = self.waiting.remove(&task).expect("waiting");
        self.start(waiting);
    }

    /// Pins the arguments of a task, or of a batch of methods, and hands it to the
    /// compute pool.
    fn dispatch(
        &mut self,
        tasks: Vec<(TaskSpec, Vec<ArgBytes>)>,
        actor: Option<(ActorId, H::Instance)>,
    ) {
        let executor = self.executor;
        for (spec, _) in &tasks {
            let referenced = spec.referenced();
            self.table(executor).begin_task(&referenced);
            tracing::trace!(task = ?spec.task, "dispatched to the compute pool");
        }
        self.running += tasks.len();
        self.out.jobs.push(Job { tasks, actor });
    }

    /// Starts a task (not a method) whose arguments are all here.
    fn start(&mut self, waiting: WaitingTask) {
        let args = waiting
            .args
            .into_iter()
            .map(|a| a.expect("ready"))
            .collect();
        self.dispatch(vec![(waiting.spec, args)], None);
    }

    /// Runs, as one batch and in order, the calls at the head of `actor`'s queue whose
    /// arguments are here, if the actor is idle.
    fn pump_actor(&mut self, actor: ActorId) {
        let Some(slot) = self.actors.get_mut(&actor) else {
            return;
        };
        if slot.busy || slot.instance.is_none() {
            return;
        }
        let mut batch = Vec::new();
        while let Some(&task) = slot.queue.front() {
            if self.waiting.get(&task).is_none_or(|w| w.missing > 0) {
                break;
            }
            slot.queue.pop_front();
            let waiting = self.waiting.remove(&task).expect("waiting");
            let args = waiting
                .args
                .into_iter()
                .map(|a| a.expect("ready"))
                .collect();
            batch.push((waiting.spec, args));
        }
        if batch.is_empty() {
            return;
        }
        slot.busy = true;
        let instance = slot.instance.take().expect("instance");
        self.dispatch(batch, Some((actor, instance)));
    }

    /// Task bodies finished on the compute pool.
    pub(super) fn on_computed(&mut self, done: Computed<H::Instance>) {
        let mut actor_to_advance = None;
        if let Some((actor, instance)) = done.actor
            && let Some(slot) = self.actors.get_mut(&actor)
        {
            slot.busy = false;
            let creation_failed =
                done.results
                    .iter()
                    .find_map(|(spec, outcome)| match (&spec.kind, outcome) {
                        (TaskKind::CreateActor { .. }, Err(error)) => Some(error.clone()),
                        _ => None,
                    });
            match creation_failed {
                Some(error) => slot.dead = Some(error),
                None => slot.instance = Some(instance),
            }
            actor_to_advance = Some(actor);
        }
        for (spec, outcome) in done.results {
            if let (TaskKind::CreateActor { actor, .. }, Err(error)) = (&spec.kind, &outcome)
                && let Some(slot) = self.actors.get_mut(actor)
            {
                slot.dead = Some(error.clone());
                actor_to_advance = Some(*actor);
            }
            self.finish(spec, outcome);
        }
        if let Some(actor) = actor_to_advance {
            self.fail_queued_if_dead(actor);
            self.pump_actor(actor);
        }
        // Only now may the refs held by the return values go.
        drop(done.keep);
    }

    /// One task body finished: reply to its caller.
    fn finish(&mut self, spec: TaskSpec, outcome: Result<Vec<TaskOutput>, ProtoError>) {
        self.running -= 1;
        self.counters.tasks_run += 1;
        let referenced: Vec<ObjectId> = spec.referenced().into_iter().map(|(id, _)| id).collect();
        let executor = self.executor;
        let caller = spec.caller;
        if self.dead_nodes.contains(&caller.node()) {
            // Nobody wants the reply; keep what the task learnt about borrowers.
            self.table(executor).abandon_task(&referenced);
            return;
        }
        let outcome = match outcome {
            Ok(encoded) => self.place_returns(&spec, encoded),
            Err(error) => Err(error.to_string()),
        };
        let report = self.table(executor).end_task(&referenced, caller);
        let reply = TaskReply {
            task: spec.task,
            caller,
            executor,
            report,
            outcome,
        };
        self.send(caller.node(), NodeMessage::Reply(reply));
    }

    /// Stores or inlines the values a task returned. If one cannot be stored, none is
    /// kept and the task fails with the store's reason: a caller never reads a value
    /// that was silently dropped.
    fn place_returns(
        &mut self,
        spec: &TaskSpec,
        encoded: Vec<TaskOutput>,
    ) -> Result<Vec<ReturnValue>, String> {
        let caller = spec.caller;
        let remote_caller = caller.node() != self.id;
        let mut returns = Vec::with_capacity(encoded.len());
        for (i, value) in encoded.into_iter().enumerate() {
            let id = spec.return_id(i as u32 + 1);
            let size = value.bytes.len();
            let data = if remote_caller && size <= self.inline_return_max {
                ReturnData::Inline(value.bytes)
            } else if let Err(e) = self.host.put(id, value.bytes, true) {
                for stored in &returns {
                    let stored: &ReturnValue = stored;
                    if matches!(stored.data, ReturnData::Stored { .. }) {
                        self.host.delete(stored.id);
                    }
                }
                return Err(format!("return value {} cannot be stored: {e}", i + 1));
            } else {
                ReturnData::Stored {
                    node: self.id,
                    size: size as u64,
                }
            };
            returns.push(ReturnValue {
                id,
                data,
                nested: value.nested,
            });
        }
        let executor = self.executor;
        for ret in &returns {
            if remote_caller && matches!(ret.data, ReturnData::Stored { .. }) {
                self.held_for_remote.insert(ret.id, caller);
            }
            if !ret.nested.is_empty() {
                self.table(executor).add_nested(ret.id, caller, &ret.nested);
            }
        }
        Ok(returns)
    }

    /// `spec` cannot run here: reply with the error without running it.
    pub(super) fn reply_failure(&mut self, spec: TaskSpec, error: ProtoError) {
        let reply = TaskReply {
            task: spec.task,
            caller: spec.caller,
            executor: self.executor,
            report: Default::default(),
            outcome: Err(error.to_string()),
        };
        self.send(spec.caller.node(), NodeMessage::Reply(reply));
    }

    fn fail_queued_if_dead(&mut self, actor: ActorId) {
        let Some(slot) = self.actors.get_mut(&actor) else {
            return;
        };
        let Some(error) = slot.dead.clone() else {
            return;
        };
        let queued: Vec<TaskId> = slot.queue.drain(..).collect();
        for task in queued {
            if let Some(waiting) = self.waiting.remove(&task) {
                self.reply_failure(waiting.spec, error.clone());
            }
        }
    }

    /// The last handle of `actor` is gone: stop it once idle, fail what is queued.
    pub(super) fn kill_actor(&mut self, actor: ActorId) {
        self.ended_actors.insert(actor);
        for call in self.unborn_calls.remove(&actor).unwrap_or_default() {
            self.reply_failure(call, ProtoError::ActorDied(actor));
        }
        if let Some(slot) = self.actors.get_mut(&actor) {
            slot.dead = Some(ProtoError::ActorDied(actor));
            slot.instance = None;
            self.fail_queued_if_dead(actor);
            self.actors.remove(&actor);
        }
    }

    /// Actors alive on this node.
    pub fn actor_count(&self) -> usize {
        self.actors.len()
    }
}
