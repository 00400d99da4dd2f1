//! Which callbacks run when a timestep of an array completes, on which windows, and
//! which timesteps no window needs any more. Plain state: no runtime, no clock.

use crate::decl::{Trigger, Window};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// A callback to run: its index, the timestep, and each window's timesteps (oldest
/// first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub callback: usize,
    pub timestep: i64,
    pub windows: Vec<(Arc<str>, Vec<i64>)>,
}

struct Entry {
    windows: Vec<Window>,
    trigger: Trigger,
    last_run: Option<i64>,
}

/// The triggering state of an analytics.
#[derive(Default)]
pub struct Triggers {
    entries: Vec<Entry>,
    /// Completed timesteps of each array still inside some window (oldest first).
    history: BTreeMap<Arc<str>, VecDeque<i64>>,
    first: BTreeMap<Arc<str>, i64>,
    /// The newest completed timestep of each array.
    latest: BTreeMap<Arc<str>, i64>,
    done: Option<i64>,
    released: BTreeMap<Arc<str>, i64>,
    /// Per array, how many timesteps left every window since the marks were last
    /// given.
    behind: BTreeMap<Arc<str>, usize>,
}

impl Triggers {
    /// Adds a callback on `windows` (its index is the number of callbacks before it).
    pub fn add(&mut self, windows: Vec<Window>, trigger: Trigger) {
        self.entries.push(Entry {
            windows,
            trigger,
            last_run: None,
        });
    }

    /// Every window of every callback, with the callback's index.
    pub fn windows(&self) -> impl Iterator<Item = (usize, &Window)> {
        self.entries
            .iter()
            .enumerate()
            .flat_map(|(index, entry)| entry.windows.iter().map(move |w| (index, w)))
    }

    /// How many timesteps of `array` the windows keep (1 for an array none reads).
    fn keep(&self, array: &str) -> usize {
        self.entries
            .iter()
            .flat_map(|e| &e.windows)
            .filter(|w| &*w.array == array)
            .map(|w| w.size)
            .max()
            .unwrap_or(1)
    }

    /// The first timestep `array` completed.
    pub fn first_timestep(&self, array: &str) -> Option<i64> {
        self.first.get(array).copied()
    }

    /// The last timestep whose callbacks all ran (once the calls [`Triggers::complete`]
    /// returned have run): every array, of a window or published, completed it.
    pub fn done(&self) -> Option<i64> {
        self.done
    }

    /// `array` completed `timestep`: the callbacks to run now, in registration order.
    pub fn complete(&mut self, array: &Arc<str>, timestep: i64) -> Vec<Call> {
        let keep = self.keep(array);
        self.first.entry(array.clone()).or_insert(timestep);
        let history = self.history.entry(array.clone()).or_default();
        history.push_back(timestep);
        while history.len() > keep {
            history.pop_front();
            *self.behind.entry(array.clone()).or_default() += 1;
        }
        let mut calls = Vec::new();
        for (index, entry) in self.entries.iter_mut().enumerate() {
            if !entry.windows.iter().any(|w| w.array == *array) {
                continue;
            }
            let ready = match entry.trigger {
                Trigger::All => {
                    entry.last_run.is_none_or(|l| l < timestep)
                        && entry.windows.iter().all(|w| {
                            self.history
                                .get(&w.array)
                                .is_some_and(|h| h.back() == Some(&timestep))
                        })
                }
                Trigger::Any => entry
                    .windows
                    .iter()
                    .all(|w| self.history.get(&w.array).is_some_and(|h| !h.is_empty())),
            };
            if !ready {
                continue;
            }
            entry.last_run = Some(timestep);
            let windows = entry
                .windows
                .iter()
                .map(|w| {
                    let h = &self.history[&w.array];
                    let skip = h.len().saturating_sub(w.size);
                    (w.array.clone(), h.iter().skip(skip).copied().collect())
                })
                .collect();
            calls.push(Call {
                callback: index,
                timestep,
                windows,
            });
        }
        self.latest.insert(array.clone(), timestep);
        let windowed = self.entries.iter().flat_map(|e| &e.windows);
        let behind = windowed
            .map(|w| self.latest.get(&w.array).copied())
            .chain(self.latest.values().map(|&t| Some(t)))
            .min()
            .flatten();
        self.done = self.done.max(behind);
        calls
    }

