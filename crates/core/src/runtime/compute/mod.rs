//! The compute pool: threads that run task bodies, so that no node's control thread
//! ever runs user code. One pool serves one node (a process node) or every virtual
//! node of an embedded cluster: each job carries the executor worker of the node it
//! runs for, and its results go back to that node's inbox. So an embedded cluster of
//! any size runs on a fixed number of threads, and an idle node costs none.
//!
//! Jobs arrive in batches on one queue per thread; results go back in batches, one
//! push per node inbox. A job of a node that stopped (its inbox closed) is dropped
//! unrun.
//!
//! A task body may block on another value (a `get` inside a task). Its thread then
//! hands its queue, the jobs it has not started and the results it has not sent to a
//! stand-in thread (a standby one, or a new one), and finishes the blocked task alone;
//! afterwards it waits in standby for a queue to serve. So a task that waits for tasks
//! queued behind it never deadlocks, and the number of threads serving queues stays
//! the configured one (Ray does the same by releasing a blocked worker's CPU).

mod execute;

use crate::registry::{ArgBytes, TaskContext};
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

/// A job and the executor worker of the node it runs for.
pub struct Assigned {
    worker: Arc<WorkerShared>,
    job: Job,
}

/// The threads running task bodies for one node, or for the nodes of an embedded
/// cluster. Stops when dropped (see [`ComputePool::stop`]).
pub struct ComputePool {
    queues: Vec<Arc<Inbox<Assigned>>>,
    next: AtomicUsize,
    shared: Arc<PoolShared>,
}

/// What the threads of a pool share.
struct PoolShared {
    /// Names the pool's threads.
    name: String,
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
    queue: Arc<Inbox<Assigned>>,
    jobs: VecDeque<Assigned>,
}

/// What a thread serving a queue keeps where a blocking `get` can reach it.
struct Serving {
    pool: Arc<PoolShared>,
    queue: Arc<Inbox<Assigned>>,
    /// Jobs taken from the queue and not started.
    jobs: VecDeque<Assigned>,
    /// Finished jobs whose results are not sent yet, with the inbox each goes to.
    done: Vec<(Arc<Inbox<NodeEvent>>, NodeEvent)>,
    /// The running job: its tasks not started (when others may run them), its worker,
    /// and the results of its tasks so far.
    rest: VecDeque<(TaskSpec, Vec<ArgBytes>)>,
    running: Option<Arc<WorkerShared>>,
    partial: Computed,
    handed_off: bool,
}

thread_local! {
    static SERVING: RefCell<Option<Serving>> = const { RefCell::new(None) };
}

fn with_serving<R>(f: impl FnOnce(&mut Serving) -> R) -> Option<R> {
    SERVING.with(|cell| cell.borrow_mut().as_mut().map(f))
}

/// Pushes results to their nodes' inboxes, one push per run of the same inbox.
fn send_results(results: Vec<(Arc<Inbox<NodeEvent>>, NodeEvent)>) {
    let mut batch: Vec<NodeEvent> = Vec::new();
    let mut target: Option<Arc<Inbox<NodeEvent>>> = None;
    for (inbox, event) in results {
        if let Some(current) = &target
            && !Arc::ptr_eq(current, &inbox)
        {
            current.push_many(std::mem::take(&mut batch));
        }
        target = Some(inbox);
        batch.push(event);
    }
    if let Some(current) = target {
        current.push_many(batch);
    }
}

