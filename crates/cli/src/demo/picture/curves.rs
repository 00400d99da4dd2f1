//! Series over time, in panels stacked over one shared x axis: each panel has its own
//! labelled y axis and a legend beside it (never over the lines), so that quantities of
//! different units and scales each read on their own axis. Events (alerts) are
//! vertical lines in every panel, in the first panel's legend.

use super::{FONT, draw_error, register_font, tick_label, write_png};
use plotters::prelude::*;
use std::path::Path;

/// One line: a value per x.
pub struct Series<'a> {
    pub label: &'a str,
    pub values: &'a [f64],
    pub colour: RGBColor,
}

/// A panel: its y axis' label and its lines.
pub struct Panel<'a> {
    pub y_label: &'a str,
    pub series: Vec<Series<'a>>,
}

/// Events of one kind, drawn as vertical lines at their x.
pub struct Mark<'a> {
    pub label: &'a str,
    pub at: Vec<f64>,
    pub colour: RGBColor,
}

const WIDTH: u32 = 1000;
/// The legends' column, right of the panels.
const LEGEND: u32 = 250;
const PANEL_HEIGHT: u32 = 230;
const TITLE: u32 = 40;

/// `lo..hi` of the finite values, padded by 5 % (never empty).
fn padded_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let bounds = values.filter(|v| v.is_finite()).fold(None, |b, v| match b {
        None => Some((v, v)),
        Some((lo, hi)) => Some((f64::min(lo, v), f64::max(hi, v))),
    });
    match bounds {
        None => 0.0..1.0,
        Some((lo, hi)) if hi > lo => {
            let pad = 0.05 * (hi - lo);
            lo - pad..hi + pad
        }
        Some((v, _)) => v - 0.5 * v.abs().max(1.0)..v + 0.5 * v.abs().max(1.0),
    }
}

/// Draws `panels` over `x` (one value per series point) as a PNG at `path`.
pub fn panels(
    path: &Path,
    title: &str,
    x_label: &str,
    x: &[f64],
    panels: &[Panel<'_>],
    marks: &[Mark<'_>],
) -> Result<(), String> {
    if panels.is_empty() {
        return Err("a plot of no panel".into());
    }
    for series in panels.iter().flat_map(|p| &p.series) {
        if series.values.len() != x.len() {
            return Err(format!(
                "series {} has {} values for {} x values",
                series.label,
                series.values.len(),
                x.len()
            ));
        }
    }
    register_font()?;
    let height = TITLE + PANEL_HEIGHT * panels.len() as u32 + 20;
    let mut pixels = vec![255u8; WIDTH as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, height)).into_drawing_area();
        let root = root.titled(title, (FONT, 22)).map_err(draw_error)?;
        let x_range = padded_range(x.iter().copied());
        let x_range = match (x.first(), x.last()) {
            (Some(&first), Some(&last)) if last > first => first..last,
            _ => x_range,
        };
        let areas = root.split_evenly((panels.len(), 1));
        for (i, (panel, area)) in panels.iter().zip(&areas).enumerate() {
            let last = i + 1 == panels.len();
            let y_range = padded_range(panel.series.iter().flat_map(|s| s.values.iter().copied()));
            let (area, legend_area) = area.split_horizontally(WIDTH - LEGEND);
            let mut chart = ChartBuilder::on(&area)
                .margin_left(10)
                .margin_right(20)
                .margin_top(8)
                .x_label_area_size(if last { 50 } else { 28 })
                .y_label_area_size(95)
                .build_cartesian_2d(x_range.clone(), y_range.clone())
                .map_err(draw_error)?;
            let tick = |v: &f64| tick_label(*v);
            let x_tick = |v: &f64| format!("{v:.0}");
            let mut mesh = chart.configure_mesh();
            mesh.light_line_style(WHITE)
                .bold_line_style(RGBColor(230, 230, 230))
                .y_desc(panel.y_label)
                .label_style((FONT, 14))
                .axis_desc_style((FONT, 15))
                .y_labels(6)
                .y_label_formatter(&tick)
                .x_label_formatter(&x_tick);
            if last {
                mesh.x_desc(x_label);
            }
            mesh.draw().map_err(draw_error)?;
            let mut legend = Vec::new();
            for series in &panel.series {
                let points = x
                    .iter()
                    .zip(series.values)
                    .filter(|(_, v)| v.is_finite())
                    .map(|(&x, &v)| (x, v));
                chart
                    .draw_series(LineSeries::new(points, series.colour.stroke_width(2)))
                    .map_err(draw_error)?;
                legend.push((series.label, series.colour, Entry::Line));
            }
            for mark in marks {
                let lines = mark.at.iter().map(|&at| {
                    PathElement::new(
                        vec![(at, y_range.start), (at, y_range.end)],
                        mark.colour.stroke_width(1),
                    )
                });
                chart.draw_series(lines).map_err(draw_error)?;
                if i == 0 && !mark.at.is_empty() {
                    legend.push((mark.label, mark.colour, Entry::Event));
                }
            }
            draw_legend(&legend_area, &legend)?;
        }
        root.present().map_err(draw_error)?;
    }
    write_png(path, WIDTH, height, &pixels)
}

