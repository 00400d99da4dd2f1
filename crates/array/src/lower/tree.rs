//! Reductions as trees: a leaf task per input chunk reduces it (with the fused
//! expression that produces it) to a partial; combine tasks merge up to
//! `split_every` partials each, level by level; the last task finalizes.

use super::Lowering;
use super::lazy::{TaskInputs, compile};
use crate::codec;
use crate::expr::{Kind, Node};
use crate::grid::positions;
use crate::kernels::{
    EXTRACT, HISTOGRAM_CHUNK, MATMUL, QUANTILE, QUANTILE_MERGE, QUANTILE_SAMPLE, REDUCE_CHUNK,
    REDUCE_COMBINE, SORT, UNIQUE,
};
use crate::program::{
    ArgTopK, CombineParams, Finalize, HistogramParams, QuantileParams, ReduceChunkParams,
    Reduction, SampleParams, SortParams, UniqueParams,
};
use doreisa_sched::Input;
use std::sync::Arc;

impl Lowering {
    /// The task computing chunk `pos` of reduction `node` (whose leaves are lowered).
    pub(super) fn reduce(&mut self, node: &Arc<Node>, pos: &[usize]) -> Input {
        let Kind::Reduce {
            x,
            op,
            axes,
            keepdims,
            ddof,
            split_every,
        } = &node.kind
        else {
            unreachable!("called on reductions")
        };
        let finalize = Finalize {
            dtype: node.dtype,
            ddof: *ddof,
            squeeze: if *keepdims { Vec::new() } else { axes.clone() },
        };
        let leaves = leaf_positions(node, pos);
        let total = leaves.len();
        let mut level = Vec::with_capacity(total);
        for src in leaves {
            let lazy = self.lowered(x, &src);
            let mut inputs = TaskInputs::default();
            let (offset, extents) = if op.is_arg() {
                let offset = x.grid.chunk_offset(&src);
                (
                    axes.iter().map(|&a| offset[a]).collect(),
                    axes.iter().map(|&a| x.shape[a]).collect(),
                )
            } else {
                (Vec::new(), Vec::new())
            };
            let params = ReduceChunkParams {
                op: *op,
                shape: lazy.shape.clone(),
                program: compile(&lazy, &mut inputs),
                axes: axes.clone(),
                offset,
                extents,
                finalize: (total == 1).then(|| finalize.clone()),
            };
            level.push(
                self.graph
                    .task(REDUCE_CHUNK, codec::encode(&params), inputs.list),
            );
        }
        while level.len() > 1 {
            let last = level.len() <= *split_every;
            level = level
                .chunks(*split_every)
                .map(|group| match group {
                    [one] => *one,
                    _ => {
                        let params = CombineParams {
                            op: *op,
                            finalize: last.then(|| finalize.clone()),
                        };
                        self.graph
                            .task(REDUCE_COMBINE, codec::encode(&params), group.to_vec())
                    }
                })
                .collect();
        }
        level[0]
    }
}

impl Lowering {
    /// The task computing histogram `node` (whose input chunks are lowered): counts per
    /// chunk, summed in a tree.
    pub(super) fn histogram(&mut self, node: &Arc<Node>) -> Input {
        let Kind::Histogram {
            x,
            edges,
            split_every,
        } = &node.kind
        else {
            unreachable!("called on histograms")
        };
        let mut level: Vec<Input> = x
            .grid
            .positions()
            .map(|src| {
                let lazy = self.lowered(x, &src);
                let mut inputs = TaskInputs::default();
                let params = HistogramParams {
                    shape: lazy.shape.clone(),
                    program: compile(&lazy, &mut inputs),
                    edges: edges.to_vec(),
                };
                self.graph
                    .task(HISTOGRAM_CHUNK, codec::encode(&params), inputs.list)
            })
            .collect();
        while level.len() > 1 {
            level = level
                .chunks(*split_every)
                .map(|group| match group {
                    [one] => *one,
                    _ => {
                        let params = CombineParams {
                            op: Reduction::Sum,
                            finalize: None,
                        };
                        self.graph
                            .task(REDUCE_COMBINE, codec::encode(&params), group.to_vec())
                    }
                })
                .collect();
        }
        level[0]
    }
}

