#!/usr/bin/env python3
"""Writes the golden values of the array layer: fixed cases where numpy 2's semantics
are subtle (dtype promotion, Python scalars, nan-reductions, rounding, integer division
by zero, argmin/argmax, histogram edges, math on small integers), each as .npy files of
its inputs and of numpy's result, listed in cases.txt. crates/array/tests/golden.rs reads
them; CI never needs numpy, only this script does:

    python3 -m venv /tmp/np && /tmp/np/bin/pip install numpy==2.4.6
    /tmp/np/bin/python scripts/numpy-golden.py crates/array/tests/golden

cases.txt: one case per line, `id|op|params|tolerance`, where the inputs are `id_a.npy`
(and `id_b.npy` for a second array operand) and the result `id_out.npy`, or the
tolerance is `raises` when numpy raises. Params are `key=value` separated by spaces;
scalars are `int:N`, `float:X` or `bool:B`. Tolerances: `exact` (to the bit, NaN equal
to NaN), `ulp4` (floats within 4 units in the last place: numpy's libm and Rust's may
differ by one or two), `sum` (n·eps·Σ|x|: another summation order), `value` (equal
as numbers: -0.0 is 0.0).
"""

import os
import shutil
import sys
import warnings

import numpy as np

NUMPY = "2.4.6"
if np.__version__ != NUMPY:
    sys.exit(f"numpy {NUMPY} is pinned, this is {np.__version__}")

warnings.simplefilter("ignore")  # numpy warns of divisions by zero; the values are kept

DTYPES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
          "uint64", "float16", "float32", "float64"]

out_dir = sys.argv[1]
shutil.rmtree(out_dir, ignore_errors=True)
os.makedirs(out_dir)
cases = []


def save(name, value):
    # ascontiguousarray would make a 0-d result 1-d.
    np.save(os.path.join(out_dir, name), np.asarray(value).copy(order="C"), allow_pickle=False)


def scalar(s):
    if isinstance(s, bool):
        return f"bool:{int(s)}"
    if isinstance(s, int):
        return f"int:{s}"
    return f"float:{float(s)!r}"


def py(s):
    kind, v = s.split(":", 1)
    return {"int": int, "float": float, "bool": lambda b: bool(int(b))}[kind](v)


def case(op, a, b=None, tol="exact", compute=None, **params):
    """Records one case: `compute(a, b)` is numpy's result (or raises)."""
    cid = f"{len(cases):03d}"
    save(f"{cid}_a.npy", a)
    if b is not None:
        save(f"{cid}_b.npy", b)
    try:
        result = compute(a, b)
    except Exception:
        tol = "raises"
    else:
        save(f"{cid}_out.npy", np.asarray(result))
    text = " ".join(f"{k}={v}" for k, v in params.items())
    cases.append(f"{cid}|{op}|{text}|{tol}")


def values(dtype):
    """A few values of `dtype`, edges included."""
    if dtype == "bool":
        return np.array([True, False, True, False])
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    if info is not None:
        return np.array([info.min, info.max, 0, 1, 7, info.max - 1], dtype=dtype)
    return np.array([0.5, -2.5, 3.25, -0.0, np.inf, np.nan], dtype=dtype)


def small(dtype):
    return np.array([3, 1, 0, 2], dtype=dtype) if dtype != "bool" else values("bool")


# 1. Promotion: every pair of dtypes added (78 cases).
for i, x in enumerate(DTYPES):
    for y in DTYPES[i:]:
        case("add", small(x), small(y)[::-1].copy(), compute=lambda a, b: a + b)

