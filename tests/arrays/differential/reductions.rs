//! The reference's reductions: sums and the rest with their error bounds, argmin and
//! argmax, histograms, cumulative scans, quantiles.

use super::ops::{Red, maximum, minimum};
use super::reference::*;
use doreisa_array::DType;
use ndarray::IxDyn;

pub fn reduce_dtype(f: Red, d: DType) -> DType {
    match f {
        Red::Sum | Red::Prod | Red::NanSum if is_float(d) => d,
        Red::Sum | Red::Prod | Red::NanSum if is_int(d) && !int_info(d).1 => DType::U64,
        Red::Sum | Red::Prod | Red::NanSum | Red::Count | Red::ArgMin | Red::ArgMax => DType::I64,
        Red::Any | Red::All => DType::Bool,
        Red::Min | Red::Max | Red::NanMin | Red::NanMax => d,
        _ if is_float(d) => d,
        _ => DType::F64,
    }
}

pub fn reduce(f: Red, v: &Val, axes: &[usize], keepdims: bool, ddof: u32) -> Res {
    let d = v.dtype;
    let needs = matches!(f, Red::Min | Red::Max | Red::NanMin | Red::NanMax) || f.is_arg();
    if needs && axes.iter().any(|&x| v.a.shape()[x] == 0) {
        return raise("zero-size array to reduction operation which has no identity");
    }
    let rd = reduce_dtype(f, d);
    let (shape, lanes) = lanes(&v.a, axes, keepdims);
    let els = lanes
        .iter()
        .map(|lane| reduce_lane(f, d, rd, lane, ddof))
        .collect();
    Ok(Val::new(rd, shaped(&shape, els)))
}

fn is_nan_el(e: &El) -> bool {
    matches!(e, El::F(x, _) if x.is_nan())
}

fn reduce_lane(f: Red, d: DType, rd: DType, lane: &[El], ddof: u32) -> El {
    if lane.contains(&El::E) {
        return El::E;
    }
    if lane.contains(&El::X) {
        return El::X;
    }
    // The NaN-ignoring reductions are the plain ones over the other elements.
    let kept: Vec<El>;
    let (f, lane) = match f {
        Red::NanSum | Red::NanMean | Red::NanMin | Red::NanMax | Red::NanVar | Red::NanStd => {
            kept = lane.iter().copied().filter(|e| !is_nan_el(e)).collect();
            let plain = match f {
                Red::NanSum => Red::Sum,
                Red::NanMean => Red::Mean,
                Red::NanMin => Red::Min,
                Red::NanMax => Red::Max,
                Red::NanVar => Red::Var,
                _ => Red::Std,
            };
            if kept.is_empty() && matches!(plain, Red::Min | Red::Max) {
                return El::F(f64::NAN, 0.0);
            }
            (plain, kept.as_slice())
        }
        _ => (f, lane),
    };
    let n = lane.len();
    match f {
        Red::Count => El::I(lane.iter().filter(|e| !is_nan_el(e)).count() as i128),
        Red::Any | Red::All => {
            let mut truths = Vec::with_capacity(n);
            for e in lane {
                truths.push(match *e {
                    El::B(b) => b,
                    El::I(i) => i != 0,
                    El::F(x, err) if err > 0.0 && x.abs() <= err => return El::X,
                    El::F(x, _) => x != 0.0,
                    _ => return El::X,
                });
            }
            El::B(if f == Red::Any {
                truths.iter().any(|&t| t)
            } else {
                truths.iter().all(|&t| t)
            })
        }
        Red::ArgMin | Red::ArgMax => arg_lane(f == Red::ArgMax, lane),
        Red::Sum | Red::Prod if !is_float(d) => {
            let mut acc: i128 = if f == Red::Sum { 0 } else { 1 };
            for e in lane {
                let v = match *e {
                    El::I(i) => i,
                    El::B(b) => i128::from(b),
                    _ => 0,
                };
                acc = wrap(
                    rd,
                    if f == Red::Sum {
                        acc + v
                    } else {
                        acc.wrapping_mul(v)
                    },
                );
            }
            El::I(acc)
        }
        Red::Min | Red::Max if !is_float(d) => {
            let pick = |x: El, y: El| match (x, y) {
                (El::I(p), El::I(q)) => El::I(if f == Red::Max { p.max(q) } else { p.min(q) }),
                (El::B(p), El::B(q)) => El::B(if f == Red::Max { p || q } else { p && q }),
                _ => El::X,
            };
            lane.iter().copied().reduce(pick).expect("non-empty")
        }
        Red::Min | Red::Max => {
            let xs = floats(lane).expect("no X");
            let err = xs.iter().map(|p| p.1).fold(0.0, f64::max);
            let pick = if f == Red::Max { maximum } else { minimum };
            let r = xs.iter().map(|p| p.0).reduce(pick).expect("non-empty");
            // Which zero numpy keeps depends on its loop order: either sign matches.
            let err = if r == 0.0 {
                err.max(f64::from_bits(1))
            } else {
                err
            };
            El::F(r, err)
        }
        Red::Prod => float_prod(rd, &floats(lane).expect("no X")),
        _ => float_stat(f, rd, &floats(lane).expect("no X"), n, ddof),
    }
}

