//! [`Chunk`]: a dynamically typed n-d array (one chunk of an array, or a computed
//! value), and its byte encoding: a small header followed by the raw little-endian
//! elements, so that encoding and decoding are memory copies (or no copy at all).
//!
//! Layout: `b"DRCK"`, version (1), dtype code, ndim, one zero byte, then `ndim` u64
//! little-endian extents, then the elements in C order. The header is a multiple of 8
//! bytes, so the elements of a buffer that starts 8-aligned are aligned too.

use crate::F16;
use crate::dtype::{DType, Scalar};
use crate::element::Element;
use crate::{ArrayError, Result};
use bytes::Bytes;
use ndarray::{ArrayD, ArrayViewD, CowArray, IxDyn};

const MAGIC: &[u8; 4] = b"DRCK";
const VERSION: u8 = 1;
/// The most dimensions an encoded chunk may have (bounds the header a decoder reads;
/// arrays have at most [`crate::MAX_NDIM`], partial reductions one more).
pub const MAX_CHUNK_NDIM: usize = 64;

/// A dynamically typed n-d array.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    Bool(ArrayD<bool>),
    I8(ArrayD<i8>),
    U8(ArrayD<u8>),
    I16(ArrayD<i16>),
    U16(ArrayD<u16>),
    I32(ArrayD<i32>),
    U32(ArrayD<u32>),
    I64(ArrayD<i64>),
    U64(ArrayD<u64>),
    F16(ArrayD<F16>),
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
}

/// Runs `$body` with `$a` bound to the typed array inside a [`Chunk`]-like enum.
macro_rules! with_chunk {
    ($enum:ident, $value:expr, $a:ident => $body:expr) => {
        match $value {
            $enum::Bool($a) => $body,
            $enum::I8($a) => $body,
            $enum::U8($a) => $body,
            $enum::I16($a) => $body,
            $enum::U16($a) => $body,
            $enum::I32($a) => $body,
            $enum::U32($a) => $body,
            $enum::I64($a) => $body,
            $enum::U64($a) => $body,
            $enum::F16($a) => $body,
            $enum::F32($a) => $body,
            $enum::F64($a) => $body,
        }
    };
}
pub(crate) use with_chunk;

impl<T: Element> From<ArrayD<T>> for Chunk {
    fn from(array: ArrayD<T>) -> Chunk {
        T::into_chunk(array)
    }
}

impl Chunk {
    pub fn dtype(&self) -> DType {
        with_chunk!(Chunk, self, a => element_dtype(a))
    }

    pub fn shape(&self) -> &[usize] {
        with_chunk!(Chunk, self, a => a.shape())
    }

