//! The compute pool of a node: threads that run task bodies, so that the node's control
//! thread never runs user code. Jobs arrive in batches; results go back to the node's
//! inbox in batches.

use crate::error::CoreError;
use crate::ids::ActorId;
use crate::ids::NodeId;
use crate::registry::{ActorInstance, ArgBytes, Registry, Returned, TaskContext};
use crate::runtime::event::{Computed, NodeEvent};
use crate::runtime::inbox::Inbox;
use crate::runtime::node::Job;
use crate::runtime::worker::Worker;
use crate::task::{TaskKind, TaskSpec};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

/// The threads running task bodies for one node.
pub struct ComputePool {
    queues: Vec<Arc<Inbox<Job>>>,
    next: usize,
}

impl ComputePool {
    pub fn start(
        node: NodeId,
        threads: usize,
        registry: Arc<Registry>,
        results: Arc<Inbox<NodeEvent>>,
        spin: Duration,
    ) -> std::io::Result<Self> {
        let mut pool = ComputePool {
            queues: Vec::new(),
            next: 0,
        };
        for i in 0..threads.max(1) {
            let queue = Arc::new(Inbox::new());
            let (registry, results, queue_for_thread) =
                (registry.clone(), results.clone(), queue.clone());
            // Detached: see `stop`.
            std::thread::Builder::new()
                .name(format!("doreisa-{node:?}-compute-{i}"))
                .spawn(move || run(queue_for_thread, registry, results, spin))?;
            pool.queues.push(queue);
        }
        Ok(pool)
    }

    /// Hands `jobs` to the threads (a contiguous share each, round robin).
    pub fn submit(&mut self, jobs: Vec<Job>) {
        if jobs.is_empty() {
            return;
        }
        let n = self.queues.len();
        if n == 1 || jobs.len() == 1 {
            let queue = &self.queues[self.next % n];
            self.next += 1;
            queue.push_many(jobs);
            return;
        }
        let per_thread = jobs.len().div_ceil(n);
        let mut jobs = jobs.into_iter();
        for _ in 0..n {
            let share: Vec<Job> = jobs.by_ref().take(per_thread).collect();
            let queue = &self.queues[self.next % n];
            self.next += 1;
            queue.push_many(share);
        }
    }

    /// Tells the threads to stop once they finish the task they run; queued jobs are
    /// dropped. Does not wait for them: a stopping (or crashing) node must not hang on
    /// user code that never returns. Their results go to a closed inbox and are lost.
    pub fn stop(&mut self) {
        for queue in &self.queues {
            queue.close();
        }
    }
}

impl Drop for ComputePool {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(
    queue: Arc<Inbox<Job>>,
    registry: Arc<Registry>,
    results: Arc<Inbox<NodeEvent>>,
    spin: Duration,
) {
    let mut jobs = Vec::new();
    let mut done = Vec::new();
    loop {
        queue.drain_into(&mut jobs);
        if queue.is_closed() {
            return;
        }
        for job in jobs.drain(..) {
            done.push(NodeEvent::Computed(Box::new(execute(job, &registry))));
        }
        if !done.is_empty() {
            results.push_many(done.drain(..));
            continue;
        }
        queue.wait_blocking(spin);
    }
}

/// Runs a job's task bodies in order; a panic becomes a task failure.
fn execute(job: Job, registry: &Registry) -> Computed {
    let Job {
        tasks,
        worker,
        actor,
    } = job;
    let ctx = TaskContext {
        worker: worker.clone(),
    };
    let worker = Worker::new(worker);
    let mut actor = actor;
    let mut results = Vec::with_capacity(tasks.len());
    let mut keep = Vec::new();
    for (spec, args) in tasks {
        let outcome = worker.enter(|| run_one(&spec, args, registry, &ctx, &mut actor));
        let outcome = outcome.map(|returned| {
            keep.extend(returned.keep);
            returned.values
        });
        results.push((spec, outcome));
    }
    Computed {
        results,
        keep,
        actor,
    }
}

fn run_one(
    spec: &TaskSpec,
    args: Vec<ArgBytes>,
    registry: &Registry,
    ctx: &TaskContext,
    actor: &mut Option<(ActorId, Box<dyn ActorInstance>)>,
) -> Result<Returned, CoreError> {
    let task = spec.task;
    let outcome = catch_unwind(AssertUnwindSafe(|| match &spec.kind {
        TaskKind::Function(name) => registry.lookup(name)?(ctx, args),
        TaskKind::CreateActor { actor: id, class } => {
            let instance = registry.actor(class)?(ctx, args)?;
            *actor = Some((*id, instance));
            Returned::one(())
        }
        TaskKind::Method { method, .. } => match actor.as_mut() {
            Some((_, instance)) => instance.call(ctx, method, args),
            None => Err(CoreError::Invalid("a method without its actor".into())),
        },
    }))
    .unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the task panicked".to_string());
        Err(CoreError::TaskFailed { task, message })
    });
    match outcome {
        Ok(returned) if returned.values.len() != spec.num_returns as usize => {
            Err(CoreError::TaskFailed {
                task,
                message: format!(
                    "returned {} values, {} expected",
                    returned.values.len(),
                    spec.num_returns
                ),
            })
        }
        other => other,
    }
}
