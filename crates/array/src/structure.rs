//! The structure key of an expression: equal for two expressions that lower to the same
//! task graph up to a shift of every source's timestep, different otherwise. It is
//! computed from the expression (each shared node once), never from its tasks, so a
//! runner that keeps plans (see `GraphRunner::compute_keyed`) finds the plan of an
//! analysis rebuilt every timestep at the cost of the expression, not of its graph.
//!
//! Every field that lowering reads goes into the key: a forgotten one would give two
//! different graphs one plan, a silently wrong value. So each variant of [`Kind`] is
//! taken apart without `..`, and a new field does not compile until it is hashed.

use crate::expr::{Kind, Node};
use rustc_hash::{FxHashMap, FxHasher};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The key of the expression at `root`, and the timestep its sources are taken
/// relative to (the latest; 0 with no source).
pub(crate) fn structure_key(root: &Arc<Node>) -> (u64, i64) {
    let order = post_order(root);
    let base = order
        .iter()
        .filter_map(|node| match &node.kind {
            Kind::Source { timestep, .. } => Some(*timestep),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let ids: FxHashMap<*const Node, usize> = order
        .iter()
        .enumerate()
        .map(|(id, node)| (Arc::as_ptr(node), id))
        .collect();
    let mut hasher = FxHasher::default();
    order.len().hash(&mut hasher);
    for node in &order {
        for child in node.children() {
            ids[&Arc::as_ptr(child)].hash(&mut hasher);
        }
        node.shape.hash(&mut hasher);
        node.grid.hash(&mut hasher);
        node.dtype.hash(&mut hasher);
        hash_kind(&node.kind, base, &mut hasher);
    }
    (hasher.finish(), base)
}

/// The nodes under `root`, each once, operands before the nodes using them.
fn post_order(root: &Arc<Node>) -> Vec<&Arc<Node>> {
    let mut seen: FxHashMap<*const Node, ()> = FxHashMap::default();
    let mut order = Vec::new();
    let mut stack: Vec<(&Arc<Node>, bool)> = vec![(root, false)];
    while let Some((node, expanded)) = stack.pop() {
        if expanded {
            order.push(node);
            continue;
        }
        if seen.insert(Arc::as_ptr(node), ()).is_some() {
            continue;
        }
        stack.push((node, true));
        for child in node.children().into_iter().rev() {
            if !seen.contains_key(&Arc::as_ptr(child)) {
                stack.push((child, false));
            }
        }
    }
    order
}

/// Hashes what `kind` says besides its operands; floats by their bits, values without
/// `Hash` (constants, ranges) by their exact `Debug` form.
fn hash_kind(kind: &Kind, base: i64, h: &mut FxHasher) {
    std::mem::discriminant(kind).hash(h);
    match kind {
        Kind::Source {
            name,
            timestep,
            persisted: _,
        } => {
            name.hash(h);
            (timestep - base).hash(h);
        }
        Kind::Const(value) => format!("{value:?}").hash(h),
        Kind::Map { func, args: _ } => func.hash(h),
        Kind::Reindex { x: _, plan } => plan.hash(h),
        Kind::Concat { xs: _, axis } => axis.hash(h),
        Kind::Rechunk { x: _ } | Kind::Reshape { x: _ } | Kind::Unique { x: _ } => {}
        Kind::Reduce {
            x: _,
            op,
            axes,
            keepdims,
            ddof,
            split_every,
        } => (op, axes, keepdims, ddof, split_every).hash(h),
        Kind::Scan { x: _, axis, prod } => (axis, prod).hash(h),
        Kind::Range(spec) => format!("{spec:?}").hash(h),
        Kind::Quantile {
            x: _,
            axes,
            q,
            approximate,
        } => {
            axes.hash(h);
            q.len().hash(h);
            q.iter().map(|v| v.to_bits()).for_each(|b| b.hash(h));
            approximate.hash(h);
        }
        Kind::MatMul { a: _, b: _ } => {}
        Kind::Extract {
            x: _,
            mask: _,
            blocks,
        } => blocks.hash(h),
        Kind::Sort { x: _, axis } => axis.hash(h),
        Kind::TopK { x: _, axis, k, arg } => (axis, k, arg).hash(h),
        Kind::Histogram {
            x: _,
            edges,
            split_every,
        } => {
            edges.len().hash(h);
            edges.iter().map(|v| v.to_bits()).for_each(|b| b.hash(h));
            split_every.hash(h);
        }
        Kind::MapBlocks {
            xs: _,
            kernel,
            params,
        } => (kernel, params).hash(h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Array, DType, Grid, SliceArg};

    fn field(name: &str, timestep: i64) -> Array {
        let grid = Grid::regular(&[8, 6], &[4, 3]).unwrap();
        Array::source(name, timestep, &[8, 6], grid, DType::F64).unwrap()
    }

    fn key(array: &Array) -> (u64, i64) {
        structure_key(&array.node)
    }

    /// A window derivative and a reduction, as a callback rebuilds them each timestep.
    fn analysis(t: i64) -> Array {
        let now = field("x", t);
        let before = field("x", t - 1);
        let change = (&now - &before).unwrap().abs().unwrap();
        (&change.max().unwrap() + &now.mean().unwrap()).unwrap()
    }

    #[test]
    fn the_same_analysis_one_timestep_later_has_the_same_key() {
        let (k5, base5) = key(&analysis(5));
        let (k6, base6) = key(&analysis(6));
        assert_eq!(k5, k6);
        assert_eq!((base5, base6), (5, 6));
    }

    #[test]
    fn whatever_changes_the_graph_changes_the_key() {
        let x = field("x", 3);
        let variants = [
            x.add(1.0).unwrap(),
            x.add(2.0).unwrap(),
            x.mul(1.0).unwrap(),
            field("y", 3).add(1.0).unwrap(),
            x.sum_axes(&[0]).unwrap(),
            x.sum_axes(&[1]).unwrap(),
            x.max_axes(&[0]).unwrap(),
            x.flip(0).unwrap(),
            x.flip(1).unwrap(),
            x.slice(&[SliceArg::range(0, 4), SliceArg::FULL]).unwrap(),
            x.slice(&[SliceArg::range(1, 5), SliceArg::FULL]).unwrap(),
            x.rechunk(Grid::regular(&[8, 6], &[2, 6]).unwrap()).unwrap(),
            x.rechunk(Grid::regular(&[8, 6], &[8, 2]).unwrap()).unwrap(),
            (&x - &field("x", 2)).unwrap(),
            (&x - &field("x", 1)).unwrap(),
            x.histogram_edges(&[0.0, 1.0, 2.0]).unwrap(),
            x.histogram_edges(&[0.0, 1.0, 3.0]).unwrap(),
            Array::map_blocks(std::slice::from_ref(&x), "k", b"a".to_vec(), DType::F64).unwrap(),
            Array::map_blocks(std::slice::from_ref(&x), "k", b"b".to_vec(), DType::F64).unwrap(),
        ];
        let keys: Vec<u64> = variants.iter().map(|a| key(a).0).collect();
        for (i, a) in keys.iter().enumerate() {
            for (j, b) in keys.iter().enumerate().skip(i + 1) {
                assert_ne!(a, b, "variants {i} and {j} lower differently");
            }
        }
    }

    #[test]
    fn a_node_used_twice_is_hashed_once() {
        let mut x = field("x", 0);
        for _ in 0..64 {
            // Each level reads the one below twice: 2^64 paths, 65 nodes.
            x = (&x + &x).unwrap();
        }
        let (k, _) = key(&x);
        assert_ne!(k, key(&field("x", 0)).0);
    }
}
