//! Plans kept standing on the nodes (Ray's compiled graphs, kept in place): the
//! driver installs each node's part once and arms it from a timestep on; afterwards
//! every node runs its part for each timestep as soon as its chunks land, and the
//! outputs arrive in the plan's mailbox tagged with their timestep. In the steady
//! state the driver sends nothing per iteration: it reads what arrived.
//!
//! What the driver keeps here is plain state: the armed plans, the outputs that came
//! for timesteps nobody asked for yet, and which plans went idle.

use crate::cluster::shared::Delivery;
use bytes::Bytes;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// Timesteps a standing plan may go unused (while others run) before it is disarmed.
pub(super) const IDLE_TIMESTEPS: i64 = 8;

/// Plans standing at once; past this the least recently used is disarmed.
pub(super) const MAX_STANDING: usize = 16;

/// Timesteps of outputs a standing plan may hold for the driver; past this the plan is
/// disarmed (the driver is not reading them).
const MAX_BUFFERED: usize = 256;

/// Outputs already taken kept for asking again (a window reads the same expression at
/// its earlier timesteps).
const RECENT_KEPT: usize = 4;

/// One standing plan, as the driver sees it.
pub(super) struct StandingPlan {
    /// The mailbox its outputs arrive in.
    pub mailbox: u64,
    /// Armed from this timestep on (earlier ones are run on request).
    pub from: i64,
    /// The last timestep the driver asked for.
    pub last_used: i64,
    /// Outputs arrived, by timestep: each position's value, or why the run failed.
    arrived: BTreeMap<i64, Result<Vec<Option<Bytes>>, String>>,
    outputs: usize,
    /// The last timestep taken: no output of it or before arrives any more.
    taken: Option<i64>,
    /// The outputs of the last few timesteps taken.
    recent: BTreeMap<i64, Vec<Bytes>>,
}

/// What waiting for a timestep's outputs found.
#[derive(Debug, PartialEq)]
pub(super) enum Arrival {
    /// Every output of the timestep.
    Complete(Vec<Bytes>),
    /// The run failed on some node, for this reason.
    Failed(String),
    /// Not all there yet.
    Pending,
    /// Too many timesteps waiting: the plan should be disarmed.
    Overflow,
}

impl StandingPlan {
    pub(super) fn new(mailbox: u64, from: i64, outputs: usize) -> Self {
        StandingPlan {
            mailbox,
            from,
            last_used: from,
            arrived: BTreeMap::new(),
            outputs,
            taken: None,
            recent: BTreeMap::new(),
        }
    }

    /// Whether the outputs of `timestep` can still arrive (or be here): not before the
    /// standing began, nor at or before a timestep already taken.
    pub(super) fn covers(&self, timestep: i64) -> bool {
        timestep >= self.from && self.taken.is_none_or(|taken| timestep > taken)
    }

    /// The outputs of `timestep` if they were taken lately.
    pub(super) fn recent(&self, timestep: i64) -> Option<Vec<Bytes>> {
        self.recent.get(&timestep).cloned()
    }

    /// Takes in a delivery; those of timesteps before `oldest_wanted` are dropped.
    pub(super) fn receive(&mut self, delivery: Delivery, oldest_wanted: i64) {
        let (timestep, positions, values) = delivery;
        if timestep < oldest_wanted {
            return;
        }
        let outputs = self.outputs;
        let entry = self
            .arrived
            .entry(timestep)
            .or_insert_with(|| Ok(vec![None; outputs]));
        match (entry, values) {
            (Err(_), _) => {}
            (entry @ Ok(_), Err(message)) => *entry = Err(message),
            (Ok(slots), Ok(values)) => {
                for (position, value) in positions.into_iter().zip(values) {
                    if let Some(slot) = slots.get_mut(position as usize) {
                        *slot = Some(value);
                    }
                }
            }
        }
    }

    /// The outputs of `timestep`, if complete (taken), and the older ones dropped.
    pub(super) fn take(&mut self, timestep: i64) -> Arrival {
        self.last_used = self.last_used.max(timestep);
        let newer = self.arrived.split_off(&timestep);
        self.arrived = newer;
        if self.arrived.len() > MAX_BUFFERED {
            return Arrival::Overflow;
        }
        let complete = match self.arrived.get(&timestep) {
            None => return Arrival::Pending,
            Some(Err(message)) => return Arrival::Failed(message.clone()),
            Some(Ok(slots)) => slots.iter().all(Option::is_some),
        };
        if !complete {
            return Arrival::Pending;
        }
        match self.arrived.remove(&timestep) {
            Some(Ok(slots)) => {
                let outputs: Vec<Bytes> = slots.into_iter().flatten().collect();
                self.taken = self.taken.max(Some(timestep));
                self.recent.insert(timestep, outputs.clone());
                while self.recent.len() > RECENT_KEPT {
                    self.recent.pop_first();
                }
                Arrival::Complete(outputs)
            }
            _ => Arrival::Pending,
        }
    }
}

