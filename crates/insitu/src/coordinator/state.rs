//! The coordinator's bookkeeping as plain state: which chunks each array has, which
//! timesteps are complete, steering values, how far the analytics got. The actor
//! around it only forwards calls and hands events to the analytics.

use crate::contract::Contract;
use crate::decl::{ArrayMeta, ChunkDecl};
use crate::error::InsituError;
use doreisa_core::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

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
    /// Every bridge closed; `timestep` is the last one.
    Closed { timestep: i64 },
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

/// How far the analytics got, as the simulation's back-pressure sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The last timestep the analytics finished.
    pub done: Option<i64>,
    /// The analytics is not running (not yet, or not any more): nobody to wait for.
    pub running: bool,
    /// The version of the analytics' current contract (0: none yet).
    pub contract: u64,
}

impl Progress {
    /// Whether the analytics will read nothing of `timestep` or before any more: it
    /// finished it, or it ran and stopped.
    pub fn past(&self, timestep: i64) -> bool {
        let finished = self.done.is_some_and(|done| done >= timestep);
        let stopped = !self.running && self.done.is_some();
        finished || stopped
    }
}

struct ArrayState {
    meta: ArrayMeta,
    chunks: usize,
    declared: BTreeMap<Vec<u32>, NodeId>,
    arrived: BTreeMap<i64, BTreeSet<Vec<u32>>>,
    last_complete: Option<i64>,
}

/// The coordinator's state.
#[derive(Default)]
pub struct CoordinatorState {
    arrays: BTreeMap<Arc<str>, ArrayState>,
    bridges: BTreeSet<u64>,
    closed: BTreeMap<u64, i64>,
    next_bridge: u64,
    feedback: BTreeMap<String, VecDeque<(i64, Vec<u8>)>>,
    feedback_keep: usize,
    progress: Progress,
    contract: Contract,
    /// Announcement messages received (one per node and iteration, normally).
    messages: u64,
}

impl CoordinatorState {
    /// Keeps the last `feedback_keep` values of each steering key.
    pub fn new(feedback_keep: usize) -> Self {
        CoordinatorState {
            feedback_keep: feedback_keep.max(1),
            ..Default::default()
        }
    }

    /// A bridge (the publishing side of one node in one process) starts.
    pub fn register_bridge(&mut self) -> u64 {
        self.next_bridge += 1;
        self.bridges.insert(self.next_bridge);
        self.next_bridge
    }

