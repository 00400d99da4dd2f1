//! Borrowing: refs received by executors and `get`s, the borrower reports that travel
//! back to callers and owners, and the owner's subscriptions to its borrowers.

use super::message::{BorrowReport, Effect, LossReason, ProtocolMessage, ReportedRef};
use super::reference::{insert_unique, remove_item};
use super::table::RefTable;
use crate::ids::{ObjectId, WorkerId};

/// Whether news of a use renews an outstanding removal request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Renew {
    Yes,
    No,
}

/// Why borrowers are being popped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pop {
    /// An executor's reply to its caller.
    TaskReply,
    /// A borrower's answer to its owner.
    RefRemoved,
}

impl RefTable {
    /// A ref owned by `owner` was deserialized here (from a `get` result, or nested in a
    /// task argument): a new local handle group. `outer` is the object it was found in.
    pub fn deserialize_ref(&mut self, id: ObjectId, owner: WorkerId, outer: Option<ObjectId>) {
        self.entry(id, owner);
        self.add_local(id);
        self.add_borrowed(id, owner, outer);
    }

    /// An executor starts a task whose arguments refer to `args` (id, owner): the
    /// arguments are pinned for the duration of the task.
    pub fn begin_task(&mut self, args: &[(ObjectId, WorkerId)]) {
        for &(id, owner) in args {
            self.entry(id, owner);
            self.add_local(id);
            self.add_borrowed(id, owner, None);
        }
    }

    /// An executor finished a task for `caller`: unpins its arguments and returns the
    /// report for the caller on what happened to the borrowed ones (and the refs nested
    /// in them).
    pub fn end_task(&mut self, args: &[ObjectId], caller: WorkerId) -> BorrowReport {
        let mut report = BorrowReport::default();
        for &id in args {
            self.pop_borrowers(id, Pop::TaskReply, caller, &mut report);
        }
        for &id in args {
            self.remove_local(id);
        }
        report
    }

    /// An executor gives up a task whose caller died: unpins its arguments. Nothing is
    /// reported (the reply would go nowhere), so what the task learnt about borrowers
    /// stays here, to reach the owners by other ways.
    pub fn abandon_task(&mut self, args: &[ObjectId]) {
        for &id in args {
            self.remove_local(id);
        }
    }

    /// Registers `id` as borrowed from `owner`, found inside `outer` if given, without a
    /// handle: for a ref inlined in the value of a borrowed object (its value travels
    /// inside the outer one).
    pub fn add_borrowed(&mut self, id: ObjectId, owner: WorkerId, outer: Option<ObjectId>) {
        if self.dead.contains(&owner) && owner != self.me {
            let r = self.entry(id, owner);
            if !r.owner_died {
                r.owner_died = true;
            }
            self.effects.push(Effect::Lost {
                id,
                reason: LossReason::OwnerDied,
            });
        }
        let Some(outer) = outer else { return };
        if outer == id {
            return;
        }
        // Only a borrowed outer whose value we still hold records what it contains.
        let outer_borrowed = self
            .refs
            .get(&outer)
            .is_some_and(|o| !o.owned_by_us && !o.released);
        if !outer_borrowed {
            if self.refs.get(&id).is_some_and(|r| r.ref_count() == 0) {
                self.try_release(id);
            }
            return;
        }
        let r = self.entry(id, owner);
        insert_unique(&mut r.nested.contained_in_borrowed, outer);
        let in_use = r.ref_count() > 0;
        if let Some(o) = self.refs.get_mut(&outer) {
            insert_unique(&mut o.nested.contains, id);
        }
        if in_use {
            self.set_nested_in_use_recursive(id);
        }
        if self.refs.get(&id).is_some_and(|r| r.ref_count() == 0) {
            self.try_release(id);
        }
    }

