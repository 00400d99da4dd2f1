//! `map_blocks`: a registered kernel applied chunk by chunk.

use super::align_arrays;
use crate::dtype::DType;
use crate::expr::{Kind, Node};
use crate::{Array, ArrayError, Result};

impl Array {
    /// Applies the kernel registered as `kernel` to the chunks at each position of
    /// `arrays` (which must have one shape; their chunkings are refined to agree),
    /// passing `params`. The kernel receives encoded chunks ([`crate::Chunk::decode`])
    /// and must return an encoded chunk of `dtype` and of its inputs' chunk shape.
    pub fn map_blocks(
        arrays: &[Array],
        kernel: &str,
        params: Vec<u8>,
        dtype: DType,
    ) -> Result<Array> {
        let Some(first) = arrays.first() else {
            return Err(ArrayError::InvalidArgument(
                "map_blocks over no array".into(),
            ));
        };
        if let Some(a) = arrays.iter().find(|a| a.shape() != first.shape()) {
            return Err(ArrayError::ShapeMismatch {
                op: "map_blocks",
                detail: format!("shapes {:?} and {:?}", first.shape(), a.shape()),
            });
        }
        let (xs, grid) = align_arrays("map_blocks", arrays)?;
        Ok(Array::from_node(Node::new(
            Kind::MapBlocks {
                xs,
                kernel: kernel.into(),
                params: params.into(),
            },
            grid,
            dtype,
        )))
    }
}
