//! A Zarr v3 store holding one distributed array over time: a group directory with
//! the array `NAME` of shape `(time, ...)` (one time step per chunk along time, the
//! array's own chunks along the other axes) and a coordinate array `time` (the
//! timesteps). Dimension names are set, so xarray opens it as a dataset.
//!
//! Each [`ZarrSeries::append`] runs one graph: for every chunk of the array, a task on
//! the node that holds the chunk writes it to `NAME/c/T/I/J...` (raw little-endian
//! elements, edge chunks padded to the full chunk shape with the fill value); then this
//! process writes the timestep and the metadata with the new length, each file
//! replaced whole, so a reader sees the store before or after a step, never half of
//! one.

use super::{Result, SaveError, format_error, from_le_bytes, io_error, le_bytes, write_atomically};
use bytes::Bytes;
use doreisa_array::{Array, Chunk, DType, SliceArg};
use doreisa_sched::{GraphRunner, KernelRegistry};
use ndarray::{ArrayD, IxDyn, Slice};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The kernel that writes one chunk into a store.
const WRITE_CHUNK: &str = "doreisa.save.zarr_chunk";

/// Registers the kernel nodes write chunks with (see [`crate::registry`]).
pub fn register_kernels(kernels: &mut KernelRegistry) {
    kernels.register(WRITE_CHUNK, write_chunk);
}

/// What the kernel is told: where the chunk goes and the full chunk shape.
#[derive(serde::Serialize, serde::Deserialize)]
struct ChunkTarget {
    path: PathBuf,
    chunk_shape: Vec<usize>,
}

/// Writes its input chunk (padded to the full chunk shape) where `params` say; returns
/// ones of the chunk's shape (their sum counts the elements written).
fn write_chunk(params: &[u8], inputs: &[Bytes]) -> std::result::Result<Bytes, String> {
    let target: ChunkTarget = serde_json::from_slice(params).map_err(|e| e.to_string())?;
    let [input] = inputs else {
        return Err(format!("{} inputs for one chunk", inputs.len()));
    };
    let chunk = Chunk::decode(input).map_err(|e| e.to_string())?;
    let padded = pad(&chunk, &target.chunk_shape)?;
    write_atomically(&target.path, &le_bytes(&padded)).map_err(|e| e.to_string())?;
    Ok(Chunk::from(ArrayD::from_elem(IxDyn(chunk.shape()), 1u8)).encode())
}

/// The value missing elements read as: NaN for floats, 0 or false otherwise.
fn fill_value(dtype: DType) -> Value {
    match dtype {
        d if d.is_float() => json!("NaN"),
        DType::Bool => json!(false),
        _ => json!(0),
    }
}

/// An array of `shape` holding the fill value (NaN, 0 or false).
fn filled(dtype: DType, shape: &[usize]) -> Chunk {
    let value = if dtype.is_float() { f64::NAN } else { 0.0 };
    Chunk::from(ArrayD::from_elem(IxDyn(shape), value)).cast(dtype)
}

/// `chunk` in an array of `shape` (at least as large), the rest the fill value.
fn pad(chunk: &Chunk, shape: &[usize]) -> std::result::Result<Chunk, String> {
    if chunk.shape() == shape {
        return Ok(chunk.clone());
    }
    if chunk.ndim() != shape.len() || chunk.shape().iter().zip(shape).any(|(c, s)| c > s) {
        return Err(format!(
            "a chunk of {:?} in one of {shape:?}",
            chunk.shape()
        ));
    }
    let mut out = filled(chunk.dtype(), shape);
    place(&mut out, chunk, &vec![0; shape.len()]);
    Ok(out)
}

/// An array's metadata (`zarr.json`): uncompressed, regular chunks, `/`-separated keys.
fn array_metadata(
    shape: &[usize],
    chunk_shape: &[usize],
    dtype: DType,
    dimensions: &[String],
    attributes: &Value,
) -> Value {
    let bytes = if dtype.size() > 1 {
        json!({"name": "bytes", "configuration": {"endian": "little"}})
    } else {
        json!({"name": "bytes"})
    };
    json!({
        "zarr_format": 3,
        "node_type": "array",
        "shape": shape,
        "data_type": dtype.name(),
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunk_shape}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": fill_value(dtype),
        "codecs": [bytes],
        "attributes": attributes,
        "dimension_names": dimensions,
    })
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("plain JSON values");
    write_atomically(path, text.as_bytes())
}

/// One array over time in a Zarr v3 group, written as the timesteps come.
pub struct ZarrSeries {
    /// The group's directory (absolute).
    dir: PathBuf,
    name: String,
    shape: Vec<usize>,
    chunk_shape: Vec<usize>,
    dtype: DType,
    dimensions: Vec<String>,
    attributes: Value,
    timesteps: Vec<i64>,
}

