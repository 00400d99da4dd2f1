//! Lowering: an expression to a [`TaskGraph`] of kernel invocations.
//!
//! Lowering is demand-driven, chunk by chunk: the root asks for each of its chunks,
//! each node asks its operands for just the chunks it needs (so a slice reads only the
//! chunks it overlaps), and every `(node, chunk)` is lowered once (shared
//! subexpressions are lowered once). A chunk comes back as a [`Lazy`] expression:
//! element-wise operations and views (slicing, flip, transpose, broadcasting,
//! concatenation, splitting) only grow it, so a chain of them fuses into the single
//! task that finally needs the chunk materialized: the root's output, a reduction's
//! leaf, a merging rechunk or a `map_blocks` kernel. A node whose result several such
//! tasks need is materialized once instead (see [`find_roots`]).

mod lazy;
mod shape;
mod tree;

use crate::Result;
use crate::codec;
use crate::expr::{Kind, MapFn, Node};
use crate::grid::positions;
use crate::kernels::{EVAL, IDENTITY};
use crate::program::{EvalParams, Piece};
use crate::view::{View, ViewAxis};
use doreisa_sched::{Input, SourceKey, TaskGraph};
use lazy::{LExpr, Lazy, TaskInputs, compile};
use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::Arc;

/// The graph computing every chunk of `root`: output `i` is the chunk at
/// `root.grid.position(i)`.
pub(crate) fn lower(root: &Arc<Node>) -> Result<TaskGraph> {
    let mut lowering = Lowering {
        graph: TaskGraph::default(),
        sources: FxHashMap::default(),
        roots: find_roots(root),
        lazies: FxHashMap::default(),
        materialized: FxHashMap::default(),
        scans: FxHashMap::default(),
    };
    for pos in root.grid.positions() {
        let lazy = lowering.chunk(root, &pos)?;
        let output = match lazy.materialized() {
            Some(Input::Task(t)) => t,
            Some(source) => {
                lowering.graph.task(IDENTITY, Vec::new(), vec![source]);
                lowering.graph.tasks.len() - 1
            }
            None => lowering.eval(&lazy),
        };
        lowering.graph.outputs.push(output);
    }
    Ok(lowering.graph)
}

type ChunkKey = (usize, Vec<usize>);

fn id(node: &Arc<Node>) -> usize {
    Arc::as_ptr(node) as usize
}

pub(crate) struct Lowering {
    graph: TaskGraph,
    /// Source keys already in the graph, by key (the graph's own lookup is linear).
    sources: FxHashMap<SourceKey, usize>,
    /// Nodes materialized on their own (see [`find_roots`]).
    roots: FxHashSet<usize>,
    lazies: FxHashMap<ChunkKey, Lazy>,
    materialized: FxHashMap<ChunkKey, Input>,
    /// Scans of chunks on their own (`false`) and the carries into them (`true`).
    scans: FxHashMap<(usize, Vec<usize>, bool), Input>,
}

impl Lowering {
    fn source(&mut self, key: SourceKey) -> Input {
        let next = self.graph.sources.len();
        let graph = &mut self.graph;
        Input::Source(*self.sources.entry(key.clone()).or_insert_with(|| {
            graph.sources.push(key);
            next
        }))
    }

    /// A task computing `lazy` (one piece); returns its index.
    fn eval(&mut self, lazy: &Lazy) -> usize {
        let mut inputs = TaskInputs::default();
        let program = compile(lazy, &mut inputs);
        let params = EvalParams {
            shape: lazy.shape.clone(),
            dtype: lazy.dtype,
            pieces: vec![Piece {
                offset: vec![0; lazy.shape.len()],
                shape: lazy.shape.clone(),
                program,
            }],
        };
        self.graph.task(EVAL, codec::encode(&params), inputs.list);
        self.graph.tasks.len() - 1
    }

    /// The chunk of `node` at `pos`, materialized (once). It must be lowered already.
    fn materialize(&mut self, node: &Arc<Node>, pos: &[usize]) -> Input {
        let lazy = self.lowered(node, pos);
        if let Some(input) = lazy.materialized() {
            return input;
        }
        let key = (id(node), pos.to_vec());
        if let Some(&input) = self.materialized.get(&key) {
            return input;
        }
        let input = Input::Task(self.eval(&lazy));
        self.materialized.insert(key, input);
        input
    }

    /// The lazy chunk of `node` at `pos`, which must be lowered already.
    fn lowered(&self, node: &Arc<Node>, pos: &[usize]) -> Lazy {
        self.lazies[&(id(node), pos.to_vec())].clone()
    }

