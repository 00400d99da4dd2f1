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

use doreisa_array::{Chunk, DType, Element};
use ndarray::{ArrayD, IxDyn};
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

/// Runs `$body` with `$t` the element type of `$dtype`.
macro_rules! with_element_type {
    ($dtype:expr, $t:ident => $body:expr) => {
        match $dtype {
            DType::Bool => {
                type $t = bool;
                $body
            }
            DType::I8 => {
                type $t = i8;
                $body
            }
            DType::U8 => {
                type $t = u8;
                $body
            }
            DType::I16 => {
                type $t = i16;
                $body
            }
            DType::U16 => {
                type $t = u16;
                $body
            }
            DType::I32 => {
                type $t = i32;
                $body
            }
            DType::U32 => {
                type $t = u32;
                $body
            }
            DType::I64 => {
                type $t = i64;
                $body
            }
            DType::U64 => {
                type $t = u64;
                $body
            }
            DType::F16 => {
                type $t = doreisa_array::F16;
                $body
            }
            DType::F32 => {
                type $t = f32;
                $body
            }
            DType::F64 => {
                type $t = f64;
                $body
            }
        }
    };
}
pub(crate) use with_element_type;

/// The elements of `chunk` in C order, little-endian (bool as one byte, 0 or 1).
fn le_bytes(chunk: &Chunk) -> Vec<u8> {
    fn put<T: Element>(chunk: &Chunk) -> Vec<u8> {
        let array = T::chunk_ref(chunk).expect("the chunk's own dtype");
        let mut out = Vec::with_capacity(array.len() * T::DTYPE.size());
        for &v in array.iter() {
            v.write_le(&mut out);
        }
        out
    }
    with_element_type!(chunk.dtype(), T => put::<T>(chunk))
}

/// The chunk of `dtype` and `shape` whose elements are `bytes` (as [`le_bytes`] writes
/// them); `None` if the length or a bool byte is wrong.
fn from_le_bytes(dtype: DType, shape: &[usize], bytes: &[u8]) -> Option<Chunk> {
    fn get<T: Element>(shape: &[usize], bytes: &[u8]) -> Option<Chunk> {
        let size = T::DTYPE.size();
        if bytes.len() != size * shape.iter().product::<usize>() {
            return None;
        }
        if T::DTYPE == DType::Bool && bytes.iter().any(|&b| b > 1) {
            return None;
        }
        let values: Vec<T> = bytes.chunks_exact(size).map(T::read_le).collect();
        let array = ArrayD::from_shape_vec(IxDyn(shape), values).ok()?;
        Some(T::into_chunk(array))
    }
    with_element_type!(dtype, T => get::<T>(shape, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            le_bytes(&Chunk::from(ArrayD::from_elem(IxDyn(&[1]), 258i32))),
            [2, 1, 0, 0]
        );
        assert!(
            from_le_bytes(DType::Bool, &[1], &[2]).is_none(),
            "not a bool"
        );
        assert!(from_le_bytes(DType::F64, &[2], &[0; 15]).is_none(), "short");
    }
}
