//! The lazy expression tree behind [`crate::Array`]: nodes shared by `Arc` (a node used
//! twice is one node, lowered once), each with its shape, dtype and chunk grid known
//! when it is built, so that errors surface at the call that caused them.

use crate::dtype::DType;
use crate::element::TypedScalar;
use crate::grid::Grid;
use crate::program::{BinaryFn, RangeSpec, Reduction, UnaryFn};
use crate::view::{View, ViewAxis};
use crate::{ArrayError, Result};
use doreisa_sched::Persisted;
use std::sync::Arc;

#[derive(Debug)]
pub(crate) struct Node {
    pub kind: Kind,
    pub shape: Vec<usize>,
    pub grid: Grid,
    pub dtype: DType,
}

#[derive(Debug)]
pub(crate) enum Kind {
    /// Chunks given to the runner under `SourceKey { array: name, timestep, chunk }`;
    /// `persisted` keeps the outputs of an earlier graph alive.
    Source {
        name: Arc<str>,
        timestep: i64,
        #[allow(dead_code)] // never read: held to keep the persisted values alive
        persisted: Option<Persisted>,
    },
    /// A scalar repeated over the node's shape (scalar operands).
    Const(TypedScalar),
    /// An element-wise function of operands of the node's shape and grid.
    Map { func: MapFn, args: Vec<Arc<Node>> },
    /// Chunks read as views of chunks of `x` (slicing, flip, transpose, broadcasting,
    /// new and dropped axes, splitting chunks).
    Reindex { x: Arc<Node>, plan: Reindex },
    /// Inputs (cut alike on every other axis) one after another along `axis`.
    Concat { xs: Vec<Arc<Node>>, axis: usize },
    /// `x` cut by the node's grid (chunks merged from several chunks of `x`).
    Rechunk { x: Arc<Node> },
    Reduce {
        x: Arc<Node>,
        op: Reduction,
        /// Sorted, distinct.
        axes: Vec<usize>,
        keepdims: bool,
        ddof: u32,
        split_every: usize,
    },
    /// `x` (cut in blocks of whole rows: only its first axis split) read in C order and
    /// cut again by the node's grid (only its first axis split): `reshape`.
    Reshape { x: Arc<Node> },
    /// Cumulative sums or products along `axis` (chunks scanned, then carried).
    Scan {
        x: Arc<Node>,
        axis: usize,
        prod: bool,
    },
    /// Evenly spaced values (`arange`, `linspace`), computed where they are needed.
    Range(RangeSpec),
    /// Quantiles `q` of `x` over `axes`: exact, each chunk holding whole lanes (the
    /// reduced axes unsplit), as one task per chunk; or, `approximate`, over all axes,
    /// from weighted samples of every chunk merged in a tree. The result's first axis
    /// is `q`'s.
    Quantile {
        x: Arc<Node>,
        axes: Vec<usize>,
        q: Arc<[f64]>,
        approximate: bool,
    },
    /// The matrix product of 2-d `a` and `b` (cut alike along the contracted axis):
    /// block products summed in a tree.
    MatMul { a: Arc<Node>, b: Arc<Node> },
    /// The elements of `x` where `mask` is true, in C order (both cut in blocks of
    /// whole rows): output chunk `i` is those of block `blocks[i]`.
    Extract {
        x: Arc<Node>,
        mask: Arc<Node>,
        blocks: Vec<usize>,
    },
    /// The sorted distinct elements of `x` (its length known only once computed: never
    /// an [`crate::Array`] of its own, see [`crate::Array::unique`]).
    Unique { x: Arc<Node> },
    /// `x` sorted along `axis` (unsplit): one task per chunk.
    Sort { x: Arc<Node>, axis: usize },
    /// The `k` largest (`k > 0`, descending) or `-k` smallest (ascending) elements
    /// along `axis` (or, `arg`, their indices): per chunk, then merged in a tree.
    TopK {
        x: Arc<Node>,
        axis: usize,
        k: isize,
        arg: bool,
    },
    /// Counts of the elements of `x` in the bins between consecutive `edges` (the last
    /// bin closed), summed in a tree: one chunk of int64.
    Histogram {
        x: Arc<Node>,
        edges: Arc<[f64]>,
        split_every: usize,
    },
    /// A registered kernel applied to the chunks at each position of `xs` (cut alike).
    MapBlocks {
        xs: Vec<Arc<Node>>,
        kernel: Arc<str>,
        params: Arc<[u8]>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum MapFn {
    Unary(UnaryFn),
    Binary(BinaryFn),
    /// Arguments: bool condition, then the two branches.
    Where,
    Cast(DType),
}

impl Node {
    pub fn new(kind: Kind, grid: Grid, dtype: DType) -> Arc<Node> {
        Arc::new(Node {
            kind,
            shape: grid.shape(),
            grid,
            dtype,
        })
    }

    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// The direct operands.
    pub fn children(&self) -> Vec<&Arc<Node>> {
        match &self.kind {
            Kind::Source { .. } | Kind::Const(_) => Vec::new(),
            Kind::Map { args: xs, .. } | Kind::Concat { xs, .. } | Kind::MapBlocks { xs, .. } => {
                xs.iter().collect()
            }
            Kind::MatMul { a, b } | Kind::Extract { x: a, mask: b, .. } => vec![a, b],
            Kind::Reindex { x, .. }
            | Kind::Rechunk { x }
            | Kind::Reduce { x, .. }
            | Kind::Reshape { x }
            | Kind::Scan { x, .. }
            | Kind::Histogram { x, .. }
            | Kind::Quantile { x, .. }
            | Kind::Sort { x, .. }
            | Kind::TopK { x, .. }
            | Kind::Unique { x } => vec![x],
            Kind::Range(_) => Vec::new(),
        }
    }
}

impl Drop for Node {
    /// Drops a deep chain of nodes without a deep recursion.
    fn drop(&mut self) {
        let mut stack = take_children(&mut self.kind);
        while let Some(node) = stack.pop() {
            if let Ok(mut node) = Arc::try_unwrap(node) {
                stack.extend(take_children(&mut node.kind));
            }
        }
    }
}

/// Moves the operands out of `kind` (leaving it a constant).
fn take_children(kind: &mut Kind) -> Vec<Arc<Node>> {
    match std::mem::replace(kind, Kind::Const(TypedScalar::Bool(false))) {
        Kind::Source { .. } | Kind::Const(_) => Vec::new(),
        Kind::Map { args: xs, .. } | Kind::Concat { xs, .. } | Kind::MapBlocks { xs, .. } => xs,
        Kind::MatMul { a, b } | Kind::Extract { x: a, mask: b, .. } => vec![a, b],
        Kind::Reindex { x, .. }
        | Kind::Rechunk { x }
        | Kind::Reduce { x, .. }
        | Kind::Reshape { x }
        | Kind::Scan { x, .. }
        | Kind::Histogram { x, .. }
        | Kind::Quantile { x, .. }
        | Kind::Sort { x, .. }
        | Kind::TopK { x, .. }
        | Kind::Unique { x } => vec![x],
        Kind::Range(_) => Vec::new(),
    }
}

/// A run of chunk `chunk` of a source axis: `len` elements from `start` on, with the
/// step of the output axis it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Part {
    pub chunk: usize,
    pub start: usize,
    pub len: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum OutAxis {
    /// Output chunk `i` along this axis is `parts[i]` of source axis `src`.
    From {
        src: usize,
        step: isize,
        parts: Vec<Part>,
    },
    /// A new axis (`expand_dims`, or broadcasting), cut as `lens`.
    New { lens: Vec<usize> },
}

/// A source axis dropped at one index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Fixed {
    pub src: usize,
    pub chunk: usize,
    pub index: usize,
}

/// How each output chunk of a reindexing is a view of one source chunk.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Reindex {
    pub out: Vec<OutAxis>,
    pub fixed: Vec<Fixed>,
}

