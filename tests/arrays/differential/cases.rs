//! The seeded generator of cases: random expressions built to a target shape, over
//! sources of every dtype with values at the edges of their dtype (and NaN, infinities,
//! signed zeros), cut in regular or irregular chunks.

use super::expr::{Expr, Source};
use super::ops::{Bin, Red, Un};
use super::reference::*;
use doreisa_array::{DType, Scalar, SliceArg};

/// SplitMix64.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
}

/// A generated case: sources and an expression over them.
#[derive(Debug, Clone)]
pub struct Case {
    pub seed: u64,
    pub sources: Vec<Source>,
    pub expr: Expr,
}

struct Gen {
    rng: Rng,
    sources: Vec<Source>,
    nodes: usize,
}

const MAX_NODES: usize = 14;

pub fn case(seed: u64) -> Case {
    let mut g = Gen {
        rng: Rng::new(seed),
        sources: Vec::new(),
        nodes: 0,
    };
    let ndim = g.rng.pick(&[0, 1, 1, 2, 2, 2, 3]);
    let shape = g.shape(ndim);
    let depth = 1 + g.rng.below(4) as u32;
    let expr = g.expr(&shape, depth);
    Case {
        seed,
        sources: g.sources,
        expr,
    }
}

/// Elements at the edges of `d` and ordinary ones.
pub fn element(rng: &mut Rng, d: DType) -> El {
    let edge = rng.chance(0.25);
    match d {
        DType::Bool => El::B(rng.chance(0.5)),
        d if is_int(d) => {
            let (lo, hi) = int_min_max(d);
            let v = if edge {
                rng.pick(&[lo, lo + 1, -1, 0, 1, 2, hi - 1, hi])
            } else {
                rng.below(13) as i128 - 6
            };
            El::I(wrap(d, v))
        }
        d => {
            let v = if edge {
                rng.pick(&[
                    f64::NAN,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    -0.0,
                    0.5,
                    2.5,
                    -1.5,
                    max_finite(d),
                    -max_finite(d),
                    ulp(d, 0.0),
                    1e-300,
                    1e30,
                    65519.0,
                ])
            } else {
                (rng.below(33) as f64 - 16.0) / 4.0
            };
            El::F(round_to(d, v), 0.0)
        }
    }
}

/// A Python scalar: ordinary mostly, sometimes at the edges of some dtype.
pub fn scalar(rng: &mut Rng) -> Scalar {
    if rng.chance(0.7) {
        return match rng.below(3) {
            0 => Scalar::Int(rng.below(9) as i128 - 3),
            1 => Scalar::Float((rng.below(17) as f64 - 8.0) / 4.0),
            _ => Scalar::Bool(rng.chance(0.5)),
        };
    }
    let d = rng.pick(&DType::ALL);
    if is_int(d) {
        let (lo, hi) = int_min_max(d);
        Scalar::Int(rng.pick(&[lo, hi, lo - 1, hi + 1, 1 << 70]))
    } else {
        Scalar::Float(rng.pick(&[
            f64::NAN,
            f64::INFINITY,
            -0.0,
            1e300,
            max_finite(d),
            2.5,
            -0.5,
        ]))
    }
}

/// Cuts a length `n`: one chunk, regular, or irregular.
pub fn cut(rng: &mut Rng, n: usize) -> Vec<usize> {
    if n == 0 {
        return vec![0];
    }
    match rng.below(3) {
        0 => vec![n],
        1 => {
            let c = 1 + rng.below(n);
            (0..n).step_by(c).map(|s| c.min(n - s)).collect()
        }
        _ => {
            let mut out = Vec::new();
            let mut left = n;
            while left > 0 {
                let take = 1 + rng.below(left.min(3));
                out.push(take);
                left -= take;
            }
            out
        }
    }
}

impl Gen {
    fn shape(&mut self, ndim: usize) -> Vec<usize> {
        (0..ndim)
            .map(|_| {
                if self.rng.chance(0.05) {
                    0
                } else {
                    1 + self.rng.below(5)
                }
            })
            .collect()
    }

    fn source(&mut self, shape: &[usize]) -> Expr {
        // Reuse a source of this shape now and then (shared subexpressions).
        if self.rng.chance(0.3)
            && let Some(i) = self.sources.iter().position(|s| s.shape == shape)
        {
            return Expr::Src(i);
        }
        let dtype = self.rng.pick(&DType::ALL);
        let n: usize = shape.iter().product();
        let values = (0..n).map(|_| element(&mut self.rng, dtype)).collect();
        let chunks = shape.iter().map(|&len| cut(&mut self.rng, len)).collect();
        self.sources.push(Source {
            dtype,
            shape: shape.to_vec(),
            chunks,
            values,
        });
        Expr::Src(self.sources.len() - 1)
    }

