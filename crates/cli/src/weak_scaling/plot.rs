//! `--plot FILE.png`: ms per iteration against nodes, both axes in log scale, as the
//! thesis draws its weak-scaling figures (a flat line is perfect weak scaling).

use super::ScalingReport;
use crate::demo::picture::{FONT, draw_error, register_font, write_png};
use plotters::prelude::*;
use std::path::Path;

const WIDTH: u32 = 900;
const HEIGHT: u32 = 600;
const LINE: RGBColor = RGBColor(200, 40, 40);

/// `lo..hi` of positive values widened by a factor of 1.5 each way (log axes).
fn log_range(values: impl Iterator<Item = f64>) -> Result<std::ops::Range<f64>, String> {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if hi <= 0.0 {
        return Err("nothing to plot: no positive value".into());
    }
    Ok(lo / 1.5..hi * 1.5)
}

/// A tick label of three significant digits at most: "0.25", "4.5", "120".
fn short(value: f64) -> String {
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else if value >= 1.0 {
        2
    } else {
        3
    };
    let text = format!("{value:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Draws `report` (one point per cluster size) as a PNG at `path`.
pub fn plot(report: &ScalingReport, path: &Path) -> Result<(), String> {
    let points: Vec<(f64, f64)> = report
        .points
        .iter()
        .map(|p| (p.nodes as f64, p.ms_per_iteration))
        .collect();
    let x_range = log_range(points.iter().map(|p| p.0))?;
    // Whole decades: plotters labels a log axis at powers of ten and their multiples.
    let y_range = log_range(points.iter().map(|p| p.1))?;
    let (lo, hi) = (y_range.start * 1.5, y_range.end / 1.5);
    let y_range = 10f64.powf(lo.log10().floor())..10f64.powf((hi * 1.01).log10().ceil());
    register_font()?;
    let title = format!(
        "weak scaling, {} ({} mode): {} chunks of {} per node",
        report.analysis.name(),
        match report.mode {
            super::Mode::Embedded => "embedded",
            super::Mode::Processes => "processes",
        },
        report.chunks_per_node,
        report.chunk
    );
    let mut pixels = vec![255u8; WIDTH as usize * HEIGHT as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 20))
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(x_range.log_scale(), y_range.log_scale())
            .map_err(draw_error)?;
        let x_tick = |v: &f64| format!("{v:.0}");
        let y_tick = |v: &f64| short(*v);
        chart
            .configure_mesh()
            .x_desc("nodes")
            .y_desc("ms per iteration")
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .x_labels(12)
            .y_labels(12)
            .x_label_formatter(&x_tick)
            .y_label_formatter(&y_tick)
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .map_err(draw_error)?;
        chart
            .draw_series(LineSeries::new(points.clone(), LINE.stroke_width(2)))
            .map_err(draw_error)?;
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 4, LINE.filled())))
            .map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    write_png(path, WIDTH, HEIGHT, &pixels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::picture::read_png;
    use crate::weak_scaling::{Analysis, Mode, ScalingPoint};

    fn point(nodes: usize, ms: f64) -> ScalingPoint {
        ScalingPoint {
            nodes,
            ms_per_iteration: ms,
            runs_ms_per_iteration: vec![ms],
            analysis_ms_per_iteration: ms,
            chunks_per_iteration: nodes * 40,
            chunks_per_s: 0.0,
            tasks_per_iteration: 0,
            tasks_per_s: 0.0,
            driver_cpu_ms_per_iteration: 0.0,
            producer_calls_cpu_ms_per_iteration: 0.0,
            process_cpu_ms_per_iteration: 0.0,
            peak_rss_bytes: None,
            hand_loop: None,
        }
    }

    fn report(points: Vec<ScalingPoint>) -> ScalingReport {
        ScalingReport {
            bench: "weak-scaling",
            mode: Mode::Embedded,
            analysis: Analysis::Mean,
            iterations: 230,
            measured: "20..220".into(),
            chunk: "10x10 f64".into(),
            chunks_per_node: 40,
            points,
        }
    }

    fn line_pixels(path: &Path) -> Vec<(usize, usize)> {
        let (width, height, pixels) = read_png(path);
        assert_eq!((width, height), (WIDTH, HEIGHT));
        let line = [LINE.0, LINE.1, LINE.2];
        pixels
            .iter()
            .enumerate()
            .filter(|(_, p)| **p == line)
            .map(|(i, _)| (i % width as usize, i / width as usize))
            .collect()
    }

    #[test]
    fn the_line_rises_with_the_time_per_iteration_on_log_axes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scaling.png");
        plot(
            &report(vec![point(16, 4.0), point(128, 25.0), point(1024, 240.0)]),
            &path,
        )
        .unwrap();
        let line = line_pixels(&path);
        assert!(line.len() > 200, "a line is drawn: {} pixels", line.len());
        // More nodes to the right, more time higher (smaller y): the leftmost line
        // pixels are below the rightmost ones.
        let left = line.iter().min_by_key(|p| p.0).unwrap();
        let right = line.iter().max_by_key(|p| p.0).unwrap();
        assert!(left.1 > right.1 + 200, "{left:?} then {right:?}");
        // Log x: 16 -> 128 and 128 -> 1024 are the same factor, so the middle point
        // is half way across.
        let middle = (left.0 + right.0) / 2;
        assert!(line.iter().any(|p| p.0.abs_diff(middle) <= 3));
    }

    #[test]
    fn tick_labels_keep_three_digits() {
        assert_eq!(short(240.4), "240");
        assert_eq!(short(25.25), "25.2");
        assert_eq!(short(4.0), "4");
        assert_eq!(short(0.125), "0.125");
    }

    #[test]
    fn one_size_plots_and_nothing_positive_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("one.png");
        plot(&report(vec![point(4, 2.5)]), &path).unwrap();
        assert!(!line_pixels(&path).is_empty(), "its point is drawn");
        let error = plot(&report(vec![]), &dir.path().join("none.png")).unwrap_err();
        assert!(error.contains("nothing to plot"), "{error}");
    }
}
