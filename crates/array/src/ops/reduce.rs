//! Reductions (sum, mean, min, max, var, std, count) over all or some axes. They lower
//! to trees: one task per chunk reduces it to a partial result, then combine tasks
//! merge up to `split_every` partials each (Dask's name) until one is left.

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
    ($($(#[$doc:meta])* $all:ident, $some:ident => $op:ident;)*) => {$(
        $(#[$doc])*
        pub fn $all(&self) -> Result<Array> {
            self.reduce(Reduction::$op, &ReduceOptions::default())
        }

        $(#[$doc])*
        /// Over `axes` only.
        pub fn $some(&self, axes: &[isize]) -> Result<Array> {
            self.reduce(Reduction::$op, &ReduceOptions::axes(axes))
        }
    )*};
}

impl Array {
    reductions! {
        /// The sum (integers and bool sum as int64).
        sum, sum_axes => Sum;
        /// The mean (float64 unless the array is float32).
        mean, mean_axes => Mean;
        /// The minimum (NaN if any element is NaN).
        min, min_axes => Min;
        /// The maximum (NaN if any element is NaN).
        max, max_axes => Max;
        /// The variance (`ddof` 0; see [`Array::reduce`] for others).
        var, var_axes => Var;
        /// The standard deviation (`ddof` 0; see [`Array::reduce`] for others).
        std, std_axes => Std;
        /// The number of elements that are not NaN, as int64.
        count, count_axes => Count;
    }

    /// Reduces with `op` as `options` say.
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
        if matches!(op, Reduction::Min | Reduction::Max)
            && axes.iter().any(|&a| self.shape()[a] == 0)
        {
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
