//! Property tests: random expressions over randomly chunked arrays compute what a
//! straightforward evaluator over whole ndarrays (written here, independently of the
//! crate) computes: exactly for integers and for element-wise float results (the same
//! IEEE operations in the same order), within a tolerance scaled to the inputs after
//! float reductions (whose summation order differs).

mod common;

use common::{runner, source};
use doreisa_array::{
    Array, Chunk, DType, Grid, Operand, ReduceOptions, Reduction, Scalar, SliceArg,
};
use ndarray::{ArrayD, Axis, IxDyn, Zip};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------
// Expressions

#[derive(Debug, Clone, Copy)]
enum Un {
    Neg,
    Abs,
    Sqrt,
    /// `exp(clip(x, -5, 5))`, so that values stay finite and moderate.
    Exp,
    Log,
    Sin,
    Cos,
}

#[derive(Debug, Clone, Copy)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
}

#[derive(Debug, Clone, Copy)]
enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Debug, Clone, Copy)]
enum Sc {
    Int(i64),
    Float(f64),
}

/// An element-wise expression over sources `x`, `y` (the base shape, chunked
/// differently) and `row` (the base shape's last axis, broadcast).
#[derive(Debug, Clone)]
enum Ew {
    Leaf(u8),
    Unary(Un, Box<Ew>),
    /// `op(e, s)` or, when the flag is set, `op(s, e)`.
    Scalar(Bin, Box<Ew>, Sc, bool),
    /// `e ** s` with s in {0, 1, 2, 3, 0.5}.
    Pow(Box<Ew>, Sc),
    Binary(Bin, Box<Ew>, Box<Ew>),
    /// `where(a cmp b, c, d)`.
    Where(Cmp, Box<Ew>, Box<Ew>, Box<Ew>, Box<Ew>),
    Clip(Box<Ew>, i64, i64),
}

/// A structural operation; its raw numbers are fitted to the current shape.
#[derive(Debug, Clone)]
enum St {
    Slice(u8, u8, u8, u8),
    Index(u8, u8, bool),
    Flip(u8),
    Transpose(u8),
    Concat(u8, u8),
    Stack(u8, u8),
    Rechunk(Vec<u8>),
    Expand(u8),
}

#[derive(Debug, Clone)]
struct Red {
    op: Reduction,
    axes_mask: u8,
    all_axes: bool,
    keepdims: bool,
    ddof: u32,
    split_every: usize,
    /// Then `+ s` (false) or `* s` (true).
    post: Option<(bool, i64)>,
}

#[derive(Clone)]
struct Case {
    dtype: DType,
    shape: Vec<usize>,
    values: [Vec<i8>; 3],
    grids: [Vec<Vec<u8>>; 3],
    ew: Ew,
    structure: Vec<St>,
    reduction: Option<Red>,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n: usize = self.shape.iter().product();
        let last = *self.shape.last().unwrap_or(&1);
        let lens = [n, n, last];
        f.debug_struct("Case")
            .field("dtype", &self.dtype)
            .field("shape", &self.shape)
            .field("ew", &self.ew)
            .field("structure", &self.structure)
            .field("reduction", &self.reduction)
            .field("values", &[0, 1, 2].map(|i| &self.values[i][..lens[i]]))
            .field(
                "grids",
                &[0, 1, 2].map(|i| &self.grids[i][..self.shape.len().min(3)]),
            )
            .finish()
    }
}

fn un() -> impl Strategy<Value = Un> {
    prop_oneof![
        Just(Un::Neg),
        Just(Un::Abs),
        Just(Un::Sqrt),
        Just(Un::Exp),
        Just(Un::Log),
        Just(Un::Sin),
        Just(Un::Cos)
    ]
}

fn bin() -> impl Strategy<Value = Bin> {
    prop_oneof![
        Just(Bin::Add),
        Just(Bin::Sub),
        Just(Bin::Mul),
        Just(Bin::Div),
        Just(Bin::Max),
        Just(Bin::Min)
    ]
}

fn cmp() -> impl Strategy<Value = Cmp> {
    prop_oneof![
        Just(Cmp::Lt),
        Just(Cmp::Le),
        Just(Cmp::Gt),
        Just(Cmp::Ge),
        Just(Cmp::Eq),
        Just(Cmp::Ne)
    ]
}

fn sc() -> impl Strategy<Value = Sc> {
    prop_oneof![
        (-3i64..=3).prop_map(Sc::Int),
        (-6i64..=6).prop_map(|h| Sc::Float(h as f64 / 2.0))
    ]
}

