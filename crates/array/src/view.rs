//! [`View`]: how one chunk is read as another without computing anything: a strided
//! selection (slicing with steps, reversal), a permutation of axes, fixed indices that
//! drop axes, and new or broadcast axes. Slicing, flip, transpose, broadcasting and the
//! splitting of chunks all lower to views, which compose, so that a chain of them reads
//! the source chunk once, inside whatever kernel consumes it.

use ndarray::{ArrayViewD, Axis, Slice};
use serde::{Deserialize, Serialize};

/// One output axis of a [`View`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) enum ViewAxis {
    /// Elements `start, start + step, ...` (`len` of them) of source axis `src`.
    Map {
        src: usize,
        start: usize,
        step: isize,
        len: usize,
    },
    /// A new axis repeating the data `len` times (1 for `expand_dims`).
    Bcast { len: usize },
}

/// A read of a source chunk as an output of shape `out_shape()`. Every source axis is
/// either mapped by exactly one output axis or fixed at one index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct View {
    pub axes: Vec<ViewAxis>,
    /// Source axes dropped at an index: `(axis, index)`.
    pub fixed: Vec<(usize, usize)>,
}

impl View {
    /// Reads a chunk of `shape` as it is.
    pub fn identity(shape: &[usize]) -> View {
        View {
            axes: shape
                .iter()
                .enumerate()
                .map(|(src, &len)| ViewAxis::Map {
                    src,
                    start: 0,
                    step: 1,
                    len,
                })
                .collect(),
            fixed: Vec::new(),
        }
    }

    pub fn out_shape(&self) -> Vec<usize> {
        self.axes
            .iter()
            .map(|axis| match *axis {
                ViewAxis::Map { len, .. } | ViewAxis::Bcast { len } => len,
            })
            .collect()
    }

    /// Whether this view reads a chunk of `shape` unchanged.
    pub fn is_identity(&self, shape: &[usize]) -> bool {
        *self == View::identity(shape)
    }

    /// Whether the view repeats data (a broadcast axis longer than 1).
    pub fn repeats(&self) -> bool {
        self.axes
            .iter()
            .any(|a| matches!(a, ViewAxis::Bcast { len } if *len > 1))
    }

    /// The view that reads this view's source as `next` reads this view's output.
    pub fn then(&self, next: &View) -> View {
        let mut fixed = self.fixed.clone();
        let mut axes = Vec::with_capacity(next.axes.len());
        for axis in &next.axes {
            axes.push(match *axis {
                ViewAxis::Bcast { len } => ViewAxis::Bcast { len },
                ViewAxis::Map {
                    src,
                    start,
                    step,
                    len,
                } => match self.axes[src] {
                    ViewAxis::Bcast { .. } => ViewAxis::Bcast { len },
                    ViewAxis::Map {
                        src: inner,
                        start: s1,
                        step: st1,
                        ..
                    } => normalized_map(inner, offset(s1, start, st1), step * st1, len),
                },
            });
        }
        for &(src, index) in &next.fixed {
            if let ViewAxis::Map {
                src: inner,
                start,
                step,
                ..
            } = self.axes[src]
            {
                fixed.push((inner, offset(start, index, step)));
            }
        }
        fixed.sort_unstable();
        View { axes, fixed }
    }

    /// Checks that the view fits a source chunk of `shape`.
    pub fn check(&self, shape: &[usize]) -> Result<(), String> {
        let bad = |m: String| Err(format!("view {self:?} on shape {shape:?}: {m}"));
        let mut seen = vec![false; shape.len()];
        let mut see = |axis: usize| -> bool {
            match seen.get_mut(axis) {
                Some(s) if !*s => {
                    *s = true;
                    true
                }
                _ => false,
            }
        };
        for &(axis, index) in &self.fixed {
            if !see(axis) || index >= shape[axis] {
                return bad(format!("fixed axis {axis} at {index}"));
            }
        }
        for axis in &self.axes {
            if let ViewAxis::Map {
                src,
                start,
                step,
                len,
            } = *axis
            {
                if !see(src) {
                    return bad(format!("axis {src} read twice or missing"));
                }
                let last = start as i128 + (len as i128 - 1) * step as i128;
                let n = shape[src] as i128;
                if len > 0 && (step == 0 || start as i128 >= n || last < 0 || last >= n) {
                    return bad(format!("axis {src} read out of range"));
                }
            }
        }
        if seen.iter().any(|s| !s) {
            return bad("a source axis is neither read nor fixed".into());
        }
        Ok(())
    }

