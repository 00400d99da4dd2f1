//! The coordinator: one actor per session, on the analytics' node. Each node's gate
//! forwards what its bridges' ranks declare and when they close, and announces the
//! node's chunks of an iteration in one message; the coordinator tells the analytics
//! (through a channel of the analytics' process) when a timestep of an array is
//! complete or can never be, keeps steering values, and tells the bridges (through
//! their inboxes) how far the analytics got and the steering values they wait for.

pub mod state;

use crate::contract::Contract;
use crate::decl::ChunkDecl;
use crate::inbox::BridgeInboxAddress;
use crate::notice::Registration;
use crate::stall::Stall;
use doreisa_core::{Mailboxes, NodeId, ObjectRef, Worker};
use state::{Announced, CoordinatorState, Event, Progress, Pushes};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, mpsc};

/// The in situ layer's state in one process (a registry extension): where each
/// session's events go.
#[derive(Default)]
pub struct InsituShared {
    sessions: Mailboxes<Event>,
    /// Per session: timesteps below this are skipped by the analytics (drop-oldest).
    /// Read by the analytics before each timestep, not queued behind its events.
    skip_below: Mutex<HashMap<u64, i64>>,
}

impl InsituShared {
    /// A new session's id and where its events arrive.
    pub fn open(&self) -> (u64, mpsc::Receiver<Event>) {
        self.sessions.open()
    }

    pub fn close(&self, id: u64) {
        self.sessions.close(id);
        self.skips().remove(&id);
    }

    fn skips(&self) -> std::sync::MutexGuard<'_, HashMap<u64, i64>> {
        self.skip_below.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Session `id`'s analytics skips the timesteps below `timestep` it has not started.
    pub fn skip_below(&self, id: u64, timestep: i64) {
        let mut skips = self.skips();
        let below = skips.entry(id).or_insert(timestep);
        *below = (*below).max(timestep);
    }

    /// Below which timestep session `id`'s analytics skips, if it does.
    pub fn skipping_below(&self, id: u64) -> Option<i64> {
        self.skips().get(&id).copied()
    }

    fn emit(&self, id: u64, events: Vec<Event>) {
        self.sessions.send(id, events);
    }
}

/// Registers the coordinator's actor class and state.
pub(crate) fn register(registry: &mut doreisa_core::Registry) {
    registry.insert_extension(InsituShared::default());
    Coordinator::register(registry);
}

/// The in situ state of the coordinator's process.
fn shared() -> Option<std::sync::Arc<InsituShared>> {
    let shared = Worker::current().and_then(|w| w.registry().extension::<InsituShared>());
    if shared.is_none() {
        tracing::error!("the in situ layer is not registered on the coordinator's node");
    }
    shared
}

fn emit(session: u64, events: Vec<Event>) -> u32 {
    let count = events.len() as u32;
    if !events.is_empty()
        && let Some(shared) = shared()
    {
        shared.emit(session, events);
    }
    count
}

