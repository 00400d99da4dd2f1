//! The reference: numpy 2's semantics written out plainly over whole ndarrays, element
//! by element, independently of the array layer (its own promotion table, its own
//! rounding and wrapping, its own reductions and moves of elements).
//!
//! A float element carries a bound on its absolute error: 0 while every step is an
//! IEEE operation both sides compute alike (the array layer must then agree to the
//! bit), grown by reductions (whose summation order differs: n·eps·Σ|x|) and carried
//! through later steps. An element numpy leaves undefined (a NaN cast to an integer),
//! or that an error bound makes undecidable (a comparison within the error), is `X`
//! and matches anything.

use doreisa_array::{DType, F16, Scalar};
use ndarray::{ArrayD, Axis, IxDyn};

/// One element of a reference value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum El {
    B(bool),
    I(i128),
    /// A float's value and a bound on its absolute error.
    F(f64, f64),
    /// Undefined or undecidable: anything matches.
    X,
    /// An element whose computation raises in numpy (an integer to a negative power).
    /// The array layer computes only the elements an expression reads, so it must fail
    /// if such an element is read, and may or may not if one is computed elsewhere.
    E,
}

thread_local! {
    static RAISED_SOMEWHERE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// An element that raises (see [`El::E`]).
pub fn raising() -> El {
    RAISED_SOMEWHERE.with(|r| r.set(true));
    El::E
}

/// Whether an element raised since the last call (and forgets it).
pub fn take_raised() -> bool {
    RAISED_SOMEWHERE.with(|r| r.replace(false))
}

/// A value numpy computes: its dtype and elements.
#[derive(Debug, Clone, PartialEq)]
pub struct Val {
    pub dtype: DType,
    pub a: ArrayD<El>,
}

/// numpy raises, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Raise(pub String);

pub type Res<T = Val> = Result<T, Raise>;

pub fn raise<T>(why: impl Into<String>) -> Res<T> {
    Err(Raise(why.into()))
}

// ---------------------------------------------------------------------------------
// dtypes

/// numpy's `result_type` of two dtypes, as numpy 2.4 printed it, in `DType::ALL` order.
const TABLE: [[u8; 12]; 12] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    [1, 1, 3, 3, 5, 5, 7, 7, 11, 9, 10, 11],
    [2, 3, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    [3, 3, 3, 3, 5, 5, 7, 7, 11, 10, 10, 11],
    [4, 5, 4, 5, 4, 5, 6, 7, 8, 10, 10, 11],
    [5, 5, 5, 5, 5, 5, 7, 7, 11, 11, 11, 11],
    [6, 7, 6, 7, 6, 7, 6, 7, 8, 11, 11, 11],
    [7, 7, 7, 7, 7, 7, 7, 7, 11, 11, 11, 11],
    [8, 11, 8, 11, 8, 11, 8, 11, 8, 11, 11, 11],
    [9, 9, 9, 10, 10, 11, 11, 11, 11, 9, 10, 11],
    [10, 10, 10, 10, 10, 11, 11, 11, 11, 10, 10, 11],
    [11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11],
];

pub fn index(d: DType) -> usize {
    DType::ALL.iter().position(|&x| x == d).expect("a dtype")
}

pub fn promote(a: DType, b: DType) -> DType {
    DType::ALL[TABLE[index(a)][index(b)] as usize]
}

pub fn is_float(d: DType) -> bool {
    matches!(d, DType::F16 | DType::F32 | DType::F64)
}

pub fn is_int(d: DType) -> bool {
    !is_float(d) && d != DType::Bool
}

/// (bits, signed) of an integer dtype.
pub fn int_info(d: DType) -> (u32, bool) {
    match d {
        DType::I8 => (8, true),
        DType::U8 => (8, false),
        DType::I16 => (16, true),
        DType::U16 => (16, false),
        DType::I32 => (32, true),
        DType::U32 => (32, false),
        DType::I64 => (64, true),
        DType::U64 => (64, false),
        other => panic!("{other} is no integer dtype"),
    }
}

pub fn int_min_max(d: DType) -> (i128, i128) {
    let (bits, signed) = int_info(d);
    if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    }
}

