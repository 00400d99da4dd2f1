//! Clusters of processes: nodes talk QUIC (quinn, rustls on ring) to each other; a head
//! admits members that present the cluster token and watches their heartbeats.
//!
//! - [`frame`]: the sans-IO frame codec every stream uses.
//! - [`wire`]: handshake, membership, heartbeat and status messages.
//! - [`membership`]: the head's membership table as plain state (tested without I/O).
//! - [`limits`]: what a node accepts from peers not yet authenticated.
//! - [`tls`]: certificates, fingerprints, pinned verification.
//! - [`cluster_file`]: what the head writes for the others to join.

pub mod client;
pub mod cluster_file;
pub mod frame;
pub mod head;
pub mod limits;
pub mod link;
pub mod membership;
pub mod node;
pub mod stream;
pub mod tls;
pub mod wire;

pub use cluster_file::{CLUSTER_FILE_ENV, ClusterFile};
pub use node::{NodeOptions, ProcessNode};
pub use wire::NodeRole;
