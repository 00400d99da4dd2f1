//! The demo's simulation: 2-D heat diffusion by an explicit 5-point stencil, the grid cut
//! in blocks over ranks, halos exchanged with the four neighbours every step (through
//! channels when ranks are threads, [`Halo`]; through MPI in `examples/heat2d_mpi.rs`,
//! which includes this file). The outer boundary is held at 0 (heat leaves through it);
//! a square heat source in the middle injects `source_power × scale` per cell per step,
//! `scale` being steered by the analytics. Plain `std`: no runtime in here.

use std::sync::mpsc::{Receiver, Sender, channel};

/// Diffusion number (stable for ≤ 0.25).
pub const ALPHA: f64 = 0.2;
/// What the temperature is measured in (the pictures' and tables' unit).
pub const UNITS: &str = "°C";
/// Temperature of the initial hot disk.
pub const INITIAL_HOT: f64 = 50.0;
/// Heat each source cell gets per step, before steering.
pub const SOURCE_POWER: f64 = 1.0;

/// How the global grid is cut: `px × py` ranks, each a block of `rows × cols`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decomposition {
    pub n: usize,
    pub px: usize,
    pub py: usize,
}

impl Decomposition {
    /// A near-square grid of `ranks` ranks over an `n × n` grid; fails if the blocks
    /// would not all be the same size.
    pub fn new(n: usize, ranks: usize) -> Result<Decomposition, String> {
        if ranks == 0 || n == 0 {
            return Err("grid and ranks must be positive".into());
        }
        let px = (1..=ranks)
            .filter(|p| ranks.is_multiple_of(*p) && *p * *p <= ranks)
            .max()
            .unwrap_or(1);
        let py = ranks / px;
        if !n.is_multiple_of(px) || !n.is_multiple_of(py) {
            return Err(format!(
                "a {n}x{n} grid does not split evenly over {px}x{py} ranks"
            ));
        }
        Ok(Decomposition { n, px, py })
    }

    pub fn block(&self) -> (usize, usize) {
        (self.n / self.px, self.n / self.py)
    }

    /// Block position of `rank` (row, column of blocks).
    pub fn position(&self, rank: usize) -> (usize, usize) {
        (rank / self.py, rank % self.py)
    }

    /// The rank at block (row, col), if inside the grid of blocks.
    pub fn rank_at(&self, row: isize, col: isize) -> Option<usize> {
        let inside = (0..self.px as isize).contains(&row) && (0..self.py as isize).contains(&col);
        inside.then(|| row as usize * self.py + col as usize)
    }
}

/// North, south, west, east (`d ^ 1` is the opposite of `d`).
pub const DIRECTIONS: [(isize, isize); 4] = [(-1, 0), (1, 0), (0, -1), (0, 1)];

/// The ranks next to `rank`, by direction.
pub fn neighbours(decomposition: &Decomposition, rank: usize) -> [Option<usize>; 4] {
    let (r, c) = decomposition.position(rank);
    DIRECTIONS.map(|(dr, dc)| decomposition.rank_at(r as isize + dr, c as isize + dc))
}

/// How a rank trades edges with its neighbours.
pub trait Neighbours: Send {
    /// Whether there is a neighbour in direction `d`.
    fn has(&self, d: usize) -> bool;
    /// Sends `edges[d]` to the neighbour in each direction `d` it has; returns what
    /// each of them sent (`None` where there is none).
    fn exchange(&mut self, edges: [Vec<f64>; 4]) -> Result<[Option<Vec<f64>>; 4], String>;
}

/// A rank's links to its neighbours: `send[d]` reaches the neighbour in direction `d`,
/// `recv[d]` brings what that neighbour sent.
pub struct Halo {
    send: [Option<Sender<Vec<f64>>>; 4],
    recv: [Option<Receiver<Vec<f64>>>; 4],
}

