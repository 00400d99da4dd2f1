//! The reference's moves of elements and arrays made from nothing: slices, take,
//! reshape, sort and topk, matrix products, full, arange, linspace.

use super::ops::Red;
use super::reductions::float_stat;
use super::reference::*;
use doreisa_array::{DType, Scalar};
use ndarray::{ArrayD, Axis, IxDyn};

/// Python's slice `start:stop:step` of an axis of length `n`: the indices it selects.
pub fn slice_indices(
    n: usize,
    start: Option<isize>,
    stop: Option<isize>,
    step: isize,
) -> Vec<usize> {
    let n = n as isize;
    let norm = |i: isize, lo: isize, hi: isize| {
        let i = if i < 0 { i + n } else { i };
        i.clamp(lo, hi)
    };
    let mut out = Vec::new();
    if step > 0 {
        let (mut i, end) = (
            start.map_or(0, |s| norm(s, 0, n)),
            stop.map_or(n, |s| norm(s, 0, n)),
        );
        while i < end {
            out.push(i as usize);
            i += step;
        }
    } else {
        let mut i = start.map_or(n - 1, |s| norm(s, -1, n - 1));
        let end = stop.map_or(-1, |s| norm(s, -1, n - 1));
        while i > end {
            out.push(i as usize);
            i += step;
        }
    }
    out
}

/// `a` with axis `axis` replaced by the elements at `indices`.
pub fn take(a: &ArrayD<El>, axis: usize, indices: &[usize]) -> ArrayD<El> {
    let mut shape = a.shape().to_vec();
    shape[axis] = indices.len();
    from_fn(&shape, |i| {
        let mut src = i.to_vec();
        src[axis] = indices[i[axis]];
        a[IxDyn(&src)]
    })
}

/// `a` indexed at `index` along `axis` (the axis dropped).
pub fn index_axis(a: &ArrayD<El>, axis: usize, index: usize) -> ArrayD<El> {
    a.index_axis(Axis(axis), index).to_owned()
}

/// numpy's `reshape` (C order; one extent may be -1).
pub fn reshape(v: &Val, shape: &[isize]) -> Res {
    let size = v.a.len();
    let known: usize = shape
        .iter()
        .filter(|&&n| n >= 0)
        .map(|&n| n as usize)
        .product();
    let unknown = shape.iter().filter(|&&n| n < 0).count();
    let target: Vec<usize> = match unknown {
        0 => shape.iter().map(|&n| n as usize).collect(),
        1 if known > 0 && size.is_multiple_of(known) => shape
            .iter()
            .map(|&n| if n < 0 { size / known } else { n as usize })
            .collect(),
        _ => return raise("cannot reshape"),
    };
    if target.iter().product::<usize>() != size {
        return raise("cannot reshape");
    }
    let flat: Vec<El> = v.a.iter().copied().collect();
    Ok(Val::new(v.dtype, shaped(&target, flat)))
}

pub fn full(shape: &[usize], value: Scalar, dtype: Option<DType>) -> Res {
    let d = dtype.unwrap_or(match value {
        Scalar::Bool(_) => DType::Bool,
        Scalar::Int(_) => DType::I64,
        Scalar::Float(_) => DType::F64,
    });
    let el = scalar_el(value, d).or_else(|r| match (value, d) {
        // A bool fills any dtype (zeros, ones).
        (Scalar::Bool(b), _) => Ok(cast(El::B(b), d)),
        _ => Err(r),
    })?;
    Ok(Val::new(d, from_fn(shape, |_| el)))
}

pub fn arange(start: Scalar, stop: Scalar, step: Scalar) -> Res {
    let int = |s: Scalar| match s {
        Scalar::Int(i) => Some(i),
        Scalar::Bool(b) => Some(i128::from(b)),
        Scalar::Float(_) => None,
    };
    if let (Some(a), Some(b), Some(s)) = (int(start), int(stop), int(step)) {
        if s == 0 {
            return raise("arange step 0");
        }
        let mut values = Vec::new();
        let mut v = a;
        while (s > 0 && v < b) || (s < 0 && v > b) {
            values.push(El::I(v));
            v += s;
        }
        let n = values.len();
        return Ok(Val::new(DType::I64, shaped(&[n], values)));
    }
    let (a, b, s) = (start.as_f64(), stop.as_f64(), step.as_f64());
    if s == 0.0 || !(a.is_finite() && b.is_finite() && s.is_finite()) {
        return raise("bad arange");
    }
    let n = ((b - a) / s).ceil().max(0.0) as usize;
    let delta = (a + s) - a;
    let values = (0..n).map(|i| El::F(a + i as f64 * delta, 0.0)).collect();
    Ok(Val::new(DType::F64, shaped(&[n], values)))
}

