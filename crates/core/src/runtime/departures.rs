//! Death notices for code that waits on something other than an object: the nodes
//! that left the cluster, as this node heard of them, and who watches for which. A
//! thread waiting for an actor to call it back (a bridge waiting for its analytics'
//! notices, say) learns so that the actor is gone, instead of waiting out its bound.

use crate::ids::NodeId;
use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// What a watch runs once a node it watches left: given that node.
type OnDeparture = Box<dyn FnOnce(NodeId) + Send>;

#[derive(Default)]
struct Inner {
    departed: FxHashSet<NodeId>,
    watches: FxHashMap<u64, (Vec<NodeId>, OnDeparture)>,
    next: u64,
}

/// The departures one node heard of, and the watches on them.
#[derive(Default)]
pub struct Departures {
    inner: Mutex<Inner>,
}

impl Departures {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `node` left the cluster (as far as this node heard).
    pub fn has_left(&self, node: NodeId) -> bool {
        self.lock().departed.contains(&node)
    }

    /// Runs `on_departure` once, with the node, when the first of `nodes` leaves the
    /// cluster: at once (on this thread) if one left already. Dropping the watch first
    /// cancels it.
    pub fn watch(
        self: &Arc<Self>,
        nodes: Vec<NodeId>,
        on_departure: impl FnOnce(NodeId) + Send + 'static,
    ) -> DepartureWatch {
        let mut inner = self.lock();
        if let Some(&gone) = nodes.iter().find(|n| inner.departed.contains(n)) {
            drop(inner);
            on_departure(gone);
            return DepartureWatch {
                departures: Weak::new(),
                id: 0,
            };
        }
        inner.next += 1;
        let id = inner.next;
        inner.watches.insert(id, (nodes, Box::new(on_departure)));
        DepartureWatch {
            departures: Arc::downgrade(self),
            id,
        }
    }

    /// `node` left the cluster: runs the watches on it (outside the lock, so that they
    /// may watch again or drop other watches).
    pub fn left(&self, node: NodeId) {
        let due: Vec<OnDeparture> = {
            let mut inner = self.lock();
            if !inner.departed.insert(node) {
                return;
            }
            let ids: Vec<u64> = inner
                .watches
                .iter()
                .filter(|(_, (nodes, _))| nodes.contains(&node))
                .map(|(&id, _)| id)
                .collect();
            ids.iter()
                .filter_map(|id| inner.watches.remove(id))
                .map(|(_, on_departure)| on_departure)
                .collect()
        };
        for on_departure in due {
            on_departure(node);
        }
    }

    /// How many watches wait (for tests: a dropped watch leaves nothing behind).
    pub fn watching(&self) -> usize {
        self.lock().watches.len()
    }
}

/// A watch set with [`Departures::watch`]; dropping it cancels it.
pub struct DepartureWatch {
    departures: Weak<Departures>,
    id: u64,
}

impl std::fmt::Debug for DepartureWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DepartureWatch({})", self.id)
    }
}

impl Drop for DepartureWatch {
    fn drop(&mut self) {
        if let Some(departures) = self.departures.upgrade() {
            departures.lock().watches.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn watched(
        departures: &Arc<Departures>,
        nodes: &[u64],
    ) -> (DepartureWatch, mpsc::Receiver<NodeId>) {
        let (send, told) = mpsc::channel();
        let nodes = nodes.iter().map(|&n| NodeId(n)).collect();
        let watch = departures.watch(nodes, move |node| {
            let _ = send.send(node);
        });
        (watch, told)
    }

    #[test]
    fn a_watch_runs_once_when_the_first_of_its_nodes_leaves() {
        let departures = Arc::new(Departures::default());
        let (_watch, told) = watched(&departures, &[1, 2]);
        departures.left(NodeId(3));
        assert!(told.try_recv().is_err());
        departures.left(NodeId(2));
        assert_eq!(told.try_recv(), Ok(NodeId(2)));
        departures.left(NodeId(1));
        assert!(told.try_recv().is_err(), "told twice");
        assert_eq!(departures.watching(), 0);
    }

    #[test]
    fn a_watch_on_a_node_gone_already_runs_at_once() {
        let departures = Arc::new(Departures::default());
        departures.left(NodeId(1));
        let (_watch, told) = watched(&departures, &[1]);
        assert_eq!(told.try_recv(), Ok(NodeId(1)));
        assert_eq!(departures.watching(), 0);
        assert!(departures.has_left(NodeId(1)));
    }

    #[test]
    fn a_dropped_watch_never_runs_and_leaves_nothing() {
        let departures = Arc::new(Departures::default());
        let (watch, told) = watched(&departures, &[1]);
        drop(watch);
        assert_eq!(departures.watching(), 0);
        departures.left(NodeId(1));
        assert!(told.try_recv().is_err());
    }
}
