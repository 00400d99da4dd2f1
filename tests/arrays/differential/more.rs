//! Evaluation on both sides of the operations beyond the element-wise ones and the
//! moves of [`super::expr::eval`]: diff, reshape, scans, take, sort, topk, matrix
//! products, quantiles, arrays made from nothing, histograms.

use super::expr::{Both, Expr, Source, check_axes, eval, scalar_text, signed};
use super::ops::{self, Bin, Other};
use super::reference::*;
use doreisa_array::{Array, DType, Grid};

pub fn eval_more(e: &Expr, arrays: &[Array], sources: &[Source]) -> Both {
    let lift = |b: &Both, f: &dyn Fn(&Array) -> Result<Array, doreisa_array::ArrayError>| {
        b.array.as_ref().map_err(Clone::clone).and_then(f)
    };
    match e {
        Expr::Diff(x, n, axis) => {
            let x = eval(x, arrays, sources);
            let array = lift(&x, &|a| a.diff(*n, signed(*axis, a.ndim())));
            let val = x
                .val
                .and_then(|v| check_axes(&v, &[*axis], 0))
                .and_then(|mut v| {
                    for _ in 0..*n {
                        let len = v.a.shape()[*axis];
                        let later = Val::new(
                            v.dtype,
                            ops::take(&v.a, *axis, &(1.min(len)..len).collect::<Vec<_>>()),
                        );
                        let earlier = Val::new(
                            v.dtype,
                            ops::take(&v.a, *axis, &(0..len.saturating_sub(1)).collect::<Vec<_>>()),
                        );
                        let f = if v.dtype == DType::Bool {
                            Bin::Ne
                        } else {
                            Bin::Sub
                        };
                        v = ops::binary(f, &later, Other::Val(&earlier))?;
                    }
                    Ok(v)
                });
            Both {
                array,
                val,
                text: format!("np.diff({}, {n}, {axis})", x.text),
            }
        }
        Expr::Reshape(x, shape) => {
            let x = eval(x, arrays, sources);
            let array = lift(&x, &|a| a.reshape(shape));
            let val = x.val.and_then(|v| ops::reshape(&v, shape));
            Both {
                array,
                val,
                text: format!("np.reshape({}, {shape:?})", x.text),
            }
        }
        Expr::Scan(x, axis, prod) => {
            let x = eval(x, arrays, sources);
            let array = lift(&x, &|a| {
                let axis = signed(*axis, a.ndim());
                if *prod {
                    a.cumprod(axis)
                } else {
                    a.cumsum(axis)
                }
            });
            let val = x
                .val
                .and_then(|v| check_axes(&v, &[*axis], 0))
                .and_then(|v| ops::scan(&v, *axis, *prod));
            let name = if *prod { "cumprod" } else { "cumsum" };
            Both {
                array,
                val,
                text: format!("np.{name}({}, {axis})", x.text),
            }
        }
        Expr::Take(x, indices, axis) => {
            let x = eval(x, arrays, sources);
            let array = lift(&x, &|a| a.take(indices, signed(*axis, a.ndim())));
            let val = x
                .val
                .and_then(|v| check_axes(&v, &[*axis], 0))
                .and_then(|v| {
                    let n = v.a.shape()[*axis] as isize;
                    let at = indices
                        .iter()
                        .map(|&i| {
                            let j = if i < 0 { i + n } else { i };
                            if (0..n).contains(&j) {
                                Ok(j as usize)
                            } else {
                                raise("index out of bounds")
                            }
                        })
                        .collect::<Res<Vec<usize>>>()?;
                    Ok(Val::new(v.dtype, ops::take(&v.a, *axis, &at)))
                });
            Both {
                array,
                val,
                text: format!("np.take({}, {indices:?}, {axis})", x.text),
            }
        }
        Expr::Sort(x, axis) | Expr::TopK(x, _, axis) => {
            let k = match e {
                Expr::TopK(_, k, _) => Some(*k),
                _ => None,
            };
            let x = eval(x, arrays, sources);
            let array = lift(&x, &|a| {
                let signed_axis = signed(*axis, a.ndim());
                match k {
                    Some(k) => a.topk(k, signed_axis),
                    None => {
                        let mut chunks = a.chunks().to_vec();
                        chunks[*axis] = vec![a.shape()[*axis]];
                        a.rechunk(Grid::from_chunks(chunks)?)?.sort(signed_axis)
                    }
                }
            });
            let val = x
                .val
                .and_then(|v| check_axes(&v, &[*axis], 0))
                .and_then(|v| ops::sort(&v, *axis, k));
            let text = match k {
                Some(k) => format!("topk({}, {k}, {axis})", x.text),
                None => format!("np.sort({}, {axis})", x.text),
            };
            Both { array, val, text }
        }
        Expr::MatMul(a, b) => {
            let (a, b) = (eval(a, arrays, sources), eval(b, arrays, sources));
            let array = match (&a.array, &b.array) {
                (Ok(x), Ok(y)) => x.matmul(y),
                (Err(err), _) | (_, Err(err)) => Err(err.clone()),
            };
            let val = a.val.and_then(|x| b.val.and_then(|y| ops::matmul(&x, &y)));
            Both {
                array,
                val,
                text: format!("np.matmul({}, {})", a.text, b.text),
            }
        }
        Expr::Quantile(x, q, axis) => {
            let x = eval(x, arrays, sources);
            let array = lift(&x, &|a| a.quantile(q, axis.map(|ax| signed(ax, a.ndim()))));
            let val = x.val.and_then(|v| ops::quantile(&v, q, *axis));
            Both {
                array,
                val,
                text: format!("np.quantile({}, {q:?}, axis={axis:?})", x.text),
            }
        }
        Expr::Full(shape, chunks, value, dtype) => Both {
            array: Array::full(shape, chunks, *value, *dtype),
            val: ops::full(shape, *value, *dtype),
            text: format!("np.full({shape:?}, {}, {dtype:?})", scalar_text(*value)),
        },
        Expr::Arange(start, stop, step, chunk) => Both {
            array: Array::arange(*start, *stop, *step, *chunk),
            val: ops::arange(*start, *stop, *step),
            text: format!(
                "np.arange({}, {}, {})",
                scalar_text(*start),
                scalar_text(*stop),
                scalar_text(*step)
            ),
        },
        Expr::Linspace(start, stop, num, endpoint, chunk) => Both {
            array: Array::linspace(*start, *stop, *num, *endpoint, *chunk),
            val: Ok(ops::linspace(*start, *stop, *num, *endpoint)),
            text: format!("np.linspace({start:?}, {stop:?}, {num}, endpoint={endpoint})"),
        },
        Expr::Histogram { x, bins, range } => {
            let x = eval(x, arrays, sources);
            let array = lift(&x, &|a| {
                a.histogram(*bins, *range).map(|(counts, _)| counts)
            });
            let val = x.val.and_then(|v| ops::histogram(&v, *bins, *range));
            Both {
                array,
                val,
                text: format!("np.histogram({}, {bins}, range={range:?})[0]", x.text),
            }
        }
        other => unreachable!("{other:?} is evaluated in expr.rs"),
    }
}
