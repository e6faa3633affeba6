//! `/sync` responses into the event store ([`EventStore::ingest_sync`]).
//!
//! The whole response is read and every event checked first: a malformed response stores
//! nothing. Then each room is planned ([`crate::sync::plan`]) and written in one atomic
//! [`Store::apply`], as a chunk of PDUs is, with stream orderings taken after the room's new
//! state is known. The response's `next_batch` is stored last, alone, and only when every room
//! was: a tab closed halfway syncs again from the previous token, and the rooms it stored
//! already store nothing twice.

use std::collections::{BTreeSet, VecDeque};
use std::future::Future;

use ruma_common::{CanonicalJsonValue, OwnedEventId, OwnedRoomId, OwnedUserId};
use serde_json::Value as JsonValue;

use super::{EventStore, RoomPersistResult};
use crate::hashed::HashMap;
use crate::model::pdu::Pdu;
use crate::model::room_version::RoomVersion;
use crate::model::{InputError, StateFilter};
use crate::ordered::set_of;
use crate::persist::state_groups::{StateGroupId, StateGroups};
use crate::persist::{LocalMembership, PlannedOn, RoomWritePlan, StreamOrderings};
use crate::storage::{EventPlacement, LocalMemberships, Store, StoreError, SyncToken};
use crate::sync::plan::{local_membership, plan_out_of_band, plan_timeline};
use crate::sync::response::invalid;
use crate::sync::{
    KnownEvent, KnownEvents, RoomEvents, RoomSection, SyncResponse, SyncSection, SyncedEvents,
    SyncedRoomState,
};

/// What ingesting one room of a response did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoomIngestResult {
    /// The section the room came in.
    pub section: SyncSection,
    /// The events stored (none when the response holds nothing new for the room), or why the
    /// room was not stored. Its forward extremities are the tip of a joined or left room's
    /// timeline; an invite or a knock reports none.
    pub result: RoomPersistResult,
}

/// What ingesting a response did, room by room.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IngestResult {
    /// One entry per room, in the order of the response's sections (join, invite, knock,
    /// leave), each section by room id.
    pub rooms: Vec<RoomIngestResult>,
    /// The first and last stream ordering taken, if any event was stored.
    pub stream_orderings: Option<(i64, i64)>,
    /// Whether the response's `next_batch` became the sync token: every room was stored, or
    /// could never be (a room of an unknown version).
    pub sync_token_stored: bool,
}

/// How many rooms are in flight at most: some written while the next are planned and their
/// writes placed behind them, so that IndexedDB always has the next transaction to run, and the
/// chunks that wait are written together (see `storage::indexeddb::group`). Two groups' worth:
/// with one, the rooms after a group were planned only once it had landed, and then the first of
/// them went alone.
const MAX_IN_FLIGHT: usize = 32;

/// A room of a response in flight: its write (planned already when `ahead`), and its result once
/// it has landed. Rooms are written in the order of the response, each in its own transaction or
/// in one with the rooms planned right before and after it (IndexedDB's group commit): IndexedDB
/// runs transactions over the same stores in the order they were made, so a room's write placed
/// before the one before it has committed waits for it, and results land in order.
struct Flight<'a> {
    ahead: bool,
    future: std::pin::Pin<Box<dyn Future<Output = RoomIngestResult> + 'a>>,
    landed: Option<RoomIngestResult>,
}

/// Drives every room in flight on, until the first has landed: its result (`None` when no room
/// is in flight).
async fn next_landed(flights: &mut VecDeque<Flight<'_>>) -> Option<RoomIngestResult> {
    if flights.is_empty() {
        return None;
    }
    std::future::poll_fn(|context| {
        for flight in flights.iter_mut().filter(|flight| flight.landed.is_none()) {
            if let std::task::Poll::Ready(result) = flight.future.as_mut().poll(context) {
                flight.landed = Some(result);
            }
        }
        match flights.front().is_some_and(|flight| flight.landed.is_some()) {
            true => std::task::Poll::Ready(()),
            false => std::task::Poll::Pending,
        }
    })
    .await;
    flights.pop_front().and_then(|flight| flight.landed)
}

/// A room planned: its plan, and what the event store's planning state becomes once it is
/// written.
struct SyncedDraft {
    plan: RoomWritePlan,
    /// Every event of the room in the response that is stored as an event.
    chunk: Vec<OwnedEventId>,
    orderings: StreamOrderings,
    next_state_group: u64,
    /// The room's forward extremities before the plan.
    extremities: BTreeSet<String>,
    /// What the store holds of the room once the plan is written: a room planned on its
    /// timeline.
    cache: Option<SyncedRoomCache>,
}

/// What [`EventStore::synced_room_state`] read of a room.
enum RoomRead {
    /// All a chunk is planned on: a new room's (nothing), or a cached room's.
    Whole(SyncedRoomState, StateGroups, u64),
    /// A stored room's first reads, which decide whether the rest is needed.
    Begun(BegunRead),
}

/// The reads of a stored room that every chunk of it needs: its chunk count, which of the
/// chunk's events the store holds, and its forward extremities.
#[derive(Debug)]
struct BegunRead {
    chunks: u64,
    known: KnownEvents,
    tips: BTreeSet<String>,
}

