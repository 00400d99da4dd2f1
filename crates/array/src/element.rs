//! [`Element`]: the Rust element types of arrays, tied to their [`DType`], and the one
//! lossless intermediate ([`Wide`]) casts between them go through; [`TypedScalar`], a
//! value of one of them.

use crate::dtype::{DType, Scalar};
use crate::{ArrayError, Result};
use crate::{Chunk, F16};
use ndarray::ArrayD;
use serde::{Deserialize, Serialize};
use std::fmt;

mod sealed {
    pub trait Sealed {}
}

/// Any element's value, without loss: what casts between element types go through.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wide {
    Bool(bool),
    Int(i128),
    F16(F16),
    F32(f32),
    F64(f64),
}

/// A Rust element type of arrays: `bool`, `i8`, `u8`, `i16`, `u16`, `i32`, `u32`, `i64`,
/// `u64`, [`F16`], `f32` or `f64`.
///
/// Casts between element types follow Rust's `as` (integers wrap, floats to integers
/// saturate and NaN becomes 0; numpy leaves those undefined), except that anything
/// non-zero becomes `true` as a bool, and a float becomes a float16 by one rounding.
pub trait Element:
    Copy + Default + PartialOrd + fmt::Debug + Send + Sync + 'static + sealed::Sealed
{
    const DTYPE: DType;

    fn into_chunk(array: ArrayD<Self>) -> Chunk;
    fn chunk_ref(chunk: &Chunk) -> Option<&ArrayD<Self>>;
    fn from_chunk(chunk: Chunk) -> std::result::Result<ArrayD<Self>, Chunk>;
    fn typed_scalar(self) -> TypedScalar;
    #[doc(hidden)]
    fn to_wide(self) -> Wide;
    #[doc(hidden)]
    fn from_wide(value: Wide) -> Self;
    /// Appends the little-endian bytes of the value.
    #[doc(hidden)]
    fn write_le(self, out: &mut Vec<u8>);
    /// The value of its little-endian bytes (exactly `DTYPE.size()` of them; a bool
    /// byte is 0 or 1).
    #[doc(hidden)]
    fn read_le(bytes: &[u8]) -> Self;

    /// The dtype of a value (for macros over values of any element type).
    #[doc(hidden)]
    fn dtype_of(self) -> DType {
        Self::DTYPE
    }

    /// `self` as element type `U`.
    fn cast<U: Element>(self) -> U {
        U::from_wide(self.to_wide())
    }

    /// `self` as `f64` (`cast::<f64>`).
    fn to_f64(self) -> f64 {
        self.cast()
    }

    /// `self` as `i64` (`cast::<i64>`).
    fn to_i64(self) -> i64 {
        self.cast()
    }

    /// `self` as `bool` (`cast::<bool>`: non-zero).
    fn to_bool(self) -> bool {
        self.cast()
    }
}

macro_rules! element_common {
    ($t:ty, $variant:ident) => {
        impl sealed::Sealed for $t {}

        const _: () = assert!(std::mem::size_of::<$t>() == DType::$variant.size_const());
    };
}

macro_rules! chunk_access {
    ($variant:ident) => {
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
    };
}

macro_rules! int_element {
    ($($t:ident => $variant:ident),*) => {$(
        element_common!($t, $variant);
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            chunk_access!($variant);
            fn to_wide(self) -> Wide {
                Wide::Int(self.into())
            }
            fn from_wide(value: Wide) -> Self {
                match value {
                    Wide::Bool(b) => <$t>::from(b),
                    Wide::Int(i) => i as $t,
                    Wide::F16(x) => x.to_f32() as $t,
                    Wide::F32(x) => x as $t,
                    Wide::F64(x) => x as $t,
                }
            }
            fn write_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn read_le(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().expect("the element's size"))
            }
        }
    )*};
}
int_element!(i8 => I8, u8 => U8, i16 => I16, u16 => U16, i32 => I32, u32 => U32,
    i64 => I64, u64 => U64);

