//! Reading a program's leaves: the values of a view of an input chunk, broadcast to the
//! program's shape, in C order, a tile at a time; by slices when the data allows.

use super::typed::Buf;
use crate::F16;
use crate::chunk::{ViewChunk, rewrap};
use ndarray::{ArrayViewD, IxDyn};

/// Reads a leaf's values in C order, broadcast to the program's shape.
pub(crate) struct Reader<'a>(Typed<'a>);

enum Typed<'a> {
    Bool(TypedReader<'a, bool>),
    I8(TypedReader<'a, i8>),
    U8(TypedReader<'a, u8>),
    I16(TypedReader<'a, i16>),
    U16(TypedReader<'a, u16>),
    I32(TypedReader<'a, i32>),
    U32(TypedReader<'a, u32>),
    I64(TypedReader<'a, i64>),
    U64(TypedReader<'a, u64>),
    F16(TypedReader<'a, F16>),
    F32(TypedReader<'a, f32>),
    F64(TypedReader<'a, f64>),
}

enum TypedReader<'a, T> {
    /// Contiguous in C order.
    Slice(&'a [T]),
    /// Rows (along the last axis) that are contiguous each, e.g. after a flip of
    /// another axis: copied row by row.
    Rows(Rows<'a, T>),
    /// Anything else, element by element.
    Iter(ndarray::iter::Iter<'a, T, IxDyn>),
}

/// Rows shorter than this are read element by element (cheaper than finding them).
const MIN_ROW: usize = 32;

struct Rows<'a, T> {
    view: ArrayViewD<'a, T>,
    /// The index of the next row over the leading axes, in C order.
    next: Vec<usize>,
    rows_left: usize,
    current: &'a [T],
}

impl<'a, T> Rows<'a, T> {
    fn new(view: ArrayViewD<'a, T>) -> Option<Self> {
        let ndim = view.ndim();
        let last = ndim.checked_sub(1)?;
        if view.shape()[last] < MIN_ROW || view.strides()[last] != 1 {
            return None;
        }
        Some(Rows {
            rows_left: view.shape()[..last].iter().product(),
            next: vec![0; last],
            view,
            current: &[],
        })
    }

    /// Moves to the next row; false when there is none.
    fn advance(&mut self) -> bool {
        if self.rows_left == 0 {
            return false;
        }
        self.rows_left -= 1;
        let mut row = self.view.clone();
        for &i in &self.next {
            row = row.index_axis_move(ndarray::Axis(0), i);
        }
        self.current = row.to_slice().expect("rows have unit stride");
        for axis in (0..self.next.len()).rev() {
            self.next[axis] += 1;
            if self.next[axis] < self.view.shape()[axis] {
                break;
            }
            self.next[axis] = 0;
        }
        true
    }
}

impl<'a, T: Copy> TypedReader<'a, T> {
    fn new(view: &'a ArrayViewD<'_, T>, shape: &[usize]) -> Result<Self, String> {
        let view = view
            .broadcast(IxDyn(shape))
            .ok_or_else(|| format!("cannot broadcast {:?} to {shape:?}", view.shape()))?;
        if let Some(slice) = view.to_slice() {
            return Ok(TypedReader::Slice(slice));
        }
        Ok(match Rows::new(view.clone()) {
            Some(rows) => TypedReader::Rows(rows),
            None => TypedReader::Iter(view.into_iter()),
        })
    }

    fn fill(&mut self, out: &mut Vec<T>, m: usize) {
        out.clear();
        match self {
            TypedReader::Slice(slice) => {
                let (head, tail) = slice.split_at(m.min(slice.len()));
                out.extend_from_slice(head);
                *slice = tail;
            }
            TypedReader::Rows(rows) => {
                while out.len() < m {
                    if rows.current.is_empty() && !rows.advance() {
                        break;
                    }
                    let take = (m - out.len()).min(rows.current.len());
                    let (head, tail) = rows.current.split_at(take);
                    out.extend_from_slice(head);
                    rows.current = tail;
                }
            }
            TypedReader::Iter(iter) => out.extend(iter.by_ref().take(m).copied()),
        }
    }
}

impl<'a> Reader<'a> {
    pub fn new(view: &'a ViewChunk<'_>, shape: &[usize]) -> Result<Reader<'a>, String> {
        Ok(Reader(
            rewrap!(ViewChunk, Typed, view, v => TypedReader::new(v, shape)?),
        ))
    }

    /// Replaces `out` with the next `m` values.
    pub fn fill(&mut self, out: &mut Buf, m: usize) -> Result<(), String> {
        macro_rules! fill {
            ($($variant:ident),*) => {
                match (&mut self.0, out) {
                    $((Typed::$variant(r), Buf::$variant(o)) => r.fill(o, m),)*
                    _ => return Err("leaf dtype mismatch".into()),
                }
            };
        }
        fill!(Bool, I8, U8, I16, U16, I32, U32, I64, U64, F16, F32, F64);
        Ok(())
    }
}
