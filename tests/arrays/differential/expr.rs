//! Expressions of the differential tests, and their evaluation on both sides: built as
//! arrays (the layer under test) and computed by the reference, with a numpy-like
//! rendering for reports.

use super::ops::{self, Bin, Other, Red, Un};
use super::reference::*;
use doreisa_array::{Array, ArrayError, DType, Grid, ReduceOptions, Reduction, Scalar, SliceArg};
use ndarray::{ArrayD, Axis, IxDyn};

/// A source array: its dtype, shape, chunks and elements (C order, exact).
#[derive(Debug, Clone)]
pub struct Source {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub chunks: Vec<Vec<usize>>,
    pub values: Vec<El>,
}

impl Source {
    pub fn val(&self) -> Val {
        Val::new(
            self.dtype,
            ArrayD::from_shape_vec(IxDyn(&self.shape), self.values.clone()).expect("sized"),
        )
    }

    pub fn grid(&self) -> Grid {
        Grid::from_chunks(self.chunks.clone()).expect("a valid grid")
    }
}

#[derive(Debug, Clone)]
pub enum Expr {
    Src(usize),
    Unary(Un, Box<Expr>),
    Binary(Bin, Box<Expr>, Box<Expr>),
    /// `op(e, s)`.
    Scalar(Bin, Box<Expr>, Scalar),
    Where(Box<Expr>, Box<Expr>, Box<Expr>),
    Clip(Box<Expr>, Scalar, Scalar),
    AsType(DType, Box<Expr>),
    Slice(Box<Expr>, Vec<SliceArg>),
    Flip(Box<Expr>, usize),
    Transpose(Box<Expr>, Vec<usize>),
    ExpandDims(Box<Expr>, usize),
    Squeeze(Box<Expr>, Vec<usize>),
    BroadcastTo(Box<Expr>, Vec<usize>),
    Concat(Vec<Expr>, usize),
    Stack(Vec<Expr>, usize),
    Rechunk(Box<Expr>, Vec<Vec<usize>>),
    Diff(Box<Expr>, usize, usize),
    /// `reshape(x, shape)` (one extent may be -1).
    Reshape(Box<Expr>, Vec<isize>),
    /// `cumsum` (false) or `cumprod` (true) along an axis.
    Scan(Box<Expr>, usize, bool),
    /// `take(x, indices, axis)`.
    Take(Box<Expr>, Vec<isize>, usize),
    /// `sort(x, axis)` (the axis made one chunk first).
    Sort(Box<Expr>, usize),
    /// Dask's `topk(x, k, axis)`.
    TopK(Box<Expr>, isize, usize),
    /// `a @ b` of 2-d arrays.
    MatMul(Box<Expr>, Box<Expr>),
    /// `quantile(x, q, axis)`.
    Quantile(Box<Expr>, Vec<f64>, Option<usize>),
    /// `full(shape, value, dtype)` cut in chunks.
    Full(Vec<usize>, Vec<usize>, Scalar, Option<DType>),
    /// `arange(start, stop, step)` in chunks of the last number.
    Arange(Scalar, Scalar, Scalar, usize),
    /// `linspace(start, stop, num, endpoint)` in chunks of the last number.
    Linspace(f64, f64, usize, bool, usize),
    Histogram {
        x: Box<Expr>,
        bins: usize,
        range: (f64, f64),
    },
    Reduce {
        op: Red,
        x: Box<Expr>,
        axes: Option<Vec<usize>>,
        keepdims: bool,
        ddof: u32,
        split_every: usize,
    },
}