    pub fn ndim(&self) -> usize {
        self.shape().len()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape().iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The typed array, if the dtype is `T`'s.
    pub fn as_array<T: Element>(&self) -> Result<&ArrayD<T>> {
        T::chunk_ref(self).ok_or(ArrayError::DTypeMismatch {
            expected: T::DTYPE,
            found: self.dtype(),
        })
    }

    /// The typed array, if the dtype is `T`'s.
    pub fn into_array<T: Element>(self) -> Result<ArrayD<T>> {
        T::from_chunk(self).map_err(|chunk| ArrayError::DTypeMismatch {
            expected: T::DTYPE,
            found: chunk.dtype(),
        })
    }

    /// A copy with every element cast to `T` (Rust `as` semantics, non-zero is `true`).
    pub fn to_array<T: Element>(&self) -> ArrayD<T> {
        with_chunk!(Chunk, self, a => a.mapv(|v| v.cast::<T>()))
    }

    /// A copy with every element cast to `dtype`.
    pub fn cast(&self, dtype: DType) -> Chunk {
        crate::dispatch::for_dtype!(dtype, T => Chunk::from(self.to_array::<T>()))
    }

    /// The single element of a 0-d (or one-element) value, weakly typed.
    pub fn item(&self) -> Result<Scalar> {
        if self.len() != 1 {
            return Err(ArrayError::ShapeMismatch {
                op: "item",
                detail: format!(
                    "shape {:?} has {} elements, not 1",
                    self.shape(),
                    self.len()
                ),
            });
        }
        Ok(
            with_chunk!(Chunk, self, a => a.iter().next().expect("one element").typed_scalar())
                .to_scalar(),
        )
    }

    /// The single element of a 0-d (or one-element) value of dtype `T`.
    pub fn scalar<T: Element>(&self) -> Result<T> {
        let array = self.as_array::<T>()?;
        match array.iter().next() {
            Some(&v) if array.len() == 1 => Ok(v),
            _ => Err(ArrayError::ShapeMismatch {
                op: "scalar",
                detail: format!(
                    "shape {:?} has {} elements, not 1",
                    array.shape(),
                    array.len()
                ),
            }),
        }
    }

    /// The encoded chunk: header, then the raw little-endian elements.
    ///
    /// # Panics
    ///
    /// If the chunk has more than [`MAX_CHUNK_NDIM`] dimensions.
    pub fn encode(&self) -> Bytes {
        with_chunk!(Chunk, self, a => encode_view(a.view()))
    }

    /// The size of the encoding of a chunk of `shape` and dtype `dtype`.
    pub fn encoded_len(dtype: DType, shape: &[usize]) -> usize {
        8 + 8 * shape.len() + shape.iter().product::<usize>() * dtype.size()
    }

    /// The header of the encoding of a chunk of `shape` and dtype `dtype`: the bytes
    /// before its elements (a whole number of 8-byte words).
    ///
    /// # Panics
    ///
    /// If `shape` has more than [`MAX_CHUNK_NDIM`] dimensions.
    pub fn encoded_header(dtype: DType, shape: &[usize]) -> Vec<u8> {
        header(dtype, shape, 0)
    }

    /// Writes to `out` the encoding of the C-ordered elements `data` of shape `shape`
    /// (what [`Chunk::encode`] gives for that chunk), without building the chunk:
    /// appended to a `Vec<u8>`, or copied into a `&mut [u8]` of
    /// [`Chunk::encoded_len`] bytes.
    pub fn encode_slice_into<T: Element, W: std::io::Write + ?Sized>(
        shape: &[usize],
        data: &[T],
        out: &mut W,
    ) -> Result<()> {
        if shape.iter().product::<usize>() != data.len() || shape.len() > MAX_CHUNK_NDIM {
            return Err(ArrayError::ShapeMismatch {
                op: "encode",
                detail: format!("{} elements for shape {shape:?}", data.len()),
            });
        }
        let mut head = Vec::with_capacity(8 + 8 * shape.len());
        write_header(&mut head, T::DTYPE, shape);
        let written = out.write_all(&head).and_then(|()| {
            if cfg!(target_endian = "little") {
                out.write_all(pod::le_bytes(data))
            } else {
                let mut le = Vec::with_capacity(std::mem::size_of_val(data));
                pod::extend(&mut le, data);
                out.write_all(&le)
            }
        });
        written.map_err(|e| ArrayError::InvalidArgument(format!("cannot write the encoding: {e}")))
    }

    /// Decodes an encoded chunk (always copying the elements). Truncated, oversized
    /// or inconsistent input is an error.
    pub fn decode(bytes: &[u8]) -> Result<Chunk> {
        Ok(CowChunk::decode(bytes)?.into_owned())
    }
}

/// The dtype of an array's elements.
fn element_dtype<T: Element, S: ndarray::RawData<Elem = T>>(
    _: &ndarray::ArrayBase<S, IxDyn>,
) -> DType {
    T::DTYPE
}

/// A decoded chunk that borrows the encoded bytes when they are suitably aligned and
/// owns a copy otherwise (what kernels read their inputs as).
#[derive(Debug, Clone)]
pub(crate) enum CowChunk<'a> {
    Bool(CowArray<'a, bool, IxDyn>),
    I8(CowArray<'a, i8, IxDyn>),
    U8(CowArray<'a, u8, IxDyn>),
    I16(CowArray<'a, i16, IxDyn>),
    U16(CowArray<'a, u16, IxDyn>),
    I32(CowArray<'a, i32, IxDyn>),
    U32(CowArray<'a, u32, IxDyn>),
    I64(CowArray<'a, i64, IxDyn>),
    U64(CowArray<'a, u64, IxDyn>),
    F16(CowArray<'a, F16, IxDyn>),
    F32(CowArray<'a, f32, IxDyn>),
    F64(CowArray<'a, f64, IxDyn>),
}

/// A borrowed typed view of a chunk.
#[derive(Debug, Clone)]
pub(crate) enum ViewChunk<'a> {
    Bool(ArrayViewD<'a, bool>),
    I8(ArrayViewD<'a, i8>),
    U8(ArrayViewD<'a, u8>),
    I16(ArrayViewD<'a, i16>),
    U16(ArrayViewD<'a, u16>),
    I32(ArrayViewD<'a, i32>),
    U32(ArrayViewD<'a, u32>),
    I64(ArrayViewD<'a, i64>),
    U64(ArrayViewD<'a, u64>),
    F16(ArrayViewD<'a, F16>),
    F32(ArrayViewD<'a, f32>),
    F64(ArrayViewD<'a, f64>),
}

/// Rewraps the array inside one chunk-like enum as another's same variant.
macro_rules! rewrap {
    ($from:ident, $to:ident, $value:expr, $a:ident => $body:expr) => {
        match $value {
            $from::Bool($a) => $to::Bool($body),
            $from::I8($a) => $to::I8($body),
            $from::U8($a) => $to::U8($body),
            $from::I16($a) => $to::I16($body),
            $from::U16($a) => $to::U16($body),
            $from::I32($a) => $to::I32($body),
            $from::U32($a) => $to::U32($body),
            $from::I64($a) => $to::I64($body),
            $from::U64($a) => $to::U64($body),
            $from::F16($a) => $to::F16($body),
            $from::F32($a) => $to::F32($body),
            $from::F64($a) => $to::F64($body),
        }
    };
}
pub(crate) use rewrap;

impl<'a> CowChunk<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<CowChunk<'a>> {
        let (dtype, shape, data) = parse_header(bytes)?;
        if dtype == DType::Bool
            && let Some(bad) = data.iter().find(|&&b| b > 1)
        {
            return Err(ArrayError::BadChunk(format!("byte {bad} is no bool")));
        }
        Ok(crate::dispatch::for_dtype!(dtype, T => T::wrap_cow(typed_data(shape, data))))
    }

    pub fn view(&self) -> ViewChunk<'_> {
        rewrap!(CowChunk, ViewChunk, self, a => a.view())
    }

    pub fn into_owned(self) -> Chunk {
        rewrap!(CowChunk, Chunk, self, a => a.into_owned())
    }
}

impl ViewChunk<'_> {
    pub fn dtype(&self) -> DType {
        with_chunk!(ViewChunk, self, a => element_dtype(a))
    }

    pub fn shape(&self) -> &[usize] {
        with_chunk!(ViewChunk, self, a => a.shape())
    }

    /// The same view, borrowed for a shorter time.
    pub fn reborrow(&self) -> ViewChunk<'_> {
        rewrap!(ViewChunk, ViewChunk, self, a => a.view())
    }
}

/// Checks the header and returns the dtype, the shape and exactly the element bytes.
fn parse_header(bytes: &[u8]) -> Result<(DType, Vec<usize>, &[u8])> {
    let bad = |m: String| Err(ArrayError::BadChunk(m));
    if bytes.len() < 8 {
        return bad(format!("{} bytes, shorter than a header", bytes.len()));
    }
    if &bytes[..4] != MAGIC {
        return bad("no chunk magic".into());
    }
    if bytes[4] != VERSION {
        return bad(format!("unknown version {}", bytes[4]));
    }
    let Some(dtype) = DType::from_code(bytes[5]) else {
        return bad(format!("unknown dtype code {}", bytes[5]));
    };
    let ndim = usize::from(bytes[6]);
    if ndim > MAX_CHUNK_NDIM || bytes[7] != 0 {
        return bad(format!(
            "bad dimension count {ndim} or reserved byte {}",
            bytes[7]
        ));
    }
    let header = 8 + 8 * ndim;
    if bytes.len() < header {
        return bad(format!(
            "{} bytes, shorter than a {ndim}-d header",
            bytes.len()
        ));
    }
    let mut shape = Vec::with_capacity(ndim);
    let mut elements: usize = 1;
    for extent in bytes[8..header].chunks_exact(8) {
        let extent = u64::from_le_bytes(extent.try_into().expect("8 bytes"));
        let extent = usize::try_from(extent).ok();
        match extent.and_then(|e| elements.checked_mul(e).map(|n| (e, n))) {
            Some((e, n)) => {
                shape.push(e);
                elements = n;
            }
            None => return bad("shape overflows".into()),
        }
    }
    let expected = elements.checked_mul(dtype.size());
    let data = &bytes[header..];
    if expected != Some(data.len()) {
        return bad(format!(
            "{} element bytes for shape {shape:?} of {dtype} ({} expected)",
            data.len(),
            expected.map_or("too many".to_string(), |n| n.to_string())
        ));
    }
    Ok((dtype, shape, data))
}

/// The elements of `data` as a `shape` array: borrowed when aligned (on little-endian
/// machines), copied otherwise. `data` has exactly the right length; for bool, every
/// byte is 0 or 1.
fn typed_data<T: Element>(shape: Vec<usize>, data: &[u8]) -> CowArray<'_, T, IxDyn> {
    if let Some(slice) = pod::cast_slice::<T>(data) {
        let view = ArrayViewD::from_shape(IxDyn(&shape), slice).expect("length checked");
        return CowArray::from(view);
    }
    let copy: Vec<T> = data.chunks_exact(T::DTYPE.size()).map(T::read_le).collect();
    CowArray::from(ArrayD::from_shape_vec(IxDyn(&shape), copy).expect("length checked"))
}

fn header(dtype: DType, shape: &[usize], capacity: usize) -> Vec<u8> {
    assert!(
        shape.len() <= MAX_CHUNK_NDIM,
        "chunks have at most {MAX_CHUNK_NDIM} dimensions"
    );
    let mut out = Vec::with_capacity(8 + 8 * shape.len() + capacity);
    write_header(&mut out, dtype, shape);
    out
}

fn write_header(out: &mut Vec<u8>, dtype: DType, shape: &[usize]) {
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[VERSION, dtype.code(), shape.len() as u8, 0]);
    for &extent in shape {
        out.extend_from_slice(&(extent as u64).to_le_bytes());
    }
}

/// Encodes a typed view (in logical C order whatever its memory layout).
pub(crate) fn encode_view<T: Element>(a: ArrayViewD<'_, T>) -> Bytes {
    match a.as_slice() {
        Some(slice) => encode_slice(a.shape(), slice),
        None => {
            let mut out = header(T::DTYPE, a.shape(), a.len() * T::DTYPE.size());
            a.iter().for_each(|&v| v.write_le(&mut out));
            Bytes::from(out)
        }
    }
}

/// Encodes C-ordered elements `data` of shape `shape`.
pub(crate) fn encode_slice<T: Element>(shape: &[usize], data: &[T]) -> Bytes {
    debug_assert_eq!(shape.iter().product::<usize>(), data.len());
    let mut out = header(T::DTYPE, shape, std::mem::size_of_val(data));
    pod::extend(&mut out, data);
    Bytes::from(out)
}

/// Raw element bytes. The element types are plain values without padding or invalid
/// bit patterns, except bool, whose bytes are checked to be 0 or 1 before any cast.
mod pod {
    use crate::element::Element;

    /// `bytes` as `&[T]` when aligned and the machine is little-endian.
    pub fn cast_slice<T: Element>(bytes: &[u8]) -> Option<&[T]> {
        let size = T::DTYPE.size();
        debug_assert_eq!(size, std::mem::size_of::<T>());
        if cfg!(target_endian = "big")
            || !bytes.len().is_multiple_of(size)
            || !bytes.as_ptr().cast::<T>().is_aligned()
        {
            return None;
        }
        // SAFETY: the pointer is aligned for T, the length is a whole number of T, every
        // bit pattern is a valid T (bool bytes were checked to be 0 or 1 by the caller),
        // and the returned slice borrows `bytes` so it cannot outlive them.
        Some(unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / size) })
    }

    /// The in-memory bytes of `data`: their encoding on a little-endian machine.
    pub fn le_bytes<T: Element>(data: &[T]) -> &[u8] {
        // SAFETY: T is a plain value type without padding (bool is one byte holding 0
        // or 1); viewing initialized T values as bytes is always valid.
        unsafe {
            std::slice::from_raw_parts(data.as_ptr().cast::<u8>(), std::mem::size_of_val(data))
        }
    }

    /// Appends the little-endian bytes of `data`.
    pub fn extend<T: Element>(out: &mut Vec<u8>, data: &[T]) {
        if cfg!(target_endian = "little") {
            out.extend_from_slice(le_bytes(data));
        } else {
            data.iter().for_each(|&v| v.write_le(out));
        }
    }
}

/// Access to the typed contents of [`ViewChunk`] and [`CowChunk`].
pub(crate) trait ChunkElement: Element {
    fn view<'a, 'b>(chunk: &'b ViewChunk<'a>) -> Option<&'b ArrayViewD<'a, Self>>;
    fn wrap_view(view: ArrayViewD<'_, Self>) -> ViewChunk<'_>;
    fn wrap_cow(array: CowArray<'_, Self, IxDyn>) -> CowChunk<'_>;
}

macro_rules! chunk_element {
    ($($t:ty => $variant:ident),*) => {$(
        impl ChunkElement for $t {
            fn view<'a, 'b>(chunk: &'b ViewChunk<'a>) -> Option<&'b ArrayViewD<'a, Self>> {
                match chunk {
                    ViewChunk::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn wrap_view(view: ArrayViewD<'_, Self>) -> ViewChunk<'_> {
                ViewChunk::$variant(view)
            }
            fn wrap_cow(array: CowArray<'_, Self, IxDyn>) -> CowChunk<'_> {
                CowChunk::$variant(array)
            }
        }
    )*};
}
chunk_element!(bool => Bool, i8 => I8, u8 => U8, i16 => I16, u16 => U16, i32 => I32,
    u32 => U32, i64 => I64, u64 => U64, F16 => F16, f32 => F32, f64 => F64);

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{IxDyn, arr2};

    #[test]
    fn encoding_from_a_slice_is_the_chunks_encoding() {
        let data: Vec<i32> = (0..12).collect();
        let chunk = Chunk::I32(ArrayD::from_shape_vec(IxDyn(&[3, 4]), data.clone()).unwrap());
        let mut out = Vec::new();
        Chunk::encode_slice_into(&[3, 4], &data, &mut out).unwrap();
        assert_eq!(out, chunk.encode().to_vec());
        assert_eq!(out.len(), Chunk::encoded_len(DType::I32, &[3, 4]));
        assert!(Chunk::encode_slice_into(&[5, 4], &data, &mut Vec::new()).is_err());
        let mut exact = vec![0u8; out.len()];
        Chunk::encode_slice_into(&[3, 4], &data, &mut exact.as_mut_slice()).unwrap();
        assert_eq!(exact, out, "into a slice of the encoded length");
        let mut short = vec![0u8; out.len() - 1];
        assert!(Chunk::encode_slice_into(&[3, 4], &data, &mut short.as_mut_slice()).is_err());
    }

    #[test]
    fn encode_decode_round_trips_every_dtype() {
        let base = arr2(&[[1.5f64, -2.0, 0.0], [3.0, 4.25, -7.0]]).into_dyn();
        for dtype in DType::ALL {
            let chunk = Chunk::F64(base.clone()).cast(dtype);
            let bytes = chunk.encode();
            assert_eq!(bytes.len(), 8 + 16 + 6 * dtype.size());
            assert_eq!(Chunk::decode(&bytes).unwrap(), chunk);
        }
        let scalar = Chunk::I64(ArrayD::from_elem(IxDyn(&[]), 7));
        assert_eq!(
            Chunk::decode(&scalar.encode()).unwrap().scalar::<i64>(),
            Ok(7)
        );
        let empty = Chunk::F32(ArrayD::zeros(IxDyn(&[3, 0])));
        assert_eq!(Chunk::decode(&empty.encode()).unwrap(), empty);
    }

    #[test]
    fn non_contiguous_views_encode_in_logical_order() {
        let a = arr2(&[[1i32, 2, 3], [4, 5, 6]]).into_dyn();
        let t = a.t();
        let decoded = Chunk::decode(&encode_view(t.view())).unwrap();
        assert_eq!(decoded, Chunk::I32(t.to_owned()));
    }

    #[test]
    fn misaligned_bytes_are_copied() {
        let chunk = Chunk::F64(arr2(&[[1.0, 2.0], [3.0, 4.0]]).into_dyn());
        let bytes = chunk.encode();
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&bytes);
        let slice = &shifted[1..];
        let decoded = CowChunk::decode(slice).unwrap();
        assert_eq!(decoded.into_owned(), chunk);
    }

    #[test]
    fn garbage_is_rejected() {
        let chunk = Chunk::I32(arr2(&[[1, 2], [3, 4]]).into_dyn());
        let bytes = chunk.encode().to_vec();
        assert!(
            Chunk::decode(&bytes[..bytes.len() - 1]).is_err(),
            "truncated"
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Chunk::decode(&longer).is_err(), "trailing bytes");
        let mut magic = bytes.clone();
        magic[0] = b'X';
        assert!(Chunk::decode(&magic).is_err(), "magic");
        let mut dtype = bytes.clone();
        dtype[5] = 99;
        assert!(Chunk::decode(&dtype).is_err(), "dtype");
        let mut huge = bytes.clone();
        huge[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(Chunk::decode(&huge).is_err(), "overflowing shape");
        let mut ndim = bytes.clone();
        ndim[6] = 65;
        assert!(Chunk::decode(&ndim).is_err(), "too many dimensions");
        let mut bools = Chunk::Bool(ArrayD::from_elem(IxDyn(&[2]), true))
            .encode()
            .to_vec();
        *bools.last_mut().unwrap() = 2;
        assert!(Chunk::decode(&bools).is_err(), "bool byte 2");
        assert!(Chunk::decode(&[]).is_err());
    }

    #[test]
    fn typed_access_checks_dtypes() {
        let chunk = Chunk::F32(ArrayD::from_elem(IxDyn(&[]), 2.5));
        assert!(chunk.as_array::<f64>().is_err());
        assert_eq!(chunk.scalar::<f32>(), Ok(2.5));
        assert_eq!(chunk.item(), Ok(Scalar::Float(2.5)));
        assert_eq!(chunk.to_array::<i64>()[IxDyn(&[])], 2);
    }
}
