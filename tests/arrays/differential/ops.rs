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
    Sign,
    Sqrt,
    Exp,
    Expm1,
    Log,
    Log2,
    Log10,
    Log1p,
    Sin,
    Cos,
    Tan,
    Arcsin,
    Arccos,
    Arctan,
    Sinh,
    Cosh,
    Tanh,
    Arcsinh,
    Arccosh,
    Arctanh,
    Floor,
    Ceil,
    Trunc,
    Round,
    IsNan,
    IsFinite,
    IsInf,
    Not,
    Invert,
}

impl Un {
    pub const ALL: [Un; 31] = [
        Un::Neg,
        Un::Abs,
        Un::Sign,
        Un::Sqrt,
        Un::Exp,
        Un::Expm1,
        Un::Log,
        Un::Log2,
        Un::Log10,
        Un::Log1p,
        Un::Sin,
        Un::Cos,
        Un::Tan,
        Un::Arcsin,
        Un::Arccos,
        Un::Arctan,
        Un::Sinh,
        Un::Cosh,
        Un::Tanh,
        Un::Arcsinh,
        Un::Arccosh,
        Un::Arctanh,
        Un::Floor,
        Un::Ceil,
        Un::Trunc,
        Un::Round,
        Un::IsNan,
        Un::IsFinite,
        Un::IsInf,
        Un::Not,
        Un::Invert,
    ];
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
    FloorDiv,
    Mod,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
}

impl Bin {
    pub const ALL: [Bin; 23] = [
        Bin::Add,
        Bin::Sub,
        Bin::Mul,
        Bin::Div,
        Bin::Pow,
        Bin::Max,
        Bin::Min,
        Bin::Lt,
        Bin::Le,
        Bin::Gt,
        Bin::Ge,
        Bin::Eq,
        Bin::Ne,
        Bin::And,
        Bin::Or,
        Bin::Xor,
        Bin::FloorDiv,
        Bin::Mod,
        Bin::BitAnd,
        Bin::BitOr,
        Bin::BitXor,
        Bin::Shl,
        Bin::Shr,
    ];
}

/// Reductions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Red {
    Sum,
    Prod,
    Mean,
    Min,
    Max,
    Var,
    Std,
    Count,
    Any,
    All,
    ArgMin,
    ArgMax,
    NanSum,
    NanMean,
    NanMin,
    NanMax,
    NanVar,
    NanStd,
}

impl Red {
    pub const ALL: [Red; 18] = [
        Red::Sum,
        Red::Prod,
        Red::Mean,
        Red::Min,
        Red::Max,
        Red::Var,
        Red::Std,
        Red::Count,
        Red::Any,
        Red::All,
        Red::ArgMin,
        Red::ArgMax,
        Red::NanSum,
        Red::NanMean,
        Red::NanMin,
        Red::NanMax,
        Red::NanVar,
        Red::NanStd,
    ];

