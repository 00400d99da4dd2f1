//! The reference table of one worker: state, local events (handles, puts, task
//! submission and completion) and the release of values and records.
//!
//! Protocol events between workers live in `borrow.rs`; deaths, sweeps, nodes and
//! lineage eviction in `failure.rs`. All of them are methods of [`RefTable`].

use super::borrow::Renew;
use super::message::{BorrowReport, Effect, ProtocolMessage};
use super::reference::{Reference, insert_unique, remove_item};
use crate::ids::{NodeId, ObjectId, TaskId, WorkerId};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::VecDeque;

/// Settings of a reference table.
#[derive(Debug, Clone, Copy)]
pub struct TableConfig {
    /// Keep the lineage (creating task specs) of owned objects while tasks depending on
    /// them may be retried, as Ray does; `false` drops lineage as soon as tasks finish.
    pub lineage_pinning: bool,
}

impl Default for TableConfig {
    fn default() -> Self {
        TableConfig {
            lineage_pinning: true,
        }
    }
}

/// A task submitted by this worker, as the reference table sees it.
#[derive(Debug, Clone, Copy)]
pub struct SubmittedTask<'a> {
    pub task: TaskId,
    /// Number of return values; their ids are `task.return_id(1..=num_returns)`.
    pub num_returns: u32,
    /// Every object the spec refers to: ref arguments and refs nested in inline values.
    pub args: &'a [ObjectId],
    /// The task may be re-executed (retries, lineage reconstruction).
    pub retryable: bool,
    /// Size of the task spec, charged to the lineage budget.
    pub spec_bytes: u64,
}

/// The reply of a task this worker submitted.
#[derive(Debug, Clone, Copy)]
pub struct FinishedTask<'a> {
    pub task: TaskId,
    pub num_returns: u32,
    pub args: &'a [ObjectId],
    /// The worker that ran it.
    pub executor: WorkerId,
    /// The executor's report on the refs it borrowed through `args`.
    pub report: &'a BorrowReport,
    /// Refs nested in each return value: (return id, [(inner id, inner owner)]).
    pub nested_in_returns: &'a [(ObjectId, Vec<(ObjectId, WorkerId)>)],
    /// The task may still be re-executed later to rebuild its returns.
    pub keep_lineage: bool,
}

#[derive(Debug)]
pub(crate) struct TaskLineage {
    pub args: Vec<ObjectId>,
    pub num_returns: u32,
    pub returns_alive: u32,
    pub finished: bool,
    pub keep: bool,
    pub spec_bytes: u64,
}

/// Frees held after death number `epoch` until every live worker acknowledged it.
#[derive(Debug)]
pub(crate) struct DeathHold {
    pub epoch: u64,
    pub awaiting: FxHashSet<WorkerId>,
}

/// One worker's reference table: Ray's ownership protocol as a sans-IO state machine.
///
/// Inputs are method calls (local events) and [`RefTable::handle_message`] (messages from
/// other workers); outputs are [`Effect`]s, drained with [`RefTable::take_effects`].
#[derive(Debug)]
pub struct RefTable {
    pub(crate) me: WorkerId,
    pub(crate) config: TableConfig,
    pub(crate) refs: FxHashMap<ObjectId, Reference>,
    pub(crate) lineage: FxHashMap<TaskId, TaskLineage>,
    pub(crate) lineage_order: VecDeque<TaskId>,
    pub(crate) peers: FxHashSet<WorkerId>,
    pub(crate) dead: FxHashSet<WorkerId>,
    pub(crate) death_epoch: u64,
    pub(crate) next_request: u64,
    pub(crate) hold: Option<DeathHold>,
    pub(crate) effects: Vec<Effect>,
}

impl RefTable {
    pub fn new(me: WorkerId, config: TableConfig) -> Self {
        RefTable {
            me,
            config,
            refs: FxHashMap::default(),
            lineage: FxHashMap::default(),
            lineage_order: VecDeque::new(),
            peers: FxHashSet::default(),
            dead: FxHashSet::default(),
            death_epoch: 0,
            next_request: 0,
            hold: None,
            effects: Vec::new(),
        }
    }