fn ew() -> impl Strategy<Value = Ew> {
    let leaf = prop_oneof![3 => Just(Ew::Leaf(0)), 2 => Just(Ew::Leaf(1)), 1 => Just(Ew::Leaf(2))];
    leaf.prop_recursive(3, 12, 4, |inner| {
        let boxed = inner.clone().prop_map(Box::new);
        prop_oneof![
            (un(), boxed.clone()).prop_map(|(u, e)| Ew::Unary(u, e)),
            (bin(), boxed.clone(), sc(), any::<bool>())
                .prop_map(|(b, e, s, left)| Ew::Scalar(b, e, s, left)),
            (
                boxed.clone(),
                prop_oneof![(0i64..=3).prop_map(Sc::Int), Just(Sc::Float(0.5))]
            )
                .prop_map(|(e, s)| Ew::Pow(e, s)),
            (bin(), boxed.clone(), boxed.clone()).prop_map(|(b, x, y)| Ew::Binary(b, x, y)),
            (
                cmp(),
                boxed.clone(),
                boxed.clone(),
                boxed.clone(),
                boxed.clone()
            )
                .prop_map(|(c, a, b, x, y)| Ew::Where(c, a, b, x, y)),
            (boxed, -4i64..=0, 0i64..=4).prop_map(|(e, lo, hi)| Ew::Clip(e, lo, hi)),
        ]
    })
}

fn st() -> impl Strategy<Value = St> {
    prop_oneof![
        3 => (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(a, b, c, d)| St::Slice(a, b, c, d)),
        1 => (any::<u8>(), any::<u8>(), any::<bool>()).prop_map(|(a, i, n)| St::Index(a, i, n)),
        2 => any::<u8>().prop_map(St::Flip),
        2 => any::<u8>().prop_map(St::Transpose),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(a, m)| St::Concat(a, m)),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(a, m)| St::Stack(a, m)),
        2 => proptest::collection::vec(any::<u8>(), 8).prop_map(St::Rechunk),
        1 => any::<u8>().prop_map(St::Expand),
    ]
}

fn red() -> impl Strategy<Value = Red> {
    let op = prop_oneof![
        Just(Reduction::Sum),
        Just(Reduction::Mean),
        Just(Reduction::Min),
        Just(Reduction::Max),
        Just(Reduction::Var),
        Just(Reduction::Std),
        Just(Reduction::Count)
    ];
    (
        op,
        any::<u8>(),
        any::<bool>(),
        any::<bool>(),
        0u32..=1,
        2usize..=4,
        proptest::option::of((any::<bool>(), -3i64..=3)),
    )
        .prop_map(
            |(op, axes_mask, all_axes, keepdims, ddof, split_every, post)| Red {
                op,
                axes_mask,
                all_axes,
                keepdims,
                ddof,
                split_every,
                post,
            },
        )
}

fn grid_seeds() -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(proptest::collection::vec(any::<u8>(), 7), 3)
}

fn case() -> impl Strategy<Value = Case> {
    let values = || proptest::collection::vec(-8i8..=8, 216);
    (
        prop_oneof![Just(DType::F64), Just(DType::I64)],
        proptest::collection::vec(1usize..=6, 1..=3),
        [values(), values(), values()],
        [grid_seeds(), grid_seeds(), grid_seeds()],
        ew(),
        proptest::collection::vec(st(), 0..=3),
        proptest::option::weighted(0.6, red()),
    )
        .prop_map(
            |(dtype, shape, values, grids, ew, structure, reduction)| Case {
                dtype,
                shape,
                values,
                grids,
                ew,
                structure,
                reduction,
            },
        )
}

/// Cuts `n` by `seeds`: a regular chunk size, or a random partition.
fn cut(n: usize, seeds: &[u8]) -> Vec<usize> {
    if n == 0 {
        return vec![0];
    }
    if seeds[0].is_multiple_of(2) {
        let c = 1 + seeds[1] as usize % n;
        return (0..n).step_by(c).map(|s| c.min(n - s)).collect();
    }
    let mut out = Vec::new();
    let (mut left, mut i) = (n, 1);
    while left > 0 {
        let take = 1 + seeds[i % seeds.len()] as usize % left;
        out.push(take);
        left -= take;
        i += 1;
    }
    out
}

fn grid_for(shape: &[usize], seeds: &[Vec<u8>]) -> Grid {
    let chunks = shape
        .iter()
        .enumerate()
        .map(|(a, &n)| cut(n, &seeds[a % seeds.len()]))
        .collect();
    Grid::from_chunks(chunks).unwrap()
}

// ---------------------------------------------------------------------------------
// The reference evaluator

#[derive(Debug, Clone, PartialEq)]
enum Val {
    F(ArrayD<f64>),
    I(ArrayD<i64>),
    B(ArrayD<bool>),
}

impl Val {
    fn to_f(&self) -> ArrayD<f64> {
        match self {
            Val::F(a) => a.clone(),
            Val::I(a) => a.mapv(|v| v as f64),
            Val::B(a) => a.mapv(|v| f64::from(u8::from(v))),
        }
    }

