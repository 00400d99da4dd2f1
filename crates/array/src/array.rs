//! [`Array`]: the public handle on a lazy chunked n-d array, how arrays are created
//! from sources, and how they are computed or persisted through a
//! [`GraphRunner`]. The operations live in [`crate::ops`].

use crate::chunk::{Chunk, with_chunk};
use crate::dtype::{DType, Scalar};
use crate::element::Element;
use crate::expr::{Kind, Node};
use crate::grid::Grid;
use crate::lower;
use crate::ops::doc_fixture;
use crate::{ArrayError, Result};
use doreisa_sched::{GraphRunner, SourceKey, TaskGraph};
use ndarray::{ArrayD, IxDyn, Slice};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A lazily evaluated, chunked n-d array. Cloning is cheap (the expression is shared);
/// operations return new arrays and check shapes and dtypes at once.
#[derive(Clone)]
pub struct Array {
    pub(crate) node: Arc<Node>,
}

/// An operand of an element-wise operation: an array or a (weakly typed) scalar.
#[derive(Debug, Clone)]
pub enum Operand {
    Array(Array),
    Scalar(Scalar),
}

impl From<&Array> for Operand {
    fn from(a: &Array) -> Operand {
        Operand::Array(a.clone())
    }
}

impl From<Array> for Operand {
    fn from(a: Array) -> Operand {
        Operand::Array(a)
    }
}

impl From<Scalar> for Operand {
    fn from(s: Scalar) -> Operand {
        Operand::Scalar(s)
    }
}

macro_rules! operand_from_scalar {
    ($($t:ty),*) => {$(
        impl From<$t> for Operand {
            fn from(v: $t) -> Operand {
                Operand::Scalar(Scalar::from(v))
            }
        }
    )*};
}
operand_from_scalar!(bool, u8, i32, i64, f32, f64);

impl Array {
    /// The array whose chunks the runner holds as
    /// `SourceKey { array: name, timestep, chunk: position in grid }`.
    pub fn source(
        name: &str,
        timestep: i64,
        shape: &[usize],
        grid: Grid,
        dtype: DType,
    ) -> Result<Array> {
        if grid.shape() != shape {
            return Err(ArrayError::BadGrid(format!(
                "grid of shape {:?} for an array of shape {shape:?}",
                grid.shape()
            )));
        }
        Ok(Array::from_node(Node::new(
            Kind::Source {
                name: name.into(),
                timestep,
                persisted: None,
            },
            grid,
            dtype,
        )))
    }

    pub(crate) fn from_node(node: Arc<Node>) -> Array {
        Array { node }
    }

    pub fn shape(&self) -> &[usize] {
        &self.node.shape
    }

    pub fn ndim(&self) -> usize {
        self.node.ndim()
    }

    /// Number of elements.
    pub fn size(&self) -> usize {
        self.node.shape.iter().product()
    }

    pub fn dtype(&self) -> DType {
        self.node.dtype
    }

    pub fn grid(&self) -> &Grid {
        &self.node.grid
    }

    /// Chunk extents along each axis (Dask's `chunks`).
    pub fn chunks(&self) -> &[Vec<usize>] {
        self.node.grid.chunks()
    }

    pub fn num_chunks(&self) -> usize {
        self.node.grid.num_chunks()
    }

    /// Whether `self` and `other` are the same expression (not merely equal ones).
    pub fn same_as(&self, other: &Array) -> bool {
        Arc::ptr_eq(&self.node, &other.node)
    }

    /// The task graph computing this array: output `i` is the chunk at
    /// `grid().position(i)`.
    pub fn lower(&self) -> Result<TaskGraph> {
        lower::lower(&self.node)
    }

