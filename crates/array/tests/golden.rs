//! Golden values from numpy 2 (`scripts/numpy-golden.py`, numpy 2.4.6): fixed cases where
//! the semantics are subtle (dtype promotion, Python scalars, nan-reductions, rounding,
//! integer division by zero, argmin/argmax, histogram edges, math on small integers),
//! computed by the array layer over chunked sources and compared with what numpy
//! printed into `tests/golden/*.npy`. numpy is needed only to regenerate them.

mod common;

use common::{runner, source};
use doreisa_array::{
    Array, ArrayError, Chunk, DType, F16, Grid, Operand, ReduceOptions, Reduction, Scalar,
};
use doreisa_sched::LocalRunner;
use ndarray::{ArrayD, IxDyn};
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------
// A small .npy reader (format 1.0 to 3.0, little-endian, C order)

fn read_npy(path: &Path) -> Chunk {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &bytes[..6],
        b"\x93NUMPY",
        "{}: not a .npy file",
        path.display()
    );
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
            12,
        ),
    };
    let header = std::str::from_utf8(&bytes[start..start + header_len]).unwrap();
    let field = |key: &str| -> &str {
        let at = header
            .find(key)
            .unwrap_or_else(|| panic!("no {key} in {header}"))
            + key.len();
        header[at..].trim_start_matches([':', ' ', '\''])
    };
    let descr = field("'descr'");
    let descr = &descr[..descr.find('\'').unwrap()];
    assert!(
        field("'fortran_order'").starts_with("False"),
        "C order only"
    );
    let shape_text = field("'shape'");
    let shape: Vec<usize> = shape_text[1..shape_text.find(')').unwrap()]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let data = &bytes[start + header_len..];
    macro_rules! typed {
        ($t:ty, $size:expr, $from:expr) => {{
            let values: Vec<$t> = data.chunks_exact($size).map($from).collect();
            Chunk::from(ArrayD::from_shape_vec(IxDyn(&shape), values).unwrap())
        }};
    }
    match descr {
        "|b1" => typed!(bool, 1, |b: &[u8]| b[0] != 0),
        "|i1" => typed!(i8, 1, |b: &[u8]| b[0] as i8),
        "|u1" => typed!(u8, 1, |b: &[u8]| b[0]),
        "<i2" => typed!(i16, 2, |b: &[u8]| i16::from_le_bytes(b.try_into().unwrap())),
        "<u2" => typed!(u16, 2, |b: &[u8]| u16::from_le_bytes(b.try_into().unwrap())),
        "<i4" => typed!(i32, 4, |b: &[u8]| i32::from_le_bytes(b.try_into().unwrap())),
        "<u4" => typed!(u32, 4, |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap())),
        "<i8" => typed!(i64, 8, |b: &[u8]| i64::from_le_bytes(b.try_into().unwrap())),
        "<u8" => typed!(u64, 8, |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap())),
        "<f2" => typed!(F16, 2, |b: &[u8]| F16::from_bits(u16::from_le_bytes(
            b.try_into().unwrap()
        ))),
        "<f4" => typed!(f32, 4, |b: &[u8]| f32::from_le_bytes(b.try_into().unwrap())),
        "<f8" => typed!(f64, 8, |b: &[u8]| f64::from_le_bytes(b.try_into().unwrap())),
        other => panic!("{}: dtype {other} is not read here", path.display()),
    }
}

// ---------------------------------------------------------------------------------
// Cases

struct Case {
    id: String,
    op: String,
    params: Vec<(String, String)>,
    tolerance: String,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(dir().join("cases.txt")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let parts: Vec<&str> = line.split('|').collect();
            let params = parts[2]
                .split_whitespace()
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.to_string(), v.to_string())
                })
                .collect();
            Case {
                id: parts[0].into(),
                op: parts[1].into(),
                params,
                tolerance: parts[3].into(),
            }
        })
        .collect()
}

impl Case {
    fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn scalar(&self, key: &str) -> Option<Scalar> {
        let (kind, value) = self.param(key)?.split_once(':').unwrap();
        Some(match kind {
            "int" => Scalar::Int(value.parse().unwrap()),
            "float" => Scalar::Float(value.parse().unwrap()),
            _ => Scalar::Bool(value == "1"),
        })
    }
}

/// A source cut in chunks of 2 along every axis (so reductions are trees).
fn chunked(r: &LocalRunner, name: &str, value: Chunk) -> Array {
    let chunk: Vec<usize> = value.shape().iter().map(|&n| n.clamp(1, 2)).collect();
    let grid = Grid::regular(value.shape(), &chunk).unwrap();
    source(r, name, value, grid)
}

