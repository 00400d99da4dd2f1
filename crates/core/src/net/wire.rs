//! What nodes, the head and status clients say to each other besides node messages:
//! the handshake, membership news, heartbeats and status. Encoded with the crate's
//! codec inside frames; decoding untrusted bytes fails cleanly.

use crate::ids::{NodeId, WorkerId};
use crate::runtime::actor::NodeStatus;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Bumped when the wire format changes: peers of other versions are refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// The length of a cluster token, in bytes.
pub const TOKEN_LEN: usize = 32;

/// What a process is to the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeRole {
    /// The head: admits members, watches them, and runs tasks like a worker.
    Head,
    /// A worker node: runs tasks and stores objects.
    Worker,
    /// A driver program's node: runs its own program's tasks only when asked to.
    Driver,
}

impl NodeRole {
    /// Whether spread tasks go there.
    pub fn takes_tasks(self) -> bool {
        !matches!(self, NodeRole::Driver)
    }
}

/// A member of the cluster as every node knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub node: NodeId,
    pub role: NodeRole,
    /// Where it accepts QUIC connections.
    pub addr: SocketAddr,
    /// SHA-256 of its certificate (peers pin it).
    pub fingerprint: Vec<u8>,
    /// The workers it hosts (their deaths are applied when it leaves).
    pub workers: Vec<WorkerId>,
    /// Compute threads.
    pub cpus: u32,
    /// Object store capacity.
    pub store_capacity: u64,
}

/// The first frame on a new connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    pub token: Vec<u8>,
    pub purpose: Purpose,
}

/// Why a connection is opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Purpose {
    /// A node asks the head to join.
    Join {
        role: NodeRole,
        addr: SocketAddr,
        fingerprint: Vec<u8>,
        cpus: u32,
        store_capacity: u64,
    },
    /// A member opens its connection to another member, for node traffic.
    Peer { from: NodeId },
    /// A client asks the head for the cluster's status.
    Status,
}

/// The answer to a hello.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Welcome {
    /// Joined as `node`; `epoch` worker deaths happened before; these are the members
    /// (the joiner included).
    Joined {
        node: NodeId,
        epoch: u64,
        members: Vec<Member>,
    },
    /// A peer connection is accepted.
    PeerAccepted,
    /// Refused, and why (nothing else is sent).
    Refused { reason: String },
}

/// Membership news, sent by the head to every member in one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MembershipEvent {
    Joined(Member),
    Left {
        node: NodeId,
        workers: Vec<WorkerId>,
    },
}

/// A member's periodic sign of life, with its figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Heartbeat {
    pub node: NodeId,
    pub status: NodeStatus,
}

/// The cluster as the head sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub members: Vec<MemberStatus>,
    /// Nodes that left or were declared dead.
    pub departed: Vec<NodeId>,
}

/// One member in a [`ClusterStatus`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberStatus {
    pub member: Member,
    /// Milliseconds since its last heartbeat.
    pub last_seen_ms: u64,
    /// What its last heartbeat said.
    pub status: Option<NodeStatus>,
}