# 2. Python scalars (NEP 50).
u8 = np.array([0, 1, 200, 255], dtype=np.uint8)
i8 = np.array([-128, -1, 0, 127], dtype=np.int8)
i64 = np.array([-(2**63), -1, 0, 2**63 - 1], dtype=np.int64)
u64 = np.array([0, 1, 2**63, 2**64 - 1], dtype=np.uint64)
f16 = np.array([0.1, 65504, -0.0, np.nan], dtype=np.float16)
f32 = np.array([0.1, 3.4e38, -0.0, np.nan], dtype=np.float32)
b = np.array([True, False, True, False])
scalar_cases = [
    ("add", u8, 10), ("add", u8, 300), ("add", u8, -1), ("add", i8, 127), ("add", i8, 1.5),
    ("add", b, 1), ("add", b, 1.5), ("add", b, True), ("add", u64, 2**64 - 1),
    ("add", u64, -1), ("add", i64, 2**63), ("add", f16, 1e10), ("add", f16, 2**70),
    ("add", f32, 0.1), ("multiply", f16, 0.1), ("subtract", u8, 1),
    ("true_divide", u8, 300), ("true_divide", u8, -1), ("true_divide", i64, 2**70),
    ("true_divide", i8, 0), ("true_divide", b, 2),
    ("less", u8, 300), ("less", u8, -1), ("greater_equal", u8, 256), ("equal", i8, 1000),
    ("not_equal", u64, -1), ("less", i64, 2**70), ("greater", i64, -(2**70)),
    ("less", b, 2), ("less", f32, 2**100), ("equal", f16, 65520), ("less", u8, 2.5),
    ("logical_and", i8, 1000), ("logical_and", u8, 2.5), ("logical_or", b, 0),
    ("logical_or", f32, 0.0), ("logical_xor", i8, -1), ("maximum", u8, -1),
    ("maximum", u8, 100), ("minimum", f16, 1e5), ("power", i8, 2), ("power", u8, -1),
    ("power", i8, -1), ("power", f16, 0.5), ("floor_divide", u8, 300),
    ("remainder", i8, -3), ("bitwise_and", u8, 0x0f), ("bitwise_and", i8, -1),
    ("left_shift", i8, 3), ("right_shift", i64, 70),
]
for op, a, s in scalar_cases:
    case(op, a, compute=lambda x, _, op=op, s=s: getattr(np, op)(x, s), s=scalar(s))

for lo, hi in [(-5, 300), (10, 300), (300, 400), (-10, -5), (-1000, 2.5), (True, 5)]:
    case("clip", u8, compute=lambda x, _, lo=lo, hi=hi: np.clip(x, lo, hi),
         lo=scalar(lo), hi=scalar(hi))
case("clip", i8, compute=lambda x, _: np.clip(x, 100, -100), lo="int:100", hi="int:-100")
case("clip", f32, compute=lambda x, _: np.clip(x, -1, 1e300), lo="int:-1", hi="float:1e300")

# 3. nan-reductions (and their plain forms), over axes, all-NaN lanes, every float.
nan_data = {
    "float64": np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [-2.5, 0.5, np.inf]]),
    "float32": np.array([[1.5, np.nan], [np.nan, -0.25], [4.0, 8.0]], dtype=np.float32),
    "float16": np.array([[0.1, np.nan, 2.0, 65504]], dtype=np.float16),
    "int16": np.array([[1, -3, 7], [2, 2, 2]], dtype=np.int16),
}
for name, data in nan_data.items():
    for op in ["nansum", "nanmean", "nanmin", "nanmax", "nanvar", "nanstd",
               "sum", "mean", "min", "max", "var", "std", "prod"]:
        for axis in [None, 0, -1]:
            tol = "exact" if op in ("nanmin", "nanmax", "min", "max") else "sum"
            case(op, data, tol=tol,
                 compute=lambda x, _, op=op, axis=axis: getattr(np, op)(x, axis=axis),
                 axis="none" if axis is None else axis)
case("nanvar", nan_data["float64"], tol="sum", ddof=1, axis=1,
     compute=lambda x, _: np.nanvar(x, axis=1, ddof=1))
case("nanstd", nan_data["float32"], tol="sum", ddof=1, axis=0,
     compute=lambda x, _: np.nanstd(x, axis=0, ddof=1))

# 4. Sums and products of small integers: numpy's result dtypes, wrapping.
for dtype in ["bool", "int8", "uint8", "uint16", "int32", "uint64"]:
    data = values(dtype)
    for op in ["sum", "prod", "any", "all", "argmin", "argmax", "count_nonzero"]:
        if op == "count_nonzero":
            continue
        case(op, data, compute=lambda x, _, op=op: getattr(np, op)(x), axis="none")

