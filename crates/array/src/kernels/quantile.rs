//! Quantiles: exact over whole lanes (`array.quantile`), or approximate from weighted
//! samples of each chunk (`array.quantile_sample`) merged in a tree
//! (`array.quantile_merge`).

use super::eval::{decode_inputs, value};
use super::typed::{Num, for_float};
use crate::chunk::{Chunk, CowChunk, ViewChunk, with_chunk};
use crate::codec;
use crate::dtype::DType;
use crate::element::Element;
use crate::program::{QuantileParams, SampleParams};
use bytes::Bytes;
use ndarray::{ArrayD, IxDyn};

/// Samples kept per chunk on the approximate path.
pub(crate) const SAMPLES: usize = 1024;

/// numpy's linear interpolation between `a` and `b` at `t` (`a + (b - a) * t`, or
/// `b - (b - a) * (1 - t)` from `t = 0.5` on), in float dtype `dtype`, the difference
/// `b - a` taken in the elements' own float dtype `own` first (as numpy does).
fn lerp(a: f64, b: f64, t: f64, dtype: DType, own: DType) -> f64 {
    fn typed<T: Num>(a: f64, b: f64, t: f64, diff: f64) -> f64 {
        let (a, b, t, diff): (T, T, T, T) = (a.cast(), b.cast(), t.cast(), diff.cast());
        let one: T = 1.0f64.cast();
        let v = if t.to_f64() >= 0.5 {
            b.sub(diff.mul(one.sub(t)))
        } else {
            a.add(diff.mul(t))
        };
        v.to_f64()
    }
    let diff = for_float!(own, T => { let (p, q): (T, T) = (a.cast(), b.cast()); q.sub(p).to_f64() }, b - a);
    for_float!(dtype, T => typed::<T>(a, b, t, diff), typed::<f64>(a, b, t, diff))
}

/// The `q` quantile of sorted `values` (no NaN), numpy's linear method.
pub(crate) fn quantile_sorted(values: &[f64], q: f64, dtype: DType, own: DType) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    // numpy's virtual index for the linear method: n * q + (1 - q) - 1, rounded as it is.
    let at = n as f64 * q - q;
    let below = (at.floor() as usize).min(n - 1);
    let above = (below + 1).min(n - 1);
    lerp(values[below], values[above], at - below as f64, dtype, own)
}

pub(crate) fn quantile(params: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
    let p: QuantileParams = codec::decode(params).map_err(|e| e.to_string())?;
    let decoded = decode_inputs(inputs)?;
    let views: Vec<ViewChunk<'_>> = decoded.iter().map(CowChunk::view).collect();
    let value = value(&p.program, &p.shape, &views)?;
    let view = value.view();
    let own = view.dtype();
    let ndim = p.shape.len();
    if p.axes.iter().any(|&a| a >= ndim) {
        return Err(format!("axes {:?} of {ndim} dimensions", p.axes));
    }
    let kept: Vec<usize> = (0..ndim).filter(|a| !p.axes.contains(a)).collect();
    let perm: Vec<usize> = kept.iter().chain(&p.axes).copied().collect();
    let cells: usize = kept.iter().map(|&a| p.shape[a]).product();
    let n: usize = p.axes.iter().map(|&a| p.shape[a]).product();
    // Sorted lanes in the input's own dtype (exact for int64), then as f64.
    let lanes: Vec<Vec<f64>> = with_chunk!(ViewChunk, view, a => {
        let moved = a.view().permuted_axes(IxDyn(&perm));
        let flat: Vec<_> = moved.iter().copied().collect();
        (0..cells)
            .map(|c| {
                let mut lane = flat[c * n..(c + 1) * n].to_vec();
                if lane.iter().any(|v| v.partial_cmp(v).is_none()) {
                    return vec![f64::NAN];
                }
                lane.sort_by(|x, y| x.partial_cmp(y).expect("no NaN"));
                lane.into_iter().map(|v| v.to_f64()).collect()
            })
            .collect()
    });
    let mut out = Vec::with_capacity(p.q.len() * cells);
    for &q in &p.q {
        for lane in &lanes {
            out.push(if lane.first().is_some_and(|v| v.is_nan()) {
                f64::NAN
            } else {
                quantile_sorted(lane, q, p.dtype, own)
            });
        }
    }
    let mut shape = vec![p.q.len()];
    shape.extend(kept.iter().map(|&a| p.shape[a]));
    let result = Chunk::F64(ArrayD::from_shape_vec(IxDyn(&shape), out).map_err(|e| e.to_string())?);
    Ok(result.cast(p.dtype).encode())
}

