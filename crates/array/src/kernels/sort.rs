//! `array.sort` and `array.topk`: sorting lanes in numpy's order (NaN last).

use super::eval::{decode_inputs, value};
use super::typed::{Typed, for_dtype};
use crate::chunk::{Chunk, CowChunk, ViewChunk};
use crate::codec;
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
