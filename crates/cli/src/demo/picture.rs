//! The demo's pictures: the temperature field in a heat colour map, and curves of the
//! statistics over time. Written as PNG with the `png` crate.

use std::path::Path;

/// Black → red → yellow → white, for `t` in [0, 1].
fn heat_colour(t: f64) -> [u8; 3] {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let channel = |from: f64| (((t - from) * 3.0).clamp(0.0, 1.0) * 255.0) as u8;
    [channel(0.0), channel(1.0 / 3.0), channel(2.0 / 3.0)]
}

fn write_rgb(path: &Path, width: usize, height: usize, pixels: &[u8]) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width as u32, height as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    writer
        .write_image_data(pixels)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The field (`rows × cols`, row-major) with 0 black and `hottest` white.
pub fn field(
    path: &Path,
    rows: usize,
    cols: usize,
    values: &[f64],
    hottest: f64,
) -> Result<(), String> {
    let mut pixels = Vec::with_capacity(rows * cols * 3);
    for v in values {
        pixels.extend_from_slice(&heat_colour(v / hottest));
    }
    write_rgb(path, cols, rows, &pixels)
}

/// A curve to draw: its values (one per iteration) and colour. Each curve is scaled to
/// its own range.
pub struct Curve<'a> {
    pub values: &'a [f64],
    pub colour: [u8; 3],
}

/// Curves over iterations, with grey bars where `marks` are true (alerts).
pub fn curves(path: &Path, curves: &[Curve<'_>], marks: &[bool]) -> Result<(), String> {
    let (width, height, margin) = (800usize, 400usize, 20usize);
    let mut pixels = vec![255u8; width * height * 3];
    let mut put = |x: usize, y: usize, c: [u8; 3]| {
        if x < width && y < height {
            let at = (y * width + x) * 3;
            pixels[at..at + 3].copy_from_slice(&c);
        }
    };
    let steps = curves
        .iter()
        .map(|c| c.values.len())
        .max()
        .unwrap_or(0)
        .max(2);
    let x_of = |i: usize| margin + i * (width - 2 * margin) / (steps - 1);
    for (i, _) in marks.iter().enumerate().filter(|(_, m)| **m) {
        for y in margin..height - margin {
            put(x_of(i), y, [225, 225, 225]);
        }
    }
    for x in margin..width - margin {
        put(x, height - margin, [0, 0, 0]);
    }
    for y in margin..height - margin {
        put(margin, y, [0, 0, 0]);
    }
    for curve in curves {
        let finite = curve.values.iter().copied().filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let span = if hi > lo { hi - lo } else { 1.0 };
        let y_of = |v: f64| {
            let t = ((v - lo) / span).clamp(0.0, 1.0);
            height - margin - (t * (height - 2 * margin - 1) as f64) as usize
        };
        let points: Vec<(usize, usize)> = curve
            .values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, &v)| (x_of(i), y_of(v)))
            .collect();
        for pair in points.windows(2) {
            let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
            let n = x1.abs_diff(x0).max(y1.abs_diff(y0)).max(1);
            for k in 0..=n {
                let x = x0 as f64 + (x1 as f64 - x0 as f64) * k as f64 / n as f64;
                let y = y0 as f64 + (y1 as f64 - y0 as f64) * k as f64 / n as f64;
                for dy in 0..2 {
                    put(x as usize, y as usize + dy, curve.colour);
                }
            }
        }
    }
    write_rgb(path, width, height, &pixels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_are_valid_pngs_of_the_right_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.png");
        let values: Vec<f64> = (0..12).map(|v| v as f64).collect();
        field(&path, 3, 4, &values, 11.0).unwrap();
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (4, 3));
        assert_eq!(&buf[..3], &[0, 0, 0], "coldest is black");
        assert_eq!(&buf[33..36], &[255, 255, 255], "hottest is white");

        let path = dir.path().join("c.png");
        let up: Vec<f64> = (0..50).map(|v| v as f64).collect();
        let curve = Curve {
            values: &up,
            colour: [200, 0, 0],
        };
        curves(&path, &[curve], &[false; 50]).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 100);
    }
}
