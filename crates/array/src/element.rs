//! [`Element`]: the Rust element types of arrays, tied to their [`DType`], and the one
//! lossless intermediate ([`Wide`]) casts between them go through.

use crate::dtype::{DType, TypedScalar};
use crate::{Chunk, F16};
use ndarray::ArrayD;
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
