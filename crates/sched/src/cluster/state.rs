//! One node's scheduling logic as plain state: which fragments of which runs can start
//! now, what to push to which node, what to hand back to the driver. The actor is a
//! thin shell that carries out what this decides; tests drive it with a fake runtime.

use crate::graph::SourceKey;
use crate::plan::{FragmentInput, Plan};
use doreisa_core::NodeId;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The driver asks a node to take part in a run of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    pub plan: u64,
    pub run: u64,
    /// The timestep the run's sources are at (see [`Plan::source_key`]).
    pub timestep: i64,
    /// Hand graph outputs to this mailbox on this node (`compute`).
    pub deliver: Option<(NodeId, u64)>,
    /// Keep graph outputs here as these sources instead (`persist`), by output position.
    pub persist: Option<Vec<SourceKey>>,
    /// First drop the published sources older than this.
    pub release_before: Option<i64>,
}

/// Refs one node sends another for a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Push<R> {
    /// Every output of fragment `fragment`.
    Outputs { fragment: usize, refs: Vec<R> },
    /// Sources held by the sender that fragments of the receiver read.
    Sources(Vec<(usize, R)>),
}

/// What the scheduling logic asks of the runtime.
pub trait SchedulerRuntime<R> {
    /// Starts fragment `fragment` of `plan` on this node; returns refs to its outputs.
    fn submit_fragment(&mut self, plan: &Plan, fragment: usize, inputs: Vec<R>) -> Vec<R>;
    /// Sends `push` for run `run` of `plan` to `node`'s scheduler.
    fn push(&mut self, node: NodeId, plan: u64, run: u64, push: Push<R>);
    /// Hands outputs (by position) of run `run` to mailbox `mailbox` on `node`.
    fn deliver(&mut self, node: NodeId, mailbox: u64, run: u64, positions: Vec<u32>, refs: Vec<R>);
}

/// A run as one node sees it.
struct RunState<R> {
    plan: u64,
    request: Option<RunRequest>,
    /// Outputs of fragments (any node's) this node has: (fragment, slot).
    outputs: FxHashMap<(usize, usize), R>,
    /// Sources held elsewhere, pushed here.
    pushed_sources: FxHashMap<usize, R>,
    submitted: FxHashSet<usize>,
    /// (source, node) pairs already pushed.
    sources_sent: FxHashSet<(usize, NodeId)>,
}

impl<R> RunState<R> {
    /// Fragment input `input` of this run at `timestep`, if it is on node `me`: a
    /// source published here (`sources`), one pushed here, or an output.
    fn input<'a>(
        &'a self,
        me: NodeId,
        plan: &Plan,
        sources: &'a BTreeMap<SourceKey, R>,
        timestep: i64,
        input: &FragmentInput,
    ) -> Option<&'a R> {
        match *input {
            FragmentInput::Source(s) if plan.source_nodes[s] == me => {
                sources.get(&plan.source_key(s, timestep))
            }
            FragmentInput::Source(s) => self.pushed_sources.get(&s),
            FragmentInput::Output { fragment, slot, .. } => self.outputs.get(&(fragment, slot)),
        }
    }
}

/// One node's scheduler.
pub struct NodeScheduler<R> {
    me: NodeId,
    plans: FxHashMap<u64, Arc<Plan>>,
    sources: BTreeMap<SourceKey, R>,
    /// Keys of `sources` that are persisted outputs: only an explicit `release` drops
    /// them, never `release_before` (their timestep is not the simulation's).
    persisted: FxHashSet<SourceKey>,
    /// Persisted outputs released while a run here still reads them, or before they
    /// were computed: dropped as soon as no run here needs them (a run holds what it
    /// reads, as a submitted task holds its arguments).
    released: FxHashSet<SourceKey>,
    runs: FxHashMap<u64, RunState<R>>,
}

impl<R: Clone> NodeScheduler<R> {
    pub fn new(me: NodeId) -> Self {
        NodeScheduler {
            me,
            plans: FxHashMap::default(),
            sources: BTreeMap::new(),
            persisted: FxHashSet::default(),
            released: FxHashSet::default(),
            runs: FxHashMap::default(),
        }
    }

    pub fn install(&mut self, plan: Arc<Plan>) {
        self.plans.insert(plan.id, plan);
    }