/// What the store holds of a synced room, kept between responses: the next response's chunk of
/// the room is planned on it without reading the room's state, tip and state group chain again.
/// Dropped when another writer (tab) wrote (see [`EventStore::take_turn`]).
#[derive(Debug, Clone)]
pub(super) struct SyncedRoomCache {
    room: SyncedRoomState,
    /// The tip's state group chain, and no other group.
    groups: StateGroups,
    version: RoomVersion,
    /// How many chunks of the room were written: what the rest is of.
    chunks: u64,
}

impl SyncedRoomCache {
    fn new(
        room: SyncedRoomState,
        mut groups: StateGroups,
        version: RoomVersion,
        chunks: u64,
    ) -> Self {
        let tip = set_of(room.tip.iter().map(|(tip, _)| tip.clone()));
        groups.retain_events(&tip);
        Self { room, groups, version, chunks }
    }
}

/// What [`EventStore::prefetch_known`] read for the rooms of a response, in one request per
/// store. A room's entry is taken when it is planned.
#[derive(Debug, Default)]
pub(super) struct Prefetched {
    /// For each room kept from the last response, the stored events among those it names
    /// ([`chunk_ids`]): planned on its cache and on these, such a room reads nothing, and is
    /// planned while the rooms before it are written.
    known: HashMap<String, KnownEvents>,
    /// For each stored room not kept, its first reads ([`EventStore::synced_room_state`]). A
    /// list: each map type costs the module 1-2 KB gzipped (its code to remove above all).
    begun: Vec<(String, BegunRead)>,
}

impl Prefetched {
    /// The first reads of `room_id`, taken.
    fn take_begun(&mut self, room_id: &str) -> Option<BegunRead> {
        let at = self.begun.iter().position(|(room, _)| room == room_id)?;
        Some(self.begun.swap_remove(at).1)
    }
}

/// A room of a response, checked and ready to plan.
#[derive(Clone)]
enum Prepared {
    /// A joined or left room's events.
    Events { section: SyncSection, events: SyncedEvents, version: RoomVersion, stored: bool },
    /// An invite's or knock's stripped state, as received; the own member event when it is a
    /// whole event (an event id and a timestamp, which stripped state usually lacks).
    Stripped {
        section: SyncSection,
        room_id: OwnedRoomId,
        new_room: Option<RoomVersion>,
        stored: bool,
        events: Vec<JsonValue>,
        member: Option<Pdu>,
    },
    /// A room this store cannot hold (its version is unknown or not supported).
    Unstorable { section: SyncSection, room_id: OwnedRoomId, error: StoreError },
}

impl Prepared {
    fn room_id(&self) -> &OwnedRoomId {
        match self {
            Self::Events { events, .. } => &events.room_id,
            Self::Stripped { room_id, .. } | Self::Unstorable { room_id, .. } => room_id,
        }
    }

    /// Whether planning the room reads nothing from the store: a room it does not hold.
    fn plans_without_reads(&self) -> bool {
        match self {
            Self::Events { stored, .. } | Self::Stripped { stored, .. } => !stored,
            Self::Unstorable { .. } => false,
        }
    }

    /// The room as another writer left it, having written a chunk of it: stored (recorded with
    /// its version, when that was known).
    fn stored_by_another_writer(&mut self) {
        match self {
            Self::Events { stored, .. } => *stored = true,
            Self::Stripped { stored, new_room, .. } => {
                *stored = true;
                *new_room = None;
            }
            Self::Unstorable { .. } => {}
        }
    }
}

