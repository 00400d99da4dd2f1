//! `Worker`: the handle user code and task bodies use (put, get, wait, free, submit
//! tasks, create and call actors). Every operation is a command pushed to the inbox of
//! the worker's node, where the worker's reference table lives; a worker never blocks
//! on its node except to wait for values.

use crate::error::{CoreError, Result};
use crate::ids::{ActorId, NodeId, ObjectId, TaskId, WorkerId};
use crate::object_ref::{Blob, HandleHolder, ObjectRef, Payload, RefHandle, decode_for};
use crate::registry::Registry;
use crate::runtime::buffers::BufferPool;
use crate::runtime::departures::{DepartureWatch, Departures};
use crate::runtime::event::{Command, NodeEvent};
use crate::runtime::get::GetRequest;
use crate::runtime::inbox::Inbox;
use crate::task::{Placement, TaskArg, TaskKind, TaskSpec};
use crate::{Arg, ObjectStore};
use bytes::Bytes;
use doreisa_objstore::CopyKind;
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// What every worker of a node shares with it.
pub struct NodeShared {
    pub id: NodeId,
    pub inbox: Arc<Inbox<NodeEvent>>,
    pub store: Arc<ObjectStore>,
    pub registry: Arc<Registry>,
    /// The live nodes that take spread tasks (membership changes it).
    nodes: std::sync::RwLock<Vec<NodeId>>,
    /// How long a waiting thread polls before parking.
    pub spin: Duration,
    /// Recycled large buffers for copies into the store.
    pub buffers: Arc<BufferPool>,
    spread_cursor: AtomicUsize,
    /// Why the node stopped, when it stopped on its own (see [`NodeShared::stop_because`]).
    stop_reason: std::sync::OnceLock<String>,
    /// The nodes that left the cluster, and who watches for them.
    pub departures: Arc<Departures>,
}

impl NodeShared {
    pub fn new(
        id: NodeId,
        inbox: Arc<Inbox<NodeEvent>>,
        store: Arc<ObjectStore>,
        registry: Arc<Registry>,
        nodes: Vec<NodeId>,
        spin: Duration,
    ) -> Self {
        NodeShared {
            id,
            inbox,
            store,
            registry,
            nodes: std::sync::RwLock::new(nodes),
            spin,
            buffers: Arc::new(BufferPool::new(1 << 30)),
            spread_cursor: AtomicUsize::new(id.0 as usize),
            stop_reason: std::sync::OnceLock::new(),
            departures: Arc::new(Departures::default()),
        }
    }

    /// Records why the node is about to stop on its own (it lost the head, say): its
    /// waiters, and every later command, then fail with [`CoreError::NodeStopped`] and
    /// this reason instead of a bare `Stopped`. The first reason given stays.
    pub fn stop_because(&self, reason: impl Into<String>) {
        let _ = self.stop_reason.set(reason.into());
    }

    /// Why the node stopped on its own, if it did.
    pub fn stop_reason(&self) -> Option<&str> {
        self.stop_reason.get().map(String::as_str)
    }

    /// What the waiters of this node are told once it stopped.
    pub(crate) fn stopped_error(&self) -> CoreError {
        match self.stop_reason() {
            Some(reason) => CoreError::NodeStopped(reason.to_string()),
            None => CoreError::Stopped,
        }
    }

    fn next_spread_node(&self) -> NodeId {
        let i = self.spread_cursor.fetch_add(1, Ordering::Relaxed);
        let nodes = self.nodes.read().unwrap_or_else(|e| e.into_inner());
        if nodes.is_empty() {
            return self.id;
        }
        nodes[i % nodes.len()]
    }

    /// The live nodes that take spread tasks.
    pub fn nodes(&self) -> Vec<NodeId> {
        self.nodes.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Membership changed: `node` joined (taking spread tasks or not) or left.
    pub fn set_node(&self, node: NodeId, takes_tasks: bool) {
        let mut nodes = self.nodes.write().unwrap_or_else(|e| e.into_inner());
        nodes.retain(|&n| n != node);
        if takes_tasks {
            nodes.push(node);
            nodes.sort();
        }
    }
}

/// The state shared by a worker's handles.
pub struct WorkerShared {
    pub id: WorkerId,
    next_seq: AtomicU64,
    pub node: Arc<NodeShared>,
}

impl WorkerShared {
    pub fn new(id: WorkerId, node: Arc<NodeShared>) -> Self {
        WorkerShared {
            id,
            next_seq: AtomicU64::new(1),
            node,
        }
    }

    fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    fn command(&self, command: Command) {
        if let Err(NodeEvent::Command(command)) =
            self.node.inbox.try_push(NodeEvent::Command(command))
        {
            // The node has stopped: whoever waits on this command learns it now.
            let stopped = self.node.stopped_error();
            crate::runtime::event::fill_all_stopped(command.refusals(), &stopped);
        }
    }

    /// A new handle group of this worker on `id`.
    fn handle(self: &Arc<Self>, id: ObjectId, owner: WorkerId) -> Arc<RefHandle> {
        RefHandle::new(id, owner, self.clone())
    }

    /// This worker as the holder of the handles it deserializes.
    pub(crate) fn holder(self: &Arc<Self>) -> Arc<dyn HandleHolder> {
        self.clone()
    }
}

impl HandleHolder for WorkerShared {
    fn id(&self) -> WorkerId {
        self.id
    }

    fn handle_dropped(&self, id: ObjectId) {
        self.command(Command::Drop {
            worker: self.id,
            id,
        });
    }

    fn ref_deserialized(&self, id: ObjectId, owner: WorkerId, outer: Option<ObjectId>) {
        self.command(Command::Deserialized {
            worker: self.id,
            id,
            owner,
            outer,
        });
    }
}

/// What `wait` returns: the refs that are ready, and the others.
pub type ReadyAndPending<T> = (Vec<ObjectRef<T>>, Vec<ObjectRef<T>>);

/// Placement and retries of a task.
#[derive(Debug, Clone, Copy)]
pub struct TaskOptions {
    pub placement: Placement,
    /// Re-executions allowed (after a node failure, or to rebuild a lost return).
    pub retries: u32,
}

impl Default for TaskOptions {
    fn default() -> Self {
        TaskOptions {
            placement: Placement::Locality,
            retries: 3,
        }
    }
}

impl TaskOptions {
    /// Run on `node`.
    pub fn on(node: NodeId) -> Self {
        TaskOptions {
            placement: Placement::Node(node),
            ..Self::default()
        }
    }

    /// Run on the next node, round robin.
    pub fn spread() -> Self {
        TaskOptions {
            placement: Placement::Spread,
            ..Self::default()
        }
    }

    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }
}

/// A task argument ready to be submitted. Until the submission is queued it keeps
/// alive the refs it mentions (a ref argument, or the value holding nested refs), so
/// that their drops are queued after the submission.
pub struct TaskArgument {
    arg: TaskArg,
    _keep: Option<Box<dyn Send>>,
}

/// A live actor.
#[derive(Clone, Debug)]
pub struct ActorHandle {
    pub id: ActorId,
    pub node: NodeId,
    /// The actor lives while a handle does: this ref to its creation's result is
    /// counted like any other, and releasing it stops the actor.
    #[allow(dead_code)]
    pub(crate) object: ObjectRef<()>,
}

impl ActorHandle {
    /// The result of the actor's creation: `get` it to wait until the actor runs (or
    /// learn why it does not).
    pub fn created(&self) -> &ObjectRef<()> {
        &self.object
    }

    /// Where to call the actor without keeping it alive (see [`ActorAddress`]).
    pub fn address(&self) -> ActorAddress {
        ActorAddress {
            id: self.id,
            node: self.node,
        }
    }
}

/// An actor's id and node: enough to call it, not to keep it alive. For actors that
/// call each other, which would otherwise keep each other alive forever; calls to a
/// stopped actor fail with `ActorDied`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ActorAddress {
    pub id: ActorId,
    pub node: NodeId,
}

thread_local! {
    static CURRENT: RefCell<Option<Worker>> = const { RefCell::new(None) };
}

/// A worker: a process-level owner of objects, with its own reference table.
#[derive(Clone)]
pub struct Worker {
    pub(crate) shared: Arc<WorkerShared>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Worker({:?} on {:?})",
            self.shared.id, self.shared.node.id
        )
    }
}

impl Worker {
    pub(crate) fn new(shared: Arc<WorkerShared>) -> Self {
        Worker { shared }
    }