    /// Per array, the timestep before which nothing is needed any more, for the arrays
    /// whose mark moved since the last call; but only once some array has left at
    /// least `every` timesteps behind since (or with `every` 1, whenever one moved).
    /// Each call that returns marks costs one message per node, so the analytics asks
    /// with a cadence: the nodes then keep up to `every - 1` timesteps more of each
    /// array than its windows need. Counted in timesteps completed, not in their
    /// numbers (they need not be consecutive).
    pub fn release_marks(&mut self, every: usize) -> Vec<(Arc<str>, i64)> {
        let due = self.behind.values().any(|&left| left >= every.max(1));
        if !due {
            return Vec::new();
        }
        let mut moved = Vec::new();
        for (array, history) in &self.history {
            let Some(&oldest) = history.front() else {
                continue;
            };
            if self.released.get(array).is_none_or(|&r| r < oldest) {
                self.released.insert(array.clone(), oldest);
                moved.push((array.clone(), oldest));
            }
        }
        self.behind.clear();
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a() -> Arc<str> {
        "a".into()
    }

    fn b() -> Arc<str> {
        "b".into()
    }

    #[test]
    fn a_sliding_window_grows_to_its_size_then_slides() {
        let mut t = Triggers::default();
        t.add(vec![Window::new("a", 2)], Trigger::All);
        let calls = t.complete(&a(), 5);
        assert_eq!(calls[0].windows, vec![(a(), vec![5])]);
        let calls = t.complete(&a(), 6);
        assert_eq!(calls[0].windows, vec![(a(), vec![5, 6])]);
        let calls = t.complete(&a(), 7);
        assert_eq!(calls[0].windows, vec![(a(), vec![6, 7])]);
        assert_eq!(t.release_marks(1), vec![(a(), 6)]);
        assert_eq!(t.release_marks(1), vec![], "nothing moved since");
        assert_eq!(t.done(), Some(7));
    }

    #[test]
    fn all_waits_for_every_array_any_runs_on_each() {
        let mut t = Triggers::default();
        t.add(vec!["a".into(), "b".into()], Trigger::All);
        t.add(vec!["a".into(), "b".into()], Trigger::Any);
        assert!(t.complete(&a(), 0).is_empty(), "b has nothing yet");
        let calls = t.complete(&b(), 0);
        assert_eq!(calls.len(), 2);
        assert_eq!((calls[0].callback, calls[1].callback), (0, 1));
        // Alternating timesteps: AND never fires again, OR fires on each.
        let calls = t.complete(&a(), 1);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].callback, 1);
        assert_eq!(calls[0].windows, vec![(a(), vec![1]), (b(), vec![0])]);
        let calls = t.complete(&b(), 2);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].windows, vec![(a(), vec![1]), (b(), vec![2])]);
    }

    #[test]
    fn a_timestep_is_done_once_every_array_completed_it() {
        let mut t = Triggers::default();
        t.add(vec!["a".into(), "b".into()], Trigger::All);
        t.complete(&a(), 0);
        assert_eq!(
            t.done(),
            None,
            "b has not completed 0: its callback did not run"
        );
        t.complete(&b(), 0);
        assert_eq!(t.done(), Some(0));
        t.complete(&a(), 1);
        assert_eq!(t.done(), Some(0));
        t.complete(&b(), 1);
        assert_eq!(t.done(), Some(1));
    }

    #[test]
    fn arrays_no_callback_reads_are_released_at_once() {
        let mut t = Triggers::default();
        t.add(vec![Window::new("a", 3)], Trigger::All);
        for step in 0..5 {
            t.complete(&a(), step);
            t.complete(&b(), step);
        }
        let marks: BTreeMap<_, _> = t.release_marks(1).into_iter().collect();
        assert_eq!(marks[&a()], 2);
        assert_eq!(marks[&b()], 4);
        assert_eq!(t.first_timestep("b"), Some(0));
    }

    type Marks = Vec<(Arc<str>, i64)>;

    #[test]
    fn marks_are_given_once_every_few_timesteps_left_whatever_their_numbers() {
        let mut t = Triggers::default();
        t.add(vec![Window::new("a", 2)], Trigger::All);
        // Every 10th timestep: the cadence counts timesteps, not their numbers.
        let mut given = Vec::new();
        for step in 0..12 {
            t.complete(&a(), 10 * step);
            given.push(t.release_marks(4));
        }
        // Timestep 0 leaves the window at the 3rd completion, 30 at the 6th.
        let marks: Vec<(usize, Marks)> = given
            .into_iter()
            .enumerate()
            .filter(|(_, m)| !m.is_empty())
            .collect();
        assert_eq!(
            marks,
            vec![(5, vec![(a(), 40)]), (9, vec![(a(), 80)])],
            "the window keeps 2: after 4 left, the oldest kept is the mark"
        );
    }

    #[test]
    fn an_array_due_brings_the_others_marks_along() {
        let mut t = Triggers::default();
        t.add(vec![Window::new("a", 3)], Trigger::All);
        for step in 0..4 {
            t.complete(&a(), step);
            t.complete(&b(), step);
        }
        // b (read by no window) left 3 timesteps behind, a 1: not due yet at 4.
        assert_eq!(t.release_marks(4), vec![]);
        t.complete(&b(), 4);
        let marks: BTreeMap<_, _> = t.release_marks(4).into_iter().collect();
        assert_eq!(marks[&b()], 4);
        assert_eq!(marks[&a()], 1, "a comes along, though it left only 1");
    }
}
