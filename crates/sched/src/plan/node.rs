//! One node's part of a plan: what its scheduling actor needs to run its fragments,
//! feed the other nodes and hand back outputs, and nothing of the other nodes' parts.
//! A node of a 1 024-node cluster holds its own few dozen tasks, not the whole graph.

use super::{FragmentInput, Plan};
use crate::graph::{GraphTask, Input, SourceKey};
use crate::{KernelRegistry, SchedError};
use bytes::Bytes;
use doreisa_core::NodeId;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// One node's fragments of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodePlan {
    pub plan: u64,
    pub node: NodeId,
    /// The timestep the source keys are given at (see [`NodePlan::source_key`]).
    pub base: i64,
    /// Sources held on this node that some fragment reads: (source index, key at
    /// `base`), by source index.
    pub sources: Vec<(usize, SourceKey)>,
    /// Sources held here that fragments on other nodes read: (source index, nodes).
    pub source_readers: Vec<(usize, Vec<NodeId>)>,
    pub fragments: Vec<NodeFragment>,
}

/// A fragment as its node runs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeFragment {
    /// Its index among the plan's fragments (how other nodes name its outputs).
    pub index: usize,
    /// Its tasks, in order; `Input::Task(i)` is its `i`-th task, `Input::Source(j)` its
    /// `j`-th input.
    pub tasks: Vec<GraphTask>,
    /// What it reads, in the order its runtime task takes them.
    pub inputs: Vec<FragmentInput>,
    /// Its tasks (local indices) whose values leave it, by output slot.
    pub outputs: Vec<usize>,
    /// Other nodes that read its outputs (pushed there as soon as they exist).
    pub readers: Vec<NodeId>,
    /// Graph outputs it computes: (output position, slot).
    pub delivers: Vec<(u32, usize)>,
}

impl NodePlan {
    /// The key of a source given at `base` (see [`NodePlan::sources`]) in a run at
    /// `timestep`.
    pub fn source_key(&self, key: &SourceKey, timestep: i64) -> SourceKey {
        SourceKey {
            array: key.array.clone(),
            timestep: key.timestep - self.base + timestep,
            chunk: key.chunk.clone(),
        }
    }

    /// The key of source `index` (held here) in a run at `timestep`.
    pub fn local_source(&self, index: usize, timestep: i64) -> Option<SourceKey> {
        self.sources
            .binary_search_by_key(&index, |(s, _)| *s)
            .ok()
            .map(|at| self.source_key(&self.sources[at].1, timestep))
    }

    /// The runs a chunk of `array` published at `timestep` may complete: for each
    /// source of `array` held here, the run timestep that reads it at `timestep`.
    pub fn runs_reading(&self, array: &str, timestep: i64) -> Vec<i64> {
        let mut runs: Vec<i64> = self
            .sources
            .iter()
            .filter(|(_, key)| &*key.array == array)
            .filter_map(|(_, key)| timestep.checked_add(self.base - key.timestep))
            .collect();
        runs.sort_unstable();
        runs.dedup();
        runs
    }
}

