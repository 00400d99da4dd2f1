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
//!
//! A task body may also just take long, or wait on something without saying so (see
//! `core::blocking`). Jobs are therefore sent to a queue whose server is not running a
//! job when there is one (if all are, the first thread to be free takes them), and a
//! thread whose queue runs dry, or an idle one every `LOOK_AROUND` (50 ms), takes from the
//! lane of a thread that is running a job its waiting jobs and the tasks of its job not
//! started, and sends the results it finished. So a long task holds up only its own
//! thread, never the jobs or results of the nodes that share the pool for longer than
//! that, and the hot path of short jobs pays no wake-up for it.

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

/// How often an idle thread looks at the other lanes for jobs and results held up
/// behind a long job (a bound on how long they wait; costs an idle thread a wake-up).
const LOOK_AROUND: Duration = Duration::from_millis(50);

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
    lanes: Arc<[Arc<Lane>]>,
    next: AtomicUsize,
    shared: Arc<PoolShared>,
}

/// One queue of jobs, and whether its server is running a job now (its queue may then
/// wait: other threads take from it, and the tasks of the running job not started).
struct Lane {
    queue: Arc<Inbox<Assigned>>,
    busy: AtomicBool,
    running: Mutex<RunningJob>,
}

/// What a lane's server took and has not started: jobs taken from its queue, and the
/// tasks of its running job not started when any thread may run them (plain
/// functions, no actor), with the worker they run for. Other threads take them while
/// the server runs a job.
#[derive(Default)]
struct RunningJob {
    pending: VecDeque<Assigned>,
    /// Finished jobs whose results are not sent yet, with the inbox each goes to (sent
    /// in one batch when the server runs dry, or by a thread taking from the lane).
    done: Vec<(Arc<Inbox<NodeEvent>>, NodeEvent)>,
    worker: Option<Arc<WorkerShared>>,
    rest: VecDeque<(TaskSpec, Vec<ArgBytes>)>,
}

impl Lane {
    fn running(&self) -> std::sync::MutexGuard<'_, RunningJob> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends the results of the finished jobs.
    fn send_done(&self) {
        let done = std::mem::take(&mut self.running().done);
        send_results(done);
    }

    /// The running job's tasks not started, as a job of their own.
    fn take_rest(&self) -> Option<Assigned> {
        let mut running = self.running();
        if running.rest.is_empty() {
            return None;
        }
        let worker = running.worker.clone()?;
        Some(Assigned {
            worker,
            job: Job {
                tasks: running.rest.drain(..).collect(),
                actor: None,
            },
        })
    }
}

