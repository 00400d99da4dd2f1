//! A 2-D field as a heat map: one colour per cell, axes in cell units (row 0 at the
//! top, as the array is indexed), a title with the array's name, units and timestep,
//! and a colour bar with its scale. The colours span the field's own range unless a
//! fixed range is asked for; a fixed range that the field exceeds is said under the
//! colour bar.

use super::{FONT, draw_error, heat_colour, register_font, tick_label, write_png};
use plotters::prelude::*;
use std::path::Path;
use std::str::FromStr;

/// Which values the colours span.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColourRange {
    /// From the field's smallest to its largest finite value.
    Data,
    /// From `low` to `high`: values beyond get the end colours.
    Fixed { low: f64, high: f64 },
}

impl FromStr for ColourRange {
    type Err = String;

    /// `data`, or `LOW:HIGH` with LOW < HIGH.
    fn from_str(text: &str) -> Result<Self, String> {
        if text == "data" {
            return Ok(ColourRange::Data);
        }
        let bad = || format!("`{text}`: a colour range is `data` or LOW:HIGH, e.g. 0:75");
        let (low, high) = text.split_once(':').ok_or_else(bad)?;
        let low: f64 = low.trim().parse().map_err(|_| bad())?;
        let high: f64 = high.trim().parse().map_err(|_| bad())?;
        if !(low.is_finite() && high.is_finite() && low < high) {
            return Err(bad());
        }
        Ok(ColourRange::Fixed { low, high })
    }
}

/// A field to draw: `rows × cols` values, row-major.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    pub name: &'a str,
    pub units: &'a str,
    pub timestep: i64,
    pub rows: usize,
    pub cols: usize,
    pub values: &'a [f64],
    pub range: ColourRange,
}

impl Field<'_> {
    /// The smallest and largest finite values, if any.
    fn data_bounds(&self) -> Option<(f64, f64)> {
        let finite = self.values.iter().copied().filter(|v| v.is_finite());
        finite.fold(None, |bounds, v| match bounds {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
    }

    /// The values the colours run between (never an empty span).
    pub fn colour_bounds(&self) -> (f64, f64) {
        match self.range {
            ColourRange::Fixed { low, high } => (low, high),
            ColourRange::Data => match self.data_bounds() {
                Some((lo, hi)) if hi > lo => (lo, hi),
                Some((v, _)) => (v - 0.5, v + 0.5),
                None => (0.0, 1.0),
            },
        }
    }

    /// What the colour bar says about its range.
    fn range_note(&self) -> String {
        match (self.range, self.data_bounds()) {
            (ColourRange::Data, Some((lo, hi))) => {
                format!("colours: data, {} to {}", tick_label(lo), tick_label(hi))
            }
            (ColourRange::Data, None) => "colours: no finite value".into(),
            (ColourRange::Fixed { low, high }, Some((lo, hi))) if lo < low || hi > high => {
                format!(
                    "fixed range; data {} to {}: clipped",
                    tick_label(lo),
                    tick_label(hi)
                )
            }
            (ColourRange::Fixed { .. }, _) => "colours: fixed range".into(),
        }
    }
}

/// Plot area width in pixels; the height follows the field's aspect.
const PLOT_WIDTH: usize = 560;
/// Room for the y axis' ticks and label, the title, the x axis, the colour bar.
const LEFT: usize = 80;
const TOP: usize = 50;
const BOTTOM: usize = 60;
const BAR: usize = 190;

/// Draws `field` as a PNG at `path`.
pub fn field(path: &Path, field: &Field<'_>) -> Result<(), String> {
    let (rows, cols) = (field.rows, field.cols);
    if rows == 0 || cols == 0 || field.values.len() != rows * cols {
        return Err(format!(
            "a {rows}x{cols} field with {} values",
            field.values.len()
        ));
    }
    register_font()?;
    let plot_height = (PLOT_WIDTH * rows / cols).clamp(120, 1200);
    let (width, height) = (
        (LEFT + PLOT_WIDTH + 20 + BAR) as u32,
        (TOP + plot_height + BOTTOM) as u32,
    );
    let mut pixels = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        let (left, right) = root.split_horizontally(width - BAR as u32);
        let title = format!(
            "{} ({}), timestep {}",
            field.name, field.units, field.timestep
        );
        let mut chart = ChartBuilder::on(&left)
            .caption(title, (FONT, 22))
            .margin(10)
            .margin_right(20)
            .x_label_area_size(BOTTOM as u32 - 10)
            .y_label_area_size(LEFT as u32 - 10)
            .build_cartesian_2d(0f64..cols as f64, rows as f64..0f64)
            .map_err(draw_error)?;
        let (x_pixels, y_pixels) = chart.plotting_area().get_pixel_range();
        paint_cells(&root, field, x_pixels, y_pixels.clone())?;
        let cell_label = |v: &f64| format!("{v:.0}");
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("x (cell)")
            .y_desc("y (cell)")
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .x_label_formatter(&cell_label)
            .y_label_formatter(&cell_label)
            .draw()
            .map_err(draw_error)?;
        colour_bar(&right, field, y_pixels, height as i32)?;
        root.present().map_err(draw_error)?;
    }
    write_png(path, width, height, &pixels)
}

