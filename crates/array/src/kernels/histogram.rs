//! `array.histogram_chunk`: the counts of one chunk's elements in histogram bins.

use super::eval::{decode_inputs, value};
use crate::chunk::{Chunk, CowChunk, ViewChunk, with_chunk};
use crate::codec;
use crate::element::Element;
use crate::program::HistogramParams;
use bytes::Bytes;
use ndarray::{ArrayD, IxDyn};

/// The bin of `v` among `edges`: `edges[i] <= v < edges[i + 1]`, the last bin closed;
/// `None` outside (and for NaN).
pub(crate) fn bin(edges: &[f64], v: f64) -> Option<usize> {
    let (first, last) = (edges[0], edges[edges.len() - 1]);
    if v.is_nan() || v < first || v > last {
        return None;
    }
    let bins = edges.len() - 1;
    let after = edges.partition_point(|&e| e <= v);
    Some(after.saturating_sub(1).min(bins - 1))
}

pub(crate) fn histogram_chunk(params: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
    let p: HistogramParams = codec::decode(params).map_err(|e| e.to_string())?;
    let ordered = |w: &[f64]| w[0].partial_cmp(&w[1]).is_some_and(|o| o.is_le());
    if p.edges.len() < 2 || !p.edges.windows(2).all(ordered) {
        return Err(format!("bad histogram edges {:?}", p.edges));
    }
    let decoded = decode_inputs(inputs)?;
    let views: Vec<ViewChunk<'_>> = decoded.iter().map(CowChunk::view).collect();
    let value = value(&p.program, &p.shape, &views)?;
    let mut counts = vec![0i64; p.edges.len() - 1];
    with_chunk!(ViewChunk, value.view(), a => {
        for &v in a.iter() {
            if let Some(i) = bin(&p.edges, v.to_f64()) {
                counts[i] += 1;
            }
        }
    });
    let n = counts.len();
    let counts = ArrayD::from_shape_vec(IxDyn(&[n]), counts).map_err(|e| e.to_string())?;
    Ok(Chunk::I64(counts).encode())
}

#[cfg(test)]
mod tests {
    use super::bin;

    #[test]
    fn bins_are_half_open_but_the_last() {
        let edges = [0.0, 1.0, 1.0, 2.0];
        assert_eq!(bin(&edges, 0.5), Some(0));
        assert_eq!(
            bin(&edges, 1.0),
            Some(2),
            "an empty bin [1, 1) takes nothing"
        );
        assert_eq!(bin(&edges, 2.0), Some(2), "the last bin is closed");
        assert_eq!(bin(&edges, -0.1), None);
        assert_eq!(bin(&edges, 2.1), None);
        assert_eq!(bin(&edges, f64::NAN), None);
    }
}
