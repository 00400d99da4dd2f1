//! Which node runs each task of a graph. Plain functions over the graph and where its
//! sources are; no runtime.
//!
//! - [`greedy`]: a source stays where it is; each task goes to the node holding most
//!   of its direct inputs (ties to the least loaded node); tasks without located inputs
//!   go to the least loaded node. Doreisa's strategy: data does not move unless two
//!   inputs of one task live apart. A second pass fixes what ties got wrong: on
//!   in-forests (every task read at most once: reduction trees) an exact dynamic
//!   program picks the fewest cut edges, keeping the first pass's choice among equals;
//!   on other graphs, tasks move one at a time while that cuts fewer edges.
//! - [`random_balanced`]: tasks dealt evenly over the nodes in a seeded random order,
//!   for comparison.

use crate::graph::{Input, TaskGraph};
use doreisa_core::NodeId;
use petgraph::graphmap::DiGraphMap;

/// The node of each task, by task index.
pub type Assignment = Vec<NodeId>;

/// Greedy partitioning: inputs decide. `source_nodes[i]` is where source `i` lives.
pub fn greedy(graph: &TaskGraph, source_nodes: &[NodeId], nodes: &[NodeId]) -> Assignment {
    assert!(!nodes.is_empty(), "partitioning over no node");
    let mut load = vec![0usize; nodes.len()];
    let slot = |node: NodeId| nodes.iter().position(|&n| n == node);
    let mut assignment: Assignment = Vec::with_capacity(graph.tasks.len());
    let mut votes = vec![0usize; nodes.len()];
    for task in &graph.tasks {
        votes.iter_mut().for_each(|v| *v = 0);
        for input in &task.inputs {
            let node = match *input {
                Input::Source(s) => source_nodes[s],
                Input::Task(t) => assignment[t],
            };
            if let Some(i) = slot(node) {
                votes[i] += 1;
            }
        }
        let best = (0..nodes.len())
            .max_by_key(|&i| (votes[i], std::cmp::Reverse(load[i]), std::cmp::Reverse(i)))
            .expect("at least one node");
        load[best] += 1;
        assignment.push(nodes[best]);
    }
    let readers = readers(graph);
    if readers.iter().all(|r| r.len() <= 1) {
        settle_in_forest(graph, source_nodes, nodes, &readers, &mut assignment);
    } else {
        refine(graph, source_nodes, nodes, &readers, &mut assignment);
    }
    assignment
}

fn readers(graph: &TaskGraph) -> Vec<Vec<usize>> {
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); graph.tasks.len()];
    for (t, task) in graph.tasks.iter().enumerate() {
        for input in &task.inputs {
            if let Input::Task(u) = *input
                && !readers[u].contains(&t)
            {
                readers[u].push(t);
            }
        }
    }
    readers
}

/// Exact on in-forests: `cost[t][i]` is the fewest cut edges below task `t` if it runs
/// on `nodes[i]`; then each task, from the roots down, takes its cheapest node given
/// its reader's, preferring its first-pass node, then its reader's.
fn settle_in_forest(
    graph: &TaskGraph,
    source_nodes: &[NodeId],
    nodes: &[NodeId],
    readers: &[Vec<usize>],
    assignment: &mut Assignment,
) {
    let cost = subtree_costs(graph, source_nodes, nodes);
    let first_pass = assignment.clone();
    for t in (0..graph.tasks.len()).rev() {
        let reader = readers[t].first().map(|&r| assignment[r]);
        let total = |i: usize| cost[t][i] + usize::from(reader.is_some_and(|r| r != nodes[i]));
        let best = (0..nodes.len()).map(total).min().expect("a node");
        let prefer = [Some(first_pass[t]), reader];
        let choice = prefer
            .into_iter()
            .flatten()
            .find(|n| {
                nodes
                    .iter()
                    .position(|m| m == n)
                    .is_some_and(|i| total(i) == best)
            })
            .unwrap_or_else(|| {
                nodes[(0..nodes.len())
                    .find(|&i| total(i) == best)
                    .expect("a best")]
            });
        assignment[t] = choice;
    }
}

/// `cost[t][i]`: the fewest cut edges below task `t` of an in-forest if `t` runs on
/// `nodes[i]` (sources pinned where they are), by dynamic programming in task order.
fn subtree_costs(graph: &TaskGraph, source_nodes: &[NodeId], nodes: &[NodeId]) -> Vec<Vec<usize>> {
    let mut cost: Vec<Vec<usize>> = Vec::with_capacity(graph.tasks.len());
    for task in &graph.tasks {
        let row = nodes
            .iter()
            .map(|&here| {
                task.inputs
                    .iter()
                    .map(|input| match *input {
                        Input::Source(s) => usize::from(source_nodes[s] != here),
                        Input::Task(t) => nodes
                            .iter()
                            .enumerate()
                            .map(|(i, &there)| cost[t][i] + usize::from(there != here))
                            .min()
                            .unwrap_or(0),
                    })
                    .sum()
            })
            .collect();
        cost.push(row);
    }
    cost
}

