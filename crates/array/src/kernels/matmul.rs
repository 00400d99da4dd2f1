//! `array.matmul`: the product of two 2-d blocks, as a partial of a sum (float64 for
//! floats, wrapping int64 for integers and bools), merged by the reduction combine.

use super::eval::decode_inputs;
use crate::chunk::{Chunk, ViewChunk, with_chunk};
use crate::element::Element;
use bytes::Bytes;
use ndarray::{Array2, ArrayView2, Ix2};

fn product<T: Copy>(
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    zero: T,
    add: impl Fn(T, T) -> T,
    mul: impl Fn(T, T) -> T,
) -> Array2<T> {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    let mut out = Array2::from_elem((m, n), zero);
    for i in 0..m {
        for l in 0..k {
            let x = a[[i, l]];
            for j in 0..n {
                out[[i, j]] = add(out[[i, j]], mul(x, b[[l, j]]));
            }
        }
    }
    out
}

pub(crate) fn matmul(_params: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
    let decoded = decode_inputs(inputs)?;
    let [a, b] = decoded.as_slice() else {
        return Err(format!("matmul takes two blocks, not {}", decoded.len()));
    };
    let (a, b) = (a.view(), b.view());
    let float = a.dtype().is_float();
    let two_d = |v: &ViewChunk<'_>| v.shape().len() == 2;
    if !two_d(&a) || !two_d(&b) || a.shape()[1] != b.shape()[0] || a.dtype() != b.dtype() {
        return Err(format!(
            "blocks {} {:?} and {} {:?} do not multiply",
            a.dtype(),
            a.shape(),
            b.dtype(),
            b.shape()
        ));
    }
    let out = if float {
        let x = with_chunk!(ViewChunk, &a, v => v.mapv(|e| e.to_f64()));
        let y = with_chunk!(ViewChunk, &b, v => v.mapv(|e| e.to_f64()));
        let (x, y) = (
            x.into_dimensionality::<Ix2>().expect("2-d"),
            y.into_dimensionality::<Ix2>().expect("2-d"),
        );
        Chunk::F64(product(x.view(), y.view(), 0.0, |p, q| p + q, |p, q| p * q).into_dyn())
    } else {
        let x = with_chunk!(ViewChunk, &a, v => v.mapv(|e| e.to_i64()));
        let y = with_chunk!(ViewChunk, &b, v => v.mapv(|e| e.to_i64()));
        let (x, y) = (
            x.into_dimensionality::<Ix2>().expect("2-d"),
            y.into_dimensionality::<Ix2>().expect("2-d"),
        );
        let p = product(x.view(), y.view(), 0, i64::wrapping_add, i64::wrapping_mul);
        Chunk::I64(p.into_dyn())
    };
    Ok(out.encode())
}
