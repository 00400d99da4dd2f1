//! The error type of doreisa-core.

use crate::ids::{ActorId, NodeId, ObjectId, TaskId, WorkerId};
use crate::ownership::LossReason;

/// Everything that can go wrong in the runtime, as seen by its users.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum CoreError {
    #[error("the owner of {0:?} died: its objects share its fate")]
    OwnerDied(ObjectId),
    #[error("{id:?} is lost ({reason})")]
    ObjectLost { id: ObjectId, reason: LossReason },
    #[error("{0:?} was freed explicitly")]
    ObjectFreed(ObjectId),
    #[error("task {task:?} failed: {message}")]
    TaskFailed { task: TaskId, message: String },
    #[error("actor {0:?} is dead")]
    ActorDied(ActorId),
    #[error("no function registered as {0:?}")]
    UnknownFunction(String),
    #[error("no actor class registered as {0:?}")]
    UnknownActorClass(String),
    #[error("node {0:?} is not part of the cluster")]
    UnknownNode(NodeId),
    #[error("timed out after {0:?}")]
    Timeout(std::time::Duration),
    #[error("encoding error: {0}")]
    Codec(String),
    #[error("object store: {0}")]
    Store(String),
    #[error(
        "{id:?} is held by worker {holder:?}, not by {user:?}: hand it over inside a task \
         argument, an actor call or a stored value"
    )]
    ForeignRef {
        id: ObjectId,
        holder: WorkerId,
        user: WorkerId,
    },
    /// A task body of an upper layer failed, for this reason.
    #[error("{0}")]
    Failed(String),
    #[error("the cluster is shut down")]
    Stopped,
    /// This program's node stopped on its own, for this reason (it lost the head, or
    /// the head declared it dead): what waited on it, and what comes later, fails.
    #[error("this node stopped: {0}")]
    NodeStopped(String),
    #[error("invalid argument: {0}")]
    Invalid(String),
}

impl From<doreisa_proto::ProtoError> for CoreError {
    fn from(e: doreisa_proto::ProtoError) -> Self {
        use doreisa_proto::ProtoError as P;
        match e {
            P::OwnerDied(id) => CoreError::OwnerDied(id),
            P::ObjectLost { id, reason } => CoreError::ObjectLost { id, reason },
            P::ObjectFreed(id) => CoreError::ObjectFreed(id),
            P::TaskFailed { task, message } => CoreError::TaskFailed { task, message },
            P::ActorDied(actor) => CoreError::ActorDied(actor),
            P::Store(message) => CoreError::Store(message),
            P::Failed(message) => CoreError::Failed(message),
            P::Stopped => CoreError::Stopped,
            P::Invalid(message) => CoreError::Invalid(message),
            P::Codec(message) => CoreError::Codec(message),
        }
    }
}

impl From<CoreError> for doreisa_proto::ProtoError {
    /// What a node reports of a runtime error (a task body's, say): the same variant
    /// when the protocol has it, else its message.
    fn from(e: CoreError) -> Self {
        use doreisa_proto::ProtoError as P;
        match e {
            CoreError::OwnerDied(id) => P::OwnerDied(id),
            CoreError::ObjectLost { id, reason } => P::ObjectLost { id, reason },
            CoreError::ObjectFreed(id) => P::ObjectFreed(id),
            CoreError::TaskFailed { task, message } => P::TaskFailed { task, message },
            CoreError::ActorDied(actor) => P::ActorDied(actor),
            CoreError::Store(message) => P::Store(message),
            CoreError::Failed(message) => P::Failed(message),
            CoreError::Stopped => P::Stopped,
            CoreError::Invalid(message) => P::Invalid(message),
            CoreError::Codec(message) => P::Codec(message),
            other => P::Failed(other.to_string()),
        }
    }
}

impl From<doreisa_objstore::StoreError> for CoreError {
    fn from(e: doreisa_objstore::StoreError) -> Self {
        CoreError::Store(e.to_string())
    }
}

/// Result with [`CoreError`].
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
