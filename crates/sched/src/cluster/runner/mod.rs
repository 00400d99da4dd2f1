//! The driver's side: a [`GraphRunner`] over a cluster's scheduling actors. It knows
//! where sources are and partitions each new graph structure once. A graph asked again
//! for a later timestep (an analysis that recurs) has its plan kept standing on its
//! nodes (see the `standing` module): each node gets its own
//! part once, runs it for every timestep as its chunks land, and sends the outputs to
//! the plan's mailbox, so that in the steady state the driver sends nothing per
//! iteration and, with [`GraphRunner::compute_keyed`], does not even lower the
//! expression again. A graph's first run, a persisted graph, or a timestep before a plan's
//! standing, runs on request instead (one message per node taking part): a graph
//! computed once, such as a chunk written to a file, never runs speculatively. Kernels
//! of a recurring graph may run for up to 8 (`standing::IDLE_TIMESTEPS`) timesteps past
//! the driver's last question before the plan is disarmed.

mod standing;

use crate::SchedError;
use crate::cluster::actor::{
    SchedulerStats, SchedulingActor, SchedulingActorAddress, SchedulingActorHandle,
};
use crate::cluster::shared::{Delivery, SchedShared};
use crate::cluster::state::{RunRequest, Standing};
use crate::graph::{SourceKey, TaskGraph};
use crate::partition::{greedy, random_balanced};
use crate::plan::{NodePlan, Plan, structure_key};
use crate::runner::{GraphRunner, Persisted};
use bytes::Bytes;
use doreisa_core::{Arg, Blob, NodeId, ObjectRef, TaskOptions, Worker};
use rustc_hash::{FxHashMap, FxHashSet, FxHasher};
use standing::{Arrival, StandingPlan, StandingPlans};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, mpsc};
use std::time::{Duration, Instant};

/// Plans kept by structure; past this the least recently used is forgotten (on the
/// driver and on its nodes).
const MAX_PLANS: usize = 64;

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
    /// Bumped when a chunk's place changes: plans found by an expression's structure
    /// alone are only valid for the layout they were made on.
    epoch: u64,
}

/// Plans by structure, the most recently used last.
#[derive(Default)]
struct PlanCache {
    by_structure: FxHashMap<u64, Arc<Plan>>,
    /// Plans found from an expression's structure (see `compute_keyed`), by key.
    by_expression: FxHashMap<u64, Arc<Plan>>,
    /// Plans that read outputs of a persisted graph: those never recur one timestep
    /// later (persisted names are unique), so they run on request, never stand.
    reads_persisted: FxHashSet<u64>,
    /// Plans run once on request, with the timestep they ran for: a plan stands only
    /// when it is asked again for a later timestep, so that a graph computed once (a
    /// chunk written to a file, a one-off question) never runs speculatively.
    asked_once: FxHashMap<u64, i64>,
    used: FxHashMap<u64, u64>,
    clock: u64,
}

impl PlanCache {
    fn touch(&mut self, plan: u64) {
        self.clock += 1;
        self.used.insert(plan, self.clock);
    }

    /// The plans to forget to stay within [`MAX_PLANS`] (never `keep`).
    fn evict(&mut self, keep: u64) -> Vec<Arc<Plan>> {
        let mut evicted = Vec::new();
        while self.by_structure.len() > MAX_PLANS {
            let oldest = self
                .by_structure
                .iter()
                .filter(|(_, p)| p.id != keep)
                .min_by_key(|(_, p)| self.used.get(&p.id).copied().unwrap_or(0))
                .map(|(&key, _)| key);
            let Some(key) = oldest else { break };
            if let Some(plan) = self.by_structure.remove(&key) {
                self.by_expression.retain(|_, p| p.id != plan.id);
                self.used.remove(&plan.id);
                self.reads_persisted.remove(&plan.id);
                self.asked_once.remove(&plan.id);
                evicted.push(plan);
            }
        }
        evicted
    }
}

/// A standing plan's outputs as they arrive, and the plan itself.
struct Mailbox {
    plan: Arc<Plan>,
    /// Waited on without holding the map of mailboxes.
    receiver: Arc<Mutex<mpsc::Receiver<Delivery>>>,
}

/// Runs graphs on a cluster's scheduling actors (one per node it was started on).
pub struct ClusterRunner {
    driver: Worker,
    shared: Arc<SchedShared>,
    actors: FxHashMap<NodeId, SchedulingActorHandle>,
    strategy: Strategy,
    layout: Arc<RwLock<Layout>>,
    plans: Mutex<PlanCache>,
    installed: Mutex<FxHashSet<(u64, NodeId)>>,
    standing: Mutex<StandingPlans>,
    mailboxes: Mutex<FxHashMap<u64, Mailbox>>,
    next_id: AtomicU64,
    timeout: Duration,
    /// Published sources older than a run's timestep minus this are dropped with it.
    retention: Option<i64>,
    /// Calls made to the scheduling actors (installs, arms, requests, releases).
    messages: AtomicU64,
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
            standing: Mutex::default(),
            mailboxes: Mutex::default(),
            next_id: AtomicU64::new(1),
            timeout: Duration::from_secs(120),
            retention: None,
            messages: AtomicU64::new(0),
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