impl Expr {
    /// The direct operands.
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Src(_) | Expr::Full(..) | Expr::Arange(..) | Expr::Linspace(..) => Vec::new(),
            Expr::Binary(_, a, b) | Expr::MatMul(a, b) => vec![a, b],
            Expr::Where(c, a, b) => vec![c, a, b],
            Expr::Concat(xs, _) | Expr::Stack(xs, _) => xs.iter().collect(),
            Expr::Unary(_, x)
            | Expr::Scalar(_, x, _)
            | Expr::Clip(x, ..)
            | Expr::AsType(_, x)
            | Expr::Slice(x, _)
            | Expr::Flip(x, _)
            | Expr::Transpose(x, _)
            | Expr::ExpandDims(x, _)
            | Expr::Squeeze(x, _)
            | Expr::BroadcastTo(x, _)
            | Expr::Rechunk(x, _)
            | Expr::Histogram { x, .. }
            | Expr::Diff(x, ..)
            | Expr::Reshape(x, _)
            | Expr::Scan(x, ..)
            | Expr::Take(x, ..)
            | Expr::Sort(x, _)
            | Expr::TopK(x, ..)
            | Expr::Quantile(x, ..)
            | Expr::Reduce { x, .. } => vec![x],
        }
    }

    pub fn children_mut(&mut self) -> Vec<&mut Expr> {
        match self {
            Expr::Src(_) | Expr::Full(..) | Expr::Arange(..) | Expr::Linspace(..) => Vec::new(),
            Expr::Binary(_, a, b) | Expr::MatMul(a, b) => vec![a, b],
            Expr::Where(c, a, b) => vec![c, a, b],
            Expr::Concat(xs, _) | Expr::Stack(xs, _) => xs.iter_mut().collect(),
            Expr::Unary(_, x)
            | Expr::Scalar(_, x, _)
            | Expr::Clip(x, ..)
            | Expr::AsType(_, x)
            | Expr::Slice(x, _)
            | Expr::Flip(x, _)
            | Expr::Transpose(x, _)
            | Expr::ExpandDims(x, _)
            | Expr::Squeeze(x, _)
            | Expr::BroadcastTo(x, _)
            | Expr::Rechunk(x, _)
            | Expr::Histogram { x, .. }
            | Expr::Diff(x, ..)
            | Expr::Reshape(x, _)
            | Expr::Scan(x, ..)
            | Expr::Take(x, ..)
            | Expr::Sort(x, _)
            | Expr::TopK(x, ..)
            | Expr::Quantile(x, ..)
            | Expr::Reduce { x, .. } => vec![x],
        }
    }

    /// Number of nodes.
    pub fn size(&self) -> usize {
        1 + self.children().iter().map(|c| c.size()).sum::<usize>()
    }
}

/// An expression evaluated on both sides.
pub struct Both {
    pub array: Result<Array, ArrayError>,
    pub val: Res,
    pub text: String,
}

fn reduction(op: Red) -> Reduction {
    match op {
        Red::Sum => Reduction::Sum,
        Red::Mean => Reduction::Mean,
        Red::Min => Reduction::Min,
        Red::Max => Reduction::Max,
        Red::Var => Reduction::Var,
        Red::Std => Reduction::Std,
        Red::Count => Reduction::Count,
        Red::Prod => Reduction::Prod,
        Red::Any => Reduction::Any,
        Red::All => Reduction::All,
        Red::ArgMin => Reduction::ArgMin,
        Red::ArgMax => Reduction::ArgMax,
        Red::NanSum => Reduction::NanSum,
        Red::NanMean => Reduction::NanMean,
        Red::NanMin => Reduction::NanMin,
        Red::NanMax => Reduction::NanMax,
        Red::NanVar => Reduction::NanVar,
        Red::NanStd => Reduction::NanStd,
    }
}

fn un_name(f: Un) -> String {
    format!("{f:?}").to_lowercase()
}

fn bin_name(f: Bin) -> String {
    format!("{f:?}").to_lowercase()
}

fn un_call(f: Un, a: &Array) -> Result<Array, ArrayError> {
    match f {
        Un::Neg => a.neg(),
        Un::Abs => a.abs(),
        Un::Sign => a.sign(),
        Un::Sqrt => a.sqrt(),
        Un::Exp => a.exp(),
        Un::Expm1 => a.expm1(),
        Un::Log => a.log(),
        Un::Log2 => a.log2(),
        Un::Log10 => a.log10(),
        Un::Log1p => a.log1p(),
        Un::Sin => a.sin(),
        Un::Cos => a.cos(),
        Un::Tan => a.tan(),
        Un::Arcsin => a.arcsin(),
        Un::Arccos => a.arccos(),
        Un::Arctan => a.arctan(),
        Un::Sinh => a.sinh(),
        Un::Cosh => a.cosh(),
        Un::Tanh => a.tanh(),
        Un::Arcsinh => a.arcsinh(),
        Un::Arccosh => a.arccosh(),
        Un::Arctanh => a.arctanh(),
        Un::Floor => a.floor(),
        Un::Ceil => a.ceil(),
        Un::Trunc => a.trunc(),
        Un::Round => a.round(),
        Un::IsNan => a.isnan(),
        Un::IsFinite => a.isfinite(),
        Un::IsInf => a.isinf(),
        Un::Not => a.logical_not(),
        Un::Invert => a.invert(),
    }
}