    /// The chunk of `node` at `pos`, lazily, with whatever it needs lowered first (by
    /// an explicit stack: expressions may be far deeper than the call stack).
    fn chunk(&mut self, node: &Arc<Node>, pos: &[usize]) -> Result<Lazy> {
        let mut stack = vec![(node.clone(), pos.to_vec(), false)];
        while let Some((n, p, ready)) = stack.pop() {
            let key = (id(&n), p);
            if self.lazies.contains_key(&key) {
                continue;
            }
            let p = key.1;
            if ready {
                let lazy = self.build(&n, &p)?;
                self.lazies.insert((id(&n), p), lazy);
                continue;
            }
            let needs = needs(&n, &p);
            stack.push((n, p, true));
            for (c, q) in needs {
                if !self.lazies.contains_key(&(id(&c), q.clone())) {
                    stack.push((c, q, false));
                }
            }
        }
        Ok(self.lowered(node, pos))
    }

    /// Lowers chunk `pos` of `node`, whose [`needs`] are lowered.
    fn build(&mut self, node: &Arc<Node>, pos: &[usize]) -> Result<Lazy> {
        let shape = node.grid.chunk_shape(pos);
        let mut lazy = match &node.kind {
            Kind::Source { name, timestep, .. } => {
                let input = self.source(SourceKey {
                    array: name.clone(),
                    timestep: *timestep,
                    chunk: pos.iter().map(|&p| p as u32).collect(),
                });
                Lazy::leaf(input, shape, node.dtype)
            }
            Kind::Const(c) => Lazy {
                expr: Arc::new(LExpr::Const(*c)),
                shape,
                dtype: node.dtype,
            },
            Kind::Map { func, args } => {
                let args: Vec<_> = args.iter().map(|a| self.lowered(a, pos).expr).collect();
                let expr = match (*func, args.as_slice()) {
                    (MapFn::Unary(f), [a]) => LExpr::Unary(f, a.clone()),
                    (MapFn::Binary(f), [a, b]) => LExpr::Binary(f, a.clone(), b.clone()),
                    (MapFn::Where, [c, a, b]) => LExpr::Where(c.clone(), a.clone(), b.clone()),
                    (MapFn::Cast(d), [a]) => LExpr::Cast(d, a.clone()),
                    _ => unreachable!("map nodes are built with their arity"),
                };
                Lazy {
                    expr: Arc::new(expr),
                    shape,
                    dtype: node.dtype,
                }
            }
            Kind::Reindex { x, plan } => {
                let (src, view) = plan.locate(pos, x.ndim());
                let mut inner = self.lowered(x, &src);
                if view.repeats() && inner.computes() {
                    // Compute once, then repeat.
                    let input = self.materialize(x, &src);
                    inner = Lazy::leaf(input, inner.shape.clone(), inner.dtype);
                }
                inner.view(&view)
            }
            Kind::Concat { xs, axis } => {
                let (k, src) = concat_source(xs, *axis, pos);
                self.lowered(&xs[k], &src)
            }
            Kind::Rechunk { x } => self.rechunk(node, x, pos),
            Kind::Reduce { .. } => {
                let input = self.reduce(node, pos);
                Lazy::leaf(input, shape, node.dtype)
            }
            Kind::Histogram { .. } => {
                let input = self.histogram(node);
                Lazy::leaf(input, shape, node.dtype)
            }
            Kind::Reshape { x } => self.reshape(node, x, pos),
            Kind::Scan { .. } => self.scan(node, pos),
            Kind::Range(_) => self.range(node, pos),
            Kind::Quantile { .. } => {
                let input = self.quantile(node, pos);
                Lazy::leaf(input, shape, node.dtype)
            }
            Kind::MatMul { .. } => {
                let input = self.matmul(node, pos);
                Lazy::leaf(input, shape, node.dtype)
            }
            Kind::Extract { .. } => {
                let input = self.extract(node, pos);
                Lazy::leaf(input, shape, node.dtype)
            }
            Kind::Unique { .. } => {
                let input = self.unique(node);
                Lazy::leaf(input, shape, node.dtype)
            }
            Kind::Sort { .. } | Kind::TopK { .. } => {
                let input = self.sort(node, pos);
                Lazy::leaf(input, shape, node.dtype)
            }
            Kind::MapBlocks { xs, kernel, params } => {
                let inputs = xs.iter().map(|x| self.materialize(x, pos)).collect();
                let input = self.graph.task(kernel, params.to_vec(), inputs);
                Lazy::leaf(input, shape, node.dtype)
            }
        };
        if self.roots.contains(&id(node)) && lazy.materialized().is_none() {
            let input = Input::Task(self.eval(&lazy));
            lazy = Lazy::leaf(input, lazy.shape, lazy.dtype);
        }
        Ok(lazy)
    }

