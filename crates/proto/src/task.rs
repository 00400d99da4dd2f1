//! Tasks as they travel: specs (caller → executor) and replies (executor → caller).

use crate::ids::{ActorId, NodeId, ObjectId, TaskId, WorkerId};
use crate::ownership::BorrowReport;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One argument of a task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum TaskArg {
    /// An inline value and the refs nested in it.
    Value {
        #[serde(with = "bytes_serde")]
        bytes: Bytes,
        nested: Vec<(ObjectId, WorkerId)>,
    },
    /// A ref, resolved to its value before the call.
    Ref { id: ObjectId, owner: WorkerId },
}

/// Where a task should run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Placement {
    /// Where most of its argument objects are (else on the caller's node).
    Locality,
    /// On this node.
    Node(NodeId),
    /// On the next node, round robin (resolved at submission).
    Spread,
    /// On the node of this actor, as one of its method calls.
    Actor(ActorId, NodeId),
}

/// What a task runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskKind {
    /// A registered function.
    Function(Arc<str>),
    /// Create an actor of a registered class (its constructor arguments are the task's).
    CreateActor { actor: ActorId, class: Arc<str> },
    /// A method of an existing actor.
    Method { actor: ActorId, method: Arc<str> },
}

/// A task as submitted by its caller, who owns its return values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskSpec {
    pub task: TaskId,
    pub caller: WorkerId,
    pub kind: TaskKind,
    pub args: Vec<TaskArg>,
    pub num_returns: u32,
    /// Re-executions still allowed (failures, and rebuilding lost returns).
    pub retries: u32,
    pub placement: Placement,
}

impl TaskSpec {
    pub fn return_id(&self, index: u32) -> ObjectId {
        self.task.return_id(index)
    }

    /// Every ref the spec mentions: ref arguments and refs nested in inline values.
    pub fn referenced(&self) -> Vec<(ObjectId, WorkerId)> {
        let mut ids = Vec::new();
        for arg in &self.args {
            match arg {
                TaskArg::Ref { id, owner } => ids.push((*id, *owner)),
                TaskArg::Value { nested, .. } => ids.extend_from_slice(nested),
            }
        }
        ids
    }

    /// Size of the spec, charged to the caller's lineage budget.
    pub fn approximate_size(&self) -> u64 {
        let args: usize = self
            .args
            .iter()
            .map(|a| match a {
                TaskArg::Value { bytes, nested } => bytes.len() + nested.len() * 32,
                TaskArg::Ref { .. } => 32,
            })
            .sum();
        (96 + args) as u64
    }
}

/// Where a return value is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ReturnData {
    /// Small: carried in the reply, stored on the caller's node.
    Inline(#[serde(with = "bytes_serde")] Bytes),
    /// Stored on this node (the executor's), `size` bytes.
    Stored { node: NodeId, size: u64 },
}

/// One return value of a finished task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReturnValue {
    pub id: ObjectId,
    pub data: ReturnData,
    pub nested: Vec<(ObjectId, WorkerId)>,
}

/// The reply of a task, to its caller.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskReply {
    pub task: TaskId,
    pub caller: WorkerId,
    pub executor: WorkerId,
    pub report: BorrowReport,
    /// The returns, or why the task failed.
    pub outcome: Result<Vec<ReturnValue>, String>,
}

/// `Bytes` as a serde byte string (one length prefix and a copy), never element by element.
pub mod bytes_serde {
    use bytes::Bytes;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Bytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes::copy_from_slice(v))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes::from(v))
            }
        }
        d.deserialize_bytes(Visitor)
    }
}

/// An argument as a task body receives it: the value's bytes, and the object it came
/// from when it was passed by ref (refs nested in it are then nested in that object).
#[derive(Debug, Clone)]
pub struct ArgBytes {
    pub bytes: Bytes,
    pub from: Option<ObjectId>,
}
