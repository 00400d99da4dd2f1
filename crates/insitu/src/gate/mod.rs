//! A node's gate: one actor per session and node, in the node's process. The bridges
//! publishing on the node (one per process with ranks there) send it their
//! declarations and, once per iteration, what their ranks published; it tells the
//! coordinator, in one message, once every bridge of the node is done with the
//! iteration. Declarations, ranks' numbers and closes pass through it too, so that the
//! coordinator sees each bridge's messages in the order the bridge sent them.
//!
//! A bridge that has not joined yet holds nothing back: its chunks of an iteration
//! already announced leave in a message of their own.
//!
//! Chunks that do not stay with their rank's process arrive here too ([`intake`]):
//! streamed in the call, or named in the node's shared memory. The gate stores them on
//! its node and publishes them to the node's scheduling actor.

mod intake;

pub(crate) use intake::register;

use crate::coordinator::CoordinatorAddress;
use crate::coordinator::state::Announced;
use crate::decl::ChunkDecl;
use crate::gather::Gather;
use crate::shm::{SharedChunk, SharedDir};
use doreisa_core::{Blob, NodeId, Worker};
use doreisa_sched::SourceKey;
use doreisa_sched::cluster::SchedulingActorAddress;

/// A gate's bookkeeping: the bridges' announcements, by timestep.
pub(crate) struct GateState {
    gather: Gather<Announced>,
}

impl GateState {
    pub fn new() -> Self {
        GateState {
            gather: Gather::new(0),
        }
    }

    pub fn join(&mut self, bridge: u64) {
        self.gather.join(bridge);
    }

    /// Bridge `bridge` is done through timestep `through`, having published
    /// `announced`; returns what goes to the coordinator now (nothing: empty).
    pub fn report(
        &mut self,
        bridge: u64,
        through: i64,
        announced: Vec<Announced>,
    ) -> Vec<Announced> {
        self.gather.join(bridge);
        for a in announced {
            self.gather.add(a.timestep, a);
        }
        self.gather.done_through(bridge, through);
        self.take()
    }

    /// Bridge `bridge` will publish nothing more.
    pub fn leave(&mut self, bridge: u64) -> Vec<Announced> {
        self.gather.close(bridge);
        self.take()
    }

    /// What may leave, one entry per timestep and array, oldest timestep first.
    fn take(&mut self) -> Vec<Announced> {
        let ready = self.gather.take_ready().timesteps.into_iter();
        ready
            .flat_map(|(timestep, announced)| {
                Announced::group(
                    timestep,
                    announced.into_iter().map(|a| (a.array, a.positions)),
                )
            })
            .collect()
    }
}

/// Calls the coordinator from this actor (calls from one caller run in order); a
/// failure is logged: the simulation goes on.
fn tell(
    what: &str,
    call: impl FnOnce(&Worker) -> doreisa_core::Result<doreisa_core::ObjectRef<u32>>,
) {
    let Some(worker) = Worker::current() else {
        tracing::error!("a gate called outside an actor call");
        return;
    };
    if let Err(e) = call(&worker) {
        tracing::error!(error = %e, what, "a gate cannot reach its coordinator");
    }
}

fn announce(coordinator: CoordinatorAddress, announced: Vec<Announced>) -> u32 {
    let count = announced.len() as u32;
    if !announced.is_empty() {
        tell("announce", |w| coordinator.announce_all(w, announced));
    }
    count
}

