//! The bridge's state: where each of its ranks is, the chunks it holds until every rank
//! is done with their iteration, how far the analytics got (as the coordinator last
//! told it) and the steering answers it received. Plain data and event handlers, no
//! runtime, no thread and no clock: a handler may queue [`Action`]s in `out` (messages
//! for the node's gate, its scheduling actor or the coordinator), which the bridge
//! carries out in order through its link, and back-pressure answers with a [`Room`]
//! that says whether the rank goes on, drops its chunk or waits for news.

use super::BridgeStats;
use crate::contract::Contract;
use crate::coordinator::state::{Announced, Progress};
use crate::decl::{AheadPolicy, ChunkDecl};
use crate::error::{InsituError, Result};
use crate::gather::{Gather, RankIteration};
use doreisa_core::NodeId;
use doreisa_sched::SourceKey;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

mod steering;

pub(crate) use steering::Answer;
use steering::Answers;

/// What the bridge sends, in the order its handlers queued it.
#[derive(Debug, PartialEq)]
pub(crate) enum Action<H> {
    /// Rank `rank` declares the chunks it publishes (to the gate, for the coordinator).
    Declare { rank: u64, decls: Vec<ChunkDecl> },
    /// Rank `rank` of this bridge is rank `label` of its communicator.
    Label { rank: u64, label: u64 },
    /// Chunks of iterations every rank is done with, to the node.
    HandOver(Vec<(SourceKey, H)>),
    /// The bridge is done through `through`, having published `announced` (to the gate).
    Report {
        through: i64,
        announced: Vec<Announced>,
    },
    /// Rank `rank` closed; `last` is the last timestep it published.
    RankClosed { rank: u64, last: Option<i64> },
    /// Every rank closed, or the bridge has none: `last` is their last timestep.
    Leave { last: Option<i64> },
    /// The analytics skips the timesteps below this one (drop-oldest back-pressure).
    SkipBelow(i64),
    /// Asks the coordinator for the value of `key` at `timestep`, once it is known.
    WatchFeedback { key: String, timestep: i64 },
}

/// What back-pressure says to a rank about to publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Room {
    /// Publish.
    Go,
    /// Do not publish this chunk (the policy drops it, or nobody will read it).
    Drop,
    /// Wait for news of the analytics' progress.
    Wait,
}

/// How the state paces its ranks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pacing {
    pub max_ahead: i64,
    pub policy: AheadPolicy,
}

/// One rank of the bridge.
#[derive(Debug)]
struct Rank {
    iteration: RankIteration,
    /// Its number in its communicator, when it said.
    label: Option<u64>,
    closed: bool,
}

/// The state of a bridge holding chunks of type `H` (see the module).
pub(crate) struct BridgeState<H> {
    pacing: Pacing,
    /// How many ranks the bridge was started for.
    expected: usize,
    ranks: BTreeMap<u64, Rank>,
    /// The ranks' chunks, by timestep, until all ranks are done with it (nothing
    /// leaves before every expected rank attached: one attaching later may publish it).
    gather: Gather<(SourceKey, H)>,
    /// How far the gate was told this bridge is done.
    told: Option<i64>,
    /// The last timestep of the ranks that closed.
    closed_at: Option<i64>,
    left: bool,
    /// The analytics' progress, and the number of the coordinator's message that said it.
    progress: Progress,
    /// The analytics is gone: its coordinator was lost with this node (it left the
    /// cluster). No notice will come any more.
    lost: Option<NodeId>,
    progress_seq: u64,
    /// What the analytics' graphs read (version 0: everything).
    contract: Contract,
    /// The timesteps given room to publish that the analytics has not done.
    paced: BTreeSet<i64>,
    /// The last drop-oldest request sent.
    skipped_below: Option<i64>,
    /// A rank waited for the analytics until its timeout, and the analytics has not
    /// moved since: the others do not wait again.
    stalled: bool,
    answers: Answers,
    stats: BridgeStats,
    /// What to send, in order.
    pub out: Vec<Action<H>>,
}

impl<H> BridgeState<H> {
    /// A bridge for `expected` ranks. One for no rank leaves at once: it holds nothing
    /// back.
    pub fn new(expected: usize, pacing: Pacing) -> Self {
        let mut state = BridgeState {
            pacing,
            expected,
            ranks: BTreeMap::new(),
            gather: Gather::new(expected),
            told: None,
            closed_at: None,
            left: false,
            progress: Progress::default(),
            lost: None,
            progress_seq: 0,
            contract: Contract::default(),
            paced: BTreeSet::new(),
            skipped_below: None,
            stalled: false,
            answers: Answers::default(),
            stats: BridgeStats::default(),
            out: Vec::new(),
        };
        if expected == 0 {
            state.left = true;
            state.out.push(Action::Leave { last: None });
        }
        state
    }

    pub fn stats(&self) -> BridgeStats {
        self.stats
    }

