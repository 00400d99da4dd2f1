//! What analytics code holds: the context a callback gets, and the steering handle.

use crate::coordinator::CoordinatorAddress;
use crate::error::{InsituError, Result};
use doreisa_array::{Array, Chunk};
use doreisa_core::Worker;
use doreisa_sched::GraphRunner;
use serde::Serialize;
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where analytics code sets steering values for the simulation.
pub struct Steering {
    driver: Worker,
    coordinator: CoordinatorAddress,
    /// The bound on the coordinator's answer.
    timeout: Duration,
    /// The last timestep set, per key.
    last: Mutex<BTreeMap<String, i64>>,
}

impl Steering {
    pub(super) fn new(driver: Worker, coordinator: CoordinatorAddress, timeout: Duration) -> Self {
        Steering {
            driver,
            coordinator,
            timeout,
            last: Mutex::default(),
        }
    }

    /// Sets `key` to `value` for `timestep`; timesteps of a key must increase.
    pub fn set<V: Serialize>(&self, key: &str, value: &V, timestep: i64) -> Result<()> {
        {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(&before) = last.get(key)
                && timestep <= before
            {
                return Err(InsituError::SteeringOrder {
                    key: key.to_string(),
                    timestep,
                    last: before,
                });
            }
            last.insert(key.to_string(), timestep);
        }
        let value = crate::client::encode_value(value)?;
        let set = self
            .coordinator
            .set_feedback(&self.driver, key.to_string(), timestep, value)?;
        let stored: std::result::Result<(), String> =
            self.driver.get_timeout(&set, Some(self.timeout))?;
        stored.map_err(|message| InsituError::Runtime(doreisa_core::CoreError::Invalid(message)))
    }
}

/// What a callback sees: its timestep, its windows, the runner, the steering handle.
pub struct Context<'a> {
    pub(super) timestep: i64,
    pub(super) windows: BTreeMap<Arc<str>, Vec<Array>>,
    pub(super) runner: &'a dyn GraphRunner,
    pub(super) steering: &'a Steering,
    pub(super) prepared: Option<Box<dyn Any + Send>>,
}

impl<'a> Context<'a> {
    pub fn timestep(&self) -> i64 {
        self.timestep
    }

    /// The window of `array`: its last timesteps (at most the window's size), oldest
    /// first.
    pub fn window(&self, array: &str) -> Result<&[Array]> {
        self.windows
            .get(array)
            .map(Vec::as_slice)
            .ok_or_else(|| InsituError::Undeclared(array.to_string()))
    }

    /// The newest timestep of `array` in this callback's window.
    pub fn array(&self, array: &str) -> Result<&Array> {
        self.window(array)?
            .last()
            .ok_or_else(|| InsituError::Undeclared(array.to_string()))
    }

    /// Where graphs run (for `compute` and `persist` on arrays).
    pub fn runner(&self) -> &dyn GraphRunner {
        self.runner
    }

    pub fn compute(&self, array: &Array) -> Result<Chunk> {
        Ok(array.compute(self.runner)?)
    }

    pub fn persist(&self, array: &Array) -> Result<Array> {
        Ok(array.persist(self.runner)?)
    }

    pub fn steering(&self) -> &Steering {
        self.steering
    }

    /// Sets steering value `key` for this timestep.
    pub fn set<V: Serialize>(&self, key: &str, value: &V) -> Result<()> {
        self.steering.set(key, value, self.timestep)
    }

    /// What the preparation of this timestep returned (given to the first callback
    /// that runs at it).
    pub fn take_prepared<T: 'static>(&mut self) -> Option<T> {
        let prepared = self.prepared.take()?;
        match prepared.downcast::<T>() {
            Ok(value) => Some(*value),
            Err(other) => {
                self.prepared = Some(other);
                None
            }
        }
    }
}
