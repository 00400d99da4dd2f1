//! Contracts: which chunks the analytics reads, derived from the graphs its callbacks
//! ran (not written by hand). A bridge streaming in transit sends only those; the
//! others stay in the simulation's process, handed over by reference, so an analytics
//! that starts reading them later still gets them (pulled when read): changing what
//! it reads between iterations loses nothing.
//!
//! Plain state: [`ContractBuilder`] turns the reads of each callback's last run into a
//! [`Contract`]; [`Recording`] is the runner that notes what graphs read.

use doreisa_sched::{GraphRunner, Persisted, SchedError, SourceKey, TaskGraph};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Chunk positions read, by array.
pub type Reads = BTreeMap<Arc<str>, BTreeSet<Vec<u32>>>;

/// What the analytics reads, as bridges see it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contract {
    /// 0: no contract yet (everything is wanted).
    pub version: u64,
    /// By array: the positions read (`None`: every chunk). Arrays absent are read by no
    /// callback.
    pub arrays: BTreeMap<Arc<str>, Option<BTreeSet<Vec<u32>>>>,
}

impl Contract {
    /// Whether a graph reads the chunk at `position` of `array`.
    pub fn wants(&self, array: &str, position: &[u32]) -> bool {
        if self.version == 0 {
            return true;
        }
        match self.arrays.get(array) {
            Some(None) => true,
            Some(Some(positions)) => positions.contains(position),
            None => false,
        }
    }
}

/// Builds the contract from each callback's arrays and the reads of its last run.
#[derive(Debug, Default)]
pub struct ContractBuilder {
    /// By callback: the arrays of its windows, and what its last successful run read
    /// (`None` before one: it may read anything of its arrays).
    callbacks: Vec<(Vec<Arc<str>>, Option<Reads>)>,
    current: Contract,
}

impl ContractBuilder {
    /// A callback (or preparation) reading `arrays`; returns its index.
    pub fn add(&mut self, arrays: Vec<Arc<str>>) -> usize {
        self.callbacks.push((arrays, None));
        self.callbacks.len() - 1
    }

    /// Callback `index` ran and its graphs read `reads` (`None`: it failed, so what it
    /// needs is unknown).
    pub fn ran(&mut self, index: usize, reads: Option<Reads>) {
        if let Some(callback) = self.callbacks.get_mut(index) {
            callback.1 = reads;
        }
    }

    /// The contract now, if it changed since the last one returned.
    pub fn changed(&mut self) -> Option<Contract> {
        let mut arrays: BTreeMap<Arc<str>, Option<BTreeSet<Vec<u32>>>> = BTreeMap::new();
        for (names, reads) in &self.callbacks {
            for name in names {
                let entry = arrays.entry(name.clone()).or_insert(Some(BTreeSet::new()));
                match (reads, entry.as_mut()) {
                    (None, _) => *entry = None,
                    (Some(reads), Some(positions)) => {
                        positions.extend(reads.get(name).into_iter().flatten().cloned())
                    }
                    (Some(_), None) => {}
                }
            }
        }
        // Arrays that no callback reads at all are not sent either.
        arrays.retain(|_, positions| positions.as_ref().is_none_or(|p| !p.is_empty()));
        if self.current.version > 0 && arrays == self.current.arrays {
            return None;
        }
        self.current = Contract {
            version: self.current.version + 1,
            arrays,
        };
        Some(self.current.clone())
    }
}

/// A runner that notes the simulation chunks each graph reads (sources of `arrays`;
/// the results of persisted graphs are not the simulation's).
pub struct Recording<'a> {
    inner: &'a dyn GraphRunner,
    arrays: &'a BTreeSet<Arc<str>>,
    reads: Mutex<Reads>,
}

impl<'a> Recording<'a> {
    pub fn new(inner: &'a dyn GraphRunner, arrays: &'a BTreeSet<Arc<str>>) -> Self {
        Recording {
            inner,
            arrays,
            reads: Mutex::default(),
        }
    }

    pub fn into_reads(self) -> Reads {
        self.reads.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    fn note(&self, sources: &[SourceKey]) {
        let mut reads = self.reads.lock().unwrap_or_else(|e| e.into_inner());
        for key in sources.iter().filter(|k| self.arrays.contains(&k.array)) {
            reads
                .entry(key.array.clone())
                .or_default()
                .insert(key.chunk.clone());
        }
    }
}

impl GraphRunner for Recording<'_> {
    fn compute(&self, graph: &TaskGraph) -> Result<Vec<bytes::Bytes>, SchedError> {
        self.note(&graph.sources);
        self.inner.compute(graph)
    }

    fn persist(&self, graph: &TaskGraph, keys: Vec<SourceKey>) -> Result<Persisted, SchedError> {
        self.note(&graph.sources);
        self.inner.persist(graph, keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(array: &str, positions: &[[u32; 2]]) -> Reads {
        let set = positions.iter().map(|p| p.to_vec()).collect();
        BTreeMap::from([(Arc::from(array), set)])
    }

    #[test]
    fn nothing_is_held_back_before_every_callback_ran_once() {
        let mut builder = ContractBuilder::default();
        let first = builder.add(vec!["a".into()]);
        let second = builder.add(vec!["a".into(), "b".into()]);
        assert!(Contract::default().wants("anything", &[3]));
        let contract = builder.changed().unwrap();
        assert!(contract.wants("a", &[1, 1]) && contract.wants("b", &[0, 0]));
        assert!(!contract.wants("c", &[0, 0]), "no callback reads c");
        builder.ran(first, Some(reads("a", &[[0, 0]])));
        assert_eq!(
            builder.changed(),
            None,
            "the second may still read all of a"
        );
        builder.ran(second, Some(reads("b", &[[1, 0]])));
        let contract = builder.changed().unwrap();
        assert_eq!(contract.version, 2);
        assert!(contract.wants("a", &[0, 0]) && !contract.wants("a", &[0, 1]));
        assert!(contract.wants("b", &[1, 0]) && !contract.wants("b", &[0, 0]));
    }

    #[test]
    fn reads_that_change_or_fail_change_the_contract() {
        let mut builder = ContractBuilder::default();
        let only = builder.add(vec!["a".into(), "b".into()]);
        builder.ran(only, Some(reads("a", &[[0, 0]])));
        let narrow = builder.changed().unwrap();
        assert!(
            !narrow.wants("b", &[0, 0]),
            "b is in a window but never read"
        );
        builder.ran(only, Some(reads("a", &[[0, 0]])));
        assert_eq!(builder.changed(), None, "same reads, same contract");
        builder.ran(only, Some(reads("a", &[[0, 0], [1, 1]])));
        assert!(builder.changed().unwrap().wants("a", &[1, 1]));
        builder.ran(only, None);
        let failed = builder.changed().unwrap();
        assert!(failed.wants("a", &[0, 1]) && failed.wants("b", &[1, 1]));
    }
}
