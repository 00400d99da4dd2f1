//! How the bridge holds a rank's chunk until its node's timestep is complete: stored in
//! this process (by reference), written into the node's shared memory, or kept as bytes
//! to stream; chosen per chunk by the delivery and the analytics' contract.

use super::{Bridge, Delivery, Held};
use crate::error::{InsituError, Result};
use crate::shm::SegmentLease;
use bytes::Bytes;
use doreisa_core::Blob;
use doreisa_sched::SourceKey;

/// Where a chunk goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Reference,
    Shared,
    Stream,
}

impl Bridge {
    /// Where chunk `key` goes: to the node if it is read by the analytics' graphs (its
    /// contract) and this bridge sends chunks there; otherwise it is stored here and
    /// handed over by reference.
    fn route(&self, key: &SourceKey) -> Route {
        let state = self.lock();
        let send = self.options.delivery != Delivery::Reference
            && state.contract().wants(&key.array, &key.chunk);
        match (send, &self.pool) {
            (false, _) => Route::Reference,
            (true, Some(_)) => Route::Shared,
            (true, None) => Route::Stream,
        }
    }

    /// Counts a chunk as held.
    fn count(&self, held: &Held) {
        let mut state = self.lock();
        let stats = state.stats_mut();
        match held {
            Held::Stored(_) => stats.by_reference += 1,
            Held::Shared(_) => stats.shared += 1,
            Held::Bytes(_) => stats.streamed += 1,
        }
    }

    /// Holds the encoded chunk `key` (`bytes`) as this bridge delivers it.
    pub(crate) fn hold(&self, key: &SourceKey, bytes: Bytes) -> Result<Held> {
        let held = match self.route(key) {
            Route::Reference => self.link.store(bytes)?,
            Route::Shared => match self.shared_lease(bytes.len())? {
                Some(mut lease) => {
                    lease.as_mut_slice().copy_from_slice(&bytes);
                    Held::Shared(lease.hand())
                }
                None => Held::Bytes(Blob(bytes)),
            },
            Route::Stream => Held::Bytes(Blob(bytes)),
        };
        self.count(&held);
        Ok(held)
    }

    /// Holds the `len` bytes of chunk `key` that `write` writes (into a recycled
    /// buffer when large and stored here, straight into shared memory when shared).
    pub(crate) fn hold_with(
        &self,
        key: &SourceKey,
        len: usize,
        write: impl FnOnce(&mut dyn std::io::Write) -> std::result::Result<(), String>,
    ) -> Result<Held> {
        let invalid = |e| InsituError::Runtime(doreisa_core::CoreError::Invalid(e));
        let route = self.route(key);
        let lease = match route {
            Route::Shared => self.shared_lease(len)?,
            _ => None,
        };
        let held = if let Some(mut lease) = lease {
            let mut rest: &mut [u8] = lease.as_mut_slice();
            write(&mut rest).map_err(invalid)?;
            if !rest.is_empty() {
                return Err(invalid(format!(
                    "{} of {len} bytes left unwritten",
                    rest.len()
                )));
            }
            Held::Shared(lease.hand())
        } else if route == Route::Reference {
            let mut write = Some(write);
            let mut failed = None;
            let stored = self.link.store_with(len, &mut |out| {
                if let Some(write) = write.take() {
                    failed = write(out).err();
                }
            })?;
            if let Some(e) = failed {
                return Err(invalid(e));
            }
            stored
        } else {
            // Streamed: in transit, or shared memory full.
            let mut out = Vec::with_capacity(len);
            write(&mut out).map_err(invalid)?;
            Held::Bytes(Blob(out.into()))
        };
        self.count(&held);
        Ok(held)
    }

    /// A segment of the node's shared memory for this rank to write the `len` bytes of
    /// its chunk of `array` at `position` in place, if that is where they will go
    /// (shared delivery, read by the analytics, room left).
    pub(crate) fn lease(
        &self,
        array: &str,
        position: &[u32],
        len: usize,
    ) -> Result<Option<SegmentLease>> {
        if self.pool.is_none() || !self.lock().contract().wants(array, position) {
            return Ok(None);
        }
        self.shared_lease(len)
    }

    /// Holds chunk `key` written in place in `lease`: handed to the node as it is, or
    /// copied out if the analytics' contract changed since and no longer reads it.
    pub(crate) fn hold_lease(&self, key: &SourceKey, lease: SegmentLease) -> Result<Held> {
        let held = match self.route(key) {
            Route::Shared => Held::Shared(lease.hand()),
            Route::Reference => self.link.store_slice(lease.as_slice())?,
            Route::Stream => Held::Bytes(Blob(Bytes::copy_from_slice(lease.as_slice()))),
        };
        self.count(&held);
        Ok(held)
    }

    /// A segment of `len` bytes of this bridge's shared memory; `None` when it is full
    /// (the chunk is streamed instead) or this bridge has none.
    fn shared_lease(&self, len: usize) -> Result<Option<SegmentLease>> {
        let Some(pool) = &self.pool else {
            return Ok(None);
        };
        let mut pool = pool.lock().unwrap_or_else(|e| e.into_inner());
        let lease = pool.lease(len)?;
        if lease.is_none() {
            tracing::debug!(bytes = pool.bytes(), "shared memory full: streaming");
        }
        Ok(lease)
    }
}