impl<S: Store> EventStore<S> {
    /// Stores a `/sync` response of `own_user_id` (see the module docs and
    /// [`crate::sync::plan`]). `on_progress(done, total)` is called after each room.
    ///
    /// A store holds one user's syncs: a response of another user than the one whose sync token
    /// it holds is `INVALID_OPTIONS`.
    pub async fn ingest_sync(
        &self,
        response: &JsonValue,
        own_user_id: &str,
        mut on_progress: impl FnMut(usize, usize),
    ) -> Result<IngestResult, StoreError> {
        let own = OwnedUserId::try_from(own_user_id).map_err(|_| {
            InputError::InvalidOptions(format!("ownUserId {own_user_id:?} is not a user id"))
        })?;
        let response = SyncResponse::from_json(response)?;
        let _turn = self.queue.enter().await;
        let _lock = self.take_turn().await?;
        if let Some(token) = self.sync_token().filter(|token| token.user_id != own.as_str()) {
            return Err(InputError::InvalidOptions(format!(
                "this store holds the /sync of {}, not of {own}",
                token.user_id
            ))
            .into());
        }
        let room_ids: Vec<String> =
            response.rooms.iter().map(|room| room.room_id.to_string()).collect();
        self.verify_synced(&room_ids).await?;
        // A room kept from an earlier response is stored, with its version; the others' rows of
        // `rooms` (a room is stored once its create event is) are read together. The kept ones'
        // versions are taken before the read: another tab's message may drop a cache meanwhile.
        let (mut stored, unkept) = {
            let planning = self.planning.borrow();
            let (mut kept, mut unkept) = (HashMap::default(), Vec::new());
            for room_id in &room_ids {
                if let Some(cache) = planning.synced.get(room_id) {
                    kept.insert(room_id.clone(), cache.version.clone());
                } else {
                    unkept.push(room_id.clone());
                }
            }
            (kept, unkept)
        };
        let versions = self.backend.rooms_versions(&unkept).await?;
        stored.extend(unkept.into_iter().zip(versions).filter_map(|(id, v)| Some((id, v?))));
        let prepared = response.rooms.into_iter().map(|room| {
            let version = stored.get(room.room_id.as_str()).cloned();
            prepare(room, version)
        });
        let prepared = prepared.collect::<Result<Vec<_>, _>>()?;
        let memberships = self.backend.local_memberships(own.as_str(), Some(&room_ids)).await?;
        self.prefetch_known(&prepared).await?;
        let total = prepared.len();
        let mut rooms = Vec::with_capacity(total);
        // Rooms in flight: planned, and written or waiting to be, in the order of the response.
        // A room new to the store, or one kept from the last response whose stored events were
        // read with the others' (`prefetch_known`), is planned without a read, on the ids the
        // rooms in flight take, while they are written; its write is placed behind theirs (see
        // `Flight`).
        let mut flights: VecDeque<Flight<'_>> = VecDeque::new();
        let mut after = None;
        for room in prepared {
            if flights.is_empty() {
                after = None;
            }
            let reads_nothing = room.plans_without_reads() || self.is_prefetched(&room);
            let ahead = match reads_nothing && flights.iter().all(|f| f.ahead) {
                true => self.plan_ahead(&room, own.as_str(), &memberships, &mut after),
                false => None,
            };
            let window = if ahead.is_some() { MAX_IN_FLIGHT - 1 } else { 0 };
            while flights.len() > window {
                let Some(result) = next_landed(&mut flights).await else { break };
                rooms.push(result);
                on_progress(rooms.len(), total);
            }
            let planned_ahead = ahead.is_some();
            let flight = self.ingest_room(room, own.as_str(), &memberships, ahead);
            flights.push_back(Flight {
                ahead: planned_ahead,
                future: Box::pin(flight),
                landed: None,
            });
        }
        while let Some(result) = next_landed(&mut flights).await {
            rooms.push(result);
            on_progress(rooms.len(), total);
        }
        self.planning.borrow_mut().prefetched = Prefetched::default();
        let stored_whole = rooms.iter().all(|room| {
            !matches!(&room.result.error, Some(error) if !matches!(error, StoreError::Input(_)))
        });
        if stored_whole {
            let token = SyncToken::new(own.as_str(), response.next_batch);
            self.backend.set_sync_token(&token).await?;
            self.announce_sync_token(&token);
            *self.sync_token.borrow_mut() = Some(token);
        }
        let orderings = rooms.iter().filter_map(|room| room.result.stream_orderings);
        let first = orderings.clone().map(|(first, _)| first).min();
        let last = orderings.map(|(_, last)| last).max();
        Ok(IngestResult {
            rooms,
            stream_orderings: first.zip(last),
            sync_token_stored: stored_whole,
        })
    }

    /// Reads, for the synced rooms of `prepared` the store holds, what planning each would read
    /// first on its own, in one request per store: the stored events among those a room kept
    /// from the last response names (its cache names them, [`chunk_ids`]); and for the other
    /// stored rooms, their chunk counts, the stored events among their chunks' and their
    /// forward extremities ([`BegunRead`]). Another tab of the account that stored the same
    /// response leaves every room's chunk stored, and then nothing else is read. A room that
    /// names an event another room of the response names too is left to read when planned,
    /// after the rooms before it are written.
    async fn prefetch_known(&self, prepared: &[Prepared]) -> Result<(), StoreError> {
        // Per room: the ids to look up; and the rooms kept from the last response.
        let mut by_room: HashMap<String, Vec<OwnedEventId>> = HashMap::default();
        let mut kept: BTreeSet<String> = BTreeSet::new();
        {
            let planning = self.planning.borrow();
            for room in prepared {
                let Prepared::Events { events, stored: true, .. } = room else { continue };
                let room_id = events.room_id.to_string();
                let ids = match planning.synced.get(&room_id) {
                    Some(cache) => {
                        kept.insert(room_id.clone());
                        chunk_ids(events, &cache.room.current_state)
                    }
                    None => set_of(events.event_ids().cloned()).into_iter().collect(),
                };
                by_room.insert(room_id, ids);
            }
        }
        let mut rooms_naming: HashMap<OwnedEventId, usize> = HashMap::default();
        for id in by_room.values().flatten() {
            *rooms_naming.entry(id.clone()).or_default() += 1;
        }
        by_room.retain(|_, ids| ids.iter().all(|id| rooms_naming.get(id) == Some(&1)));
        let read = prepared.iter().filter_map(|room| match room {
            Prepared::Events { events, .. } if by_room.contains_key(events.room_id.as_str()) => {
                Some(events)
            }
            _ => None,
        });
        let brought = set_of(read.flat_map(|events| events.event_ids()));
        // In one order from here on: the reads of the rooms not kept answer in `begun`'s.
        let by_room: Vec<(String, Vec<OwnedEventId>)> = by_room.into_iter().collect();
        let begun: Vec<String> = by_room
            .iter()
            .map(|(room, _)| room)
            .filter(|room| !kept.contains(*room))
            .cloned()
            .collect();
        // One kept room reads as much on its own.
        if begun.is_empty() && by_room.len() < 2 {
            self.planning.borrow_mut().prefetched = Prefetched::default();
            return Ok(());
        }
        let ids: Vec<OwnedEventId> = by_room.iter().flat_map(|(_, ids)| ids).cloned().collect();
        // The chunk counts first: see `synced_room_state`.
        let chunks = self.backend.rooms_chunks(&begun).await?;
        let mut known = self.known_events(&ids, &brought).await?;
        let tips = self.backend.rooms_forward_extremities(&begun).await?;
        // No event is named by two rooms: each stored one goes to the one room naming it.
        let mut known_of = |ids: &[OwnedEventId]| -> KnownEvents {
            ids.iter().filter_map(|id| Some((id.clone(), known.remove(id)?))).collect()
        };
        let mut prefetched = Prefetched::default();
        let mut begun_reads = chunks.into_iter().zip(tips);
        for (room, ids) in by_room {
            let known = known_of(&ids);
            if kept.contains(&room) {
                prefetched.known.insert(room, known);
            } else if let Some((chunks, tips)) = begun_reads.next() {
                prefetched.begun.push((room, BegunRead { chunks, known, tips }));
            }
        }
        self.planning.borrow_mut().prefetched = prefetched;
        Ok(())
    }

