//! The reference's operations: numpy 2's element-wise functions, moves of elements
//! and reductions, over [`Val`]s.

use super::reference::*;
use doreisa_array::{DType, Scalar};
use ndarray::{ArrayD, Axis, IxDyn};

/// Element-wise functions of one operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Un {
    Neg,
    Abs,
    Sqrt,
    Exp,
    Log,
    Sin,
    Cos,
    Not,
}

/// Element-wise functions of two operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Max,
    Min,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
    Xor,
}

/// Reductions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Red {
    Sum,
    Mean,
    Min,
    Max,
    Var,
    Std,
    Count,
}

impl Bin {
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            Bin::Lt | Bin::Le | Bin::Gt | Bin::Ge | Bin::Eq | Bin::Ne
        )
    }

    pub fn is_logical(self) -> bool {
        matches!(self, Bin::And | Bin::Or | Bin::Xor)
    }
}

fn truth(e: El) -> El {
    match e {
        El::B(b) => El::B(b),
        El::I(i) => El::B(i != 0),
        El::F(x, err) if err > 0.0 && x.abs() <= err => El::X,
        El::F(x, _) => El::B(x != 0.0),
        other => other,
    }
}

pub fn unary(f: Un, v: &Val) -> Res {
    let d = v.dtype;
    match f {
        Un::Not => Ok(Val::new(
            DType::Bool,
            v.a.mapv(|e| match truth(e) {
                El::B(b) => El::B(!b),
                other => other,
            }),
        )),
        Un::Neg if d == DType::Bool => raise("The numpy boolean negative is not supported"),
        Un::Abs if d == DType::Bool => Ok(v.clone()),
        Un::Neg | Un::Abs => Ok(Val::new(
            d,
            v.a.mapv(|e| match e {
                El::I(i) => El::I(wrap(d, if f == Un::Neg { -i } else { i.abs() })),
                El::F(x, err) => El::F(if f == Un::Neg { -x } else { x.abs() }, err),
                other => other,
            }),
        )),
        _ => {
            let comp = math_float(d);
            let x = v.cast(comp);
            Ok(Val::new(comp, x.a.mapv(|e| math(f, comp, e))))
        }
    }
}

fn math(f: Un, d: DType, e: El) -> El {
    let El::F(x, err) = e else { return e };
    let r = match f {
        Un::Sqrt => in_dtype(d, x, f64::sqrt, f32::sqrt),
        Un::Exp => in_dtype(d, x, f64::exp, f32::exp),
        Un::Log => in_dtype(d, x, f64::ln, f32::ln),
        Un::Sin => in_dtype(d, x, f64::sin, f32::sin),
        _ => in_dtype(d, x, f64::cos, f32::cos),
    };
    if err == 0.0 {
        return El::F(r, 0.0);
    }
    let (lo, hi) = (x - err, x + err);
    let spread = match f {
        Un::Sqrt if lo < 0.0 => return El::X,
        Un::Log if lo <= 0.0 => return El::X,
        Un::Sqrt => hi.sqrt() - lo.sqrt(),
        Un::Exp => hi.exp() - lo.exp(),
        Un::Log => hi.ln() - lo.ln(),
        _ => err.min(2.0),
    };
    El::F(r, grown(d, r, false, spread))
}

/// The second operand of a binary operation.
pub enum Other<'a> {
    Val(&'a Val),
    Scalar(Scalar),
}

