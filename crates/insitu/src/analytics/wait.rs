//! What the analytics tells the simulation's bridges about itself (its progress, that
//! it stopped), and what it says when it waits for the simulation in vain: an array a
//! window reads that no rank declares, or no progress within its timeout (the
//! coordinator names the ranks and arrays it waits for).

use super::Analytics;
use crate::coordinator::state::Progress;
use crate::error::{InsituError, Result};
use crate::stall::Stall;
use doreisa_core::ObjectRef;
use std::sync::Arc;
use std::time::Duration;

/// How long the analytics waits, once it stopped, for the bridges to hear it.
const STOP_HEARD: Duration = Duration::from_secs(5);

impl Analytics {
    /// Tells the bridges how far the analytics got (through the coordinator).
    pub(super) fn set_progress(
        &self,
        progress: Progress,
    ) -> Option<ObjectRef<Vec<ObjectRef<bool>>>> {
        let driver = self.session.driver();
        let sent = self.session.coordinator().set_progress(driver, progress);
        sent.map_err(|e| {
            tracing::warn!(error = %e, "cannot tell the simulation how far the analytics got");
        })
        .ok()
    }

    /// Tells the bridges that the analytics stopped, and waits (a little) until they
    /// heard it: their ranks then stop waiting for it, and steering reads get their
    /// defaults. Calls to the coordinator run in order: once this one ran, every
    /// earlier one (steering values included) did.
    pub(super) fn stop(&self) {
        let stopped = self.set_progress(Progress {
            done: self.triggers.done(),
            running: false,
            stopped: true,
            ..Default::default()
        });
        let driver = self.session.driver();
        let Some(stopped) = stopped else {
            return;
        };
        match driver.get_timeout(&stopped, Some(STOP_HEARD)) {
            Ok(notices) if !notices.is_empty() => {
                if let Err(e) = driver.wait(&notices, notices.len(), STOP_HEARD) {
                    tracing::debug!(error = %e, "bridges did not all hear the analytics stop");
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell the simulation the analytics stopped")
            }
        }
    }

    /// Fails at the first timestep if a window reads an array no rank declared: it
    /// would never run (and the simulation would wait for it).
    pub(super) fn check_windows(&mut self, timestep: i64) -> Result<()> {
        if self.windows_checked {
            return Ok(());
        }
        self.windows_checked = true;
        match self.undeclared_windows().into_iter().next() {
            Some((callback, array)) => Err(InsituError::UndeclaredWindow {
                callback,
                array: array.to_string(),
                timestep,
            }),
            None => Ok(()),
        }
    }

    /// The arrays windows read that no rank declared, with the callback reading each.
    fn undeclared_windows(&self) -> Vec<(String, Arc<str>)> {
        let callbacks = self
            .triggers
            .windows()
            .map(|(callback, window)| (self.callbacks[callback].name.clone(), window));
        let prepared = self
            .preparation
            .iter()
            .flat_map(|p| p.windows.iter().map(|w| ("prepare".to_string(), w)));
        callbacks
            .chain(prepared)
            .filter(|(_, window)| !self.declared.contains(&window.array))
            .map(|(callback, window)| (callback, window.array.clone()))
            .collect()
    }

    /// The error of a run that waited `simulation_timeout` in vain: what it waits for,
    /// as the coordinator knows it.
    pub(super) fn stalled(&self) -> InsituError {
        let driver = self.session.driver();
        let asked = self.session.coordinator().stall(driver);
        let stall: doreisa_core::Result<Stall> =
            asked.and_then(|asked| driver.get_timeout(&asked, Some(self.timeout)));
        match stall {
            Ok(mut stall) => {
                stall.waited = self.simulation_timeout;
                let mut undeclared: Vec<String> = self
                    .undeclared_windows()
                    .into_iter()
                    .map(|(_, array)| array.to_string())
                    .collect();
                undeclared.sort();
                undeclared.dedup();
                stall.undeclared = undeclared;
                InsituError::Stalled(Box::new(stall))
            }
            Err(e) => InsituError::Runtime(e),
        }
    }
}
