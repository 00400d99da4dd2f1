//! Chunk buffers: where a rank writes its chunk in place, to publish it without a copy.
//!
//! A [`ChunkBuffer`] is an encoded chunk under construction: the header is written when
//! it is made, and the rank writes the elements through `&mut [T]`. Publishing it
//! turns the same memory into the stored object ([`bytes::Bytes`] over it), so a rank in
//! the node's process hands its chunk over with no copy at all. Buffers come back to
//! their client's [`Recycler`] when the last handle to the object drops, so the pages
//! stay warm from one iteration to the next. A rank publishing through the node's
//! shared memory writes into a leased segment instead: no copy either.

use crate::shm::SegmentLease;
use bytes::Bytes;
use doreisa_array::{DType, Element};
use std::marker::PhantomData;
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

/// Where a chunk buffer's bytes are.
enum Storage {
    /// Words of this process's memory, recycled by the client.
    Heap {
        words: Vec<u64>,
        recycler: Arc<Recycler>,
    },
    /// A segment of the node's shared memory.
    Shared(SegmentLease),
}

/// A published chunk buffer, as the bridge takes it.
pub(crate) enum Written {
    Bytes(Bytes),
    Shared(SegmentLease),
}

/// A rank's chunk of one array being written in place; see the module.
/// Dereferences to the chunk's elements in C order. A recycled buffer holds whatever
/// an earlier chunk left there: write every element.
pub struct ChunkBuffer<T: Element> {
    /// Always `Some` but while being published.
    storage: Option<Storage>,
    /// Bytes of the header (a whole number of words).
    header: usize,
    elements: usize,
    shape: Vec<usize>,
    _element: PhantomData<T>,
}

impl<T: Element> ChunkBuffer<T> {
    /// A buffer for a chunk of `shape`, its header written (`header`: its bytes), in
    /// `lease` when given, else from `recycler`.
    pub(crate) fn new(
        shape: Vec<usize>,
        header: &[u8],
        lease: Option<SegmentLease>,
        recycler: &Arc<Recycler>,
    ) -> Self {
        let elements: usize = shape.iter().product();
        let (storage, fresh) = match lease {
            Some(lease) => (Storage::Shared(lease), false),
            None => {
                let bytes = header.len() + elements * T::DTYPE.size();
                let (words, recycled) = recycler.take(bytes.div_ceil(8));
                let recycler = recycler.clone();
                (Storage::Heap { words, recycler }, !recycled)
            }
        };
        let mut buffer = ChunkBuffer {
            storage: Some(storage),
            header: header.len(),
            elements,
            shape,
            _element: PhantomData,
        };
        buffer.bytes_mut()[..header.len()].copy_from_slice(header);
        if !fresh && T::DTYPE == DType::Bool {
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

    fn bytes(&self) -> &[u8] {
        let len = self.len_bytes();
        match self.storage.as_ref().expect("not published") {
            Storage::Heap { words, .. } => &bytes_of(words)[..len],
            Storage::Shared(lease) => &lease.as_slice()[..len],
        }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        let len = self.len_bytes();
        match self.storage.as_mut().expect("not published") {
            Storage::Heap { words, .. } => &mut bytes_of_mut(words)[..len],
            Storage::Shared(lease) => &mut lease.as_mut_slice()[..len],
        }
    }

    /// The encoded chunk, in the same memory (no copy). On a big-endian machine the
    /// elements are not yet little-endian: callers encode from the elements there.
    pub(crate) fn into_written(mut self) -> Written {
        let len = self.len_bytes();
        match self.storage.take().expect("published once") {
            Storage::Heap { words, recycler } => Written::Bytes(Bytes::from_owner(Frozen {
                words,
                len,
                recycler,
            })),
            Storage::Shared(lease) => Written::Shared(lease),
        }
    }
}

fn bytes_of(words: &[u64]) -> &[u8] {
    // SAFETY: u64 words are plain bytes.
    unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), words.len() * 8) }
}

fn bytes_of_mut(words: &mut [u64]) -> &mut [u8] {
    // SAFETY: u64 words are plain bytes, and any bytes are valid words.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), words.len() * 8) }
}

impl<T: Element> std::ops::Deref for ChunkBuffer<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        let elements = &self.bytes()[self.header..];
        // SAFETY: the header is a whole number of words and both storages start 8-byte
        // aligned, so the elements are aligned; every element type is a plain value,
        // valid for any bytes except bool, whose bytes are kept 0 or 1 (zeroed when
        // made, written as bools).
        unsafe { std::slice::from_raw_parts(elements.as_ptr().cast::<T>(), self.elements) }
    }
}

impl<T: Element> std::ops::DerefMut for ChunkBuffer<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        let header = self.header;
        let count = self.elements;
        let elements = &mut self.bytes_mut()[header..];
        // SAFETY: as for `deref`, with exclusive access through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(elements.as_mut_ptr().cast::<T>(), count) }
    }
}

impl<T: Element> Drop for ChunkBuffer<T> {
    fn drop(&mut self) {
        // A shared lease not handed gives its segment back as it drops.
        if let Some(Storage::Heap { words, recycler }) = self.storage.take() {
            recycler.give_back(words);
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
        &bytes_of(&self.words)[..self.len]
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

    fn written<T: Element>(buffer: ChunkBuffer<T>) -> Bytes {
        match buffer.into_written() {
            Written::Bytes(bytes) => bytes,
            Written::Shared(_) => panic!("made without a lease"),
        }
    }

    #[test]
    fn a_written_buffer_is_the_chunks_encoding_and_its_memory_comes_back() {
        let recycler = Arc::new(Recycler::default());
        let mut buffer =
            ChunkBuffer::<f64>::new(vec![2, 3], &header(DType::F64, &[2, 3]), None, &recycler);
        for (i, x) in buffer.iter_mut().enumerate() {
            *x = i as f64 * 0.5;
        }
        let address = buffer.as_ptr() as usize;
        assert_eq!(address % 8, 0);
        let bytes = written(buffer);
        let expected = Chunk::from(
            ndarray::ArrayD::from_shape_vec(vec![2, 3], vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
                .unwrap(),
        );
        assert_eq!(Chunk::decode(&bytes).unwrap(), expected);
        assert_eq!(bytes.len(), Chunk::encoded_len(DType::F64, &[2, 3]));
        drop(bytes);
        let again =
            ChunkBuffer::<f64>::new(vec![2, 3], &header(DType::F64, &[2, 3]), None, &recycler);
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
            ChunkBuffer::<u8>::new(vec![16], &header(DType::U8, &[16]), None, &recycler);
        bytes.fill(7);
        drop(bytes);
        let flags =
            ChunkBuffer::<bool>::new(vec![16], &header(DType::Bool, &[16]), None, &recycler);
        assert!(flags.iter().all(|&b| !b));
        let decoded = Chunk::decode(&written(flags)).unwrap();
        assert_eq!(decoded.dtype(), DType::Bool);
    }
}