    pub fn me(&self) -> WorkerId {
        self.me
    }

    // ----- queries -------------------------------------------------------------------

    /// The table has a record of `id`.
    pub fn has(&self, id: ObjectId) -> bool {
        self.refs.contains_key(&id)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.refs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    /// The record exists and its value has not been released.
    pub fn in_scope(&self, id: ObjectId) -> bool {
        self.refs.get(&id).is_some_and(|r| !r.released)
    }

    pub fn owner_of(&self, id: ObjectId) -> Option<WorkerId> {
        self.refs.get(&id).map(|r| r.owner)
    }

    pub fn is_owned(&self, id: ObjectId) -> bool {
        self.refs.get(&id).is_some_and(|r| r.owned_by_us)
    }

    /// Local handle count, submitted-task count and lineage count of `id`.
    pub fn counts(&self, id: ObjectId) -> Option<(u32, u32, u32)> {
        self.refs
            .get(&id)
            .map(|r| (r.local, r.submitted, r.lineage))
    }

    /// Borrowers of `id` known to this table.
    pub fn borrowers(&self, id: ObjectId) -> Vec<WorkerId> {
        self.refs
            .get(&id)
            .map(|r| r.borrow.borrowers.clone())
            .unwrap_or_default()
    }

    /// Objects owned elsewhere that this worker stored `id` in.
    pub fn stored_in(&self, id: ObjectId) -> Vec<(ObjectId, WorkerId)> {
        self.refs
            .get(&id)
            .map(|r| r.borrow.stored_in.clone())
            .unwrap_or_default()
    }

    /// Ids nested in `id`'s value, as known here.
    pub fn contains_ids(&self, id: ObjectId) -> Vec<ObjectId> {
        self.refs
            .get(&id)
            .map(|r| r.nested.contains.clone())
            .unwrap_or_default()
    }

    pub fn is_reconstructable(&self, id: ObjectId) -> bool {
        self.refs
            .get(&id)
            .is_some_and(|r| r.reconstructable && !r.lineage_evicted)
    }

    pub fn lineage_evicted(&self, id: ObjectId) -> bool {
        self.refs.get(&id).is_some_and(|r| r.lineage_evicted)
    }

    pub fn pending_creation(&self, id: ObjectId) -> bool {
        self.refs.get(&id).is_some_and(|r| r.pending_creation)
    }

    pub fn owner_died(&self, id: ObjectId) -> bool {
        self.refs.get(&id).is_some_and(|r| r.owner_died)
    }

    pub fn pinned_at(&self, id: ObjectId) -> Option<NodeId> {
        self.refs.get(&id).and_then(|r| r.pinned_at)
    }

    /// The lineage of `task` (its spec) is still held.
    pub fn holds_lineage(&self, task: TaskId) -> bool {
        self.lineage.contains_key(&task)
    }

    pub fn is_dead(&self, worker: WorkerId) -> bool {
        self.dead.contains(&worker)
    }

    /// Ids with a record, sorted (for diagnostics and tests).
    pub fn ids(&self) -> Vec<ObjectId> {
        let mut ids: Vec<_> = self.refs.keys().copied().collect();
        ids.sort();
        ids
    }

    /// A readable dump of the record of `id` (diagnostics).
    pub fn describe(&self, id: ObjectId) -> Option<String> {
        self.refs.get(&id).map(|r| format!("{r:?}"))
    }

    /// Takes the effects decided since the last call, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Appends the effects decided since the last call to `out` (reuses its allocation).
    pub fn drain_effects_into(&mut self, out: &mut Vec<Effect>) {
        out.append(&mut self.effects);
    }

    // ----- membership ----------------------------------------------------------------

    /// Another live worker of the cluster (asked during sweeps).
    pub fn add_peer(&mut self, worker: WorkerId) {
        if worker != self.me && !self.dead.contains(&worker) {
            self.peers.insert(worker);
        }
    }

    // ----- owned objects -------------------------------------------------------------

    /// `put`: we own a new object whose value contains `contains`; one local handle.
    /// Put values cannot be rebuilt from lineage.
    pub fn put(
        &mut self,
        id: ObjectId,
        contains: &[(ObjectId, WorkerId)],
        pinned_at: Option<NodeId>,
    ) {
        let mut r = Reference::new(self.me, true);
        r.local = 1;
        r.pinned_at = pinned_at;
        let previous = self.refs.insert(id, r);
        debug_assert!(previous.is_none(), "object {id:?} created twice");
        if !contains.is_empty() {
            self.add_nested(id, self.me, contains);
        }
    }

    /// `put` on behalf of another worker: `owner` will own the new object (so it
    /// outlives us), and we hold one handle as a borrower. Sends `AssignOwner`.
    ///
    /// This is a blocking round trip: the ref must not be used nor handed out before
    /// the owner answers `OwnerAssigned` ([`RefTable::owner_assigned`]), so that the
    /// owner hears of the object before anything else about it. The value must not
    /// contain refs. (Ray dropped its `_owner` puts in 2.56; doreisa-rs keeps them for
    /// plain data, such as chunks handed over to a node.)
    pub fn put_with_owner(&mut self, id: ObjectId, owner: WorkerId) {
        if owner == self.me {
            self.put(id, &[], None);
            return;
        }
        let r = self.entry(id, owner);
        r.local += 1;
        r.owner_monitors = true;
        if !self.dead.contains(&owner) {
            self.effects.push(Effect::Send {
                to: owner,
                message: ProtocolMessage::AssignOwner { id },
            });
        }
    }

    /// The owner adopted `id` (answer to our `put_with_owner`): the ref may be used.
    pub fn owner_assigned(&mut self, id: ObjectId) -> bool {
        self.refs.get(&id).is_some_and(|r| !r.owner_died)
    }

    /// A task we submit: its return values are owned by us (one local handle each) and
    /// its arguments are pinned until it finishes. A task that may be re-run keeps its
    /// lineage: its arguments stay pinned by lineage while its returns may need it.
    pub fn submit_task(&mut self, spec: SubmittedTask<'_>) {
        let reconstructable = spec.retryable && self.config.lineage_pinning;
        for index in 1..=spec.num_returns {
            let mut r = Reference::new(self.me, true);
            r.local = 1;
            r.pending_creation = true;
            r.reconstructable = reconstructable;
            r.creating_task = Some(spec.task);
            self.refs.insert(spec.task.return_id(index), r);
        }
        for &arg in spec.args {
            self.add_submitted(arg, reconstructable);
        }
        if reconstructable {
            self.lineage.insert(
                spec.task,
                TaskLineage {
                    args: spec.args.to_vec(),
                    num_returns: spec.num_returns,
                    returns_alive: spec.num_returns,
                    finished: false,
                    keep: true,
                    spec_bytes: spec.spec_bytes,
                },
            );
            self.lineage_order.push_back(spec.task);
            if self.lineage_order.len() > 2 * self.lineage.len() + 64 {
                let lineage = &self.lineage;
                self.lineage_order.retain(|task| lineage.contains_key(task));
            }
        }
    }

    /// Argument values were inlined into the spec of the pending `task`: the refs in
    /// `removed` are no longer needed by it, the refs in `added` (nested in the inlined
    /// values) now are.
    pub fn args_inlined(&mut self, task: TaskId, removed: &[ObjectId], added: &[ObjectId]) {
        let with_lineage = self.lineage.contains_key(&task);
        for &id in added {
            self.add_submitted(id, with_lineage);
        }
        if let Some(entry) = self.lineage.get_mut(&task) {
            for id in removed {
                remove_item(&mut entry.args, id);
            }
            entry.args.extend_from_slice(added);
        }
        for &id in removed {
            self.remove_submitted(id, with_lineage);
        }
    }

    /// The reply of a task we submitted arrived.
    pub fn task_finished(&mut self, done: FinishedTask<'_>) {
        for index in 1..=done.num_returns {
            if let Some(r) = self.refs.get_mut(&done.task.return_id(index)) {
                r.pending_creation = false;
            }
        }
        for (ret, inners) in done.nested_in_returns {
            if self.refs.contains_key(ret) {
                self.add_nested(*ret, self.me, inners);
            }
        }
        // Merge the executor's borrowers before releasing the arguments, so an inner id
        // gains its new borrowers before its outer id is released.
        if !done.report.is_empty() {
            for &arg in done.args {
                self.merge_remote_borrowers(arg, done.executor, done.report);
            }
        }
        self.finish_submission(done.task, done.args, done.keep_lineage);
    }

    /// A task we submitted failed without a reply (its executor died, or it will not be
    /// retried): release its arguments.
    pub fn task_failed(&mut self, task: TaskId, num_returns: u32, args: &[ObjectId]) {
        for index in 1..=num_returns {
            if let Some(r) = self.refs.get_mut(&task.return_id(index)) {
                r.pending_creation = false;
            }
        }
        self.finish_submission(task, args, false);
    }

    /// Re-submit `task` to rebuild its lost returns: pins its arguments again (lineage
    /// counts are not taken twice). Returns false if its lineage is gone.
    pub fn resubmit_task(&mut self, task: TaskId) -> bool {
        let Some(entry) = self.lineage.get_mut(&task) else {
            return false;
        };
        entry.finished = false;
        let args = entry.args.clone();
        let num_returns = entry.num_returns;
        for index in 1..=num_returns {
            if let Some(r) = self.refs.get_mut(&task.return_id(index)) {
                r.pending_creation = true;
            }
        }
        for arg in args {
            self.add_submitted(arg, false);
        }
        true
    }

    /// The primary copy of an owned object is on `node`.
    pub fn object_pinned_at(&mut self, id: ObjectId, node: NodeId) {
        if let Some(r) = self.refs.get_mut(&id)
            && r.owned_by_us
            && !r.released
            && !r.freed
        {
            r.pinned_at = Some(node);
        }
    }

    /// Explicitly free the value of owned objects; their records stay.
    pub fn free(&mut self, ids: &[ObjectId]) {
        for &id in ids {
            if let Some(r) = self.refs.get_mut(&id)
                && r.owned_by_us
                && !r.freed
            {
                r.freed = true;
                r.pinned_at = None;
                self.effects.push(Effect::FreedOnRequest { id });
            }
        }
    }

    // ----- handles -------------------------------------------------------------------

    /// A new local handle group for an id this table knows.
    pub fn add_local(&mut self, id: ObjectId) {
        let Some(r) = self.refs.get_mut(&id) else {
            debug_assert!(false, "add_local on unknown {id:?}");
            return;
        };
        let was_in_use = r.ref_count() > 0;
        r.local += 1;
        if !was_in_use {
            self.set_nested_in_use_recursive(id);
        }
    }

    /// A local handle group was dropped.
    pub fn remove_local(&mut self, id: ObjectId) {
        let Some(r) = self.refs.get_mut(&id) else {
            return;
        };
        if r.local == 0 {
            return;
        }
        r.local -= 1;
        if r.ref_count() == 0 {
            self.try_release(id);
        }
    }

    // ----- internals shared with borrow.rs and failure.rs ------------------------------

    /// The record of `id`, created as borrowed from `owner` if missing.
    pub(crate) fn entry(&mut self, id: ObjectId, owner: WorkerId) -> &mut Reference {
        let me = self.me;
        let dead = self.dead.contains(&owner);
        self.refs.entry(id).or_insert_with(|| {
            let mut r = Reference::new(owner, owner == me);
            r.owner_died = dead && owner != me;
            r
        })
    }

    fn add_submitted(&mut self, id: ObjectId, count_lineage: bool) {
        let lineage_pinning = self.config.lineage_pinning;
        let Some(r) = self.refs.get_mut(&id) else {
            debug_assert!(false, "task argument {id:?} has no record");
            return;
        };
        let was_in_use = r.ref_count() > 0;
        r.submitted += 1;
        if count_lineage && lineage_pinning {
            r.lineage += 1;
        }
        if r.released {
            // Back in scope (a resubmission needs a value that was released).
            r.released = false;
        }
        if !was_in_use {
            self.set_nested_in_use_recursive(id);
        }
    }

    fn remove_submitted(&mut self, id: ObjectId, release_lineage: bool) {
        let Some(r) = self.refs.get_mut(&id) else {
            return;
        };
        debug_assert!(r.submitted > 0, "submitted count of {id:?} underflows");
        r.submitted = r.submitted.saturating_sub(1);
        if release_lineage && r.lineage > 0 {
            r.lineage -= 1;
        }
        if r.ref_count() == 0 {
            self.try_release(id);
        }
    }

    fn finish_submission(&mut self, task: TaskId, args: &[ObjectId], keep_lineage: bool) {
        let release_lineage_now = match self.lineage.get_mut(&task) {
            Some(entry) => {
                entry.finished = true;
                entry.keep &= keep_lineage;
                !entry.keep || entry.returns_alive == 0
            }
            None => false,
        };
        for &arg in args {
            self.remove_submitted(arg, false);
        }
        if release_lineage_now {
            self.release_task_lineage(task);
        }
    }

    /// Marks every borrowed object containing `id` (transitively) as having nested refs
    /// to report, so the fact that `id` is in use reaches its owner.
    pub(crate) fn set_nested_in_use_recursive(&mut self, id: ObjectId) {
        let mut stack = match self.refs.get(&id) {
            Some(r) if !r.nested.contained_in_borrowed.is_empty() => {
                r.nested.contained_in_borrowed.clone()
            }
            _ => return,
        };
        while let Some(outer) = stack.pop() {
            if let Some(o) = self.refs.get_mut(&outer)
                && !o.nested_to_report
            {
                o.nested_to_report = true;
                stack.extend_from_slice(&o.nested.contained_in_borrowed);
            }
        }
    }

    /// Records that `outer` (owned by `outer_owner`) contains `inners`.
    pub fn add_nested(
        &mut self,
        outer: ObjectId,
        outer_owner: WorkerId,
        inners: &[(ObjectId, WorkerId)],
    ) {
        if outer_owner == self.me {
            // We own the outer object: it keeps the inner ones in scope (unless its value
            // is already released, as when a return was dropped before its reply).
            match self.refs.get_mut(&outer) {
                Some(o) if o.owned_by_us && !o.released => {
                    for &(inner, _) in inners {
                        insert_unique(&mut o.nested.contains, inner);
                    }
                }
                _ => return,
            }
            for &(inner, inner_owner) in inners {
                let r = self.entry(inner, inner_owner);
                let was_in_use = r.ref_count() > 0;
                insert_unique(&mut r.nested.contained_in_owned, outer);
                if !was_in_use {
                    self.set_nested_in_use_recursive(inner);
                }
            }
        } else {
            // We stored refs in an object another worker owns (a return value for our
            // caller): that worker becomes a borrower of each inner ref.
            for &(inner, inner_owner) in inners {
                let owned = self.entry(inner, inner_owner).owned_by_us;
                if owned {
                    self.add_borrower(inner, outer_owner, Some(outer), Renew::No);
                } else {
                    let r = self.entry(inner, inner_owner);
                    if !r.owner_died {
                        insert_unique(&mut r.borrow.stored_in, (outer, outer_owner));
                    }
                }
            }
        }
    }

    /// Releases what can be released for `id`: answers a waiting owner, releases the
    /// value once out of scope, erases the record once its lineage is no longer needed.
    pub(crate) fn try_release(&mut self, id: ObjectId) {
        let mut pending = vec![id];
        while let Some(id) = pending.pop() {
            self.release_one(id, &mut pending);
        }
    }

    fn release_one(&mut self, id: ObjectId, pending: &mut Vec<ObjectId>) {
        let lineage_pinning = self.config.lineage_pinning;
        let holding = self.hold.is_some();
        let Some(r) = self.refs.get(&id) else { return };
        if r.ref_count() == 0 && !r.removal_waits.is_empty() {
            self.answer_removal_waits(id);
        }
        self.clear_stale_nested_flags(id, pending);
        let Some(r) = self.refs.get_mut(&id) else {
            return;
        };
        if !r.released && r.out_of_scope(lineage_pinning, holding) {
            r.released = true;
            let owned = r.owned_by_us;
            let inners = std::mem::take(&mut r.nested.contains);
            if owned {
                r.pinned_at = None;
            }
            for inner in inners {
                if let Some(i) = self.refs.get_mut(&inner) {
                    if owned {
                        remove_item(&mut i.nested.contained_in_owned, &id);
                    } else {
                        remove_item(&mut i.nested.contained_in_borrowed, &id);
                    }
                    pending.push(inner);
                }
            }
            let already_freed = self.refs.get(&id).is_some_and(|r| r.freed);
            if !already_freed {
                self.effects.push(Effect::ReleaseValue { id, owned });
            }
        }
        if self
            .refs
            .get(&id)
            .is_some_and(|r| r.should_delete(lineage_pinning, holding))
        {
            self.erase(id, pending);
        }
    }

    /// Once `id` no longer needs reporting, the borrowed objects containing it keep
    /// their nested-report flag only if another nested ref still needs it.
    fn clear_stale_nested_flags(&mut self, id: ObjectId, pending: &mut Vec<ObjectId>) {
        let outers = match self.refs.get(&id) {
            Some(r) if !r.needs_report() && !r.nested.contained_in_borrowed.is_empty() => {
                r.nested.contained_in_borrowed.clone()
            }
            _ => return,
        };
        for outer in outers {
            let still_needed = self.refs.get(&outer).is_some_and(|o| {
                o.nested_to_report
                    && o.nested
                        .contains
                        .iter()
                        .any(|inner| self.refs.get(inner).is_some_and(Reference::needs_report))
            });
            if let Some(o) = self.refs.get_mut(&outer)
                && o.nested_to_report
                && !still_needed
            {
                o.nested_to_report = false;
                pending.push(outer);
            }
        }
    }

    fn erase(&mut self, id: ObjectId, pending: &mut Vec<ObjectId>) {
        let Some(r) = self.refs.remove(&id) else {
            return;
        };
        self.effects.push(Effect::Forgotten { id });
        if let Some(task) = r.creating_task
            && r.owned_by_us
        {
            let release = match self.lineage.get_mut(&task) {
                Some(entry) => {
                    entry.returns_alive = entry.returns_alive.saturating_sub(1);
                    entry.returns_alive == 0 && entry.finished
                }
                None => false,
            };
            if release {
                pending.extend(self.drop_task_lineage(task));
            }
        }
    }

    /// Drops the lineage of `task`, releasing the lineage counts of its arguments.
    pub(crate) fn release_task_lineage(&mut self, task: TaskId) {
        let args = self.drop_task_lineage(task);
        for arg in args {
            self.try_release(arg);
        }
    }

    /// Removes the lineage entry of `task` and decrements its arguments' lineage counts;
    /// returns the arguments to re-examine.
    fn drop_task_lineage(&mut self, task: TaskId) -> Vec<ObjectId> {
        let Some(entry) = self.lineage.remove(&task) else {
            return Vec::new();
        };
        self.effects.push(Effect::LineageReleased { task });
        for arg in &entry.args {
            if let Some(r) = self.refs.get_mut(arg) {
                r.lineage = r.lineage.saturating_sub(1);
            }
        }
        entry.args
    }
}