    fn shape(&self) -> Vec<usize> {
        match self {
            Val::F(a) => a.shape().to_vec(),
            Val::I(a) => a.shape().to_vec(),
            Val::B(a) => a.shape().to_vec(),
        }
    }

    fn map_arrays(
        &self,
        f: impl Fn(ArrayD<f64>) -> ArrayD<f64>,
        g: impl Fn(ArrayD<i64>) -> ArrayD<i64>,
    ) -> Val {
        match self {
            Val::F(a) => Val::F(f(a.clone())),
            Val::I(a) => Val::I(g(a.clone())),
            Val::B(_) => unreachable!("no structural op on bools"),
        }
    }
}

fn broadcast_shape(a: &[usize], b: &[usize]) -> Vec<usize> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            let pick = |s: &[usize]| (i + s.len()).checked_sub(n).map_or(1, |j| s[j]);
            let (x, y) = (pick(a), pick(b));
            if x == 1 { y } else { x }
        })
        .collect()
}

fn zip2<A: Copy, B: Copy, C>(a: &ArrayD<A>, b: &ArrayD<B>, f: impl Fn(A, B) -> C) -> ArrayD<C> {
    let shape = broadcast_shape(a.shape(), b.shape());
    let (a, b) = (
        a.broadcast(IxDyn(&shape)).unwrap(),
        b.broadcast(IxDyn(&shape)).unwrap(),
    );
    Zip::from(&a).and(&b).map_collect(|&x, &y| f(x, y))
}

fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn nan_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn float_bin(op: Bin, x: f64, y: f64) -> f64 {
    match op {
        Bin::Add => x + y,
        Bin::Sub => x - y,
        Bin::Mul => x * y,
        Bin::Div => x / y,
        Bin::Max => nan_max(x, y),
        Bin::Min => nan_min(x, y),
    }
}

fn int_bin(op: Bin, x: i64, y: i64) -> i64 {
    match op {
        Bin::Add => x.wrapping_add(y),
        Bin::Sub => x.wrapping_sub(y),
        Bin::Mul => x.wrapping_mul(y),
        Bin::Max => x.max(y),
        Bin::Min => x.min(y),
        Bin::Div => unreachable!("true division is on floats"),
    }
}

fn bin_vals(op: Bin, a: &Val, b: &Val) -> Val {
    match (op, a, b) {
        (Bin::Div, _, _) | (_, Val::F(_), _) | (_, _, Val::F(_)) => {
            Val::F(zip2(&a.to_f(), &b.to_f(), |x, y| float_bin(op, x, y)))
        }
        (_, Val::I(x), Val::I(y)) => Val::I(zip2(x, y, |p, q| int_bin(op, p, q))),
        _ => unreachable!("no arithmetic on bools"),
    }
}

fn scalar_val(s: Sc, like: &Val) -> Val {
    // A weak scalar takes the array's dtype unless it is a float with an int array.
    let shape = IxDyn(&[]);
    match (s, like) {
        (Sc::Int(v), Val::I(_)) => Val::I(ArrayD::from_elem(shape, v)),
        (Sc::Int(v), _) => Val::F(ArrayD::from_elem(shape, v as f64)),
        (Sc::Float(v), _) => Val::F(ArrayD::from_elem(shape, v)),
    }
}

fn cmp_vals(c: Cmp, a: &Val, b: &Val) -> ArrayD<bool> {
    fn op<T: PartialOrd>(c: Cmp, x: T, y: T) -> bool {
        match c {
            Cmp::Lt => x < y,
            Cmp::Le => x <= y,
            Cmp::Gt => x > y,
            Cmp::Ge => x >= y,
            Cmp::Eq => x == y,
            Cmp::Ne => x != y,
        }
    }
    match (a, b) {
        (Val::I(x), Val::I(y)) => zip2(x, y, |p, q| op(c, p, q)),
        _ => zip2(&a.to_f(), &b.to_f(), |p, q| op(c, p, q)),
    }
}

fn clip_val(v: &Val, lo: i64, hi: i64) -> Val {
    match v {
        Val::I(a) => Val::I(a.mapv(|x| x.max(lo).min(hi))),
        _ => Val::F(v.to_f().mapv(|x| nan_min(nan_max(x, lo as f64), hi as f64))),
    }
}