# 5. Rounding: halves to even, signed zeros, every float.
halves = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.49999, -0.0, 1e300, np.nan]
for dtype in ["float16", "float32", "float64"]:
    data = np.array(halves, dtype=dtype)
    for op in ["round", "floor", "ceil", "trunc", "rint", "sign"]:
        case(op, data, compute=lambda x, _, op=op: getattr(np, op)(x))
for dtype in ["int8", "uint8", "bool"]:
    for op in ["floor", "round", "trunc"]:
        case(op, values(dtype), compute=lambda x, _, op=op: getattr(np, op)(x))

# 6. Integer division and remainder by zero, negative operands, MIN // -1.
for dtype in ["int8", "uint8", "int16", "int32", "uint32", "int64", "uint64"]:
    info = np.iinfo(dtype)
    signed = info.min < 0
    a = np.array([7, info.min if signed else 0, 5, 0, info.max], dtype=dtype)
    bb = np.array([0, -1 if signed else 1, 3 if not signed else -3, 0, 2], dtype=dtype)
    for op in ["floor_divide", "remainder"]:
        case(op, a, bb, compute=lambda x, y, op=op: getattr(np, op)(x, y))
for dtype in ["float16", "float32", "float64"]:
    a = np.array([5.0, -5.0, 5.0, -5.0, 0.0, -7.5, 7.5, np.inf, 1.0], dtype=dtype)
    bb = np.array([-0.0, 0.0, np.inf, np.inf, -3.0, 2.0, -2.0, 2.0, np.nan], dtype=dtype)
    for op in ["floor_divide", "remainder"]:
        case(op, a, bb, compute=lambda x, y, op=op: getattr(np, op)(x, y))
case("floor_divide", b, b[::-1].copy(), compute=lambda x, y: np.floor_divide(x, y))

# 7. argmin / argmax: NaN first, ties to the first.
arg_data = np.array([[3.0, np.nan, 1.0, np.nan], [2.0, 2.0, -1.0, -1.0]])
for op in ["argmin", "argmax", "nanargmin", "nanargmax"]:
    if op.startswith("nan"):
        continue
    for axis in [None, 0, 1, -1]:
        case(op, arg_data, compute=lambda x, _, op=op, axis=axis: getattr(np, op)(x, axis=axis),
             axis="none" if axis is None else axis)
case("argmax", u64, axis="none", compute=lambda x, _: np.argmax(x))
case("argmin", i8, axis="none", compute=lambda x, _: np.argmin(x))

# 8. Histogram edges: the last bin closed, NaN and outsiders dropped, float32 edges.
hist_cases = [
    (np.array([0.0, 0.5, 0.5, 1.0, 1.0, 1.5, np.nan, -0.1]), 2, (0.0, 1.0)),
    (np.array([0.1, 0.2, 0.3, 0.7, 1.0], dtype=np.float32), 3, (0.0, 1.0)),
    (np.array([1 / 3, 2 / 3, 0.333, 0.334], dtype=np.float32), 3, (0.0, 1.0)),
    (np.array([0.1, 0.2, 1.0, 0.3], dtype=np.float16), 3, (0.0, 1.0)),
    (np.array([1.0, 1.0, 2.0]), 2, (1.0, 1.0)),
    (np.array([1, 2, 3, 3], dtype=np.uint8), 2, (0.0, 3.0)),
    (np.array([True, False, True]), 2, (0.0, 1.0)),
    (np.array([2**63 - 1, -(2**63), 0], dtype=np.int64), 2, (-1e19, 1e19)),
    (np.array([], dtype=np.float64), 4, (0.0, 1.0)),
    (np.array([0.1, 0.2, 0.3]), 1, (0.0, 0.3)),
    (np.array([1.0]), 2, (2.0, 1.0)),
    (np.array([1.0]), 2, (0.0, np.inf)),
    (np.arange(10, dtype=np.float64) / 10, 10, (0.0, 0.9)),
    (np.arange(-5, 6, dtype=np.int32), 4, (-5.0, 5.0)),
]
for data, bins, rng in hist_cases:
    case("histogram", data, bins=bins, lo=repr(float(rng[0])), hi=repr(float(rng[1])),
         compute=lambda x, _, bins=bins, rng=rng: np.histogram(x, bins=bins, range=rng)[0])

