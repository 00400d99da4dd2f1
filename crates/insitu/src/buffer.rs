//! Chunk buffers: where a rank writes its chunk in place, to publish it without a copy.
//!
//! A [`ChunkBuffer`] is an encoded chunk under construction: the header is written when
//! it is made, and the rank writes the elements through `&mut [T]`. Publishing it
//! turns the same memory into the stored object ([`bytes::Bytes`] over it), so a rank in
//! the node's process hands its chunk over with no copy at all. Buffers come back to
//! their client's [`Recycler`] when the last handle to the object drops, so the pages
//! stay warm from one iteration to the next.

use bytes::Bytes;
use doreisa_array::{DType, Element};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::sync::{Arc, Mutex};

/// Free buffers kept per client, at most.
const KEPT: usize = 8;

/// A client's free buffers (8-byte words, so elements are aligned).
#[derive(Debug, Default)]
pub(crate) struct Recycler {
    free: Mutex<Vec<Vec<u64>>>,
}

impl Recycler {
    /// A buffer of exactly `words` words: a free one of that size (holding whatever it
    /// held), or a new zeroed one.
    fn take(&self, words: usize) -> (Vec<u64>, bool) {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        match free.iter().position(|b| b.len() == words) {
            Some(i) => (free.swap_remove(i), true),
            None => (vec![0u64; words], false),
        }
    }

    fn give_back(&self, buffer: Vec<u64>) {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() < KEPT {
            free.push(buffer);
        }
    }
}

/// A rank's chunk of one array being written in place; see the module.
/// Dereferences to the chunk's elements in C order. A recycled buffer holds whatever
/// an earlier chunk left there: write every element.
pub struct ChunkBuffer<T: Element> {
    words: ManuallyDrop<Vec<u64>>,
    /// Bytes of the header (a whole number of words).
    header: usize,
    elements: usize,
    shape: Vec<usize>,
    recycler: Arc<Recycler>,
    _element: PhantomData<T>,
}

impl<T: Element> ChunkBuffer<T> {
    /// A buffer for a chunk of `shape`, its header written (`header`: its bytes).
    pub(crate) fn new(shape: Vec<usize>, header: &[u8], recycler: Arc<Recycler>) -> Self {
        let elements: usize = shape.iter().product();
        let bytes = header.len() + elements * T::DTYPE.size();
        let (words, recycled) = recycler.take(bytes.div_ceil(8));
        let mut buffer = ChunkBuffer {
            words: ManuallyDrop::new(words),
            header: header.len(),
            elements,
            shape,
            recycler,
            _element: PhantomData,
        };
        buffer.bytes_mut()[..header.len()].copy_from_slice(header);
        if recycled && T::DTYPE == DType::Bool {
            // Left-over bytes need not be valid bools.
            buffer.bytes_mut()[header.len()..].fill(0);
        }
        buffer
    }

    /// The chunk's shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn len_bytes(&self) -> usize {
        self.header + self.elements * T::DTYPE.size()
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        let len = self.len_bytes();
        // SAFETY: u64 words are plain bytes; `len` is within the buffer.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<u8>(), len) }
    }

    /// The encoded chunk, in the same memory (no copy). On a big-endian machine the
    /// elements are not yet little-endian: callers encode from the elements there.
    pub(crate) fn into_bytes(mut self) -> Bytes {
        let words = std::mem::take(&mut *self.words);
        let len = self.len_bytes();
        Bytes::from_owner(Frozen {
            words,
            len,
            recycler: self.recycler.clone(),
        })
    }
}

impl<T: Element> std::ops::Deref for ChunkBuffer<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: the header is a whole number of words, so the elements start 8-byte
        // aligned; every element type is a plain value, valid for any bytes except
        // bool, whose bytes are kept 0 or 1 (zeroed when made, written as bools).
        unsafe {
            std::slice::from_raw_parts(
                self.words
                    .as_ptr()
                    .cast::<u8>()
                    .add(self.header)
                    .cast::<T>(),
                self.elements,
            )
        }
    }
}

impl<T: Element> std::ops::DerefMut for ChunkBuffer<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as for `deref`, with exclusive access through `&mut self`.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.words
                    .as_mut_ptr()
                    .cast::<u8>()
                    .add(self.header)
                    .cast::<T>(),
                self.elements,
            )
        }
    }
}

impl<T: Element> Drop for ChunkBuffer<T> {
    fn drop(&mut self) {
        // SAFETY: `words` is taken exactly once, here or (emptied) in `into_bytes`.
        let words = unsafe { ManuallyDrop::take(&mut self.words) };
        if !words.is_empty() {
            self.recycler.give_back(words);
        }
    }
}

impl<T: Element> std::fmt::Debug for ChunkBuffer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChunkBuffer({:?}, shape {:?})", T::DTYPE, self.shape)
    }
}

/// A published buffer: the stored object's bytes; goes back to its recycler.
struct Frozen {
    words: Vec<u64>,
    len: usize,
    recycler: Arc<Recycler>,
}

impl AsRef<[u8]> for Frozen {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: as in `ChunkBuffer::bytes_mut`, read-only.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len) }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        self.recycler.give_back(std::mem::take(&mut self.words));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doreisa_array::Chunk;

    fn header(dtype: DType, shape: &[usize]) -> Vec<u8> {
        Chunk::encoded_header(dtype, shape)
    }

    #[test]
    fn a_written_buffer_is_the_chunks_encoding_and_its_memory_comes_back() {
        let recycler = Arc::new(Recycler::default());
        let mut buffer =
            ChunkBuffer::<f64>::new(vec![2, 3], &header(DType::F64, &[2, 3]), recycler.clone());
        for (i, x) in buffer.iter_mut().enumerate() {
            *x = i as f64 * 0.5;
        }
        let address = buffer.as_ptr() as usize;
        assert_eq!(address % 8, 0);
        let bytes = buffer.into_bytes();
        let expected = Chunk::from(
            ndarray::ArrayD::from_shape_vec(vec![2, 3], vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
                .unwrap(),
        );
        assert_eq!(Chunk::decode(&bytes).unwrap(), expected);
        assert_eq!(bytes.len(), Chunk::encoded_len(DType::F64, &[2, 3]));
        drop(bytes);
        let again =
            ChunkBuffer::<f64>::new(vec![2, 3], &header(DType::F64, &[2, 3]), recycler.clone());
        assert_eq!(
            again.as_ptr() as usize,
            address,
            "the same memory, recycled"
        );
        assert_eq!(again[5], 2.5, "holding what it held");
    }

    #[test]
    fn recycled_bool_buffers_are_zeroed_and_dropped_buffers_come_back() {
        let recycler = Arc::new(Recycler::default());
        let mut bytes =
            ChunkBuffer::<u8>::new(vec![16], &header(DType::U8, &[16]), recycler.clone());
        bytes.fill(7);
        drop(bytes);
        let flags =
            ChunkBuffer::<bool>::new(vec![16], &header(DType::Bool, &[16]), recycler.clone());
        assert!(flags.iter().all(|&b| !b));
        let decoded = Chunk::decode(&flags.into_bytes()).unwrap();
        assert_eq!(decoded.dtype(), DType::Bool);
    }
}