    /// Adds `borrower` to an owned object's borrowers and asks it to report removal.
    /// A borrower already known dead is skipped: the death barrier registered every live
    /// worker it handed refs to.
    ///
    /// With `Renew::Yes` (we just heard that `borrower` uses the ref), a new request is
    /// sent even if one is outstanding: the answer to the older one may have left before
    /// the use we heard of began. The borrower counts until every request is answered,
    /// in whatever order the answers come (an older one may carry news).
    pub(crate) fn add_borrower(
        &mut self,
        id: ObjectId,
        borrower: WorkerId,
        contained_in: Option<ObjectId>,
        renew: Renew,
    ) {
        if borrower == self.me || self.dead.contains(&borrower) {
            return;
        }
        let me = self.me;
        let Some(r) = self.refs.get_mut(&id) else {
            return;
        };
        debug_assert!(r.owned_by_us);
        if r.released || r.owner_died {
            return;
        }
        // One request per (borrower, containing object): a borrower holding the ref in
        // two of its objects answers each, and counts until both are answered.
        insert_unique(&mut r.borrow.borrowers, borrower);
        let outstanding = r
            .borrow
            .waits
            .iter()
            .any(|&(b, c, _)| b == borrower && c == contained_in);
        if outstanding && renew == Renew::No {
            return;
        }
        self.next_request += 1;
        let request = self.next_request;
        r.borrow.waits.push((borrower, contained_in, request));
        self.effects.push(Effect::Send {
            to: borrower,
            message: ProtocolMessage::WaitForRefRemoved {
                id,
                owner: me,
                contained_in,
                request,
            },
        });
    }

    /// Reports `id` (and, recursively, the ids nested in it) into `report` for
    /// `recipient`, and clears what now travels with it.
    ///
    /// For a task reply, the executor's own pin of the argument is not a use, and a ref
    /// whose owner tracks us directly is reported without its news (we answer the owner
    /// ourselves); the refs nested in it are still reported.
    ///
    /// Stored-in entries register their holders with the owner: they go to the owner
    /// only. Sent to anyone else, they could die with it while the ref is still on its
    /// way to the holder, which could not then re-register it after the death. Until the
    /// owner takes them we count as a user of the ref, so that the owner asks us.
    pub(crate) fn pop_borrowers(
        &mut self,
        id: ObjectId,
        pop: Pop,
        recipient: WorkerId,
        report: &mut BorrowReport,
    ) {
        let mut stack = vec![(id, pop == Pop::TaskReply)];
        while let Some((id, deduct)) = stack.pop() {
            let Some(r) = self.refs.get_mut(&id) else {
                continue;
            };
            if r.owned_by_us {
                continue;
            }
            if !report.contains(id) {
                let monitored =
                    pop == Pop::TaskReply && (r.owner_monitors || !r.removal_waits.is_empty());
                let mut reported = ReportedRef {
                    id,
                    owner: r.owner,
                    in_use: false,
                    borrowers: Vec::new(),
                    stored_in: Vec::new(),
                    contained_in_borrowed: r.nested.contained_in_borrowed.clone(),
                    contains: r.nested.contains.clone(),
                };
                if !monitored {
                    let pins = u32::from(deduct) as usize;
                    if recipient == r.owner {
                        reported.stored_in = std::mem::take(&mut r.borrow.stored_in);
                    }
                    reported.in_use =
                        r.ref_count().saturating_sub(pins) > 0 || !r.borrow.stored_in.is_empty();
                    reported.borrowers = std::mem::take(&mut r.borrow.borrowers);
                }
                report.refs.push(reported);
            }
            r.nested_to_report = false;
            stack.extend(r.nested.contains.iter().map(|&inner| (inner, false)));
        }
    }