fn eval_ref(e: &Ew, leaves: &[Val; 3]) -> Val {
    match e {
        Ew::Leaf(i) => leaves[*i as usize].clone(),
        Ew::Unary(u, x) => {
            let x = eval_ref(x, leaves);
            match (u, &x) {
                (Un::Neg, Val::I(a)) => Val::I(a.mapv(i64::wrapping_neg)),
                (Un::Abs, Val::I(a)) => Val::I(a.mapv(i64::wrapping_abs)),
                (Un::Neg, _) => Val::F(x.to_f().mapv(|v| -v)),
                (Un::Abs, _) => Val::F(x.to_f().mapv(f64::abs)),
                (Un::Exp, _) => Val::F(clip_val(&x, -5, 5).to_f().mapv(f64::exp)),
                (Un::Sqrt, _) => Val::F(x.to_f().mapv(f64::sqrt)),
                (Un::Log, _) => Val::F(x.to_f().mapv(f64::ln)),
                (Un::Sin, _) => Val::F(x.to_f().mapv(f64::sin)),
                (Un::Cos, _) => Val::F(x.to_f().mapv(f64::cos)),
            }
        }
        Ew::Scalar(op, x, s, left) => {
            let x = eval_ref(x, leaves);
            let s = scalar_val(*s, &x);
            if *left {
                bin_vals(*op, &s, &x)
            } else {
                bin_vals(*op, &x, &s)
            }
        }
        Ew::Pow(x, s) => {
            let x = eval_ref(x, leaves);
            match (&x, s) {
                (Val::I(a), Sc::Int(k)) => Val::I(a.mapv(|v| v.wrapping_pow(*k as u32))),
                (_, Sc::Int(k)) => Val::F(x.to_f().mapv(|v| v.powf(*k as f64))),
                (_, Sc::Float(k)) => Val::F(x.to_f().mapv(|v| v.powf(*k))),
            }
        }
        Ew::Binary(op, a, b) => bin_vals(*op, &eval_ref(a, leaves), &eval_ref(b, leaves)),
        Ew::Where(c, a, b, x, y) => {
            let cond = cmp_vals(*c, &eval_ref(a, leaves), &eval_ref(b, leaves));
            let (x, y) = (eval_ref(x, leaves), eval_ref(y, leaves));
            let pick = |c: &ArrayD<bool>, p: &Val, q: &Val| -> Val {
                match (p, q) {
                    (Val::I(p), Val::I(q)) => {
                        let pq = zip2(p, q, |a, b| (a, b));
                        Val::I(zip2(c, &pq, |c, (a, b)| if c { a } else { b }))
                    }
                    _ => {
                        let pq = zip2(&p.to_f(), &q.to_f(), |a, b| (a, b));
                        Val::F(zip2(c, &pq, |c, (a, b)| if c { a } else { b }))
                    }
                }
            };
            pick(&cond, &x, &y)
        }
        Ew::Clip(x, lo, hi) => clip_val(&eval_ref(x, leaves), *lo, *hi),
    }
}

fn build(e: &Ew, leaves: &[Array; 3]) -> Array {
    let scalar = |s: &Sc| match *s {
        Sc::Int(v) => Operand::Scalar(Scalar::Int(v.into())),
        Sc::Float(v) => Operand::Scalar(Scalar::Float(v)),
    };
    let bin = |op: Bin, a: Operand, b: Operand| -> Array {
        let (a, b) = (operand_array(a), b);
        match op {
            Bin::Add => a.map_or_else(|s| rev(op, s, &b), |a| a.add(b.clone()).unwrap()),
            Bin::Sub => a.map_or_else(|s| rev(op, s, &b), |a| a.sub(b.clone()).unwrap()),
            Bin::Mul => a.map_or_else(|s| rev(op, s, &b), |a| a.mul(b.clone()).unwrap()),
            Bin::Div => a.map_or_else(|s| rev(op, s, &b), |a| a.div(b.clone()).unwrap()),
            Bin::Max => a.map_or_else(|s| rev(op, s, &b), |a| a.maximum(b.clone()).unwrap()),
            Bin::Min => a.map_or_else(|s| rev(op, s, &b), |a| a.minimum(b.clone()).unwrap()),
        }
    };
    match e {
        Ew::Leaf(i) => leaves[*i as usize].clone(),
        Ew::Unary(u, x) => {
            let x = build(x, leaves);
            match u {
                Un::Neg => (-&x).unwrap(),
                Un::Abs => x.abs().unwrap(),
                Un::Sqrt => x.sqrt().unwrap(),
                Un::Exp => x.clip(-5, 5).unwrap().exp().unwrap(),
                Un::Log => x.log().unwrap(),
                Un::Sin => x.sin().unwrap(),
                Un::Cos => x.cos().unwrap(),
            }
        }
        Ew::Scalar(op, x, s, left) => {
            let x = Operand::Array(build(x, leaves));
            if *left {
                bin(*op, scalar(s), x)
            } else {
                bin(*op, x, scalar(s))
            }
        }
        Ew::Pow(x, s) => build(x, leaves).pow(scalar(s)).unwrap(),
        Ew::Binary(op, a, b) => bin(
            *op,
            Operand::Array(build(a, leaves)),
            Operand::Array(build(b, leaves)),
        ),
        Ew::Where(c, a, b, x, y) => {
            let (a, b) = (build(a, leaves), build(b, leaves));
            let cond = match c {
                Cmp::Lt => a.lt(&b),
                Cmp::Le => a.le(&b),
                Cmp::Gt => a.gt(&b),
                Cmp::Ge => a.ge(&b),
                Cmp::Eq => a.eq(&b),
                Cmp::Ne => a.ne(&b),
            }
            .unwrap();
            Array::where_(&cond, build(x, leaves), build(y, leaves)).unwrap()
        }
        Ew::Clip(x, lo, hi) => build(x, leaves).clip(*lo, *hi).unwrap(),
    }
}

