//! Random programs against the ownership protocol, checked at every step.
//!
//! A program runs 3–6 workers that put, pass (task arguments), nest, return, get and
//! drop refs, with messages delivered in random order and workers killed at random.
//! After every step: no value a live worker uses was freed by its live owner. At the
//! end: every holder of a dead owner's ref was told `OwnerDied` (no get waits forever),
//! and once every handle is dropped and every message delivered, every table is empty
//! and every value freed. A program is fully determined by its seed.

use super::{GetError, Sim};
use crate::ids::{ObjectId, WorkerId};
use std::fmt;

/// splitmix64: small, fast, and the same everywhere.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len())])
    }

    pub fn subset<T: Copy>(&mut self, items: &[T], max: usize) -> Vec<T> {
        let n = self.below(max + 1).min(items.len());
        (0..n).filter_map(|_| self.pick(items)).collect()
    }
}

/// What a program did, when every check held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgramStats {
    pub workers: usize,
    pub steps: usize,
    pub deaths: usize,
    pub messages: usize,
    pub values_freed: usize,
}

/// A program whose checks failed, with what is needed to replay it.
#[derive(Debug, Clone)]
pub struct ProgramFailure {
    pub seed: u64,
    pub step: usize,
    pub error: String,
    /// The program's steps, then (at the end) the messages delivered while winding down.
    pub trace: Vec<String>,
}

