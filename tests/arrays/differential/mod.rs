//! Differential tests of the array layer against numpy 2's semantics: a seeded
//! generator of random expressions ([`cases`]) over sources of every dtype, shape and
//! chunking; each case is computed by the array layer on a cluster and by the
//! reference ([`reference`], [`ops`]); a disagreement is shrunk to a minimal expression
//! ([`shrink`]) and reported with its seed.
//!
//! Agreement: both raise (numpy) or fail (the array layer), or both give the same dtype
//! and shape and elements equal (integers and bools exactly, floats to the bit while
//! every step is exact, else within the error bound the reference carried).

pub mod cases;
pub mod expr;
pub mod more;
pub mod moves;
pub mod ops;
pub mod reductions;
pub mod reference;
pub mod shrink;

use cases::Case;
use doreisa_array::{Array, Chunk, DType, Element, encode_chunks};
use doreisa_sched::{GraphRunner, SourceKey};
use expr::{Source, eval};
use ndarray::{ArrayD, IxDyn};
use reference::{El, Res, Val};

/// Where cases run: a runner, and how to publish chunks to it.
pub trait Target {
    fn runner(&self) -> &dyn GraphRunner;
    /// Makes `bytes` the source `key` (on some node of the cluster, by `spread`).
    fn publish(&self, key: SourceKey, bytes: bytes::Bytes, spread: usize);
    /// Forgets the sources of timesteps before `timestep`.
    fn release_before(&self, timestep: i64);
}

/// Why a case failed.
#[derive(Debug, Clone)]
pub struct Failure {
    pub text: String,
    pub why: String,
}

fn element_chunk(source: &Source) -> Chunk {
    let cast = |e: &El| match *e {
        El::B(b) => doreisa_array::Scalar::Bool(b),
        El::I(i) => doreisa_array::Scalar::Int(i),
        El::F(x, _) => doreisa_array::Scalar::Float(x),
        El::X | El::E => unreachable!("sources are defined"),
    };
    macro_rules! typed {
        ($t:ty) => {{
            let values: Vec<$t> = source
                .values
                .iter()
                .map(|e| match cast(e) {
                    doreisa_array::Scalar::Bool(b) => b.cast::<$t>(),
                    doreisa_array::Scalar::Int(i) => wide_int::<$t>(i),
                    doreisa_array::Scalar::Float(x) => x.cast::<$t>(),
                })
                .collect();
            Chunk::from(ArrayD::from_shape_vec(IxDyn(&source.shape), values).expect("sized"))
        }};
    }
    match source.dtype {
        DType::Bool => typed!(bool),
        DType::I8 => typed!(i8),
        DType::U8 => typed!(u8),
        DType::I16 => typed!(i16),
        DType::U16 => typed!(u16),
        DType::I32 => typed!(i32),
        DType::U32 => typed!(u32),
        DType::I64 => typed!(i64),
        DType::U64 => typed!(u64),
        DType::F16 => typed!(doreisa_array::F16),
        DType::F32 => typed!(f32),
        DType::F64 => typed!(f64),
    }
}

/// An integer (in range) as element type `T`.
fn wide_int<T: Element>(i: i128) -> T {
    if i < 0 {
        (i as i64).cast::<T>()
    } else {
        (i as u64).cast::<T>()
    }
}

/// Publishes the sources of `case` as timestep `timestep` and returns their arrays.
pub fn publish(target: &dyn Target, case: &Case, tag: &str, timestep: i64) -> Vec<Array> {
    case.sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let name = format!("{tag}/{i}");
            let value = element_chunk(s);
            for (k, (key, bytes)) in encode_chunks(&name, timestep, &value, &s.grid())
                .expect("grid fits")
                .into_iter()
                .enumerate()
            {
                target.publish(key, bytes, k + i);
            }
            Array::source(&name, timestep, &s.shape, s.grid(), s.dtype).expect("a source")
        })
        .collect()
}

/// Runs one case on `target` (its sources published under `tag` at `timestep`).
pub fn check(target: &dyn Target, case: &Case, tag: &str, timestep: i64) -> Result<(), Failure> {
    let arrays = publish(target, case, tag, timestep);
    reference::take_raised();
    let both = eval(&case.expr, &arrays, &case.sources);
    // An element that raises: read, numpy's raise; only computed elsewhere, either.
    let raised_elsewhere = reference::take_raised();
    let val = match both.val {
        Ok(v) if v.has_e() => Err(reference::Raise("an element read raises".into())),
        other => other,
    };
    let fail = |why: String| Failure {
        text: both.text.clone(),
        why,
    };
    let computed = both.array.and_then(|a| {
        let dtype = a.dtype();
        let shape = a.shape().to_vec();
        a.compute(target.runner()).map(|c| (dtype, shape, c))
    });
    if raised_elsewhere && computed.is_err() {
        return Ok(());
    }
    match (&val, computed) {
        (Err(raise), Ok((dtype, ..))) => Err(fail(format!(
            "numpy raises ({}), the array layer gives a {dtype} value",
            raise.0
        ))),
        (Err(_), Err(_)) => Ok(()),
        (Ok(val), Err(e)) => Err(fail(format!(
            "numpy gives {} {:?}, the array layer fails: {e}",
            val.dtype,
            val.shape()
        ))),
        (Ok(val), Ok((dtype, shape, chunk))) => compare(val, dtype, &shape, &chunk).map_err(fail),
    }
}