fn operand_array(o: Operand) -> Result<Array, Scalar> {
    match o {
        Operand::Array(a) => Ok(a),
        Operand::Scalar(s) => Err(s),
    }
}

/// `op(s, b)` with the scalar first, through the operators of scalar types.
fn rev(op: Bin, s: Scalar, b: &Operand) -> Array {
    let Operand::Array(b) = b else {
        unreachable!("one side is an array")
    };
    match (op, s) {
        (Bin::Add, Scalar::Int(v)) => (v as i64 + b).unwrap(),
        (Bin::Add, Scalar::Float(v)) => (v + b).unwrap(),
        (Bin::Sub, Scalar::Int(v)) => (v as i64 - b).unwrap(),
        (Bin::Sub, Scalar::Float(v)) => (v - b).unwrap(),
        (Bin::Mul, Scalar::Int(v)) => (v as i64 * b).unwrap(),
        (Bin::Mul, Scalar::Float(v)) => (v * b).unwrap(),
        (Bin::Div, Scalar::Int(v)) => (v as i64 / b).unwrap(),
        (Bin::Div, Scalar::Float(v)) => (v / b).unwrap(),
        (Bin::Max, s) => b.maximum(s).unwrap(),
        (Bin::Min, s) => b.minimum(s).unwrap(),
        (_, Scalar::Bool(_)) => unreachable!("no bool scalars here"),
    }
}

// ---------------------------------------------------------------------------------
// Structure

/// The Python slice `start:stop:step` fitted to length `n`, and the indices it selects.
fn fit_slice(n: usize, p: u8, q: u8, s: u8) -> Option<(SliceArg, Vec<usize>)> {
    let step = [1isize, 2, 3, -1, -2][s as usize % 5];
    if step > 0 {
        let (start, stop) = (p as usize % (n + 1), q as usize % (n + 1));
        let idx = (start..stop).step_by(step as usize).collect();
        let arg = SliceArg::Range {
            start: Some(start as isize),
            stop: Some(stop as isize),
            step,
        };
        Some((arg, idx))
    } else {
        if n == 0 {
            return None;
        }
        let start = p as isize % n as isize;
        let stop = q as isize % (n as isize + 1) - 1; // -1: through index 0
        let mut idx = Vec::new();
        let mut i = start;
        while i > stop {
            idx.push(i as usize);
            i += step;
        }
        let arg = SliceArg::Range {
            start: Some(start),
            stop: (stop >= 0).then_some(stop),
            step,
        };
        Some((arg, idx))
    }
}

fn permutation(n: usize, seed: u8) -> Vec<usize> {
    let mut perm: Vec<usize> = (0..n).collect();
    let mut s = seed as usize;
    for i in (1..n).rev() {
        perm.swap(i, s % (i + 1));
        s /= i + 1;
    }
    perm
}

fn select<T: Clone>(a: &ArrayD<T>, axis: usize, idx: &[usize]) -> ArrayD<T> {
    if idx.is_empty() {
        let mut shape = a.shape().to_vec();
        shape[axis] = 0;
        return ArrayD::from_shape_vec(IxDyn(&shape), Vec::new()).unwrap();
    }
    a.select(Axis(axis), idx)
}

