//! Why an analytics waits in vain: what it names when no timestep completes within its
//! timeout (the arrays and timestep it waits for, the ranks whose chunks did not come,
//! the ranks that never started), built by the coordinator, which knows every rank.

use doreisa_core::NodeId;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// How many ranks or chunks a stall names one by one (the rest are counted).
pub const NAMED: usize = 8;

/// A rank as the coordinator knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankName {
    /// Its number in its communicator, if its client has one.
    pub rank: Option<u64>,
    /// Its number in its bridge.
    pub index: u64,
    pub bridge: u64,
    /// The node its bridge publishes on.
    pub node: NodeId,
    /// `Some` once it closed, with the last timestep it published (`None`: none).
    pub closed: Option<Option<i64>>,
    /// Its bridge waits for ranks that never attached: it holds what this rank
    /// published until they do.
    pub held: bool,
}

impl fmt::Display for RankName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rank {
            Some(rank) => write!(f, "rank {rank} (bridge {}", self.bridge)?,
            None => write!(f, "rank #{} of bridge {} (", self.index, self.bridge)?,
        }
        if self.rank.is_some() {
            write!(f, " ")?;
        }
        write!(f, "on node {}", self.node.0)?;
        if self.held {
            write!(f, ", which holds its chunks for ranks that never started")?;
        }
        write!(f, ")")?;
        match self.closed {
            Some(Some(last)) => write!(f, ", which closed after timestep {last}"),
            Some(None) => write!(f, ", which closed without publishing"),
            None => Ok(()),
        }
    }
}

/// An array the analytics waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingArray {
    pub array: String,
    /// The timestep it waits for: the oldest one some chunks arrived for, else the one
    /// after its last complete one (`None`: no chunk of it ever arrived).
    pub timestep: Option<i64>,
    pub last_complete: Option<i64>,
    /// Ranks whose chunk of that timestep did not come (the first [`NAMED`]), and how
    /// many there are.
    pub ranks: Vec<RankName>,
    pub ranks_missing: usize,
    /// Chunk positions no rank declared (the first [`NAMED`]), and how many there are.
    pub undeclared: Vec<Vec<u32>>,
    pub undeclared_count: u64,
}

/// A bridge whose ranks did not all attach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unattached {
    pub bridge: u64,
    pub node: NodeId,
    pub expected: u64,
    pub attached: u64,
}

/// What an analytics waited for in vain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stall {
    /// How long it waited.
    pub waited: Duration,
    /// Bridges registered with the session.
    pub bridges: usize,
    /// Arrays some rank declared.
    pub declared: usize,
    pub arrays: Vec<MissingArray>,
    pub unattached: Vec<Unattached>,
    /// Arrays the analytics reads that no rank declared.
    pub undeclared: Vec<String>,
}

impl Stall {
    /// The timestep the analytics waits for: the oldest of its arrays'.
    pub fn timestep(&self) -> Option<i64> {
        self.arrays.iter().filter_map(|a| a.timestep).min()
    }
}

impl fmt::Display for Stall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no timestep completed within {:.1} s",
            self.waited.as_secs_f64()
        )?;
        if let Some(timestep) = self.timestep() {
            write!(f, " (waiting for timestep {timestep})")?;
        }
        let mut parts = Vec::new();
        if self.bridges == 0 {
            parts.push("no rank of the simulation started (no bridge registered)".to_string());
        } else if self.declared == 0 {
            parts.push("no rank declared an array".to_string());
        }
        for array in &self.arrays {
            parts.extend(describe(array));
        }
        for bridge in &self.unattached {
            parts.push(format!(
                "bridge {} on node {}: {} of its {} ranks never created its client",
                bridge.bridge,
                bridge.node.0,
                bridge.expected.saturating_sub(bridge.attached),
                bridge.expected
            ));
        }
        for array in &self.undeclared {
            parts.push(format!(
                "array {array:?} is read by the analytics and declared by no rank"
            ));
        }
        if !parts.is_empty() {
            write!(f, ": {}", parts.join("; "))?;
        }
        Ok(())
    }
}

/// What is missing of one array, in words.
fn describe(array: &MissingArray) -> Vec<String> {
    let mut parts = Vec::new();
    if array.ranks_missing > 0 {
        let at = match array.timestep {
            Some(t) => format!(" at timestep {t}"),
            None => String::new(),
        };
        let names: Vec<String> = array.ranks.iter().map(ToString::to_string).collect();
        let more = array.ranks_missing.saturating_sub(array.ranks.len());
        let more = if more > 0 {
            format!(" and {more} more ranks")
        } else {
            String::new()
        };
        parts.push(format!(
            "array {:?}{at}: no chunk from {}{more}",
            array.array,
            names.join(", ")
        ));
    }
    if array.undeclared_count > 0 {
        let positions: Vec<String> = array.undeclared.iter().map(|p| format!("{p:?}")).collect();
        let more = array
            .undeclared_count
            .saturating_sub(array.undeclared.len() as u64);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        parts.push(format!(
            "array {:?}: chunks {}{more} declared by no rank",
            array.array,
            positions.join(", ")
        ));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rank(rank: Option<u64>, closed: Option<Option<i64>>, held: bool) -> RankName {
        RankName {
            rank,
            index: 1,
            bridge: 2,
            node: NodeId(3),
            closed,
            held,
        }
    }

    #[test]
    fn a_rank_is_named_by_its_communicator_number_when_it_has_one() {
        let named = rank(Some(7), Some(Some(4)), false).to_string();
        assert_eq!(
            named,
            "rank 7 (bridge 2 on node 3), which closed after timestep 4"
        );
        let unnamed = rank(None, Some(None), true).to_string();
        assert_eq!(
            unnamed,
            "rank #1 of bridge 2 (on node 3, which holds its chunks for ranks that never \
             started), which closed without publishing"
        );
    }

    #[test]
    fn a_stall_says_what_it_waited_for_and_counts_what_it_does_not_name() {
        let stall = Stall {
            waited: Duration::from_millis(1500),
            bridges: 1,
            declared: 1,
            arrays: vec![MissingArray {
                array: "a".into(),
                timestep: Some(5),
                last_complete: Some(4),
                ranks: vec![rank(Some(0), None, false)],
                ranks_missing: 3,
                undeclared: vec![vec![0, 1]],
                undeclared_count: 1,
            }],
            unattached: Vec::new(),
            undeclared: vec!["nope".into()],
        };
        assert_eq!(
            stall.to_string(),
            "no timestep completed within 1.5 s (waiting for timestep 5): array \"a\" at \
             timestep 5: no chunk from rank 0 (bridge 2 on node 3) and 2 more ranks; array \
             \"a\": chunks [0, 1] declared by no rank; array \"nope\" is read by the \
             analytics and declared by no rank"
        );
    }
}
