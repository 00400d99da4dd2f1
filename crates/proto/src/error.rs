//! The error type of doreisa-proto: why an object or a task cannot be had, as nodes tell
//! each other (it travels in node messages), and why bytes could not be decoded.

use crate::ids::{ActorId, ObjectId, TaskId};
use crate::ownership::LossReason;

/// What the protocols report. The runtime's own error (`doreisa_core::CoreError`)
/// has a variant of the same name and meaning for each of these.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum ProtoError {
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
    #[error("object store: {0}")]
    Store(String),
    /// A task body failed, for this reason.
    #[error("{0}")]
    Failed(String),
    #[error("the cluster is shut down")]
    Stopped,
    #[error("invalid argument: {0}")]
    Invalid(String),
    #[error("encoding error: {0}")]
    Codec(String),
}

impl std::fmt::Display for LossReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LossReason::OwnerDied => "its owner died",
            LossReason::NotReconstructable => "its node died and put values cannot be rebuilt",
            LossReason::LineageEvicted => "its node died and its lineage was evicted",
        })
    }
}

/// Result with [`ProtoError`].
pub type Result<T, E = ProtoError> = std::result::Result<T, E>;
