//! The driver's side: a [`GraphRunner`] over a cluster's scheduling actors. It knows
//! where sources are, partitions each new graph structure once, ships the plan to the
//! nodes taking part, then per run sends each of them one request and waits for the
//! outputs in its mailbox. It never touches chunk data besides the outputs it asked for.

use crate::SchedError;
use crate::cluster::actor::{
    SchedulerStats, SchedulingActor, SchedulingActorAddress, SchedulingActorHandle,
};
use crate::cluster::shared::SchedShared;
use crate::cluster::state::RunRequest;
use crate::graph::{SourceKey, TaskGraph};
use crate::partition::{greedy, random_balanced};
use crate::plan::{Plan, structure_key};
use crate::runner::{GraphRunner, Persisted};
use bytes::Bytes;
use doreisa_core::{Arg, Blob, NodeId, ObjectRef, TaskOptions, Worker};
use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How tasks are placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Where the inputs are (see [`crate::partition::greedy`]).
    Greedy,
    /// Evenly at random, for comparison.
    RandomBalanced { seed: u64 },
}

impl Strategy {
    fn key(self) -> u64 {
        match self {
            Strategy::Greedy => 0,
            Strategy::RandomBalanced { seed } => 1 + seed,
        }
    }
}

/// Starts a scheduling actor on each of `nodes` and waits until they run (a failed
/// start shows here, and nothing can call them before they exist).
pub fn start_actors(
    driver: &Worker,
    nodes: &[NodeId],
) -> Result<Vec<(NodeId, SchedulingActorHandle)>, SchedError> {
    let mut actors = Vec::new();
    for &node in nodes {
        actors.push((
            node,
            SchedulingActor::create(driver, TaskOptions::on(node), node)?,
        ));
    }
    for (_, actor) in &actors {
        driver.get(actor.actor.created())?;
    }
    Ok(actors)
}

/// Where chunks of arrays and persisted outputs are.
#[derive(Default)]
struct Layout {
    /// (array, chunk position) → node, for published arrays.
    chunks: FxHashMap<(Arc<str>, Vec<u32>), NodeId>,
    /// Persisted outputs → node holding them.
    persisted: FxHashMap<SourceKey, NodeId>,
}

/// Runs graphs on a cluster's scheduling actors (one per node it was started on).
pub struct ClusterRunner {
    driver: Worker,
    shared: Arc<SchedShared>,
    actors: FxHashMap<NodeId, SchedulingActorHandle>,
    strategy: Strategy,
    layout: Arc<RwLock<Layout>>,
    plans: Mutex<FxHashMap<u64, Arc<Plan>>>,
    installed: Mutex<FxHashSet<(u64, NodeId)>>,
    next_id: AtomicU64,
    timeout: Duration,
    /// Published sources older than a run's timestep minus this are dropped with it.
    retention: Option<i64>,
}

impl ClusterRunner {
    /// Starts a scheduling actor on each of `nodes`, for the program of `driver`.
    pub fn start(
        driver: &Worker,
        nodes: &[NodeId],
        strategy: Strategy,
    ) -> Result<Self, SchedError> {
        Self::with_actors(driver, start_actors(driver, nodes)?, strategy)
    }

    /// A runner over scheduling actors started earlier (see [`start_actors`]).
    pub fn with_actors(
        driver: &Worker,
        actors: Vec<(NodeId, SchedulingActorHandle)>,
        strategy: Strategy,
    ) -> Result<Self, SchedError> {
        let shared = SchedShared::of(driver.registry())?;
        let actors: FxHashMap<NodeId, SchedulingActorHandle> = actors.into_iter().collect();
        Ok(ClusterRunner {
            driver: driver.clone(),
            shared,
            actors,
            strategy,
            layout: Arc::default(),
            plans: Mutex::default(),
            installed: Mutex::default(),
            next_id: AtomicU64::new(1),
            timeout: Duration::from_secs(120),
            retention: None,
        })
    }

    /// Keeps only the last `timesteps` timesteps of published sources: each run drops
    /// the older ones on its nodes (no message of its own).
    pub fn with_retention(mut self, timesteps: i64) -> Self {
        self.retention = Some(timesteps.max(1));
        self
    }

    /// Fails a `compute` whose outputs do not arrive within `timeout` (a node died).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The nodes with a scheduling actor.
    pub fn nodes(&self) -> Vec<NodeId> {
        let mut nodes: Vec<NodeId> = self.actors.keys().copied().collect();
        nodes.sort();
        nodes
    }