pub fn linspace(start: f64, stop: f64, num: usize, endpoint: bool) -> Val {
    let div = if endpoint { num.saturating_sub(1) } else { num } as f64;
    let delta = stop - start;
    let step = delta / div;
    let values = (0..num)
        .map(|i| {
            let v = if endpoint && num > 1 && i == num - 1 {
                stop
            } else if step == 0.0 {
                i as f64 / div * delta + start
            } else {
                i as f64 * step + start
            };
            El::F(v, 0.0)
        })
        .collect();
    Val::new(DType::F64, shaped(&[num], values))
}

/// numpy's sort order (NaN last); `Err` for an `X` or `E` element.
fn sort_key(e: &El) -> Result<(u8, f64, i128), El> {
    match *e {
        El::F(_, err) if err > 0.0 => Err(El::X),
        El::F(x, _) if x.is_nan() => Ok((1, 0.0, 0)),
        El::F(x, _) => Ok((0, x, 0)),
        El::I(i) => Ok((0, 0.0, i)),
        El::B(b) => Ok((0, 0.0, i128::from(b))),
        other => Err(other),
    }
}

/// numpy's `sort` along `axis`, or Dask's `topk` (the `k` largest descending, or the
/// `-k` smallest ascending).
pub fn sort(v: &Val, axis: usize, k: Option<isize>) -> Res {
    let len = v.a.shape()[axis];
    if let Some(k) = k
        && (k == 0 || k.unsigned_abs() > len)
    {
        return raise("topk out of range");
    }
    let keep = k.map_or(len, |k| k.unsigned_abs());
    let mut shape = v.shape();
    shape[axis] = keep;
    let mut out = ArrayD::from_elem(IxDyn(&shape), El::X);
    for (lane, mut dest) in
        v.a.lanes(Axis(axis))
            .into_iter()
            .zip(out.lanes_mut(Axis(axis)))
    {
        let mut items: Vec<El> = lane.iter().copied().collect();
        if let Some(bad) = items.iter().find_map(|e| sort_key(e).err()) {
            dest.fill(bad);
            continue;
        }
        items.sort_by(|a, b| {
            let (p, q) = (sort_key(a).unwrap(), sort_key(b).unwrap());
            p.0.cmp(&q.0)
                .then(p.1.partial_cmp(&q.1).unwrap())
                .then(p.2.cmp(&q.2))
        });
        if k.is_some_and(|k| k > 0) {
            items.reverse();
        }
        for (d, e) in dest.iter_mut().zip(items) {
            // Equal zeros of either sign may come in either order.
            *d = match e {
                El::F(x, _) if x == 0.0 => El::F(x, f64::from_bits(1)),
                other => other,
            };
        }
    }
    Ok(Val::new(v.dtype, out))
}

/// `a @ b` of 2-d arrays: exact for integers and bools, within the summation bound for
/// floats.
pub fn matmul(a: &Val, b: &Val) -> Res {
    let (sa, sb) = (a.shape(), b.shape());
    if sa.len() != 2 || sb.len() != 2 || sa[1] != sb[0] {
        return raise("matmul: shapes do not match");
    }
    let d = promote(a.dtype, b.dtype);
    let (x, y) = (a.cast(d), b.cast(d));
    let (m, k, n) = (sa[0], sa[1], sb[1]);
    let out = from_fn(&[m, n], |i| {
        let terms: Vec<(El, El)> = (0..k).map(|l| (x.a[[i[0], l]], y.a[[l, i[1]]])).collect();
        if terms
            .iter()
            .any(|(p, q)| matches!(p, El::E) || matches!(q, El::E))
        {
            return El::E;
        }
        if terms
            .iter()
            .any(|(p, q)| matches!(p, El::X) || matches!(q, El::X))
        {
            return El::X;
        }
        match d {
            DType::Bool => El::B(
                terms
                    .iter()
                    .any(|t| matches!(t, (El::B(true), El::B(true)))),
            ),
            d if is_int(d) => {
                let mut acc = 0i128;
                for (p, q) in &terms {
                    if let (El::I(p), El::I(q)) = (p, q) {
                        acc = wrap(d, acc.wrapping_add(wrap(DType::I64, p.wrapping_mul(*q))));
                    }
                }
                El::I(wrap(d, acc))
            }
            _ => {
                let products: Vec<(f64, f64)> = terms
                    .iter()
                    .map(|t| match t {
                        (El::F(p, ep), El::F(q, eq)) => (p * q, p.abs() * eq + q.abs() * ep),
                        _ => (f64::NAN, 0.0),
                    })
                    .collect();
                float_stat(Red::Sum, d, &products, k, 0)
            }
        }
    });
    Ok(Val::new(d, out))
}
