//! The node-to-node protocol: what one node's state machine sends another's.

use crate::error::ProtoError;
use crate::ids::{ActorId, NodeId, ObjectId, WorkerId};
use crate::ownership::ProtocolMessage;
use crate::task::{TaskReply, TaskSpec};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

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
    ObjectFailed { id: ObjectId, error: ProtoError },
    /// The owner released these values: drop their copies here.
    Free { ids: Vec<ObjectId> },
    /// The owner of actor `actor` dropped its last handle: stop it.
    KillActor { actor: ActorId },
}
