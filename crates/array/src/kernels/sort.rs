//! `array.sort` and `array.topk`: sorting lanes in numpy's order (NaN last).

use super::eval::{decode_inputs, value};
use super::typed::{Typed, for_dtype};
use crate::chunk::{Chunk, CowChunk, ViewChunk};
use crate::codec;
use crate::element::Element;
use crate::program::SortParams;
use bytes::Bytes;
use ndarray::{ArrayD, Axis, IxDyn};
use std::cmp::Ordering;

/// numpy's sort order: NaN after everything.
fn order<T: PartialOrd>(a: &T, b: &T) -> Ordering {
    a.partial_cmp(b).unwrap_or_else(|| {
        #[allow(clippy::eq_op)] // x != x is the generic NaN test
        let (an, bn) = (a != a, b != b);
        an.cmp(&bn)
    })
}

/// Sorts every lane of `a` along `axis`, keeping `keep` elements of each: all, the `k`
/// largest in descending order (`k > 0`) or the `-k` smallest ascending.
fn sort_lanes<T: Typed>(a: &ArrayD<T>, axis: usize, keep: Option<isize>) -> ArrayD<T> {
    let len = a.shape()[axis];
    let take = keep.map_or(len, |k| (k.unsigned_abs()).min(len));
    let mut shape = a.shape().to_vec();
    shape[axis] = take;
    let mut out = ArrayD::<T>::default(IxDyn(&shape));
    for (lane, mut dest) in a
        .lanes(Axis(axis))
        .into_iter()
        .zip(out.lanes_mut(Axis(axis)))
    {
        let mut values: Vec<T> = lane.iter().copied().collect();
        values.sort_by(order);
        if keep.is_some_and(|k| k > 0) {
            values.reverse();
        }
        for (d, v) in dest.iter_mut().zip(values) {
            *d = v;
        }
    }
    out
}

pub(crate) fn sort(params: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
    let p: SortParams = codec::decode(params).map_err(|e| e.to_string())?;
    if p.arg.is_some() {
        return argtopk(&p, inputs);
    }
    let decoded = decode_inputs(inputs)?;
    let chunk = match &p.program {
        Some(program) => {
            let views: Vec<ViewChunk<'_>> = decoded.iter().map(CowChunk::view).collect();
            let value = value(program, &p.shape, &views)?;
            crate::chunk::with_chunk!(ViewChunk, value.view(), a => Chunk::from(a.to_owned()))
        }
        None => {
            // Partial results end to end along the axis.
            let owned: Vec<Chunk> = decoded.into_iter().map(CowChunk::into_owned).collect();
            let first = owned.first().ok_or("nothing to merge")?;
            for_dtype!(first.dtype(), T => {
                let views = owned
                    .iter()
                    .map(|c| c.as_array::<T>().map(|a| a.view()).map_err(|e| e.to_string()))
                    .collect::<Result<Vec<_>, String>>()?;
                Chunk::from(ndarray::concatenate(Axis(p.axis), &views).map_err(|e| e.to_string())?)
            })
        }
    };
    if p.axis >= chunk.ndim() {
        return Err(format!("axis {} of {} dimensions", p.axis, chunk.ndim()));
    }
    Ok(for_dtype!(chunk.dtype(), T => {
        let a = chunk.as_array::<T>().map_err(|e| e.to_string())?;
        Chunk::from(sort_lanes(a, p.axis, p.k)).encode()
    }))
}