fn call(f: Bin, a: &Array, b: doreisa_array::Operand) -> Result<Array, ArrayError> {
    match f {
        Bin::Add => a.add(b),
        Bin::Sub => a.sub(b),
        Bin::Mul => a.mul(b),
        Bin::Div => a.div(b),
        Bin::Pow => a.pow(b),
        Bin::Max => a.maximum(b),
        Bin::Min => a.minimum(b),
        Bin::Lt => a.lt(b),
        Bin::Le => a.le(b),
        Bin::Gt => a.gt(b),
        Bin::Ge => a.ge(b),
        Bin::Eq => a.eq(b),
        Bin::Ne => a.ne(b),
        Bin::And => a.logical_and(b),
        Bin::Or => a.logical_or(b),
        Bin::Xor => a.logical_xor(b),
        Bin::FloorDiv => a.floor_divide(b),
        Bin::Mod => a.remainder(b),
        Bin::BitAnd => a.bitwise_and(b),
        Bin::BitOr => a.bitwise_or(b),
        Bin::BitXor => a.bitwise_xor(b),
        Bin::Shl => a.left_shift(b),
        Bin::Shr => a.right_shift(b),
    }
}

/// `axis` of an `ndim`-d array, counted from the end for every other axis (numpy's
/// negative axes).
pub(super) fn signed(axis: usize, ndim: usize) -> isize {
    if (axis + ndim) % 2 == 1 {
        axis as isize - ndim as isize
    } else {
        axis as isize
    }
}

pub(super) fn signed_all(axes: &[usize], ndim: usize) -> Vec<isize> {
    axes.iter().map(|&a| signed(a, ndim)).collect()
}

pub(super) fn scalar_text(s: Scalar) -> String {
    match s {
        Scalar::Bool(b) => if b { "True" } else { "False" }.into(),
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(x) if x.is_nan() => "nan".into(),
        Scalar::Float(x) if x.is_infinite() => if x > 0.0 { "inf" } else { "-inf" }.into(),
        Scalar::Float(x) => format!("{x:?}"),
    }
}

fn slice_text(args: &[SliceArg]) -> String {
    let one = |a: &SliceArg| match *a {
        SliceArg::Index(i) => i.to_string(),
        SliceArg::NewAxis => "np.newaxis".into(),
        SliceArg::Ellipsis => "...".into(),
        SliceArg::Range { start, stop, step } => {
            let o = |v: Option<isize>| v.map_or(String::new(), |v| v.to_string());
            format!("{}:{}:{step}", o(start), o(stop))
        }
    };
    args.iter().map(one).collect::<Vec<_>>().join(", ")
}

