//! What a simulation declares: its arrays (name, global shape, chunk shape, dtype) and
//! where each rank's chunk sits; and what an analysis asks for (windows, triggers).

use crate::error::{InsituError, Result};
use doreisa_array::{DType, Grid};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The most chunks an array may be cut into.
pub const MAX_CHUNKS_PER_ARRAY: u64 = 1 << 24;

/// An array as every rank of the simulation sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrayMeta {
    pub name: Arc<str>,
    pub global_shape: Vec<usize>,
    /// The regular chunk shape (chunks at the far edges may be smaller).
    pub chunk_shape: Vec<usize>,
    pub dtype: DType,
}

impl ArrayMeta {
    pub fn new(name: &str, global_shape: &[usize], chunk_shape: &[usize], dtype: DType) -> Self {
        ArrayMeta {
            name: name.into(),
            global_shape: global_shape.to_vec(),
            chunk_shape: chunk_shape.to_vec(),
            dtype,
        }
    }

    /// The chunk grid; fails on inconsistent shapes and on sizes beyond the limits.
    pub fn grid(&self) -> Result<Grid> {
        self.check_sizes()?;
        Grid::regular(&self.global_shape, &self.chunk_shape).map_err(|e| self.bad(e.to_string()))
    }

    fn bad(&self, message: String) -> InsituError {
        InsituError::BadDeclaration {
            array: self.name.to_string(),
            message,
        }
    }

    /// Checks, in 64-bit arithmetic that cannot overflow unnoticed, that the grid has
    /// at most [`MAX_CHUNKS_PER_ARRAY`] chunks and that the array's size in bytes is a
    /// number; before anything of that size is built.
    fn check_sizes(&self) -> Result<()> {
        if self.global_shape.len() != self.chunk_shape.len() {
            return Err(self.bad(format!(
                "chunk shape {:?} for shape {:?}",
                self.chunk_shape, self.global_shape
            )));
        }
        let mut chunks: u64 = 1;
        let mut bytes = self.dtype.size() as u64;
        for (axis, (&n, &c)) in self.global_shape.iter().zip(&self.chunk_shape).enumerate() {
            if c == 0 && n > 0 {
                return Err(self.bad(format!("axis {axis} has chunk extent 0")));
            }
            let count = if n == 0 { 1 } else { n.div_ceil(c) as u64 };
            chunks = chunks.saturating_mul(count);
            bytes = bytes.checked_mul(n as u64).ok_or_else(|| {
                self.bad(format!(
                    "shape {:?} of {:?}: its size in bytes overflows 64 bits",
                    self.global_shape, self.dtype
                ))
            })?;
        }
        if chunks > MAX_CHUNKS_PER_ARRAY {
            let counts: Vec<u64> = (self.global_shape.iter().zip(&self.chunk_shape))
                .map(|(&n, &c)| if n == 0 { 1 } else { n.div_ceil(c) as u64 })
                .collect();
            return Err(self.bad(format!(
                "a grid of {counts:?} chunks: an array has at most {MAX_CHUNKS_PER_ARRAY} chunks"
            )));
        }
        Ok(())
    }

    /// Bytes of the largest chunk (a regular chunk, or the whole array if smaller).
    pub fn chunk_bytes(&self) -> u64 {
        (self.global_shape.iter().zip(&self.chunk_shape))
            .map(|(&n, &c)| n.min(c) as u64)
            .fold(self.dtype.size() as u64, u64::saturating_mul)
    }

    /// The shape of the chunk at `position`, or an error if it is outside the grid.
    pub fn chunk_shape_at(&self, position: &[u32]) -> Result<Vec<usize>> {
        let grid = self.grid()?;
        let counts = grid.grid_shape();
        if position.len() != counts.len()
            || position.iter().zip(&counts).any(|(&p, &c)| p as usize >= c)
        {
            return Err(InsituError::BadDeclaration {
                array: self.name.to_string(),
                message: format!("chunk position {position:?} outside a grid of {counts:?} chunks"),
            });
        }
        let position: Vec<usize> = position.iter().map(|&p| p as usize).collect();
        Ok(grid.chunk_shape(&position))
    }
}

/// What one rank publishes of an array: the array, and where its chunk sits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkDecl {
    pub meta: ArrayMeta,
    pub position: Vec<u32>,
}

