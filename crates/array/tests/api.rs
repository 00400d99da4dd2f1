//! The public API on small examples: dtypes and promotion, broadcasting, reductions
//! and their options, rechunking, map_blocks, persist, and the errors of bad input.

mod common;

use bytes::Bytes;
use common::{f64s, iota, iota_source, runner, source};
use doreisa_array::{
    Array, ArrayError, Chunk, DType, Grid, ReduceOptions, Reduction, Scalar, SliceArg, kernels,
};
use doreisa_sched::{GraphRunner, KernelRegistry, LocalRunner};
use ndarray::{ArrayD, IxDyn, array};

#[test]
fn dtypes_promote_like_numpy() {
    let r = runner();
    let bytes = source(
        &r,
        "u",
        Chunk::U8(array![[1u8, 2], [250, 4]].into_dyn()),
        Grid::regular(&[2, 2], &[1, 2]).unwrap(),
    );
    let ints = source(
        &r,
        "i",
        Chunk::I32(array![[10, 20], [30, 40]].into_dyn()),
        Grid::regular(&[2, 2], &[2, 1]).unwrap(),
    );
    // A weak int keeps uint8 (and wraps); a float makes float64.
    let wrapped = (&bytes + 10).unwrap();
    assert_eq!(wrapped.dtype(), DType::U8);
    let got = wrapped.compute(&r).unwrap().into_array::<u8>().unwrap();
    assert_eq!(got, array![[11u8, 12], [4, 14]].into_dyn());
    assert_eq!((&bytes * 0.5).unwrap().dtype(), DType::F64);
    assert!(bytes.add(300).is_err(), "300 does not fit uint8");
    // uint8 with int32 is int32; true division is float64.
    let sum = (&bytes + &ints).unwrap();
    assert_eq!(sum.dtype(), DType::I32);
    let got = sum.compute(&r).unwrap().into_array::<i32>().unwrap();
    assert_eq!(got, array![[11, 22], [280, 44]].into_dyn());
    let ratio = (&ints / 4).unwrap();
    assert_eq!(ratio.dtype(), DType::F64);
    assert_eq!(
        f64s(ratio.compute(&r).unwrap()),
        array![[2.5, 5.0], [7.5, 10.0]].into_dyn()
    );
    // float32 stays float32 with weak floats; its math stays float32.
    let single = ints.astype(DType::F32).unwrap();
    let root = (&single * 0.5).unwrap().sqrt().unwrap();
    assert_eq!(root.dtype(), DType::F32);
    let got = root.compute(&r).unwrap().into_array::<f32>().unwrap();
    assert_eq!(got[[1, 1]], 20f32.sqrt());
    // Math on integers computes as float64; comparisons give bool.
    assert_eq!(ints.sqrt().unwrap().dtype(), DType::F64);
    assert_eq!(ints.gt(&bytes).unwrap().dtype(), DType::Bool);
}

#[test]
fn bool_masks_where_and_counts() {
    let r = runner();
    let x = iota_source(&r, "x", &[3, 4], &[2, 3]);
    let mask = x.ge(4.0).unwrap().logical_and(x.lt(9.0).unwrap()).unwrap();
    assert_eq!(mask.dtype(), DType::Bool);
    let picked = Array::where_(&mask, &x, -1.0).unwrap();
    let got = f64s(picked.compute(&r).unwrap());
    let expected = iota(&[3, 4]).mapv(|v| if (4.0..9.0).contains(&v) { v } else { -1.0 });
    assert_eq!(got, expected);
    // Summing a mask counts its true elements, as int64.
    let n = mask.sum().unwrap();
    assert_eq!(n.dtype(), DType::I64);
    assert_eq!(n.compute(&r).unwrap().scalar::<i64>(), Ok(5));
    assert_eq!(
        mask.logical_not()
            .unwrap()
            .sum()
            .unwrap()
            .compute(&r)
            .unwrap()
            .item(),
        Ok(Scalar::Int(7))
    );
    // where with two scalars: the scalars' own kinds decide the dtype.
    let w = Array::where_(&mask, 1, 0).unwrap();
    assert_eq!(w.dtype(), DType::I64);
    // count skips NaN.
    let nan = (&x.sub(5.0).unwrap().sqrt().unwrap() * 1.0).unwrap();
    assert_eq!(
        nan.count().unwrap().compute(&r).unwrap().scalar::<i64>(),
        Ok(7)
    );
    assert!(
        nan.max()
            .unwrap()
            .compute(&r)
            .unwrap()
            .scalar::<f64>()
            .unwrap()
            .is_nan()
    );
}

