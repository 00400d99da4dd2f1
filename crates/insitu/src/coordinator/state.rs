//! The coordinator's bookkeeping as plain state: which chunks each array has and who
//! publishes them, which timesteps are complete, the bridges and their ranks, steering
//! values, how far the analytics got. Handlers return the events for the analytics
//! and the notices for bridges; the actor around it only carries them out.
//!
//! `ranks.rs` keeps the bridges and ranks, `feedback.rs` the steering values and who
//! waits for them, `stall.rs` says what the analytics waits for in vain.

mod feedback;
mod ranks;
mod stall;

use crate::contract::Contract;
use crate::decl::{ArrayMeta, ChunkDecl};
use crate::error::InsituError;
use crate::notice::{Notice, Registration};
use doreisa_core::NodeId;
use feedback::Feedback;
use ranks::Ranks;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub use crate::notice::Progress;
pub use feedback::Pushes;

/// What the analytics learns from the coordinator, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A rank's chunk of `meta` sits at `position`, published on `node`.
    Declared {
        meta: ArrayMeta,
        position: Vec<u32>,
        node: NodeId,
    },
    /// Every chunk of `array` at `timestep` is published.
    Complete { array: Arc<str>, timestep: i64 },
    /// Something the simulation did is wrong; the analytics reports it.
    Error(InsituError),
    /// Every bridge closed; `timestep` is the last one (`None`: no rank published).
    Closed { timestep: Option<i64> },
}

/// Chunks of `array` at `timestep` published on one node, as a node's gate announces
/// them (several in one message: a node's iteration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announced {
    pub timestep: i64,
    pub array: String,
    pub positions: Vec<Vec<u32>>,
}

impl Announced {
    /// The chunks of one timestep, given one array at a time, as one entry per array
    /// (in the arrays' order).
    pub fn group<A, P>(timestep: i64, chunks: impl IntoIterator<Item = (A, P)>) -> Vec<Announced>
    where
        A: Ord + AsRef<str>,
        P: IntoIterator<Item = Vec<u32>>,
    {
        let mut by_array: BTreeMap<A, Vec<Vec<u32>>> = BTreeMap::new();
        for (array, positions) in chunks {
            by_array.entry(array).or_default().extend(positions);
        }
        by_array
            .into_iter()
            .map(|(array, positions)| Announced {
                timestep,
                array: array.as_ref().to_string(),
                positions,
            })
            .collect()
    }
}

/// Who publishes a chunk: rank `rank` of bridge `bridge`, on `node`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Publisher {
    node: NodeId,
    bridge: u64,
    rank: u64,
}

struct ArrayState {
    meta: ArrayMeta,
    chunks: usize,
    declared: BTreeMap<Vec<u32>, Publisher>,
    arrived: BTreeMap<i64, BTreeSet<Vec<u32>>>,
    last_complete: Option<i64>,
    /// A timestep of it was found never to complete (a rank left): said once.
    gone: bool,
}

/// The coordinator's state.
#[derive(Default)]
pub struct CoordinatorState {
    arrays: BTreeMap<Arc<str>, ArrayState>,
    ranks: Ranks,
    feedback: Feedback,
    progress: Progress,
    /// How many times the progress changed (the number of its notices).
    progress_seq: u64,
    contract: Contract,
    /// Announcement messages received (one per node and iteration, normally).
    messages: u64,
}

impl CoordinatorState {
    /// Keeps the last `feedback_keep` values of each steering key.
    pub fn new(feedback_keep: usize) -> Self {
        CoordinatorState {
            feedback: Feedback::new(feedback_keep),
            ..Default::default()
        }
    }

    /// A bridge (the publishing side of one node in one process) for `ranks` ranks
    /// starts, publishing on `node`. With `notices` it takes notices (its inbox), and
    /// with `contract` it sends chunks by the analytics' contract.
    pub fn register_bridge(
        &mut self,
        node: NodeId,
        ranks: u64,
        notices: bool,
        contract: bool,
    ) -> Registration {
        let id = self.ranks.register(node, ranks, notices, contract);
        Registration {
            id,
            progress: self.progress(),
            seq: self.progress_seq,
            contract: contract.then(|| self.contract.clone()),
        }
    }

