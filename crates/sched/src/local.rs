//! Evaluates a task graph in the calling thread, task after task: the reference the
//! distributed schedulers are tested against, and a way to run small graphs without a
//! cluster.

use crate::graph::{Input, SourceKey, TaskGraph};
use crate::{KernelRegistry, SchedError};
use bytes::Bytes;
use rustc_hash::FxHashMap;

/// The outputs of `graph` (in `graph.outputs` order), given its sources' values.
pub fn evaluate(
    graph: &TaskGraph,
    kernels: &KernelRegistry,
    sources: &FxHashMap<SourceKey, Bytes>,
) -> Result<Vec<Bytes>, SchedError> {
    graph.validate()?;
    let source_values: Vec<&Bytes> = graph
        .sources
        .iter()
        .map(|key| {
            sources
                .get(key)
                .ok_or_else(|| SchedError::MissingSource(key.to_string()))
        })
        .collect::<Result<_, _>>()?;
    // Free each intermediate after its last reader.
    let mut last_use = vec![usize::MAX; graph.tasks.len()];
    for (index, task) in graph.tasks.iter().enumerate() {
        for input in &task.inputs {
            if let Input::Task(t) = *input {
                last_use[t] = index;
            }
        }
    }
    let wanted: rustc_hash::FxHashSet<usize> = graph.outputs.iter().copied().collect();
    let mut values: Vec<Option<Bytes>> = vec![None; graph.tasks.len()];
    for (index, task) in graph.tasks.iter().enumerate() {
        let inputs: Vec<Bytes> = task
            .inputs
            .iter()
            .map(|input| match *input {
                Input::Source(s) => source_values[s].clone(),
                Input::Task(t) => values[t].clone().expect("computed and not yet freed"),
            })
            .collect();
        values[index] = Some(kernels.run(&task.kernel, &task.params, &inputs)?);
        for input in &task.inputs {
            if let Input::Task(t) = *input
                && last_use[t] == index
                && !wanted.contains(&t)
            {
                values[t] = None;
            }
        }
    }
    Ok(graph
        .outputs
        .iter()
        .map(|&o| values[o].clone().expect("outputs are kept"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn add_bytes(_: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
        let sum: u8 = inputs.iter().map(|b| b[0]).sum();
        Ok(Bytes::from(vec![sum]))
    }

    fn fail(_: &[u8], _: &[Bytes]) -> Result<Bytes, String> {
        Err("no".into())
    }

    #[test]
    fn evaluates_in_order_and_reports_failures() {
        let mut kernels = KernelRegistry::new();
        kernels.register("add", add_bytes);
        kernels.register("fail", fail);
        let mut graph = TaskGraph::default();
        let key = |c| SourceKey {
            array: Arc::from("x"),
            timestep: 3,
            chunk: vec![c],
        };
        let (a, b) = (graph.source(key(0)), graph.source(key(1)));
        let ab = graph.task("add", vec![], vec![a, b]);
        let abb = graph.task("add", vec![], vec![ab, b]);
        graph.outputs = vec![0, 1];
        let mut sources = FxHashMap::default();
        sources.insert(key(0), Bytes::from_static(&[2]));
        sources.insert(key(1), Bytes::from_static(&[5]));
        let out = evaluate(&graph, &kernels, &sources).unwrap();
        assert_eq!((out[0][0], out[1][0]), (7, 12));
        let _ = abb;

        sources.remove(&key(1));
        assert!(matches!(
            evaluate(&graph, &kernels, &sources),
            Err(SchedError::MissingSource(_))
        ));
        sources.insert(key(1), Bytes::from_static(&[5]));
        graph.task("fail", vec![], vec![a]);
        graph.task("nope", vec![], vec![a]);
        assert!(matches!(
            evaluate(&graph, &kernels, &sources),
            Err(SchedError::KernelFailed { .. })
        ));
    }
}