    /// Chunk `pos` of `node`, which cuts `x` anew: a view when it lies within one
    /// chunk of `x`, else one task assembling the pieces.
    fn rechunk(&mut self, node: &Arc<Node>, x: &Arc<Node>, pos: &[usize]) -> Lazy {
        let pieces: Vec<(Vec<usize>, Lazy)> = rechunk_pieces(node, x, pos)
            .into_iter()
            .map(|(src, view, offset)| (offset, self.lowered(x, &src).view(&view)))
            .collect();
        if let [(_, lazy)] = pieces.as_slice() {
            return lazy.clone();
        }
        let mut inputs = TaskInputs::default();
        let pieces = pieces
            .into_iter()
            .map(|(offset, lazy)| Piece {
                offset,
                shape: lazy.shape.clone(),
                program: compile(&lazy, &mut inputs),
            })
            .collect();
        let shape = node.grid.chunk_shape(pos);
        let params = EvalParams {
            shape: shape.clone(),
            dtype: node.dtype,
            pieces,
        };
        let input = self.graph.task(EVAL, codec::encode(&params), inputs.list);
        Lazy::leaf(input, shape, node.dtype)
    }
}

/// The chunks chunk `pos` of `node` is made of.
fn needs(node: &Arc<Node>, pos: &[usize]) -> Vec<(Arc<Node>, Vec<usize>)> {
    match &node.kind {
        Kind::Source { .. } | Kind::Const(_) => Vec::new(),
        Kind::Map { args: xs, .. } | Kind::MapBlocks { xs, .. } => {
            xs.iter().map(|x| (x.clone(), pos.to_vec())).collect()
        }
        Kind::Reindex { x, plan } => vec![(x.clone(), plan.locate(pos, x.ndim()).0)],
        Kind::Concat { xs, axis } => {
            let (k, src) = concat_source(xs, *axis, pos);
            vec![(xs[k].clone(), src)]
        }
        Kind::Rechunk { x } => rechunk_pieces(node, x, pos)
            .into_iter()
            .map(|(src, _, _)| (x.clone(), src))
            .collect(),
        Kind::Reduce { x, .. } => tree::leaf_positions(node, pos)
            .into_iter()
            .map(|src| (x.clone(), src))
            .collect(),
        Kind::Histogram { x, .. } => x.grid.positions().map(|src| (x.clone(), src)).collect(),
        Kind::Reshape { x } => shape::reshape_runs(node, x, pos)
            .into_iter()
            .map(|(src, ..)| (x.clone(), src))
            .collect(),
        Kind::Scan { x, axis, .. } => (0..=pos[*axis])
            .map(|j| {
                let mut src = pos.to_vec();
                src[*axis] = j;
                (x.clone(), src)
            })
            .collect(),
        Kind::Range(_) => Vec::new(),
        Kind::Quantile {
            x,
            approximate: true,
            ..
        } => x.grid.positions().map(|src| (x.clone(), src)).collect(),
        Kind::Quantile { x, axes, .. } => vec![(x.clone(), tree::quantile_source(x, axes, pos))],
        Kind::Extract { x, mask, blocks } => {
            let src = tree::extract_source(x, blocks, pos);
            vec![(x.clone(), src.clone()), (mask.clone(), src)]
        }
        Kind::Unique { x } => x.grid.positions().map(|src| (x.clone(), src)).collect(),
        Kind::MatMul { a, b } => (0..a.grid.axis(1).len())
            .flat_map(|k| [(a.clone(), vec![pos[0], k]), (b.clone(), vec![k, pos[1]])])
            .collect(),
        Kind::Sort { x, .. } | Kind::TopK { x, .. } => tree::sort_sources(node, pos)
            .into_iter()
            .map(|src| (x.clone(), src))
            .collect(),
    }
}

/// Which input of a concatenation, and which chunk of it, chunk `pos` is.
fn concat_source(xs: &[Arc<Node>], axis: usize, pos: &[usize]) -> (usize, Vec<usize>) {
    let mut index = pos[axis];
    let mut src = pos.to_vec();
    for (k, x) in xs.iter().enumerate() {
        let n = x.grid.axis(axis).len();
        if index < n {
            src[axis] = index;
            return (k, src);
        }
        index -= n;
    }
    unreachable!("concatenated grids cover the output")
}

