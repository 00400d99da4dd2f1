//! One node's scheduling logic as plain state: which fragments of which runs can start
//! now, what to push to which node, what to hand back to the driver. The actor is a
//! thin shell that carries out what this decides; tests drive it with a fake runtime.
//!
//! A node holds only its own part of each plan ([`NodePlan`]). A plan runs when asked
//! ([`RunRequest`]), or stands ([`Standing`]): from a timestep on, the node runs its
//! part for every timestep as soon as its own sources for that timestep are here,
//! with no message from the driver. Runs of other nodes reach it as pushes, which
//! name the run the same way on every node ([`RunKey`]).

use crate::graph::SourceKey;
use crate::plan::{FragmentInput, NodePlan};
use doreisa_core::NodeId;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// How a run is known on every node taking part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RunKey {
    /// A run the driver asked for.
    Asked(u64),
    /// The run of a standing plan at a timestep.
    Standing { plan: u64, timestep: i64 },
}

/// The driver asks a node to take part in one run of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    pub plan: u64,
    pub run: u64,
    /// The timestep the run's sources are at (see [`NodePlan::source_key`]).
    pub timestep: i64,
    /// Hand graph outputs to this mailbox on this node (`compute`).
    pub deliver: Option<(NodeId, u64)>,
    /// Keep graph outputs here as these sources instead (`persist`), by output position.
    pub persist: Option<Vec<SourceKey>>,
    /// First drop the published sources older than this.
    pub release_before: Option<i64>,
}

/// The driver keeps a plan standing: each node runs its part for every timestep from
/// `from` on, as soon as its sources for that timestep are here, and graph outputs go
/// to `deliver` tagged with their timestep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    pub plan: u64,
    pub from: i64,
    pub deliver: (NodeId, u64),
    /// When a run at `t` starts, drop the published sources older than
    /// `t - keep + 1` (the runner's retention).
    pub keep: Option<i64>,
}

/// Refs one node sends another for a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Push<R> {
    /// Every output of fragment `fragment` (its index in the whole plan).
    Outputs { fragment: usize, refs: Vec<R> },
    /// Sources held by the sender that fragments of the receiver read.
    Sources(Vec<(usize, R)>),
}

/// What the scheduling logic asks of the runtime.
pub trait SchedulerRuntime<R> {
    /// Starts fragment `fragment` (a position in `plan.fragments`) on this node;
    /// returns refs to its outputs.
    fn submit_fragment(&mut self, plan: &NodePlan, fragment: usize, inputs: Vec<R>) -> Vec<R>;
    /// Sends `push` for run `run` of plan `plan` to `node`'s scheduler.
    fn push(&mut self, node: NodeId, plan: u64, run: RunKey, push: Push<R>);
    /// Hands outputs (by position) of the run at `timestep` to mailbox `mailbox` on
    /// `node`.
    fn deliver(
        &mut self,
        node: NodeId,
        mailbox: u64,
        timestep: i64,
        positions: Vec<u32>,
        refs: Vec<R>,
    );
}

/// What a run needs besides its plan.
#[derive(Debug, Clone)]
struct RunSpec {
    timestep: i64,
    deliver: Option<(NodeId, u64)>,
    persist: Option<Vec<SourceKey>>,
}

/// A run as one node sees it.
struct RunState<R> {
    plan: u64,
    spec: Option<RunSpec>,
    /// Outputs of fragments (any node's) this node has: (fragment, slot).
    outputs: FxHashMap<(usize, usize), R>,
    /// Sources held elsewhere, pushed here.
    pushed_sources: FxHashMap<usize, R>,
    /// Positions in the node plan of the fragments started.
    submitted: FxHashSet<usize>,
    /// (source, node) pairs already pushed.
    sources_sent: FxHashSet<(usize, NodeId)>,
}

impl<R> RunState<R> {
    fn new(plan: u64, spec: Option<RunSpec>) -> Self {
        RunState {
            plan,
            spec,
            outputs: FxHashMap::default(),
            pushed_sources: FxHashMap::default(),
            submitted: FxHashSet::default(),
            sources_sent: FxHashSet::default(),
        }
    }
}

/// A plan standing on this node, and the timesteps it was started for.
struct StandingState {
    arm: Standing,
    started: BTreeSet<i64>,
}

/// Timesteps of a standing plan remembered as started (older ones are forgotten: a
/// chunk that old arriving now cannot start its run twice, it is long released).
const STARTED_KEPT: usize = 64;