/// The standing plans of a runner, by plan id.
#[derive(Default)]
pub(super) struct StandingPlans {
    plans: FxHashMap<u64, StandingPlan>,
}

impl StandingPlans {
    pub(super) fn get_mut(&mut self, plan: u64) -> Option<&mut StandingPlan> {
        self.plans.get_mut(&plan)
    }

    pub(super) fn insert(&mut self, plan: u64, standing: StandingPlan) {
        self.plans.insert(plan, standing);
    }

    pub(super) fn remove(&mut self, plan: u64) -> Option<StandingPlan> {
        self.plans.remove(&plan)
    }

    pub(super) fn len(&self) -> usize {
        self.plans.len()
    }

    /// The plans to disarm now that `plan` is used at `timestep`: those unused for more
    /// than [`IDLE_TIMESTEPS`], and the least recently used past [`MAX_STANDING`].
    pub(super) fn retire(&mut self, plan: u64, timestep: i64) -> Vec<(u64, StandingPlan)> {
        let idle: Vec<u64> = self
            .plans
            .iter()
            .filter(|&(&id, p)| id != plan && p.last_used < timestep.saturating_sub(IDLE_TIMESTEPS))
            .map(|(&id, _)| id)
            .collect();
        let mut retired: Vec<(u64, StandingPlan)> = idle
            .into_iter()
            .filter_map(|id| self.plans.remove(&id).map(|p| (id, p)))
            .collect();
        while self.plans.len() > MAX_STANDING {
            let oldest = self
                .plans
                .iter()
                .filter(|&(&id, _)| id != plan)
                .min_by_key(|(_, p)| p.last_used)
                .map(|(&id, _)| id);
            match oldest.and_then(|id| self.plans.remove(&id).map(|p| (id, p))) {
                Some(entry) => retired.push(entry),
                None => break,
            }
        }
        retired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(v: u8) -> Bytes {
        Bytes::from(vec![v])
    }

    #[test]
    fn outputs_gather_by_timestep_and_older_ones_go() {
        let mut plan = StandingPlan::new(1, 10, 2);
        plan.receive((10, vec![1], Ok(vec![bytes(1)])), 10);
        assert_eq!(plan.take(10), Arrival::Pending, "one of two");
        plan.receive((11, vec![0, 1], Ok(vec![bytes(3), bytes(4)])), 10);
        plan.receive((10, vec![0], Ok(vec![bytes(0)])), 10);
        assert_eq!(plan.take(10), Arrival::Complete(vec![bytes(0), bytes(1)]));
        assert_eq!(plan.take(11), Arrival::Complete(vec![bytes(3), bytes(4)]));
        plan.receive((9, vec![0], Ok(vec![bytes(9)])), 12);
        assert_eq!(plan.take(12), Arrival::Pending, "too old to keep");
    }

    #[test]
    fn taken_timesteps_are_kept_a_while_then_run_on_request() {
        let mut plan = StandingPlan::new(1, 10, 1);
        assert!(!plan.covers(9), "before the standing");
        for t in 10..16 {
            plan.receive((t, vec![0], Ok(vec![bytes(t as u8)])), t);
            assert_eq!(plan.take(t), Arrival::Complete(vec![bytes(t as u8)]));
        }
        assert!(!plan.covers(15) && plan.covers(16));
        assert_eq!(plan.recent(14), Some(vec![bytes(14)]), "asked again: kept");
        assert_eq!(plan.recent(11), None, "too old: to run again on request");
    }

    #[test]
    fn a_failed_run_fails_its_timestep_only() {
        let mut plan = StandingPlan::new(1, 0, 1);
        plan.receive((0, vec![], Err("kernel x failed".into())), 0);
        plan.receive((1, vec![0], Ok(vec![bytes(1)])), 0);
        assert_eq!(plan.take(0), Arrival::Failed("kernel x failed".into()));
        assert_eq!(plan.take(1), Arrival::Complete(vec![bytes(1)]));
    }

    #[test]
    fn idle_plans_retire_and_alternating_ones_stay() {
        let mut plans = StandingPlans::default();
        plans.insert(1, StandingPlan::new(1, 0, 1));
        plans.insert(2, StandingPlan::new(2, 0, 1));
        plans.insert(3, StandingPlan::new(3, 0, 1));
        // Plans 1 and 2 alternate; plan 3 is never used again.
        for t in 1..20 {
            let used = if t % 2 == 0 { 1 } else { 2 };
            plans.get_mut(used).unwrap().last_used = t;
            let retired: Vec<u64> = plans
                .retire(used, t)
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            if t == IDLE_TIMESTEPS + 1 {
                assert_eq!(retired, vec![3]);
            } else {
                assert!(retired.is_empty(), "t = {t}: {retired:?}");
            }
        }
        assert_eq!(plans.len(), 2);
    }
}
