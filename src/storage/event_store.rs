//! The event store over any backend: persisting batches (read, plan, write per room chunk) and
//! reading back.
//!
//! Each room chunk is planned on a copy of that room's planning state (its history and state
//! groups; never another room's) and written in one atomic [`Store::apply`]; only when the write
//! succeeds does the copy replace the room's planning state.
//!
//! The planning state is a cache over the store: opening reads only the sequences' positions; a
//! room is restored on first use from its forward extremities and current state; what planning
//! then misses (older events, the states and state groups of prev events) is loaded and the chunk
//! planned again; and a room's cache is pruned after a write once it holds more events than the
//! cache limit. So a chunk that fails leaves nothing behind, in the store or in memory, and the
//! other rooms of the batch still persist (Synapse's per-room persistence queues: a slow or
//! failing room never holds back the others).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::task::{Poll, Waker};

use ruma_common::{CanonicalJsonValue, EventId, OwnedEventId};
use serde_json::Value as JsonValue;

use super::{Positions, Store, StoreError, StoredEvent, SyncToken};
use crate::hashed::HashMap;
use crate::model::pdu::Pdu;
use crate::model::room_version::RoomVersion;
use crate::model::state_filter::MEMBER_EVENT_TYPE;
use crate::model::{InputError, StateEvent, StateFilter};
use crate::ordered::set_of;
use crate::persist::plan::AUTH_ERROR;
use crate::persist::state::{Miss, Misses, StoredOutlier};
use crate::persist::state_groups::{StateGroupId, StateGroups};
use crate::persist::{
    parse_batch, plan_outliers, plan_room_chunk, EventOutcome, MembershipRow, RedactionRow,
    RoomHistory, RoomWritePlan, StateIds, StreamOrderings,
};
use crate::persist::{IdShift, PlannedOn};
use crate::prejoin::config::StateKeys;
use crate::prejoin::{compute_stripped_state, MembershipKind, PrejoinConfig, StripRequest};
use crate::replication::Replica;

mod ingest;
mod previews;
mod replication;

pub use self::ingest::{IngestResult, RoomIngestResult};
pub use self::previews::ListedPreview;
pub use self::replication::{Heard, ReplicationLink};
pub use crate::sync::SyncSection;

/// How many rooms `room_previews` reads the current states of together.
const PREVIEW_BATCH: usize = 100;

/// How many events a room's planning cache holds before it is pruned after a write.
pub const DEFAULT_CACHE_LIMIT: usize = 4096;

/// How many times a chunk is planned again after loading what planning missed. Each round loads
/// events or states the one before could not know of; a history deeper than this in one chunk is
/// refused rather than read without bound.
const MAX_LOAD_ROUNDS: usize = 64;

/// How many times a room chunk is planned again because other writers (tabs) wrote to its room
/// meanwhile, before it fails with [`StoreError::Conflict`]: each time, another writer stored a
/// chunk of the room, so the room moves on whoever writes.
const MAX_CONFLICTS: usize = 16;

/// What persisting one room chunk did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoomPersistResult {
    /// The room.
    pub room_id: String,
    /// Events stored (accepted, soft-failed and rejected alike), in stream order.
    pub persisted: Vec<String>,
    /// Events of the chunk that were stored already (by this writer before, or by another tab):
    /// stored once, with no stream id taken for them now.
    pub already_persisted: Vec<String>,
    /// Rejected events with the reason.
    pub rejected: Vec<(String, String)>,
    /// Soft-failed events.
    pub soft_failed: Vec<String>,
    /// The room's forward extremities after the chunk.
    pub forward_extremities: BTreeSet<String>,
    /// The first and last stream ids taken, if any event was stored: one per event, an outlier
    /// arriving in the DAG included, though it keeps the ordering it was stored with.
    pub stream_orderings: Option<(i64, i64)>,
    /// Why the chunk was not stored, if it was not: nothing of it was written.
    pub error: Option<StoreError>,
}

/// A page of a room's timeline ([`EventStore::room_timeline`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimelinePage {
    /// The events, oldest first.
    pub events: Vec<Pdu>,
    /// The `prev_batch` to paginate back from when the events before the first were not
    /// delivered (a gap of a `limited` `/sync` timeline); `None` when they are stored (another
    /// page) or when there are none.
    pub gap: Option<String>,
}

impl RoomPersistResult {
    /// A room chunk of which nothing was stored, and why.
    fn failed(room_id: String, error: StoreError) -> Self {
        Self {
            room_id,
            persisted: Vec::new(),
            already_persisted: Vec::new(),
            rejected: Vec::new(),
            soft_failed: Vec::new(),
            forward_extremities: BTreeSet::new(),
            stream_orderings: None,
            error: Some(error),
        }
    }
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
#[derive(Debug)]
struct Planning {
    rooms: HashMap<String, RoomPlanning>,
    /// Rooms filled from `/sync`, as the last response left them.
    synced: HashMap<String, ingest::SyncedRoomCache>,
    /// Synced rooms' caches kept across other writers' turns: one is used again only once the
    /// store's count of the room's chunks shows that no other writer wrote the room since (see
    /// [`EventStore::take_turn`]).
    unverified: HashMap<String, ingest::SyncedRoomCache>,
    /// The stored events among those the synced rooms of the response being stored name, read
    /// for all of them at once (see `EventStore::prefetch_known`).
    prefetched: ingest::Prefetched,
    orderings: StreamOrderings,
    next_state_group: StateGroupId,
}

impl Planning {
    /// The sequences as planning last knew them.
    fn positions(&self) -> Positions {
        Positions {
            last_stream_ordering: self.orderings.last(),
            last_backfill_ordering: self.orderings.last_backfilled(),
            next_state_group: self.next_state_group,
        }
    }

