//! Running graphs: the interface the array layer calls (`compute`, `persist`), and the
//! local implementation over [`crate::local::evaluate`].

use crate::graph::{SourceKey, TaskGraph};
use crate::{KernelRegistry, SchedError};
use bytes::Bytes;
use rustc_hash::FxHashMap;
use std::any::Any;
use std::sync::{Arc, Mutex, Weak};

/// Outputs of a persisted graph, available as sources of later graphs under `keys`
/// while this value lives (dropping the last clone releases them).
#[derive(Clone)]
pub struct Persisted {
    pub keys: Vec<SourceKey>,
    /// Runner-defined: whatever keeps the values alive.
    pub guard: Arc<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for Persisted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persisted")
            .field("keys", &self.keys)
            .finish()
    }
}

/// Something that runs task graphs. Sources are found by key: published chunks, and
/// outputs of earlier `persist` calls.
pub trait GraphRunner: Send + Sync {
    /// Runs `graph` and returns its outputs, in `graph.outputs` order.
    fn compute(&self, graph: &TaskGraph) -> Result<Vec<Bytes>, SchedError>;

    /// Runs the graph `lower` makes, at `timestep` (the latest timestep its sources are
    /// at); `structure` identifies what the graph computes whatever the timestep (equal
    /// for the same expression over the same arrays one iteration later). A runner
    /// that keeps plans may skip `lower` when it knows `structure`: a driver's cost per
    /// iteration is then the size of the expression, not of its graph.
    fn compute_keyed(
        &self,
        structure: u64,
        timestep: i64,
        lower: &mut dyn FnMut() -> Result<TaskGraph, SchedError>,
    ) -> Result<Vec<Bytes>, SchedError> {
        let _ = (structure, timestep);
        self.compute(&lower()?)
    }

    /// Starts `graph` and returns at once; output `i` becomes source `keys[i]`.
    fn persist(&self, graph: &TaskGraph, keys: Vec<SourceKey>) -> Result<Persisted, SchedError>;
}

/// Runs graphs in the calling thread. Holds source values given by [`LocalRunner::insert`]
/// and the outputs of persisted graphs (until their [`Persisted`] is dropped).
pub struct LocalRunner {
    kernels: KernelRegistry,
    sources: Arc<Mutex<FxHashMap<SourceKey, Bytes>>>,
}

/// Removes persisted values from a local runner when dropped.
struct LocalGuard {
    keys: Vec<SourceKey>,
    sources: Weak<Mutex<FxHashMap<SourceKey, Bytes>>>,
}

impl Drop for LocalGuard {
    fn drop(&mut self) {
        if let Some(sources) = self.sources.upgrade() {
            let mut sources = sources.lock().unwrap_or_else(|e| e.into_inner());
            for key in &self.keys {
                sources.remove(key);
            }
        }
    }
}

impl LocalRunner {
    pub fn new(kernels: KernelRegistry) -> Self {
        LocalRunner {
            kernels,
            sources: Arc::default(),
        }
    }

    /// Makes `value` the source `key`.
    pub fn insert(&self, key: SourceKey, value: Bytes) {
        self.lock().insert(key, value);
    }

    /// Sources held now (published and persisted).
    pub fn source_count(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FxHashMap<SourceKey, Bytes>> {
        self.sources.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl GraphRunner for LocalRunner {
    fn compute(&self, graph: &TaskGraph) -> Result<Vec<Bytes>, SchedError> {
        let sources = self.lock().clone();
        crate::local::evaluate(graph, &self.kernels, &sources)
    }

    fn persist(&self, graph: &TaskGraph, keys: Vec<SourceKey>) -> Result<Persisted, SchedError> {
        graph.check_persist_keys(&keys)?;
        let values = self.compute(graph)?;
        let mut sources = self.lock();
        for (key, value) in keys.iter().zip(values) {
            sources.insert(key.clone(), value);
        }
        Ok(Persisted {
            keys: keys.clone(),
            guard: Arc::new(LocalGuard {
                keys,
                sources: Arc::downgrade(&self.sources),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(_: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
        Ok(Bytes::from(vec![inputs[0][0] * 2]))
    }

    #[test]
    fn persisted_outputs_are_sources_until_released() {
        let mut kernels = KernelRegistry::new();
        kernels.register("double", double);
        let runner = LocalRunner::new(kernels);
        let key = |name: &str| SourceKey {
            array: name.into(),
            timestep: 0,
            chunk: vec![0],
        };
        runner.insert(key("x"), Bytes::from_static(&[3]));
        let mut graph = TaskGraph::default();
        let x = graph.source(key("x"));
        graph.task("double", vec![], vec![x]);
        graph.outputs = vec![0];
        let persisted = runner.persist(&graph, vec![key("y")]).unwrap();
        let mut next = TaskGraph::default();
        let y = next.source(key("y"));
        next.task("double", vec![], vec![y]);
        next.outputs = vec![0];
        assert_eq!(runner.compute(&next).unwrap()[0][0], 12);
        assert_eq!(runner.source_count(), 2);
        drop(persisted);
        assert_eq!(runner.source_count(), 1);
        assert!(runner.compute(&next).is_err());
    }
}
