//! A batched multi-producer, single-consumer queue with spin-then-park wake-ups.
//!
//! On this kind of machine waking a parked thread costs 8–35 µs, while handing over to a
//! thread that is still running costs well under a microsecond. So producers push under
//! a short lock and signal only a consumer that has actually parked; the consumer takes
//! everything queued in one swap, and after running dry keeps polling for a short while
//! (yielding the CPU) before it parks. A busy pipeline never pays for a wake-up.

use crate::runtime::spin::{SpinBudget, SpinPermit};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const RUNNING: u8 = 0;
const PARKED: u8 = 1;

/// How a parked consumer is woken.
enum Waiter {
    /// The consuming thread (it can change: see [`Inbox::become_consumer`]).
    Thread(Mutex<Thread>),
    Task(Notify),
}

/// Records how long a parked wait lasted, whichever way it ends.
struct RecordWait<'a> {
    budget: &'a SpinBudget,
    start: Instant,
    max: Duration,
}

impl Drop for RecordWait<'_> {
    fn drop(&mut self) {
        self.budget.record(self.start.elapsed(), self.max);
    }
}

/// The queue. Share it in an `Arc`.
pub struct Inbox<T> {
    items: Mutex<Vec<T>>,
    non_empty: AtomicBool,
    state: AtomicU8,
    closed: AtomicBool,
    /// Set by [`Inbox::nudge`]: the consumer's wait ends once, with nothing queued.
    nudged: AtomicBool,
    waiter: OnceLock<Waiter>,
    spin_budget: SpinBudget,
}

impl<T> Default for Inbox<T> {
    fn default() -> Self {
        Inbox {
            items: Mutex::new(Vec::new()),
            non_empty: AtomicBool::new(false),
            state: AtomicU8::new(RUNNING),
            closed: AtomicBool::new(false),
            nudged: AtomicBool::new(false),
            waiter: OnceLock::new(),
            spin_budget: SpinBudget::default(),
        }
    }
}

