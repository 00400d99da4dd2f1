//! Gathering what several publishers contribute to an iteration, so that it leaves in
//! one message once every publisher is done with it: the ranks of a bridge (their
//! chunks go to the node together) and the bridges of a node (their announcements go
//! to the coordinator together). Plain state, no clocks: a publisher is done with
//! timestep `t` when it says so ([`Gather::done_through`]) or closes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Items of several publishers, held by timestep until every publisher is done with it.
#[derive(Debug)]
pub(crate) struct Gather<T> {
    /// How many publishers must have joined before anything leaves (0: those joined
    /// so far; one that joins later may then add to a timestep that already left).
    expected: usize,
    publishers: BTreeMap<u64, Publisher>,
    pending: BTreeMap<i64, Vec<T>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Publisher {
    through: Option<i64>,
    closed: bool,
}

/// What may leave at once: the items of each timestep now complete, oldest first, and
/// the timestep every publisher is done through (`i64::MAX` once all closed; `None`
/// while one has not joined or said anything).
#[derive(Debug, PartialEq)]
pub(crate) struct Ready<T> {
    pub timesteps: Vec<(i64, Vec<T>)>,
    pub through: Option<i64>,
}

impl<T> Gather<T> {
    pub fn new(expected: usize) -> Self {
        Gather {
            expected,
            publishers: BTreeMap::new(),
            pending: BTreeMap::new(),
        }
    }

    pub fn join(&mut self, publisher: u64) {
        self.publishers.entry(publisher).or_default();
    }

    pub fn add(&mut self, timestep: i64, item: T) {
        self.pending.entry(timestep).or_default().push(item);
    }

    /// `publisher` will add nothing more at or before `timestep`.
    pub fn done_through(&mut self, publisher: u64, timestep: i64) {
        let state = self.publishers.entry(publisher).or_default();
        state.through = state.through.max(Some(timestep));
    }

    /// `publisher` will add nothing more.
    pub fn close(&mut self, publisher: u64) {
        self.publishers.entry(publisher).or_default().closed = true;
    }

    /// Whether every expected publisher joined and closed.
    pub fn all_closed(&self) -> bool {
        self.publishers.len() >= self.expected && self.publishers.values().all(|p| p.closed)
    }

    /// The timestep every publisher is done through, if any.
    fn frontier(&self) -> Option<i64> {
        if self.publishers.len() < self.expected {
            return None;
        }
        let mut frontier = i64::MAX;
        for publisher in self.publishers.values().filter(|p| !p.closed) {
            frontier = frontier.min(publisher.through?);
        }
        Some(frontier)
    }

    /// The oldest timestep with items held, if any.
    pub fn oldest_pending(&self) -> Option<i64> {
        self.pending.keys().next().copied()
    }

    /// Drops every item held (nobody will take them).
    pub fn clear_pending(&mut self) {
        self.pending.clear();
    }

    /// Takes what may leave now: the items of the timesteps every publisher is done
    /// with, and how far that is.
    pub fn take_ready(&mut self) -> Ready<T> {
        let Some(frontier) = self.frontier() else {
            return Ready {
                timesteps: Vec::new(),
                through: None,
            };
        };
        let later = match frontier.checked_add(1) {
            Some(next) => self.pending.split_off(&next),
            None => BTreeMap::new(),
        };
        let timesteps = std::mem::replace(&mut self.pending, later)
            .into_iter()
            .collect();
        Ready {
            timesteps,
            through: Some(frontier),
        }
    }
}

impl<T> Ready<T> {
    /// Whether this is worth a message to one told `told` before: items, or a frontier
    /// further on.
    pub fn worth_telling(&self, told: Option<i64>) -> bool {
        !self.timesteps.is_empty() || self.through > told
    }
}

/// Where a rank of a bridge is in its iteration: it is done with a timestep once it
/// published every array it declared there, or moved on to a later one.
#[derive(Debug, Default)]
pub(crate) struct RankIteration {
    arrays: BTreeSet<Arc<str>>,
    at: Option<i64>,
    published_at: BTreeSet<Arc<str>>,
}

impl RankIteration {
    pub fn new(arrays: impl IntoIterator<Item = Arc<str>>) -> Self {
        RankIteration {
            arrays: arrays.into_iter().collect(),
            ..Default::default()
        }
    }

    /// The rank starts on `timestep` (before it may wait for the analytics).
    pub fn begin(&mut self, timestep: i64) {
        if self.at < Some(timestep) {
            self.at = Some(timestep);
            self.published_at.clear();
        }
    }

    /// The rank published (or dropped) its chunk of `array` at `timestep`.
    pub fn published(&mut self, array: &Arc<str>, timestep: i64) {
        self.begin(timestep);
        if self.at == Some(timestep) {
            self.published_at.insert(array.clone());
        }
    }

    /// The last timestep this rank is done with (all of them for a rank that declared
    /// no array: it holds nothing back).
    pub fn done_through(&self) -> Option<i64> {
        if self.arrays.is_empty() {
            return Some(i64::MAX);
        }
        let at = self.at?;
        if self.published_at.is_superset(&self.arrays) {
            Some(at)
        } else {
            at.checked_sub(1)
        }
    }
}

#[cfg(test)]
mod tests;