#[test]
fn arrays_of_different_shapes_and_chunkings_broadcast() {
    let r = runner();
    let x = iota_source(&r, "x", &[4, 6], &[3, 4]);
    let row = iota_source(&r, "row", &[6], &[2]);
    let col = iota_source(&r, "col", &[4, 1], &[1, 1]);
    let y = (&(&x + &row).unwrap() * &col).unwrap();
    assert_eq!(y.shape(), &[4, 6]);
    // Refined chunking: rows cut at 1, 2, 3 (col) and 3 (x); columns at 2, 4 (row), 4 (x).
    assert_eq!(y.chunks(), &[vec![1, 1, 1, 1], vec![2, 2, 2]]);
    let got = f64s(y.compute(&r).unwrap());
    let (xv, rv, cv) = (iota(&[4, 6]), iota(&[6]), iota(&[4, 1]));
    assert_eq!(got, (&(&xv + &rv) * &cv).into_dyn());
    assert!(x.add(iota_source(&r, "bad", &[5], &[5])).is_err());
    let b = row.broadcast_to(&[3, 6]).unwrap();
    assert_eq!(
        f64s(b.compute(&r).unwrap())
            .slice(ndarray::s![2, ..])
            .to_vec(),
        rv.iter().copied().collect::<Vec<_>>()
    );
}

#[test]
fn reductions_over_axes_with_options() {
    let r = runner();
    let x = iota_source(&r, "x", &[4, 3, 5], &[3, 2, 2]);
    let v = iota(&[4, 3, 5]);
    let s = x.sum_axes(&[0, 2]).unwrap();
    assert_eq!(s.shape(), &[3]);
    let expected = v.sum_axis(ndarray::Axis(2)).sum_axis(ndarray::Axis(0));
    assert_eq!(f64s(s.compute(&r).unwrap()), expected);

    let kept = x
        .reduce(Reduction::Max, &ReduceOptions::axes(&[1]).keepdims(true))
        .unwrap();
    assert_eq!(kept.shape(), &[4, 1, 5]);
    let got = f64s(kept.compute(&r).unwrap());
    assert_eq!(
        got,
        v.slice(ndarray::s![.., 2..3, ..]).to_owned().into_dyn()
    );

    let var1 = x
        .reduce(Reduction::Var, &ReduceOptions::default().ddof(1))
        .unwrap();
    let n = v.len() as f64;
    let mean = v.mean().unwrap();
    let expected = v.mapv(|e| (e - mean) * (e - mean)).sum() / (n - 1.0);
    let got = var1.compute(&r).unwrap().scalar::<f64>().unwrap();
    assert!((got - expected).abs() < 1e-9 * expected);
    let std = x.std_axes(&[2]).unwrap().compute(&r).unwrap();
    let got = f64s(std);
    // Each row along the last axis is 5 consecutive numbers: std sqrt(2).
    assert!(got.iter().all(|s| (s - 2f64.sqrt()).abs() < 1e-12));
    let m = x.min_axes(&[]).unwrap();
    assert_eq!(f64s(m.compute(&r).unwrap()), v);

    assert!(matches!(
        x.sum_axes(&[3]),
        Err(ArrayError::AxisOutOfRange { axis: 3, ndim: 3 })
    ));
    assert!(x.sum_axes(&[1, 1]).is_err());
    assert!(
        x.reduce(Reduction::Sum, &ReduceOptions::default().split_every(1))
            .is_err()
    );
    let empty = x.slice(&[SliceArg::range(2, 2)]).unwrap();
    assert!(empty.min().is_err());
    assert_eq!(
        empty.sum().unwrap().compute(&r).unwrap().scalar::<f64>(),
        Ok(0.0)
    );
    assert!(
        empty
            .mean()
            .unwrap()
            .compute(&r)
            .unwrap()
            .scalar::<f64>()
            .unwrap()
            .is_nan()
    );
}

#[test]
fn rechunking_splits_as_views_and_merges_as_tasks() {
    let r = runner();
    let x = iota_source(&r, "x", &[6, 6], &[3, 3]);
    let split = x.rechunk(Grid::regular(&[6, 6], &[1, 3]).unwrap()).unwrap();
    let graph = split.lower().unwrap();
    assert!(
        graph
            .tasks
            .iter()
            .all(|t| &*t.kernel == kernels::IDENTITY || &*t.kernel == kernels::EVAL)
    );
    assert_eq!(f64s(split.compute(&r).unwrap()), iota(&[6, 6]));
    let merged = (&x + 1.0)
        .unwrap()
        .rechunk(Grid::from_chunks(vec![vec![6], vec![2, 4]]).unwrap())
        .unwrap();
    let graph = merged.lower().unwrap();
    assert_eq!(
        graph.tasks.len(),
        2,
        "one task per merged chunk, computing x + 1 inside"
    );
    assert_eq!(f64s(merged.compute(&r).unwrap()), iota(&[6, 6]) + 1.0);
    assert!(x.rechunk(Grid::regular(&[6, 5], &[3, 3]).unwrap()).is_err());
}

