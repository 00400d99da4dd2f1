//! The analytics side: callbacks over windows of arrays, run as timesteps complete,
//! iteration preparation ahead of the data, and steering values for the simulation.
//!
//! [`Analytics::run`] consumes the session's events in order; the decisions (which
//! callbacks run at which timestep, with which windows, what may be released) are made
//! by [`Triggers`], plain state tested on its own.

use crate::contract::{ContractBuilder, Recording};
use crate::coordinator::state::{Event, Progress};
use crate::decl::{ArrayMeta, Trigger, Window};
use crate::error::{InsituError, Result};
use crate::session::Session;
use crate::triggers::Triggers;
use doreisa_array::Array;
use doreisa_sched::cluster::{ClusterRunner, Strategy};
use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

mod context;
mod wait;

pub use context::{Context, Steering};

/// What a callback returns: any error is reported with its timestep.
pub type CallbackResult<T = ()> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

type CallbackFn = Box<dyn FnMut(&mut Context<'_>) -> CallbackResult + Send>;
type PrepareFn = Box<dyn FnMut(&mut Context<'_>) -> CallbackResult<Box<dyn Any + Send>> + Send>;

/// The analytics tells the nodes which published chunks no window needs any more once
/// every this many timesteps (each time, one message per node): in the steady state of
/// a recurring analysis, whose graphs stand on the nodes, that is the only message from
/// the analytics to the nodes. The nodes keep up to this many timesteps minus one more
/// than the windows need.
const RELEASE_EVERY: usize = 4;

/// How the analytics runs.
#[derive(Debug, Clone)]
pub struct AnalyticsOptions {
    pub strategy: Strategy,
    /// A graph whose results do not arrive within this fails (a node died); so does a
    /// call to the session's actors.
    pub timeout: Duration,
    /// The run fails when the analytics makes no progress for this long while it waits
    /// for the simulation (from its start, then from each timestep done): a rank died,
    /// never started, or stopped publishing. The error names the ranks and arrays it
    /// waits for.
    pub simulation_timeout: Duration,
}

impl Default for AnalyticsOptions {
    fn default() -> Self {
        AnalyticsOptions {
            strategy: Strategy::Greedy,
            timeout: Duration::from_secs(120),
            simulation_timeout: Duration::from_secs(300),
        }
    }
}

struct Callback {
    name: String,
    run: CallbackFn,
}

struct Preparation {
    /// Its index in the contract builder.
    contract: usize,
    advance: i64,
    windows: Vec<Window>,
    run: PrepareFn,
    results: BTreeMap<i64, Box<dyn Any + Send>>,
    prepared_up_to: Option<i64>,
}

/// How a run ended.
#[derive(Debug, Default)]
pub struct Report {
    /// Timesteps at which at least one callback ran.
    pub timesteps: usize,
    /// Callback runs.
    pub calls: usize,
    /// Timesteps whose callbacks were skipped for a simulation too far ahead
    /// (`AheadPolicy::DropOldest`).
    pub skipped: usize,
    /// The last timestep the simulation closed with (if it closed).
    pub closed_at: Option<i64>,
    /// Callback failures (the run went on after each).
    pub errors: Vec<InsituError>,
}

/// The analytics of a session.
pub struct Analytics {
    session: Arc<Session>,
    runner: ClusterRunner,
    steering: Steering,
    callbacks: Vec<Callback>,
    triggers: Triggers,
    preparation: Option<Preparation>,
    metas: BTreeMap<Arc<str>, ArrayMeta>,
    /// The simulation's arrays (what graphs read of them is the contract).
    declared: BTreeSet<Arc<str>>,
    contracts: ContractBuilder,
    /// Whether every array of the windows was found declared (at the first timestep).
    windows_checked: bool,
    timeout: Duration,
    simulation_timeout: Duration,
}

impl Analytics {
    pub fn new(session: &Arc<Session>, options: AnalyticsOptions) -> Result<Analytics> {
        let driver = session.driver().clone();
        let runner =
            ClusterRunner::with_actors(&driver, session.scheduler_handles(), options.strategy)?
                .with_timeout(options.timeout);
        Ok(Analytics {
            steering: Steering::new(driver, session.coordinator(), options.timeout),
            session: session.clone(),
            runner,
            callbacks: Vec::new(),
            triggers: Triggers::default(),
            preparation: None,
            metas: BTreeMap::new(),
            declared: BTreeSet::new(),
            contracts: ContractBuilder::default(),
            windows_checked: false,
            timeout: options.timeout,
            simulation_timeout: options.simulation_timeout,
        })
    }

    /// Registers `callback` on `windows`, run when all (or any) of their arrays have a
    /// new timestep. Callbacks run in registration order.
    pub fn register<F>(&mut self, name: &str, windows: Vec<Window>, trigger: Trigger, callback: F)
    where
        F: FnMut(&mut Context<'_>) -> CallbackResult + Send + 'static,
    {
        self.contracts
            .add(windows.iter().map(|w| w.array.clone()).collect());
        self.triggers.add(windows, trigger);
        self.callbacks.push(Callback {
            name: name.to_string(),
            run: Box::new(callback),
        });
    }

    /// Registers a preparation: called `advance` timesteps ahead, on windows whose
    /// arrays do not exist yet; it builds and persists graphs, which start as the
    /// chunks land. Its result goes to the first callback of that timestep
    /// ([`Context::take_prepared`]). Timesteps are assumed consecutive.
    pub fn prepare<T, F>(&mut self, advance: usize, windows: Vec<Window>, mut prepare: F)
    where
        T: Send + 'static,
        F: FnMut(&mut Context<'_>) -> CallbackResult<T> + Send + 'static,
    {
        let contract = self
            .contracts
            .add(windows.iter().map(|w| w.array.clone()).collect());
        self.preparation = Some(Preparation {
            contract,
            advance: i64::try_from(advance).unwrap_or(i64::MAX),
            windows,
            run: Box::new(move |ctx| prepare(ctx).map(|v| Box::new(v) as Box<dyn Any + Send>)),
            results: BTreeMap::new(),
            prepared_up_to: None,
        });
    }

    /// The runner's scheduling figures, by node.
    pub fn runner(&self) -> &ClusterRunner {
        &self.runner
    }

    pub fn steering(&self) -> &Steering {
        &self.steering
    }

    /// Tells the bridges what the graphs read, if that changed.
    fn send_contract(&mut self) {
        let Some(contract) = self.contracts.changed() else {
            return;
        };
        let driver = self.session.driver();
        let sent = self.session.coordinator().set_contract(driver, contract);
        if let Err(e) = sent {
            tracing::warn!(error = %e, "cannot tell the simulation what the analytics reads");
        }
    }

    /// Runs callbacks as timesteps complete, until the simulation closes. Errors of
    /// callbacks are reported and the run goes on; errors of the simulation (timesteps
    /// out of order, undeclared chunks, a rank gone, an array read that no rank
    /// declares) end it, and so does waiting for the simulation longer than
    /// [`AnalyticsOptions::simulation_timeout`] (the error names what it waited for).
    /// Either way, the simulation's bridges hear that the analytics stopped: their
    /// ranks do not wait for it any more.
    pub fn run(&mut self) -> Result<Report> {
        let events = self.session.take_events().ok_or(InsituError::Closed)?;
        self.send_contract();
        self.set_progress(Progress {
            running: true,
            ..Default::default()
        });
        let mut report = Report::default();
        let outcome = self.consume(&events, &mut report);
        if let Err(error) = &outcome {
            tracing::error!(%error, "the analytics stops");
        }
        self.stop();
        if let Some(preparation) = &mut self.preparation {
            preparation.results.clear();
        }
        outcome.map(|()| report)
    }

    /// Handles the session's events until the simulation closes, or fails.
    fn consume(&mut self, events: &mpsc::Receiver<Event>, report: &mut Report) -> Result<()> {
        let mut deadline = Instant::now() + self.simulation_timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = match events.recv_timeout(left) {
                Ok(event) => event,
                Err(mpsc::RecvTimeoutError::Timeout) => return Err(self.stalled()),
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(InsituError::Closed),
            };
            match event {
                Event::Declared {
                    meta,
                    position,
                    node,
                } => {
                    self.runner.place(&meta.name, &position, node);
                    self.declared.insert(meta.name.clone());
                    self.metas.insert(meta.name.clone(), meta);
                }
                Event::Complete { array, timestep } => {
                    self.check_windows(timestep)?;
                    let before = (self.triggers.done(), report.calls);
                    self.complete(&array, timestep, report)?;
                    if (self.triggers.done(), report.calls) != before {
                        deadline = Instant::now() + self.simulation_timeout;
                    }
                }
                Event::Error(error) => return Err(error),
                Event::Closed { timestep } => {
                    report.closed_at = timestep;
                    // What the cadence kept back goes now.
                    return self.release(1);
                }
            }
        }
    }

    /// `array` completed `timestep`: runs what it triggers, prepares ahead, releases.
    fn complete(&mut self, array: &Arc<str>, timestep: i64, report: &mut Report) -> Result<()> {
        self.prepare_up_to(timestep, report);
        let mut calls = self.triggers.complete(array, timestep);
        let skip = self
            .session
            .skipping_below()
            .is_some_and(|below| timestep < below);
        if skip && !calls.is_empty() {
            calls.clear();
            report.skipped += 1;
        }
        if !calls.is_empty() {
            report.timesteps += 1;
        }
        let mut prepared = self
            .preparation
            .as_mut()
            .and_then(|p| p.results.remove(&timestep));
        for call in calls {
            let windows = self.windows(&call.windows)?;
            let recording = Recording::new(&self.runner, &self.declared);
            let mut ctx = Context {
                timestep: call.timestep,
                windows,
                runner: &recording,
                steering: &self.steering,
                prepared: prepared.take(),
            };
            let callback = &mut self.callbacks[call.callback];
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| (callback.run)(&mut ctx)));
            prepared = ctx.prepared.take();
            report.calls += 1;
            let failed = failure(outcome);
            let reads = recording.into_reads();
            self.contracts
                .ran(call.callback, failed.is_none().then_some(reads));
            if let Some(message) = failed {
                let error = InsituError::Callback {
                    callback: callback.name.clone(),
                    timestep: call.timestep,
                    message,
                };
                tracing::error!(%error, "an analytics callback failed; the run goes on");
                report.errors.push(error);
            }
        }
        self.release(RELEASE_EVERY)?;
        self.send_contract();
        self.set_progress(Progress {
            done: self.triggers.done(),
            running: true,
            ..Default::default()
        });
        Ok(())
    }

    /// Drops on the nodes the published chunks no window needs any more, once some
    /// array has left `every` timesteps behind: one message per node.
    fn release(&mut self, every: usize) -> Result<()> {
        let marks = self.triggers.release_marks(every);
        if !marks.is_empty() {
            self.runner.release_arrays_before(&marks)?;
        }
        Ok(())
    }

    /// Calls the preparation for the timesteps up to `now + advance` not yet prepared.
    fn prepare_up_to(&mut self, now: i64, report: &mut Report) {
        let Some(mut preparation) = self.preparation.take() else {
            return;
        };
        // Checked: timesteps may be any i64, up to i64::MAX.
        let first = match preparation.prepared_up_to {
            None => now,
            Some(prepared) => match prepared.checked_add(1) {
                Some(next) => next,
                None => {
                    self.preparation = Some(preparation);
                    return;
                }
            },
        };
        for timestep in first.max(now)..=now.saturating_add(preparation.advance) {
            preparation.prepared_up_to = Some(timestep);
            let recording = Recording::new(&self.runner, &self.declared);
            let outcome = self
                .windows_at(&preparation.windows, timestep)
                .map(|windows| {
                    let mut ctx = Context {
                        timestep,
                        windows,
                        runner: &recording,
                        steering: &self.steering,
                        prepared: None,
                    };
                    std::panic::catch_unwind(AssertUnwindSafe(|| (preparation.run)(&mut ctx)))
                });
            let succeeded = matches!(outcome, Ok(Ok(Ok(_))));
            let reads = recording.into_reads();
            self.contracts
                .ran(preparation.contract, succeeded.then_some(reads));
            let message = match outcome {
                Ok(Ok(Ok(result))) => {
                    preparation.results.insert(timestep, result);
                    continue;
                }
                Ok(Ok(Err(e))) => e.to_string(),
                Ok(Err(panic)) => panic_message(panic),
                Err(e) => e.to_string(),
            };
            let error = InsituError::Callback {
                callback: "prepare".into(),
                timestep,
                message,
            };
            tracing::error!(%error, "the iteration preparation failed");
            report.errors.push(error);
        }
        self.preparation = Some(preparation);
    }

    /// The arrays of `windows` as the triggers chose them (timesteps, oldest first).
    fn windows(&self, windows: &[(Arc<str>, Vec<i64>)]) -> Result<BTreeMap<Arc<str>, Vec<Array>>> {
        windows
            .iter()
            .map(|(name, timesteps)| {
                let arrays = timesteps
                    .iter()
                    .map(|&t| self.source(name, t))
                    .collect::<Result<Vec<_>>>()?;
                Ok((name.clone(), arrays))
            })
            .collect()
    }

    /// Windows ending at a future `timestep` (for preparation).
    fn windows_at(
        &self,
        windows: &[Window],
        timestep: i64,
    ) -> Result<BTreeMap<Arc<str>, Vec<Array>>> {
        let chosen: Vec<(Arc<str>, Vec<i64>)> = windows
            .iter()
            .map(|w| {
                let first = self.triggers.first_timestep(&w.array).unwrap_or(timestep);
                let back = i64::try_from(w.size.max(1) - 1).unwrap_or(i64::MAX);
                let start = timestep.saturating_sub(back).max(first);
                (w.array.clone(), (start..=timestep).collect())
            })
            .collect();
        self.windows(&chosen)
    }

    fn source(&self, name: &Arc<str>, timestep: i64) -> Result<Array> {
        let meta = self
            .metas
            .get(name)
            .ok_or_else(|| InsituError::Undeclared(name.to_string()))?;
        Ok(Array::source(
            name,
            timestep,
            &meta.global_shape,
            meta.grid()?,
            meta.dtype,
        )?)
    }
}

fn failure(outcome: std::thread::Result<CallbackResult>) -> Option<String> {
    match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(panic) => Some(panic_message(panic)),
    }
}

fn panic_message(panic: Box<dyn Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .map_or_else(|| "panicked".to_string(), |m| format!("panicked: {m}"))
}
