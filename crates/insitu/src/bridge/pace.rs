//! The bridge's waits, each bounded: for room to publish (back-pressure), for the
//! analytics to be done with the bridge's chunks, for a steering value. A waiting rank
//! waits on the bridge until a notice of the coordinator changes its state (no
//! question asked again and again), or until its bound passes.

use super::state::{Answer, BridgeState, Room};
use super::{Bridge, Held};
#[cfg(doc)]
use crate::error::InsituError;
use crate::error::Result;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

impl Bridge {
    /// Waits until a notice changes the state, or `timeout` passes. On a compute thread
    /// (a rank running as a task), the thread's queue is handed over first, so that the
    /// inbox's call that brings the notice is not queued behind the wait.
    fn wait_for_news<'a>(
        &'a self,
        state: MutexGuard<'a, BridgeState<Held>>,
        timeout: Duration,
    ) -> MutexGuard<'a, BridgeState<Held>> {
        doreisa_core::runtime::get::blocking(|| {
            self.shared
                .changed
                .wait_timeout(state, timeout)
                .unwrap_or_else(|e| e.into_inner())
                .0
        })
    }

    /// Whether timestep `timestep` may be published now: waits while the analytics is
    /// too far behind (`Block`), up to the bridge's timeout, then fails (and the
    /// bridge's chunks are dropped without waiting until the analytics moves again);
    /// or says no (`DropNewest`), or has the analytics skip its oldest timesteps
    /// (`DropOldest`). Says no once the analytics stopped. No question is asked on
    /// the way: the coordinator tells the bridge when the analytics moves.
    pub(crate) fn room_for(&self, timestep: i64) -> Result<bool> {
        let mut state = self.lock();
        let mut deadline = None;
        let room = loop {
            match state.room(timestep) {
                Room::Go => break true,
                Room::Drop => break false,
                Room::Wait => {
                    let now = Instant::now();
                    let deadline = *deadline.get_or_insert(now + self.options.timeout);
                    if now >= deadline {
                        let error = state.waited_in_vain(timestep, self.options.timeout);
                        tracing::error!(%error, "the analytics does not catch up");
                        drop(state);
                        self.flush()?;
                        return Err(error);
                    }
                    state = self.wait_for_news(state, deadline - now);
                }
            }
        };
        drop(state);
        self.flush()?;
        Ok(room)
    }

    /// Waits (up to `wait`) until nothing needs this bridge's chunks any more: the
    /// analytics finished `timestep`, or stopped, or is gone (its process ended).
    /// `false` if the time ran out first. A rank whose chunks live in its own process
    /// waits so before it exits, or the analytics would lose them.
    pub(crate) fn wait_analytics(&self, timestep: i64, wait: Duration) -> Result<bool> {
        let deadline = Instant::now() + wait;
        // Asked once: the analytics may be gone already, or past the timestep.
        match self.link.progress(wait.min(self.options.timeout)) {
            Ok(progress) if progress.past(timestep) => return Ok(true),
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "the analytics is gone");
                return Ok(true);
            }
        }
        let mut state = self.lock();
        loop {
            if state.progress().past(timestep) {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            state = self.wait_for_news(state, deadline - now);
        }
    }

    /// The steering value `key` set for `timestep` (the latest one with `None`, asked
    /// now). With `wait`, waits up to that long until the analytics set it for
    /// `timestep` or a later one, or stopped: the ranks of this bridge share one
    /// question, answered by a notice. `None` when there is none. A value not known
    /// here fails with [`InsituError::AnalyticsLost`] once the analytics is gone.
    pub(crate) fn feedback(
        &self,
        key: &str,
        timestep: Option<i64>,
        wait: Option<Duration>,
    ) -> Result<Option<Vec<u8>>> {
        let Some(timestep) = timestep else {
            self.lock().check_analytics()?;
            let found = self.link.feedback(key, None, self.options.timeout)?;
            return Ok(found.map(|(_, value)| value));
        };
        let Some(wait) = wait else {
            if let Some(known) = self.lock().feedback_known(key, timestep) {
                return Ok(known);
            }
            self.lock().check_analytics()?;
            let found = self
                .link
                .feedback(key, Some(timestep), self.options.timeout)?;
            let value = found.map(|(_, value)| value);
            if value.is_some() {
                // A value set never changes: the bridge's other ranks read it here.
                self.lock()
                    .on_feedback(key.to_string(), timestep, value.clone());
            }
            return Ok(value);
        };
        let deadline = Instant::now() + wait;
        loop {
            if let Answer::Known(value) = self.act(|s| s.watch_feedback(key, timestep))? {
                return Ok(value);
            }
            let state = self.lock();
            if let Some(value) = state.feedback_known(key, timestep) {
                return Ok(value);
            }
            state.check_analytics()?;
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            drop(self.wait_for_news(state, deadline - now));
        }
    }
}