fn unary(op: &str, a: &Array) -> Option<Result<Array, ArrayError>> {
    Some(match op {
        "sqrt" => a.sqrt(),
        "exp" => a.exp(),
        "expm1" => a.expm1(),
        "log1p" => a.log1p(),
        "log2" => a.log2(),
        "log10" => a.log10(),
        "sin" => a.sin(),
        "tan" => a.tan(),
        "arcsin" => a.arcsin(),
        "arccos" => a.arccos(),
        "arctan" => a.arctan(),
        "arctanh" => a.arctanh(),
        "arccosh" => a.arccosh(),
        "arcsinh" => a.arcsinh(),
        "sinh" => a.sinh(),
        "cosh" => a.cosh(),
        "tanh" => a.tanh(),
        "round" | "rint" => a.round(),
        "floor" => a.floor(),
        "ceil" => a.ceil(),
        "trunc" => a.trunc(),
        "sign" => a.sign(),
        "isnan" => a.isnan(),
        "isfinite" => a.isfinite(),
        "isinf" => a.isinf(),
        "abs" => a.abs(),
        "negative" => a.neg(),
        "invert" => a.invert(),
        _ => return None,
    })
}

fn binary(op: &str, a: &Array, b: Operand) -> Option<Result<Array, ArrayError>> {
    Some(match op {
        "add" => a.add(b),
        "subtract" => a.sub(b),
        "multiply" => a.mul(b),
        "true_divide" => a.div(b),
        "floor_divide" => a.floor_divide(b),
        "remainder" => a.remainder(b),
        "power" => a.pow(b),
        "maximum" => a.maximum(b),
        "minimum" => a.minimum(b),
        "less" => a.lt(b),
        "greater" => a.gt(b),
        "greater_equal" => a.ge(b),
        "equal" => a.eq(b),
        "not_equal" => a.ne(b),
        "logical_and" => a.logical_and(b),
        "logical_or" => a.logical_or(b),
        "logical_xor" => a.logical_xor(b),
        "bitwise_and" => a.bitwise_and(b),
        "bitwise_or" => a.bitwise_or(b),
        "bitwise_xor" => a.bitwise_xor(b),
        "left_shift" => a.left_shift(b),
        "right_shift" => a.right_shift(b),
        _ => return None,
    })
}

fn reduction(op: &str) -> Option<Reduction> {
    Some(match op {
        "sum" => Reduction::Sum,
        "prod" => Reduction::Prod,
        "mean" => Reduction::Mean,
        "min" => Reduction::Min,
        "max" => Reduction::Max,
        "var" => Reduction::Var,
        "std" => Reduction::Std,
        "any" => Reduction::Any,
        "all" => Reduction::All,
        "argmin" => Reduction::ArgMin,
        "argmax" => Reduction::ArgMax,
        "nansum" => Reduction::NanSum,
        "nanmean" => Reduction::NanMean,
        "nanmin" => Reduction::NanMin,
        "nanmax" => Reduction::NanMax,
        "nanvar" => Reduction::NanVar,
        "nanstd" => Reduction::NanStd,
        _ => return None,
    })
}

fn dtype_named(name: &str) -> DType {
    DType::ALL.into_iter().find(|d| d.name() == name).unwrap()
}

/// The array layer's expression for `case`.
fn build(case: &Case, r: &LocalRunner) -> Result<Array, ArrayError> {
    let a = chunked(
        r,
        &format!("{}a", case.id),
        read_npy(&dir().join(format!("{}_a.npy", case.id))),
    );
    let b_path = dir().join(format!("{}_b.npy", case.id));
    let b = b_path
        .exists()
        .then(|| chunked(r, &format!("{}b", case.id), read_npy(&b_path)));
    if let Some(result) = unary(&case.op, &a) {
        return result;
    }
    let other = match (&b, case.scalar("s")) {
        (Some(b), _) => Some(Operand::from(b)),
        (None, Some(s)) => Some(Operand::Scalar(s)),
        _ => None,
    };
    if let Some(other) = other
        && let Some(result) = binary(&case.op, &a, other)
    {
        return result;
    }
    if let Some(op) = reduction(&case.op) {
        let axes = match case.param("axis") {
            None | Some("none") => None,
            Some(axis) => Some(vec![axis.parse::<isize>().unwrap()]),
        };
        let options = ReduceOptions {
            axes,
            ddof: case.param("ddof").map_or(0, |d| d.parse().unwrap()),
            ..ReduceOptions::default()
        };
        return a.reduce(op, &options);
    }
    match case.op.as_str() {
        "clip" => a.clip(case.scalar("lo").unwrap(), case.scalar("hi").unwrap()),
        "histogram" => {
            let bins = case.param("bins").unwrap().parse().unwrap();
            let lo = case.param("lo").unwrap().parse().unwrap();
            let hi = case.param("hi").unwrap().parse().unwrap();
            a.histogram(bins, (lo, hi)).map(|(counts, _)| counts)
        }
        "astype" => a.astype(dtype_named(case.param("dtype").unwrap())),
        "take" => {
            let indices: Vec<isize> = match case.param("indices").unwrap() {
                "none" => Vec::new(),
                list => list.split(',').map(|i| i.parse().unwrap()).collect(),
            };
            a.take(&indices, case.param("axis").unwrap().parse().unwrap())
        }
        "sort" => {
            // As Dask asks: the sorted axis in one chunk first.
            let axis: isize = case.param("axis").unwrap().parse().unwrap();
            let at = axis.rem_euclid(a.ndim() as isize) as usize;
            let mut chunks = a.chunks().to_vec();
            chunks[at] = vec![a.shape()[at]];
            a.rechunk(Grid::from_chunks(chunks)?)?.sort(axis)
        }
        "topk" => a.topk(
            case.param("k").unwrap().parse().unwrap(),
            case.param("axis").unwrap().parse().unwrap(),
        ),
        "matmul" => a.matmul(b.as_ref().unwrap()),
        "extract" => a.extract(b.as_ref().unwrap(), r),
        "dot" => a.dot(b.as_ref().unwrap()),
        "tensordot" => {
            let (i, j) = case.param("axes").unwrap().split_once(',').unwrap();
            a.tensordot(
                b.as_ref().unwrap(),
                (i.parse().unwrap(), j.parse().unwrap()),
            )
        }
        "quantile" | "percentile" | "median" => {
            let axis = match case.param("axis") {
                None | Some("none") => None,
                Some(axis) => Some(axis.parse::<isize>().unwrap()),
            };
            let q: Vec<f64> = case
                .param("q")
                .map(|q| q.split(',').map(|v| v.parse().unwrap()).collect())
                .unwrap_or_default();
            match case.op.as_str() {
                "quantile" => a.quantile(&q, axis),
                "percentile" => a.percentile(&q, axis),
                _ => a.median(axis),
            }
        }
        other => panic!("case {}: no operation {other}", case.id),
    }
}