impl ComputePool {
    /// Starts `threads` threads (named after `name`) that poll for `spin` before they
    /// park when idle.
    pub fn start(name: &str, threads: usize, spin: Duration) -> std::io::Result<Arc<Self>> {
        let shared = Arc::new(PoolShared {
            name: name.to_string(),
            spin,
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
        Ok(Arc::new(ComputePool {
            queues,
            next: AtomicUsize::new(0),
            shared,
        }))
    }

    /// Hands `jobs` of the node of `worker` (its executor) to the threads: a
    /// contiguous share each, round robin.
    pub fn submit(&self, worker: &Arc<WorkerShared>, jobs: Vec<Job>) {
        if jobs.is_empty() {
            return;
        }
        let assigned = jobs.into_iter().map(|job| Assigned {
            worker: worker.clone(),
            job,
        });
        let n = self.queues.len();
        let count = assigned.len();
        if n == 1 || count == 1 {
            let turn = self.next.fetch_add(1, Ordering::Relaxed);
            self.queues[turn % n].push_many(assigned);
            return;
        }
        let per_thread = count.div_ceil(n);
        let mut assigned = assigned;
        for _ in 0..n {
            let share: Vec<Assigned> = assigned.by_ref().take(per_thread).collect();
            if share.is_empty() {
                break;
            }
            let turn = self.next.fetch_add(1, Ordering::Relaxed);
            self.queues[turn % n].push_many(share);
        }
    }

    /// Tells the threads to stop once they finish the task they run; queued jobs are
    /// dropped. Does not wait for them: a stopping (or crashing) cluster must not hang
    /// on user code that never returns. Their results go to closed inboxes and are lost.
    pub fn stop(&self) {
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
            .name(format!("doreisa-{}-compute-{index}", self.name))
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
            // The queue has no server any more: its jobs are lost with the pool's
            // ability to run them, which it cannot recover from.
            tracing::error!(pool = %self.name, error = %e, "cannot start a compute thread");
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
                running: None,
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
                Some(assigned) => {
                    let Some((inbox, computed)) = self.execute(assigned) else {
                        continue;
                    };
                    let handed_off = with_serving(|s| {
                        s.done
                            .push((inbox, NodeEvent::Computed(Box::new(computed))));
                        s.handed_off
                    });
                    if handed_off == Some(true) {
                        break true;
                    }
                }
                None => {
                    let done = with_serving(|s| std::mem::take(&mut s.done)).unwrap_or_default();
                    send_results(done);
                    if queue.drain_into(&mut taken) == 0 {
                        queue.wait_blocking(self.spin);
                    } else {
                        with_serving(|s| s.jobs.extend(taken.drain(..)));
                    }
                }
            }
        };
        if let Some(serving) = SERVING.with(|cell| cell.borrow_mut().take()) {
            send_results(serving.done);
        }
        handed_off
    }

    /// Runs a job's task bodies in order, as its node's executor; returns the node's
    /// inbox and the results (`None` for the job of a node that stopped). Tasks of
    /// functions that have not started yet stay where a blocked task can hand them to
    /// a stand-in thread.
    fn execute(&self, assigned: Assigned) -> Option<(Arc<Inbox<NodeEvent>>, Computed)> {
        let Assigned { worker, job } = assigned;
        let inbox = worker.node.inbox.clone();
        if inbox.is_closed() {
            return None;
        }
        let Job { tasks, actor } = job;
        let registry = worker.node.registry.clone();
        let ctx = TaskContext {
            worker: worker.holder(),
            registry: registry.clone(),
        };
        let handle = Worker::new(worker.clone());
        let mut actor = actor;
        let shareable = actor.is_none()
            && tasks
                .iter()
                .all(|(spec, _)| matches!(spec.kind, TaskKind::Function(_)));
        let mut own = VecDeque::from(tasks);
        with_serving(|s| {
            s.running = Some(worker.clone());
            if shareable {
                s.rest = std::mem::take(&mut own);
            }
        });
        loop {
            let next = if shareable {
                with_serving(|s| s.rest.pop_front()).flatten()
            } else {
                own.pop_front()
            };
            let Some((spec, args)) = next else { break };
            let outcome =
                handle.enter(|| execute::run_one(&spec, args, &registry, &ctx, &mut actor));
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
        let mut computed = with_serving(|s| {
            s.running = None;
            std::mem::take(&mut s.partial)
        })
        .unwrap_or_default();
        computed.actor = actor;
        Some((inbox, computed))
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
        if !s.partial.results.is_empty()
            && let Some(worker) = &s.running
        {
            let partial = std::mem::take(&mut s.partial);
            finished.push((
                worker.node.inbox.clone(),
                NodeEvent::Computed(Box::new(partial)),
            ));
        }
        send_results(finished);
        let mut jobs = std::mem::take(&mut s.jobs);
        if !s.rest.is_empty() {
            let worker = s.running.clone().expect("a running job's worker");
            jobs.push_front(Assigned {
                worker,
                job: Job {
                    tasks: s.rest.drain(..).collect(),
                    actor: None,
                },
            });
        }
        tracing::debug!(pool = %s.pool.name, "a task blocks: its queue moves to a stand-in thread");
        let assignment = Assignment {
            queue: s.queue.clone(),
            jobs,
        };
        let pool = s.pool.clone();
        drop(slot);
        pool.hand_off(assignment);
    });
}