    /// Goes on from `positions`.
    fn move_to(&mut self, positions: Positions) {
        self.orderings =
            StreamOrderings::new(positions.last_stream_ordering, positions.last_backfill_ordering);
        self.next_state_group = positions.next_state_group;
    }
}

/// One room's planning state: its history and its state groups.
#[derive(Debug, Clone)]
struct RoomPlanning {
    history: RoomHistory,
    groups: StateGroups,
    /// How many chunks of the room were written: what the history and groups are of.
    chunks: u64,
}

/// How a chunk's events arrive.
#[derive(Debug, Clone)]
enum Arrival {
    /// New events of the room's DAG.
    Live,
    /// Older history: negative stream orderings, the extremities and current state untouched.
    Backfilled,
    /// Outliers; `new_room` is the version to record a room the store does not hold.
    Outlier { out_of_band: bool, new_room: Option<RoomVersion> },
}

/// A chunk planned on a copy of its room's planning state: the state it leaves once written.
struct DraftRoom {
    room: RoomPlanning,
    orderings: StreamOrderings,
}

/// A planned chunk, and what planning state it leaves once written.
struct Draft {
    room: RoomPlanning,
    orderings: StreamOrderings,
    plan: RoomWritePlan,
}

/// An event store over a backend.
///
/// Persists run one at a time, in the order they were called, even when a caller starts several
/// without awaiting each (see [`PersistQueue`]); reads never wait.
#[derive(Debug)]
pub struct EventStore<S> {
    backend: S,
    writer: String,
    planning: RefCell<Planning>,
    cache_limit: usize,
    queue: PersistQueue,
    /// The `next_batch` of the last `/sync` response stored whole (see [`Self::ingest_sync`]).
    sync_token: RefCell<Option<SyncToken>>,
    /// The events stream as this tab knows it, and its subscribers.
    replica: RefCell<Replica>,
    /// The other tabs, once linked.
    link: RefCell<Option<Rc<dyn ReplicationLink>>>,
    /// A message from another tab could not be read since the last catch-up.
    missed: Cell<bool>,
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
    /// Opens an event store on `backend`, writing as the writer (browser tab) `writer`: reads
    /// where the sequences stand, nothing else.
    pub async fn open(backend: S, writer: impl Into<String>) -> Result<Self, StoreError> {
        let positions = backend.positions().await?;
        let token = backend.sync_token().await?;
        let writers = backend.stream_positions().await?;
        Ok(Self::with_positions(backend, writer, positions)
            .with_sync_token(token)
            .with_stream_positions(writers))
    }

    /// The store as it knows each writer's `stream_positions` row already (read while its
    /// backend was opened).
    pub fn with_stream_positions(self, writers: BTreeMap<String, i64>) -> Self {
        let last = self.planning.borrow().orderings.last();
        *self.replica.borrow_mut() = Replica::new(&self.writer, last, writers);
        self
    }

    /// The store as it knows its sync token already (read while its backend was opened).
    pub fn with_sync_token(self, token: Option<SyncToken>) -> Self {
        *self.sync_token.borrow_mut() = token;
        self
    }

    /// The `next_batch` of the last `/sync` response stored whole, and whose it was.
    pub fn sync_token(&self) -> Option<SyncToken> {
        self.sync_token.borrow().clone()
    }

    /// An event store on `backend`, whose `positions` were read while the backend was opened.
    pub fn with_positions(backend: S, writer: impl Into<String>, positions: Positions) -> Self {
        let planning = Planning {
            rooms: HashMap::default(),
            synced: HashMap::default(),
            unverified: HashMap::default(),
            prefetched: ingest::Prefetched::default(),
            orderings: StreamOrderings::new(
                positions.last_stream_ordering,
                positions.last_backfill_ordering,
            ),
            next_state_group: positions.next_state_group,
        };
        let writer = writer.into();
        let last = planning.orderings.last();
        Self {
            replica: RefCell::new(Replica::new(&writer, last, BTreeMap::new())),
            link: RefCell::new(None),
            missed: Cell::new(false),
            backend,
            writer,
            planning: RefCell::new(planning),
            cache_limit: DEFAULT_CACHE_LIMIT,
            queue: PersistQueue::default(),
            sync_token: RefCell::new(None),
        }
    }

    /// Prunes a room's planning cache once it holds more than `events` events (0: after every
    /// write). Smaller caches read more from the store; the results are the same.
    pub fn with_cache_limit(mut self, events: usize) -> Self {
        self.cache_limit = events;
        self
    }

    /// The backend.
    pub fn backend(&self) -> &S {
        &self.backend
    }

    /// Closes the event store, handing back its backend.
    pub fn into_backend(self) -> S {
        self.backend
    }

    /// Where the sequences stand.
    pub fn positions(&self) -> Positions {
        self.planning.borrow().positions()
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
        let arrival = if backfilled { Arrival::Backfilled } else { Arrival::Live };
        self.persist(events, arrival, None).await
    }

    /// Persists outliers: events outside their room's DAG as this store knows it, such as an
    /// invite or knock received out of band (`out_of_band`: member events are marked as
    /// out-of-band memberships). They are stored with stream orderings and membership rows only;
    /// when one arrives later in the DAG it is de-outliered in place. A room the store does not
    /// hold needs its `room_version` (an invite carries it in its stripped create event); the
    /// room is then recorded with that version.
    pub async fn persist_outliers(
        &self,
        events: Vec<JsonValue>,
        room_version: Option<RoomVersion>,
        out_of_band: bool,
    ) -> Result<PersistResult, StoreError> {
        self.persist(events, Arrival::Outlier { out_of_band, new_room: None }, room_version).await
    }