/// Applies `op` to both the array and the reference value (or neither, when it does
/// not fit the current shape).
fn apply_structure(op: &St, a: Array, v: Val) -> (Array, Val) {
    let shape = v.shape();
    let d = shape.len();
    if d == 0 && !matches!(op, St::Expand(_) | St::Stack(..)) {
        return (a, v);
    }
    match op {
        St::Slice(axis, p, q, s) => {
            let axis = *axis as usize % d;
            let Some((arg, idx)) = fit_slice(shape[axis], *p, *q, *s) else {
                return (a, v);
            };
            let mut args = vec![SliceArg::FULL; axis + 1];
            args[axis] = arg;
            let got = a.slice(&args).unwrap();
            (
                got,
                v.map_arrays(|x| select(&x, axis, &idx), |x| select(&x, axis, &idx)),
            )
        }
        St::Index(axis, i, negative) => {
            let axis = *axis as usize % d;
            let n = shape[axis];
            if n == 0 {
                return (a, v);
            }
            let i = *i as usize % n;
            let index = if *negative {
                i as isize - n as isize
            } else {
                i as isize
            };
            let mut args = vec![SliceArg::FULL; axis + 1];
            args[axis] = SliceArg::Index(index);
            let got = a.slice(&args).unwrap();
            let take = |x: ArrayD<f64>| x.index_axis(Axis(axis), i).to_owned();
            let take_i = |x: ArrayD<i64>| x.index_axis(Axis(axis), i).to_owned();
            (got, v.map_arrays(take, take_i))
        }
        St::Flip(axis) => {
            let axis = *axis as usize % d;
            let idx: Vec<usize> = (0..shape[axis]).rev().collect();
            let got = a.flip(axis as isize).unwrap();
            (
                got,
                v.map_arrays(|x| select(&x, axis, &idx), |x| select(&x, axis, &idx)),
            )
        }
        St::Transpose(seed) => {
            let perm = permutation(d, *seed);
            let signed: Vec<isize> = perm.iter().map(|&p| p as isize).collect();
            let got = a.transpose(&signed).unwrap();
            let p = perm.clone();
            (
                got,
                v.map_arrays(
                    |x| x.permuted_axes(perm.clone()),
                    |x| x.permuted_axes(p.clone()),
                ),
            )
        }
        St::Concat(axis, mode) | St::Stack(axis, mode) => {
            let stack = matches!(op, St::Stack(..));
            let axis = *axis as usize % if stack { d + 1 } else { d };
            let (pa, pv) = partner(*mode, &a, &v);
            if stack {
                let got = Array::stack(&[a, pa], axis as isize).unwrap();
                let s = |x: ArrayD<f64>, y: ArrayD<f64>| {
                    ndarray::stack(Axis(axis), &[x.view(), y.view()]).unwrap()
                };
                let si = |x: ArrayD<i64>, y: ArrayD<i64>| {
                    ndarray::stack(Axis(axis), &[x.view(), y.view()]).unwrap()
                };
                (got, pair(v, pv, s, si))
            } else {
                let got = Array::concatenate(&[a, pa], axis as isize).unwrap();
                let c = |x: ArrayD<f64>, y: ArrayD<f64>| {
                    ndarray::concatenate(Axis(axis), &[x.view(), y.view()]).unwrap()
                };
                let ci = |x: ArrayD<i64>, y: ArrayD<i64>| {
                    ndarray::concatenate(Axis(axis), &[x.view(), y.view()]).unwrap()
                };
                (got, pair(v, pv, c, ci))
            }
        }
        St::Rechunk(seeds) => {
            let grid = grid_for(
                &shape,
                &[seeds.clone(), seeds.iter().rev().copied().collect()],
            );
            (a.rechunk(grid).unwrap(), v)
        }
        St::Expand(axis) => {
            let axis = *axis as usize % (d + 1);
            let got = a.expand_dims(axis as isize).unwrap();
            (
                got,
                v.map_arrays(|x| x.insert_axis(Axis(axis)), |x| x.insert_axis(Axis(axis))),
            )
        }
    }
}

/// A second operand for concatenate/stack: the value itself, flipped, or doubled.
fn partner(mode: u8, a: &Array, v: &Val) -> (Array, Val) {
    let d = v.shape().len();
    match mode % 3 {
        1 if d > 0 => {
            let idx: Vec<usize> = (0..v.shape()[0]).rev().collect();
            (
                a.flip(0).unwrap(),
                v.map_arrays(|x| select(&x, 0, &idx), |x| select(&x, 0, &idx)),
            )
        }
        2 => (
            (a * 2).unwrap(),
            v.map_arrays(|x| x * 2.0, |x| x.mapv(|e| e.wrapping_mul(2))),
        ),
        _ => (a.clone(), v.clone()),
    }
}

fn pair(
    v: Val,
    w: Val,
    f: impl Fn(ArrayD<f64>, ArrayD<f64>) -> ArrayD<f64>,
    g: impl Fn(ArrayD<i64>, ArrayD<i64>) -> ArrayD<i64>,
) -> Val {
    match (v, w) {
        (Val::F(x), Val::F(y)) => Val::F(f(x, y)),
        (Val::I(x), Val::I(y)) => Val::I(g(x, y)),
        _ => unreachable!("a partner has its value's dtype"),
    }
}

// ---------------------------------------------------------------------------------
// Reductions