    /// A shape that broadcasts to `shape`: some axes 1, some leading ones dropped.
    fn broadcastable(&mut self, shape: &[usize]) -> Vec<usize> {
        let drop = if shape.is_empty() {
            0
        } else {
            self.rng.below(shape.len() + 1)
        };
        shape[drop..]
            .iter()
            .map(|&n| if self.rng.chance(0.3) { 1 } else { n })
            .collect()
    }

    fn expr(&mut self, shape: &[usize], depth: u32) -> Expr {
        self.nodes += 1;
        if depth == 0 || self.nodes > MAX_NODES || self.rng.chance(0.15) {
            return self.source(shape);
        }
        let d = depth - 1;
        let ndim = shape.len();
        loop {
            match self.rng.below(27) {
                0 | 1 => {
                    let f = self.rng.pick(&Un::ALL);
                    return Expr::Unary(f, Box::new(self.expr(shape, d)));
                }
                2..=4 => {
                    let f = self.bin();
                    let a = self.expr(shape, d);
                    let other = if self.rng.chance(0.7) {
                        shape.to_vec()
                    } else {
                        self.broadcastable(shape)
                    };
                    let b = self.expr(&other, d);
                    let (a, b) = if self.rng.chance(0.5) { (a, b) } else { (b, a) };
                    return Expr::Binary(f, Box::new(a), Box::new(b));
                }
                5 | 6 => {
                    let f = self.bin();
                    let s = scalar(&mut self.rng);
                    return Expr::Scalar(f, Box::new(self.expr(shape, d)), s);
                }
                7 => {
                    let c = self.broadcastable(shape);
                    let (c, a, b) = (self.expr(&c, d), self.expr(shape, d), self.expr(shape, d));
                    return Expr::Where(Box::new(c), Box::new(a), Box::new(b));
                }
                8 => {
                    let (lo, hi) = (scalar(&mut self.rng), scalar(&mut self.rng));
                    return Expr::Clip(Box::new(self.expr(shape, d)), lo, hi);
                }
                9 => {
                    let t = self.rng.pick(&DType::ALL);
                    return Expr::AsType(t, Box::new(self.expr(shape, d)));
                }
                10 if ndim > 0 => return self.slice(shape, d),
                11 if ndim > 0 => {
                    let axis = self.rng.below(ndim);
                    if self.rng.chance(0.5) {
                        return Expr::Flip(Box::new(self.expr(shape, d)), axis);
                    }
                    let mut perm: Vec<usize> = (0..ndim).collect();
                    for i in (1..ndim).rev() {
                        perm.swap(i, self.rng.below(i + 1));
                    }
                    // Output axis i is input axis perm[i].
                    let mut inner = vec![0; ndim];
                    for (i, &p) in perm.iter().enumerate() {
                        inner[p] = shape[i];
                    }
                    return Expr::Transpose(Box::new(self.expr(&inner, d)), perm);
                }
                12 => {
                    if let Some(axis) = shape.iter().position(|&n| n == 1) {
                        let mut inner = shape.to_vec();
                        inner.remove(axis);
                        if self.rng.chance(0.5) {
                            // x[:, ..., np.newaxis]
                            let mut args = vec![SliceArg::FULL; axis];
                            args.push(SliceArg::NewAxis);
                            return Expr::Slice(Box::new(self.expr(&inner, d)), args);
                        }
                        return Expr::ExpandDims(Box::new(self.expr(&inner, d)), axis);
                    }
                    let axis = self.rng.below(ndim + 1);
                    let mut inner = shape.to_vec();
                    inner.insert(axis, 1);
                    return Expr::Squeeze(Box::new(self.expr(&inner, d)), vec![axis]);
                }
                13 => {
                    let inner = self.broadcastable(shape);
                    return Expr::BroadcastTo(Box::new(self.expr(&inner, d)), shape.to_vec());
                }
                14 if ndim > 0 => {
                    let axis = self.rng.below(ndim);
                    if shape[axis] <= 3 && self.rng.chance(0.4) && shape[axis] > 0 {
                        let mut inner = shape.to_vec();
                        inner.remove(axis);
                        let parts = (0..shape[axis]).map(|_| self.expr(&inner, d)).collect();
                        return Expr::Stack(parts, axis);
                    }
                    let first = self.rng.below(shape[axis] + 1);
                    let parts = [first, shape[axis] - first]
                        .iter()
                        .map(|&len| {
                            let mut s = shape.to_vec();
                            s[axis] = len;
                            self.expr(&s, d)
                        })
                        .collect();
                    return Expr::Concat(parts, axis);
                }
                15 => {
                    let chunks = shape.iter().map(|&n| cut(&mut self.rng, n)).collect();
                    return Expr::Rechunk(Box::new(self.expr(shape, d)), chunks);
                }
                16 => return self.reduction(shape, d),
                19 => {
                    let n: usize = shape.iter().product();
                    let inner = self.reshaped(n, shape);
                    let mut spec: Vec<isize> = shape.iter().map(|&e| e as isize).collect();
                    if !spec.is_empty() && n > 0 && self.rng.chance(0.4) {
                        let at = self.rng.below(spec.len());
                        spec[at] = -1;
                    }
                    return Expr::Reshape(Box::new(self.expr(&inner, d)), spec);
                }
                20 if ndim > 0 => {
                    let axis = self.rng.below(ndim);
                    let prod = self.rng.chance(0.3);
                    return Expr::Scan(Box::new(self.expr(shape, d)), axis, prod);
                }
                21 => {
                    let chunks = shape
                        .iter()
                        .map(|&n| 1 + self.rng.below(n.max(1)))
                        .collect();
                    let value = scalar(&mut self.rng);
                    let dtype = self.rng.chance(0.5).then(|| self.rng.pick(&DType::ALL));
                    return Expr::Full(shape.to_vec(), chunks, value, dtype);
                }
                22 if ndim == 1 => {
                    let n = shape[0];
                    let chunk = 1 + self.rng.below(n.max(1));
                    if self.rng.chance(0.5) {
                        let endpoint = self.rng.chance(0.7);
                        let (a, b) =
                            self.rng
                                .pick(&[(0.0, 1.0), (-2.5, 7.0), (1.0, 1.0), (3.0, -3.0)]);
                        return Expr::Linspace(a, b, n, endpoint, chunk);
                    }
                    if self.rng.chance(0.5) {
                        let start = self.rng.below(7) as i128 - 3;
                        let step = self.rng.pick(&[1i128, 2, -1, -3]);
                        let stop = start + step * n as i128;
                        return Expr::Arange(
                            Scalar::Int(start),
                            Scalar::Int(stop),
                            Scalar::Int(step),
                            chunk,
                        );
                    }
                    let (start, step) = self.rng.pick(&[(0.1, 0.1), (-1.0, 0.25), (2.0, -0.3)]);
                    let stop = start + step * (n as f64 - 0.5);
                    return Expr::Arange(
                        Scalar::Float(start),
                        Scalar::Float(stop),
                        Scalar::Float(step),
                        chunk,
                    );
                }
                23 if ndim > 0 => {
                    let axis = self.rng.below(ndim);
                    let len = 1 + self.rng.below(5);
                    let mut inner = shape.to_vec();
                    inner[axis] = len;
                    let indices = (0..shape[axis])
                        .map(|_| self.rng.below(2 * len) as isize - len as isize)
                        .collect();
                    return Expr::Take(Box::new(self.expr(&inner, d)), indices, axis);
                }
                24 if ndim > 0 => {
                    let axis = self.rng.below(ndim);
                    if shape[axis] > 0 && self.rng.chance(0.5) {
                        let k = shape[axis] as isize;
                        let mut inner = shape.to_vec();
                        inner[axis] += self.rng.below(4);
                        let k = if self.rng.chance(0.5) { k } else { -k };
                        return Expr::TopK(Box::new(self.expr(&inner, d)), k, axis);
                    }
                    return Expr::Sort(Box::new(self.expr(shape, d)), axis);
                }
                25 if ndim == 2 => {
                    let k = self.rng.below(4);
                    let (a, b) = (self.expr(&[shape[0], k], d), self.expr(&[k, shape[1]], d));
                    return Expr::MatMul(Box::new(a), Box::new(b));
                }
                26 if ndim > 0 && shape[0] > 0 => {
                    let q: Vec<f64> = (0..shape[0])
                        .map(|_| self.rng.pick(&[0.0, 0.1, 0.25, 0.5, 0.9, 1.0, 1.0 / 3.0]))
                        .collect();
                    let kept = &shape[1..];
                    if kept.is_empty() && self.rng.chance(0.5) {
                        let ndim = 1 + self.rng.below(2);
                        let inner = self.shape(ndim);
                        return Expr::Quantile(Box::new(self.expr(&inner, d)), q, None);
                    }
                    let axis = self.rng.below(kept.len() + 1);
                    let mut inner = kept.to_vec();
                    inner.insert(axis, 1 + self.rng.below(5));
                    return Expr::Quantile(Box::new(self.expr(&inner, d)), q, Some(axis));
                }
                18 if ndim > 0 => {
                    let axis = self.rng.below(ndim);
                    let n = 1 + self.rng.below(2);
                    let mut inner = shape.to_vec();
                    inner[axis] += n;
                    return Expr::Diff(Box::new(self.expr(&inner, d)), n, axis);
                }
                17 if ndim == 1 && shape[0] > 0 => {
                    let ndim = self.rng.below(3) + 1;
                    let inner = self.shape(ndim);
                    let range = self.rng.pick(&[
                        (-2.0, 2.0),
                        (0.0, 1.0),
                        (-4.5, 4.5),
                        (1.0, 1.0),
                        (-1e300, 1e300),
                        (2.0, 1.0),
                        (0.0, f64::INFINITY),
                    ]);
                    return Expr::Histogram {
                        x: Box::new(self.expr(&inner, d)),
                        bins: shape[0],
                        range,
                    };
                }
                _ => {}
            }
        }
    }

