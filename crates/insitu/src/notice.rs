//! What the coordinator tells the bridges without being asked: how far the analytics
//! got, its contract, steering answers. Bridges wait for these notices (with a bound)
//! instead of asking again and again.

use crate::contract::Contract;
use serde::{Deserialize, Serialize};

/// How far the analytics got, as the simulation's back-pressure sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The last timestep the analytics finished.
    pub done: Option<i64>,
    /// The analytics is not running (not yet, or not any more): nobody to wait for.
    pub running: bool,
    /// The version of the analytics' current contract (0: none yet).
    pub contract: u64,
    /// The analytics ran and stopped (its simulation closed, or it failed): it will
    /// read nothing more.
    pub stopped: bool,
}

impl Progress {
    /// Whether the analytics will read nothing of `timestep` or before any more: it
    /// finished it, or it ran and stopped.
    pub fn past(&self, timestep: i64) -> bool {
        let finished = self.done.is_some_and(|done| done >= timestep);
        let stopped = self.stopped || (!self.running && self.done.is_some());
        finished || stopped
    }
}

/// A notice from the coordinator to a bridge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Notice {
    /// The analytics' progress, in the coordinator's `seq`th change of it (a bridge
    /// keeps the newest).
    Progress { seq: u64, progress: Progress },
    /// The analytics' new contract.
    Contract(Contract),
    /// The value of steering key `key` at `timestep` (`None`: the analytics set none
    /// for it, and never will).
    Feedback {
        key: String,
        timestep: i64,
        value: Option<Vec<u8>>,
    },
}

/// What a bridge learns when it registers with the coordinator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    /// Its number in the session.
    pub id: u64,
    /// The analytics' progress now, and the number of that change of it.
    pub progress: Progress,
    pub seq: u64,
    /// The analytics' contract, for a bridge that sends chunks by it.
    pub contract: Option<Contract>,
}
