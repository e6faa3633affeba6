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
pub mod state_ranges;

use std::collections::{BTreeMap, BTreeSet};

use ruma_common::{EventId, OwnedEventId};

pub use self::error::StoreError;
pub use self::event_store::{
    EventStore, Heard, IngestResult, ListedPreview, PersistResult, ReplicationLink,
    RoomIngestResult, RoomPersistResult, SyncSection, TimelinePage,
};
pub use self::memory::MemoryStore;
use crate::hashed::HashMap;
use crate::model::internal_metadata::InternalMetadata;
use crate::model::pdu::Pdu;
use crate::model::room_version::RoomVersion;
use crate::model::StateFilter;
use crate::persist::state_groups::{StateGroupId, StateGroupRow};
use crate::persist::{
    EventOutcome, LocalMembership, MembershipRow, RedactionRow, RoomWritePlan, StateIds,
    TimelineGap,
};
pub use crate::persist::{EventPlacement, Positions};

/// A user's `local_current_membership` rows by room id.
pub type LocalMemberships = HashMap<String, LocalMembership>;

/// The `next_batch` of the last `/sync` response stored whole, and whose response it was: a
/// store holds one user's syncs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncToken {
    /// The user whose `/sync` it is.
    pub user_id: String,
    /// The token to sync from next.
    pub next_batch: String,
}

impl SyncToken {
    /// `user_id`'s token `next_batch`.
    pub fn new(user_id: impl Into<String>, next_batch: impl Into<String>) -> Self {
        Self { user_id: user_id.into(), next_batch: next_batch.into() }
    }
}

/// What a user's room list is drawn from ([`Store::room_list`]), read together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoomList {
    /// Every room stored, and every room where the user has a `local_current_membership` row
    /// (an invite or a knock may be of a room the store holds nothing else of).
    pub rooms: BTreeSet<String>,
    /// The previews kept for the user ([`Store::keep_previews`]), each as the JSON text the
    /// event store wrote, by room id.
    pub previews: HashMap<String, String>,
    /// How many writes had dropped kept previews when these were read: previews computed from
    /// what is read after this are kept only if no write dropped any since.
    pub epoch: u64,
}

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

impl StoredEvent {
    /// How the event was judged when it arrived.
    pub fn outcome(&self) -> EventOutcome {
        if self.rejected_reason.is_some() {
            EventOutcome::Rejected
        } else if self.internal_metadata.outlier {
            EventOutcome::Outlier
        } else if self.internal_metadata.soft_failed {
            EventOutcome::SoftFailed
        } else {
            EventOutcome::Accepted
        }
    }
}

/// An event as planning loads it: the stored event and the group of the state after it (none for
/// an outlier).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PlanningEvent {
    /// The stored event.
    pub event: StoredEvent,
    /// Its `event_to_state_groups` row.
    pub state_group: Option<StateGroupId>,
}

impl From<&PlanningEvent> for EventPlacement {
    fn from(found: &PlanningEvent) -> Self {
        let metadata = &found.event.internal_metadata;
        Self {
            outlier: metadata.outlier,
            stream_ordering: metadata.stream_ordering.unwrap_or_default(),
            instance_name: metadata.instance_name.clone(),
            state_group: found.state_group,
        }
    }
}

/// A hold on a store's writes ([`Store::lock_writes`]): released when dropped.
#[must_use = "writes are held only while the lock lives"]
pub struct WriteLock(Option<Box<dyn FnOnce()>>);

impl WriteLock {
    /// A lock that holds nothing: a backend that only one connection writes to.
    pub fn none() -> Self {
        Self(None)
    }

    /// A lock that `release` lets go of.
    pub fn released_by(release: impl FnOnce() + 'static) -> Self {
        Self(Some(Box::new(release)))
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        if let Some(release) = self.0.take() {
            release();
        }
    }
}

impl std::fmt::Debug for WriteLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "WriteLock(held)" } else { "WriteLock(none)" })
    }
}

