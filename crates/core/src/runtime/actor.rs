//! The node actor: the thin actix shell around [`NodeState`]. It pumps the node's inbox
//! in batches into the state, then carries out the outbox (messages to other nodes
//! through the transport, jobs to the compute pool). Control requests (status) come as
//! actix messages.

use crate::runtime::compute::ComputePool;
use crate::runtime::event::{Envelope, NodeEvent, fill_all, fill_all_stopped};
use crate::runtime::inbox::Inbox;
use crate::runtime::node::NodeState;
use crate::runtime::transport::Transport;
use crate::runtime::worker::{NodeShared, WorkerShared};
use actix::prelude::*;
use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::time::Duration;

pub use doreisa_proto::node::NodeStatus;

/// Called if the node's state machine panics (a bug): the node leaves the cluster as
/// if it had crashed. Gets the node and the workers it hosted.
pub type CrashHook = Box<dyn FnOnce(crate::NodeId, Vec<crate::WorkerId>) + Send>;

/// Called once the node has stopped (everyone waiting on it told).
pub type StopHook = Box<dyn FnOnce() + Send>;

/// The actor running one node.
pub struct NodeActor {
    state: NodeState,
    shared: Arc<NodeShared>,
    on_crash: Option<CrashHook>,
    on_stop: Option<StopHook>,
    inbox: Arc<Inbox<NodeEvent>>,
    /// Runs the node's task bodies (shared with the other nodes of an embedded cluster).
    pool: Arc<ComputePool>,
    /// The node's executor worker: the pool runs its jobs as it.
    executor: Arc<WorkerShared>,
    /// Whether the actix system stops with this node (a process node's own system;
    /// not a thread shared by the virtual nodes of an embedded cluster).
    stops_system: bool,
    transport: Box<dyn Transport>,
    spin: Duration,
    batch: Vec<NodeEvent>,
    by_node: FxHashMap<crate::NodeId, Vec<Envelope>>,
}

impl NodeActor {
    pub fn new(
        state: NodeState,
        shared: Arc<NodeShared>,
        executor: Arc<WorkerShared>,
        pool: Arc<ComputePool>,
        transport: Box<dyn Transport>,
    ) -> Self {
        let inbox = shared.inbox.clone();
        let spin = shared.spin;
        NodeActor {
            state,
            shared,
            on_crash: None,
            on_stop: None,
            inbox,
            pool,
            executor,
            stops_system: false,
            transport,
            spin,
            batch: Vec::new(),
            by_node: FxHashMap::default(),
        }
    }

    /// Stops the actix system this node runs in when the node stops (a process node).
    pub fn stops_system(mut self) -> Self {
        self.stops_system = true;
        self
    }

    /// What to do once the node has stopped.
    pub fn on_stop(mut self, hook: StopHook) -> Self {
        self.on_stop = Some(hook);
        self
    }

    /// How long the node polls its inbox before it parks (none: the thread is shared
    /// with other nodes, which polling would hold up).
    pub fn inbox_spin(mut self, spin: Duration) -> Self {
        self.spin = spin;
        self
    }

    /// What to do if the state machine panics.
    pub fn on_crash(mut self, hook: CrashHook) -> Self {
        self.on_crash = Some(hook);
        self
    }

    /// Waits for the inbox, handles what is there, and schedules itself again.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        let inbox = self.inbox.clone();
        let spin = self.spin;
        ctx.spawn(
            async move { inbox.wait_async(spin).await }
                .into_actor(self)
                .map(|_, actor, ctx| {
                    let drained =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| actor.drain()));
                    if drained.is_err() {
                        let node = actor.state.id;
                        tracing::error!(
                            ?node,
                            "the node's state machine panicked: the node leaves the cluster"
                        );
                        if let Some(hook) = actor.on_crash.take() {
                            hook(node, actor.state.worker_ids());
                        }
                        actor.inbox.close();
                    }
                    if actor.state.out.stop || actor.inbox.is_closed() {
                        actor.inbox.close();
                        let mut leftovers = std::mem::take(&mut actor.batch);
                        actor.inbox.drain_into(&mut leftovers);
                        actor.state.stopped(leftovers);
                        fill_all_stopped(
                            std::mem::take(&mut actor.state.out.fills),
                            &actor.shared.stopped_error(),
                        );
                        if let Some(hook) = actor.on_stop.take() {
                            hook();
                        }
                        ctx.stop();
                        if actor.stops_system {
                            System::current().stop();
                        }
                    } else {
                        actor.pump(ctx);
                    }
                }),
        );
    }

    fn drain(&mut self) {
        let mut departed = Vec::new();
        while self.inbox.drain_into(&mut self.batch) > 0 {
            for event in self.batch.drain(..) {
                if let NodeEvent::NodeLeft { node, .. } = &event {
                    departed.push(*node);
                }
                self.state.handle(event);
                if self.state.out.stop {
                    return;
                }
            }
            self.flush();
            // Once the state failed what the departure fails: the watches of those
            // who wait on something else than an object.
            for node in departed.drain(..) {
                self.shared.departures.left(node);
            }
        }
    }

    /// Carries out the outbox.
    fn flush(&mut self) {
        let out = std::mem::take(&mut self.state.out);
        let (from, epoch) = (self.state.id, self.state.epoch());
        for (node, message) in out.messages {
            self.by_node.entry(node).or_default().push(Envelope {
                from,
                epoch,
                message,
            });
        }
        for (node, envelopes) in self.by_node.iter_mut() {
            if !envelopes.is_empty() {
                self.transport.send(*node, std::mem::take(envelopes));
            }
        }
        for (node, takes_tasks) in out.spread {
            self.shared.set_node(node, takes_tasks);
        }
        self.pool.submit(&self.executor, out.jobs);
        fill_all(out.fills);
    }
}

impl Actor for NodeActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.pump(ctx);
    }
}

/// Asks a node for a readable dump of every reference-table record it holds
/// (diagnostics: what keeps a value alive).
#[derive(Message)]
#[rtype(result = "Vec<String>")]
pub struct GetRecords;

impl Handler<GetRecords> for NodeActor {
    type Result = MessageResult<GetRecords>;

    fn handle(&mut self, _: GetRecords, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.state.describe_records())
    }
}

/// Asks a node for its [`NodeStatus`].
#[derive(Message)]
#[rtype(result = "NodeStatus")]
pub struct GetStatus;

impl Handler<GetStatus> for NodeActor {
    type Result = MessageResult<GetStatus>;

    fn handle(&mut self, _: GetStatus, _: &mut Self::Context) -> Self::Result {
        let (pending, waiting, running) = self.state.task_counts();
        MessageResult(NodeStatus {
            node: self.state.id,
            records: self.state.records(),
            pending_tasks: pending,
            waiting_tasks: waiting,
            running_tasks: running,
            actors: self.state.actor_count(),
            counters: self.state.counters.clone(),
            store: crate::runtime::store_summary(&self.state.host().store),
        })
    }
}
