//! Where a session's actors are: what a bridge in another process needs to find them
//! (written to a file for MPI ranks that join the cluster).

use crate::coordinator::CoordinatorAddress;
use crate::error::{InsituError, Result};
use crate::gate::NodeGateAddress;
use doreisa_core::NodeId;
use doreisa_sched::cluster::SchedulingActorAddress;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Where a session's actors are: what a bridge in another process needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub coordinator: CoordinatorAddress,
    pub schedulers: Vec<(NodeId, SchedulingActorAddress)>,
    /// Each node's gate, where its bridges announce their chunks.
    pub gates: Vec<(NodeId, NodeGateAddress)>,
}

impl SessionInfo {
    /// The scheduling actor of `node`.
    pub fn scheduler(&self, node: NodeId) -> Option<SchedulingActorAddress> {
        self.schedulers
            .iter()
            .find(|(n, _)| *n == node)
            .map(|(_, a)| *a)
    }

    /// The gate of `node`.
    pub fn gate(&self, node: NodeId) -> Option<NodeGateAddress> {
        self.gates.iter().find(|(n, _)| *n == node).map(|(_, a)| *a)
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).expect("plain fields");
        std::fs::write(path, text).map_err(|e| {
            InsituError::Runtime(doreisa_core::CoreError::Invalid(format!(
                "cannot write {}: {e}",
                path.display()
            )))
        })
    }

    pub fn read(path: &Path) -> Result<SessionInfo> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            InsituError::Runtime(doreisa_core::CoreError::Invalid(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        })?;
        serde_json::from_str(&text).map_err(|e| {
            InsituError::Runtime(doreisa_core::CoreError::Invalid(format!(
                "{}: {e}",
                path.display()
            )))
        })
    }
}
