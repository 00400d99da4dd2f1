//! The rows the demo keeps for its summary, in bounded memory however long it runs:
//! the statistics picture gets evenly spaced rows (at most [`PLOTTED_ROWS`], every
//! other one dropped and the spacing doubled when full), and the figures the summary
//! checks (rows seen, the worst heat imbalance, alerts) are kept over every row. Only
//! `--save`, which writes a row per iteration to a file, keeps them all.

use super::Row;

/// Rows kept for the picture (it is 800 pixels wide).
pub const PLOTTED_ROWS: usize = 2048;

/// The demo's rows, summed up and downsampled.
#[derive(Debug)]
pub struct History {
    capacity: usize,
    /// Rows kept: those whose number is a multiple of `stride`.
    stride: u64,
    kept: Vec<Row>,
    /// The newest row (plotted last, wherever it falls).
    last: Option<Row>,
    /// An alert among the rows dropped since the last one kept (shown at the next).
    pending_alert: bool,
    seen: u64,
    alerts: u64,
    worst_imbalance: f64,
    /// Every row, when they are all asked for.
    every: Option<Vec<Row>>,
}

impl Default for History {
    fn default() -> Self {
        History::new(false)
    }
}

impl History {
    /// A history plotting at most [`PLOTTED_ROWS`] rows, and keeping every row too if
    /// `keep_every_row`.
    pub fn new(keep_every_row: bool) -> Self {
        History {
            every: keep_every_row.then(Vec::new),
            ..History::with_capacity(PLOTTED_ROWS)
        }
    }

    /// A history plotting at most `capacity` (at least 2) rows.
    pub fn with_capacity(capacity: usize) -> Self {
        History {
            every: None,
            capacity: capacity.max(2),
            stride: 1,
            kept: Vec::new(),
            last: None,
            pending_alert: false,
            seen: 0,
            alerts: 0,
            worst_imbalance: 0.0,
        }
    }

    /// The next row.
    pub fn push(&mut self, row: Row) {
        if let Some(imbalance) = row.imbalance {
            let relative = imbalance.abs() / row.total.abs().max(1.0);
            self.worst_imbalance = self.worst_imbalance.max(relative);
        }
        self.alerts += u64::from(row.alert);
        if let Some(every) = &mut self.every {
            every.push(row);
        }
        let number = self.seen;
        self.seen += 1;
        self.last = Some(row);
        if number.is_multiple_of(self.stride) {
            // A dropped alert still shows, at the next row kept.
            let alert = row.alert || std::mem::take(&mut self.pending_alert);
            self.kept.push(Row { alert, ..row });
        } else {
            self.pending_alert |= row.alert;
        }
        if self.kept.len() > self.capacity {
            let mut pairs = std::mem::take(&mut self.kept).into_iter();
            while let Some(mut row) = pairs.next() {
                if let Some(dropped) = pairs.next() {
                    row.alert |= dropped.alert;
                }
                self.kept.push(row);
            }
            self.stride *= 2;
        }
    }

    /// The rows to plot, oldest first, the newest last.
    pub fn plotted(&self) -> Vec<Row> {
        let mut rows = self.kept.clone();
        if let Some(last) = self.last
            && rows.last().map(|r| r.timestep) != Some(last.timestep)
        {
            rows.push(Row {
                alert: self.pending_alert,
                ..last
            });
        }
        rows
    }

    /// Every row, if they were asked for.
    pub fn every_row(&self) -> Option<&[Row]> {
        self.every.as_deref()
    }

    /// Rows pushed so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Rows with an alert.
    pub fn alerts(&self) -> u64 {
        self.alerts
    }

    /// The largest heat imbalance relative to the total heat, over every row.
    pub fn worst_imbalance(&self) -> f64 {
        self.worst_imbalance
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(timestep: i64) -> Row {
        Row {
            timestep,
            total: 100.0,
            imbalance: Some(if timestep == 777_777 { -5.0 } else { 1e-12 }),
            alert: timestep % 100_000 == 99_999,
            ..Row::default()
        }
    }

    #[test]
    fn a_million_rows_keep_a_bounded_evenly_spaced_history_and_exact_figures() {
        let mut history = History::with_capacity(1000);
        for t in 0..1_000_000 {
            history.push(row(t));
        }
        let plotted = history.plotted();
        assert!(plotted.len() <= 1001, "{}", plotted.len());
        assert!(plotted.len() > 500, "{}", plotted.len());
        assert_eq!(plotted[0].timestep, 0);
        assert_eq!(
            plotted.last().unwrap().timestep,
            999_999,
            "the newest row last"
        );
        let spacing = plotted[1].timestep - plotted[0].timestep;
        assert!(
            plotted[..plotted.len() - 1]
                .windows(2)
                .all(|w| w[1].timestep - w[0].timestep == spacing),
            "evenly spaced"
        );
        assert_eq!(history.seen(), 1_000_000);
        assert_eq!(history.alerts(), 10);
        assert_eq!(
            plotted.iter().filter(|r| r.alert).count(),
            10,
            "no alert lost from the picture"
        );
        assert_eq!(
            history.worst_imbalance(),
            0.05,
            "over every row, dropped or not"
        );
    }

    #[test]
    fn every_row_is_kept_only_when_asked_for() {
        let (mut plotted, mut saved) = (History::new(false), History::new(true));
        for t in 0..5000 {
            plotted.push(row(t));
            saved.push(row(t));
        }
        assert!(plotted.every_row().is_none());
        assert_eq!(saved.every_row().map(<[Row]>::len), Some(5000));
        assert!(saved.plotted().len() <= PLOTTED_ROWS + 1);
    }

    #[test]
    fn a_short_run_keeps_every_row() {
        let mut history = History::default();
        for t in 0..40 {
            history.push(row(t));
        }
        let timesteps: Vec<i64> = history.plotted().iter().map(|r| r.timestep).collect();
        assert_eq!(timesteps, (0..40).collect::<Vec<_>>());
    }
}