    async fn persist(
        &self,
        events: Vec<JsonValue>,
        arrival: Arrival,
        room_version: Option<RoomVersion>,
    ) -> Result<PersistResult, StoreError> {
        let _turn = self.queue.enter().await;
        // The version of each room of the batch: a room planned here already knows it; the others
        // are read once (`rooms`), which also says whether the store holds them. Outliers always
        // ask the store, which alone knows whether the room is recorded.
        let outliers = matches!(arrival, Arrival::Outlier { .. });
        let mut known: HashMap<String, RoomVersion> = HashMap::default();
        let mut asked: BTreeSet<&str> = BTreeSet::new();
        for room_id in events.iter().filter_map(|e| e.get("room_id").and_then(JsonValue::as_str)) {
            if !asked.insert(room_id) {
                continue;
            }
            let planned = (!outliers)
                .then(|| {
                    self.planning
                        .borrow()
                        .rooms
                        .get(room_id)
                        .map(|room| room.history.room_version().clone())
                })
                .flatten();
            let version = match planned {
                Some(version) => Some(version),
                None => self.backend.room_version(room_id).await?,
            };
            if let Some(version) = version {
                known.insert(room_id.to_owned(), version);
            }
        }
        let fallback = |room_id: &str| known.get(room_id).cloned().or_else(|| room_version.clone());
        let chunks = parse_batch(events, &fallback)?;
        let mut rooms = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            let stored = known.contains_key(&chunk.room_id);
            let new_room = (!stored)
                .then(|| chunk.events.first().map(|pdu| pdu.room_version().clone()))
                .flatten();
            let arrival = match &arrival {
                Arrival::Outlier { out_of_band, .. } => {
                    Arrival::Outlier { out_of_band: *out_of_band, new_room }
                }
                other => other.clone(),
            };
            rooms.push(self.persist_chunk(chunk.room_id, chunk.events, arrival, stored).await);
        }
        Ok(PersistResult { rooms })
    }

