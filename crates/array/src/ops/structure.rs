//! Operations that move elements without computing them: slicing (with steps),
//! indexing, flip, transpose, new and dropped axes, broadcasting, concatenate, stack
//! and rechunk. All but merging rechunks lower to views read inside consumers.

use super::{broadcast_node, broadcast_shapes, cast_node, reindex};
use crate::dtype::DType;
use crate::expr::{Fixed, Kind, Node, OutAxis, Reindex, check_axis};
use crate::grid::{Grid, common_refinement};
use crate::{Array, ArrayError, Result};
use std::ops::{Range, RangeFrom, RangeFull, RangeInclusive, RangeTo};

/// One entry of a [`Array::slice`]: numpy's `start:stop:step` (negative bounds count
/// from the end; a negative step walks backwards), an index that drops the axis,
/// `np.newaxis` (a new axis of length 1, consuming none) or `...` (as many `:` as the
/// other entries leave axes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceArg {
    Range {
        start: Option<isize>,
        stop: Option<isize>,
        step: isize,
    },
    Index(isize),
    NewAxis,
    Ellipsis,
}

impl SliceArg {
    /// The whole axis (`:`).
    pub const FULL: SliceArg = SliceArg::Range {
        start: None,
        stop: None,
        step: 1,
    };

    /// `start:stop`.
    pub fn range(start: isize, stop: isize) -> SliceArg {
        SliceArg::Range {
            start: Some(start),
            stop: Some(stop),
            step: 1,
        }
    }

    /// The same range with step `step` (`start:stop:step`).
    pub fn step(self, step: isize) -> SliceArg {
        match self {
            SliceArg::Range { start, stop, .. } => SliceArg::Range { start, stop, step },
            index => index,
        }
    }

    /// The selected indices of an axis of length `n`: `(first, step, count)`.
    fn resolve(self, n: usize) -> Result<(usize, isize, usize)> {
        let n = n as isize;
        let (start, stop, step) = match self {
            SliceArg::Index(i) => {
                let at = if i < 0 { i + n } else { i };
                if !(0..n).contains(&at) {
                    return Err(ArrayError::BadSlice(format!(
                        "index {i} out of range for an axis of length {n}"
                    )));
                }
                return Ok((at as usize, 1, 1));
            }
            SliceArg::Range { step: 0, .. } => {
                return Err(ArrayError::BadSlice("slice step cannot be zero".into()));
            }
            SliceArg::NewAxis | SliceArg::Ellipsis => {
                unreachable!("expanded before resolving")
            }
            SliceArg::Range { start, stop, step } => (start, stop, step),
        };
        let wrap = |i: isize| if i < 0 { i + n } else { i };
        if step > 0 {
            let first = start.map_or(0, wrap).clamp(0, n);
            let end = stop.map_or(n, wrap).clamp(0, n);
            let count = if end > first {
                (end - first + step - 1) / step
            } else {
                0
            };
            Ok((first as usize, step, count as usize))
        } else {
            let first = start.map_or(n - 1, wrap).clamp(-1, n - 1);
            let end = stop.map_or(-1, |s| wrap(s).clamp(-1, n - 1));
            let count = if first > end {
                (first - end - step - 1) / -step
            } else {
                0
            };
            Ok((first.max(0) as usize, step, count as usize))
        }
    }
}

impl From<Range<usize>> for SliceArg {
    fn from(r: Range<usize>) -> SliceArg {
        SliceArg::range(r.start as isize, r.end as isize)
    }
}

impl From<RangeInclusive<usize>> for SliceArg {
    fn from(r: RangeInclusive<usize>) -> SliceArg {
        SliceArg::range(*r.start() as isize, *r.end() as isize + 1)
    }
}

impl From<RangeFrom<usize>> for SliceArg {
    fn from(r: RangeFrom<usize>) -> SliceArg {
        SliceArg::Range {
            start: Some(r.start as isize),
            stop: None,
            step: 1,
        }
    }
}

impl From<RangeTo<usize>> for SliceArg {
    fn from(r: RangeTo<usize>) -> SliceArg {
        SliceArg::Range {
            start: None,
            stop: Some(r.end as isize),
            step: 1,
        }
    }
}

