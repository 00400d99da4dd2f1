//! The head's view of the cluster as plain state: who may join (the token), who is a
//! member, who went silent. No sockets and no clocks: the caller passes the time in
//! milliseconds and carries out the events returned, in order, to every member.

use crate::ids::{NodeId, WorkerId};
use crate::node::NodeStatus;
use crate::wire::{
    ClusterStatus, Hello, Member, MemberStatus, MembershipEvent, NodeRole, PROTOCOL_VERSION,
    Purpose, Welcome, version_refusal,
};
use std::collections::{BTreeMap, VecDeque};

/// Departed nodes the head remembers (for status): the most recent ones.
pub const DEPARTED_KEPT: usize = 256;

/// Timing of membership.
#[derive(Debug, Clone, Copy)]
pub struct MembershipConfig {
    /// A member silent this long (no heartbeat) is declared dead.
    pub death_timeout_ms: u64,
}

impl Default for MembershipConfig {
    fn default() -> Self {
        MembershipConfig {
            death_timeout_ms: 3_000,
        }
    }
}

struct MemberState {
    member: Member,
    last_seen_ms: u64,
    status: Option<NodeStatus>,
}

/// The head's membership table.
pub struct Membership {
    token: Vec<u8>,
    config: MembershipConfig,
    members: BTreeMap<NodeId, MemberState>,
    /// The most recent departures, oldest first (at most [`DEPARTED_KEPT`]).
    departed: VecDeque<NodeId>,
    next_node: u64,
    /// Worker deaths announced so far (a joiner starts its death epoch here).
    epoch: u64,
}

/// What the head does with a hello.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// Refuse with this answer and close the connection.
    Refuse(Welcome),
    /// A new member: answer it, then tell every other member `event`.
    Join {
        node: NodeId,
        welcome: Welcome,
        event: MembershipEvent,
    },
    /// A member's connection to another member.
    Peer { from: NodeId },
    /// A status client.
    Status,
}

impl Membership {
    /// The table of a cluster whose head is `head` (node 0).
    pub fn new(token: Vec<u8>, head: Member, config: MembershipConfig, now_ms: u64) -> Self {
        let mut members = BTreeMap::new();
        let next_node = head.node.0 + 1;
        members.insert(
            head.node,
            MemberState {
                member: head,
                last_seen_ms: now_ms,
                status: None,
            },
        );
        Membership {
            token,
            config,
            members,
            departed: VecDeque::new(),
            next_node,
            epoch: 0,
        }
    }

    /// Whether `token` is the cluster's (compared in constant time).
    pub fn token_matches(&self, token: &[u8]) -> bool {
        token_matches(&self.token, token)
    }

    /// Decides on a hello received at `now_ms`.
    pub fn admit(&mut self, hello: Hello, now_ms: u64) -> Admission {
        if hello.version != PROTOCOL_VERSION {
            return refuse(version_refusal(hello.version));
        }
        if !self.token_matches(&hello.token) {
            return refuse("wrong cluster token".into());
        }
        match hello.purpose {
            Purpose::Status => Admission::Status,
            Purpose::Peer { from } if self.members.contains_key(&from) => Admission::Peer { from },
            Purpose::Peer { from } => refuse(format!("{from:?} is not a member")),
            Purpose::Join {
                role: NodeRole::Head,
                ..
            } => refuse("a cluster has one head".into()),
            Purpose::Join {
                role,
                addr,
                fingerprint,
                cpus,
                store_capacity,
            } => {
                let node = NodeId(self.next_node);
                self.next_node += 1;
                let mut workers = vec![WorkerId::new(node, 0)];
                if role == NodeRole::Driver {
                    workers.push(WorkerId::new(node, 1));
                }
                let member = Member {
                    node,
                    role,
                    addr,
                    fingerprint,
                    workers,
                    cpus,
                    store_capacity,
                };
                self.members.insert(
                    node,
                    MemberState {
                        member: member.clone(),
                        last_seen_ms: now_ms,
                        status: None,
                    },
                );
                Admission::Join {
                    node,
                    welcome: Welcome::Joined {
                        node,
                        epoch: self.epoch,
                        members: self.members(),
                    },
                    event: MembershipEvent::Joined(member),
                }
            }
        }
    }

