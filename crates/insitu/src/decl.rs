//! What a simulation declares: its arrays (name, global shape, chunk shape, dtype) and
//! where each rank's chunk sits; and what an analysis asks for (windows, triggers).

use crate::error::{InsituError, Result};
use doreisa_array::{DType, Grid};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

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

    /// The chunk grid; fails on inconsistent shapes.
    pub fn grid(&self) -> Result<Grid> {
        Grid::regular(&self.global_shape, &self.chunk_shape).map_err(|e| {
            InsituError::BadDeclaration {
                array: self.name.to_string(),
                message: e.to_string(),
            }
        })
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
    pub fn new(meta: ArrayMeta, position: &[u32]) -> Result<Self> {
        meta.chunk_shape_at(position)?;
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
}