    /// Whether `room`'s stored events were read with the others' ([`Self::prefetch_known`]).
    fn is_prefetched(&self, room: &Prepared) -> bool {
        self.planning.borrow().prefetched.known.contains_key(room.room_id().as_str())
    }

    /// Brings back the caches of `room_ids` left unverified by another writer's turn (see
    /// [`EventStore::take_turn`]) whose room that writer did not write: the store still counts
    /// the chunks the cache is of. The others are dropped, and read again when planned.
    async fn verify_synced(&self, room_ids: &[String]) -> Result<(), StoreError> {
        let unverified: Vec<(String, SyncedRoomCache)> = {
            let mut planning = self.planning.borrow_mut();
            let mut take =
                |room_id: &String| Some((room_id.clone(), planning.unverified.remove(room_id)?));
            room_ids.iter().filter_map(&mut take).collect()
        };
        if unverified.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = unverified.iter().map(|(room_id, _)| room_id.clone()).collect();
        let counts = self.backend.rooms_chunks(&ids).await?;
        let mut planning = self.planning.borrow_mut();
        for ((room_id, cache), count) in unverified.into_iter().zip(counts) {
            if count == cache.chunks {
                planning.synced.insert(room_id, cache);
            }
        }
        Ok(())
    }

    /// Plans and writes one prepared room; its result says what was stored, or why nothing was.
    /// When another writer (tab) wrote a chunk of the room meanwhile, the room is planned again
    /// on what is stored (see [`EventStore::persist_events`]).
    async fn ingest_room(
        &self,
        room: Prepared,
        own_user_id: &str,
        memberships: &LocalMemberships,
        mut ahead: Option<Result<SyncedDraft, StoreError>>,
    ) -> RoomIngestResult {
        let (section, room_id) = match &room {
            Prepared::Events { section, events, .. } => (*section, events.room_id.clone()),
            Prepared::Stripped { section, room_id, .. }
            | Prepared::Unstorable { section, room_id, .. } => (*section, room_id.clone()),
        };
        let mut room = room;
        let mut stored_membership = memberships.get(room_id.as_str()).cloned();
        let mut attempts = 0;
        let result = loop {
            attempts += 1;
            let draft = match ahead.take() {
                Some(draft) => draft,
                None => {
                    let membership = stored_membership.as_ref();
                    self.plan_room(room.clone(), own_user_id, membership).await
                }
            };
            let written = match draft {
                Ok(draft) => self.write_synced(draft).await,
                Err(error) => Err(error),
            };
            match written {
                Err(StoreError::Conflict(_)) if attempts < super::MAX_CONFLICTS => {
                    {
                        let mut planning = self.planning.borrow_mut();
                        planning.synced.remove(room_id.as_str());
                        planning.rooms.remove(room_id.as_str());
                    }
                    room.stored_by_another_writer();
                    let rooms = [room_id.to_string()];
                    let read = self.backend.local_memberships(own_user_id, Some(&rooms)).await;
                    match read {
                        Ok(mut rows) => stored_membership = rows.remove(room_id.as_str()),
                        Err(error) => break Err(error),
                    }
                }
                other => break other,
            }
        };
        let result =
            result.unwrap_or_else(|error| RoomPersistResult::failed(room_id.to_string(), error));
        RoomIngestResult { section, result }
    }

    /// Plans a room that reads nothing to plan (new to the store, or prefetched) now, on the ids
    /// the rooms in flight take once written as planned (`after`, which moves past this room's),
    /// while they are being written: it ends in this call (`None` if it did not, and the room is
    /// planned when its turn comes). The planning state is left as it was: it moves when a room is
    /// written ([`Self::write_synced`]).
    fn plan_ahead(
        &self,
        room: &Prepared,
        own_user_id: &str,
        memberships: &LocalMemberships,
        after: &mut Option<(StreamOrderings, StateGroupId)>,
    ) -> Option<Result<SyncedDraft, StoreError>> {
        let saved = {
            let mut planning = self.planning.borrow_mut();
            let saved = (planning.orderings.clone(), planning.next_state_group);
            if let Some((orderings, next_state_group)) = after.clone() {
                planning.orderings = orderings;
                planning.next_state_group = next_state_group;
            }
            saved
        };
        let membership = memberships.get(room.room_id().as_str());
        let planned = {
            let planning = std::pin::pin!(self.plan_room(room.clone(), own_user_id, membership));
            let mut context = std::task::Context::from_waker(std::task::Waker::noop());
            match planning.poll(&mut context) {
                std::task::Poll::Ready(draft) => Some(draft),
                std::task::Poll::Pending => None,
            }
        };
        let planned_on_group = after.as_ref().map_or(saved.1, |(_, group)| *group);
        {
            let mut planning = self.planning.borrow_mut();
            (planning.orderings, planning.next_state_group) = saved;
        }
        if let Some(Ok(draft)) = &planned {
            let next_state_group = planned_on_group.max(draft.next_state_group);
            *after = Some((draft.orderings.clone(), next_state_group));
        }
        planned
    }

