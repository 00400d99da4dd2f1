//! reshape and ravel, cumulative sums and products, and arrays made from nothing:
//! zeros, ones, full, arange, linspace.

use crate::dtype::{DType, Scalar};
use crate::element::TypedScalar;
use crate::expr::{Kind, Node, check_axis};
use crate::grid::Grid;
use crate::program::{RangeSpec, Reduction};
use crate::{Array, ArrayError, Result};

impl Array {
    /// The elements in C order with a new `shape` (numpy's `reshape`; one extent may be
    /// -1, inferred). As in Dask, the array is first cut in blocks of whole rows (only
    /// its first axis split; this moves data when other axes are split), then each
    /// output chunk (blocks of rows of the new shape) is filled from the one or two
    /// input blocks whose elements it holds. Nothing is gathered on one node unless the
    /// array is one chunk.
    ///
    /// ```
    /// # use doreisa_array::{Array, Chunk, DType, Grid, encode_chunks, kernels};
    /// # use doreisa_sched::LocalRunner;
    /// # let runner = LocalRunner::new(kernels());
    /// # let grid = Grid::regular(&[6], &[4])?;
    /// # let data = ndarray::array![0i64, 1, 2, 3, 4, 5].into_dyn();
    /// # for (key, bytes) in encode_chunks("x", 0, &Chunk::from(data), &grid)? { runner.insert(key, bytes); }
    /// let x = Array::source("x", 0, &[6], grid, DType::I64)?;
    /// let m = x.reshape(&[-1, 3])?;
    /// assert_eq!(m.shape(), &[2, 3]);
    /// let t = m.t()?.ravel()?.compute(&runner)?.into_array::<i64>()?;
    /// assert_eq!(t.into_raw_vec_and_offset().0, [0, 3, 1, 4, 2, 5]);
    /// # Ok::<(), doreisa_array::ArrayError>(())
    /// ```
    pub fn reshape(&self, shape: &[isize]) -> Result<Array> {
        let size = self.size();
        let known: usize = shape
            .iter()
            .filter(|&&n| n >= 0)
            .map(|&n| n as usize)
            .product();
        let unknown = shape.iter().filter(|&&n| n < 0).count();
        let bad = || ArrayError::ShapeMismatch {
            op: "reshape",
            detail: format!("cannot reshape {:?} into {shape:?}", self.shape()),
        };
        if unknown > 1 || shape.iter().any(|&n| n < -1) {
            return Err(bad());
        }
        let inferred = if unknown == 1 {
            if known == 0 || !size.is_multiple_of(known) {
                return Err(bad());
            }
            size / known
        } else {
            0
        };
        let target: Vec<usize> = shape
            .iter()
            .map(|&n| if n < 0 { inferred } else { n as usize })
            .collect();
        if target.iter().product::<usize>() != size {
            return Err(bad());
        }
        if target == self.shape() {
            return Ok(self.clone());
        }
        // Blocks of whole rows of the input.
        let rows: Vec<Vec<usize>> = (0..self.ndim())
            .map(|a| {
                if a == 0 {
                    self.grid().axis(0).to_vec()
                } else {
                    vec![self.shape()[a]]
                }
            })
            .collect();
        let blocks = self.rechunk(Grid::from_chunks(rows)?)?;
        // Output blocks of rows ending near the input blocks' ends.
        let out_chunks: Vec<Vec<usize>> = if target.is_empty() {
            Vec::new()
        } else {
            let row: usize = target[1..].iter().product();
            let in_row: usize = self.shape().iter().skip(1).product();
            let mut ends: Vec<usize> = Vec::new();
            let mut at = 0;
            if self.ndim() > 0 && row > 0 {
                for &r in self.grid().axis(0) {
                    at += r * in_row;
                    let end = ((at + row / 2) / row).min(target[0]);
                    if end > *ends.last().unwrap_or(&0) {
                        ends.push(end);
                    }
                }
            }
            if ends.last() != Some(&target[0]) {
                ends.push(target[0]);
            }
            let mut first = vec![];
            let mut from = 0;
            for end in ends {
                if end > from || (end == 0 && first.is_empty()) {
                    first.push(end - from);
                }
                from = end;
            }
            std::iter::once(first)
                .chain(target[1..].iter().map(|&n| vec![n]))
                .collect()
        };
        Ok(Array::from_node(Node::new(
            Kind::Reshape { x: blocks.node },
            Grid::from_chunks(out_chunks)?,
            self.dtype(),
        )))
    }