    /// Computes the whole array.
    #[doc = concat!("```\n", doc_fixture!(f), "let c = (&x + 1.0)?.compute(&runner)?;\nassert_eq!(c.into_array::<f64>()?.into_raw_vec_and_offset().0, [-0.5, 1.0, 1.5, 3.0]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn compute(&self, runner: &dyn GraphRunner) -> Result<Chunk> {
        // A runner that keeps plans finds this expression's by its structure, and
        // lowers it only the first time (or when the cluster's layout changed).
        let (structure, timestep) = crate::structure::structure_key(&self.node);
        let mut lowering_error = None;
        let mut lower = || {
            self.lower().map_err(|e| {
                let message = e.to_string();
                lowering_error = Some(e);
                doreisa_sched::SchedError::InvalidGraph(message)
            })
        };
        let outputs = runner.compute_keyed(structure, timestep, &mut lower);
        if let Some(e) = lowering_error {
            return Err(e);
        }
        let outputs = outputs?;
        let grid = &self.node.grid;
        if outputs.len() != grid.num_chunks() {
            return Err(ArrayError::ResultMismatch {
                chunk: Vec::new(),
                detail: format!("{} outputs for {} chunks", outputs.len(), grid.num_chunks()),
            });
        }
        let mut chunks = Vec::with_capacity(outputs.len());
        for (index, bytes) in outputs.iter().enumerate() {
            let pos = grid.position(index);
            let chunk = Chunk::decode(bytes)?;
            let expected = grid.chunk_shape(&pos);
            if chunk.dtype() != self.dtype() || chunk.shape() != expected {
                return Err(ArrayError::ResultMismatch {
                    chunk: pos.iter().map(|&p| p as u32).collect(),
                    detail: format!(
                        "{} {:?} where {} {expected:?} was expected",
                        chunk.dtype(),
                        chunk.shape(),
                        self.dtype()
                    ),
                });
            }
            chunks.push((pos, chunk));
        }
        if chunks.len() == 1 {
            return Ok(chunks.pop().expect("one chunk").1);
        }
        Ok(
            crate::dispatch::for_dtype!(self.dtype(), T => Chunk::from(assemble::<T>(grid, &chunks))),
        )
    }

    /// Starts computing the array and returns an array over the results (sources of
    /// later graphs), which stay alive as long as the returned array or any array built
    /// from it does.
    #[doc = concat!("```\n", doc_fixture!(f), "let squares = (&x * &x)?.persist(&runner)?; // computing now, kept where computed\nassert_eq!(squares.sum()?.compute(&runner)?.scalar::<f64>()?, 6.5);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn persist(&self, runner: &dyn GraphRunner) -> Result<Array> {
        static PERSISTED: AtomicU64 = AtomicU64::new(0);
        let graph = self.lower()?;
        let name: Arc<str> = format!(
            "persisted/{}/{}",
            std::process::id(),
            PERSISTED.fetch_add(1, Ordering::Relaxed)
        )
        .into();
        let keys = self
            .node
            .grid
            .positions()
            .map(|pos| SourceKey {
                array: name.clone(),
                timestep: 0,
                chunk: pos.iter().map(|&p| p as u32).collect(),
            })
            .collect();
        let persisted = runner.persist(&graph, keys)?;
        Ok(Array::from_node(Node::new(
            Kind::Source {
                name,
                timestep: 0,
                persisted: Some(persisted),
            },
            self.node.grid.clone(),
            self.dtype(),
        )))
    }
}

fn assemble<T: Element>(grid: &Grid, chunks: &[(Vec<usize>, Chunk)]) -> ArrayD<T> {
    let mut out = ArrayD::<T>::default(IxDyn(&grid.shape()));
    for (pos, chunk) in chunks {
        let offset = grid.chunk_offset(pos);
        let shape = chunk.shape();
        let mut region = out.slice_each_axis_mut(|a| {
            let i = a.axis.index();
            Slice::from(offset[i]..offset[i] + shape[i])
        });
        region.assign(chunk.as_array::<T>().expect("dtype checked"));
    }
    out
}

impl fmt::Debug for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.node.kind {
            Kind::Source { name, timestep, .. } => format!("source {name}@{timestep}"),
            Kind::Const(c) => format!("constant {c:?}"),
            Kind::Map { func, .. } => format!("{func:?}"),
            Kind::Reindex { .. } => "reindex".into(),
            Kind::Concat { axis, .. } => format!("concatenate on axis {axis}"),
            Kind::Rechunk { .. } => "rechunk".into(),
            Kind::Reduce { op, axes, .. } => format!("{} over {axes:?}", op.name()),
            Kind::Histogram { edges, .. } => format!("histogram of {} bins", edges.len() - 1),
            Kind::Reshape { .. } => "reshape".into(),
            Kind::Scan { axis, prod, .. } => {
                format!("{} along {axis}", if *prod { "cumprod" } else { "cumsum" })
            }
            Kind::Range(spec) => format!("{spec:?}"),
            Kind::Quantile { q, .. } => format!("quantiles {q:?}"),
            Kind::Sort { axis, .. } => format!("sort along {axis}"),
            Kind::MatMul { .. } => "matmul".into(),
            Kind::Extract { .. } => "extract".into(),
            Kind::Unique { .. } => "unique".into(),
            Kind::TopK { axis, k, arg, .. } => {
                format!("{}topk {k} along {axis}", if *arg { "arg" } else { "" })
            }
            Kind::MapBlocks { kernel, .. } => format!("map_blocks {kernel}"),
        };
        f.debug_struct("Array")
            .field("shape", &self.node.shape)
            .field("dtype", &self.node.dtype)
            .field("chunks", &self.node.grid.chunks())
            .field("expr", &kind)
            .finish()
    }
}

/// Cuts `value` along `grid` and encodes each chunk under the source key an
/// [`Array::source`] named `name` at `timestep` reads it from (e.g. to insert into a
/// `LocalRunner`, or to publish).
pub fn encode_chunks(
    name: &str,
    timestep: i64,
    value: &Chunk,
    grid: &Grid,
) -> Result<Vec<(SourceKey, bytes::Bytes)>> {
    if grid.shape() != value.shape() {
        return Err(ArrayError::BadGrid(format!(
            "grid of shape {:?} for a value of shape {:?}",
            grid.shape(),
            value.shape()
        )));
    }
    let name: Arc<str> = name.into();
    Ok(grid
        .positions()
        .map(|pos| {
            let offset = grid.chunk_offset(&pos);
            let shape = grid.chunk_shape(&pos);
            let bytes = with_chunk!(Chunk, value, a => crate::chunk::encode_view(a.slice_each_axis(|ax| {
                let i = ax.axis.index();
                Slice::from(offset[i]..offset[i] + shape[i])
            })));
            let key = SourceKey {
                array: name.clone(),
                timestep,
                chunk: pos.iter().map(|&p| p as u32).collect(),
            };
            (key, bytes)
        })
        .collect())
}
