//! The compute pool of a node: threads that run task bodies, so that the node's control
//! thread never runs user code. Jobs arrive in batches on one queue per thread; results
//! go back to the node's inbox in batches.
//!
//! A task body may block on another value (a `get` inside a task). Its thread then
//! hands its queue, the jobs it has not started and the results it has not sent to a
//! stand-in thread (a standby one, or a new one), and finishes the blocked task alone;
//! afterwards it waits in standby for a queue to serve. So a task that waits for tasks
//! queued behind it never deadlocks the node, and the number of threads serving queues
//! stays the configured one (Ray does the same by releasing a blocked worker's CPU).

mod execute;

use crate::ids::NodeId;
use crate::registry::{ArgBytes, Registry, TaskContext};
use crate::runtime::event::{Computed, Job, NodeEvent, TaskOutput};
use crate::runtime::inbox::Inbox;
use crate::runtime::worker::{Worker, WorkerShared};
use crate::task::{TaskKind, TaskSpec};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How long a standby thread waits for a queue to serve before it exits.
const STANDBY_LINGER: Duration = Duration::from_secs(30);

/// The threads running task bodies for one node.
pub struct ComputePool {
    queues: Vec<Arc<Inbox<Job>>>,
    next: usize,
    shared: Arc<PoolShared>,
}

/// What the threads of a pool share.
struct PoolShared {
    node: NodeId,
    /// The node's executor worker: every task body runs as it.
    worker: Arc<WorkerShared>,
    registry: Arc<Registry>,
    results: Arc<Inbox<NodeEvent>>,
    spin: Duration,
    /// Queues handed off by blocked threads, waiting for a standby thread.
    handoffs: Mutex<VecDeque<Assignment>>,
    handoff_ready: Condvar,
    /// Threads waiting in standby.
    standby: AtomicUsize,
    /// Threads started so far (for their names).
    started: AtomicUsize,
    closed: AtomicBool,
}

/// A queue to serve, with the jobs already taken from it.
struct Assignment {
    queue: Arc<Inbox<Job>>,
    jobs: VecDeque<Job>,
}

/// What a thread serving a queue keeps where a blocking `get` can reach it.
struct Serving {
    pool: Arc<PoolShared>,
    queue: Arc<Inbox<Job>>,
    /// Jobs taken from the queue and not started.
    jobs: VecDeque<Job>,
    /// Finished jobs whose results are not sent yet.
    done: Vec<NodeEvent>,
    /// The running job: its tasks not started (when others may run them), its worker,
    /// and the results of its tasks so far.
    rest: VecDeque<(TaskSpec, Vec<ArgBytes>)>,
    partial: Computed,
    handed_off: bool,
}

thread_local! {
    static SERVING: RefCell<Option<Serving>> = const { RefCell::new(None) };
}

fn with_serving<R>(f: impl FnOnce(&mut Serving) -> R) -> Option<R> {
    SERVING.with(|cell| cell.borrow_mut().as_mut().map(f))
}

impl ComputePool {
    /// Starts `threads` threads running task bodies as `executor` (the node's executor
    /// worker), sending results to its node's inbox.
    pub fn start(executor: Arc<WorkerShared>, threads: usize) -> std::io::Result<Self> {
        let node = &executor.node;
        let shared = Arc::new(PoolShared {
            node: node.id,
            registry: node.registry.clone(),
            results: node.inbox.clone(),
            spin: node.spin,
            worker: executor.clone(),
            handoffs: Mutex::new(VecDeque::new()),
            handoff_ready: Condvar::new(),
            standby: AtomicUsize::new(0),
            started: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        });
        let mut queues = Vec::new();
        for _ in 0..threads.max(1) {
            let queue = Arc::new(Inbox::new());
            shared.spawn(Assignment {
                queue: queue.clone(),
                jobs: VecDeque::new(),
            })?;
            queues.push(queue);
        }
        Ok(ComputePool {
            queues,
            next: 0,
            shared,
        })
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
        self.shared.closed.store(true, Ordering::Release);
        for queue in &self.queues {
            queue.close();
        }
        let _guard = self.shared.handoffs.lock();
        self.shared.handoff_ready.notify_all();
    }
}

impl Drop for ComputePool {
    fn drop(&mut self) {
        self.stop();
    }
}

impl PoolShared {
    /// Starts a (detached: see `ComputePool::stop`) thread serving `first`.
    fn spawn(self: &Arc<Self>, first: Assignment) -> std::io::Result<()> {
        let index = self.started.fetch_add(1, Ordering::Relaxed);
        let pool = self.clone();
        std::thread::Builder::new()
            .name(format!("doreisa-{:?}-compute-{index}", self.node))
            .spawn(move || pool.thread_main(first))?;
        Ok(())
    }

    /// Serves queues until the pool closes (or it lingered in standby too long).
    fn thread_main(self: Arc<Self>, first: Assignment) {
        crate::runtime::get::before_blocking_on_this_thread(before_blocking);
        let mut next = Some(first);
        while let Some(assignment) = next {
            if !self.serve(assignment) {
                return;
            }
            next = self.wait_in_standby();
        }
    }

    /// Gives `assignment` to a standby thread, or to a new one.
    fn hand_off(self: &Arc<Self>, assignment: Assignment) {
        let mut handoffs = self.handoffs.lock().unwrap_or_else(|e| e.into_inner());
        if self.standby.load(Ordering::Acquire) > handoffs.len() {
            handoffs.push_back(assignment);
            self.handoff_ready.notify_one();
            return;
        }
        drop(handoffs);
        if let Err(e) = self.spawn(assignment) {
            // The queue has no server any more: its jobs are lost with the node's
            // ability to run them, which the node cannot recover from.
            tracing::error!(node = ?self.node, error = %e, "cannot start a compute thread");
        }
    }

