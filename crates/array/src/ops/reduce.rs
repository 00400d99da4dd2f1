//! Reductions (sum, prod, mean, min, max, var, std, count, any, all, argmin, argmax and
//! the NaN-ignoring nansum, nanmean, nanmin, nanmax, nanvar, nanstd) over all or some
//! axes. They lower to trees, as Dask's do: one task per chunk reduces it to a partial
//! result, then combine tasks merge up to `split_every` partials each until one is
//! left; nothing is gathered on one node.

use crate::expr::{Kind, Node, check_axis};
use crate::grid::Grid;
use crate::program::Reduction;
use crate::{Array, ArrayError, Result};

/// How to reduce: over which axes, keeping them or not, the variance's delta degrees
/// of freedom, and the fan-in of the reduction tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReduceOptions {
    /// The axes to reduce (negative ones count from the end); `None` for all.
    pub axes: Option<Vec<isize>>,
    /// Keep reduced axes with length 1.
    pub keepdims: bool,
    /// Variance divides by `n - ddof`.
    pub ddof: u32,
    /// Partials merged per combine task (at least 2).
    pub split_every: usize,
}

impl Default for ReduceOptions {
    fn default() -> Self {
        ReduceOptions {
            axes: None,
            keepdims: false,
            ddof: 0,
            split_every: 8,
        }
    }
}

impl ReduceOptions {
    /// Over `axes`.
    pub fn axes(axes: &[isize]) -> Self {
        ReduceOptions {
            axes: Some(axes.to_vec()),
            ..Default::default()
        }
    }

    pub fn keepdims(self, keepdims: bool) -> Self {
        ReduceOptions { keepdims, ..self }
    }

    pub fn ddof(self, ddof: u32) -> Self {
        ReduceOptions { ddof, ..self }
    }

    pub fn split_every(self, split_every: usize) -> Self {
        ReduceOptions {
            split_every,
            ..self
        }
    }
}

