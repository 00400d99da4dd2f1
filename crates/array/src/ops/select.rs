//! Selecting elements by index: `take`.

use super::SliceArg;
use crate::expr::{Kind, Node, check_axis};
use crate::grid::Grid;
use crate::{Array, ArrayError, Result};
use doreisa_sched::GraphRunner;

impl Array {
    /// numpy's `take(x, indices, axis)`: the elements at `indices` (negative ones count
    /// from the end) along `axis`, in their order, repeats allowed. Each run of indices
    /// in arithmetic progression becomes a view (a slice with a step) of the chunks it
    /// crosses; the runs are concatenated and cut again in chunks as long as the
    /// input's longest along the axis. No chunk is gathered but those the indices
    /// read.
    ///
    /// ```
    /// # use doreisa_array::{Array, Chunk, DType, Grid, encode_chunks, kernels};
    /// # let runner = doreisa_sched::LocalRunner::new(kernels());
    /// # let grid = Grid::regular(&[6], &[2])?;
    /// # let data = ndarray::array![10i64, 11, 12, 13, 14, 15].into_dyn();
    /// # for (k, b) in encode_chunks("x", 0, &Chunk::from(data), &grid)? { runner.insert(k, b); }
    /// let x = Array::source("x", 0, &[6], grid, DType::I64)?;
    /// let t = x.take(&[5, 0, 1, 2, -1, 3], 0)?.compute(&runner)?.into_array::<i64>()?;
    /// assert_eq!(t.into_raw_vec_and_offset().0, [15, 10, 11, 12, 15, 13]);
    /// # Ok::<(), doreisa_array::ArrayError>(())
    /// ```
    pub fn take(&self, indices: &[isize], axis: isize) -> Result<Array> {
        let axis = check_axis(axis, self.ndim())?;
        let n = self.shape()[axis] as isize;
        let at: Vec<isize> = indices
            .iter()
            .map(|&i| {
                let j = if i < 0 { i + n } else { i };
                if (0..n).contains(&j) {
                    Ok(j)
                } else {
                    Err(ArrayError::BadSlice(format!(
                        "index {i} is out of bounds for axis {axis} with size {n}"
                    )))
                }
            })
            .collect::<Result<_>>()?;
        // Runs in arithmetic progression (a step that is not 0).
        let mut runs: Vec<(isize, isize, usize)> = Vec::new();
        for &i in &at {
            match runs.last_mut() {
                Some((start, step, len)) if *len == 1 && i != *start => {
                    *step = i - *start;
                    *len = 2;
                }
                Some((start, step, len)) if *len > 1 && i == *start + *step * *len as isize => {
                    *len += 1;
                }
                _ => runs.push((i, 1, 1)),
            }
        }
        if runs.is_empty() {
            runs.push((0, 1, 0));
        }
        let parts = runs
            .iter()
            .map(|&(start, step, len)| {
                let stop = start + step * len as isize;
                let mut args = vec![SliceArg::FULL; axis + 1];
                args[axis] = SliceArg::Range {
                    start: Some(start),
                    stop: if stop < 0 { None } else { Some(stop) },
                    step,
                };
                self.slice(&args)
            })
            .collect::<Result<Vec<_>>>()?;
        let joined = Array::concatenate(&parts, axis as isize)?;
        let chunk = self
            .grid()
            .axis(axis)
            .iter()
            .copied()
            .max()
            .unwrap_or(1)
            .max(1);
        let len = at.len();
        let mut extents = joined.chunks().to_vec();
        extents[axis] = if len == 0 {
            vec![0]
        } else {
            (0..len)
                .step_by(chunk)
                .map(|s| chunk.min(len - s))
                .collect()
        };
        joined.rechunk(Grid::from_chunks(extents)?)
    }
}

impl Array {
    /// numpy's `sort(x, axis)`: each lane sorted ascending, NaN last. As Dask asks, the
    /// axis must be one chunk (rechunk first): each chunk is then sorted by one task.
    ///
    /// ```
    /// # use doreisa_array::{Array, Chunk, DType, Grid, encode_chunks, kernels};
    /// # let runner = doreisa_sched::LocalRunner::new(kernels());
    /// # let grid = Grid::regular(&[2, 3], &[1, 3])?;
    /// # let data = ndarray::array![[3.0, f64::NAN, 1.0], [2.0, -1.0, 0.5]].into_dyn();
    /// # for (k, b) in encode_chunks("x", 0, &Chunk::from(data), &grid)? { runner.insert(k, b); }
    /// let x = Array::source("x", 0, &[2, 3], grid, DType::F64)?;
    /// let s = x.sort(-1)?.compute(&runner)?.into_array::<f64>()?;
    /// assert_eq!(format!("{:?}", s.into_raw_vec_and_offset().0), "[1.0, 3.0, NaN, -1.0, 0.5, 2.0]");
    /// assert!(x.sort(0).is_err(), "axis 0 is split: rechunk it first");
    /// # Ok::<(), doreisa_array::ArrayError>(())
    /// ```
    pub fn sort(&self, axis: isize) -> Result<Array> {
        let axis = check_axis(axis, self.ndim())?;
        if self.grid().axis(axis).len() > 1 {
            return Err(ArrayError::InvalidArgument(format!(
                "sort along axis {axis}, which is cut in {} chunks: rechunk it into one",
                self.grid().axis(axis).len()
            )));
        }
        Ok(Array::from_node(Node::new(
            Kind::Sort {
                x: self.node.clone(),
                axis,
            },
            self.grid().clone(),
            self.dtype(),
        )))
    }