/// The float numpy computes math functions of `d` in.
pub fn math_float(d: DType) -> DType {
    match d {
        DType::Bool | DType::I8 | DType::U8 => DType::F16,
        DType::I16 | DType::U16 => DType::F32,
        d if is_float(d) => d,
        _ => DType::F64,
    }
}

pub fn eps(d: DType) -> f64 {
    match d {
        DType::F16 => 2f64.powi(-10),
        DType::F32 => 2f64.powi(-23),
        _ => 2f64.powi(-52),
    }
}

pub fn max_finite(d: DType) -> f64 {
    match d {
        DType::F16 => 65504.0,
        DType::F32 => f64::from(f32::MAX),
        _ => f64::MAX,
    }
}

/// The float value `x` stored in dtype `d` (one rounding from f64).
pub fn round_to(d: DType, x: f64) -> f64 {
    match d {
        DType::F16 => F16::from_f64(x).to_f64(),
        DType::F32 => f64::from(x as f32),
        _ => x,
    }
}

/// The spacing of floats of dtype `d` around `x`.
pub fn ulp(d: DType, x: f64) -> f64 {
    let x = x.abs();
    if !x.is_finite() {
        return 0.0;
    }
    let tiny = match d {
        DType::F16 => 2f64.powi(-24),
        DType::F32 => 2f64.powi(-149),
        _ => f64::from_bits(1),
    };
    (eps(d) * 2f64.powi(x.max(tiny).log2().floor() as i32)).max(tiny)
}

/// The integer `v` wrapped into dtype `d`.
pub fn wrap(d: DType, v: i128) -> i128 {
    let (bits, signed) = int_info(d);
    let m = v.rem_euclid(1i128 << bits);
    if signed && m >= 1i128 << (bits - 1) {
        m - (1i128 << bits)
    } else {
        m
    }
}

/// An element of dtype `d` as numpy casts it (`astype`); float to integer is `X` where
/// numpy leaves it undefined (NaN, infinities, out of range).
pub fn cast(e: El, d: DType) -> El {
    match (e, d) {
        (El::X, _) => El::X,
        (El::E, _) => El::E,
        (e, DType::Bool) => match e {
            El::B(b) => El::B(b),
            El::I(i) => El::B(i != 0),
            El::F(x, err) if err > 0.0 && (x.abs() <= err || x.is_nan()) => El::X,
            El::F(x, _) => El::B(x != 0.0),
            other => other,
        },
        (El::B(b), d) if is_int(d) => El::I(i128::from(b)),
        (El::I(i), d) if is_int(d) => El::I(wrap(d, i)),
        (El::F(x, err), d) if is_int(d) => {
            let t = x.trunc();
            let (lo, hi) = int_min_max(d);
            let near_step = err > 0.0 && (x - err).trunc() != (x + err).trunc();
            // In i128, where every integer bound is exact (as f64, 2^63 - 1 is 2^63).
            if !x.is_finite() || (t as i128) < lo || (t as i128) > hi || near_step {
                El::X
            } else {
                El::I(t as i128)
            }
        }
        (El::B(b), _) => El::F(f64::from(u8::from(b)), 0.0),
        (El::I(i), d) => {
            // numpy converts an int64 or uint64 to float32 in one rounding.
            let v = match d {
                DType::F32 => f64::from(i as f32),
                DType::F16 => F16::from_f64(i as f64).to_f64(),
                _ => i as f64,
            };
            El::F(v, 0.0)
        }
        (El::F(x, err), d) => {
            let v = round_to(d, x);
            El::F(v, if err > 0.0 { err + ulp(d, v) } else { 0.0 })
        }
    }
}

