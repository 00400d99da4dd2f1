//! The kernels array graphs run, registered under names prefixed `array.`. Each is a
//! `fn(params, inputs) -> Result<Bytes, String>` over encoded chunks; parameters are
//! the types of the crate's `program` module, encoded by its `codec` module.

mod arith;
mod eval;
mod funcs;
mod histogram;
mod matmul;
mod partial;
mod quantile;
mod read;
mod reduce;
mod select;
mod shape;
mod sort;
pub(crate) mod typed;

use bytes::Bytes;
use doreisa_sched::KernelRegistry;

/// Returns its single input unchanged (a graph's outputs must be tasks, so a source
/// chunk asked for as it is goes through this).
pub const IDENTITY: &str = "array.identity";
/// Computes an output chunk from fused element-wise programs over its inputs (read
/// through views: slices, flips, transposes, broadcasts), assembled from pieces.
pub const EVAL: &str = "array.eval";
/// Reduces one chunk to a partial result (or to the result when it is the only one).
pub const REDUCE_CHUNK: &str = "array.reduce_chunk";
/// Merges partial results (and finalizes at the root of a reduction tree).
pub const REDUCE_COMBINE: &str = "array.reduce_combine";
/// Elements of `arange` / `linspace` (no input).
pub const RANGE: &str = "array.range";
/// An output chunk filled in C order by runs of its inputs' elements (reshape).
pub const FLAT_PIECES: &str = "array.flat_pieces";
/// The cumulative sum or product of one chunk along an axis.
pub const SCAN: &str = "array.scan";
/// Exact quantiles over whole lanes of a chunk.
pub const QUANTILE: &str = "array.quantile";
/// Weighted samples of one chunk (approximate quantiles).
pub const QUANTILE_SAMPLE: &str = "array.quantile_sample";
/// Merges samples, and computes the quantiles at the root.
pub const QUANTILE_MERGE: &str = "array.quantile_merge";
/// The product of two 2-d blocks, as a partial sum.
pub const MATMUL: &str = "array.matmul";
/// The elements of a block where its mask is true.
pub const EXTRACT: &str = "array.extract";
/// The sorted distinct values of a chunk, or of merged ones.
pub const UNIQUE: &str = "array.unique";
/// Sorts lanes of a chunk (also: keeps the k largest or smallest of each: topk).
pub const SORT: &str = "array.sort";
/// Counts one chunk's elements in histogram bins (merged by [`REDUCE_COMBINE`]).
pub const HISTOGRAM_CHUNK: &str = "array.histogram_chunk";

/// Registers the array kernels.
pub fn register_kernels(registry: &mut KernelRegistry) {
    registry.register(IDENTITY, identity);
    registry.register(EVAL, eval::eval);
    registry.register(REDUCE_CHUNK, reduce::reduce_chunk);
    registry.register(REDUCE_COMBINE, reduce::reduce_combine);
    registry.register(HISTOGRAM_CHUNK, histogram::histogram_chunk);
    registry.register(RANGE, shape::range);
    registry.register(SORT, sort::sort);
    registry.register(EXTRACT, select::extract);
    registry.register(UNIQUE, select::unique);
    registry.register(MATMUL, matmul::matmul);
    registry.register(QUANTILE, quantile::quantile);
    registry.register(QUANTILE_SAMPLE, quantile::quantile_sample);
    registry.register(QUANTILE_MERGE, quantile::quantile_merge);
    registry.register(FLAT_PIECES, shape::flat_pieces);
    registry.register(SCAN, shape::scan);
}

/// A registry holding the array kernels only.
pub fn kernels() -> KernelRegistry {
    let mut registry = KernelRegistry::new();
    register_kernels(&mut registry);
    registry
}

fn identity(_params: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
    match inputs {
        [input] => Ok(input.clone()),
        _ => Err(format!("identity takes one input, not {}", inputs.len())),
    }
}