impl ChunkDecl {
    /// A rank's chunk at `position` of `meta`: refused if it is outside the grid, or
    /// larger than the memory this host has available.
    pub fn new(meta: ArrayMeta, position: &[u32]) -> Result<Self> {
        meta.chunk_shape_at(position)?;
        let what = format!("a chunk of {:?} {:?}", meta.chunk_shape, meta.dtype);
        doreisa_core::host::check_memory(&what, meta.chunk_bytes()).map_err(|e| meta.bad(e))?;
        Ok(ChunkDecl {
            meta,
            position: position.to_vec(),
        })
    }
}

/// The last `size` timesteps of an array, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub array: Arc<str>,
    pub size: usize,
}

impl Window {
    pub fn new(array: &str, size: usize) -> Self {
        Window {
            array: array.into(),
            size: size.max(1),
        }
    }
}

impl From<&str> for Window {
    fn from(array: &str) -> Self {
        Window::new(array, 1)
    }
}

/// When a callback on several arrays runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Trigger {
    /// When every one of its arrays has a new timestep.
    #[default]
    All,
    /// When any of its arrays has a new timestep (the others as they were).
    Any,
}

/// What a simulation does when it runs too far ahead of the analytics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AheadPolicy {
    /// Wait until the analytics catches up.
    #[default]
    Block,
    /// Do not publish the new timestep.
    DropNewest,
    /// Publish the new timestep; the analytics skips the oldest ones it has not
    /// started (their callbacks do not run), so it catches up with the newest.
    DropOldest,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_positions_outside_the_grid_are_refused() {
        let meta = ArrayMeta::new("t", &[10, 6], &[4, 3], DType::F64);
        assert_eq!(
            meta.chunk_shape_at(&[2, 1]).unwrap(),
            vec![2, 3],
            "an edge chunk"
        );
        assert!(ChunkDecl::new(meta.clone(), &[3, 0]).is_err());
        assert!(ChunkDecl::new(meta.clone(), &[0]).is_err());
        assert!(
            ArrayMeta::new("bad", &[10], &[0], DType::F64)
                .grid()
                .is_err()
        );
    }

    fn refusal(meta: ArrayMeta, position: &[u32]) -> String {
        match ChunkDecl::new(meta, position) {
            Err(InsituError::BadDeclaration { array, message }) => {
                assert_eq!(array, "huge");
                message
            }
            other => panic!("not refused as a bad declaration: {other:?}"),
        }
    }

    #[test]
    fn a_grid_of_2_to_the_32_chunks_is_refused_before_it_is_built() {
        let message = refusal(ArrayMeta::new("huge", &[1 << 32], &[1], DType::F64), &[0]);
        assert!(
            message.contains("a grid of [4294967296] chunks"),
            "{message}"
        );
        assert!(
            message.contains(&MAX_CHUNKS_PER_ARRAY.to_string()),
            "{message}"
        );
        let message = refusal(
            ArrayMeta::new("huge", &[1 << 20, 1 << 20], &[1, 1], DType::U8),
            &[0, 0],
        );
        assert!(message.contains("[1048576, 1048576] chunks"), "{message}");
    }

    #[test]
    fn sizes_that_overflow_64_bits_are_refused() {
        let message = refusal(
            ArrayMeta::new("huge", &[1 << 40, 1 << 40], &[1 << 40, 1 << 40], DType::F64),
            &[0, 0],
        );
        assert!(message.contains("overflows 64 bits"), "{message}");
    }

    #[test]
    fn a_chunk_larger_than_this_hosts_memory_is_refused_naming_both_sizes() {
        // 2^40 elements of f64 in one chunk: 8 TiB.
        let message = refusal(
            ArrayMeta::new("huge", &[1 << 20, 1 << 20], &[1 << 20, 1 << 20], DType::F64),
            &[0, 0],
        );
        assert!(
            message.contains("a chunk of [1048576, 1048576] F64 needs about 8.0 TiB"),
            "{message}"
        );
        assert!(message.contains("available"), "{message}");
        // A global array larger than one host is fine: its chunks are spread.
        let spread = ArrayMeta::new("spread", &[1 << 20, 1 << 20], &[1024, 1024], DType::F64);
        assert!(ChunkDecl::new(spread, &[1023, 1023]).is_ok());
    }
}
