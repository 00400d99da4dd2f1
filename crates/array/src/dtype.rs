//! Element types, the [`Element`] trait that ties a Rust type to its [`DType`], scalars,
//! and numpy-like type promotion.

use crate::{ArrayError, Chunk, Result};
use ndarray::ArrayD;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The element type of an array (numpy's dtype).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DType {
    Bool,
    U8,
    I32,
    I64,
    F32,
    F64,
}

impl DType {
    /// Every dtype, in promotion order within each kind.
    pub const ALL: [DType; 6] = [
        DType::Bool,
        DType::U8,
        DType::I32,
        DType::I64,
        DType::F32,
        DType::F64,
    ];

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::U8 => 1,
            DType::I32 | DType::F32 => 4,
            DType::I64 | DType::F64 => 8,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    pub fn is_integer(self) -> bool {
        matches!(self, DType::U8 | DType::I32 | DType::I64)
    }

    pub fn is_bool(self) -> bool {
        self == DType::Bool
    }

    /// The smallest and largest values of an integer dtype.
    pub fn int_range(self) -> Option<(i128, i128)> {
        match self {
            DType::U8 => Some((0, u8::MAX.into())),
            DType::I32 => Some((i32::MIN.into(), i32::MAX.into())),
            DType::I64 => Some((i64::MIN.into(), i64::MAX.into())),
            _ => None,
        }
    }

    /// The code used in encoded chunks.
    pub(crate) fn code(self) -> u8 {
        match self {
            DType::Bool => 0,
            DType::U8 => 1,
            DType::I32 => 2,
            DType::I64 => 3,
            DType::F32 => 4,
            DType::F64 => 5,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<DType> {
        DType::ALL.get(usize::from(code)).copied()
    }

    /// numpy's name for the dtype.
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "uint8",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// The dtype of a binary operation between arrays of dtypes `self` and `other`
    /// (numpy's `result_type` for arrays): bool < uint8 < int32 < int64 among integers,
    /// float32 absorbs uint8, and any other mix of integers and floats is float64.
    pub fn promote(self, other: DType) -> DType {
        use DType::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Bool, x) | (x, Bool) => x,
            (a, b) if a.is_integer() && b.is_integer() => a.max(b),
            (F32, U8) | (U8, F32) => F32,
            _ => F64,
        }
    }

    /// The float dtype math functions (sqrt, exp, ...) and means compute in: floats keep
    /// their precision, integers become float64.
    pub(crate) fn float_for(self) -> DType {
        if self.is_float() { self } else { DType::F64 }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scalar operand, typed weakly as in numpy 2 (NEP 50), like a Python scalar: it
/// takes the dtype of the array it is combined with, unless its kind is higher (a float
/// with an integer array gives float64; an integer with a bool array gives int64).
/// An integer is held as an `i128` so that every value of every integer dtype, and
/// values beyond them (which comparisons take by value), can be written.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
pub enum Scalar {
    Bool(bool),
    Int(i128),
    Float(f64),
}

impl Scalar {
    /// Kind rank: bool < int < float.
    fn kind(self) -> u8 {
        match self {
            Scalar::Bool(_) => 0,
            Scalar::Int(_) => 1,
            Scalar::Float(_) => 2,
        }
    }

    /// The dtype a scalar of this kind has on its own.
    pub fn default_dtype(self) -> DType {
        match self {
            Scalar::Bool(_) => DType::Bool,
            Scalar::Int(_) => DType::I64,
            Scalar::Float(_) => DType::F64,
        }
    }

    /// The value as a float64 (an integer rounded to the nearest float64).
    pub fn as_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => f64::from(u8::from(b)),
            Scalar::Int(i) => i as f64,
            Scalar::Float(x) => x,
        }
    }

    /// Python's truth value: non-zero (NaN is true).
    pub fn truthy(self) -> bool {
        match self {
            Scalar::Bool(b) => b,
            Scalar::Int(i) => i != 0,
            Scalar::Float(x) => x != 0.0,
        }
    }
}

macro_rules! scalar_from {
    ($($t:ty => $variant:ident as $inner:ty),*) => {$(
        impl From<$t> for Scalar {
            fn from(v: $t) -> Scalar {
                Scalar::$variant(<$inner>::from(v))
            }
        }
    )*};
}
scalar_from!(bool => Bool as bool, u8 => Int as i128, i32 => Int as i128,
    i64 => Int as i128, u64 => Int as i128, i128 => Int as i128, f32 => Float as f64,
    f64 => Float as f64);

/// The result dtype of an operation over arrays of dtypes `arrays` and weak scalars
/// `scalars` (numpy 2 rules).
pub(crate) fn result_dtype(arrays: &[DType], scalars: &[Scalar]) -> DType {
    let weak = scalars.iter().map(|s| s.kind()).max();
    let Some(strong) = arrays.iter().copied().reduce(DType::promote) else {
        return scalars
            .iter()
            .copied()
            .max_by_key(|s| s.kind())
            .map_or(DType::F64, Scalar::default_dtype);
    };
    match weak {
        Some(2) if !strong.is_float() => DType::F64,
        Some(1) if strong.is_bool() => DType::I64,
        _ => strong,
    }
}

