//! Random programs against whole nodes, checked as they run and at the end.
//!
//! A program runs 2–5 nodes, each with a driver worker that puts values (nesting refs
//! it holds), submits tasks (refs as arguments, refs nested in inline values, placed
//! on a node or by locality, retried or not), gets values (and holds the refs nested
//! in them) and drops handles. Events, envelopes on each link and task bodies run in
//! a random interleaving; in some programs a node dies.
//!
//! Checked: a get returns the value its object was created with; it fails only for a
//! reason the program explains (a task that fails on purpose or reads such a value;
//! with a death: the owner's or a copy's loss); it never says "freed". At the end,
//! once everything settled, every get of a live driver was answered (no wait without
//! an end), and once every handle is dropped nothing is left: no reference record, no
//! stored value, no task. A program is fully determined by its seed.

use super::{World, encode_value, functions};
use crate::error::ProtoError;
use crate::ids::{NodeId, ObjectId, TaskId, WorkerId};
use crate::node::Command;
use crate::node::memory::TokenWaiter;
use crate::ownership::sim::random::Rng;
use crate::task::{Placement, TaskArg, TaskKind, TaskSpec};
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Steps a program may take to settle before it is declared stuck.
const SETTLE_LIMIT: usize = 200_000;

/// What a program did, when every check held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgramStats {
    pub nodes: usize,
    pub steps: usize,
    pub tasks: usize,
    pub gets: usize,
    pub failed_gets: usize,
    pub deaths: usize,
    pub messages: usize,
}

impl std::ops::AddAssign for ProgramStats {
    fn add_assign(&mut self, other: Self) {
        self.nodes += other.nodes;
        self.steps += other.steps;
        self.tasks += other.tasks;
        self.gets += other.gets;
        self.failed_gets += other.failed_gets;
        self.deaths += other.deaths;
        self.messages += other.messages;
    }
}

/// A program whose checks failed, with what is needed to replay it.
#[derive(Debug, Clone)]
pub struct ProgramFailure {
    pub seed: u64,
    pub error: String,
    pub trace: Vec<String>,
}

impl fmt::Display for ProgramFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "node program seed {:#x} failed: {}",
            self.seed, self.error
        )?;
        writeln!(
            f,
            "replay: DOREISA_SIM_REPLAY={:#x} cargo test -p doreisa-proto --test node_random replay -- --ignored --nocapture",
            self.seed
        )
    }
}

/// A get a driver made, and what it may be answered.
struct GetCheck {
    driver: WorkerId,
    id: ObjectId,
    answered: bool,
}

/// The program's drivers and what it knows to check against.
struct Program {
    rng: Rng,
    world: World,
    /// Handle groups each live driver holds: (object, owner).
    handles: BTreeMap<WorkerId, Vec<(ObjectId, WorkerId)>>,
    next_seq: BTreeMap<WorkerId, u64>,
    gets: BTreeMap<u64, GetCheck>,
    next_token: u64,
    /// Objects whose value can never be had: returns of failing tasks, and of tasks
    /// reading such a value.
    doomed: BTreeSet<ObjectId>,
    stats: ProgramStats,
    trace: Option<Vec<String>>,
}

impl Program {
    fn new(seed: u64, trace: bool) -> Self {
        let mut rng = Rng(seed);
        let n = 2 + rng.below(4);
        let mut world = World::new(n);
        // Half the programs keep every return in the executor's store (fetched and
        // freed across nodes), the others send small ones back in the reply.
        if rng.chance(50) {
            for node in world.nodes.values_mut() {
                node.state.set_inline_return_max(0);
            }
        }
        let handles = world
            .all
            .iter()
            .map(|&node| (WorkerId::new(node, 1), Vec::new()))
            .collect();
        Program {
            rng,
            world,
            handles,
            next_seq: BTreeMap::new(),
            gets: BTreeMap::new(),
            next_token: 1,
            doomed: BTreeSet::new(),
            stats: ProgramStats {
                nodes: n,
                ..ProgramStats::default()
            },
            trace: trace.then(Vec::new),
        }
    }

    fn note(&mut self, line: impl FnOnce() -> String) {
        if let Some(trace) = &mut self.trace {
            trace.push(line());
        }
    }

    fn next_seq(&mut self, worker: WorkerId) -> u64 {
        let seq = self.next_seq.entry(worker).or_insert(0);
        *seq += 1;
        *seq
    }

    fn live_drivers(&self) -> Vec<WorkerId> {
        self.handles.keys().copied().collect()
    }

    /// One random step of the program.
    fn step(&mut self, deaths_allowed: bool) -> Result<(), String> {
        self.stats.steps += 1;
        let roll = self.rng.below(100);
        if roll < 30 {
            self.driver_action();
        } else if deaths_allowed && roll == 99 && self.world.live_nodes().len() > 1 {
            let victims: Vec<NodeId> = self
                .world
                .live_nodes()
                .into_iter()
                .filter(|n| n.0 != 0)
                .collect();
            if let Some(node) = self.rng.pick(&victims) {
                self.note(|| format!("kill {node:?}"));
                self.world.kill(node);
                self.handles.remove(&WorkerId::new(node, 1));
                self.stats.deaths += 1;
            }
        } else {
            self.system_step();
        }
        self.check_fills()
    }

