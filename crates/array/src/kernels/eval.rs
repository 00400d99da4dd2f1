//! The program evaluator behind `array.eval` and the leaves of reductions: decodes a
//! program, checks it against the kernel's inputs, and runs it tile by tile (a few
//! thousand elements at a time, in buffers that stay in cache), so a fused chain of
//! element-wise operations makes one pass over its inputs and no intermediate chunk.

use super::funcs::step;
use super::read::Reader;
use super::typed::{Buf, ChunkElement, Typed, for_dtype};
use crate::chunk::{Chunk, CowChunk, MAX_CHUNK_NDIM, ViewChunk, encode_slice, encode_view, rewrap};
use crate::codec;
use crate::dtype::DType;
use crate::element::Element;
use crate::program::{EvalParams, Instr, Program};
use bytes::Bytes;
use ndarray::{ArrayD, IxDyn, Slice};

/// Elements per tile.
const TILE: usize = 2048;

/// `array.eval`: an output chunk assembled from pieces, each computed by a program.
pub(crate) fn eval(params: &[u8], inputs: &[Bytes]) -> Result<Bytes, String> {
    let params: EvalParams = codec::decode(params).map_err(|e| e.to_string())?;
    let decoded = decode_inputs(inputs)?;
    let views: Vec<ViewChunk<'_>> = decoded.iter().map(CowChunk::view).collect();
    for_dtype!(params.dtype, T => assemble::<T>(&params, &views))
}

pub(crate) fn decode_inputs(inputs: &[Bytes]) -> Result<Vec<CowChunk<'_>>, String> {
    inputs
        .iter()
        .enumerate()
        .map(|(i, b)| CowChunk::decode(b).map_err(|e| format!("input {i}: {e}")))
        .collect()
}

/// Checks that a chunk of `shape` can be allocated and encoded.
pub(crate) fn check_shape(shape: &[usize], dtype: DType) -> Result<(), String> {
    let bytes = shape
        .iter()
        .try_fold(dtype.size(), |n, &e| n.checked_mul(e))
        .filter(|&n| n <= isize::MAX as usize);
    if shape.len() > MAX_CHUNK_NDIM || bytes.is_none() {
        return Err(format!("no chunk can have shape {shape:?}"));
    }
    Ok(())
}

fn assemble<T: Typed>(params: &EvalParams, inputs: &[ViewChunk<'_>]) -> Result<Bytes, String> {
    let shape = &params.shape;
    check_shape(shape, T::DTYPE)?;
    if let [piece] = params.pieces.as_slice()
        && piece.shape == *shape
        && piece.offset.iter().all(|&o| o == 0)
    {
        let mut out = Vec::with_capacity(shape.iter().product());
        run::<T>(&piece.program, &piece.shape, inputs, |tile| {
            out.extend_from_slice(tile)
        })?;
        return Ok(encode_slice(shape, &out));
    }
    let mut out = ArrayD::<T>::default(IxDyn(shape));
    for piece in &params.pieces {
        let fits = piece.offset.len() == shape.len()
            && piece.shape.len() == shape.len()
            && (0..shape.len()).all(|a| {
                piece.offset[a]
                    .checked_add(piece.shape[a])
                    .is_some_and(|end| end <= shape[a])
            });
        if !fits {
            return Err(format!(
                "piece at {:?} of shape {:?} outside a chunk of shape {shape:?}",
                piece.offset, piece.shape
            ));
        }
        let mut region = out.slice_each_axis_mut(|axis| {
            let start = piece.offset[axis.axis.index()];
            Slice::from(start..start + piece.shape[axis.axis.index()])
        });
        let mut cells = region.iter_mut();
        run::<T>(&piece.program, &piece.shape, inputs, |tile| {
            // The tile drives the zip: `zip` pulls its first iterator first, so a cell
            // is taken only for a value that exists (with the cells first, the cell
            // pulled when the tile runs out would be lost, one per tile).
            for (&v, cell) in tile.iter().zip(cells.by_ref()) {
                *cell = v;
            }
        })?;
    }
    Ok(encode_view(out.view()))
}

/// The value of `program` (of `shape`) as an array: the input itself, through its view,
/// when the program only reads one input without repeating it; computed otherwise.
pub(crate) enum Value<'a> {
    View(ViewChunk<'a>),
    Owned(Chunk),
}

impl Value<'_> {
    pub fn view(&self) -> ViewChunk<'_> {
        match self {
            Value::View(v) => v.reborrow(),
            Value::Owned(c) => owned_view(c),
        }
    }
}