    /// A rank declares its chunk of an array, published on `node`.
    pub fn declare(&mut self, decl: ChunkDecl, node: NodeId) -> Vec<Event> {
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
            });
        if state.meta != decl.meta {
            return fail(format!(
                "declared as {:?}, earlier as {:?}",
                decl.meta, state.meta
            ));
        }
        if let Some(&other) = state.declared.get(&decl.position)
            && other != node
        {
            return fail(format!(
                "chunk {:?} declared on {node:?} and on {other:?}",
                decl.position
            ));
        }
        state.declared.insert(decl.position.clone(), node);
        vec![Event::Declared {
            meta: decl.meta,
            position: decl.position,
            node,
        }]
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
        }
        events
    }

    /// Bridge `bridge` published its last timestep, `timestep`. The session closes
    /// when every bridge did and every chunk of every array has its publisher: a rank
    /// that has not started yet keeps it open, whichever side started first.
    pub fn close(&mut self, bridge: u64, timestep: i64) -> Vec<Event> {
        if !self.bridges.contains(&bridge) {
            return Vec::new();
        }
        self.closed.insert(bridge, timestep);
        let all_declared = self.arrays.values().all(|a| a.declared.len() == a.chunks);
        if self.closed.len() == self.bridges.len() && all_declared {
            let last = self.closed.values().copied().max().unwrap_or(timestep);
            vec![Event::Closed { timestep: last }]
        } else {
            Vec::new()
        }
    }

    /// The analytics sets steering value `value` of `key` for `timestep`.
    pub fn set_feedback(
        &mut self,
        key: &str,
        timestep: i64,
        value: Vec<u8>,
    ) -> Result<(), InsituError> {
        let values = self.feedback.entry(key.to_string()).or_default();
        if let Some(&(last, _)) = values.back()
            && timestep <= last
        {
            return Err(InsituError::SteeringOrder {
                key: key.to_string(),
                timestep,
                last,
            });
        }
        values.push_back((timestep, value));
        while values.len() > self.feedback_keep {
            values.pop_front();
        }
        Ok(())
    }

    /// The value of `key` set for `timestep` (the latest one with `None`), if kept.
    pub fn feedback(&self, key: &str, timestep: Option<i64>) -> Option<(i64, Vec<u8>)> {
        let values = self.feedback.get(key)?;
        match timestep {
            None => values.back().cloned(),
            Some(t) => values.iter().find(|(at, _)| *at == t).cloned(),
        }
    }

    /// The newest timestep `key` has a value for.
    pub fn feedback_latest(&self, key: &str) -> Option<i64> {
        self.feedback.get(key)?.back().map(|(t, _)| *t)
    }

    pub fn set_progress(&mut self, progress: Progress) {
        self.progress = progress;
    }

    /// The analytics' progress, with the version of the contract held here.
    pub fn progress(&self) -> Progress {
        Progress {
            contract: self.contract.version,
            ..self.progress
        }
    }

    /// The analytics' new contract (an older version than the one held is ignored).
    pub fn set_contract(&mut self, contract: Contract) {
        if contract.version > self.contract.version {
            self.contract = contract;
        }
    }

    pub fn contract(&self) -> Contract {
        self.contract.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doreisa_array::DType;

    fn meta() -> ArrayMeta {
        ArrayMeta::new("t", &[4, 4], &[2, 2], DType::I32)
    }

    #[test]
    fn progress_is_past_a_timestep_once_finished_or_stopped() {
        let at = |done, running| Progress {
            done,
            running,
            contract: 0,
        };
        assert!(!at(None, false).past(0), "not started yet: it will read it");
        assert!(!at(Some(4), true).past(5));
        assert!(at(Some(5), true).past(5));
        assert!(at(Some(2), false).past(5), "ran and stopped");
    }

    fn declare_all(state: &mut CoordinatorState) {
        for (i, position) in [[0, 0], [0, 1], [1, 0], [1, 1]].iter().enumerate() {
            let decl = ChunkDecl::new(meta(), position).unwrap();
            let events = state.declare(decl, NodeId(i as u64 % 2));
            assert!(matches!(events[..], [Event::Declared { .. }]));
        }
    }

    fn all() -> Vec<Vec<u32>> {
        vec![vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1]]
    }

    #[test]
    fn a_timestep_completes_when_every_chunk_arrived() {
        let mut state = CoordinatorState::new(8);
        declare_all(&mut state);
        assert!(state.announce("t", 3, all()[..2].to_vec()).is_empty());
        let events = state.announce("t", 3, all()[2..].to_vec());
        assert_eq!(
            events,
            vec![Event::Complete {
                array: "t".into(),
                timestep: 3
            }]
        );
    }

    #[test]
    fn going_back_duplicates_and_undeclared_arrays_are_errors() {
        let mut state = CoordinatorState::new(8);
        declare_all(&mut state);
        state.announce("t", 2, all());
        assert!(matches!(
            state.announce("t", 1, all())[..],
            [Event::Error(InsituError::OutOfOrder {
                timestep: 1,
                last: 2,
                ..
            })]
        ));
        assert!(matches!(
            state.announce("t", 5, vec![vec![0, 0], vec![0, 0]])[..],
            [Event::Error(InsituError::Duplicate { .. })]
        ));
        assert!(matches!(
            state.announce("u", 5, all())[..],
            [Event::Error(InsituError::Undeclared(_))]
        ));
        // Timestep 5 is left incomplete when 6 completes: reported, not kept forever.
        let events = state.announce("t", 6, all());
        assert!(events.iter().any(|e| matches!(
            e,
            Event::Error(InsituError::OutOfOrder {
                timestep: 5,
                last: 6,
                ..
            })
        )));
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Complete { timestep: 6, .. }))
        );
    }

    #[test]
    fn conflicting_declarations_are_refused() {
        let mut state = CoordinatorState::new(8);
        declare_all(&mut state);
        let other = ArrayMeta::new("t", &[4, 8], &[2, 2], DType::I32);
        let events = state.declare(ChunkDecl::new(other, &[0, 0]).unwrap(), NodeId(0));
        assert!(matches!(
            events[..],
            [Event::Error(InsituError::BadDeclaration { .. })]
        ));
        let events = state.declare(ChunkDecl::new(meta(), &[0, 0]).unwrap(), NodeId(1));
        assert!(matches!(
            events[..],
            [Event::Error(InsituError::BadDeclaration { .. })]
        ));
    }

    #[test]
    fn the_session_closes_when_every_bridge_did() {
        let mut state = CoordinatorState::new(8);
        let (a, b) = (state.register_bridge(), state.register_bridge());
        assert!(state.close(a, 9).is_empty());
        assert_eq!(state.close(b, 10), vec![Event::Closed { timestep: 10 }]);
    }

    #[test]
    fn the_session_stays_open_while_a_chunk_has_no_publisher_yet() {
        let mut state = CoordinatorState::new(8);
        let early = state.register_bridge();
        state.declare(ChunkDecl::new(meta(), &[0, 0]).unwrap(), NodeId(0));
        // The only bridge so far closes, but three chunks have no publisher yet.
        assert!(state.close(early, 3).is_empty());
        let late = state.register_bridge();
        for position in [[0, 1], [1, 0], [1, 1]] {
            state.declare(ChunkDecl::new(meta(), &position).unwrap(), NodeId(1));
        }
        assert_eq!(state.close(late, 3), vec![Event::Closed { timestep: 3 }]);
    }

    #[test]
    fn steering_values_go_forward_and_old_ones_are_evicted() {
        let mut state = CoordinatorState::new(2);
        state.set_feedback("heat", 1, vec![1]).unwrap();
        assert!(state.set_feedback("heat", 1, vec![9]).is_err());
        state.set_feedback("heat", 2, vec![2]).unwrap();
        state.set_feedback("heat", 3, vec![3]).unwrap();
        assert_eq!(state.feedback("heat", Some(1)), None, "evicted");
        assert_eq!(state.feedback("heat", Some(2)), Some((2, vec![2])));
        assert_eq!(state.feedback("heat", None), Some((3, vec![3])));
        assert_eq!(state.feedback("other", None), None);
    }
}
