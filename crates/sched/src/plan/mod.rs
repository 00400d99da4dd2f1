//! A partitioned graph cut into *fragments*: the tasks one node can run in one go.
//!
//! A task's stage is the number of node boundaries on its longest input path; a
//! fragment is the tasks of one node at one stage. A fragment reads sources and the
//! outputs of fragments of lower stages (or of its own node at a lower stage), so
//! fragments never wait on each other in a cycle, and each runs as one task of the
//! runtime: per node and iteration, a handful of runtime tasks instead of one per
//! graph task. A plan is kept and reused while graphs keep the same structure.

mod node;

pub use node::{NodeFragment, NodePlan, run_node_fragment};

use crate::graph::{Input, SourceKey, TaskGraph};
use crate::partition::Assignment;

use doreisa_core::NodeId;
use rustc_hash::{FxHashMap, FxHasher};
use serde::{Deserialize, Serialize};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// What a fragment reads, in the order its runtime task takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FragmentInput {
    /// A source of the graph.
    Source(usize),
    /// Output `slot` of fragment `fragment`: the value of graph task `task`.
    Output {
        fragment: usize,
        slot: usize,
        task: usize,
    },
}

/// Tasks of one node at one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fragment {
    pub node: NodeId,
    pub stage: u32,
    /// Graph task indices, in topological order.
    pub tasks: Vec<usize>,
    pub inputs: Vec<FragmentInput>,
    /// Graph tasks whose values leave the fragment (read elsewhere, or graph outputs).
    pub outputs: Vec<usize>,
    /// Fragments on other nodes that read an output of this one.
    pub remote_readers: Vec<usize>,
}

/// A graph as the scheduling actors run it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub id: u64,
    pub graph: Arc<TaskGraph>,
    pub fragments: Vec<Fragment>,
    /// Where each source is (the scheduling actor there hands it out).
    pub source_nodes: Vec<NodeId>,
    /// The timestep sources are relative to: source `i` of a run at timestep `t` is
    /// `graph.sources[i]` moved by `t - base`.
    pub base: i64,
    /// For each graph output: (fragment, output slot).
    pub outputs: Vec<(usize, usize)>,
}

impl Plan {
    /// Cuts `graph`, partitioned by `assignment`, into fragments.
    pub fn new(
        id: u64,
        graph: Arc<TaskGraph>,
        assignment: &Assignment,
        source_nodes: Vec<NodeId>,
    ) -> Plan {
        let tasks = graph.tasks.len();
        let mut stage = vec![0u32; tasks];
        for (t, task) in graph.tasks.iter().enumerate() {
            stage[t] = task
                .inputs
                .iter()
                .filter_map(|input| match *input {
                    Input::Task(u) => Some(stage[u] + u32::from(assignment[u] != assignment[t])),
                    Input::Source(_) => None,
                })
                .max()
                .unwrap_or(0);
        }
        // Fragments ordered by stage, then node, so that producers come first.
        let mut keys: Vec<(u32, NodeId)> = (0..tasks).map(|t| (stage[t], assignment[t])).collect();
        keys.sort();
        keys.dedup();
        let index_of: FxHashMap<(u32, NodeId), usize> =
            keys.iter().enumerate().map(|(i, &k)| (k, i)).collect();
        let fragment_of: Vec<usize> = (0..tasks)
            .map(|t| index_of[&(stage[t], assignment[t])])
            .collect();
        let mut fragments: Vec<Fragment> = keys
            .iter()
            .map(|&(stage, node)| Fragment {
                node,
                stage,
                tasks: Vec::new(),
                inputs: Vec::new(),
                outputs: Vec::new(),
                remote_readers: Vec::new(),
            })
            .collect();
        for t in 0..tasks {
            fragments[fragment_of[t]].tasks.push(t);
        }
        // Outputs: tasks read by another fragment, and graph outputs.
        let mut leaves = vec![false; tasks];
        for (t, task) in graph.tasks.iter().enumerate() {
            for input in &task.inputs {
                if let Input::Task(u) = *input
                    && fragment_of[u] != fragment_of[t]
                {
                    leaves[u] = true;
                }
            }
        }
        for &o in &graph.outputs {
            leaves[o] = true;
        }
        for t in 0..tasks {
            if leaves[t] {
                fragments[fragment_of[t]].outputs.push(t);
            }
        }
        let slot_of = |fragments: &[Fragment], t: usize| -> usize {
            let f = &fragments[fragment_of[t]];
            f.outputs.iter().position(|&o| o == t).expect("an output")
        };
        for (t, task) in graph.tasks.iter().enumerate() {
            let f = fragment_of[t];
            for input in &task.inputs {
                let wanted = match *input {
                    Input::Source(s) => FragmentInput::Source(s),
                    Input::Task(u) if fragment_of[u] == f => continue,
                    Input::Task(u) => FragmentInput::Output {
                        fragment: fragment_of[u],
                        slot: slot_of(&fragments, u),
                        task: u,
                    },
                };
                if !fragments[f].inputs.contains(&wanted) {
                    fragments[f].inputs.push(wanted);
                }
                if let FragmentInput::Output { fragment, .. } = wanted
                    && fragments[fragment].node != fragments[f].node
                    && !fragments[fragment].remote_readers.contains(&f)
                {
                    fragments[fragment].remote_readers.push(f);
                }
            }
        }
        let outputs = graph
            .outputs
            .iter()
            .map(|&o| (fragment_of[o], slot_of(&fragments, o)))
            .collect();
        let base = graph.sources.iter().map(|k| k.timestep).max().unwrap_or(0);
        Plan {
            id,
            graph,
            fragments,
            source_nodes,
            base,
            outputs,
        }
    }

