//! The event store over any backend: persisting batches (read, plan, write per room chunk) and
//! reading back.
//!
//! Each room chunk is planned on a copy of that room's planning state (its history and state
//! groups; never another room's) and written in one atomic [`Store::apply`]; only when the write
//! succeeds does the copy replace the room's planning state. So a chunk that fails leaves nothing
//! behind, in the store or in memory, and the other rooms of the batch still persist (Synapse's per-room persistence queues: a slow or failing room never holds
//! back the others).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use ruma_common::EventId;
use serde_json::Value as JsonValue;

use super::{Store, StoreError, StoredEvent};
use crate::model::pdu::Pdu;
use crate::model::room_version::RoomVersion;
use crate::model::StateFilter;
use crate::persist::state_groups::{StateGroupId, StateGroups};
use crate::persist::{
    parse_batch, plan_room_chunk, EventOutcome, MembershipRow, RoomHistory, RoomWritePlan,
    StateIds, StreamOrderings,
};

/// What persisting one room chunk did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoomPersistResult {
    /// The room.
    pub room_id: String,
    /// Events stored (accepted, soft-failed and rejected alike), in stream order.
    pub persisted: Vec<String>,
    /// Rejected events with the reason.
    pub rejected: Vec<(String, String)>,
    /// Soft-failed events.
    pub soft_failed: Vec<String>,
    /// The room's forward extremities after the chunk.
    pub forward_extremities: BTreeSet<String>,
    /// The first and last stream ordering taken, if any event was stored.
    pub stream_orderings: Option<(i64, i64)>,
    /// Why the chunk was not stored, if it was not: nothing of it was written.
    pub error: Option<StoreError>,
}

/// What persisting a batch did, room chunk by room chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PersistResult {
    /// One result per room chunk, in the order the rooms first appear in the batch.
    pub rooms: Vec<RoomPersistResult>,
}

/// The planning state kept between batches: each room's own, plus the sequences every room
/// shares (stream orderings, state group ids).
#[derive(Debug, Default)]
struct Planning {
    rooms: BTreeMap<String, RoomPlanning>,
    orderings: StreamOrderings,
    next_state_group: StateGroupId,
}

/// One room's planning state: its history and its state groups.
#[derive(Debug, Clone)]
struct RoomPlanning {
    history: RoomHistory,
    groups: StateGroups,
}

/// A planned chunk, and what planning state it leaves once written.
struct Draft {
    room: RoomPlanning,
    orderings: StreamOrderings,
    plan: RoomWritePlan,
}

/// An event store over a backend.
///
/// The planning state lives here, filled as batches are persisted; a store opened on a backend
/// that already holds rooms starts with empty planning state (restoring it from the backend's
/// rows comes with the IndexedDB backend).
#[derive(Debug)]
pub struct EventStore<S> {
    backend: S,
    writer: String,
    planning: RefCell<Planning>,
}

impl<S: Store> EventStore<S> {
    /// An event store writing to `backend` as the writer (browser tab) `writer`.
    pub fn new(backend: S, writer: impl Into<String>) -> Self {
        Self { backend, writer: writer.into(), planning: RefCell::new(Planning::default()) }
    }

    /// The backend.
    pub fn backend(&self) -> &S {
        &self.backend
    }