    /// A heartbeat from `node`; false if it is not a member (any more).
    pub fn heartbeat(&mut self, node: NodeId, status: NodeStatus, now_ms: u64) -> bool {
        match self.members.get_mut(&node) {
            Some(state) => {
                state.last_seen_ms = now_ms;
                state.status = Some(status);
                true
            }
            None => false,
        }
    }

    /// The head's own figures (it does not send itself heartbeats).
    pub fn head_status(&mut self, head: NodeId, status: NodeStatus, now_ms: u64) {
        self.heartbeat(head, status, now_ms);
    }

    /// Members silent for longer than the death timeout leave; `head` never does.
    pub fn tick(&mut self, head: NodeId, now_ms: u64) -> Vec<MembershipEvent> {
        let silent: Vec<NodeId> = self
            .members
            .iter()
            .filter(|(node, state)| {
                **node != head
                    && now_ms.saturating_sub(state.last_seen_ms) > self.config.death_timeout_ms
            })
            .map(|(node, _)| *node)
            .collect();
        silent
            .into_iter()
            .filter_map(|node| {
                tracing::warn!(
                    ?node,
                    "no heartbeat within the death timeout: node declared dead"
                );
                self.leave(node)
            })
            .collect()
    }

    /// `node` leaves (it said so, or its connection is gone for good).
    pub fn leave(&mut self, node: NodeId) -> Option<MembershipEvent> {
        let state = self.members.remove(&node)?;
        if self.departed.len() == DEPARTED_KEPT {
            self.departed.pop_front();
        }
        self.departed.push_back(node);
        self.epoch += state.member.workers.len() as u64;
        Some(MembershipEvent::Left {
            node,
            workers: state.member.workers,
        })
    }

    pub fn is_member(&self, node: NodeId) -> bool {
        self.members.contains_key(&node)
    }

    /// Current members, by node id.
    pub fn members(&self) -> Vec<Member> {
        self.members.values().map(|s| s.member.clone()).collect()
    }

    pub fn status(&self, now_ms: u64) -> ClusterStatus {
        ClusterStatus {
            members: self
                .members
                .values()
                .map(|s| MemberStatus {
                    member: s.member.clone(),
                    last_seen_ms: now_ms.saturating_sub(s.last_seen_ms),
                    status: s.status.clone(),
                })
                .collect(),
            departed: self.departed.iter().copied().collect(),
        }
    }
}

fn refuse(reason: String) -> Admission {
    Admission::Refuse(Welcome::Refused { reason })
}

