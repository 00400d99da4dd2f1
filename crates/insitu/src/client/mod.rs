//! The simulation side: a client per rank. It declares the rank's chunks once, then
//! publishes them every timestep (after its optional preprocessing), reads steering
//! values at iteration boundaries (`steering.rs`), and closes at the end.

mod steering;

pub(crate) use steering::encode_value;

use crate::bridge::{Bridge, Held};
use crate::buffer::{ChunkBuffer, Recycler, Written};
use crate::comm::Communicator;
use crate::decl::{ArrayMeta, ChunkDecl};
use crate::error::{InsituError, Result};
use doreisa_array::{Array, Chunk, DType, Element, Grid};
use doreisa_core::Worker;
use doreisa_sched::cluster::SchedShared;
use doreisa_sched::{LocalRunner, SourceKey};
use ndarray::ArrayViewD;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Work done on a chunk in the simulation's process before it is published.
#[derive(Clone)]
pub enum Preprocess {
    /// A registered kernel, with its parameters.
    Kernel { name: String, params: Vec<u8> },
    /// An array expression over the chunk (given as a one-chunk array).
    Expression(fn(&Array) -> doreisa_array::Result<Array>),
}

impl std::fmt::Debug for Preprocess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Preprocess::Kernel { name, .. } => write!(f, "Kernel({name})"),
            Preprocess::Expression(_) => write!(f, "Expression"),
        }
    }
}

/// One array a rank publishes: where its chunk sits, and what to do to it first.
#[derive(Debug, Clone)]
pub struct Published {
    pub decl: ChunkDecl,
    pub preprocess: Option<Preprocess>,
}

impl Published {
    /// This rank's chunk at `position` of `meta`'s grid.
    pub fn new(meta: ArrayMeta, position: &[u32]) -> Result<Self> {
        Ok(Published {
            decl: ChunkDecl::new(meta, position)?,
            preprocess: None,
        })
    }

    pub fn preprocess(mut self, preprocess: Preprocess) -> Self {
        self.preprocess = Some(preprocess);
        self
    }
}

/// Where a rank's publishing time went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishStats {
    /// Chunks published.
    pub published: u64,
    /// Chunks dropped by back-pressure (policy `DropNewest`).
    pub dropped: u64,
    /// Time in `publish` other than waiting: checks, preprocessing, storing, handing
    /// over.
    pub publishing: Duration,
    /// Time blocked by back-pressure, waiting for the analytics to catch up.
    pub waiting: Duration,
}

/// A rank's connection to its analytics.
pub struct Client {
    stats: PublishStats,
    bridge: Arc<Bridge>,
    arrays: BTreeMap<Arc<str>, Published>,
    last: BTreeMap<Arc<str>, i64>,
    comm: Option<Arc<dyn Communicator>>,
    /// This rank's number in its bridge.
    rank: u64,
    closed: bool,
    /// Where this client's chunk buffers come back to.
    recycler: Arc<Recycler>,
}

impl Client {
    /// A client publishing `arrays` through `bridge` (shared by the ranks of a node in
    /// this process).
    pub fn new(bridge: Arc<Bridge>, arrays: Vec<Published>) -> Result<Client> {
        let decls: Vec<ChunkDecl> = arrays.iter().map(|p| p.decl.clone()).collect();
        let rank = bridge.attach(&decls)?;
        Ok(Client {
            rank,
            stats: PublishStats::default(),
            bridge,
            arrays: arrays
                .into_iter()
                .map(|p| (p.decl.meta.name.clone(), p))
                .collect(),
            last: BTreeMap::new(),
            comm: None,
            closed: false,
            recycler: Arc::default(),
        })
    }

    /// Makes steering reads of the latest value collective over `comm`: one rank asks,
    /// all get its answer (every rank must then read alike). Errors name this rank by
    /// its number in `comm`.
    pub fn with_communicator(mut self, comm: Arc<dyn Communicator>) -> Self {
        if let Err(e) = self.bridge.label(self.rank, comm.rank() as u64) {
            tracing::warn!(error = %e, "cannot tell the session this rank's number");
        }
        self.comm = Some(comm);
        self
    }