    /// Rank `rank` of bridge `bridge` declares its chunk of an array, published on
    /// `node`.
    pub fn declare(&mut self, bridge: u64, rank: u64, decl: ChunkDecl, node: NodeId) -> Vec<Event> {
        self.ranks.attach(bridge, rank, node);
        let name = decl.meta.name.clone();
        let fail = |message: String| {
            vec![Event::Error(InsituError::BadDeclaration {
                array: name.to_string(),
                message,
            })]
        };
        let chunks = match decl.meta.grid() {
            Ok(grid) => grid.num_chunks(),
            Err(e) => return vec![Event::Error(e)],
        };
        let state = self
            .arrays
            .entry(name.clone())
            .or_insert_with(|| ArrayState {
                meta: decl.meta.clone(),
                chunks,
                declared: BTreeMap::new(),
                arrived: BTreeMap::new(),
                last_complete: None,
                gone: false,
            });
        if state.meta != decl.meta {
            return fail(format!(
                "declared as {:?}, earlier as {:?}",
                decl.meta, state.meta
            ));
        }
        if let Some(other) = state.declared.get(&decl.position)
            && other.node != node
        {
            return fail(format!(
                "chunk {:?} declared on {node:?} and on {:?}",
                decl.position, other.node
            ));
        }
        let publisher = Publisher { node, bridge, rank };
        state.declared.insert(decl.position.clone(), publisher);
        vec![Event::Declared {
            meta: decl.meta,
            position: decl.position,
            node,
        }]
    }

    /// Rank `rank` of bridge `bridge` is rank `label` of its communicator.
    pub fn label(&mut self, bridge: u64, rank: u64, label: u64) {
        self.ranks.label(bridge, rank, label);
    }

    /// Rank `rank` of bridge `bridge` closed, after publishing up to `last`: a
    /// timestep of its arrays after that, some chunks of which arrived, can never
    /// complete.
    pub fn rank_closed(&mut self, bridge: u64, rank: u64, last: Option<i64>) -> Vec<Event> {
        self.ranks.rank_closed(bridge, rank, last);
        let arrays: Vec<Arc<str>> = self.arrays.keys().cloned().collect();
        arrays
            .iter()
            .filter_map(|array| {
                let timesteps: Vec<i64> = self.arrays[array].arrived.keys().copied().collect();
                timesteps.into_iter().find_map(|t| self.gone(array, t))
            })
            .collect()
    }

    /// One message of a node's announcements, in the order given.
    pub fn announce_all(&mut self, announced: Vec<Announced>) -> Vec<Event> {
        self.messages += 1;
        announced
            .into_iter()
            .flat_map(|a| self.announce(&a.array, a.timestep, a.positions))
            .collect()
    }

    /// How many announcement messages came so far.
    pub fn announce_messages(&self) -> u64 {
        self.messages
    }

    /// Chunks of `array` at `timestep` are published.
    pub fn announce(&mut self, array: &str, timestep: i64, positions: Vec<Vec<u32>>) -> Vec<Event> {
        let Some(state) = self.arrays.get_mut(array) else {
            return vec![Event::Error(InsituError::Undeclared(array.to_string()))];
        };
        if let Some(last) = state.last_complete
            && timestep <= last
        {
            return vec![Event::Error(InsituError::OutOfOrder {
                array: array.to_string(),
                timestep,
                last,
            })];
        }
        let mut events = Vec::new();
        for position in positions {
            if !state.declared.contains_key(&position) {
                events.push(Event::Error(InsituError::BadDeclaration {
                    array: array.to_string(),
                    message: format!("chunk {position:?} published but never declared"),
                }));
                continue;
            }
            let arrived = state.arrived.entry(timestep).or_default();
            if !arrived.insert(position.clone()) {
                events.push(Event::Error(InsituError::Duplicate {
                    array: array.to_string(),
                    chunk: position,
                    timestep,
                    rank: None,
                }));
            }
        }
        if state.arrived.get(&timestep).map(BTreeSet::len) == Some(state.chunks) {
            state.arrived.remove(&timestep);
            // Earlier timesteps still incomplete can never complete in order now.
            let stale: Vec<i64> = state.arrived.range(..timestep).map(|(&t, _)| t).collect();
            for t in stale {
                state.arrived.remove(&t);
                events.push(Event::Error(InsituError::OutOfOrder {
                    array: array.to_string(),
                    timestep: t,
                    last: timestep,
                }));
            }
            state.last_complete = Some(timestep);
            events.push(Event::Complete {
                array: state.meta.name.clone(),
                timestep,
            });
        } else if let Some(gone) = self.gone(array, timestep) {
            events.push(gone);
        }
        events
    }

