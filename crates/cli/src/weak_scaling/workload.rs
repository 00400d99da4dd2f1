//! The benchmark's data and analyses: what the emulated simulation publishes (one
//! formula), the analyses asked of it, and the exact value each must give.
//!
//! Node `k` publishes chunks `k*K .. (k+1)*K` of a column of chunks: the global array
//! has `nodes * K * R` rows and `C` columns, chunk `i` holds rows `i*R .. (i+1)*R`, and
//! element `(row, col)` at timestep `t` is `row + 0.5 t + 0.01 col`.

use doreisa::array::{Array, ArrayError, DType, Grid};
use std::time::{Duration, Instant};

/// Element `(row, col)` of the global array at `timestep`: the producers' formula.
pub fn element(row: usize, col: usize, timestep: i64) -> f64 {
    row as f64 + timestep as f64 * 0.5 + col as f64 * 0.01
}

/// The values of chunk `index` of shape `chunk` (row-major) at `timestep`, as a
/// simulation fills its field: a plain loop over the formula.
pub fn chunk_values(chunk: [usize; 2], index: usize, timestep: i64) -> Vec<f64> {
    let [rows, cols] = chunk;
    let mut values = Vec::with_capacity(rows * cols);
    for i in 0..rows {
        for j in 0..cols {
            values.push(element(index * rows + i, j, timestep));
        }
    }
    values
}

/// The analysis asked every iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Analysis {
    /// The mean of the whole array (Doreisa's protocol).
    Mean,
    /// `mean(sin(sqrt(x + 1)))`: element-wise work, for big chunks.
    Sinsqrt,
    /// `(x + flip(x, 0)).sum()`: each chunk meets the chunk of the opposite end of the
    /// array, which another node holds, so data moves between nodes.
    FlipSum,
}

impl Analysis {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Analysis::Mean => "mean",
            Analysis::Sinsqrt => "sinsqrt",
            Analysis::FlipSum => "flip-sum",
        }
    }

    /// The expression over `x`.
    pub fn expression(self, x: &Array) -> Result<Array, ArrayError> {
        match self {
            Analysis::Mean => x.mean(),
            Analysis::Sinsqrt => (x + 1.0)?.sqrt()?.sin()?.mean(),
            Analysis::FlipSum => (x + &x.flip(0)?)?.sum(),
        }
    }
}

/// The shape of the data: chunks of `chunk` per node, on `nodes` nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    pub nodes: usize,
    pub chunks_per_node: u32,
    /// Rows and columns of a chunk.
    pub chunk: [usize; 2],
}

impl Workload {
    /// Chunks of one iteration.
    pub fn chunks(&self) -> usize {
        self.nodes * self.chunks_per_node as usize
    }

    /// Rows and columns of the global array.
    pub fn shape(&self) -> [usize; 2] {
        [self.chunks() * self.chunk[0], self.chunk[1]]
    }

    /// Elements of the global array.
    pub fn elements(&self) -> usize {
        let [rows, cols] = self.shape();
        rows * cols
    }

    /// Bytes of one iteration's data.
    pub fn bytes(&self) -> u64 {
        (self.elements() as u64).saturating_mul(8)
    }

    /// The global array `x` at `timestep`, as published.
    pub fn source(&self, timestep: i64) -> Result<Array, ArrayError> {
        let shape = self.shape();
        let grid = Grid::regular(&shape, &self.chunk)?;
        Array::source("x", timestep, &shape, grid, DType::F64)
    }

    /// The values of chunk `index` at `timestep` (see [`chunk_values`]).
    pub fn chunk_values(&self, index: usize, timestep: i64) -> Vec<f64> {
        chunk_values(self.chunk, index, timestep)
    }

    /// The exact value of `analysis` at `timestep` from the formula, where it has a
    /// closed form (mean and flip-sum): `None` for sinsqrt, which [`HandLoop`] computes.
    pub fn closed_form(&self, analysis: Analysis, timestep: i64) -> Option<Expected> {
        let [rows, cols] = self.shape();
        let (g, c, n) = (rows as f64, cols as f64, self.elements() as f64);
        let t = timestep as f64;
        match analysis {
            // The mean of each term: rows 0..G, 0.5 t, columns 0..C times 0.01.
            Analysis::Mean => {
                let mean = (g - 1.0) / 2.0 + 0.5 * t + 0.01 * (c - 1.0) / 2.0;
                // A sum's bound divided by n (the division's rounding is in the slack).
                Some(Expected::sum_of(mean, n as usize, mean.abs()))
            }
            // x[r, j] + x[G-1-r, j] = (G - 1) + t + 0.02 j, summed over r and j.
            Analysis::FlipSum => {
                let sum = n * (g - 1.0 + t) + 0.01 * n * (c - 1.0);
                // Each term is itself a sum of two rounded elements.
                Some(Expected::sum_of(sum, 2 * n as usize, sum.abs()))
            }
            Analysis::Sinsqrt => None,
        }
    }
}

/// An exact value and how far a correct float computation may be from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expected {
    pub value: f64,
    pub tolerance: f64,
}

impl Expected {
    /// A sum of `terms` terms whose absolute values add to `sum_abs`: any order of
    /// additions is within `(terms - 1) eps sum_abs` of the exact sum (each term goes
    /// through at most `terms - 1` roundings); a few ulps more for the terms' own
    /// rounding.
    pub fn sum_of(value: f64, terms: usize, sum_abs: f64) -> Expected {
        Expected {
            value,
            tolerance: (terms as f64 + 4.0) * f64::EPSILON * sum_abs,
        }
    }

