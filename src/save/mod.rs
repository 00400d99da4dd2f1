//! Results out, in formats other tools read: numpy's `.npy` ([`write_npy`],
//! [`write_npy_records`]) for arrays computed to this process, and a Zarr v3 store
//! ([`ZarrSeries`]) for a distributed array over time, written chunk by chunk by the
//! nodes that hold the chunks.
//!
//! ```python
//! import numpy, xarray
//! numpy.load("statistics.npy")["max"]                  # a column of a record array
//! xarray.open_zarr("temperature.zarr")["temperature"]  # (time, y, x), lazily, with Dask
//! ```
//!
//! Both formats are written uncompressed by the small writers here (the `.npy` header
//! and Zarr's `zarr.json` are a few lines of text; chunks are raw little-endian
//! elements in C order), and read back by [`read_npy`], [`read_npy_records`] and
//! [`read_zarr`], which check what they read.
//!
//! A [`ZarrSeries`] directory must be one that every node holding chunks sees: any
//! local directory for an embedded cluster, a shared file system (NFS, Lustre, GPFS)
//! for a cluster of processes on several hosts. Its path is made absolute when created,
//! and nodes write into it through the kernel [`register_kernels`] adds (included in
//! [`crate::registry`]).

mod npy;
mod zarr;

pub use npy::{Column, read_npy, read_npy_records, write_npy, write_npy_records};
pub use zarr::{ZarrArray, ZarrSeries, read_zarr, register_kernels};

use doreisa_array::{Chunk, DType};
use std::path::{Path, PathBuf};

/// What saving or reading results can fail with.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {detail}", path.display())]
    Format { path: PathBuf, detail: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Array(#[from] doreisa_array::ArrayError),
}

/// The result of saving or reading results.
pub type Result<T, E = SaveError> = std::result::Result<T, E>;

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SaveError + '_ {
    move |source| SaveError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn format_error(path: &Path, detail: impl Into<String>) -> SaveError {
    SaveError::Format {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// Writes `bytes` to `path` whole or not at all: into a file beside it, then renamed
/// (a reader never sees half a file). Creates the parent directories.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    let name = path
        .file_name()
        .ok_or_else(|| SaveError::Invalid(format!("{} names no file", path.display())))?;
    let mut partial = name.to_os_string();
    partial.push(format!(".partial-{}", std::process::id()));
    let partial = path.with_file_name(partial);
    std::fs::write(&partial, bytes).map_err(io_error(&partial))?;
    std::fs::rename(&partial, path).map_err(io_error(path))
}

/// The elements of `chunk` in C order, little-endian (bool as one byte, 0 or 1): the
/// chunk's own encoding without its header.
fn le_bytes(chunk: &Chunk) -> bytes::Bytes {
    let header = Chunk::encoded_header(chunk.dtype(), chunk.shape()).len();
    chunk.encode().slice(header..)
}

/// The chunk of `dtype` and `shape` whose elements are `bytes` (as [`le_bytes`] writes
/// them); `None` if the length or a bool byte is wrong (the chunk decoder checks both).
fn from_le_bytes(dtype: DType, shape: &[usize], bytes: &[u8]) -> Option<Chunk> {
    let mut encoded = Chunk::encoded_header(dtype, shape);
    encoded.extend_from_slice(bytes);
    Chunk::decode(&encoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn elements_round_trip_through_little_endian_bytes() {
        let chunks = [
            Chunk::from(
                ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![true, false, false, true]).unwrap(),
            ),
            Chunk::from(ArrayD::from_shape_vec(IxDyn(&[3]), vec![0u8, 7, 255]).unwrap()),
            Chunk::from(ArrayD::from_shape_vec(IxDyn(&[2]), vec![-1i32, 1 << 30]).unwrap()),
            Chunk::from(ArrayD::from_shape_vec(IxDyn(&[1, 2]), vec![i64::MIN, 5]).unwrap()),
            Chunk::from(ArrayD::from_shape_vec(IxDyn(&[2]), vec![1.5f32, -0.0]).unwrap()),
            Chunk::from(ArrayD::from_shape_vec(IxDyn(&[]), vec![f64::INFINITY]).unwrap()),
        ];
        for chunk in chunks {
            let bytes = le_bytes(&chunk);
            assert_eq!(bytes.len(), chunk.len() * chunk.dtype().size());
            let back = from_le_bytes(chunk.dtype(), chunk.shape(), &bytes).unwrap();
            assert_eq!(back, chunk);
        }
        assert_eq!(
            le_bytes(&Chunk::from(ArrayD::from_elem(IxDyn(&[1]), 258i32)))[..],
            [2, 1, 0, 0]
        );
        assert!(
            from_le_bytes(DType::Bool, &[1], &[2]).is_none(),
            "not a bool"
        );
        assert!(from_le_bytes(DType::F64, &[2], &[0; 15]).is_none(), "short");
    }
}
