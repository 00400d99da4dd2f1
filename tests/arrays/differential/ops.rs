//! The reference's operations: numpy 2's element-wise functions, moves of elements
//! and reductions, over [`Val`]s.

use super::reference::*;
use doreisa_array::{DType, Scalar};
use ndarray::{ArrayD, IxDyn};

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
pub(super) fn maximum(p: f64, q: f64) -> f64 {
    if p.is_nan() || (!q.is_nan() && p > q) {
        p
    } else {
        q
    }
}

pub(super) fn minimum(p: f64, q: f64) -> f64 {
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

pub use super::moves::*;
pub use super::reductions::*;