impl From<RangeFull> for SliceArg {
    fn from(_: RangeFull) -> SliceArg {
        SliceArg::FULL
    }
}

impl From<usize> for SliceArg {
    fn from(i: usize) -> SliceArg {
        SliceArg::Index(i as isize)
    }
}

impl From<isize> for SliceArg {
    fn from(i: isize) -> SliceArg {
        SliceArg::Index(i)
    }
}

impl Array {
    /// numpy's basic indexing: one [`SliceArg`] per axis, from the first (missing
    /// trailing ones are `:`), with `NewAxis` and one `Ellipsis` where numpy takes
    /// `np.newaxis` and `...`. Only the chunks the selection overlaps are read: the
    /// result is a view, read inside whatever consumes it.
    ///
    /// ```
    /// # use doreisa_array::{Array, Chunk, DType, Grid, SliceArg, encode_chunks, kernels};
    /// # use doreisa_sched::LocalRunner;
    /// # let runner = LocalRunner::new(kernels());
    /// # let grid = Grid::regular(&[3, 4], &[2, 2])?;
    /// # let data = ndarray::Array::from_shape_fn((3, 4), |(i, j)| (4 * i + j) as i64).into_dyn();
    /// # for (key, bytes) in encode_chunks("x", 0, &Chunk::from(data), &grid)? { runner.insert(key, bytes); }
    /// let x = Array::source("x", 0, &[3, 4], grid, DType::I64)?;
    /// // x[..., ::-2, np.newaxis]
    /// let y = x.slice(&[SliceArg::Ellipsis, SliceArg::FULL.step(-2), SliceArg::NewAxis])?;
    /// assert_eq!(y.shape(), &[3, 2, 1]);
    /// let values = y.compute(&runner)?.into_array::<i64>()?;
    /// assert_eq!(values.into_raw_vec_and_offset().0, [3, 1, 7, 5, 11, 9]);
    /// # Ok::<(), doreisa_array::ArrayError>(())
    /// ```
    pub fn slice(&self, args: &[SliceArg]) -> Result<Array> {
        let node = &self.node;
        let consuming = args
            .iter()
            .filter(|a| matches!(a, SliceArg::Range { .. } | SliceArg::Index(_)))
            .count();
        let ellipses = args.iter().filter(|a| **a == SliceArg::Ellipsis).count();
        if consuming > node.ndim() || ellipses > 1 {
            return Err(ArrayError::BadSlice(format!(
                "{consuming} indices ({ellipses} ellipses) for {} dimensions",
                node.ndim()
            )));
        }
        let mut expanded: Vec<SliceArg> = Vec::with_capacity(args.len() + node.ndim());
        for &arg in args {
            if arg == SliceArg::Ellipsis {
                expanded.extend(std::iter::repeat_n(SliceArg::FULL, node.ndim() - consuming));
            } else {
                expanded.push(arg);
            }
        }
        if ellipses == 0 {
            expanded.extend(std::iter::repeat_n(SliceArg::FULL, node.ndim() - consuming));
        }
        let mut out = Vec::with_capacity(expanded.len());
        let mut fixed = Vec::new();
        let mut axis = 0;
        for arg in expanded {
            if arg == SliceArg::NewAxis {
                out.push(OutAxis::New { lens: vec![1] });
                continue;
            }
            let (first, step, count) = arg.resolve(node.shape[axis])?;
            if let SliceArg::Index(_) = arg {
                let (chunk, index) = node.grid.locate(axis, first);
                fixed.push(Fixed {
                    src: axis,
                    chunk,
                    index,
                });
            } else {
                out.push(OutAxis::select(&node.grid, axis, first, step, count));
            }
            axis += 1;
        }
        Ok(Array::from_node(reindex(node, Reindex { out, fixed })?))
    }