    pub fn stats_mut(&mut self) -> &mut BridgeStats {
        &mut self.stats
    }

    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// A rank declares the chunks it will publish; returns its number in this bridge.
    pub fn attach(&mut self, decls: Vec<ChunkDecl>) -> Result<u64> {
        if self.left {
            return Err(InsituError::BridgeLeft {
                ranks: self.expected,
            });
        }
        let rank = self.ranks.len() as u64;
        let arrays = decls.iter().map(|d| d.meta.name.clone());
        let iteration = RankIteration::new(arrays);
        let through = iteration.done_through();
        self.ranks.insert(
            rank,
            Rank {
                iteration,
                label: None,
                closed: false,
            },
        );
        self.out.push(Action::Declare { rank, decls });
        self.gather.join(rank);
        if let Some(through) = through {
            self.gather.done_through(rank, through);
        }
        self.send_ready();
        Ok(rank)
    }

    /// Rank `rank` is rank `label` of its communicator.
    pub fn label(&mut self, rank: u64, label: u64) {
        if let Some(r) = self.ranks.get_mut(&rank) {
            r.label = Some(label);
            self.out.push(Action::Label { rank, label });
        }
    }

    /// Rank `rank` starts on `timestep`: it is done with the earlier ones.
    pub fn begin(&mut self, rank: u64, timestep: i64) {
        self.progressed(rank, |r| r.begin(timestep), None);
    }

    /// Rank `rank` published its chunk `key`, held as `chunk` (`None`: dropped).
    pub fn published(&mut self, rank: u64, key: SourceKey, chunk: Option<H>) {
        let (array, timestep) = (key.array.clone(), key.timestep);
        let chunk = chunk.map(|chunk| (key, chunk));
        self.progressed(rank, |r| r.published(&array, timestep), chunk);
    }

    /// Rank `rank` moved on (`step`), holding `chunk` if any; sends what is ready when
    /// that can change anything: the rank is done with more, or the chunk is of a
    /// timestep already sent.
    fn progressed(
        &mut self,
        rank: u64,
        step: impl FnOnce(&mut RankIteration),
        chunk: Option<(SourceKey, H)>,
    ) {
        let Some(r) = self.ranks.get_mut(&rank) else {
            return;
        };
        let before = r.iteration.done_through();
        step(&mut r.iteration);
        let after = r.iteration.done_through();
        if let Some(through) = after {
            self.gather.done_through(rank, through);
        }
        let late = chunk
            .as_ref()
            .is_some_and(|(key, _)| Some(key.timestep) <= self.told);
        if let Some((key, chunk)) = chunk {
            self.gather.add(key.timestep, (key, chunk));
        }
        if after > before || late {
            self.send_ready();
        }
    }

    /// Queues what the ranks are done with: the chunks for the node's scheduling actor,
    /// then one report for its gate. Once the analytics stopped, nothing is handed
    /// over (nobody will read it): the chunks are dropped.
    fn send_ready(&mut self) {
        let ready = self.gather.take_ready();
        let Some(through) = ready.through.filter(|_| ready.worth_telling(self.told)) else {
            return;
        };
        self.told = self.told.max(Some(through));
        if self.progress.stopped {
            return;
        }
        let mut announced = Vec::new();
        let mut chunks = Vec::new();
        for (timestep, held) in ready.timesteps {
            let positions = held
                .iter()
                .map(|(key, _)| (key.array.clone(), std::iter::once(key.chunk.clone())));
            announced.extend(Announced::group(timestep, positions));
            chunks.extend(held);
        }
        if !chunks.is_empty() {
            self.out.push(Action::HandOver(chunks));
        }
        self.out.push(Action::Report { through, announced });
    }

    /// Rank `rank` is done: `timestep` is its last, `last` the last it published. Once
    /// every rank is, the bridge leaves.
    pub fn rank_closed(&mut self, rank: u64, timestep: i64, last: Option<i64>) {
        let Some(r) = self.ranks.get_mut(&rank) else {
            return;
        };
        if r.closed {
            return;
        }
        r.closed = true;
        self.out.push(Action::RankClosed { rank, last });
        self.gather.close(rank);
        self.closed_at = self.closed_at.max(Some(timestep));
        self.send_ready();
        if self.gather.all_closed() && !self.left {
            self.left = true;
            self.out.push(Action::Leave {
                last: self.closed_at,
            });
        }
    }

