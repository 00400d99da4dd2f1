//! A chunk as lowering sees it before deciding where it is computed: an element-wise
//! expression over task outputs and source chunks read through views. A lazy chunk
//! becomes a task only when something needs it materialized; then it compiles to one
//! [`Program`], and views applied on the way (slicing `x + 1`) are pushed down to the
//! leaves (slicing `x`), so that only the selected elements are computed.
//!
//! Applying a view is O(1): it is recorded as a [`LExpr::View`] node (composed with one
//! directly below it) and only pushed down when compiling, in one pass.

use crate::dtype::DType;
use crate::element::TypedScalar;
use crate::program::{BinaryFn, Instr, Leaf, Program, UnaryFn};
use crate::view::View;
use doreisa_sched::Input;
use rustc_hash::FxHashMap;
use std::sync::Arc;

#[derive(Debug)]
pub(crate) enum LExpr {
    /// A materialized chunk of shape `shape`, read through `view`.
    Leaf {
        input: Input,
        shape: Vec<usize>,
        view: View,
    },
    Const(TypedScalar),
    Unary(UnaryFn, Arc<LExpr>),
    Binary(BinaryFn, Arc<LExpr>, Arc<LExpr>),
    Where(Arc<LExpr>, Arc<LExpr>, Arc<LExpr>),
    Cast(DType, Arc<LExpr>),
    /// The operand read through a view (element-wise operations commute with views).
    View(View, Arc<LExpr>),
}

/// A lazy chunk: its expression, shape and dtype.
#[derive(Debug, Clone)]
pub(crate) struct Lazy {
    pub expr: Arc<LExpr>,
    pub shape: Vec<usize>,
    pub dtype: DType,
}

impl Lazy {
    /// A materialized chunk, read as it is.
    pub fn leaf(input: Input, shape: Vec<usize>, dtype: DType) -> Lazy {
        Lazy {
            expr: Arc::new(LExpr::Leaf {
                input,
                view: View::identity(&shape),
                shape: shape.clone(),
            }),
            shape,
            dtype,
        }
    }

    /// The chunk, if it is an input read as it is.
    pub fn materialized(&self) -> Option<Input> {
        match &*self.expr {
            LExpr::Leaf { input, shape, view } if view.is_identity(shape) => Some(*input),
            _ => None,
        }
    }

    /// Whether the expression computes anything (more than reading an input).
    pub fn computes(&self) -> bool {
        !matches!(&*self.expr, LExpr::Leaf { .. } | LExpr::Const(_))
    }

    /// The chunk read through `view`.
    pub fn view(&self, view: &View) -> Lazy {
        let expr = match &*self.expr {
            LExpr::Leaf {
                input,
                shape,
                view: inner,
            } => Arc::new(LExpr::Leaf {
                input: *input,
                shape: shape.clone(),
                view: inner.then(view),
            }),
            LExpr::Const(_) => self.expr.clone(),
            LExpr::View(inner, e) => Arc::new(LExpr::View(inner.then(view), e.clone())),
            _ => Arc::new(LExpr::View(view.clone(), self.expr.clone())),
        };
        Lazy {
            expr,
            shape: view.out_shape(),
            dtype: self.dtype,
        }
    }
}

impl LExpr {
    fn operands(&self) -> Vec<&Arc<LExpr>> {
        match self {
            LExpr::Leaf { .. } | LExpr::Const(_) => Vec::new(),
            LExpr::Unary(_, a) | LExpr::Cast(_, a) | LExpr::View(_, a) => vec![a],
            LExpr::Binary(_, a, b) => vec![a, b],
            LExpr::Where(c, a, b) => vec![c, a, b],
        }
    }
}

impl Drop for LExpr {
    /// Drops a deep chain of expressions without a deep recursion.
    fn drop(&mut self) {
        let mut stack = take_operands(self);
        while let Some(expr) = stack.pop() {
            if let Ok(mut expr) = Arc::try_unwrap(expr) {
                stack.extend(take_operands(&mut expr));
            }
        }
    }
}