    /// Plans one prepared room.
    async fn plan_room(
        &self,
        room: Prepared,
        own_user_id: &str,
        stored_membership: Option<&LocalMembership>,
    ) -> Result<SyncedDraft, StoreError> {
        Ok(match room {
            Prepared::Unstorable { error, .. } => return Err(error),
            Prepared::Events { section, events, version, stored } => {
                self.plan_events(section, &events, version, stored, own_user_id, stored_membership)
                    .await?
            }
            Prepared::Stripped { section, room_id, new_room, stored, events, member } => {
                let synced = SyncedEvents {
                    room_id,
                    state: Vec::new(),
                    timeline: member.into_iter().collect(),
                    limited: false,
                    prev_batch: None,
                };
                self.plan_stripped(
                    section,
                    &synced,
                    (new_room, stored),
                    events,
                    own_user_id,
                    stored_membership,
                )
                .await?
            }
        })
    }

    /// Plans a joined or left room: on its timeline (a joined room, or a left one whose
    /// timeline the store holds), or as out-of-band outliers (a left room known only from an
    /// invite or a knock).
    async fn plan_events(
        &self,
        section: SyncSection,
        events: &SyncedEvents,
        version: RoomVersion,
        stored: bool,
        own_user_id: &str,
        stored_membership: Option<&LocalMembership>,
    ) -> Result<SyncedDraft, StoreError> {
        let (room, mut groups, chunks) = match self.synced_room_state(events, stored).await? {
            RoomRead::Whole(room, groups, chunks) => (room, groups, chunks),
            RoomRead::Begun(begun) => {
                if let Some(draft) = self.stored_already(section, events, &begun, stored_membership)
                {
                    return Ok(draft);
                }
                self.read_stored_room(events, begun).await?
            }
        };
        let mut orderings = self.planning.borrow().orderings.clone();
        let on_timeline =
            section == SyncSection::Join || room.tip.is_some() || !room.current_state.is_empty();
        let (mut plan, after) = if on_timeline {
            let (plan, after) = plan_timeline(events, &room, &mut groups, &mut orderings)
                .map_err(|error| StoreError::Plan(error.to_string()))?;
            (plan, Some(after))
        } else {
            let new_room = (!stored).then(|| version.clone());
            (plan_out_of_band(events, &room, own_user_id, new_room, &mut orderings), None)
        };
        let member = own_member_event(&plan, events, &room, own_user_id, on_timeline);
        let unchanged = member.is_none()
            && stored_membership.is_some_and(|row| row.membership == section.as_str());
        if !unchanged {
            let ordering = stream_ordering_of(&plan, member.as_ref(), &room, &orderings);
            plan.local_membership = local_membership(
                own_user_id,
                member.as_ref(),
                section.as_str(),
                None,
                ordering,
                stored_membership,
            );
        }
        plan.room_listed = stored || stored_membership.is_some();
        plan.planned_on = PlannedOn { positions: self.positions(), room_chunks: chunks };
        let extremities = set_of(room.tip.iter().map(|(tip, _)| tip.to_string()));
        let next_state_group = groups.next_id();
        // A chunk with nothing new is not written, nor counted.
        let written = if plan.is_empty() { chunks } else { chunks + 1 };
        let cache = after.map(|room| SyncedRoomCache::new(room, groups, version, written));
        let chunk = events.event_ids().cloned().collect();
        Ok(SyncedDraft { plan, chunk, orderings, next_state_group, extremities, cache })
    }

    /// Plans an invite's or knock's stripped state: the own membership with the stripped state
    /// as received, the own member event as an out-of-band outlier when it is a whole event, and
    /// the room recorded with the version its stripped create event names.
    async fn plan_stripped(
        &self,
        section: SyncSection,
        events: &SyncedEvents,
        (new_room, stored): (Option<RoomVersion>, bool),
        stripped: Vec<JsonValue>,
        own_user_id: &str,
        stored_membership: Option<&LocalMembership>,
    ) -> Result<SyncedDraft, StoreError> {
        let ids: Vec<OwnedEventId> = events.event_ids().cloned().collect();
        // Stripped state usually holds no whole event, and a room not stored holds no event (a
        // room is recorded with its first outlier): then there is nothing to look up.
        let known = match ids.is_empty() || !stored {
            true => KnownEvents::default(),
            false => self.known_events(&ids, &set_of(events.event_ids())).await?,
        };
        let room = SyncedRoomState { known, ..SyncedRoomState::default() };
        let (mut orderings, next_state_group) = {
            let planning = self.planning.borrow();
            (planning.orderings.clone(), planning.next_state_group)
        };
        let mut plan = plan_out_of_band(events, &room, own_user_id, new_room, &mut orderings);
        let member = events.timeline.first();
        let ordering = stream_ordering_of(&plan, member, &room, &orderings);
        plan.local_membership = local_membership(
            own_user_id,
            member,
            section.as_str(),
            Some(stripped),
            ordering,
            stored_membership,
        );
        plan.room_listed = stored || stored_membership.is_some();
        let room_chunks = match stored {
            true => self.backend.room_chunks(events.room_id.as_str()).await?,
            false => 0,
        };
        plan.planned_on = PlannedOn { positions: self.positions(), room_chunks };
        // An invite's or knock's room has no timeline here: no extremity to report.
        let extremities = BTreeSet::new();
        let chunk = events.event_ids().cloned().collect();
        Ok(SyncedDraft { plan, chunk, orderings, next_state_group, extremities, cache: None })
    }

