//! The threads that run an embedded cluster's nodes: a fixed number of actix systems,
//! each hosting a share of the node actors. An idle node is a parked future on its
//! host, costing no thread and no CPU.

use crate::error::{CoreError, Result};
use crate::runtime::actor::NodeActor;
use actix::{Actor, Addr};
use std::thread::JoinHandle;

/// One thread running an actix system.
struct Host {
    arbiter: actix::ArbiterHandle,
    system: actix::System,
    thread: Option<JoinHandle<()>>,
}

/// The host threads of an embedded cluster.
pub(super) struct Hosts {
    hosts: Vec<Host>,
}

impl Hosts {
    /// Starts `threads` host threads.
    pub(super) fn start(threads: usize) -> Result<Hosts> {
        let mut hosts = Vec::with_capacity(threads.max(1));
        for index in 0..threads.max(1) {
            let (tx, rx) = std::sync::mpsc::channel();
            let thread = std::thread::Builder::new()
                .name(format!("doreisa-nodes-{index}"))
                .spawn(move || {
                    let system = actix::System::new();
                    let _ = tx.send((actix::Arbiter::current(), actix::System::current()));
                    let _ = system.run();
                })
                .map_err(|e| CoreError::Invalid(format!("cannot start a node thread: {e}")))?;
            let (arbiter, system) = rx
                .recv()
                .map_err(|_| CoreError::Invalid("a node thread died at start".into()))?;
            hosts.push(Host {
                arbiter,
                system,
                thread: Some(thread),
            });
        }
        Ok(Hosts { hosts })
    }

    pub(super) fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Starts the actor `make` builds on host `index` (built there: an actor need not
    /// be `Send`).
    pub(super) fn start_actor(
        &self,
        index: usize,
        make: impl FnOnce() -> NodeActor + Send + 'static,
    ) -> Result<Addr<NodeActor>> {
        let host = &self.hosts[index % self.hosts.len()];
        let (tx, rx) = std::sync::mpsc::channel();
        let sent = host.arbiter.spawn_fn(move || {
            let _ = tx.send(make().start());
        });
        if !sent {
            return Err(CoreError::Invalid("a node thread has stopped".into()));
        }
        rx.recv()
            .map_err(|_| CoreError::Invalid("a node failed to start".into()))
    }

    /// Stops every host's system and joins its thread.
    pub(super) fn stop(&mut self) {
        for host in &self.hosts {
            host.system.stop();
        }
        for host in &mut self.hosts {
            if let Some(thread) = host.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        self.stop();
    }
}