macro_rules! float_element {
    ($($t:ident => $variant:ident),*) => {$(
        element_common!($t, $variant);
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            chunk_access!($variant);
            fn to_wide(self) -> Wide {
                Wide::$variant(self)
            }
            fn from_wide(value: Wide) -> Self {
                match value {
                    Wide::Bool(b) => u8::from(b).into(),
                    Wide::Int(i) => i as $t,
                    Wide::F16(x) => x.to_f32() as $t,
                    Wide::F32(x) => x as $t,
                    Wide::F64(x) => x as $t,
                }
            }
            fn write_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn read_le(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().expect("the element's size"))
            }
        }
    )*};
}
float_element!(f32 => F32, f64 => F64);

element_common!(F16, F16);
impl Element for F16 {
    const DTYPE: DType = DType::F16;
    chunk_access!(F16);
    fn to_wide(self) -> Wide {
        Wide::F16(self)
    }
    fn from_wide(value: Wide) -> Self {
        match value {
            Wide::Bool(b) => F16::from_f32(u8::from(b).into()),
            Wide::Int(i) => F16::from_f64(i as f64),
            Wide::F16(x) => x,
            Wide::F32(x) => F16::from_f32(x),
            Wide::F64(x) => F16::from_f64(x),
        }
    }
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bits().to_le_bytes());
    }
    fn read_le(bytes: &[u8]) -> Self {
        F16::from_bits(u16::from_le_bytes(
            bytes.try_into().expect("the element's size"),
        ))
    }
}

element_common!(bool, Bool);
impl Element for bool {
    const DTYPE: DType = DType::Bool;
    chunk_access!(Bool);
    fn to_wide(self) -> Wide {
        Wide::Bool(self)
    }
    fn from_wide(value: Wide) -> Self {
        match value {
            Wide::Bool(b) => b,
            Wide::Int(i) => i != 0,
            Wide::F16(x) => x.to_f32() != 0.0,
            Wide::F32(x) => x != 0.0,
            Wide::F64(x) => x != 0.0,
        }
    }
    fn write_le(self, out: &mut Vec<u8>) {
        out.push(u8::from(self));
    }
    fn read_le(bytes: &[u8]) -> Self {
        bytes[0] != 0
    }
}

impl DType {
    /// [`DType::size`] in constant contexts.
    const fn size_const(self) -> usize {
        match self {
            DType::Bool | DType::I8 | DType::U8 => 1,
            DType::I16 | DType::U16 | DType::F16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 => 8,
        }
    }
}

/// A scalar with a concrete dtype (constants inside compiled programs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum TypedScalar {
    Bool(bool),
    I8(i8),
    U8(u8),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    F16(F16),
    F32(f32),
    F64(f64),
}

/// Runs `$body` with `$v` bound to the value inside a [`TypedScalar`].
macro_rules! with_scalar {
    ($value:expr, $v:ident => $body:expr) => {
        match $value {
            TypedScalar::Bool($v) => $body,
            TypedScalar::I8($v) => $body,
            TypedScalar::U8($v) => $body,
            TypedScalar::I16($v) => $body,
            TypedScalar::U16($v) => $body,
            TypedScalar::I32($v) => $body,
            TypedScalar::U32($v) => $body,
            TypedScalar::I64($v) => $body,
            TypedScalar::U64($v) => $body,
            TypedScalar::F16($v) => $body,
            TypedScalar::F32($v) => $body,
            TypedScalar::F64($v) => $body,
        }
    };
}
pub(crate) use with_scalar;

impl TypedScalar {
    pub fn dtype(self) -> DType {
        with_scalar!(self, v => Element::dtype_of(v))
    }

