//! Element-wise operations: arithmetic, math functions, comparisons, logic, `where_`,
//! `clip` and `astype`, with numpy's broadcasting and (NEP 50) type promotion, and the
//! `std::ops` operators on arrays (which return `Result<Array>`; scalars as `f64` and
//! `i64` only, so that literals infer: `&x + 1.0`, `2 * &x`).

use super::{align, as_dtype, cast_node, operand_dtypes};
use crate::dtype::{DType, Scalar, TypedScalar, result_dtype};
use crate::expr::{Kind, MapFn, Node};
use crate::program::{BinaryFn, UnaryFn};
use crate::{Array, ArrayError, Operand, Result};

fn unsupported(op: &'static str, dtype: DType) -> ArrayError {
    ArrayError::UnsupportedDType { op, dtype }
}

/// `f(a, b)` element-wise.
pub(crate) fn binary(f: BinaryFn, a: Operand, b: Operand) -> Result<Array> {
    let operands = [a, b];
    let (dtypes, scalars) = operand_dtypes(&operands);
    let mut comp = result_dtype(&dtypes, &scalars);
    // Scalars must fit the operation's dtype before true division moves to floats
    // (numpy 2 refuses `uint8_array / -1` too).
    for &s in &scalars {
        TypedScalar::new(s, comp)?;
    }
    match f {
        BinaryFn::Div if !comp.is_float() => comp = DType::F64,
        BinaryFn::And | BinaryFn::Or => comp = DType::Bool,
        BinaryFn::Pow if comp.is_integer() => {
            if let Operand::Scalar(Scalar::Int(e)) = operands[1]
                && e < 0
            {
                return Err(ArrayError::InvalidArgument(
                    "integers to negative integer powers are not allowed".into(),
                ));
            }
        }
        _ => {}
    }
    let out = f.result(comp).ok_or(unsupported(f.name(), comp))?;
    let (aligned, grid) = align(f.name(), &operands)?;
    let args = aligned
        .into_iter()
        .map(|o| as_dtype(o, comp, &grid))
        .collect::<Result<_>>()?;
    Ok(Array::from_node(Node::new(
        Kind::Map {
            func: MapFn::Binary(f),
            args,
        },
        grid,
        out,
    )))
}

macro_rules! binary_methods {
    ($($(#[$doc:meta])* $name:ident => $f:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(&self, other: impl Into<Operand>) -> Result<Array> {
            binary(BinaryFn::$f, self.into(), other.into())
        }
    )*};
}

macro_rules! unary_methods {
    ($($(#[$doc:meta])* $name:ident => $f:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> Result<Array> {
            self.unary(UnaryFn::$f)
        }
    )*};
}

impl Array {
    binary_methods! {
        /// `self + other`.
        add => Add,
        /// `self - other`.
        sub => Sub,
        /// `self * other`.
        mul => Mul,
        /// True division `self / other` (integers divide as float64).
        div => Div,
        /// `self ** other` (an integer to a negative integer power is an error).
        pow => Pow,
        /// The element-wise larger (NaN if either is NaN).
        maximum => Maximum,
        /// The element-wise smaller (NaN if either is NaN).
        minimum => Minimum,
        /// `self < other`, as bool.
        lt => Lt,
        /// `self <= other`, as bool.
        le => Le,
        /// `self > other`, as bool.
        gt => Gt,
        /// `self >= other`, as bool.
        ge => Ge,
        /// `self == other`, as bool.
        eq => Eq,
        /// `self != other`, as bool.
        ne => Ne,
        /// Both non-zero.
        logical_and => And,
        /// Either non-zero.
        logical_or => Or,
    }

    unary_methods! {
        /// `-self` (not for bool).
        neg => Neg,
        /// `|self|` (not for bool).
        abs => Abs,
        /// Square root (integers compute as float64; not for bool).
        sqrt => Sqrt,
        /// `e ** self` (integers compute as float64; not for bool).
        exp => Exp,
        /// Natural logarithm (integers compute as float64; not for bool).
        log => Log,
        /// Sine (integers compute as float64; not for bool).
        sin => Sin,
        /// Cosine (integers compute as float64; not for bool).
        cos => Cos,
        /// Zero elements, as bool.
        logical_not => Not,
    }

