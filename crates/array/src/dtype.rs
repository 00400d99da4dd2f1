//! The dtypes of arrays ([`DType`]), weakly typed scalars ([`Scalar`]) and numpy 2's
//! type promotion. The Rust element types behind the dtypes are in `element`.

use crate::F16;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The element type of an array (numpy's dtype).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DType {
    Bool,
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F16,
    F32,
    F64,
}

impl DType {
    /// Every dtype: bool, the integers by size (signed first), the floats by size.
    pub const ALL: [DType; 12] = [
        DType::Bool,
        DType::I8,
        DType::U8,
        DType::I16,
        DType::U16,
        DType::I32,
        DType::U32,
        DType::I64,
        DType::U64,
        DType::F16,
        DType::F32,
        DType::F64,
    ];

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::I8 | DType::U8 => 1,
            DType::I16 | DType::U16 | DType::F16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 => 8,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::F32 | DType::F64)
    }

    pub fn is_integer(self) -> bool {
        !self.is_float() && !self.is_bool()
    }

    pub fn is_signed_integer(self) -> bool {
        matches!(self, DType::I8 | DType::I16 | DType::I32 | DType::I64)
    }

    pub fn is_unsigned_integer(self) -> bool {
        matches!(self, DType::U8 | DType::U16 | DType::U32 | DType::U64)
    }

    pub fn is_bool(self) -> bool {
        self == DType::Bool
    }

    /// The smallest and largest values of an integer dtype.
    pub fn int_range(self) -> Option<(i128, i128)> {
        if !self.is_integer() {
            return None;
        }
        let bits = 8 * self.size() as u32;
        Some(if self.is_signed_integer() {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        } else {
            (0, (1i128 << bits) - 1)
        })
    }

    /// The code used in encoded chunks (the first six are those of the first format).
    pub(crate) fn code(self) -> u8 {
        match self {
            DType::Bool => 0,
            DType::U8 => 1,
            DType::I32 => 2,
            DType::I64 => 3,
            DType::F32 => 4,
            DType::F64 => 5,
            DType::I8 => 6,
            DType::I16 => 7,
            DType::U16 => 8,
            DType::U32 => 9,
            DType::U64 => 10,
            DType::F16 => 11,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.code() == code)
    }

    /// numpy's name for the dtype.
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I8 => "int8",
            DType::U8 => "uint8",
            DType::I16 => "int16",
            DType::U16 => "uint16",
            DType::I32 => "int32",
            DType::U32 => "uint32",
            DType::I64 => "int64",
            DType::U64 => "uint64",
            DType::F16 => "float16",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// The signed integer dtype of `bytes` bytes, if there is one.
    fn signed(bytes: usize) -> Option<DType> {
        match bytes {
            1 => Some(DType::I8),
            2 => Some(DType::I16),
            4 => Some(DType::I32),
            8 => Some(DType::I64),
            _ => None,
        }
    }

    /// The smallest float dtype that holds every value of integer (or bool) dtype
    /// `self` exactly, or float64 (numpy's choice for math functions: `sqrt(int8)` is
    /// float16, `sqrt(int16)` float32, `sqrt(int32)` float64).
    pub fn math_float(self) -> DType {
        match self {
            d if d.is_float() => d,
            d if d.size() == 1 => DType::F16,
            d if d.size() == 2 => DType::F32,
            _ => DType::F64,
        }
    }

    /// The dtype of a binary operation between arrays of dtypes `self` and `other`
    /// (numpy's `result_type`): integers of one signedness give the wider; mixed, the
    /// signed one if wider, else the signed type twice the unsigned one's size (uint64
    /// with any signed integer is float64); an integer with a float gives the wider of
    /// the float and the float that holds the integer exactly ([`DType::math_float`]).
    pub fn promote(self, other: DType) -> DType {
        let (a, b) = (self, other);
        if a == b || b.is_bool() {
            return a;
        }
        if a.is_bool() {
            return b;
        }
        let wider = |x: DType, y: DType| if x.size() >= y.size() { x } else { y };
        match (a.is_float(), b.is_float()) {
            (true, true) => wider(a, b),
            (true, false) => wider(a, b.math_float()),
            (false, true) => wider(b, a.math_float()),
            (false, false) if a.is_signed_integer() == b.is_signed_integer() => wider(a, b),
            (false, false) => {
                let (signed, unsigned) = if a.is_signed_integer() {
                    (a, b)
                } else {
                    (b, a)
                };
                if signed.size() > unsigned.size() {
                    signed
                } else {
                    DType::signed(2 * unsigned.size()).unwrap_or(DType::F64)
                }
            }
        }
    }

    /// The float dtype means and variances compute in: floats keep their precision,
    /// integers and bool become float64 (numpy's `mean`).
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
scalar_from!(bool => Bool as bool, i8 => Int as i128, u8 => Int as i128,
    i16 => Int as i128, u16 => Int as i128, i32 => Int as i128, u32 => Int as i128,
    i64 => Int as i128, u64 => Int as i128, i128 => Int as i128, f32 => Float as f64,
    f64 => Float as f64);

impl From<F16> for Scalar {
    fn from(v: F16) -> Scalar {
        Scalar::Float(v.to_f64())
    }
}

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
        assert_eq!(I8.promote(U8), I16);
        assert_eq!(U16.promote(I16), I32);
        assert_eq!(U32.promote(I8), I64);
        assert_eq!(U16.promote(I32), I32);
        assert_eq!(U64.promote(I64), F64);
        assert_eq!(U64.promote(I8), F64);
        assert_eq!(U64.promote(U8), U64);
        assert_eq!(I8.promote(F16), F16);
        assert_eq!(U8.promote(F16), F16);
        assert_eq!(I16.promote(F16), F32);
        assert_eq!(U32.promote(F16), F64);
        assert_eq!(I16.promote(F32), F32);
        assert_eq!(F16.promote(F32), F32);
        assert_eq!(Bool.promote(F16), F16);
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
}