    /// The scheduling actor of `node` (where code beside the node publishes chunks).
    pub fn actor(&self, node: NodeId) -> Option<SchedulingActorAddress> {
        self.actors.get(&node).map(|a| a.address())
    }

    /// Records that chunk `chunk` of array `array` is published on `node`.
    pub fn place(&self, array: &str, chunk: &[u32], node: NodeId) {
        self.layout
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .chunks
            .insert((array.into(), chunk.to_vec()), node);
    }

    /// Publishes `value` as source `key` on `node` (it travels there from here: for
    /// tests and synthetic producers; simulations publish beside their node).
    pub fn publish(&self, key: SourceKey, node: NodeId, value: Bytes) -> Result<(), SchedError> {
        let actor = self.actor_on(node)?;
        self.place(&key.array, &key.chunk, node);
        actor.publish_value(&self.driver, key, Blob(value))?;
        Ok(())
    }

    /// Publishes a chunk already stored beside `node` (a ref this driver holds).
    pub fn publish_ref(
        &self,
        key: SourceKey,
        node: NodeId,
        chunk: &ObjectRef<Blob>,
    ) -> Result<(), SchedError> {
        let actor = self.actor_on(node)?;
        self.place(&key.array, &key.chunk, node);
        actor.publish(&self.driver, key, chunk.clone())?;
        Ok(())
    }

    /// Drops, on every node, the published sources older than `timestep`.
    pub fn release_before(&self, timestep: i64) -> Result<(), SchedError> {
        for actor in self.actors.values() {
            actor.release_before(&self.driver, timestep)?;
        }
        Ok(())
    }

    /// Drops, on every node, the published sources of each array older than its mark.
    pub fn release_arrays_before(&self, marks: &[(Arc<str>, i64)]) -> Result<(), SchedError> {
        let marks: Vec<(String, i64)> = marks.iter().map(|(a, t)| (a.to_string(), *t)).collect();
        for actor in self.actors.values() {
            actor.release_arrays_before(&self.driver, marks.clone())?;
        }
        Ok(())
    }

    /// Every actor's figures, by node.
    pub fn stats(&self) -> Result<Vec<(NodeId, SchedulerStats)>, SchedError> {
        let mut stats = Vec::new();
        for node in self.nodes() {
            let r = self.actors[&node].stats(&self.driver)?;
            stats.push((node, self.driver.get(&r)?));
        }
        Ok(stats)
    }