    /// The worker running the current task, inside a task body.
    pub fn current() -> Option<Worker> {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// Makes `self` the current worker of this thread while `f` runs.
    pub(crate) fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        let previous = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        let out = f();
        CURRENT.with(|c| *c.borrow_mut() = previous);
        out
    }

    pub fn id(&self) -> WorkerId {
        self.shared.id
    }

    /// What this worker's node can run (and the layers' extensions).
    pub fn registry(&self) -> &Arc<Registry> {
        &self.shared.node.registry
    }

    pub fn node(&self) -> NodeId {
        self.shared.node.id
    }

    /// The live nodes of the cluster that take spread tasks.
    pub fn nodes(&self) -> Vec<NodeId> {
        self.shared.node.nodes()
    }

    /// Runs `on_lost` once, with the node, if the actor at `address` is lost with a
    /// node: the node it lives on, or its creator's (an actor shares its creator's
    /// fate) left the cluster. At once, on this thread, if one of them left already.
    /// It runs on the node's thread: it must be quick and must not wait. Dropping the
    /// watch cancels it. (An actor that ends otherwise, its handles released, is not
    /// reported: its callers learn it from their calls.)
    pub fn watch_actor(
        &self,
        address: ActorAddress,
        on_lost: impl FnOnce(NodeId) + Send + 'static,
    ) -> DepartureWatch {
        let mut nodes = vec![address.node, address.id.creator.node()];
        nodes.dedup();
        self.shared.node.departures.watch(nodes, on_lost)
    }

    // ----- objects -------------------------------------------------------------------

    /// Stores `value` on this worker's node; this worker owns it.
    pub fn put<T: Payload>(&self, value: &T) -> Result<ObjectRef<T>> {
        let encoded = value.encode_payload()?;
        encoded.check_holder(self.shared.id)?;
        let id = ObjectId::put(self.shared.id, self.shared.next_seq());
        self.shared
            .node
            .store
            .put(id, encoded.bytes, CopyKind::Primary)?;
        self.shared.command(Command::Put {
            worker: self.shared.id,
            id,
            nested: encoded.nested,
        });
        tracing::trace!(?id, "put");
        Ok(ObjectRef::from_handle(
            self.shared.handle(id, self.shared.id),
        ))
    }

    /// Stores `value` on this worker's node on behalf of `owner`, which owns it (so the
    /// object outlives this worker; its primary copy stays here). Waits until the owner
    /// has adopted it. The value must not contain refs.
    pub fn put_owned_by<T: Payload>(&self, value: &T, owner: WorkerId) -> Result<ObjectRef<T>> {
        let encoded = value.encode_payload()?;
        if !encoded.nested.is_empty() {
            return Err(CoreError::Invalid(
                "a value put on behalf of another owner cannot contain refs".into(),
            ));
        }
        let id = ObjectId::put(self.shared.id, self.shared.next_seq());
        self.shared
            .node
            .store
            .put(id, encoded.bytes, CopyKind::Primary)?;
        let done = GetRequest::all(vec![id]);
        self.shared.command(Command::PutWithOwner {
            worker: self.shared.id,
            id,
            owner,
            done: done.clone(),
        });
        // The handle exists from now on: if the owner fails us, dropping it cleans up.
        let r = ObjectRef::from_handle(self.shared.handle(id, owner));
        done.wait_blocking(self.shared.node.spin, None);
        done.take(Duration::MAX).pop().expect("one answer")?;
        Ok(r)
    }

    /// Stores raw bytes without copying them (the store shares the buffer).
    pub fn put_blob(&self, bytes: Bytes) -> Result<ObjectRef<Blob>> {
        self.put(&Blob(bytes))
    }

    /// Stores a copy of `data` (into a recycled buffer when large, so the copy runs at
    /// memory speed). For data whose buffer the caller reuses, as a simulation does.
    pub fn put_slice(&self, data: &[u8]) -> Result<ObjectRef<Blob>> {
        self.put_blob(self.shared.node.buffers.copy(data))
    }

