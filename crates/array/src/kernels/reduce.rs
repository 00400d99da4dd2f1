//! Tree reductions: `array.reduce_chunk` reduces one chunk (the value of a fused
//! program) to a partial result, `array.reduce_combine` merges partials, and either
//! finalizes when it is the last step of its tree.
//!
//! Partials: sums as int64 (integers, wrapping) or float64; counts as int64; min/max in
//! the input dtype; means as float64 `(count, sum)` and variances as float64
//! `(count, mean, M2)` along a trailing axis, merged with Chan et al.'s pairwise update.

use super::eval::{Value, decode_inputs, value};
use super::typed::{Typed, for_dtype, maximum, minimum};
use crate::chunk::{Chunk, CowChunk, ViewChunk, with_chunk};
use crate::codec;
use crate::dtype::{DType, Element};
use crate::program::{CombineParams, Finalize, ReduceChunkParams, Reduction};
use bytes::Bytes;
use ndarray::{ArrayD, ArrayViewD, Axis, Zip};

/// `array.reduce_chunk`.
pub(crate) fn reduce_chunk(params: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
    let p: ReduceChunkParams = codec::decode(params).map_err(|e| e.to_string())?;
    let decoded = decode_inputs(inputs)?;
    let views: Vec<ViewChunk<'_>> = decoded.iter().map(CowChunk::view).collect();
    let value: Value<'_> = value(&p.program, &p.shape, &views)?;
    let ndim = p.shape.len();
    if p.axes.iter().any(|&a| a >= ndim) || p.axes.windows(2).any(|w| w[0] >= w[1]) {
        return Err(format!("bad axes {:?} for {ndim} dimensions", p.axes));
    }
    let partial = partial(p.op, &value.view(), &p.axes)?;
    finish(p.op, partial, p.finalize.as_ref())
}

/// `array.reduce_combine`.
pub(crate) fn reduce_combine(params: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
    let p: CombineParams = codec::decode(params).map_err(|e| e.to_string())?;
    let mut partials = inputs
        .iter()
        .map(|b| Chunk::decode(b).map_err(|e| e.to_string()));
    let mut acc = partials.next().ok_or("no partial to combine")??;
    check_partial(p.op, &acc)?;
    for next in partials {
        let next = next?;
        if next.dtype() != acc.dtype() || next.shape() != acc.shape() {
            return Err(format!(
                "partials of {} {:?} and {} {:?}",
                acc.dtype(),
                acc.shape(),
                next.dtype(),
                next.shape()
            ));
        }
        acc = combine(p.op, acc, &next)?;
    }
    finish(p.op, acc, p.finalize.as_ref())
}

fn finish(op: Reduction, partial: Chunk, finalize: Option<&Finalize>) -> Result<Bytes, String> {
    let out = match finalize {
        Some(f) => finalize_partial(op, partial, f)?,
        None => partial,
    };
    Ok(out.encode())
}

/// Reduces `a` along each of `axes` in turn with `along` (which keeps the axis with
/// length 1); the first step reads `a` in place, no copy of the chunk is made first.
fn reduce_axes<T: Clone>(
    a: ArrayViewD<'_, T>,
    axes: &[usize],
    along: impl Fn(ArrayViewD<'_, T>, Axis) -> ArrayD<T>,
) -> ArrayD<T> {
    let Some((&first, rest)) = axes.split_first() else {
        return a.to_owned();
    };
    let first = along(a, Axis(first));
    rest.iter()
        .fold(first, |a, &axis| along(a.view(), Axis(axis)))
}

/// Sums `a` over `axes` (keeping them with length 1) with `add`.
fn sum_axes<T: Copy>(
    a: ArrayViewD<'_, T>,
    axes: &[usize],
    zero: T,
    add: impl Fn(T, T) -> T + Copy,
) -> ArrayD<T> {
    if axes.is_empty() {
        // A sum of one element still adds it to zero: `-0.0` becomes `0.0`, as in numpy.
        return a.mapv(|v| add(zero, v));
    }
    reduce_axes(a, axes, |a, axis| {
        a.fold_axis(axis, zero, |&acc, &v| add(acc, v))
            .insert_axis(axis)
    })
}

fn partial(op: Reduction, value: &ViewChunk<'_>, axes: &[usize]) -> Result<Chunk, String> {
    let dtype = value.dtype();
    let shape = value.shape().to_vec();
    let n: usize = axes.iter().map(|&a| shape[a]).product();
    Ok(match op {
        Reduction::Sum if dtype.is_float() => {
            Chunk::F64(sum_axes(as_f64(value).view(), axes, 0.0, |a, b| a + b))
        }
        Reduction::Sum => Chunk::I64(sum_axes(as_i64(value).view(), axes, 0, i64::wrapping_add)),
        Reduction::Count => {
            let present =
                with_chunk!(ViewChunk, value, a => a.mapv(|v| i64::from(!v.to_f64().is_nan())));
            Chunk::I64(sum_axes(present.view(), axes, 0, i64::wrapping_add))
        }
        Reduction::Min | Reduction::Max => {
            if n == 0 {
                return Err(format!("{} of an empty chunk", op.name()));
            }
            let pick_max = op == Reduction::Max;
            for_dtype!(dtype, T => {
                let a = T::view(value).expect("dtype matched");
                let pick = if pick_max { maximum::<T> } else { minimum::<T> };
                // Seed each lane with its first element: the fold must not need an identity.
                T::into_chunk(reduce_axes(a.view(), axes, |a, axis| {
                    let mut acc = a.index_axis(axis, 0).to_owned();
                    for lane in a.axis_iter(axis).skip(1) {
                        Zip::from(&mut acc).and(&lane).for_each(|x, &y| *x = pick(*x, y));
                    }
                    acc.insert_axis(axis)
                }))
            })
        }
        Reduction::Mean => {
            let sums = sum_axes(as_f64(value).view(), axes, 0.0, |a, b| a + b);
            let counts = ArrayD::from_elem(sums.raw_dim(), n as f64);
            lanes(&[counts, sums])
        }
        Reduction::Var | Reduction::Std => {
            let x = as_f64(value);
            let sums = sum_axes(x.view(), axes, 0.0, |a, b| a + b);
            let means = sums.mapv(|s| if n == 0 { 0.0 } else { s / n as f64 });
            let squares = (x - &means).mapv_into(|d| d * d);
            let m2 = sum_axes(squares.view(), axes, 0.0, |a, b| a + b);
            let counts = ArrayD::from_elem(means.raw_dim(), n as f64);
            lanes(&[counts, means, m2])
        }
    })
}

fn as_f64(value: &ViewChunk<'_>) -> ArrayD<f64> {
    with_chunk!(ViewChunk, value, a => a.mapv(|v| v.to_f64()))
}

fn as_i64(value: &ViewChunk<'_>) -> ArrayD<i64> {
    with_chunk!(ViewChunk, value, a => a.mapv(|v| v.to_i64()))
}

/// Stacks same-shaped arrays along a new trailing axis.
fn lanes(parts: &[ArrayD<f64>]) -> Chunk {
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    let axis = Axis(parts[0].ndim());
    Chunk::F64(ndarray::stack(axis, &views).expect("same shapes"))
}

fn check_partial(op: Reduction, p: &Chunk) -> Result<(), String> {
    let width = op.partial_width();
    let ok = match op {
        Reduction::Sum => matches!(p.dtype(), DType::F64 | DType::I64),
        Reduction::Count => p.dtype() == DType::I64,
        Reduction::Min | Reduction::Max => true,
        _ => p.dtype() == DType::F64 && p.shape().last() == Some(&width),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "a {} partial of {} {:?}",
            op.name(),
            p.dtype(),
            p.shape()
        ))
    }
}