/// The chunk of `x` (whose `axes` are unsplit) holding the lanes of output chunk `pos`
/// of a quantile (whose first axis is the quantiles').
pub(super) fn quantile_source(x: &Node, axes: &[usize], pos: &[usize]) -> Vec<usize> {
    let mut kept = pos[1..].iter();
    (0..x.ndim())
        .map(|a| {
            if axes.contains(&a) {
                0
            } else {
                *kept.next().expect("a kept axis")
            }
        })
        .collect()
}

impl Lowering {
    /// The task computing chunk `pos` of quantile `node`.
    pub(super) fn quantile(&mut self, node: &Arc<Node>, pos: &[usize]) -> Input {
        let Kind::Quantile {
            x,
            axes,
            q,
            approximate,
        } = &node.kind
        else {
            unreachable!("called on quantiles")
        };
        if !approximate {
            let src = quantile_source(x, axes, pos);
            let lazy = self.lowered(x, &src);
            let mut inputs = TaskInputs::default();
            let params = QuantileParams {
                shape: lazy.shape.clone(),
                program: compile(&lazy, &mut inputs),
                axes: axes.clone(),
                q: q.to_vec(),
                dtype: node.dtype,
            };
            return self
                .graph
                .task(QUANTILE, codec::encode(&params), inputs.list);
        }
        let mut level: Vec<Input> = x
            .grid
            .positions()
            .map(|src| {
                let lazy = self.lowered(x, &src);
                let mut inputs = TaskInputs::default();
                let params = SampleParams {
                    shape: lazy.shape.clone(),
                    program: Some(compile(&lazy, &mut inputs)),
                    finish: None,
                };
                self.graph
                    .task(QUANTILE_SAMPLE, codec::encode(&params), inputs.list)
            })
            .collect();
        loop {
            let last = level.len() <= 8;
            let params = SampleParams {
                shape: Vec::new(),
                program: None,
                finish: last.then(|| (q.to_vec(), node.dtype, x.dtype)),
            };
            let encoded = codec::encode(&params);
            level = level
                .chunks(8)
                .map(|group| {
                    self.graph
                        .task(QUANTILE_MERGE, encoded.clone(), group.to_vec())
                })
                .collect();
            if last {
                return level[0];
            }
        }
    }
}

impl Lowering {
    /// The task sorting chunk `pos` of sort `node` (or the tree keeping the top `k`).
    pub(super) fn sort(&mut self, node: &Arc<Node>, pos: &[usize]) -> Input {
        let (x, axis, k, arg) = match &node.kind {
            Kind::Sort { x, axis } => (x, *axis, None, false),
            Kind::TopK { x, axis, k, arg } => (x, *axis, Some(*k), *arg),
            _ => unreachable!("called on sorts"),
        };
        let sources = sort_sources(node, pos);
        let single = sources.len() == 1;
        let mut level: Vec<Input> = sources
            .into_iter()
            .map(|src| {
                let lazy = self.lowered(x, &src);
                let mut inputs = TaskInputs::default();
                let params = SortParams {
                    shape: lazy.shape.clone(),
                    program: Some(compile(&lazy, &mut inputs)),
                    axis,
                    k,
                    arg: arg.then(|| ArgTopK {
                        offset: x.grid.chunk_offset(&src)[axis],
                        finish: single,
                    }),
                };
                self.graph.task(SORT, codec::encode(&params), inputs.list)
            })
            .collect();
        while level.len() > 1 {
            let last = level.len() <= 8;
            let params = SortParams {
                shape: Vec::new(),
                program: None,
                axis,
                k,
                arg: arg.then_some(ArgTopK {
                    offset: 0,
                    finish: last,
                }),
            };
            let encoded = codec::encode(&params);
            level = level
                .chunks(8)
                .map(|group| match group {
                    [one] if !arg => *one,
                    _ => self.graph.task(SORT, encoded.clone(), group.to_vec()),
                })
                .collect();
        }
        level[0]
    }
}