fn owned_view(c: &Chunk) -> ViewChunk<'_> {
    rewrap!(Chunk, ViewChunk, c, a => a.view())
}

pub(crate) fn value<'a>(
    program: &Program,
    shape: &[usize],
    inputs: &[ViewChunk<'a>],
) -> Result<Value<'a>, String> {
    let dtypes = check(program, shape, inputs)?;
    check_shape(shape, *dtypes.last().expect("checked non-empty"))?;
    if let ([Instr::Leaf(0)], [leaf]) = (program.instrs.as_slice(), program.leaves.as_slice()) {
        let input = &inputs[leaf.input as usize];
        let view = for_dtype!(input.dtype(), T => {
            let a = T::view(input).expect("dtype matched").clone();
            T::wrap_view(leaf.view.apply_unbroadcast(a))
        });
        // Unless broadcasting is left to do.
        if view.shape() == shape {
            return Ok(Value::View(view));
        }
    }
    let dtype = *dtypes.last().expect("checked non-empty");
    for_dtype!(dtype, T => {
        let mut out = Vec::with_capacity(shape.iter().product());
        run::<T>(program, shape, inputs, |tile| out.extend_from_slice(tile))?;
        let array = ArrayD::from_shape_vec(IxDyn(shape), out).map_err(|e| e.to_string())?;
        Ok(Value::Owned(T::into_chunk(array)))
    })
}