    pub fn is_arg(self) -> bool {
        matches!(self, Red::ArgMin | Red::ArgMax)
    }
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
    let same = |g: &dyn Fn(El) -> El| Ok(Val::new(d, v.a.mapv(g)));
    let to_bool = |g: &dyn Fn(f64) -> bool, ints: bool| {
        Val::new(
            DType::Bool,
            v.a.mapv(|e| match e {
                El::F(_, err) if err > 0.0 => El::X,
                El::F(x, _) => El::B(g(x)),
                El::I(_) | El::B(_) => El::B(ints),
                other => other,
            }),
        )
    };
    match f {
        Un::Not => Ok(Val::new(
            DType::Bool,
            v.a.mapv(|e| match truth(e) {
                El::B(b) => El::B(!b),
                other => other,
            }),
        )),
        Un::Invert if d == DType::Bool => unary(Un::Not, v),
        Un::Invert if is_float(d) => raise("ufunc 'invert' not supported for floats"),
        Un::Invert => same(&|e| match e {
            El::I(i) => El::I(wrap(d, !i)),
            other => other,
        }),
        Un::Neg | Un::Sign if d == DType::Bool => raise(format!("{f:?} of bools")),
        Un::Abs if d == DType::Bool => Ok(v.clone()),
        Un::Round if d == DType::Bool => {
            let x = v.cast(DType::F16);
            Ok(Val::new(DType::F16, x.a.mapv(|e| math(f, DType::F16, e))))
        }
        Un::Floor | Un::Ceil | Un::Trunc | Un::Round if !is_float(d) => Ok(v.clone()),
        Un::IsNan => Ok(to_bool(&f64::is_nan, false)),
        Un::IsFinite => Ok(to_bool(&f64::is_finite, true)),
        Un::IsInf => Ok(to_bool(&f64::is_infinite, false)),
        Un::Neg | Un::Abs | Un::Sign => same(&|e| match e {
            El::I(i) => El::I(wrap(
                d,
                match f {
                    Un::Neg => -i,
                    Un::Abs => i.abs(),
                    _ => i.signum(),
                },
            )),
            El::F(x, err) => match f {
                Un::Neg => El::F(-x, err),
                Un::Abs => El::F(x.abs(), err),
                _ if err > 0.0 && x.abs() <= err => El::X,
                _ if x.is_nan() => El::F(x, 0.0),
                _ => El::F(
                    if x > 0.0 {
                        1.0
                    } else if x < 0.0 {
                        -1.0
                    } else {
                        0.0
                    },
                    0.0,
                ),
            },
            other => other,
        }),
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
        Un::Expm1 => in_dtype(d, x, f64::exp_m1, f32::exp_m1),
        Un::Log => in_dtype(d, x, f64::ln, f32::ln),
        Un::Log2 => in_dtype(d, x, f64::log2, f32::log2),
        Un::Log10 => in_dtype(d, x, f64::log10, f32::log10),
        Un::Log1p => in_dtype(d, x, f64::ln_1p, f32::ln_1p),
        Un::Sin => in_dtype(d, x, f64::sin, f32::sin),
        Un::Cos => in_dtype(d, x, f64::cos, f32::cos),
        Un::Tan => in_dtype(d, x, f64::tan, f32::tan),
        Un::Arcsin => in_dtype(d, x, f64::asin, f32::asin),
        Un::Arccos => in_dtype(d, x, f64::acos, f32::acos),
        Un::Arctan => in_dtype(d, x, f64::atan, f32::atan),
        Un::Sinh => in_dtype(d, x, f64::sinh, f32::sinh),
        Un::Cosh => in_dtype(d, x, f64::cosh, f32::cosh),
        Un::Tanh => in_dtype(d, x, f64::tanh, f32::tanh),
        Un::Arcsinh => in_dtype(d, x, f64::asinh, f32::asinh),
        Un::Arccosh => in_dtype(d, x, f64::acosh, f32::acosh),
        Un::Arctanh => in_dtype(d, x, f64::atanh, f32::atanh),
        Un::Floor => x.floor(),
        Un::Ceil => x.ceil(),
        Un::Trunc => x.trunc(),
        _ => x.round_ties_even(),
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
        Un::Sin | Un::Cos => err.min(2.0),
        // Piecewise constant: exact unless the interval crosses a step.
        Un::Floor | Un::Ceil | Un::Trunc | Un::Round => {
            let g = |v: f64| math(f, d, El::F(v, 0.0));
            return if g(lo) == g(hi) { El::F(r, 0.0) } else { El::X };
        }
        _ => return El::X,
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
        Bin::Pow | Bin::FloorDiv | Bin::Mod | Bin::Shl | Bin::Shr if comp == DType::Bool => {
            comp = DType::I8
        }
        Bin::BitAnd | Bin::BitOr | Bin::BitXor | Bin::Shl | Bin::Shr if is_float(comp) => {
            return raise(format!("{f:?} not supported for floats"));
        }
        Bin::BitAnd if comp == DType::Bool => op = Bin::And,
        Bin::BitOr if comp == DType::Bool => op = Bin::Or,
        Bin::BitXor if comp == DType::Bool => op = Bin::Xor,
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

/// numpy's float `divmod` (npy_divmod) in one float type.
macro_rules! numpy_divmod {
    ($name:ident, $t:ty) => {
        fn $name(a: $t, b: $t) -> ($t, $t) {
            let mut m = a % b;
            if b == 0.0 {
                return (a / b, m);
            }
            let mut q = (a - m) / b;
            if m != 0.0 {
                if (b < 0.0) != (m < 0.0) {
                    m += b;
                    q -= 1.0;
                }
            } else {
                m = (0.0 as $t).copysign(b);
            }
            let floor = if q != 0.0 {
                let f = q.floor();
                if q - f > 0.5 { f + 1.0 } else { f }
            } else {
                (0.0 as $t).copysign(a / b)
            };
            (floor, m)
        }
    };
}
numpy_divmod!(divmod64, f64);
numpy_divmod!(divmod32, f32);

/// numpy's float `divmod`, computed in dtype `d` (float16 through float32).
fn divmod(d: DType, a: f64, b: f64) -> (f64, f64) {
    if d == DType::F64 {
        return divmod64(a, b);
    }
    let (q, m) = divmod32(a as f32, b as f32);
    (round_to(d, q.into()), round_to(d, m.into()))
}

fn shift(d: DType, f: Bin, a: i128, n: i128) -> i128 {
    let bits = i128::from(int_info(d).0);
    if !(0..bits).contains(&n) {
        return if f == Bin::Shr && a < 0 { -1 } else { 0 };
    }
    if f == Bin::Shl {
        wrap(d, a << n)
    } else {
        a >> n
    }
}

fn arith(f: Bin, d: DType, x: El, y: El) -> El {
    if f == Bin::Pow && is_int(d) && matches!(y, El::I(q) if q < 0) {
        return raising();
    }
    match (x, y) {
        (El::B(p), El::B(q)) => El::B(match f {
            Bin::Or => p || q,
            Bin::Xor => p != q,
            _ => p && q,
        }),
        (El::I(p), El::I(q)) => El::I(match f {
            Bin::Add => wrap(d, p + q),
            Bin::Sub => wrap(d, p - q),
            Bin::Mul => wrap(d, p.wrapping_mul(q)),
            Bin::Pow if q < 0 => return raising(),
            Bin::Pow => int_pow(d, p, q),
            Bin::FloorDiv | Bin::Mod if q == 0 => 0,
            Bin::FloorDiv => {
                let t = p / q;
                wrap(
                    d,
                    if p % q != 0 && ((p < 0) != (q < 0)) {
                        t - 1
                    } else {
                        t
                    },
                )
            }
            Bin::Mod => {
                let r = p % q;
                if r != 0 && ((r < 0) != (q < 0)) {
                    r + q
                } else {
                    r
                }
            }
            Bin::BitAnd => p & q,
            Bin::BitOr => p | q,
            Bin::BitXor => p ^ q,
            Bin::Shl | Bin::Shr => shift(d, f, p, q),
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
                Bin::FloorDiv => divmod(d, p, q).0,
                Bin::Mod => divmod(d, p, q).1,
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
fn float_prod(rd: DType, xs: &[(f64, f64)]) -> El {
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