# 9. Math on small integers and bools (float16, float32 results) and near domains.
for dtype in ["bool", "int8", "uint8", "int16", "uint16", "int32"]:
    for op in ["sqrt", "exp", "log1p", "sin", "arctan"]:
        case(op, small(dtype), tol="ulp4", compute=lambda x, _, op=op: getattr(np, op)(x))
edge = np.array([1e-10, -1e-10, 1.0, -1.0, 1.5, 0.0, -0.0, np.inf], dtype=np.float64)
for op in ["log1p", "expm1", "arcsin", "arccos", "arctanh", "arccosh", "log2", "log10",
           "tan", "sinh", "tanh", "arcsinh", "cosh"]:
    case(op, edge, tol="ulp4", compute=lambda x, _, op=op: getattr(np, op)(x))

# 10. Signs, NaN tests, bitwise ops and shifts.
for dtype in ["int8", "uint8", "float16", "float64"]:
    for op in ["sign", "isnan", "isfinite", "isinf", "abs", "negative"]:
        case(op, values(dtype), compute=lambda x, _, op=op: getattr(np, op)(x))
for dtype in ["int8", "uint16", "int64", "bool"]:
    data = values(dtype)
    for op in ["invert"]:
        case(op, data, compute=lambda x, _, op=op: getattr(np, op)(x))
shift_a = np.array([1, -8, 127, -128, 5], dtype=np.int8)
shift_b = np.array([9, -1, 1, 7, 8], dtype=np.int8)
for op in ["left_shift", "right_shift", "bitwise_and", "bitwise_or", "bitwise_xor"]:
    case(op, shift_a, shift_b, compute=lambda x, y, op=op: getattr(np, op)(x, y))
case("left_shift", b, b, compute=lambda x, y: np.left_shift(x, y))
case("bitwise_xor", b, b[::-1].copy(), compute=lambda x, y: np.bitwise_xor(x, y))

# 11. Bool arithmetic, casts into float16, maximum of signed zeros.
case("add", b, b[::-1].copy(), compute=lambda x, y: x + y)
case("multiply", b, b[::-1].copy(), compute=lambda x, y: x * y)
case("subtract", b, b, compute=lambda x, y: x - y)
case("power", b, b[::-1].copy(), compute=lambda x, y: np.power(x, y))
case("true_divide", b, b[::-1].copy(), compute=lambda x, y: x / y)
zeros = np.array([0.0, -0.0, np.nan, 1.0])
case("maximum", zeros, zeros[[1, 0, 3, 2]].copy(), compute=lambda x, y: np.maximum(x, y))
case("minimum", zeros, zeros[[1, 0, 3, 2]].copy(), compute=lambda x, y: np.minimum(x, y))
for src in ["int32", "float64", "uint64"]:
    data = np.array([2049, 2051, 65519, 65520, 70000, -3], dtype=src if src != "uint64" else "int64")
    if src == "uint64":
        data = np.array([2049, 65504, 65520, 2**64 - 1], dtype=np.uint64)
    case("astype", data, dtype="float16", compute=lambda x, _: x.astype(np.float16))

# 12. Quantiles (linear method), percentiles, medians: NaN lanes, integers, float16.
qdata = [
    np.array([3.0, 1.0, 2.0, 10.0]),
    np.array([[5, 1, 4], [2, 8, 7]], dtype=np.int32),
    np.array([0.1, 0.7, 0.33, 0.25, 0.9], dtype=np.float32),
    np.array([1.5, 0.25, -3, 8, 2], dtype=np.float16),
    np.array([[1.0, np.nan], [2.0, 3.0], [-1.0, 4.0]]),
    np.array([2**62, -(2**62), 7], dtype=np.int64),
    np.array([7, 200, 3, 3], dtype=np.uint8),
]
for data in qdata:
    axes = [None] + ([0, -1] if data.ndim == 2 else [])
    for axis in axes:
        ax = "none" if axis is None else axis
        for qs in [[0.0, 0.25, 0.5, 0.9, 1.0], [0.33]]:
            case("quantile", data, tol="ulp4", q=",".join(map(repr, qs)), axis=ax,
                 compute=lambda x, _, qs=qs, axis=axis: np.quantile(x, qs, axis=axis))
        case("median", data, tol="ulp4", axis=ax,
             compute=lambda x, _, axis=axis: np.median(x, axis=axis))
        case("percentile", data, tol="ulp4", q="10.0,50.0,99.5", axis=ax,
             compute=lambda x, _, axis=axis: np.percentile(x, [10.0, 50.0, 99.5], axis=axis))
