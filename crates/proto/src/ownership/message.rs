//! What a reference table tells the outside world: protocol messages for other workers,
//! borrower reports carried by task replies, and decisions about values.

use crate::ids::{ObjectId, TaskId, WorkerId};
use serde::{Deserialize, Serialize};

/// A message of the ownership protocol between two workers' reference tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProtocolMessage {
    /// Owner → borrower: reply with `RefRemoved` once you no longer use `id`.
    /// `contained_in` is set when the borrower holds `id` because it owns an object that
    /// contains it (a task return value), so the answer waits for that object too.
    WaitForRefRemoved {
        id: ObjectId,
        owner: WorkerId,
        contained_in: Option<ObjectId>,
        request: u64,
    },
    /// Borrower → owner: I stopped using `id`, answering all these requests (each made
    /// about an object of mine that contained it, or none); here is what I learnt.
    RefRemoved {
        id: ObjectId,
        answered: Vec<(Option<ObjectId>, u64)>,
        report: BorrowReport,
    },
    /// Borrower → owner: a report told me that these workers use `id`, or hold it in
    /// these objects of theirs. I stay a user until you acknowledge.
    Forward {
        id: ObjectId,
        borrowers: Vec<WorkerId>,
        stored_in: Vec<(ObjectId, WorkerId)>,
    },
    /// Owner → borrower: `Forward` about `id` received.
    ForwardAck { id: ObjectId },
    /// Putter → owner: I stored `id` on your behalf (`put` with an explicit owner);
    /// you own it now, and I borrow it.
    AssignOwner { id: ObjectId },
    /// Owner → putter: `id` adopted; the putter may now use and hand out its ref.
    OwnerAssigned { id: ObjectId },
    /// Any worker → every live worker, on applying death number `epoch`: the objects you
    /// own that I still use (see the death barrier in `failure.rs`).
    DeathAck { epoch: u64, in_use: Vec<ObjectId> },
}

/// What an executor (or a borrower answering `WaitForRefRemoved`) reports about the refs
/// it borrowed: whether it still uses each, who it passed each on to, and where it stored
/// each. Nested ids found inside reported objects are reported too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BorrowReport {
    pub refs: Vec<ReportedRef>,
}

/// One borrowed id in a [`BorrowReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedRef {
    pub id: ObjectId,
    pub owner: WorkerId,
    /// The reporter still uses the id (handles, pending tasks, objects it owns).
    pub in_use: bool,
    /// Workers the reporter passed the id on to, not yet reported to anyone.
    pub borrowers: Vec<WorkerId>,
    /// Objects owned by other workers that the reporter stored the id in.
    pub stored_in: Vec<(ObjectId, WorkerId)>,
    /// Borrowed objects (in the reporter) that contain this id.
    pub contained_in_borrowed: Vec<ObjectId>,
    /// Ids nested in this object that the reporter deserialized.
    pub contains: Vec<ObjectId>,
}

impl BorrowReport {
    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    pub fn get(&self, id: ObjectId) -> Option<&ReportedRef> {
        self.refs.iter().find(|r| r.id == id)
    }

    pub(crate) fn contains(&self, id: ObjectId) -> bool {
        self.get(id).is_some()
    }
}

/// Why a value cannot be obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LossReason {
    /// The owner died: its objects share its fate.
    OwnerDied,
    /// The value was lost and was created by `put`: it cannot be rebuilt.
    NotReconstructable,
    /// The value was lost and its lineage was evicted under memory pressure.
    LineageEvicted,
}

/// An output of the reference table, in the order it was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Deliver this protocol message to worker `to`.
    Send {
        to: WorkerId,
        message: ProtocolMessage,
    },
    /// No one uses the value any more. On the owner, free every copy (the primary copy
    /// included); on a borrower, drop any local secondary copy.
    ReleaseValue { id: ObjectId, owned: bool },
    /// The owner freed the value on request (`free`) although refs to it may remain;
    /// a later `get` fails.
    FreedOnRequest { id: ObjectId },
    /// The record of `id` was erased from this table.
    Forgotten { id: ObjectId },
    /// The value of `id` can never be obtained: fail pending and future `get`s.
    Lost { id: ObjectId, reason: LossReason },
    /// The value of `id` (owned, still in scope) was lost with a node: re-run `task`.
    Reconstruct { id: ObjectId, task: TaskId },
    /// No object depends on `task` any more: its spec can be dropped.
    LineageReleased { task: TaskId },
}