impl Lowering {
    /// The tree summing the block products of chunk `pos` of matrix product `node`.
    pub(super) fn matmul(&mut self, node: &Arc<Node>, pos: &[usize]) -> Input {
        let Kind::MatMul { a, b } = &node.kind else {
            unreachable!("called on matrix products")
        };
        let mut level: Vec<Input> = (0..a.grid.axis(1).len())
            .map(|k| {
                let x = self.materialize(a, &[pos[0], k]);
                let y = self.materialize(b, &[k, pos[1]]);
                self.graph.task(MATMUL, Vec::new(), vec![x, y])
            })
            .collect();
        let finalize = Finalize {
            dtype: node.dtype,
            ddof: 0,
            squeeze: Vec::new(),
        };
        loop {
            let last = level.len() <= 8;
            let params = CombineParams {
                op: Reduction::Sum,
                finalize: last.then(|| finalize.clone()),
            };
            let encoded = codec::encode(&params);
            level = level
                .chunks(8)
                .map(|group| {
                    self.graph
                        .task(REDUCE_COMBINE, encoded.clone(), group.to_vec())
                })
                .collect();
            if last {
                return level[0];
            }
        }
    }
}

impl Lowering {
    /// The task extracting output chunk `pos` of `node` from its block.
    pub(super) fn extract(&mut self, node: &Arc<Node>, pos: &[usize]) -> Input {
        let Kind::Extract { x, mask, blocks } = &node.kind else {
            unreachable!("called on extracts")
        };
        let src = extract_source(x, blocks, pos);
        let inputs = vec![self.materialize(x, &src), self.materialize(mask, &src)];
        self.graph.task(EXTRACT, Vec::new(), inputs)
    }

    /// The tree of the distinct values of `node`'s input: per chunk, then merged.
    pub(super) fn unique(&mut self, node: &Arc<Node>) -> Input {
        let Kind::Unique { x } = &node.kind else {
            unreachable!("called on unique")
        };
        let mut level: Vec<Input> = x
            .grid
            .positions()
            .map(|src| {
                let lazy = self.lowered(x, &src);
                let mut inputs = TaskInputs::default();
                let params = UniqueParams {
                    shape: lazy.shape.clone(),
                    program: Some(compile(&lazy, &mut inputs)),
                };
                self.graph.task(UNIQUE, codec::encode(&params), inputs.list)
            })
            .collect();
        let merge = codec::encode(&UniqueParams {
            shape: Vec::new(),
            program: None,
        });
        while level.len() > 1 {
            level = level
                .chunks(8)
                .map(|group| match group {
                    [one] => *one,
                    _ => self.graph.task(UNIQUE, merge.clone(), group.to_vec()),
                })
                .collect();
        }
        level[0]
    }
}

/// The block (of whole rows) output chunk `pos` of an extract reads.
pub(super) fn extract_source(x: &Node, blocks: &[usize], pos: &[usize]) -> Vec<usize> {
    let mut src = vec![0; x.ndim()];
    if let Some(first) = src.first_mut() {
        *first = blocks.get(pos[0]).copied().unwrap_or(0);
    }
    src
}

/// The chunks of `x` that chunk `pos` of a sort (one) or a topk (those along the axis)
/// reads.
pub(super) fn sort_sources(node: &Node, pos: &[usize]) -> Vec<Vec<usize>> {
    match &node.kind {
        Kind::Sort { .. } => vec![pos.to_vec()],
        Kind::TopK { x, axis, .. } => (0..x.grid.axis(*axis).len())
            .map(|c| {
                let mut src = pos.to_vec();
                src[*axis] = c;
                src
            })
            .collect(),
        _ => unreachable!("called on sorts"),
    }
}

/// The chunks of the reduced array that chunk `pos` of reduction `node` reduces, in C
/// order.
pub(super) fn leaf_positions(node: &Node, pos: &[usize]) -> Vec<Vec<usize>> {
    let Kind::Reduce {
        x, axes, keepdims, ..
    } = &node.kind
    else {
        unreachable!("called on reductions")
    };
    // The position in `x` with reduced axes at 0.
    let mut base = Vec::with_capacity(x.ndim());
    let mut kept = pos.iter();
    for a in 0..x.ndim() {
        let reduced = axes.contains(&a);
        let p = if reduced && !keepdims {
            None
        } else {
            kept.next()
        };
        base.push(if reduced {
            0
        } else {
            *p.expect("one position per kept axis")
        });
    }
    let counts: Vec<usize> = axes.iter().map(|&a| x.grid.axis(a).len()).collect();
    positions(&counts)
        .map(|choice| {
            let mut src = base.clone();
            for (&a, &c) in axes.iter().zip(&choice) {
                src[a] = c;
            }
            src
        })
        .collect()
}