impl Plan {
    /// Each node's part of this plan, for every node taking part (running a fragment
    /// or holding a source).
    pub fn node_plans(&self) -> Vec<NodePlan> {
        let mut by_node: FxHashMap<NodeId, NodePlan> = FxHashMap::default();
        let entry = |node: NodeId| -> NodePlan {
            NodePlan {
                plan: self.id,
                node,
                base: self.base,
                sources: Vec::new(),
                source_readers: Vec::new(),
                fragments: Vec::new(),
            }
        };
        for node in self.nodes() {
            by_node.insert(node, entry(node));
        }
        // Which nodes read each source.
        let mut readers: Vec<Vec<NodeId>> = vec![Vec::new(); self.graph.sources.len()];
        for fragment in &self.fragments {
            for input in &fragment.inputs {
                if let FragmentInput::Source(s) = *input
                    && !readers[s].contains(&fragment.node)
                {
                    readers[s].push(fragment.node);
                }
            }
        }
        for (s, nodes) in readers.iter_mut().enumerate() {
            if nodes.is_empty() {
                continue;
            }
            let holder = self.source_nodes[s];
            let plan = by_node.get_mut(&holder).expect("every holder takes part");
            plan.sources.push((s, self.graph.sources[s].clone()));
            nodes.retain(|&n| n != holder);
            if !nodes.is_empty() {
                nodes.sort();
                plan.source_readers.push((s, nodes.clone()));
            }
        }
        for (index, fragment) in self.fragments.iter().enumerate() {
            let local: FxHashMap<usize, usize> = fragment
                .tasks
                .iter()
                .enumerate()
                .map(|(i, &t)| (t, i))
                .collect();
            let position: FxHashMap<Input, usize> = fragment
                .inputs
                .iter()
                .enumerate()
                .map(|(j, input)| match *input {
                    FragmentInput::Source(s) => (Input::Source(s), j),
                    FragmentInput::Output { task, .. } => (Input::Task(task), j),
                })
                .collect();
            let tasks = fragment
                .tasks
                .iter()
                .map(|&t| {
                    let task = &self.graph.tasks[t];
                    let inputs = task
                        .inputs
                        .iter()
                        .map(|input| match (*input, local.get(&task_of(input))) {
                            (Input::Task(_), Some(&i)) => Input::Task(i),
                            (other, _) => Input::Source(position[&other]),
                        })
                        .collect();
                    GraphTask {
                        kernel: task.kernel.clone(),
                        params: task.params.clone(),
                        inputs,
                    }
                })
                .collect();
            let mut readers: Vec<NodeId> = fragment
                .remote_readers
                .iter()
                .map(|&f| self.fragments[f].node)
                .collect();
            readers.sort();
            readers.dedup();
            let delivers = self
                .outputs
                .iter()
                .enumerate()
                .filter(|(_, (f, _))| *f == index)
                .map(|(position, &(_, slot))| (position as u32, slot))
                .collect();
            let plan = by_node.get_mut(&fragment.node).expect("a fragment's node");
            plan.fragments.push(NodeFragment {
                index,
                tasks,
                inputs: fragment.inputs.clone(),
                outputs: fragment.outputs.iter().map(|t| local[t]).collect(),
                readers,
                delivers,
            });
        }
        let mut plans: Vec<NodePlan> = by_node.into_values().collect();
        plans.sort_by_key(|p| p.node);
        plans
    }
}

/// The task an input names, or `usize::MAX` for a source (never a local task).
fn task_of(input: &Input) -> usize {
    match *input {
        Input::Task(t) => t,
        Input::Source(_) => usize::MAX,
    }
}

/// Runs a fragment's tasks on its inputs (in `fragment.inputs` order); returns its
/// outputs (in `fragment.outputs` order). Values are dropped once no later task reads
/// them.
pub fn run_node_fragment(
    fragment: &NodeFragment,
    kernels: &KernelRegistry,
    inputs: &[Bytes],
) -> Result<Vec<Bytes>, SchedError> {
    if inputs.len() != fragment.inputs.len() {
        return Err(SchedError::InvalidGraph(format!(
            "a fragment of {} inputs got {}",
            fragment.inputs.len(),
            inputs.len()
        )));
    }
    let tasks = &fragment.tasks;
    let mut last_use = vec![usize::MAX; tasks.len()];
    for (t, task) in tasks.iter().enumerate() {
        for input in &task.inputs {
            if let Input::Task(u) = *input {
                last_use[u] = t;
            }
        }
    }
    let mut keep = vec![false; tasks.len()];
    for &o in &fragment.outputs {
        keep[o] = true;
    }
    let mut values: Vec<Option<Bytes>> = vec![None; tasks.len()];
    let mut args = Vec::new();
    for (t, task) in tasks.iter().enumerate() {
        args.clear();
        for input in &task.inputs {
            let value = match *input {
                Input::Task(u) => values.get(u).and_then(Option::as_ref),
                Input::Source(j) => inputs.get(j),
            };
            let value = value.ok_or_else(|| {
                SchedError::InvalidGraph(format!(
                    "task {t} of fragment {} reads {input:?}, which it does not have",
                    fragment.index
                ))
            })?;
            args.push(value.clone());
        }
        values[t] = Some(kernels.run(&task.kernel, &task.params, &args)?);
        for input in &task.inputs {
            if let Input::Task(u) = *input
                && last_use[u] == t
                && !keep[u]
            {
                values[u] = None;
            }
        }
    }
    fragment
        .outputs
        .iter()
        .map(|&o| {
            values[o]
                .clone()
                .ok_or_else(|| SchedError::InvalidGraph(format!("output {o} not computed")))
        })
        .collect()
}
