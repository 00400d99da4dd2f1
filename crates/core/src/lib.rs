//! doreisa-core: the Ray layer of doreisa-rs, as a runtime.
//!
//! [`ObjectRef`]s (RAII handles whose clones and drops drive Ray's ownership protocol,
//! nested refs included), registered functions and actor classes ([`registry`]), and
//! the [`runtime`] that runs them: a node per process or many virtual nodes in one
//! ([`cluster::EmbeddedCluster`]), each a thin actor around the node state machine of
//! `doreisa-proto`, with its object store and a compute pool for task bodies.
//!
//! Built on `doreisa-proto` (ids, the protocols) and `doreisa-objstore`. It must not
//! depend on the network layer (`doreisa-net`) nor on the scheduling, array or in situ
//! layers: they build on it.

pub mod cluster;
pub mod error;
pub mod host;
pub mod object_ref;
pub mod registry;
pub mod runtime;

pub use doreisa_proto::{codec, ids, ownership, task};

#[doc(hidden)]
pub use serde as __serde;

pub use cluster::{ClusterConfig, EmbeddedCluster};
pub use error::{CoreError, Result};
pub use ids::{ActorId, IdMinter, NodeId, ObjectId, TaskId, WorkerId};
pub use object_ref::{Arg, Blob, ObjectRef, Payload};
pub use registry::Registry;
pub use runtime::departures::DepartureWatch;
pub use runtime::get::blocking;
pub use runtime::mailboxes::Mailboxes;
pub use runtime::worker::{ActorAddress, ActorHandle, TaskOptions, Worker};
pub use task::Placement;

/// The object store of a node, keyed by object id.
pub type ObjectStore = doreisa_objstore::ObjectStore<ObjectId>;
