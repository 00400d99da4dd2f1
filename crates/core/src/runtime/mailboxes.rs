//! Numbered channels of one process: a thread opens one and passes its number along;
//! code running here later (an actor method, a task) hands values to it by number.

use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};

/// The open mailboxes of one process for values of type `T`.
pub struct Mailboxes<T> {
    senders: Mutex<FxHashMap<u64, mpsc::Sender<T>>>,
    next: AtomicU64,
}

impl<T> Default for Mailboxes<T> {
    fn default() -> Self {
        Mailboxes {
            senders: Mutex::default(),
            next: AtomicU64::new(1),
        }
    }
}

impl<T> Mailboxes<T> {
    /// A new mailbox: its number, and where its values arrive.
    pub fn open(&self) -> (u64, mpsc::Receiver<T>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        self.senders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        (id, rx)
    }

    pub fn close(&self, id: u64) {
        self.senders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// Hands `values` to mailbox `id`, in order; `false` if it is closed (or its
    /// receiver gone).
    pub fn send(&self, id: u64, values: impl IntoIterator<Item = T>) -> bool {
        let sender = self
            .senders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned();
        let Some(sender) = sender else { return false };
        values.into_iter().all(|value| sender.send(value).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_reach_their_mailbox_until_it_is_closed() {
        let boxes = Mailboxes::default();
        let (a, inbox_a) = boxes.open();
        let (b, inbox_b) = boxes.open();
        assert_ne!(a, b);
        assert!(boxes.send(a, [1, 2]));
        assert!(boxes.send(b, [3]));
        assert_eq!(inbox_a.try_iter().collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(inbox_b.try_iter().collect::<Vec<_>>(), vec![3]);
        boxes.close(a);
        assert!(!boxes.send(a, [4]));
    }
}
