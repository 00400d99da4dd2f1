//! Assembling a node: its shared state, state machine, workers, compute pool and actor.
//! The one way both kinds of cluster (embedded, processes) bring a node up.

use crate::ObjectStore;
use crate::ids::{NodeId, WorkerId};
use crate::registry::Registry;
use crate::runtime::actor::{CrashHook, NodeActor};
use crate::runtime::compute::ComputePool;
use crate::runtime::event::NodeEvent;
use crate::runtime::inbox::Inbox;
use crate::runtime::node::{NodeState, StoreHost};
use crate::runtime::transport::Transport;
use crate::runtime::worker::{NodeShared, Worker, WorkerShared};
use actix::{Actor, Addr};
use std::sync::Arc;
use std::time::Duration;

/// A node before its actor runs.
pub struct NodeParts {
    pub shared: Arc<NodeShared>,
    pub state: NodeState,
    /// The worker that runs the tasks sent to this node.
    pub executor: Arc<WorkerShared>,
}

impl NodeParts {
    /// Node `id`, whose reference tables know the executors of `peers` as live, and
    /// which spreads tasks over `spread` until membership news change it.
    pub fn new(
        id: NodeId,
        inbox: Arc<Inbox<NodeEvent>>,
        store: Arc<ObjectStore>,
        registry: Arc<Registry>,
        peers: &[NodeId],
        spread: Vec<NodeId>,
        spin: Duration,
    ) -> Self {
        let shared = Arc::new(NodeShared::new(
            id,
            inbox,
            store.clone(),
            registry,
            spread,
            spin,
        ));
        let state = NodeState::new(id, StoreHost { store }, peers);
        let executor = Arc::new(WorkerShared::new(state.executor(), shared.clone()));
        NodeParts {
            shared,
            state,
            executor,
        }
    }

    /// Hosts another worker here (a driver).
    pub fn add_worker(&mut self, worker: WorkerId) -> Worker {
        self.state.add_worker(worker);
        Worker::new(Arc::new(WorkerShared::new(worker, self.shared.clone())))
    }

    /// The worker that runs the tasks sent to this node, as a handle.
    pub fn executor_worker(&self) -> Worker {
        Worker::new(self.executor.clone())
    }

    /// The node actor, running its task bodies on `pool` and sending through
    /// `transport` (start it inside an actix system).
    pub fn actor(self, pool: Arc<ComputePool>, transport: Box<dyn Transport>) -> NodeActor {
        NodeActor::new(self.state, self.shared, self.executor, pool, transport)
    }

    /// The node of a process: its own compute pool of `threads` threads, and an actor
    /// that stops the actix system it runs in when it stops. Call it inside that system.
    pub fn start_alone(
        self,
        threads: usize,
        transport: Box<dyn Transport>,
        on_crash: Option<CrashHook>,
    ) -> std::io::Result<Addr<NodeActor>> {
        let name = format!("{:?}", self.shared.id);
        let pool = ComputePool::start(&name, threads, self.shared.spin)?;
        let mut actor = self.actor(pool, transport).stops_system();
        if let Some(hook) = on_crash {
            actor = actor.on_crash(hook);
        }
        Ok(actor.start())
    }
}