pub fn binary(f: Bin, a: &Val, b: Other<'_>) -> Res {
    if f.is_logical() {
        let b = match b {
            Other::Val(v) => v.clone(),
            Other::Scalar(s) => Val::new(
                DType::Bool,
                ArrayD::from_elem(IxDyn(&[]), El::B(s.truthy())),
            ),
        };
        let out = zip_map(&[a, &b], |e| match (truth(e[0]), truth(e[1])) {
            (El::B(p), El::B(q)) => El::B(match f {
                Bin::And => p && q,
                Bin::Or => p || q,
                _ => p != q,
            }),
            _ => El::X,
        })?;
        return Ok(Val::new(DType::Bool, out));
    }
    // The computation dtype and the second operand as a value of it.
    let (mut comp, scalar) = match &b {
        Other::Val(v) => (promote(a.dtype, v.dtype), None),
        Other::Scalar(s) => (weak_dtype(a.dtype, *s), Some(*s)),
    };
    let mut op = f;
    match f {
        Bin::Div if !is_float(comp) => comp = DType::F64,
        Bin::Add if comp == DType::Bool => op = Bin::Or,
        Bin::Mul if comp == DType::Bool => op = Bin::And,
        Bin::Max if comp == DType::Bool => op = Bin::Or,
        Bin::Min if comp == DType::Bool => op = Bin::And,
        Bin::Pow if comp == DType::Bool => comp = DType::I8,
        Bin::Sub if comp == DType::Bool => return raise("numpy boolean subtract"),
        _ => {}
    }
    let b_val = match (&b, scalar) {
        (Other::Val(v), _) => v.cast(comp),
        (_, Some(s)) => {
            let (outside, exact) = match s {
                Scalar::Int(i) => {
                    let outside = is_int(comp) && {
                        let (lo, hi) = int_min_max(comp);
                        !(lo..=hi).contains(&i)
                    };
                    (outside, El::I(i))
                }
                _ => (false, El::X),
            };
            let el = if f == Bin::Div && matches!(s, Scalar::Int(_)) {
                // True division takes an int by its value (through float64).
                El::F(round_to(comp, s.as_f64()), 0.0)
            } else if f.is_comparison() && outside && is_int(a.dtype) {
                exact
            } else {
                scalar_el(s, comp)?
            };
            Val::new(comp, ArrayD::from_elem(IxDyn(&[]), el))
        }
        _ => unreachable!(),
    };
    let a_val = a.cast(comp);
    if f.is_comparison() {
        let out = zip_map(&[&a_val, &b_val], |e| compare(f, e[0], e[1]))?;
        return Ok(Val::new(DType::Bool, out));
    }
    let out = zip_map(&[&a_val, &b_val], |e| arith(op, comp, e[0], e[1]))?;
    Ok(Val::new(comp, out))
}

fn compare(f: Bin, x: El, y: El) -> El {
    fn cmp<T: PartialOrd>(f: Bin, p: T, q: T) -> bool {
        match f {
            Bin::Lt => p < q,
            Bin::Le => p <= q,
            Bin::Gt => p > q,
            Bin::Ge => p >= q,
            Bin::Eq => p == q,
            _ => p != q,
        }
    }
    match (x, y) {
        (El::B(p), El::B(q)) => El::B(cmp(f, p, q)),
        (El::I(p), El::I(q)) => El::B(cmp(f, p, q)),
        (El::F(p, ep), El::F(q, eq)) => {
            let close =
                (ep > 0.0 || eq > 0.0) && ((p - q).abs() <= ep + eq || !(p - q).is_finite());
            if close && !(p.is_nan() || q.is_nan()) {
                El::X
            } else {
                El::B(cmp(f, p, q))
            }
        }
        _ => El::X,
    }
}

/// numpy's maximum: NaN wins; of equal values, the second.
fn maximum(p: f64, q: f64) -> f64 {
    if p.is_nan() || (!q.is_nan() && p > q) {
        p
    } else {
        q
    }
}

fn minimum(p: f64, q: f64) -> f64 {
    if p.is_nan() || (!q.is_nan() && p < q) {
        p
    } else {
        q
    }
}

fn int_pow(d: DType, base: i128, exp: i128) -> i128 {
    let (mut acc, mut b, mut e) = (1i128, wrap(d, base), exp);
    while e > 0 {
        if e & 1 == 1 {
            acc = wrap(d, acc.wrapping_mul(b));
        }
        b = wrap(d, b.wrapping_mul(b));
        e >>= 1;
    }
    wrap(d, acc)
}