/// A weak (Python) scalar as an element of dtype `d`, or numpy's refusal.
pub fn scalar_el(s: Scalar, d: DType) -> Res<El> {
    match (s, d) {
        (Scalar::Float(_), d) if !is_float(d) => raise(format!("float scalar as {d}")),
        (Scalar::Int(_), DType::Bool) => raise("int scalar as bool"),
        (Scalar::Int(i), d) if is_int(d) => {
            let (lo, hi) = int_min_max(d);
            if (lo..=hi).contains(&i) {
                Ok(El::I(i))
            } else {
                raise(format!("Python integer {i} out of bounds for {d}"))
            }
        }
        (Scalar::Bool(b), d) if is_int(d) => Ok(El::I(i128::from(b))),
        (Scalar::Bool(b), DType::Bool) => Ok(El::B(b)),
        // numpy converts a Python int or float to a float dtype through float64.
        (s, d) => Ok(El::F(round_to(d, s.as_f64()), 0.0)),
    }
}

/// The dtype numpy computes `array op scalar` in (NEP 50).
pub fn weak_dtype(a: DType, s: Scalar) -> DType {
    match s {
        Scalar::Bool(_) => a,
        Scalar::Int(_) if a == DType::Bool => DType::I64,
        Scalar::Int(_) => a,
        Scalar::Float(_) if is_float(a) => a,
        Scalar::Float(_) => DType::F64,
    }
}

// ---------------------------------------------------------------------------------
// values

impl Val {
    pub fn new(dtype: DType, a: ArrayD<El>) -> Val {
        Val { dtype, a }
    }

    pub fn shape(&self) -> Vec<usize> {
        self.a.shape().to_vec()
    }

    pub fn cast(&self, d: DType) -> Val {
        if d == self.dtype {
            return self.clone();
        }
        Val::new(d, self.a.mapv(|e| cast(e, d)))
    }

    pub fn has_x(&self) -> bool {
        self.a.iter().any(|e| matches!(e, El::X | El::E))
    }

    pub fn has_e(&self) -> bool {
        self.a.iter().any(|e| *e == El::E)
    }
}

pub fn broadcast_shape(shapes: &[Vec<usize>]) -> Res<Vec<usize>> {
    let n = shapes.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = vec![1; n];
    for s in shapes {
        for (i, &len) in s.iter().enumerate() {
            let o = &mut out[n - s.len() + i];
            if *o == 1 {
                *o = len;
            } else if len != 1 && len != *o {
                return raise(format!("shapes {shapes:?} do not broadcast"));
            }
        }
    }
    Ok(out)
}

pub fn broadcast(v: &Val, shape: &[usize]) -> ArrayD<El> {
    v.a.broadcast(IxDyn(shape)).expect("checked").to_owned()
}

/// Applies `f` element-wise to operands broadcast together.
pub fn zip_map(vals: &[&Val], f: impl Fn(&[El]) -> El) -> Res<ArrayD<El>> {
    let shape = broadcast_shape(&vals.iter().map(|v| v.shape()).collect::<Vec<_>>())?;
    let arrays: Vec<ArrayD<El>> = vals.iter().map(|v| broadcast(v, &shape)).collect();
    let n: usize = shape.iter().product();
    let flat: Vec<Vec<El>> = arrays.iter().map(|a| a.iter().copied().collect()).collect();
    let out: Vec<El> = (0..n)
        .map(|i| {
            let args: Vec<El> = flat.iter().map(|a| a[i]).collect();
            if args.contains(&El::E) {
                El::E
            } else {
                f(&args)
            }
        })
        .collect();
    Ok(ArrayD::from_shape_vec(IxDyn(&shape), out).expect("sized"))
}

// ---------------------------------------------------------------------------------
// float arithmetic with error bounds

/// `f` computed as dtype `d` computes it: f64 and f32 natively, f16 through f32.
pub fn in_dtype(d: DType, x: f64, f: impl Fn(f64) -> f64, g: impl Fn(f32) -> f32) -> f64 {
    match d {
        DType::F64 => f(x),
        DType::F32 => f64::from(g(x as f32)),
        _ => F16::from_f32(g(x as f32)).to_f64(),
    }
}