    /// Dask's `topk(x, k, axis)`: the `k` largest elements along `axis` in descending
    /// order (`k > 0`), or the `-k` smallest in ascending order (`k < 0`), NaN counting
    /// as the largest (numpy's sort order). Each chunk keeps its own top `k`, and the
    /// partial results are merged in a tree of fan-in 8: the axis need not be one chunk.
    ///
    /// ```
    /// # use doreisa_array::{Array, Chunk, DType, Grid, encode_chunks, kernels};
    /// # let runner = doreisa_sched::LocalRunner::new(kernels());
    /// # let grid = Grid::regular(&[6], &[2])?;
    /// # let data = ndarray::array![5i32, 1, 9, 3, 7, 2].into_dyn();
    /// # for (k, b) in encode_chunks("x", 0, &Chunk::from(data), &grid)? { runner.insert(k, b); }
    /// let x = Array::source("x", 0, &[6], grid, DType::I32)?;
    /// let top = x.topk(3, 0)?.compute(&runner)?.into_array::<i32>()?;
    /// assert_eq!(top.into_raw_vec_and_offset().0, [9, 7, 5]);
    /// let low = x.topk(-2, 0)?.compute(&runner)?.into_array::<i32>()?;
    /// assert_eq!(low.into_raw_vec_and_offset().0, [1, 2]);
    /// # Ok::<(), doreisa_array::ArrayError>(())
    /// ```
    pub fn topk(&self, k: isize, axis: isize) -> Result<Array> {
        self.top(k, axis, false)
    }

    /// Dask's `argtopk(x, k, axis)`: the indices along `axis` of [`Array::topk`]'s
    /// elements, as int64 (of equal elements, the smaller index first). A tree as
    /// `topk`'s, of (key, index) pairs.
    ///
    /// ```
    /// # use doreisa_array::{Array, Chunk, DType, Grid, encode_chunks, kernels};
    /// # let runner = doreisa_sched::LocalRunner::new(kernels());
    /// # let grid = Grid::regular(&[6], &[2])?;
    /// # let data = ndarray::array![5.0, 1.0, 9.0, f64::NAN, 7.0, 9.0].into_dyn();
    /// # for (k, b) in encode_chunks("x", 0, &Chunk::from(data), &grid)? { runner.insert(k, b); }
    /// let x = Array::source("x", 0, &[6], grid, DType::F64)?;
    /// let top = x.argtopk(3, 0)?.compute(&runner)?.into_array::<i64>()?;
    /// assert_eq!(top.into_raw_vec_and_offset().0, [3, 2, 5]); // NaN counts as the largest
    /// let low = x.argtopk(-2, 0)?.compute(&runner)?.into_array::<i64>()?;
    /// assert_eq!(low.into_raw_vec_and_offset().0, [1, 0]);
    /// # Ok::<(), doreisa_array::ArrayError>(())
    /// ```
    pub fn argtopk(&self, k: isize, axis: isize) -> Result<Array> {
        self.top(k, axis, true)
    }

    fn top(&self, k: isize, axis: isize, arg: bool) -> Result<Array> {
        let axis = check_axis(axis, self.ndim())?;
        let len = self.shape()[axis];
        if k == 0 || k.unsigned_abs() > len {
            return Err(ArrayError::InvalidArgument(format!(
                "topk of {k} along an axis of {len}"
            )));
        }
        let mut extents = self.chunks().to_vec();
        extents[axis] = vec![k.unsigned_abs()];
        Ok(Array::from_node(Node::new(
            Kind::TopK {
                x: self.node.clone(),
                axis,
                k,
                arg,
            },
            Grid::from_chunks(extents)?,
            if arg { crate::DType::I64 } else { self.dtype() },
        )))
    }
}

