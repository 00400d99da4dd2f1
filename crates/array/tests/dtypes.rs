//! Property test over every pair of dtypes: a binary operation between two arrays (or an
//! array and a weak scalar) has numpy's result dtype, written out here as a table, and
//! the values of computing in that dtype (wrapping integers, float32 rounding).

mod common;

use common::{runner, source};
use doreisa_array::{Array, Chunk, DType, F16, Grid, Operand, Scalar};
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;

/// numpy's `result_type` for two arrays: `TABLE[a][b]` for dtypes in `DType::ALL`
/// order, as numpy 2.4 printed it.
const TABLE: [[DType; 12]; 12] = {
    use DType::*;
    [
        [Bool, I8, U8, I16, U16, I32, U32, I64, U64, F16, F32, F64],
        [I8, I8, I16, I16, I32, I32, I64, I64, F64, F16, F32, F64],
        [U8, I16, U8, I16, U16, I32, U32, I64, U64, F16, F32, F64],
        [I16, I16, I16, I16, I32, I32, I64, I64, F64, F32, F32, F64],
        [U16, I32, U16, I32, U16, I32, U32, I64, U64, F32, F32, F64],
        [I32, I32, I32, I32, I32, I32, I64, I64, F64, F64, F64, F64],
        [U32, I64, U32, I64, U32, I64, U32, I64, U64, F64, F64, F64],
        [I64, I64, I64, I64, I64, I64, I64, I64, F64, F64, F64, F64],
        [U64, F64, U64, F64, U64, F64, U64, F64, U64, F64, F64, F64],
        [F16, F16, F16, F32, F32, F64, F64, F64, F64, F16, F32, F64],
        [F32, F32, F32, F32, F32, F64, F64, F64, F64, F32, F32, F64],
        [F64, F64, F64, F64, F64, F64, F64, F64, F64, F64, F64, F64],
    ]
};

fn index(d: DType) -> usize {
    DType::ALL.iter().position(|&x| x == d).unwrap()
}

fn numpy_result(a: DType, b: DType) -> DType {
    TABLE[index(a)][index(b)]
}

/// numpy 2's computation dtype for `op` between an array and a weak scalar; `None`
/// when the scalar does not fit the array's dtype and `op` needs it to (true division
/// and comparisons take an out-of-range integer by value).
fn numpy_weak(a: DType, s: Scalar, op: Op) -> Option<DType> {
    match (a, s) {
        (DType::Bool, Scalar::Int(_)) => Some(DType::I64),
        (a, Scalar::Int(v)) if a.int_range().is_some_and(|(lo, hi)| v < lo || v > hi) => {
            matches!(op, Op::Div | Op::Lt | Op::Eq).then_some(a)
        }
        (a, Scalar::Float(_)) if !a.is_float() => Some(DType::F64),
        (a, _) => Some(a),
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Lt,
    Eq,
}

/// The element types, as the test computes with them.
trait Elem: Copy + PartialOrd {
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn arith(op: Op, x: Self, y: Self) -> Self;
}

macro_rules! int_elem {
    ($t:ty) => {
        impl Elem for $t {
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn arith(op: Op, x: Self, y: Self) -> Self {
                match op {
                    Op::Add => x.wrapping_add(y),
                    Op::Sub => x.wrapping_sub(y),
                    Op::Mul => x.wrapping_mul(y),
                    Op::Max => x.max(y),
                    _ => unreachable!(),
                }
            }
        }
    };
}
int_elem!(i8);
int_elem!(u8);
int_elem!(i16);
int_elem!(u16);
int_elem!(i32);
int_elem!(u32);
int_elem!(i64);
int_elem!(u64);

macro_rules! float_elem {
    ($t:ty) => {
        impl Elem for $t {
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn arith(op: Op, x: Self, y: Self) -> Self {
                match op {
                    Op::Add => x + y,
                    Op::Sub => x - y,
                    Op::Mul => x * y,
                    Op::Div => x / y,
                    Op::Max if x.is_nan() || y.is_nan() => <$t>::NAN,
                    Op::Max => x.max(y),
                    _ => unreachable!(),
                }
            }
        }
    };
}
float_elem!(f32);
float_elem!(f64);

/// float16 computes in float32 and rounds once.
impl Elem for F16 {
    fn from_f64(v: f64) -> Self {
        F16::from_f64(v)
    }
    fn to_f64(self) -> f64 {
        F16::to_f64(self)
    }
    fn arith(op: Op, x: Self, y: Self) -> Self {
        F16::from_f32(f32::arith(op, x.to_f32(), y.to_f32()))
    }
}

impl Elem for bool {
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    fn to_f64(self) -> f64 {
        f64::from(u8::from(self))
    }
    fn arith(op: Op, x: Self, y: Self) -> Self {
        match op {
            Op::Max | Op::Add => x || y,
            Op::Mul => x && y,
            _ => unreachable!("no subtraction of bools"),
        }
    }
}

/// `op(x, y)` computed in `T`, as f64. Comparisons are by value: the operands of this
/// test are exact in every dtype they are compared in.
fn apply<T: Elem>(op: Op, x: f64, y: f64) -> f64 {
    match op {
        Op::Lt => f64::from(u8::from(x < y)),
        Op::Eq => f64::from(u8::from(x == y)),
        _ => T::arith(op, T::from_f64(x), T::from_f64(y)).to_f64(),
    }
}

fn apply_in(dtype: DType, op: Op, x: f64, y: f64) -> f64 {
    match dtype {
        DType::Bool => apply::<bool>(op, x, y),
        DType::I8 => apply::<i8>(op, x, y),
        DType::U8 => apply::<u8>(op, x, y),
        DType::I16 => apply::<i16>(op, x, y),
        DType::U16 => apply::<u16>(op, x, y),
        DType::I32 => apply::<i32>(op, x, y),
        DType::U32 => apply::<u32>(op, x, y),
        DType::I64 => apply::<i64>(op, x, y),
        DType::U64 => apply::<u64>(op, x, y),
        DType::F16 => apply::<F16>(op, x, y),
        DType::F32 => apply::<f32>(op, x, y),
        DType::F64 => apply::<f64>(op, x, y),
    }
}

/// An i8 as an element of `dtype`, held exactly as f64 (unsigned dtypes wrap it to a
/// byte).
fn as_dtype(v: i8, dtype: DType) -> f64 {
    match dtype {
        DType::Bool => f64::from(u8::from(v != 0)),
        d if d.int_range().is_some_and(|(lo, _)| lo == 0) => f64::from(v as u8),
        _ => f64::from(v),
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Add),
        Just(Op::Sub),
        Just(Op::Mul),
        Just(Op::Div),
        Just(Op::Max),
        Just(Op::Lt),
        Just(Op::Eq)
    ]
}

