//! Lowering of reshapes (runs of elements in C order), cumulative scans (each chunk
//! scanned, then the totals of the chunks before it carried in, as Dask's
//! cumreductions do) and ranges (computed where they are needed).

use super::Lowering;
use super::lazy::{LExpr, Lazy, TaskInputs, compile};
use crate::codec;
use crate::expr::{Kind, Node};
use crate::kernels::{FLAT_PIECES, RANGE, SCAN};
use crate::program::{BinaryFn, FlatParams, RangeParams, ScanParams};
use crate::view::{View, ViewAxis};
use doreisa_sched::Input;
use std::sync::Arc;

/// The elements (C order) of chunk `pos` of `node`: a range of the flattened array.
fn flat_range(node: &Node, pos: &[usize]) -> (usize, usize) {
    let len: usize = node.grid.chunk_shape(pos).iter().product();
    if node.ndim() == 0 {
        return (0, len);
    }
    let row: usize = node.shape[1..].iter().product();
    (node.grid.chunk_offset(pos)[0] * row, len)
}

/// The runs of chunks of `x` (cut in blocks of rows) that chunk `pos` of reshape `node`
/// is made of: (chunk of `x`, first element in it, count).
pub(super) fn reshape_runs(node: &Node, x: &Node, pos: &[usize]) -> Vec<(Vec<usize>, u64, u64)> {
    let (start, len) = flat_range(node, pos);
    let end = start + len;
    let mut runs = Vec::new();
    for src in x.grid.positions() {
        let (from, n) = flat_range(x, &src);
        let (lo, hi) = (start.max(from), end.min(from + n));
        if lo < hi {
            runs.push((src, (lo - from) as u64, (hi - lo) as u64));
        }
    }
    runs
}

impl Lowering {
    pub(super) fn reshape(&mut self, node: &Arc<Node>, x: &Arc<Node>, pos: &[usize]) -> Lazy {
        let mut inputs = Vec::new();
        let mut pieces = Vec::new();
        for (src, first, count) in reshape_runs(node, x, pos) {
            inputs.push(self.materialize(x, &src));
            pieces.push((inputs.len() as u32 - 1, first, count));
        }
        let shape = node.grid.chunk_shape(pos);
        let params = FlatParams {
            shape: shape.clone(),
            dtype: node.dtype,
            pieces,
        };
        let input = self.graph.task(FLAT_PIECES, codec::encode(&params), inputs);
        Lazy::leaf(input, shape, node.dtype)
    }

    pub(super) fn range(&mut self, node: &Arc<Node>, pos: &[usize]) -> Lazy {
        let Kind::Range(spec) = node.kind else {
            unreachable!("called on ranges")
        };
        let shape = node.grid.chunk_shape(pos);
        let params = RangeParams {
            spec,
            offset: node.grid.chunk_offset(pos)[0],
            len: shape[0],
        };
        let input = self.graph.task(RANGE, codec::encode(&params), Vec::new());
        Lazy::leaf(input, shape, node.dtype)
    }

    /// Chunk `pos` of scan `node`: the chunk's own scan, plus (or times) the totals of
    /// the chunks before it along the axis.
    pub(super) fn scan(&mut self, node: &Arc<Node>, pos: &[usize]) -> Lazy {
        let Kind::Scan { axis, prod, .. } = node.kind else {
            unreachable!("called on scans")
        };
        let shape = node.grid.chunk_shape(pos);
        let own = Lazy::leaf(self.scan_local(node, pos), shape.clone(), node.dtype);
        if pos[axis] == 0 {
            return own;
        }
        let carry = self.scan_carry(node, pos);
        // The carry (length 1 along the axis) repeated along the chunk.
        let axes = (0..shape.len())
            .map(|a| {
                if a == axis {
                    ViewAxis::Bcast { len: shape[a] }
                } else {
                    ViewAxis::Map {
                        src: a,
                        start: 0,
                        step: 1,
                        len: shape[a],
                    }
                }
            })
            .collect();
        let spread = carry.view(&View {
            axes,
            fixed: vec![(axis, 0)],
        });
        let f = if prod { BinaryFn::Mul } else { BinaryFn::Add };
        Lazy {
            expr: Arc::new(LExpr::Binary(f, own.expr, spread.expr)),
            shape,
            dtype: node.dtype,
        }
    }

    /// The scan of chunk `pos` of the scanned array on its own (one task, once).
    fn scan_local(&mut self, node: &Arc<Node>, pos: &[usize]) -> Input {
        let Kind::Scan { x, axis, prod } = &node.kind else {
            unreachable!("called on scans")
        };
        let key = (Arc::as_ptr(node) as usize, pos.to_vec(), false);
        if let Some(&input) = self.scans.get(&key) {
            return input;
        }
        let lazy = self.lowered(x, pos);
        let mut inputs = TaskInputs::default();
        let params = ScanParams {
            shape: lazy.shape.clone(),
            program: compile(&lazy, &mut inputs),
            axis: *axis,
            prod: *prod,
            dtype: node.dtype,
        };
        let input = self.graph.task(SCAN, codec::encode(&params), inputs.list);
        self.scans.insert(key, input);
        input
    }

    /// The last slice (length 1 along the axis) of chunk `pos`'s own scan.
    fn scan_last(&mut self, node: &Arc<Node>, pos: &[usize]) -> Lazy {
        let Kind::Scan { axis, .. } = node.kind else {
            unreachable!("called on scans")
        };
        let shape = node.grid.chunk_shape(pos);
        let local = Lazy::leaf(self.scan_local(node, pos), shape.clone(), node.dtype);
        let axes = (0..shape.len())
            .map(|a| ViewAxis::Map {
                src: a,
                start: if a == axis { shape[a] - 1 } else { 0 },
                step: 1,
                len: if a == axis { 1 } else { shape[a] },
            })
            .collect();
        local.view(&View {
            axes,
            fixed: Vec::new(),
        })
    }

    /// The total of the chunks before chunk `pos` along the axis, materialized once per
    /// chunk (a chain: each carry is the previous one and one more chunk's total).
    fn scan_carry(&mut self, node: &Arc<Node>, pos: &[usize]) -> Lazy {
        let Kind::Scan { axis, prod, .. } = node.kind else {
            unreachable!("called on scans")
        };
        let k = pos[axis];
        let mut before = pos.to_vec();
        before[axis] = k - 1;
        let last = self.scan_last(node, &before);
        if k == 1 {
            return last;
        }
        let key = (Arc::as_ptr(node) as usize, pos.to_vec(), true);
        let shape = last.shape.clone();
        if let Some(&input) = self.scans.get(&key) {
            return Lazy::leaf(input, shape, node.dtype);
        }
        let previous = self.scan_carry(node, &before);
        let f = if prod { BinaryFn::Mul } else { BinaryFn::Add };
        let sum = Lazy {
            expr: Arc::new(LExpr::Binary(f, previous.expr, last.expr)),
            shape: shape.clone(),
            dtype: node.dtype,
        };
        let input = Input::Task(self.eval(&sum));
        self.scans.insert(key, input);
        Lazy::leaf(input, shape, node.dtype)
    }
}
