//! `ObjectRef<T>`: a typed handle on an object, and how values (with refs nested in
//! them) become bytes and back.
//!
//! A handle is an `Arc`: cloning it is an atomic increment, and only when the last clone
//! goes does its worker hear of it (one "local handle group" in the reference table).
//! Serializing a ref records it as nested in the value being encoded; deserializing one
//! registers a new handle group with the worker doing it, found in a thread-local context
//! that the runtime sets around every decode. Refs cannot be serialized out of band.

use crate::error::{CoreError, Result};
use crate::ids::{ObjectId, WorkerId};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// Raw bytes stored as they are: no encoding, zero-copy reads. For bulk data.
#[derive(Clone, PartialEq, Eq)]
pub struct Blob(pub Bytes);

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

/// A value encoded for the object store: its bytes and the refs nested in it.
#[derive(Debug, Clone, Default)]
pub struct Encoded {
    pub bytes: Bytes,
    pub nested: Vec<(ObjectId, WorkerId)>,
    /// The worker whose handle each nested ref was serialized from, in `nested` order.
    pub holders: Vec<WorkerId>,
}

impl Encoded {
    /// Fails if a ref nested in the value is held by another worker than `me`: its
    /// record is in that worker's table, so `me` cannot vouch for it.
    pub fn check_holder(&self, me: WorkerId) -> Result<()> {
        match self.holders.iter().position(|&h| h != me) {
            None => Ok(()),
            Some(i) => Err(CoreError::ForeignRef {
                id: self.nested[i].0,
                holder: self.holders[i],
                user: me,
            }),
        }
    }
}

/// A type that can be stored as an object.
pub trait Payload: Sized + Send + 'static {
    fn encode_payload(&self) -> Result<Encoded>;
    /// Decodes within a [`DecodeScope`] when the value may contain refs.
    fn decode_payload(bytes: Bytes) -> Result<Self>;
}

impl<T: Serialize + DeserializeOwned + Send + 'static> Payload for T {
    fn encode_payload(&self) -> Result<Encoded> {
        let mut bytes = Vec::new();
        let (nested, holders) =
            collect_nested(|| Ok(crate::codec::encode_into(self, &mut bytes)?))?
                .into_iter()
                .map(|(id, owner, holder)| ((id, owner), holder))
                .unzip();
        Ok(Encoded {
            bytes: bytes.into(),
            nested,
            holders,
        })
    }

    fn decode_payload(bytes: Bytes) -> Result<Self> {
        Ok(crate::codec::decode(&bytes)?)
    }
}

impl Payload for Blob {
    fn encode_payload(&self) -> Result<Encoded> {
        Ok(Encoded {
            bytes: self.0.clone(),
            nested: Vec::new(),
            holders: Vec::new(),
        })
    }

    fn decode_payload(bytes: Bytes) -> Result<Self> {
        Ok(Blob(bytes))
    }
}

/// The worker holding ref handles, as the handles see it (the runtime's worker): told
/// when the last clone of a handle goes, and when a ref is deserialized.
pub trait HandleHolder: Send + Sync + 'static {
    /// The worker's id.
    fn id(&self) -> WorkerId;
    /// The last clone of a handle on `id` went.
    fn handle_dropped(&self, id: ObjectId);
    /// A ref to `id` (owned by `owner`) was deserialized, found in the value of `outer`.
    fn ref_deserialized(&self, id: ObjectId, owner: WorkerId, outer: Option<ObjectId>);
}

/// Who decodes on this thread: refs deserialized become its handles, nested in `.1`.
type Decoding = (Arc<dyn HandleHolder>, Option<ObjectId>);

thread_local! {
    /// Refs serialized so far: (id, owner, worker holding the handle).
    static NESTED: RefCell<Option<Vec<(ObjectId, WorkerId, WorkerId)>>> = const { RefCell::new(None) };
    static DECODING: RefCell<Option<Decoding>> = const { RefCell::new(None) };
}

/// Runs `encode`, collecting the refs serialized meanwhile.
fn collect_nested(
    encode: impl FnOnce() -> Result<()>,
) -> Result<Vec<(ObjectId, WorkerId, WorkerId)>> {
    let previous = NESTED.with(|n| n.borrow_mut().replace(Vec::new()));
    let outcome = encode();
    let nested = NESTED.with(|n| std::mem::replace(&mut *n.borrow_mut(), previous));
    outcome.map(|_| nested.unwrap_or_default())
}

/// While alive, refs deserialized on this thread become handles of `worker`, found in
/// the value of `outer` (if any).
pub struct DecodeScope {
    previous: Option<Decoding>,
}