    /// Stores the `len` bytes `write` appends to an empty buffer (recycled when large):
    /// one copy at memory speed from wherever the data is.
    pub fn put_with(
        &self,
        len: usize,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> Result<ObjectRef<Blob>> {
        self.put_blob(self.shared.node.buffers.fill(len, write))
    }

    /// The value of `r`, waiting for it as long as needed.
    pub fn get<T: Payload>(&self, r: &ObjectRef<T>) -> Result<T> {
        self.get_timeout(r, None)
    }

    /// The value of `r`, or `Timeout` after `timeout`.
    pub fn get_timeout<T: Payload>(
        &self,
        r: &ObjectRef<T>,
        timeout: Option<Duration>,
    ) -> Result<T> {
        let mut values = self.get_many(std::slice::from_ref(r), timeout)?;
        Ok(values.pop().expect("one value"))
    }

    /// The values of all of `refs`.
    pub fn get_all<T: Payload>(&self, refs: &[ObjectRef<T>]) -> Result<Vec<T>> {
        self.get_many(refs, None)
    }

    fn get_many<T: Payload>(
        &self,
        refs: &[ObjectRef<T>],
        timeout: Option<Duration>,
    ) -> Result<Vec<T>> {
        let request = self.request(refs, refs.len())?;
        let limit = timeout.unwrap_or(Duration::MAX);
        if !request.wait_blocking(self.shared.node.spin, timeout) {
            return Err(CoreError::Timeout(limit));
        }
        self.decode_all(refs, request.take(limit))
    }

    /// Asynchronous `get`.
    pub async fn get_async<T: Payload>(&self, r: &ObjectRef<T>) -> Result<T> {
        let request = self.request(std::slice::from_ref(r), 1)?;
        request.wait_async().await;
        let mut values = self.decode_all(std::slice::from_ref(r), request.take(Duration::MAX))?;
        Ok(values.pop().expect("one value"))
    }

    /// Waits until `num_ready` of `refs` are available or `timeout` passes; returns the
    /// ready ones and the others, in their original order.
    pub fn wait<T>(
        &self,
        refs: &[ObjectRef<T>],
        num_ready: usize,
        timeout: Duration,
    ) -> Result<ReadyAndPending<T>> {
        let request = self.request(refs, num_ready)?;
        request.wait_blocking(self.shared.node.spin, Some(timeout));
        let ready = request.ready();
        let (mut yes, mut no) = (Vec::new(), Vec::new());
        for (r, ready) in refs.iter().zip(ready) {
            if ready {
                yes.push(r.clone());
            } else {
                no.push(r.clone());
            }
        }
        Ok((yes, no))
    }

    /// Fails unless this worker holds `r`'s handle: a handle made for another worker of
    /// this process (a ref moved between threads) is recorded in that worker's table.
    fn check_mine<T>(&self, r: &ObjectRef<T>) -> Result<()> {
        let holder = r.handle.worker.id();
        if holder == self.shared.id {
            Ok(())
        } else {
            Err(CoreError::ForeignRef {
                id: r.id(),
                holder,
                user: self.shared.id,
            })
        }
    }

    fn request<T>(&self, refs: &[ObjectRef<T>], needed: usize) -> Result<GetRequest> {
        for r in refs {
            self.check_mine(r)?;
        }
        let ids = refs.iter().map(|r| r.id()).collect();
        let request = GetRequest::some(ids, needed);
        self.shared.command(Command::Get {
            worker: self.shared.id,
            request: request.clone(),
        });
        Ok(request)
    }

    fn decode_all<T: Payload>(
        &self,
        refs: &[ObjectRef<T>],
        results: Vec<Result<Bytes>>,
    ) -> Result<Vec<T>> {
        refs.iter()
            .zip(results)
            .map(|(r, bytes)| decode_for(&self.shared.holder(), Some(r.id()), bytes?))
            .collect()
    }

    /// Frees the values of objects this worker owns, now, even if refs to them remain
    /// (a later `get` fails with `ObjectFreed`).
    pub fn free<T>(&self, refs: &[ObjectRef<T>]) -> Result<()> {
        for r in refs {
            self.check_mine(r)?;
        }
        self.shared.command(Command::Free {
            worker: self.shared.id,
            ids: refs.iter().map(|r| r.id()).collect(),
        });
        Ok(())
    }

    // ----- tasks ---------------------------------------------------------------------

    /// Prepares an argument: a value is encoded inline, a ref is passed as a ref.
    pub fn task_arg<T: Payload>(&self, arg: Arg<T>) -> Result<TaskArgument> {
        Ok(match arg {
            Arg::Value(value) => {
                let encoded = value.encode_payload()?;
                encoded.check_holder(self.shared.id)?;
                let keep: Option<Box<dyn Send>> =
                    (!encoded.nested.is_empty()).then(|| Box::new(value) as Box<dyn Send>);
                TaskArgument {
                    arg: TaskArg::Value {
                        bytes: encoded.bytes,
                        nested: encoded.nested,
                    },
                    _keep: keep,
                }
            }
            Arg::Ref(r) => {
                self.check_mine(&r)?;
                TaskArgument {
                    arg: TaskArg::Ref {
                        id: r.id(),
                        owner: r.owner(),
                    },
                    _keep: Some(Box::new(r)),
                }
            }
        })
    }

    /// Queues a task; returns refs to its return values.
    fn submit(
        &self,
        kind: TaskKind,
        args: Vec<TaskArgument>,
        num_returns: u32,
        placement: Placement,
        retries: u32,
    ) -> Vec<ObjectRef<()>> {
        let task = TaskId {
            submitter: self.shared.id,
            seq: self.shared.next_seq(),
        };
        let placement = match placement {
            Placement::Spread => Placement::Node(self.shared.node.next_spread_node()),
            other => other,
        };
        let (args, keep): (Vec<_>, Vec<_>) = args.into_iter().map(|a| (a.arg, a._keep)).unzip();
        let spec = TaskSpec {
            task,
            caller: self.shared.id,
            kind,
            args,
            num_returns,
            retries,
            placement,
        };
        let span = tracing::debug_span!("task.submit", task = ?spec.task, kind = ?spec.kind);
        let _entered = span.enter();
        self.shared.command(Command::Submit {
            worker: self.shared.id,
            spec,
        });
        // The submission is queued before these handles can be dropped.
        drop(keep);
        (1..=num_returns)
            .map(|i| ObjectRef::from_handle(self.shared.handle(task.return_id(i), self.shared.id)))
            .collect()
    }

    /// Submits registered function `name`; returns refs to its `num_returns` values.
    pub fn submit_function(
        &self,
        name: &str,
        args: Vec<TaskArgument>,
        num_returns: u32,
        options: TaskOptions,
    ) -> Result<Vec<ObjectRef<()>>> {
        if num_returns == 0 {
            return Err(CoreError::Invalid(
                "a task returns at least one value".into(),
            ));
        }
        Ok(self.submit(
            TaskKind::Function(name.into()),
            args,
            num_returns,
            options.placement,
            options.retries,
        ))
    }

    /// Creates an actor of registered class `class`.
    pub fn create_actor(
        &self,
        class: &str,
        args: Vec<TaskArgument>,
        options: TaskOptions,
    ) -> Result<ActorHandle> {
        let id = ActorId {
            creator: self.shared.id,
            seq: self.shared.next_seq(),
        };
        let node = match options.placement {
            Placement::Node(node) => node,
            Placement::Spread => self.shared.node.next_spread_node(),
            _ => self.shared.node.id,
        };
        let object = self
            .submit(
                TaskKind::CreateActor {
                    actor: id,
                    class: class.into(),
                },
                args,
                1,
                Placement::Node(node),
                0,
            )
            .pop()
            .expect("one return");
        Ok(ActorHandle { id, node, object })
    }

    /// Calls `method` of `actor`; calls from one caller run in order.
    pub fn call_method(
        &self,
        actor: &ActorHandle,
        method: &str,
        args: Vec<TaskArgument>,
    ) -> Result<ObjectRef<()>> {
        self.call_method_at(actor.address(), method, args)
    }

    /// Calls `method` of the actor at `actor` (which this call does not keep alive).
    pub fn call_method_at(
        &self,
        actor: ActorAddress,
        method: &str,
        args: Vec<TaskArgument>,
    ) -> Result<ObjectRef<()>> {
        Ok(self
            .submit(
                TaskKind::Method {
                    actor: actor.id,
                    method: method.into(),
                },
                args,
                1,
                Placement::Actor(actor.id, actor.node),
                0,
            )
            .pop()
            .expect("one return"))
    }
}
