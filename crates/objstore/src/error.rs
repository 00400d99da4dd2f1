//! The crate's one error type.

use std::io;
use std::path::Path;

/// Why an object store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object alone is larger than the whole store: it can never fit.
    #[error(
        "object {key} is {size} bytes, larger than the object store capacity of {capacity} bytes"
    )]
    TooLarge {
        /// The key, as printed by `Debug`.
        key: String,
        /// The object's size in bytes.
        size: u64,
        /// The store's capacity in bytes.
        capacity: u64,
    },
    /// The object would fit in an empty store, but not enough memory can be freed: primary
    /// copies are pinned and no spill directory is configured. The store is left unchanged
    /// (a store never waits for room: see the crate's documentation).
    #[error(
        "full: object {key} of {needed} bytes does not fit: {used} of its {capacity} bytes \
         are in use, and at most {available} can be made free (primary copies are pinned \
         and no spill directory is configured)"
    )]
    Full {
        /// The key, as printed by `Debug`.
        key: String,
        /// Bytes the operation needed.
        needed: u64,
        /// The store's capacity in bytes.
        capacity: u64,
        /// Bytes in memory now (primary and secondary copies).
        used: u64,
        /// Free bytes plus the bytes of all evictable copies.
        available: u64,
    },
    /// A primary copy of this key is already stored.
    #[error("object {0} already has a primary copy in this store")]
    Duplicate(String),
    /// Writing, reading or removing a spill file failed; the message names the file.
    #[error("object store spill I/O error: {0}")]
    Io(#[from] io::Error),
}

/// Adds the file's path to an I/O error, keeping its kind.
pub(crate) fn io_error(path: &Path, err: io::Error) -> StoreError {
    StoreError::Io(io::Error::new(
        err.kind(),
        format!("{}: {err}", path.display()),
    ))
}
