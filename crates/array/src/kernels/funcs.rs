//! One step of a program on one tile: the element-wise functions, dispatched on the
//! dtypes of their operands (checked beforehand against [`UnaryFn::result`] and
//! [`BinaryFn::result`]).

use super::read::Reader;
use super::typed::{
    Buf, Float, Int, Num, Typed, dispatch, for_dtype, for_float, for_numeric, maximum, minimum,
};
use crate::dtype::DType;
use crate::element::{Element, TypedScalar, with_scalar};
use crate::program::{BinaryFn, Instr, UnaryFn};

fn typed<T: Typed>(buf: &Buf) -> &[T] {
    T::vec(buf).expect("dtypes were checked")
}

fn typed_mut<T: Typed>(buf: &mut Buf) -> &mut Vec<T> {
    let out = T::vec_mut(buf).expect("dtypes were checked");
    out.clear();
    out
}

/// `out = g(src)` element by element.
fn map<S: Typed, D: Typed>(src: &Buf, out: &mut Buf, g: impl Fn(S) -> D) -> Result<(), String> {
    let s = typed::<S>(src);
    typed_mut::<D>(out).extend(s.iter().map(|&v| g(v)));
    Ok(())
}

/// `out = g(x, y)` element by element.
fn map2<S: Typed, D: Typed>(
    x: &Buf,
    y: &Buf,
    out: &mut Buf,
    g: impl Fn(S, S) -> D,
) -> Result<(), String> {
    let (p, q) = (typed::<S>(x), typed::<S>(y));
    typed_mut::<D>(out).extend(p.iter().zip(q).map(|(&a, &b)| g(a, b)));
    Ok(())
}

/// Runs integer-only `$body` for integer `$d` (bool taken by `$on_bool` if given).
macro_rules! for_int {
    ($d:expr, $t:ident => $body:expr, $other:expr) => {
        dispatch!($d, $t => $body, $other;
            I8 => i8, U8 => u8, I16 => i16, U16 => u16, I32 => i32, U32 => u32,
            I64 => i64, U64 => u64)
    };
}

