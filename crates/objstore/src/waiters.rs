//! Waiting for an object to appear: the waiter slots a store keeps per key (plain data;
//! the store's [`WaitFuture`](crate::WaitFuture) and blocking waits use them).
//!
//! A waiter registers a slot under the store's lock. When the key is put, the store copies
//! a handle to the new `Bytes` into every pending slot (no data is copied), then wakes the
//! async waiters and notifies the blocking ones. A waiter therefore cannot miss an object
//! that is put and deleted again before the waiter gets to run.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::task::Waker;

use bytes::Bytes;

use crate::ObjectKey;

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