    /// What the store holds of a room that a chunk builds on: its current state, the tip of its
    /// timeline with that tip's state group chain (loaded into the returned groups), and the
    /// stored events among those the chunk names or may replace in the current state. For a
    /// stored room this tab holds no cache of, only the reads every chunk of it needs are made
    /// ([`RoomRead::Begun`]): [`Self::read_stored_room`] makes the others.
    async fn synced_room_state(
        &self,
        events: &SyncedEvents,
        stored: bool,
    ) -> Result<RoomRead, StoreError> {
        let groups = StateGroups::new(self.planning.borrow().next_state_group);
        if !stored {
            return Ok(RoomRead::Whole(SyncedRoomState::default(), groups, 0));
        }
        let room_id = events.room_id.as_str();
        let cached = self.planning.borrow().synced.get(room_id).cloned();
        if let Some(SyncedRoomCache { mut room, mut groups, chunks, .. }) = cached {
            groups.continue_ids_from(self.planning.borrow().next_state_group);
            let prefetched = self.planning.borrow_mut().prefetched.known.remove(room_id);
            room.known = match prefetched {
                Some(known) => known,
                None => {
                    let ids = chunk_ids(events, &room.current_state);
                    self.known_events(&ids, &set_of(events.event_ids())).await?
                }
            };
            return Ok(RoomRead::Whole(room, groups, chunks));
        }
        if let Some(begun) = self.planning.borrow_mut().prefetched.take_begun(room_id) {
            return Ok(RoomRead::Begun(begun));
        }
        // The chunk count first: a chunk another tab commits meanwhile is then in every later
        // read whenever it is in the count (the write's check of the count stays sound).
        let brought = set_of(events.event_ids());
        let ids: Vec<OwnedEventId> = brought.iter().map(|id| (*id).clone()).collect();
        let chunks = self.backend.room_chunks(room_id).await?;
        let known = self.known_events(&ids, &brought).await?;
        let tips = self.backend.forward_extremities(room_id).await?;
        Ok(RoomRead::Begun(BegunRead { chunks, known, tips }))
    }

    /// A joined room's chunk of which the store holds every event in the room's timeline
    /// already, its state block empty and the own membership `join` as stored: another tab of
    /// the account stored the same response. Planned, it writes nothing; so its state, tip and
    /// state group chain are not read. `None` when any of that does not hold.
    fn stored_already(
        &self,
        section: SyncSection,
        events: &SyncedEvents,
        begun: &BegunRead,
        stored_membership: Option<&LocalMembership>,
    ) -> Option<SyncedDraft> {
        let join = SyncSection::Join;
        let joined = stored_membership.is_some_and(|row| row.membership == join.as_str());
        let in_timeline =
            |pdu: &Pdu| begun.known.get(pdu.owned_event_id()).is_some_and(|k| !k.placement.outlier);
        if section != join
            || !joined
            || !events.state.is_empty()
            || !events.timeline.iter().all(in_timeline)
        {
            return None;
        }
        let planning = self.planning.borrow();
        let mut plan = RoomWritePlan::empty(events.room_id.clone());
        plan.planned_on = PlannedOn { positions: planning.positions(), room_chunks: begun.chunks };
        Some(SyncedDraft {
            plan,
            chunk: events.event_ids().cloned().collect(),
            orderings: planning.orderings.clone(),
            next_state_group: planning.next_state_group,
            extremities: begun.tips.clone(),
            cache: None,
        })
    }

