//! Typed element operations behind dynamically typed buffers: what the program
//! evaluator runs on each tile of elements.

use crate::F16;
pub(crate) use crate::chunk::ChunkElement;
use crate::dtype::DType;

/// A tile of values of one dtype.
#[derive(Debug, Clone)]
pub(crate) enum Buf {
    Bool(Vec<bool>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    I16(Vec<i16>),
    U16(Vec<u16>),
    I32(Vec<i32>),
    U32(Vec<u32>),
    I64(Vec<i64>),
    U64(Vec<u64>),
    F16(Vec<F16>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Buf {
    pub fn with_capacity(dtype: DType, capacity: usize) -> Buf {
        for_dtype!(dtype, T => T::wrap_buf(Vec::with_capacity(capacity)))
    }

    pub fn dtype(&self) -> DType {
        macro_rules! dtype_of {
            ($($variant:ident),*) => {
                match self { $(Buf::$variant(_) => DType::$variant,)* }
            };
        }
        dtype_of!(Bool, I8, U8, I16, U16, I32, U32, I64, U64, F16, F32, F64)
    }
}

pub(crate) use crate::dispatch::{dispatch, for_dtype, for_float, for_numeric};

/// Access to the typed contents of [`Buf`] (and, by [`ChunkElement`], of chunk views).
pub(crate) trait Typed: ChunkElement {
    fn vec(buf: &Buf) -> Option<&Vec<Self>>;
    fn vec_mut(buf: &mut Buf) -> Option<&mut Vec<Self>>;
    fn wrap_buf(v: Vec<Self>) -> Buf;
}

macro_rules! typed {
    ($($t:ty => $variant:ident),*) => {$(
        impl Typed for $t {
            fn vec(buf: &Buf) -> Option<&Vec<Self>> {
                match buf {
                    Buf::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn vec_mut(buf: &mut Buf) -> Option<&mut Vec<Self>> {
                match buf {
                    Buf::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn wrap_buf(v: Vec<Self>) -> Buf {
                Buf::$variant(v)
            }
        }
    )*};
}
typed!(bool => Bool, i8 => I8, u8 => U8, i16 => I16, u16 => U16, i32 => I32, u32 => U32,
    i64 => I64, u64 => U64, F16 => F16, f32 => F32, f64 => F64);

/// The larger of two values; NaN if either is NaN; of two equal values the second
/// (numpy's `maximum`: `maximum(0.0, -0.0)` is `-0.0`).
pub(crate) fn maximum<T: PartialOrd + Copy>(a: T, b: T) -> T {
    #[allow(clippy::eq_op)] // a != a is the generic NaN test
    if a != a || (b == b && a > b) { a } else { b }
}

/// The smaller of two values; NaN if either is NaN; of two equal values the second
/// (numpy's `minimum`).
pub(crate) fn minimum<T: PartialOrd + Copy>(a: T, b: T) -> T {
    #[allow(clippy::eq_op)] // a != a is the generic NaN test
    if a != a || (b == b && a < b) { a } else { b }
}

pub(crate) use super::arith::{Float, Int, Num};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_propagates_through_maximum_and_minimum() {
        assert!(maximum(f64::NAN, 1.0).is_nan());
        assert!(maximum(1.0, f64::NAN).is_nan());
        assert!(minimum(f32::NAN, 1.0).is_nan());
        assert_eq!(maximum(2, 3), 3);
        assert_eq!(minimum(2, 3), 2);
        assert!(maximum(true, false));
    }
}
