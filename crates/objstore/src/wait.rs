//! Waiting for an object to appear: waiter slots, and the [`WaitFuture`].
//!
//! A waiter registers a slot under the store's lock. When the key is put, the store copies
//! a handle to the new `Bytes` into every pending slot (no data is copied), then wakes the
//! async waiters and notifies the blocking ones. A waiter therefore cannot miss an object
//! that is put and deleted again before the waiter gets to run.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use crate::ObjectKey;
use crate::error::StoreError;
use crate::store::Shared;

/// One registered waiter.
#[derive(Debug)]
struct Slot {
    id: u64,
    /// The task to wake; `None` for a blocking waiter, which the condvar notifies.
    waker: Option<Waker>,
    /// Filled when the key is put.
    value: Option<Bytes>,
}

/// All registered waiters of a store, by key.
#[derive(Debug)]
pub(crate) struct Waiters<K> {
    next_id: u64,
    slots: HashMap<K, Vec<Slot>>,
}

impl<K: ObjectKey> Waiters<K> {
    pub(crate) fn new() -> Self {
        Self {
            next_id: 0,
            slots: HashMap::new(),
        }
    }

    /// Registers a waiter for `key` and returns its id.
    pub(crate) fn register(&mut self, key: K, waker: Option<Waker>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let slot = Slot {
            id,
            waker,
            value: None,
        };
        self.slots.entry(key).or_default().push(slot);
        id
    }

    /// Takes the value of a filled slot (removing the slot), or else updates its waker.
    pub(crate) fn poll(&mut self, key: K, id: u64, waker: Option<&Waker>) -> Option<Bytes> {
        let slots = self.slots.get_mut(&key)?;
        let slot = slots.iter_mut().find(|slot| slot.id == id)?;
        if slot.value.is_none() {
            match (&mut slot.waker, waker) {
                (Some(old), Some(new)) => old.clone_from(new),
                (old, new) => *old = new.cloned(),
            }
            return None;
        }
        let value = slot.value.take();
        self.cancel(key, id);
        value
    }

    /// Removes a waiter's slot, if still there.
    pub(crate) fn cancel(&mut self, key: K, id: u64) {
        if let Entry::Occupied(mut entry) = self.slots.entry(key) {
            entry.get_mut().retain(|slot| slot.id != id);
            if entry.get().is_empty() {
                entry.remove();
            }
        }
    }

    /// Hands `data` to every pending waiter of `key`. Returns the wakers to call once the
    /// lock is released, and whether any waiter was pending (blocking ones need a notify).
    pub(crate) fn fulfil(&mut self, key: K, data: &Bytes) -> (Vec<Waker>, bool) {
        let mut wakers = Vec::new();
        let mut any = false;
        for slot in self.slots.get_mut(&key).into_iter().flatten() {
            if slot.value.is_none() {
                slot.value = Some(data.clone());
                wakers.extend(slot.waker.take());
                any = true;
            }
        }
        (wakers, any)
    }

    /// How many waiters are registered.
    pub(crate) fn len(&self) -> usize {
        self.slots.values().map(Vec::len).sum()
    }
}

/// What a [`WaitFuture`] holds.
enum State {
    /// The object was present when the future was created (or reading it back failed).
    Ready(Result<Bytes, StoreError>),
    /// Registered as a waiter with this id.
    Waiting(u64),
    /// The output was returned.
    Done,
}

/// A future that resolves to an object's bytes once the object is in the store, returned
/// by [`ObjectStore::wait`](crate::ObjectStore::wait).
///
/// It needs no async runtime: the store keeps the task's waker and wakes it on `put`.
/// It fails only when the object was spilled and reading it back failed. Dropping a
/// pending future deregisters it. It is `Send + 'static` (it holds the store's shared
/// state, not a borrow), and panics if polled again after returning `Ready`.
#[must_use = "futures do nothing unless polled"]
pub struct WaitFuture<K: ObjectKey> {
    shared: Arc<Shared<K>>,
    key: K,
    state: State,
}

impl<K: ObjectKey> WaitFuture<K> {
    pub(crate) fn ready(shared: Arc<Shared<K>>, key: K, value: Result<Bytes, StoreError>) -> Self {
        let state = State::Ready(value);
        Self { shared, key, state }
    }

    pub(crate) fn waiting(shared: Arc<Shared<K>>, key: K, id: u64) -> Self {
        let state = State::Waiting(id);
        Self { shared, key, state }
    }
}

// No field is structurally pinned: the future can move freely between polls.
impl<K: ObjectKey> Unpin for WaitFuture<K> {}

impl<K: ObjectKey> Future for WaitFuture<K> {
    type Output = Result<Bytes, StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Ready(value) => Poll::Ready(value),
            State::Waiting(id) => {
                let value = self
                    .shared
                    .lock()
                    .waiters
                    .poll(self.key, id, Some(cx.waker()));
                match value {
                    Some(bytes) => Poll::Ready(Ok(bytes)),
                    None => {
                        self.state = State::Waiting(id);
                        Poll::Pending
                    }
                }
            }
            State::Done => panic!("WaitFuture polled after completion"),
        }
    }
}

impl<K: ObjectKey> Drop for WaitFuture<K> {
    fn drop(&mut self) {
        if let State::Waiting(id) = self.state {
            self.shared.lock().waiters.cancel(self.key, id);
        }
    }
}

impl<K: ObjectKey> fmt::Debug for WaitFuture<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Ready(_) => "ready",
            State::Waiting(_) => "waiting",
            State::Done => "done",
        };
        f.debug_struct("WaitFuture")
            .field("key", &self.key)
            .field("state", &state)
            .finish()
    }
}