/// The reduction's reference value and, for floats, an error scale per element.
fn reduce_ref(
    op: Reduction,
    v: &Val,
    axes: &[usize],
    keepdims: bool,
    ddof: u32,
) -> (Val, Option<ArrayD<f64>>) {
    let shape = v.shape();
    let kept: Vec<usize> = (0..shape.len()).filter(|a| !axes.contains(a)).collect();
    let out_shape: Vec<usize> = if keepdims {
        (0..shape.len())
            .map(|a| if axes.contains(&a) { 1 } else { shape[a] })
            .collect()
    } else {
        kept.iter().map(|&a| shape[a]).collect()
    };
    let n: usize = axes.iter().map(|&a| shape[a]).product();
    let cells: usize = kept.iter().map(|&a| shape[a]).product();
    let perm: Vec<usize> = kept.iter().chain(axes).copied().collect();
    let lanes_f = |x: &ArrayD<f64>| -> Vec<Vec<f64>> {
        let p = x.clone().permuted_axes(perm.clone());
        let flat: Vec<f64> = p.iter().copied().collect();
        (0..cells)
            .map(|c| flat[c * n..(c + 1) * n].to_vec())
            .collect()
    };
    let shaped_f = |vals: Vec<f64>| ArrayD::from_shape_vec(IxDyn(&out_shape), vals).unwrap();
    let shaped_i = |vals: Vec<i64>| ArrayD::from_shape_vec(IxDyn(&out_shape), vals).unwrap();
    if let Val::I(x) = v {
        let p = x.clone().permuted_axes(perm.clone());
        let flat: Vec<i64> = p.iter().copied().collect();
        let lanes: Vec<&[i64]> = (0..cells).map(|c| &flat[c * n..(c + 1) * n]).collect();
        match op {
            Reduction::Sum => {
                return (
                    Val::I(shaped_i(
                        lanes
                            .iter()
                            .map(|l| l.iter().fold(0i64, |a, &b| a.wrapping_add(b)))
                            .collect(),
                    )),
                    None,
                );
            }
            Reduction::Min => {
                return (
                    Val::I(shaped_i(
                        lanes.iter().map(|l| *l.iter().min().unwrap()).collect(),
                    )),
                    None,
                );
            }
            Reduction::Max => {
                return (
                    Val::I(shaped_i(
                        lanes.iter().map(|l| *l.iter().max().unwrap()).collect(),
                    )),
                    None,
                );
            }
            Reduction::Count => return (Val::I(shaped_i(vec![n as i64; cells])), None),
            _ => {}
        }
    }
    let lanes = lanes_f(&v.to_f());
    if op == Reduction::Count {
        return (
            Val::I(shaped_i(
                lanes
                    .iter()
                    .map(|l| l.iter().filter(|x| !x.is_nan()).count() as i64)
                    .collect(),
            )),
            None,
        );
    }
    let abs_sum = |l: &Vec<f64>| {
        l.iter()
            .filter(|x| x.is_finite())
            .map(|x| x.abs())
            .sum::<f64>()
    };
    let (vals, scale): (Vec<f64>, Vec<f64>) = lanes
        .iter()
        .map(|l| {
            let sum: f64 = l.iter().sum();
            let mean = sum / l.len() as f64;
            let var = l.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>()
                / (l.len() as f64 - f64::from(ddof)).max(0.0);
            let sq: f64 = l.iter().filter(|x| x.is_finite()).map(|x| x * x).sum();
            match op {
                Reduction::Sum => (sum, abs_sum(l)),
                Reduction::Mean => (mean, abs_sum(l) / l.len().max(1) as f64),
                Reduction::Min => (l.iter().copied().reduce(nan_min).unwrap(), 0.0),
                Reduction::Max => (l.iter().copied().reduce(nan_max).unwrap(), 0.0),
                Reduction::Var => (var, sq),
                Reduction::Std => (var.sqrt(), 1e3 * sq.sqrt()),
                other => unreachable!("{other:?} is not generated here"),
            }
        })
        .unzip();
    (Val::F(shaped_f(vals)), Some(shaped_f(scale)))
}

// ---------------------------------------------------------------------------------
// Running a case

fn to_val(c: Chunk) -> Val {
    match c {
        Chunk::F64(a) => Val::F(a),
        Chunk::I64(a) => Val::I(a),
        Chunk::Bool(a) => Val::B(a),
        other => panic!("unexpected dtype {}", other.dtype()),
    }
}

fn close(got: f64, want: f64, scale: Option<f64>) -> bool {
    if got.is_nan() || want.is_nan() {
        return got.is_nan() && want.is_nan();
    }
    if got == want {
        return true;
    }
    match scale {
        None => false,
        Some(s) => (got - want).abs() <= 1e-9 * (got.abs() + want.abs() + s),
    }
}