    /// Merges what `from` reported about `id` (and the ids nested in it) into this table.
    pub(crate) fn merge_remote_borrowers(
        &mut self,
        id: ObjectId,
        from: WorkerId,
        report: &BorrowReport,
    ) {
        let mut stack = vec![id];
        let mut seen = Vec::new();
        let mut merged = Vec::new();
        while let Some(id) = stack.pop() {
            if !insert_unique(&mut seen, id) {
                continue;
            }
            let Some(reported) = report.get(id) else {
                continue;
            };
            if reported.owner == self.me && !self.refs.contains_key(&id) {
                // We own it and already forgot it: nothing left to account for.
                continue;
            }
            let (owned, owner_died) = {
                let r = self.entry(id, reported.owner);
                (r.owned_by_us, r.owner_died)
            };
            stack.extend_from_slice(&reported.contains);
            merged.push(id);
            if owner_died {
                // Its owner is gone: who else borrows it no longer matters.
                continue;
            }
            let me = self.me;
            let new_borrowers: Vec<WorkerId> = reported
                .in_use
                .then_some(from)
                .into_iter()
                .chain(reported.borrowers.iter().copied())
                .filter(|&b| b != me)
                .collect();
            if owned {
                for b in new_borrowers {
                    self.add_borrower(id, b, None, Renew::Yes);
                }
                for &(outer, holder) in &reported.stored_in {
                    self.add_nested(outer, holder, &[(id, me)]);
                }
            } else {
                self.forward_to_owner(id, reported.owner, new_borrowers, &reported.stored_in);
            }
            for &outer in &reported.contained_in_borrowed {
                self.add_borrowed(id, reported.owner, Some(outer));
            }
            // What we now answer for must reach the owner with the objects containing it.
            if !owned && self.refs.get(&id).is_some_and(|r| r.needs_report()) {
                self.set_nested_in_use_recursive(id);
            }
        }
        // A record created or changed only to carry news may have nothing left to carry.
        for id in merged {
            if self.refs.get(&id).is_some_and(|r| r.ref_count() == 0) {
                self.try_release(id);
            }
        }
    }

    /// We learnt who else uses `id` (owned by `owner`): tell the owner directly, and stay
    /// a user of `id` until it acknowledges. Forwarding at once, rather than keeping the
    /// news until asked as Ray does, registers every borrower with the owner itself: no
    /// chain of forwarders can lose one, nor close into a cycle nobody asks.
    fn forward_to_owner(
        &mut self,
        id: ObjectId,
        owner: WorkerId,
        borrowers: Vec<WorkerId>,
        stored_in: &[(ObjectId, WorkerId)],
    ) {
        let me = self.me;
        for &(outer, holder) in stored_in {
            if holder == me {
                // We hold it in one of our objects: that is a use of ours too.
                self.add_nested(outer, me, &[(id, owner)]);
            }
        }
        let borrowers: Vec<WorkerId> = borrowers.into_iter().filter(|&b| b != owner).collect();
        if (borrowers.is_empty() && stored_in.is_empty()) || self.dead.contains(&owner) {
            return;
        }
        self.entry(id, owner).forwards_pending += 1;
        self.effects.push(Effect::Send {
            to: owner,
            message: ProtocolMessage::Forward {
                id,
                borrowers,
                stored_in: stored_in.to_vec(),
            },
        });
    }

    /// Owner side: a borrower forwarded news about other users of `id`.
    fn on_forward(
        &mut self,
        from: WorkerId,
        id: ObjectId,
        borrowers: Vec<WorkerId>,
        stored_in: Vec<(ObjectId, WorkerId)>,
    ) {
        if self.refs.get(&id).is_some_and(|r| r.owned_by_us) {
            let me = self.me;
            for b in borrowers {
                self.add_borrower(id, b, None, Renew::Yes);
            }
            for (outer, holder) in stored_in {
                self.add_nested(outer, holder, &[(id, me)]);
            }
        }
        self.effects.push(Effect::Send {
            to: from,
            message: ProtocolMessage::ForwardAck { id },
        });
    }

    /// Borrower side: the owner has our forwarded news about `id`.
    fn on_forward_ack(&mut self, id: ObjectId) {
        if let Some(r) = self.refs.get_mut(&id) {
            r.forwards_pending = r.forwards_pending.saturating_sub(1);
            if r.ref_count() == 0 {
                self.try_release(id);
            }
        }
    }

