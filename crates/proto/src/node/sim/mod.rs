//! A deterministic simulator of whole nodes (test support, feature `sim`).
//!
//! The world holds N node state machines over [`MemoryHost`]s, one FIFO link per
//! ordered pair of nodes, one inbox per node and a queue of jobs per node. A test (or
//! the random programs of [`program`]) chooses every step: handle a node's next event,
//! deliver a link's next envelope, run a node's next job, or kill a node. So links
//! interleave in any order (each stays in order, as the runtime's transports keep it),
//! deaths reach nodes at different times, and nothing depends on threads or clocks.
//!
//! Task bodies are simulated by [`World::run_job`]: values are encoded lists of the
//! refs nested in them plus a tag, so a body finds the refs in its arguments (and
//! "deserializes" them as the executor, exactly as the runtime's decode does).

pub mod program;

use super::memory::{MemoryHost, TokenWaiter};
use super::{Command, Computed, EventOf, Job, NodeEvent, NodeState, TaskOutput};
use crate::codec;
use crate::error::ProtoError;
use crate::ids::{NodeId, ObjectId, WorkerId};
use crate::node::Envelope;
use crate::task::TaskKind;
use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};

/// What a simulated value holds: the refs nested in it, and a tag telling values apart.
pub type SimValue = (Vec<(ObjectId, WorkerId)>, u64);

/// Encodes a simulated value.
pub fn encode_value(nested: &[(ObjectId, WorkerId)], tag: u64) -> Bytes {
    Bytes::from(codec::encode(&(nested.to_vec(), tag)).expect("a simulated value encodes"))
}

/// Decodes a simulated value.
pub fn decode_value(bytes: &[u8]) -> Result<SimValue, ProtoError> {
    codec::decode(bytes)
}

/// The registered functions of the simulated cluster.
pub mod functions {
    /// Returns a fresh value with no refs.
    pub const ECHO: &str = "echo";
    /// Returns a value nesting every ref found in its arguments.
    pub const WRAP: &str = "wrap";
    /// Returns two values: a fresh one, and one nesting the refs of its arguments.
    pub const PAIR: &str = "pair";
    /// Fails.
    pub const FAIL: &str = "fail";
}

/// One simulated node.
pub struct SimNode {
    pub state: NodeState<MemoryHost>,
    pub inbox: VecDeque<EventOf<MemoryHost>>,
    pub jobs: VecDeque<Job<u64>>,
}

/// The simulated cluster.
pub struct World {
    pub nodes: BTreeMap<NodeId, SimNode>,
    /// Every node the cluster ever had, alive or not.
    pub all: Vec<NodeId>,
    /// Envelopes in flight, per (from, to), in order.
    pub links: BTreeMap<(NodeId, NodeId), VecDeque<Envelope>>,
    /// Filled waiters, in fill order.
    pub fills: Vec<(u64, usize, Result<Bytes, ProtoError>)>,
    /// Values task bodies produced, by object (the same each time a task re-runs).
    pub produced: BTreeMap<ObjectId, Bytes>,
    /// Handle groups task bodies deserialized and still hold, per node (dropped once
    /// the node handled the body's results).
    pub workers_per_node: BTreeMap<NodeId, Vec<WorkerId>>,
    pub messages: usize,
}

impl World {
    /// `n` nodes; each hosts its executor (worker 0) and one driver (worker 1).
    pub fn new(n: usize) -> Self {
        let all: Vec<NodeId> = (0..n as u64).map(NodeId).collect();
        let mut nodes = BTreeMap::new();
        let mut workers_per_node = BTreeMap::new();
        for &id in &all {
            let mut state = NodeState::new(id, MemoryHost::default(), &all);
            state.add_worker(WorkerId::new(id, 1));
            nodes.insert(
                id,
                SimNode {
                    state,
                    inbox: VecDeque::new(),
                    jobs: VecDeque::new(),
                },
            );
            workers_per_node.insert(id, vec![WorkerId::new(id, 0), WorkerId::new(id, 1)]);
        }
        for &id in &all {
            for &other in &all {
                if other != id {
                    let node = nodes.get_mut(&id).expect("node");
                    node.state.add_peer(WorkerId::new(other, 1));
                }
            }
        }
        World {
            nodes,
            all,
            links: BTreeMap::new(),
            fills: Vec::new(),
            produced: BTreeMap::new(),
            workers_per_node,
            messages: 0,
        }
    }

    pub fn alive(&self, node: NodeId) -> bool {
        self.nodes.contains_key(&node)
    }

    pub fn live_nodes(&self) -> Vec<NodeId> {
        self.nodes.keys().copied().collect()
    }

    /// Queues `command` on `node` (from one of its threads).
    pub fn command(&mut self, node: NodeId, command: Command<TokenWaiter>) {
        if let Some(n) = self.nodes.get_mut(&node) {
            n.inbox.push_back(NodeEvent::Command(command));
        }
    }

    /// Stores `bytes` as `id` on `node` (what a `put` does before its command).
    pub fn store(&mut self, node: NodeId, id: ObjectId, bytes: Bytes) -> Result<(), ProtoError> {
        use super::Host;
        match self.nodes.get_mut(&node) {
            Some(n) => n.state.host.put(id, bytes, true),
            None => Err(ProtoError::Stopped),
        }
    }