fn double_f64(_params: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
    let chunk = Chunk::decode(&inputs[0]).map_err(|e| e.to_string())?;
    let a = chunk.into_array::<f64>().map_err(|e| e.to_string())?;
    Ok(Chunk::F64(a * 2.0).encode())
}

fn shrink(_params: &[u8], _inputs: &[Bytes]) -> Result<Bytes, String> {
    Ok(Chunk::F64(ArrayD::zeros(IxDyn(&[1]))).encode())
}

#[test]
fn map_blocks_runs_a_registered_kernel_per_chunk() {
    let mut registry = KernelRegistry::new();
    doreisa_array::register_kernels(&mut registry);
    registry.register("test.double", double_f64);
    registry.register("test.shrink", shrink);
    let r = LocalRunner::new(registry);
    let x = iota_source(&r, "x", &[5, 4], &[2, 2]);
    let flipped = x.flip(1).unwrap();
    let doubled = Array::map_blocks(&[flipped], "test.double", vec![], DType::F64).unwrap();
    let total = (&doubled + 1.0).unwrap();
    let expected = iota(&[5, 4])
        .slice(ndarray::s![.., ..;-1])
        .mapv(|v| v * 2.0 + 1.0);
    assert_eq!(f64s(total.compute(&r).unwrap()), expected.into_dyn());
    let bad = Array::map_blocks(&[x], "test.shrink", vec![], DType::F64).unwrap();
    assert!(matches!(
        bad.compute(&r),
        Err(ArrayError::ResultMismatch { .. })
    ));
}

#[test]
fn persisted_values_live_as_long_as_their_array() {
    let r = runner();
    let x = iota_source(&r, "x", &[4, 4], &[2, 2]);
    assert_eq!(r.source_count(), 4);
    let y = (&x * 2.0).unwrap().persist(&r).unwrap();
    assert_eq!(r.source_count(), 8);
    let z = (&y + 1.0).unwrap();
    let graph = z.lower().unwrap();
    assert!(
        graph
            .sources
            .iter()
            .all(|k| k.array.starts_with("persisted/"))
    );
    assert_eq!(f64s(z.compute(&r).unwrap()), iota(&[4, 4]) * 2.0 + 1.0);
    drop(y);
    assert_eq!(r.source_count(), 8, "z still reads y's chunks");
    drop(z);
    assert_eq!(r.source_count(), 4);
    // Persisting a reduction: one chunk.
    let m = x.mean().unwrap().persist(&r).unwrap();
    assert_eq!(r.source_count(), 5);
    assert_eq!(m.compute(&r).unwrap().scalar::<f64>(), Ok(7.5));
    drop(m);
    assert_eq!(r.source_count(), 4);
}

