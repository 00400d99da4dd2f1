//! Reducing one chunk to a partial result (see [`super::reduce`] for the partials'
//! forms and how they merge).

use super::typed::{ChunkElement, for_dtype, maximum, minimum};
use crate::chunk::{Chunk, ViewChunk, with_chunk};
use crate::element::Element;
use crate::program::{ReduceChunkParams, Reduction};
use ndarray::{ArrayD, ArrayViewD, Axis, CowArray, IxDyn, Zip};

/// Reduces `a` along each of `axes` in turn with `along` (which keeps the axis with
/// length 1); the first step reads `a` in place, no copy of the chunk is made first.
fn reduce_axes<T: Clone>(
    a: ArrayViewD<'_, T>,
    axes: &[usize],
    along: impl Fn(ArrayViewD<'_, T>, Axis) -> ArrayD<T>,
) -> ArrayD<T> {
    let Some((&first, rest)) = axes.split_first() else {
        return a.to_owned();
    };
    let first = along(a, Axis(first));
    rest.iter()
        .fold(first, |a, &axis| along(a.view(), Axis(axis)))
}

/// Folds `a` over `axes` (keeping them with length 1) from `zero` with `add`.
fn fold_axes<T: Copy>(
    a: ArrayViewD<'_, T>,
    axes: &[usize],
    zero: T,
    add: impl Fn(T, T) -> T + Copy,
) -> ArrayD<T> {
    if axes.is_empty() {
        // A sum of one element still adds it to zero: `-0.0` becomes `0.0`, as in numpy.
        return a.mapv(|v| add(zero, v));
    }
    let every_axis = axes.len() == a.ndim() && axes.iter().enumerate().all(|(i, &x)| i == x);
    if every_axis && let Some(data) = a.as_slice() {
        let total = fold_all_in_order(data, a.shape(), zero, add);
        return ArrayD::from_elem(IxDyn(&vec![1; a.ndim()]), total);
    }
    reduce_axes(a, axes, |a, axis| {
        a.fold_axis(axis, zero, |&acc, &v| add(acc, v))
            .insert_axis(axis)
    })
}

/// Folds C-ordered `data` of `shape` over every axis, in the order `fold_axis` takes
/// them one axis after another (so with the same rounding): the first axis's rows
/// added in turn into one accumulator row, which is folded the same way over the next
/// axis. One pass over the data, a loop the compiler vectorizes, no index arithmetic.
fn fold_all_in_order<T: Copy>(
    data: &[T],
    shape: &[usize],
    zero: T,
    add: impl Fn(T, T) -> T + Copy,
) -> T {
    let fold_rows = |rows: &[T], len: usize| -> Vec<T> {
        let mut acc = vec![zero; len];
        if len > 0 {
            for row in rows.chunks_exact(len) {
                for (a, &v) in acc.iter_mut().zip(row) {
                    *a = add(*a, v);
                }
            }
        }
        acc
    };
    let mut rest: usize = shape[1..].iter().product();
    let mut acc = fold_rows(data, rest);
    for &n in &shape[1..] {
        rest /= n.max(1);
        acc = if n == 0 {
            vec![zero; rest]
        } else {
            fold_rows(&acc, rest)
        };
    }
    acc.first().copied().unwrap_or(zero)
}

/// Folds `a` over `axes` seeding each lane with its first element (no identity needed).
fn fold_first<T: Copy>(
    a: ArrayViewD<'_, T>,
    axes: &[usize],
    pick: impl Fn(T, T) -> T,
) -> ArrayD<T> {
    reduce_axes(a, axes, |a, axis| {
        let mut acc = a.index_axis(axis, 0).to_owned();
        for lane in a.axis_iter(axis).skip(1) {
            Zip::from(&mut acc)
                .and(&lane)
                .for_each(|x, &y| *x = pick(*x, y));
        }
        acc.insert_axis(axis)
    })
}

#[allow(clippy::eq_op)] // v != v is the generic NaN test
fn is_nan<T: PartialOrd>(v: &T) -> bool {
    v != v
}

/// `pick(a, b)` ignoring NaN (NaN only if both are).
pub(crate) fn nan_pick<T: PartialOrd + Copy>(a: T, b: T, pick: fn(T, T) -> T) -> T {
    if is_nan(&a) {
        b
    } else if is_nan(&b) {
        a
    } else {
        pick(a, b)
    }
}

/// Of two `(key, index)` pairs, the one argmax (or argmin) keeps: NaN first, then the
/// larger (smaller) key, then the smaller index.
pub(crate) fn pick_arg<T: PartialOrd + Copy>(a: (T, T), b: (T, T), max: bool) -> (T, T) {
    let (an, bn) = (is_nan(&a.0), is_nan(&b.0));
    let b_better = match (an, bn) {
        (true, true) => false,
        (true, false) => return a,
        (false, true) => return b,
        _ if max => b.0 > a.0,
        _ => b.0 < a.0,
    };
    let tie = (an && bn) || a.0 == b.0;
    if b_better || (tie && b.1 < a.1) { b } else { a }
}

/// The values as float64: read in place when they are, converted otherwise.
fn as_f64<'a>(value: &'a ViewChunk<'_>) -> CowArray<'a, f64, IxDyn> {
    match value {
        ViewChunk::F64(a) => CowArray::from(a.view()),
        other => CowArray::from(with_chunk!(ViewChunk, other, a => a.mapv(|v| v.to_f64()))),
    }
}

fn as_i64(value: &ViewChunk<'_>) -> ArrayD<i64> {
    with_chunk!(ViewChunk, value, a => a.mapv(|v| v.to_i64()))
}

/// Stacks same-shaped arrays along a new trailing axis.
fn lanes(parts: &[ArrayD<f64>]) -> Chunk {
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    let axis = Axis(parts[0].ndim());
    Chunk::F64(ndarray::stack(axis, &views).expect("same shapes"))
}

/// Count, sum, or count-mean-M2 lanes of `x` over `axes`, NaN ignored when `skip_nan`.
fn moments(x: ArrayViewD<'_, f64>, axes: &[usize], skip_nan: bool, second: bool) -> Chunk {
    let present = |v: f64| !(skip_nan && v.is_nan());
    let (counts, sums) = if skip_nan {
        let counts = fold_axes(
            x.mapv(|v| f64::from(u8::from(present(v)))).view(),
            axes,
            0.0,
            |a, b| a + b,
        );
        let zeroed = x.mapv(|v| if present(v) { v } else { 0.0 });
        (counts, fold_axes(zeroed.view(), axes, 0.0, |a, b| a + b))
    } else {
        // Every element counts: each lane's count is its length (exact, as the sum of
        // as many ones would be), and the elements are summed where they are.
        let sums = fold_axes(x.view(), axes, 0.0, |a, b| a + b);
        let lane: usize = axes.iter().map(|&a| x.shape()[a]).product();
        (ArrayD::from_elem(sums.raw_dim(), lane as f64), sums)
    };
    if !second {
        return lanes(&[counts, sums]);
    }
    let means = Zip::from(&sums)
        .and(&counts)
        .map_collect(|&s, &c| if c == 0.0 { 0.0 } else { s / c });
    let means_b = means.broadcast(x.raw_dim()).expect("kept axes of length 1");
    let squares = Zip::from(x)
        .and(&means_b)
        .map_collect(|&v, &m| if present(v) { (v - m) * (v - m) } else { 0.0 });
    let m2 = fold_axes(squares.view(), axes, 0.0, |a, b| a + b);
    lanes(&[counts, means, m2])
}

/// The partial of `p.op` for one chunk's value.
pub(crate) fn partial(p: &ReduceChunkParams, value: &ViewChunk<'_>) -> Result<Chunk, String> {
    use Reduction::*;
    let (op, axes) = (p.op, p.axes.as_slice());
    let dtype = value.dtype();
    let n: usize = axes.iter().map(|&a| value.shape()[a]).product();
    if op.needs_elements() && n == 0 {
        return Err(format!("{} of an empty chunk", op.name()));
    }
    Ok(match op {
        Sum | NanSum if dtype.is_float() => {
            let x = as_f64(value);
            let x = if op == NanSum {
                CowArray::from(x.mapv(|v| if v.is_nan() { 0.0 } else { v }))
            } else {
                x
            };
            Chunk::F64(fold_axes(x.view(), axes, 0.0, |a, b| a + b))
        }
        Sum | NanSum => Chunk::I64(fold_axes(as_i64(value).view(), axes, 0, i64::wrapping_add)),
        Prod if dtype.is_float() => {
            Chunk::F64(fold_axes(as_f64(value).view(), axes, 1.0, |a, b| a * b))
        }
        Prod => Chunk::I64(fold_axes(as_i64(value).view(), axes, 1, i64::wrapping_mul)),
        Count => {
            let present = with_chunk!(ViewChunk, value, a => a.mapv(|v| i64::from(!is_nan(&v))));
            Chunk::I64(fold_axes(present.view(), axes, 0, i64::wrapping_add))
        }
        Any | All => {
            let truth = with_chunk!(ViewChunk, value, a => a.mapv(|v| v.to_bool()));
            let any = op == Any;
            Chunk::Bool(fold_axes(truth.view(), axes, !any, move |a, b| {
                if any { a || b } else { a && b }
            }))
        }
        Min | Max | NanMin | NanMax => {
            let max = matches!(op, Max | NanMax);
            let nan = matches!(op, NanMin | NanMax);
            for_dtype!(dtype, T => {
                let a = T::view(value).expect("dtype matched");
                let pick = if max { maximum::<T> } else { minimum::<T> };
                T::into_chunk(fold_first(a.view(), axes, |x, y| if nan { nan_pick(x, y, pick) } else { pick(x, y) }))
            })
        }
        Mean | NanMean => moments(as_f64(value).view(), axes, op == NanMean, false),
        Var | Std | NanVar | NanStd => moments(
            as_f64(value).view(),
            axes,
            matches!(op, NanVar | NanStd),
            true,
        ),
        ArgMin | ArgMax => arg_partial(p, value),
    })
}

/// An integer's key in an int64 that keeps the order of its dtype (unsigned values are
/// shifted down by 2^63).
fn int_key<T: Element>(v: T, unsigned: bool) -> i64 {
    let k = v.to_i64();
    if unsigned { k ^ i64::MIN } else { k }
}

/// `(key, global index)` of the first extreme of each lane over `axes`.
fn arg_partial(p: &ReduceChunkParams, value: &ViewChunk<'_>) -> Chunk {
    let max = p.op == Reduction::ArgMax;
    let dtype = value.dtype();
    if dtype.is_float() {
        let keys = as_f64(value);
        let (pairs, shape) = arg_lanes(keys.view(), p, max);
        let flat: Vec<f64> = pairs.into_iter().flat_map(|(k, i)| [k, i as f64]).collect();
        Chunk::F64(ArrayD::from_shape_vec(IxDyn(&shape), flat).expect("sized"))
    } else {
        let unsigned = dtype.is_unsigned_integer();
        let keys = with_chunk!(ViewChunk, value, a => a.mapv(|v| int_key(v, unsigned)));
        let (pairs, shape) = arg_lanes(keys.view(), p, max);
        let flat: Vec<i64> = pairs.into_iter().flat_map(|(k, i)| [k, i]).collect();
        Chunk::I64(ArrayD::from_shape_vec(IxDyn(&shape), flat).expect("sized"))
    }
}

/// The kept pair of every lane (C order over the kept axes), and the partial's shape.
fn arg_lanes<K: PartialOrd + Copy>(
    keys: ArrayViewD<'_, K>,
    p: &ReduceChunkParams,
    max: bool,
) -> (Vec<(K, i64)>, Vec<usize>) {
    let axes = &p.axes;
    let ndim = keys.ndim();
    let shape_in = keys.shape().to_vec();
    let kept: Vec<usize> = (0..ndim).filter(|a| !axes.contains(a)).collect();
    let perm: Vec<usize> = kept.iter().chain(axes).copied().collect();
    let moved = keys.permuted_axes(IxDyn(&perm));
    let local: Vec<usize> = axes.iter().map(|&a| shape_in[a]).collect();
    // Global strides over the reduced axes, C order.
    let mut strides = vec![1i64; axes.len()];
    for i in (0..axes.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * p.extents[i + 1] as i64;
    }
    let n: usize = local.iter().product();
    let cells: usize = kept.iter().map(|&a| shape_in[a]).product();
    let flat: Vec<K> = moved.iter().copied().collect();
    let pairs = (0..cells)
        .map(|c| {
            let lane = &flat[c * n..(c + 1) * n];
            let mut best: Option<(K, i64)> = None;
            for (j, &k) in lane.iter().enumerate() {
                // The global flat index over the reduced axes of local index j.
                let (mut rest, mut index) = (j, 0i64);
                for d in (0..local.len()).rev() {
                    let i = rest % local[d];
                    rest /= local[d];
                    index += (p.offset[d] + i) as i64 * strides[d];
                }
                best = Some(match best {
                    None => (k, index),
                    Some(b) => pick_arg_key(b, (k, index), max),
                });
            }
            best.expect("a non-empty lane")
        })
        .collect();
    let mut shape: Vec<usize> = (0..ndim)
        .map(|a| if axes.contains(&a) { 1 } else { shape_in[a] })
        .collect();
    shape.push(2);
    (pairs, shape)
}

fn pick_arg_key<K: PartialOrd + Copy>(a: (K, i64), b: (K, i64), max: bool) -> (K, i64) {
    let (an, bn) = (is_nan(&a.0), is_nan(&b.0));
    let better = match (an, bn) {
        (true, _) => false,
        (false, true) => true,
        _ if max => b.0 > a.0,
        _ => b.0 < a.0,
    };
    // Within a chunk, indices only grow: ties keep the first.
    if better { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values whose sums round differently in different orders.
    fn awkward(len: usize) -> Vec<f64> {
        (0..len)
            .map(|i| {
                ((i * 7919) % 1013) as f64 * 1e-3 + if i.is_multiple_of(5) { 1e12 } else { 0.1 }
            })
            .collect()
    }

    #[test]
    fn a_fold_over_every_axis_rounds_as_the_fold_axis_by_axis() {
        for shape in [
            vec![10usize, 10],
            vec![3, 5, 7],
            vec![1, 9],
            vec![17],
            vec![0, 3],
            vec![3, 0, 2],
            vec![2, 3, 4, 5],
        ] {
            let len = shape.iter().product();
            let a = ArrayD::from_shape_vec(IxDyn(&shape), awkward(len)).unwrap();
            let axes: Vec<usize> = (0..shape.len()).collect();
            let fast = fold_axes(a.view(), &axes, 0.0, |x, y| x + y);
            let axis_by_axis = reduce_axes(a.view(), &axes, |a, axis| {
                a.fold_axis(axis, 0.0, |&acc, &v| acc + v).insert_axis(axis)
            });
            assert_eq!(fast.shape(), axis_by_axis.shape(), "{shape:?}");
            let (x, y) = (
                fast.iter().next().unwrap(),
                axis_by_axis.iter().next().unwrap(),
            );
            assert_eq!(x.to_bits(), y.to_bits(), "{shape:?}: {x} vs {y}");
        }
    }
}