// ---------------------------------------------------------------------------------
// Comparing

fn ulp(dtype: DType, x: f64) -> f64 {
    let eps = match dtype {
        DType::F16 => 2f64.powi(-10),
        DType::F32 => 2f64.powi(-23),
        _ => 2f64.powi(-52),
    };
    let tiny = match dtype {
        DType::F16 => 2f64.powi(-24),
        DType::F32 => 2f64.powi(-149),
        _ => f64::from_bits(1),
    };
    (eps * 2f64.powi(x.abs().max(tiny).log2().floor() as i32)).max(tiny)
}

fn compare(case: &Case, got: &Chunk, want: &Chunk, input: &Chunk) -> Result<(), String> {
    if got.dtype() != want.dtype() || got.shape() != want.shape() {
        return Err(format!(
            "{} {:?} where numpy gives {} {:?}",
            got.dtype(),
            got.shape(),
            want.dtype(),
            want.shape()
        ));
    }
    if !want.dtype().is_float() {
        // Integers and bools exactly (u64 through its bits).
        return if got.to_array::<u64>() == want.to_array::<u64>()
            && got.to_array::<bool>() == want.to_array::<bool>()
        {
            Ok(())
        } else {
            Err(format!("{got:?} where numpy gives {want:?}"))
        };
    }
    let dtype = want.dtype();
    let abs_sum: f64 = input
        .to_array::<f64>()
        .iter()
        .filter(|x| x.is_finite())
        .map(|x| x.abs())
        .sum();
    let n = input.len() as f64;
    for (i, (&g, &w)) in got
        .to_array::<f64>()
        .iter()
        .zip(want.to_array::<f64>().iter())
        .enumerate()
    {
        let same = g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan());
        let close = match case.tolerance.as_str() {
            "ulp4" => g == w || (g - w).abs() <= 4.0 * ulp(dtype, w),
            "value" => g == w,
            "sum" => {
                let eps = ulp(dtype, 1.0);
                g == w || (g - w).abs() <= 4.0 * n * eps * abs_sum + 2.0 * ulp(dtype, w)
            }
            _ => false,
        };
        if !(same || close) {
            return Err(format!("element {i}: {g:?} where numpy gives {w:?}"));
        }
    }
    Ok(())
}

#[test]
fn the_array_layer_computes_what_numpy_2_computed() {
    let r = runner();
    let cases = cases();
    assert!(cases.len() >= 200, "{} golden cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let computed = if case.op == "unique" {
            let a = read_npy(&dir().join(format!("{}_a.npy", case.id)));
            chunked(&r, &format!("{}a", case.id), a).unique(&r)
        } else {
            build(case, &r).and_then(|a| a.compute(&r))
        };
        let outcome = match (case.tolerance.as_str(), computed) {
            ("raises", Ok(value)) => Err(format!("gives {value:?} where numpy raises")),
            ("raises", Err(_)) => Ok(()),
            (_, Err(e)) => Err(format!("fails ({e}) where numpy gives a value")),
            (_, Ok(value)) => {
                let want = read_npy(&dir().join(format!("{}_out.npy", case.id)));
                let input = read_npy(&dir().join(format!("{}_a.npy", case.id)));
                compare(case, &value, &want, &input)
            }
        };
        if let Err(why) = outcome {
            let params: Vec<String> = case
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            failures.push(format!(
                "case {} {} {}: {why}",
                case.id,
                case.op,
                params.join(" ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases differ from numpy:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