    /// numpy's `diff(x, n, axis)`: `x[1:] - x[:-1]` along `axis`, `n` times (bools:
    /// `x[1:] != x[:-1]`, as numpy). The two slices are views of the same chunks, so
    /// this moves no data but the one element each chunk borrows from the next.
    #[doc = concat!("```\n", doc_fixture!(f), "let v = |a: doreisa_array::Array| a.compute(&runner).map(|c| c.to_array::<f64>().into_raw_vec_and_offset().0);\nassert_eq!(v(x.diff(1, -1)?)?, [1.5, 0.5, 1.5]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn diff(&self, n: usize, axis: isize) -> Result<Array> {
        let axis = check_axis(axis, self.ndim())?;
        let mut out = self.clone();
        for _ in 0..n {
            let len = out.shape()[axis] as isize;
            let mut later = vec![SliceArg::FULL; axis + 1];
            let mut earlier = later.clone();
            later[axis] = SliceArg::Range {
                start: Some(1.min(len)),
                stop: None,
                step: 1,
            };
            earlier[axis] = SliceArg::Range {
                start: None,
                stop: Some((len - 1).max(0)),
                step: 1,
            };
            let (later, earlier) = (out.slice(&later)?, out.slice(&earlier)?);
            out = if out.dtype().is_bool() {
                later.ne(&earlier)?
            } else {
                later.sub(&earlier)?
            };
        }
        Ok(out)
    }

    /// The array reversed along `axis` (negative: from the end).
    #[doc = concat!("```\n", doc_fixture!(f), "let v = |a: doreisa_array::Array| a.compute(&runner).map(|c| c.to_array::<f64>().into_raw_vec_and_offset().0);\nassert_eq!(v(x.flip(0)?)?, [2.0, 0.5, 0.0, -1.5]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn flip(&self, axis: isize) -> Result<Array> {
        let axis = check_axis(axis, self.ndim())?;
        let mut args = vec![SliceArg::FULL; axis + 1];
        args[axis] = SliceArg::FULL.step(-1);
        self.slice(&args)
    }

    /// The axes permuted: axis `i` of the result is axis `axes[i]` of `self` (negative:
    /// from the end).
    #[doc = concat!("```\n", doc_fixture!(f), "let v = |a: doreisa_array::Array| a.compute(&runner).map(|c| c.to_array::<f64>().into_raw_vec_and_offset().0);\nlet m = x.reshape(&[2, 2])?;\nassert_eq!(v(m.transpose(&[1, 0])?)?, [-1.5, 0.5, 0.0, 2.0]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn transpose(&self, axes: &[isize]) -> Result<Array> {
        let ndim = self.ndim();
        let mut seen = vec![false; ndim];
        let axes = axes
            .iter()
            .map(|&a| check_axis(a, ndim))
            .collect::<Result<Vec<usize>>>()?;
        for &a in &axes {
            if std::mem::replace(&mut seen[a], true) {
                return Err(ArrayError::InvalidArgument(format!(
                    "axes {axes:?} repeat axis {a}"
                )));
            }
        }
        if axes.len() != ndim {
            return Err(ArrayError::InvalidArgument(format!(
                "axes {axes:?} do not permute {ndim} dimensions"
            )));
        }
        let grid = &self.node.grid;
        let out = axes.iter().map(|&a| OutAxis::identity(grid, a)).collect();
        self.reindexed(out)
    }

    /// This array with its axes rearranged as `out` says (no axis fixed).
    fn reindexed(&self, out: Vec<OutAxis>) -> Result<Array> {
        let plan = Reindex {
            out,
            fixed: Vec::new(),
        };
        Ok(Array::from_node(reindex(&self.node, plan)?))
    }

    /// The axes reversed (numpy's `.T`).
    #[doc = concat!("```\n", doc_fixture!(f), "assert_eq!(x.reshape(&[2, 2])?.t()?.shape(), &[2, 2]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn t(&self) -> Result<Array> {
        let axes: Vec<isize> = (0..self.ndim() as isize).rev().collect();
        self.transpose(&axes)
    }

    /// A new axis of length 1 at `axis` of the result (negative: from the end, numpy's
    /// `expand_dims(x, -1)` appends one).
    #[doc = concat!("```\n", doc_fixture!(f), "assert_eq!(x.expand_dims(-1)?.shape(), &[4, 1]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn expand_dims(&self, axis: isize) -> Result<Array> {
        let axis = check_axis(axis, self.ndim() + 1)?;
        let grid = &self.node.grid;
        let mut out: Vec<OutAxis> = (0..self.ndim())
            .map(|a| OutAxis::identity(grid, a))
            .collect();
        out.insert(axis, OutAxis::New { lens: vec![1] });
        self.reindexed(out)
    }

    /// Drops `axes` (negative: from the end), which must have length 1.
    #[doc = concat!("```\n", doc_fixture!(f), "assert_eq!(x.expand_dims(0)?.squeeze(&[0])?.shape(), &[4]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn squeeze(&self, axes: &[isize]) -> Result<Array> {
        let mut args = vec![SliceArg::FULL; self.ndim()];
        for &a in axes {
            let a = check_axis(a, self.ndim())?;
            if self.shape()[a] != 1 {
                return Err(ArrayError::ShapeMismatch {
                    op: "squeeze",
                    detail: format!("axis {a} of shape {:?} is not of length 1", self.shape()),
                });
            }
            args[a] = SliceArg::Index(0);
        }
        self.slice(&args)
    }

    /// The array repeated to `shape` by numpy's broadcasting rules (new axes are one
    /// chunk each).
    #[doc = concat!("```\n", doc_fixture!(f), "let b = x.broadcast_to(&[3, 4])?;\nassert_eq!(b.sum()?.compute(&runner)?.scalar::<f64>()?, 3.0);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Array> {
        let target = broadcast_shapes("broadcast_to", &[self.shape(), shape])?;
        if target != shape {
            return Err(ArrayError::ShapeMismatch {
                op: "broadcast_to",
                detail: format!("{:?} does not broadcast to {shape:?}", self.shape()),
            });
        }
        let lead = shape.len() - self.ndim();
        let extents = shape
            .iter()
            .enumerate()
            .map(|(o, &n)| match o.checked_sub(lead) {
                Some(src) if self.shape()[src] == n => self.grid().axis(src).to_vec(),
                _ => vec![n],
            })
            .collect();
        let grid = Grid::from_chunks(extents)?;
        Ok(Array::from_node(broadcast_node(&self.node, &grid)?))
    }

    /// The arrays one after another along `axis` (their other extents must agree;
    /// dtypes promote, chunkings of the other axes are refined to agree).
    #[doc = concat!("```\n", doc_fixture!(f), "let v = |a: doreisa_array::Array| a.compute(&runner).map(|c| c.to_array::<f64>().into_raw_vec_and_offset().0);\nassert_eq!(v(Array::concatenate(&[x.clone(), x.flip(0)?], 0)?)?.len(), 8);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn concatenate(arrays: &[Array], axis: isize) -> Result<Array> {
        let Some(first) = arrays.first() else {
            return Err(ArrayError::InvalidArgument("nothing to concatenate".into()));
        };
        let ndim = first.ndim();
        let axis = check_axis(axis, ndim)?;
        for a in arrays {
            let same = a.ndim() == ndim
                && (0..ndim).all(|i| i == axis || a.shape()[i] == first.shape()[i]);
            if !same {
                return Err(ArrayError::ShapeMismatch {
                    op: "concatenate",
                    detail: format!(
                        "shapes {:?} and {:?} differ off axis {axis}",
                        first.shape(),
                        a.shape()
                    ),
                });
            }
        }
        let dtype = arrays
            .iter()
            .map(Array::dtype)
            .reduce(DType::promote)
            .expect("non-empty");
        // Arrays of length 0 along the axis add no chunk, unless all are empty.
        let mut kept: Vec<&Array> = arrays.iter().filter(|a| a.shape()[axis] > 0).collect();
        if kept.is_empty() {
            kept.push(first);
        }
        let others: Vec<Vec<usize>> = (0..ndim)
            .map(|i| {
                kept.iter()
                    .map(|a| a.grid().axis(i).to_vec())
                    .reduce(|x, y| common_refinement(&x, &y))
                    .expect("non-empty")
            })
            .collect();
        let mut xs = Vec::with_capacity(kept.len());
        let mut along = Vec::new();
        for a in kept {
            let mut extents = others.clone();
            extents[axis] = a.grid().axis(axis).to_vec();
            along.extend_from_slice(&extents[axis]);
            let target = Grid::from_chunks(extents)?;
            xs.push(cast_node(&broadcast_node(&a.node, &target)?, dtype));
        }
        if xs.len() == 1 {
            return Ok(Array::from_node(xs.pop().expect("one")));
        }
        let mut extents = others;
        extents[axis] = along;
        let grid = Grid::from_chunks(extents)?;
        Ok(Array::from_node(Node::new(
            Kind::Concat { xs, axis },
            grid,
            dtype,
        )))
    }

    /// The arrays (of one shape) stacked along a new axis `axis` of the result
    /// (negative: from the end).
    #[doc = concat!("```\n", doc_fixture!(f), "assert_eq!(Array::stack(&[x.clone(), x.clone()], -1)?.shape(), &[4, 2]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn stack(arrays: &[Array], axis: isize) -> Result<Array> {
        let expanded = arrays
            .iter()
            .map(|a| a.expand_dims(axis))
            .collect::<Result<Vec<_>>>()?;
        if let Some(a) = arrays.iter().find(|a| a.shape() != arrays[0].shape()) {
            return Err(ArrayError::ShapeMismatch {
                op: "stack",
                detail: format!("shapes {:?} and {:?}", arrays[0].shape(), a.shape()),
            });
        }
        Array::concatenate(&expanded, axis)
    }

    /// The same values cut by `grid`. Chunks that lie within one old chunk are views;
    /// others are assembled by one task each.
    #[doc = concat!("```\n", doc_fixture!(f), "let v = |a: doreisa_array::Array| a.compute(&runner).map(|c| c.to_array::<f64>().into_raw_vec_and_offset().0);\nlet one = x.rechunk(Grid::single(&[4])?)?;\nassert_eq!(one.num_chunks(), 1);\nassert_eq!(v(one)?, [-1.5, 0.0, 0.5, 2.0]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn rechunk(&self, grid: Grid) -> Result<Array> {
        if grid.shape() != self.shape() {
            return Err(ArrayError::BadGrid(format!(
                "grid of shape {:?} for an array of shape {:?}",
                grid.shape(),
                self.shape()
            )));
        }
        if grid == *self.grid() {
            return Ok(self.clone());
        }
        let split: Option<Vec<OutAxis>> = (0..self.ndim())
            .map(|a| OutAxis::split(self.grid(), a, grid.axis(a)))
            .collect();
        if let Some(out) = split {
            return self.reindexed(out);
        }
        Ok(Array::from_node(Node::new(
            Kind::Rechunk {
                x: self.node.clone(),
            },
            grid,
            self.dtype(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(arg: SliceArg, n: usize) -> (usize, isize, usize) {
        arg.resolve(n).unwrap()
    }

    #[test]
    fn slices_resolve_like_python() {
        assert_eq!(resolve(SliceArg::FULL, 5), (0, 1, 5));
        assert_eq!(resolve(SliceArg::range(1, 4).step(2), 5), (1, 2, 2));
        assert_eq!(resolve(SliceArg::range(-2, 100), 5), (3, 1, 2));
        assert_eq!(resolve(SliceArg::range(4, 2), 5), (4, 1, 0));
        assert_eq!(resolve(SliceArg::FULL.step(-1), 5), (4, -1, 5));
        assert_eq!(resolve(SliceArg::FULL.step(-2), 5), (4, -2, 3));
        assert_eq!(
            resolve(
                SliceArg::Range {
                    start: Some(3),
                    stop: Some(0),
                    step: -1
                },
                5
            ),
            (3, -1, 3)
        );
        assert_eq!(resolve(SliceArg::Index(-1), 5), (4, 1, 1));
        assert_eq!(resolve(SliceArg::FULL.step(-1), 0), (0, -1, 0));
        assert!(SliceArg::Index(5).resolve(5).is_err());
        assert!(SliceArg::FULL.step(0).resolve(5).is_err());
    }
}