    /// `Ok` if `value` is within the tolerance, else what differs.
    pub fn check(&self, value: f64) -> Result<(), String> {
        if (value - self.value).abs() <= self.tolerance {
            Ok(())
        } else {
            Err(format!(
                "{value}, expected {} (within {:.3e})",
                self.value, self.tolerance
            ))
        }
    }
}

/// A hand-written loop over the same data as the runtime's sinsqrt: one pass of std
/// `sqrt` and `sin` over the whole array, split evenly over `threads` threads.
#[derive(Debug)]
pub struct HandLoop {
    pub threads: usize,
    data: Vec<f64>,
}

impl HandLoop {
    pub fn new(threads: usize) -> HandLoop {
        HandLoop {
            threads: threads.max(1),
            data: Vec::new(),
        }
    }

    /// Fills the data of `workload` at `timestep` (not timed), then times one pass;
    /// returns the mean of `sin(sqrt(x + 1))` with its tolerance, and the pass's time.
    pub fn sinsqrt(&mut self, workload: &Workload, timestep: i64) -> (Expected, Duration) {
        self.data.clear();
        for index in 0..workload.chunks() {
            self.data
                .extend_from_slice(&workload.chunk_values(index, timestep));
        }
        let start = Instant::now();
        let (sum, sum_abs) = if self.threads == 1 {
            pass(&self.data)
        } else {
            let part = self.data.len().div_ceil(self.threads).max(1);
            std::thread::scope(|scope| {
                let parts: Vec<_> = self
                    .data
                    .chunks(part)
                    .map(|slice| scope.spawn(move || pass(slice)))
                    .collect();
                parts
                    .into_iter()
                    .map(|p| p.join().expect("a plain loop does not panic"))
                    .fold((0.0, 0.0), |(s, a), (ps, pa)| (s + ps, a + pa))
            })
        };
        let elapsed = start.elapsed();
        let n = self.data.len();
        // Two sums may differ (this loop's and the runtime's), each within its bound;
        // std's sin may differ from the runtime's by an ulp or two per element.
        let expected = Expected::sum_of(sum / n as f64, 2 * n + 8, sum_abs / n as f64);
        (expected, elapsed)
    }
}

/// The sum of `sin(sqrt(x + 1))` over `data`, and of its absolute values.
fn pass(data: &[f64]) -> (f64, f64) {
    let mut sum = 0.0;
    let mut sum_abs = 0.0;
    for &x in data {
        let y = (x + 1.0).sqrt().sin();
        sum += y;
        sum_abs += y.abs();
    }
    (sum, sum_abs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Workload = Workload {
        nodes: 3,
        chunks_per_node: 2,
        chunk: [4, 3],
    };

    /// The global array from the formula, by plain loops.
    fn array(workload: &Workload, timestep: i64) -> Vec<Vec<f64>> {
        let [rows, cols] = workload.shape();
        (0..rows)
            .map(|r| (0..cols).map(|c| element(r, c, timestep)).collect())
            .collect()
    }

    #[test]
    fn closed_forms_match_a_plain_loop_over_the_formula() {
        for t in [0, 7, 229] {
            let x = array(&SMALL, t);
            let n = SMALL.elements() as f64;
            let mean: f64 = x.iter().flatten().sum::<f64>() / n;
            let rows = x.len();
            let flip_sum: f64 = (0..rows)
                .flat_map(|r| (0..x[r].len()).map(move |c| (r, c)))
                .map(|(r, c)| x[r][c] + x[rows - 1 - r][c])
                .sum();
            let mean_expected = SMALL.closed_form(Analysis::Mean, t).unwrap();
            mean_expected.check(mean).unwrap();
            let flip_expected = SMALL.closed_form(Analysis::FlipSum, t).unwrap();
            flip_expected.check(flip_sum).unwrap();
        }
    }

    #[test]
    fn a_value_off_by_one_element_or_one_timestep_is_refused() {
        let t = 30;
        let flip = SMALL.closed_form(Analysis::FlipSum, t).unwrap();
        assert!(flip.check(flip.value + 0.01).is_err(), "one element off");
        let later = SMALL.closed_form(Analysis::FlipSum, t + 1).unwrap();
        assert!(flip.check(later.value).is_err(), "the next timestep's");
        let mean = SMALL.closed_form(Analysis::Mean, t).unwrap();
        let n = SMALL.elements() as f64;
        assert!(
            mean.check(mean.value + 0.01 / n).is_err(),
            "one element off"
        );
        let (sinsqrt, _) = HandLoop::new(1).sinsqrt(&SMALL, t);
        let (next, _) = HandLoop::new(1).sinsqrt(&SMALL, t + 1);
        assert!(sinsqrt.check(next.value).is_err());
        assert!(sinsqrt.check(f64::NAN).is_err());
    }

    #[test]
    fn the_hand_loop_gives_the_same_mean_on_any_number_of_threads() {
        let x = array(&SMALL, 5);
        let n = SMALL.elements() as f64;
        let direct: f64 = x
            .iter()
            .flatten()
            .map(|v| (v + 1.0).sqrt().sin())
            .sum::<f64>()
            / n;
        for threads in [1, 2, 5] {
            let (expected, _) = HandLoop::new(threads).sinsqrt(&SMALL, 5);
            expected.check(direct).unwrap();
            assert!(expected.tolerance < 1e-12);
        }
    }
}