/// Evaluates `e` over `arrays` (the sources as arrays) and `sources` on both sides.
pub fn eval(e: &Expr, arrays: &[Array], sources: &[Source]) -> Both {
    let lift = |b: &Both, f: &dyn Fn(&Array) -> Result<Array, ArrayError>| {
        b.array.as_ref().map_err(Clone::clone).and_then(f)
    };
    match e {
        Expr::Src(i) => Both {
            array: Ok(arrays[*i].clone()),
            val: Ok(sources[*i].val()),
            text: format!("s{i}"),
        },
        Expr::Unary(f, x) => {
            let x = eval(x, arrays, sources);
            let array = lift(&x, &|a| un_call(*f, a));
            let val = x.val.and_then(|v| ops::unary(*f, &v));
            Both {
                array,
                val,
                text: format!("np.{}({})", un_name(*f), x.text),
            }
        }
        Expr::Binary(f, a, b) => {
            let (a, b) = (eval(a, arrays, sources), eval(b, arrays, sources));
            let array = match (&a.array, &b.array) {
                (Ok(x), Ok(y)) => call(*f, x, y.into()),
                (Err(err), _) | (_, Err(err)) => Err(err.clone()),
            };
            let val = a
                .val
                .and_then(|x| b.val.and_then(|y| ops::binary(*f, &x, Other::Val(&y))));
            Both {
                array,
                val,
                text: format!("np.{}({}, {})", bin_name(*f), a.text, b.text),
            }
        }
        Expr::Scalar(f, x, s) => {
            let x = eval(x, arrays, sources);
            let array = lift(&x, &|a| call(*f, a, (*s).into()));
            let val = x.val.and_then(|v| ops::binary(*f, &v, Other::Scalar(*s)));
            Both {
                array,
                val,
                text: format!("np.{}({}, {})", bin_name(*f), x.text, scalar_text(*s)),
            }
        }
        Expr::Where(c, a, b) => {
            let (c, a, b) = (
                eval(c, arrays, sources),
                eval(a, arrays, sources),
                eval(b, arrays, sources),
            );
            let array = match (&c.array, &a.array, &b.array) {
                (Ok(c), Ok(a), Ok(b)) => Array::where_(c, a, b),
                (Err(err), _, _) | (_, Err(err), _) | (_, _, Err(err)) => Err(err.clone()),
            };
            let val = c.val.and_then(|c| {
                a.val
                    .and_then(|a| b.val.and_then(|b| ops::where_(&c, &a, &b)))
            });
            Both {
                array,
                val,
                text: format!("np.where({}, {}, {})", c.text, a.text, b.text),
            }
        }
        Expr::Clip(x, lo, hi) => {
            let x = eval(x, arrays, sources);
            let array = lift(&x, &|a| a.clip(*lo, *hi));
            let val = x.val.and_then(|v| ops::clip(&v, *lo, *hi));
            Both {
                array,
                val,
                text: format!(
                    "np.clip({}, {}, {})",
                    x.text,
                    scalar_text(*lo),
                    scalar_text(*hi)
                ),
            }
        }
        Expr::AsType(d, x) => {
            let x = eval(x, arrays, sources);
            let array = lift(&x, &|a| a.astype(*d));
            let val = x.val.map(|v| v.cast(*d));
            Both {
                array,
                val,
                text: format!("{}.astype({})", x.text, d.name()),
            }
        }
        Expr::Slice(x, args) => {
            let x = eval(x, arrays, sources);
            let array = lift(&x, &|a| a.slice(args));
            let val = x.val.and_then(|v| slice_ref(&v, args));
            Both {
                array,
                val,
                text: format!("{}[{}]", x.text, slice_text(args)),
            }
        }
        Expr::Flip(x, axis) => {
            let x = eval(x, arrays, sources);
            let array = lift(&x, &|a| a.flip(signed(*axis, a.ndim())));
            let val = x.val.and_then(|v| check_axes(&v, &[*axis], 0)).map(|v| {
                let n = v.a.shape()[*axis];
                let idx: Vec<usize> = (0..n).rev().collect();
                Val::new(v.dtype, ops::take(&v.a, *axis, &idx))
            });
            Both {
                array,
                val,
                text: format!("np.flip({}, {axis})", x.text),
            }
        }
        Expr::Transpose(x, perm) => {
            let x = eval(x, arrays, sources);
            let array = lift(&x, &|a| a.transpose(&signed_all(perm, a.ndim())));
            let is_perm = |v: &Val| {
                let mut p = perm.clone();
                p.sort_unstable();
                p == (0..v.a.ndim()).collect::<Vec<_>>()
            };
            let val = x
                .val
                .and_then(|v| {
                    if is_perm(&v) {
                        Ok(v)
                    } else {
                        raise("axes don't match array")
                    }
                })
                .map(|v| {
                    Val::new(
                        v.dtype,
                        v.a.permuted_axes(IxDyn(perm))
                            .as_standard_layout()
                            .to_owned(),
                    )
                });
            Both {
                array,
                val,
                text: format!("np.transpose({}, {perm:?})", x.text),
            }
        }
        Expr::ExpandDims(x, axis) => {
            let x = eval(x, arrays, sources);
            let array = lift(&x, &|a| a.expand_dims(signed(*axis, a.ndim() + 1)));
            let val = x
                .val
                .and_then(|v| check_axes(&v, &[*axis], 1))
                .map(|v| Val::new(v.dtype, v.a.insert_axis(Axis(*axis))));
            Both {
                array,
                val,
                text: format!("np.expand_dims({}, {axis})", x.text),
            }
        }
        Expr::Squeeze(x, axes) => {
            let x = eval(x, arrays, sources);
            let array = lift(&x, &|a| a.squeeze(&signed_all(axes, a.ndim())));
            let ones = |v: Val| {
                if axes.iter().all(|&ax| v.a.shape()[ax] == 1) {
                    Ok(v)
                } else {
                    raise("cannot select an axis to squeeze out which has size not equal to one")
                }
            };
            let val = x
                .val
                .and_then(|v| check_axes(&v, axes, 0))
                .and_then(ones)
                .map(|v| {
                    let mut a = v.a;
                    let mut sorted = axes.clone();
                    sorted.sort_unstable_by(|p, q| q.cmp(p));
                    for &ax in &sorted {
                        a = a.index_axis_move(Axis(ax), 0);
                    }
                    Val::new(v.dtype, a)
                });
            Both {
                array,
                val,
                text: format!("np.squeeze({}, {axes:?})", x.text),
            }
        }
        Expr::BroadcastTo(x, shape) => {
            let x = eval(x, arrays, sources);
            let array = lift(&x, &|a| a.broadcast_to(shape));
            let val = x
                .val
                .and_then(|v| match broadcast_shape(&[v.shape(), shape.clone()]) {
                    Ok(s) if s == *shape => Ok(Val::new(v.dtype, broadcast(&v, shape))),
                    _ => raise("cannot broadcast"),
                });
            Both {
                array,
                val,
                text: format!("np.broadcast_to({}, {shape:?})", x.text),
            }
        }
        Expr::Concat(xs, axis) | Expr::Stack(xs, axis) => {
            let stack = matches!(e, Expr::Stack(..));
            let parts: Vec<Both> = xs.iter().map(|x| eval(x, arrays, sources)).collect();
            let array = parts
                .iter()
                .map(|p| p.array.clone())
                .collect::<Result<Vec<_>, _>>()
                .and_then(|xs| {
                    if stack {
                        Array::stack(&xs, signed(*axis, xs.first().map_or(0, |x| x.ndim()) + 1))
                    } else {
                        Array::concatenate(&xs, signed(*axis, xs.first().map_or(0, |x| x.ndim())))
                    }
                });
            let fits = |vs: Vec<Val>| {
                let ndim = vs[0].a.ndim();
                let same = vs.iter().all(|v| {
                    v.a.ndim() == ndim
                        && (0..ndim)
                            .all(|i| (i == *axis && !stack) || v.a.shape()[i] == vs[0].a.shape()[i])
                });
                if same && *axis < ndim + usize::from(stack) {
                    Ok(vs)
                } else {
                    raise("shapes do not match")
                }
            };
            let val = parts
                .iter()
                .map(|p| p.val.clone())
                .collect::<Res<Vec<Val>>>()
                .and_then(fits)
                .map(|vs| {
                    let d = vs.iter().map(|v| v.dtype).reduce(promote).expect("parts");
                    let arrays: Vec<ArrayD<El>> = vs
                        .iter()
                        .map(|v| {
                            let a = v.cast(d).a;
                            if stack { a.insert_axis(Axis(*axis)) } else { a }
                        })
                        .collect();
                    Val::new(d, concatenate(&arrays, *axis))
                });
            let texts: Vec<String> = parts.iter().map(|p| p.text.clone()).collect();
            let name = if stack { "stack" } else { "concatenate" };
            Both {
                array,
                val,
                text: format!("np.{name}([{}], {axis})", texts.join(", ")),
            }
        }
        Expr::Rechunk(x, chunks) => {
            let x = eval(x, arrays, sources);
            let array = lift(&x, &|a| a.rechunk(Grid::from_chunks(chunks.clone())?));
            let fits = |v: Val| {
                let sums: Vec<usize> = chunks.iter().map(|c| c.iter().sum()).collect();
                if sums == v.shape() {
                    Ok(v)
                } else {
                    raise("chunks do not fit the shape")
                }
            };
            Both {
                array,
                val: x.val.and_then(fits),
                text: format!("rechunk({}, {chunks:?})", x.text),
            }
        }
        Expr::Reduce {
            op,
            x,
            axes,
            keepdims,
            ddof,
            split_every,
        } => {
            let x = eval(x, arrays, sources);
            let ndim = x.val.as_ref().map_or(0, |v| v.a.ndim());
            let options = ReduceOptions {
                axes: axes.as_ref().map(|a| signed_all(a, ndim)),
                keepdims: *keepdims,
                ddof: *ddof,
                split_every: *split_every,
            };
            let array = lift(&x, &|a| a.reduce(reduction(*op), &options));
            let val = x
                .val
                .and_then(|v| check_axes(&v, axes.as_deref().unwrap_or(&[]), 0))
                .and_then(|v| {
                    if op.is_arg() && axes.as_ref().is_some_and(|a| a.len() != 1) {
                        return raise("argmin/argmax take one axis or none");
                    }
                    let all: Vec<usize> = axes.clone().unwrap_or_else(|| (0..v.a.ndim()).collect());
                    ops::reduce(*op, &v, &all, *keepdims, *ddof)
                });
            let name = format!("{op:?}").to_lowercase();
            let text = format!(
                "np.{name}({}, axis={axes:?}, keepdims={keepdims}, ddof={ddof})",
                x.text
            );
            Both { array, val, text }
        }
        other => super::more::eval_more(other, arrays, sources),
    }
}