/// The index of the first extreme (NaN first), or `X` if the errors could reorder.
fn arg_lane(max: bool, lane: &[El]) -> El {
    let mut best: Option<(usize, El)> = None;
    for (i, &e) in lane.iter().enumerate() {
        if matches!(e, El::F(_, err) if err > 0.0) {
            return El::X;
        }
        let better = match best {
            None => true,
            Some((_, b)) => match (b, e) {
                (El::F(p, _), _) if p.is_nan() => false,
                (_, El::F(q, _)) if q.is_nan() => true,
                (El::F(p, _), El::F(q, _)) => {
                    if max {
                        q > p
                    } else {
                        q < p
                    }
                }
                (El::I(p), El::I(q)) => {
                    if max {
                        q > p
                    } else {
                        q < p
                    }
                }
                (El::B(p), El::B(q)) => {
                    if max {
                        q & !p
                    } else {
                        p & !q
                    }
                }
                _ => return El::X,
            },
        };
        if better {
            best = Some((i, e));
        }
    }
    El::I(best.expect("non-empty").0 as i128)
}

/// A product of floats: exact-ish in f64 with a relative bound, `X` where partial
/// products may overflow or underflow in one order and not another.
pub(super) fn float_prod(rd: DType, xs: &[(f64, f64)]) -> El {
    if xs.iter().any(|p| p.1 > 0.0) {
        return El::X;
    }
    if xs.iter().any(|p| p.0.is_nan()) {
        return El::F(f64::NAN, 0.0);
    }
    let zero = xs.iter().any(|p| p.0 == 0.0);
    let inf = xs.iter().any(|p| p.0.is_infinite());
    if zero && inf {
        return El::F(f64::NAN, 0.0);
    }
    let big: f64 = xs.iter().map(|p| p.0.abs().max(1.0).log2()).sum();
    let small: f64 = xs
        .iter()
        .filter(|p| p.0 != 0.0)
        .map(|p| p.0.abs().min(1.0).log2())
        .sum();
    let limit = max_finite(rd).log2();
    if !inf && (big >= limit - 1.0 || small <= -limit + 2.0) {
        return El::X;
    }
    let prod: f64 = xs.iter().map(|p| p.0).product();
    let v = round_to(rd, prod);
    let n = xs.len() as f64;
    let tol = if xs.len() <= 1 || inf || zero {
        0.0
    } else {
        v.abs() * 2.0 * n * eps(rd) + 2.0 * ulp(rd, v)
    };
    El::F(v, tol)
}

