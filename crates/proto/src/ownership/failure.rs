//! Failures: dead workers (owners and borrowers), the death barrier, lost nodes, and
//! lineage eviction under memory pressure.
//!
//! # The death barrier (our addition to Ray's protocol)
//!
//! In Ray, when a borrower dies, the refs it passed on but had not reported yet are
//! unaccounted for, and an owner may free a value that a live worker still holds (Ray
//! then raises an error in that worker). The same happens when a caller drops the reply
//! of a task whose executor died. doreisa-rs closes this hole:
//!
//! 1. Deaths are numbered in membership order; a worker's *death epoch* is the number
//!    of deaths it has applied. Every message between workers carries its sender's
//!    epoch, and a receiver applies those deaths before handling the message (the
//!    transport guarantees it; [`super::sim`] does it in tests). So no one learns
//!    of a consequence of a death before learning of the death.
//! 2. On applying a death, a worker drops the dead worker from its borrowers, fails the
//!    refs the dead worker owned (`Lost { OwnerDied }`), and *holds*: it releases no
//!    value it owns until every live worker has acknowledged this death.
//! 3. Also on applying a death, a worker sends every live worker a `DeathAck` listing
//!    the objects owned by that worker which it still uses. The owner registers it as a
//!    borrower of each (and subscribes to its removal).
//!
//! Any ref the dead worker handed out reached a live worker before that worker applied
//! the death (later messages from the dead are ignored), so it is in that worker's ack
//! or accounted for by a live chain; once all acks are in, the owner's view is complete
//! again. A new death during a hold restarts it. The cost is one small message per pair
//! of workers per death, and a delay of one round trip on frees after a death.

use super::borrow::Renew;
use super::message::{Effect, LossReason, ProtocolMessage};
use super::reference::remove_item;
use super::table::{DeathHold, RefTable};
use crate::ids::{NodeId, ObjectId, WorkerId};
use rustc_hash::FxHashMap;

impl RefTable {
    /// Number of deaths this table has applied. Stamp it on every message this worker
    /// sends; a receiver must apply that many deaths before handling the message.
    pub fn death_epoch(&self) -> u64 {
        self.death_epoch
    }

    /// A table of a worker joining a cluster where `deaths` deaths were applied already
    /// starts counting there (its messages' epochs must mean the same everywhere).
    pub fn start_at_death_epoch(&mut self, deaths: u64) {
        self.death_epoch = deaths;
    }

    /// Applies the next death of the membership order: `worker` died. Deaths must be
    /// applied in the same order on every worker.
    pub fn worker_died(&mut self, worker: WorkerId) {
        if worker == self.me || !self.dead.insert(worker) {
            return;
        }
        self.death_epoch += 1;
        self.peers.remove(&worker);
        let mut owner_lost = Vec::new();
        let mut stored_in_lost = Vec::new();
        for (&id, r) in self.refs.iter_mut() {
            if r.owned_by_us {
                remove_item(&mut r.borrow.borrowers, &worker);
                r.borrow.waits.retain(|&(b, _, _)| b != worker);
            } else if r.owner == worker {
                r.owner_died = true;
                r.removal_waits.clear();
                r.forwards_pending = 0;
                r.borrow.borrowers.clear();
                r.borrow.stored_in.clear();
                owner_lost.push(id);
            } else {
                let before = r.borrow.stored_in.len();
                r.borrow.stored_in.retain(|&(_, holder)| holder != worker);
                if r.borrow.stored_in.len() != before {
                    // The object it was stored in died with its owner.
                    stored_in_lost.push(id);
                }
            }
        }
        owner_lost.sort();
        for &id in &owner_lost {
            self.effects.push(Effect::Lost {
                id,
                reason: LossReason::OwnerDied,
            });
        }
        self.send_death_acks();
        self.hold = Some(DeathHold {
            epoch: self.death_epoch,
            awaiting: self.peers.clone(),
        });
        for id in owner_lost.into_iter().chain(stored_in_lost) {
            self.try_release(id);
        }
        self.maybe_end_hold();
    }