/// `v` if every one of `axes` is below its number of dimensions plus `extra`.
pub(super) fn check_axes(v: &Val, axes: &[usize], extra: usize) -> Res {
    if axes.iter().all(|&a| a < v.a.ndim() + extra) {
        Ok(v.clone())
    } else {
        raise(format!(
            "axis {axes:?} is out of bounds for array of dimension {}",
            v.a.ndim()
        ))
    }
}

fn slice_ref(v: &Val, args: &[SliceArg]) -> Res {
    let consuming = args
        .iter()
        .filter(|a| matches!(a, SliceArg::Range { .. } | SliceArg::Index(_)))
        .count();
    let ellipses = args.iter().filter(|a| **a == SliceArg::Ellipsis).count();
    if consuming > v.a.ndim() || ellipses > 1 {
        return raise("too many indices for array");
    }
    // Expand `...` (or the missing trailing axes) into `:`.
    let mut expanded = Vec::new();
    for &arg in args {
        if arg == SliceArg::Ellipsis {
            expanded.extend(std::iter::repeat_n(SliceArg::FULL, v.a.ndim() - consuming));
        } else {
            expanded.push(arg);
        }
    }
    if ellipses == 0 {
        expanded.extend(std::iter::repeat_n(SliceArg::FULL, v.a.ndim() - consuming));
    }
    let mut a = v.a.clone();
    let mut dropped = Vec::new();
    let mut new_axes = Vec::new();
    let mut axis = 0;
    for (out, arg) in expanded.iter().enumerate() {
        if *arg == SliceArg::NewAxis {
            new_axes.push(out);
            continue;
        }
        let n = a.shape()[axis];
        match *arg {
            SliceArg::Index(i) => {
                let at = if i < 0 { i + n as isize } else { i };
                if at < 0 || at >= n as isize {
                    return raise(format!(
                        "index {i} is out of bounds for axis {axis} with size {n}"
                    ));
                }
                dropped.push((axis, at as usize));
            }
            SliceArg::Range { step: 0, .. } => return raise("slice step cannot be zero"),
            SliceArg::Range { start, stop, step } => {
                a = ops::take(&a, axis, &ops::slice_indices(n, start, stop, step));
            }
            _ => unreachable!("expanded"),
        }
        axis += 1;
    }
    for &(axis, index) in dropped.iter().rev() {
        a = ops::index_axis(&a, axis, index);
    }
    // New axes at their places in the result (their positions count dropped axes
    // out, as numpy's do).
    let dropped_before = |out: usize| {
        expanded[..out]
            .iter()
            .filter(|x| matches!(x, SliceArg::Index(_)))
            .count()
    };
    for &out in &new_axes {
        a = a.insert_axis(Axis(out - dropped_before(out)));
    }
    Ok(Val::new(v.dtype, a))
}