    /// The rest of a stored room's reads (see [`Self::synced_room_state`]): the stored
    /// positions, its current state, the stored events among those of the current state its
    /// state block may replace and the tip (the chunk's own were read first), then the tip's
    /// state group chain.
    async fn read_stored_room(
        &self,
        events: &SyncedEvents,
        begun: BegunRead,
    ) -> Result<(SyncedRoomState, StateGroups, u64), StoreError> {
        let BegunRead { chunks, mut known, tips } = begun;
        let room_id = events.room_id.as_str();
        self.catch_up_positions().await?;
        let current_state = self.backend.current_state(room_id, &StateFilter::all()).await?;
        let mut groups = StateGroups::new(self.planning.borrow().next_state_group);
        // A room of PDUs may have several extremities: its timeline then has no single tip.
        let tip = match tips.iter().collect::<Vec<_>>().as_slice() {
            [tip] => Some(OwnedEventId::try_from(tip.as_str()).map_err(|error| {
                StoreError::Corrupt(format!("forward extremity {tip}: {error}"))
            })?),
            _ => None,
        };
        let mut ids = chunk_ids(events, &current_state);
        ids.extend(tip.clone());
        let read = set_of(events.event_ids());
        let unread: Vec<OwnedEventId> =
            set_of(ids.iter().filter(|id| !read.contains(id))).into_iter().cloned().collect();
        if !unread.is_empty() {
            known.extend(self.known_events(&unread, &BTreeSet::new()).await?);
        }
        let tip_group = tip.as_ref().and_then(|tip| known.get(tip)?.placement.state_group);
        let corrupt = |error: crate::persist::state_groups::StateGroupError| {
            StoreError::Corrupt(error.to_string())
        };
        let (tip, tip_state) = match tip.zip(tip_group) {
            Some((tip, group)) => {
                groups.load_chain(self.backend.state_group_chain(group).await?).map_err(corrupt)?;
                // The tip is what the room's cache keeps the groups of (`retain_events`), also
                // when the chunk adds nothing after it.
                groups.insert_event(tip.clone(), group).map_err(corrupt)?;
                (Some((tip, group)), groups.state_of(group).map_err(corrupt)?)
            }
            None => (None, Default::default()),
        };
        let room = SyncedRoomState { current_state, tip, tip_state, known };
        Ok((room, groups, chunks))
    }

    /// The stored events among `ids`. Of those `brought` holds (the chunk brings them again)
    /// only where each stands is read: reading an event back costs parsing it, and planning
    /// takes the chunk's.
    async fn known_events(
        &self,
        ids: &[OwnedEventId],
        brought: &BTreeSet<&OwnedEventId>,
    ) -> Result<KnownEvents, StoreError> {
        let (placed, whole): (Vec<OwnedEventId>, Vec<OwnedEventId>) =
            ids.iter().cloned().partition(|id| brought.contains(id));
        let placements = self.backend.event_placements(&placed).await?;
        let found = self.backend.planning_events(&whole).await?;
        let placed = placed.into_iter().zip(placements).filter_map(|(id, placement)| {
            Some((id, KnownEvent { pdu: None, placement: placement? }))
        });
        let whole = whole.into_iter().zip(found).filter_map(|(id, found)| {
            let found = found?;
            let placement = EventPlacement::from(&found);
            Some((id, KnownEvent { pdu: Some(found.event.pdu), placement }))
        });
        Ok(placed.chain(whole).collect())
    }

    /// Writes a synced room's plan; once written, the sequences move on, and the room's
    /// planning cache of PDUs (if any) is dropped, to be restored from the store. When other
    /// writers took ids first, the room's cache (of the ids as planned) is dropped too.
    async fn write_synced(&self, draft: SyncedDraft) -> Result<RoomPersistResult, StoreError> {
        let SyncedDraft { mut plan, chunk, orderings, next_state_group, extremities, cache } =
            draft;
        let room_id = plan.room_id.to_string();
        let planned_on = plan.planned_on.positions;
        self.write(&mut plan).await?;
        let forward_extremities = plan.forward_extremities.clone().unwrap_or(extremities);
        {
            let mut planning = self.planning.borrow_mut();
            // A synced room's cache also holds its stored events' orderings and groups: rebased,
            // it is read again (responses of one account are stored one at a time, so this is
            // rare).
            let moved = self.moved_past(&mut planning, &plan, planned_on, orderings);
            let cache = match moved.is_some_and(|shift| shift.is_none()) {
                true => {
                    planning.next_state_group = planning.next_state_group.max(next_state_group);
                    cache
                }
                false => None,
            };
            planning.rooms.remove(&room_id);
            match cache {
                Some(cache) => planning.synced.insert(room_id.clone(), cache),
                None => planning.synced.remove(&room_id),
            };
        }
        let chunk = chunk.iter().map(|id| id.as_ref());
        Ok(super::summarize(&room_id, &plan, chunk, forward_extremities))
    }
}

/// Checks a room's events as client-format events of its version: the version of a create
/// event among them, else `stored`, the stored room's (`None`: the room is not stored). A
/// malformed event is `INVALID_SYNC`; a room whose version is unknown is left out, with its
/// error.
fn prepare(
    room: crate::sync::SyncRoom,
    stored: Option<RoomVersion>,
) -> Result<Prepared, StoreError> {
    let section = room.section();
    let room_id = room.room_id;
    let is_stored = stored.is_some();
    match room.section {
        RoomSection::Join(events) | RoomSection::Leave(events) => {
            let declared = events.state.iter().chain(&events.timeline).find_map(declared_version);
            let version = match (declared, stored) {
                (Some(Ok(version)), _) | (None, Some(version)) => Ok(version),
                (Some(Err(error)), _) => Err(error),
                (None, None) => Err(InputError::UnknownRoom(room_id.to_string())),
            };
            // A room that cannot be stored is checked all the same: a malformed response is
            // refused whole, and checking an event does not depend on the version.
            let checked_with = match &version {
                Ok(version) => version.clone(),
                Err(_) => RoomVersion::parse("1")?,
            };
            let events = synced_events(&room_id, events, &checked_with, &room.path)?;
            match version {
                Ok(version) => Ok(Prepared::Events { section, events, version, stored: is_stored }),
                Err(error) => Ok(Prepared::Unstorable { section, room_id, error: error.into() }),
            }
        }
        RoomSection::Invite(events) | RoomSection::Knock(events) => {
            let version = events.iter().find_map(stripped_create_version).or(stored);
            let new_room = version.clone().filter(|_| !is_stored);
            let member =
                version.and_then(|version| whole_member_event(&events, &room_id, &version));
            Ok(Prepared::Stripped { section, room_id, new_room, stored: is_stored, events, member })
        }
    }
}

