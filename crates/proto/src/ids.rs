//! Identifiers shared by every layer: workers, nodes, objects and tasks.
//!
//! Object and task ids are minted by the worker that creates them (the owner), from a
//! per-worker counter, so minting one costs an increment and ids never collide across
//! workers. Task return ids are derived from the task id, so re-executing a task from
//! its lineage recreates exactly the same object ids.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A worker: one process-level owner of objects, with its own reference table.
/// A node hosts one or more workers (its executor worker, drivers).
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WorkerId(pub u64);

/// A node: one object store and one compute pool (a process, or a virtual node of an
/// embedded cluster).
#[derive(Copy, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeId(pub u64);

/// A task, minted by the worker that submits it.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TaskId {
    pub submitter: WorkerId,
    pub seq: u64,
}

/// An immutable object. `index` is 0 for objects created by `put`, and `1..=n` for the
/// `n` return values of the task whose sequence number is `seq`.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectId {
    pub creator: WorkerId,
    pub seq: u64,
    pub index: u32,
}

impl ObjectId {
    /// The id of an object created by `put` (not reconstructable from lineage).
    pub const fn put(creator: WorkerId, seq: u64) -> Self {
        ObjectId {
            creator,
            seq,
            index: 0,
        }
    }

    /// The id of return value `index` (starting at 1) of `task`.
    pub const fn task_return(task: TaskId, index: u32) -> Self {
        ObjectId {
            creator: task.submitter,
            seq: task.seq,
            index,
        }
    }

    /// The task that created this object, if it is a task return value.
    pub fn creating_task(self) -> Option<TaskId> {
        (self.index > 0).then_some(TaskId {
            submitter: self.creator,
            seq: self.seq,
        })
    }
}

impl TaskId {
    /// The id of return value `index` (starting at 1).
    pub const fn return_id(self, index: u32) -> ObjectId {
        ObjectId::task_return(self, index)
    }
}

impl WorkerId {
    /// Workers are numbered within their node: the high bits name the node.
    pub const fn new(node: NodeId, index: u16) -> Self {
        WorkerId((node.0 << 16) | index as u64)
    }

    /// The node hosting this worker.
    pub const fn node(self) -> NodeId {
        NodeId(self.0 >> 16)
    }

    /// The worker's index within its node.
    pub const fn index(self) -> u16 {
        (self.0 & 0xFFFF) as u16
    }
}

/// An actor, created on one node.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ActorId {
    pub creator: WorkerId,
    pub seq: u64,
}

impl fmt::Debug for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a{}.{}", self.creator.0, self.seq)
    }
}

/// Mints object and task ids for one worker.
#[derive(Debug)]
pub struct IdMinter {
    worker: WorkerId,
    next: u64,
}

impl IdMinter {
    pub fn new(worker: WorkerId) -> Self {
        IdMinter { worker, next: 1 }
    }

    pub fn worker(&self) -> WorkerId {
        self.worker
    }

    pub fn next_put(&mut self) -> ObjectId {
        let seq = self.bump();
        ObjectId::put(self.worker, seq)
    }

    pub fn next_task(&mut self) -> TaskId {
        let seq = self.bump();
        TaskId {
            submitter: self.worker,
            seq,
        }
    }

    pub fn next_actor(&mut self) -> ActorId {
        let seq = self.bump();
        ActorId {
            creator: self.worker,
            seq,
        }
    }

    fn bump(&mut self) -> u64 {
        let seq = self.next;
        self.next += 1;
        seq
    }
}

impl fmt::Debug for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "w{}", self.0)
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}.{}", self.submitter.0, self.seq)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.index == 0 {
            write!(f, "o{}.{}", self.creator.0, self.seq)
        } else {
            write!(f, "o{}.{}r{}", self.creator.0, self.seq, self.index)
        }
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_ids_are_derived_from_the_task() {
        let mut minter = IdMinter::new(WorkerId(7));
        let task = minter.next_task();
        let r1 = task.return_id(1);
        assert_eq!(r1.creating_task(), Some(task));
        assert_ne!(r1, task.return_id(2));
        let put = minter.next_put();
        assert_eq!(put.creating_task(), None);
        assert_ne!(put.seq, task.seq);
        assert_eq!(format!("{r1:?}"), "o7.1r1");
    }

    #[test]
    fn workers_name_their_node() {
        let w = WorkerId::new(NodeId(3), 2);
        assert_eq!(w.node(), NodeId(3));
        assert_eq!(w.index(), 2);
        assert_ne!(w, WorkerId::new(NodeId(2), 3));
    }
}