fn run_case(case: &Case) -> Result<(), TestCaseError> {
    let r = runner();
    let shapes = [
        case.shape.clone(),
        case.shape.clone(),
        vec![*case.shape.last().unwrap()],
    ];
    let names = ["x", "y", "row"];
    let mut arrays = Vec::new();
    let mut vals = Vec::new();
    for i in 0..3 {
        let n: usize = shapes[i].iter().product();
        let raw = &case.values[i][..n];
        let value = match case.dtype {
            DType::F64 => Val::F(
                ArrayD::from_shape_vec(
                    IxDyn(&shapes[i]),
                    raw.iter().map(|&v| f64::from(v) / 2.0).collect(),
                )
                .unwrap(),
            ),
            _ => Val::I(
                ArrayD::from_shape_vec(
                    IxDyn(&shapes[i]),
                    raw.iter().map(|&v| i64::from(v)).collect(),
                )
                .unwrap(),
            ),
        };
        let chunk = match &value {
            Val::F(a) => Chunk::F64(a.clone()),
            Val::I(a) => Chunk::I64(a.clone()),
            Val::B(_) => unreachable!(),
        };
        let grid = grid_for(&shapes[i], &case.grids[i]);
        arrays.push(source(&r, names[i], chunk, grid));
        vals.push(value);
    }
    let arrays: [Array; 3] = arrays.try_into().unwrap();
    let vals: [Val; 3] = vals.try_into().unwrap();

    let mut a = build(&case.ew, &arrays);
    let mut v = eval_ref(&case.ew, &vals);
    for op in &case.structure {
        (a, v) = apply_structure(op, a, v);
    }
    let mut scale = None;
    if let Some(red) = &case.reduction {
        let d = v.shape().len();
        let axes: Option<Vec<usize>> =
            (!red.all_axes).then(|| (0..d).filter(|i| red.axes_mask & (1 << i) != 0).collect());
        let axes_list = axes.clone().unwrap_or_else(|| (0..d).collect());
        let empty = axes_list.iter().any(|&ax| v.shape()[ax] == 0);
        if empty && matches!(red.op, Reduction::Min | Reduction::Max) {
            prop_assert!(a.reduce(red.op, &ReduceOptions::default()).is_err() || !red.all_axes);
            return Ok(());
        }
        let options = ReduceOptions {
            axes: axes.map(|a| a.iter().map(|&x| x as isize).collect()),
            keepdims: red.keepdims,
            ddof: red.ddof,
            split_every: red.split_every,
        };
        a = a.reduce(red.op, &options).unwrap();
        let (rv, rs) = reduce_ref(red.op, &v, &axes_list, red.keepdims, red.ddof);
        v = rv;
        scale = rs;
        if let Some((mul, s)) = red.post {
            let sv = scalar_val(Sc::Int(s), &v);
            let op = if mul { Bin::Mul } else { Bin::Add };
            v = bin_vals(op, &v, &sv);
            a = if mul { a.mul(s) } else { a.add(s) }.unwrap();
            if mul {
                scale = scale.map(|sc| sc * s.unsigned_abs() as f64);
            }
        }
    }
    let want_shape = v.shape();
    prop_assert_eq!(a.shape(), &want_shape[..]);
    let got = to_val(
        a.compute(&r)
            .map_err(|e| TestCaseError::fail(e.to_string()))?,
    );
    match (&got, &v) {
        (Val::F(g), Val::F(w)) => {
            prop_assert_eq!(g.shape(), w.shape());
            for (i, (&x, &y)) in g.iter().zip(w.iter()).enumerate() {
                let s = scale
                    .as_ref()
                    .map(|s| s.iter().nth(i).copied().unwrap_or(0.0));
                prop_assert!(
                    close(x, y, s),
                    "element {}: got {}, expected {} (scale {:?})",
                    i,
                    x,
                    y,
                    s
                );
            }
        }
        _ => prop_assert_eq!(&got, &v),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn expressions_compute_what_a_whole_array_evaluator_computes(case in case()) {
        run_case(&case)?;
    }

    #[test]
    fn decoding_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Chunk::decode(&bytes);
    }

    #[test]
    fn decoding_damaged_chunks_never_panics(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cut in any::<usize>(),
        truncate in any::<bool>(),
    ) {
        let chunk = Chunk::I32(ArrayD::from_shape_fn(IxDyn(&[3, 4]), |i| (i[0] * 4 + i[1]) as i32));
        let mut bytes = chunk.encode().to_vec();
        for (at, value) in flips {
            let n = bytes.len();
            bytes[at % n] ^= value;
        }
        if truncate {
            bytes.truncate(cut % (bytes.len() + 1));
        }
        if let Ok(decoded) = Chunk::decode(&bytes) {
            // Whatever decodes is a consistent chunk.
            prop_assert_eq!(decoded.len() * decoded.dtype().size() + 8 + 8 * decoded.ndim(), bytes.len());
        }
    }
}
