//! What a node reports about itself (status commands, heartbeats, benchmarks).

use crate::ids::NodeId;
use crate::node::NodeCounters;
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

/// What a node reports about itself.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NodeStatus {
    pub node: NodeId,
    pub records: usize,
    pub pending_tasks: usize,
    pub waiting_tasks: usize,
    pub running_tasks: usize,
    pub actors: usize,
    pub counters: NodeCounters,
    pub store: StoreSummary,
}