impl Reindex {
    /// Reads `grid` unchanged.
    pub fn identity(grid: &Grid) -> Reindex {
        Reindex {
            out: (0..grid.ndim())
                .map(|a| OutAxis::identity(grid, a))
                .collect(),
            fixed: Vec::new(),
        }
    }

    pub fn is_identity(&self, grid: &Grid) -> bool {
        *self == Reindex::identity(grid)
    }

    /// The output grid.
    pub fn grid(&self) -> Result<Grid> {
        Grid::from_chunks(
            self.out
                .iter()
                .map(|axis| match axis {
                    OutAxis::From { parts, .. } => parts.iter().map(|p| p.len).collect(),
                    OutAxis::New { lens } => lens.clone(),
                })
                .collect(),
        )
    }

    /// The source chunk output chunk `pos` reads, and how.
    pub fn locate(&self, pos: &[usize], src_ndim: usize) -> (Vec<usize>, View) {
        let mut src_pos = vec![0; src_ndim];
        let mut axes = Vec::with_capacity(self.out.len());
        for (axis, &p) in self.out.iter().zip(pos) {
            axes.push(match axis {
                OutAxis::From { src, step, parts } => {
                    let part = &parts[p];
                    src_pos[*src] = part.chunk;
                    ViewAxis::Map {
                        src: *src,
                        start: part.start,
                        step: *step,
                        len: part.len,
                    }
                }
                OutAxis::New { lens } => ViewAxis::Bcast { len: lens[p] },
            });
        }
        let fixed = self
            .fixed
            .iter()
            .map(|f| {
                src_pos[f.src] = f.chunk;
                (f.src, f.index)
            })
            .collect();
        (src_pos, View { axes, fixed })
    }
}

