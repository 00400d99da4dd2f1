//! Matrix products of 2-d arrays: `matmul`, `dot`, `tensordot`.

use super::cast_node;
use crate::expr::{Kind, Node, check_axis};
use crate::grid::{Grid, common_refinement};
use crate::{Array, ArrayError, Result};

impl Array {
    /// numpy's `matmul(a, b)` (`a @ b`) of 2-d arrays: `(m, k) @ (k, n)` is `(m, n)`,
    /// in the promoted dtype (bools: any of the ands; integers wrap around). As Dask:
    /// the contracted axis is cut alike in both (the common refinement of their cuts,
    /// views), each output block sums the products of its row of blocks of `a` and
    /// column of blocks of `b`, in a tree of fan-in 8 (float products accumulate in
    /// float64, then round to the dtype once).
    ///
    /// ```
    /// # use doreisa_array::{Array, Chunk, DType, Grid, encode_chunks, kernels};
    /// # let runner = doreisa_sched::LocalRunner::new(kernels());
    /// # let grid = Grid::regular(&[2, 3], &[1, 2])?;
    /// # let data = ndarray::array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]].into_dyn();
    /// # for (k, b) in encode_chunks("a", 0, &Chunk::from(data), &grid)? { runner.insert(k, b); }
    /// let a = Array::source("a", 0, &[2, 3], grid, DType::F64)?;
    /// let p = a.matmul(&a.t()?)?.compute(&runner)?.into_array::<f64>()?;
    /// assert_eq!(p.into_raw_vec_and_offset().0, [14.0, 32.0, 32.0, 77.0]);
    /// # Ok::<(), doreisa_array::ArrayError>(())
    /// ```
    pub fn matmul(&self, other: &Array) -> Result<Array> {
        if self.ndim() != 2 || other.ndim() != 2 || self.shape()[1] != other.shape()[0] {
            return Err(ArrayError::ShapeMismatch {
                op: "matmul",
                detail: format!("{:?} @ {:?} (2-d arrays)", self.shape(), other.shape()),
            });
        }
        let dtype = self.dtype().promote(other.dtype());
        let inner = common_refinement(self.grid().axis(1), other.grid().axis(0));
        let a = self.rechunk(Grid::from_chunks(vec![
            self.grid().axis(0).to_vec(),
            inner.clone(),
        ])?)?;
        let b = other.rechunk(Grid::from_chunks(vec![
            inner,
            other.grid().axis(1).to_vec(),
        ])?)?;
        let grid = Grid::from_chunks(vec![
            self.grid().axis(0).to_vec(),
            other.grid().axis(1).to_vec(),
        ])?;
        Ok(Array::from_node(Node::new(
            Kind::MatMul {
                a: cast_node(&a.node, dtype),
                b: cast_node(&b.node, dtype),
            },
            grid,
            dtype,
        )))
    }

    /// numpy's `dot(a, b)`: for 2-d arrays the matrix product ([`Array::matmul`]); for
    /// two 1-d arrays the sum of the products (a 0-d array, in the promoted dtype but
    /// with sums' dtypes for integers, as [`Array::sum`]).
    #[doc = concat!("```\n", doc_fixture!(f), "assert_eq!(x.dot(&x)?.compute(&runner)?.scalar::<f64>()?, 6.5);\nlet m = x.reshape(&[2, 2])?;\nassert_eq!(m.dot(&m)?.shape(), &[2, 2]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn dot(&self, other: &Array) -> Result<Array> {
        match (self.ndim(), other.ndim()) {
            (1, 1) => (self * other)?.sum(),
            (2, 2) => self.matmul(other),
            _ => Err(ArrayError::ShapeMismatch {
                op: "dot",
                detail: format!(
                    "{:?} . {:?} (1-d or 2-d arrays)",
                    self.shape(),
                    other.shape()
                ),
            }),
        }
    }

    /// numpy's `tensordot(a, b, axes=([i], [j]))` for 2-d arrays: the sum over axis `i`
    /// of `a` and axis `j` of `b` (negative: from the end), as a matrix product of the
    /// arrays transposed to bring those axes together.
    #[doc = concat!("```\n", doc_fixture!(f), "let m = x.reshape(&[2, 2])?; // [[-1.5, 0.0], [0.5, 2.0]]\nlet p = m.tensordot(&m, (0, 0))?.compute(&runner)?.into_array::<f64>()?; // m.T @ m\nassert_eq!(p.into_raw_vec_and_offset().0, [2.5, 1.0, 1.0, 4.0]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn tensordot(&self, other: &Array, axes: (isize, isize)) -> Result<Array> {
        if self.ndim() != 2 || other.ndim() != 2 {
            return Err(ArrayError::ShapeMismatch {
                op: "tensordot",
                detail: "2-d arrays only".into(),
            });
        }
        let (i, j) = (check_axis(axes.0, 2)?, check_axis(axes.1, 2)?);
        let a = if i == 1 { self.clone() } else { self.t()? };
        let b = if j == 0 { other.clone() } else { other.t()? };
        a.matmul(&b)
    }
}
