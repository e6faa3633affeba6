//! Stores: the [`Store`] trait, the seam between planning and I/O, and its backends.
//!
//! A backend stores rows and reads them back; it decides nothing. Everything a write contains was
//! planned before by [`crate::persist`] (read first, plan purely, then write), and a backend
//! writes one room chunk's [`RoomWritePlan`] atomically: all its rows or none.
//!
//! - [`memory`]: every table in memory, for native tests and as the reference backend.
//! - [`event_store`]: the persist pipeline and the reads, over any backend.
//! - `indexeddb` (wasm only): the browser backend, Synapse's tables as IndexedDB object stores.
//!
//! To add a backend: implement [`Store`], then run the conformance suite against it by invoking
//! `store_conformance_tests!` in a test file (see `tests/store_memory.rs`).

pub mod error;
pub mod event_store;
#[cfg(target_arch = "wasm32")]
pub mod indexeddb;
pub mod memory;

use std::collections::BTreeSet;

use ruma_common::EventId;

pub use self::error::StoreError;
pub use self::event_store::{EventStore, PersistResult, RoomPersistResult};
pub use self::memory::MemoryStore;
use crate::model::internal_metadata::InternalMetadata;
use crate::model::pdu::Pdu;
use crate::model::room_version::RoomVersion;
use crate::model::StateFilter;
use crate::persist::{MembershipRow, RoomWritePlan, StateIds};

/// An event as loaded: the PDU, its internal metadata populated from the row, and whether it was
/// rejected.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoredEvent {
    /// The PDU as stored.
    pub pdu: Pdu,
    /// Internal metadata: the `events` columns joined with the stored dict.
    pub internal_metadata: InternalMetadata,
    /// Why it was rejected (`rejections.reason`), if it was.
    pub rejected_reason: Option<String>,
}

/// What a backend stores and reads. Methods are async so that browser storage (IndexedDB) can
/// implement them; on wasm the futures are not `Send`, so callers stay generic over the backend.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// Writes one room chunk atomically: every row of the plan, or none, with `writer` as the
    /// events' `instance_name`.
    async fn apply(&self, plan: &RoomWritePlan, writer: &str) -> Result<(), StoreError>;

    /// The version of a stored room (`rooms.room_version`).
    async fn room_version(&self, room_id: &str) -> Result<Option<RoomVersion>, StoreError>;

    /// Every stored room (the keys of `rooms`: a room is stored once its create event is).
    async fn rooms(&self) -> Result<BTreeSet<String>, StoreError>;

    /// A stored event.
    async fn event(&self, event_id: &EventId) -> Result<Option<StoredEvent>, StoreError>;

    /// A room's forward extremities.
    async fn forward_extremities(&self, room_id: &str) -> Result<BTreeSet<String>, StoreError>;

    /// A room's current state that `filter` matches.
    async fn current_state(
        &self,
        room_id: &str,
        filter: &StateFilter,
    ) -> Result<StateIds, StoreError>;

    /// The state after an event (its state group) that `filter` matches, members and
    /// non-members read in one walk of the group chain.
    async fn state_at_event(
        &self,
        event_id: &EventId,
        filter: &StateFilter,
    ) -> Result<Option<StateIds>, StoreError>;

    /// A room's `room_memberships` rows.
    async fn memberships(&self, room_id: &str) -> Result<Vec<MembershipRow>, StoreError>;
}
