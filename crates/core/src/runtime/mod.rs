//! The runtime: nodes (a reference table per hosted worker, an object store, a compute
//! pool), the actor that drives each node, and the transports between nodes.

pub mod actor;
pub mod buffers;
pub mod compute;
pub mod event;
pub mod get;
pub mod inbox;
pub mod mailboxes;
pub mod node;
pub mod spin;
pub mod transport;
pub mod worker;

use serde::{Deserialize, Serialize};

/// Object store figures of a node.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoreSummary {
    pub objects: usize,
    pub used_bytes: u64,
    pub capacity_bytes: u64,
    pub spilled_objects: usize,
    pub spilled_bytes: u64,
    /// Objects spilled since the node started (spilled or not now).
    pub spills: u64,
}

impl node::NodeState {
    /// The object store figures of this node.
    pub fn store_summary(&self) -> StoreSummary {
        let stats = self.store().stats();
        StoreSummary {
            objects: stats.objects,
            used_bytes: stats.used_bytes,
            capacity_bytes: stats.capacity_bytes,
            spilled_objects: stats.spilled_objects,
            spilled_bytes: stats.spilled_bytes,
            spills: stats.spills,
        }
    }
}
