//! What a node consumes (commands from its own threads, messages from other nodes,
//! finished computations, membership changes) and what it hands back to the runtime
//! that drives it.
//!
//! Two things stay opaque to the protocol, as type parameters: `W`, something waiting
//! for values (the runtime's pending `get`), and `I`, a live actor instance (user code
//! the node keeps between method calls but never runs).

use crate::error::ProtoError;
use crate::ids::{ActorId, NodeId, ObjectId, TaskId, WorkerId};
use crate::node::message::Envelope;
use crate::task::{ArgBytes, TaskSpec};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Something that waits for the values of some objects: the node fills its positions
/// (through [`Outbox::fills`](crate::node::Outbox::fills)) as the values arrive or fail.
pub trait Waiter: Clone {
    /// The objects waited for, in position order.
    fn ids(&self) -> &[ObjectId];
}

/// A command from a thread of this node (user code, or a task body).
pub enum Command<W> {
    /// `worker` stored `id` (already in the store) containing `nested`.
    Put {
        worker: WorkerId,
        id: ObjectId,
        nested: Vec<(ObjectId, WorkerId)>,
    },
    /// `worker` stored `id` (in the store here) on behalf of `owner`; position 0 of
    /// `done` is filled when the owner adopted it (or failed to).
    PutWithOwner {
        worker: WorkerId,
        id: ObjectId,
        owner: WorkerId,
        done: W,
    },
    /// The last clone of a handle of `worker` on `id` was dropped.
    Drop { worker: WorkerId, id: ObjectId },
    /// `worker` deserialized a ref to `id`, found in `outer`.
    Deserialized {
        worker: WorkerId,
        id: ObjectId,
        owner: WorkerId,
        outer: Option<ObjectId>,
    },
    /// `worker` submits a task (it is the caller).
    Submit { worker: WorkerId, spec: TaskSpec },
    /// `worker` wants the values of `request.ids()`.
    Get { worker: WorkerId, request: W },
    /// `worker` frees the values of objects it owns.
    Free {
        worker: WorkerId,
        ids: Vec<ObjectId>,
    },
}

impl<W: Waiter> Command<W> {
    /// The node will never handle this command: what its waiter must be told (every
    /// position fails with `Stopped`).
    pub fn refusals(self) -> Vec<Fill<W>> {
        match self {
            Command::Get { request, .. } => (0..request.ids().len())
                .map(|index| (request.clone(), index, Err(ProtoError::Stopped)))
                .collect(),
            Command::PutWithOwner { done, .. } => vec![(done, 0, Err(ProtoError::Stopped))],
            _ => Vec::new(),
        }
    }
}

/// A value for position `.1` of waiter `.0`.
pub type Fill<W> = (W, usize, Result<Bytes, ProtoError>);

/// A value a task body returned, encoded, and the refs nested in it.
#[derive(Debug, Clone, Default)]
pub struct TaskOutput {
    pub bytes: Bytes,
    pub nested: Vec<(ObjectId, WorkerId)>,
}

/// Finished task bodies (one job's, or part of one), in the order they ran.
pub struct Computed<I> {
    pub results: Vec<(TaskSpec, Result<Vec<TaskOutput>, ProtoError>)>,
    /// Return values holding refs: dropped after the node has handled the results.
    pub keep: Vec<Box<dyn Send>>,
    /// The actor instance the methods or constructor ran on, handed back.
    pub actor: Option<(ActorId, I)>,
}

impl<I> Default for Computed<I> {
    fn default() -> Self {
        Computed {
            results: Vec::new(),
            keep: Vec::new(),
            actor: None,
        }
    }
}

/// Task bodies to run, in order, as the node's executor worker: one task, or a batch
/// of method calls on one actor (whose instance travels with them and comes back in
/// [`Computed::actor`]).
pub struct Job<I> {
    pub tasks: Vec<(TaskSpec, Vec<ArgBytes>)>,
    pub actor: Option<(ActorId, I)>,
}

/// Everything a node's inbox carries.
pub enum NodeEvent<W, I> {
    Command(Command<W>),
    Remote(Envelope),
    Computed(Box<Computed<I>>),
    /// Membership: `node` joined with these workers; it takes spread tasks or not (a
    /// driver's node does not).
    NodeJoined {
        node: NodeId,
        workers: Vec<WorkerId>,
        takes_tasks: bool,
    },
    /// Membership: `node` left the cluster with these workers (in cluster order).
    NodeLeft {
        node: NodeId,
        workers: Vec<WorkerId>,
    },
    /// Stop the node.
    Stop,
}

/// Counters a node keeps for `status` and benchmarks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NodeCounters {
    pub tasks_run: u64,
    pub tasks_submitted: u64,
    pub objects_fetched: u64,
    pub bytes_fetched: u64,
    pub messages_sent: u64,
}

/// A task failure as recorded for its return values.
pub(crate) fn task_failed(task: TaskId, message: impl Into<String>) -> ProtoError {
    ProtoError::TaskFailed {
        task,
        message: message.into(),
    }
}