    /// Handles an event, delivers an envelope or runs a job, at random.
    fn system_step(&mut self) -> bool {
        let inboxes = self.world.busy_inboxes();
        let links = self.world.busy_links();
        let computes = self.world.busy_computes();
        let kinds = [!inboxes.is_empty(), !links.is_empty(), !computes.is_empty()];
        let choices: Vec<usize> = (0..3).filter(|&k| kinds[k]).collect();
        let Some(kind) = self.rng.pick(&choices) else {
            return false;
        };
        match kind {
            0 => {
                let node = self.rng.pick(&inboxes).expect("busy");
                self.world.handle_next(node);
            }
            1 => {
                let link = self.rng.pick(&links).expect("busy");
                self.world.deliver_next(link);
            }
            _ => {
                let node = self.rng.pick(&computes).expect("busy");
                self.world.run_job(node);
            }
        }
        true
    }

    fn driver_action(&mut self) {
        let Some(driver) = self.rng.pick(&self.live_drivers()) else {
            return;
        };
        let held = self.handles[&driver].clone();
        match self.rng.below(10) {
            0..=1 => self.put(driver, &held),
            2..=5 => self.submit(driver, &held),
            6..=7 => {
                if let Some((id, _)) = self.rng.pick(&held) {
                    self.get(driver, id);
                }
            }
            _ => {
                // A get borrows its handle (as `Worker::get(&ref)` does): a handle whose
                // object a get of this driver waits for is not dropped meanwhile.
                let waited: BTreeSet<ObjectId> = self
                    .gets
                    .values()
                    .filter(|g| g.driver == driver && !g.answered)
                    .map(|g| g.id)
                    .collect();
                let droppable: Vec<usize> = (0..held.len())
                    .filter(|&i| !waited.contains(&held[i].0))
                    .collect();
                if let Some(index) = self.rng.pick(&droppable) {
                    let (id, _) = self.handles.get_mut(&driver).expect("live").remove(index);
                    self.note(|| format!("{driver:?} drops {id:?}"));
                    self.world
                        .command(driver.node(), Command::Drop { worker: driver, id });
                }
            }
        }
    }

    fn put(&mut self, driver: WorkerId, held: &[(ObjectId, WorkerId)]) {
        let nested = self.rng.subset(held, 2);
        let id = ObjectId::put(driver, self.next_seq(driver));
        let bytes = encode_value(&nested, id.seq);
        self.note(|| format!("{driver:?} puts {id:?} nesting {nested:?}"));
        self.world.produced.insert(id, bytes.clone());
        if self.world.store(driver.node(), id, bytes).is_ok() {
            self.world.command(
                driver.node(),
                Command::Put {
                    worker: driver,
                    id,
                    nested,
                },
            );
            self.handles
                .get_mut(&driver)
                .expect("live")
                .push((id, driver));
        }
    }

    fn submit(&mut self, driver: WorkerId, held: &[(ObjectId, WorkerId)]) {
        let function = match self.rng.below(20) {
            0 => functions::FAIL,
            1..=6 => functions::ECHO,
            7..=13 => functions::WRAP,
            _ => functions::PAIR,
        };
        let num_returns = if function == functions::PAIR { 2 } else { 1 };
        let mut args = Vec::new();
        let mut doomed = function == functions::FAIL;
        for (id, owner) in self.rng.subset(held, 2) {
            doomed |= self.doomed.contains(&id);
            args.push(TaskArg::Ref { id, owner });
        }
        if self.rng.chance(40) {
            let nested = self.rng.subset(held, 2);
            args.push(TaskArg::Value {
                bytes: encode_value(&nested, 0),
                nested,
            });
        }
        let placement = match self.rng.pick(&self.world.live_nodes()) {
            Some(node) if self.rng.chance(60) => Placement::Node(node),
            _ => Placement::Locality,
        };
        let task = TaskId {
            submitter: driver,
            seq: self.next_seq(driver),
        };
        let spec = TaskSpec {
            task,
            caller: driver,
            kind: TaskKind::Function(function.into()),
            args,
            num_returns,
            retries: self.rng.below(3) as u32,
            placement,
        };
        self.note(|| format!("{driver:?} submits {spec:?}"));
        self.stats.tasks += 1;
        self.world.command(
            driver.node(),
            Command::Submit {
                worker: driver,
                spec,
            },
        );
        for index in 1..=num_returns {
            let id = task.return_id(index);
            if doomed {
                self.doomed.insert(id);
            }
            self.handles
                .get_mut(&driver)
                .expect("live")
                .push((id, driver));
        }
    }

    fn get(&mut self, driver: WorkerId, id: ObjectId) {
        let token = self.next_token;
        self.next_token += 1;
        self.note(|| format!("{driver:?} gets {id:?} (token {token})"));
        self.stats.gets += 1;
        self.gets.insert(
            token,
            GetCheck {
                driver,
                id,
                answered: false,
            },
        );
        self.world.command(
            driver.node(),
            Command::Get {
                worker: driver,
                request: TokenWaiter::new(token, &[id]),
            },
        );
    }