/// Sums, means, variances and deviations of floats, with their error bounds.
pub(super) fn float_stat(f: Red, rd: DType, xs: &[(f64, f64)], n: usize, ddof: u32) -> El {
    let nan = xs.iter().any(|p| p.0.is_nan());
    let pos = xs.iter().any(|p| p.0 == f64::INFINITY);
    let neg = xs.iter().any(|p| p.0 == f64::NEG_INFINITY);
    let abs_sum: f64 = xs.iter().map(|p| p.0.abs()).sum();
    let in_err: f64 = xs.iter().map(|p| p.1).sum();
    let nf = n as f64;
    // The accumulation may overflow in one order and not in another.
    if !nan && !pos && !neg && abs_sum > max_finite(rd) / 2.0 {
        return El::X;
    }
    let special = if nan || (pos && neg) {
        Some(f64::NAN)
    } else if pos {
        Some(f64::INFINITY)
    } else if neg {
        Some(f64::NEG_INFINITY)
    } else {
        None
    };
    let sum = accurate_sum(xs.iter().map(|p| p.0));
    let sum_tol = 2.0 * nf * eps(rd) * abs_sum + in_err;
    let exact_inputs = in_err == 0.0;
    let tol = |value: f64, spread: f64| {
        if n <= 1 && exact_inputs {
            // One element: no summation order to differ.
            0.0
        } else {
            spread + 2.0 * ulp(rd, value) + f64::from_bits(1)
        }
    };
    match f {
        Red::Sum => {
            let v = special.unwrap_or(round_to(rd, sum));
            El::F(
                v,
                if special.is_some() {
                    0.0
                } else {
                    tol(v, sum_tol)
                },
            )
        }
        Red::Mean => {
            if n == 0 {
                return El::F(f64::NAN, 0.0);
            }
            let v = special.unwrap_or(round_to(rd, sum / nf));
            El::F(
                v,
                if special.is_some() {
                    0.0
                } else {
                    tol(v, sum_tol / nf)
                },
            )
        }
        _ => {
            let denom = (nf - f64::from(ddof)).max(0.0);
            if special.is_some() || n == 0 {
                return El::F(f64::NAN, 0.0);
            }
            let mean = sum / nf;
            let m2 = accurate_sum(xs.iter().map(|p| (p.0 - mean) * (p.0 - mean)));
            let sq: f64 = xs.iter().map(|p| p.0 * p.0).sum();
            let spread_m2 = 8.0 * nf * eps(rd) * sq
                + 2.0 * xs.iter().map(|p| (p.0 - mean).abs() * p.1).sum::<f64>();
            // Squares past the dtype's range overflow in one order and not another.
            if !(sq.is_finite() && spread_m2.is_finite() && sq <= max_finite(rd)) {
                return El::X;
            }
            if denom == 0.0 {
                // m2 / 0: infinity, or NaN when m2 is 0 (within its error).
                return if m2 <= spread_m2 && !exact_inputs || m2 == 0.0 && spread_m2 > 0.0 {
                    El::X
                } else {
                    El::F(if m2 == 0.0 { f64::NAN } else { f64::INFINITY }, 0.0)
                };
            }
            let var = m2 / denom;
            let var_tol = spread_m2 / denom;
            if f == Red::Var {
                let v = round_to(rd, var);
                El::F(v, tol(v, var_tol))
            } else {
                let v = round_to(rd, var.sqrt());
                let spread = (var + var_tol).sqrt() - (var - var_tol).max(0.0).sqrt();
                El::F(v, tol(v, spread))
            }
        }
    }
}

/// numpy's `histogram(v, bins, range)[0]`.
pub fn histogram(v: &Val, bins: usize, range: (f64, f64)) -> Res {
    let (mut lo, mut hi) = range;
    if !(lo.is_finite() && hi.is_finite()) {
        return raise("supplied range is not finite");
    }
    if lo > hi {
        return raise("max must be larger than min in range parameter");
    }
    if lo == hi {
        (lo, hi) = (lo - 0.5, hi + 0.5);
    }
    let bin_dtype = if is_float(v.dtype) {
        v.dtype
    } else {
        DType::F64
    };
    // numpy's linspace: in float64, the last edge set to `hi`, then cast.
    let step = (hi - lo) / bins as f64;
    let edges: Vec<f64> = (0..=bins)
        .map(|i| if i == bins { hi } else { i as f64 * step + lo })
        .map(|e| round_to(bin_dtype, e))
        .collect();
    let mut counts = vec![El::I(0); bins];
    for e in v.a.iter() {
        let x = match *e {
            El::E => return Ok(Val::new(DType::I64, shaped(&[bins], vec![El::E; bins]))),
            El::X => return Ok(Val::new(DType::I64, shaped(&[bins], vec![El::X; bins]))),
            El::F(_, err) if err > 0.0 => {
                return Ok(Val::new(DType::I64, shaped(&[bins], vec![El::X; bins])));
            }
            El::F(x, _) => x,
            El::I(i) => i as f64,
            El::B(b) => f64::from(u8::from(b)),
        };
        if x.is_nan() || x < edges[0] || x > edges[bins] {
            continue;
        }
        let mut i = 0;
        while i + 1 < bins && edges[i + 1] <= x {
            i += 1;
        }
        if let El::I(c) = &mut counts[i] {
            *c += 1;
        }
    }
    Ok(Val::new(DType::I64, shaped(&[bins], counts)))
}