    /// Publishes this rank's chunk of `array` at `timestep`, from a view of the data.
    pub fn publish<T: Element>(
        &mut self,
        array: &str,
        timestep: i64,
        data: ArrayViewD<'_, T>,
    ) -> Result<bool>
    where
        Chunk: From<ndarray::ArrayD<T>>,
    {
        self.publish_chunk(array, timestep, Chunk::from(data.to_owned()))
    }

    /// Publishes this rank's chunk of `array` at `timestep`. `false` if back-pressure
    /// dropped it (policy `DropNewest`).
    pub fn publish_chunk(&mut self, array: &str, timestep: i64, chunk: Chunk) -> Result<bool> {
        self.timed(|client, waited| client.publish_timed(array, timestep, chunk, waited))
    }

    /// Where this rank's publishing time went so far.
    pub fn stats(&self) -> PublishStats {
        self.stats
    }

    fn publish_timed(
        &mut self,
        array: &str,
        timestep: i64,
        chunk: Chunk,
        waited: &mut Duration,
    ) -> Result<bool> {
        let published = self
            .arrays
            .get(array)
            .ok_or_else(|| InsituError::Undeclared(array.to_string()))?;
        self.check_order(array, timestep)?;
        let chunk = match &published.preprocess {
            Some(preprocess) => apply(preprocess, chunk, self.bridge.worker())?,
            None => chunk,
        };
        let (name, position) = self.check_chunk(array, chunk.dtype(), chunk.shape())?;
        self.store(name, position, timestep, waited, |bridge, key| {
            bridge.hold(key, chunk.encode())
        })
    }

