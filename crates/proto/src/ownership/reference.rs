//! The per-object record of a reference table, and the predicates that decide when an
//! object's value and then its record may go.

use crate::ids::{NodeId, ObjectId, TaskId, WorkerId};

/// What one worker knows about one object.
#[derive(Debug, Clone)]
pub(crate) struct Reference {
    /// The worker that owns the object (holds its metadata and decides its fate).
    pub owner: WorkerId,
    /// True on the owner's own table.
    pub owned_by_us: bool,
    /// Live `ObjectRef` handle groups in this worker (each group is one `Arc`).
    pub local: u32,
    /// Tasks this worker submitted that take the object as an argument and have not
    /// finished.
    pub submitted: u32,
    /// Tasks depending on this object that may still be re-executed (owner side).
    pub lineage: u32,
    /// News about other borrowers forwarded to the owner and not acknowledged yet: we
    /// stay a user until then, so that they are covered meanwhile.
    pub forwards_pending: u32,
    /// Objects this one is nested in, or contains.
    pub nested: Nesting,
    /// Borrowers this worker knows of (on the owner: all of them that are registered; on a
    /// borrower: the ones it passed the ref to and has not reported upward yet), and
    /// objects owned elsewhere that this worker stored the ref in.
    pub borrow: BorrowInfo,
    /// A nested ref (ours, or one contained in it) is in use and not yet reported.
    pub nested_to_report: bool,
    /// The owner's outstanding requests to hear when this borrower stops using the ref:
    /// (the object of ours it said contains the ref, if any; request number). Answered
    /// all at once, each answer echoing its request.
    pub removal_waits: Vec<(Option<ObjectId>, u64)>,
    /// The owner tracks this borrower directly (it subscribed, or will: `put_with_owner`),
    /// so task replies need not report the ref to the caller.
    pub owner_monitors: bool,
    /// The task (submitted by us) whose return value this is.
    pub creating_task: Option<TaskId>,
    /// The value can be recreated by re-running `creating_task`.
    pub reconstructable: bool,
    /// Lineage was evicted under memory pressure: no longer reconstructable.
    pub lineage_evicted: bool,
    /// The creating task has not returned yet.
    pub pending_creation: bool,
    /// The value has been released (out-of-scope effect emitted, nesting edges dropped).
    pub released: bool,
    /// The owner is known to be dead.
    pub owner_died: bool,
    /// The node holding the primary copy (owner side).
    pub pinned_at: Option<NodeId>,
    /// The value was freed explicitly (`free`), the record is kept.
    pub freed: bool,
}

/// Containment edges between objects.
#[derive(Debug, Clone, Default)]
pub(crate) struct Nesting {
    /// Objects owned by us that contain this id.
    pub contained_in_owned: Vec<ObjectId>,
    /// Objects we borrow that contain this id.
    pub contained_in_borrowed: Vec<ObjectId>,
    /// Ids contained in this object's value.
    pub contains: Vec<ObjectId>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct BorrowInfo {
    pub borrowers: Vec<WorkerId>,
    /// Owner side: the removal requests sent and not yet answered: (borrower, object of
    /// the borrower's that contains the ref, request number). A borrower stays one until
    /// all of its requests are answered.
    pub waits: Vec<(WorkerId, Option<ObjectId>, u64)>,
    /// (outer object, owner of the outer object): we stored this ref in an object owned
    /// by another worker (a task return value); that worker becomes a borrower.
    pub stored_in: Vec<(ObjectId, WorkerId)>,
}

impl Reference {
    pub(crate) fn new(owner: WorkerId, owned_by_us: bool) -> Self {
        Reference {
            owner,
            owned_by_us,
            local: 0,
            submitted: 0,
            lineage: 0,
            forwards_pending: 0,
            nested: Nesting::default(),
            borrow: BorrowInfo::default(),
            nested_to_report: false,
            removal_waits: Vec::new(),
            owner_monitors: false,
            creating_task: None,
            reconstructable: false,
            lineage_evicted: false,
            pending_creation: false,
            released: false,
            owner_died: false,
            pinned_at: None,
            freed: false,
        }
    }

    /// Direct uses in this worker: handles, pending task arguments, owned containers,
    /// news forwarded to the owner and not acknowledged.
    pub(crate) fn ref_count(&self) -> usize {
        self.local as usize
            + self.submitted as usize
            + self.forwards_pending as usize
            + self.nested.contained_in_owned.len()
    }

    /// This worker uses the ref, or holds information about it its owner must get: the
    /// borrowed objects containing it must then stay to report it.
    pub(crate) fn needs_report(&self) -> bool {
        self.ref_count() > 0
            || !self.borrow.borrowers.is_empty()
            || !self.borrow.stored_in.is_empty()
            || self.nested_to_report
    }

    /// Nothing in this worker, nor any borrower it is responsible for, uses the value.
    /// `holding` is set while the owner waits for live workers to acknowledge a death.
    pub(crate) fn out_of_scope(&self, lineage_pinning: bool, holding: bool) -> bool {
        let pinned_by_lineage =
            lineage_pinning && self.owned_by_us && !self.reconstructable && self.lineage > 0;
        !(self.ref_count() > 0
            || !self.nested.contained_in_borrowed.is_empty()
            || (self.nested_to_report && !self.owner_died)
            || !self.borrow.borrowers.is_empty()
            || !self.borrow.stored_in.is_empty()
            || (holding && self.owned_by_us)
            || pinned_by_lineage)
    }

    /// Out of scope and no task that may be retried depends on it: the record can go.
    pub(crate) fn should_delete(&self, lineage_pinning: bool, holding: bool) -> bool {
        self.out_of_scope(lineage_pinning, holding) && (!lineage_pinning || self.lineage == 0)
    }
}

/// Inserts `item` if absent; returns whether it was inserted.
pub(crate) fn insert_unique<T: PartialEq>(set: &mut Vec<T>, item: T) -> bool {
    if set.contains(&item) {
        false
    } else {
        set.push(item);
        true
    }
}

/// Removes `item` if present; returns whether it was there.
pub(crate) fn remove_item<T: PartialEq>(set: &mut Vec<T>, item: &T) -> bool {
    match set.iter().position(|x| x == item) {
        Some(pos) => {
            set.swap_remove(pos);
            true
        }
        None => false,
    }
}
