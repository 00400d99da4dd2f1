//! numpy 2's rules for Python scalars (NEP 50) where they are subtle: logical operations
//! take any scalar as its truth value, comparisons take an out-of-range integer by value,
//! true division takes it as a float, and `clip` ignores a bound that cannot clip. The
//! expected values were printed by numpy 2.4.

mod common;

use common::{runner, source};
use doreisa_array::{Array, Chunk, DType, Grid, Scalar};
use doreisa_sched::LocalRunner;
use ndarray::{ArrayD, IxDyn};

fn array<T: doreisa_array::Element>(r: &LocalRunner, name: &str, values: &[T]) -> Array {
    let value = ArrayD::from_shape_vec(IxDyn(&[values.len()]), values.to_vec()).unwrap();
    source(
        r,
        name,
        Chunk::from(value),
        Grid::regular(&[values.len()], &[2]).unwrap(),
    )
}

fn bools(r: &LocalRunner, a: doreisa_array::Result<Array>) -> Vec<bool> {
    let a = a.unwrap();
    assert_eq!(a.dtype(), DType::Bool);
    a.compute(r)
        .unwrap()
        .into_array::<bool>()
        .unwrap()
        .into_raw_vec_and_offset()
        .0
}

fn values<T: doreisa_array::Element>(r: &LocalRunner, a: &Array) -> Vec<T> {
    a.compute(r)
        .unwrap()
        .into_array::<T>()
        .unwrap()
        .into_raw_vec_and_offset()
        .0
}

#[test]
fn logical_operations_take_any_scalar_as_its_truth_value() {
    let r = runner();
    let ints = array(&r, "i", &[0i32, 1, -3]);
    let bytes = array(&r, "u", &[0u8, 1, 200]);
    let floats = array(&r, "f", &[0f32, 1.5, f32::NAN]);
    let flags = array(&r, "b", &[true, false, true]);
    let (t, f) = (true, false);
    assert_eq!(bools(&r, ints.logical_and(1000)), [f, t, t]);
    assert_eq!(bools(&r, ints.logical_and(2.5)), [f, t, t]);
    assert_eq!(bools(&r, flags.logical_or(0)), [t, f, t]);
    assert_eq!(bools(&r, flags.logical_or(0.0)), [t, f, t]);
    assert_eq!(bools(&r, flags.logical_and(2)), [t, f, t]);
    assert_eq!(bools(&r, bytes.logical_and(-1)), [f, t, t]);
    assert_eq!(
        bools(&r, floats.logical_and(1e300)),
        [f, t, t],
        "NaN is true"
    );
    assert_eq!(bools(&r, ints.logical_xor(0.5)), [t, f, f]);
    assert_eq!(bools(&r, floats.logical_or(f64::NAN)), [t, t, t]);
    assert_eq!(bools(&r, ints.logical_and(&floats)), [f, t, t]);
}

#[test]
fn comparisons_take_out_of_range_integers_by_value() {
    let r = runner();
    let bytes = array(&r, "u", &[0u8, 1, 200]);
    let ints = array(&r, "i", &[0i32, 1, -3]);
    let longs = array(&r, "l", &[0i64, 1, -3]);
    let big = Scalar::Int(1 << 70);
    assert_eq!(bools(&r, bytes.lt(300)), [true; 3]);
    assert_eq!(bools(&r, bytes.le(300)), [true; 3]);
    assert_eq!(bools(&r, bytes.eq(-1)), [false; 3]);
    assert_eq!(bools(&r, bytes.ne(-1)), [true; 3]);
    assert_eq!(bools(&r, bytes.gt(-1)), [true; 3]);
    assert_eq!(bools(&r, bytes.ge(256)), [false; 3]);
    assert_eq!(bools(&r, ints.eq(1i64 << 40)), [false; 3]);
    assert_eq!(bools(&r, longs.lt(big)), [true; 3]);
    assert_eq!(bools(&r, longs.gt(Scalar::Int(-(1 << 70)))), [true; 3]);
    assert_eq!(bools(&r, longs.ne(Scalar::Int(1 << 63))), [true; 3]);
    // The result has the array's shape (broadcast with nothing else).
    assert_eq!(bytes.lt(300).unwrap().shape(), &[3]);
    // A bool array is compared as int64: a scalar beyond it is refused, as numpy does.
    let flags = array(&r, "b", &[true, false]);
    assert!(flags.lt(big).is_err());
    assert_eq!(bools(&r, flags.lt(2)), [true, true]);
}

#[test]
fn true_division_takes_an_out_of_range_integer_as_a_float() {
    let r = runner();
    let bytes = array(&r, "u", &[0u8, 1, 200]);
    let q = bytes.div(300).unwrap();
    assert_eq!(q.dtype(), DType::F64);
    assert_eq!(values::<f64>(&r, &q), [0.0, 1.0 / 300.0, 200.0 / 300.0]);
    let q = bytes.div(-1).unwrap();
    let got = values::<f64>(&r, &q);
    assert_eq!(got, [-0.0, -1.0, -200.0]);
    assert!(got[0].is_sign_negative(), "0 / -1 is -0.0");
    let longs = array(&r, "l", &[0i64, 1, -3]);
    let q = longs.div(Scalar::Int(1 << 70)).unwrap();
    assert_eq!(
        values::<f64>(&r, &q),
        [0.0, 1.0 / 2f64.powi(70), -3.0 / 2f64.powi(70)]
    );
    // Other arithmetic still refuses a scalar that does not fit.
    assert!(bytes.add(300).is_err());
    assert!(bytes.maximum(-1).is_err());
    assert!(bytes.pow(-1).is_err());
}

#[test]
fn clip_ignores_a_bound_that_cannot_clip() {
    let r = runner();
    let bytes = array(&r, "u", &[0u8, 1, 200]);
    let ints = array(&r, "i", &[0i32, 1, -3]);
    let c = bytes.clip(-5, 300).unwrap();
    assert_eq!(c.dtype(), DType::U8);
    assert_eq!(values::<u8>(&r, &c), [0, 1, 200]);
    assert_eq!(
        values::<u8>(&r, &bytes.clip(10, 300).unwrap()),
        [10, 10, 200]
    );
    assert_eq!(values::<u8>(&r, &bytes.clip(-5, 100).unwrap()), [0, 1, 100]);
    let c = ints.clip(-1000, 2.5).unwrap();
    assert_eq!(c.dtype(), DType::F64);
    assert_eq!(values::<f64>(&r, &c), [0.0, 1.0, -3.0]);
    assert_eq!(values::<i32>(&r, &ints.clip(100, -100).unwrap()), [-100; 3]);
    // A bound beyond the range on the side that would clip everything is refused.
    assert!(bytes.clip(300, 400).is_err());
    assert!(bytes.clip(-10, -5).is_err());
    let floats = array(&r, "f", &[f32::NAN, -2.0, 7.0]);
    let got = values::<f32>(&r, &floats.clip(-1, 1e300).unwrap());
    assert!(got[0].is_nan());
    assert_eq!(got[1..], [-1.0, 7.0]);
}