/// The pieces of chunk `pos` of a rechunking `node` of `x`: the chunk of `x`, the view
/// of it, and the offset of the piece in the chunk.
fn rechunk_pieces(node: &Node, x: &Node, pos: &[usize]) -> Vec<(Vec<usize>, View, Vec<usize>)> {
    let offset = node.grid.chunk_offset(pos);
    let shape = node.grid.chunk_shape(pos);
    // Per axis: (source chunk, start in it, length, offset in the output chunk).
    let runs: Vec<Vec<(usize, usize, usize, usize)>> = (0..node.ndim())
        .map(|a| {
            let range = offset[a]..offset[a] + shape[a];
            if range.is_empty() {
                return vec![(0, 0, 0, 0)];
            }
            x.grid
                .overlapping(a, range.clone())
                .map(|c| {
                    let src = x.grid.chunk_range(a, c);
                    let start = range.start.max(src.start);
                    let end = range.end.min(src.end);
                    (c, start - src.start, end - start, start - range.start)
                })
                .collect()
        })
        .collect();
    let counts: Vec<usize> = runs.iter().map(Vec::len).collect();
    positions(&counts)
        .map(|choice| {
            let run: Vec<_> = choice
                .iter()
                .enumerate()
                .map(|(a, &i)| runs[a][i])
                .collect();
            let view = View {
                axes: run
                    .iter()
                    .enumerate()
                    .map(|(a, r)| ViewAxis::Map {
                        src: a,
                        start: r.1,
                        step: 1,
                        len: r.2,
                    })
                    .collect(),
                fixed: Vec::new(),
            };
            (
                run.iter().map(|r| r.0).collect(),
                view,
                run.iter().map(|r| r.3).collect(),
            )
        })
        .collect()
}

/// The nodes to materialize on their own: those computing something (not mere views
/// of materialized chunks) whose chunks would otherwise be computed inside several
/// tasks. Each node gets the set of places its computation would land in: the
/// output, a reduction, a `map_blocks`, or (through element-wise and view nodes) the
/// places of its consumers; more than one place makes it a root, its own place.
fn find_roots(root: &Arc<Node>) -> FxHashSet<usize> {
    const OUTPUT: usize = usize::MAX;
    // Children before parents.
    let mut order: Vec<&Arc<Node>> = Vec::new();
    let mut seen = FxHashSet::default();
    let mut stack = vec![(root, false)];
    while let Some((node, expanded)) = stack.pop() {
        if expanded {
            order.push(node);
            continue;
        }
        if !seen.insert(id(node)) {
            continue;
        }
        stack.push((node, true));
        stack.extend(node.children().into_iter().map(|c| (c, false)));
    }
    let fuses = |n: &Node| {
        matches!(
            n.kind,
            Kind::Map { .. } | Kind::Reindex { .. } | Kind::Concat { .. } | Kind::Rechunk { .. }
        )
    };
    let mut computes: FxHashMap<usize, bool> = FxHashMap::default();
    let mut consumers: FxHashMap<usize, Vec<&Arc<Node>>> = FxHashMap::default();
    for node in &order {
        let value = match node.kind {
            Kind::Map { .. } | Kind::Rechunk { .. } => true,
            Kind::Reindex { .. } | Kind::Concat { .. } => {
                node.children().iter().any(|c| computes[&id(c)])
            }
            _ => false,
        };
        computes.insert(id(node), value);
        for child in node.children() {
            consumers.entry(id(child)).or_default().push(node);
        }
    }
    let mut roots = FxHashSet::default();
    let mut places: FxHashMap<usize, FxHashSet<usize>> = FxHashMap::default();
    for node in order.iter().rev() {
        let mut here = FxHashSet::default();
        if Arc::ptr_eq(node, root) {
            here.insert(OUTPUT);
        }
        for consumer in consumers.get(&id(node)).into_iter().flatten() {
            if fuses(consumer) {
                here.extend(places[&id(consumer)].iter().copied());
            } else {
                here.insert(id(consumer));
            }
        }
        if fuses(node) && computes[&id(node)] && here.len() > 1 {
            roots.insert(id(node));
            here = std::iter::once(id(node)).collect();
        }
        places.insert(id(node), here);
    }
    roots
}
