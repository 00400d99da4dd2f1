//! Typed element operations behind dynamically typed buffers: what the program
//! evaluator runs on each tile of elements.

use crate::chunk::ViewChunk;
use crate::dtype::{DType, Element};
use ndarray::ArrayViewD;

/// A tile of values of one dtype.
#[derive(Debug, Clone)]
pub(crate) enum Buf {
    Bool(Vec<bool>),
    U8(Vec<u8>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Buf {
    pub fn with_capacity(dtype: DType, capacity: usize) -> Buf {
        match dtype {
            DType::Bool => Buf::Bool(Vec::with_capacity(capacity)),
            DType::U8 => Buf::U8(Vec::with_capacity(capacity)),
            DType::I32 => Buf::I32(Vec::with_capacity(capacity)),
            DType::I64 => Buf::I64(Vec::with_capacity(capacity)),
            DType::F32 => Buf::F32(Vec::with_capacity(capacity)),
            DType::F64 => Buf::F64(Vec::with_capacity(capacity)),
        }
    }
}

/// Runs `$body` with the type alias `$t` set to the element type of `$dtype`.
macro_rules! for_dtype {
    ($dtype:expr, $t:ident => $body:expr) => {
        match $dtype {
            $crate::DType::Bool => {
                type $t = bool;
                $body
            }
            $crate::DType::U8 => {
                type $t = u8;
                $body
            }
            $crate::DType::I32 => {
                type $t = i32;
                $body
            }
            $crate::DType::I64 => {
                type $t = i64;
                $body
            }
            $crate::DType::F32 => {
                type $t = f32;
                $body
            }
            $crate::DType::F64 => {
                type $t = f64;
                $body
            }
        }
    };
}

/// As [`for_dtype`] over the numeric dtypes; `$other` for bool.
macro_rules! for_numeric {
    ($dtype:expr, $t:ident => $body:expr, $other:expr) => {
        match $dtype {
            $crate::DType::Bool => $other,
            $crate::DType::U8 => {
                type $t = u8;
                $body
            }
            $crate::DType::I32 => {
                type $t = i32;
                $body
            }
            $crate::DType::I64 => {
                type $t = i64;
                $body
            }
            $crate::DType::F32 => {
                type $t = f32;
                $body
            }
            $crate::DType::F64 => {
                type $t = f64;
                $body
            }
        }
    };
}

/// As [`for_dtype`] over the float dtypes; `$other` for the rest.
macro_rules! for_float {
    ($dtype:expr, $t:ident => $body:expr, $other:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $t = f32;
                $body
            }
            $crate::DType::F64 => {
                type $t = f64;
                $body
            }
            _ => $other,
        }
    };
}

pub(crate) use {for_dtype, for_float, for_numeric};

/// Access to the typed contents of [`Buf`] and [`ViewChunk`].
pub(crate) trait Typed: Element {
    fn vec(buf: &Buf) -> Option<&Vec<Self>>;
    fn vec_mut(buf: &mut Buf) -> Option<&mut Vec<Self>>;
    fn view<'a, 'b>(chunk: &'b ViewChunk<'a>) -> Option<&'b ArrayViewD<'a, Self>>;
    fn wrap_view(view: ArrayViewD<'_, Self>) -> ViewChunk<'_>;
}

macro_rules! typed {
    ($t:ty, $variant:ident) => {
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
            fn view<'a, 'b>(chunk: &'b ViewChunk<'a>) -> Option<&'b ArrayViewD<'a, Self>> {
                match chunk {
                    ViewChunk::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn wrap_view(view: ArrayViewD<'_, Self>) -> ViewChunk<'_> {
                ViewChunk::$variant(view)
            }
        }
    };
}
typed!(bool, Bool);
typed!(u8, U8);
typed!(i32, I32);
typed!(i64, I64);
typed!(f32, F32);
typed!(f64, F64);

/// The larger of two values; NaN if either is NaN (numpy's `maximum`).
pub(crate) fn maximum<T: PartialOrd + Copy>(a: T, b: T) -> T {
    #[allow(clippy::eq_op)] // a != a is the generic NaN test
    if a != a || (b == b && a >= b) { a } else { b }
}

/// The smaller of two values; NaN if either is NaN (numpy's `minimum`).
pub(crate) fn minimum<T: PartialOrd + Copy>(a: T, b: T) -> T {
    #[allow(clippy::eq_op)] // a != a is the generic NaN test
    if a != a || (b == b && a <= b) { a } else { b }
}

/// Arithmetic of the numeric element types (integers wrap around, as in numpy).
pub(crate) trait Num: Typed {
    fn add(self, other: Self) -> Self;
    fn sub(self, other: Self) -> Self;
    fn mul(self, other: Self) -> Self;
    fn pow(self, other: Self) -> Result<Self, String>;
    fn neg(self) -> Self;
    fn abs(self) -> Self;
}

/// Functions of the float element types.
pub(crate) trait Float: Num {
    fn div(self, other: Self) -> Self;
    fn sqrt(self) -> Self;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
}

macro_rules! int_num {
    ($t:ty, $neg:expr, $abs:expr, $negative:expr) => {
        impl Num for $t {
            fn add(self, other: Self) -> Self {
                self.wrapping_add(other)
            }
            fn sub(self, other: Self) -> Self {
                self.wrapping_sub(other)
            }
            fn mul(self, other: Self) -> Self {
                self.wrapping_mul(other)
            }
            fn pow(self, other: Self) -> Result<Self, String> {
                if $negative(other) {
                    return Err("integers to negative integer powers are not allowed".into());
                }
                let (mut base, mut exp, mut acc) = (self, other as u64, 1 as $t);
                while exp > 0 {
                    if exp & 1 == 1 {
                        acc = acc.wrapping_mul(base);
                    }
                    base = base.wrapping_mul(base);
                    exp >>= 1;
                }
                Ok(acc)
            }
            fn neg(self) -> Self {
                $neg(self)
            }
            fn abs(self) -> Self {
                $abs(self)
            }
        }
    };
}
int_num!(u8, u8::wrapping_neg, |v| v, |_| false);
int_num!(i32, i32::wrapping_neg, i32::wrapping_abs, |v| v < 0);
int_num!(i64, i64::wrapping_neg, i64::wrapping_abs, |v| v < 0);

macro_rules! float_num {
    ($t:ty) => {
        impl Num for $t {
            fn add(self, other: Self) -> Self {
                self + other
            }
            fn sub(self, other: Self) -> Self {
                self - other
            }
            fn mul(self, other: Self) -> Self {
                self * other
            }
            fn pow(self, other: Self) -> Result<Self, String> {
                Ok(self.powf(other))
            }
            fn neg(self) -> Self {
                -self
            }
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
        }
        impl Float for $t {
            fn div(self, other: Self) -> Self {
                self / other
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            fn sin(self) -> Self {
                <$t>::sin(self)
            }
            fn cos(self) -> Self {
                <$t>::cos(self)
            }
        }
    };
}
float_num!(f32);
float_num!(f64);

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

    #[test]
    fn integer_arithmetic_wraps() {
        assert_eq!(Num::add(200u8, 100), 44);
        assert_eq!(Num::abs(i32::MIN), i32::MIN);
        assert_eq!(Num::pow(2i64, 10), Ok(1024));
        assert_eq!(Num::pow(2u8, 9), Ok(0));
        assert_eq!(Num::pow(3i32, 0), Ok(1));
        assert!(Num::pow(2i32, -1).is_err());
        assert_eq!(Num::neg(1u8), 255);
    }
}
