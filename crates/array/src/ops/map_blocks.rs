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
    #[doc = concat!("```\n", doc_fixture!(f), "// A kernel is a registered function of encoded chunks (here: doubling float64).\nfn double(_params: &[u8], inputs: &[bytes::Bytes]) -> Result<bytes::Bytes, String> {\n    let c = Chunk::decode(&inputs[0]).map_err(|e| e.to_string())?;\n    Ok(Chunk::F64(c.into_array::<f64>().map_err(|e| e.to_string())? * 2.0).encode())\n}\nlet mut kernels = kernels();\nkernels.register(\"double\", double);\nlet runner = doreisa_sched::LocalRunner::new(kernels);\n# for (k, b) in encode_chunks(\"x\", 0, &Chunk::from(ndarray::array![-1.5f64, 0.0, 0.5, 2.0].into_dyn()), x.grid())? { runner.insert(k, b); }\nlet y = Array::map_blocks(&[x], \"double\", Vec::new(), DType::F64)?;\nassert_eq!(y.sum()?.compute(&runner)?.scalar::<f64>()?, 2.0);\n# Ok::<(), doreisa_array::ArrayError>(())\n```")]
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