/// The halo links of every rank.
pub fn halos(decomposition: &Decomposition) -> Vec<Halo> {
    let ranks = decomposition.px * decomposition.py;
    let mut halos: Vec<Halo> = (0..ranks)
        .map(|_| Halo {
            send: Default::default(),
            recv: Default::default(),
        })
        .collect();
    for rank in 0..ranks {
        for (d, other) in neighbours(decomposition, rank).into_iter().enumerate() {
            if let Some(other) = other {
                let (tx, rx) = channel();
                halos[rank].send[d] = Some(tx);
                // What `rank` sends towards `d` arrives at `other` from the opposite side.
                halos[other].recv[d ^ 1] = Some(rx);
            }
        }
    }
    halos
}

impl Neighbours for Halo {
    fn has(&self, d: usize) -> bool {
        self.send[d].is_some()
    }

    fn exchange(&mut self, edges: [Vec<f64>; 4]) -> Result<[Option<Vec<f64>>; 4], String> {
        for (d, edge) in edges.into_iter().enumerate() {
            if let Some(tx) = &self.send[d] {
                tx.send(edge).map_err(|_| "a neighbour rank stopped")?;
            }
        }
        let mut received: [Option<Vec<f64>>; 4] = Default::default();
        for (d, slot) in received.iter_mut().enumerate() {
            if let Some(rx) = &self.recv[d] {
                *slot = Some(rx.recv().map_err(|_| "a neighbour rank stopped")?);
            }
        }
        Ok(received)
    }
}

/// One rank's block, with a ring of ghost cells.
pub struct Block<N: Neighbours = Halo> {
    pub rows: usize,
    pub cols: usize,
    row0: usize,
    col0: usize,
    n: usize,
    u: Vec<f64>,
    next: Vec<f64>,
    source_power: f64,
    halo: N,
}

impl<N: Neighbours> Block<N> {
    /// The initial condition: a hot disk of radius n/8 centred at (n/3, n/3).
    pub fn new(decomposition: &Decomposition, rank: usize, halo: N, source_power: f64) -> Self {
        let (rows, cols) = decomposition.block();
        let (br, bc) = decomposition.position(rank);
        let n = decomposition.n;
        let mut block = Block {
            rows,
            cols,
            row0: br * rows,
            col0: bc * cols,
            n,
            u: vec![0.0; (rows + 2) * (cols + 2)],
            next: vec![0.0; (rows + 2) * (cols + 2)],
            source_power,
            halo,
        };
        let (centre, radius) = (n as f64 / 3.0, n as f64 / 8.0);
        for i in 0..rows {
            for j in 0..cols {
                let (y, x) = ((block.row0 + i) as f64, (block.col0 + j) as f64);
                if (y - centre).powi(2) + (x - centre).powi(2) <= radius * radius {
                    let at = block.at(i + 1, j + 1);
                    block.u[at] = INITIAL_HOT;
                }
            }
        }
        block
    }

    fn at(&self, i: usize, j: usize) -> usize {
        i * (self.cols + 2) + j
    }

    /// Whether global cell (y, x) is in the heat source (a square of side n/16 at the
    /// centre).
    fn in_source(&self, y: usize, x: usize) -> bool {
        let half = (self.n / 32).max(1);
        let c = self.n / 2;
        (c - half..c + half).contains(&y) && (c - half..c + half).contains(&x)
    }

    /// Sends edges to the neighbours and fills the ghost cells from theirs (0 at the
    /// outer boundary).
    fn exchange(&mut self) -> Result<(), String> {
        let (rows, cols) = (self.rows, self.cols);
        let w = cols + 2;
        let u = &self.u;
        let edges = [0, 1, 2, 3].map(|d| {
            if !self.halo.has(d) {
                return Vec::new();
            }
            match d {
                0 => u[w + 1..w + 1 + cols].to_vec(),
                1 => u[rows * w + 1..rows * w + 1 + cols].to_vec(),
                2 => (1..=rows).map(|i| u[i * w + 1]).collect(),
                _ => (1..=rows).map(|i| u[i * w + cols]).collect(),
            }
        });
        let received = self.halo.exchange(edges)?;
        for (d, ghost) in received.into_iter().enumerate() {
            let len = if d < 2 { cols } else { rows };
            let ghost = ghost.unwrap_or_else(|| vec![0.0; len]);
            if ghost.len() != len {
                return Err(format!(
                    "a halo of {} cells from direction {d}",
                    ghost.len()
                ));
            }
            for (k, v) in ghost.into_iter().enumerate() {
                let at = match d {
                    0 => k + 1,
                    1 => (rows + 1) * w + k + 1,
                    2 => (k + 1) * w,
                    _ => (k + 1) * w + cols + 1,
                };
                self.u[at] = v;
            }
        }
        Ok(())
    }

