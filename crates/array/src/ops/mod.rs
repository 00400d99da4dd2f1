//! The operations on [`crate::Array`], by family, and the helpers they share to bring
//! operands to one shape, one chunking and one dtype.

/// The hidden set-up lines of the generated rustdoc examples: a runner holding a
/// source `x` of four elements in two chunks, float64 (`f`) or int32 (`i`).
macro_rules! doc_fixture {
    (f) => {
        "# use doreisa_array::{Array, Chunk, DType, Grid, encode_chunks, kernels};\n\
         # let runner = doreisa_sched::LocalRunner::new(kernels());\n\
         # let grid = Grid::regular(&[4], &[2])?;\n\
         # let data = ndarray::array![-1.5f64, 0.0, 0.5, 2.0].into_dyn();\n\
         # for (k, b) in encode_chunks(\"x\", 0, &Chunk::from(data), &grid)? { runner.insert(k, b); }\n\
         let x = Array::source(\"x\", 0, &[4], grid, DType::F64)?; // [-1.5, 0.0, 0.5, 2.0]\n"
    };
    (i) => {
        "# use doreisa_array::{Array, Chunk, DType, Grid, encode_chunks, kernels};\n\
         # let runner = doreisa_sched::LocalRunner::new(kernels());\n\
         # let grid = Grid::regular(&[4], &[2])?;\n\
         # let data = ndarray::array![-7i32, 0, 5, 12].into_dyn();\n\
         # for (k, b) in encode_chunks(\"x\", 0, &Chunk::from(data), &grid)? { runner.insert(k, b); }\n\
         let x = Array::source(\"x\", 0, &[4], grid, DType::I32)?; // [-7, 0, 5, 12]\n"
    };
}
pub(crate) use doc_fixture;

mod elementwise;
mod histogram;
mod linalg;
mod map_blocks;
mod quantile;
mod reduce;
mod select;
mod shape;
mod structure;

pub use quantile::QUANTILE_BUDGET;
pub use reduce::ReduceOptions;
pub use structure::SliceArg;

use crate::dtype::{DType, Scalar};
use crate::element::TypedScalar;
use crate::expr::{Fixed, Kind, MapFn, Node, OutAxis, Reindex};
use crate::grid::{Grid, common_refinement};
use crate::{Array, ArrayError, Operand, Result};
use std::sync::Arc;

/// An operand brought to the common shape and chunking, not yet to a dtype.
enum Aligned {
    Node(Arc<Node>),
    Scalar(Scalar),
}

/// numpy's broadcasting of shapes.
fn broadcast_shapes(op: &'static str, shapes: &[&[usize]]) -> Result<Vec<usize>> {
    let ndim = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1; ndim];
    for shape in shapes {
        let lead = ndim - shape.len();
        for (i, &n) in shape.iter().enumerate() {
            let o = &mut out[lead + i];
            if *o == 1 {
                *o = n;
            } else if n != 1 && n != *o {
                return Err(ArrayError::ShapeMismatch {
                    op,
                    detail: format!("shapes {shapes:?} do not broadcast together"),
                });
            }
        }
    }
    Ok(out)
}

/// Brings array operands to their broadcast shape, cut by the common refinement of
/// their chunkings; returns the operands, the shape and the grid.
fn align(op: &'static str, operands: &[Operand]) -> Result<(Vec<Aligned>, Grid)> {
    let arrays: Vec<&Array> = operands
        .iter()
        .filter_map(|o| match o {
            Operand::Array(a) => Some(a),
            Operand::Scalar(_) => None,
        })
        .collect();
    let shapes: Vec<&[usize]> = arrays.iter().map(|a| a.shape()).collect();
    let shape = broadcast_shapes(op, &shapes)?;
    let ndim = shape.len();
    let mut extents: Vec<Option<Vec<usize>>> = vec![None; ndim];
    for a in &arrays {
        let lead = ndim - a.ndim();
        for (i, &n) in a.shape().iter().enumerate() {
            if n == shape[lead + i] {
                let e = &mut extents[lead + i];
                *e = Some(match e.take() {
                    None => a.grid().axis(i).to_vec(),
                    Some(prev) => common_refinement(&prev, a.grid().axis(i)),
                });
            }
        }
    }
    let grid = Grid::from_chunks(
        extents
            .into_iter()
            .zip(&shape)
            .map(|(e, &n)| e.unwrap_or(vec![n]))
            .collect(),
    )?;
    let aligned = operands
        .iter()
        .map(|o| match o {
            Operand::Scalar(s) => Ok(Aligned::Scalar(*s)),
            Operand::Array(a) => broadcast_node(&a.node, &grid).map(Aligned::Node),
        })
        .collect::<Result<_>>()?;
    Ok((aligned, grid))
}