    /// Applies the view to `a` except the repetition of broadcast axes, which are left
    /// of length 1: broadcast the result to `out_shape()` to finish. The view must have
    /// passed [`View::check`] for `a`'s shape.
    pub fn apply_unbroadcast<'a, T>(&self, a: ArrayViewD<'a, T>) -> ArrayViewD<'a, T> {
        let mut a = a;
        let mut fixed = self.fixed.clone();
        fixed.sort_unstable_by(|x, y| y.cmp(x));
        for &(axis, index) in &fixed {
            a = a.index_axis_move(Axis(axis), index);
        }
        let rank = |src: usize| src - self.fixed.iter().filter(|(f, _)| *f < src).count();
        let mut order = Vec::with_capacity(a.ndim());
        for axis in &self.axes {
            if let ViewAxis::Map {
                src,
                start,
                step,
                len,
            } = *axis
            {
                let r = rank(src);
                order.push(r);
                let (start, len) = (start as isize, len as isize);
                if len == 0 {
                    a.slice_axis_inplace(Axis(r), Slice::new(0, Some(0), 1));
                } else if step > 0 {
                    let end = start + (len - 1) * step + 1;
                    a.slice_axis_inplace(Axis(r), Slice::new(start, Some(end), step));
                } else {
                    let low = start + (len - 1) * step;
                    a.slice_axis_inplace(Axis(r), Slice::new(low, Some(start + 1), -step));
                    a.invert_axis(Axis(r));
                }
            }
        }
        let mut a = a.permuted_axes(order);
        for (i, axis) in self.axes.iter().enumerate() {
            if matches!(axis, ViewAxis::Bcast { .. }) {
                a = a.insert_axis(Axis(i));
            }
        }
        a
    }
}

fn offset(start: usize, index: usize, step: isize) -> usize {
    (start as isize + index as isize * step) as usize
}

fn normalized_map(src: usize, start: usize, step: isize, len: usize) -> ViewAxis {
    match len {
        0 => ViewAxis::Map {
            src,
            start: 0,
            step: 1,
            len,
        },
        1 => ViewAxis::Map {
            src,
            start,
            step: 1,
            len,
        },
        _ => ViewAxis::Map {
            src,
            start,
            step,
            len,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn, s};

    fn sample() -> ArrayD<i32> {
        ArrayD::from_shape_fn(IxDyn(&[4, 5]), |i| (i[0] * 10 + i[1]) as i32)
    }

    fn apply(v: &View, a: &ArrayD<i32>) -> ArrayD<i32> {
        v.check(a.shape()).unwrap();
        v.apply_unbroadcast(a.view())
            .broadcast(IxDyn(&v.out_shape()))
            .unwrap()
            .to_owned()
    }

    fn map(src: usize, start: usize, step: isize, len: usize) -> ViewAxis {
        ViewAxis::Map {
            src,
            start,
            step,
            len,
        }
    }

    #[test]
    fn strided_reversed_transposed_and_broadcast_reads() {
        let a = sample();
        let flip_t = View {
            axes: vec![map(1, 4, -2, 3), map(0, 1, 1, 2)],
            fixed: vec![],
        };
        let expected = a.slice(s![1..3, ..;-2]).t().to_owned().into_dyn();
        assert_eq!(apply(&flip_t, &a), expected);

        let row_bcast = View {
            axes: vec![ViewAxis::Bcast { len: 3 }, map(1, 0, 1, 5)],
            fixed: vec![(0, 2)],
        };
        let row = a.slice(s![2, ..]).to_owned();
        let got = apply(&row_bcast, &a);
        for r in 0..3 {
            assert_eq!(got.slice(s![r, ..]), row);
        }
        assert!(row_bcast.repeats());
        assert!(View::identity(&[4, 5]).is_identity(&[4, 5]));
    }

    #[test]
    fn composition_equals_successive_application() {
        let a = sample();
        let first = View {
            axes: vec![
                map(1, 4, -1, 5),
                ViewAxis::Bcast { len: 1 },
                map(0, 1, 2, 2),
            ],
            fixed: vec![],
        };
        let second = View {
            axes: vec![map(2, 1, -1, 2), map(0, 1, 2, 2)],
            fixed: vec![(1, 0)],
        };
        let composed = first.then(&second);
        let step_by_step = apply(&second, &apply(&first, &a));
        assert_eq!(apply(&composed, &a), step_by_step);
    }

    #[test]
    fn bad_views_are_rejected() {
        let shape = [4, 5];
        let twice = View {
            axes: vec![map(0, 0, 1, 4), map(0, 0, 1, 4)],
            fixed: vec![],
        };
        assert!(twice.check(&shape).is_err());
        let missing = View {
            axes: vec![map(0, 0, 1, 4)],
            fixed: vec![],
        };
        assert!(missing.check(&shape).is_err());
        let past_end = View {
            axes: vec![map(0, 0, 2, 3), map(1, 0, 1, 5)],
            fixed: vec![],
        };
        assert!(past_end.check(&shape).is_err());
        let before_start = View {
            axes: vec![map(0, 1, -1, 3), map(1, 0, 1, 5)],
            fixed: vec![],
        };
        assert!(before_start.check(&shape).is_err());
        let fixed_out = View {
            axes: vec![map(1, 0, 1, 5)],
            fixed: vec![(0, 4)],
        };
        assert!(fixed_out.check(&shape).is_err());
        let unknown = View {
            axes: vec![map(0, 0, 1, 4), map(1, 0, 1, 5), map(2, 0, 1, 1)],
            fixed: vec![],
        };
        assert!(unknown.check(&shape).is_err());
    }
}