    /// The key of source `index` in a run at `timestep`.
    pub fn source_key(&self, index: usize, timestep: i64) -> SourceKey {
        let key = &self.graph.sources[index];
        SourceKey {
            array: key.array.clone(),
            timestep: key.timestep - self.base + timestep,
            chunk: key.chunk.clone(),
        }
    }

    /// The nodes that run a fragment or hold a source.
    pub fn nodes(&self) -> Vec<NodeId> {
        let mut nodes: Vec<NodeId> = self
            .fragments
            .iter()
            .map(|f| f.node)
            .chain(self.source_nodes.iter().copied())
            .collect();
        nodes.sort();
        nodes.dedup();
        nodes
    }
}

/// A key equal for graphs of the same structure on the same layout: sources are taken
/// relative to the latest timestep they read, so iteration `i + 1`'s graph has the key
/// of iteration `i`'s.
pub fn structure_key(graph: &TaskGraph, source_nodes: &[NodeId], strategy: u64) -> u64 {
    let base = graph.sources.iter().map(|k| k.timestep).max().unwrap_or(0);
    let mut hasher = FxHasher::default();
    strategy.hash(&mut hasher);
    for (key, node) in graph.sources.iter().zip(source_nodes) {
        key.array.hash(&mut hasher);
        (key.timestep - base).hash(&mut hasher);
        key.chunk.hash(&mut hasher);
        node.hash(&mut hasher);
    }
    graph.tasks.hash(&mut hasher);
    graph.outputs.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KernelRegistry;
    use crate::partition::greedy;
    use bytes::Bytes;

    fn sum(_: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
        let total: u64 = inputs
            .iter()
            .map(|b| u64::from_le_bytes(b[..8].try_into().unwrap()))
            .sum();
        Ok(Bytes::copy_from_slice(&total.to_le_bytes()))
    }

    fn kernels() -> KernelRegistry {
        let mut kernels = KernelRegistry::new();
        kernels.register("sum", sum);
        kernels
    }

    /// Sums of `chunks` sources: leaves, then combines of `fan_in`.
    fn reduction(chunks: usize, fan_in: usize, timestep: i64) -> TaskGraph {
        let mut graph = TaskGraph::default();
        let mut level: Vec<Input> = (0..chunks)
            .map(|c| {
                let s = graph.source(SourceKey {
                    array: "x".into(),
                    timestep,
                    chunk: vec![c as u32],
                });
                graph.task("sum", vec![], vec![s])
            })
            .collect();
        while level.len() > 1 {
            level = level
                .chunks(fan_in)
                .map(|g| graph.task("sum", vec![], g.to_vec()))
                .collect();
        }
        let Input::Task(root) = level[0] else {
            unreachable!()
        };
        graph.outputs = vec![root];
        graph
    }

    /// Runs every node's fragments in the plan's order, as the scheduling actors would,
    /// each from its node's part of the plan only.
    fn run_all(plan: &Plan, sources: &[Bytes]) -> Vec<Bytes> {
        let kernels = kernels();
        let parts = plan.node_plans();
        let fragment = |index: usize| {
            parts
                .iter()
                .flat_map(|p| p.fragments.iter())
                .find(|f| f.index == index)
                .expect("every fragment is some node's")
        };
        let mut produced: FxHashMap<usize, Vec<Bytes>> = FxHashMap::default();
        for index in 0..plan.fragments.len() {
            let fragment = fragment(index);
            let inputs: Vec<Bytes> = fragment
                .inputs
                .iter()
                .map(|input| match *input {
                    FragmentInput::Source(s) => sources[s].clone(),
                    FragmentInput::Output { fragment, slot, .. } => {
                        produced[&fragment][slot].clone()
                    }
                })
                .collect();
            produced.insert(
                index,
                run_node_fragment(fragment, &kernels, &inputs).unwrap(),
            );
        }
        plan.outputs
            .iter()
            .map(|&(f, s)| produced[&f][s].clone())
            .collect()
    }

    fn plan_for(nodes: usize, per_node: usize, fan_in: usize) -> (Arc<TaskGraph>, Plan) {
        let graph = Arc::new(reduction(nodes * per_node, fan_in, 5));
        let cluster: Vec<NodeId> = (0..nodes as u64).map(NodeId).collect();
        let sources: Vec<NodeId> = (0..nodes * per_node)
            .map(|c| cluster[c / per_node])
            .collect();
        let assignment = greedy(&graph, &sources, &cluster);
        (graph.clone(), Plan::new(1, graph, &assignment, sources))
    }

    fn check_against_local(graph: &TaskGraph, plan: &Plan) {
        let values: Vec<Bytes> = (0..graph.sources.len() as u64)
            .map(|c| Bytes::copy_from_slice(&c.to_le_bytes()))
            .collect();
        let out = run_all(plan, &values);
        let by_key = graph.sources.iter().cloned().zip(values).collect();
        assert_eq!(
            out,
            crate::local::evaluate(graph, &kernels(), &by_key).unwrap()
        );
    }

    #[test]
    fn a_reduction_is_one_fragment_per_node_then_one_to_combine() {
        // 64 chunks per node, fan-in 8: each node reduces its own to one partial.
        let (graph, plan) = plan_for(4, 64, 8);
        let stages: Vec<(u32, NodeId)> = plan.fragments.iter().map(|f| (f.stage, f.node)).collect();
        assert_eq!(stages.len(), 5, "{stages:?}");
        for (i, f) in plan.fragments[..4].iter().enumerate() {
            assert_eq!((f.stage, f.node), (0, NodeId(i as u64)));
            assert_eq!(f.inputs.len(), 64, "its node's chunks");
            assert_eq!(f.outputs.len(), 1, "one partial leaves each node");
        }
        let last = &plan.fragments[4];
        assert_eq!(last.stage, 1);
        assert_eq!(last.inputs.len(), 4, "every node's partial");
        check_against_local(&graph, &plan);
    }

    #[test]
    fn uneven_trees_need_more_stages_and_still_agree() {
        // 40 chunks per node, fan-in 8: second-level groups straddle nodes.
        let (graph, plan) = plan_for(3, 40, 8);
        let first: Vec<&Fragment> = plan.fragments.iter().filter(|f| f.stage == 0).collect();
        assert_eq!(first.len(), 3);
        assert!(first.iter().all(|f| f.inputs.len() == 40));
        assert!(plan.fragments.len() <= 6, "{}", plan.fragments.len());
        check_against_local(&graph, &plan);
        // Fragments only read fragments listed before them.
        for (i, f) in plan.fragments.iter().enumerate() {
            for input in &f.inputs {
                if let FragmentInput::Output { fragment, .. } = *input {
                    assert!(fragment < i);
                }
            }
        }
    }

    #[test]
    fn structure_keys_ignore_the_timestep_but_not_the_layout() {
        let nodes = [NodeId(0), NodeId(1)];
        let layout: Vec<NodeId> = (0..16).map(|c| nodes[c / 8]).collect();
        let k5 = structure_key(&reduction(16, 4, 5), &layout, 0);
        let k6 = structure_key(&reduction(16, 4, 6), &layout, 0);
        assert_eq!(k5, k6);
        let moved: Vec<NodeId> = (0..16).map(|c| nodes[c % 2]).collect();
        assert_ne!(k5, structure_key(&reduction(16, 4, 6), &moved, 0));
        assert_ne!(k5, structure_key(&reduction(16, 8, 6), &layout, 0));
        assert_ne!(
            k5,
            structure_key(&reduction(16, 4, 6), &layout, 1),
            "another strategy"
        );
    }

    #[test]
    fn a_plan_moves_its_sources_with_the_run_timestep() {
        let graph = Arc::new(reduction(2, 2, 10));
        let nodes = vec![NodeId(0)];
        let plan = Plan::new(
            1,
            graph.clone(),
            &greedy(&graph, &[nodes[0]; 2], &nodes),
            vec![nodes[0]; 2],
        );
        assert_eq!(plan.source_key(1, 10), graph.sources[1]);
        assert_eq!(plan.source_key(1, 12).timestep, 12);
    }

    #[test]
    fn wrong_inputs_are_an_error_not_a_panic() {
        let graph = Arc::new(reduction(4, 2, 0));
        let nodes = vec![NodeId(0)];
        let plan = Plan::new(
            1,
            graph.clone(),
            &greedy(&graph, &[nodes[0]; 4], &nodes),
            vec![nodes[0]; 4],
        );
        let part = &plan.node_plans()[0];
        assert!(run_node_fragment(&part.fragments[0], &kernels(), &[]).is_err());
    }
}