/// One node's scheduler.
pub struct NodeScheduler<R> {
    me: NodeId,
    plans: FxHashMap<u64, Arc<NodePlan>>,
    standing: FxHashMap<u64, StandingState>,
    sources: BTreeMap<SourceKey, R>,
    /// Keys of `sources` that are persisted outputs: only an explicit `release` drops
    /// them, never `release_before` (their timestep is not the simulation's).
    persisted: FxHashSet<SourceKey>,
    /// Persisted outputs released while a run here still reads them, or before they
    /// were computed: dropped as soon as no run here needs them (a run holds what it
    /// reads, as a submitted task holds its arguments).
    released: FxHashSet<SourceKey>,
    runs: FxHashMap<RunKey, RunState<R>>,
}

impl<R: Clone> NodeScheduler<R> {
    pub fn new(me: NodeId) -> Self {
        NodeScheduler {
            me,
            plans: FxHashMap::default(),
            standing: FxHashMap::default(),
            sources: BTreeMap::new(),
            persisted: FxHashSet::default(),
            released: FxHashSet::default(),
            runs: FxHashMap::default(),
        }
    }

    pub fn install(&mut self, plan: Arc<NodePlan>) {
        if plan.node != self.me {
            tracing::error!(plan = plan.plan, node = ?plan.node, me = ?self.me, "another node's part of a plan: ignored");
            return;
        }
        self.plans.insert(plan.plan, plan);
    }

    /// Forgets `plan`: its part here, its standing, its runs not finished.
    pub fn forget(&mut self, plan: u64) {
        self.plans.remove(&plan);
        self.standing.remove(&plan);
        self.runs.retain(|_, state| state.plan != plan);
        self.drop_released();
    }

    /// Sources held here.
    pub fn source_count(&self) -> usize {
        self.sources.len()
    }

    /// Plans installed and not forgotten.
    pub fn plan_count(&self) -> usize {
        self.plans.len()
    }

    /// Plans standing here.
    pub fn standing_count(&self) -> usize {
        self.standing.len()
    }

    /// Runs not finished here.
    pub fn active_runs(&self) -> usize {
        self.runs.len()
    }

    /// What each unfinished run waits for, readable (diagnostics).
    pub fn describe_runs(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (run, state) in &self.runs {
            let Some(spec) = &state.spec else {
                lines.push(format!(
                    "{run:?} of plan {}: no request from the driver yet ({} outputs, {} sources pushed)",
                    state.plan,
                    state.outputs.len(),
                    state.pushed_sources.len()
                ));
                continue;
            };
            let Some(plan) = self.plans.get(&state.plan) else {
                lines.push(format!("{run:?}: plan {} not installed", state.plan));
                continue;
            };
            for (position, fragment) in plan.fragments.iter().enumerate() {
                if state.submitted.contains(&position) {
                    continue;
                }
                let missing: Vec<String> = fragment
                    .inputs
                    .iter()
                    .filter(|input| self.input(plan, state, spec.timestep, input).is_none())
                    .map(|input| format!("{input:?}"))
                    .collect();
                lines.push(format!(
                    "{run:?} fragment {} waits for {missing:?}",
                    fragment.index
                ));
            }
        }
        lines
    }