    /// The error for `timestep` of `array` if a chunk of it has not arrived and its
    /// rank closed before publishing it (said once per array).
    fn gone(&mut self, array: &str, timestep: i64) -> Option<Event> {
        let state = self.arrays.get_mut(array)?;
        if state.gone {
            return None;
        }
        let arrived = state.arrived.get(&timestep);
        let (position, publisher) = state.declared.iter().find(|(position, p)| {
            arrived.is_none_or(|a| !a.contains(*position))
                && self.ranks.closed_before(p.bridge, p.rank, timestep)
        })?;
        state.gone = true;
        Some(Event::Error(InsituError::RankGone {
            array: array.to_string(),
            timestep,
            chunk: position.clone(),
            rank: Box::new(self.ranks.name(publisher.bridge, publisher.rank)),
        }))
    }

    /// Bridge `bridge` published its last timestep, `timestep` (`None`: it had no
    /// rank, or they published nothing). The session closes when every bridge did,
    /// some array was declared, and every chunk of every array has its publisher: a
    /// rank that has not started yet keeps it open, whichever side started first.
    pub fn close(&mut self, bridge: u64, timestep: Option<i64>) -> Vec<Event> {
        if !self.ranks.close(bridge, timestep) {
            return Vec::new();
        }
        let all_declared = self.arrays.values().all(|a| a.declared.len() == a.chunks);
        if self.ranks.all_closed() && all_declared && !self.arrays.is_empty() {
            vec![Event::Closed {
                timestep: self.ranks.last_closed(),
            }]
        } else {
            Vec::new()
        }
    }

    /// The analytics sets steering value `value` of `key` for `timestep`; returns the
    /// answers for the bridges waiting for it.
    pub fn set_feedback(
        &mut self,
        key: &str,
        timestep: i64,
        value: Vec<u8>,
    ) -> Result<Pushes, InsituError> {
        self.feedback.set(key, timestep, value)
    }

    /// The value of `key` set for `timestep` (the latest one with `None`), if kept.
    pub fn feedback(&self, key: &str, timestep: Option<i64>) -> Option<(i64, Vec<u8>)> {
        self.feedback.get(key, timestep)
    }

    /// Bridge `bridge` waits for the value of `key` at `timestep`: the answer, now or
    /// once it is known.
    pub fn watch_feedback(&mut self, bridge: u64, key: &str, timestep: i64) -> Pushes {
        self.feedback
            .watch(bridge, key, timestep, self.progress.stopped)
    }

    /// The analytics' progress; returns the notices for the bridges if it changed (and,
    /// once it stopped, the answers to every steering question pending).
    pub fn set_progress(&mut self, progress: Progress) -> Pushes {
        let progress = Progress {
            contract: self.contract.version,
            ..progress
        };
        if progress == self.progress {
            return Vec::new();
        }
        self.progress = progress;
        self.progress_seq += 1;
        let seq = self.progress_seq;
        let mut pushes: Pushes = self
            .ranks
            .subscribers(false)
            .into_iter()
            .map(|bridge| (bridge, Notice::Progress { seq, progress }))
            .collect();
        if progress.stopped {
            pushes.extend(self.feedback.stopped());
        }
        pushes
    }

    /// The analytics' progress, with the version of the contract held here.
    pub fn progress(&self) -> Progress {
        Progress {
            contract: self.contract.version,
            ..self.progress
        }
    }

    /// The analytics' new contract (an older version than the one held is ignored);
    /// returns the notices for the bridges that send chunks by it.
    pub fn set_contract(&mut self, contract: Contract) -> Pushes {
        if contract.version <= self.contract.version {
            return Vec::new();
        }
        self.contract = contract;
        self.ranks
            .subscribers(true)
            .into_iter()
            .map(|bridge| (bridge, Notice::Contract(self.contract.clone())))
            .collect()
    }

    pub fn contract(&self) -> Contract {
        self.contract.clone()
    }
}

#[cfg(test)]
mod tests;