/// Computes one step of a program on one tile of `m` elements.
pub(super) fn step(
    instr: &Instr,
    regs: &[Buf],
    out: &mut Buf,
    readers: &mut [Reader<'_>],
    m: usize,
) -> Result<(), String> {
    match *instr {
        Instr::Leaf(l) => readers[l as usize].fill(out, m),
        Instr::Const(c) => {
            fill_const(c, out, m);
            Ok(())
        }
        Instr::Unary(f, a) => unary(f, &regs[a as usize], out),
        Instr::Binary(f, a, b) => binary(f, &regs[a as usize], &regs[b as usize], out),
        Instr::Where(c, a, b) => {
            let (c, x, y) = (&regs[c as usize], &regs[a as usize], &regs[b as usize]);
            let cond = typed::<bool>(c);
            for_dtype!(x.dtype(), T => {
                let o = typed_mut::<T>(out);
                o.extend(cond.iter().zip(typed::<T>(x).iter().zip(typed::<T>(y)))
                    .map(|(&c, (&p, &q))| if c { p } else { q }));
                Ok(())
            })
        }
        Instr::Cast(to, a) => {
            let src = &regs[a as usize];
            for_dtype!(src.dtype(), S => for_dtype!(to, D => map::<S, D>(src, out, |v| v.cast::<D>())))
        }
    }
}

fn fill_const(c: TypedScalar, out: &mut Buf, m: usize) {
    fn fill<T: Typed>(v: T, out: &mut Buf, m: usize) {
        typed_mut::<T>(out).resize(m, v);
    }
    with_scalar!(c, v => fill(v, out, m))
}

/// The float function `f` for f32 and f64.
/// A float function for f32 and for f64.
type FloatFns = (fn(f32) -> f32, fn(f64) -> f64);

fn float_fns(f: UnaryFn) -> FloatFns {
    match f {
        UnaryFn::Sqrt => (f32::sqrt, f64::sqrt),
        UnaryFn::Exp => (f32::exp, f64::exp),
        UnaryFn::Expm1 => (f32::exp_m1, f64::exp_m1),
        UnaryFn::Log => (f32::ln, f64::ln),
        UnaryFn::Log2 => (f32::log2, f64::log2),
        UnaryFn::Log10 => (f32::log10, f64::log10),
        UnaryFn::Log1p => (f32::ln_1p, f64::ln_1p),
        UnaryFn::Sin => (f32::sin, f64::sin),
        UnaryFn::Cos => (f32::cos, f64::cos),
        UnaryFn::Tan => (f32::tan, f64::tan),
        UnaryFn::Arcsin => (f32::asin, f64::asin),
        UnaryFn::Arccos => (f32::acos, f64::acos),
        UnaryFn::Arctan => (f32::atan, f64::atan),
        UnaryFn::Sinh => (f32::sinh, f64::sinh),
        UnaryFn::Cosh => (f32::cosh, f64::cosh),
        UnaryFn::Tanh => (f32::tanh, f64::tanh),
        UnaryFn::Arcsinh => (f32::asinh, f64::asinh),
        UnaryFn::Arccosh => (f32::acosh, f64::acosh),
        UnaryFn::Arctanh => (f32::atanh, f64::atanh),
        UnaryFn::Floor => (f32::floor, f64::floor),
        UnaryFn::Ceil => (f32::ceil, f64::ceil),
        UnaryFn::Trunc => (f32::trunc, f64::trunc),
        _ => (f32::round_ties_even, f64::round_ties_even),
    }
}

fn unary(f: UnaryFn, src: &Buf, out: &mut Buf) -> Result<(), String> {
    let d = src.dtype();
    let unsupported = || Err(format!("{} on {d}", f.name()));
    match f {
        UnaryFn::Not => map::<bool, bool>(src, out, |v| !v),
        UnaryFn::Invert => for_int!(d, T => map::<T, T>(src, out, Int::not), unsupported()),
        UnaryFn::IsNan | UnaryFn::IsFinite | UnaryFn::IsInf => {
            let test: fn(f64) -> bool = match f {
                UnaryFn::IsNan => f64::is_nan,
                UnaryFn::IsFinite => f64::is_finite,
                _ => f64::is_infinite,
            };
            for_float!(d, T => map::<T, bool>(src, out, |v| v.test(test)), unsupported())
        }
        UnaryFn::Neg | UnaryFn::Abs | UnaryFn::Sign => {
            for_numeric!(d, T => {
                let g: fn(T) -> T = match f {
                    UnaryFn::Neg => Num::neg,
                    UnaryFn::Abs => Num::abs,
                    _ => Num::sign,
                };
                map::<T, T>(src, out, g)
            }, unsupported())
        }
        _ => {
            let (g32, g64) = float_fns(f);
            for_float!(d, T => map::<T, T>(src, out, |v| v.apply(g32, g64)), unsupported())
        }
    }
}

fn binary(f: BinaryFn, x: &Buf, y: &Buf, out: &mut Buf) -> Result<(), String> {
    let d = x.dtype();
    let unsupported = || Err(format!("{} on {d}", f.name()));
    if f.is_comparison() {
        return for_dtype!(d, T => {
            let cmp: fn(&T, &T) -> bool = match f {
                BinaryFn::Lt => T::lt,
                BinaryFn::Le => T::le,
                BinaryFn::Gt => T::gt,
                BinaryFn::Ge => T::ge,
                BinaryFn::Eq => T::eq,
                _ => T::ne,
            };
            map2::<T, bool>(x, y, out, |p, q| cmp(&p, &q))
        });
    }
    match f {
        BinaryFn::Maximum => for_dtype!(d, T => map2::<T, T>(x, y, out, maximum)),
        BinaryFn::Minimum => for_dtype!(d, T => map2::<T, T>(x, y, out, minimum)),
        BinaryFn::And | BinaryFn::Or | BinaryFn::Xor if d == DType::Bool => {
            let g: fn(bool, bool) -> bool = match f {
                BinaryFn::And => |p, q| p && q,
                BinaryFn::Or => |p, q| p || q,
                _ => |p, q| p != q,
            };
            map2::<bool, bool>(x, y, out, g)
        }
        BinaryFn::BitAnd | BinaryFn::BitOr | BinaryFn::BitXor if d == DType::Bool => {
            let g: fn(bool, bool) -> bool = match f {
                BinaryFn::BitAnd => |p, q| p & q,
                BinaryFn::BitOr => |p, q| p | q,
                _ => |p, q| p ^ q,
            };
            map2::<bool, bool>(x, y, out, g)
        }
        BinaryFn::BitAnd | BinaryFn::BitOr | BinaryFn::BitXor | BinaryFn::Shl | BinaryFn::Shr => {
            for_int!(d, T => {
                let g: fn(T, T) -> T = match f {
                    BinaryFn::BitAnd => Int::and,
                    BinaryFn::BitOr => Int::or,
                    BinaryFn::BitXor => Int::xor,
                    BinaryFn::Shl => Int::shl,
                    _ => Int::shr,
                };
                map2::<T, T>(x, y, out, g)
            }, unsupported())
        }
        BinaryFn::Div => for_float!(d, T => {
            map2::<T, T>(x, y, out, |p, q| p.apply2(q, |a, b| a / b, |a, b| a / b))
        }, unsupported()),
        BinaryFn::Pow => for_numeric!(d, T => {
            let (p, q) = (typed::<T>(x), typed::<T>(y));
            let o = typed_mut::<T>(out);
            for (&a, &b) in p.iter().zip(q) {
                o.push(Num::pow(a, b)?);
            }
            Ok(())
        }, unsupported()),
        BinaryFn::Add | BinaryFn::Sub | BinaryFn::Mul | BinaryFn::FloorDiv | BinaryFn::Mod => {
            for_numeric!(d, T => {
                let g: fn(T, T) -> T = match f {
                    BinaryFn::Add => Num::add,
                    BinaryFn::Sub => Num::sub,
                    BinaryFn::Mul => Num::mul,
                    BinaryFn::FloorDiv => Num::floor_div,
                    _ => Num::rem,
                };
                map2::<T, T>(x, y, out, g)
            }, unsupported())
        }
        _ => unsupported(),
    }
}