    pub fn forget(&mut self, plan: u64) {
        self.plans.remove(&plan);
    }

    /// Sources held here.
    pub fn source_count(&self) -> usize {
        self.sources.len()
    }

    /// Plans installed and not forgotten.
    pub fn plan_count(&self) -> usize {
        self.plans.len()
    }

    /// Runs not finished here.
    pub fn active_runs(&self) -> usize {
        self.runs.len()
    }

    /// What each unfinished run waits for, readable (diagnostics).
    pub fn describe_runs(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (run, state) in &self.runs {
            let Some(request) = &state.request else {
                lines.push(format!(
                    "run {run} of plan {}: no request from the driver yet ({} outputs, {} sources pushed)",
                    state.plan,
                    state.outputs.len(),
                    state.pushed_sources.len()
                ));
                continue;
            };
            let Some(plan) = self.plans.get(&state.plan) else {
                lines.push(format!("run {run}: plan {} not installed", state.plan));
                continue;
            };
            for (index, fragment) in plan.fragments.iter().enumerate() {
                if fragment.node != self.me || state.submitted.contains(&index) {
                    continue;
                }
                let missing: Vec<String> = fragment
                    .inputs
                    .iter()
                    .filter(|input| {
                        let found =
                            state.input(self.me, plan, &self.sources, request.timestep, input);
                        found.is_none()
                    })
                    .map(|input| format!("{input:?}"))
                    .collect();
                lines.push(format!("run {run} fragment {index} waits for {missing:?}"));
            }
        }
        lines
    }

    /// A chunk is here (published, or a persisted output).
    pub fn publish(&mut self, key: SourceKey, value: R, runtime: &mut impl SchedulerRuntime<R>) {
        self.publish_all([(key, value)], runtime);
    }