/// The events a chunk names, and those of the current state its state block may replace: the
/// stored ones among them are what planning needs to know of.
fn chunk_ids(events: &SyncedEvents, current_state: &crate::model::StateIds) -> Vec<OwnedEventId> {
    let mut ids: BTreeSet<OwnedEventId> = set_of(events.event_ids().cloned());
    for pdu in &events.state {
        let key = (pdu.event_type().to_owned(), pdu.state_key().unwrap_or_default().to_owned());
        ids.extend(current_state.get(&key).cloned());
    }
    ids.into_iter().collect()
}

/// A room's events checked as client-format events of `version`; a state block's event without
/// a `state_key` is malformed.
fn synced_events(
    room_id: &OwnedRoomId,
    events: RoomEvents,
    version: &RoomVersion,
    path: &str,
) -> Result<SyncedEvents, InputError> {
    let parse = |block: &str, objects: Vec<_>| -> Result<Vec<Pdu>, InputError> {
        objects
            .into_iter()
            .enumerate()
            .map(|(index, object)| {
                let at = || format!("{path}.{block}.events[{index}]");
                let pdu = Pdu::from_client_event(object, room_id, version)
                    .map_err(|error| invalid(&at(), &error.to_string()))?;
                if block == "state" && !pdu.is_state() {
                    return Err(invalid(&at(), "a state event must have a state_key"));
                }
                Ok(pdu)
            })
            .collect()
    };
    Ok(SyncedEvents {
        room_id: room_id.clone(),
        state: parse("state", events.state)?,
        timeline: parse("timeline", events.timeline)?,
        limited: events.limited,
        prev_batch: events.prev_batch,
    })
}

/// The room version a create event among a room's events declares, if this is one
/// ([`RoomVersion::of_create_event`]).
fn declared_version(
    event: &ruma_common::CanonicalJsonObject,
) -> Option<Result<RoomVersion, InputError>> {
    let text = |key: &str| event.get(key).and_then(CanonicalJsonValue::as_str);
    let is_create = text("type") == Some("m.room.create") && text("state_key") == Some("");
    is_create
        .then(|| RoomVersion::of_create_event(&CanonicalJsonValue::Object(event.clone()).into()))
}

/// The room version a stripped create event names, when it is one this crate knows.
fn stripped_create_version(event: &JsonValue) -> Option<RoomVersion> {
    let is_create = event.get("state_key").and_then(JsonValue::as_str) == Some("");
    is_create.then(|| RoomVersion::of_create_event(event).ok()).flatten()
}

/// The own member event of an invite's or knock's stripped state (the last member event, as
/// Synapse appends it) when it is a whole client-format event: stripped events usually carry
/// no `event_id` or `origin_server_ts`, and none is ever made up.
fn whole_member_event(
    events: &[JsonValue],
    room_id: &OwnedRoomId,
    version: &RoomVersion,
) -> Option<Pdu> {
    let last = events
        .iter()
        .rev()
        .find(|event| event.get("type").and_then(JsonValue::as_str) == Some("m.room.member"))?;
    let object = crate::model::pdu::canonical_object(last.clone()).ok()?;
    Pdu::from_client_event(object, room_id, version).ok()
}

/// The own user's member event after a chunk: on a timeline, the one the chunk puts in the
/// current state; for outliers, the last the chunk carries.
fn own_member_event(
    plan: &RoomWritePlan,
    events: &SyncedEvents,
    room: &SyncedRoomState,
    own_user_id: &str,
    on_timeline: bool,
) -> Option<Pdu> {
    let is_own =
        |pdu: &&Pdu| pdu.event_type() == "m.room.member" && pdu.state_key() == Some(own_user_id);
    if !on_timeline {
        return events.state.iter().chain(&events.timeline).rev().find(is_own).cloned();
    }
    let (_, id, _) =
        plan.current_state_delta.to_insert.iter().find(|((event_type, state_key), _, _)| {
            event_type == "m.room.member" && state_key == own_user_id
        })?;
    events
        .state
        .iter()
        .chain(&events.timeline)
        .find(|pdu| pdu.owned_event_id() == id)
        .cloned()
        .or_else(|| room.known.get(id)?.pdu.clone())
}

/// The stream ordering a `local_current_membership` row is set at: its member event's, else
/// the last the store handed out.
fn stream_ordering_of(
    plan: &RoomWritePlan,
    member: Option<&Pdu>,
    room: &SyncedRoomState,
    orderings: &StreamOrderings,
) -> i64 {
    let Some(member) = member else { return orderings.last() };
    plan.events
        .iter()
        .find(|event| event.pdu.event_id() == member.event_id())
        .map(|event| event.stream_ordering)
        .or_else(|| Some(room.known.get(member.owned_event_id())?.placement.stream_ordering))
        .unwrap_or_else(|| orderings.last())
}