#[test]
fn bad_input_gives_clear_errors() {
    let r = runner();
    let x = iota_source(&r, "x", &[4, 4], &[2, 2]);
    let mask = x.gt(1.0).unwrap();
    // numpy takes the square root of bools in float16, but refuses to negate them.
    assert_eq!(mask.sqrt().unwrap().dtype(), DType::F16);
    assert!(matches!(
        mask.neg(),
        Err(ArrayError::UnsupportedDType {
            op: "negative",
            dtype: DType::Bool
        })
    ));
    assert!(matches!(
        mask.sub(&mask),
        Err(ArrayError::UnsupportedDType { .. })
    ));
    assert!(matches!(
        mask.neg(),
        Err(ArrayError::UnsupportedDType { .. })
    ));
    assert!(matches!(x.flip(2), Err(ArrayError::AxisOutOfRange { .. })));
    assert!(matches!(
        x.flip(-3),
        Err(ArrayError::AxisOutOfRange { axis: -3, ndim: 2 })
    ));
    assert!(x.flip(-2).is_ok(), "axis -2 of a 2-d array is axis 0");
    assert!(matches!(
        x.transpose(&[0, 0]),
        Err(ArrayError::InvalidArgument(_))
    ));
    assert!(matches!(
        x.transpose(&[0]),
        Err(ArrayError::InvalidArgument(_))
    ));
    assert!(matches!(
        x.slice(&[SliceArg::Index(4)]),
        Err(ArrayError::BadSlice(_))
    ));
    assert!(matches!(
        x.slice(&[SliceArg::FULL, SliceArg::FULL, SliceArg::FULL]),
        Err(ArrayError::BadSlice(_))
    ));
    assert!(matches!(
        x.slice(&[SliceArg::FULL.step(0)]),
        Err(ArrayError::BadSlice(_))
    ));
    assert!(matches!(
        Array::concatenate(
            &[
                x.clone(),
                x.t().unwrap().slice(&[(0..3usize).into()]).unwrap()
            ],
            1
        ),
        Err(ArrayError::ShapeMismatch { .. })
    ));
    assert!(matches!(
        Array::concatenate(&[], 0),
        Err(ArrayError::InvalidArgument(_))
    ));
    assert!(matches!(
        x.squeeze(&[0]),
        Err(ArrayError::ShapeMismatch { .. })
    ));
    assert!(x.astype(DType::I64).unwrap().pow(-1).is_err());
    assert!(Array::source("s", 0, &[3], Grid::regular(&[4], &[2]).unwrap(), DType::F64).is_err());
    // A source whose chunks are missing or garbage fails at compute, not with a panic.
    let missing = Array::source("nope", 0, &[2], Grid::single(&[2]).unwrap(), DType::F64).unwrap();
    assert!(matches!(missing.compute(&r), Err(ArrayError::Sched(_))));
    r.insert(
        doreisa_sched::SourceKey {
            array: "junk".into(),
            timestep: 0,
            chunk: vec![0],
        },
        Bytes::from_static(b"not a chunk"),
    );
    let junk = Array::source("junk", 0, &[2], Grid::single(&[2]).unwrap(), DType::F64).unwrap();
    assert!(matches!(
        (&junk + 1.0).unwrap().compute(&r),
        Err(ArrayError::Sched(_))
    ));
    // A source of the wrong dtype is caught too.
    let liar = Array::source("x", 0, &[4, 4], x.grid().clone(), DType::I32).unwrap();
    assert!(liar.compute(&r as &dyn GraphRunner).is_err());
    assert!((&liar + 1).unwrap().compute(&r).is_err());
}

#[test]
fn transposes_expand_and_squeeze() {
    let r = runner();
    let x = iota_source(&r, "x", &[2, 3, 4], &[1, 2, 3]);
    let v = iota(&[2, 3, 4]);
    let t = x.transpose(&[2, 0, 1]).unwrap();
    assert_eq!(t.shape(), &[4, 2, 3]);
    assert_eq!(
        f64s(t.compute(&r).unwrap()),
        v.clone().permuted_axes(vec![2, 0, 1])
    );
    let e = x.expand_dims(1).unwrap();
    assert_eq!(e.shape(), &[2, 1, 3, 4]);
    let back = e.squeeze(&[1]).unwrap();
    assert_eq!(f64s(back.compute(&r).unwrap()), v);
    let tt = x.t().unwrap().flip(0).unwrap().sum_axes(&[1]).unwrap();
    let expected = v
        .t()
        .slice(ndarray::s![..;-1, .., ..])
        .sum_axis(ndarray::Axis(1));
    assert_eq!(f64s(tt.compute(&r).unwrap()), expected.into_dyn());
}

#[test]
fn arrays_can_be_shared_between_threads() {
    fn shared<T: Send + Sync + Clone>() {}
    shared::<Array>();
    shared::<Chunk>();
    shared::<Grid>();
}

#[test]
fn argtopk_picks_the_first_of_equal_elements_across_chunks() {
    let r = runner();
    let values = [3i32, 9, 1, 9, 9, 2, 1, 7];
    let x = source(
        &r,
        "x",
        Chunk::I32(ArrayD::from_shape_vec(IxDyn(&[8]), values.to_vec()).unwrap()),
        Grid::regular(&[8], &[3]).unwrap(),
    );
    let top = x
        .argtopk(4, 0)
        .unwrap()
        .compute(&r)
        .unwrap()
        .into_array::<i64>()
        .unwrap();
    assert_eq!(top.into_raw_vec_and_offset().0, [1, 3, 4, 7]);
    let low = x
        .argtopk(-3, 0)
        .unwrap()
        .compute(&r)
        .unwrap()
        .into_array::<i64>()
        .unwrap();
    assert_eq!(low.into_raw_vec_and_offset().0, [2, 6, 5]);
    assert!(x.argtopk(9, 0).is_err());
    // Unsigned keys keep their order past 2^63.
    let big = source(
        &r,
        "big",
        Chunk::U64(ArrayD::from_shape_vec(IxDyn(&[3]), vec![1, u64::MAX, 1 << 63]).unwrap()),
        Grid::regular(&[3], &[1]).unwrap(),
    );
    let top = big
        .argtopk(2, 0)
        .unwrap()
        .compute(&r)
        .unwrap()
        .into_array::<i64>()
        .unwrap();
    assert_eq!(top.into_raw_vec_and_offset().0, [1, 2]);
}