    /// `stored`: whether the store holds the room (or its planning state is here already).
    ///
    /// Another writer (tab) may write a chunk of the same room between this one's planning and
    /// its write: the write then refuses it ([`StoreError::Conflict`]), and it is planned again
    /// on the room as stored, where the events the other writer stored are known and left out.
    async fn persist_chunk(
        &self,
        room_id: String,
        pdus: Vec<Pdu>,
        arrival: Arrival,
        stored: bool,
    ) -> RoomPersistResult {
        let mut stored = stored;
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.plan_and_write(&room_id, pdus.clone(), &arrival, stored).await {
                Err(StoreError::Conflict(_)) if attempts < MAX_CONFLICTS => {
                    self.planning.borrow_mut().rooms.remove(&room_id);
                    // Another writer wrote a chunk of it: the room is stored now.
                    stored = true;
                }
                Ok(result) => return result,
                Err(error) => return RoomPersistResult::failed(room_id, error),
            }
        }
    }

    async fn plan_and_write(
        &self,
        room_id: &str,
        pdus: Vec<Pdu>,
        arrival: &Arrival,
        stored: bool,
    ) -> Result<RoomPersistResult, StoreError> {
        let chunk: Vec<OwnedEventId> =
            pdus.iter().map(|pdu| pdu.owned_event_id().clone()).collect();
        let mut draft = self.plan(room_id, pdus, arrival, stored).await?;
        draft.plan.planned_on =
            PlannedOn { positions: self.positions(), room_chunks: draft.room.chunks };
        let planned_on = draft.plan.planned_on.positions;
        self.write(&mut draft.plan).await?;
        let extremities = draft.room.history.forward_extremities().clone();
        let chunk = chunk.iter().map(|id| id.as_ref());
        let result = summarize(room_id, &draft.plan, chunk, extremities);
        let mut room = draft.room;
        // A chunk with nothing new is not written, nor counted.
        if !draft.plan.is_empty() {
            room.chunks += 1;
        }
        if room.history.held_events() > self.cache_limit {
            let kept = room.history.prune();
            room.groups.retain_events(&kept);
        }
        let mut planning = self.planning.borrow_mut();
        // Rebased, the chunk's ids moved, and nothing else: another writer's chunk of this room
        // would have been refused. Its groups and outliers move as far, and planning goes on
        // from them rather than from the store.
        match self.moved_past(&mut planning, &draft.plan, planned_on, draft.orderings) {
            Some(shift) => {
                room.groups.shift_planned(shift.first_group, shift.groups);
                room.history.shift_planned_outliers(shift.after_ordering, shift.orderings);
                planning.next_state_group = planning.next_state_group.max(room.groups.next_id());
                planning.rooms.insert(room_id.to_owned(), room);
            }
            None => {
                planning.rooms.remove(room_id);
            }
        }
        Ok(result)
    }

    /// Writes a chunk, then announces it (when it wrote anything) to the other tabs and to this
    /// tab's subscribers.
    async fn write(&self, plan: &mut RoomWritePlan) -> Result<(), StoreError> {
        self.before_commit().await;
        self.backend.apply(plan, &self.writer).await?;
        if !plan.is_empty() {
            self.announce_chunk(plan);
        }
        Ok(())
    }

    /// Moves the planning positions past a chunk just written (`plan`, planned on `planned_on`),
    /// and says how far its ids moved from those planned. When other writers took ids first, the
    /// chunk took its own after theirs (the plan was rebased): the positions go on from the
    /// plan's, and what planning derived from the planned ids (a room's cached state groups)
    /// must move as far to match the store. `None` when a chunk this tab planned before it
    /// failed or moved: what planning derived from it cannot be trusted.
    fn moved_past(
        &self,
        planning: &mut Planning,
        plan: &RoomWritePlan,
        planned_on: Positions,
        orderings: StreamOrderings,
    ) -> Option<IdShift> {
        let planned = planning.positions();
        if plan.planned_on.positions == planned_on && planned_on == planned {
            planning.orderings = orderings;
            return Some(IdShift::default());
        }
        planning.move_to(plan.planned_on.positions.after(plan));
        (planned_on == planned).then(|| IdShift::between(planned, plan.planned_on.positions))
    }

    /// Plans a chunk on a copy of its room's planning state, which replaces it only once written;
    /// what planning misses is loaded into the room's planning state and the chunk planned again.
    async fn plan(
        &self,
        room_id: &str,
        pdus: Vec<Pdu>,
        arrival: &Arrival,
        stored: bool,
    ) -> Result<Draft, StoreError> {
        let Some(first) = pdus.first() else {
            return Err(StoreError::Plan("empty room chunk".to_owned()));
        };
        let version = first.room_version().clone();
        self.restore_room(room_id, version, stored).await?;
        self.prefetch(room_id, &pdus).await?;
        for _ in 0..MAX_LOAD_ROUNDS {
            let (draft, result) = self.try_plan(room_id, pdus.clone(), arrival);
            let misses = draft.room.history.take_misses();
            if misses.is_empty() {
                let plan = result.map_err(|error| StoreError::Plan(error.to_string()))?;
                return Ok(Draft { room: draft.room, orderings: draft.orderings, plan });
            }
            self.load(room_id, misses).await?;
        }
        Err(StoreError::Plan(format!(
            "{room_id}: planning still missed events after {MAX_LOAD_ROUNDS} reads"
        )))
    }

    /// Plans once, on a copy of the room's planning state.
    fn try_plan(
        &self,
        room_id: &str,
        pdus: Vec<Pdu>,
        arrival: &Arrival,
    ) -> (DraftRoom, Result<RoomWritePlan, crate::persist::PlanError>) {
        let planning = self.planning.borrow();
        let mut room = planning.rooms.get(room_id).cloned().unwrap_or_else(|| RoomPlanning {
            history: RoomHistory::new(pdus[0].room_version().clone()),
            groups: StateGroups::default(),
            chunks: 0,
        });
        room.groups.continue_ids_from(planning.next_state_group);
        let mut orderings = planning.orderings.clone();
        drop(planning);
        let room_key = pdus[0].room_id().to_owned();
        let RoomPlanning { history, groups, .. } = &mut room;
        let result = match arrival {
            Arrival::Live | Arrival::Backfilled => {
                let backfilled = matches!(arrival, Arrival::Backfilled);
                plan_room_chunk(history, groups, room_key, pdus, backfilled, &mut orderings)
            }
            Arrival::Outlier { out_of_band, new_room } => {
                let new_room = new_room.clone();
                plan_outliers(history, room_key, pdus, new_room, *out_of_band, &mut orderings)
            }
        };
        (DraftRoom { room, orderings }, result)
    }

    /// Takes this store's turn to ingest a `/sync` response among every connection to its
    /// storage (other browser tabs syncing the same account), and catches up with what they
    /// wrote since its last turn: when the shared sequences moved, the sequences go on from where
    /// they stand, the PDU rooms' planning state is dropped (restored from the store on its next
    /// use), and the synced rooms' caches become unverified: a room's is used again only if no
    /// other writer wrote the room since ([`Self::verify_synced`]), which spares a tab reading
    /// back its own rooms after every turn of another's. Every write checks what it was planned
    /// on anyway (see [`Store::apply`]); the turn keeps two tabs from storing responses of one
    /// account interleaved, so that the sync token never goes back, and spares them planning the
    /// same rooms twice.
    async fn take_turn(&self) -> Result<super::WriteLock, StoreError> {
        let lock = self.backend.lock_writes().await?;
        let stored = self.backend.positions().await?;
        if stored != self.positions() {
            {
                let mut planning = self.planning.borrow_mut();
                planning.rooms.clear();
                let synced = std::mem::take(&mut planning.synced);
                planning.unverified.extend(synced);
                planning.move_to(stored);
            }
            *self.sync_token.borrow_mut() = self.backend.sync_token().await?;
        }
        Ok(lock)
    }

    /// Moves the planning positions up to the stored ones, before a room is read from the store
    /// to plan on: what is read may hold ids other writers (tabs) took, and the ids this writer
    /// takes next must not be among them.
    async fn catch_up_positions(&self) -> Result<(), StoreError> {
        let stored = self.backend.positions().await?;
        let mut planning = self.planning.borrow_mut();
        let caught_up = planning.positions().max(stored);
        planning.move_to(caught_up);
        Ok(())
    }

    /// Starts a room's planning state: empty for a new room, its forward extremities and current
    /// state for a room the store holds.
    async fn restore_room(
        &self,
        room_id: &str,
        version: RoomVersion,
        stored: bool,
    ) -> Result<(), StoreError> {
        if self.planning.borrow().rooms.contains_key(room_id) {
            return Ok(());
        }
        let (history, chunks) = if stored {
            self.catch_up_positions().await?;
            let chunks = self.backend.room_chunks(room_id).await?;
            let tips = self.backend.forward_extremities(room_id).await?;
            // A room filled from /sync has a timeline, not a DAG: no PDU can name its events.
            if let Some(tip) = tips.iter().next() {
                let tip = OwnedEventId::try_from(tip.as_str())
                    .map_err(|error| StoreError::Corrupt(format!("extremity {tip}: {error}")))?;
                if self.backend.event(&tip).await?.is_some_and(|tip| tip.pdu.is_client_format()) {
                    return Err(InputError::SyncedRoom(room_id.to_owned()).into());
                }
            }
            let current = self.backend.current_state(room_id, &StateFilter::all()).await?;
            let gaps = self.backend.backward_extremities(room_id).await?;
            let history = RoomHistory::restored(version, tips, current);
            (history.with_backward_extremities(gaps), chunks)
        } else {
            (RoomHistory::new(version), 0)
        };
        let mut planning = self.planning.borrow_mut();
        let groups = StateGroups::new(planning.next_state_group);
        planning.rooms.insert(room_id.to_owned(), RoomPlanning { history, groups, chunks });
        Ok(())
    }

    /// Loads, before planning, what a chunk will surely look up and the cache lacks: its events
    /// (already stored?), its prev events with their states, its auth events; and for a room not
    /// planned here from its start, which of its events stored events already name as prevs.
    async fn prefetch(&self, room_id: &str, pdus: &[Pdu]) -> Result<(), StoreError> {
        let (misses, complete) = {
            let planning = self.planning.borrow();
            let Some(room) = planning.rooms.get(room_id) else { return Ok(()) };
            let history = &room.history;
            let chunk: BTreeSet<&OwnedEventId> = set_of(pdus.iter().map(Pdu::owned_event_id));
            let mut misses = Misses::default();
            for pdu in pdus {
                misses.insert(Miss::Event(pdu.owned_event_id().clone()));
                for prev in pdu.prev_events().iter().filter(|id| !chunk.contains(id)) {
                    misses.insert(Miss::State(prev.clone()));
                }
                misses.extend(pdu.auth_events().iter().map(|id| Miss::Event(id.clone())));
            }
            misses.retain(|miss| history.needs_load(miss));
            (misses, history.is_complete())
        };
        if !misses.is_empty() {
            self.load(room_id, misses).await?;
        }
        if !complete {
            let ids: Vec<OwnedEventId> =
                pdus.iter().map(|pdu| pdu.owned_event_id().clone()).collect();
            let referenced = self.backend.referenced_as_prev(&ids).await?;
            if let Some(room) = self.planning.borrow_mut().rooms.get_mut(room_id) {
                room.history.load_referenced(referenced);
            }
        }
        Ok(())
    }

    /// Loads what planning missed: the events (with their auth events, level by level, so that
    /// an authorization or a resolution finds its auth chain in one round), then the states of
    /// the events whose state was missed, with their state group chains.
    async fn load(&self, room_id: &str, misses: Misses) -> Result<(), StoreError> {
        let mut want_state = BTreeSet::new();
        let mut level: Vec<OwnedEventId> = Vec::new();
        for miss in misses {
            match miss {
                Miss::Event(id) => level.push(id),
                Miss::State(id) => {
                    want_state.insert(id.clone());
                    level.push(id);
                }
            }
        }
        let mut groups_to_load: Vec<(OwnedEventId, StateGroupId)> = Vec::new();
        let mut seen: BTreeSet<OwnedEventId> = BTreeSet::new();
        while !level.is_empty() {
            level.retain(|id| seen.insert(id.clone()));
            let found = self.backend.planning_events(&level).await?;
            let mut next = Vec::new();
            let mut planning = self.planning.borrow_mut();
            let Some(room) = planning.rooms.get_mut(room_id) else { return Ok(()) };
            for (id, found) in level.iter().zip(found) {
                let Some(found) = found else {
                    room.history.load_absent(id.clone());
                    continue;
                };
                if want_state.contains(id) {
                    if let Some(group) = found.state_group {
                        groups_to_load.push((id.clone(), group));
                    }
                }
                if !room.history.holds_event(id) {
                    let outcome = found.event.outcome();
                    let metadata = &found.event.internal_metadata;
                    if let (EventOutcome::Outlier, Some(stream_ordering)) =
                        (outcome, metadata.stream_ordering)
                    {
                        let instance_name = metadata.instance_name.clone();
                        let outlier = StoredOutlier { stream_ordering, instance_name };
                        room.history.load_outlier(id.clone(), outlier);
                    }
                    let auth = found.event.pdu.auth_events().to_vec();
                    room.history.load_event(found.event.pdu, outcome);
                    next.extend(auth.into_iter().filter(|id| !room.history.holds_event(id)));
                }
            }
            level = next;
        }
        for (event_id, group) in groups_to_load {
            let known = self
                .planning
                .borrow()
                .rooms
                .get(room_id)
                .is_some_and(|room| room.groups.group(group).is_some());
            let chain =
                if known { Vec::new() } else { self.backend.state_group_chain(group).await? };
            let mut planning = self.planning.borrow_mut();
            let Some(room) = planning.rooms.get_mut(room_id) else { return Ok(()) };
            let corrupt = |error: crate::persist::state_groups::StateGroupError| {
                StoreError::Corrupt(error.to_string())
            };
            room.groups.load_chain(chain).map_err(corrupt)?;
            room.groups.insert_event(event_id.clone(), group).map_err(corrupt)?;
            let state = room.groups.state_of(group).map_err(corrupt)?;
            room.history.load_state(event_id, state);
        }
        Ok(())
    }

    /// A stored event, with its internal metadata and format version; a redacted event pruned,
    /// with `unsigned.redacted_because`.
    pub async fn event(&self, event_id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
        let Some(mut event) = self.backend.event(event_id).await? else { return Ok(None) };
        let rows = self.backend.redactions_of(event_id).await?;
        let redactions = self.applicable_redactions(std::slice::from_ref(&event.pdu), vec![rows]);
        if let Some(Some(redaction)) = redactions.await?.pop() {
            event.pdu = prune(&event.pdu, &redaction)?;
            event.internal_metadata.redacted = true;
        }
        Ok(Some(event))
    }

    /// `events` as a read returns them: each redacted one pruned, as [`Self::event`] prunes it.
    /// The `redactions` rows of all of them are read in one batch, and the redaction events they
    /// name in another (Synapse's `_fetch_event_rows` and `_get_events_from_db` batch them too).
    async fn pruned(&self, events: Vec<Pdu>) -> Result<Vec<Pdu>, StoreError> {
        let ids: Vec<OwnedEventId> =
            events.iter().map(|pdu| pdu.owned_event_id().clone()).collect();
        let rows = self.backend.redactions_of_many(&ids).await?;
        if rows.len() != ids.len() {
            // Zipping would silently drop events from the read.
            return Err(StoreError::Corrupt(format!(
                "{} events asked for their redactions, {} answered",
                ids.len(),
                rows.len()
            )));
        }
        let redactions = self.applicable_redactions(&events, rows).await?;
        events
            .into_iter()
            .zip(redactions)
            .map(|(event, redaction)| match redaction {
                Some(redaction) => prune(&event, &redaction),
                None => Ok(event),
            })
            .collect()
    }

    /// For each of `events`, given the `redactions` rows naming it, the redaction that applies
    /// to it, if any (see [`first_applicable`]). The redaction events are read in one batch, and
    /// only when there are rows.
    async fn applicable_redactions(
        &self,
        events: &[Pdu],
        rows: Vec<Vec<RedactionRow>>,
    ) -> Result<Vec<Option<Pdu>>, StoreError> {
        let ids: BTreeSet<&OwnedEventId> = set_of(rows.iter().flatten().map(|row| &row.event_id));
        if ids.is_empty() {
            return Ok(vec![None; events.len()]);
        }
        let ids: Vec<OwnedEventId> = ids.into_iter().cloned().collect();
        let found = self.backend.events(&ids).await?;
        let redactions: HashMap<OwnedEventId, StoredEvent> =
            ids.into_iter().zip(found).filter_map(|(id, event)| Some((id, event?))).collect();
        Ok(events
            .iter()
            .zip(rows)
            .map(|(event, rows)| first_applicable(event, &rows, &redactions).cloned())
            .collect())
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

    /// The newest `limit` events of a room's timeline older than `before` (an event of the
    /// room's timeline), oldest first, redacted ones pruned; with the `prev_batch` of the gap
    /// before the first of them, when the events before it were left out of a `/sync`
    /// response. A page stops at a gap: what is older than it is another page.
    pub async fn room_timeline(
        &self,
        room_id: &str,
        before: Option<&EventId>,
        limit: usize,
    ) -> Result<TimelinePage, StoreError> {
        let before = match before {
            None => None,
            Some(event_id) => {
                let event = self.backend.event(event_id).await?;
                let in_room = event.filter(|event| event.pdu.room_id() == room_id);
                let ordering = in_room.and_then(|event| event.internal_metadata.stream_ordering);
                let unknown = || InputError::UnknownEvent(event_id.to_string());
                Some(ordering.ok_or_else(unknown)?)
            }
        };
        let newest_first = self.backend.room_timeline(room_id, before, limit).await?;
        let gaps = self.backend.timeline_gaps(room_id).await?;
        let gaps: HashMap<OwnedEventId, String> =
            gaps.into_iter().map(|gap| (gap.event_id, gap.prev_batch)).collect();
        let mut events = Vec::with_capacity(newest_first.len());
        let mut gap = None;
        for event in newest_first {
            let before_it = gaps.get(event.pdu.owned_event_id()).cloned();
            events.push(event.pdu);
            if before_it.is_some() {
                gap = before_it;
                break;
            }
        }
        events.reverse();
        Ok(TimelinePage { events: self.pruned(events).await?, gap })
    }

    /// A room's forward extremities.
    pub async fn forward_extremities(&self, room_id: &str) -> Result<BTreeSet<String>, StoreError> {
        self.backend.forward_extremities(room_id).await
    }

    /// A room's backward extremities: prev events of stored events that are not stored (gaps
    /// to fill by backfill).
    pub async fn backward_extremities(
        &self,
        room_id: &str,
    ) -> Result<BTreeSet<OwnedEventId>, StoreError> {
        self.backend.backward_extremities(room_id).await
    }

    /// A room's membership rows.
    pub async fn memberships(&self, room_id: &str) -> Result<Vec<MembershipRow>, StoreError> {
        self.backend.memberships(room_id).await
    }

    /// Every stored room, sorted by room id.
    pub async fn rooms(&self) -> Result<BTreeSet<String>, StoreError> {
        self.backend.rooms().await
    }

    /// The events of a room's current state that `filter` matches, ordered by type, then
    /// state_key. A room that is not stored has none.
    pub async fn current_state_events(
        &self,
        room_id: &str,
        filter: &StateFilter,
    ) -> Result<Vec<Pdu>, StoreError> {
        let ids = self.backend.current_state(room_id, filter).await?;
        self.load_state(ids).await
    }

    /// The events of the state after an event that `filter` matches, ordered by type, then
    /// state_key; `None` when the event is not stored.
    pub async fn state_events_at(
        &self,
        event_id: &EventId,
        filter: &StateFilter,
    ) -> Result<Option<Vec<Pdu>>, StoreError> {
        match self.backend.state_at_event(event_id, filter).await? {
            Some(ids) => Ok(Some(self.load_state(ids).await?)),
            None => Ok(None),
        }
    }

    /// The events of a state, read together (one request batch, not one read per event; only
    /// their JSON, which is all a state read returns), the redacted ones pruned as
    /// [`Self::event`] prunes them: Synapse's state reads fetch events through the same path as
    /// single events, so a client never sees a redacted state event whole.
    async fn load_state(&self, ids: StateIds) -> Result<Vec<Pdu>, StoreError> {
        let found = self.backend.state_pdus(&ids).await?;
        let mut events = Vec::with_capacity(ids.len());
        for (((event_type, state_key), event_id), event) in ids.iter().zip(found) {
            let Some(event) = event else {
                return Err(StoreError::Corrupt(format!(
                    "the state ({event_type}, {state_key:?}) names {event_id}, which is not stored"
                )));
            };
            events.push(event);
        }
        self.pruned(events).await
    }

    /// The stripped state of `user_id`'s invite or knock (as JSON events).
    ///
    /// When `user_id` is the store's own user and received it (`ingestSync`), the stripped
    /// state as received. Otherwise it is computed as Synapse computes what it sends: the
    /// membership event is the user's current `m.room.member` event, which must be an invite
    /// (for [`MembershipKind::Invite`]) or a knock, and the rest is [`compute_stripped_state`]
    /// with `config` on the room's state at that event, not later (a rename after an invite
    /// never reaches the invitee). An event whose state is unknown (an outlier: a member event
    /// of a `/sync` state block) is taken with the current state.
    ///
    /// Only the events stripped state can hold are loaded: the configured types, the user's
    /// member event and, for an invite, the inviter's.
    pub async fn stripped_state(
        &self,
        room_id: &str,
        kind: MembershipKind,
        user_id: &str,
        config: &PrejoinConfig,
    ) -> Result<Vec<JsonValue>, StoreError> {
        let room = [room_id.to_owned()];
        let received = self.backend.local_memberships(user_id, Some(&room)).await?.remove(room_id);
        if let Some(received) = received.filter(|row| row.membership == kind.membership()) {
            if let Some(events) = received.stripped_state {
                return Ok(events);
            }
        }
        if self.backend.room_version(room_id).await?.is_none() {
            return Err(InputError::UnknownRoom(room_id.to_owned()).into());
        }
        let own = StateFilter::from_types([(MEMBER_EVENT_TYPE, Some(user_id))]);
        let member = self.current_state_events(room_id, &own).await?.into_iter().next();
        let membership = member.as_ref().and_then(|event| {
            event.content().get("membership").and_then(CanonicalJsonValue::as_str)
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
            types.push((MEMBER_EVENT_TYPE.to_owned(), Some(member.sender().to_string())));
        }
        let filter = StateFilter::from_types(types);
        let state = match self.state_events_at(member.event_id(), &filter).await? {
            Some(state) => state,
            None => self.current_state_events(room_id, &filter).await?,
        };
        let state = JsonValue::Array(state.iter().map(client_event).collect());
        let mut request = StripRequest::new(kind, client_event(member));
        request.config = config.clone();
        let stripped = compute_stripped_state(state, request)?;
        Ok(stripped.into_iter().map(StateEvent::into_json).collect())
    }
}

/// The first of `rows` (the `redactions` rows naming `event`) whose redaction applies to it
/// (Synapse's `_maybe_redact_event_row`): the redaction is stored (in `redactions`), not
/// rejected, in the same room, and when its sender lacked the power to redact (`recheck`), from
/// the same server as the event's sender.
fn first_applicable<'a>(
    event: &Pdu,
    rows: &[RedactionRow],
    redactions: &'a HashMap<OwnedEventId, StoredEvent>,
) -> Option<&'a Pdu> {
    rows.iter()
        .filter_map(|row| Some((row, redactions.get(&row.event_id)?)))
        .find(|(row, redaction)| {
            let same_server = redaction.pdu.sender().server_name() == event.sender().server_name();
            redaction.rejected_reason.is_none()
                && redaction.pdu.room_id() == event.room_id()
                && (!row.recheck || same_server)
        })
        .map(|(_, redaction)| &redaction.pdu)
}