    /// `value` as `dtype`; an integer outside the dtype's range is an error (as in
    /// numpy 2), a float becomes an integer only by an explicit cast elsewhere. A float
    /// dtype takes the nearest value (beyond its range: infinity, as numpy does).
    pub(crate) fn new(value: Scalar, dtype: DType) -> Result<TypedScalar> {
        let out_of_range =
            || ArrayError::InvalidArgument(format!("scalar {value:?} does not fit dtype {dtype}"));
        let wide = match (value, dtype) {
            (Scalar::Float(_), d) if !d.is_float() => return Err(out_of_range()),
            (Scalar::Int(_), DType::Bool) => return Err(out_of_range()),
            (Scalar::Int(i), d) if d.is_integer() => {
                let (lo, hi) = d.int_range().expect("an integer dtype");
                if !(lo..=hi).contains(&i) {
                    return Err(out_of_range());
                }
                Wide::Int(i)
            }
            // numpy converts a Python int to a float dtype through float64.
            (s, d) if d.is_float() => Wide::F64(s.as_f64()),
            (Scalar::Bool(b), _) => Wide::Bool(b),
            (Scalar::Int(i), _) => Wide::Int(i),
            (Scalar::Float(x), _) => Wide::F64(x),
        };
        Ok(match dtype {
            DType::Bool => TypedScalar::Bool(bool::from_wide(wide)),
            DType::I8 => TypedScalar::I8(i8::from_wide(wide)),
            DType::U8 => TypedScalar::U8(u8::from_wide(wide)),
            DType::I16 => TypedScalar::I16(i16::from_wide(wide)),
            DType::U16 => TypedScalar::U16(u16::from_wide(wide)),
            DType::I32 => TypedScalar::I32(i32::from_wide(wide)),
            DType::U32 => TypedScalar::U32(u32::from_wide(wide)),
            DType::I64 => TypedScalar::I64(i64::from_wide(wide)),
            DType::U64 => TypedScalar::U64(u64::from_wide(wide)),
            DType::F16 => TypedScalar::F16(F16::from_wide(wide)),
            DType::F32 => TypedScalar::F32(f32::from_wide(wide)),
            DType::F64 => TypedScalar::F64(f64::from_wide(wide)),
        })
    }

    /// The weakly typed value (an integer as an int, a float as a float).
    pub fn to_scalar(self) -> Scalar {
        match with_scalar!(self, v => v.to_wide()) {
            Wide::Bool(b) => Scalar::Bool(b),
            Wide::Int(i) => Scalar::Int(i),
            Wide::F16(x) => Scalar::Float(x.to_f64()),
            Wide::F32(x) => Scalar::Float(x.into()),
            Wide::F64(x) => Scalar::Float(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DType::*;

    #[test]
    fn typed_scalars_check_ranges() {
        assert_eq!(
            TypedScalar::new(Scalar::Int(255), U8),
            Ok(TypedScalar::U8(255))
        );
        assert!(TypedScalar::new(Scalar::Int(256), U8).is_err());
        assert!(TypedScalar::new(Scalar::Int(-1), U8).is_err());
        assert!(TypedScalar::new(Scalar::Int(-129), I8).is_err());
        assert_eq!(
            TypedScalar::new(Scalar::Int(u64::MAX.into()), U64),
            Ok(TypedScalar::U64(u64::MAX))
        );
        assert!(TypedScalar::new(Scalar::Int(1 << 64), U64).is_err());
        assert_eq!(
            TypedScalar::new(Scalar::Float(1e10), F16),
            Ok(TypedScalar::F16(crate::F16::INFINITY))
        );
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
        assert_eq!((-1i8).cast::<u64>(), u64::MAX);
        assert_eq!(u64::MAX.cast::<f32>(), 1.8446744e19);
        assert_eq!(0.1f64.cast::<crate::F16>().to_bits(), 0x2e66);
        assert_eq!(crate::F16::from_f32(2.5).cast::<i16>(), 2);
        assert_eq!(70000u32.cast::<crate::F16>(), crate::F16::INFINITY);
        for d in DType::ALL {
            assert_eq!(DType::from_code(d.code()), Some(d));
        }
        assert_eq!(i64::MAX.cast::<i64>(), i64::MAX);
    }
}