    /// Checks the answers of gets; a driver holds the refs nested in what it got.
    fn check_fills(&mut self) -> Result<(), String> {
        for (token, _, value) in self.world.take_fills() {
            let check = self
                .gets
                .get_mut(&token)
                .ok_or_else(|| format!("a fill for unknown waiter {token}"))?;
            check.answered = true;
            let (driver, id) = (check.driver, check.id);
            if !self.handles.contains_key(&driver) {
                continue;
            }
            self.note(|| {
                format!(
                    "{driver:?} got {id:?}: {:?}",
                    value.as_ref().map(|b| b.len())
                )
            });
            match value {
                Ok(bytes) => self.got_value(driver, id, bytes)?,
                Err(error) => self.got_error(id, error)?,
            }
        }
        Ok(())
    }

    fn got_value(&mut self, driver: WorkerId, id: ObjectId, bytes: Bytes) -> Result<(), String> {
        match self.world.produced.get(&id) {
            Some(expected) if *expected == bytes => {}
            Some(_) => return Err(format!("{id:?}: a get returned another value")),
            None => return Err(format!("{id:?}: a get returned a value never produced")),
        }
        if self.doomed.contains(&id) && self.stats.deaths == 0 {
            return Err(format!(
                "{id:?} was meant to fail, and a get returned a value"
            ));
        }
        let (nested, _) = super::decode_value(&bytes).map_err(|e| e.to_string())?;
        for (inner, owner) in nested {
            self.world.command(
                driver.node(),
                Command::Deserialized {
                    worker: driver,
                    id: inner,
                    owner,
                    outer: Some(id),
                },
            );
            self.handles
                .get_mut(&driver)
                .expect("live")
                .push((inner, owner));
        }
        Ok(())
    }

    fn got_error(&mut self, id: ObjectId, error: ProtoError) -> Result<(), String> {
        self.stats.failed_gets += 1;
        let explained = match &error {
            ProtoError::TaskFailed { .. } => self.doomed.contains(&id) || self.stats.deaths > 0,
            ProtoError::OwnerDied(_) | ProtoError::ObjectLost { .. } | ProtoError::Invalid(_) => {
                self.stats.deaths > 0
            }
            _ => false,
        };
        if explained {
            Ok(())
        } else {
            Err(format!("{id:?}: a get failed without a reason: {error}"))
        }
    }

    /// Runs system steps until nothing is left to do.
    fn settle(&mut self) -> Result<(), String> {
        for _ in 0..SETTLE_LIMIT {
            if !self.system_step() {
                return self.check_fills();
            }
            self.check_fills()?;
        }
        Err(format!("not settled after {SETTLE_LIMIT} steps"))
    }

    fn finish(&mut self) -> Result<(), String> {
        self.settle()?;
        for (token, check) in &self.gets {
            if !check.answered && self.handles.contains_key(&check.driver) {
                return Err(format!(
                    "{:?}'s get of {:?} (token {token}) was never answered",
                    check.driver, check.id
                ));
            }
        }
        for driver in self.live_drivers() {
            let held = std::mem::take(self.handles.get_mut(&driver).expect("live"));
            for (id, _) in held {
                self.world
                    .command(driver.node(), Command::Drop { worker: driver, id });
            }
        }
        self.settle()?;
        for (id, node) in &self.world.nodes {
            let records = node.state.records();
            let objects = node.state.host().objects.len();
            let tasks = node.state.task_counts();
            if records > 0 || objects > 0 || tasks != (0, 0, 0) {
                let detail = node.state.describe_records();
                let stored: Vec<_> = node.state.host().objects.keys().collect();
                let everywhere: Vec<String> = self
                    .world
                    .nodes
                    .values()
                    .flat_map(|n| n.state.describe_tasks())
                    .collect();
                return Err(format!(
                    "{id:?} leaks once every handle is dropped: {records} records, \
                     {objects} stored values {stored:?}, tasks {tasks:?} (everywhere: \
                     {everywhere:?}); records: {detail:?}"
                ));
            }
        }
        self.stats.messages = self.world.messages;
        Ok(())
    }
}

/// Runs the program of `seed`; `trace` keeps every step for a replay.
pub fn run_program(seed: u64, trace: bool) -> Result<ProgramStats, ProgramFailure> {
    let mut program = Program::new(seed, trace);
    let deaths_allowed = program.rng.chance(35);
    let steps = 40 + program.rng.below(160);
    let outcome = (|| {
        for _ in 0..steps {
            program.step(deaths_allowed)?;
        }
        program.finish()
    })();
    match outcome {
        Ok(()) => Ok(program.stats),
        Err(error) => Err(ProgramFailure {
            seed,
            error,
            trace: program.trace.unwrap_or_default(),
        }),
    }
}

/// Runs `count` programs from `base` (program `i` has seed `base + i`).
pub fn run_many(base: u64, count: u64) -> Result<ProgramStats, ProgramFailure> {
    let mut total = ProgramStats::default();
    for i in 0..count {
        total += run_program(base.wrapping_add(i), false)?;
    }
    Ok(total)
}