fn take_operands(expr: &mut LExpr) -> Vec<Arc<LExpr>> {
    let placeholder = || Arc::new(LExpr::Const(TypedScalar::Bool(false)));
    let take = |a: &mut Arc<LExpr>| std::mem::replace(a, placeholder());
    match expr {
        LExpr::Leaf { .. } | LExpr::Const(_) => Vec::new(),
        LExpr::Unary(_, a) | LExpr::Cast(_, a) | LExpr::View(_, a) => vec![take(a)],
        LExpr::Binary(_, a, b) => vec![take(a), take(b)],
        LExpr::Where(c, a, b) => vec![take(c), take(a), take(b)],
    }
}

/// The inputs of one task, each once.
#[derive(Default)]
pub(crate) struct TaskInputs {
    pub list: Vec<Input>,
    index: FxHashMap<Input, u32>,
}

impl TaskInputs {
    fn add(&mut self, input: Input) -> u32 {
        *self.index.entry(input).or_insert_with(|| {
            self.list.push(input);
            (self.list.len() - 1) as u32
        })
    }
}

/// An expression read through a view (`None`: as it is).
type Visit<'e> = (&'e Arc<LExpr>, Option<View>);

/// The operands of an expression read through a view, each with its own view.
fn operands<'e>((e, v): &Visit<'e>) -> Vec<Visit<'e>> {
    match &***e {
        LExpr::View(inner, operand) => {
            let view = match v {
                Some(outer) => inner.then(outer),
                None => inner.clone(),
            };
            vec![(operand, Some(view))]
        }
        other => other
            .operands()
            .into_iter()
            .map(|o| (o, v.clone()))
            .collect(),
    }
}

/// Compiles `lazy` into a program over `inputs` (which several programs of one task
/// may share). Views are pushed down to the leaves; an expression read through the
/// same view twice, and a leaf read the same way twice, compile once. No recursion:
/// expressions may be far deeper than the call stack.
pub(crate) fn compile(lazy: &Lazy, inputs: &mut TaskInputs) -> Program {
    let mut program = Program {
        leaves: Vec::new(),
        instrs: Vec::new(),
    };
    let mut leaves: FxHashMap<(u32, View), u32> = FxHashMap::default();
    let mut steps: FxHashMap<(*const LExpr, Option<View>), u32> = FxHashMap::default();
    let key = |(e, v): &Visit<'_>| (Arc::as_ptr(e), v.clone());
    let root: Visit<'_> = (&lazy.expr, None);
    let mut stack = vec![(root.clone(), false)];
    while let Some((visit, ready)) = stack.pop() {
        if steps.contains_key(&key(&visit)) {
            continue;
        }
        if !ready {
            let ops = operands(&visit);
            stack.push((visit, true));
            stack.extend(ops.into_iter().map(|o| (o, false)));
            continue;
        }
        let ops: Vec<u32> = operands(&visit).iter().map(|o| steps[&key(o)]).collect();
        let (expr, view) = &visit;
        let instr = match &***expr {
            LExpr::Leaf {
                input, view: read, ..
            } => {
                let input = inputs.add(*input);
                let read = match view {
                    Some(outer) => read.then(outer),
                    None => read.clone(),
                };
                if let Some(&step) = leaves.get(&(input, read.clone())) {
                    steps.insert(key(&visit), step);
                    continue;
                }
                leaves.insert((input, read.clone()), program.instrs.len() as u32);
                program.leaves.push(Leaf { input, view: read });
                Instr::Leaf(program.leaves.len() as u32 - 1)
            }
            LExpr::View(..) => {
                // Nothing to compute: the operand, read through the composed view.
                steps.insert(key(&visit), ops[0]);
                continue;
            }
            LExpr::Const(c) => Instr::Const(*c),
            LExpr::Unary(f, _) => Instr::Unary(*f, ops[0]),
            LExpr::Binary(f, _, _) => Instr::Binary(*f, ops[0], ops[1]),
            LExpr::Where(..) => Instr::Where(ops[0], ops[1], ops[2]),
            LExpr::Cast(d, _) => Instr::Cast(*d, ops[0]),
        };
        program.instrs.push(instr);
        steps.insert(key(&visit), program.instrs.len() as u32 - 1);
    }
    program
}