impl<T> Inbox<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one item.
    pub fn push(&self, item: T) {
        self.items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(item);
        self.non_empty.store(true, Ordering::SeqCst);
        self.wake();
    }

    /// Adds one item unless the inbox is closed; then hands it back. (Checked under
    /// the queue's lock, so an item accepted here is seen by the consumer's last drain
    /// after [`Inbox::close`].)
    pub fn try_push(&self, item: T) -> Result<(), T> {
        let mut queue = self.items.lock().unwrap_or_else(|e| e.into_inner());
        if self.closed.load(Ordering::Acquire) {
            return Err(item);
        }
        queue.push(item);
        drop(queue);
        self.non_empty.store(true, Ordering::SeqCst);
        self.wake();
        Ok(())
    }

    /// Adds many items under one lock and at most one wake-up.
    pub fn push_many(&self, items: impl IntoIterator<Item = T>) {
        let mut queue = self.items.lock().unwrap_or_else(|e| e.into_inner());
        let before = queue.len();
        queue.extend(items);
        let added = queue.len() > before;
        drop(queue);
        if added {
            self.non_empty.store(true, Ordering::SeqCst);
            self.wake();
        }
    }

    /// Moves everything queued into `out`; returns how many items moved.
    pub fn drain_into(&self, out: &mut Vec<T>) -> usize {
        if !self.non_empty.load(Ordering::SeqCst) {
            return 0;
        }
        let mut queue = self.items.lock().unwrap_or_else(|e| e.into_inner());
        self.non_empty.store(false, Ordering::SeqCst);
        let n = queue.len();
        if out.is_empty() {
            std::mem::swap(&mut *queue, out);
        } else {
            out.append(&mut queue);
        }
        n
    }

    /// Wakes the consumer if it is parked, with nothing queued for it (it then looks
    /// for work elsewhere: see the compute pool's lanes).
    pub fn nudge(&self) {
        self.nudged.store(true, Ordering::SeqCst);
        self.wake();
    }

    /// Whether a nudge came since the last look (and forgets it).
    fn take_nudge(&self) -> bool {
        self.nudged.load(Ordering::SeqCst) && self.nudged.swap(false, Ordering::SeqCst)
    }

    /// Something is queued (a hint: it may be taken concurrently).
    pub fn has_items(&self) -> bool {
        // SeqCst, with the stores of `push` and of the consumer's state, so that a
        // producer and a consumer going to sleep cannot both miss each other.
        self.non_empty.load(Ordering::SeqCst)
    }

    /// No more items are expected: wakes the consumer for good.
    pub fn close(&self) {
        {
            let _queue = self.items.lock().unwrap_or_else(|e| e.into_inner());
            self.closed.store(true, Ordering::Release);
        }
        self.state.store(PARKED, Ordering::SeqCst);
        self.wake();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn wake(&self) {
        if self.state.load(Ordering::SeqCst) == PARKED
            && self
                .state
                .compare_exchange(PARKED, RUNNING, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            match self.waiter.get() {
                Some(Waiter::Thread(thread)) => {
                    thread.lock().unwrap_or_else(|e| e.into_inner()).unpark()
                }
                Some(Waiter::Task(notify)) => notify.notify_one(),
                None => {}
            }
        }
    }

    /// Makes the calling thread the one consumer from now on (the previous one has
    /// stopped consuming): wake-ups go to it.
    pub fn become_consumer(&self) {
        let waiter = self
            .waiter
            .get_or_init(|| Waiter::Thread(Mutex::new(std::thread::current())));
        let Waiter::Thread(thread) = waiter else {
            panic!("inbox consumed by a thread and a task");
        };
        let current = std::thread::current();
        let mut thread = thread.lock().unwrap_or_else(|e| e.into_inner());
        if thread.id() != current.id() {
            *thread = current;
        }
    }

    /// Blocks the calling thread (the only consumer) until something is queued or the
    /// inbox is closed, polling for `spin` before parking.
    /// Returns after `at_most` in any case (the caller looks around, then waits again).
    pub fn wait_blocking(&self, spin: Duration, at_most: Duration) {
        let waiter = self
            .waiter
            .get_or_init(|| Waiter::Thread(Mutex::new(std::thread::current())));
        debug_assert!(matches!(waiter, Waiter::Thread(_)));
        let start = Instant::now();
        let budget = self.spin_budget.next(spin);
        if !budget.is_zero()
            && let Some(_permit) = SpinPermit::try_acquire()
        {
            while start.elapsed() < budget {
                if self.has_items() || self.is_closed() || self.take_nudge() {
                    self.spin_budget.record(start.elapsed(), spin);
                    return;
                }
                std::thread::yield_now();
            }
        }
        let _record = RecordWait {
            budget: &self.spin_budget,
            start,
            max: spin,
        };
        loop {
            self.state.store(PARKED, Ordering::SeqCst);
            if self.has_items() || self.is_closed() || self.take_nudge() {
                self.state.store(RUNNING, Ordering::SeqCst);
                return;
            }
            let left = at_most.saturating_sub(start.elapsed());
            std::thread::park_timeout(left.min(Duration::from_millis(100)));
            if self.state.load(Ordering::SeqCst) == RUNNING
                || self.has_items()
                || self.is_closed()
                || self.take_nudge()
                || start.elapsed() >= at_most
            {
                self.state.store(RUNNING, Ordering::SeqCst);
                return;
            }
        }
    }

    /// Async version of [`Inbox::wait_blocking`] for a consumer task on a current-thread
    /// runtime: it yields to the runtime while polling.
    pub async fn wait_async(&self, spin: Duration) {
        let Waiter::Task(notify) = self.waiter.get_or_init(|| Waiter::Task(Notify::new())) else {
            panic!("inbox consumed by a thread and a task");
        };
        let start = Instant::now();
        let budget = self.spin_budget.next(spin);
        if !budget.is_zero()
            && let Some(_permit) = SpinPermit::try_acquire()
        {
            while start.elapsed() < budget {
                if self.has_items() || self.is_closed() {
                    self.spin_budget.record(start.elapsed(), spin);
                    return;
                }
                tokio::task::yield_now().await;
            }
        }
        let _record = RecordWait {
            budget: &self.spin_budget,
            start,
            max: spin,
        };
        loop {
            let notified = notify.notified();
            self.state.store(PARKED, Ordering::SeqCst);
            if self.has_items() || self.is_closed() {
                self.state.store(RUNNING, Ordering::SeqCst);
                return;
            }
            notified.await;
            if self.has_items() || self.is_closed() {
                self.state.store(RUNNING, Ordering::SeqCst);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn items_cross_threads_in_order_and_batches() {
        let inbox = Arc::new(Inbox::new());
        let producer = {
            let inbox = inbox.clone();
            std::thread::spawn(move || {
                for i in 0..10_000u32 {
                    inbox.push(i);
                }
                inbox.push_many(10_000..20_000u32);
                inbox.close();
            })
        };
        let mut seen = Vec::new();
        let mut batch = Vec::new();
        loop {
            batch.clear();
            inbox.drain_into(&mut batch);
            seen.extend_from_slice(&batch);
            if inbox.is_closed() {
                batch.clear();
                inbox.drain_into(&mut batch);
                seen.extend_from_slice(&batch);
                break;
            }
            inbox.wait_blocking(Duration::from_micros(50), Duration::from_secs(1));
        }
        producer.join().unwrap();
        let expected: Vec<u32> = (0..20_000).collect();
        assert!(
            seen == expected,
            "got {} items, out of order or duplicated",
            seen.len()
        );
    }

    #[test]
    fn a_parked_async_consumer_is_woken() {
        let inbox = Arc::new(Inbox::<u32>::new());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let producer = {
            let inbox = inbox.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                inbox.push(7);
            })
        };
        let got = rt.block_on(async {
            let mut out = Vec::new();
            while out.is_empty() {
                inbox.wait_async(Duration::ZERO).await;
                inbox.drain_into(&mut out);
            }
            out
        });
        producer.join().unwrap();
        assert_eq!(got, vec![7]);
    }
}
