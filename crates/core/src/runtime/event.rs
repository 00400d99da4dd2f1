//! What a node consumes (events from its own threads, messages from other nodes,
//! finished computations, membership changes) and what it sends to other nodes.

use crate::error::CoreError;
use crate::ids::{ActorId, NodeId, ObjectId, TaskId, WorkerId};
use crate::object_ref::Encoded;
use crate::ownership::ProtocolMessage;
use crate::registry::ActorInstance;
use crate::runtime::get::GetRequest;
use crate::task::{TaskReply, TaskSpec};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A command from a thread of this node (user code, or a task body).
pub enum Command {
    /// `worker` stored `id` (already in the store) containing `nested`.
    Put {
        worker: WorkerId,
        id: ObjectId,
        nested: Vec<(ObjectId, WorkerId)>,
    },
    /// `worker` stored `id` (in the store here) on behalf of `owner`; `done` completes
    /// when the owner adopted it (or failed to).
    PutWithOwner {
        worker: WorkerId,
        id: ObjectId,
        owner: WorkerId,
        done: Arc<GetRequest>,
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
    /// `worker` wants the values of `request.ids`.
    Get {
        worker: WorkerId,
        request: Arc<GetRequest>,
    },
    /// `worker` frees the values of objects it owns.
    Free {
        worker: WorkerId,
        ids: Vec<ObjectId>,
    },
}

impl Command {
    /// The node stopped before handling this command: fail whoever waits on it.
    pub fn refuse_stopped(self) {
        match self {
            Command::Get { request, .. } => {
                for index in 0..request.ids.len() {
                    request.fill(index, Err(CoreError::Stopped));
                }
            }
            Command::PutWithOwner { done, .. } => done.fill(0, Err(CoreError::Stopped)),
            _ => {}
        }
    }
}

/// Finished task bodies (one job's, or part of one), in the order they ran.
#[derive(Default)]
pub struct Computed {
    pub results: Vec<(TaskSpec, Result<Vec<Encoded>, CoreError>)>,
    /// Return values holding refs: dropped after the node has handled the results.
    pub keep: Vec<Box<dyn Send>>,
    /// The actor instance the methods or constructor ran on, handed back.
    pub actor: Option<(ActorId, Box<dyn ActorInstance>)>,
}

/// A message between nodes, stamped by its sender.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub from: NodeId,
    /// The sender's death epoch: the receiver applies as many deaths first.
    pub epoch: u64,
    pub message: NodeMessage,
}

/// The node-to-node protocol.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum NodeMessage {
    /// Ownership protocol between two workers.
    Protocol {
        from: WorkerId,
        to: WorkerId,
        message: ProtocolMessage,
    },
    /// Run this task here.
    Task(TaskSpec),
    /// The reply of a task whose caller lives here.
    Reply(TaskReply),
    /// Send `requester` the value of `id` (forwarded by the owner when the value is
    /// elsewhere; parked while it is being computed).
    Fetch { id: ObjectId, requester: NodeId },
    /// The value of `id`.
    Object {
        id: ObjectId,
        #[serde(with = "crate::task::bytes_serde")]
        data: Bytes,
    },
    /// `id` cannot be obtained.
    ObjectFailed { id: ObjectId, error: CoreError },
    /// The owner released these values: drop their copies here.
    Free { ids: Vec<ObjectId> },
    /// The owner of actor `actor` dropped its last handle: stop it.
    KillActor { actor: ActorId },
}

/// Everything a node's inbox carries.
pub enum NodeEvent {
    Command(Command),
    Remote(Envelope),
    Computed(Box<Computed>),
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
pub(crate) fn task_failed(task: TaskId, message: impl Into<String>) -> CoreError {
    CoreError::TaskFailed {
        task,
        message: message.into(),
    }
}