    /// One time step; returns the heat the source injected in this block.
    pub fn step(&mut self, scale: f64) -> Result<f64, String> {
        self.exchange()?;
        let w = self.cols + 2;
        let power = self.source_power * scale;
        let mut injected = 0.0;
        for i in 1..=self.rows {
            for j in 1..=self.cols {
                let c = i * w + j;
                let u = &self.u;
                let lap = u[c - w] + u[c + w] + u[c - 1] + u[c + 1] - 4.0 * u[c];
                let mut v = u[c] + ALPHA * lap;
                if self.in_source(self.row0 + i - 1, self.col0 + j - 1) {
                    v += power;
                    injected += power;
                }
                self.next[c] = v;
            }
        }
        std::mem::swap(&mut self.u, &mut self.next);
        Ok(injected)
    }

    /// The block without its ghost cells, row by row.
    #[cfg(test)]
    pub fn interior(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.rows * self.cols];
        self.interior_to(&mut out);
        out
    }

    /// Writes the block without its ghost cells into `out` (`rows * cols` values).
    pub fn interior_to(&self, out: &mut [f64]) {
        let w = self.cols + 2;
        for (i, row) in out.chunks_exact_mut(self.cols).take(self.rows).enumerate() {
            let start = (i + 1) * w + 1;
            row.copy_from_slice(&self.u[start..start + self.cols]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `steps` steps on `ranks` threads; returns the whole field and the heat
    /// injected.
    fn run(n: usize, ranks: usize, steps: usize) -> (Vec<f64>, f64) {
        let d = Decomposition::new(n, ranks).unwrap();
        let blocks: Vec<(usize, Vec<f64>, f64)> = std::thread::scope(|s| {
            let handles: Vec<_> = halos(&d)
                .into_iter()
                .enumerate()
                .map(|(rank, halo)| {
                    s.spawn(move || {
                        let mut b = Block::new(&d, rank, halo, 1.0);
                        let injected: f64 = (0..steps).map(|_| b.step(1.0).unwrap()).sum();
                        (rank, b.interior(), injected)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let (rows, cols) = d.block();
        let mut field = vec![0.0; n * n];
        let mut injected = 0.0;
        for (rank, interior, heat) in blocks {
            let (br, bc) = d.position(rank);
            for i in 0..rows {
                for j in 0..cols {
                    field[(br * rows + i) * n + bc * cols + j] = interior[i * cols + j];
                }
            }
            injected += heat;
        }
        (field, injected)
    }

    #[test]
    fn the_decomposition_is_the_same_computation_as_one_rank() {
        let (one, heat_one) = run(24, 1, 30);
        for ranks in [2, 4, 6] {
            let (many, heat_many) = run(24, ranks, 30);
            assert_eq!(heat_one, heat_many);
            for (a, b) in one.iter().zip(&many) {
                assert!((a - b).abs() < 1e-12, "{ranks} ranks: {a} vs {b}");
            }
        }
    }

    #[test]
    fn heat_is_conserved_up_to_the_boundary_flux_and_the_source() {
        let n = 16;
        let (before, _) = run(n, 4, 5);
        let (after, injected) = run(n, 4, 6);
        let (_, injected_before) = run(n, 4, 5);
        let total = |f: &[f64]| f.iter().sum::<f64>();
        let edges: f64 = (0..n)
            .map(|k| before[k] + before[(n - 1) * n + k] + before[k * n] + before[k * n + n - 1])
            .sum();
        let expected = total(&before) - ALPHA * edges + (injected - injected_before);
        assert!(
            (total(&after) - expected).abs() < 1e-9,
            "{} vs {expected}",
            total(&after)
        );
    }

    #[test]
    fn grids_that_do_not_split_evenly_are_refused() {
        assert!(Decomposition::new(10, 3).is_err());
        assert_eq!(Decomposition::new(12, 6).unwrap().block(), (6, 4));
    }
}