fn arith(f: Bin, d: DType, x: El, y: El) -> El {
    match (x, y) {
        (El::B(p), El::B(q)) => El::B(if f == Bin::Or { p || q } else { p && q }),
        (El::I(p), El::I(q)) => El::I(match f {
            Bin::Add => wrap(d, p + q),
            Bin::Sub => wrap(d, p - q),
            Bin::Mul => wrap(d, p.wrapping_mul(q)),
            Bin::Pow if q < 0 => return raising(),
            Bin::Pow => int_pow(d, p, q),
            Bin::Max => p.max(q),
            _ => p.min(q),
        }),
        (El::F(p, ep), El::F(q, eq)) => {
            let r = match f {
                Bin::Add => in_dtype2(d, p, q, |a, b| a + b, |a, b| a + b),
                Bin::Sub => in_dtype2(d, p, q, |a, b| a - b, |a, b| a - b),
                Bin::Mul => in_dtype2(d, p, q, |a, b| a * b, |a, b| a * b),
                Bin::Div => in_dtype2(d, p, q, |a, b| a / b, |a, b| a / b),
                Bin::Pow => in_dtype2(d, p, q, f64::powf, f32::powf),
                Bin::Max => maximum(p, q),
                _ => minimum(p, q),
            };
            let exact = ep == 0.0 && eq == 0.0;
            if exact {
                return El::F(r, 0.0);
            }
            let spread = match f {
                Bin::Add | Bin::Sub => ep + eq,
                Bin::Mul => p.abs() * eq + q.abs() * ep + ep * eq,
                Bin::Div if q.abs() > eq => (ep + r.abs() * eq) / (q.abs() - eq),
                Bin::Max | Bin::Min => ep.max(eq),
                _ => f64::INFINITY,
            };
            if !spread.is_finite() {
                return El::X;
            }
            El::F(r, grown(d, r, false, spread))
        }
        _ => El::X,
    }
}

pub fn where_(c: &Val, a: &Val, b: &Val) -> Res {
    let d = promote(a.dtype, b.dtype);
    let (a, b) = (a.cast(d), b.cast(d));
    let out = zip_map(&[c, &a, &b], |e| match truth(e[0]) {
        El::B(true) => e[1],
        El::B(false) => e[2],
        _ => El::X,
    })?;
    Ok(Val::new(d, out))
}

/// numpy 2's clip with Python scalar bounds.
pub fn clip(v: &Val, lo: Scalar, hi: Scalar) -> Res {
    let beyond = |s: Scalar, lower: bool| match s {
        Scalar::Int(i) if is_int(v.dtype) => {
            let (min, max) = int_min_max(v.dtype);
            if lower { i < min } else { i > max }
        }
        _ => false,
    };
    let mut out = v.clone();
    if !beyond(lo, true) {
        out = binary(Bin::Max, &out, Other::Scalar(lo))?;
    }
    if !beyond(hi, false) {
        out = binary(Bin::Min, &out, Other::Scalar(hi))?;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------
// reductions

pub fn reduce_dtype(f: Red, d: DType) -> DType {
    match f {
        Red::Sum if is_float(d) => d,
        Red::Sum if is_int(d) && !int_info(d).1 => DType::U64,
        Red::Sum | Red::Count => DType::I64,
        Red::Min | Red::Max => d,
        _ if is_float(d) => d,
        _ => DType::F64,
    }
}

pub fn reduce(f: Red, v: &Val, axes: &[usize], keepdims: bool, ddof: u32) -> Res {
    let d = v.dtype;
    if matches!(f, Red::Min | Red::Max) && axes.iter().any(|&x| v.a.shape()[x] == 0) {
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

fn reduce_lane(f: Red, d: DType, rd: DType, lane: &[El], ddof: u32) -> El {
    if lane.contains(&El::E) {
        return El::E;
    }
    if lane.contains(&El::X) {
        return El::X;
    }
    let n = lane.len();
    match f {
        Red::Count => El::I(
            lane.iter()
                .filter(|e| !matches!(e, El::F(x, _) if x.is_nan()))
                .count() as i128,
        ),
        Red::Sum if !is_float(d) => {
            let total: i128 = lane
                .iter()
                .map(|e| match *e {
                    El::I(i) => i,
                    El::B(b) => i128::from(b),
                    _ => 0,
                })
                .sum();
            El::I(wrap(rd, total))
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
        _ => float_stat(f, rd, &floats(lane).expect("no X"), n, ddof),
    }
}

/// Sums, means, variances and deviations of floats, with their error bounds.
fn float_stat(f: Red, rd: DType, xs: &[(f64, f64)], n: usize, ddof: u32) -> El {
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

// ---------------------------------------------------------------------------------
// moving elements

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