/// How a legend entry shows its colour.
#[derive(Clone, Copy)]
enum Entry {
    /// A horizontal line: a series.
    Line,
    /// A vertical line: events.
    Event,
}

/// A legend: one entry per line, from the top of `area`.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    entries: &[(&str, RGBColor, Entry)],
) -> Result<(), String> {
    for (i, (label, colour, entry)) in entries.iter().enumerate() {
        let y = 20 + 24 * i as i32;
        let sample = match entry {
            Entry::Line => vec![(0, y), (24, y)],
            Entry::Event => vec![(12, y - 8), (12, y + 8)],
        };
        area.draw(&PathElement::new(sample, colour.stroke_width(2)))
            .map_err(draw_error)?;
        let text = Text::new(label.to_string(), (32, y - 6), (FONT, 14));
        area.draw(&text).map_err(draw_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::read_png;
    use super::*;

    #[test]
    fn panels_stack_with_their_lines_and_legends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.png");
        let x: Vec<f64> = (0..50).map(f64::from).collect();
        let up: Vec<f64> = x.iter().map(|v| v * v).collect();
        let down: Vec<f64> = x.iter().map(|v| -v).collect();
        let red = RGBColor(200, 0, 0);
        let blue = RGBColor(0, 0, 200);
        let panels = [
            Panel {
                y_label: "squares",
                series: vec![Series {
                    label: "x squared",
                    values: &up,
                    colour: red,
                }],
            },
            Panel {
                y_label: "opposites",
                series: vec![Series {
                    label: "minus x",
                    values: &down,
                    colour: blue,
                }],
            },
        ];
        let marks = [Mark {
            label: "event",
            at: vec![10.0, 20.0],
            colour: RGBColor(0, 160, 0),
        }];
        super::panels(&path, "title", "x", &x, &panels, &marks).unwrap();
        let (width, height, pixels) = read_png(&path);
        assert_eq!((width, height), (WIDTH, TITLE + 2 * PANEL_HEIGHT + 20));
        let rows: Vec<&[[u8; 3]]> = pixels.chunks_exact(width as usize).collect();
        let count = |rows: &[&[[u8; 3]]], colour: [u8; 3]| {
            rows.iter()
                .flat_map(|row| row.iter())
                .filter(|p| **p == colour)
                .count()
        };
        let middle = (TITLE + PANEL_HEIGHT) as usize;
        let (top, bottom) = rows.split_at(middle);
        assert!(
            count(top, [200, 0, 0]) > 300,
            "the red line in the top panel"
        );
        assert_eq!(count(bottom, [200, 0, 0]), 0, "and only there");
        assert!(count(bottom, [0, 0, 200]) > 300, "the blue line below");
        assert!(count(bottom, [0, 160, 0]) > 100, "events in every panel");
        // The legend column has text.
        let legend = top
            .iter()
            .flat_map(|row| &row[(WIDTH - LEGEND) as usize + 30..])
            .filter(|p| p.iter().all(|&c| c < 120))
            .count();
        assert!(legend > 50, "legend text");
        let short = [Panel {
            y_label: "y",
            series: vec![Series {
                label: "short",
                values: &up[..3],
                colour: red,
            }],
        }];
        assert!(super::panels(&path, "t", "x", &x, &short, &[]).is_err());
    }

    #[test]
    fn ranges_pad_the_finite_values_and_are_never_empty() {
        assert_eq!(padded_range([0.0, 20.0].into_iter()), -1.0..21.0);
        assert_eq!(
            padded_range([f64::NAN, 0.0, f64::INFINITY, 40.0].into_iter()),
            -2.0..42.0
        );
        assert_eq!(padded_range([3.0].into_iter()), 1.5..4.5);
        assert_eq!(padded_range(std::iter::empty()), 0.0..1.0);
    }
}
