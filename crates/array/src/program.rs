//! What kernels are told to do: the parameter types shared by lowering (which builds
//! them) and kernels (which decode and check them), and the dtype rules both follow.

use crate::dtype::DType;
use crate::element::TypedScalar;
use crate::view::View;
use serde::{Deserialize, Serialize};

/// Element-wise functions of one operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) enum UnaryFn {
    Neg,
    Abs,
    Sign,
    Sqrt,
    Exp,
    Expm1,
    Log,
    Log2,
    Log10,
    Log1p,
    Sin,
    Cos,
    Tan,
    Arcsin,
    Arccos,
    Arctan,
    Sinh,
    Cosh,
    Tanh,
    Arcsinh,
    Arccosh,
    Arctanh,
    Floor,
    Ceil,
    Trunc,
    /// To the nearest integer, ties to even (numpy's `round` / `rint`).
    Round,
    IsNan,
    IsFinite,
    IsInf,
    Not,
    /// Bitwise not.
    Invert,
}

/// Element-wise functions of two operands of one dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) enum BinaryFn {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    Maximum,
    Minimum,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
    Xor,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
}

impl UnaryFn {
    pub fn name(self) -> &'static str {
        match self {
            UnaryFn::Neg => "negative",
            UnaryFn::Abs => "abs",
            UnaryFn::Sign => "sign",
            UnaryFn::Sqrt => "sqrt",
            UnaryFn::Exp => "exp",
            UnaryFn::Expm1 => "expm1",
            UnaryFn::Log => "log",
            UnaryFn::Log2 => "log2",
            UnaryFn::Log10 => "log10",
            UnaryFn::Log1p => "log1p",
            UnaryFn::Sin => "sin",
            UnaryFn::Cos => "cos",
            UnaryFn::Tan => "tan",
            UnaryFn::Arcsin => "arcsin",
            UnaryFn::Arccos => "arccos",
            UnaryFn::Arctan => "arctan",
            UnaryFn::Sinh => "sinh",
            UnaryFn::Cosh => "cosh",
            UnaryFn::Tanh => "tanh",
            UnaryFn::Arcsinh => "arcsinh",
            UnaryFn::Arccosh => "arccosh",
            UnaryFn::Arctanh => "arctanh",
            UnaryFn::Floor => "floor",
            UnaryFn::Ceil => "ceil",
            UnaryFn::Trunc => "trunc",
            UnaryFn::Round => "round",
            UnaryFn::IsNan => "isnan",
            UnaryFn::IsFinite => "isfinite",
            UnaryFn::IsInf => "isinf",
            UnaryFn::Not => "logical_not",
            UnaryFn::Invert => "invert",
        }
    }

    /// Functions of floats only (integers compute in a float first).
    pub fn is_float_math(self) -> bool {
        !matches!(
            self,
            UnaryFn::Neg
                | UnaryFn::Abs
                | UnaryFn::Sign
                | UnaryFn::Floor
                | UnaryFn::Ceil
                | UnaryFn::Trunc
                | UnaryFn::Round
                | UnaryFn::IsNan
                | UnaryFn::IsFinite
                | UnaryFn::IsInf
                | UnaryFn::Not
                | UnaryFn::Invert
        )
    }

    /// The result dtype for an operand of `dtype`, if the kernel supports it.
    pub fn result(self, dtype: DType) -> Option<DType> {
        let ok = match self {
            UnaryFn::Neg | UnaryFn::Abs | UnaryFn::Sign => !dtype.is_bool(),
            UnaryFn::Not => dtype.is_bool(),
            UnaryFn::Invert => dtype.is_integer(),
            UnaryFn::IsNan | UnaryFn::IsFinite | UnaryFn::IsInf => {
                return dtype.is_float().then_some(DType::Bool);
            }
            _ => dtype.is_float(),
        };
        ok.then_some(dtype)
    }
}