/// Gives each pixel of the plot area (`x_pixels` × `y_pixels`, in the canvas'
/// coordinates) the colour of the cell under it.
fn paint_cells<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    field: &Field<'_>,
    x_pixels: std::ops::Range<i32>,
    y_pixels: std::ops::Range<i32>,
) -> Result<(), String> {
    let (low, high) = field.colour_bounds();
    let (w, h) = (x_pixels.len().max(1), y_pixels.len().max(1));
    for (py, y) in y_pixels.enumerate() {
        let row = (py * field.rows / h).min(field.rows - 1);
        for (px, x) in x_pixels.clone().enumerate() {
            let col = (px * field.cols / w).min(field.cols - 1);
            let value = field.values[row * field.cols + col];
            let colour = heat_colour((value - low) / (high - low));
            root.draw_pixel((x, y), &colour).map_err(draw_error)?;
        }
    }
    Ok(())
}

/// The colour bar beside the plot area (`y_pixels` tall, in the canvas' coordinates),
/// its scale on the right, the units along it, and the range note below.
fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    field: &Field<'_>,
    y_pixels: std::ops::Range<i32>,
    height: i32,
) -> Result<(), String> {
    let (low, high) = field.colour_bounds();
    let mut bar = ChartBuilder::on(area)
        .margin_top(y_pixels.start)
        .margin_bottom(height - y_pixels.end)
        .margin_left(10)
        .margin_right(40)
        .right_y_label_area_size(100)
        .build_cartesian_2d(0f64..1f64, low..high)
        .map_err(draw_error)?;
    const STEPS: usize = 256;
    let step = (high - low) / STEPS as f64;
    bar.draw_series((0..STEPS).map(|i| {
        let from = low + i as f64 * step;
        let colour = heat_colour((i as f64 + 0.5) / STEPS as f64);
        Rectangle::new([(0.0, from), (1.0, from + step)], colour.filled())
    }))
    .map_err(draw_error)?;
    let tick = |v: &f64| tick_label(*v);
    bar.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(8)
        .y_desc(format!("{} ({})", field.name, field.units))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .y_label_formatter(&tick)
        .draw()
        .map_err(draw_error)?;
    area.draw(&Text::new(
        field.range_note(),
        (0, y_pixels.end + 22),
        (FONT, 13),
    ))
    .map_err(draw_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::read_png;
    use super::*;

    /// How many pixels have exactly `colour`.
    fn count(pixels: &[[u8; 3]], colour: [u8; 3]) -> usize {
        pixels.iter().filter(|p| **p == colour).count()
    }

    #[test]
    fn the_picture_spans_the_colour_range_with_a_title_and_colour_bar() {
        let dir = tempfile::tempdir().unwrap();
        // Four quarters, 0 to 3: with the data's range 1 is red, 2 yellow, 3 white.
        let values = [0.0, 1.0, 2.0, 3.0];
        let picture = |range, name: &str| {
            let path = dir.path().join(name);
            let quarters = Field {
                name: "temperature",
                units: "°C",
                timestep: 7,
                rows: 2,
                cols: 2,
                values: &values,
                range,
            };
            field(&path, &quarters).unwrap();
            read_png(&path)
        };
        let (width, height, data) = picture(ColourRange::Data, "data.png");
        assert_eq!((width, height), (850, 670), "a square field: a square plot");
        let quarter = (PLOT_WIDTH - 10) * (PLOT_WIDTH - 10) / 4;
        assert!(count(&data, [0, 0, 0]) > quarter, "0 is black");
        assert!(count(&data, [255, 0, 0]) > quarter, "1 is red");
        assert!(count(&data, [255, 255, 0]) > quarter, "2 is yellow");
        // The title (top rows) and the colour bar's scale (right) have text.
        let dark = |p: &[u8; 3]| p.iter().all(|&c| c < 120);
        let title = &data[..40 * width as usize];
        assert!(title.iter().filter(|p| dark(p)).count() > 100, "a title");
        let scale = data
            .chunks_exact(width as usize)
            .flat_map(|row| &row[width as usize - 130..width as usize - 60])
            .filter(|p| dark(p))
            .count();
        assert!(scale > 100, "a scale");
        // A fixed range of 0 to 6: 2 is no longer yellow, nothing is white-hot.
        let fixed = ColourRange::Fixed {
            low: 0.0,
            high: 6.0,
        };
        let (_, _, fixed) = picture(fixed, "fixed.png");
        assert!(count(&fixed, [255, 255, 0]) < quarter / 10);
        assert!(count(&fixed, [255, 128, 0]) > quarter, "3 is orange");
    }

    #[test]
    fn a_field_of_the_wrong_size_is_refused() {
        let path = std::env::temp_dir().join("never-written.png");
        let bad = Field {
            name: "t",
            units: "K",
            timestep: 0,
            rows: 3,
            cols: 3,
            values: &[1.0; 8],
            range: ColourRange::Data,
        };
        assert!(
            field(&path, &bad)
                .unwrap_err()
                .contains("3x3 field with 8 values")
        );
        assert!(!path.exists());
    }

    fn field_of(values: &[f64], range: ColourRange) -> Field<'_> {
        Field {
            name: "t",
            units: "K",
            timestep: 3,
            rows: 1,
            cols: values.len(),
            values,
            range,
        }
    }

    #[test]
    fn colour_ranges_parse_or_are_refused() {
        assert_eq!("data".parse::<ColourRange>(), Ok(ColourRange::Data));
        assert_eq!(
            "0:75".parse::<ColourRange>(),
            Ok(ColourRange::Fixed {
                low: 0.0,
                high: 75.0
            })
        );
        assert_eq!(
            "-1.5: 2".parse::<ColourRange>(),
            Ok(ColourRange::Fixed {
                low: -1.5,
                high: 2.0
            })
        );
        for bad in ["", "5", "3:1", "1:1", "a:b", "0:inf", "nan:1"] {
            assert!(bad.parse::<ColourRange>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_data_range_spans_the_finite_values_and_is_never_empty() {
        let values = [3.0, f64::NAN, -2.0, 7.5, f64::INFINITY];
        assert_eq!(
            field_of(&values, ColourRange::Data).colour_bounds(),
            (-2.0, 7.5)
        );
        assert_eq!(
            field_of(&[4.0, 4.0], ColourRange::Data).colour_bounds(),
            (3.5, 4.5)
        );
        assert_eq!(
            field_of(&[f64::NAN], ColourRange::Data).colour_bounds(),
            (0.0, 1.0)
        );
        let fixed = ColourRange::Fixed {
            low: 0.0,
            high: 5.0,
        };
        assert_eq!(field_of(&values, fixed).colour_bounds(), (0.0, 5.0));
        assert!(field_of(&values, fixed).range_note().contains("clipped"));
        assert!(
            !field_of(&[1.0, 2.0], fixed)
                .range_note()
                .contains("clipped")
        );
    }
}