impl DecodeScope {
    pub fn enter(worker: Arc<dyn HandleHolder>, outer: Option<ObjectId>) -> Self {
        let previous = DECODING.with(|d| d.borrow_mut().replace((worker, outer)));
        DecodeScope { previous }
    }
}

impl Drop for DecodeScope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        DECODING.with(|d| *d.borrow_mut() = previous);
    }
}

/// Decodes `bytes` as a `T` for `worker`; refs found in it are nested in `outer`.
pub fn decode_for<T: Payload>(
    worker: &Arc<dyn HandleHolder>,
    outer: Option<ObjectId>,
    bytes: Bytes,
) -> Result<T> {
    let _scope = DecodeScope::enter(worker.clone(), outer);
    T::decode_payload(bytes)
}

/// The shared part of a handle: dropping the last clone tells the worker.
pub(crate) struct RefHandle {
    pub id: ObjectId,
    pub owner: WorkerId,
    pub worker: Arc<dyn HandleHolder>,
}

impl RefHandle {
    /// A new handle group of `worker` on `id` (which the worker already counts).
    pub(crate) fn new(id: ObjectId, owner: WorkerId, worker: Arc<dyn HandleHolder>) -> Arc<Self> {
        Arc::new(RefHandle { id, owner, worker })
    }
}

impl Drop for RefHandle {
    fn drop(&mut self) {
        self.worker.handle_dropped(self.id);
    }
}

/// A typed reference to an immutable object living somewhere in the cluster.
pub struct ObjectRef<T> {
    pub(crate) handle: Arc<RefHandle>,
    _type: PhantomData<fn() -> T>,
}

impl<T> ObjectRef<T> {
    /// A handle whose handle group the worker already counted.
    pub(crate) fn from_handle(handle: Arc<RefHandle>) -> Self {
        ObjectRef {
            handle,
            _type: PhantomData,
        }
    }

    pub fn id(&self) -> ObjectId {
        self.handle.id
    }

    /// The worker that owns the object (and decides its fate).
    pub fn owner(&self) -> WorkerId {
        self.handle.owner
    }

    /// The same ref, untyped.
    pub fn erase(&self) -> ObjectRef<()> {
        ObjectRef::from_handle(self.handle.clone())
    }

    /// The same ref, read as another type (the caller vouches for it).
    pub fn cast<U>(&self) -> ObjectRef<U> {
        ObjectRef::from_handle(self.handle.clone())
    }
}

impl<T> Clone for ObjectRef<T> {
    fn clone(&self) -> Self {
        ObjectRef::from_handle(self.handle.clone())
    }
}

impl<T> fmt::Debug for ObjectRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ObjectRef({:?} owned by {:?})",
            self.handle.id, self.handle.owner
        )
    }
}

impl<T> PartialEq for ObjectRef<T> {
    fn eq(&self, other: &Self) -> bool {
        self.handle.id == other.handle.id
    }
}

impl<T> Eq for ObjectRef<T> {}

impl<T> std::hash::Hash for ObjectRef<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.handle.id.hash(state)
    }
}

impl<T> Serialize for ObjectRef<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let recorded = NESTED.with(|n| match n.borrow_mut().as_mut() {
            Some(nested) => {
                nested.push((self.handle.id, self.handle.owner, self.handle.worker.id()));
                true
            }
            None => false,
        });
        if !recorded {
            return Err(serde::ser::Error::custom(
                "an ObjectRef can only be serialized inside a value given to the runtime",
            ));
        }
        (self.handle.id, self.handle.owner).serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for ObjectRef<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let (id, owner) = <(ObjectId, WorkerId)>::deserialize(deserializer)?;
        let context = DECODING.with(|d| d.borrow().clone());
        let Some((worker, outer)) = context else {
            return Err(serde::de::Error::custom(
                "an ObjectRef can only be deserialized by the runtime",
            ));
        };
        worker.ref_deserialized(id, owner, outer);
        Ok(ObjectRef::from_handle(RefHandle::new(id, owner, worker)))
    }
}

/// A value that can travel as a task argument: inline, or by ref.
pub enum Arg<T> {
    Value(T),
    Ref(ObjectRef<T>),
}

impl<T> From<T> for Arg<T> {
    fn from(value: T) -> Self {
        Arg::Value(value)
    }
}

impl<T> From<ObjectRef<T>> for Arg<T> {
    fn from(r: ObjectRef<T>) -> Self {
        Arg::Ref(r)
    }
}

impl<T> From<&ObjectRef<T>> for Arg<T> {
    fn from(r: &ObjectRef<T>) -> Self {
        Arg::Ref(r.clone())
    }
}
