//! Element arithmetic as numpy defines it: integers wrap around, integer division and
//! remainder by zero give 0, shifts past the width give 0 (or -1), float division and
//! remainder follow numpy's `divmod` (Python's sign rules), float16 computes in f32 and
//! rounds once.

use super::typed::Typed;
use crate::F16;

/// Arithmetic of the numeric element types.
pub(crate) trait Num: Typed {
    fn add(self, other: Self) -> Self;
    fn sub(self, other: Self) -> Self;
    fn mul(self, other: Self) -> Self;
    fn pow(self, other: Self) -> Result<Self, String>;
    fn neg(self) -> Self;
    fn abs(self) -> Self;
    /// -1, 0 or 1 (NaN stays NaN; the zero is positive).
    fn sign(self) -> Self;
    /// numpy's `floor_divide`.
    fn floor_div(self, other: Self) -> Self;
    /// numpy's `remainder` (the sign of the divisor).
    fn rem(self, other: Self) -> Self;
}

/// The integer element types' bitwise operations.
pub(crate) trait Int: Num {
    fn not(self) -> Self;
    fn and(self, other: Self) -> Self;
    fn or(self, other: Self) -> Self;
    fn xor(self, other: Self) -> Self;
    /// `self << other`; 0 when `other` is negative or at least the width.
    fn shl(self, other: Self) -> Self;
    /// `self >> other` (arithmetic for signed types); 0 or -1 past the width.
    fn shr(self, other: Self) -> Self;
}

/// The float element types: a function given for f32 and f64 applies to either (and to
/// float16 through f32).
pub(crate) trait Float: Num {
    fn apply(self, f: fn(f32) -> f32, g: fn(f64) -> f64) -> Self;
    fn apply2(self, other: Self, f: fn(f32, f32) -> f32, g: fn(f64, f64) -> f64) -> Self;
    /// A property of the value (exactly as f64).
    fn test(self, f: fn(f64) -> bool) -> bool;
}

macro_rules! int_arith {
    ($($t:ident: $signed:literal),*) => {$(
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
            #[allow(unused_comparisons)]
            fn pow(self, other: Self) -> Result<Self, String> {
                if other < 0 {
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
                self.wrapping_neg()
            }
            #[allow(unused_comparisons)]
            fn abs(self) -> Self {
                if self < 0 { self.wrapping_neg() } else { self }
            }
            #[allow(unused_comparisons)]
            fn sign(self) -> Self {
                if self > 0 {
                    1
                } else if self < 0 {
                    (0 as $t).wrapping_sub(1)
                } else {
                    0
                }
            }
            #[allow(unused_comparisons)]
            fn floor_div(self, other: Self) -> Self {
                if other == 0 {
                    return 0;
                }
                // MIN / -1 wraps to MIN, as numpy gives.
                let q = self.wrapping_div(other);
                if self.wrapping_rem(other) != 0 && ((self < 0) != (other < 0)) {
                    q - 1
                } else {
                    q
                }
            }
            #[allow(unused_comparisons)]
            fn rem(self, other: Self) -> Self {
                if other == 0 {
                    return 0;
                }
                let r = self.wrapping_rem(other);
                if r != 0 && ((r < 0) != (other < 0)) {
                    r.wrapping_add(other)
                } else {
                    r
                }
            }
        }

        impl Int for $t {
            fn not(self) -> Self {
                !self
            }
            fn and(self, other: Self) -> Self {
                self & other
            }
            fn or(self, other: Self) -> Self {
                self | other
            }
            fn xor(self, other: Self) -> Self {
                self ^ other
            }
            fn shl(self, other: Self) -> Self {
                // Negative counts are huge as unsigned: past the width.
                let n = other as u64;
                if n < <$t>::BITS.into() { self << n } else { 0 }
            }
            #[allow(unused_comparisons)]
            fn shr(self, other: Self) -> Self {
                let n = other as u64;
                if n < <$t>::BITS.into() {
                    self >> n
                } else if $signed && self < 0 {
                    (0 as $t).wrapping_sub(1)
                } else {
                    0
                }
            }
        }
    )*};
}
int_arith!(i8: true, u8: false, i16: true, u16: false, i32: true, u32: false, i64: true,
    u64: false);

/// numpy's float `divmod` (`npy_divmod`): the floor quotient and the remainder with the
/// divisor's sign, snapped to an integral quotient; by zero, `a / b` and NaN.
macro_rules! divmod {
    ($name:ident, $t:ty) => {
        pub(crate) fn $name(a: $t, b: $t) -> ($t, $t) {
            let m = a % b;
            if b == 0.0 {
                return (a / b, m);
            }
            let mut div = (a - m) / b;
            let mut m = m;
            if m != 0.0 {
                if (b < 0.0) != (m < 0.0) {
                    m += b;
                    div -= 1.0;
                }
            } else {
                m = (0.0 as $t).copysign(b);
            }
            let q = if div != 0.0 {
                let f = div.floor();
                if div - f > 0.5 { f + 1.0 } else { f }
            } else {
                (0.0 as $t).copysign(a / b)
            };
            (q, m)
        }
    };
}
divmod!(divmod_f32, f32);
divmod!(divmod_f64, f64);

macro_rules! sign_fn {
    ($name:ident, $t:ty) => {
        fn $name(x: $t) -> $t {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else if x == 0.0 {
                0.0
            } else {
                x
            }
        }
    };
}
sign_fn!(sign_f32, f32);
sign_fn!(sign_f64, f64);