    /// The plan for `graph`: cached by structure, else partitioned and made.
    fn plan(&self, graph: &TaskGraph) -> Result<Arc<Plan>, SchedError> {
        graph.validate()?;
        let source_nodes: Vec<NodeId> = {
            let layout = self.layout.read().unwrap_or_else(|e| e.into_inner());
            graph
                .sources
                .iter()
                .map(|key| {
                    layout
                        .persisted
                        .get(key)
                        .or_else(|| layout.chunks.get(&(key.array.clone(), key.chunk.clone())))
                        .copied()
                        .ok_or_else(|| SchedError::MissingSource(key.to_string()))
                })
                .collect::<Result<_, _>>()?
        };
        let key = structure_key(graph, &source_nodes, self.strategy.key());
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(plan) = plans.get(&key) {
            return Ok(plan.clone());
        }
        let nodes = self.nodes();
        let assignment = match self.strategy {
            Strategy::Greedy => greedy(graph, &source_nodes, &nodes),
            Strategy::RandomBalanced { seed } => random_balanced(graph, &nodes, seed),
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let plan = Arc::new(Plan::new(
            id,
            Arc::new(graph.clone()),
            &assignment,
            source_nodes,
        ));
        tracing::debug!(
            plan = id,
            tasks = graph.tasks.len(),
            fragments = plan.fragments.len(),
            "new plan"
        );
        plans.insert(key, plan.clone());
        Ok(plan)
    }

    /// Sends `plan` to the nodes taking part that do not have it yet, then a run
    /// request to each of them.
    fn start_run(
        &self,
        plan: &Plan,
        graph: &TaskGraph,
        deliver: Option<u64>,
        persist: Option<Vec<SourceKey>>,
    ) -> Result<u64, SchedError> {
        let peers: Vec<(NodeId, SchedulingActorAddress)> = self
            .actors
            .iter()
            .map(|(&node, actor)| (node, actor.address()))
            .collect();
        let nodes = plan.nodes();
        {
            let mut installed = self.installed.lock().unwrap_or_else(|e| e.into_inner());
            for &node in &nodes {
                if installed.insert((plan.id, node)) {
                    let actor = self.actor_on(node)?;
                    actor.install(&self.driver, Arg::Value(plan.clone()), peers.clone())?;
                }
            }
        }
        let run = self.next_id.fetch_add(1, Ordering::Relaxed);
        let timestep = graph.sources.iter().map(|k| k.timestep).max().unwrap_or(0);
        for &node in &nodes {
            let request = RunRequest {
                plan: plan.id,
                run,
                timestep,
                deliver: deliver.map(|mailbox| (self.driver.node(), mailbox)),
                persist: persist.clone(),
                release_before: self.retention.map(|keep| timestep - keep + 1),
            };
            self.actor_on(node)?.run(&self.driver, request)?;
        }
        Ok(run)
    }

    fn actor_on(&self, node: NodeId) -> Result<&SchedulingActorHandle, SchedError> {
        self.actors
            .get(&node)
            .ok_or(SchedError::Runtime(doreisa_core::CoreError::UnknownNode(
                node,
            )))
    }
}

impl GraphRunner for ClusterRunner {
    fn compute(&self, graph: &TaskGraph) -> Result<Vec<Bytes>, SchedError> {
        let plan = self.plan(graph)?;
        let (mailbox, deliveries) = self.shared.open_mailbox();
        let outcome = (|| {
            self.start_run(&plan, graph, Some(mailbox), None)?;
            let mut outputs: Vec<Option<Bytes>> = vec![None; graph.outputs.len()];
            let mut missing = outputs.len();
            let deadline = Instant::now() + self.timeout;
            while missing > 0 {
                let left = deadline.saturating_duration_since(Instant::now());
                let (positions, values) = deliveries.recv_timeout(left).map_err(|_| {
                    SchedError::Runtime(doreisa_core::CoreError::Timeout(self.timeout))
                })?;
                let values = values.map_err(|message| SchedError::KernelFailed {
                    kernel: "graph".into(),
                    message,
                })?;
                for (position, value) in positions.into_iter().zip(values) {
                    if let Some(slot) = outputs.get_mut(position as usize)
                        && slot.replace(value).is_none()
                    {
                        missing -= 1;
                    }
                }
            }
            Ok(outputs
                .into_iter()
                .map(|o| o.expect("all arrived"))
                .collect())
        })();
        self.shared.close_mailbox(mailbox);
        outcome
    }

    fn persist(&self, graph: &TaskGraph, keys: Vec<SourceKey>) -> Result<Persisted, SchedError> {
        graph.check_persist_keys(&keys)?;
        let plan = self.plan(graph)?;
        self.start_run(&plan, graph, None, Some(keys.clone()))?;
        // Each output stays with the node of the fragment computing it.
        let mut held: FxHashMap<NodeId, Vec<SourceKey>> = FxHashMap::default();
        {
            let mut layout = self.layout.write().unwrap_or_else(|e| e.into_inner());
            for (key, &(fragment, _)) in keys.iter().zip(&plan.outputs) {
                let node = plan.fragments[fragment].node;
                layout.persisted.insert(key.clone(), node);
                held.entry(node).or_default().push(key.clone());
            }
        }
        let release: Vec<(SchedulingActorAddress, Vec<SourceKey>)> = held
            .into_iter()
            .filter_map(|(node, keys)| self.actor(node).map(|a| (a, keys)))
            .collect();
        Ok(Persisted {
            keys,
            guard: Arc::new(PersistGuard {
                driver: self.driver.clone(),
                layout: Arc::downgrade(&self.layout),
                release,
            }),
        })
    }
}

/// Releases persisted outputs on their nodes when the last array using them goes.
struct PersistGuard {
    driver: Worker,
    layout: std::sync::Weak<RwLock<Layout>>,
    release: Vec<(SchedulingActorAddress, Vec<SourceKey>)>,
}

impl Drop for PersistGuard {
    fn drop(&mut self) {
        if let Some(layout) = self.layout.upgrade() {
            let mut layout = layout.write().unwrap_or_else(|e| e.into_inner());
            for (_, keys) in &self.release {
                for key in keys {
                    layout.persisted.remove(key);
                }
            }
        }
        for (actor, keys) in self.release.drain(..) {
            if let Err(e) = actor.release(&self.driver, keys) {
                tracing::debug!(error = %e, "cannot release persisted outputs (their node is gone?)");
            }
        }
    }
}
