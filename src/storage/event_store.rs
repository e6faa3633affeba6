//! The event store over any backend: persisting batches (read, plan, write per room chunk) and
//! reading back.
//!
//! Each room chunk is planned on a copy of that room's planning state (its history and state
//! groups; never another room's) and written in one atomic [`Store::apply`]; only when the write
//! succeeds does the copy replace the room's planning state. So a chunk that fails leaves nothing
//! behind, in the store or in memory, and the other rooms of the batch still persist (Synapse's per-room persistence queues: a slow or failing room never holds
//! back the others).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::task::{Poll, Waker};

use ruma_common::{CanonicalJsonValue, EventId};
use serde_json::Value as JsonValue;

use super::{Store, StoreError, StoredEvent};
use crate::model::pdu::Pdu;
use crate::model::room_version::RoomVersion;
use crate::model::state_filter::MEMBER_EVENT_TYPE;
use crate::model::{InputError, StateEvent, StateFilter};
use crate::persist::state_groups::{StateGroupId, StateGroups};
use crate::persist::{
    parse_batch, plan_room_chunk, EventOutcome, MembershipRow, RoomHistory, RoomWritePlan,
    StateIds, StreamOrderings,
};
use crate::prejoin::config::StateKeys;
use crate::prejoin::{
    compute_room_preview, compute_stripped_state, MembershipKind, PrejoinConfig, PreviewRequest,
    RoomPreview, StripRequest,
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
///
/// Persists run one at a time, in the order they were called, even when a caller starts several
/// without awaiting each (see [`PersistQueue`]); reads never wait.
#[derive(Debug)]
pub struct EventStore<S> {
    backend: S,
    writer: String,
    planning: RefCell<Planning>,
    queue: PersistQueue,
}

/// Lets one persist run at a time. A chunk is planned from the planning state, written (an
/// await), and only then does its result replace the planning state: two persists interleaved at
/// that await would plan from the same state and take the same stream orderings and state group
/// ids. (Synapse queues persists per room; one queue serves every room here because the
/// orderings and group ids are shared.)
#[derive(Debug, Default)]
struct PersistQueue {
    busy: Cell<bool>,
    waiting: RefCell<Vec<Waker>>,
}

/// A persist's turn: the queue is free again when it is dropped.
struct PersistTurn<'a> {
    queue: &'a PersistQueue,
}

impl PersistQueue {
    /// Waits until no other persist runs, then holds the turn until the result is dropped.
    async fn enter(&self) -> PersistTurn<'_> {
        std::future::poll_fn(|context| {
            if self.busy.replace(true) {
                self.waiting.borrow_mut().push(context.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(PersistTurn { queue: self })
            }
        })
        .await
    }
}

impl Drop for PersistTurn<'_> {
    fn drop(&mut self) {
        self.queue.busy.set(false);
        let waiting = std::mem::take(&mut *self.queue.waiting.borrow_mut());
        // Woken in the order they started waiting; the first polled takes the turn.
        for waker in waiting {
            waker.wake();
        }
    }
}