/// `event` pruned by `redaction` (see [`Pdu::redacted_by`]). A stored event that cannot be
/// pruned is a corrupt store: it was valid when stored.
fn prune(event: &Pdu, redaction: &Pdu) -> Result<Pdu, StoreError> {
    event
        .redacted_by(redaction)
        .map_err(|error| StoreError::Corrupt(format!("{}: {error}", event.event_id())))
}

/// An event in client format, as JSON.
fn client_event(event: &Pdu) -> JsonValue {
    CanonicalJsonValue::Object(event.to_client_event()).into()
}

/// What writing `plan` did; `forward_extremities`: the room's afterwards.
/// What a written chunk did; `chunk` is every event the chunk was given, those stored already
/// included.
fn summarize<'a>(
    room_id: &str,
    plan: &RoomWritePlan,
    chunk: impl IntoIterator<Item = &'a EventId>,
    forward_extremities: BTreeSet<String>,
) -> RoomPersistResult {
    // Every event id once: the persisted ones are left out, and a repeated one is seen.
    let mut seen: BTreeSet<&EventId> = set_of(plan.events.iter().map(|e| e.pdu.event_id()));
    let already_persisted: Vec<String> =
        chunk.into_iter().filter(|id| seen.insert(id)).map(ToString::to_string).collect();
    let ids = |outcome: EventOutcome| {
        plan.events
            .iter()
            .filter(move |e| e.outcome == outcome)
            .map(|e| e.pdu.event_id().to_string())
    };
    RoomPersistResult {
        room_id: room_id.to_owned(),
        persisted: plan.events.iter().map(|e| e.pdu.event_id().to_string()).collect(),
        already_persisted,
        rejected: ids(EventOutcome::Rejected).map(|id| (id, AUTH_ERROR.to_owned())).collect(),
        soft_failed: ids(EventOutcome::SoftFailed).collect(),
        forward_extremities,
        stream_orderings: plan
            .events
            .first()
            .zip(plan.events.last())
            .map(|(first, last)| (first.stream_id, last.stream_id)),
        error: None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use ruma_common::{EventId, OwnedEventId};
    use serde_json::Value as JsonValue;

    use super::EventStore;
    use crate::model::room_version::RoomVersion;
    use crate::model::StateFilter;
    use crate::persist::state_groups::StateGroupId;
    use crate::persist::{MembershipRow, RoomWritePlan, StateIds};
    use crate::storage::{MemoryStore, PlanningEvent, Positions, Store, StoreError, StoredEvent};

    /// The PDUs of `pdus.json`'s room `index`, in Synapse's stream order.
    fn room_pdus(index: usize) -> Vec<JsonValue> {
        let text = include_str!("../../tests/fixtures/synapse-1.163.2/pdus.json");
        let fixture: JsonValue = serde_json::from_str(text).unwrap();
        let events = fixture["rooms"][index]["events"].as_array().unwrap();
        events.iter().map(|event| event["pdu"].clone()).collect()
    }

    /// The memory backend, except that every write first yields once, as a browser backend
    /// does: what a persist does across that await is what this checks. It counts the room
    /// version reads, each a transaction of its own in the browser.
    struct Yielding(MemoryStore, std::cell::Cell<usize>);

    impl Yielding {
        fn new() -> Self {
            Self(MemoryStore::new(), std::cell::Cell::new(0))
        }
    }

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
        async fn apply(&self, plan: &mut RoomWritePlan, writer: &str) -> Result<(), StoreError> {
            yield_once().await;
            self.0.apply(plan, writer).await
        }
        async fn room_chunks(&self, room_id: &str) -> Result<u64, StoreError> {
            self.0.room_chunks(room_id).await
        }
        async fn room_version(&self, room_id: &str) -> Result<Option<RoomVersion>, StoreError> {
            self.1.set(self.1.get() + 1);
            self.0.room_version(room_id).await
        }
        async fn rooms(&self) -> Result<BTreeSet<String>, StoreError> {
            self.0.rooms().await
        }
        async fn event(&self, event_id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
            self.0.event(event_id).await
        }
        async fn events(
            &self,
            event_ids: &[OwnedEventId],
        ) -> Result<Vec<Option<StoredEvent>>, StoreError> {
            self.0.events(event_ids).await
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
        async fn backward_extremities(
            &self,
            room_id: &str,
        ) -> Result<BTreeSet<OwnedEventId>, StoreError> {
            self.0.backward_extremities(room_id).await
        }
        async fn redactions_of(
            &self,
            event_id: &EventId,
        ) -> Result<Vec<crate::persist::RedactionRow>, StoreError> {
            self.0.redactions_of(event_id).await
        }
        async fn redactions_of_many(
            &self,
            event_ids: &[OwnedEventId],
        ) -> Result<Vec<Vec<crate::persist::RedactionRow>>, StoreError> {
            self.0.redactions_of_many(event_ids).await
        }
        async fn positions(&self) -> Result<Positions, StoreError> {
            self.0.positions().await
        }
        async fn state_pdus(
            &self,
            state: &StateIds,
        ) -> Result<Vec<Option<crate::model::pdu::Pdu>>, StoreError> {
            self.0.state_pdus(state).await
        }
        async fn planning_events(
            &self,
            event_ids: &[OwnedEventId],
        ) -> Result<Vec<Option<PlanningEvent>>, StoreError> {
            self.0.planning_events(event_ids).await
        }
        async fn state_group_chain(
            &self,
            group: StateGroupId,
        ) -> Result<Vec<crate::persist::StateGroupRow>, StoreError> {
            self.0.state_group_chain(group).await
        }
        async fn referenced_as_prev(
            &self,
            event_ids: &[OwnedEventId],
        ) -> Result<BTreeSet<OwnedEventId>, StoreError> {
            self.0.referenced_as_prev(event_ids).await
        }
        async fn room_timeline(
            &self,
            room_id: &str,
            before: Option<i64>,
            limit: usize,
        ) -> Result<Vec<StoredEvent>, StoreError> {
            self.0.room_timeline(room_id, before, limit).await
        }
        async fn current_states(&self, room_ids: &[String]) -> Result<Vec<StateIds>, StoreError> {
            self.0.current_states(room_ids).await
        }
        async fn lock_writes(&self) -> Result<crate::storage::WriteLock, StoreError> {
            self.0.lock_writes().await
        }
        async fn local_memberships(
            &self,
            user_id: &str,
            room_ids: Option<&[String]>,
        ) -> Result<crate::storage::LocalMemberships, StoreError> {
            self.0.local_memberships(user_id, room_ids).await
        }
        async fn timeline_gaps(
            &self,
            room_id: &str,
        ) -> Result<Vec<crate::persist::TimelineGap>, StoreError> {
            self.0.timeline_gaps(room_id).await
        }
        async fn sync_token(&self) -> Result<Option<crate::storage::SyncToken>, StoreError> {
            self.0.sync_token().await
        }
        async fn set_sync_token(
            &self,
            token: &crate::storage::SyncToken,
        ) -> Result<(), StoreError> {
            self.0.set_sync_token(token).await
        }
        async fn room_list(&self, user_id: &str) -> Result<crate::storage::RoomList, StoreError> {
            self.0.room_list(user_id).await
        }
        async fn stream_positions(
            &self,
        ) -> Result<std::collections::BTreeMap<String, i64>, StoreError> {
            self.0.stream_positions().await
        }
        async fn stream_after(
            &self,
            after: i64,
            limit: usize,
        ) -> Result<crate::storage::StreamPage, StoreError> {
            self.0.stream_after(after, limit).await
        }
        async fn keep_previews(
            &self,
            user_id: &str,
            epoch: u64,
            previews: &[(String, String)],
        ) -> Result<bool, StoreError> {
            self.0.keep_previews(user_id, epoch, previews).await
        }
    }

    fn open<S: Store>(backend: S) -> EventStore<S> {
        join(EventStore::open(backend, "tab-1"), async {}).0.unwrap()
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
        let store = open(Yielding::new());
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

    /// A batch reads the version of each room it holds at most once, and not at all for a room
    /// planned here already, whether or not the store holds the room.
    #[test]
    fn a_batch_reads_each_rooms_version_once() {
        let store = open(Yielding::new());
        let mut events = room_pdus(10);
        let later = events.split_off(8);
        let (first, _) = join(store.persist_events(events, false), async {});
        assert_eq!(first.unwrap().rooms[0].error, None);
        assert_eq!(store.backend().1.get(), 1, "a new room of eight events: one read");
        let (second, _) = join(store.persist_events(later, false), async {});
        assert_eq!(second.unwrap().rooms[0].error, None);
        assert_eq!(store.backend().1.get(), 1, "the room is planned here now");
    }

    /// The current token follows live events only.
    #[test]
    fn the_current_token_is_the_last_live_ordering() {
        let store = open(MemoryStore::new());
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
