//! The one place that knows the wire encoding of control messages and small values.
//!
//! bincode 2 with serde, standard configuration (varints), pinned to 2.0.1: 3.x does not
//! compile, and every version carries an "unmaintained" advisory, so nothing else in the
//! code base names it. Bulk data (object payloads, chunks) is never encoded here: it
//! travels as raw bytes.

use crate::error::ProtoError;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Appends the encoding of `value` to `out`.
pub fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), ProtoError> {
    bincode::serde::encode_into_std_write(value, out, config())
        .map(|_| ())
        .map_err(|e| ProtoError::Codec(e.to_string()))
}

/// Encodes `value`.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, ProtoError> {
    let mut out = Vec::new();
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Decodes a whole `T` from `bytes`; trailing bytes are an error.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ProtoError> {
    whole(
        bincode::serde::decode_from_slice(bytes, config()),
        bytes.len(),
    )
}

/// Decodes a `T` at the start of `bytes`, whatever follows (a version number read
/// before the rest of a message whose layout may differ).
pub fn decode_prefix<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ProtoError> {
    bincode::serde::decode_from_slice(bytes, config().with_limit::<UNTRUSTED_LIMIT>())
        .map(|(value, _)| value)
        .map_err(|e| ProtoError::Codec(e.to_string()))
}

/// The decoded value if it used all `len` bytes.
fn whole<T>(
    decoded: Result<(T, usize), bincode::error::DecodeError>,
    len: usize,
) -> Result<T, ProtoError> {
    let (value, read) = decoded.map_err(|e| ProtoError::Codec(e.to_string()))?;
    if read != len {
        return Err(ProtoError::Codec(format!(
            "{} trailing bytes after the value",
            len - read
        )));
    }
    Ok(value)
}

/// The most bytes a value decoded from the network may claim to allocate.
pub const UNTRUSTED_LIMIT: usize = 64 << 20;

/// Decodes a whole `T` received from another process: like [`decode`], and no length
/// in it may claim more than [`UNTRUSTED_LIMIT`] bytes.
pub fn decode_untrusted<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ProtoError> {
    let config = config().with_limit::<UNTRUSTED_LIMIT>();
    whole(
        bincode::serde::decode_from_slice(bytes, config),
        bytes.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let value = (7u64, String::from("heat"), vec![1.5f64, -2.0]);
        let bytes = encode(&value).unwrap();
        assert_eq!(decode::<(u64, String, Vec<f64>)>(&bytes).unwrap(), value);
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode::<(u64, String, Vec<f64>)>(&longer).is_err());
        assert!(decode::<(u64, String, Vec<f64>)>(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn untrusted_lengths_cannot_claim_unbounded_memory() {
        // A vector claiming 2^40 elements in a few bytes.
        let claim = encode(&(1u64 << 40)).unwrap();
        assert!(decode_untrusted::<Vec<u64>>(&claim).is_err());
        let fine = encode(&vec![1u64, 2, 3]).unwrap();
        assert_eq!(decode_untrusted::<Vec<u64>>(&fine).unwrap(), vec![1, 2, 3]);
    }
}