/// A chunk's samples: `[NaN count, then (value, weight) pairs]`, at most [`SAMPLES`]
/// pairs: the sorted values cut in that many runs of (nearly) equal lengths, each
/// represented by its middle value and weighing its length.
pub(crate) fn quantile_sample(params: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
    let p: SampleParams = codec::decode(params).map_err(|e| e.to_string())?;
    let program = p.program.ok_or("no program")?;
    let decoded = decode_inputs(inputs)?;
    let views: Vec<ViewChunk<'_>> = decoded.iter().map(CowChunk::view).collect();
    let value = value(&program, &p.shape, &views)?;
    let mut values: Vec<f64> =
        with_chunk!(ViewChunk, value.view(), a => a.iter().map(|v| v.to_f64()).collect());
    let nans = values.iter().filter(|v| v.is_nan()).count();
    values.retain(|v| !v.is_nan());
    values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = values.len();
    let runs = n.min(SAMPLES);
    let mut out = vec![nans as f64];
    for r in 0..runs {
        let (from, to) = (r * n / runs, (r + 1) * n / runs);
        out.push(values[(from + to - 1) / 2]);
        out.push((to - from) as f64);
    }
    Ok(Chunk::F64(ArrayD::from_shape_vec(IxDyn(&[out.len()]), out).expect("1-d")).encode())
}

/// Merges samples; the last merge computes the quantiles.
pub(crate) fn quantile_merge(params: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
    let p: SampleParams = codec::decode(params).map_err(|e| e.to_string())?;
    let mut nans = 0.0;
    let mut pairs: Vec<(f64, f64)> = Vec::new();
    for input in inputs {
        let chunk = Chunk::decode(input).map_err(|e| e.to_string())?;
        let a = chunk.into_array::<f64>().map_err(|e| e.to_string())?;
        let v = a.as_slice().ok_or("samples are contiguous")?;
        if v.is_empty() || (v.len() - 1) % 2 != 0 {
            return Err(format!("{} numbers are no samples", v.len()));
        }
        nans += v[0];
        pairs.extend(v[1..].chunks_exact(2).map(|w| (w[0], w[1])));
    }
    let Some((q, dtype, own)) = p.finish else {
        let mut out = vec![nans];
        out.extend(pairs.iter().flat_map(|&(v, w)| [v, w]));
        return Ok(
            Chunk::F64(ArrayD::from_shape_vec(IxDyn(&[out.len()]), out).expect("1-d")).encode(),
        );
    };
    pairs.sort_by(|a, b| a.0.partial_cmp(&b.0).expect("no NaN"));
    let total: f64 = pairs.iter().map(|p| p.1).sum();
    // The value at rank `r` (0-based) of the weighted samples.
    let at_rank = |r: f64| {
        let mut seen = 0.0;
        for &(v, w) in &pairs {
            seen += w;
            if r < seen {
                return v;
            }
        }
        pairs.last().map_or(f64::NAN, |p| p.0)
    };
    let out: Vec<f64> = q
        .iter()
        .map(|&q| {
            if nans > 0.0 || total == 0.0 {
                return f64::NAN;
            }
            let at = total * q - q;
            let below = at.floor();
            let next = at_rank((below + 1.0).min(total - 1.0));
            lerp(at_rank(below), next, at - below, dtype, own)
        })
        .collect();
    let result = Chunk::F64(ArrayD::from_shape_vec(IxDyn(&[out.len()]), out).expect("1-d"));
    Ok(result.cast(dtype).encode())
}