/// Compares two tokens without an early exit on the first difference.
pub fn token_matches(expected: &[u8], given: &[u8]) -> bool {
    if expected.len() != given.len() {
        return false;
    }
    expected
        .iter()
        .zip(given)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(node: u64, role: NodeRole) -> Member {
        Member {
            node: NodeId(node),
            role,
            addr: "127.0.0.1:7000".parse().unwrap(),
            fingerprint: vec![node as u8; 32],
            workers: vec![WorkerId::new(NodeId(node), 0)],
            cpus: 1,
            store_capacity: 1 << 20,
        }
    }

    fn hello(token: &[u8], purpose: Purpose) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            token: token.to_vec(),
            purpose,
        }
    }

    fn join(role: NodeRole) -> Purpose {
        Purpose::Join {
            role,
            addr: "127.0.0.1:7001".parse().unwrap(),
            fingerprint: vec![9; 32],
            cpus: 2,
            store_capacity: 1 << 30,
        }
    }

    fn table() -> Membership {
        Membership::new(
            vec![1; 32],
            member(0, NodeRole::Head),
            MembershipConfig {
                death_timeout_ms: 100,
            },
            0,
        )
    }

    #[test]
    fn a_wrong_token_or_version_is_refused_and_changes_nothing() {
        let mut table = table();
        for bad in [
            hello(&[2; 32], join(NodeRole::Worker)),
            hello(&[1; 31], join(NodeRole::Worker)),
            Hello {
                version: 99,
                ..hello(&[1; 32], join(NodeRole::Worker))
            },
            hello(&[1; 32], join(NodeRole::Head)),
            hello(&[1; 32], Purpose::Peer { from: NodeId(5) }),
        ] {
            assert!(matches!(table.admit(bad, 1), Admission::Refuse(_)));
        }
        assert_eq!(table.members().len(), 1);
    }

    #[test]
    fn joiners_get_new_ids_the_members_and_the_death_epoch() {
        let mut table = table();
        let Admission::Join {
            node,
            welcome,
            event,
        } = table.admit(hello(&[1; 32], join(NodeRole::Worker)), 1)
        else {
            panic!("joins")
        };
        assert_eq!(node, NodeId(1));
        let Welcome::Joined { members, epoch, .. } = welcome else {
            panic!("welcome")
        };
        assert_eq!((members.len(), epoch), (2, 0));
        assert!(matches!(event, MembershipEvent::Joined(m) if m.node == node));
        let Admission::Join {
            node: driver,
            event,
            ..
        } = table.admit(hello(&[1; 32], join(NodeRole::Driver)), 2)
        else {
            panic!("joins")
        };
        assert_eq!(driver, NodeId(2));
        let MembershipEvent::Joined(m) = event else {
            panic!()
        };
        assert_eq!(
            m.workers.len(),
            2,
            "a driver node hosts the driver worker too"
        );
        // Node 1 leaves: the next joiner starts one death later.
        assert!(table.leave(NodeId(1)).is_some());
        assert!(table.leave(NodeId(1)).is_none(), "only once");
        let Admission::Join {
            welcome: Welcome::Joined { epoch, .. },
            ..
        } = table.admit(hello(&[1; 32], join(NodeRole::Worker)), 3)
        else {
            panic!("joins")
        };
        assert_eq!(epoch, 1);
        assert!(matches!(
            table.admit(hello(&[1; 32], Purpose::Peer { from: NodeId(2) }), 4),
            Admission::Peer { from: NodeId(2) }
        ));
    }

    #[test]
    fn silent_members_are_declared_dead_after_the_timeout() {
        let mut table = table();
        table.admit(hello(&[1; 32], join(NodeRole::Worker)), 0);
        table.admit(hello(&[1; 32], join(NodeRole::Worker)), 0);
        assert!(
            table.tick(NodeId(0), 100).is_empty(),
            "not before the timeout"
        );
        assert!(table.heartbeat(NodeId(2), NodeStatus::default(), 90));
        let left = table.tick(NodeId(0), 150);
        assert_eq!(
            left,
            vec![MembershipEvent::Left {
                node: NodeId(1),
                workers: vec![WorkerId::new(NodeId(1), 0)]
            }]
        );
        assert!(
            !table.heartbeat(NodeId(1), NodeStatus::default(), 160),
            "gone for good"
        );
        assert!(
            table
                .tick(NodeId(0), 10_000)
                .iter()
                .all(|e| matches!(e, MembershipEvent::Left { node, .. } if *node == NodeId(2)))
        );
        assert!(table.is_member(NodeId(0)), "the head never times out");
        assert_eq!(table.status(10_000).departed, vec![NodeId(1), NodeId(2)]);
    }

    #[test]
    fn the_head_remembers_a_bounded_number_of_departures() {
        let mut table = table();
        for i in 0..1000u64 {
            let Admission::Join { node, .. } =
                table.admit(hello(&[1; 32], join(NodeRole::Worker)), i)
            else {
                panic!("joins")
            };
            assert!(table.leave(node).is_some());
        }
        let departed = table.status(1000).departed;
        assert_eq!(departed.len(), DEPARTED_KEPT);
        assert_eq!(departed.last(), Some(&NodeId(1000)), "the newest kept");
        assert_eq!(departed[0], NodeId(1000 - DEPARTED_KEPT as u64 + 1));
        assert_eq!(table.members().len(), 1, "the head alone");
    }
}
