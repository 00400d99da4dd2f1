//! Tree reductions: `array.reduce_chunk` reduces one chunk (the value of a fused
//! program) to a partial result, `array.reduce_combine` merges partials, and either
//! finalizes when it is the last step of its tree.
//!
//! Partials ([`super::partial`]): sums and products as int64 (integers, wrapping) or
//! float64; counts as int64; any/all as bool; min/max in the input dtype; means as
//! float64 `(count, sum)` and variances as float64 `(count, mean, M2)` along a trailing
//! axis, merged with Chan et al.'s pairwise update; argmin/argmax as `(key, index)`
//! pairs (float64 for floats, int64 keys that keep the order of integers).

use super::eval::{Value, decode_inputs, value};
use super::partial::{nan_pick, partial, pick_arg};
use super::typed::{for_dtype, maximum, minimum};
use crate::chunk::{Chunk, CowChunk, ViewChunk, with_chunk};
use crate::codec;
use crate::dtype::DType;
use crate::element::Element;
use crate::program::{CombineParams, Finalize, ReduceChunkParams, Reduction};
use bytes::Bytes;
use ndarray::{Axis, Zip};

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
    let partial = partial(&p, &value.view())?;
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

fn check_partial(op: Reduction, p: &Chunk) -> Result<(), String> {
    let width = op.partial_width();
    let ok = match op {
        Reduction::Sum | Reduction::NanSum | Reduction::Prod => {
            matches!(p.dtype(), DType::F64 | DType::I64)
        }
        Reduction::Count => p.dtype() == DType::I64,
        Reduction::Any | Reduction::All => p.dtype() == DType::Bool,
        Reduction::Min | Reduction::Max | Reduction::NanMin | Reduction::NanMax => true,
        Reduction::ArgMin | Reduction::ArgMax => {
            matches!(p.dtype(), DType::F64 | DType::I64) && p.shape().last() == Some(&width)
        }
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
    use Reduction::*;
    Ok(match (op, acc, next) {
        (Sum | NanSum | Count, Chunk::I64(mut a), Chunk::I64(b)) => {
            Zip::from(&mut a)
                .and(b)
                .for_each(|x, &y| *x = x.wrapping_add(y));
            Chunk::I64(a)
        }
        (Prod, Chunk::I64(mut a), Chunk::I64(b)) => {
            Zip::from(&mut a)
                .and(b)
                .for_each(|x, &y| *x = x.wrapping_mul(y));
            Chunk::I64(a)
        }
        (Prod, Chunk::F64(mut a), Chunk::F64(b)) => {
            a *= b;
            Chunk::F64(a)
        }
        (Sum | NanSum | Mean | NanMean, Chunk::F64(mut a), Chunk::F64(b)) => {
            a += b;
            Chunk::F64(a)
        }
        (Any | All, Chunk::Bool(mut a), Chunk::Bool(b)) => {
            let any = op == Any;
            Zip::from(&mut a)
                .and(b)
                .for_each(|x, &y| *x = if any { *x || y } else { *x && y });
            Chunk::Bool(a)
        }
        (Min | Max | NanMin | NanMax, acc, next) => {
            let max = matches!(op, Max | NanMax);
            let nan = matches!(op, NanMin | NanMax);
            for_dtype!(acc.dtype(), T => {
                let mut a = acc.into_array::<T>().map_err(|e| e.to_string())?;
                let b = next.as_array::<T>().map_err(|e| e.to_string())?;
                let pick = if max { maximum::<T> } else { minimum::<T> };
                Zip::from(&mut a).and(b).for_each(|x, &y| {
                    *x = if nan { nan_pick(*x, y, pick) } else { pick(*x, y) }
                });
                T::into_chunk(a)
            })
        }
        (ArgMin | ArgMax, acc, next) => {
            let max = op == ArgMax;
            for_dtype!(acc.dtype(), T => {
                let mut a = acc.into_array::<T>().map_err(|e| e.to_string())?;
                let b = next.as_array::<T>().map_err(|e| e.to_string())?;
                let last = Axis(a.ndim() - 1);
                Zip::from(a.lanes_mut(last)).and(b.lanes(last)).for_each(|mut x, y| {
                    let (k, i) = pick_arg((x[0], x[1]), (y[0], y[1]), max);
                    (x[0], x[1]) = (k, i);
                });
                T::into_chunk(a)
            })
        }
        (Var | Std | NanVar | NanStd, Chunk::F64(mut a), Chunk::F64(b)) => {
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
    use Reduction::*;
    let value = match op {
        Mean | Var | Std | NanMean | NanVar | NanStd => {
            let p = partial.into_array::<f64>().map_err(|e| e.to_string())?;
            let last = Axis(p.ndim() - 1);
            let ddof = f64::from(f.ddof);
            let out = p.map_axis(last, |lane| match op {
                Mean | NanMean => lane[1] / lane[0],
                Var | NanVar => lane[2] / (lane[0] - ddof).max(0.0),
                _ => (lane[2] / (lane[0] - ddof).max(0.0)).sqrt(),
            });
            Chunk::F64(out)
        }
        ArgMin | ArgMax => {
            let last = Axis(partial.ndim() - 1);
            Chunk::I64(with_chunk!(Chunk, partial, p => p.map_axis(last, |lane| lane[1].to_i64())))
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