    /// Another shape of `n` elements than `shape`: flat, reversed, or axes merged.
    fn reshaped(&mut self, n: usize, shape: &[usize]) -> Vec<usize> {
        match self.rng.below(3) {
            0 => vec![n],
            1 => shape.iter().rev().copied().collect(),
            _ if n > 0 => {
                let d = 1 + self.rng.below(n.min(4));
                if n.is_multiple_of(d) {
                    vec![d, n / d]
                } else {
                    vec![1, n]
                }
            }
            _ => vec![0, 2],
        }
    }

    fn bin(&mut self) -> Bin {
        self.rng.pick(&Bin::ALL)
    }

    /// A slice (or an index) of a longer array that gives `shape`.
    fn slice(&mut self, shape: &[usize], d: u32) -> Expr {
        let axis = self.rng.below(shape.len());
        let count = shape[axis];
        let mut inner = shape.to_vec();
        let mut args = vec![SliceArg::FULL; axis + 1];
        // x[..., arg] for the last axis, now and then.
        let ellipsis = axis + 1 == shape.len() && axis > 0 && self.rng.chance(0.3);
        if self.rng.chance(0.25) {
            // An index into a new axis at `axis`.
            let len = 1 + self.rng.below(4);
            inner.insert(axis, len);
            let i = self.rng.below(len) as isize;
            args[axis] = SliceArg::Index(if self.rng.chance(0.5) {
                i - len as isize
            } else {
                i
            });
            return Expr::Slice(Box::new(self.expr(&inner, d)), args);
        }
        let step = self.rng.pick(&[1isize, 1, 2, 3, -1, -2]);
        let stride = step.unsigned_abs();
        let before = self.rng.below(3);
        let span = if count == 0 {
            0
        } else {
            (count - 1) * stride + 1
        };
        let after = self.rng.below(3);
        let len = before + span + after;
        inner[axis] = len;
        let (start, stop) = if step > 0 {
            (before as isize, (before + span) as isize)
        } else {
            // Walking down from the last selected index.
            let first = len as isize - 1 - before as isize;
            (first, first - span as isize)
        };
        let negative = self.rng.chance(0.3);
        let bound = |i: isize| {
            if negative && i >= 0 {
                i - len as isize
            } else {
                i
            }
        };
        let stop = if stop < 0 { None } else { Some(bound(stop)) };
        args[axis] = SliceArg::Range {
            start: Some(bound(start)),
            stop,
            step,
        };
        if count == 0 {
            args[axis] = SliceArg::Range {
                start: Some(before as isize),
                stop: Some(before as isize),
                step: 1,
            };
        }
        if ellipsis {
            args = vec![SliceArg::Ellipsis, args[axis]];
        }
        Expr::Slice(Box::new(self.expr(&inner, d)), args)
    }

