//! The runtime: nodes (a reference table per hosted worker, an object store, a compute
//! pool), the actor that drives each node, and the transports between nodes.

pub mod actor;
pub mod boot;
pub mod buffers;
pub mod compute;
pub mod departures;
pub mod event;
pub mod get;
pub mod inbox;
pub mod mailboxes;
pub mod node;
pub mod spin;
pub mod transport;
pub mod worker;

pub use doreisa_proto::node::{NodeStatus, StoreSummary};

/// The object store figures of a node.
pub fn store_summary(store: &crate::ObjectStore) -> StoreSummary {
    let stats = store.stats();
    StoreSummary {
        objects: stats.objects,
        used_bytes: stats.used_bytes,
        capacity_bytes: stats.capacity_bytes,
        spilled_objects: stats.spilled_objects,
        spilled_bytes: stats.spilled_bytes,
        spills: stats.spills,
    }
}
