//! How many threads of this process may poll for work at once.
//!
//! Polling before parking saves the 8-35 µs a wake-up costs on these machines, but
//! only while a core is free to poll on: an embedded cluster of N nodes has 2N+1
//! threads that could all poll at once on a 2-core machine, and then polling threads
//! steal the cores from the ones with work (measured: the weak-scaling benchmark ran
//! 4x slower). So a thread polls only with a permit, and there are as many permits as
//! cores; the others park at once.
//!
//! And a waiter polls only when polling would have paid off lately ([`SpinBudget`]):
//! one whose waits end within the polling time polls in full, one whose waits last
//! longer polls less and less (a node idle between iterations stops burning a core).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

static POLLING: AtomicUsize = AtomicUsize::new(0);

fn permits() -> usize {
    static PERMITS: OnceLock<usize> = OnceLock::new();
    *PERMITS.get_or_init(|| {
        std::env::var("DOREISA_SPINNERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            })
    })
}

/// A permit to poll; released when dropped.
pub struct SpinPermit(());

impl SpinPermit {
    /// A permit, if one is free.
    pub fn try_acquire() -> Option<SpinPermit> {
        let taken = POLLING.fetch_add(1, Ordering::AcqRel);
        if taken < permits() {
            Some(SpinPermit(()))
        } else {
            POLLING.fetch_sub(1, Ordering::AcqRel);
            None
        }
    }
}

impl Drop for SpinPermit {
    fn drop(&mut self) {
        POLLING.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How long one waiter polls next time, from how its last waits went.
#[derive(Debug, Default)]
pub struct SpinBudget {
    /// Microseconds to poll next time.
    micros: AtomicUsize,
    initialized: std::sync::atomic::AtomicBool,
}

impl SpinBudget {
    /// The time to poll, at most `max`.
    pub fn next(&self, max: std::time::Duration) -> std::time::Duration {
        let max = max.as_micros() as usize;
        if !self.initialized.swap(true, Ordering::Relaxed) {
            self.micros.store(max, Ordering::Relaxed);
        }
        std::time::Duration::from_micros(self.micros.load(Ordering::Relaxed).min(max) as u64)
    }

    /// A wait lasted `waited`: had polling for up to `max` caught it, poll in full
    /// next time; else poll a quarter as long.
    pub fn record(&self, waited: std::time::Duration, max: std::time::Duration) {
        let next = if waited <= max {
            max.as_micros() as usize
        } else {
            self.micros.load(Ordering::Relaxed) / 4
        };
        self.micros.store(next, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_shrink_when_polling_fails_and_grow_back_when_it_pays() {
        let max = std::time::Duration::from_micros(200);
        let budget = SpinBudget::default();
        assert_eq!(budget.next(max), max);
        let long = std::time::Duration::from_millis(3);
        budget.record(long, max);
        budget.record(long, max);
        assert!(budget.next(max) < std::time::Duration::from_micros(20));
        budget.record(std::time::Duration::from_micros(30), max);
        assert_eq!(
            budget.next(max),
            max,
            "a short wait: polling would have paid"
        );
    }

    #[test]
    fn permits_are_bounded_and_come_back() {
        let held: Vec<SpinPermit> = std::iter::from_fn(SpinPermit::try_acquire)
            .take(1000)
            .collect();
        assert!(!held.is_empty() && held.len() <= permits());
        assert!(SpinPermit::try_acquire().is_none());
        drop(held);
        assert!(SpinPermit::try_acquire().is_some());
    }
}
