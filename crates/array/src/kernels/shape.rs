//! Kernels that make or move elements without element-wise programs: `array.range`
//! (arange, linspace), `array.flat_pieces` (reshape) and `array.scan` (cumulative sums
//! and products of one chunk).

use super::eval::{decode_inputs, value};
use super::typed::{ChunkElement, Num, for_dtype, for_numeric};
use crate::chunk::{Chunk, CowChunk, ViewChunk, encode_slice};
use crate::codec;
use crate::element::Element;
use crate::program::{FlatParams, RangeParams, RangeSpec, ScanParams};
use bytes::Bytes;
use ndarray::{ArrayD, Axis};

/// Element `i` of a range.
pub(crate) fn range_element(spec: RangeSpec, i: usize) -> RangeValue {
    match spec {
        RangeSpec::IntSteps { start, step } => {
            RangeValue::Int(start.wrapping_add((i as i64).wrapping_mul(step)))
        }
        RangeSpec::FloatSteps { start, delta } => RangeValue::Float(start + i as f64 * delta),
        RangeSpec::Linspace {
            start,
            stop,
            num,
            endpoint,
        } => {
            let div = if endpoint { num - 1 } else { num } as f64;
            let delta = stop - start;
            let step = delta / div;
            let v = if endpoint && num > 1 && i == num - 1 {
                stop
            } else if step == 0.0 {
                i as f64 / div * delta + start
            } else {
                i as f64 * step + start
            };
            RangeValue::Float(v)
        }
    }
}

/// An element of a range, before it takes its dtype.
pub(crate) enum RangeValue {
    Int(i64),
    Float(f64),
}

pub(crate) fn range(params: &[u8], _inputs: &[Bytes]) -> Result<Bytes, String> {
    let p: RangeParams = codec::decode(params).map_err(|e| e.to_string())?;
    let shape = [p.len];
    Ok(match p.spec {
        RangeSpec::IntSteps { .. } => {
            let values: Vec<i64> = (p.offset..p.offset + p.len)
                .map(|i| match range_element(p.spec, i) {
                    RangeValue::Int(v) => v,
                    RangeValue::Float(_) => unreachable!("integer steps"),
                })
                .collect();
            encode_slice(&shape, &values)
        }
        _ => {
            let values: Vec<f64> = (p.offset..p.offset + p.len)
                .map(|i| match range_element(p.spec, i) {
                    RangeValue::Float(v) => v,
                    RangeValue::Int(_) => unreachable!("float steps"),
                })
                .collect();
            encode_slice(&shape, &values)
        }
    })
}

pub(crate) fn flat_pieces(params: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
    let p: FlatParams = codec::decode(params).map_err(|e| e.to_string())?;
    let decoded = decode_inputs(inputs)?;
    let total: usize = p.shape.iter().product();
    for_dtype!(p.dtype, T => {
        let mut out: Vec<T> = Vec::with_capacity(total);
        for &(input, start, len) in &p.pieces {
            let chunk = decoded.get(input as usize).ok_or("a piece reads a missing input")?;
            let view = chunk.view();
            let a = T::view(&view).ok_or("an input of another dtype")?;
            let (start, len) = (start as usize, len as usize);
            if start + len > a.len() {
                return Err(format!("piece {start}+{len} past {} elements", a.len()));
            }
            match a.as_slice() {
                Some(slice) => out.extend_from_slice(&slice[start..start + len]),
                None => out.extend(a.iter().skip(start).take(len).copied()),
            }
        }
        if out.len() != total {
            return Err(format!("{} elements for shape {:?}", out.len(), p.shape));
        }
        Ok(encode_slice(&p.shape, &out))
    })
}

pub(crate) fn scan(params: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
    let p: ScanParams = codec::decode(params).map_err(|e| e.to_string())?;
    let decoded = decode_inputs(inputs)?;
    let views: Vec<ViewChunk<'_>> = decoded.iter().map(CowChunk::view).collect();
    let value = value(&p.program, &p.shape, &views)?;
    if p.axis >= p.shape.len() {
        return Err(format!("axis {} of shape {:?}", p.axis, p.shape));
    }
    let cast = crate::chunk::with_chunk!(ViewChunk, value.view(), a => {
        crate::dispatch::for_dtype!(p.dtype, T => Chunk::from(a.mapv(|v| v.cast::<T>())))
    });
    for_numeric!(p.dtype, T => {
        let mut a: ArrayD<T> = cast.into_array::<T>().map_err(|e| e.to_string())?;
        let op: fn(T, T) -> T = if p.prod { Num::mul } else { Num::add };
        a.accumulate_axis_inplace(Axis(p.axis), |&prev, cur| *cur = op(prev, *cur));
        Ok(T::into_chunk(a).encode())
    }, Err(format!("no scan in {}", p.dtype)))
}