fn call(op: Op, a: &Array, b: Operand) -> doreisa_array::Result<Array> {
    match op {
        Op::Add => a.add(b),
        Op::Sub => a.sub(b),
        Op::Mul => a.mul(b),
        Op::Div => a.div(b),
        Op::Max => a.maximum(b),
        Op::Lt => a.lt(b),
        Op::Eq => a.eq(b),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn binary_operations_promote_and_compute_like_numpy(
        da in proptest::sample::select(DType::ALL.to_vec()),
        db in proptest::sample::select(DType::ALL.to_vec()),
        op in op(),
        xs in proptest::collection::vec(-8i8..=8, 6),
        ys in proptest::collection::vec(-8i8..=8, 6),
        scalar in proptest::option::of(prop_oneof![
            (-8i128..=8).prop_map(Scalar::Int),
            (-8i64..=8).prop_map(|v| Scalar::Float(v as f64 / 4.0)),
        ]),
        chunk_a in 1usize..=6,
        chunk_b in 1usize..=6,
    ) {
        let r = runner();
        let x: Vec<f64> = xs.iter().map(|&v| as_dtype(v, da)).collect();
        let y: Vec<f64> = ys.iter().map(|&v| as_dtype(v, db)).collect();
        let make = |name: &str, vals: &[f64], dtype: DType, chunk: usize| {
            let value = Chunk::F64(ArrayD::from_shape_vec(IxDyn(&[6]), vals.to_vec()).unwrap()).cast(dtype);
            source(&r, name, value, Grid::regular(&[6], &[chunk]).unwrap())
        };
        let a = make("a", &x, da, chunk_a);
        // The other operand and numpy's dtype for the operation.
        let (other, ys_exact, comp) = match scalar {
            Some(s) => {
                let v = match s { Scalar::Float(f) => f, Scalar::Int(i) => i as f64, Scalar::Bool(_) => unreachable!() };
                (Operand::Scalar(s), vec![v; 6], numpy_weak(da, s, op))
            }
            None => (Operand::Array(make("b", &y, db, chunk_b)), y.clone(), Some(numpy_result(da, db))),
        };
        let result = call(op, &a, other);
        let Some(mut comp) = comp else {
            prop_assert!(result.is_err(), "a scalar out of range must be refused");
            return Ok(());
        };
        if matches!(op, Op::Div) && !comp.is_float() {
            comp = DType::F64;
        }
        if comp == DType::Bool && matches!(op, Op::Sub) {
            prop_assert!(result.is_err(), "bools do not subtract");
            return Ok(());
        }
        let result = result.unwrap();
        let out_dtype = if matches!(op, Op::Lt | Op::Eq) { DType::Bool } else { comp };
        prop_assert_eq!(result.dtype(), out_dtype);
        let got = result.compute(&r).unwrap();
        prop_assert_eq!(got.dtype(), out_dtype);
        let got = got.to_array::<f64>();
        for i in 0..6 {
            let want = apply_in(comp, op, x[i], ys_exact[i]);
            let g = got[[i]];
            prop_assert!(g == want || (g.is_nan() && want.is_nan()),
                "{:?}({} {}, {} {}) in {}: got {}, expected {}", op, da, x[i], db, ys_exact[i], comp, g, want);
        }
    }
}