/// Checks `program` against its inputs and returns each step's dtype.
fn check(
    program: &Program,
    shape: &[usize],
    inputs: &[ViewChunk<'_>],
) -> Result<Vec<DType>, String> {
    let mut leaf_used = vec![false; program.leaves.len()];
    for leaf in &program.leaves {
        let input = inputs
            .get(leaf.input as usize)
            .ok_or_else(|| format!("leaf reads missing input {}", leaf.input))?;
        leaf.view.check(input.shape())?;
        if leaf.view.out_shape() != shape {
            return Err(format!(
                "leaf view gives shape {:?}, the program has shape {shape:?}",
                leaf.view.out_shape()
            ));
        }
    }
    let mut dtypes: Vec<DType> = Vec::with_capacity(program.instrs.len());
    for (i, instr) in program.instrs.iter().enumerate() {
        let arg = |a: u32| {
            dtypes
                .get(a as usize)
                .copied()
                .ok_or_else(|| format!("step {i} reads step {a}, not an earlier one"))
        };
        let dtype = match *instr {
            Instr::Leaf(l) => {
                let used = leaf_used
                    .get_mut(l as usize)
                    .ok_or_else(|| format!("step {i} reads missing leaf {l}"))?;
                if std::mem::replace(used, true) {
                    return Err(format!("leaf {l} is read twice"));
                }
                inputs[program.leaves[l as usize].input as usize].dtype()
            }
            Instr::Const(c) => c.dtype(),
            Instr::Unary(f, a) => {
                let d = arg(a)?;
                f.result(d).ok_or_else(|| format!("{} on {d}", f.name()))?
            }
            Instr::Binary(f, a, b) => {
                let (da, db) = (arg(a)?, arg(b)?);
                if da != db {
                    return Err(format!("{} on {da} and {db}", f.name()));
                }
                f.result(da)
                    .ok_or_else(|| format!("{} on {da}", f.name()))?
            }
            Instr::Where(c, a, b) => {
                let (dc, da, db) = (arg(c)?, arg(a)?, arg(b)?);
                if dc != DType::Bool || da != db {
                    return Err(format!("where on {dc}, {da} and {db}"));
                }
                da
            }
            Instr::Cast(to, a) => {
                arg(a)?;
                to
            }
        };
        dtypes.push(dtype);
    }
    if dtypes.is_empty() {
        return Err("empty program".into());
    }
    Ok(dtypes)
}

/// Runs `program` over `shape`, handing each tile of results (C order) to `sink`.
fn run<T: Typed>(
    program: &Program,
    shape: &[usize],
    inputs: &[ViewChunk<'_>],
    mut sink: impl FnMut(&[T]),
) -> Result<(), String> {
    let dtypes = check(program, shape, inputs)?;
    if *dtypes.last().expect("non-empty") != T::DTYPE {
        return Err(format!(
            "the program computes {}, the output is {}",
            dtypes.last().expect("non-empty"),
            T::DTYPE
        ));
    }
    let unbroadcast: Vec<ViewChunk<'_>> = program
        .leaves
        .iter()
        .map(|leaf| {
            let input = &inputs[leaf.input as usize];
            for_dtype!(input.dtype(), E => {
                let a = E::view(input).expect("dtype matched").clone();
                E::wrap_view(leaf.view.apply_unbroadcast(a))
            })
        })
        .collect();
    let mut readers: Vec<Reader<'_>> = unbroadcast
        .iter()
        .map(|v| Reader::new(v, shape))
        .collect::<Result<_, _>>()?;
    let mut regs: Vec<Buf> = dtypes
        .iter()
        .map(|&d| Buf::with_capacity(d, TILE))
        .collect();
    let total: usize = shape.iter().product();
    let mut done = 0;
    while done < total {
        let m = TILE.min(total - done);
        for (i, instr) in program.instrs.iter().enumerate() {
            let (before, rest) = regs.split_at_mut(i);
            step(instr, before, &mut rest[0], &mut readers, m)?;
        }
        let out = T::vec(regs.last().expect("non-empty")).expect("dtype checked");
        if out.len() != m {
            return Err(format!("a step produced {} values, not {m}", out.len()));
        }
        sink(out);
        done += m;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TypedScalar;
    use crate::program::{BinaryFn, Leaf, Piece, UnaryFn};
    use crate::view::View;

    fn program(leaves: usize, instrs: Vec<Instr>, shape: &[usize]) -> Program {
        Program {
            leaves: (0..leaves)
                .map(|i| Leaf {
                    input: i as u32,
                    view: View::identity(shape),
                })
                .collect(),
            instrs,
        }
    }

    fn run_eval(params: &EvalParams, inputs: &[Chunk]) -> Result<Chunk, String> {
        let inputs: Vec<Bytes> = inputs.iter().map(Chunk::encode).collect();
        let out = eval(&codec::encode(params), &inputs)?;
        Chunk::decode(&out).map_err(|e| e.to_string())
    }

    #[test]
    fn a_fused_program_computes_in_one_pass() {
        let n = 5000; // more than one tile
        let x = ArrayD::from_shape_fn(IxDyn(&[n]), |i| i[0] as f64);
        let y = ArrayD::from_shape_fn(IxDyn(&[n]), |i| (i[0] % 7) as f64);
        // where(x > y, sqrt(x) * 2, -y)
        let instrs = vec![
            Instr::Leaf(0),
            Instr::Leaf(1),
            Instr::Binary(BinaryFn::Gt, 0, 1),
            Instr::Unary(UnaryFn::Sqrt, 0),
            Instr::Const(TypedScalar::F64(2.0)),
            Instr::Binary(BinaryFn::Mul, 3, 4),
            Instr::Unary(UnaryFn::Neg, 1),
            Instr::Where(2, 5, 6),
        ];
        let params = EvalParams {
            shape: vec![n],
            dtype: DType::F64,
            pieces: vec![Piece {
                offset: vec![0],
                shape: vec![n],
                program: program(2, instrs, &[n]),
            }],
        };
        let out = run_eval(&params, &[Chunk::F64(x.clone()), Chunk::F64(y.clone())]).unwrap();
        let expected = ndarray::Zip::from(&x)
            .and(&y)
            .map_collect(|&a, &b| if a > b { a.sqrt() * 2.0 } else { -b });
        assert_eq!(out, Chunk::F64(expected));
    }

    #[test]
    fn strided_reads_cross_rows_and_tiles() {
        use crate::view::ViewAxis;
        // Rows long enough to be copied row by row, flipped, and broadcast rows.
        let (rows, cols) = (5, 1500);
        let a = ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |i| (i[0] * cols + i[1]) as i64);
        let flip = View {
            axes: vec![
                ViewAxis::Map {
                    src: 0,
                    start: rows - 1,
                    step: -1,
                    len: rows,
                },
                ViewAxis::Map {
                    src: 1,
                    start: 0,
                    step: 1,
                    len: cols,
                },
            ],
            fixed: vec![],
        };
        let bcast = View {
            axes: vec![
                ViewAxis::Bcast { len: rows },
                ViewAxis::Map {
                    src: 1,
                    start: 0,
                    step: 1,
                    len: cols,
                },
            ],
            fixed: vec![(0, 2)],
        };
        let transpose = View {
            axes: vec![
                ViewAxis::Map {
                    src: 1,
                    start: 0,
                    step: 1,
                    len: cols,
                },
                ViewAxis::Map {
                    src: 0,
                    start: 0,
                    step: 1,
                    len: rows,
                },
            ],
            fixed: vec![],
        };
        for (view, expected) in [
            (flip, a.slice(ndarray::s![..;-1, ..]).to_owned().into_dyn()),
            (
                bcast,
                a.slice(ndarray::s![2..3, ..])
                    .broadcast((rows, cols))
                    .unwrap()
                    .to_owned()
                    .into_dyn(),
            ),
            (transpose, a.t().to_owned()),
        ] {
            let shape = view.out_shape();
            let params = EvalParams {
                shape: shape.clone(),
                dtype: DType::I64,
                pieces: vec![Piece {
                    offset: vec![0, 0],
                    shape,
                    program: Program {
                        leaves: vec![Leaf { input: 0, view }],
                        instrs: vec![Instr::Leaf(0)],
                    },
                }],
            };
            let out = run_eval(&params, &[Chunk::I64(a.clone())]).unwrap();
            assert_eq!(out, Chunk::I64(expected));
        }
    }

    #[test]
    fn pieces_assemble_an_output_chunk() {
        let a = ArrayD::from_shape_fn(IxDyn(&[2, 2]), |i| (i[0] * 2 + i[1]) as i32);
        let piece = |offset: Vec<usize>| Piece {
            offset,
            shape: vec![2, 2],
            program: program(1, vec![Instr::Leaf(0)], &[2, 2]),
        };
        let params = EvalParams {
            shape: vec![2, 4],
            dtype: DType::I32,
            pieces: vec![piece(vec![0, 0]), piece(vec![0, 2])],
        };
        let out = run_eval(&params, &[Chunk::I32(a.clone())]).unwrap();
        let expected = ndarray::concatenate(ndarray::Axis(1), &[a.view(), a.view()]).unwrap();
        assert_eq!(out, Chunk::I32(expected));
    }

    #[test]
    fn ill_typed_or_malformed_programs_are_errors() {
        let shape = [3];
        let x = Chunk::Bool(ArrayD::from_elem(IxDyn(&shape), true));
        let bad = |instrs: Vec<Instr>, dtype: DType| {
            let params = EvalParams {
                shape: shape.to_vec(),
                dtype,
                pieces: vec![Piece {
                    offset: vec![0],
                    shape: shape.to_vec(),
                    program: program(1, instrs, &shape),
                }],
            };
            run_eval(&params, std::slice::from_ref(&x)).unwrap_err()
        };
        bad(
            vec![Instr::Leaf(0), Instr::Unary(UnaryFn::Sqrt, 0)],
            DType::Bool,
        );
        bad(
            vec![Instr::Leaf(0), Instr::Binary(BinaryFn::Add, 0, 0)],
            DType::Bool,
        );
        bad(
            vec![Instr::Leaf(0), Instr::Unary(UnaryFn::Not, 5)],
            DType::Bool,
        );
        bad(vec![Instr::Leaf(0), Instr::Leaf(0)], DType::Bool);
        bad(vec![Instr::Leaf(0)], DType::F64);
        bad(vec![], DType::Bool);
        assert!(eval(b"garbage", &[]).is_err());
    }

    #[test]
    fn integer_powers_must_not_be_negative() {
        let x = Chunk::I64(ArrayD::from_elem(IxDyn(&[2]), 3));
        let params = EvalParams {
            shape: vec![2],
            dtype: DType::I64,
            pieces: vec![Piece {
                offset: vec![0],
                shape: vec![2],
                program: program(
                    1,
                    vec![
                        Instr::Leaf(0),
                        Instr::Const(TypedScalar::I64(-1)),
                        Instr::Binary(BinaryFn::Pow, 0, 1),
                    ],
                    &[2],
                ),
            }],
        };
        assert!(run_eval(&params, &[x]).unwrap_err().contains("negative"));
    }
}