doreisa_core::actor! {
    /// A session's coordinator (see the module).
    pub struct Coordinator handle CoordinatorHandle address CoordinatorAddress {
        session: u64,
        state: CoordinatorState,
        /// Each bridge's inbox, by bridge number.
        inboxes: BTreeMap<u64, BridgeInboxAddress>,
        /// The answer to the last notice sent to each bridge, kept so that a bridge gone
        /// (its process ended, or dropped) fails its calls quietly.
        pushed: BTreeMap<u64, ObjectRef<bool>>,
    }
    impl {
        fn new(session: u64, feedback_keep: u64) -> Self {
            Coordinator {
                session,
                state: CoordinatorState::new(feedback_keep as usize),
                inboxes: BTreeMap::new(),
                pushed: BTreeMap::new(),
            }
        }
        // A bridge for `ranks` ranks on `node`, whose notices go to `inbox`; `contract`:
        // it sends chunks by the analytics' contract.
        fn register_bridge(
            &mut self,
            node: NodeId,
            ranks: u64,
            inbox: Option<BridgeInboxAddress>,
            contract: bool
        ) -> Registration {
            let registration = self.state.register_bridge(node, ranks, inbox.is_some(), contract);
            if let Some(inbox) = inbox {
                self.inboxes.insert(registration.id, inbox);
            }
            registration
        }
        fn declare(&mut self, bridge: u64, rank: u64, decls: Vec<ChunkDecl>, node: NodeId) -> u32 {
            let events = decls
                .into_iter()
                .flat_map(|d| self.state.declare(bridge, rank, d, node))
                .collect();
            emit(self.session, events)
        }
        fn label(&mut self, bridge: u64, rank: u64, label: u64) -> u32 {
            self.state.label(bridge, rank, label);
            0
        }
        fn rank_closed(&mut self, bridge: u64, rank: u64, last: Option<i64>) -> u32 {
            let events = self.state.rank_closed(bridge, rank, last);
            emit(self.session, events)
        }
        fn announce_all(&mut self, announced: Vec<Announced>) -> u32 {
            let events = self.state.announce_all(announced);
            emit(self.session, events)
        }
        fn announce_messages(&mut self) -> u64 { self.state.announce_messages() }
        fn close(&mut self, bridge: u64, timestep: Option<i64>) -> u32 {
            let events = self.state.close(bridge, timestep);
            emit(self.session, events)
        }
        fn set_feedback(&mut self, key: String, timestep: i64, value: Vec<u8>) -> Result<(), String> {
            let pushes = self.state.set_feedback(&key, timestep, value).map_err(|e| e.to_string())?;
            self.push(pushes);
            Ok(())
        }
        fn feedback(&mut self, key: String, timestep: Option<i64>) -> Option<(i64, Vec<u8>)> {
            self.state.feedback(&key, timestep)
        }
        fn watch_feedback(&mut self, bridge: u64, key: String, timestep: i64) -> u32 {
            let pushes = self.state.watch_feedback(bridge, &key, timestep);
            self.push(pushes).len() as u32
        }
        // The analytics' progress; returns the notices it caused, to wait for (once the
        // analytics stopped, so that they reach the bridges before its process ends).
        fn set_progress(&mut self, progress: Progress) -> Vec<ObjectRef<bool>> {
            let pushes = self.state.set_progress(progress);
            let sent = self.push(pushes);
            if progress.stopped { sent } else { Vec::new() }
        }
        fn progress(&mut self) -> Progress { self.state.progress() }
        fn set_contract(&mut self, contract: Contract) -> u32 {
            let pushes = self.state.set_contract(contract);
            self.push(pushes).len() as u32
        }
        fn contract(&mut self) -> Contract { self.state.contract() }
        fn skip_below(&mut self, timestep: i64) -> u32 {
            if let Some(shared) = shared() {
                shared.skip_below(self.session, timestep);
            }
            0
        }
        // What the analytics waits for, when it waited in vain.
        fn stall(&mut self) -> Stall { self.state.stall() }
    }
}

impl Coordinator {
    /// Sends notices to the bridges' inboxes; returns the answers' refs. A bridge gone
    /// (its process ended, or dropped) fails its call, which nobody reads.
    fn push(&mut self, pushes: Pushes) -> Vec<ObjectRef<bool>> {
        if pushes.is_empty() {
            return Vec::new();
        }
        let Some(worker) = Worker::current() else {
            tracing::error!("a coordinator called outside an actor call");
            return Vec::new();
        };
        pushes
            .into_iter()
            .filter_map(|(bridge, notice)| {
                let inbox = self.inboxes.get(&bridge)?;
                match inbox.notice(&worker, notice) {
                    Ok(sent) => {
                        self.pushed.insert(bridge, sent.clone());
                        Some(sent)
                    }
                    Err(e) => {
                        tracing::warn!(bridge, error = %e, "a bridge's inbox is out of reach");
                        None
                    }
                }
            })
            .collect()
    }
}
