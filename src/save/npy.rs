//! numpy's `.npy` format, version 1.0: a magic string, a header (a Python dict literal
//! giving the dtype, the order and the shape, padded so that the data starts at a
//! multiple of 64 bytes), then the elements. A plain array, or a one-dimensional
//! record array whose named columns `numpy.load(path)["name"]` reads.

use super::{Result, SaveError, format_error, from_le_bytes, io_error, le_bytes, write_atomically};
use doreisa_array::{Chunk, DType};
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";

/// numpy's `descr` of a dtype (little-endian).
fn descr(dtype: DType) -> &'static str {
    match dtype {
        DType::Bool => "|b1",
        DType::I8 => "|i1",
        DType::U8 => "|u1",
        DType::I16 => "<i2",
        DType::U16 => "<u2",
        DType::I32 => "<i4",
        DType::U32 => "<u4",
        DType::I64 => "<i8",
        DType::U64 => "<u8",
        DType::F16 => "<f2",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
    }
}

fn dtype_of(descr: &str) -> Option<DType> {
    DType::ALL.into_iter().find(|&d| self::descr(d) == descr)
}

/// Python's tuple literal of a shape: `()`, `(3,)`, `(3, 4)`.
fn shape_literal(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => {
            let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", dims.join(", "))
        }
    }
}

/// The file's first bytes: magic, version 1.0, header length, header.
fn preamble(descr: &str, shape: &[usize]) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': {descr}, 'fortran_order': False, 'shape': {}, }}",
        shape_literal(shape)
    );
    // Data aligned on 64 bytes: magic (6) + version (2) + length (2) + header + '\n'.
    let unpadded = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out
}

/// Writes `chunk` as a `.npy` file at `path`.
pub fn write_npy(path: &Path, chunk: &Chunk) -> Result<()> {
    let mut out = preamble(&format!("'{}'", descr(chunk.dtype())), chunk.shape());
    out.extend_from_slice(&le_bytes(chunk));
    write_atomically(path, &out)
}

/// A named column of a record array.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    I64(Vec<i64>),
    F64(Vec<f64>),
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::I64(v) => v.len(),
            Column::F64(v) => v.len(),
        }
    }

    fn dtype(&self) -> DType {
        match self {
            Column::I64(_) => DType::I64,
            Column::F64(_) => DType::F64,
        }
    }
}

/// Writes `columns` as a one-dimensional record array (a row per index, a field per
/// column, in order) at `path`.
pub fn write_npy_records(path: &Path, columns: &[(&str, Column)]) -> Result<()> {
    let rows = columns.first().map_or(0, |(_, c)| c.len());
    if let Some((name, c)) = columns.iter().find(|(_, c)| c.len() != rows) {
        return Err(SaveError::Invalid(format!(
            "column {name} has {} rows, the first {rows}",
            c.len()
        )));
    }
    if let Some((name, _)) = columns
        .iter()
        .find(|(n, _)| n.is_empty() || n.contains('\''))
    {
        return Err(SaveError::Invalid(format!("`{name}` is not a field name")));
    }
    let fields: Vec<String> = columns
        .iter()
        .map(|(name, c)| format!("('{name}', '{}')", descr(c.dtype())))
        .collect();
    let mut out = preamble(&format!("[{}]", fields.join(", ")), &[rows]);
    for row in 0..rows {
        for (_, column) in columns {
            match column {
                Column::I64(v) => out.extend_from_slice(&v[row].to_le_bytes()),
                Column::F64(v) => out.extend_from_slice(&v[row].to_le_bytes()),
            }
        }
    }
    write_atomically(path, &out)
}

/// A parsed header: the `descr` literal and the shape.
struct Header {
    descr: String,
    shape: Vec<usize>,
    /// Where the data starts.
    data: usize,
}

fn parse_header(path: &Path, bytes: &[u8]) -> Result<Header> {
    let bad = |detail: &str| format_error(path, format!("not a .npy file: {detail}"));
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad("no magic string"));
    }
    let (length, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize,
            12,
        ),
        v => return Err(bad(&format!("version {v}"))),
    };
    let header = bytes
        .get(start..start + length)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("a short or non-text header"))?;
    let value_of = |key: &str| -> Option<&str> {
        let at = header.find(&format!("'{key}':"))? + key.len() + 3;
        Some(header[at..].trim_start())
    };
    if !value_of("fortran_order").is_some_and(|v| v.starts_with("False")) {
        return Err(bad("Fortran order, or no order"));
    }
    let descr = value_of("descr").ok_or_else(|| bad("no descr"))?;
    let descr = if descr.starts_with('[') {
        &descr[..descr.find(']').ok_or_else(|| bad("an open descr"))? + 1]
    } else {
        let end = descr[1..].find('\'').ok_or_else(|| bad("an open descr"))?;
        &descr[..end + 2]
    };
    let shape = value_of("shape").ok_or_else(|| bad("no shape"))?;
    let shape = &shape[1..shape.find(')').ok_or_else(|| bad("an open shape"))?];
    let shape = shape
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse::<usize>().map_err(|_| bad("a bad shape")))
        .collect::<Result<Vec<_>>>()?;
    Ok(Header {
        descr: descr.to_string(),
        shape,
        data: start + length,
    })
}

fn read(path: &Path) -> Result<(Header, Vec<u8>)> {
    let bytes = std::fs::read(path).map_err(io_error(path))?;
    let header = parse_header(path, &bytes)?;
    Ok((header, bytes))
}

