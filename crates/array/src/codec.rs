//! The codec of kernel parameters (small values: programs, views, options), kept
//! behind this one module. Chunk data never goes through it (see [`crate::chunk`]).

use crate::{ArrayError, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Parameters larger than this are refused when decoding (garbage must not make a
/// kernel allocate without bound).
const LIMIT: usize = 16 << 20;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<LIMIT>()
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(value, config()).expect("kernel parameters always encode")
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let (value, read) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| ArrayError::BadParams(e.to_string()))?;
    if read != bytes.len() {
        return Err(ArrayError::BadParams(format!(
            "{} trailing bytes",
            bytes.len() - read
        )));
    }
    Ok(value)
}