    /// Tells every live worker which of its objects we still use.
    fn send_death_acks(&mut self) {
        let lineage_pinning = self.config.lineage_pinning;
        let mut in_use: FxHashMap<WorkerId, Vec<ObjectId>> = FxHashMap::default();
        for (&id, r) in &self.refs {
            if !r.owned_by_us && !r.owner_died && !r.out_of_scope(lineage_pinning, false) {
                in_use.entry(r.owner).or_default().push(id);
            }
        }
        let mut peers: Vec<_> = self.peers.iter().copied().collect();
        peers.sort();
        for to in peers {
            let mut ids = in_use.remove(&to).unwrap_or_default();
            ids.sort();
            self.effects.push(Effect::Send {
                to,
                message: ProtocolMessage::DeathAck {
                    epoch: self.death_epoch,
                    in_use: ids,
                },
            });
        }
    }

    /// Owner: `from` acknowledged death `epoch` and still uses `in_use`.
    pub(crate) fn on_death_ack(&mut self, from: WorkerId, epoch: u64, in_use: Vec<ObjectId>) {
        for id in in_use {
            if self.refs.get(&id).is_some_and(|r| r.owned_by_us) {
                self.add_borrower(id, from, None, Renew::Yes);
            }
        }
        if let Some(hold) = self.hold.as_mut()
            && hold.epoch == epoch
        {
            hold.awaiting.remove(&from);
        }
        self.maybe_end_hold();
    }

    /// Ends the hold once every live worker acknowledged the latest death, and releases
    /// what became releasable meanwhile.
    fn maybe_end_hold(&mut self) {
        let Some(hold) = &self.hold else { return };
        if !hold.awaiting.is_empty() {
            return;
        }
        self.hold = None;
        let mut owned: Vec<ObjectId> = self
            .refs
            .iter()
            .filter(|(_, r)| r.owned_by_us && !r.released)
            .map(|(&id, _)| id)
            .collect();
        owned.sort();
        for id in owned {
            self.try_release(id);
        }
    }

    /// Frees of owned values are held until every live worker acknowledged a death.
    pub fn holding_frees(&self) -> bool {
        self.hold.is_some()
    }

    /// `node` left the cluster: owned values whose primary copy was there are lost.
    /// Each one still in scope is either rebuilt from lineage (`Reconstruct`) or failed
    /// (`Lost`).
    pub fn node_removed(&mut self, node: NodeId) {
        let mut lost: Vec<ObjectId> = self
            .refs
            .iter()
            .filter(|(_, r)| r.owned_by_us && r.pinned_at == Some(node))
            .map(|(&id, _)| id)
            .collect();
        lost.sort();
        for id in lost {
            let Some(r) = self.refs.get_mut(&id) else {
                continue;
            };
            r.pinned_at = None;
            if r.released || r.freed {
                continue;
            }
            let task = r
                .creating_task
                .filter(|_| r.reconstructable && !r.lineage_evicted);
            let evicted = r.lineage_evicted;
            match task {
                Some(task) if self.lineage.contains_key(&task) => {
                    self.effects.push(Effect::Reconstruct { id, task });
                }
                _ => {
                    let reason = if evicted {
                        LossReason::LineageEvicted
                    } else {
                        LossReason::NotReconstructable
                    };
                    self.effects.push(Effect::Lost { id, reason });
                }
            }
        }
    }

    /// Evicts the oldest lineage until at least `min_bytes` of task specs are released;
    /// the returns of evicted tasks can no longer be rebuilt. Returns the bytes evicted.
    pub fn evict_lineage(&mut self, min_bytes: u64) -> u64 {
        let mut evicted = 0;
        while evicted < min_bytes {
            let Some(task) = self.lineage_order.pop_front() else {
                break;
            };
            let Some(entry) = self.lineage.get(&task) else {
                continue;
            };
            evicted += entry.spec_bytes;
            let num_returns = entry.num_returns;
            for index in 1..=num_returns {
                if let Some(r) = self.refs.get_mut(&task.return_id(index)) {
                    r.lineage_evicted = true;
                    r.reconstructable = false;
                }
            }
            self.release_task_lineage(task);
        }
        evicted
    }
}
