//! The backend an `EventStore` was opened on, IndexedDB or memory, as one [`Store`]: the event
//! store's pipeline is built for this one type, not once per backend.

use std::collections::{BTreeMap, BTreeSet};

use ruma_common::{EventId, OwnedEventId};

use crate::model::pdu::Pdu;
use crate::model::room_version::RoomVersion;
use crate::model::StateFilter;
use crate::persist::state_groups::{StateGroupId, StateGroupRow};
use crate::persist::{MembershipRow, RedactionRow, RoomWritePlan, StateIds, TimelineGap};
use crate::storage::indexeddb::IndexedDbStore;
use crate::storage::{
    EventPlacement, LocalMemberships, MemoryStore, PlanningEvent, Positions, RoomList, Store,
    StoreError, StoredEvent, StreamPage, SyncToken, WriteLock,
};

/// The storage an `EventStore` was opened on.
pub enum Backend {
    /// `inMemory: true` (Node.js, tests); boxed, as its tables outweigh the other variant.
    Memory(Box<MemoryStore>),
    /// A browser's IndexedDB database.
    IndexedDb(IndexedDbStore),
}

/// Runs `$body` with `$store` bound to the backend inside. The calls name `Store::` because the
/// IndexedDB backend has inherent methods of the same names.
macro_rules! dispatch {
    ($backend:expr, $store:ident => $body:expr) => {
        match $backend {
            Backend::Memory(memory) => {
                let $store = &**memory;
                $body
            }
            Backend::IndexedDb($store) => $body,
        }
    };
}

impl Store for Backend {
    async fn apply(&self, plan: &mut RoomWritePlan, writer: &str) -> Result<(), StoreError> {
        dispatch!(self, store => Store::apply(store, plan, writer).await)
    }

    async fn room_chunks(&self, room_id: &str) -> Result<u64, StoreError> {
        dispatch!(self, store => Store::room_chunks(store, room_id).await)
    }

    async fn rooms_chunks(&self, room_ids: &[String]) -> Result<Vec<u64>, StoreError> {
        dispatch!(self, store => Store::rooms_chunks(store, room_ids).await)
    }

    async fn room_version(&self, room_id: &str) -> Result<Option<RoomVersion>, StoreError> {
        dispatch!(self, store => Store::room_version(store, room_id).await)
    }

    async fn rooms(&self) -> Result<BTreeSet<String>, StoreError> {
        dispatch!(self, store => Store::rooms(store).await)
    }

    async fn event(&self, event_id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
        dispatch!(self, store => Store::event(store, event_id).await)
    }

    async fn events(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<StoredEvent>>, StoreError> {
        dispatch!(self, store => Store::events(store, event_ids).await)
    }

    async fn forward_extremities(&self, room_id: &str) -> Result<BTreeSet<String>, StoreError> {
        dispatch!(self, store => Store::forward_extremities(store, room_id).await)
    }

    async fn event_placements(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<EventPlacement>>, StoreError> {
        dispatch!(self, store => Store::event_placements(store, event_ids).await)
    }

    async fn rooms_versions(
        &self,
        room_ids: &[String],
    ) -> Result<Vec<Option<RoomVersion>>, StoreError> {
        dispatch!(self, store => Store::rooms_versions(store, room_ids).await)
    }

    async fn rooms_forward_extremities(
        &self,
        room_ids: &[String],
    ) -> Result<Vec<BTreeSet<String>>, StoreError> {
        dispatch!(self, store => Store::rooms_forward_extremities(store, room_ids).await)
    }

    async fn redactions_of(&self, event_id: &EventId) -> Result<Vec<RedactionRow>, StoreError> {
        dispatch!(self, store => Store::redactions_of(store, event_id).await)
    }

    async fn redactions_of_many(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Vec<RedactionRow>>, StoreError> {
        dispatch!(self, store => Store::redactions_of_many(store, event_ids).await)
    }

    async fn backward_extremities(
        &self,
        room_id: &str,
    ) -> Result<BTreeSet<OwnedEventId>, StoreError> {
        dispatch!(self, store => Store::backward_extremities(store, room_id).await)
    }

    async fn current_state(
        &self,
        room_id: &str,
        filter: &StateFilter,
    ) -> Result<StateIds, StoreError> {
        dispatch!(self, store => Store::current_state(store, room_id, filter).await)
    }

    async fn current_states(&self, room_ids: &[String]) -> Result<Vec<StateIds>, StoreError> {
        dispatch!(self, store => Store::current_states(store, room_ids).await)
    }

    async fn state_at_event(
        &self,
        event_id: &EventId,
        filter: &StateFilter,
    ) -> Result<Option<StateIds>, StoreError> {
        dispatch!(self, store => Store::state_at_event(store, event_id, filter).await)
    }

    async fn memberships(&self, room_id: &str) -> Result<Vec<MembershipRow>, StoreError> {
        dispatch!(self, store => Store::memberships(store, room_id).await)
    }

    async fn positions(&self) -> Result<Positions, StoreError> {
        dispatch!(self, store => Store::positions(store).await)
    }

    async fn state_pdus(&self, state: &StateIds) -> Result<Vec<Option<Pdu>>, StoreError> {
        dispatch!(self, store => Store::state_pdus(store, state).await)
    }

    async fn planning_events(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<PlanningEvent>>, StoreError> {
        dispatch!(self, store => Store::planning_events(store, event_ids).await)
    }

    async fn state_group_chain(
        &self,
        group: StateGroupId,
    ) -> Result<Vec<StateGroupRow>, StoreError> {
        dispatch!(self, store => Store::state_group_chain(store, group).await)
    }

    async fn room_timeline(
        &self,
        room_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        dispatch!(self, store => Store::room_timeline(store, room_id, before, limit).await)
    }

    async fn lock_writes(&self) -> Result<WriteLock, StoreError> {
        dispatch!(self, store => Store::lock_writes(store).await)
    }

    async fn local_memberships(
        &self,
        user_id: &str,
        room_ids: Option<&[String]>,
    ) -> Result<LocalMemberships, StoreError> {
        dispatch!(self, store => Store::local_memberships(store, user_id, room_ids).await)
    }

    async fn timeline_gaps(&self, room_id: &str) -> Result<Vec<TimelineGap>, StoreError> {
        dispatch!(self, store => Store::timeline_gaps(store, room_id).await)
    }

    async fn room_list(&self, user_id: &str) -> Result<RoomList, StoreError> {
        dispatch!(self, store => Store::room_list(store, user_id).await)
    }

    async fn keep_previews(
        &self,
        user_id: &str,
        epoch: u64,
        previews: &[(String, String)],
    ) -> Result<bool, StoreError> {
        dispatch!(self, store => Store::keep_previews(store, user_id, epoch, previews).await)
    }

    async fn sync_token(&self) -> Result<Option<SyncToken>, StoreError> {
        dispatch!(self, store => Store::sync_token(store).await)
    }

    async fn set_sync_token(&self, token: &SyncToken) -> Result<(), StoreError> {
        dispatch!(self, store => Store::set_sync_token(store, token).await)
    }

    async fn referenced_as_prev(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<BTreeSet<OwnedEventId>, StoreError> {
        dispatch!(self, store => Store::referenced_as_prev(store, event_ids).await)
    }

    async fn stream_positions(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        dispatch!(self, store => Store::stream_positions(store).await)
    }

    async fn stream_after(&self, after: i64, limit: usize) -> Result<StreamPage, StoreError> {
        dispatch!(self, store => Store::stream_after(store, after, limit).await)
    }
}