    fn reduction(&mut self, shape: &[usize], d: u32) -> Expr {
        let op = self.rng.pick(&Red::ALL);
        let keepdims = self.rng.chance(0.3);
        let ddof = self.rng.below(2) as u32;
        let split_every = 2 + self.rng.below(3);
        let (inner, axes) = if keepdims {
            // Reduce axes of length 1 in `shape` from any length.
            let mut inner = shape.to_vec();
            let mut axes = Vec::new();
            for (i, &n) in shape.iter().enumerate() {
                if n == 1 && self.rng.chance(0.7) && (!op.is_arg() || axes.is_empty()) {
                    inner[i] = 1 + self.rng.below(5);
                    axes.push(i);
                }
            }
            (inner, axes)
        } else {
            let extra = if op.is_arg() {
                1
            } else {
                1 + self.rng.below(2)
            };
            let mut inner = shape.to_vec();
            let mut axes = Vec::new();
            for _ in 0..extra {
                let at = self.rng.below(inner.len() + 1);
                inner.insert(at, 1 + self.rng.below(5));
                for a in axes.iter_mut() {
                    if *a >= at {
                        *a += 1;
                    }
                }
                axes.push(at);
            }
            axes.sort_unstable();
            (inner, axes)
        };
        let all = axes.len() == inner.len();
        let axes = if all && self.rng.chance(0.5) {
            None
        } else {
            Some(axes)
        };
        Expr::Reduce {
            op,
            x: Box::new(self.expr(&inner, d)),
            axes,
            keepdims,
            ddof,
            split_every,
        }
    }
}