impl<S: Store> EventStore<S> {
    /// An event store writing to `backend` as the writer (browser tab) `writer`.
    pub fn new(backend: S, writer: impl Into<String>) -> Self {
        Self {
            backend,
            writer: writer.into(),
            planning: RefCell::new(Planning::default()),
            queue: PersistQueue::default(),
        }
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
        let _turn = self.queue.enter().await;
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

    /// Every stored room, sorted by room id.
    pub async fn rooms(&self) -> Result<BTreeSet<String>, StoreError> {
        self.backend.rooms().await
    }

    /// The events stream's current token as this store knows it: the highest stream ordering
    /// taken by a live event that was written, 0 before any. Backfilled events (negative
    /// orderings) and chunks that failed to write never move it.
    pub fn current_token(&self) -> i64 {
        self.planning.borrow().orderings.last()
    }

    /// The events of a room's current state that `filter` matches, ordered by type, then
    /// state_key. A room that is not stored has none.
    pub async fn current_state_events(
        &self,
        room_id: &str,
        filter: &StateFilter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let ids = self.backend.current_state(room_id, filter).await?;
        self.load_state(ids).await
    }

    /// The events of the state after an event that `filter` matches, ordered by type, then
    /// state_key; `None` when the event is not stored.
    pub async fn state_events_at(
        &self,
        event_id: &EventId,
        filter: &StateFilter,
    ) -> Result<Option<Vec<StoredEvent>>, StoreError> {
        match self.backend.state_at_event(event_id, filter).await? {
            Some(ids) => Ok(Some(self.load_state(ids).await?)),
            None => Ok(None),
        }
    }

    async fn load_state(&self, ids: StateIds) -> Result<Vec<StoredEvent>, StoreError> {
        let mut events = Vec::with_capacity(ids.len());
        for ((event_type, state_key), event_id) in ids {
            let Some(event) = self.backend.event(&event_id).await? else {
                return Err(StoreError::Corrupt(format!(
                    "the state ({event_type}, {state_key:?}) names {event_id}, which is not stored"
                )));
            };
            events.push(event);
        }
        Ok(events)
    }

    /// The stripped state of `user_id`'s invite or knock, from the room's current state: the
    /// membership event is the user's current `m.room.member` event, which must be an invite (for
    /// [`MembershipKind::Invite`]) or a knock; the rest is [`compute_stripped_state`] on the
    /// current state with `config`.
    ///
    /// Only the events stripped state can hold are loaded: the configured types, the user's
    /// member event and, for an invite, the inviter's.
    pub async fn stripped_state(
        &self,
        room_id: &str,
        kind: MembershipKind,
        user_id: &str,
        config: &PrejoinConfig,
    ) -> Result<Vec<StateEvent>, StoreError> {
        if self.backend.room_version(room_id).await?.is_none() {
            return Err(InputError::UnknownRoom(room_id.to_owned()).into());
        }
        let own = StateFilter::from_types([(MEMBER_EVENT_TYPE, Some(user_id))]);
        let member = self.current_state_events(room_id, &own).await?.into_iter().next();
        let membership = member.as_ref().and_then(|event| {
            event.pdu.content().get("membership").and_then(CanonicalJsonValue::as_str)
        });
        let Some(member) = member.as_ref().filter(|_| membership == Some(kind.membership())) else {
            return Err(InputError::MembershipMismatch {
                user_id: user_id.to_owned(),
                room_id: room_id.to_owned(),
                expected: kind.membership(),
                found: membership.unwrap_or("none").to_owned(),
            }
            .into());
        };
        let mut types: Vec<(String, Option<String>)> = Vec::new();
        for (event_type, state_keys) in config.event_types() {
            match state_keys {
                StateKeys::All => types.push((event_type, None)),
                StateKeys::Some(keys) => {
                    types.extend(keys.into_iter().map(|key| (event_type.clone(), Some(key))));
                }
            }
        }
        types.push((MEMBER_EVENT_TYPE.to_owned(), Some(user_id.to_owned())));
        if kind == MembershipKind::Invite {
            types.push((MEMBER_EVENT_TYPE.to_owned(), Some(member.pdu.sender().to_string())));
        }
        let state = self.current_state_events(room_id, &StateFilter::from_types(types)).await?;
        let state = JsonValue::Array(state.iter().map(client_event).collect());
        let mut request = StripRequest::new(kind, client_event(member));
        request.config = config.clone();
        Ok(compute_stripped_state(state, request)?)
    }

    /// The preview of every stored room for `own_user_id`, from its current state, sorted by
    /// room id. The kind of each follows the own user's current membership: an invite or a knock
    /// previews as such (only the members that kind may use), anything else as a joined room.
    pub async fn room_previews(&self, own_user_id: &str) -> Result<Vec<RoomPreview>, StoreError> {
        let mut previews = Vec::new();
        for room_id in self.rooms().await? {
            let state = self.current_state_events(&room_id, &StateFilter::all()).await?;
            let state: Vec<JsonValue> = state.iter().map(client_event).collect();
            let text = serde_json::to_string(&state)
                .map_err(|error| InputError::InvalidJson(error.to_string()))?;
            let request = PreviewRequest::new(room_id, own_user_id);
            previews.push(compute_room_preview(&text, &request)?);
        }
        Ok(previews)
    }
}

/// A stored event in client format, as JSON.
fn client_event(event: &StoredEvent) -> JsonValue {
    CanonicalJsonValue::Object(event.pdu.to_client_event()).into()
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use ruma_common::EventId;
    use serde_json::Value as JsonValue;

    use super::EventStore;
    use crate::model::room_version::RoomVersion;
    use crate::model::StateFilter;
    use crate::persist::{MembershipRow, RoomWritePlan, StateIds};
    use crate::storage::{MemoryStore, Store, StoreError, StoredEvent};

    /// The PDUs of `pdus.json`'s room `index`, in Synapse's stream order.
    fn room_pdus(index: usize) -> Vec<JsonValue> {
        let text = include_str!("../../tests/fixtures/synapse-1.163.2/pdus.json");
        let fixture: JsonValue = serde_json::from_str(text).unwrap();
        let events = fixture["rooms"][index]["events"].as_array().unwrap();
        events.iter().map(|event| event["pdu"].clone()).collect()
    }

    /// The memory backend, except that every write first yields once, as a browser backend
    /// does: what a persist does across that await is what this checks.
    struct Yielding(MemoryStore);

    async fn yield_once() {
        let mut yielded = false;
        std::future::poll_fn(|context| {
            if yielded {
                Poll::Ready(())
            } else {
                yielded = true;
                context.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await
    }

    impl Store for Yielding {
        async fn apply(&self, plan: &RoomWritePlan, writer: &str) -> Result<(), StoreError> {
            yield_once().await;
            self.0.apply(plan, writer).await
        }
        async fn room_version(&self, room_id: &str) -> Result<Option<RoomVersion>, StoreError> {
            self.0.room_version(room_id).await
        }
        async fn rooms(&self) -> Result<BTreeSet<String>, StoreError> {
            self.0.rooms().await
        }
        async fn event(&self, event_id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
            self.0.event(event_id).await
        }
        async fn forward_extremities(&self, room_id: &str) -> Result<BTreeSet<String>, StoreError> {
            self.0.forward_extremities(room_id).await
        }
        async fn current_state(
            &self,
            room_id: &str,
            filter: &StateFilter,
        ) -> Result<StateIds, StoreError> {
            self.0.current_state(room_id, filter).await
        }
        async fn state_at_event(
            &self,
            event_id: &EventId,
            filter: &StateFilter,
        ) -> Result<Option<StateIds>, StoreError> {
            self.0.state_at_event(event_id, filter).await
        }
        async fn memberships(&self, room_id: &str) -> Result<Vec<MembershipRow>, StoreError> {
            self.0.memberships(room_id).await
        }
    }

    /// Polls two futures on this thread, alternately, until both are done.
    fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
        let (mut a, mut b) = (pin!(a), pin!(b));
        let (mut a_out, mut b_out) = (None, None);
        let mut context = Context::from_waker(Waker::noop());
        for _ in 0..10_000 {
            if a_out.is_none() {
                if let Poll::Ready(out) = a.as_mut().poll(&mut context) {
                    a_out = Some(out);
                }
            }
            if b_out.is_none() {
                if let Poll::Ready(out) = b.as_mut().poll(&mut context) {
                    b_out = Some(out);
                }
            }
            if a_out.is_some() && b_out.is_some() {
                if let (Some(a), Some(b)) = (a_out, b_out) {
                    return (a, b);
                }
                unreachable!("both outputs were just checked");
            }
        }
        panic!("the futures did not finish");
    }

    /// Two persists started together (as JS may call `persistEvents` twice without awaiting)
    /// run one after the other: the second takes the orderings after the first's.
    #[test]
    fn concurrent_persists_take_turns() {
        let store = EventStore::new(Yielding(MemoryStore::new()), "tab-1");
        let (first, second) = (room_pdus(3), room_pdus(4));
        let (first_len, second_len) = (first.len() as i64, second.len() as i64);
        let (a, b) = join(store.persist_events(first, false), store.persist_events(second, false));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.rooms[0].error, None);
        assert_eq!(b.rooms[0].error, None);
        assert_eq!(a.rooms[0].stream_orderings, Some((1, first_len)));
        assert_eq!(b.rooms[0].stream_orderings, Some((first_len + 1, first_len + second_len)));
        assert_eq!(store.current_token(), first_len + second_len);
    }

    /// The current token follows live events only.
    #[test]
    fn the_current_token_is_the_last_live_ordering() {
        let store = EventStore::new(MemoryStore::new(), "tab-1");
        assert_eq!(store.current_token(), 0);
        let mut events = room_pdus(10);
        let later = events.split_off(5);
        let (join_two, _) = join(store.persist_events(events, false), async {});
        join_two.unwrap();
        assert_eq!(store.current_token(), 5);
        let (backfilled, _) = join(store.persist_events(later, true), async {});
        assert_eq!(backfilled.unwrap().rooms[0].stream_orderings.map(|(first, _)| first), Some(-1));
        assert_eq!(store.current_token(), 5, "backfilled events do not move it");
    }
}