macro_rules! float_arith {
    ($($t:ident),*) => {$(
        impl Float for $t {
            fn apply(self, _f: fn(f32) -> f32, _g: fn(f64) -> f64) -> Self {
                float_arith!(@pick $t, _f, _g)(self)
            }
            fn apply2(self, other: Self, _f: fn(f32, f32) -> f32, _g: fn(f64, f64) -> f64) -> Self {
                float_arith!(@pick $t, _f, _g)(self, other)
            }
            fn test(self, f: fn(f64) -> bool) -> bool {
                f(f64::from(self))
            }
        }

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
            fn sign(self) -> Self {
                self.apply(sign_f32, sign_f64)
            }
            fn floor_div(self, other: Self) -> Self {
                self.apply2(other, |a, b| divmod_f32(a, b).0, |a, b| divmod_f64(a, b).0)
            }
            fn rem(self, other: Self) -> Self {
                self.apply2(other, |a, b| divmod_f32(a, b).1, |a, b| divmod_f64(a, b).1)
            }
        }
    )*};
    (@pick f32, $f:ident, $g:ident) => { $f };
    (@pick f64, $f:ident, $g:ident) => { $g };
}
float_arith!(f32, f64);

impl Float for F16 {
    fn apply(self, f: fn(f32) -> f32, _g: fn(f64) -> f64) -> Self {
        F16::from_f32(f(self.to_f32()))
    }
    fn apply2(self, other: Self, f: fn(f32, f32) -> f32, _g: fn(f64, f64) -> f64) -> Self {
        F16::from_f32(f(self.to_f32(), other.to_f32()))
    }
    fn test(self, f: fn(f64) -> bool) -> bool {
        f(self.to_f64())
    }
}

impl Num for F16 {
    fn add(self, other: Self) -> Self {
        self.apply2(other, |a, b| a + b, |a, b| a + b)
    }
    fn sub(self, other: Self) -> Self {
        self.apply2(other, |a, b| a - b, |a, b| a - b)
    }
    fn mul(self, other: Self) -> Self {
        self.apply2(other, |a, b| a * b, |a, b| a * b)
    }
    fn pow(self, other: Self) -> Result<Self, String> {
        Ok(self.apply2(other, f32::powf, f64::powf))
    }
    fn neg(self) -> Self {
        F16::from_bits(self.to_bits() ^ 0x8000)
    }
    fn abs(self) -> Self {
        F16::from_bits(self.to_bits() & 0x7fff)
    }
    fn sign(self) -> Self {
        self.apply(sign_f32, sign_f64)
    }
    fn floor_div(self, other: Self) -> Self {
        self.apply2(other, |a, b| divmod_f32(a, b).0, |a, b| divmod_f64(a, b).0)
    }
    fn rem(self, other: Self) -> Self {
        self.apply2(other, |a, b| divmod_f32(a, b).1, |a, b| divmod_f64(a, b).1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn integer_division_floors_and_survives_zero() {
        // Values numpy 2.4 printed.
        assert_eq!(Num::floor_div(-7i32, 2), -4);
        assert_eq!(Num::rem(-7i32, 2), 1);
        assert_eq!(Num::rem(-7i32, 3), 2);
        assert_eq!(Num::rem(7i32, -3), -2);
        assert_eq!(Num::floor_div(7i64, 0), 0);
        assert_eq!(Num::rem(7i64, 0), 0);
        assert_eq!(Num::floor_div(i8::MIN, -1), i8::MIN);
        assert_eq!(Num::rem(i8::MIN, -1), 0);
        assert_eq!(Num::floor_div(200u8, 7), 28);
        assert_eq!(Num::sign(-3i8), -1);
        assert_eq!(Num::sign(5u8), 1);
    }

    #[test]
    fn shifts_past_the_width() {
        assert_eq!(Int::shl(1i8, 9), 0);
        assert_eq!(Int::shl(1i64, -1), 0);
        assert_eq!(Int::shr(-128i8, 9), -1);
        assert_eq!(Int::shr(-8i8, -1), -1);
        assert_eq!(Int::shr(200u8, 1), 100);
        assert_eq!(Int::shl(1u8, 8), 0);
        assert_eq!(Int::shr(-3i64, 64), -1);
    }

    #[test]
    fn float_division_follows_numpy_divmod() {
        // Values numpy 2.4 printed.
        let cases = [
            (5.0, -0.0, f64::NEG_INFINITY, f64::NAN),
            (-5.0, 0.0, f64::NEG_INFINITY, f64::NAN),
            (5.0, f64::INFINITY, 0.0, 5.0),
            (-5.0, f64::INFINITY, -1.0, f64::INFINITY),
            (5.0, f64::NEG_INFINITY, -1.0, f64::NEG_INFINITY),
            (0.0, -3.0, -0.0, -0.0),
            (-7.5, 2.0, -4.0, 0.5),
            (7.5, -2.0, -4.0, -0.5),
            (f64::INFINITY, 2.0, f64::NAN, f64::NAN),
        ];
        for (a, b, q, r) in cases {
            let (gq, gr) = divmod_f64(a, b);
            let same = |x: f64, y: f64| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan());
            assert!(same(gq, q), "{a} // {b}: {gq}, expected {q}");
            assert!(same(gr, r), "{a} % {b}: {gr}, expected {r}");
        }
        assert_eq!(Num::sign(-0.0f64).to_bits(), 0.0f64.to_bits());
        assert!(Num::sign(f32::NAN).is_nan());
    }
}
