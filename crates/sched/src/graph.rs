//! Task graphs: what array expressions lower to, and what the schedulers partition and
//! run.
//!
//! A graph is a list of tasks in topological order: each task names a registered
//! kernel, carries its parameters as bytes, and reads the outputs of earlier tasks or
//! *sources*, chunks the graph does not compute (a published chunk of an array at a
//! timestep, or a chunk computed by an earlier graph). Sources are given at run time,
//! so a graph can be built, partitioned and shipped before its input chunks exist.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// A chunk a graph reads without computing it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SourceKey {
    /// The array's name (published arrays) or a generated name (persisted results).
    pub array: Arc<str>,
    pub timestep: i64,
    /// The chunk's position in the array's chunk grid.
    pub chunk: Vec<u32>,
}

impl fmt::Display for SourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}{:?}", self.array, self.timestep, self.chunk)
    }
}

/// Where a task's input comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Input {
    /// The output of an earlier task (its index in [`TaskGraph::tasks`]).
    Task(usize),
    /// A source chunk (its index in [`TaskGraph::sources`]).
    Source(usize),
}

/// One kernel invocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GraphTask {
    /// The registered kernel's name.
    pub kernel: Arc<str>,
    /// The kernel's parameters, encoded by whoever built the graph.
    pub params: Vec<u8>,
    pub inputs: Vec<Input>,
}

/// Tasks in topological order, the sources they read, and the tasks whose outputs the
/// caller wants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TaskGraph {
    pub sources: Vec<SourceKey>,
    pub tasks: Vec<GraphTask>,
    pub outputs: Vec<usize>,
    /// Where each source is in `sources` (so that adding one is not a linear search:
    /// a graph over 40 000 chunks would take seconds). Not part of the graph's value.
    #[serde(skip)]
    index: SourceIndex,
}

/// [`TaskGraph::sources`] by key; equal and hashed as nothing.
#[derive(Debug, Clone, Default)]
struct SourceIndex(FxHashMap<SourceKey, usize>);

impl PartialEq for SourceIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for SourceIndex {}

impl std::hash::Hash for SourceIndex {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

impl TaskGraph {
    /// Adds a source (once per key) and returns its input.
    pub fn source(&mut self, key: SourceKey) -> Input {
        if self.index.0.len() != self.sources.len() {
            // Sources set directly (or a decoded graph): index them first.
            self.index.0 = self
                .sources
                .iter()
                .enumerate()
                .map(|(i, k)| (k.clone(), i))
                .collect();
        }
        if let Some(&index) = self.index.0.get(&key) {
            return Input::Source(index);
        }
        self.sources.push(key.clone());
        self.index.0.insert(key, self.sources.len() - 1);
        Input::Source(self.sources.len() - 1)
    }

    /// Adds a task reading `inputs` (which must already exist) and returns its output.
    pub fn task(&mut self, kernel: &str, params: Vec<u8>, inputs: Vec<Input>) -> Input {
        self.tasks.push(GraphTask {
            kernel: kernel.into(),
            params,
            inputs,
        });
        Input::Task(self.tasks.len() - 1)
    }

    /// Checks that `persist` was given one key per output.
    pub fn check_persist_keys(&self, keys: &[SourceKey]) -> Result<(), crate::SchedError> {
        if keys.len() == self.outputs.len() {
            return Ok(());
        }
        Err(crate::SchedError::InvalidGraph(format!(
            "{} keys for {} outputs",
            keys.len(),
            self.outputs.len()
        )))
    }

    /// Checks that inputs refer to earlier tasks and known sources, and outputs to tasks.
    pub fn validate(&self) -> Result<(), crate::SchedError> {
        let invalid = |m: String| Err(crate::SchedError::InvalidGraph(m));
        for (index, task) in self.tasks.iter().enumerate() {
            for input in &task.inputs {
                match *input {
                    Input::Task(t) if t >= index => {
                        return invalid(format!("task {index} reads task {t}, not an earlier one"));
                    }
                    Input::Source(s) if s >= self.sources.len() => {
                        return invalid(format!("task {index} reads unknown source {s}"));
                    }
                    _ => {}
                }
            }
        }
        if let Some(&o) = self.outputs.iter().find(|&&o| o >= self.tasks.len()) {
            return invalid(format!("output {o} is not a task"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(chunk: u32) -> SourceKey {
        SourceKey {
            array: "x".into(),
            timestep: 0,
            chunk: vec![chunk],
        }
    }

    #[test]
    fn sources_are_added_once() {
        let mut graph = TaskGraph::default();
        assert_eq!(graph.source(key(0)), Input::Source(0));
        assert_eq!(graph.source(key(1)), Input::Source(1));
        assert_eq!(graph.source(key(0)), Input::Source(0));
        assert_eq!(graph.sources.len(), 2);
    }

    #[test]
    fn validate_rejects_forward_and_unknown_references() {
        let mut graph = TaskGraph::default();
        let a = graph.source(key(0));
        let t = graph.task("k", vec![], vec![a]);
        graph.outputs.push(0);
        assert!(graph.validate().is_ok());
        graph.tasks[0].inputs.push(t);
        assert!(graph.validate().is_err(), "a task reading itself");
        graph.tasks[0].inputs = vec![Input::Source(5)];
        assert!(graph.validate().is_err(), "an unknown source");
        graph.tasks[0].inputs = vec![a];
        graph.outputs = vec![3];
        assert!(graph.validate().is_err(), "an output that is no task");
    }
}
