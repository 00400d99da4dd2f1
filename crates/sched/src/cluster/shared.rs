//! What the scheduler keeps per process (a registry extension): the kernels, the plans
//! installed by this process's scheduling actors, and the mailboxes of this process's
//! runners; and the two runtime functions that use them.

use crate::plan::{NodePlan, run_node_fragment};
use crate::{KernelRegistry, SchedError};
use bytes::Bytes;
use doreisa_core::registry::{ArgBytes, Returned, TaskContext};
use doreisa_core::{Blob, CoreError, Mailboxes, NodeId, ObjectRef, Payload, Registry, Worker};
use rustc_hash::FxHashMap;
use std::sync::mpsc;
use std::sync::{Arc, RwLock};

/// Runs one fragment: plan id, the fragment's position in its node's plan, then the
/// fragment's inputs.
pub const FRAGMENT_FN: &str = "doreisa_sched::fragment";
/// Hands graph outputs to a runner of this process: mailbox, the run's timestep, output
/// positions, then the refs of the values (read here, so that failures arrive as
/// errors).
pub const DELIVER_FN: &str = "doreisa_sched::deliver";

/// What a runner's mailbox receives: the run's timestep, output positions and their
/// values, or why not.
pub type Delivery = (i64, Vec<u32>, Result<Vec<Bytes>, String>);

/// The scheduler's state in one process.
pub struct SchedShared {
    pub kernels: KernelRegistry,
    /// The node plans installed by this process's scheduling actors, by (plan, node).
    plans: RwLock<FxHashMap<(u64, NodeId), Arc<NodePlan>>>,
    mailboxes: Mailboxes<Delivery>,
}

impl SchedShared {
    pub fn new(kernels: KernelRegistry) -> Self {
        SchedShared {
            kernels,
            plans: RwLock::default(),
            mailboxes: Mailboxes::default(),
        }
    }

    /// The scheduler's state of the process `registry` belongs to.
    pub fn of(registry: &Registry) -> Result<Arc<SchedShared>, SchedError> {
        registry.extension::<SchedShared>().ok_or_else(|| {
            SchedError::InvalidGraph(
                "the scheduler is not registered (doreisa_sched::register)".into(),
            )
        })
    }

    pub fn install(&self, plan: Arc<NodePlan>) {
        self.plans
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((plan.plan, plan.node), plan);
    }

    pub fn forget(&self, plan: u64, node: NodeId) {
        self.plans
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(plan, node));
    }

    fn plan(&self, id: u64, node: NodeId) -> Option<Arc<NodePlan>> {
        self.plans
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(id, node))
            .cloned()
    }

    /// A new mailbox: its id (for deliveries) and where they arrive.
    pub fn open_mailbox(&self) -> (u64, mpsc::Receiver<Delivery>) {
        self.mailboxes.open()
    }

    pub fn close_mailbox(&self, id: u64) {
        self.mailboxes.close(id);
    }

    fn deliver(&self, mailbox: u64, delivery: Delivery) {
        self.mailboxes.send(mailbox, [delivery]);
    }
}

/// Registers the scheduler's functions and state with `kernels` (the actor class is
/// registered beside it: see `cluster::register`).
pub(crate) fn register_functions(registry: &mut Registry, kernels: KernelRegistry) {
    registry.insert_extension(SchedShared::new(kernels));
    registry.function(FRAGMENT_FN, fragment);
    registry.function(DELIVER_FN, deliver);
}

fn failed(e: impl std::fmt::Display) -> CoreError {
    CoreError::Failed(e.to_string())
}

fn fragment(ctx: &TaskContext, args: Vec<ArgBytes>) -> doreisa_core::Result<Returned> {
    let shared = SchedShared::of(ctx.registry()).map_err(failed)?;
    let mut args = args.into_iter();
    let plan_id: u64 = doreisa_core::registry::next_arg(ctx, &mut args)?;
    let position: u32 = doreisa_core::registry::next_arg(ctx, &mut args)?;
    let node = Worker::current()
        .ok_or_else(|| failed("a fragment outside a task"))?
        .node();
    let plan = shared
        .plan(plan_id, node)
        .ok_or_else(|| failed(format!("plan {plan_id} is not installed on {node:?}")))?;
    let fragment = plan.fragments.get(position as usize).ok_or_else(|| {
        failed(format!(
            "plan {plan_id} has no fragment at {position} on {node:?}"
        ))
    })?;
    let inputs: Vec<Bytes> = args
        .map(|arg| ctx.decode::<Blob>(arg).map(|blob| blob.0))
        .collect::<doreisa_core::Result<_>>()?;
    let outputs = run_node_fragment(fragment, &shared.kernels, &inputs).map_err(failed)?;
    let values = outputs
        .into_iter()
        .map(|bytes| Blob(bytes).encode_payload())
        .collect::<doreisa_core::Result<_>>()?;
    Ok(Returned { values, keep: None })
}

fn deliver(ctx: &TaskContext, args: Vec<ArgBytes>) -> doreisa_core::Result<Returned> {
    let shared = SchedShared::of(ctx.registry()).map_err(failed)?;
    let mut args = args.into_iter();
    let mailbox: u64 = doreisa_core::registry::next_arg(ctx, &mut args)?;
    let timestep: i64 = doreisa_core::registry::next_arg(ctx, &mut args)?;
    let positions: Vec<u32> = doreisa_core::registry::next_arg(ctx, &mut args)?;
    let refs: Vec<ObjectRef<Blob>> = doreisa_core::registry::next_arg(ctx, &mut args)?;
    let worker = Worker::current().ok_or_else(|| failed("deliver outside a task"))?;
    let values = worker
        .get_all(&refs)
        .map(|blobs| blobs.into_iter().map(|b| b.0).collect())
        .map_err(|e| e.to_string());
    shared.deliver(mailbox, (timestep, positions, values));
    Returned::one(())
}
