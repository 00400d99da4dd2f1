//! Chunk grids: how an array's shape is cut into chunks, axis by axis (regular or
//! irregular), and the questions lowering asks of a grid (where is chunk `p`, which
//! chunks overlap a range, how do two cuttings of one axis refine each other).

use crate::{ArrayError, Result};
use std::ops::Range;

/// The most dimensions an array may have.
pub const MAX_NDIM: usize = 32;

/// Chunk extents per axis. Every extent is positive, except that an axis of length 0
/// has exactly one chunk, of extent 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Grid {
    chunks: Vec<Vec<usize>>,
    /// Per axis, the start of each chunk and then the axis length.
    offsets: Vec<Vec<usize>>,
}

impl Grid {
    /// A grid from the chunk extents along each axis.
    pub fn from_chunks(chunks: Vec<Vec<usize>>) -> Result<Grid> {
        if chunks.len() > MAX_NDIM {
            return Err(ArrayError::BadGrid(format!(
                "{} dimensions (at most {MAX_NDIM})",
                chunks.len()
            )));
        }
        for (axis, extents) in chunks.iter().enumerate() {
            let empty_axis = extents.as_slice() == [0];
            if extents.is_empty() || (!empty_axis && extents.contains(&0)) {
                return Err(ArrayError::BadGrid(format!(
                    "axis {axis} has chunk extents {extents:?}: each must be positive, \
                     or the axis a single chunk of extent 0"
                )));
            }
            if u32::try_from(extents.len()).is_err() {
                return Err(ArrayError::BadGrid(format!(
                    "axis {axis} has too many chunks"
                )));
            }
        }
        let offsets = chunks
            .iter()
            .map(|extents| {
                let mut offsets = Vec::with_capacity(extents.len() + 1);
                let mut total = 0usize;
                offsets.push(0);
                for &e in extents {
                    total = total.checked_add(e)?;
                    offsets.push(total);
                }
                Some(offsets)
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ArrayError::BadGrid("axis length overflows".into()))?;
        Ok(Grid { chunks, offsets })
    }

    /// Chunks of `chunk_shape` (the last along each axis may be smaller).
    pub fn regular(shape: &[usize], chunk_shape: &[usize]) -> Result<Grid> {
        if shape.len() != chunk_shape.len() {
            return Err(ArrayError::BadGrid(format!(
                "chunk shape {chunk_shape:?} for shape {shape:?}"
            )));
        }
        let chunks = shape
            .iter()
            .zip(chunk_shape)
            .map(|(&n, &c)| match (n, c) {
                (0, _) => Ok(vec![0]),
                (_, 0) => Err(ArrayError::BadGrid("chunk extent 0".into())),
                _ => Ok((0..n).step_by(c).map(|start| c.min(n - start)).collect()),
            })
            .collect::<Result<_>>()?;
        Grid::from_chunks(chunks)
    }

    /// One chunk holding the whole `shape`.
    pub fn single(shape: &[usize]) -> Result<Grid> {
        Grid::from_chunks(shape.iter().map(|&n| vec![n]).collect())
    }

    pub fn ndim(&self) -> usize {
        self.chunks.len()
    }

    /// The array shape the grid cuts.
    pub fn shape(&self) -> Vec<usize> {
        self.offsets
            .iter()
            .map(|o| *o.last().expect("non-empty"))
            .collect()
    }

    /// Chunk extents along `axis`.
    pub fn axis(&self, axis: usize) -> &[usize] {
        &self.chunks[axis]
    }

    /// Chunk extents along every axis.
    pub fn chunks(&self) -> &[Vec<usize>] {
        &self.chunks
    }

    /// Number of chunks along each axis.
    pub fn grid_shape(&self) -> Vec<usize> {
        self.chunks.iter().map(Vec::len).collect()
    }

    /// Total number of chunks.
    pub fn num_chunks(&self) -> usize {
        self.chunks.iter().map(Vec::len).product()
    }

    /// The shape of the chunk at `pos`.
    pub fn chunk_shape(&self, pos: &[usize]) -> Vec<usize> {
        pos.iter()
            .enumerate()
            .map(|(a, &i)| self.chunks[a][i])
            .collect()
    }

    /// Where the chunk at `pos` starts in the array.
    pub fn chunk_offset(&self, pos: &[usize]) -> Vec<usize> {
        pos.iter()
            .enumerate()
            .map(|(a, &i)| self.offsets[a][i])
            .collect()
    }

    /// The index range chunk `i` covers along `axis`.
    pub fn chunk_range(&self, axis: usize, i: usize) -> Range<usize> {
        self.offsets[axis][i]..self.offsets[axis][i + 1]
    }

    /// The chunk holding `index` along `axis`, and the index within that chunk.
    pub fn locate(&self, axis: usize, index: usize) -> (usize, usize) {
        let offsets = &self.offsets[axis];
        let chunk = offsets.partition_point(|&o| o <= index).saturating_sub(1);
        let chunk = chunk.min(self.chunks[axis].len() - 1);
        (chunk, index - offsets[chunk])
    }

    /// The chunks along `axis` that overlap the index range `range`.
    pub fn overlapping(&self, axis: usize, range: Range<usize>) -> Range<usize> {
        if range.is_empty() {
            return 0..0;
        }
        let first = self.locate(axis, range.start).0;
        let last = self.locate(axis, range.end - 1).0;
        first..last + 1
    }

    /// Every chunk position, in C order.
    pub fn positions(&self) -> impl Iterator<Item = Vec<usize>> + use<> {
        positions(&self.grid_shape())
    }

    /// The position of the `index`-th chunk in C order.
    pub fn position(&self, mut index: usize) -> Vec<usize> {
        let mut pos = vec![0; self.ndim()];
        for axis in (0..self.ndim()).rev() {
            let n = self.chunks[axis].len();
            pos[axis] = index % n;
            index /= n;
        }
        pos
    }
}

/// Every position of a grid of `grid_shape` chunks, in C order.
pub(crate) fn positions(grid_shape: &[usize]) -> impl Iterator<Item = Vec<usize>> + use<> {
    let total: usize = grid_shape.iter().product();
    let grid_shape = grid_shape.to_vec();
    let mut pos = vec![0; grid_shape.len()];
    (0..total).map(move |i| {
        if i > 0 {
            for axis in (0..grid_shape.len()).rev() {
                pos[axis] += 1;
                if pos[axis] < grid_shape[axis] {
                    break;
                }
                pos[axis] = 0;
            }
        }
        pos.clone()
    })
}

/// The coarsest cutting of one axis that refines both `a` and `b` (which cut the same
/// length): every boundary of either is a boundary of the result.
pub(crate) fn common_refinement(a: &[usize], b: &[usize]) -> Vec<usize> {
    if a == b {
        return a.to_vec();
    }
    let mut bounds = Vec::with_capacity(a.len() + b.len());
    for extents in [a, b] {
        let mut at = 0;
        for &e in extents {
            at += e;
            bounds.push(at);
        }
    }
    bounds.sort_unstable();
    bounds.dedup();
    let mut last = 0;
    let refined: Vec<usize> = bounds
        .into_iter()
        .map(|b| {
            let extent = b - last;
            last = b;
            extent
        })
        .filter(|&e| e > 0)
        .collect();
    if refined.is_empty() { vec![0] } else { refined }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_grids_end_with_a_partial_chunk() {
        let g = Grid::regular(&[10, 4, 0], &[4, 4, 3]).unwrap();
        assert_eq!(g.chunks(), &[vec![4, 4, 2], vec![4], vec![0]]);
        assert_eq!(g.shape(), vec![10, 4, 0]);
        assert_eq!(g.num_chunks(), 3);
        assert_eq!(g.chunk_shape(&[2, 0, 0]), vec![2, 4, 0]);
        assert_eq!(g.chunk_offset(&[2, 0, 0]), vec![8, 0, 0]);
        assert!(Grid::regular(&[4], &[0]).is_err());
        assert!(Grid::regular(&[4], &[1, 1]).is_err());
    }

    #[test]
    fn bad_extents_are_rejected() {
        assert!(Grid::from_chunks(vec![vec![]]).is_err());
        assert!(Grid::from_chunks(vec![vec![2, 0, 1]]).is_err());
        assert!(Grid::from_chunks(vec![vec![0]]).is_ok());
        assert!(Grid::from_chunks(vec![vec![1]; MAX_NDIM + 1]).is_err());
    }

    #[test]
    fn locating_and_overlapping() {
        let g = Grid::from_chunks(vec![vec![3, 1, 4]]).unwrap();
        assert_eq!(g.locate(0, 0), (0, 0));
        assert_eq!(g.locate(0, 3), (1, 0));
        assert_eq!(g.locate(0, 7), (2, 3));
        assert_eq!(g.overlapping(0, 2..5), 0..3);
        assert_eq!(g.overlapping(0, 4..8), 2..3);
        assert_eq!(g.overlapping(0, 3..3), 0..0);
        assert_eq!(g.chunk_range(0, 2), 4..8);
    }

    #[test]
    fn positions_are_in_c_order() {
        let g = Grid::regular(&[4, 6], &[2, 3]).unwrap();
        let all: Vec<_> = g.positions().collect();
        assert_eq!(all, vec![vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1]]);
        for (i, p) in all.iter().enumerate() {
            assert_eq!(&g.position(i), p);
        }
        assert_eq!(
            positions(&[]).collect::<Vec<_>>(),
            vec![Vec::<usize>::new()]
        );
    }

    #[test]
    fn refinement_keeps_every_boundary() {
        assert_eq!(common_refinement(&[3, 3], &[2, 4]), vec![2, 1, 3]);
        assert_eq!(common_refinement(&[6], &[1, 5]), vec![1, 5]);
        assert_eq!(common_refinement(&[0], &[0]), vec![0]);
    }
}
