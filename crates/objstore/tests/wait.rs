//! Waiting for objects: the runtime-agnostic future and the blocking variant.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Duration;

use bytes::Bytes;
use doreisa_objstore::{CopyKind, ObjectStore, StoreConfig, WaitFuture};

/// Wakes a parked thread.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// A minimal executor: polls on this thread, parking between wake-ups.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}

/// Polls once with a waker that does nothing.
fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
}

fn store() -> Arc<ObjectStore<u32>> {
    Arc::new(ObjectStore::new(StoreConfig::new(1000)))
}

#[test]
fn wait_resolves_at_once_when_present() {
    let store = store();
    store
        .put(1, Bytes::from_static(b"here"), CopyKind::Primary)
        .unwrap();
    let mut future = store.wait(1);
    assert!(matches!(poll_once(&mut future), Poll::Ready(Ok(b)) if b == "here"));
    assert_eq!(store.stats().waiters, 0);
}

#[test]
fn wait_resolves_when_another_thread_puts() {
    let store = store();
    let mut future = store.wait(7);
    assert!(poll_once(&mut future).is_pending());
    assert_eq!(store.stats().waiters, 1);
    let putter = {
        let store = Arc::clone(&store);
        thread::spawn(move || {
            let data = Bytes::from_static(b"seven");
            store.put(7, data, CopyKind::Primary).unwrap();
        })
    };
    assert_eq!(block_on(future).unwrap(), "seven");
    putter.join().unwrap();
    assert_eq!(store.stats().waiters, 0);
}

#[test]
fn many_waiters_on_one_key_all_resolve() {
    let store = store();
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let future = store.wait(3);
            thread::spawn(move || block_on(future).unwrap())
        })
        .collect();
    store
        .put(3, Bytes::from_static(b"three"), CopyKind::Secondary)
        .unwrap();
    for waiter in waiters {
        assert_eq!(waiter.join().unwrap(), "three");
    }
    assert_eq!(store.stats().waiters, 0);
}

#[test]
fn a_waiter_sees_an_object_deleted_before_it_was_polled_again() {
    let store = store();
    let mut future = store.wait(5);
    assert!(poll_once(&mut future).is_pending());
    store
        .put(5, Bytes::from_static(b"brief"), CopyKind::Secondary)
        .unwrap();
    assert!(store.delete(5));
    assert!(matches!(poll_once(&mut future), Poll::Ready(Ok(b)) if b == "brief"));
}

#[test]
fn dropping_a_pending_future_deregisters_it() {
    let store = store();
    let mut polled = store.wait(1);
    assert!(poll_once(&mut polled).is_pending());
    let never_polled = store.wait(1);
    let other_key = store.wait(2);
    assert_eq!(store.stats().waiters, 3);
    drop(polled);
    drop(never_polled);
    assert_eq!(store.stats().waiters, 1);
    // A put with no waiter left is fine, and the other key's waiter is unaffected.
    store
        .put(1, Bytes::from_static(b"one"), CopyKind::Primary)
        .unwrap();
    drop(other_key);
    assert_eq!(store.stats().waiters, 0);
}

#[test]
fn a_future_can_outlive_its_store_handle() {
    let store = store();
    let future = store.wait(1);
    store
        .put(1, Bytes::from_static(b"x"), CopyKind::Primary)
        .unwrap();
    drop(store);
    assert_eq!(block_on(future).unwrap(), "x");
}

#[test]
fn wait_future_is_send_and_static() {
    fn assert_send_static<T: Send + 'static>(_: &T) {}
    let store = store();
    let future: WaitFuture<u32> = store.wait(1);
    assert_send_static(&future);
}

#[test]
fn wait_timeout_returns_none_on_timeout() {
    let store = store();
    let got = store.wait_timeout(1, Duration::from_millis(20)).unwrap();
    assert_eq!(got, None);
    assert_eq!(store.stats().waiters, 0);
}

#[test]
fn wait_timeout_returns_present_object() {
    let store = store();
    store
        .put(1, Bytes::from_static(b"now"), CopyKind::Primary)
        .unwrap();
    let got = store.wait_timeout(1, Duration::ZERO).unwrap();
    assert_eq!(got.unwrap(), "now");
}

#[test]
fn wait_timeout_resolves_when_another_thread_puts() {
    let store = store();
    let putter = {
        let store = Arc::clone(&store);
        thread::spawn(move || {
            let data = Bytes::from_static(b"later");
            store.put(9, data, CopyKind::Primary).unwrap();
        })
    };
    // Generous: the put may come before or after this call starts waiting.
    let got = store.wait_timeout(9, Duration::from_secs(60)).unwrap();
    assert_eq!(got.unwrap(), "later");
    putter.join().unwrap();
    assert_eq!(store.stats().waiters, 0);
}