/// Keeps, in every lane along `axis` of `keys` (with `indices` beside them), the `k`
/// largest (descending) or `-k` smallest (ascending) in numpy's order, ties to the
/// smaller index.
fn arg_select<K: Typed>(
    keys: &ArrayD<K>,
    indices: &ArrayD<K>,
    axis: usize,
    k: isize,
) -> (ArrayD<K>, ArrayD<K>) {
    let len = keys.shape()[axis];
    let take = k.unsigned_abs().min(len);
    let mut shape = keys.shape().to_vec();
    shape[axis] = take;
    let mut out_keys = ArrayD::<K>::default(IxDyn(&shape));
    let mut out_indices = ArrayD::<K>::default(IxDyn(&shape));
    let lanes = keys
        .lanes(Axis(axis))
        .into_iter()
        .zip(indices.lanes(Axis(axis)));
    let dest = out_keys
        .lanes_mut(Axis(axis))
        .into_iter()
        .zip(out_indices.lanes_mut(Axis(axis)));
    for ((lk, li), (mut dk, mut di)) in lanes.zip(dest) {
        let mut pairs: Vec<(K, K)> = lk.iter().copied().zip(li.iter().copied()).collect();
        pairs.sort_by(|a, b| {
            let by_key = if k > 0 {
                order(&b.0, &a.0)
            } else {
                order(&a.0, &b.0)
            };
            by_key.then(order(&a.1, &b.1))
        });
        for ((dk, di), (key, index)) in dk.iter_mut().zip(di.iter_mut()).zip(pairs) {
            (*dk, *di) = (key, index);
        }
    }
    (out_keys, out_indices)
}

/// argtopk: leaves turn a chunk into (key, global index) pairs along a trailing axis
/// and keep the best; merges put pairs end to end and keep the best; the last keeps
/// only the indices.
fn argtopk(p: &SortParams, inputs: &[Bytes]) -> Result<Bytes, String> {
    let arg = p.arg.expect("argtopk");
    let k = p.k.ok_or("argtopk without k")?;
    let decoded = decode_inputs(inputs)?;
    // The pairs as a float64 (keys of floats) or int64 (keys of integers) chunk.
    let pairs: Chunk = match &p.program {
        Some(program) => {
            let views: Vec<ViewChunk<'_>> = decoded.iter().map(CowChunk::view).collect();
            let value = value(program, &p.shape, &views)?;
            let view = value.view();
            let float = view.dtype().is_float();
            let unsigned = view.dtype().is_unsigned_integer();
            let axis = p.axis;
            crate::chunk::with_chunk!(ViewChunk, view, a => {
                let index_of = |i: &IxDyn| (arg.offset + i[axis]) as i64;
                if float {
                    let keys = a.mapv(|v| v.to_f64());
                    let idx = ArrayD::from_shape_fn(keys.raw_dim(), |i| index_of(&i) as f64);
                    Chunk::F64(ndarray::stack(Axis(keys.ndim()), &[keys.view(), idx.view()]).map_err(|e| e.to_string())?)
                } else {
                    let keys = a.mapv(|v| { let k = v.to_i64(); if unsigned { k ^ i64::MIN } else { k } });
                    let idx = ArrayD::from_shape_fn(keys.raw_dim(), |i| index_of(&i));
                    Chunk::I64(ndarray::stack(Axis(keys.ndim()), &[keys.view(), idx.view()]).map_err(|e| e.to_string())?)
                }
            })
        }
        None => {
            let owned: Vec<Chunk> = decoded.into_iter().map(CowChunk::into_owned).collect();
            let first = owned.first().ok_or("nothing to merge")?;
            for_dtype!(first.dtype(), T => {
                let views = owned
                    .iter()
                    .map(|c| c.as_array::<T>().map(|a| a.view()).map_err(|e| e.to_string()))
                    .collect::<Result<Vec<_>, String>>()?;
                Chunk::from(ndarray::concatenate(Axis(p.axis), &views).map_err(|e| e.to_string())?)
            })
        }
    };
    let last = Axis(pairs.ndim() - 1);
    for_dtype!(pairs.dtype(), K => {
        let a = pairs.as_array::<K>().map_err(|e| e.to_string())?;
        let (keys, indices) = (a.index_axis(last, 0).to_owned(), a.index_axis(last, 1).to_owned());
        let (keys, indices) = arg_select(&keys, &indices, p.axis, k);
        Ok(if arg.finish {
            Chunk::I64(indices.mapv(|i| i.to_i64())).encode()
        } else {
            Chunk::from(ndarray::stack(Axis(keys.ndim()), &[keys.view(), indices.view()]).map_err(|e| e.to_string())?).encode()
        })
    })
}