/// A scalar with a concrete dtype (constants inside compiled programs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum TypedScalar {
    Bool(bool),
    U8(u8),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
}

impl TypedScalar {
    pub fn dtype(self) -> DType {
        match self {
            TypedScalar::Bool(_) => DType::Bool,
            TypedScalar::U8(_) => DType::U8,
            TypedScalar::I32(_) => DType::I32,
            TypedScalar::I64(_) => DType::I64,
            TypedScalar::F32(_) => DType::F32,
            TypedScalar::F64(_) => DType::F64,
        }
    }

    /// `value` as `dtype`; an integer outside the dtype's range is an error (as in
    /// numpy 2), a float becomes an integer only by an explicit cast elsewhere. A float
    /// dtype takes the nearest value (beyond its range: infinity, as numpy does).
    pub(crate) fn new(value: Scalar, dtype: DType) -> Result<TypedScalar> {
        let out_of_range =
            || ArrayError::InvalidArgument(format!("scalar {value:?} does not fit dtype {dtype}"));
        Ok(match (value, dtype) {
            (s, DType::F64) => TypedScalar::F64(s.as_f64()),
            (s, DType::F32) => TypedScalar::F32(s.as_f64() as f32),
            (Scalar::Float(_), _) => return Err(out_of_range()),
            (Scalar::Bool(b), DType::Bool) => TypedScalar::Bool(b),
            (Scalar::Bool(b), d) => TypedScalar::new(Scalar::Int(i128::from(b)), d)?,
            (Scalar::Int(_), DType::Bool) => return Err(out_of_range()),
            (Scalar::Int(i), DType::U8) => {
                TypedScalar::U8(i.try_into().map_err(|_| out_of_range())?)
            }
            (Scalar::Int(i), DType::I32) => {
                TypedScalar::I32(i.try_into().map_err(|_| out_of_range())?)
            }
            (Scalar::Int(i), DType::I64) => {
                TypedScalar::I64(i.try_into().map_err(|_| out_of_range())?)
            }
        })
    }

    /// The weakly typed value (a u8, i32 or i64 as an int, an f32 as a float).
    pub fn to_scalar(self) -> Scalar {
        match self {
            TypedScalar::Bool(b) => Scalar::Bool(b),
            TypedScalar::U8(v) => Scalar::Int(v.into()),
            TypedScalar::I32(v) => Scalar::Int(v.into()),
            TypedScalar::I64(v) => Scalar::Int(v.into()),
            TypedScalar::F32(v) => Scalar::Float(v.into()),
            TypedScalar::F64(v) => Scalar::Float(v),
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust element type of arrays: `bool`, `u8`, `i32`, `i64`, `f32` or `f64`.
///
/// Casts between element types follow Rust's `as` (floats to integers saturate, NaN
/// becomes 0), except that anything non-zero becomes `true` as a bool.
pub trait Element:
    Copy + Default + PartialOrd + fmt::Debug + Send + Sync + 'static + sealed::Sealed
{
    const DTYPE: DType;

    fn into_chunk(array: ArrayD<Self>) -> Chunk;
    fn chunk_ref(chunk: &Chunk) -> Option<&ArrayD<Self>>;
    fn from_chunk(chunk: Chunk) -> std::result::Result<ArrayD<Self>, Chunk>;
    fn typed_scalar(self) -> TypedScalar;

    fn from_bool(v: bool) -> Self;
    fn from_u8(v: u8) -> Self;
    fn from_i32(v: i32) -> Self;
    fn from_i64(v: i64) -> Self;
    fn from_f32(v: f32) -> Self;
    fn from_f64(v: f64) -> Self;
    fn to_bool(self) -> bool;
    fn to_u8(self) -> u8;
    fn to_i32(self) -> i32;
    fn to_i64(self) -> i64;
    fn to_f32(self) -> f32;
    fn to_f64(self) -> f64;

    /// `self` as element type `U`.
    fn cast<U: Element>(self) -> U {
        match U::DTYPE {
            DType::Bool => U::from_bool(self.to_bool()),
            DType::U8 => U::from_u8(self.to_u8()),
            DType::I32 => U::from_i32(self.to_i32()),
            DType::I64 => U::from_i64(self.to_i64()),
            DType::F32 => U::from_f32(self.to_f32()),
            DType::F64 => U::from_f64(self.to_f64()),
        }
    }
}

macro_rules! element {
    ($t:ident, $variant:ident, $from_bool:expr, $to_bool:expr) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DType = DType::$variant;

            fn into_chunk(array: ArrayD<Self>) -> Chunk {
                Chunk::$variant(array)
            }
            fn chunk_ref(chunk: &Chunk) -> Option<&ArrayD<Self>> {
                match chunk {
                    Chunk::$variant(a) => Some(a),
                    _ => None,
                }
            }
            fn from_chunk(chunk: Chunk) -> std::result::Result<ArrayD<Self>, Chunk> {
                match chunk {
                    Chunk::$variant(a) => Ok(a),
                    other => Err(other),
                }
            }
            fn typed_scalar(self) -> TypedScalar {
                TypedScalar::$variant(self)
            }

            fn from_bool(v: bool) -> Self {
                $from_bool(v)
            }
            fn from_u8(v: u8) -> Self {
                element!(@cast v, u8, $t)
            }
            fn from_i32(v: i32) -> Self {
                element!(@cast v, i32, $t)
            }
            fn from_i64(v: i64) -> Self {
                element!(@cast v, i64, $t)
            }
            fn from_f32(v: f32) -> Self {
                element!(@cast v, f32, $t)
            }
            fn from_f64(v: f64) -> Self {
                element!(@cast v, f64, $t)
            }
            fn to_bool(self) -> bool {
                $to_bool(self)
            }
            fn to_u8(self) -> u8 {
                element!(@cast self, $t, u8)
            }
            fn to_i32(self) -> i32 {
                element!(@cast self, $t, i32)
            }
            fn to_i64(self) -> i64 {
                element!(@cast self, $t, i64)
            }
            fn to_f32(self) -> f32 {
                element!(@cast self, $t, f32)
            }
            fn to_f64(self) -> f64 {
                element!(@cast self, $t, f64)
            }
        }
    };
    (@cast $v:expr, bool, $to:ident) => {
        u8::from($v) as $to
    };
    (@cast $v:expr, $from:ident, bool) => {
        $v != (0 as $from)
    };
    (@cast $v:expr, $from:ident, $to:ident) => {
        $v as $to
    };
}

element!(bool, Bool, |v| v, |v| v);
element!(u8, U8, u8::from, |v| v != 0);
element!(i32, I32, i32::from, |v| v != 0);
element!(i64, I64, i64::from, |v| v != 0);
element!(f32, F32, |v| f32::from(u8::from(v)), |v| v != 0.0);
element!(f64, F64, |v| f64::from(u8::from(v)), |v| v != 0.0);

#[cfg(test)]
mod tests {
    use super::*;
    use DType::*;