/// Moves tasks, from the last to the first, to the node where the fewest of their
/// inputs and readers are elsewhere, while that strictly lowers the cut.
fn refine(
    graph: &TaskGraph,
    source_nodes: &[NodeId],
    nodes: &[NodeId],
    readers: &[Vec<usize>],
    assignment: &mut Assignment,
) {
    for _ in 0..3 {
        let mut moved = false;
        for t in (0..graph.tasks.len()).rev() {
            let cost = |here: NodeId, assignment: &Assignment| -> usize {
                let inputs = graph.tasks[t]
                    .inputs
                    .iter()
                    .filter(|input| {
                        let there = match **input {
                            Input::Source(s) => source_nodes[s],
                            Input::Task(u) => assignment[u],
                        };
                        there != here
                    })
                    .count();
                inputs
                    + readers[t]
                        .iter()
                        .filter(|&&r| assignment[r] != here)
                        .count()
            };
            let current = cost(assignment[t], assignment);
            if let Some(&better) = nodes
                .iter()
                .filter(|&&n| cost(n, assignment) < current)
                .min_by_key(|&&n| cost(n, assignment))
            {
                assignment[t] = better;
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
}

/// Deals the tasks evenly over `nodes` in an order shuffled by `seed`: node loads
/// differ by at most one task.
pub fn random_balanced(graph: &TaskGraph, nodes: &[NodeId], seed: u64) -> Assignment {
    assert!(!nodes.is_empty(), "partitioning over no node");
    let mut order: Vec<usize> = (0..graph.tasks.len()).collect();
    // Fisher-Yates with a small xorshift generator: reproducible, no dependency.
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    for i in (1..order.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    let mut assignment = vec![nodes[0]; graph.tasks.len()];
    for (position, task) in order.into_iter().enumerate() {
        assignment[task] = nodes[position % nodes.len()];
    }
    assignment
}

/// Edges whose two ends are on different nodes (values that cross the network).
pub fn cut_edges(graph: &TaskGraph, source_nodes: &[NodeId], assignment: &Assignment) -> usize {
    dependency_graph(graph)
        .all_edges()
        .filter(|(from, to, _)| {
            let node_of = |v: Vertex| match v {
                Vertex::Source(s) => source_nodes[s],
                Vertex::Task(t) => assignment[t],
            };
            node_of(*from) != node_of(*to)
        })
        .count()
}

/// Tasks per node, in `nodes` order.
pub fn loads(assignment: &Assignment, nodes: &[NodeId]) -> Vec<usize> {
    nodes
        .iter()
        .map(|n| assignment.iter().filter(|&a| a == n).count())
        .collect()
}

/// A vertex of the dependency graph: a source or a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Vertex {
    Source(usize),
    Task(usize),
}

/// The graph as a petgraph map, an edge from each input to its reader (an input read
/// twice by one task counts once).
pub fn dependency_graph(graph: &TaskGraph) -> DiGraphMap<Vertex, ()> {
    let mut dag = DiGraphMap::new();
    for (t, task) in graph.tasks.iter().enumerate() {
        dag.add_node(Vertex::Task(t));
        for input in &task.inputs {
            let from = match *input {
                Input::Source(s) => Vertex::Source(s),
                Input::Task(u) => Vertex::Task(u),
            };
            dag.add_edge(from, Vertex::Task(t), ());
        }
    }
    dag
}

#[cfg(test)]
mod tests_support {
    use super::*;
    use crate::graph::SourceKey;

    /// A reduction of `chunks` sources, `fan_in` at a time, as the array layer makes.
    pub fn reduction(chunks: usize, fan_in: usize) -> TaskGraph {
        let mut graph = TaskGraph::default();
        let mut level: Vec<Input> = (0..chunks)
            .map(|c| {
                let s = graph.source(SourceKey {
                    array: "x".into(),
                    timestep: 0,
                    chunk: vec![c as u32],
                });
                graph.task("leaf", vec![], vec![s])
            })
            .collect();
        while level.len() > 1 {
            level = level
                .chunks(fan_in)
                .map(|group| graph.task("combine", vec![], group.to_vec()))
                .collect();
        }
        let Input::Task(root) = level[0] else {
            unreachable!()
        };
        graph.outputs = vec![root];
        graph
    }

    /// The fewest cut edges any assignment can reach on an in-tree with pinned
    /// sources (dynamic programming over the tree).
    pub fn optimal_tree_cut(graph: &TaskGraph, source_nodes: &[NodeId], nodes: &[NodeId]) -> usize {
        let cost = subtree_costs(graph, source_nodes, nodes);
        *cost[graph.outputs[0]].iter().min().expect("a node")
    }

    /// The fewest cut edges over every assignment (small graphs only).
    pub fn exhaustive_cut(graph: &TaskGraph, source_nodes: &[NodeId], nodes: &[NodeId]) -> usize {
        let tasks = graph.tasks.len();
        let total = nodes.len().pow(tasks as u32);
        (0..total)
            .map(|mut code| {
                let assignment: Assignment = (0..tasks)
                    .map(|_| {
                        let node = nodes[code % nodes.len()];
                        code /= nodes.len();
                        node
                    })
                    .collect();
                cut_edges(graph, source_nodes, &assignment)
            })
            .min()
            .expect("an assignment")
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::*;
    use super::*;

    fn nodes(n: u64) -> Vec<NodeId> {
        (0..n).map(NodeId).collect()
    }

    #[test]
    fn greedy_is_optimal_on_reduction_trees() {
        for (n, per_node, fan_in) in [
            (1, 40, 8),
            (2, 40, 8),
            (4, 40, 8),
            (8, 40, 8),
            (4, 10, 4),
            (3, 7, 2),
        ] {
            let chunks = n as usize * per_node;
            let graph = reduction(chunks, fan_in);
            let cluster = nodes(n);
            // Each node holds a contiguous block of chunks, as ranks do.
            let sources: Vec<NodeId> = (0..chunks).map(|c| cluster[c / per_node]).collect();
            let assignment = greedy(&graph, &sources, &cluster);
            assert_eq!(
                cut_edges(&graph, &sources, &assignment),
                optimal_tree_cut(&graph, &sources, &cluster),
                "{n} nodes, {per_node} chunks each, fan-in {fan_in}"
            );
            // Leaves run where their chunk is.
            for c in 0..chunks {
                assert_eq!(assignment[c], sources[c]);
            }
        }
    }

    #[test]
    fn random_balanced_is_balanced_within_one_task() {
        for (tasks, n) in [(185, 4), (7, 3), (1000, 8), (3, 5)] {
            let graph = reduction(tasks, tasks + 1);
            let cluster = nodes(n);
            for seed in 0..5 {
                let loads = loads(&random_balanced(&graph, &cluster, seed), &cluster);
                let (min, max) = (loads.iter().min().unwrap(), loads.iter().max().unwrap());
                assert!(max - min <= 1, "{loads:?}");
                assert_eq!(loads.iter().sum::<usize>(), graph.tasks.len());
            }
        }
        // Different seeds give different deals.
        let graph = reduction(64, 8);
        let cluster = nodes(4);
        assert_ne!(
            random_balanced(&graph, &cluster, 1),
            random_balanced(&graph, &cluster, 2)
        );
    }

    #[test]
    fn greedy_moves_less_than_random() {
        let graph = reduction(160, 8);
        let cluster = nodes(4);
        let sources: Vec<NodeId> = (0..160).map(|c| cluster[c / 40]).collect();
        let greedy_cut = cut_edges(&graph, &sources, &greedy(&graph, &sources, &cluster));
        let random_cut = cut_edges(&graph, &sources, &random_balanced(&graph, &cluster, 7));
        assert!(greedy_cut * 10 < random_cut, "{greedy_cut} vs {random_cut}");
    }

    #[test]
    fn tasks_without_located_inputs_spread_by_load() {
        let mut graph = TaskGraph::default();
        for _ in 0..6 {
            graph.task("make", vec![], vec![]);
        }
        let cluster = nodes(3);
        assert_eq!(
            loads(&greedy(&graph, &[], &cluster), &cluster),
            vec![2, 2, 2]
        );
    }
}

#[cfg(test)]
mod random_layouts {
    use super::tests_support::*;
    use super::*;

    #[test]
    fn the_tree_optimum_is_the_best_of_every_assignment_on_small_trees() {
        for (chunks, fan_in) in [(3, 2), (4, 2), (5, 3), (4, 4)] {
            let graph = reduction(chunks, fan_in);
            for n in 2..=3u64 {
                let cluster: Vec<NodeId> = (0..n).map(NodeId).collect();
                let sources: Vec<NodeId> = (0..chunks)
                    .map(|c| cluster[(c * 7 / 3) % n as usize])
                    .collect();
                assert_eq!(
                    optimal_tree_cut(&graph, &sources, &cluster),
                    exhaustive_cut(&graph, &sources, &cluster),
                    "{chunks} chunks, fan-in {fan_in}, {n} nodes"
                );
            }
        }
    }

    #[test]
    fn greedy_is_optimal_on_reduction_trees_over_uneven_blocks() {
        let mut state = 12345u64;
        let mut next = |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        for _ in 0..300 {
            let n = 1 + next(6);
            let cluster: Vec<NodeId> = (0..n).map(NodeId).collect();
            // Contiguous blocks of random sizes (ranks hold neighbouring chunks).
            let mut sources = Vec::new();
            for &node in &cluster {
                for _ in 0..1 + next(20) {
                    sources.push(node);
                }
            }
            let fan_in = 2 + next(7) as usize;
            let graph = reduction(sources.len(), fan_in);
            let assignment = greedy(&graph, &sources, &cluster);
            assert_eq!(
                cut_edges(&graph, &sources, &assignment),
                optimal_tree_cut(&graph, &sources, &cluster),
                "{sources:?} fan-in {fan_in}"
            );
        }
    }
}