    /// How many calls this runner made to the scheduling actors so far: plan installs
    /// and arms, run requests, releases, status questions (publishing chunks, the
    /// simulation's side, is not counted). Constant while a standing analysis runs.
    pub fn messages_sent(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }

    /// Plans standing on the nodes now.
    pub fn standing_plans(&self) -> usize {
        self.lock_standing().len()
    }

    fn sent(&self, calls: u64) {
        self.messages.fetch_add(calls, Ordering::Relaxed);
    }

    fn lock_standing(&self) -> std::sync::MutexGuard<'_, StandingPlans> {
        self.standing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that chunk `chunk` of array `array` is published on `node`.
    pub fn place(&self, array: &str, chunk: &[u32], node: NodeId) {
        let mut layout = self.layout.write().unwrap_or_else(|e| e.into_inner());
        let before = layout.chunks.insert((array.into(), chunk.to_vec()), node);
        if before != Some(node) {
            layout.epoch += 1;
        }
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
            self.sent(1);
            actor.release_before(&self.driver, timestep)?;
        }
        Ok(())
    }

    /// Drops, on every node, the published sources of each array older than its mark.
    pub fn release_arrays_before(&self, marks: &[(Arc<str>, i64)]) -> Result<(), SchedError> {
        let marks: Vec<(String, i64)> = marks.iter().map(|(a, t)| (a.to_string(), *t)).collect();
        for actor in self.actors.values() {
            self.sent(1);
            actor.release_arrays_before(&self.driver, marks.clone())?;
        }
        Ok(())
    }

    /// Every actor's figures, by node.
    pub fn stats(&self) -> Result<Vec<(NodeId, SchedulerStats)>, SchedError> {
        let mut stats = Vec::new();
        for node in self.nodes() {
            self.sent(1);
            let r = self.actors[&node].stats(&self.driver)?;
            stats.push((node, self.driver.get(&r)?));
        }
        Ok(stats)
    }

    /// Where each source of `graph` is, and whether one is a persisted output.
    fn source_nodes(&self, graph: &TaskGraph) -> Result<(Vec<NodeId>, bool), SchedError> {
        let layout = self.layout.read().unwrap_or_else(|e| e.into_inner());
        let reads_persisted = graph
            .sources
            .iter()
            .any(|key| layout.persisted.contains_key(key));
        let nodes = graph
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
            .collect::<Result<_, _>>()?;
        Ok((nodes, reads_persisted))
    }

    /// The plan for `graph`: cached by structure, else partitioned and made.
    fn plan(&self, graph: &TaskGraph) -> Result<Arc<Plan>, SchedError> {
        graph.validate()?;
        let (source_nodes, reads_persisted) = self.source_nodes(graph)?;
        let key = structure_key(graph, &source_nodes, self.strategy.key());
        let evicted;
        let plan = {
            let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(plan) = plans.by_structure.get(&key).cloned() {
                plans.touch(plan.id);
                return Ok(plan);
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
            plans.by_structure.insert(key, plan.clone());
            if reads_persisted {
                plans.reads_persisted.insert(id);
            }
            plans.touch(id);
            evicted = plans.evict(id);
            plan
        };
        for old in evicted {
            self.forget(&old);
        }
        Ok(plan)
    }

    /// Forgets `plan` everywhere: its standing, its parts on the nodes.
    fn forget(&self, plan: &Plan) {
        if let Some(standing) = self.lock_standing().remove(plan.id) {
            self.close_mailbox(standing.mailbox);
        }
        let nodes: Vec<NodeId> = {
            let mut installed = self.installed.lock().unwrap_or_else(|e| e.into_inner());
            let nodes = plan.nodes();
            nodes
                .into_iter()
                .filter(|&n| installed.remove(&(plan.id, n)))
                .collect()
        };
        for node in nodes {
            if let Ok(actor) = self.actor_on(node) {
                self.sent(1);
                if let Err(e) = actor.forget(&self.driver, plan.id) {
                    tracing::debug!(?node, error = %e, "cannot forget a plan there");
                }
            }
        }
    }

    /// The actors of the nodes `plan` pushes to.
    fn peers_of(&self, plan: &NodePlan) -> Vec<(NodeId, SchedulingActorAddress)> {
        let mut nodes: Vec<NodeId> = plan
            .fragments
            .iter()
            .flat_map(|f| f.readers.iter().copied())
            .chain(
                plan.source_readers
                    .iter()
                    .flat_map(|(_, r)| r.iter().copied()),
            )
            .collect();
        nodes.sort();
        nodes.dedup();
        nodes
            .into_iter()
            .filter_map(|n| self.actor(n).map(|a| (n, a)))
            .collect()
    }

    /// Each node's part of `plan` that it does not have yet (and marks them installed).
    fn parts_to_install(&self, plan: &Plan) -> Vec<(NodeId, Option<NodePlan>)> {
        let mut installed = self.installed.lock().unwrap_or_else(|e| e.into_inner());
        let missing = plan
            .nodes()
            .iter()
            .any(|&n| !installed.contains(&(plan.id, n)));
        if !missing {
            return plan.nodes().into_iter().map(|n| (n, None)).collect();
        }
        plan.node_plans()
            .into_iter()
            .map(|part| {
                let node = part.node;
                let new = installed.insert((plan.id, node));
                (node, new.then_some(part))
            })
            .collect()
    }

    /// Makes `plan` stand from `timestep` on: each node gets its part (if new) and the
    /// arm, in one message.
    fn stand(&self, plan: &Arc<Plan>, timestep: i64) -> Result<(), SchedError> {
        let (mailbox, receiver) = self.shared.open_mailbox();
        self.mailboxes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                mailbox,
                Mailbox {
                    plan: plan.clone(),
                    receiver: Arc::new(Mutex::new(receiver)),
                },
            );
        let arm = Standing {
            plan: plan.id,
            from: timestep,
            deliver: (self.driver.node(), mailbox),
            keep: self.retention,
        };
        let outputs = plan.graph.outputs.len();
        self.lock_standing()
            .insert(plan.id, StandingPlan::new(mailbox, timestep, outputs));
        for (node, part) in self.parts_to_install(plan) {
            let peers = part.as_ref().map(|p| self.peers_of(p)).unwrap_or_default();
            self.sent(1);
            self.actor_on(node)?
                .stand(&self.driver, part, peers, arm.clone())?;
        }
        Ok(())
    }

    /// Disarms a standing plan on its nodes (its part stays installed).
    fn sit(&self, plan: &Plan, standing: &StandingPlan) {
        self.close_mailbox(standing.mailbox);
        for node in plan.nodes() {
            if let Ok(actor) = self.actor_on(node) {
                self.sent(1);
                if let Err(e) = actor.sit(&self.driver, plan.id) {
                    tracing::debug!(?node, error = %e, "cannot disarm a plan there");
                }
            }
        }
    }

    fn close_mailbox(&self, mailbox: u64) {
        self.mailboxes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&mailbox);
        self.shared.close_mailbox(mailbox);
    }

    /// The outputs of `plan` at `timestep`: from its standing runs (arming it first if
    /// it is not standing), or from a run on request for a timestep before its standing.
    fn compute_plan(&self, plan: &Arc<Plan>, timestep: i64) -> Result<Vec<Bytes>, SchedError> {
        let covered = self
            .lock_standing()
            .get_mut(plan.id)
            .map(|s| (s.covers(timestep), s.recent(timestep)));
        if covered.is_none() {
            let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
            let recurs = match plans.asked_once.get(&plan.id) {
                Some(&first) => timestep > first,
                None => false,
            };
            if plans.reads_persisted.contains(&plan.id) || !recurs {
                plans.asked_once.entry(plan.id).or_insert(timestep);
                drop(plans);
                return self.compute_on_request(plan, timestep);
            }
            plans.asked_once.remove(&plan.id);
        }
        match covered {
            Some((_, Some(outputs))) => return Ok(outputs),
            Some((false, None)) => return self.compute_on_request(plan, timestep),
            Some((true, None)) => {}
            None => self.stand(plan, timestep)?,
        }
        let retired = self.lock_standing().retire(plan.id, timestep);
        for (id, standing) in retired {
            let old = self
                .mailboxes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&standing.mailbox)
                .map(|m| m.plan.clone());
            if let Some(old) = old {
                tracing::debug!(plan = id, "a standing plan went idle: disarmed");
                self.sit(&old, &standing);
            }
        }
        let outcome = self.wait_standing(plan, timestep);
        if outcome.is_err()
            && let Some(standing) = self.lock_standing().remove(plan.id)
        {
            // A failed or late timestep: the next call arms the plan again.
            self.sit(plan, &standing);
        }
        outcome
    }

    /// Waits for the outputs of standing `plan` at `timestep`.
    fn wait_standing(&self, plan: &Plan, timestep: i64) -> Result<Vec<Bytes>, SchedError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let (arrival, mailbox) = {
                let mut standing = self.lock_standing();
                let entry = standing
                    .get_mut(plan.id)
                    .ok_or(SchedError::InvalidGraph("a standing plan went away".into()))?;
                (entry.take(timestep), entry.mailbox)
            };
            match arrival {
                Arrival::Complete(outputs) => return Ok(outputs),
                Arrival::Failed(message) => {
                    return Err(SchedError::KernelFailed {
                        kernel: "graph".into(),
                        message,
                    });
                }
                Arrival::Overflow => {
                    return Err(SchedError::InvalidGraph(format!(
                        "plan {} delivered outputs of too many timesteps nobody asked for",
                        plan.id
                    )));
                }
                Arrival::Pending => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let receiver = self
                .mailboxes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&mailbox)
                .map(|m| m.receiver.clone())
                .ok_or(SchedError::InvalidGraph(
                    "a standing plan's mailbox closed".into(),
                ))?;
            let delivery = receiver
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .recv_timeout(left);
            let delivery = delivery
                .map_err(|_| SchedError::Runtime(doreisa_core::CoreError::Timeout(self.timeout)))?;
            if let Some(entry) = self.lock_standing().get_mut(plan.id) {
                entry.receive(delivery, timestep);
            }
        }
    }

    /// Runs `plan` once at `timestep`, on request, and waits for its outputs.
    fn compute_on_request(
        &self,
        plan: &Arc<Plan>,
        timestep: i64,
    ) -> Result<Vec<Bytes>, SchedError> {
        let (mailbox, deliveries) = self.shared.open_mailbox();
        let outcome = (|| {
            self.start_run(plan, timestep, Some(mailbox), None)?;
            let mut outputs: Vec<Option<Bytes>> = vec![None; plan.graph.outputs.len()];
            let mut missing = outputs.len();
            let deadline = Instant::now() + self.timeout;
            while missing > 0 {
                let left = deadline.saturating_duration_since(Instant::now());
                let (_, positions, values) = deliveries.recv_timeout(left).map_err(|_| {
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

    /// Sends each node taking part its part of `plan` if it lacks it, then a run
    /// request.
    fn start_run(
        &self,
        plan: &Plan,
        timestep: i64,
        deliver: Option<u64>,
        persist: Option<Vec<SourceKey>>,
    ) -> Result<u64, SchedError> {
        for (node, part) in self.parts_to_install(plan) {
            if let Some(part) = part {
                let peers = self.peers_of(&part);
                self.sent(1);
                self.actor_on(node)?
                    .install(&self.driver, Arg::Value(part), peers)?;
            }
        }
        let run = self.next_id.fetch_add(1, Ordering::Relaxed);
        for node in plan.nodes() {
            let request = RunRequest {
                plan: plan.id,
                run,
                timestep,
                deliver: deliver.map(|mailbox| (self.driver.node(), mailbox)),
                persist: persist.clone(),
                release_before: self.retention.map(|keep| timestep - keep + 1),
            };
            self.sent(1);
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

/// The timestep a graph runs at: the latest its sources are at.
fn graph_timestep(graph: &TaskGraph) -> i64 {
    graph.sources.iter().map(|k| k.timestep).max().unwrap_or(0)
}

impl GraphRunner for ClusterRunner {
    fn compute(&self, graph: &TaskGraph) -> Result<Vec<Bytes>, SchedError> {
        let plan = self.plan(graph)?;
        self.compute_plan(&plan, graph_timestep(graph))
    }

    fn compute_keyed(
        &self,
        structure: u64,
        timestep: i64,
        lower: &mut dyn FnMut() -> Result<TaskGraph, SchedError>,
    ) -> Result<Vec<Bytes>, SchedError> {
        let epoch = self.layout.read().unwrap_or_else(|e| e.into_inner()).epoch;
        let mut hasher = FxHasher::default();
        (structure, epoch, self.strategy.key()).hash(&mut hasher);
        let key = hasher.finish();
        let known = {
            let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
            let plan = plans.by_expression.get(&key).cloned();
            if let Some(plan) = &plan {
                plans.touch(plan.id);
            }
            plan
        };
        let plan = match known {
            Some(plan) => plan,
            None => {
                let graph = lower()?;
                let plan = self.plan(&graph)?;
                self.plans
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .by_expression
                    .insert(key, plan.clone());
                if graph_timestep(&graph) != timestep {
                    return self.compute_plan(&plan, graph_timestep(&graph));
                }
                plan
            }
        };
        self.compute_plan(&plan, timestep)
    }

    fn persist(&self, graph: &TaskGraph, keys: Vec<SourceKey>) -> Result<Persisted, SchedError> {
        graph.check_persist_keys(&keys)?;
        let plan = self.plan(graph)?;
        self.start_run(&plan, graph_timestep(graph), None, Some(keys.clone()))?;
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