    #[test]
    fn promotion_follows_numpy() {
        assert_eq!(Bool.promote(U8), U8);
        assert_eq!(U8.promote(I32), I32);
        assert_eq!(I32.promote(I64), I64);
        assert_eq!(U8.promote(F32), F32);
        assert_eq!(I32.promote(F32), F64);
        assert_eq!(I64.promote(F32), F64);
        assert_eq!(F32.promote(F64), F64);
        assert_eq!(Bool.promote(Bool), Bool);
        for a in DType::ALL {
            for b in DType::ALL {
                assert_eq!(a.promote(b), b.promote(a));
            }
        }
    }

    #[test]
    fn weak_scalars_keep_the_array_dtype_unless_of_a_higher_kind() {
        assert_eq!(result_dtype(&[U8], &[Scalar::Int(3)]), U8);
        assert_eq!(result_dtype(&[F32], &[Scalar::Float(0.5)]), F32);
        assert_eq!(result_dtype(&[I32], &[Scalar::Float(0.5)]), F64);
        assert_eq!(result_dtype(&[Bool], &[Scalar::Int(1)]), I64);
        assert_eq!(result_dtype(&[Bool], &[Scalar::Bool(true)]), Bool);
        assert_eq!(
            result_dtype(&[], &[Scalar::Int(1), Scalar::Float(2.0)]),
            F64
        );
        assert_eq!(result_dtype(&[], &[Scalar::Int(1)]), I64);
    }

    #[test]
    fn typed_scalars_check_ranges() {
        assert_eq!(
            TypedScalar::new(Scalar::Int(255), U8),
            Ok(TypedScalar::U8(255))
        );
        assert!(TypedScalar::new(Scalar::Int(256), U8).is_err());
        assert!(TypedScalar::new(Scalar::Int(-1), U8).is_err());
        assert!(TypedScalar::new(Scalar::Float(1.5), I64).is_err());
        assert_eq!(
            TypedScalar::new(Scalar::Int(3), F32),
            Ok(TypedScalar::F32(3.0))
        );
        assert_eq!(
            TypedScalar::new(Scalar::Bool(true), I32),
            Ok(TypedScalar::I32(1))
        );
    }

    #[test]
    fn casts_follow_as_with_nonzero_true() {
        assert_eq!((-1.7f64).cast::<i32>(), -1);
        assert_eq!(f64::NAN.cast::<i64>(), 0);
        assert_eq!(1e20f64.cast::<i32>(), i32::MAX);
        assert!(0.5f32.cast::<bool>());
        assert!(!0u8.cast::<bool>());
        assert_eq!(true.cast::<f64>(), 1.0);
        assert_eq!(300i32.cast::<u8>(), 44);
        assert_eq!(i64::MAX.cast::<i64>(), i64::MAX);
    }
}
