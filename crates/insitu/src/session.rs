//! A session: where a simulation and its analytics meet. It starts the coordinator on
//! the analytics' node, and a scheduling actor and a gate on every node, so that either
//! side may start first; other processes find them through [`SessionInfo`].

use crate::bridge::{Bridge, BridgeOptions};
use crate::coordinator::state::{Event, Progress};
use crate::coordinator::{Coordinator, CoordinatorHandle, InsituShared};
use crate::error::{InsituError, Result};
use crate::gate::{NodeGate, NodeGateHandle};
use doreisa_core::{ActorAddress, NodeId, TaskOptions, Worker};
use doreisa_sched::cluster::SchedulingActorHandle;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};

/// Where a session's actors are: what a bridge in another process needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub coordinator: ActorAddress,
    pub schedulers: Vec<(NodeId, ActorAddress)>,
    /// Each node's gate, where its bridges announce their chunks.
    pub gates: Vec<(NodeId, ActorAddress)>,
}

impl SessionInfo {
    /// The scheduling actor of `node`.
    pub fn scheduler(&self, node: NodeId) -> Option<ActorAddress> {
        self.schedulers
            .iter()
            .find(|(n, _)| *n == node)
            .map(|(_, a)| *a)
    }

    /// The gate of `node`.
    pub fn gate(&self, node: NodeId) -> Option<ActorAddress> {
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

/// A running session, owned by the analytics' program.
pub struct Session {
    driver: Worker,
    id: u64,
    shared: Arc<InsituShared>,
    coordinator: CoordinatorHandle,
    schedulers: Vec<(NodeId, SchedulingActorHandle)>,
    gates: Vec<(NodeId, NodeGateHandle)>,
    events: Mutex<Option<mpsc::Receiver<Event>>>,
}

impl Session {
    /// Starts a session for the program of `driver`, whose simulation publishes on
    /// `nodes`.
    pub fn start(driver: &Worker, nodes: &[NodeId]) -> Result<Arc<Session>> {
        let shared = driver
            .registry()
            .extension::<InsituShared>()
            .ok_or_else(|| {
                InsituError::Runtime(doreisa_core::CoreError::Invalid(
                    "the in situ layer is not registered (doreisa::registry())".into(),
                ))
            })?;
        let (id, events) = shared.open();
        let coordinator = Coordinator::create(driver, TaskOptions::on(driver.node()), id, 1024)?;
        driver.get(coordinator.actor.created())?;
        let schedulers = doreisa_sched::cluster::start_actors(driver, nodes)?;
        let gates = nodes
            .iter()
            .map(|&node| {
                let gate =
                    NodeGate::create(driver, TaskOptions::on(node), coordinator.actor.address())?;
                Ok((node, gate))
            })
            .collect::<Result<Vec<_>>>()?;
        for (_, gate) in &gates {
            driver.get(gate.actor.created())?;
        }
        Ok(Arc::new(Session {
            driver: driver.clone(),
            id,
            shared,
            coordinator,
            schedulers,
            gates,
            events: Mutex::new(Some(events)),
        }))
    }

    pub fn info(&self) -> SessionInfo {
        SessionInfo {
            coordinator: self.coordinator.actor.address(),
            schedulers: self
                .schedulers
                .iter()
                .map(|(n, a)| (*n, a.actor.address()))
                .collect(),
            gates: self
                .gates
                .iter()
                .map(|(n, g)| (*n, g.actor.address()))
                .collect(),
        }
    }

    /// The nodes the simulation publishes on.
    pub fn nodes(&self) -> Vec<NodeId> {
        self.schedulers.iter().map(|(n, _)| *n).collect()
    }

    /// A bridge for `ranks` ranks of this process publishing beside the node of
    /// `beside` (a worker of that node).
    pub fn bridge(
        &self,
        beside: &Worker,
        ranks: usize,
        options: BridgeOptions,
    ) -> Result<Arc<Bridge>> {
        Bridge::start(beside, &self.info(), ranks, options)
    }

    /// How many announcement messages the coordinator received so far: one per node
    /// and iteration when every rank of a node publishes every array it declared.
    pub fn announce_messages(&self) -> Result<u64> {
        let asked =
            self.driver
                .call_method_at(self.coordinator(), "announce_messages", Vec::new())?;
        Ok(self.driver.get(&asked.cast())?)
    }

    /// How far the analytics got, as the simulation's back-pressure sees it (whether
    /// it runs, the last timestep it finished, its contract's version).
    pub fn progress(&self) -> Result<Progress> {
        let asked = self
            .driver
            .call_method_at(self.coordinator(), "progress", Vec::new())?;
        Ok(self.driver.get(&asked.cast())?)
    }

    pub(crate) fn driver(&self) -> &Worker {
        &self.driver
    }

    /// Below which timestep the analytics skips (drop-oldest back-pressure).
    pub(crate) fn skipping_below(&self) -> Option<i64> {
        self.shared.skipping_below(self.id)
    }

    pub(crate) fn coordinator(&self) -> ActorAddress {
        self.coordinator.actor.address()
    }

    pub(crate) fn scheduler_handles(&self) -> Vec<(NodeId, SchedulingActorHandle)> {
        self.schedulers.clone()
    }

    /// The session's events; taken once, by its analytics.
    pub(crate) fn take_events(&self) -> Option<mpsc::Receiver<Event>> {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shared.close(self.id);
    }
}