    fn wait_in_standby(&self) -> Option<Assignment> {
        let mut handoffs = self.handoffs.lock().unwrap_or_else(|e| e.into_inner());
        self.standby.fetch_add(1, Ordering::AcqRel);
        let outcome = loop {
            if self.closed.load(Ordering::Acquire) {
                break None;
            }
            if let Some(assignment) = handoffs.pop_front() {
                break Some(assignment);
            }
            let (guard, timeout) = self
                .handoff_ready
                .wait_timeout(handoffs, STANDBY_LINGER)
                .unwrap_or_else(|e| e.into_inner());
            handoffs = guard;
            if timeout.timed_out() && handoffs.is_empty() {
                break None;
            }
        };
        self.standby.fetch_sub(1, Ordering::AcqRel);
        outcome
    }

    /// Runs the jobs of one queue; `true` if the queue was handed off (this thread is
    /// free again), `false` if the pool closed.
    fn serve(self: &Arc<Self>, assignment: Assignment) -> bool {
        let queue = assignment.queue;
        queue.become_consumer();
        SERVING.with(|cell| {
            *cell.borrow_mut() = Some(Serving {
                pool: self.clone(),
                queue: queue.clone(),
                jobs: assignment.jobs,
                done: Vec::new(),
                rest: VecDeque::new(),
                partial: Computed::default(),
                handed_off: false,
            })
        });
        let mut taken = Vec::new();
        let handed_off = loop {
            if queue.is_closed() {
                break false;
            }
            match with_serving(|s| s.jobs.pop_front()).flatten() {
                Some(job) => {
                    let computed = self.execute(job);
                    let handed_off = with_serving(|s| {
                        s.done.push(NodeEvent::Computed(Box::new(computed)));
                        s.handed_off
                    });
                    if handed_off == Some(true) {
                        break true;
                    }
                }
                None => {
                    let done = with_serving(|s| std::mem::take(&mut s.done)).unwrap_or_default();
                    if !done.is_empty() {
                        self.results.push_many(done);
                    }
                    if queue.drain_into(&mut taken) == 0 {
                        queue.wait_blocking(self.spin);
                    } else {
                        with_serving(|s| s.jobs.extend(taken.drain(..)));
                    }
                }
            }
        };
        if let Some(serving) = SERVING.with(|cell| cell.borrow_mut().take())
            && !serving.done.is_empty()
        {
            self.results.push_many(serving.done);
        }
        handed_off
    }

    /// Runs a job's task bodies in order. Tasks of functions that have not started yet
    /// stay where a blocked task can hand them to a stand-in thread.
    fn execute(&self, job: Job) -> Computed {
        let Job { tasks, actor } = job;
        let ctx = TaskContext {
            worker: self.worker.holder(),
            registry: self.registry.clone(),
        };
        let handle = Worker::new(self.worker.clone());
        let mut actor = actor;
        let shareable = actor.is_none()
            && tasks
                .iter()
                .all(|(spec, _)| matches!(spec.kind, TaskKind::Function(_)));
        let mut own = VecDeque::from(tasks);
        if shareable {
            with_serving(|s| s.rest = std::mem::take(&mut own));
        }
        loop {
            let next = if shareable {
                with_serving(|s| s.rest.pop_front()).flatten()
            } else {
                own.pop_front()
            };
            let Some((spec, args)) = next else { break };
            let outcome =
                handle.enter(|| execute::run_one(&spec, args, &self.registry, &ctx, &mut actor));
            with_serving(|s| match outcome {
                Ok(returned) => {
                    s.partial.keep.extend(returned.keep);
                    let outputs = returned
                        .values
                        .into_iter()
                        .map(|value| TaskOutput {
                            bytes: value.bytes,
                            nested: value.nested,
                        })
                        .collect();
                    s.partial.results.push((spec, Ok(outputs)));
                }
                Err(error) => s.partial.results.push((spec, Err(error.into()))),
            });
        }
        let mut computed = with_serving(|s| std::mem::take(&mut s.partial)).unwrap_or_default();
        computed.actor = actor;
        computed
    }
}

/// Called by a thread about to block on a value. On a compute thread serving a queue,
/// hands the queue over first: at once if work waits behind the blocked task (it may
/// be what the task waits for), else only when `waited` (the wait outlasted its spin).
fn before_blocking(waited: bool) {
    SERVING.with(|cell| {
        let mut slot = cell.borrow_mut();
        let Some(s) = slot.as_mut() else { return };
        if s.handed_off {
            return;
        }
        let work_behind = !s.jobs.is_empty() || !s.rest.is_empty() || s.queue.has_items();
        if !work_behind && !waited {
            return;
        }
        s.handed_off = true;
        // What this thread finished must not wait for the blocked task.
        let mut finished = std::mem::take(&mut s.done);
        if !s.partial.results.is_empty() {
            let partial = std::mem::take(&mut s.partial);
            finished.push(NodeEvent::Computed(Box::new(partial)));
        }
        if !finished.is_empty() {
            s.pool.results.push_many(finished);
        }
        let mut jobs = std::mem::take(&mut s.jobs);
        if !s.rest.is_empty() {
            jobs.push_front(Job {
                tasks: s.rest.drain(..).collect(),
                actor: None,
            });
        }
        tracing::debug!(node = ?s.pool.node, "a task blocks: its queue moves to a stand-in thread");
        let assignment = Assignment {
            queue: s.queue.clone(),
            jobs,
        };
        let pool = s.pool.clone();
        drop(slot);
        pool.hand_off(assignment);
    });
}