pub fn in_dtype2(
    d: DType,
    x: f64,
    y: f64,
    f: impl Fn(f64, f64) -> f64,
    g: impl Fn(f32, f32) -> f32,
) -> f64 {
    match d {
        DType::F64 => f(x, y),
        DType::F32 => f64::from(g(x as f32, y as f32)),
        _ => F16::from_f32(g(x as f32, y as f32)).to_f64(),
    }
}

/// The error bound of a result `r` of dtype `d` computed from inexact inputs, given
/// the bound `spread` their errors alone give; 0 when the inputs were exact.
pub fn grown(d: DType, r: f64, exact: bool, spread: f64) -> f64 {
    if exact {
        0.0
    } else if !spread.is_finite() || spread > max_finite(d) {
        f64::INFINITY
    } else {
        spread + 2.0 * ulp(d, r)
    }
}

// ---------------------------------------------------------------------------------
// reductions

/// Moves `axes` of `a` last and returns one lane (a vector) per kept position, with
/// the shape of the kept axes (or all axes, length 1 where reduced, for `keepdims`).
pub fn lanes(a: &ArrayD<El>, axes: &[usize], keepdims: bool) -> (Vec<usize>, Vec<Vec<El>>) {
    let ndim = a.ndim();
    let kept: Vec<usize> = (0..ndim).filter(|x| !axes.contains(x)).collect();
    let perm: Vec<usize> = kept.iter().chain(axes).copied().collect();
    let moved = a.clone().permuted_axes(IxDyn(&perm));
    let n: usize = axes.iter().map(|&x| a.shape()[x]).product();
    let cells: usize = kept.iter().map(|&x| a.shape()[x]).product();
    let flat: Vec<El> = moved.iter().copied().collect();
    let lanes = (0..cells)
        .map(|c| flat[c * n..(c + 1) * n].to_vec())
        .collect();
    let shape = if keepdims {
        (0..ndim)
            .map(|x| if axes.contains(&x) { 1 } else { a.shape()[x] })
            .collect()
    } else {
        kept.iter().map(|&x| a.shape()[x]).collect()
    };
    (shape, lanes)
}

/// Floats of a lane: values and errors; `None` if any is `X`.
pub fn floats(lane: &[El]) -> Option<Vec<(f64, f64)>> {
    lane.iter()
        .map(|e| match *e {
            El::F(x, err) => Some((x, err)),
            El::I(i) => Some((i as f64, 0.0)),
            El::B(b) => Some((f64::from(u8::from(b)), 0.0)),
            El::X | El::E => None,
        })
        .collect()
}

/// Exact-ish sum (Neumaier) of floats.
pub fn accurate_sum(xs: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut c) = (0.0f64, 0.0f64);
    for x in xs {
        let t = sum + x;
        if sum.abs() >= x.abs() {
            c += (sum - t) + x;
        } else {
            c += (x - t) + sum;
        }
        sum = t;
    }
    sum + c
}

/// Stacks lanes' results into an array of `shape`.
pub fn shaped(shape: &[usize], els: Vec<El>) -> ArrayD<El> {
    ArrayD::from_shape_vec(IxDyn(shape), els).expect("one result per lane")
}

/// Moves every element of `a` with `f` over its index (for structural references).
pub fn from_fn(shape: &[usize], f: impl Fn(&[usize]) -> El) -> ArrayD<El> {
    ArrayD::from_shape_fn(IxDyn(shape), |i: IxDyn| {
        use ndarray::Dimension;
        f(i.slice())
    })
}

/// Concatenates along `axis`.
pub fn concatenate(parts: &[ArrayD<El>], axis: usize) -> ArrayD<El> {
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    ndarray::concatenate(Axis(axis), &views).expect("shapes checked")
}
