//! A chunk as lowering sees it before deciding where it is computed: an element-wise
//! expression over task outputs and source chunks read through views. Views compose
//! into the leaves (slicing `x + 1` slices `x`), and a lazy chunk becomes a task only
//! when something needs it materialized; then it compiles to one [`Program`].

use crate::dtype::{DType, TypedScalar};
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

    /// The chunk read through `view`, pushed down to the leaves.
    pub fn view(&self, view: &View) -> Lazy {
        let mut memo = FxHashMap::default();
        Lazy {
            expr: push_view(&self.expr, view, &mut memo),
            shape: view.out_shape(),
            dtype: self.dtype,
        }
    }
}

fn push_view(
    expr: &Arc<LExpr>,
    view: &View,
    memo: &mut FxHashMap<*const LExpr, Arc<LExpr>>,
) -> Arc<LExpr> {
    if let Some(done) = memo.get(&Arc::as_ptr(expr)) {
        return done.clone();
    }
    let mut go = |e: &Arc<LExpr>| push_view(e, view, memo);
    let out = match &**expr {
        LExpr::Leaf {
            input,
            shape,
            view: inner,
        } => Arc::new(LExpr::Leaf {
            input: *input,
            shape: shape.clone(),
            view: inner.then(view),
        }),
        LExpr::Const(_) => expr.clone(),
        LExpr::Unary(f, a) => Arc::new(LExpr::Unary(*f, go(a))),
        LExpr::Binary(f, a, b) => Arc::new(LExpr::Binary(*f, go(a), go(b))),
        LExpr::Where(c, a, b) => Arc::new(LExpr::Where(go(c), go(a), go(b))),
        LExpr::Cast(d, a) => Arc::new(LExpr::Cast(*d, go(a))),
    };
    memo.insert(Arc::as_ptr(expr), out.clone());
    out
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

/// Compiles `lazy` into a program over `inputs` (which several programs of one task
/// may share). Shared subexpressions and repeated reads compile once.
pub(crate) fn compile(lazy: &Lazy, inputs: &mut TaskInputs) -> Program {
    let mut compiler = Compiler {
        inputs,
        program: Program {
            leaves: Vec::new(),
            instrs: Vec::new(),
        },
        steps: FxHashMap::default(),
        leaves: FxHashMap::default(),
    };
    compiler.visit(&lazy.expr);
    compiler.program
}

struct Compiler<'a> {
    inputs: &'a mut TaskInputs,
    program: Program,
    steps: FxHashMap<*const LExpr, u32>,
    leaves: FxHashMap<(u32, View), u32>,
}

impl Compiler<'_> {
    fn push(&mut self, instr: Instr) -> u32 {
        self.program.instrs.push(instr);
        (self.program.instrs.len() - 1) as u32
    }

    fn visit(&mut self, expr: &Arc<LExpr>) -> u32 {
        if let Some(&step) = self.steps.get(&Arc::as_ptr(expr)) {
            return step;
        }
        let step = match &**expr {
            LExpr::Leaf { input, view, .. } => {
                let input = self.inputs.add(*input);
                match self.leaves.get(&(input, view.clone())) {
                    Some(&step) => step,
                    None => {
                        let leaf = self.program.leaves.len() as u32;
                        self.program.leaves.push(Leaf {
                            input,
                            view: view.clone(),
                        });
                        let step = self.push(Instr::Leaf(leaf));
                        self.leaves.insert((input, view.clone()), step);
                        step
                    }
                }
            }
            LExpr::Const(c) => self.push(Instr::Const(*c)),
            LExpr::Unary(f, a) => {
                let a = self.visit(a);
                self.push(Instr::Unary(*f, a))
            }
            LExpr::Binary(f, a, b) => {
                let (a, b) = (self.visit(a), self.visit(b));
                self.push(Instr::Binary(*f, a, b))
            }
            LExpr::Where(c, a, b) => {
                let (c, a, b) = (self.visit(c), self.visit(a), self.visit(b));
                self.push(Instr::Where(c, a, b))
            }
            LExpr::Cast(d, a) => {
                let a = self.visit(a);
                self.push(Instr::Cast(*d, a))
            }
        };
        self.steps.insert(Arc::as_ptr(expr), step);
        step
    }
}