    /// Persists a batch of PDUs: the whole batch is read first (bad input stores nothing), then
    /// each room chunk is planned and written atomically; a chunk that fails is reported in its
    /// result and the others persist. Backfilled events take negative stream orderings and move
    /// neither the forward extremities nor the current state.
    pub async fn persist_events(
        &self,
        events: Vec<JsonValue>,
        backfilled: bool,
    ) -> Result<PersistResult, StoreError> {
        let mut known: BTreeMap<String, RoomVersion> = BTreeMap::new();
        for room_id in events.iter().filter_map(|e| e.get("room_id").and_then(JsonValue::as_str)) {
            if !known.contains_key(room_id) {
                if let Some(version) = self.backend.room_version(room_id).await? {
                    known.insert(room_id.to_owned(), version);
                }
            }
        }
        let chunks = parse_batch(events, &|room_id| known.get(room_id).cloned())?;
        let mut rooms = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            rooms.push(self.persist_chunk(chunk.room_id, chunk.events, backfilled).await);
        }
        Ok(PersistResult { rooms })
    }

    async fn persist_chunk(
        &self,
        room_id: String,
        pdus: Vec<Pdu>,
        backfilled: bool,
    ) -> RoomPersistResult {
        let mut failed = RoomPersistResult {
            room_id: room_id.clone(),
            persisted: Vec::new(),
            rejected: Vec::new(),
            soft_failed: Vec::new(),
            forward_extremities: BTreeSet::new(),
            stream_orderings: None,
            error: None,
        };
        let draft = match self.plan(&room_id, pdus, backfilled) {
            Ok(draft) => draft,
            Err(error) => {
                failed.error = Some(error);
                return failed;
            }
        };
        if let Err(error) = self.backend.apply(&draft.plan, &self.writer).await {
            failed.error = Some(error);
            return failed;
        }
        let result = summarize(&room_id, &draft.plan, &draft.room.history);
        let mut planning = self.planning.borrow_mut();
        planning.orderings = draft.orderings;
        planning.next_state_group = draft.room.groups.next_id();
        planning.rooms.insert(room_id, draft.room);
        result
    }

    /// Plans a chunk on a copy of its room's planning state, which replaces it only once written.
    fn plan(&self, room_id: &str, pdus: Vec<Pdu>, backfilled: bool) -> Result<Draft, StoreError> {
        let Some(first) = pdus.first() else {
            return Err(StoreError::Plan("empty room chunk".to_owned()));
        };
        let room = first.room_id().to_owned();
        let planning = self.planning.borrow();
        let mut draft = planning.rooms.get(room_id).cloned().unwrap_or_else(|| RoomPlanning {
            history: RoomHistory::new(first.room_version().clone()),
            groups: StateGroups::default(),
        });
        draft.groups.continue_ids_from(planning.next_state_group);
        let mut orderings = planning.orderings.clone();
        drop(planning);
        let RoomPlanning { history, groups } = &mut draft;
        let plan = plan_room_chunk(history, groups, room, pdus, backfilled, &mut orderings)
            .map_err(|error| StoreError::Plan(error.to_string()))?;
        Ok(Draft { room: draft, orderings, plan })
    }

    /// A stored event, with its internal metadata and format version.
    pub async fn event(&self, event_id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
        self.backend.event(event_id).await
    }

    /// A room's current state that `filter` matches.
    pub async fn current_state(
        &self,
        room_id: &str,
        filter: &StateFilter,
    ) -> Result<StateIds, StoreError> {
        self.backend.current_state(room_id, filter).await
    }

    /// The state after an event that `filter` matches: for a state event, including it.
    pub async fn state_at_event(
        &self,
        event_id: &EventId,
        filter: &StateFilter,
    ) -> Result<Option<StateIds>, StoreError> {
        self.backend.state_at_event(event_id, filter).await
    }

    /// A room's forward extremities.
    pub async fn forward_extremities(&self, room_id: &str) -> Result<BTreeSet<String>, StoreError> {
        self.backend.forward_extremities(room_id).await
    }

    /// A room's membership rows.
    pub async fn memberships(&self, room_id: &str) -> Result<Vec<MembershipRow>, StoreError> {
        self.backend.memberships(room_id).await
    }
}

fn summarize(room_id: &str, plan: &RoomWritePlan, history: &RoomHistory) -> RoomPersistResult {
    let ids = |outcome: EventOutcome| {
        plan.events
            .iter()
            .filter(move |e| e.outcome == outcome)
            .map(|e| e.pdu.event_id().to_string())
    };
    RoomPersistResult {
        room_id: room_id.to_owned(),
        persisted: plan.events.iter().map(|e| e.pdu.event_id().to_string()).collect(),
        rejected: ids(EventOutcome::Rejected).map(|id| (id, "auth_error".to_owned())).collect(),
        soft_failed: ids(EventOutcome::SoftFailed).collect(),
        forward_extremities: history.forward_extremities().clone(),
        stream_orderings: plan
            .events
            .first()
            .zip(plan.events.last())
            .map(|(first, last)| (first.stream_ordering, last.stream_ordering)),
        error: None,
    }
}