impl OutAxis {
    /// Source axis `axis` of `grid`, unchanged.
    pub fn identity(grid: &Grid, axis: usize) -> OutAxis {
        OutAxis::From {
            src: axis,
            step: 1,
            parts: grid
                .axis(axis)
                .iter()
                .enumerate()
                .map(|(chunk, &len)| Part {
                    chunk,
                    start: 0,
                    len,
                })
                .collect(),
        }
    }

    /// Source axis `axis` of `grid` cut as `extents`, if every new chunk lies within
    /// one source chunk.
    pub fn split(grid: &Grid, axis: usize, extents: &[usize]) -> Option<OutAxis> {
        let mut parts = Vec::with_capacity(extents.len());
        let mut at = 0;
        for &len in extents {
            let (chunk, start) = grid.locate(axis, at);
            if start + len > grid.axis(axis)[chunk] {
                return None;
            }
            parts.push(Part { chunk, start, len });
            at += len;
        }
        Some(OutAxis::From {
            src: axis,
            step: 1,
            parts,
        })
    }

    /// The elements `start + k * step` for `k < len` of source axis `axis` of `grid`,
    /// cut where the source chunks are.
    pub fn select(grid: &Grid, axis: usize, start: usize, step: isize, len: usize) -> OutAxis {
        let empty = Part {
            chunk: 0,
            start: 0,
            len: 0,
        };
        let mut parts = Vec::new();
        if len > 0 {
            let stride = step.unsigned_abs();
            let mut k = 0;
            while k < len {
                let index = if step > 0 {
                    start + k * stride
                } else {
                    start - k * stride
                };
                let (chunk, local) = grid.locate(axis, index);
                let range = grid.chunk_range(axis, chunk);
                // Elements of the selection still inside this chunk.
                let inside = if step > 0 {
                    (range.end - 1 - index) / stride + 1
                } else {
                    (index - range.start) / stride + 1
                };
                let n = inside.min(len - k);
                parts.push(Part {
                    chunk,
                    start: local,
                    len: n,
                });
                k += n;
            }
        } else {
            parts.push(empty);
        }
        OutAxis::From {
            src: axis,
            step: if len > 1 { step } else { 1 },
            parts,
        }
    }
}

/// Axis `axis` of an `ndim`-d array, counting from the end when negative (numpy's
/// `axis=-1` is the last).
pub(crate) fn check_axis(axis: isize, ndim: usize) -> Result<usize> {
    let at = if axis < 0 { axis + ndim as isize } else { axis };
    if (0..ndim as isize).contains(&at) {
        Ok(at as usize)
    } else {
        Err(ArrayError::AxisOutOfRange { axis, ndim })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_are_cut_at_source_chunks() {
        let grid = Grid::from_chunks(vec![vec![3, 3, 4]]).unwrap();
        let OutAxis::From { parts, .. } = OutAxis::select(&grid, 0, 1, 2, 5) else {
            unreachable!()
        };
        // indices 1 3 5 7 9
        let got: Vec<_> = parts.iter().map(|p| (p.chunk, p.start, p.len)).collect();
        assert_eq!(got, vec![(0, 1, 1), (1, 0, 2), (2, 1, 2)]);
        let OutAxis::From { parts, step, .. } = OutAxis::select(&grid, 0, 9, -3, 4) else {
            unreachable!()
        };
        // indices 9 6 3 0
        let got: Vec<_> = parts.iter().map(|p| (p.chunk, p.start, p.len)).collect();
        assert_eq!((step, got), (-3, vec![(2, 3, 2), (1, 0, 1), (0, 0, 1)]));
    }

    #[test]
    fn splits_must_stay_within_source_chunks() {
        let grid = Grid::from_chunks(vec![vec![3, 3]]).unwrap();
        assert!(OutAxis::split(&grid, 0, &[1, 2, 3]).is_some());
        assert!(OutAxis::split(&grid, 0, &[2, 2, 2]).is_none());
    }
}