    /// Fragment input `input` of a run at `timestep`, if it is here: a source published
    /// here, one pushed here, or an output.
    fn input<'a>(
        &'a self,
        plan: &NodePlan,
        state: &'a RunState<R>,
        timestep: i64,
        input: &FragmentInput,
    ) -> Option<&'a R> {
        match *input {
            FragmentInput::Source(s) => match plan.local_source(s, timestep) {
                Some(key) => self.sources.get(&key),
                None => state.pushed_sources.get(&s),
            },
            FragmentInput::Output { fragment, slot, .. } => state.outputs.get(&(fragment, slot)),
        }
    }

    /// A chunk is here (published, or a persisted output).
    pub fn publish(&mut self, key: SourceKey, value: R, runtime: &mut impl SchedulerRuntime<R>) {
        self.publish_all([(key, value)], runtime);
    }

    /// Chunks are here: standing plans start the runs they complete, and each waiting
    /// run is looked at once, after all are in.
    pub fn publish_all(
        &mut self,
        chunks: impl IntoIterator<Item = (SourceKey, R)>,
        runtime: &mut impl SchedulerRuntime<R>,
    ) {
        let mut arrived: BTreeSet<(Arc<str>, i64)> = BTreeSet::new();
        for (key, value) in chunks {
            arrived.insert((key.array.clone(), key.timestep));
            self.sources.insert(key, value);
        }
        let waiting: Vec<RunKey> = self.runs.keys().copied().collect();
        for run in waiting {
            self.advance(run, runtime);
        }
        let mut candidates: Vec<(u64, i64)> = Vec::new();
        for (&plan_id, standing) in &self.standing {
            let Some(plan) = self.plans.get(&plan_id) else {
                continue;
            };
            for (array, timestep) in &arrived {
                for run in plan.runs_reading(array, *timestep) {
                    if run >= standing.arm.from && !standing.started.contains(&run) {
                        candidates.push((plan_id, run));
                    }
                }
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        for (plan, timestep) in candidates {
            self.start_if_ready(plan, timestep, runtime);
        }
        self.drop_released();
    }

    /// Starts standing plan `plan`'s run at `timestep` if every source it reads here is
    /// here; a run already begun (by a push) goes on. A run starts once: a timestep
    /// remembered as started is not run again when more of its chunks arrive.
    fn start_if_ready(
        &mut self,
        plan_id: u64,
        timestep: i64,
        runtime: &mut impl SchedulerRuntime<R>,
    ) {
        let run = RunKey::Standing {
            plan: plan_id,
            timestep,
        };
        let (Some(plan), Some(standing)) = (self.plans.get(&plan_id), self.standing.get(&plan_id))
        else {
            return;
        };
        if !self.runs.contains_key(&run) {
            if standing.started.contains(&timestep) {
                return;
            }
            let complete = plan
                .sources
                .iter()
                .all(|(_, key)| self.sources.contains_key(&plan.source_key(key, timestep)));
            if !complete {
                return;
            }
        }
        let spec = self.standing_spec(plan_id, timestep);
        if let Some(keep) = self.standing.get(&plan_id).and_then(|s| s.arm.keep) {
            // Never what a run not finished here still reads.
            let before = timestep
                .saturating_sub(keep)
                .saturating_add(1)
                .min(self.oldest_source_read());
            self.release_before(before);
        }
        let state = self
            .runs
            .entry(run)
            .or_insert_with(|| RunState::new(plan_id, None));
        if state.spec.is_none() {
            state.spec = spec;
        }
        self.advance(run, runtime);
    }

    /// The spec of standing plan `plan`'s run at `timestep`, which is marked started.
    fn standing_spec(&mut self, plan: u64, timestep: i64) -> Option<RunSpec> {
        let standing = self.standing.get_mut(&plan)?;
        standing.started.insert(timestep);
        while standing.started.len() > STARTED_KEPT {
            standing.started.pop_first();
        }
        Some(RunSpec {
            timestep,
            deliver: Some(standing.arm.deliver),
            persist: None,
        })
    }

    /// The oldest timestep of a source that a run not finished here reads (`i64::MAX`
    /// when none).
    fn oldest_source_read(&self) -> i64 {
        let mut oldest = i64::MAX;
        for state in self.runs.values() {
            let (Some(spec), Some(plan)) = (&state.spec, self.plans.get(&state.plan)) else {
                continue;
            };
            for (_, key) in &plan.sources {
                oldest = oldest.min(plan.source_key(key, spec.timestep).timestep);
            }
        }
        oldest
    }

    /// The driver keeps `arm.plan` standing from `arm.from` on: the runs whose sources
    /// are already here start now, the others as their sources arrive.
    pub fn stand(&mut self, arm: Standing, runtime: &mut impl SchedulerRuntime<R>) {
        let plan_id = arm.plan;
        let from = arm.from;
        self.standing.insert(
            plan_id,
            StandingState {
                arm,
                started: BTreeSet::new(),
            },
        );
        let Some(plan) = self.plans.get(&plan_id).cloned() else {
            return;
        };
        let arrays: FxHashSet<&str> = plan.sources.iter().map(|(_, k)| &*k.array).collect();
        // Runs begun by pushes before the arm came, and those whose chunks are here.
        let mut runs: BTreeSet<i64> = self
            .runs
            .keys()
            .filter_map(|run| match *run {
                RunKey::Standing { plan, timestep } if plan == plan_id && timestep >= from => {
                    Some(timestep)
                }
                _ => None,
            })
            .collect();
        for key in self.sources.keys() {
            if arrays.contains(&*key.array) {
                runs.extend(
                    plan.runs_reading(&key.array, key.timestep)
                        .into_iter()
                        .filter(|&t| t >= from),
                );
            }
        }
        for timestep in runs {
            self.start_if_ready(plan_id, timestep, runtime);
        }
    }

    /// The driver no longer keeps `plan` standing (its runs already started go on).
    pub fn sit(&mut self, plan: u64) {
        self.standing.remove(&plan);
    }

    /// Releases persisted outputs; returns how many were dropped now. One that a run
    /// here still reads, or that a run here has yet to compute, is dropped once no run
    /// needs it any more.
    pub fn release(&mut self, keys: &[SourceKey]) -> usize {
        let (needed, expected) = self.needed_and_expected();
        keys.iter()
            .filter(|&k| {
                let present = self.sources.contains_key(k);
                if needed.contains(k) || (!present && expected.contains(k)) {
                    self.released.insert(k.clone());
                    return false;
                }
                self.persisted.remove(k);
                self.sources.remove(k).is_some()
            })
            .count()
    }

    /// The sources held here that unfinished runs have still to read (here or by a
    /// push), and the persisted outputs unfinished runs are still to compute here.
    fn needed_and_expected(&self) -> (FxHashSet<SourceKey>, FxHashSet<SourceKey>) {
        let (mut needed, mut expected) = (FxHashSet::default(), FxHashSet::default());
        for state in self.runs.values() {
            let (Some(spec), Some(plan)) = (&state.spec, self.plans.get(&state.plan)) else {
                continue;
            };
            for (position, fragment) in plan.fragments.iter().enumerate() {
                if state.submitted.contains(&position) {
                    continue;
                }
                for input in &fragment.inputs {
                    if let FragmentInput::Source(s) = *input
                        && let Some(key) = plan.local_source(s, spec.timestep)
                    {
                        needed.insert(key);
                    }
                }
                if let Some(keys) = &spec.persist {
                    for &(position, _) in &fragment.delivers {
                        if let Some(key) = keys.get(position as usize) {
                            expected.insert(key.clone());
                        }
                    }
                }
            }
            for (s, readers) in &plan.source_readers {
                let unsent = readers
                    .iter()
                    .any(|&node| !state.sources_sent.contains(&(*s, node)));
                if unsent && let Some(key) = plan.local_source(*s, spec.timestep) {
                    needed.insert(key);
                }
            }
        }
        (needed, expected)
    }

    /// Drops the released outputs no run needs any more.
    fn drop_released(&mut self) {
        if self.released.is_empty() {
            return;
        }
        let (needed, expected) = self.needed_and_expected();
        let sources = &mut self.sources;
        let persisted = &mut self.persisted;
        self.released.retain(|key| {
            let keep =
                needed.contains(key) || (!sources.contains_key(key) && expected.contains(key));
            if !keep {
                persisted.remove(key);
                sources.remove(key);
            }
            keep
        });
    }

    /// Drops published sources older than `timestep` (not persisted outputs); returns
    /// how many.
    pub fn release_before(&mut self, timestep: i64) -> usize {
        let before = self.sources.len();
        let persisted = &self.persisted;
        self.sources
            .retain(|key, _| key.timestep >= timestep || persisted.contains(key));
        before - self.sources.len()
    }

    /// Drops the published sources of `array` older than `timestep`; returns how many.
    pub fn release_array_before(&mut self, array: &str, timestep: i64) -> usize {
        let before = self.sources.len();
        let persisted = &self.persisted;
        self.sources.retain(|key, _| {
            &*key.array != array || key.timestep >= timestep || persisted.contains(key)
        });
        before - self.sources.len()
    }

    /// The driver's request for a run.
    pub fn run(&mut self, request: RunRequest, runtime: &mut impl SchedulerRuntime<R>) {
        if let Some(before) = request.release_before {
            self.release_before(before);
        }
        let key = RunKey::Asked(request.run);
        let spec = RunSpec {
            timestep: request.timestep,
            deliver: request.deliver,
            persist: request.persist,
        };
        self.runs
            .entry(key)
            .or_insert_with(|| RunState::new(request.plan, None))
            .spec = Some(spec);
        self.advance(key, runtime);
        self.drop_released();
    }

    /// Refs pushed by another node for a run.
    pub fn pushed(
        &mut self,
        plan: u64,
        run: RunKey,
        push: Push<R>,
        runtime: &mut impl SchedulerRuntime<R>,
    ) {
        // A standing run may begin with a push (from a node whose chunks came first, or
        // for a node that reads no source of its own).
        let spec = match run {
            RunKey::Standing { timestep, .. } if !self.runs.contains_key(&run) => {
                self.standing_spec(plan, timestep)
            }
            _ => None,
        };
        let state = self
            .runs
            .entry(run)
            .or_insert_with(|| RunState::new(plan, None));
        if state.spec.is_none() {
            state.spec = spec;
        }
        match push {
            Push::Outputs { fragment, refs } => {
                for (slot, r) in refs.into_iter().enumerate() {
                    state.outputs.insert((fragment, slot), r);
                }
            }
            Push::Sources(sources) => state.pushed_sources.extend(sources),
        }
        self.advance(run, runtime);
        self.drop_released();
    }

    /// Does what run `run` allows now: push held sources, start ready fragments, push
    /// and deliver their outputs; forgets the run once this node's part is done.
    fn advance(&mut self, run: RunKey, runtime: &mut impl SchedulerRuntime<R>) {
        let Some(mut state) = self.runs.remove(&run) else {
            return;
        };
        let (Some(spec), Some(plan)) = (state.spec.clone(), self.plans.get(&state.plan).cloned())
        else {
            self.runs.insert(run, state);
            return;
        };
        let timestep = spec.timestep;
        let mut persisted_here = false;

        // Sources held here that other nodes' fragments read.
        let mut by_node: FxHashMap<NodeId, Vec<(usize, R)>> = FxHashMap::default();
        let mut sources_pending = false;
        for (s, readers) in &plan.source_readers {
            let Some(key) = plan.local_source(*s, timestep) else {
                continue;
            };
            for &node in readers {
                if state.sources_sent.contains(&(*s, node)) {
                    continue;
                }
                match self.sources.get(&key) {
                    Some(value) => {
                        state.sources_sent.insert((*s, node));
                        by_node.entry(node).or_default().push((*s, value.clone()));
                    }
                    None => sources_pending = true,
                }
            }
        }
        for (node, sources) in by_node {
            runtime.push(node, plan.plan, run, Push::Sources(sources));
        }

        // Fragments whose inputs are all here, in order (one may feed a later one).
        let mut progress = true;
        while progress {
            progress = false;
            for (position, fragment) in plan.fragments.iter().enumerate() {
                if state.submitted.contains(&position) {
                    continue;
                }
                let inputs: Option<Vec<R>> = fragment
                    .inputs
                    .iter()
                    .map(|input| self.input(&plan, &state, timestep, input).cloned())
                    .collect();
                let Some(inputs) = inputs else { continue };
                let outputs = runtime.submit_fragment(&plan, position, inputs);
                state.submitted.insert(position);
                progress = true;
                for (slot, r) in outputs.iter().enumerate() {
                    state.outputs.insert((fragment.index, slot), r.clone());
                }
                for &node in &fragment.readers {
                    let push = Push::Outputs {
                        fragment: fragment.index,
                        refs: outputs.clone(),
                    };
                    runtime.push(node, plan.plan, run, push);
                }
                if fragment.delivers.is_empty() {
                    continue;
                }
                let (positions, refs): (Vec<u32>, Vec<R>) = fragment
                    .delivers
                    .iter()
                    .map(|&(position, slot)| (position, outputs[slot].clone()))
                    .unzip();
                if let Some((node, mailbox)) = spec.deliver {
                    runtime.deliver(node, mailbox, timestep, positions.clone(), refs.clone());
                }
                if let Some(keys) = &spec.persist {
                    for (position, r) in positions.iter().zip(refs) {
                        if let Some(key) = keys.get(*position as usize) {
                            self.persisted.insert(key.clone());
                            self.sources.insert(key.clone(), r);
                            persisted_here = true;
                        }
                    }
                }
            }
        }
        let mine_done = state.submitted.len() == plan.fragments.len();
        if !mine_done || sources_pending {
            self.runs.insert(run, state);
        }
        // Runs that wait for these persisted outputs as sources go on now.
        if persisted_here {
            let waiting: Vec<RunKey> = self.runs.keys().copied().filter(|&r| r != run).collect();
            for other in waiting {
                self.advance(other, runtime);
            }
        }
    }
}

#[cfg(test)]
mod tests;
