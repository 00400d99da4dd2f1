//! How nodes reach each other: one trait, an in-memory implementation for the embedded
//! cluster (messages move as Rust values into the other node's inbox), and QUIC for
//! processes and hosts.

use crate::ids::NodeId;
use crate::runtime::event::{Envelope, NodeEvent};
use crate::runtime::inbox::Inbox;
use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Carries envelopes from one node to others. Messages to or from a dead node are dropped.
pub trait Transport: 'static {
    /// Sends `envelopes`, in order, to `to`.
    fn send(&mut self, to: NodeId, envelopes: Vec<Envelope>);
}

/// Every node's inbox and "alive" flag, shared by the in-memory transports.
pub type InMemoryPeers = Arc<FxHashMap<NodeId, (Arc<Inbox<NodeEvent>>, Arc<AtomicBool>)>>;

/// One node's end of the embedded cluster's in-memory network.
pub struct InMemoryTransport {
    from: NodeId,
    peers: InMemoryPeers,
}

impl InMemoryTransport {
    /// `peers`: every node's inbox and its "alive" flag.
    pub fn new(from: NodeId, peers: InMemoryPeers) -> Self {
        InMemoryTransport { from, peers }
    }

    fn alive(&self, node: NodeId) -> bool {
        self.peers
            .get(&node)
            .is_some_and(|(_, alive)| alive.load(Ordering::Acquire))
    }
}

impl Transport for InMemoryTransport {
    fn send(&mut self, to: NodeId, envelopes: Vec<Envelope>) {
        // A dead node sends nothing (a crash), and nothing reaches it.
        if !self.alive(self.from) || !self.alive(to) {
            return;
        }
        if let Some((inbox, _)) = self.peers.get(&to) {
            inbox.push_many(envelopes.into_iter().map(NodeEvent::Remote));
        }
    }
}
