//! Quantiles, percentiles and medians.

use crate::dtype::DType;
use crate::expr::{Kind, Node, check_axis};
use crate::grid::Grid;
use crate::{Array, ArrayError, Result};

/// How much of an array one node may hold for exact quantiles (Dask's choice would be
/// to gather; here, past this budget, quantiles over all axes are approximate).
pub const QUANTILE_BUDGET: usize = 64 << 20;

impl Array {
    /// numpy's `quantile(x, q, axis)` (method `linear`): for each `q` in `[0, 1]`, the
    /// value at position `q * (n - 1)` of the sorted lane, interpolated; NaN where a
    /// lane holds NaN. The result's first axis is `q`'s, then the axes not reduced;
    /// float64, as numpy gives for a list of quantiles (bools are refused, as in numpy).
    ///
    /// Exact when each lane fits [`QUANTILE_BUDGET`] on one node: the array is cut so
    /// that the reduced axis (or all axes) is one chunk, and each chunk's lanes are
    /// sorted by one task. Over all axes of a larger array, the result is approximate:
    /// each chunk sorts its values and keeps 1024 of them, each standing for a run of
    /// equal length, and the samples are merged in a tree; the value returned then has
    /// a rank within `n / 1024 + chunks` of the exact rank `q * (n - 1)` (`n` elements).
    /// [`Array::quantile_budget`] sets the budget.
    ///
    /// ```
    /// # use doreisa_array::{Array, Chunk, DType, Grid, encode_chunks, kernels};
    /// # let runner = doreisa_sched::LocalRunner::new(kernels());
    /// # let grid = Grid::regular(&[4], &[2])?;
    /// # let data = ndarray::array![3.0f64, 1.0, 2.0, 10.0].into_dyn();
    /// # for (k, b) in encode_chunks("x", 0, &Chunk::from(data), &grid)? { runner.insert(k, b); }
    /// let x = Array::source("x", 0, &[4], grid, DType::F64)?;
    /// let q = x.quantile(&[0.25, 0.5, 0.9], None)?.compute(&runner)?;
    /// assert_eq!(q.into_array::<f64>()?.into_raw_vec_and_offset().0, [1.75, 2.5, 7.900000000000001]);
    /// assert_eq!(x.median(None)?.compute(&runner)?.scalar::<f64>()?, 2.5);
    /// assert_eq!(x.percentile(&[100.0], Some(0))?.compute(&runner)?.to_array::<f64>()[[0]], 10.0);
    /// # Ok::<(), doreisa_array::ArrayError>(())
    /// ```
    pub fn quantile(&self, q: &[f64], axis: Option<isize>) -> Result<Array> {
        self.quantile_budget(q, axis, QUANTILE_BUDGET)
    }

    /// [`Array::quantile`] with percents (`q` in `[0, 100]`).
    #[doc = concat!("```\n", doc_fixture!(f), "let p = x.percentile(&[50.0], None)?.compute(&runner)?;\nassert_eq!(p.into_array::<f64>()?.into_raw_vec_and_offset().0, [0.25]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn percentile(&self, q: &[f64], axis: Option<isize>) -> Result<Array> {
        let q: Vec<f64> = q.iter().map(|p| p / 100.0).collect();
        self.quantile(&q, axis)
    }

    /// numpy's `median(x, axis)`: the 0.5 quantile, without the quantiles' axis, in the
    /// array's dtype if float (float64 otherwise), as numpy's.
    #[doc = concat!("```\n", doc_fixture!(f), "assert_eq!(x.median(None)?.compute(&runner)?.scalar::<f64>()?, 0.25);\nassert_eq!(x.reshape(&[2, 2])?.median(Some(1))?.shape(), &[2]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn median(&self, axis: Option<isize>) -> Result<Array> {
        self.quantile_in(&[0.5], axis, QUANTILE_BUDGET, self.dtype().is_float())?
            .squeeze(&[0])
    }

    /// [`Array::quantile`] with a budget of `bytes` per node for the exact path.
    #[doc = concat!("```\n", doc_fixture!(f), "// A budget of 8 bytes: approximate (here exact still: each chunk keeps all its values).\nlet q = x.quantile_budget(&[0.0, 1.0], None, 8)?.compute(&runner)?;\nassert_eq!(q.into_array::<f64>()?.into_raw_vec_and_offset().0, [-1.5, 2.0]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn quantile_budget(&self, q: &[f64], axis: Option<isize>, bytes: usize) -> Result<Array> {
        self.quantile_in(q, axis, bytes, false)
    }

    /// Quantiles in the array's float dtype (`keep_float`, numpy's for a scalar `q`)
    /// or in float64.
    fn quantile_in(
        &self,
        q: &[f64],
        axis: Option<isize>,
        bytes: usize,
        keep_float: bool,
    ) -> Result<Array> {
        if self.dtype().is_bool() {
            return Err(ArrayError::UnsupportedDType {
                op: "quantile",
                dtype: DType::Bool,
            });
        }
        if q.is_empty() || q.iter().any(|q| !(0.0..=1.0).contains(q)) {
            return Err(ArrayError::InvalidArgument(format!(
                "quantiles {q:?} must be in the range [0, 1]"
            )));
        }
        let ndim = self.ndim();
        let axes: Vec<usize> = match axis {
            Some(a) => vec![check_axis(a, ndim)?],
            None => (0..ndim).collect(),
        };
        let dtype = if keep_float { self.dtype() } else { DType::F64 };
        // Whole lanes per chunk: the reduced axes unsplit.
        let lanes = Grid::from_chunks(
            (0..ndim)
                .map(|a| {
                    if axes.contains(&a) {
                        vec![self.shape()[a]]
                    } else {
                        self.grid().axis(a).to_vec()
                    }
                })
                .collect(),
        )?;
        let largest: usize = (0..ndim)
            .map(|a| lanes.axis(a).iter().copied().max().unwrap_or(0))
            .product::<usize>()
            * 8;
        let approximate = largest > bytes;
        if approximate && axis.is_some() {
            return Err(ArrayError::InvalidArgument(format!(
                "lanes of {largest} bytes exceed the quantile budget of {bytes}: raise it, \
                 or take the quantiles of the whole array (approximate)"
            )));
        }
        let x = if approximate {
            self.clone()
        } else {
            self.rechunk(lanes)?
        };
        let mut extents = vec![vec![q.len()]];
        extents.extend(
            (0..ndim)
                .filter(|a| !axes.contains(a))
                .map(|a| self.grid().axis(a).to_vec()),
        );
        Ok(Array::from_node(Node::new(
            Kind::Quantile {
                x: x.node,
                axes,
                q: q.into(),
                approximate,
            },
            Grid::from_chunks(extents)?,
            dtype,
        )))
    }
}
