//! The steering answers a bridge received, shared by its ranks: a value set for a
//! timestep never changes, so the first rank to ask for it asks the coordinator and
//! the others read the answer here.

use std::collections::{BTreeMap, BTreeSet};

/// The most answers (and questions pending) kept; the oldest timesteps go first.
const KEPT: usize = 256;

/// A steering value as a rank asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The value (`None`: the analytics set none for that timestep, and never will).
    Known(Option<Vec<u8>>),
    /// Asked for; the answer comes later.
    Pending,
}

/// Answers by key and timestep, and the questions pending. Only the coordinator
/// answers: it knows which values were set before the analytics stopped.
#[derive(Debug, Default)]
pub(super) struct Answers {
    known: BTreeMap<(i64, String), Option<Vec<u8>>>,
    asked: BTreeSet<(i64, String)>,
}

impl Answers {
    pub fn get(&self, key: &str, timestep: i64) -> Option<Option<Vec<u8>>> {
        self.known.get(&(timestep, key.to_string())).cloned()
    }

    /// Records a question; `false` if it was asked already.
    pub fn ask(&mut self, key: &str, timestep: i64) -> bool {
        let inserted = self.asked.insert((timestep, key.to_string()));
        while self.asked.len() > KEPT {
            self.asked.pop_first();
        }
        inserted
    }

    pub fn known(&mut self, key: String, timestep: i64, value: Option<Vec<u8>>) {
        let entry = (timestep, key);
        self.asked.remove(&entry);
        self.known.insert(entry, value);
        while self.known.len() > KEPT {
            self.known.pop_first();
        }
    }
}