/// Elements of a computed chunk as reference elements.
fn elements(chunk: &Chunk) -> Vec<El> {
    let d = chunk.dtype();
    if d == DType::Bool {
        return chunk.to_array::<bool>().iter().map(|&b| El::B(b)).collect();
    }
    if reference::is_int(d) {
        if reference::int_info(d).1 {
            return chunk
                .to_array::<i64>()
                .iter()
                .map(|&v| El::I(v.into()))
                .collect();
        }
        return chunk
            .to_array::<u64>()
            .iter()
            .map(|&v| El::I(v.into()))
            .collect();
    }
    chunk
        .to_array::<f64>()
        .iter()
        .map(|&x| El::F(x, 0.0))
        .collect()
}

fn matches(got: El, want: El) -> bool {
    match (got, want) {
        (_, El::X) => true,
        (El::F(g, _), El::F(w, e)) => {
            if e == 0.0 {
                g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan())
            } else if e.is_infinite() {
                true
            } else if g.is_nan() || w.is_nan() {
                g.is_nan() && w.is_nan()
            } else if w.is_infinite() || g.is_infinite() {
                g == w
            } else {
                (g - w).abs() <= e
            }
        }
        (g, w) => g == w,
    }
}

fn compare(val: &Val, dtype: DType, shape: &[usize], chunk: &Chunk) -> Result<(), String> {
    if dtype != val.dtype || chunk.dtype() != val.dtype {
        return Err(format!(
            "dtype: numpy {}, the array layer {dtype} (computed {})",
            val.dtype,
            chunk.dtype()
        ));
    }
    if shape != val.shape() || chunk.shape() != val.shape() {
        return Err(format!(
            "shape: numpy {:?}, the array layer {shape:?} (computed {:?})",
            val.shape(),
            chunk.shape()
        ));
    }
    let got = elements(chunk);
    for (i, (&g, &w)) in got.iter().zip(val.a.iter()).enumerate() {
        if !matches(g, w) {
            return Err(format!("element {i}: numpy {w:?}, the array layer {g:?}"));
        }
    }
    Ok(())
}

/// Runs `count` cases from `seed` on `target`, in batches released as they go; panics
/// on the first failure with its shrunk form.
pub fn run(target: &dyn Target, seed: u64, count: u64) -> Summary {
    let mut summary = Summary::default();
    for i in 0..count {
        let case = cases::case(seed.wrapping_add(i));
        let timestep = i as i64;
        match check(target, &case, &format!("d{i}"), timestep) {
            Ok(()) => summary.count(&case),
            Err(failure) => {
                let first = format!("as generated: {}\n  {}", failure.text, failure.why);
                let (small, failure) = shrink::shrink(target, case, failure, timestep);
                panic!("{}  {first}", report(&small, &failure));
            }
        }
        if i % 64 == 63 {
            target.release_before(timestep + 1);
        }
    }
    target.release_before(count as i64 + 1_000_000);
    summary
}

/// Counts of what ran.
#[derive(Debug, Default)]
pub struct Summary {
    pub cases: u64,
    pub raised: u64,
    pub nodes: u64,
}

impl Summary {
    fn count(&mut self, case: &Case) {
        self.cases += 1;
        self.nodes += case.expr.size() as u64;
        if reference_of(case).is_err() {
            self.raised += 1;
        }
    }
}

fn reference_of(case: &Case) -> Res {
    let arrays: Vec<Array> = case
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Array::source(&format!("r{i}"), 0, &s.shape, s.grid(), s.dtype).expect("a source")
        })
        .collect();
    eval(&case.expr, &arrays, &case.sources).val
}

/// A failure, readable: the seed, the expression, the sources and what differed.
pub fn report(case: &Case, failure: &Failure) -> String {
    let mut out = format!(
        "differential case failed (seed {}; replay with DOREISA_DIFF_REPLAY={}):\n  {}\n  {}\n",
        case.seed, case.seed, failure.text, failure.why
    );
    for (i, s) in case.sources.iter().enumerate() {
        out += &format!(
            "  s{i}: {} {:?} chunks {:?} = {:?}\n",
            s.dtype, s.shape, s.chunks, s.values
        );
    }
    out
}