impl ZarrSeries {
    /// A new store at `dir` (a directory, created; `.zarr` by convention) for arrays
    /// shaped and chunked like `like`, named `name`, with dimension names `time` then
    /// `dimensions` and the array's `attributes` (e.g. `{"units": "°C"}`). `like`'s
    /// chunks must be regular (all of one shape but the last along each axis).
    pub fn create(
        dir: &Path,
        name: &str,
        like: &Array,
        dimensions: &[&str],
        attributes: Value,
    ) -> Result<ZarrSeries> {
        if name.is_empty() || name == "time" || name.contains(['/', '\\']) || name.starts_with('.')
        {
            return Err(SaveError::Invalid(format!(
                "`{name}` cannot name the array"
            )));
        }
        if dimensions.len() != like.ndim() || dimensions.contains(&"time") {
            return Err(SaveError::Invalid(format!(
                "{dimensions:?} cannot name the dimensions of a {}-d array over time",
                like.ndim()
            )));
        }
        let chunk_shape: Vec<usize> = like.chunks().iter().map(|c| c[0]).collect();
        let irregular = like.chunks().iter().zip(&chunk_shape).any(|(axis, &size)| {
            let (last, rest) = axis.split_last().expect("a chunk per axis");
            rest.iter().any(|&c| c != size) || *last > size
        });
        if irregular {
            return Err(SaveError::Invalid(format!(
                "Zarr needs regular chunks, not {:?} (rechunk first)",
                like.chunks()
            )));
        }
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let dir = std::fs::canonicalize(dir).map_err(io_error(dir))?;
        let group = json!({"zarr_format": 3, "node_type": "group", "attributes": {}});
        write_json(&dir.join("zarr.json"), &group)?;
        let series = ZarrSeries {
            dir,
            name: name.to_string(),
            shape: like.shape().to_vec(),
            chunk_shape,
            dtype: like.dtype(),
            dimensions: std::iter::once("time")
                .chain(dimensions.iter().copied())
                .map(String::from)
                .collect(),
            attributes,
            timesteps: Vec::new(),
        };
        series.write_metadata()?;
        Ok(series)
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The timesteps written so far.
    pub fn timesteps(&self) -> &[i64] {
        &self.timesteps
    }

    fn write_metadata(&self) -> Result<()> {
        let steps = self.timesteps.len();
        let shape: Vec<usize> = std::iter::once(steps)
            .chain(self.shape.iter().copied())
            .collect();
        let chunks: Vec<usize> = std::iter::once(1)
            .chain(self.chunk_shape.iter().copied())
            .collect();
        let array = array_metadata(
            &shape,
            &chunks,
            self.dtype,
            &self.dimensions,
            &self.attributes,
        );
        write_json(&self.dir.join(&self.name).join("zarr.json"), &array)?;
        let time = array_metadata(
            &[steps],
            &[1],
            DType::I64,
            &["time".to_string()],
            &json!({"long_name": "timestep"}),
        );
        write_json(&self.dir.join("time").join("zarr.json"), &time)
    }

    /// Appends `field` (shaped, chunked and typed as at creation) as `timestep`, later
    /// than the last: each chunk is written by a task where it is, through `runner`.
    pub fn append(&mut self, runner: &dyn GraphRunner, timestep: i64, field: &Array) -> Result<()> {
        if field.shape() != self.shape || field.dtype() != self.dtype {
            return Err(SaveError::Invalid(format!(
                "a {} array of {:?} in a series of {} arrays of {:?}",
                field.dtype(),
                field.shape(),
                self.dtype,
                self.shape
            )));
        }
        if let Some(&last) = self.timesteps.last()
            && timestep <= last
        {
            return Err(SaveError::Invalid(format!(
                "timestep {timestep} after {last}: timesteps must increase"
            )));
        }
        let index = self.timesteps.len();
        let grid = field.grid();
        let mut written = Vec::with_capacity(grid.num_chunks());
        let mut expected = Vec::with_capacity(grid.num_chunks());
        for position in grid.positions() {
            let offset = grid.chunk_offset(&position);
            let shape = grid.chunk_shape(&position);
            if shape.iter().zip(&self.chunk_shape).any(|(s, c)| s > c) {
                return Err(SaveError::Invalid(format!(
                    "chunks {:?}, not those of the series ({:?})",
                    field.chunks(),
                    self.chunk_shape
                )));
            }
            // The chunk at `position`, whose task runs where it is: a slice of it.
            let region: Vec<SliceArg> = offset
                .iter()
                .zip(&shape)
                .map(|(&o, &s)| SliceArg::range(o as isize, (o + s) as isize))
                .collect();
            let chunk = field.slice(&region)?;
            let mut path = self.dir.join(&self.name).join("c").join(index.to_string());
            for p in &position {
                path.push(p.to_string());
            }
            let target = ChunkTarget {
                path,
                chunk_shape: self.chunk_shape.clone(),
            };
            let params = serde_json::to_vec(&target).expect("plain values");
            let ones = Array::map_blocks(&[chunk], WRITE_CHUNK, params, DType::U8)?;
            written.push(ones.sum()?);
            expected.push(shape.iter().product::<usize>() as i64);
        }
        let counts = Array::stack(&written, 0)?
            .compute(runner)?
            .to_array::<i64>();
        if counts.iter().copied().ne(expected.iter().copied()) {
            return Err(SaveError::Invalid(format!(
                "wrote {counts} elements per chunk where {expected:?} were expected"
            )));
        }
        let time_chunk = self.dir.join("time").join("c").join(index.to_string());
        write_atomically(&time_chunk, &timestep.to_le_bytes())?;
        self.timesteps.push(timestep);
        self.write_metadata()
    }
}

/// An array read back from a Zarr v3 store.
#[derive(Debug, Clone, PartialEq)]
pub struct ZarrArray {
    pub data: Chunk,
    pub dimension_names: Vec<String>,
    pub attributes: Value,
}

/// Reads the uncompressed, regularly chunked Zarr v3 array at `dir` (as
/// [`ZarrSeries`] writes them) into this process; missing chunks read as the fill
/// value.
pub fn read_zarr(dir: &Path) -> Result<ZarrArray> {
    let meta_path = dir.join("zarr.json");
    let text = std::fs::read_to_string(&meta_path).map_err(io_error(&meta_path))?;
    let meta: Value =
        serde_json::from_str(&text).map_err(|e| format_error(&meta_path, e.to_string()))?;
    let bad = |what: &str| format_error(&meta_path, format!("not read: {what}"));
    let sizes = |v: &Value| -> Option<Vec<usize>> {
        v.as_array()?
            .iter()
            .map(|d| d.as_u64().map(|d| d as usize))
            .collect()
    };
    if meta["zarr_format"] != 3 || meta["node_type"] != "array" {
        return Err(bad("a Zarr v3 array"));
    }
    let shape = sizes(&meta["shape"]).ok_or_else(|| bad("shape"))?;
    let chunk_shape = sizes(&meta["chunk_grid"]["configuration"]["chunk_shape"])
        .filter(|c| meta["chunk_grid"]["name"] == "regular" && c.len() == shape.len())
        .ok_or_else(|| bad("a regular chunk grid"))?;
    let dtype = DType::ALL
        .into_iter()
        .find(|d| meta["data_type"] == d.name())
        .ok_or_else(|| bad("data_type"))?;
    let codecs = meta["codecs"].as_array().ok_or_else(|| bad("codecs"))?;
    let raw = matches!(&codecs[..], [c] if c["name"] == "bytes"
        && (dtype.size() == 1 || c["configuration"]["endian"] == "little"));
    let slashes = meta["chunk_key_encoding"]["name"] == "default"
        && meta["chunk_key_encoding"]["configuration"]["separator"] == "/";
    if !raw || !slashes {
        return Err(bad(
            "codecs other than little-endian bytes, or keys other than c/i/j",
        ));
    }
    let mut data = filled(dtype, &shape);
    let grid_shape: Vec<usize> = shape
        .iter()
        .zip(&chunk_shape)
        .map(|(&n, &c)| n.div_ceil(c.max(1)))
        .collect();
    let count: usize = grid_shape.iter().product();
    for index in 0..count {
        let mut rest = index;
        let mut position = vec![0; shape.len()];
        for axis in (0..shape.len()).rev() {
            position[axis] = rest % grid_shape[axis];
            rest /= grid_shape[axis];
        }
        let mut path = dir.join("c");
        for p in &position {
            path.push(p.to_string());
        }
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(&path)(e)),
        };
        let chunk = from_le_bytes(dtype, &chunk_shape, &bytes)
            .ok_or_else(|| format_error(&path, format!("not {chunk_shape:?} of {dtype}")))?;
        let start: Vec<usize> = position
            .iter()
            .zip(&chunk_shape)
            .map(|(p, c)| p * c)
            .collect();
        place(&mut data, &chunk, &start);
    }
    Ok(ZarrArray {
        data,
        dimension_names: meta["dimension_names"]
            .as_array()
            .map(|d| {
                d.iter()
                    .filter_map(|n| n.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        attributes: meta["attributes"].clone(),
    })
}

/// Copies the part of `chunk` that lies inside `data` when placed at `start`.
fn place(data: &mut Chunk, chunk: &Chunk, start: &[usize]) {
    fn copy<T: Copy>(data: &mut ArrayD<T>, chunk: &ArrayD<T>, start: &[usize]) {
        let end: Vec<usize> = (0..start.len())
            .map(|a| (start[a] + chunk.shape()[a]).min(data.shape()[a]))
            .collect();
        data.slice_each_axis_mut(|ax| Slice::from(start[ax.axis.index()]..end[ax.axis.index()]))
            .assign(&chunk.slice_each_axis(|ax| {
                let a = ax.axis.index();
                Slice::from(0..end[a] - start[a])
            }));
    }
    match (data, chunk) {
        (Chunk::Bool(d), Chunk::Bool(c)) => copy(d, c, start),
        (Chunk::U8(d), Chunk::U8(c)) => copy(d, c, start),
        (Chunk::I32(d), Chunk::I32(c)) => copy(d, c, start),
        (Chunk::I64(d), Chunk::I64(c)) => copy(d, c, start),
        (Chunk::F32(d), Chunk::F32(c)) => copy(d, c, start),
        (Chunk::F64(d), Chunk::F64(c)) => copy(d, c, start),
        _ => unreachable!("one dtype"),
    }
}
