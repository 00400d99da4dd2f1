//! doreisa-core: the Ray layer of doreisa-rs.
//!
//! Ids; the ownership / distributed reference-counting protocol (a sans-IO state machine,
//! [`ownership`]); and built on it, [`ObjectRef`]s, tasks, actors and nodes
//! ([`runtime`]), with an embedded multi-node [`Cluster`] and the transports between
//! nodes.
//!
//! Depends on `doreisa-objstore` only among doreisa crates. It must not depend on the
//! scheduling, array or in situ layers (`doreisa-sched`, `doreisa-array`,
//! `doreisa-insitu`): they build on it.

pub mod cluster;
pub mod error;
pub mod net;
pub mod object_ref;
pub mod registry;
pub mod runtime;
pub mod shm;

pub use doreisa_proto::{codec, ids, ownership, task};

#[doc(hidden)]
pub use serde as __serde;

pub use cluster::{Cluster, ClusterConfig};
pub use error::{CoreError, Result};
pub use ids::{ActorId, IdMinter, NodeId, ObjectId, TaskId, WorkerId};
pub use object_ref::{Arg, Blob, ObjectRef, Payload};
pub use registry::Registry;
pub use runtime::mailboxes::Mailboxes;
pub use runtime::worker::{ActorAddress, ActorHandle, TaskOptions, Worker};
pub use task::Placement;

/// The object store of a node, keyed by object id.
pub type ObjectStore = doreisa_objstore::ObjectStore<ObjectId>;
