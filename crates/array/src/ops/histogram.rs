//! Histograms, the in situ favourite: exact counts per chunk, summed in a tree.

use crate::dtype::DType;
use crate::element::Element;
use crate::expr::{Kind, Node};
use crate::grid::Grid;
use crate::{Array, ArrayError, F16, Result};

/// numpy's `linspace(start, stop, num)` computed in float64 (then rounded to `dtype`).
fn linspace(start: f64, stop: f64, num: usize, dtype: DType) -> Vec<f64> {
    let div = (num - 1) as f64;
    let delta = stop - start;
    let step = delta / div;
    let mut out: Vec<f64> = (0..num)
        .map(|i| {
            let i = i as f64;
            if step == 0.0 {
                i / div * delta + start
            } else {
                i * step + start
            }
        })
        .collect();
    if num > 1 {
        out[num - 1] = stop;
    }
    out.into_iter().map(|v| round_to(v, dtype)).collect()
}

/// `v` rounded to float dtype `dtype`, as an f64.
fn round_to(v: f64, dtype: DType) -> f64 {
    match dtype {
        DType::F16 => F16::from_f64(v).to_f64(),
        DType::F32 => v.cast::<f32>().to_f64(),
        _ => v,
    }
}

impl Array {
    /// numpy's `histogram(x, bins, range)`: the number of elements in each of `bins`
    /// equal bins over `range`, as int64, and the `bins + 1` edges. Bins are half open,
    /// `[edges[i], edges[i + 1])`, but the last one is closed; elements outside the
    /// range, and NaN, are not counted. As numpy, the edges are `linspace(range.0,
    /// range.1, bins + 1)` in the array's float dtype (float64 for integers and bools),
    /// and a range of zero width becomes `(lo - 0.5, hi + 0.5)`.
    ///
    /// The range is required, as in Dask (numpy's default, the data's minimum and
    /// maximum, would need a pass of its own: compute `min()` and `max()` first). Each
    /// chunk counts its elements (with the element-wise expression that produces them
    /// fused in) and the counts are summed in a tree: the result is exact, and no chunk
    /// leaves its node but as `bins` counts.
    ///
    /// ```
    /// # use doreisa_array::{Array, Chunk, DType, Grid, encode_chunks, kernels};
    /// # use doreisa_sched::LocalRunner;
    /// # let runner = LocalRunner::new(kernels());
    /// # let grid = Grid::regular(&[6], &[4])?;
    /// # let data = ndarray::array![0.1, 0.5, 0.5, 0.9, 1.0, f64::NAN].into_dyn();
    /// # for (key, bytes) in encode_chunks("x", 0, &Chunk::from(data), &grid)? { runner.insert(key, bytes); }
    /// let x = Array::source("x", 0, &[6], grid, DType::F64)?;
    /// let (counts, edges) = x.histogram(2, (0.0, 1.0))?;
    /// assert_eq!(edges, [0.0, 0.5, 1.0]);
    /// let counts = counts.compute(&runner)?.into_array::<i64>()?;
    /// assert_eq!(counts.into_raw_vec_and_offset().0, [1, 4]); // 0.5 in the second bin, 1.0 in the last
    /// # Ok::<(), doreisa_array::ArrayError>(())
    /// ```
    pub fn histogram(&self, bins: usize, range: (f64, f64)) -> Result<(Array, Vec<f64>)> {
        let (mut lo, mut hi) = range;
        if bins == 0 {
            return Err(ArrayError::InvalidArgument("a histogram needs bins".into()));
        }
        if !(lo.is_finite() && hi.is_finite()) {
            return Err(ArrayError::InvalidArgument(format!(
                "histogram range [{lo}, {hi}] is not finite"
            )));
        }
        if lo > hi {
            return Err(ArrayError::InvalidArgument(format!(
                "histogram range [{lo}, {hi}]: max must be larger than min"
            )));
        }
        if lo == hi {
            (lo, hi) = (lo - 0.5, hi + 0.5);
        }
        let dtype = if self.dtype().is_float() {
            self.dtype()
        } else {
            DType::F64
        };
        let edges = linspace(lo, hi, bins + 1, dtype);
        Ok((self.histogram_edges(&edges)?, edges))
    }

    /// numpy's `histogram(x, bins=edges)`: the number of elements in each bin between
    /// consecutive `edges` (which must not decrease), as int64; bins are half open but
    /// the last. Elements compare as float64 (integers converted, as numpy does).
    #[doc = concat!("```\n", doc_fixture!(f), "let counts = x.histogram_edges(&[-2.0, 0.0, 0.5, 3.0])?;\nassert_eq!(counts.compute(&runner)?.into_array::<i64>()?.into_raw_vec_and_offset().0, [1, 1, 2]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn histogram_edges(&self, edges: &[f64]) -> Result<Array> {
        if edges.len() < 2 || edges.iter().any(|e| e.is_nan()) {
            return Err(ArrayError::InvalidArgument(format!(
                "histogram edges {edges:?}: at least two, no NaN"
            )));
        }
        if edges.windows(2).any(|w| w[0] > w[1]) {
            return Err(ArrayError::InvalidArgument(format!(
                "histogram edges {edges:?} must increase monotonically"
            )));
        }
        let bins = edges.len() - 1;
        Ok(Array::from_node(Node::new(
            Kind::Histogram {
                x: self.node.clone(),
                edges: edges.into(),
                split_every: 8,
            },
            Grid::single(&[bins])?,
            DType::I64,
        )))
    }
}