    /// Nodes with events to handle.
    pub fn busy_inboxes(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|(_, n)| !n.inbox.is_empty())
            .map(|(&id, _)| id)
            .collect()
    }

    /// Links with envelopes to a live node.
    pub fn busy_links(&self) -> Vec<(NodeId, NodeId)> {
        self.links
            .iter()
            .filter(|((_, to), q)| !q.is_empty() && self.alive(*to))
            .map(|(&k, _)| k)
            .collect()
    }

    /// Nodes with jobs to run.
    pub fn busy_computes(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|(_, n)| !n.jobs.is_empty())
            .map(|(&id, _)| id)
            .collect()
    }

    /// Whether nothing is left to do.
    pub fn quiet(&self) -> bool {
        self.busy_inboxes().is_empty()
            && self.busy_links().is_empty()
            && self.busy_computes().is_empty()
    }

    /// `node` handles its next event; its outbox goes to the links, its job queue and
    /// the fills.
    pub fn handle_next(&mut self, node: NodeId) {
        let Some(n) = self.nodes.get_mut(&node) else {
            return;
        };
        let Some(event) = n.inbox.pop_front() else {
            return;
        };
        n.state.handle(event);
        let out = std::mem::take(&mut n.state.out);
        let epoch = n.state.epoch();
        n.jobs.extend(out.jobs);
        for (to, message) in out.messages {
            self.messages += 1;
            self.links
                .entry((node, to))
                .or_default()
                .push_back(Envelope {
                    from: node,
                    epoch,
                    message,
                });
        }
        for (waiter, index, value) in out.fills {
            self.fills.push((waiter.token, index, value));
        }
    }

    /// Delivers the next envelope of link `from → to` into `to`'s inbox.
    pub fn deliver_next(&mut self, link: (NodeId, NodeId)) {
        let Some(envelope) = self.links.get_mut(&link).and_then(VecDeque::pop_front) else {
            return;
        };
        if let Some(n) = self.nodes.get_mut(&link.1) {
            n.inbox.push_back(NodeEvent::Remote(envelope));
        }
    }

    /// Runs `node`'s next job as its compute pool would: bodies find the refs in their
    /// arguments (deserializing them as the executor), return values, and drop their
    /// handles before the results (returned refs: after).
    pub fn run_job(&mut self, node: NodeId) {
        let Some(n) = self.nodes.get_mut(&node) else {
            return;
        };
        let Some(job) = n.jobs.pop_front() else {
            return;
        };
        let executor = n.state.executor();
        let mut events: Vec<EventOf<MemoryHost>> = Vec::new();
        let mut dropped_after = Vec::new();
        let mut computed = Computed::<u64> {
            actor: job.actor,
            ..Computed::default()
        };
        for (spec, args) in job.tasks {
            let mut found = Vec::new();
            let mut bad = None;
            for arg in &args {
                match decode_value(&arg.bytes) {
                    Ok((nested, _)) => {
                        for (id, owner) in nested {
                            events.push(NodeEvent::Command(Command::Deserialized {
                                worker: executor,
                                id,
                                owner,
                                outer: arg.from,
                            }));
                            found.push((id, owner));
                        }
                    }
                    Err(e) => bad = Some(e),
                }
            }
            let name = match &spec.kind {
                TaskKind::Function(name) => name.to_string(),
                other => format!("{other:?}"),
            };
            let tag = spec.task.seq;
            let fresh = |index: u32| encode_value(&[], tag * 8 + index as u64);
            let outcome = match (bad, name.as_str()) {
                (Some(e), _) => Err(e),
                (None, functions::ECHO) => Ok(vec![fresh(1)]),
                (None, functions::WRAP) => Ok(vec![encode_value(&found, tag * 8 + 1)]),
                (None, functions::PAIR) => Ok(vec![fresh(1), encode_value(&found, tag * 8 + 2)]),
                (None, functions::FAIL) => Err(ProtoError::Failed("failing on purpose".into())),
                (None, other) => Err(ProtoError::Failed(format!("no function {other:?}"))),
            };
            let returns_refs = matches!(name.as_str(), functions::WRAP | functions::PAIR);
            let outcome = outcome.map(|values| {
                values
                    .into_iter()
                    .enumerate()
                    .map(|(i, bytes)| {
                        let id = spec.return_id(i as u32 + 1);
                        self.produced.entry(id).or_insert_with(|| bytes.clone());
                        let nested = if decode_value(&bytes).is_ok_and(|(n, _)| !n.is_empty()) {
                            found.clone()
                        } else {
                            Vec::new()
                        };
                        TaskOutput { bytes, nested }
                    })
                    .collect()
            });
            let drops = found.iter().map(|&(id, _)| {
                NodeEvent::Command(Command::Drop {
                    worker: executor,
                    id,
                })
            });
            if returns_refs && outcome.is_ok() {
                dropped_after.extend(drops);
            } else {
                events.extend(drops);
            }
            computed.results.push((spec, outcome));
        }
        events.push(NodeEvent::Computed(Box::new(computed)));
        events.extend(dropped_after);
        let n = self.nodes.get_mut(&node).expect("alive");
        n.inbox.extend(events);
    }

    /// Kills `node` as a crash would: its state, store, queues and the envelopes on
    /// their way to it are gone; every other node hears of it (in its inbox, in death
    /// order). Envelopes it sent before dying may still arrive.
    pub fn kill(&mut self, node: NodeId) {
        if self.nodes.remove(&node).is_none() {
            return;
        }
        self.links.retain(|&(_, to), _| to != node);
        let workers = self
            .workers_per_node
            .get(&node)
            .cloned()
            .unwrap_or_default();
        for n in self.nodes.values_mut() {
            n.inbox.push_back(NodeEvent::NodeLeft {
                node,
                workers: workers.clone(),
            });
        }
    }

    /// Takes the fills recorded so far.
    pub fn take_fills(&mut self) -> Vec<(u64, usize, Result<Bytes, ProtoError>)> {
        std::mem::take(&mut self.fills)
    }
}