/// [`align`] for arrays only.
fn align_arrays(op: &'static str, arrays: &[Array]) -> Result<(Vec<Arc<Node>>, Grid)> {
    let operands: Vec<Operand> = arrays.iter().map(Operand::from).collect();
    let (aligned, grid) = align(op, &operands)?;
    let nodes = aligned
        .into_iter()
        .filter_map(|a| match a {
            Aligned::Node(n) => Some(n),
            Aligned::Scalar(_) => None,
        })
        .collect();
    Ok((nodes, grid))
}

/// `x` cut like `grid` on every axis where it has the same length, and broadcast to
/// `grid`'s shape (numpy rules; the caller checked that the shapes broadcast).
fn broadcast_node(x: &Arc<Node>, grid: &Grid) -> Result<Arc<Node>> {
    let shape = grid.shape();
    let lead = shape.len() - x.ndim();
    let mut out = Vec::with_capacity(shape.len());
    let mut fixed = Vec::new();
    for (o, &n) in shape.iter().enumerate() {
        if o < lead {
            out.push(OutAxis::New {
                lens: grid.axis(o).to_vec(),
            });
            continue;
        }
        let src = o - lead;
        if x.shape[src] == n {
            let axis = if x.grid.axis(src) == grid.axis(o) {
                OutAxis::identity(&x.grid, src)
            } else {
                OutAxis::split(&x.grid, src, grid.axis(o)).ok_or_else(|| {
                    ArrayError::BadGrid(format!(
                        "{:?} does not refine {:?}",
                        grid.axis(o),
                        x.grid.axis(src)
                    ))
                })?
            };
            out.push(axis);
        } else {
            fixed.push(Fixed {
                src,
                chunk: 0,
                index: 0,
            });
            out.push(OutAxis::New {
                lens: grid.axis(o).to_vec(),
            });
        }
    }
    reindex(x, Reindex { out, fixed })
}

/// `x` read through `plan` (or `x` itself when the plan changes nothing).
fn reindex(x: &Arc<Node>, plan: Reindex) -> Result<Arc<Node>> {
    if plan.is_identity(&x.grid) {
        return Ok(x.clone());
    }
    let grid = plan.grid()?;
    Ok(Node::new(
        Kind::Reindex { x: x.clone(), plan },
        grid,
        x.dtype,
    ))
}

/// An aligned operand as a node of `dtype` over `grid`.
fn as_dtype(operand: Aligned, dtype: DType, grid: &Grid) -> Result<Arc<Node>> {
    match operand {
        Aligned::Scalar(s) => Ok(Node::new(
            Kind::Const(TypedScalar::new(s, dtype)?),
            grid.clone(),
            dtype,
        )),
        Aligned::Node(n) => Ok(cast_node(&n, dtype)),
    }
}

/// `x` as `dtype` (itself when it already is).
fn cast_node(x: &Arc<Node>, dtype: DType) -> Arc<Node> {
    if x.dtype == dtype {
        return x.clone();
    }
    Node::new(
        Kind::Map {
            func: MapFn::Cast(dtype),
            args: vec![x.clone()],
        },
        x.grid.clone(),
        dtype,
    )
}

/// The dtypes of the array operands and the scalar operands.
fn operand_dtypes(operands: &[Operand]) -> (Vec<DType>, Vec<Scalar>) {
    let mut dtypes = Vec::new();
    let mut scalars = Vec::new();
    for o in operands {
        match o {
            Operand::Array(a) => dtypes.push(a.dtype()),
            Operand::Scalar(s) => scalars.push(*s),
        }
    }
    (dtypes, scalars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_broadcast_like_numpy() {
        assert_eq!(broadcast_shapes("t", &[&[3, 1], &[4]]).unwrap(), vec![3, 4]);
        assert_eq!(broadcast_shapes("t", &[&[], &[2, 2]]).unwrap(), vec![2, 2]);
        assert_eq!(broadcast_shapes("t", &[&[0], &[1]]).unwrap(), vec![0]);
        assert!(broadcast_shapes("t", &[&[3], &[4]]).is_err());
    }
}