doreisa_core::actor! {
    /// A node's gate (see the module).
    pub struct NodeGate handle NodeGateHandle address NodeGateAddress {
        coordinator: CoordinatorAddress,
        scheduler: SchedulingActorAddress,
        state: GateState,
        /// Where processes on this host hand over chunks (made on first request).
        shared: Option<SharedDir>,
    }
    impl {
        fn new(coordinator: CoordinatorAddress, scheduler: SchedulingActorAddress) -> Self {
            NodeGate { coordinator, scheduler, state: GateState::new(), shared: None }
        }
        // The path of this node's shared memory directory, made on first request;
        // `None` where the host has none.
        fn shared_dir(&mut self) -> Option<String> {
            if self.shared.is_none() {
                match SharedDir::create() {
                    Ok(dir) => self.shared = dir,
                    Err(e) => tracing::warn!(error = %e, "no shared memory on this node"),
                }
            }
            self.shared.as_ref().map(|dir| dir.path().display().to_string())
        }
        // Chunks a process on this host wrote into this node's shared memory: the
        // mapped segments become this node's copies. Returns how many were taken
        // (once the answer came, the node mapped them all).
        fn publish_shared(&mut self, chunks: Vec<(SourceKey, SharedChunk)>) -> usize {
            let worker = Worker::current().expect("in an actor call");
            let stored = intake::adopt_shared(&worker, self.shared.as_ref(), chunks);
            self.forward(&worker, stored)
        }
        // Chunks sent in the call (in transit), one after the other in `packed`.
        fn publish_packed(&mut self, keys: Vec<(SourceKey, u64)>, packed: Blob) -> usize {
            let worker = Worker::current().expect("in an actor call");
            let stored = intake::store_packed(&worker, keys, packed);
            self.forward(&worker, stored)
        }
        fn join(&mut self, bridge: u64) -> u32 {
            self.state.join(bridge);
            0
        }
        // Rank `rank` of bridge `bridge` declares its chunks.
        fn declare(&mut self, bridge: u64, rank: u64, decls: Vec<ChunkDecl>, node: NodeId) -> u32 {
            let count = decls.len() as u32;
            let coordinator = self.coordinator;
            tell("declare", |w| coordinator.declare(w, bridge, rank, decls, node));
            count
        }
        // Rank `rank` of bridge `bridge` is rank `label` of its communicator.
        fn label(&mut self, bridge: u64, rank: u64, label: u64) -> u32 {
            let coordinator = self.coordinator;
            tell("label", |w| coordinator.label(w, bridge, rank, label));
            0
        }
        fn report(&mut self, bridge: u64, through: i64, announced: Vec<Announced>) -> u32 {
            announce(self.coordinator, self.state.report(bridge, through, announced))
        }
        // Rank `rank` of bridge `bridge` closed, after publishing up to `last`.
        fn rank_closed(&mut self, bridge: u64, rank: u64, last: Option<i64>) -> u32 {
            let coordinator = self.coordinator;
            tell("rank closed", |w| coordinator.rank_closed(w, bridge, rank, last));
            0
        }
        // Every rank of bridge `bridge` closed (`timestep`: their last; `None`: it had
        // none, or they published nothing).
        fn leave(&mut self, bridge: u64, timestep: Option<i64>) -> u32 {
            let count = announce(self.coordinator, self.state.leave(bridge));
            let coordinator = self.coordinator;
            tell("close", |w| coordinator.close(w, bridge, timestep));
            count
        }
    }
}

impl NodeGate {
    /// Publishes chunks stored here to the node's scheduling actor; how many.
    fn forward(
        &self,
        worker: &Worker,
        stored: Vec<(SourceKey, doreisa_core::ObjectRef<Blob>)>,
    ) -> usize {
        let count = stored.len();
        if count > 0
            && let Err(e) = self.scheduler.publish_many(worker, stored)
        {
            tracing::error!(error = %e, "a gate cannot reach its node's scheduling actor");
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(timestep: i64, array: &str, position: u32) -> Announced {
        Announced {
            timestep,
            array: array.to_string(),
            positions: vec![vec![position]],
        }
    }

    #[test]
    fn a_node_announces_an_iteration_once_every_bridge_is_done_with_it() {
        let mut gate = GateState::new();
        gate.join(1);
        gate.join(2);
        let first = vec![chunk(0, "t", 0), chunk(0, "u", 0)];
        assert!(gate.report(1, 0, first).is_empty(), "bridge 2 is not done");
        let sent = gate.report(2, 0, vec![chunk(0, "t", 1), chunk(0, "u", 1)]);
        let expected = vec![
            Announced {
                timestep: 0,
                array: "t".into(),
                positions: vec![vec![0], vec![1]],
            },
            Announced {
                timestep: 0,
                array: "u".into(),
                positions: vec![vec![0], vec![1]],
            },
        ];
        assert_eq!(sent, expected);
    }

    #[test]
    fn a_bridge_that_left_holds_nothing_back() {
        let mut gate = GateState::new();
        gate.join(1);
        gate.join(2);
        assert!(gate.report(2, 3, vec![chunk(3, "t", 1)]).is_empty());
        assert_eq!(gate.leave(1), vec![chunk(3, "t", 1)]);
        assert_eq!(
            gate.report(2, 4, vec![chunk(4, "t", 1)]),
            vec![chunk(4, "t", 1)]
        );
    }

    #[test]
    fn iterations_a_bridge_ran_ahead_leave_in_order() {
        let mut gate = GateState::new();
        gate.join(1);
        gate.join(2);
        gate.report(1, 1, vec![chunk(1, "t", 0)]);
        gate.report(1, 2, vec![chunk(2, "t", 0)]);
        let sent = gate.report(2, 2, vec![chunk(1, "t", 1), chunk(2, "t", 1)]);
        let steps: Vec<i64> = sent.iter().map(|a| a.timestep).collect();
        assert_eq!(steps, vec![1, 2]);
        assert!(sent.iter().all(|a| a.positions.len() == 2));
    }
}
