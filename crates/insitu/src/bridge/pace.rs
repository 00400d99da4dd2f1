//! The bridge's questions to the coordinator: how far the analytics got (back-pressure
//! and its contract), whether the ranks may exit, and steering values.

use super::{Bridge, Delivery};
use crate::contract::Contract;
use crate::coordinator::state::Progress;
use crate::decl::AheadPolicy;
use crate::error::Result;
use std::time::{Duration, Instant};

impl Bridge {
    /// Keeps the analytics' progress; fetches its contract when a newer one exists.
    fn note_progress(&self, progress: Progress) -> Result<()> {
        let known = {
            let mut state = self.lock();
            state.progress = progress;
            state.contract.version
        };
        if progress.contract > known && self.options.delivery != Delivery::Reference {
            let asked = self.coordinator.contract(&self.worker)?;
            let contract: Contract = self.worker.get(&asked)?;
            let mut state = self.lock();
            if contract.version > state.contract.version {
                state.contract = contract;
            }
        }
        Ok(())
    }

    /// Whether timestep `timestep` may be published now: waits while the analytics is
    /// too far behind (`Block`), or says no (`DropNewest`), or has the analytics skip
    /// its oldest timesteps (`DropOldest`). While the last answer shows
    /// room to spare, it is refreshed in the background (no round trip on the publishing
    /// path); near the bound, or before the analytics runs, it is asked for at once.
    ///
    /// "Ahead" counts the timesteps up to `timestep` that this bridge published and
    /// the analytics has not done, not the difference of their numbers: a simulation
    /// may publish every 10th iteration, and timesteps may be any `i64`. A rank behind
    /// the bridge's other ranks is never held back by their later timesteps.
    pub(crate) fn room_for(&self, timestep: i64) -> Result<bool> {
        let max_ahead = usize::try_from(self.options.max_ahead).unwrap_or(0);
        self.lock().paced.insert(timestep);
        let ahead = |progress: Progress| {
            let mut state = self.lock();
            if let Some(done) = progress.done {
                state.paced.retain(|&t| t > done);
            }
            if !progress.running {
                // Once the analytics runs, only the newest of these can hold us back.
                while state.paced.len() > max_ahead + 1 {
                    state.paced.pop_first();
                }
            }
            state.paced.range(..=timestep).count()
        };
        self.collect_refresh()?;
        let cached = self.lock().progress;
        if cached.running && ahead(cached) < max_ahead {
            self.refresh(timestep)?;
            return Ok(true);
        }
        let mut pause = Duration::from_micros(50);
        loop {
            let progress = self.ask_progress()?;
            self.note_progress(progress)?;
            if !progress.running || ahead(progress) <= max_ahead {
                return Ok(true);
            }
            match self.options.policy {
                AheadPolicy::DropNewest => return Ok(false),
                AheadPolicy::DropOldest => {
                    // The analytics keeps the newest max_ahead + 1 up to this one.
                    let keep_from = self
                        .lock()
                        .paced
                        .range(..=timestep)
                        .rev()
                        .nth(max_ahead)
                        .copied()
                        .unwrap_or(timestep);
                    self.coordinator.skip_below(&self.worker, keep_from)?;
                    return Ok(true);
                }
                AheadPolicy::Block => {}
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(5));
        }
    }

    /// The analytics' progress, asked now (a round trip).
    fn ask_progress(&self) -> Result<Progress> {
        let asked = self.coordinator.progress(&self.worker)?;
        Ok(self.worker.get(&asked)?)
    }

    /// Asks for the analytics' progress in the background: one question at a time, and
    /// one per timestep of this bridge (not one per chunk).
    fn refresh(&self, timestep: i64) -> Result<()> {
        {
            let mut state = self.lock();
            if state.asked.is_some() || state.refreshed_for >= Some(timestep) {
                return Ok(());
            }
            state.refreshed_for = Some(timestep);
        }
        let asked = self.coordinator.progress(&self.worker)?;
        self.lock().asked = Some(asked);
        Ok(())
    }

    /// Takes the answer of a background question, if it arrived.
    fn collect_refresh(&self) -> Result<()> {
        let Some(asked) = self.lock().asked.take() else {
            return Ok(());
        };
        let ready = self
            .worker
            .wait(std::slice::from_ref(&asked), 1, Duration::ZERO)?;
        if ready.0.is_empty() {
            self.lock().asked = Some(asked);
        } else {
            let progress: Progress = self.worker.get(&asked)?;
            self.note_progress(progress)?;
        }
        Ok(())
    }

    /// Waits (up to `wait`) until nothing needs this bridge's chunks any more: the
    /// analytics finished `timestep`, or stopped, or is gone (its process ended).
    /// `false` if the time ran out first. A rank whose chunks live in its own process
    /// waits so before it exits, or the analytics would lose them.
    pub(crate) fn wait_analytics(&self, timestep: i64, wait: Duration) -> Result<bool> {
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_micros(200);
        loop {
            let progress = match self.ask_progress() {
                Ok(progress) => progress,
                Err(e) => {
                    tracing::debug!(error = %e, "the analytics is gone");
                    return Ok(true);
                }
            };
            if progress.past(timestep) {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// Asks the coordinator for steering value `key` at `timestep` (the latest one
    /// with `None`), waiting up to `wait` for the analytics to set one that recent.
    pub(crate) fn feedback(
        &self,
        key: &str,
        timestep: Option<i64>,
        wait: Option<Duration>,
    ) -> Result<Option<Vec<u8>>> {
        let deadline = wait.map(|w| Instant::now() + w);
        let mut pause = Duration::from_micros(100);
        loop {
            // The newest timestep set, asked first: if it is past `t` and `t` has no
            // value after it, the analytics skipped `t` (the default applies).
            let latest: Option<i64> = match (deadline, timestep) {
                (Some(_), Some(_)) => {
                    let latest = self
                        .coordinator
                        .feedback_latest(&self.worker, key.to_string())?;
                    self.worker.get(&latest)?
                }
                _ => None,
            };
            let asked = self
                .coordinator
                .feedback(&self.worker, key.to_string(), timestep)?;
            let found: Option<(i64, Vec<u8>)> = self.worker.get(&asked)?;
            if let Some((_, value)) = found {
                return Ok(Some(value));
            }
            let Some(deadline) = deadline else {
                return Ok(None);
            };
            if let (Some(t), Some(latest)) = (timestep, latest)
                && latest >= t
            {
                return Ok(None);
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(5));
        }
    }
}