    /// Whether a rank may publish `timestep` now. Not when the analytics stopped
    /// (nobody would read it). Otherwise yes while the analytics is not running, or
    /// is at most `max_ahead` timesteps behind: "ahead" counts the timesteps up to
    /// `timestep` given room and not done, not the difference of their numbers (a
    /// simulation may publish every 10th iteration; timesteps may be any `i64`).
    /// Further ahead, the policy decides: drop the chunk, have the analytics skip its
    /// oldest timesteps, or wait (drop once a wait timed out, until the analytics
    /// moves again).
    pub fn room(&mut self, timestep: i64) -> Room {
        if self.progress.stopped {
            return Room::Drop;
        }
        let max_ahead = usize::try_from(self.pacing.max_ahead).unwrap_or(0);
        self.paced.insert(timestep);
        if let Some(done) = self.progress.done {
            self.paced.retain(|&t| t > done);
        }
        if !self.progress.running {
            // Once the analytics runs, only the newest of these can hold us back.
            while self.paced.len() > max_ahead + 1 {
                self.paced.pop_first();
            }
            return Room::Go;
        }
        if self.paced.range(..=timestep).count() <= max_ahead {
            return Room::Go;
        }
        match self.pacing.policy {
            AheadPolicy::DropNewest => Room::Drop,
            AheadPolicy::DropOldest => {
                // The analytics keeps the newest max_ahead + 1 up to this one.
                let keep_from = self
                    .paced
                    .range(..=timestep)
                    .rev()
                    .nth(max_ahead)
                    .copied()
                    .unwrap_or(timestep);
                if self.skipped_below < Some(keep_from) {
                    self.skipped_below = Some(keep_from);
                    self.out.push(Action::SkipBelow(keep_from));
                }
                Room::Go
            }
            AheadPolicy::Block if self.stalled => Room::Drop,
            AheadPolicy::Block => Room::Wait,
        }
    }

    /// A rank waited `waited` for room to publish `timestep`, in vain: the error it
    /// gets, naming what this bridge waits for. Until the analytics moves, the other
    /// ranks do not wait again (their chunks are dropped).
    pub fn waited_in_vain(&mut self, timestep: i64, waited: Duration) -> InsituError {
        self.stalled = true;
        InsituError::AnalyticsBehind {
            timestep,
            waited,
            done: self.progress.done,
            holding: self.holding(),
        }
    }

    /// What keeps this bridge's iterations from leaving, if anything: ranks that never
    /// attached, and those not done with the oldest timestep it holds.
    fn holding(&self) -> Vec<String> {
        let mut holding = Vec::new();
        let missing = self.expected.saturating_sub(self.ranks.len());
        if missing > 0 {
            holding.push(format!(
                "{missing} of the bridge's {} ranks never created its client",
                self.expected
            ));
        }
        if let Some(oldest) = self.gather.oldest_pending() {
            for (index, rank) in &self.ranks {
                let done = rank.iteration.done_through();
                if !rank.closed && done < Some(oldest) {
                    let name = match rank.label {
                        Some(label) => format!("rank {label}"),
                        None => format!("rank #{index} of the bridge"),
                    };
                    holding.push(format!("{name} has not published timestep {oldest}"));
                }
            }
        }
        holding
    }

    /// The coordinator's `seq`th message says the analytics is at `progress`. Older
    /// news than what the state has is ignored.
    pub fn on_progress(&mut self, seq: u64, progress: Progress) {
        if seq < self.progress_seq || self.lost.is_some() {
            return;
        }
        self.progress_seq = seq;
        if progress.done > self.progress.done || progress.stopped {
            self.stalled = false;
        }
        self.progress = progress;
        if progress.stopped {
            // Nobody will read what is held: it goes now, not when the ranks close.
            self.gather.clear_pending();
        }
    }

    /// The analytics is gone: its coordinator was lost with `node` (its process died,
    /// or it left). It reads nothing more, as if it had stopped, and nothing more
    /// comes from it: the ranks stop waiting, and what is held goes now.
    pub fn on_analytics_lost(&mut self, node: NodeId) {
        if self.lost.is_some() {
            return;
        }
        self.lost = Some(node);
        self.stalled = false;
        self.progress.stopped = true;
        self.gather.clear_pending();
    }

    /// An error if the analytics is gone (see [`BridgeState::on_analytics_lost`]):
    /// what a rank waiting for it is told.
    pub fn check_analytics(&self) -> Result<()> {
        match self.lost {
            Some(node) => Err(InsituError::AnalyticsLost { node }),
            None => Ok(()),
        }
    }

    /// The analytics' contract (an older one than the one held is ignored).
    pub fn on_contract(&mut self, contract: Contract) {
        if contract.version > self.contract.version {
            self.contract = contract;
        }
    }

    /// The value of `key` at `timestep` (`None`: the analytics set none and never will).
    pub fn on_feedback(&mut self, key: String, timestep: i64, value: Option<Vec<u8>>) {
        self.answers.known(key, timestep, value);
    }

    /// What is known of `key` at `timestep`, if anything, without asking.
    pub fn feedback_known(&self, key: &str, timestep: i64) -> Option<Option<Vec<u8>>> {
        self.answers.get(key, timestep)
    }

    /// The value of `key` at `timestep`: known, or asked for (once for every rank of
    /// the bridge) and pending.
    pub fn watch_feedback(&mut self, key: &str, timestep: i64) -> Answer {
        if let Some(value) = self.feedback_known(key, timestep) {
            return Answer::Known(value);
        }
        // Nobody to ask once the analytics is gone.
        if self.lost.is_none() && self.answers.ask(key, timestep) {
            self.out.push(Action::WatchFeedback {
                key: key.to_string(),
                timestep,
            });
        }
        Answer::Pending
    }
}

#[cfg(test)]
mod tests;