    /// Publishes this rank's chunk of `array` at `timestep` from its C-ordered elements
    /// (the declared chunk shape), encoded straight into the store: one copy, into a
    /// recycled buffer when large. The fastest way for a simulation's own buffers.
    pub fn publish_slice<T: Element>(
        &mut self,
        array: &str,
        timestep: i64,
        data: &[T],
    ) -> Result<bool>
    where
        Chunk: From<ndarray::ArrayD<T>>,
    {
        let (published, shape) = self.declared(array)?;
        let preprocessed = published.preprocess.is_some();
        if data.len() != shape.iter().product::<usize>() {
            // Refused as what it is: a flat chunk of that many elements.
            self.check_chunk(array, T::DTYPE, &[data.len()])?;
        }
        if preprocessed {
            // Preprocessing works on the chunk.
            let chunk = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&shape), data.to_vec())
                .expect("length checked");
            return self.publish_chunk(array, timestep, Chunk::from(chunk));
        }
        self.timed(|client, waited| {
            client.check_order(array, timestep)?;
            let (name, position) = client.check_chunk(array, T::DTYPE, &shape)?;
            let len = Chunk::encoded_len(T::DTYPE, &shape);
            client.store(name, position, timestep, waited, |bridge, key| {
                bridge.hold_with(key, len, |out| {
                    Chunk::encode_slice_into(&shape, data, out).map_err(|e| e.to_string())
                })
            })
        })
    }

    /// A buffer for this rank's chunk of `array` (its declared shape, dtype `T`) to write
    /// in place and hand to [`Client::publish_buffer`]: the way to publish without any
    /// copy. In this process's memory, or in a segment of the node's shared memory
    /// ([`crate::Delivery::Shared`]). It holds what an earlier chunk left there: write
    /// every element.
    pub fn chunk_buffer<T: Element>(&self, array: &str) -> Result<ChunkBuffer<T>> {
        let (published, shape) = self.declared(array)?;
        self.check_chunk(array, T::DTYPE, &shape)?;
        let header = Chunk::encoded_header(T::DTYPE, &shape);
        let len = Chunk::encoded_len(T::DTYPE, &shape);
        let lease = self.bridge.lease(array, &published.decl.position, len)?;
        Ok(ChunkBuffer::new(shape, &header, lease, &self.recycler))
    }

    /// Publishes this rank's chunk of `array` at `timestep` from a buffer it wrote in
    /// place ([`Client::chunk_buffer`]). Stored in this process, the buffer becomes the
    /// object; in the node's shared memory, the node maps it: no copy either way. `false` if back-pressure dropped it (policy `DropNewest`).
    pub fn publish_buffer<T: Element>(
        &mut self,
        array: &str,
        timestep: i64,
        buffer: ChunkBuffer<T>,
    ) -> Result<bool>
    where
        Chunk: From<ndarray::ArrayD<T>>,
    {
        let preprocessed = self
            .arrays
            .get(array)
            .is_some_and(|published| published.preprocess.is_some());
        if preprocessed || cfg!(target_endian = "big") {
            // Preprocessing works on the chunk; big-endian elements need encoding.
            return self.publish_slice(array, timestep, &buffer);
        }
        self.timed(|client, waited| {
            client.check_order(array, timestep)?;
            let (name, position) = client.check_chunk(array, T::DTYPE, buffer.shape())?;
            client.store(
                name,
                position,
                timestep,
                waited,
                |bridge, key| match buffer.into_written() {
                    Written::Bytes(bytes) => bridge.hold(key, bytes),
                    Written::Shared(lease) => bridge.hold_lease(key, lease),
                },
            )
        })
    }

    /// The declaration of `array` and the shape of this rank's chunk of it.
    fn declared(&self, array: &str) -> Result<(&Published, Vec<usize>)> {
        let published = self
            .arrays
            .get(array)
            .ok_or_else(|| InsituError::Undeclared(array.to_string()))?;
        let shape = published
            .decl
            .meta
            .chunk_shape_at(&published.decl.position)?;
        Ok((published, shape))
    }

    /// Refuses a timestep published already (a duplicate) or before the last one
    /// published (or a closed client).
    fn check_order(&self, array: &str, timestep: i64) -> Result<()> {
        if self.closed {
            return Err(InsituError::Closed);
        }
        match self.last.get(array) {
            Some(&last) if timestep == last => Err(InsituError::Duplicate {
                array: array.to_string(),
                chunk: self
                    .arrays
                    .get(array)
                    .map(|p| p.decl.position.clone())
                    .unwrap_or_default(),
                timestep,
                rank: Some(self.rank_number()),
            }),
            Some(&last) if timestep < last => Err(InsituError::OutOfOrder {
                array: array.to_string(),
                timestep,
                last,
            }),
            _ => Ok(()),
        }
    }

    /// This rank's number: in its communicator, or in its bridge without one.
    fn rank_number(&self) -> u64 {
        self.comm
            .as_ref()
            .map_or(self.rank, |comm| comm.rank() as u64)
    }

    /// Refuses a chunk of another dtype or shape than declared; returns the array's
    /// name and the chunk's position.
    fn check_chunk(
        &self,
        array: &str,
        dtype: DType,
        shape: &[usize],
    ) -> Result<(Arc<str>, Vec<u32>)> {
        let published = self
            .arrays
            .get(array)
            .ok_or_else(|| InsituError::Undeclared(array.to_string()))?;
        let meta = &published.decl.meta;
        let expected = meta.chunk_shape_at(&published.decl.position)?;
        if shape != expected.as_slice() || dtype != meta.dtype {
            return Err(InsituError::BadChunk {
                array: array.to_string(),
                got: shape.to_vec(),
                got_dtype: format!("{dtype:?}"),
                expected,
                expected_dtype: format!("{:?}", meta.dtype),
            });
        }
        Ok((meta.name.clone(), published.decl.position.clone()))
    }

    /// Waits for room (back-pressure), has the bridge hold the chunk (`hold`) and hands
    /// it over.
    fn store(
        &mut self,
        name: Arc<str>,
        position: Vec<u32>,
        timestep: i64,
        waited: &mut Duration,
        hold: impl FnOnce(&Bridge, &SourceKey) -> Result<Held>,
    ) -> Result<bool> {
        self.last.insert(name.clone(), timestep);
        // Done with the earlier iterations before waiting for the analytics, which may
        // be waiting for them.
        self.bridge.begin(self.rank, timestep)?;
        let waiting = Instant::now();
        let room = self.bridge.room_for(timestep);
        *waited = waiting.elapsed();
        let key = SourceKey {
            array: name,
            timestep,
            chunk: position,
        };
        let room = match room {
            Ok(room) => room,
            Err(e) => {
                // Waited in vain: the chunk is not published, and the rank moves on.
                self.bridge.published(self.rank, key, None)?;
                return Err(e);
            }
        };
        if !room {
            self.bridge.published(self.rank, key, None)?;
            return Ok(false);
        }
        let held = hold(&self.bridge, &key)?;
        self.bridge.published(self.rank, key, Some(held))?;
        Ok(true)
    }

    /// Runs `publish`, counting its time apart from what it waited for the analytics
    /// (which it adds to the `Duration` it is given).
    fn timed(
        &mut self,
        publish: impl FnOnce(&mut Self, &mut Duration) -> Result<bool>,
    ) -> Result<bool> {
        let started = Instant::now();
        let mut waited = Duration::ZERO;
        let outcome = publish(self, &mut waited);
        self.account(started, waited, &outcome);
        outcome
    }

    fn account(&mut self, started: Instant, waited: Duration, outcome: &Result<bool>) {
        self.stats.waiting += waited;
        self.stats.publishing += started.elapsed().saturating_sub(waited);
        match outcome {
            Ok(true) => self.stats.published += 1,
            Ok(false) => self.stats.dropped += 1,
            Err(_) => {}
        }
    }

    /// This rank published its last timestep: `timestep`, which may not be before a
    /// timestep it published.
    pub fn close(&mut self, timestep: i64) -> Result<()> {
        if let Some((array, &published)) = self.last.iter().max_by_key(|(_, t)| **t)
            && timestep < published
            && !self.closed
        {
            return Err(InsituError::CloseBeforeLast {
                timestep,
                array: array.to_string(),
                published,
            });
        }
        if !self.closed {
            self.closed = true;
            let last = self.last.values().copied().max();
            self.bridge.rank_closed(self.rank, timestep, last)?;
        }
        Ok(())
    }

    /// Closes at `timestep`, then waits (up to `wait`) until nothing needs this rank's
    /// chunks any more (the analytics finished `timestep`, stopped, or is gone): what
    /// a rank does before its process exits when its chunks live there
    /// ([`crate::Delivery::Reference`] from a process of its own). `false` if the time
    /// ran out first.
    pub fn close_and_wait(&mut self, timestep: i64, wait: Duration) -> Result<bool> {
        self.close(timestep)?;
        self.bridge.wait_analytics(timestep, wait)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if !self.closed {
            let last = self.last.values().copied().max().unwrap_or(0);
            let _ = self.close(last);
        }
    }
}

/// Runs `preprocess` on a chunk in this process, with the kernels of its registry.
fn apply(preprocess: &Preprocess, chunk: Chunk, worker: Option<&Worker>) -> Result<Chunk> {
    let worker = worker.ok_or_else(|| {
        InsituError::Runtime(doreisa_core::CoreError::Invalid(
            "preprocessing needs the runtime of a session".into(),
        ))
    })?;
    let kernels = &SchedShared::of(worker.registry())?.kernels;
    match preprocess {
        Preprocess::Kernel { name, params } => {
            let out = kernels.run(name, params, &[chunk.encode()])?;
            Ok(Chunk::decode(&out)?)
        }
        Preprocess::Expression(f) => {
            let shape = chunk.shape().to_vec();
            let runner = LocalRunner::new(kernels.clone());
            let key = SourceKey {
                array: "preprocess".into(),
                timestep: 0,
                chunk: vec![0; shape.len()],
            };
            runner.insert(key, chunk.encode());
            let input = Array::source(
                "preprocess",
                0,
                &shape,
                Grid::single(&shape)?,
                chunk.dtype(),
            )?;
            Ok(f(&input)?.compute(&runner)?)
        }
    }
}