/// What the threads of a pool share.
struct PoolShared {
    lanes: Arc<[Arc<Lane>]>,
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

/// A queue to serve (the jobs already taken from it wait in its lane).
struct Assignment {
    queue: Arc<Inbox<Assigned>>,
}

/// What a thread serving a queue keeps where a blocking `get` can reach it.
struct Serving {
    pool: Arc<PoolShared>,
    queue: Arc<Inbox<Assigned>>,
    /// The lane of `queue` (where the running job's tasks not started wait).
    lane: Arc<Lane>,
    /// The running job's worker and the results of its tasks so far.
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

/// Wakes the threads of the lanes other than `busy`'s that run no job, so that they
/// take what waits in the busy one's queue.
fn nudge_idle(lanes: &[Arc<Lane>], busy: &Arc<Inbox<Assigned>>) {
    for lane in lanes {
        if !Arc::ptr_eq(&lane.queue, busy) && !lane.busy.load(Ordering::SeqCst) {
            lane.queue.nudge();
        }
    }
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
        let lanes: Arc<[Arc<Lane>]> = (0..threads.max(1))
            .map(|_| {
                Arc::new(Lane {
                    queue: Arc::new(Inbox::new()),
                    busy: AtomicBool::new(false),
                    running: Mutex::default(),
                })
            })
            .collect();
        let shared = Arc::new(PoolShared {
            lanes: lanes.clone(),
            name: name.to_string(),
            spin,
            handoffs: Mutex::new(VecDeque::new()),
            handoff_ready: Condvar::new(),
            standby: AtomicUsize::new(0),
            started: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        });
        for lane in lanes.iter() {
            shared.spawn(Assignment {
                queue: lane.queue.clone(),
            })?;
        }
        Ok(Arc::new(ComputePool {
            lanes,
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
        let n = self.lanes.len();
        let count = assigned.len();
        let mut order = self.lane_order();
        if n == 1 || count == 1 {
            let lane = order.next().unwrap_or(0);
            self.push_to(lane, assigned);
            return;
        }
        let per_thread = count.div_ceil(n);
        let mut assigned = assigned;
        let mut last = 0;
        for lane in order {
            let share: Vec<Assigned> = assigned.by_ref().take(per_thread).collect();
            if share.is_empty() {
                break;
            }
            self.push_to(lane, share);
            last = lane;
        }
        // (A lane's busy flag may change while the order is read: every job is
        // queued all the same.)
        let left: Vec<Assigned> = assigned.collect();
        if !left.is_empty() {
            self.push_to(last, left);
        }
    }

    /// Queues `jobs` on `lane`; if its server is running a job, wakes an idle thread to
    /// take them (it may be running a long one).
    fn push_to(&self, lane: usize, jobs: impl IntoIterator<Item = Assigned>) {
        let lane = &self.lanes[lane];
        lane.queue.push_many(jobs);
        if lane.busy.load(Ordering::SeqCst) {
            nudge_idle(&self.lanes, &lane.queue);
        }
    }

    /// The lanes, round robin from the next turn, those whose server is not running a
    /// job first.
    fn lane_order(&self) -> impl Iterator<Item = usize> + '_ {
        let n = self.lanes.len();
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        let busy = |lane: &usize| self.lanes[*lane].busy.load(Ordering::SeqCst);
        let round = move || (0..n).map(move |k| (turn + k) % n);
        round()
            .filter(move |lane| !busy(lane))
            .chain(round().filter(move |lane| busy(lane)))
    }

    /// Tells the threads to stop once they finish the task they run; queued jobs are
    /// dropped. Does not wait for them: a stopping (or crashing) cluster must not hang
    /// on user code that never returns. Their results go to closed inboxes and are lost.
    pub fn stop(&self) {
        self.shared.closed.store(true, Ordering::Release);
        for lane in self.lanes.iter() {
            lane.queue.close();
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
        let lane = self
            .lanes
            .iter()
            .find(|lane| Arc::ptr_eq(&lane.queue, &queue))
            .cloned()
            .expect("every queue is a lane's");
        SERVING.with(|cell| {
            *cell.borrow_mut() = Some(Serving {
                pool: self.clone(),
                queue: queue.clone(),
                lane: lane.clone(),
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
            let next = lane.running().pending.pop_front();
            match next {
                Some(assigned) => {
                    // Busy: if this job runs long, an idle thread looking around (at
                    // once when nudged, else within LOOK_AROUND) takes what waits
                    // behind it and sends the results not sent yet.
                    lane.busy.store(true, Ordering::SeqCst);
                    let executed = self.execute(assigned);
                    let handed_off = with_serving(|s| s.handed_off) == Some(true);
                    if !handed_off {
                        // (Once handed off, the lane is its stand-in's.)
                        lane.busy.store(false, Ordering::SeqCst);
                    }
                    let Some((inbox, computed)) = executed else {
                        if handed_off {
                            break true;
                        }
                        continue;
                    };
                    lane.running()
                        .done
                        .push((inbox, NodeEvent::Computed(Box::new(computed))));
                    if handed_off {
                        break true;
                    }
                }
                None => {
                    lane.send_done();
                    if queue.drain_into(&mut taken) == 0 && self.steal(&queue, &mut taken) == 0 {
                        queue.wait_blocking(self.spin, LOOK_AROUND);
                    } else {
                        lane.running().pending.extend(taken.drain(..));
                    }
                }
            }
        };
        SERVING.with(|cell| cell.borrow_mut().take());
        lane.send_done();
        handed_off
    }

    /// Takes into `taken` the jobs waiting in the queue of a thread that is running a
    /// job (not `mine`); returns how many.
    fn steal(&self, mine: &Arc<Inbox<Assigned>>, taken: &mut Vec<Assigned>) -> usize {
        let mut stolen = 0;
        for lane in self.lanes.iter() {
            if Arc::ptr_eq(&lane.queue, mine) || !lane.busy.load(Ordering::SeqCst) {
                continue;
            }
            let mut running = lane.running();
            stolen += running.pending.len();
            taken.extend(running.pending.drain(..));
            let done = std::mem::take(&mut running.done);
            drop(running);
            // Its server may run long: what it finished goes now.
            send_results(done);
            if let Some(rest) = lane.take_rest() {
                taken.push(rest);
                stolen += 1;
            }
            if lane.queue.has_items() {
                stolen += lane.queue.drain_into(taken);
            }
        }
        stolen
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
            if shareable && own.len() > 1 {
                let mut running = s.lane.running();
                running.worker = Some(worker.clone());
                running.rest = std::mem::take(&mut own);
            }
        });
        loop {
            let next = match own.pop_front() {
                Some(task) => Some(task),
                // Not once handed off: the lane's running job is then the stand-in's.
                None if shareable => {
                    with_serving(|s| (!s.handed_off).then(|| s.lane.running().rest.pop_front()))
                        .flatten()
                        .flatten()
                }
                None => None,
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
            if shareable && !s.handed_off {
                s.lane.running().worker = None;
            }
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
        let work_behind = {
            let running = s.lane.running();
            !running.pending.is_empty() || !running.rest.is_empty()
        } || s.queue.has_items();
        if !work_behind && !waited {
            return;
        }
        s.handed_off = true;
        // What this thread finished must not wait for the blocked task.
        let mut finished = std::mem::take(&mut s.lane.running().done);
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
        // The running job's tasks not started go first, for the stand-in serving the
        // lane next.
        if let Some(rest) = s.lane.take_rest() {
            s.lane.running().pending.push_front(rest);
        }
        s.lane.running().worker = None;
        tracing::debug!(pool = %s.pool.name, "a task blocks: its queue moves to a stand-in thread");
        let assignment = Assignment {
            queue: s.queue.clone(),
        };
        let pool = s.pool.clone();
        drop(slot);
        pool.hand_off(assignment);
    });
}
