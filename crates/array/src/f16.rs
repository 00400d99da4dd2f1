//! [`F16`]: numpy's float16 (IEEE 754 binary16), stored as its bits. Rust has no stable
//! half-precision type; arithmetic goes through `f32` and rounds back once, as numpy's
//! float16 loops do (for `+ - * /` and `sqrt` this is the correctly rounded binary16
//! result: `f32` has more than twice binary16's precision).

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;

/// An IEEE 754 binary16 value (numpy's `float16`).
///
/// ```
/// use doreisa_array::F16;
/// let x = F16::from_f64(0.1);
/// assert_eq!(x.to_f32(), 0.099975586);
/// assert_eq!(F16::from_f32(65520.0).to_f32(), f32::INFINITY); // rounds past the largest
/// assert_eq!(F16::from_f32(65519.0).to_f32(), 65504.0);
/// ```
#[derive(Clone, Copy, Default, Serialize, Deserialize)]
#[repr(transparent)]
pub struct F16(u16);

impl F16 {
    pub const ZERO: F16 = F16(0);
    pub const ONE: F16 = F16(0x3c00);
    pub const INFINITY: F16 = F16(0x7c00);
    pub const NEG_INFINITY: F16 = F16(0xfc00);
    pub const NAN: F16 = F16(0x7e00);
    /// The largest finite value, 65504.
    pub const MAX: F16 = F16(0x7bff);
    /// The smallest finite value, -65504.
    pub const MIN: F16 = F16(0xfbff);

    /// The value with these bits.
    pub const fn from_bits(bits: u16) -> F16 {
        F16(bits)
    }

    pub const fn to_bits(self) -> u16 {
        self.0
    }

    /// The nearest binary16 value (ties to even; beyond the range, infinity).
    pub fn from_f32(x: f32) -> F16 {
        // f32 to f64 is exact, so this rounds once.
        F16::from_f64(f64::from(x))
    }

    /// The nearest binary16 value (ties to even; beyond the range, infinity), rounded
    /// once from the f64 (as numpy converts a Python float).
    pub fn from_f64(x: f64) -> F16 {
        let bits = x.to_bits();
        let sign = ((bits >> 48) & 0x8000) as u16;
        let exp = ((bits >> 52) & 0x7ff) as i32;
        let fraction = bits & ((1 << 52) - 1);
        if exp == 0x7ff {
            let nan = if fraction != 0 {
                0x0200 | ((fraction >> 42) as u16 & 0x3ff)
            } else {
                0
            };
            return F16(sign | 0x7c00 | nan);
        }
        // |x| = significand * 2^(e - 52), with the implicit bit.
        let e = exp - 1023;
        if exp == 0 || e < -25 {
            return F16(sign); // below half the smallest subnormal: zero
        }
        let significand = fraction | (1 << 52);
        // The quantum of the result: 2^-24 for subnormals, else 10 bits below e.
        let quantum = (e - 10).max(-24);
        let shift = (quantum - (e - 52)) as u32;
        let mut m = significand >> shift;
        let rest = significand & ((1u64 << shift) - 1);
        let half = 1u64 << (shift - 1);
        if rest > half || (rest == half && m & 1 == 1) {
            m += 1;
        }
        // A significand of 1024 (or 2048 after rounding up) carries into the exponent.
        let magnitude = if quantum == -24 {
            m
        } else {
            (((e + 14) as u64) << 10) + m
        };
        F16(sign | magnitude.min(0x7c00) as u16)
    }

    /// The exact value as an f32.
    pub fn to_f32(self) -> f32 {
        let sign = u32::from(self.0 & 0x8000) << 16;
        let exp = u32::from((self.0 >> 10) & 0x1f);
        let fraction = u32::from(self.0 & 0x3ff);
        match exp {
            0x1f => f32::from_bits(sign | 0x7f80_0000 | (fraction << 13)),
            0 => {
                let magnitude = fraction as f32 * f32::from_bits(0x3380_0000); // 2^-24
                if sign != 0 { -magnitude } else { magnitude }
            }
            _ => f32::from_bits(sign | ((exp + 112) << 23) | (fraction << 13)),
        }
    }

    /// The exact value as an f64.
    pub fn to_f64(self) -> f64 {
        f64::from(self.to_f32())
    }

    pub fn is_nan(self) -> bool {
        self.0 & 0x7c00 == 0x7c00 && self.0 & 0x3ff != 0
    }
}

impl PartialEq for F16 {
    /// IEEE equality: NaN is not equal to itself, `-0 == 0`.
    fn eq(&self, other: &F16) -> bool {
        self.to_f32() == other.to_f32()
    }
}

impl PartialOrd for F16 {
    fn partial_cmp(&self, other: &F16) -> Option<Ordering> {
        self.to_f32().partial_cmp(&other.to_f32())
    }
}

impl fmt::Debug for F16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_f32(), f)
    }
}

impl fmt::Display for F16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_f32(), f)
    }
}

impl From<F16> for f32 {
    fn from(x: F16) -> f32 {
        x.to_f32()
    }
}

impl From<F16> for f64 {
    fn from(x: F16) -> f64 {
        x.to_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_through_f32() {
        for bits in 0..=u16::MAX {
            let x = F16::from_bits(bits);
            let back = F16::from_f32(x.to_f32());
            if x.is_nan() {
                assert!(back.is_nan(), "{bits:#x}");
            } else {
                assert_eq!(back.to_bits(), bits, "{bits:#x}");
            }
        }
    }

    /// The nearest value, found by search over every finite binary16 value.
    fn nearest(x: f64) -> u16 {
        let mut best = 0u16;
        let mut best_err = f64::INFINITY;
        for bits in 0..=0x7bffu16 {
            let v = F16::from_bits(bits).to_f64();
            let err = (v - x.abs()).abs();
            if err < best_err || (err == best_err && bits & 1 == 0) {
                (best, best_err) = (bits, err);
            }
        }
        // Past the largest finite value by half a step or more: infinity.
        if x.abs() >= 65520.0 {
            best = 0x7c00;
        }
        best | if x.is_sign_negative() { 0x8000 } else { 0 }
    }

    #[test]
    fn rounding_is_to_nearest_even_everywhere() {
        let samples = [
            0.0,
            -0.0,
            0.1,
            1.0 / 3.0,
            1.0 + 1.0 / 2048.0,
            1.0 + 3.0 / 2048.0,
            2049.0,
            2051.0,
            65504.0,
            65519.99,
            65520.0,
            1e6,
            6e-8,
            2.9802322387695312e-8,
            3e-8,
            5.960464477539063e-8,
            8.940696716308594e-8,
            6.097555160522461e-5,
            6.103515625e-5,
            -7.5,
            1e-300,
        ];
        for x in samples {
            assert_eq!(F16::from_f64(x).to_bits(), nearest(x), "{x}");
            assert_eq!(F16::from_f64(-x).to_bits(), nearest(-x), "{}", -x);
        }
        assert!(F16::from_f64(f64::NAN).is_nan());
        assert_eq!(F16::from_f64(f64::INFINITY), F16::INFINITY);
        assert_eq!(F16::from_f64(f64::NEG_INFINITY), F16::NEG_INFINITY);
    }

    #[test]
    fn comparisons_are_ieee() {
        assert!(F16::NAN != F16::NAN);
        assert_eq!(F16::from_f32(-0.0), F16::ZERO);
        assert!(F16::ONE > F16::ZERO);
        assert!(F16::NAN.partial_cmp(&F16::ONE).is_none());
        assert_eq!(F16::MAX.to_f32(), 65504.0);
    }
}
