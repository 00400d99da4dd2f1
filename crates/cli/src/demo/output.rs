//! What the demo's analytics writes as the timesteps come: a picture of the field at a
//! few of them, and with `--save DIR` the same snapshots as `.npy` and the field every
//! `--save-every` iterations into the Zarr store `DIR/temperature.zarr` (written by
//! the nodes that hold the chunks).

use super::{DemoConfig, heat, picture};
use doreisa::array::Array;
use doreisa::insitu::{CallbackResult, Context};
use doreisa::save::{ZarrSeries, write_npy};
use serde_json::json;
use std::path::PathBuf;

/// The outputs of one run.
pub(super) struct Outputs {
    pictures: PathBuf,
    colour_range: picture::ColourRange,
    save: Option<PathBuf>,
    /// A snapshot (picture, .npy) every this many iterations, and at the last.
    snapshot_every: i64,
    /// The field into the Zarr store every this many iterations, and at the last.
    save_every: i64,
    last: i64,
    /// The Zarr store, made at the first timestep saved.
    series: Option<ZarrSeries>,
}

impl Outputs {
    pub(super) fn new(config: &DemoConfig) -> Outputs {
        Outputs {
            pictures: config.output.clone(),
            colour_range: config.colour_range,
            save: config.save.clone(),
            snapshot_every: (config.iterations / 4).max(1),
            save_every: if config.save_every > 0 {
                config.save_every
            } else {
                (config.iterations / 20).max(1)
            },
            last: config.iterations - 1,
            series: None,
        }
    }

    /// Writes what is due at timestep `t`, whose field is `u`.
    pub(super) fn at(&mut self, ctx: &Context<'_>, u: &Array) -> CallbackResult {
        let t = ctx.timestep();
        if let Some(dir) = &self.save
            && (t % self.save_every == 0 || t == self.last)
        {
            let series = match &mut self.series {
                Some(series) => series,
                None => self.series.insert(ZarrSeries::create(
                    &dir.join("temperature.zarr"),
                    "temperature",
                    u,
                    &["y", "x"],
                    json!({"units": heat::UNITS, "long_name": "temperature"}),
                )?),
            };
            series.append(ctx.runner(), t, u)?;
        }
        if t % self.snapshot_every == 0 || t == self.last {
            let field = ctx.compute(u)?;
            if let Some(dir) = &self.save {
                write_npy(&dir.join(format!("temperature_{t:05}.npy")), &field)?;
            }
            let values = field.to_array::<f64>();
            let [rows, cols] = values.shape() else {
                return Err(format!("a field of shape {:?}", values.shape()).into());
            };
            let values: Vec<f64> = values.iter().copied().collect();
            let field = picture::Field {
                name: "temperature",
                units: heat::UNITS,
                timestep: t,
                rows: *rows,
                cols: *cols,
                values: &values,
                range: self.colour_range,
            };
            picture::field(
                &self.pictures.join(format!("temperature_{t:05}.png")),
                &field,
            )?;
        }
        Ok(())
    }
}