impl BinaryFn {
    pub fn name(self) -> &'static str {
        match self {
            BinaryFn::Add => "add",
            BinaryFn::Sub => "subtract",
            BinaryFn::Mul => "multiply",
            BinaryFn::Div => "true_divide",
            BinaryFn::FloorDiv => "floor_divide",
            BinaryFn::Mod => "remainder",
            BinaryFn::Pow => "power",
            BinaryFn::Maximum => "maximum",
            BinaryFn::Minimum => "minimum",
            BinaryFn::Lt => "less",
            BinaryFn::Le => "less_equal",
            BinaryFn::Gt => "greater",
            BinaryFn::Ge => "greater_equal",
            BinaryFn::Eq => "equal",
            BinaryFn::Ne => "not_equal",
            BinaryFn::And => "logical_and",
            BinaryFn::Or => "logical_or",
            BinaryFn::Xor => "logical_xor",
            BinaryFn::BitAnd => "bitwise_and",
            BinaryFn::BitOr => "bitwise_or",
            BinaryFn::BitXor => "bitwise_xor",
            BinaryFn::Shl => "left_shift",
            BinaryFn::Shr => "right_shift",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryFn::Lt | BinaryFn::Le | BinaryFn::Gt | BinaryFn::Ge | BinaryFn::Eq | BinaryFn::Ne
        )
    }

    /// `logical_and`, `logical_or`, `logical_xor`: operands are taken as truth values.
    pub fn is_logical(self) -> bool {
        matches!(self, BinaryFn::And | BinaryFn::Or | BinaryFn::Xor)
    }

    /// The result dtype for two operands of `dtype`, if the kernel supports it.
    pub fn result(self, dtype: DType) -> Option<DType> {
        match self {
            BinaryFn::Add
            | BinaryFn::Sub
            | BinaryFn::Mul
            | BinaryFn::Pow
            | BinaryFn::FloorDiv
            | BinaryFn::Mod => (!dtype.is_bool()).then_some(dtype),
            BinaryFn::Div => dtype.is_float().then_some(dtype),
            BinaryFn::Maximum | BinaryFn::Minimum => Some(dtype),
            BinaryFn::And | BinaryFn::Or | BinaryFn::Xor => dtype.is_bool().then_some(dtype),
            BinaryFn::BitAnd | BinaryFn::BitOr | BinaryFn::BitXor => {
                (!dtype.is_float()).then_some(dtype)
            }
            BinaryFn::Shl | BinaryFn::Shr => dtype.is_integer().then_some(dtype),
            _ => Some(DType::Bool),
        }
    }
}

/// One step of a program; operands are indices of earlier steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Instr {
    /// The values of leaf `i` of the program.
    Leaf(u32),
    Const(TypedScalar),
    Unary(UnaryFn, u32),
    Binary(BinaryFn, u32, u32),
    /// `cond ? a : b`, with `cond` bool and `a`, `b` of one dtype.
    Where(u32, u32, u32),
    Cast(DType, u32),
}

/// A kernel input read through a view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Leaf {
    pub input: u32,
    pub view: View,
}

/// An element-wise program: its value is that of its last step, of the shape every
/// leaf's view produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Program {
    pub leaves: Vec<Leaf>,
    pub instrs: Vec<Instr>,
}

/// A region of an output chunk, computed by a program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Piece {
    pub offset: Vec<usize>,
    pub shape: Vec<usize>,
    pub program: Program,
}

/// Parameters of `array.eval`: an output chunk assembled from pieces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EvalParams {
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub pieces: Vec<Piece>,
}

/// The reductions arrays support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Reduction {
    Sum,
    Prod,
    Mean,
    Min,
    Max,
    Var,
    Std,
    /// The number of elements that are not NaN.
    Count,
    /// Whether any element is non-zero (NaN counts as non-zero).
    Any,
    /// Whether every element is non-zero.
    All,
    /// The index of the first smallest element (NaN counts as smallest).
    ArgMin,
    /// The index of the first largest element (NaN counts as largest).
    ArgMax,
    /// The sum, NaN counted as zero.
    NanSum,
    /// The mean of the elements that are not NaN.
    NanMean,
    /// The minimum of the elements that are not NaN (NaN if all are).
    NanMin,
    /// The maximum of the elements that are not NaN (NaN if all are).
    NanMax,
    /// The variance of the elements that are not NaN.
    NanVar,
    /// The standard deviation of the elements that are not NaN.
    NanStd,
}

impl Reduction {
    pub fn name(self) -> &'static str {
        match self {
            Reduction::Sum => "sum",
            Reduction::Prod => "prod",
            Reduction::Mean => "mean",
            Reduction::Min => "min",
            Reduction::Max => "max",
            Reduction::Var => "var",
            Reduction::Std => "std",
            Reduction::Count => "count",
            Reduction::Any => "any",
            Reduction::All => "all",
            Reduction::ArgMin => "argmin",
            Reduction::ArgMax => "argmax",
            Reduction::NanSum => "nansum",
            Reduction::NanMean => "nanmean",
            Reduction::NanMin => "nanmin",
            Reduction::NanMax => "nanmax",
            Reduction::NanVar => "nanvar",
            Reduction::NanStd => "nanstd",
        }
    }

    /// The dtype of the result for input of `dtype` (numpy's: sums and products of
    /// signed integers and bool are int64, of unsigned integers uint64).
    pub fn result(self, dtype: DType) -> DType {
        match self {
            Reduction::Sum | Reduction::Prod | Reduction::NanSum => {
                if dtype.is_float() {
                    dtype
                } else if dtype.is_unsigned_integer() {
                    DType::U64
                } else {
                    DType::I64
                }
            }
            Reduction::Count | Reduction::ArgMin | Reduction::ArgMax => DType::I64,
            Reduction::Any | Reduction::All => DType::Bool,
            Reduction::Min | Reduction::Max | Reduction::NanMin | Reduction::NanMax => dtype,
            Reduction::Mean
            | Reduction::Var
            | Reduction::Std
            | Reduction::NanMean
            | Reduction::NanVar
            | Reduction::NanStd => dtype.float_for(),
        }
    }

    /// Values per element in a partial result (mean: count and sum; var/std: count,
    /// mean and sum of squared deviations; argmin/argmax: value and index), 1 when the
    /// partial is the plain value.
    pub fn partial_width(self) -> usize {
        match self {
            Reduction::Mean | Reduction::NanMean | Reduction::ArgMin | Reduction::ArgMax => 2,
            Reduction::Var | Reduction::Std | Reduction::NanVar | Reduction::NanStd => 3,
            _ => 1,
        }
    }

    /// Reductions without an identity: an empty axis is an error.
    pub fn needs_elements(self) -> bool {
        matches!(
            self,
            Reduction::Min
                | Reduction::Max
                | Reduction::NanMin
                | Reduction::NanMax
                | Reduction::ArgMin
                | Reduction::ArgMax
        )
    }

    /// argmin and argmax (over one axis or all).
    pub fn is_arg(self) -> bool {
        matches!(self, Reduction::ArgMin | Reduction::ArgMax)
    }
}