    /// Chunks are here: each waiting run is looked at once, after all are in.
    pub fn publish_all(
        &mut self,
        chunks: impl IntoIterator<Item = (SourceKey, R)>,
        runtime: &mut impl SchedulerRuntime<R>,
    ) {
        self.sources.extend(chunks);
        let runs: Vec<u64> = self.runs.keys().copied().collect();
        for run in runs {
            self.advance(run, runtime);
        }
        self.drop_released();
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

    /// The sources held here that requested runs have still to read (here or by a
    /// push), and the persisted outputs requested runs are still to compute here.
    fn needed_and_expected(&self) -> (FxHashSet<SourceKey>, FxHashSet<SourceKey>) {
        let (mut needed, mut expected) = (FxHashSet::default(), FxHashSet::default());
        for state in self.runs.values() {
            let (Some(request), Some(plan)) = (&state.request, self.plans.get(&state.plan)) else {
                continue;
            };
            for (index, fragment) in plan.fragments.iter().enumerate() {
                for input in &fragment.inputs {
                    let FragmentInput::Source(s) = *input else {
                        continue;
                    };
                    let unread = if fragment.node == self.me {
                        !state.submitted.contains(&index)
                    } else {
                        !state.sources_sent.contains(&(s, fragment.node))
                    };
                    if plan.source_nodes[s] == self.me && unread {
                        needed.insert(plan.source_key(s, request.timestep));
                    }
                }
            }
            for (key, &(fragment, _)) in request.persist.iter().flatten().zip(&plan.outputs) {
                if plan.fragments[fragment].node == self.me {
                    expected.insert(key.clone());
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
        let (plan, run) = (request.plan, request.run);
        self.run_state(plan, run).request = Some(request);
        self.advance(run, runtime);
        self.drop_released();
    }

    /// Refs pushed by another node for a run.
    pub fn pushed(
        &mut self,
        plan: u64,
        run: u64,
        push: Push<R>,
        runtime: &mut impl SchedulerRuntime<R>,
    ) {
        let state = self.run_state(plan, run);
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

    fn run_state(&mut self, plan: u64, run: u64) -> &mut RunState<R> {
        self.runs.entry(run).or_insert_with(|| RunState {
            plan,
            request: None,
            outputs: FxHashMap::default(),
            pushed_sources: FxHashMap::default(),
            submitted: FxHashSet::default(),
            sources_sent: FxHashSet::default(),
        })
    }

    /// Does what run `run` allows now: push held sources, start ready fragments, push
    /// and deliver their outputs; forgets the run once this node's part is done.
    fn advance(&mut self, run: u64, runtime: &mut impl SchedulerRuntime<R>) {
        let me = self.me;
        let Some(mut state) = self.runs.remove(&run) else {
            return;
        };
        let (Some(request), Some(plan)) =
            (state.request.clone(), self.plans.get(&state.plan).cloned())
        else {
            self.runs.insert(run, state);
            return;
        };
        let key = |s: usize| plan.source_key(s, request.timestep);
        let mut persisted_here = false;

        // Sources held here that other nodes' fragments read.
        let mut by_node: FxHashMap<NodeId, Vec<(usize, R)>> = FxHashMap::default();
        let mut sources_pending = false;
        for fragment in plan.fragments.iter().filter(|f| f.node != me) {
            for input in &fragment.inputs {
                let FragmentInput::Source(s) = *input else {
                    continue;
                };
                if plan.source_nodes[s] != me || state.sources_sent.contains(&(s, fragment.node)) {
                    continue;
                }
                match self.sources.get(&key(s)) {
                    Some(value) => {
                        state.sources_sent.insert((s, fragment.node));
                        by_node
                            .entry(fragment.node)
                            .or_default()
                            .push((s, value.clone()));
                    }
                    None => sources_pending = true,
                }
            }
        }
        for (node, sources) in by_node {
            runtime.push(node, plan.id, run, Push::Sources(sources));
        }

        // Fragments of this node whose inputs are all here, in order (a fragment may
        // feed a later one of this node).
        let mut progress = true;
        while progress {
            progress = false;
            for (index, fragment) in plan.fragments.iter().enumerate() {
                if fragment.node != me || state.submitted.contains(&index) {
                    continue;
                }
                let inputs: Option<Vec<R>> = fragment
                    .inputs
                    .iter()
                    .map(|input| {
                        state
                            .input(me, &plan, &self.sources, request.timestep, input)
                            .cloned()
                    })
                    .collect();
                let Some(inputs) = inputs else { continue };
                let outputs = runtime.submit_fragment(&plan, index, inputs);
                state.submitted.insert(index);
                progress = true;
                for (slot, r) in outputs.iter().enumerate() {
                    state.outputs.insert((index, slot), r.clone());
                }
                let mut readers: Vec<NodeId> = fragment
                    .remote_readers
                    .iter()
                    .map(|&f| plan.fragments[f].node)
                    .collect();
                readers.sort();
                readers.dedup();
                for node in readers {
                    let push = Push::Outputs {
                        fragment: index,
                        refs: outputs.clone(),
                    };
                    runtime.push(node, plan.id, run, push);
                }
                // Graph outputs computed by this fragment.
                let (positions, refs): (Vec<u32>, Vec<R>) = plan
                    .outputs
                    .iter()
                    .enumerate()
                    .filter(|(_, (f, _))| *f == index)
                    .map(|(position, &(_, slot))| (position as u32, outputs[slot].clone()))
                    .unzip();
                if positions.is_empty() {
                    continue;
                }
                if let Some((node, mailbox)) = request.deliver {
                    runtime.deliver(node, mailbox, run, positions.clone(), refs.clone());
                }
                if let Some(keys) = &request.persist {
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
        let mine_done = plan
            .fragments
            .iter()
            .enumerate()
            .all(|(i, f)| f.node != me || state.submitted.contains(&i));
        if !mine_done || sources_pending {
            self.runs.insert(run, state);
        }
        // Runs that wait for these persisted outputs as sources go on now.
        if persisted_here {
            let waiting: Vec<u64> = self.runs.keys().copied().filter(|&r| r != run).collect();
            for other in waiting {
                self.advance(other, runtime);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Input, TaskGraph};
    use crate::partition::{greedy, random_balanced};

    /// A fake runtime: refs are names; records what the logic asked for.
    #[derive(Default)]
    struct Recorder {
        me: u64,
        submitted: Vec<(usize, Vec<String>)>,
        pushes: Vec<(NodeId, Push<String>)>,
        delivered: Vec<(Vec<u32>, Vec<String>)>,
    }

    impl SchedulerRuntime<String> for Recorder {
        fn submit_fragment(
            &mut self,
            plan: &Plan,
            fragment: usize,
            inputs: Vec<String>,
        ) -> Vec<String> {
            self.submitted.push((fragment, inputs));
            (0..plan.fragments[fragment].outputs.len())
                .map(|slot| format!("n{}f{fragment}s{slot}", self.me))
                .collect()
        }
        fn push(&mut self, node: NodeId, _plan: u64, _run: u64, push: Push<String>) {
            self.pushes.push((node, push));
        }
        fn deliver(
            &mut self,
            _node: NodeId,
            _mailbox: u64,
            _run: u64,
            positions: Vec<u32>,
            refs: Vec<String>,
        ) {
            self.delivered.push((positions, refs));
        }
    }

    fn key(chunk: u32, timestep: i64) -> SourceKey {
        SourceKey {
            array: "x".into(),
            timestep,
            chunk: vec![chunk],
        }
    }

    /// Sum of 8 chunks, 4 per node, fan-in 4: a fragment per node, then one to combine.
    fn two_node_plan(random: bool) -> Arc<Plan> {
        let mut graph = TaskGraph::default();
        let leaves: Vec<Input> = (0..8)
            .map(|c| {
                let s = graph.source(key(c, 10));
                graph.task("leaf", vec![], vec![s])
            })
            .collect();
        let a = graph.task("sum", vec![], leaves[..4].to_vec());
        let b = graph.task("sum", vec![], leaves[4..].to_vec());
        let root = graph.task("sum", vec![], vec![a, b]);
        let Input::Task(root) = root else {
            unreachable!()
        };
        graph.outputs = vec![root];
        let nodes = vec![NodeId(0), NodeId(1)];
        let sources: Vec<NodeId> = (0..8).map(|c| nodes[c / 4]).collect();
        let assignment = if random {
            random_balanced(&graph, &nodes, 3)
        } else {
            greedy(&graph, &sources, &nodes)
        };
        Arc::new(Plan::new(7, Arc::new(graph), &assignment, sources))
    }

    fn request(timestep: i64) -> RunRequest {
        RunRequest {
            plan: 7,
            run: 1,
            timestep,
            deliver: Some((NodeId(0), 99)),
            persist: None,
            release_before: None,
        }
    }

    #[test]
    fn a_run_waits_for_its_chunks_then_pushes_and_delivers() {
        let plan = two_node_plan(false);
        let (mut n0, mut n1) = (NodeScheduler::new(NodeId(0)), NodeScheduler::new(NodeId(1)));
        n0.install(plan.clone());
        n1.install(plan.clone());
        let (mut r0, mut r1) = (
            Recorder {
                me: 0,
                ..Default::default()
            },
            Recorder {
                me: 1,
                ..Default::default()
            },
        );
        // The plan is shipped before the chunks exist (timestep 11: the next iteration).
        n0.run(request(11), &mut r0);
        n1.run(request(11), &mut r1);
        assert!(r0.submitted.is_empty() && r1.submitted.is_empty());
        for c in 0..4 {
            n0.publish(key(c, 11), format!("chunk{c}"), &mut r0);
            n1.publish(key(c + 4, 11), format!("chunk{}", c + 4), &mut r1);
        }
        // An old chunk changes nothing.
        n1.publish(key(0, 10), "old".into(), &mut r1);
        assert_eq!(r0.submitted.len(), 1, "node 0's partial sum");
        assert_eq!(r1.submitted.len(), 1, "node 1's partial sum");
        assert_eq!(
            r1.submitted[0].1,
            vec!["chunk4", "chunk5", "chunk6", "chunk7"]
        );
        // Node 1 pushes its partial to node 0, which then combines and delivers.
        assert_eq!(r1.pushes.len(), 1);
        let (to, push) = r1.pushes.pop().unwrap();
        assert_eq!(to, NodeId(0));
        assert!(r0.delivered.is_empty());
        n0.pushed(7, 1, push, &mut r0);
        assert_eq!(r0.submitted.len(), 2);
        assert_eq!(r0.delivered.len(), 1);
        assert_eq!(r0.delivered[0].0, vec![0]);
        assert_eq!(
            (n0.active_runs(), n1.active_runs()),
            (0, 0),
            "both parts done"
        );
    }

    #[test]
    fn pushes_may_arrive_before_the_run_request() {
        let plan = two_node_plan(false);
        let mut n0 = NodeScheduler::new(NodeId(0));
        n0.install(plan);
        let mut r0 = Recorder::default();
        for c in 0..4 {
            n0.publish(key(c, 10), format!("c{c}"), &mut r0);
        }
        let push = Push::Outputs {
            fragment: 1,
            refs: vec!["partial".to_string()],
        };
        n0.pushed(7, 1, push, &mut r0);
        assert!(r0.submitted.is_empty(), "nothing before the driver asks");
        n0.run(request(10), &mut r0);
        assert_eq!(r0.submitted.len(), 2);
        assert_eq!(r0.delivered.len(), 1);
    }

    #[test]
    fn sources_read_on_another_node_are_pushed_there() {
        let plan = two_node_plan(true);
        let nodes = [NodeId(0), NodeId(1)];
        let mut schedulers: Vec<NodeScheduler<String>> =
            nodes.iter().map(|&n| NodeScheduler::new(n)).collect();
        let mut runtimes: Vec<Recorder> = (0..2)
            .map(|me| Recorder {
                me,
                ..Default::default()
            })
            .collect();
        for (s, r) in schedulers.iter_mut().zip(runtimes.iter_mut()) {
            s.install(plan.clone());
            s.run(request(10), r);
        }
        for c in 0..8u32 {
            let holder = (c / 4) as usize;
            schedulers[holder].publish(key(c, 10), format!("c{c}"), &mut runtimes[holder]);
        }
        // Deliver pushes until nothing moves.
        loop {
            let pending: Vec<(usize, Push<String>)> = runtimes
                .iter_mut()
                .flat_map(|r| std::mem::take(&mut r.pushes))
                .map(|(node, push)| (node.0 as usize, push))
                .collect();
            if pending.is_empty() {
                break;
            }
            for (to, push) in pending {
                schedulers[to].pushed(7, 1, push, &mut runtimes[to]);
            }
        }
        let submitted: usize = runtimes.iter().map(|r| r.submitted.len()).sum();
        assert_eq!(submitted, plan.fragments.len(), "every fragment ran once");
        let delivered: usize = runtimes.iter().map(|r| r.delivered.len()).sum();
        assert_eq!(delivered, 1);
        assert!(schedulers.iter().all(|s| s.active_runs() == 0));
    }

    /// A one-node plan `id`: one task over `source`.
    fn one_task_plan(id: u64, source: SourceKey) -> Arc<Plan> {
        let mut graph = TaskGraph::default();
        let s = graph.source(source);
        let Input::Task(t) = graph.task("leaf", vec![], vec![s]) else {
            unreachable!()
        };
        graph.outputs = vec![t];
        let nodes = vec![NodeId(0)];
        let assignment = greedy(&graph, &nodes, &nodes);
        Arc::new(Plan::new(id, Arc::new(graph), &assignment, nodes))
    }

    #[test]
    fn a_run_waiting_for_a_persisted_output_goes_on_when_it_is_computed() {
        let kept = SourceKey {
            array: "kept".into(),
            timestep: 0,
            chunk: vec![0],
        };
        let (producer, reader) = (one_task_plan(1, key(0, 5)), one_task_plan(2, kept.clone()));
        let mut n0 = NodeScheduler::new(NodeId(0));
        n0.install(producer);
        n0.install(reader);
        let mut r0 = Recorder::default();
        let run = |plan, run, timestep, persist: Option<Vec<SourceKey>>| RunRequest {
            plan,
            run,
            timestep,
            deliver: if persist.is_none() {
                Some((NodeId(0), 1))
            } else {
                None
            },
            persist,
            release_before: None,
        };
        // The reader asks first: its source is not there yet.
        n0.run(run(2, 20, 0, None), &mut r0);
        n0.run(run(1, 10, 5, Some(vec![kept])), &mut r0);
        assert!(r0.delivered.is_empty());
        n0.publish(key(0, 5), "chunk".to_string(), &mut r0);
        assert_eq!(r0.submitted.len(), 2, "the producer, then the reader");
        assert_eq!(r0.submitted[1].1, vec!["n0f0s0".to_string()]);
        assert_eq!(r0.delivered.len(), 1);
        assert_eq!(n0.active_runs(), 0);
    }

    /// A one-node plan `id`: one task over `sources`.
    fn one_task_plan_over(id: u64, sources: &[SourceKey]) -> Arc<Plan> {
        let mut graph = TaskGraph::default();
        let inputs = sources.iter().map(|k| graph.source(k.clone())).collect();
        let Input::Task(t) = graph.task("leaf", vec![], inputs) else {
            unreachable!()
        };
        graph.outputs = vec![t];
        let nodes = vec![NodeId(0)];
        let assignment = greedy(&graph, &vec![NodeId(0); sources.len()], &nodes);
        Arc::new(Plan::new(
            id,
            Arc::new(graph),
            &assignment,
            vec![NodeId(0); sources.len()],
        ))
    }

    fn kept_key() -> SourceKey {
        SourceKey {
            array: "kept".into(),
            timestep: 0,
            chunk: vec![0],
        }
    }

    #[test]
    fn a_persisted_output_released_while_a_run_reads_it_stays_until_read() {
        let kept = kept_key();
        let mut n0 = NodeScheduler::new(NodeId(0));
        n0.install(one_task_plan(1, key(0, 5)));
        n0.install(one_task_plan_over(3, &[kept.clone(), key(0, 0)]));
        let mut r0 = Recorder::default();
        let mut produce = request(5);
        (produce.plan, produce.deliver) = (1, None);
        produce.persist = Some(vec![kept.clone()]);
        n0.run(produce, &mut r0);
        n0.publish(key(0, 5), "chunk5".to_string(), &mut r0);
        let mut read = request(0);
        (read.plan, read.run) = (3, 2);
        n0.run(read, &mut r0);
        // The array over the persisted output is dropped before the run could read it.
        assert_eq!(
            n0.release(std::slice::from_ref(&kept)),
            0,
            "kept for the run"
        );
        assert_eq!(n0.release_before(1), 0, "still a persisted output");
        n0.publish(key(0, 0), "chunk0".to_string(), &mut r0);
        assert_eq!(
            r0.submitted[1],
            (0, vec!["n0f0s0".to_string(), "chunk0".to_string()])
        );
        assert_eq!(
            n0.source_count(),
            2,
            "read, then dropped: the chunks are left"
        );
        assert_eq!(n0.release(std::slice::from_ref(&kept)), 0, "once only");
    }

    #[test]
    fn a_persisted_output_released_before_it_is_computed_is_dropped_once_computed() {
        let kept = kept_key();
        let mut n0 = NodeScheduler::new(NodeId(0));
        n0.install(one_task_plan(1, key(0, 5)));
        let mut r0 = Recorder::default();
        let mut req = request(5);
        (req.plan, req.deliver, req.persist) = (1, None, Some(vec![kept.clone()]));
        n0.run(req, &mut r0);
        assert_eq!(n0.release(std::slice::from_ref(&kept)), 0);
        n0.publish(key(0, 5), "chunk".to_string(), &mut r0);
        assert_eq!(r0.submitted.len(), 1, "the producer ran");
        assert_eq!(
            n0.source_count(),
            1,
            "its output did not outlive its release"
        );
        assert_eq!(n0.active_runs(), 0);
    }

    #[test]
    fn persisted_outputs_become_sources_and_release_drops_them() {
        let plan = two_node_plan(false);
        let mut n0 = NodeScheduler::new(NodeId(0));
        n0.install(plan);
        let mut r0 = Recorder::default();
        for c in 0..4 {
            n0.publish(key(c, 10), format!("c{c}"), &mut r0);
        }
        let kept = key(0, 0);
        let mut req = request(10);
        req.deliver = None;
        req.persist = Some(vec![kept.clone()]);
        n0.run(req, &mut r0);
        n0.pushed(
            7,
            1,
            Push::Outputs {
                fragment: 1,
                refs: vec!["p".into()],
            },
            &mut r0,
        );
        assert!(r0.delivered.is_empty());
        assert_eq!(n0.source_count(), 5);
        assert_eq!(n0.release_array_before("other", 11), 0);
        assert_eq!(
            n0.release_before(11),
            4,
            "published sources go, not the persisted one"
        );
        assert_eq!(n0.source_count(), 1);
        assert_eq!(n0.release(std::slice::from_ref(&kept)), 1);
        assert_eq!(n0.source_count(), 0);
    }
}