macro_rules! reductions {
    ($($(#[$doc:meta])* $all:ident, $some:ident => $op:ident = $want:expr;)*) => {$(
        $(#[$doc])*
        ///
        #[doc = concat!("```\n", doc_fixture!(f), "let y = x.", stringify!($all),
            "()?;\nassert_eq!(y.compute(&runner)?.to_array::<f64>().into_raw_vec_and_offset().0, [",
            $want, "]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
        pub fn $all(&self) -> Result<Array> {
            self.reduce(Reduction::$op, &ReduceOptions::default())
        }

        $(#[$doc])*
        /// Over `axes` only (negative ones count from the end).
        pub fn $some(&self, axes: &[isize]) -> Result<Array> {
            self.reduce(Reduction::$op, &ReduceOptions::axes(axes))
        }
    )*};
}

impl Array {
    reductions! {
        /// The sum (integers and bool sum as int64, unsigned integers as uint64).
        sum, sum_axes => Sum = "1.0";
        /// The product (integers wrap around; dtypes as for [`Array::sum`]).
        prod, prod_axes => Prod = "-0.0";
        /// The mean (float64 unless the array is of a float dtype).
        mean, mean_axes => Mean = "0.25";
        /// The minimum (NaN if any element is NaN; an error over an empty axis).
        min, min_axes => Min = "-1.5";
        /// The maximum (NaN if any element is NaN; an error over an empty axis).
        max, max_axes => Max = "2.0";
        /// The variance (`ddof` 0; see [`Array::reduce`] for others).
        var, var_axes => Var = "1.5625";
        /// The standard deviation (`ddof` 0; see [`Array::reduce`] for others).
        std, std_axes => Std = "1.25";
        /// The number of elements that are not NaN, as int64.
        count, count_axes => Count = "4.0";
        /// Whether any element is non-zero (NaN is), as bool.
        any, any_axes => Any = "1.0";
        /// Whether every element is non-zero, as bool.
        all, all_axes => All = "0.0";
        /// The sum of the elements that are not NaN.
        nansum, nansum_axes => NanSum = "1.0";
        /// The mean of the elements that are not NaN (NaN where all are).
        nanmean, nanmean_axes => NanMean = "0.25";
        /// The minimum of the elements that are not NaN (NaN where all are).
        nanmin, nanmin_axes => NanMin = "-1.5";
        /// The maximum of the elements that are not NaN (NaN where all are).
        nanmax, nanmax_axes => NanMax = "2.0";
        /// The variance of the elements that are not NaN (`ddof` 0).
        nanvar, nanvar_axes => NanVar = "1.5625";
        /// The standard deviation of the elements that are not NaN (`ddof` 0).
        nanstd, nanstd_axes => NanStd = "1.25";
    }

    /// The index of the first smallest element of the flattened array, as int64 (NaN
    /// counts as smallest, as in numpy). Computed as a tree of (value, index) pairs.
    ///
    /// ```
    /// # use doreisa_array::{Array, Chunk, Grid, encode_chunks, kernels};
    /// # use doreisa_sched::LocalRunner;
    /// # let runner = LocalRunner::new(kernels());
    /// # let grid = Grid::regular(&[2, 3], &[1, 2])?;
    /// # let data = ndarray::array![[3.0, 1.0, 4.0], [1.0, 5.0, 9.0]].into_dyn();
    /// # for (key, bytes) in encode_chunks("x", 0, &Chunk::from(data), &grid)? { runner.insert(key, bytes); }
    /// let x = Array::source("x", 0, &[2, 3], grid, doreisa_array::DType::F64)?;
    /// assert_eq!(x.argmin()?.compute(&runner)?.scalar::<i64>()?, 1); // the first 1.0
    /// assert_eq!(x.argmax_axis(1)?.compute(&runner)?.into_array::<i64>()?.into_raw_vec_and_offset().0, [2, 2]);
    /// # Ok::<(), doreisa_array::ArrayError>(())
    /// ```
    pub fn argmin(&self) -> Result<Array> {
        self.reduce(Reduction::ArgMin, &ReduceOptions::default())
    }

    /// The index of the first largest element of the flattened array, as int64 (NaN
    /// counts as largest).
    #[doc = concat!("```\n", doc_fixture!(f), "assert_eq!(x.argmax()?.compute(&runner)?.scalar::<i64>()?, 3);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn argmax(&self) -> Result<Array> {
        self.reduce(Reduction::ArgMax, &ReduceOptions::default())
    }

    /// The index along `axis` of the first smallest element of each lane.
    #[doc = concat!("```\n", doc_fixture!(f), "assert_eq!(x.reshape(&[2, 2])?.argmin_axis(1)?.compute(&runner)?.into_array::<i64>()?.into_raw_vec_and_offset().0, [0, 0]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn argmin_axis(&self, axis: isize) -> Result<Array> {
        self.reduce(Reduction::ArgMin, &ReduceOptions::axes(&[axis]))
    }

    /// The index along `axis` of the first largest element of each lane.
    #[doc = concat!("```\n", doc_fixture!(f), "assert_eq!(x.reshape(&[2, 2])?.argmax_axis(0)?.compute(&runner)?.into_array::<i64>()?.into_raw_vec_and_offset().0, [1, 1]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn argmax_axis(&self, axis: isize) -> Result<Array> {
        self.reduce(Reduction::ArgMax, &ReduceOptions::axes(&[axis]))
    }

    /// Reduces with `op` as `options` say.
    #[doc = concat!("```\n", doc_fixture!(f), "use doreisa_array::{ReduceOptions, Reduction};\nlet m = x.reshape(&[2, 2])?;\nlet opts = ReduceOptions::axes(&[-1]).keepdims(true).ddof(1);\nlet s = m.reduce(Reduction::Var, &opts)?;\nassert_eq!(s.shape(), &[2, 1]);\nassert_eq!(s.compute(&runner)?.to_array::<f64>().into_raw_vec_and_offset().0, [1.125, 1.125]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn reduce(&self, op: Reduction, options: &ReduceOptions) -> Result<Array> {
        let ndim = self.ndim();
        let mut axes = match &options.axes {
            Some(axes) => axes
                .iter()
                .map(|&a| check_axis(a, ndim))
                .collect::<Result<Vec<_>>>()?,
            None => (0..ndim).collect(),
        };
        axes.sort_unstable();
        if axes.windows(2).any(|w| w[0] == w[1]) {
            return Err(ArrayError::InvalidArgument(format!(
                "axes {:?} repeat an axis",
                options.axes
            )));
        }
        if options.split_every < 2 {
            return Err(ArrayError::InvalidArgument(format!(
                "split_every {} (at least 2)",
                options.split_every
            )));
        }
        if op.is_arg() && options.axes.as_ref().is_some_and(|a| a.len() != 1) {
            return Err(ArrayError::InvalidArgument(format!(
                "{} reduces one axis or all of them, not {:?}",
                op.name(),
                options.axes
            )));
        }
        if op.needs_elements() && axes.iter().any(|&a| self.shape()[a] == 0) {
            return Err(ArrayError::InvalidArgument(format!(
                "{} of an empty axis has no identity",
                op.name()
            )));
        }
        let grid = self.grid();
        let extents = (0..ndim)
            .filter_map(|a| match (axes.contains(&a), options.keepdims) {
                (false, _) => Some(grid.axis(a).to_vec()),
                (true, true) => Some(vec![1]),
                (true, false) => None,
            })
            .collect();
        Ok(Array::from_node(Node::new(
            Kind::Reduce {
                x: self.node.clone(),
                op,
                axes,
                keepdims: options.keepdims,
                ddof: options.ddof,
                split_every: options.split_every,
            },
            Grid::from_chunks(extents)?,
            op.result(self.dtype()),
        )))
    }
}
