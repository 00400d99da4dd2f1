//! A host for driving nodes without a runtime: the store is a map, waiters are tokens,
//! actor instances are opaque numbers. For the state machine's tests and simulators.

use super::{Host, Waiter};
use crate::error::ProtoError;
use crate::ids::ObjectId;
use bytes::Bytes;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// A store in a map; waiters are [`TokenWaiter`]s; actor instances are `u64`s.
#[derive(Debug, Default)]
pub struct MemoryHost {
    /// Stored values, and whether each is the primary copy.
    pub objects: FxHashMap<ObjectId, (Bytes, bool)>,
    /// Refuse puts past this many objects (a full store), if set.
    pub capacity: Option<usize>,
}

/// A waiter known by its token (what a test matches fills against).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenWaiter {
    pub token: u64,
    pub ids: Arc<[ObjectId]>,
}

impl TokenWaiter {
    pub fn new(token: u64, ids: &[ObjectId]) -> Self {
        TokenWaiter {
            token,
            ids: ids.into(),
        }
    }
}

impl Waiter for TokenWaiter {
    fn ids(&self) -> &[ObjectId] {
        &self.ids
    }
}

impl Host for MemoryHost {
    type Waiter = TokenWaiter;
    type Instance = u64;

    fn contains(&self, id: ObjectId) -> bool {
        self.objects.contains_key(&id)
    }

    fn get(&self, id: ObjectId) -> Result<Option<Bytes>, ProtoError> {
        Ok(self.objects.get(&id).map(|(bytes, _)| bytes.clone()))
    }

    fn put(&mut self, id: ObjectId, bytes: Bytes, primary: bool) -> Result<(), ProtoError> {
        if self
            .capacity
            .is_some_and(|max| self.objects.len() >= max && !self.objects.contains_key(&id))
        {
            return Err(ProtoError::Store(format!(
                "full: {} objects stored",
                self.objects.len()
            )));
        }
        self.objects.insert(id, (bytes, primary));
        Ok(())
    }

    fn delete(&mut self, id: ObjectId) {
        self.objects.remove(&id);
    }
}
