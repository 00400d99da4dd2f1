//! What the demo prints and keeps once the run is over: the table rows, the summary
//! and its checks, the statistics picture, and with `--save` the statistics as a
//! numpy record array.

use super::history::History;
use super::{DemoConfig, RankTimes, Row, heat, picture};
use doreisa::save::{Column, write_npy_records};
use plotters::style::RGBColor;
use std::path::Path;
use std::time::Duration;

pub(super) fn print_header() {
    println!(
        "{:>6} {:>10} {:>10} {:>14} {:>11} {:>11} {:>9}  alert",
        "iter", "mean", "max", "total heat", "imbalance", "max dT/dt", "source"
    );
}

pub(super) fn print_row(row: &Row) {
    let opt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.2e}"));
    println!(
        "{:>6} {:>10.4} {:>10.4} {:>14.4} {:>11} {:>11} {:>9.2}  {}",
        row.timestep,
        row.mean,
        row.max,
        row.total,
        opt(row.imbalance),
        opt(row.max_rate),
        row.injected,
        if row.alert {
            "HOT: source off"
        } else if row.restored {
            "cool: source on"
        } else {
            ""
        }
    );
}

/// Prints the summary, writes the statistics picture, and checks the physics.
pub(super) fn summarize(
    config: &DemoConfig,
    history: &History,
    times: &[RankTimes],
    elapsed: Duration,
    announcements: u64,
) -> Result<(), String> {
    statistics_picture(&config.output.join("statistics.png"), &history.plotted())?;
    if let Some(dir) = &config.save {
        let rows = history
            .every_row()
            .ok_or("the demo kept only some rows: cannot save them all")?;
        save_statistics(&dir.join("statistics.npy"), rows)?;
    }
    let publishing: Duration = times.iter().map(|t| t.publish.publishing).sum();
    let waiting: Duration = times.iter().map(|t| t.publish.waiting).sum();
    let total: Duration = times.iter().map(|t| t.total).sum();
    let iterations = config.iterations as f64;
    let per_iteration = total.as_secs_f64() / times.len().max(1) as f64 / iterations;
    let share = |d: Duration| 100.0 * d.as_secs_f64() / total.as_secs_f64().max(f64::MIN_POSITIVE);
    let alerts = history.alerts();
    let worst = history.worst_imbalance();
    println!();
    println!(
        "{} iterations analysed in {:.2} s ({:.2} ms per iteration)",
        history.seen(),
        elapsed.as_secs_f64(),
        1e3 * elapsed.as_secs_f64() / iterations,
    );
    println!(
        "simulation: {:.2} ms per iteration; publish {:.2} % of it, waiting for the analytics (back-pressure) {:.2} %",
        1e3 * per_iteration,
        share(publishing),
        share(waiting)
    );
    println!(
        "announcements: {announcements} messages to the coordinator, {:.2} per iteration over {} nodes",
        announcements as f64 / iterations,
        config.nodes
    );
    println!(
        "heat balance: largest relative imbalance {worst:.1e}; hot-spot alerts: {}",
        alerts
    );
    println!(
        "pictures: {} (temperature_*.png: the field; statistics.png: temperatures, total heat and source over the iterations)",
        config.output.display()
    );
    if let Some(dir) = &config.save {
        println!(
            "saved: {} (statistics.npy, temperature_*.npy, temperature.zarr: the field over time)",
            dir.display()
        );
    }
    if history.seen() != config.iterations as u64 {
        return Err(format!(
            "{} of {} iterations analysed",
            history.seen(),
            config.iterations
        ));
    }
    if worst > 1e-9 {
        return Err(format!(
            "heat is not conserved: relative imbalance {worst:.1e}"
        ));
    }
    Ok(())
}

/// The statistics over the iterations: temperatures, total heat and the source's heat,
/// each on its own axis, with the thermostat's switches marked.
fn statistics_picture(path: &Path, rows: &[Row]) -> Result<(), String> {
    let series = |f: fn(&Row) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let x = series(|r| r.timestep as f64);
    let (maxes, means) = (series(|r| r.max), series(|r| r.mean));
    let (totals, injected) = (series(|r| r.total), series(|r| r.injected));
    let at = |f: fn(&Row) -> bool| {
        rows.iter()
            .filter(|r| f(r))
            .map(|r| r.timestep as f64)
            .collect()
    };
    let temperature = format!("temperature ({})", heat::UNITS);
    let heat = format!("heat ({}·cell)", heat::UNITS);
    let panels = [
        picture::Panel {
            y_label: &temperature,
            series: vec![
                picture::Series {
                    label: "max",
                    values: &maxes,
                    colour: RGBColor(210, 40, 30),
                },
                picture::Series {
                    label: "mean",
                    values: &means,
                    colour: RGBColor(230, 140, 20),
                },
            ],
        },
        picture::Panel {
            y_label: &heat,
            series: vec![picture::Series {
                label: "total heat on the grid",
                values: &totals,
                colour: RGBColor(20, 150, 60),
            }],
        },
        picture::Panel {
            y_label: &heat,
            series: vec![picture::Series {
                label: "heat the source injects per iteration",
                values: &injected,
                colour: RGBColor(30, 90, 200),
            }],
        },
    ];
    let marks = [
        picture::Mark {
            label: "hot-spot alert: source off",
            at: at(|r| r.alert),
            colour: RGBColor(150, 150, 150),
        },
        picture::Mark {
            label: "cool again: source on",
            at: at(|r| r.restored),
            colour: RGBColor(120, 170, 230),
        },
    ];
    picture::panels(
        path,
        "heat diffusion: statistics per iteration",
        "iteration",
        &x,
        &panels,
        &marks,
    )
}

/// The rows as a numpy record array: `numpy.load(path)["max"]`.
fn save_statistics(path: &Path, rows: &[Row]) -> Result<(), String> {
    let float = |f: fn(&Row) -> f64| Column::F64(rows.iter().map(f).collect());
    let int = |f: fn(&Row) -> i64| Column::I64(rows.iter().map(f).collect());
    let columns = [
        ("timestep", int(|r| r.timestep)),
        ("mean", float(|r| r.mean)),
        ("max", float(|r| r.max)),
        ("total_heat", float(|r| r.total)),
        ("injected", float(|r| r.injected)),
        ("imbalance", float(|r| r.imbalance.unwrap_or(f64::NAN))),
        ("max_rate", float(|r| r.max_rate.unwrap_or(f64::NAN))),
        ("source_off", int(|r| i64::from(r.alert))),
        ("source_on", int(|r| i64::from(r.restored))),
    ];
    write_npy_records(path, &columns).map_err(|e| e.to_string())
}
