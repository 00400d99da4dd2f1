//! What nodes, the head and status clients say to each other besides node messages:
//! the handshake, membership news, heartbeats and status. Encoded with the crate's
//! codec inside frames; decoding untrusted bytes fails cleanly.

use crate::error::ProtoError;
use crate::frame::{Frame, FrameKind};
use crate::ids::{NodeId, WorkerId};
use crate::node::Envelope;
use crate::node::NodeStatus;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Bumped when the wire format changes: peers of other versions are refused.
/// 2: the head answers heartbeats ([`FrameKind::HeartbeatAck`]).
pub const PROTOCOL_VERSION: u32 = 2;

/// Why a peer speaking wire `version` is refused, naming both versions.
pub fn version_refusal(version: u32) -> String {
    format!(
        "wire version {version} refused: this node speaks version {PROTOCOL_VERSION} (run the \
         same doreisa-rs release on every node)"
    )
}

/// The refusal of a hello from a peer of another wire version, read from the first
/// field of the hello alone: the rest of a hello of another version may be laid out
/// differently. `None` when the version is this one (or unreadable: decoding the whole
/// hello then fails on its own).
pub fn hello_version_refusal(payload: &[u8]) -> Option<String> {
    let version: u32 = crate::codec::decode_prefix(payload).ok()?;
    (version != PROTOCOL_VERSION).then(|| version_refusal(version))
}

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

/// What precedes an object's raw bytes on its stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectHeader {
    pub from: NodeId,
    pub epoch: u64,
    pub id: crate::ids::ObjectId,
    pub len: u64,
}

/// Decodes a frame's payload as what its kind carries, and drops it: whether bytes
/// from the network are acceptable (the fuzz target and property tests use it).
pub fn check_frame(frame: &Frame) -> Result<(), ProtoError> {
    use crate::codec::decode_untrusted as decode;
    match frame.kind {
        FrameKind::Hello => decode::<Hello>(&frame.payload).map(drop),
        FrameKind::Welcome => decode::<Welcome>(&frame.payload).map(drop),
        FrameKind::Membership => decode::<MembershipEvent>(&frame.payload).map(drop),
        FrameKind::Heartbeat => decode::<Heartbeat>(&frame.payload).map(drop),
        FrameKind::Envelopes => decode::<Vec<Envelope>>(&frame.payload).map(drop),
        FrameKind::Object => decode::<ObjectHeader>(&frame.payload).map(drop),
        FrameKind::Status => decode::<Option<ClusterStatus>>(&frame.payload).map(drop),
        FrameKind::Leave => decode::<NodeId>(&frame.payload).map(drop),
        FrameKind::HeartbeatAck => decode::<()>(&frame.payload),
    }
}

/// The cluster as the head sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub members: Vec<MemberStatus>,
    /// Nodes that left or were declared dead: the most recent ones, oldest first.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FrameDecoder, encode_frame};
    use proptest::prelude::*;

    #[test]
    fn valid_messages_pass_and_truncated_ones_fail() {
        let hello = Hello {
            version: PROTOCOL_VERSION,
            token: vec![1; 32],
            purpose: Purpose::Peer { from: NodeId(3) },
        };
        let payload = crate::codec::encode(&hello).unwrap();
        let frame = |payload: &[u8]| Frame {
            kind: FrameKind::Hello,
            payload: bytes::Bytes::copy_from_slice(payload),
        };
        assert!(check_frame(&frame(&payload)).is_ok());
        assert!(check_frame(&frame(&payload[..payload.len() - 1])).is_err());
        let mut longer = payload.clone();
        longer.push(0);
        assert!(check_frame(&frame(&longer)).is_err());
    }

    #[test]
    fn a_hello_of_another_version_is_refused_naming_both_even_if_its_layout_differs() {
        let hello = Hello {
            version: PROTOCOL_VERSION,
            token: vec![1; 32],
            purpose: Purpose::Status,
        };
        assert_eq!(
            hello_version_refusal(&crate::codec::encode(&hello).unwrap()),
            None
        );
        // A later version whose hello has other fields after the version.
        let mut future = crate::codec::encode(&(PROTOCOL_VERSION + 98)).unwrap();
        future.extend_from_slice(&[0xff; 40]);
        let reason = hello_version_refusal(&future).expect("refused");
        assert!(
            reason.contains(&format!("wire version {}", PROTOCOL_VERSION + 98)),
            "{reason}"
        );
        assert!(
            reason.contains(&format!("speaks version {PROTOCOL_VERSION}")),
            "{reason}"
        );
    }

    proptest! {
        /// Random frames of every kind: decoded or refused, never a panic.
        #[test]
        fn random_payloads_never_panic(
            kind in 1u8..=8,
            payload in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let mut wire = bytes::BytesMut::new();
            encode_frame(FrameKind::from_u8(kind).unwrap(), &payload, &mut wire);
            let mut decoder = FrameDecoder::default();
            decoder.feed(&wire);
            let frame = decoder.next_frame().unwrap().unwrap();
            let _ = check_frame(&frame);
        }
    }
}