    /// Handles a protocol message from another worker.
    /// Messages from workers known to be dead are ignored.
    pub fn handle_message(&mut self, from: WorkerId, message: ProtocolMessage) {
        if self.dead.contains(&from) {
            return;
        }
        match message {
            ProtocolMessage::WaitForRefRemoved {
                id,
                owner,
                contained_in,
                request,
            } => self.on_wait_for_ref_removed(id, owner, contained_in, request),
            ProtocolMessage::RefRemoved {
                id,
                answered,
                report,
            } => self.on_ref_removed(from, id, &answered, &report),
            ProtocolMessage::DeathAck { epoch, in_use } => self.on_death_ack(from, epoch, in_use),
            ProtocolMessage::AssignOwner { id } => self.on_assign_owner(from, id),
            ProtocolMessage::OwnerAssigned { .. } => {}
            ProtocolMessage::Forward {
                id,
                borrowers,
                stored_in,
            } => self.on_forward(from, id, borrowers, stored_in),
            ProtocolMessage::ForwardAck { id } => self.on_forward_ack(id),
        }
    }

    /// Borrower side: the owner asks to hear when we stop using `id`.
    fn on_wait_for_ref_removed(
        &mut self,
        id: ObjectId,
        owner: WorkerId,
        contained_in: Option<ObjectId>,
        request: u64,
    ) {
        self.entry(id, owner);
        if let Some(outer) = contained_in {
            // We own `outer`, which contains `id`: answer only once `outer` is gone too.
            self.add_nested(outer, self.me, &[(id, owner)]);
        }
        let Some(r) = self.refs.get_mut(&id) else {
            return;
        };
        r.removal_waits.push((contained_in, request));
        r.owner_monitors = true;
        if r.ref_count() == 0 {
            self.try_release(id);
        }
    }

    /// Answers, in one message, every request of the owner waiting for us to stop using
    /// `id`, with our report.
    pub(crate) fn answer_removal_waits(&mut self, id: ObjectId) {
        let Some(r) = self.refs.get_mut(&id) else {
            return;
        };
        let waits = std::mem::take(&mut r.removal_waits);
        let owner = r.owner;
        // The owner drops us from its borrowers now: later uses must be reported again.
        r.owner_monitors = false;
        let mut report = BorrowReport::default();
        self.pop_borrowers(id, Pop::RefRemoved, owner, &mut report);
        if self.dead.contains(&owner) {
            return;
        }
        self.effects.push(Effect::Send {
            to: owner,
            message: ProtocolMessage::RefRemoved {
                id,
                answered: waits,
                report,
            },
        });
    }

    /// Owner side: `putter` stored `id` for us; it is the first borrower. We answer at
    /// once; the putter waited for us before using the ref.
    fn on_assign_owner(&mut self, putter: WorkerId, id: ObjectId) {
        if !self.refs.contains_key(&id) {
            self.entry(id, self.me);
            self.add_borrower(id, putter, None, Renew::No);
        }
        self.effects.push(Effect::Send {
            to: putter,
            message: ProtocolMessage::OwnerAssigned { id },
        });
    }

    /// Owner side: borrower `from` answered the `answered` requests (each made about an
    /// object of its that contained the ref, or none). It stops being a borrower once
    /// every request made to it is answered.
    fn on_ref_removed(
        &mut self,
        from: WorkerId,
        id: ObjectId,
        answered: &[(Option<ObjectId>, u64)],
        report: &BorrowReport,
    ) {
        if !self.refs.contains_key(&id) {
            return;
        }
        self.merge_remote_borrowers(id, from, report);
        if let Some(r) = self.refs.get_mut(&id) {
            for &(contained_in, request) in answered {
                remove_item(&mut r.borrow.waits, &(from, contained_in, request));
            }
            if !r.borrow.waits.iter().any(|&(b, _, _)| b == from) {
                remove_item(&mut r.borrow.borrowers, &from);
            }
        }
        self.try_release(id);
    }
}
