//! A pending `get`: the slot a node fills and the thread (or task) that waits on it.

use crate::error::{CoreError, Result};
use crate::ids::ObjectId;
use bytes::Bytes;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

thread_local! {
    /// How long this thread's gets poll (see `SpinBudget`).
    static GET_SPIN: crate::runtime::spin::SpinBudget = crate::runtime::spin::SpinBudget::default();
    /// What this thread does before it blocks on a value (a compute thread hands its
    /// queue over: see `runtime::compute`), told whether the wait outlasted its spin.
    static BEFORE_BLOCKING: std::cell::Cell<Option<fn(bool)>> = const { std::cell::Cell::new(None) };
}

/// Sets what this thread does before it blocks on a value.
pub(crate) fn before_blocking_on_this_thread(hook: fn(bool)) {
    BEFORE_BLOCKING.with(|h| h.set(Some(hook)));
}

fn before_blocking(waited: bool) {
    if let Some(hook) = BEFORE_BLOCKING.with(std::cell::Cell::get) {
        hook(waited);
    }
}

/// Runs `wait`, which blocks on something other than an object (a condition variable
/// that another actor's call will signal): on a compute thread, the thread's queue is
/// handed over first, as before a blocking `get`, so that what the wait needs is not
/// queued behind it.
pub fn blocking<R>(wait: impl FnOnce() -> R) -> R {
    before_blocking(true);
    wait()
}

enum Waiter {
    Thread(Thread),
    Task(Notify),
}

/// The values of `ids`, filled in by the node as they become available. Cloning it
/// is cheap: the clones share the slots (the node keeps one, the waiting thread another).
#[derive(Clone)]
pub struct GetRequest(Arc<GetSlots>);

impl std::ops::Deref for GetRequest {
    type Target = GetSlots;

    fn deref(&self) -> &GetSlots {
        &self.0
    }
}

impl doreisa_proto::node::Waiter for GetRequest {
    fn ids(&self) -> &[ObjectId] {
        &self.0.ids
    }
}

/// The slots of a [`GetRequest`].
pub struct GetSlots {
    pub ids: Vec<ObjectId>,
    results: Mutex<Vec<Option<Result<Bytes>>>>,
    remaining: AtomicUsize,
    /// Complete once this many are ready (for `wait`).
    needed: usize,
    waiter: OnceLock<Waiter>,
}

impl GetRequest {
    /// Waits for all of `ids`.
    pub fn all(ids: Vec<ObjectId>) -> Self {
        let n = ids.len();
        Self::some(ids, n)
    }

    /// Completes once `needed` of `ids` are ready.
    pub fn some(ids: Vec<ObjectId>, needed: usize) -> Self {
        let n = ids.len();
        GetRequest(Arc::new(GetSlots {
            ids,
            results: Mutex::new((0..n).map(|_| None).collect()),
            remaining: AtomicUsize::new(needed.min(n)),
            needed: needed.min(n),
            waiter: OnceLock::new(),
        }))
    }
}

impl GetSlots {
    /// Node side: value (or error) for position `index`; wakes the waiter when enough.
    pub fn fill(&self, index: usize, value: Result<Bytes>) {
        let mut results = self.results.lock().unwrap_or_else(|e| e.into_inner());
        if results[index].is_some() {
            return;
        }
        results[index] = Some(value);
        drop(results);
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            match self.waiter.get() {
                Some(Waiter::Thread(t)) => t.unpark(),
                Some(Waiter::Task(n)) => n.notify_one(),
                None => {}
            }
        }
    }

    pub fn is_done(&self) -> bool {
        self.remaining.load(Ordering::Acquire) == 0
    }

    /// Blocks until done, spinning for `spin` first; `false` on timeout.
    pub fn wait_blocking(&self, spin: Duration, timeout: Option<Duration>) -> bool {
        self.waiter
            .get_or_init(|| Waiter::Thread(std::thread::current()));
        if self.is_done() {
            return true;
        }
        // A task body blocking on a compute thread gives its queue away first.
        before_blocking(false);
        let start = Instant::now();
        let budget = GET_SPIN.with(|b| b.next(spin));
        if !budget.is_zero()
            && let Some(_permit) = crate::runtime::spin::SpinPermit::try_acquire()
        {
            while start.elapsed() < budget {
                if self.is_done() {
                    GET_SPIN.with(|b| b.record(start.elapsed(), spin));
                    return true;
                }
                std::thread::yield_now();
            }
        }
        let outcome = self.park_until_done(start, timeout);
        GET_SPIN.with(|b| b.record(start.elapsed(), spin));
        outcome
    }

    fn park_until_done(&self, start: Instant, timeout: Option<Duration>) -> bool {
        before_blocking(true);
        loop {
            if self.is_done() {
                return true;
            }
            let left = match timeout {
                Some(t) => match t.checked_sub(start.elapsed()) {
                    Some(left) => left,
                    None => return self.is_done(),
                },
                None => Duration::from_millis(100),
            };
            std::thread::park_timeout(left.min(Duration::from_millis(100)));
        }
    }

    /// Waits asynchronously until done.
    pub async fn wait_async(&self) {
        let Waiter::Task(notify) = self.waiter.get_or_init(|| Waiter::Task(Notify::new())) else {
            panic!("get request waited on by a thread and a task");
        };
        loop {
            let notified = notify.notified();
            if self.is_done() {
                return;
            }
            notified.await;
        }
    }

    /// Takes the results (call once done); missing ones are timeouts.
    pub fn take(&self, timeout: Duration) -> Vec<Result<Bytes>> {
        let mut results = self.results.lock().unwrap_or_else(|e| e.into_inner());
        results
            .iter_mut()
            .map(|r| r.take().unwrap_or(Err(CoreError::Timeout(timeout))))
            .collect()
    }

    /// Which positions are ready now.
    pub fn ready(&self) -> Vec<bool> {
        let results = self.results.lock().unwrap_or_else(|e| e.into_inner());
        results.iter().map(Option::is_some).collect()
    }

    pub fn needed(&self) -> usize {
        self.needed
    }
}
