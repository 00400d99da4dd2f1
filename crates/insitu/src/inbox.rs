//! A bridge's inbox: an actor in the bridge's process that the coordinator calls with
//! [`Notice`]s (the analytics' progress, its contract, steering answers), so that a
//! rank waiting for one of them waits on its bridge, not on a loop of questions. The
//! actor hands each notice to the bridge it serves, found by number in this process's
//! [`Inboxes`].

use crate::notice::Notice;
use doreisa_core::Worker;
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Weak};

/// What takes the notices of an inbox (a bridge).
pub trait NoticeSink: Send + Sync {
    fn receive(&self, notice: Notice);
}

/// The inboxes of one process (a registry extension): where each one's notices go.
#[derive(Default)]
pub struct Inboxes {
    sinks: Mutex<FxHashMap<u64, Weak<dyn NoticeSink>>>,
    next: AtomicU64,
}

impl Inboxes {
    fn sinks(&self) -> std::sync::MutexGuard<'_, FxHashMap<u64, Weak<dyn NoticeSink>>> {
        self.sinks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new inbox's number; its notices go to `sink` while it lives.
    pub fn open(&self, sink: Weak<dyn NoticeSink>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.sinks().insert(id, sink);
        id
    }

    pub fn close(&self, id: u64) {
        self.sinks().remove(&id);
    }

    /// Hands `notice` to inbox `id`'s sink; `false` if it is gone.
    fn deliver(&self, id: u64, notice: Notice) -> bool {
        let sink = self.sinks().get(&id).and_then(Weak::upgrade);
        match sink {
            Some(sink) => {
                sink.receive(notice);
                true
            }
            None => false,
        }
    }
}

doreisa_core::actor! {
    /// A bridge's inbox (see the module).
    pub struct BridgeInbox handle BridgeInboxHandle address BridgeInboxAddress { inbox: u64 }
    impl {
        fn new(inbox: u64) -> Self { BridgeInbox { inbox } }
        // Hands `notice` to the bridge; `false` if it is gone.
        fn notice(&mut self, notice: Notice) -> bool {
            let inboxes = Worker::current().and_then(|w| w.registry().extension::<Inboxes>());
            inboxes.is_some_and(|inboxes| inboxes.deliver(self.inbox, notice))
        }
    }
}

/// Registers the inbox actor class and this process's inboxes.
pub(crate) fn register(registry: &mut doreisa_core::Registry) {
    registry.insert_extension(Inboxes::default());
    BridgeInbox::register(registry);
}
