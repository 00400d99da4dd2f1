//! Element-wise operations: arithmetic, math functions, comparisons, logic, `where_`,
//! `clip` and `astype`, with numpy's broadcasting and (NEP 50) type promotion: a scalar
//! is weak, like a Python scalar, and must fit the dtype it is computed in, except where
//! numpy 2 takes it by value (comparisons, true division, logical operations, `clip`
//! bounds that cannot clip). And the
//! `std::ops` operators on arrays (which return `Result<Array>`; scalars as `f64` and
//! `i64` only, so that literals infer: `&x + 1.0`, `2 * &x`).

use super::{align, as_dtype, cast_node, operand_dtypes};
use crate::dtype::{DType, Scalar, result_dtype};
use crate::element::TypedScalar;
use crate::expr::{Kind, MapFn, Node};
use crate::program::{BinaryFn, UnaryFn};
use crate::{Array, ArrayError, Operand, Result};

fn unsupported(op: &'static str, dtype: DType) -> ArrayError {
    ArrayError::UnsupportedDType { op, dtype }
}

/// `f(a, b)` element-wise.
pub(crate) fn binary(f: BinaryFn, a: Operand, b: Operand) -> Result<Array> {
    if f.is_logical() {
        return logical(f, a, b);
    }
    let operands = [a, b];
    let (dtypes, scalars) = operand_dtypes(&operands);
    let mut comp = result_dtype(&dtypes, &scalars);
    if f.is_comparison()
        && let Some(known) = compare_out_of_range(f, &operands, comp)?
    {
        return Ok(known);
    }
    let mut f = f;
    match f {
        // True division of integers is float64 division of their values, whatever the
        // range of the scalar (numpy 2: `uint8_array / 300`, `uint8_array / -1`).
        BinaryFn::Div if !comp.is_float() => comp = DType::F64,
        // numpy adds bools as `or`, multiplies them as `and`, raises them to a power
        // in int8.
        BinaryFn::Add if comp.is_bool() => f = BinaryFn::Or,
        BinaryFn::Mul if comp.is_bool() => f = BinaryFn::And,
        BinaryFn::Pow | BinaryFn::FloorDiv | BinaryFn::Mod | BinaryFn::Shl | BinaryFn::Shr
            if comp.is_bool() =>
        {
            comp = DType::I8
        }
        _ => {}
    }
    let out = f.result(comp).ok_or(unsupported(f.name(), comp))?;
    let (aligned, grid) = align(f.name(), &operands)?;
    // numpy refuses an integer to a negative power element by element: at once here,
    // for a scalar exponent over a non-empty array.
    if f == BinaryFn::Pow
        && comp.is_integer()
        && grid.shape().iter().product::<usize>() > 0
        && let Operand::Scalar(Scalar::Int(e)) = operands[1]
        && e < 0
        && TypedScalar::new(Scalar::Int(e), comp).is_ok()
    {
        return Err(ArrayError::InvalidArgument(
            "integers to negative integer powers are not allowed".into(),
        ));
    }
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

/// `logical_and`, `logical_or`, `logical_xor`: each operand is taken as its truth value
/// on its own (non-zero; NaN is true), whatever its dtype or range (numpy 2 defines
/// `logical_and(int8_array, 1000)` and `logical_or(bool_array, 0.5)`).
fn logical(f: BinaryFn, a: Operand, b: Operand) -> Result<Array> {
    let truth = |o: Operand| match o {
        Operand::Scalar(s) => Operand::Scalar(Scalar::Bool(s.truthy())),
        array => array,
    };
    let operands = [truth(a), truth(b)];
    let (aligned, grid) = align(f.name(), &operands)?;
    let args = aligned
        .into_iter()
        .map(|o| as_dtype(o, DType::Bool, &grid))
        .collect::<Result<_>>()?;
    Ok(Array::from_node(Node::new(
        Kind::Map {
            func: MapFn::Binary(f),
            args,
        },
        grid,
        DType::Bool,
    )))
}

/// A comparison between an integer array and an integer scalar outside its dtype's
/// range compares by value (numpy 2): every element is on the same side of the scalar,
/// so the result is a constant of the array's shape. `None` when the scalar fits.
fn compare_out_of_range(
    f: BinaryFn,
    operands: &[Operand; 2],
    comp: DType,
) -> Result<Option<Array>> {
    let Some((min, max)) = comp.int_range() else {
        return Ok(None);
    };
    let (array, scalar, scalar_left) = match operands {
        [Operand::Array(a), Operand::Scalar(Scalar::Int(s))] => (a, *s, false),
        [Operand::Scalar(Scalar::Int(s)), Operand::Array(a)] => (a, *s, true),
        _ => return Ok(None),
    };
    // A bool array compares as int64, and numpy refuses an int beyond it there.
    if (min..=max).contains(&scalar) || !array.dtype().is_integer() {
        return Ok(None);
    }
    // Whether the right operand is the larger one, for every element.
    let right_larger = (scalar > max) != scalar_left;
    let value = match f {
        BinaryFn::Lt | BinaryFn::Le => right_larger,
        BinaryFn::Gt | BinaryFn::Ge => !right_larger,
        BinaryFn::Eq => false,
        _ => true,
    };
    let grid = array.grid().clone();
    Ok(Some(Array::from_node(Node::new(
        Kind::Const(TypedScalar::Bool(value)),
        grid,
        DType::Bool,
    ))))
}

macro_rules! binary_methods {
    ($($(#[$doc:meta])* $name:ident => $f:ident, $fixture:ident($arg:expr) = $want:expr),* $(,)?) => {$(
        $(#[$doc])*
        ///
        #[doc = concat!("```\n", doc_fixture!($fixture), "let y = x.", stringify!($name),
            "(", stringify!($arg), ")?;\nassert_eq!(format!(\"{:?}\", y.compute(&runner)?.to_array::<f64>().into_raw_vec_and_offset().0), \"",
            $want, "\");\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
        pub fn $name(&self, other: impl Into<Operand>) -> Result<Array> {
            binary(BinaryFn::$f, self.into(), other.into())
        }
    )*};
}

macro_rules! unary_methods {
    ($($(#[$doc:meta])* $name:ident => $f:ident, $fixture:ident = $want:expr),* $(,)?) => {$(
        $(#[$doc])*
        ///
        #[doc = concat!("```\n", doc_fixture!($fixture), "let y = x.", stringify!($name),
            "()?;\nassert_eq!(format!(\"{:?}\", y.compute(&runner)?.to_array::<f64>().into_raw_vec_and_offset().0), \"",
            $want, "\");\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
        pub fn $name(&self) -> Result<Array> {
            self.unary(UnaryFn::$f)
        }
    )*};
}

impl Array {
    binary_methods! {
        /// `self + other` (integers wrap around; bools add as `or`, as in numpy).
        add => Add, f(2.0) = "[0.5, 2.0, 2.5, 4.0]",
        /// `self - other` (integers wrap around; not for bools).
        sub => Sub, f(2.0) = "[-3.5, -2.0, -1.5, 0.0]",
        /// `self * other` (integers wrap around; bools multiply as `and`).
        mul => Mul, f(2.0) = "[-3.0, 0.0, 1.0, 4.0]",
        /// True division `self / other` (integers divide as float64; an integer scalar
        /// counts by its value, even beyond the array's dtype: `uint8_array / 300`).
        div => Div, f(2.0) = "[-0.75, 0.0, 0.25, 1.0]",
        /// `self ** other` (an integer to a negative integer power is an error; bools
        /// compute in int8, as in numpy).
        pow => Pow, f(2.0) = "[2.25, 0.0, 0.25, 4.0]",
        /// The element-wise larger (NaN if either is NaN; of two equal values, the
        /// second, as numpy: `maximum(0.0, -0.0)` is `-0.0`).
        maximum => Maximum, f(0.0) = "[0.0, 0.0, 0.5, 2.0]",
        /// The element-wise smaller (NaN if either is NaN; of two equal values, the
        /// second).
        minimum => Minimum, f(0.0) = "[-1.5, 0.0, 0.0, 0.0]",
        /// `self < other`, as bool (an integer scalar beyond an integer array's
        /// range compares by value).
        lt => Lt, f(0.5) = "[1.0, 1.0, 0.0, 0.0]",
        /// `self <= other`, as bool (an integer scalar beyond an integer array's
        /// range compares by value).
        le => Le, f(0.5) = "[1.0, 1.0, 1.0, 0.0]",
        /// `self > other`, as bool (an integer scalar beyond an integer array's
        /// range compares by value).
        gt => Gt, f(0.5) = "[0.0, 0.0, 0.0, 1.0]",
        /// `self >= other`, as bool (an integer scalar beyond an integer array's
        /// range compares by value).
        ge => Ge, f(0.5) = "[0.0, 0.0, 1.0, 1.0]",
        /// `self == other`, as bool (an integer scalar beyond an integer array's
        /// range compares by value).
        eq => Eq, f(0.5) = "[0.0, 0.0, 1.0, 0.0]",
        /// `self != other`, as bool (an integer scalar beyond an integer array's
        /// range compares by value).
        ne => Ne, f(0.5) = "[1.0, 1.0, 0.0, 1.0]",
        /// Both non-zero (each operand taken as its truth value, whatever its dtype).
        logical_and => And, f(1) = "[1.0, 0.0, 1.0, 1.0]",
        /// Either non-zero (each operand taken as its truth value, whatever its dtype).
        logical_or => Or, f(0) = "[1.0, 0.0, 1.0, 1.0]",
        /// Exactly one non-zero (each operand taken as its truth value).
        logical_xor => Xor, f(1) = "[0.0, 1.0, 0.0, 0.0]",
        /// numpy's `floor_divide` (`//`): the quotient rounded down; integers by zero
        /// give 0 (and `MIN // -1` gives `MIN`), floats follow numpy's `divmod`.
        floor_divide => FloorDiv, i(3) = "[-3.0, 0.0, 1.0, 4.0]",
        /// numpy's `remainder` (`%`): the sign of the divisor, as in Python; integers by
        /// zero give 0, floats by zero NaN.
        remainder => Mod, i(3) = "[2.0, 0.0, 2.0, 0.0]",
        /// Bitwise and (integers and bools).
        bitwise_and => BitAnd, i(6) = "[0.0, 0.0, 4.0, 4.0]",
        /// Bitwise or (integers and bools).
        bitwise_or => BitOr, i(1) = "[-7.0, 1.0, 5.0, 13.0]",
        /// Bitwise exclusive or (integers and bools).
        bitwise_xor => BitXor, i(3) = "[-6.0, 3.0, 6.0, 15.0]",
        /// `self << other` on integers; a count past the width (or negative) gives 0.
        left_shift => Shl, i(2) = "[-28.0, 0.0, 20.0, 48.0]",
        /// `self >> other` on integers (arithmetic for signed ones); a count past the
        /// width gives 0, or -1 for a negative value.
        right_shift => Shr, i(1) = "[-4.0, 0.0, 2.0, 6.0]",
    }

    unary_methods! {
        /// `-self` (integers wrap around; not for bool).
        neg => Neg, f = "[1.5, -0.0, -0.5, -2.0]",
        /// `|self|` (integers wrap around: `abs(int8(-128))` is -128; bool is unchanged).
        abs => Abs, f = "[1.5, 0.0, 0.5, 2.0]",
        /// -1, 0 or 1 in the array's dtype (NaN stays NaN; not for bool).
        sign => Sign, f = "[-1.0, 0.0, 1.0, 1.0]",
        /// Square root. Integers and bool compute in the smallest float that holds them,
        /// as numpy: int8, uint8 and bool in float16, int16 and uint16 in float32, wider
        /// ones in float64; so do all the float functions below (computed by Rust's
        /// libm: transcendental ones may differ from numpy's by an ulp or two).
        sqrt => Sqrt, f = "[NaN, 0.0, 0.7071067811865476, 1.4142135623730951]",
        /// `e ** self`.
        exp => Exp, f = "[0.22313016014842982, 1.0, 1.6487212707001282, 7.38905609893065]",
        /// `e ** self - 1`, accurate near 0.
        expm1 => Expm1, f = "[-0.7768698398515702, 0.0, 0.6487212707001282, 6.38905609893065]",
        /// Natural logarithm.
        log => Log, f = "[NaN, -inf, -0.6931471805599453, 0.6931471805599453]",
        /// Base-2 logarithm.
        log2 => Log2, f = "[NaN, -inf, -1.0, 1.0]",
        /// Base-10 logarithm.
        log10 => Log10, f = "[NaN, -inf, -0.3010299956639812, 0.3010299956639812]",
        /// `log(1 + self)`, accurate near 0.
        log1p => Log1p, f = "[NaN, 0.0, 0.4054651081081644, 1.0986122886681096]",
        /// Sine.
        sin => Sin, f = "[-0.9974949866040544, 0.0, 0.479425538604203, 0.9092974268256817]",
        /// Cosine.
        cos => Cos, f = "[0.0707372016677029, 1.0, 0.8775825618903728, -0.4161468365471424]",
        /// Tangent.
        tan => Tan, f = "[-14.101419947171719, 0.0, 0.5463024898437905, -2.185039863261519]",
        /// Inverse sine.
        arcsin => Arcsin, f = "[NaN, 0.0, 0.5235987755982989, NaN]",
        /// Inverse cosine.
        arccos => Arccos, f = "[NaN, 1.5707963267948966, 1.0471975511965979, NaN]",
        /// Inverse tangent.
        arctan => Arctan, f = "[-0.982793723247329, 0.0, 0.4636476090008061, 1.1071487177940904]",
        /// Hyperbolic sine.
        sinh => Sinh, f = "[-2.1292794550948173, 0.0, 0.5210953054937474, 3.626860407847019]",
        /// Hyperbolic cosine.
        cosh => Cosh, f = "[2.352409615243247, 1.0, 1.1276259652063807, 3.7621956910836314]",
        /// Hyperbolic tangent.
        tanh => Tanh, f = "[-0.9051482536448664, 0.0, 0.46211715726000974, 0.9640275800758169]",
        /// Inverse hyperbolic sine.
        arcsinh => Arcsinh, f = "[-1.1947632172871094, 0.0, 0.48121182505960347, 1.4436354751788103]",
        /// Inverse hyperbolic cosine.
        arccosh => Arccosh, f = "[NaN, NaN, NaN, 1.3169578969248166]",
        /// Inverse hyperbolic tangent.
        arctanh => Arctanh, f = "[NaN, 0.0, 0.5493061443340548, NaN]",
        /// Rounded down (integers and bools are unchanged, as in numpy 2).
        floor => Floor, f = "[-2.0, 0.0, 0.0, 2.0]",
        /// Rounded up (integers and bools are unchanged).
        ceil => Ceil, f = "[-1.0, 0.0, 1.0, 2.0]",
        /// Rounded toward zero (integers and bools are unchanged).
        trunc => Trunc, f = "[-1.0, 0.0, 0.0, 2.0]",
        /// Rounded to the nearest integer, halves to even (numpy's `round` with
        /// `decimals=0`); integers are unchanged, bools become float16 (as numpy's).
        round => Round, f = "[-2.0, 0.0, 0.0, 2.0]",
        /// Whether each element is NaN, as bool (never, for integers and bools).
        isnan => IsNan, f = "[0.0, 0.0, 0.0, 0.0]",
        /// Whether each element is finite, as bool.
        isfinite => IsFinite, f = "[1.0, 1.0, 1.0, 1.0]",
        /// Whether each element is infinite, as bool.
        isinf => IsInf, f = "[0.0, 0.0, 0.0, 0.0]",
        /// Zero elements, as bool.
        logical_not => Not, f = "[0.0, 1.0, 0.0, 0.0]",
        /// Bitwise not (`~`) of integers; `not` of bools.
        invert => Invert, i = "[6.0, -1.0, -6.0, -13.0]",
    }

    fn unary(&self, f: UnaryFn) -> Result<Array> {
        let dtype = self.dtype();
        let constant = |value: bool| {
            Ok(Array::from_node(Node::new(
                Kind::Const(TypedScalar::Bool(value)),
                self.node.grid.clone(),
                DType::Bool,
            )))
        };
        let (f, comp) = match f {
            UnaryFn::Not => (f, DType::Bool),
            UnaryFn::Abs if dtype.is_bool() => return Ok(self.clone()),
            // numpy rounds bools through rint: in float16.
            UnaryFn::Round if dtype.is_bool() => (f, DType::F16),
            UnaryFn::Floor | UnaryFn::Ceil | UnaryFn::Trunc | UnaryFn::Round
                if !dtype.is_float() =>
            {
                return Ok(self.clone());
            }
            UnaryFn::IsNan | UnaryFn::IsInf if !dtype.is_float() => return constant(false),
            UnaryFn::IsFinite if !dtype.is_float() => return constant(true),
            UnaryFn::Invert if dtype.is_bool() => (UnaryFn::Not, DType::Bool),
            _ if f.is_float_math() => (f, dtype.math_float()),
            _ => (f, dtype),
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

    /// Limits the values to `[min, max]` (numpy's `clip`: `minimum(maximum(x, min),
    /// max)`; NaN stays NaN). As in numpy 2, an integer bound beyond an integer array's
    /// range on the side that cannot clip anything (`clip(uint8_array, -5, 300)`) is no
    /// bound, and one on the other side (`clip(uint8_array, 300, 400)`) is an error.
    #[doc = concat!("```\n", doc_fixture!(f), "let v = |a: doreisa_array::Array| a.compute(&runner).map(|c| c.to_array::<f64>().into_raw_vec_and_offset().0);\nassert_eq!(v(x.clip(-1, 1)?)?, [-1.0, 0.0, 0.5, 1.0]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn clip(&self, min: impl Into<Operand>, max: impl Into<Operand>) -> Result<Array> {
        let range = self.dtype().int_range();
        let beyond = |bound: &Operand, lower: bool| match (bound, range) {
            (Operand::Scalar(Scalar::Int(v)), Some((lo, hi))) => {
                if lower {
                    *v < lo
                } else {
                    *v > hi
                }
            }
            _ => false,
        };
        let (min, max) = (min.into(), max.into());
        let mut out = self.clone();
        if !beyond(&min, true) {
            out = out.maximum(min)?;
        }
        if !beyond(&max, false) {
            out = out.minimum(max)?;
        }
        Ok(out)
    }

    /// The array cast to `dtype` (Rust `as` semantics; non-zero is `true`).
    #[doc = concat!("```\n", doc_fixture!(f), "let v = |a: doreisa_array::Array| a.compute(&runner).map(|c| c.to_array::<f64>().into_raw_vec_and_offset().0);\nlet i = x.astype(DType::I8)?;\nassert_eq!(i.dtype(), DType::I8);\nassert_eq!(v(i)?, [-1.0, 0.0, 0.0, 2.0]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
    pub fn astype(&self, dtype: DType) -> Result<Array> {
        Ok(Array::from_node(cast_node(&self.node, dtype)))
    }

    /// `a` where `cond` is true (non-zero), `b` elsewhere (numpy's `where`), all three
    /// broadcast together. An integer scalar that does not fit the result dtype is an
    /// error (numpy 2.4 wraps it around silently: `where(c, uint8_array, 300)` gives 44).
    #[doc = concat!("```\n", doc_fixture!(f), "let v = |a: doreisa_array::Array| a.compute(&runner).map(|c| c.to_array::<f64>().into_raw_vec_and_offset().0);\nlet w = Array::where_(&x.gt(0)?, &x, 0.0)?;\nassert_eq!(v(w)?, [0.0, 0.0, 0.5, 2.0]);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
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
operator!(Rem, rem, Mod, f64, i64);
operator!(BitAnd, bitand, BitAnd, i64);
operator!(BitOr, bitor, BitOr, i64);
operator!(BitXor, bitxor, BitXor, i64);
operator!(Shl, shl, Shl, i64);
operator!(Shr, shr, Shr, i64);

impl std::ops::Not for &Array {
    type Output = Result<Array>;
    /// numpy's `~`: bitwise not of integers, `not` of bools.
    fn not(self) -> Result<Array> {
        self.invert()
    }
}

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