case("quantile", qdata[0], q="1.5", axis="none", compute=lambda x, _: np.quantile(x, 1.5))
case("quantile", np.array([True, False]), q="0.5", axis="none",
     compute=lambda x, _: np.quantile(x, 0.5))

# 13. take, sort (NaN last), topk (Dask's: the k largest descending), matrix products.
tdata = np.array([[3.0, np.nan, -1.0, 2.0], [0.5, -0.0, 0.0, 7.0], [1.0, 1.0, -2.0, np.inf]])
for idx, axis in [([3, 0, 0, -1], 1), ([2, 0], 0), ([], 1), ([1, 2, 3], -1)]:
    case("take", tdata, indices=",".join(map(str, idx)) or "none", axis=axis,
         compute=lambda x, _, idx=idx, axis=axis: np.take(x, np.array(idx, dtype=np.intp), axis=axis))
for data in [tdata, np.array([5, -3, 200, 7, 7, 0], dtype=np.int16), values("uint64"), values("float16")]:
    case("sort", data, axis=-1, compute=lambda x, _: np.sort(x, axis=-1))
    for k in [2, -2]:
        case("topk", data, k=k, axis=-1,
             compute=lambda x, _, k=k: (np.sort(x, axis=-1)[..., ::-1][..., :k] if k > 0
                                          else np.sort(x, axis=-1)[..., :-k]))
ma = np.array([[1.5, -2.0, 0.25], [3.0, 0.0, -1.0]])
mb = np.array([[2.0, 1.0], [-0.5, 4.0], [8.0, -3.0]])
case("matmul", ma, mb, tol="sum", compute=lambda x, y: x @ y)
case("matmul", ma.astype(np.float32), mb.astype(np.float32), tol="sum", compute=lambda x, y: x @ y)
case("matmul", np.array([[1, 2], [3, 4]], np.int8), np.array([[100, 1], [1, 100]], np.int8),
     compute=lambda x, y: x @ y)
case("matmul", np.array([[True, False], [False, False]]), np.array([[True, True], [False, True]]),
     compute=lambda x, y: x @ y)
case("matmul", np.array([[1, 2]], np.uint8), np.array([[3], [4]], np.int32), compute=lambda x, y: x @ y)
case("dot", np.array([1.0, 2.0, 3.0]), np.array([4.0, -5.0, 6.0]), tol="sum", compute=lambda x, y: np.dot(x, y))
case("tensordot", ma, ma, tol="sum", axes="0,0", compute=lambda x, y: np.tensordot(x, y, axes=([0], [0])))
case("matmul", ma, ma, compute=lambda x, y: x @ y)

# 14. Boolean-mask selection (C order across chunks) and unique (sorted, one NaN).
mdata = np.array([[3.0, np.nan, -1.0, 2.0], [0.5, -0.0, 0.0, 7.0], [1.0, 1.0, -2.0, np.inf]])
case("extract", mdata, mdata > 0.5, compute=lambda x, m: x[m])
case("extract", mdata, np.zeros(mdata.shape, dtype=bool), compute=lambda x, m: x[m])
case("extract", values("int8"), values("int8") % 2 == 1, compute=lambda x, m: x[m])
for data in [mdata, np.array([3, 1, 3, 7, 1, 1, -5], np.int16), values("uint64"),
             np.array([np.nan, 1.0, np.nan, -0.0, 0.0]), values("bool"), values("float16")]:
    # Which of equal zeros numpy keeps depends on its sort: by value.
    case("unique", data, tol="value", compute=lambda x, _: np.unique(x))

with open(os.path.join(out_dir, "cases.txt"), "w") as f:
    f.write(f"# made by scripts/numpy-golden.py with numpy {np.__version__}\n")
    f.write("\n".join(cases) + "\n")
print(f"{len(cases)} cases in {out_dir}")