/// What a backend stores and reads. Methods are async so that browser storage (IndexedDB) can
/// implement them; on wasm the futures are not `Send`, so callers stay generic over the backend.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// Writes one room chunk atomically: every row of the plan, or none, with `writer` as the
    /// events' `instance_name`.
    ///
    /// Another writer (tab) may have written since the plan was made. When it took ids, the
    /// plan takes its own after theirs ([`RoomWritePlan::rebase`], in the write's own
    /// transaction) and `plan` is left as written. When it wrote a chunk of the same room
    /// (`plan.planned_on.room_chunks` is behind the room's count), nothing is written:
    /// [`StoreError::Conflict`].
    async fn apply(&self, plan: &mut RoomWritePlan, writer: &str) -> Result<(), StoreError>;

    /// How many chunks of a room were written ([`PlannedOn::room_chunks`]).
    ///
    /// [`PlannedOn::room_chunks`]: crate::persist::PlannedOn::room_chunks
    async fn room_chunks(&self, room_id: &str) -> Result<u64, StoreError>;

    /// [`Self::room_chunks`] of each of `room_ids`, in their order. A backend whose reads cost a
    /// round trip each reads them at once: a tab checks every cached room of a response after
    /// another tab's turn.
    async fn rooms_chunks(&self, room_ids: &[String]) -> Result<Vec<u64>, StoreError> {
        let mut counts = Vec::with_capacity(room_ids.len());
        for room_id in room_ids {
            counts.push(self.room_chunks(room_id).await?);
        }
        Ok(counts)
    }

    /// The version of a stored room (`rooms.room_version`).
    async fn room_version(&self, room_id: &str) -> Result<Option<RoomVersion>, StoreError>;

    /// [`Self::room_version`] of each of `room_ids`, in their order (`None`: not stored); read at
    /// once by a backend whose reads cost a round trip each (see [`Self::rooms_chunks`]).
    async fn rooms_versions(
        &self,
        room_ids: &[String],
    ) -> Result<Vec<Option<RoomVersion>>, StoreError> {
        let mut versions = Vec::with_capacity(room_ids.len());
        for room_id in room_ids {
            versions.push(self.room_version(room_id).await?);
        }
        Ok(versions)
    }

    /// Every stored room (the keys of `rooms`: a room is stored once its create event is).
    async fn rooms(&self) -> Result<BTreeSet<String>, StoreError>;

    /// A stored event.
    async fn event(&self, event_id: &EventId) -> Result<Option<StoredEvent>, StoreError>;

    /// Stored events, in the order of `event_ids` (`None` for one not stored): what a read
    /// needs of events beyond their PDUs (whether a redaction was rejected), in one request
    /// batch.
    async fn events(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<StoredEvent>>, StoreError>;

    /// A room's forward extremities.
    async fn forward_extremities(&self, room_id: &str) -> Result<BTreeSet<String>, StoreError>;

    /// [`Self::forward_extremities`] of each of `room_ids`, in their order; read at once by a
    /// backend whose reads cost a round trip each (see [`Self::rooms_chunks`]).
    async fn rooms_forward_extremities(
        &self,
        room_ids: &[String],
    ) -> Result<Vec<BTreeSet<String>>, StoreError> {
        let mut tips = Vec::with_capacity(room_ids.len());
        for room_id in room_ids {
            tips.push(self.forward_extremities(room_id).await?);
        }
        Ok(tips)
    }

    /// The `redactions` rows that name an event.
    async fn redactions_of(&self, event_id: &EventId) -> Result<Vec<RedactionRow>, StoreError>;

    /// The `redactions` rows that name each of `event_ids`, in their order: what a read of
    /// several events (a state) needs to prune the redacted ones, in one request batch.
    async fn redactions_of_many(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Vec<RedactionRow>>, StoreError>;

    /// A room's backward extremities: prev events of stored events that are not stored.
    async fn backward_extremities(
        &self,
        room_id: &str,
    ) -> Result<BTreeSet<OwnedEventId>, StoreError>;

    /// A room's current state that `filter` matches.
    async fn current_state(
        &self,
        room_id: &str,
        filter: &StateFilter,
    ) -> Result<StateIds, StoreError>;

    /// The current state of each of `room_ids`, in their order, read together (one request
    /// batch: a room list reads every room's).
    async fn current_states(&self, room_ids: &[String]) -> Result<Vec<StateIds>, StoreError>;

    /// The state after an event (its state group) that `filter` matches, members and
    /// non-members read in one walk of the group chain.
    async fn state_at_event(
        &self,
        event_id: &EventId,
        filter: &StateFilter,
    ) -> Result<Option<StateIds>, StoreError>;

    /// A room's `room_memberships` rows.
    async fn memberships(&self, room_id: &str) -> Result<Vec<MembershipRow>, StoreError>;

    /// Where the sequences stand (see [`Positions`]).
    async fn positions(&self) -> Result<Positions, StoreError>;

    /// The PDUs of a state's events (one room's), in its order (`None` for one not stored): what
    /// a state read returns, read without the rest of the rows.
    async fn state_pdus(&self, state: &StateIds) -> Result<Vec<Option<Pdu>>, StoreError>;

    /// Events for planning, in the order of `event_ids`: `None` for one not stored.
    async fn planning_events(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<PlanningEvent>>, StoreError>;

    /// [`Self::planning_events`] without the events: of events a chunk brings again, planning
    /// needs where they stand only, and a backend that stores events as text spares reading
    /// them back.
    async fn event_placements(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<EventPlacement>>, StoreError> {
        let found = self.planning_events(event_ids).await?;
        Ok(found.iter().map(|found| found.as_ref().map(EventPlacement::from)).collect())
    }

    /// A state group and every group down its chain, the snapshot first.
    async fn state_group_chain(
        &self,
        group: StateGroupId,
    ) -> Result<Vec<StateGroupRow>, StoreError>;

    /// The newest `limit` events of a room's timeline (accepted events that are not outliers)
    /// whose stream ordering is below `before`, newest first.
    async fn room_timeline(
        &self,
        room_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// Waits until no other connection to the same storage (another browser tab's store) writes,
    /// then holds them off until the lock is dropped: writers take turns, and each plans on what
    /// the others wrote before it (see [`EventStore`]).
    async fn lock_writes(&self) -> Result<WriteLock, StoreError>;

    /// `user_id`'s `local_current_membership` rows, by room id: of every room, or of `room_ids`.
    async fn local_memberships(
        &self,
        user_id: &str,
        room_ids: Option<&[String]>,
    ) -> Result<LocalMemberships, StoreError>;

    /// A room's timeline gaps, each with the event after it, in no particular order.
    async fn timeline_gaps(&self, room_id: &str) -> Result<Vec<TimelineGap>, StoreError>;

    /// What `user_id`'s room list is drawn from: the rooms, the previews kept of those that no
    /// write changed since ([`RoomWritePlan::stales_previews`]: [`Store::apply`] drops a room's
    /// previews and moves the epoch on), and the epoch.
    async fn room_list(&self, user_id: &str) -> Result<RoomList, StoreError>;

    /// Keeps previews computed for `user_id` (room id, JSON text) from what was read after
    /// `epoch`, unless a write made previews stale since (the epoch moved: what they were computed
    /// from may be gone). Whether they were kept.
    async fn keep_previews(
        &self,
        user_id: &str,
        epoch: u64,
        previews: &[(String, String)],
    ) -> Result<bool, StoreError>;

    /// The sync token, once a response was stored whole.
    async fn sync_token(&self) -> Result<Option<SyncToken>, StoreError>;

    /// Stores the sync token (alone, after every room of its response).
    async fn set_sync_token(&self, token: &SyncToken) -> Result<(), StoreError>;

    /// Those of `event_ids` that a stored accepted event (neither rejected, soft-failed nor an
    /// outlier) named as a prev while the room's DAG did not hold them ([`PlannedEvent`]'s
    /// `missing_prevs`). For an event not in the DAG, this is Synapse's
    /// `_get_events_which_are_prevs`: whether it arrives late.
    ///
    /// [`PlannedEvent`]: crate::persist::plan::PlannedEvent
    async fn referenced_as_prev(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<BTreeSet<OwnedEventId>, StoreError>;

    /// Each writer's position on the events stream (`stream_positions`: the last id each
    /// committed), by `instance_name`.
    async fn stream_positions(&self) -> Result<BTreeMap<String, i64>, StoreError>;

    /// The live events stream after the id `after`, read in one transaction: the events whose
    /// stream ordering is above it, in increasing order, at most `limit` of them, and the last
    /// id the sequence handed out when they were read.
    async fn stream_after(&self, after: i64, limit: usize) -> Result<StreamPage, StoreError>;
}

/// A page of the live events stream ([`Store::stream_after`]).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct StreamPage {
    /// The last id handed out on the events stream when the page was read.
    pub last_stream_id: i64,
    /// The events after the id asked for, in increasing stream ordering.
    pub events: Vec<StoredEvent>,
    /// Whether the page stopped at its limit: more events may follow the last one.
    pub more: bool,
}

/// A store shared by several event stores (as tabs share one database): each plans on its own,
/// and the backend's writes check what each chunk was planned on.
impl<S: Store + ?Sized> Store for &S {
    async fn apply(&self, plan: &mut RoomWritePlan, writer: &str) -> Result<(), StoreError> {
        (**self).apply(plan, writer).await
    }

    async fn room_chunks(&self, room_id: &str) -> Result<u64, StoreError> {
        (**self).room_chunks(room_id).await
    }

    async fn rooms_chunks(&self, room_ids: &[String]) -> Result<Vec<u64>, StoreError> {
        (**self).rooms_chunks(room_ids).await
    }

    async fn room_version(&self, room_id: &str) -> Result<Option<RoomVersion>, StoreError> {
        (**self).room_version(room_id).await
    }

    async fn rooms_versions(
        &self,
        room_ids: &[String],
    ) -> Result<Vec<Option<RoomVersion>>, StoreError> {
        (**self).rooms_versions(room_ids).await
    }

    async fn rooms(&self) -> Result<BTreeSet<String>, StoreError> {
        (**self).rooms().await
    }

    async fn event(&self, event_id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
        (**self).event(event_id).await
    }

    async fn events(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<StoredEvent>>, StoreError> {
        (**self).events(event_ids).await
    }

    async fn forward_extremities(&self, room_id: &str) -> Result<BTreeSet<String>, StoreError> {
        (**self).forward_extremities(room_id).await
    }

    async fn rooms_forward_extremities(
        &self,
        room_ids: &[String],
    ) -> Result<Vec<BTreeSet<String>>, StoreError> {
        (**self).rooms_forward_extremities(room_ids).await
    }

    async fn redactions_of(&self, event_id: &EventId) -> Result<Vec<RedactionRow>, StoreError> {
        (**self).redactions_of(event_id).await
    }

    async fn redactions_of_many(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Vec<RedactionRow>>, StoreError> {
        (**self).redactions_of_many(event_ids).await
    }

    async fn backward_extremities(
        &self,
        room_id: &str,
    ) -> Result<BTreeSet<OwnedEventId>, StoreError> {
        (**self).backward_extremities(room_id).await
    }

    async fn current_state(
        &self,
        room_id: &str,
        filter: &StateFilter,
    ) -> Result<StateIds, StoreError> {
        (**self).current_state(room_id, filter).await
    }

    async fn current_states(&self, room_ids: &[String]) -> Result<Vec<StateIds>, StoreError> {
        (**self).current_states(room_ids).await
    }

    async fn state_at_event(
        &self,
        event_id: &EventId,
        filter: &StateFilter,
    ) -> Result<Option<StateIds>, StoreError> {
        (**self).state_at_event(event_id, filter).await
    }

    async fn memberships(&self, room_id: &str) -> Result<Vec<MembershipRow>, StoreError> {
        (**self).memberships(room_id).await
    }

    async fn positions(&self) -> Result<Positions, StoreError> {
        (**self).positions().await
    }

    async fn state_pdus(&self, state: &StateIds) -> Result<Vec<Option<Pdu>>, StoreError> {
        (**self).state_pdus(state).await
    }

    async fn planning_events(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<PlanningEvent>>, StoreError> {
        (**self).planning_events(event_ids).await
    }

    async fn event_placements(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<EventPlacement>>, StoreError> {
        (**self).event_placements(event_ids).await
    }

    async fn state_group_chain(
        &self,
        group: StateGroupId,
    ) -> Result<Vec<StateGroupRow>, StoreError> {
        (**self).state_group_chain(group).await
    }

    async fn room_timeline(
        &self,
        room_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        (**self).room_timeline(room_id, before, limit).await
    }

    async fn lock_writes(&self) -> Result<WriteLock, StoreError> {
        (**self).lock_writes().await
    }

    async fn local_memberships(
        &self,
        user_id: &str,
        room_ids: Option<&[String]>,
    ) -> Result<LocalMemberships, StoreError> {
        (**self).local_memberships(user_id, room_ids).await
    }

    async fn timeline_gaps(&self, room_id: &str) -> Result<Vec<TimelineGap>, StoreError> {
        (**self).timeline_gaps(room_id).await
    }

    async fn room_list(&self, user_id: &str) -> Result<RoomList, StoreError> {
        (**self).room_list(user_id).await
    }

    async fn keep_previews(
        &self,
        user_id: &str,
        epoch: u64,
        previews: &[(String, String)],
    ) -> Result<bool, StoreError> {
        (**self).keep_previews(user_id, epoch, previews).await
    }

    async fn sync_token(&self) -> Result<Option<SyncToken>, StoreError> {
        (**self).sync_token().await
    }

    async fn set_sync_token(&self, token: &SyncToken) -> Result<(), StoreError> {
        (**self).set_sync_token(token).await
    }

    async fn referenced_as_prev(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<BTreeSet<OwnedEventId>, StoreError> {
        (**self).referenced_as_prev(event_ids).await
    }

    async fn stream_positions(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        (**self).stream_positions().await
    }

    async fn stream_after(&self, after: i64, limit: usize) -> Result<StreamPage, StoreError> {
        (**self).stream_after(after, limit).await
    }
}