/// Reads a plain (not record) `.npy` array of one of the chunk dtypes, little-endian.
pub fn read_npy(path: &Path) -> Result<Chunk> {
    let (header, bytes) = read(path)?;
    let dtype = header
        .descr
        .strip_prefix('\'')
        .and_then(|d| d.strip_suffix('\''))
        .and_then(dtype_of)
        .ok_or_else(|| format_error(path, format!("dtype {} is not read", header.descr)))?;
    from_le_bytes(dtype, &header.shape, &bytes[header.data..]).ok_or_else(|| {
        format_error(
            path,
            format!("the data is not {:?} of {dtype}", header.shape),
        )
    })
}

/// Reads a one-dimensional record array of int64 and float64 fields: its columns by
/// name, in order.
pub fn read_npy_records(path: &Path) -> Result<Vec<(String, Column)>> {
    let (header, bytes) = read(path)?;
    let bad = |detail: String| format_error(path, detail);
    let fields: Vec<(String, DType)> = header
        .descr
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(')')
        .map(|f| f.trim_start_matches([',', ' ', '(']).trim())
        .filter(|f| !f.is_empty())
        .map(|f| {
            let (name, descr) = f.split_once(',').ok_or_else(|| bad(format!("field {f}")))?;
            let name = name.trim().trim_matches('\'').to_string();
            match dtype_of(descr.trim().trim_matches('\'')) {
                Some(dtype @ (DType::I64 | DType::F64)) => Ok((name, dtype)),
                _ => Err(bad(format!("field {name} of dtype {descr} is not read"))),
            }
        })
        .collect::<Result<_>>()?;
    let [rows] = header.shape[..] else {
        return Err(bad(format!("records of shape {:?}", header.shape)));
    };
    let data = &bytes[header.data..];
    if fields.is_empty() || data.len() != rows * 8 * fields.len() {
        return Err(bad(format!("{} bytes for {rows} rows", data.len())));
    }
    let value = |row: usize, field: usize| -> [u8; 8] {
        let at = (row * fields.len() + field) * 8;
        data[at..at + 8].try_into().expect("8 bytes")
    };
    Ok(fields
        .iter()
        .enumerate()
        .map(|(f, (name, dtype))| {
            let column = match dtype {
                DType::I64 => {
                    Column::I64((0..rows).map(|r| i64::from_le_bytes(value(r, f))).collect())
                }
                _ => Column::F64((0..rows).map(|r| f64::from_le_bytes(value(r, f))).collect()),
            };
            (name.clone(), column)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn the_header_is_numpys_byte_for_byte() {
        // What numpy 2 writes for numpy.zeros((2, 3)) (`numpy.save`).
        let expected = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
        let bytes = preamble("'<f8'", &[2, 3]);
        assert_eq!(bytes.len(), 128, "data aligned on 64 bytes");
        assert_eq!(&bytes[..10], b"\x93NUMPY\x01\x00\x76\x00");
        let header = std::str::from_utf8(&bytes[10..]).unwrap();
        assert!(header.starts_with(expected));
        assert!(header.ends_with(" \n"));
        assert_eq!(shape_literal(&[]), "()");
        assert_eq!(shape_literal(&[5]), "(5,)");
    }

    #[test]
    fn every_dtype_round_trips_with_its_own_descr() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        for dtype in DType::ALL {
            let values = ArrayD::from_shape_fn(IxDyn(&[2, 3]), |i| (i[0] * 3 + i[1]) as f64);
            let chunk = Chunk::from(values).cast(dtype);
            write_npy(&path, &chunk).unwrap();
            assert_eq!(read_npy(&path).unwrap(), chunk, "{dtype}");
        }
        let descrs: std::collections::HashSet<&str> =
            DType::ALL.iter().map(|&d| descr(d)).collect();
        assert_eq!(descrs.len(), DType::ALL.len(), "one descr per dtype");
    }

    #[test]
    fn arrays_and_records_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        for chunk in [
            Chunk::from(ArrayD::from_shape_fn(IxDyn(&[3, 4]), |i| {
                (i[0] * 4 + i[1]) as f64
            })),
            Chunk::from(ArrayD::from_elem(IxDyn(&[]), 7i64)),
            Chunk::from(ArrayD::from_elem(IxDyn(&[2, 1, 2]), true)),
            Chunk::from(ArrayD::from_elem(IxDyn(&[0]), 1.5f32)),
        ] {
            write_npy(&path, &chunk).unwrap();
            assert_eq!(read_npy(&path).unwrap(), chunk);
        }
        let columns = [
            ("timestep", Column::I64(vec![0, 5, 10])),
            ("mean", Column::F64(vec![1.0, f64::NAN, -2.5])),
        ];
        write_npy_records(&path, &columns).unwrap();
        let read = read_npy_records(&path).unwrap();
        assert_eq!(
            read[0],
            ("timestep".to_string(), Column::I64(vec![0, 5, 10]))
        );
        let Column::F64(mean) = &read[1].1 else {
            panic!("{read:?}")
        };
        assert_eq!(read[1].0, "mean");
        assert!(mean[0] == 1.0 && mean[1].is_nan() && mean[2] == -2.5);
        assert!(read_npy(&path).is_err(), "records are not a plain array");
    }

    #[test]
    fn bad_files_and_columns_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.npy");
        std::fs::write(&path, b"not numpy").unwrap();
        assert!(
            read_npy(&path)
                .unwrap_err()
                .to_string()
                .contains("no magic")
        );
        let mut truncated = preamble("'<f8'", &[4]);
        truncated.extend_from_slice(&[0; 8]);
        std::fs::write(&path, truncated).unwrap();
        assert!(
            read_npy(&path)
                .unwrap_err()
                .to_string()
                .contains("not [4] of float64")
        );
        let uneven = [("a", Column::I64(vec![1])), ("b", Column::F64(vec![]))];
        assert!(write_npy_records(&path, &uneven).is_err());
    }
}
