//! A session: where a simulation and its analytics meet. It starts the coordinator on
//! the analytics' node, and a scheduling actor and a gate on every node, so that either
//! side may start first; other processes find them through [`SessionInfo`].

use crate::bridge::{Bridge, BridgeOptions};
use crate::coordinator::state::{Event, Progress};
use crate::coordinator::{Coordinator, CoordinatorAddress, CoordinatorHandle, InsituShared};
use crate::error::{InsituError, Result};
use crate::gate::{NodeGate, NodeGateHandle};
use crate::session_info::SessionInfo;
use doreisa_core::{NodeId, TaskOptions, Worker};
use doreisa_sched::cluster::SchedulingActorHandle;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// The bound on an answer of the session's actors to its driver (their creation, a
/// question): they live on the cluster's nodes, which answer in microseconds unless
/// one died.
const ANSWER: Duration = Duration::from_secs(120);

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
        driver.get_timeout(coordinator.actor.created(), Some(ANSWER))?;
        let schedulers = doreisa_sched::cluster::start_actors(driver, nodes)?;
        let gates = nodes
            .iter()
            .map(|&node| {
                let scheduler = schedulers
                    .iter()
                    .find(|(n, _)| *n == node)
                    .map(|(_, s)| s.address())
                    .expect("a scheduling actor per node");
                let gate = NodeGate::create(
                    driver,
                    TaskOptions::on(node),
                    coordinator.address(),
                    scheduler,
                )?;
                Ok((node, gate))
            })
            .collect::<Result<Vec<_>>>()?;
        for (_, gate) in &gates {
            driver.get_timeout(gate.actor.created(), Some(ANSWER))?;
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
            coordinator: self.coordinator.address(),
            schedulers: self
                .schedulers
                .iter()
                .map(|(n, a)| (*n, a.address()))
                .collect(),
            gates: self.gates.iter().map(|(n, g)| (*n, g.address())).collect(),
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
        let asked = self.coordinator.announce_messages(&self.driver)?;
        Ok(self.driver.get_timeout(&asked, Some(ANSWER))?)
    }

    /// How far the analytics got, as the simulation's back-pressure sees it (whether
    /// it runs, the last timestep it finished, its contract's version).
    pub fn progress(&self) -> Result<Progress> {
        let asked = self.coordinator.progress(&self.driver)?;
        Ok(self.driver.get_timeout(&asked, Some(ANSWER))?)
    }

    pub(crate) fn driver(&self) -> &Worker {
        &self.driver
    }

    /// Below which timestep the analytics skips (drop-oldest back-pressure).
    pub(crate) fn skipping_below(&self) -> Option<i64> {
        self.shared.skipping_below(self.id)
    }

    pub(crate) fn coordinator(&self) -> CoordinatorAddress {
        self.coordinator.address()
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