fn combine(op: Reduction, acc: Chunk, next: &Chunk) -> Result<Chunk, String> {
    Ok(match (op, acc, next) {
        (Reduction::Sum | Reduction::Count, Chunk::I64(mut a), Chunk::I64(b)) => {
            Zip::from(&mut a)
                .and(b)
                .for_each(|x, &y| *x = x.wrapping_add(y));
            Chunk::I64(a)
        }
        (Reduction::Sum | Reduction::Mean, Chunk::F64(mut a), Chunk::F64(b)) => {
            a += b;
            Chunk::F64(a)
        }
        (Reduction::Min | Reduction::Max, acc, next) => {
            let pick_max = op == Reduction::Max;
            for_dtype!(acc.dtype(), T => {
                let mut a = acc.into_array::<T>().map_err(|e| e.to_string())?;
                let b = next.as_array::<T>().map_err(|e| e.to_string())?;
                let pick = if pick_max { maximum::<T> } else { minimum::<T> };
                Zip::from(&mut a).and(b).for_each(|x, &y| *x = pick(*x, y));
                T::into_chunk(a)
            })
        }
        (Reduction::Var | Reduction::Std, Chunk::F64(mut a), Chunk::F64(b)) => {
            let last = Axis(a.ndim() - 1);
            Zip::from(a.lanes_mut(last))
                .and(b.lanes(last))
                .for_each(|mut x, y| {
                    let (na, ma, m2a) = (x[0], x[1], x[2]);
                    let (nb, mb, m2b) = (y[0], y[1], y[2]);
                    let n = na + nb;
                    if nb == 0.0 {
                        return;
                    }
                    let delta = mb - ma;
                    x[0] = n;
                    x[1] = ma + delta * nb / n;
                    x[2] = m2a + m2b + delta * delta * na * nb / n;
                });
            Chunk::F64(a)
        }
        (op, acc, _) => {
            return Err(format!(
                "cannot combine {} partials of {}",
                op.name(),
                acc.dtype()
            ));
        }
    })
}

fn finalize_partial(op: Reduction, partial: Chunk, f: &Finalize) -> Result<Chunk, String> {
    let value = match op {
        Reduction::Mean | Reduction::Var | Reduction::Std => {
            let p = partial.into_array::<f64>().map_err(|e| e.to_string())?;
            let last = Axis(p.ndim() - 1);
            let ddof = f64::from(f.ddof);
            let out = p.map_axis(last, |lane| match op {
                Reduction::Mean => lane[1] / lane[0],
                Reduction::Var => lane[2] / (lane[0] - ddof).max(0.0),
                _ => (lane[2] / (lane[0] - ddof).max(0.0)).sqrt(),
            });
            Chunk::F64(out)
        }
        _ => partial,
    };
    let mut value = if value.dtype() == f.dtype {
        value
    } else {
        value.cast(f.dtype)
    };
    let mut squeeze = f.squeeze.clone();
    squeeze.sort_unstable_by(|a, b| b.cmp(a));
    for &axis in &squeeze {
        if value.shape().get(axis) != Some(&1) {
            return Err(format!(
                "cannot drop axis {axis} of shape {:?}",
                value.shape()
            ));
        }
        value = with_chunk!(Chunk, value, a => Chunk::from(a.index_axis_move(Axis(axis), 0)));
    }
    Ok(value)
}