impl Array {
    /// numpy's `x[mask]` (`extract(mask, x)`) for a `mask` of `x`'s shape: the elements
    /// where `mask` is non-zero, in C order, as a 1-d array.
    ///
    /// The result's length depends on the data. As Dask's chunks of unknown size are
    /// resolved when computed, they are resolved here when this is called: both arrays
    /// are cut in blocks of whole rows (as for [`Array::reshape`]), one small graph on
    /// `runner` counts the selected elements of each block (only the counts travel),
    /// and the result has one chunk per block with any. Its chunks are then computed
    /// where the blocks are, one task each.
    ///
    /// ```
    /// # use doreisa_array::{Array, Chunk, DType, Grid, encode_chunks, kernels};
    /// # let runner = doreisa_sched::LocalRunner::new(kernels());
    /// # let grid = Grid::regular(&[2, 3], &[1, 2])?;
    /// # let data = ndarray::array![[3.0, -1.0, 4.0], [-1.0, 5.0, -9.0]].into_dyn();
    /// # for (k, b) in encode_chunks("x", 0, &Chunk::from(data), &grid)? { runner.insert(k, b); }
    /// let x = Array::source("x", 0, &[2, 3], grid, DType::F64)?;
    /// let positive = x.extract(&x.gt(0)?, &runner)?;
    /// assert_eq!(positive.shape(), &[3]);
    /// let values = positive.compute(&runner)?.into_array::<f64>()?;
    /// assert_eq!(values.into_raw_vec_and_offset().0, [3.0, 4.0, 5.0]);
    /// # Ok::<(), doreisa_array::ArrayError>(())
    /// ```
    pub fn extract(&self, mask: &Array, runner: &dyn GraphRunner) -> Result<Array> {
        if mask.shape() != self.shape() {
            return Err(ArrayError::ShapeMismatch {
                op: "extract",
                detail: format!("a mask of {:?} for {:?}", mask.shape(), self.shape()),
            });
        }
        let ndim = self.ndim();
        let rows = Grid::from_chunks(
            (0..ndim)
                .map(|a| {
                    if a == 0 {
                        self.grid().axis(0).to_vec()
                    } else {
                        vec![self.shape()[a]]
                    }
                })
                .collect(),
        )?;
        let x = self.rechunk(rows.clone())?;
        let truth = mask.astype(crate::DType::Bool)?.rechunk(rows)?;
        // Selected elements per row, then per block of rows.
        let per_row = if ndim == 0 {
            truth.astype(crate::DType::I64)?.reshape(&[1])?
        } else {
            let others: Vec<isize> = (1..ndim as isize).collect();
            truth.astype(crate::DType::I64)?.sum_axes(&others)?
        };
        let counts = per_row.compute(runner)?.to_array::<i64>();
        let extents: Vec<usize> = if ndim == 0 {
            vec![1]
        } else {
            self.grid().axis(0).to_vec()
        };
        let mut blocks = Vec::new();
        let mut sizes = Vec::new();
        let mut row = 0;
        for (b, &extent) in extents.iter().enumerate() {
            let n: i64 = counts.iter().skip(row).take(extent).sum();
            row += extent;
            if n > 0 {
                blocks.push(b);
                sizes.push(n as usize);
            }
        }
        if sizes.is_empty() {
            (blocks, sizes) = (vec![0], vec![0]);
        }
        Ok(Array::from_node(Node::new(
            Kind::Extract {
                x: x.node,
                mask: truth.node,
                blocks,
            },
            Grid::from_chunks(vec![sizes])?,
            self.dtype(),
        )))
    }

    /// numpy's `unique(x)`: the sorted distinct elements (one NaN, last, for all NaN),
    /// computed now on `runner`: each chunk finds its own (with the expression that
    /// produces it fused in), and they are merged in a tree of fan-in 8; only distinct
    /// values travel. Its length depends on the data, so the result is a computed
    /// value, not a lazy array.
    ///
    /// ```
    /// # use doreisa_array::{Array, Chunk, DType, Grid, encode_chunks, kernels};
    /// # let runner = doreisa_sched::LocalRunner::new(kernels());
    /// # let grid = Grid::regular(&[6], &[2])?;
    /// # let data = ndarray::array![3i64, 1, 3, 7, 1, 1].into_dyn();
    /// # for (k, b) in encode_chunks("x", 0, &Chunk::from(data), &grid)? { runner.insert(k, b); }
    /// let x = Array::source("x", 0, &[6], grid, DType::I64)?;
    /// let u = x.unique(&runner)?.into_array::<i64>()?;
    /// assert_eq!(u.into_raw_vec_and_offset().0, [1, 3, 7]);
    /// # Ok::<(), doreisa_array::ArrayError>(())
    /// ```
    pub fn unique(&self, runner: &dyn GraphRunner) -> Result<crate::Chunk> {
        let node = Node::new(
            Kind::Unique {
                x: self.node.clone(),
            },
            Grid::single(&[0])?,
            self.dtype(),
        );
        let graph = crate::lower::lower(&node)?;
        let outputs = runner.compute(&graph)?;
        let [value] = outputs.as_slice() else {
            return Err(ArrayError::ResultMismatch {
                chunk: Vec::new(),
                detail: format!("{} outputs for unique", outputs.len()),
            });
        };
        crate::Chunk::decode(value)
    }
}