/// Turning a partial into the result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Finalize {
    pub dtype: DType,
    pub ddof: u32,
    /// Reduced axes to drop (`keepdims = false`); they have length 1.
    pub squeeze: Vec<usize>,
}

/// Parameters of `array.reduce_chunk`: reduce the value of `program` over `axes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReduceChunkParams {
    pub op: Reduction,
    pub shape: Vec<usize>,
    pub program: Program,
    pub axes: Vec<usize>,
    /// For argmin/argmax: where the chunk starts in the reduced array, and that
    /// array's extents along `axes` (indices are global, flat over `axes`).
    pub offset: Vec<usize>,
    pub extents: Vec<usize>,
    pub finalize: Option<Finalize>,
}

/// Parameters of `array.reduce_combine`: merge partials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CombineParams {
    pub op: Reduction,
    pub finalize: Option<Finalize>,
}

/// Parameters of `array.histogram_chunk`: count the value of `program` in the bins
/// between consecutive `edges`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct HistogramParams {
    pub shape: Vec<usize>,
    pub program: Program,
    pub edges: Vec<f64>,
}

/// Evenly spaced values: element `i` of the whole array (C order, 1-d) is numpy's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) enum RangeSpec {
    /// `arange` of integers: `start + i * step`.
    IntSteps { start: i64, step: i64 },
    /// `arange` of floats: `start + i * delta`, with numpy's `delta = (start + step) -
    /// start`.
    FloatSteps { start: f64, delta: f64 },
    /// `linspace(start, stop, num)`: `i * step + start` with `step = (stop - start) /
    /// div` (or `i / div * (stop - start) + start` when the step is 0), the last
    /// element `stop` when `endpoint`.
    Linspace {
        start: f64,
        stop: f64,
        num: usize,
        endpoint: bool,
    },
}

/// Parameters of `array.range`: elements `offset .. offset + len` of a range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RangeParams {
    pub spec: RangeSpec,
    pub offset: usize,
    pub len: usize,
}

/// Parameters of `array.flat_pieces`: an output chunk of `shape` filled in C order by
/// runs of the inputs' elements (input, first element, count), one after another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FlatParams {
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub pieces: Vec<(u32, u64, u64)>,
}

/// Parameters of `array.scan`: the cumulative sum or product of the value of
/// `program` along `axis`, in `dtype`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ScanParams {
    pub shape: Vec<usize>,
    pub program: Program,
    pub axis: usize,
    pub prod: bool,
    pub dtype: DType,
}

/// Parameters of `array.quantile`: the quantiles `q` of the value of `program` over
/// `axes` (whole lanes), in `dtype`; the result's first axis is `q`'s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct QuantileParams {
    pub shape: Vec<usize>,
    pub program: Program,
    pub axes: Vec<usize>,
    pub q: Vec<f64>,
    pub dtype: DType,
}

/// Parameters of `array.quantile_sample` (program: the chunk's value) and
/// `array.quantile_merge` (`finish`: compute the quantiles `q` in `dtype` from the
/// merged samples of elements of dtype `own`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SampleParams {
    pub shape: Vec<usize>,
    pub program: Option<Program>,
    pub finish: Option<(Vec<f64>, DType, DType)>,
}

/// Parameters of `array.sort` (sort the value of `program` along `axis`, numpy's order,
/// NaN last) and of `array.topk` (keep the `k` largest, or `-k` smallest, along `axis`
/// of the value of `program`, or of the inputs put end to end along `axis` when there
/// is no program).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SortParams {
    pub shape: Vec<usize>,
    pub program: Option<Program>,
    pub axis: usize,
    pub k: Option<isize>,
    /// argtopk: keep (key, index) pairs along a trailing axis; `offset` is the chunk's
    /// first index along `axis`; `finish` leaves the indices alone (int64).
    pub arg: Option<ArgTopK>,
}

/// How `array.sort` keeps indices for argtopk.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct ArgTopK {
    pub offset: usize,
    pub finish: bool,
}

/// Parameters of `array.unique`: the sorted distinct values of the value of `program`
/// (a leaf), or of the inputs together (a merge).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct UniqueParams {
    pub shape: Vec<usize>,
    pub program: Option<Program>,
}
