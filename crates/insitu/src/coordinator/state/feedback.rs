//! Steering values as the coordinator keeps them: the last few of each key, in
//! increasing timesteps, and the bridges waiting for the value of a key at a timestep,
//! answered as soon as it is known (set, skipped, or the analytics stopped).

use crate::error::InsituError;
use crate::notice::Notice;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The most questions a key keeps waiting (the oldest are answered "none").
const WATCHES_KEPT: usize = 4096;

/// Notices for bridges, by bridge number.
pub type Pushes = Vec<(u64, Notice)>;

#[derive(Debug, Default)]
pub(super) struct Feedback {
    values: BTreeMap<String, VecDeque<(i64, Vec<u8>)>>,
    keep: usize,
    /// By key: (timestep, bridge) waiting for its value.
    watches: BTreeMap<String, BTreeSet<(i64, u64)>>,
}

fn answer(bridge: u64, key: &str, timestep: i64, value: Option<Vec<u8>>) -> (u64, Notice) {
    let notice = Notice::Feedback {
        key: key.to_string(),
        timestep,
        value,
    };
    (bridge, notice)
}

impl Feedback {
    /// Keeps the last `keep` values of each key.
    pub fn new(keep: usize) -> Self {
        Feedback {
            keep: keep.max(1),
            ..Default::default()
        }
    }

    /// Sets `key` to `value` for `timestep`; answers the bridges waiting for it (and
    /// those waiting for an earlier timestep, which has none).
    pub fn set(&mut self, key: &str, timestep: i64, value: Vec<u8>) -> Result<Pushes, InsituError> {
        let values = self.values.entry(key.to_string()).or_default();
        if let Some(&(last, _)) = values.back()
            && timestep <= last
        {
            return Err(InsituError::SteeringOrder {
                key: key.to_string(),
                timestep,
                last,
            });
        }
        values.push_back((timestep, value.clone()));
        while values.len() > self.keep {
            values.pop_front();
        }
        let mut pushes = Vec::new();
        if let Some(watches) = self.watches.get_mut(key) {
            let later = timestep
                .checked_add(1)
                .map(|next| watches.split_off(&(next, 0)));
            let answered = std::mem::replace(watches, later.unwrap_or_default());
            for (at, bridge) in answered {
                let value = (at == timestep).then(|| value.clone());
                pushes.push(answer(bridge, key, at, value));
            }
        }
        Ok(pushes)
    }

    /// The value of `key` set for `timestep` (the latest one with `None`), if kept.
    pub fn get(&self, key: &str, timestep: Option<i64>) -> Option<(i64, Vec<u8>)> {
        let values = self.values.get(key)?;
        match timestep {
            None => values.back().cloned(),
            Some(t) => values.iter().find(|(at, _)| *at == t).cloned(),
        }
    }

    /// Bridge `bridge` waits for the value of `key` at `timestep`: answered now if it is
    /// known (set, or a later timestep set without it, or the analytics `stopped`),
    /// else once it is.
    pub fn watch(&mut self, bridge: u64, key: &str, timestep: i64, stopped: bool) -> Pushes {
        if let Some((_, value)) = self.get(key, Some(timestep)) {
            return vec![answer(bridge, key, timestep, Some(value))];
        }
        let latest = self.get(key, None).map(|(t, _)| t);
        if stopped || latest >= Some(timestep) {
            return vec![answer(bridge, key, timestep, None)];
        }
        let watches = self.watches.entry(key.to_string()).or_default();
        watches.insert((timestep, bridge));
        let mut pushes = Vec::new();
        while watches.len() > WATCHES_KEPT {
            if let Some((at, bridge)) = watches.pop_first() {
                pushes.push(answer(bridge, key, at, None));
            }
        }
        pushes
    }

    /// The analytics stopped: every bridge waiting is answered "none".
    pub fn stopped(&mut self) -> Pushes {
        let watches = std::mem::take(&mut self.watches);
        watches
            .into_iter()
            .flat_map(|(key, watches)| {
                watches
                    .into_iter()
                    .map(move |(at, bridge)| answer(bridge, &key, at, None))
            })
            .collect()
    }
}