impl fmt::Display for ProgramFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "program seed {:#x} failed at step {}: {}",
            self.seed, self.step, self.error
        )?;
        writeln!(
            f,
            "replay: DOREISA_SIM_REPLAY={:#x} cargo test -p doreisa-proto --test ownership_random replay -- --ignored --nocapture",
            self.seed
        )?;
        let tail = self.trace.len().saturating_sub(80);
        writeln!(f, "last steps:")?;
        for line in &self.trace[tail..] {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

/// Ids worker `w` may use in a new value or a task: its handles and the arguments of
/// the tasks it runs.
fn usable(sim: &Sim, w: WorkerId) -> Vec<ObjectId> {
    let mut ids = sim.held(w);
    for exec in &sim.worker(w).running {
        ids.extend(exec.spec.arg_ids());
    }
    ids.sort();
    ids.dedup();
    ids
}

/// `DOREISA_SIM_WATCH=w1:o0.3r1` (worker, object) adds that worker's record of that
/// object to the trace after every step where it changed (for replays).
fn watched() -> Option<(WorkerId, String)> {
    let spec = std::env::var("DOREISA_SIM_WATCH").ok()?;
    let (worker, object) = spec.split_once(':')?;
    let worker = worker.trim_start_matches('w').parse().ok()?;
    Some((WorkerId(worker), object.to_string()))
}

fn watch(
    sim: &Sim,
    watched: &Option<(WorkerId, String)>,
    last: &mut Option<String>,
    trace: &mut Vec<String>,
) {
    let Some((w, object)) = watched else { return };
    let table = sim.table(*w);
    let now = table
        .ids()
        .into_iter()
        .find(|id| format!("{id:?}") == *object)
        .and_then(|id| table.describe(id));
    if now != *last {
        trace.push(format!(
            "    watch {w:?}:{object} = {}",
            now.as_deref().unwrap_or("none")
        ));
        *last = now;
    }
}

/// Runs the program of `seed`. With `log_messages`, a failure's trace also lists every
/// message delivered.
pub fn run_program(seed: u64, log_messages: bool) -> Result<ProgramStats, Box<ProgramFailure>> {
    let mut rng = Rng(seed);
    let n = 3 + rng.below(4);
    let steps = 40 + rng.below(160);
    let max_kills = rng.below(3);
    let mut sim = Sim::new(n);
    if log_messages {
        sim.start_logging();
    }
    let mut kills = 0;
    let mut trace = Vec::new();
    let watched = if log_messages { watched() } else { None };
    let mut last_watch = None;
    let fail = |step: usize, trace: &[String], error: String, log: &[String]| {
        let mut trace = trace.to_vec();
        if log_messages {
            trace.extend(log.iter().map(|m| format!("delivered {m}")));
        }
        Box::new(ProgramFailure {
            seed,
            step,
            error,
            trace,
        })
    };

    for step in 0..steps {
        let live = sim.live_workers();
        let w = rng.pick(&live).expect("a worker always survives");
        let action = match rng.below(100) {
            0..=11 => {
                let contains = rng.subset(&usable(&sim, w), 2);
                let id = sim.put(w, &contains);
                format!("{w:?} put {id:?} containing {contains:?}")
            }
            12..=13 => match rng.pick(&live).filter(|&o| o != w) {
                Some(owner) => {
                    let id = sim.put_with_owner(w, owner);
                    format!("{w:?} put {id:?} owned by {owner:?}")
                }
                None => continue,
            },
            14..=23 => match rng.pick(&sim.held(w)) {
                Some(id) => {
                    sim.drop_handle(w, id);
                    format!("{w:?} drops {id:?}")
                }
                None => continue,
            },
            24..=25 => match rng.pick(&sim.held(w)) {
                Some(id) => {
                    sim.add_handle(w, id);
                    format!("{w:?} clones {id:?}")
                }
                None => continue,
            },
            26..=37 => {
                let args = rng.subset(&usable(&sim, w), 3);
                let returns = rng.below(3) as u32;
                let retryable = rng.chance(50);
                let executor = rng.pick(&live).expect("live workers");
                let task = sim.submit_with(w, &args, returns, retryable);
                sim.send_task(&task, executor);
                format!(
                    "{w:?} submits {:?}({args:?}) -> {returns} to {executor:?}",
                    task.task
                )
            }
            38..=45 => match rng.pick(&usable(&sim, w)) {
                Some(id) => match sim.get(w, id) {
                    Ok(nested) => format!("{w:?} gets {id:?} = {nested:?}"),
                    Err(GetError::Freed) => {
                        let error = format!("{w:?} get {id:?}: freed");
                        return Err(fail(step, &trace, error, sim.log()));
                    }
                    Err(e) => format!("{w:?} gets {id:?}: {e:?}"),
                },
                None => continue,
            },
            46..=51 => {
                let tasks: Vec<_> = sim
                    .worker(w)
                    .running
                    .iter()
                    .map(|e| (e.spec.task, e.spec.num_returns))
                    .collect();
                let Some((task, num_returns)) = rng.pick(&tasks) else {
                    continue;
                };
                if num_returns > 0 && rng.chance(60) {
                    let index = 1 + rng.below(num_returns as usize) as u32;
                    let ret = task.return_id(index);
                    // Computed while the execution is still in the simulator, so that its
                    // own returns count towards cycles.
                    let candidates: Vec<_> = usable(&sim, w)
                        .into_iter()
                        .filter(|&id| !sim.would_cycle(id, ret))
                        .collect();
                    let refs = rng.subset(&candidates, 2);
                    let mut exec = sim.take_execution(w, task).expect("running");
                    sim.return_refs(&mut exec, index, &refs);
                    sim.resume_execution(w, exec);
                    format!("{w:?} stores {refs:?} in return {index} of {task:?}")
                } else {
                    let exec = sim.take_execution(w, task).expect("running");
                    let kept = exec.spec.args.first().copied();
                    sim.resume_execution(w, exec);
                    let Some((arg, owner)) = kept else { continue };
                    sim.deserialize(w, arg, owner, None);
                    format!("{w:?} keeps arg {arg:?} of {task:?}")
                }
            }
            52..=59 => {
                let tasks: Vec<_> = sim.worker(w).running.iter().map(|e| e.spec.task).collect();
                let Some(task) = rng.pick(&tasks) else {
                    continue;
                };
                let exec = sim.take_execution(w, task).expect("running");
                let reply = sim.finish(exec);
                sim.send_reply(reply);
                format!("{w:?} finishes {task:?}")
            }
            60..=95 => {
                if sim.queue().is_empty() {
                    continue;
                }
                let index = if rng.chance(30) {
                    0
                } else {
                    rng.below(sim.queue().len())
                };
                let description = format!("deliver {:?}", sim.queue()[index]);
                sim.deliver_at(index);
                description
            }
            _ => {
                if kills >= max_kills || live.len() <= 2 {
                    continue;
                }
                let victim = rng.pick(&live).expect("live workers");
                sim.kill(victim);
                kills += 1;
                format!("kill {victim:?}")
            }
        };
        trace.push(action);
        watch(&sim, &watched, &mut last_watch, &mut trace);
        if let Err(e) = sim.check_safety() {
            return Err(fail(step, &trace, e, sim.log()));
        }
    }

    // Deliver what is left one message at a time, checking as we go.
    while !sim.queue().is_empty() {
        let description = format!("flush: deliver {:?}", sim.queue()[0]);
        sim.deliver_at(0);
        trace.push(description);
        watch(&sim, &watched, &mut last_watch, &mut trace);
        if let Err(e) = sim.check_safety() {
            return Err(fail(steps, &trace, e, &[]));
        }
    }
    if let Err(e) = sim.check_owner_death_answers() {
        return Err(fail(steps, &trace, e, sim.log()));
    }
    sim.wind_down();
    if let Err(e) = sim.check_safety().and_then(|_| sim.check_clean()) {
        return Err(fail(steps, &trace, e, sim.log()));
    }
    Ok(ProgramStats {
        workers: n,
        steps,
        deaths: kills,
        messages: sim.delivered(),
        values_freed: sim.freed_count(),
    })
}

/// Runs `programs` programs whose seeds derive from `base`; stops at the first failure.
pub fn run_many(base: u64, programs: u64) -> Result<ProgramStats, Box<ProgramFailure>> {
    let mut seeder = Rng(base);
    let mut total = ProgramStats::default();
    for _ in 0..programs {
        let stats = run_program(seeder.next_u64(), false)?;
        total.workers += stats.workers;
        total.steps += stats.steps;
        total.deaths += stats.deaths;
        total.messages += stats.messages;
        total.values_freed += stats.values_freed;
    }
    Ok(total)
}