    /// The elements in C order as a 1-d array (`reshape(&[-1])`).
    #[doc = concat!("```\n", doc_fixture!(f), "assert_eq!(x.reshape(&[2, 2])?.ravel()?.shape(), &[4]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn ravel(&self) -> Result<Array> {
        self.reshape(&[-1])
    }

    fn scan(&self, axis: isize, prod: bool) -> Result<Array> {
        let axis = check_axis(axis, self.ndim())?;
        let dtype = Reduction::Sum.result(self.dtype());
        Ok(Array::from_node(Node::new(
            Kind::Scan {
                x: self.node.clone(),
                axis,
                prod,
            },
            self.grid().clone(),
            dtype,
        )))
    }

    /// The cumulative sum along `axis` (numpy's `cumsum`; dtypes as for
    /// [`Array::sum`]). As Dask's cumreductions: each chunk is scanned on its own, then
    /// the totals of the chunks before it along the axis are added, carried from chunk
    /// to chunk.
    ///
    /// ```
    /// # use doreisa_array::{Array, Chunk, DType, Grid, encode_chunks, kernels};
    /// # use doreisa_sched::LocalRunner;
    /// # let runner = LocalRunner::new(kernels());
    /// # let grid = Grid::regular(&[5], &[2])?;
    /// # let data = ndarray::array![1u8, 2, 3, 4, 250].into_dyn();
    /// # for (key, bytes) in encode_chunks("x", 0, &Chunk::from(data), &grid)? { runner.insert(key, bytes); }
    /// let x = Array::source("x", 0, &[5], grid, DType::U8)?;
    /// let c = x.cumsum(0)?.compute(&runner)?.into_array::<u64>()?;
    /// assert_eq!(c.into_raw_vec_and_offset().0, [1, 3, 6, 10, 260]); // uint64, as numpy
    /// # Ok::<(), doreisa_array::ArrayError>(())
    /// ```
    pub fn cumsum(&self, axis: isize) -> Result<Array> {
        self.scan(axis, false)
    }

    /// The cumulative product along `axis` (numpy's `cumprod`; dtypes as for
    /// [`Array::sum`], integers wrap around).
    #[doc = concat!("```\n", doc_fixture!(f), "let v = |a: doreisa_array::Array| a.compute(&runner).map(|c| c.to_array::<f64>().into_raw_vec_and_offset().0);\nassert_eq!(v(x.cumprod(0)?)?, [-1.5, -0.0, -0.0, -0.0]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn cumprod(&self, axis: isize) -> Result<Array> {
        self.scan(axis, true)
    }

    /// An array of `shape`, cut in `chunks`, every element `value` (numpy's `full`:
    /// the dtype is the value's, int64 for an int, float64 for a float, unless `dtype`
    /// is given). Chunks are filled where they are needed; nothing is stored.
    ///
    /// ```
    /// # use doreisa_array::{Array, DType, kernels};
    /// # use doreisa_sched::LocalRunner;
    /// # let runner = LocalRunner::new(kernels());
    /// let x = Array::full(&[2, 3], &[1, 3], 7, None)?;
    /// assert_eq!(x.dtype(), DType::I64);
    /// assert_eq!(x.sum()?.compute(&runner)?.scalar::<i64>()?, 42);
    /// assert_eq!(Array::zeros(&[4], &[2], DType::F32)?.dtype(), DType::F32);
    /// # Ok::<(), doreisa_array::ArrayError>(())
    /// ```
    pub fn full(
        shape: &[usize],
        chunks: &[usize],
        value: impl Into<Scalar>,
        dtype: Option<DType>,
    ) -> Result<Array> {
        let value = value.into();
        let dtype = dtype.unwrap_or(value.default_dtype());
        let grid = Grid::regular(shape, chunks)?;
        Ok(Array::from_node(Node::new(
            Kind::Const(TypedScalar::new(value, dtype)?),
            grid,
            dtype,
        )))
    }

    /// Zeros of `dtype` (numpy's `zeros`), cut in `chunks`.
    #[doc = concat!("```\n", doc_fixture!(f), "assert_eq!(Array::zeros(&[2, 2], &[1, 2], DType::U16)?.sum()?.compute(&runner)?.scalar::<u64>()?, 0);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn zeros(shape: &[usize], chunks: &[usize], dtype: DType) -> Result<Array> {
        Array::full(shape, chunks, false, Some(dtype))
    }

    /// Ones of `dtype` (numpy's `ones`), cut in `chunks`.
    #[doc = concat!("```\n", doc_fixture!(f), "assert_eq!(Array::ones(&[3], &[2], DType::F16)?.sum()?.compute(&runner)?.scalar::<doreisa_array::F16>()?.to_f32(), 3.0);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn ones(shape: &[usize], chunks: &[usize], dtype: DType) -> Result<Array> {
        Array::full(shape, chunks, true, Some(dtype))
    }

    /// numpy's `arange(start, stop, step)`: int64 when all three are integers, else
    /// float64 with numpy's values `start + i * ((start + step) - start)`; cut in chunks
    /// of `chunk` and computed where they are needed.
    ///
    /// ```
    /// # use doreisa_array::{Array, Scalar, kernels};
    /// # use doreisa_sched::LocalRunner;
    /// # let runner = LocalRunner::new(kernels());
    /// let x = Array::arange(10, -3, -4, 2)?;
    /// assert_eq!(x.compute(&runner)?.into_array::<i64>()?.into_raw_vec_and_offset().0, [10, 6, 2, -2]);
    /// assert_eq!(Array::arange(0.0, 1.0, 0.25, 3)?.shape(), &[4]);
    /// # Ok::<(), doreisa_array::ArrayError>(())
    /// ```
    pub fn arange(
        start: impl Into<Scalar>,
        stop: impl Into<Scalar>,
        step: impl Into<Scalar>,
        chunk: usize,
    ) -> Result<Array> {
        let (start, stop, step) = (start.into(), stop.into(), step.into());
        let int = |s: Scalar| match s {
            Scalar::Int(i) => i64::try_from(i).ok(),
            Scalar::Bool(b) => Some(i64::from(b)),
            Scalar::Float(_) => None,
        };
        let (spec, len, dtype) = match (int(start), int(stop), int(step)) {
            (Some(a), Some(b), Some(s)) => {
                if s == 0 {
                    return Err(ArrayError::InvalidArgument("arange step 0".into()));
                }
                let span = i128::from(b) - i128::from(a);
                let step = i128::from(s);
                let len = if (span > 0) == (step > 0) && span != 0 {
                    (span.abs() + step.abs() - 1) / step.abs()
                } else {
                    0
                };
                (
                    RangeSpec::IntSteps { start: a, step: s },
                    len as usize,
                    DType::I64,
                )
            }
            _ => {
                let (a, b, s) = (start.as_f64(), stop.as_f64(), step.as_f64());
                if s == 0.0 || !(a.is_finite() && b.is_finite() && s.is_finite()) {
                    return Err(ArrayError::InvalidArgument(format!(
                        "arange({a}, {b}, {s})"
                    )));
                }
                let len = ((b - a) / s).ceil().max(0.0) as usize;
                let delta = (a + s) - a;
                (RangeSpec::FloatSteps { start: a, delta }, len, DType::F64)
            }
        };
        Array::range(spec, len, chunk, dtype)
    }

    /// numpy's `linspace(start, stop, num, endpoint)`: `num` evenly spaced float64
    /// values with numpy's formula, cut in chunks of `chunk`.
    #[doc = concat!("```\n", doc_fixture!(f), "let v = |a: doreisa_array::Array| a.compute(&runner).map(|c| c.to_array::<f64>().into_raw_vec_and_offset().0);\nassert_eq!(v(Array::linspace(0.0, 1.0, 5, true, 2)?)?, [0.0, 0.25, 0.5, 0.75, 1.0]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn linspace(
        start: f64,
        stop: f64,
        num: usize,
        endpoint: bool,
        chunk: usize,
    ) -> Result<Array> {
        let spec = RangeSpec::Linspace {
            start,
            stop,
            num,
            endpoint,
        };
        Array::range(spec, num, chunk, DType::F64)
    }

    fn range(spec: RangeSpec, len: usize, chunk: usize, dtype: DType) -> Result<Array> {
        let grid = Grid::regular(&[len], &[chunk.max(1)])?;
        Ok(Array::from_node(Node::new(Kind::Range(spec), grid, dtype)))
    }
}