    fn unary(&self, f: UnaryFn) -> Result<Array> {
        let dtype = self.dtype();
        let comp = match f {
            UnaryFn::Not => DType::Bool,
            _ if dtype.is_bool() => return Err(unsupported(f.name(), dtype)),
            UnaryFn::Neg | UnaryFn::Abs => dtype,
            _ => dtype.float_for(),
        };
        let out = f.result(comp).ok_or(unsupported(f.name(), comp))?;
        Ok(Array::from_node(Node::new(
            Kind::Map {
                func: MapFn::Unary(f),
                args: vec![cast_node(&self.node, comp)],
            },
            self.node.grid.clone(),
            out,
        )))
    }

    /// Limits the values to `[min, max]` (numpy's `clip`: `minimum(maximum(x, min), max)`).
    pub fn clip(&self, min: impl Into<Scalar>, max: impl Into<Scalar>) -> Result<Array> {
        self.maximum(min.into())?.minimum(max.into())
    }

    /// The array cast to `dtype` (Rust `as` semantics; non-zero is `true`).
    pub fn astype(&self, dtype: DType) -> Result<Array> {
        Ok(Array::from_node(cast_node(&self.node, dtype)))
    }

    /// `a` where `cond` is true (non-zero), `b` elsewhere (numpy's `where`), all three
    /// broadcast together.
    pub fn where_(cond: &Array, a: impl Into<Operand>, b: impl Into<Operand>) -> Result<Array> {
        let operands = [Operand::from(cond), a.into(), b.into()];
        let (dtypes, scalars) = operand_dtypes(&operands[1..]);
        let dtype = result_dtype(&dtypes, &scalars);
        let (aligned, grid) = align("where", &operands)?;
        let mut aligned = aligned.into_iter();
        let cond = as_dtype(aligned.next().expect("three"), DType::Bool, &grid)?;
        let args = std::iter::once(Ok(cond))
            .chain(aligned.map(|o| as_dtype(o, dtype, &grid)))
            .collect::<Result<_>>()?;
        Ok(Array::from_node(Node::new(
            Kind::Map {
                func: MapFn::Where,
                args,
            },
            grid,
            dtype,
        )))
    }
}

macro_rules! operator {
    ($trait:ident, $method:ident, $f:ident, $($scalar:ty),*) => {
        impl std::ops::$trait<&Array> for &Array {
            type Output = Result<Array>;
            fn $method(self, rhs: &Array) -> Result<Array> {
                binary(BinaryFn::$f, self.into(), rhs.into())
            }
        }
        impl std::ops::$trait<Array> for &Array {
            type Output = Result<Array>;
            fn $method(self, rhs: Array) -> Result<Array> {
                binary(BinaryFn::$f, self.into(), rhs.into())
            }
        }
        impl std::ops::$trait<&Array> for Array {
            type Output = Result<Array>;
            fn $method(self, rhs: &Array) -> Result<Array> {
                binary(BinaryFn::$f, self.into(), rhs.into())
            }
        }
        impl std::ops::$trait<Array> for Array {
            type Output = Result<Array>;
            fn $method(self, rhs: Array) -> Result<Array> {
                binary(BinaryFn::$f, self.into(), rhs.into())
            }
        }
        $(
            impl std::ops::$trait<$scalar> for &Array {
                type Output = Result<Array>;
                fn $method(self, rhs: $scalar) -> Result<Array> {
                    binary(BinaryFn::$f, self.into(), rhs.into())
                }
            }
            impl std::ops::$trait<$scalar> for Array {
                type Output = Result<Array>;
                fn $method(self, rhs: $scalar) -> Result<Array> {
                    binary(BinaryFn::$f, self.into(), rhs.into())
                }
            }
            impl std::ops::$trait<&Array> for $scalar {
                type Output = Result<Array>;
                fn $method(self, rhs: &Array) -> Result<Array> {
                    binary(BinaryFn::$f, self.into(), rhs.into())
                }
            }
        )*
    };
}

operator!(Add, add, Add, f64, i64);
operator!(Sub, sub, Sub, f64, i64);
operator!(Mul, mul, Mul, f64, i64);
operator!(Div, div, Div, f64, i64);

impl std::ops::Neg for &Array {
    type Output = Result<Array>;
    fn neg(self) -> Result<Array> {
        Array::neg(self)
    }
}

impl std::ops::Neg for Array {
    type Output = Result<Array>;
    fn neg(self) -> Result<Array> {
        Array::neg(&self)
    }
}
