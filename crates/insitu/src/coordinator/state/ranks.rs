//! The coordinator's view of the simulation's bridges and their ranks: how many ranks
//! each bridge was started for, which attached (with their communicator numbers),
//! which closed and after what timestep, and which bridges take notices.

use crate::stall::{RankName, Unattached};
use doreisa_core::NodeId;
use std::collections::BTreeMap;

#[derive(Debug)]
struct BridgeRecord {
    node: NodeId,
    expected: u64,
    ranks: BTreeMap<u64, RankRecord>,
    /// `Some` once it left, with its ranks' last timestep.
    closed: Option<Option<i64>>,
    /// It has an inbox for notices; it sends chunks by the analytics' contract.
    notices: bool,
    contract: bool,
}

#[derive(Debug, Default)]
struct RankRecord {
    label: Option<u64>,
    /// `Some` once it closed, with the last timestep it published.
    closed: Option<Option<i64>>,
}

/// Bridges by number, and their ranks.
#[derive(Debug, Default)]
pub(super) struct Ranks {
    bridges: BTreeMap<u64, BridgeRecord>,
    next: u64,
}

impl Ranks {
    /// A bridge for `expected` ranks publishing on `node`; returns its number.
    pub fn register(&mut self, node: NodeId, expected: u64, notices: bool, contract: bool) -> u64 {
        self.next += 1;
        self.bridges.insert(
            self.next,
            BridgeRecord {
                node,
                expected,
                ranks: BTreeMap::new(),
                closed: None,
                notices,
                contract,
            },
        );
        self.next
    }

    pub fn bridges(&self) -> usize {
        self.bridges.len()
    }

    /// Rank `rank` of `bridge` attached, publishing on `node`.
    pub fn attach(&mut self, bridge: u64, rank: u64, node: NodeId) {
        let record = self.bridges.entry(bridge).or_insert_with(|| BridgeRecord {
            node,
            expected: 0,
            ranks: BTreeMap::new(),
            closed: None,
            notices: false,
            contract: false,
        });
        record.ranks.entry(rank).or_default();
    }

    pub fn label(&mut self, bridge: u64, rank: u64, label: u64) {
        if let Some(record) = self.rank_mut(bridge, rank) {
            record.label = Some(label);
        }
    }

    /// Rank `rank` of `bridge` closed after publishing up to `last`.
    pub fn rank_closed(&mut self, bridge: u64, rank: u64, last: Option<i64>) {
        if let Some(record) = self.rank_mut(bridge, rank) {
            record.closed = Some(last);
        }
    }

    fn rank_mut(&mut self, bridge: u64, rank: u64) -> Option<&mut RankRecord> {
        self.bridges.get_mut(&bridge)?.ranks.get_mut(&rank)
    }

    /// Bridge `bridge` left, its ranks' last timestep `last`; `false` if unknown.
    pub fn close(&mut self, bridge: u64, last: Option<i64>) -> bool {
        match self.bridges.get_mut(&bridge) {
            Some(record) => {
                record.closed = Some(last);
                true
            }
            None => false,
        }
    }

    /// Whether every bridge registered left (at least one registered).
    pub fn all_closed(&self) -> bool {
        !self.bridges.is_empty() && self.bridges.values().all(|b| b.closed.is_some())
    }

    /// The last timestep of the bridges that left.
    pub fn last_closed(&self) -> Option<i64> {
        self.bridges
            .values()
            .filter_map(|b| b.closed.flatten())
            .max()
    }

    /// Whether rank `rank` of `bridge` closed before publishing `timestep`.
    pub fn closed_before(&self, bridge: u64, rank: u64, timestep: i64) -> bool {
        let closed = self
            .bridges
            .get(&bridge)
            .and_then(|b| b.ranks.get(&rank))
            .and_then(|r| r.closed);
        match closed {
            Some(Some(last)) => last < timestep,
            Some(None) => true,
            None => false,
        }
    }

    /// Rank `rank` of `bridge`, as an error names it.
    pub fn name(&self, bridge: u64, rank: u64) -> RankName {
        let record = self.bridges.get(&bridge);
        let rank_record = record.and_then(|b| b.ranks.get(&rank));
        RankName {
            rank: rank_record.and_then(|r| r.label),
            index: rank,
            bridge,
            node: record.map(|b| b.node).unwrap_or_default(),
            closed: rank_record.and_then(|r| r.closed),
            held: record.is_some_and(|b| (b.ranks.len() as u64) < b.expected),
        }
    }

    /// The bridges whose ranks did not all attach.
    pub fn unattached(&self) -> Vec<Unattached> {
        self.bridges
            .iter()
            .filter(|(_, b)| (b.ranks.len() as u64) < b.expected)
            .map(|(&bridge, b)| Unattached {
                bridge,
                node: b.node,
                expected: b.expected,
                attached: b.ranks.len() as u64,
            })
            .collect()
    }

    /// The bridges that take notices (only those sending chunks by the contract, with
    /// `contract`).
    pub fn subscribers(&self, contract: bool) -> Vec<u64> {
        self.bridges
            .iter()
            .filter(|(_, b)| b.notices && (b.contract || !contract))
            .map(|(&id, _)| id)
            .collect()
    }
}
