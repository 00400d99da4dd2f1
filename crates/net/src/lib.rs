//! doreisa-net: doreisa-rs between processes and hosts.
//!
//! Nodes of a cluster of processes talk QUIC (quinn, rustls on ring) to each other; a
//! head admits members that present the cluster token and watches their heartbeats.
//! The protocols themselves (frames, handshake and membership messages, the head's
//! membership table, pre-authentication limits) are plain state in `doreisa-proto`;
//! this crate carries them over sockets.
//!
//! - [`node`]: a node of a process cluster ([`ProcessNode`]: head, worker or driver).
//! - [`head`]: what the head does (admission, membership news, status).
//! - [`link`]: connections between members, and the QUIC transport of node messages.
//! - [`stream`]: frames on QUIC streams.
//! - [`tls`]: certificates, fingerprints, pinned verification.
//! - [`cluster_file`]: what the head writes for the others to join.
//! - [`client`]: one-shot questions to a head (status).
//! - [`cluster`]: [`Cluster`], a program's view of its cluster, embedded or joined.
//!
//! Built on `doreisa-core` (nodes, workers) and `doreisa-proto`. It must not depend on
//! the scheduling, array or in situ layers.

pub mod client;
pub mod cluster;
pub mod cluster_file;
pub mod error;
pub mod head;
pub mod link;
pub mod node;
pub mod stream;
pub mod tls;

pub use cluster::Cluster;
pub use cluster_file::{CLUSTER_FILE_ENV, ClusterFile};
pub use doreisa_proto::wire::NodeRole;
pub use error::{NetError, Result};
pub use node::{NodeOptions, ProcessNode};