/// numpy's `cumsum` / `cumprod` along `axis`.
pub fn scan(v: &Val, axis: usize, prod: bool) -> Res {
    let d = v.dtype;
    let rd = reduce_dtype(Red::Sum, d);
    let x = v.cast(rd);
    let shape = x.shape();
    let out = from_fn(&shape, |i| {
        let prefix: Vec<El> = (0..=i[axis])
            .map(|k| {
                let mut at = i.to_vec();
                at[axis] = k;
                x.a[IxDyn(&at)]
            })
            .collect();
        if prefix.contains(&El::E) {
            return El::E;
        }
        if prefix.contains(&El::X) {
            return El::X;
        }
        if prefix.len() == 1 {
            // The first element is itself (numpy's accumulate adds nothing to it).
            return prefix[0];
        }
        if !is_float(rd) {
            let mut acc: i128 = if prod { 1 } else { 0 };
            for e in &prefix {
                let v = match *e {
                    El::I(i) => i,
                    El::B(b) => i128::from(b),
                    _ => 0,
                };
                acc = wrap(rd, if prod { acc.wrapping_mul(v) } else { acc + v });
            }
            return El::I(acc);
        }
        let xs = floats(&prefix).expect("no X");
        if prod {
            float_prod(rd, &xs)
        } else {
            // In the dtype, step by step, within a chunk; in another order across.
            float_stat(Red::Sum, rd, &xs, xs.len(), 0)
        }
    });
    Ok(Val::new(rd, out))
}

/// numpy's `quantile(x, q, axis)` (linear), float64, within a few ulps.
pub fn quantile(v: &Val, q: &[f64], axis: Option<usize>) -> Res {
    if v.dtype == DType::Bool {
        return raise("numpy boolean subtract");
    }
    let ndim = v.a.ndim();
    let axes: Vec<usize> = match axis {
        Some(a) if a < ndim => vec![a],
        Some(_) => return raise("axis out of bounds"),
        None => (0..ndim).collect(),
    };
    let (shape, lanes) = lanes(&v.a, &axes, false);
    let mut els = Vec::with_capacity(q.len() * lanes.len());
    for &q in q {
        for lane in &lanes {
            els.push(match floats(lane) {
                _ if lane.contains(&El::E) => El::E,
                None => El::X,
                Some(xs) if xs.iter().any(|p| p.1 > 0.0) => El::X,
                Some(xs) if xs.iter().any(|p| p.0.is_nan()) => El::F(f64::NAN, 0.0),
                Some(_) if lane.is_empty() => El::X,
                Some(xs) => {
                    let mut values: Vec<f64> = xs.iter().map(|p| p.0).collect();
                    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
                    let n = values.len();
                    let at = n as f64 * q - q;
                    let below = (at.floor() as usize).min(n - 1);
                    let above = (below + 1).min(n - 1);
                    let (a, b) = (values[below], values[above]);
                    let t = at - below as f64;
                    // numpy's lerp: from the nearer end, the difference in the
                    // elements' own float dtype.
                    let own = if is_float(v.dtype) {
                        v.dtype
                    } else {
                        DType::F64
                    };
                    let diff = round_to(own, b - a);
                    let r = if t >= 0.5 {
                        b - diff * (1.0 - t)
                    } else {
                        a + diff * t
                    };
                    let spread = if r.is_finite() {
                        8.0 * ulp(DType::F32, r)
                    } else {
                        0.0
                    };
                    // Infinities interpolate to NaN or inf; leave those undecided.
                    if !(a.is_finite() && b.is_finite()) {
                        El::X
                    } else {
                        El::F(r, spread + 8.0 * ulp(DType::F64, r))
                    }
                }
            });
        }
    }
    let mut out_shape = vec![q.len()];
    out_shape.extend(shape);
    Ok(Val::new(DType::F64, shaped(&out_shape, els)))
}
