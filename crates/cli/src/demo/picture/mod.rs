//! The demo's pictures, drawn with plotters into an RGB buffer and written as PNG: a
//! field as a heat map with its colour bar, axes and title ([`field`]), and series over
//! time in stacked panels with labelled axes and legends ([`panels`]). Text is drawn
//! with the Go font bundled in `crates/cli/assets/fonts` (BSD licence, beside it), so
//! no system font library is needed.

mod curves;
mod field;

pub use curves::{Mark, Panel, Series, panels};
pub use field::{ColourRange, Field, field};

use plotters::style::{FontStyle, RGBColor};
use std::path::Path;
use std::sync::OnceLock;

/// The family name every text style of the pictures uses.
pub(crate) const FONT: &str = "sans-serif";

/// Registers the bundled font under [`FONT`] (once per process).
pub(crate) fn register_font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let bytes = include_bytes!("../../../assets/fonts/Go-Regular.ttf");
            plotters::style::register_font(FONT, FontStyle::Normal, bytes)
                .map_err(|_| "the bundled font is not a valid TrueType font".to_string())
        })
        .clone()
}

/// A drawing error as a message.
pub(crate) fn draw_error(e: impl std::fmt::Debug) -> String {
    format!("drawing: {e:?}")
}

/// Writes `pixels` (RGB, row by row) as a PNG.
pub(crate) fn write_png(path: &Path, width: u32, height: u32, pixels: &[u8]) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    writer
        .write_image_data(pixels)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Black → red → yellow → white, for `t` in [0, 1] (clamped; NaN is black).
pub fn heat_colour(t: f64) -> RGBColor {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let channel = |from: f64| (((t - from) * 3.0).clamp(0.0, 1.0) * 255.0).round() as u8;
    RGBColor(channel(0.0), channel(1.0 / 3.0), channel(2.0 / 3.0))
}

/// A tick label: as few digits as tell neighbouring ticks apart, scientific notation
/// for very large or very small magnitudes.
fn tick_label(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&magnitude) {
        format!("{value:.2e}")
    } else {
        let text = format!("{value:.3}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        if text == "-0" {
            "0".into()
        } else {
            text.into()
        }
    }
}

/// Reads a PNG written by [`write_png`]: width, height, RGB pixels.
#[cfg(test)]
pub(crate) fn read_png(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, pixels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_colour_map_runs_from_black_through_red_and_yellow_to_white() {
        assert_eq!(heat_colour(0.0), RGBColor(0, 0, 0));
        assert_eq!(heat_colour(1.0 / 3.0), RGBColor(255, 0, 0));
        assert_eq!(heat_colour(2.0 / 3.0), RGBColor(255, 255, 0));
        assert_eq!(heat_colour(1.0), RGBColor(255, 255, 255));
        assert_eq!(heat_colour(f64::NAN), RGBColor(0, 0, 0));
        assert_eq!(heat_colour(7.0), RGBColor(255, 255, 255), "clamped");
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick_label(0.0), "0");
        assert_eq!(tick_label(50.0), "50");
        assert_eq!(tick_label(12.5), "12.5");
        assert_eq!(tick_label(-0.0001), "-1.00e-4");
        assert_eq!(tick_label(250_000.0), "2.50e5");
        assert_eq!(tick_label(0.1 + 0.2), "0.3");
    }
}
