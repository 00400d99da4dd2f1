//! The future returned by [`ObjectStore::wait`](crate::ObjectStore::wait).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;

use super::Shared;
use crate::ObjectKey;
use crate::error::StoreError;

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
