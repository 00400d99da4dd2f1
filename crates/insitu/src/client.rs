//! The simulation side: a client per rank. It declares the rank's chunks once, then
//! publishes them every timestep (after its optional preprocessing), reads steering
//! values at iteration boundaries, and closes at the end.

use crate::bridge::Bridge;
use crate::comm::Communicator;
use crate::decl::{ArrayMeta, ChunkDecl};
use crate::error::{InsituError, Result};
use doreisa_array::{Array, Chunk, Element, Grid};
use doreisa_core::Worker;
use doreisa_sched::cluster::SchedShared;
use doreisa_sched::{LocalRunner, SourceKey};
use ndarray::ArrayViewD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

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

/// A rank's connection to its analytics.
pub struct Client {
    bridge: Arc<Bridge>,
    arrays: BTreeMap<Arc<str>, Published>,
    last: BTreeMap<Arc<str>, i64>,
    comm: Option<Arc<dyn Communicator>>,
    closed: bool,
}

impl Client {
    /// A client publishing `arrays` through `bridge` (shared by the ranks of a node in
    /// this process).
    pub fn new(bridge: Arc<Bridge>, arrays: Vec<Published>) -> Result<Client> {
        let decls: Vec<ChunkDecl> = arrays.iter().map(|p| p.decl.clone()).collect();
        bridge.attach(&decls)?;
        Ok(Client {
            bridge,
            arrays: arrays
                .into_iter()
                .map(|p| (p.decl.meta.name.clone(), p))
                .collect(),
            last: BTreeMap::new(),
            comm: None,
            closed: false,
        })
    }

    /// Makes steering reads collective over `comm`: one rank asks, all get its answer.
    pub fn with_communicator(mut self, comm: Arc<dyn Communicator>) -> Self {
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
        if self.closed {
            return Err(InsituError::Closed);
        }
        let published = self
            .arrays
            .get(array)
            .ok_or_else(|| InsituError::Undeclared(array.to_string()))?;
        let name = published.decl.meta.name.clone();
        if let Some(&last) = self.last.get(&name)
            && timestep <= last
        {
            return Err(InsituError::OutOfOrder {
                array: array.to_string(),
                timestep,
                last,
            });
        }
        let chunk = match &published.preprocess {
            Some(preprocess) => apply(preprocess, chunk, self.bridge.worker())?,
            None => chunk,
        };
        let expected = published
            .decl
            .meta
            .chunk_shape_at(&published.decl.position)?;
        if chunk.shape() != expected.as_slice() || chunk.dtype() != published.decl.meta.dtype {
            return Err(InsituError::BadChunk {
                array: array.to_string(),
                got: chunk.shape().to_vec(),
                got_dtype: format!("{:?}", chunk.dtype()),
                expected,
                expected_dtype: format!("{:?}", published.decl.meta.dtype),
            });
        }
        self.last.insert(name.clone(), timestep);
        if !self.bridge.room_for(timestep)? {
            return Ok(false);
        }
        let stored = self.bridge.worker().put_blob(chunk.encode())?;
        let key = SourceKey {
            array: name,
            timestep,
            chunk: published.decl.position.clone(),
        };
        self.bridge.published(key, stored)?;
        Ok(true)
    }

    /// The steering value of `key` set for `timestep` (the latest one with `None`), or
    /// `default` when there is none.
    pub fn get<V: Serialize + DeserializeOwned>(
        &self,
        key: &str,
        timestep: Option<i64>,
        default: V,
    ) -> Result<V> {
        self.read(key, timestep, None, default)
    }

    /// Like [`Client::get`] for a given timestep, but waits (up to `wait`) until the
    /// analytics set `key` for `timestep` or a later one: deterministic steering.
    pub fn get_at<V: Serialize + DeserializeOwned>(
        &self,
        key: &str,
        timestep: i64,
        wait: Duration,
        default: V,
    ) -> Result<V> {
        self.read(key, Some(timestep), Some(wait), default)
    }

    fn read<V: Serialize + DeserializeOwned>(
        &self,
        key: &str,
        timestep: Option<i64>,
        wait: Option<Duration>,
        default: V,
    ) -> Result<V> {
        let ask = || -> Result<Option<Vec<u8>>> { self.bridge.feedback(key, timestep, wait) };
        let found = match &self.comm {
            Some(comm) => {
                // Rank 0 asks; a failure there is everyone's default, never a hang.
                let mine = if comm.rank() == 0 {
                    encode_value(&ask().unwrap_or(None))?
                } else {
                    Vec::new()
                };
                let shared = comm.broadcast(0, mine);
                doreisa_core::codec::decode::<Option<Vec<u8>>>(&shared)
                    .map_err(InsituError::Runtime)?
            }
            None => ask()?,
        };
        match found {
            Some(bytes) => doreisa_core::codec::decode(&bytes).map_err(InsituError::Runtime),
            None => Ok(default),
        }
    }

    /// This rank published its last timestep.
    pub fn close(&mut self, timestep: i64) -> Result<()> {
        if !self.closed {
            self.closed = true;
            self.bridge.rank_closed(timestep)?;
        }
        Ok(())
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
fn apply(preprocess: &Preprocess, chunk: Chunk, worker: &Worker) -> Result<Chunk> {
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

/// A typed steering value, encoded as the coordinator keeps it.
pub(crate) fn encode_value<V: Serialize>(value: &V) -> Result<Vec<u8>> {
    doreisa_core::codec::encode(value).map_err(InsituError::Runtime)
}
