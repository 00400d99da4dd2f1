//! `array.extract` (the elements where a mask is true, in C order) and `array.unique`
//! (sorted distinct values, per chunk then merged).

use super::eval::{decode_inputs, value};
use super::typed::{ChunkElement, Typed, for_dtype};
use crate::chunk::{Chunk, CowChunk, ViewChunk, encode_slice};
use crate::codec;
use crate::program::UniqueParams;
use bytes::Bytes;
use std::cmp::Ordering;

pub(crate) fn extract(_params: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
    let decoded = decode_inputs(inputs)?;
    let [x, mask] = decoded.as_slice() else {
        return Err(format!(
            "extract takes a block and its mask, not {}",
            decoded.len()
        ));
    };
    let (x, mask) = (x.view(), mask.view());
    let ViewChunk::Bool(m) = &mask else {
        return Err(format!("a mask of {}", mask.dtype()));
    };
    if m.shape() != x.shape() {
        return Err(format!("a mask of {:?} for {:?}", m.shape(), x.shape()));
    }
    for_dtype!(x.dtype(), T => {
        let a = T::view(&x).expect("dtype matched");
        let kept: Vec<T> = a.iter().zip(m.iter()).filter(|(_, keep)| **keep).map(|(v, _)| *v).collect();
        Ok(encode_slice(&[kept.len()], &kept))
    })
}

/// numpy's sort order, NaN last, all NaN equal (`unique` keeps one).
fn order<T: PartialOrd>(a: &T, b: &T) -> Ordering {
    a.partial_cmp(b).unwrap_or_else(|| {
        #[allow(clippy::eq_op)] // x != x is the generic NaN test
        let (an, bn) = (a != a, b != b);
        an.cmp(&bn)
    })
}

fn distinct<T: Typed>(mut values: Vec<T>) -> Vec<T> {
    values.sort_by(order);
    values.dedup_by(|a, b| order(a, b) == Ordering::Equal);
    values
}

pub(crate) fn unique(params: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
    let p: UniqueParams = codec::decode(params).map_err(|e| e.to_string())?;
    let decoded = decode_inputs(inputs)?;
    let chunks: Vec<Chunk> = match &p.program {
        Some(program) => {
            let views: Vec<ViewChunk<'_>> = decoded.iter().map(CowChunk::view).collect();
            let value = value(program, &p.shape, &views)?;
            vec![crate::chunk::with_chunk!(ViewChunk, value.view(), a => Chunk::from(a.to_owned()))]
        }
        None => decoded.into_iter().map(CowChunk::into_owned).collect(),
    };
    let first = chunks.first().ok_or("nothing to merge")?;
    for_dtype!(first.dtype(), T => {
        let mut all: Vec<T> = Vec::new();
        for c in &chunks {
            all.extend(c.as_array::<T>().map_err(|e| e.to_string())?.iter().copied());
        }
        let values = distinct(all);
        Ok(encode_slice(&[values.len()], &values))
    })
}
