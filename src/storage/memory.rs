//! The memory backend: Synapse's tables as ordered maps, for native tests and as the reference
//! every other backend is checked against (the conformance suite runs on both).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use ruma_common::{EventId, OwnedEventId};

use super::{
    LocalMemberships, PlanningEvent, Positions, RoomList, Store, StoreError, StoredEvent,
    StreamPage, SyncToken, WriteLock,
};
use crate::hashed::HashMap;
use crate::model::pdu::Pdu;
use crate::model::room_version::RoomVersion;
use crate::model::{StateFilter, StateKey};
use crate::ordered::set_of;
use crate::persist::state_groups::{StateGroupId, StateGroupRow, StateGroups};
use crate::persist::{
    EventOutcome, LocalMembership, MembershipRow, RedactionRow, RoomWritePlan, StateIds,
    TimelineGap,
};

/// Every table in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: RefCell<Tables>,
}

#[derive(Debug, Default)]
struct Tables {
    /// `rooms`: room id → version.
    rooms: HashMap<String, RoomVersion>,
    /// `events` + `event_json` + `rejections`, by event id.
    events: HashMap<OwnedEventId, StoredEvent>,
    /// The `events` index on the prevs an accepted event found missing: such a prev → the
    /// events that named it.
    by_missing_prev: HashMap<OwnedEventId, BTreeSet<OwnedEventId>>,
    /// `event_forward_extremities`, by room.
    extremities: BTreeMap<String, BTreeSet<String>>,
    /// `redactions`, by the event redacted.
    redactions: HashMap<OwnedEventId, Vec<RedactionRow>>,
    /// `event_backward_extremities`, by room.
    backward_extremities: BTreeMap<String, BTreeSet<OwnedEventId>>,
    /// `current_state_events`: (room, type, state_key) → (event, membership).
    current_state: BTreeMap<(String, StateKey), (OwnedEventId, Option<String>)>,
    /// `room_memberships`, by event id.
    memberships: BTreeMap<OwnedEventId, MembershipRow>,
    /// `state_groups`, `state_group_edges`, `state_groups_state`, `event_to_state_groups`.
    state_groups: StateGroups,
    /// `sequences`.
    positions: Positions,
    /// `local_current_membership`: (user, room) → row.
    local_memberships: HashMap<(String, String), LocalMembership>,
    /// `timeline_gaps`: (room, event after the gap) → gap.
    timeline_gaps: HashMap<(String, OwnedEventId), TimelineGap>,
    /// `sync_tokens`.
    sync_token: Option<SyncToken>,
    /// `room_previews`: (room, user) → the preview's JSON text.
    previews: HashMap<(String, String), String>,
    /// The `sequences` row of `room_previews`: how many writes made previews stale.
    preview_epoch: u64,
    /// `room_chunks`: how many chunks of each room were written.
    room_chunks: HashMap<String, u64>,
    /// `stream_positions` of the events stream: writer → the last id it committed.
    stream_positions: BTreeMap<String, i64>,
    /// The `events` index `stream_ordering`: live ordering → event.
    by_stream_ordering: BTreeMap<i64, OwnedEventId>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Tables {
    /// Checks that a plan can be written whole, so that writing it cannot stop halfway.
    fn check(&self, plan: &RoomWritePlan) -> Result<(), StoreError> {
        let mut new_groups = BTreeSet::new();
        for group in &plan.state_groups {
            let prev_known = group.prev_group.is_none_or(|prev| {
                new_groups.contains(&prev) || self.state_groups.group(prev).is_some()
            });
            if self.state_groups.group(group.id).is_some() || !prev_known {
                return Err(StoreError::Write(format!(
                    "state group {} cannot be stored",
                    group.id
                )));
            }
            new_groups.insert(group.id);
        }
        for event in &plan.events {
            let known = event.state_group.is_none_or(|group| {
                new_groups.contains(&group) || self.state_groups.group(group).is_some()
            });
            let stored = self.events.get(event.pdu.event_id());
            let replaceable = stored
                .is_none_or(|stored| event.replaces_outlier && stored.internal_metadata.outlier);
            if !replaceable || !known {
                let id = event.pdu.event_id();
                return Err(StoreError::Write(format!("event {id} cannot be stored")));
            }
        }
        Ok(())
    }

    fn write(&mut self, plan: &RoomWritePlan, writer: &str) {
        let room = plan.room_id.to_string();
        for group in &plan.state_groups {
            // Checked above: the id is new and the prev group is known.
            let _ = self.state_groups.insert(group.clone());
        }
        for event in &plan.events {
            let pdu = &event.pdu;
            let id = pdu.owned_event_id().clone();
            if pdu.event_type() == "m.room.create" && pdu.state_key() == Some("") {
                self.rooms.entry(room.clone()).or_insert_with(|| pdu.room_version().clone());
            }
            for prev in &event.missing_prevs {
                self.by_missing_prev.entry(prev.clone()).or_default().insert(id.clone());
            }
            let metadata = event.internal_metadata(writer);
            let rejected_reason = event.rejection_reason();
            if let Some(group) = event.state_group {
                // Checked above: the group is known.
                let _ = self.state_groups.insert_event(id.clone(), group);
            }
            if event.stream_ordering > 0 {
                self.by_stream_ordering.insert(event.stream_ordering, id.clone());
            }
            let stored =
                StoredEvent { pdu: pdu.clone(), internal_metadata: metadata, rejected_reason };
            self.events.insert(id, stored);
        }
        if let Some(version) = &plan.outlier_room {
            self.rooms.entry(room.clone()).or_insert_with(|| version.clone());
        }
        if let Some(extremities) = &plan.forward_extremities {
            self.extremities.insert(room.clone(), extremities.clone());
        }
        for row in &plan.redactions {
            self.redactions.entry(row.redacts.clone()).or_default().push(row.clone());
        }
        let backward = self.backward_extremities.entry(room.clone()).or_default();
        for id in &plan.backward_extremities.to_delete {
            backward.remove(id);
        }
        backward.extend(plan.backward_extremities.to_insert.iter().cloned());
        for key in &plan.current_state_delta.to_delete {
            self.current_state.remove(&(room.clone(), key.clone()));
        }
        for (key, event_id, membership) in &plan.current_state_delta.to_insert {
            let row = (event_id.clone(), membership.clone());
            self.current_state.insert((room.clone(), key.clone()), row);
        }
        for row in &plan.memberships {
            self.memberships.insert(row.event_id.clone(), row.clone());
        }
        if let Some(row) = &plan.local_membership {
            self.local_memberships.insert((row.user_id.clone(), room.clone()), row.clone());
        }
        if let Some(gap) = &plan.timeline_gap {
            self.timeline_gaps.insert((room.clone(), gap.event_id.clone()), gap.clone());
        }
        if plan.stales_previews() {
            self.previews.retain(|(room_id, _), _| *room_id != room);
            self.preview_epoch += 1;
        }
        if let Some(last) = plan.events.iter().map(|event| event.stream_id).max() {
            if last > 0 {
                self.stream_positions.insert(writer.to_owned(), last);
            }
        }
        self.positions = self.positions.after(plan);
    }
}

impl Store for MemoryStore {
    async fn apply(&self, plan: &mut RoomWritePlan, writer: &str) -> Result<(), StoreError> {
        if plan.is_empty() {
            return Ok(());
        }
        let mut tables = self.tables.borrow_mut();
        let room_chunks = tables.room_chunks.get(plan.room_id.as_str()).copied().unwrap_or(0);
        if room_chunks != plan.planned_on.room_chunks {
            return Err(StoreError::Conflict(plan.room_id.to_string()));
        }
        if tables.positions != plan.planned_on.positions {
            plan.rebase(tables.positions);
        }
        tables.check(plan)?;
        tables.write(plan, writer);
        tables.room_chunks.insert(plan.room_id.to_string(), room_chunks + 1);
        Ok(())
    }

    async fn room_chunks(&self, room_id: &str) -> Result<u64, StoreError> {
        Ok(self.tables.borrow().room_chunks.get(room_id).copied().unwrap_or(0))
    }

    async fn room_version(&self, room_id: &str) -> Result<Option<RoomVersion>, StoreError> {
        Ok(self.tables.borrow().rooms.get(room_id).cloned())
    }

    async fn rooms(&self) -> Result<BTreeSet<String>, StoreError> {
        Ok(self.tables.borrow().rooms.keys().cloned().collect())
    }

    async fn event(&self, event_id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
        Ok(self.tables.borrow().events.get(event_id).cloned())
    }

    async fn events(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<StoredEvent>>, StoreError> {
        let tables = self.tables.borrow();
        Ok(event_ids.iter().map(|id| tables.events.get(id).cloned()).collect())
    }

    async fn forward_extremities(&self, room_id: &str) -> Result<BTreeSet<String>, StoreError> {
        Ok(self.tables.borrow().extremities.get(room_id).cloned().unwrap_or_default())
    }

    async fn backward_extremities(
        &self,
        room_id: &str,
    ) -> Result<BTreeSet<OwnedEventId>, StoreError> {
        Ok(self.tables.borrow().backward_extremities.get(room_id).cloned().unwrap_or_default())
    }

    async fn redactions_of(&self, event_id: &EventId) -> Result<Vec<RedactionRow>, StoreError> {
        Ok(self.tables.borrow().redactions.get(event_id).cloned().unwrap_or_default())
    }

    async fn redactions_of_many(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Vec<RedactionRow>>, StoreError> {
        let tables = self.tables.borrow();
        let rows = |id: &OwnedEventId| tables.redactions.get(id).cloned().unwrap_or_default();
        Ok(event_ids.iter().map(rows).collect())
    }

    async fn current_state(
        &self,
        room_id: &str,
        filter: &StateFilter,
    ) -> Result<StateIds, StoreError> {
        let tables = self.tables.borrow();
        let first = (room_id.to_owned(), (String::new(), String::new()));
        Ok(tables
            .current_state
            .range(first..)
            .take_while(|((room, _), _)| room == room_id)
            .filter(|((_, (event_type, state_key)), _)| filter.matches(event_type, state_key))
            .map(|((_, key), (event_id, _))| (key.clone(), event_id.clone()))
            .collect())
    }

    async fn current_states(&self, room_ids: &[String]) -> Result<Vec<StateIds>, StoreError> {
        let mut states = Vec::with_capacity(room_ids.len());
        for room_id in room_ids {
            states.push(self.current_state(room_id, &StateFilter::all()).await?);
        }
        Ok(states)
    }

    async fn state_at_event(
        &self,
        event_id: &EventId,
        filter: &StateFilter,
    ) -> Result<Option<StateIds>, StoreError> {
        let tables = self.tables.borrow();
        if tables.state_groups.event_group(event_id).is_none() {
            return Ok(None);
        }
        tables
            .state_groups
            .state_at_event(event_id, filter)
            .map(Some)
            .map_err(|error| StoreError::Corrupt(error.to_string()))
    }

    async fn memberships(&self, room_id: &str) -> Result<Vec<MembershipRow>, StoreError> {
        let tables = self.tables.borrow();
        let in_room = |row: &&MembershipRow| {
            tables.events.get(&row.event_id).is_some_and(|event| event.pdu.room_id() == room_id)
        };
        Ok(tables.memberships.values().filter(in_room).cloned().collect())
    }

    async fn positions(&self) -> Result<Positions, StoreError> {
        Ok(self.tables.borrow().positions)
    }

    async fn state_pdus(&self, state: &StateIds) -> Result<Vec<Option<Pdu>>, StoreError> {
        let tables = self.tables.borrow();
        Ok(state.values().map(|id| tables.events.get(id).map(|event| event.pdu.clone())).collect())
    }

    async fn planning_events(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<PlanningEvent>>, StoreError> {
        let tables = self.tables.borrow();
        Ok(event_ids
            .iter()
            .map(|id| {
                let event = tables.events.get(id)?.clone();
                Some(PlanningEvent { event, state_group: tables.state_groups.event_group(id) })
            })
            .collect())
    }

    async fn state_group_chain(
        &self,
        group: StateGroupId,
    ) -> Result<Vec<StateGroupRow>, StoreError> {
        let tables = self.tables.borrow();
        let mut chain = Vec::new();
        let mut next = Some(group);
        while let Some(id) = next {
            let row = tables
                .state_groups
                .group(id)
                .ok_or_else(|| StoreError::Corrupt(format!("state group {id} is missing")))?;
            chain.push(row.clone());
            next = row.prev_group;
        }
        chain.reverse();
        Ok(chain)
    }

    async fn room_timeline(
        &self,
        room_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let tables = self.tables.borrow();
        let below = |event: &&StoredEvent| {
            let ordering = event.internal_metadata.stream_ordering.unwrap_or_default();
            before.is_none_or(|before| ordering < before)
        };
        let mut events: Vec<StoredEvent> = tables
            .events
            .values()
            .filter(|event| event.pdu.room_id() == room_id)
            .filter(|event| event.outcome() == EventOutcome::Accepted)
            .filter(below)
            .cloned()
            .collect();
        events.sort_by_key(|event| std::cmp::Reverse(event.internal_metadata.stream_ordering));
        events.truncate(limit);
        Ok(events)
    }

    async fn lock_writes(&self) -> Result<WriteLock, StoreError> {
        // One connection: the event store's own queue already lets one write at a time.
        Ok(WriteLock::none())
    }

    async fn local_memberships(
        &self,
        user_id: &str,
        room_ids: Option<&[String]>,
    ) -> Result<LocalMemberships, StoreError> {
        let tables = self.tables.borrow();
        let memberships = tables.local_memberships.iter().filter(|((user, room), _)| {
            user == user_id && room_ids.is_none_or(|rooms| rooms.contains(room))
        });
        Ok(memberships.map(|((_, room), row)| (room.clone(), row.clone())).collect())
    }

    async fn timeline_gaps(&self, room_id: &str) -> Result<Vec<TimelineGap>, StoreError> {
        let tables = self.tables.borrow();
        let in_room = |((room, _), _): &(&(String, OwnedEventId), &TimelineGap)| room == room_id;
        Ok(tables.timeline_gaps.iter().filter(in_room).map(|(_, gap)| gap.clone()).collect())
    }

    async fn sync_token(&self) -> Result<Option<SyncToken>, StoreError> {
        Ok(self.tables.borrow().sync_token.clone())
    }

    async fn set_sync_token(&self, token: &SyncToken) -> Result<(), StoreError> {
        self.tables.borrow_mut().sync_token = Some(token.clone());
        Ok(())
    }

    async fn room_list(&self, user_id: &str) -> Result<RoomList, StoreError> {
        let tables = self.tables.borrow();
        let mut rooms: BTreeSet<String> = set_of(tables.rooms.keys().cloned());
        let own = tables.local_memberships.keys().filter(|(user, _)| user == user_id);
        rooms.extend(own.map(|(_, room_id)| room_id.clone()));
        let previews = (tables.previews.iter())
            .filter(|((_, user), _)| user == user_id)
            .map(|((room_id, _), text)| (room_id.clone(), text.clone()))
            .collect();
        Ok(RoomList { rooms, previews, epoch: tables.preview_epoch })
    }

    async fn keep_previews(
        &self,
        user_id: &str,
        epoch: u64,
        previews: &[(String, String)],
    ) -> Result<bool, StoreError> {
        let mut tables = self.tables.borrow_mut();
        if tables.preview_epoch != epoch {
            return Ok(false);
        }
        for (room_id, text) in previews {
            tables.previews.insert((room_id.clone(), user_id.to_owned()), text.clone());
        }
        Ok(true)
    }

    async fn referenced_as_prev(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<BTreeSet<OwnedEventId>, StoreError> {
        let tables = self.tables.borrow();
        let referenced = |id: &&OwnedEventId| tables.by_missing_prev.contains_key(*id);
        Ok(set_of(event_ids.iter().filter(referenced).cloned()))
    }

    async fn stream_positions(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        Ok(self.tables.borrow().stream_positions.clone())
    }

    async fn stream_after(&self, after: i64, limit: usize) -> Result<StreamPage, StoreError> {
        let tables = self.tables.borrow();
        let mut ids = tables.by_stream_ordering.range(after.saturating_add(1)..).map(|(_, id)| id);
        let events: Vec<StoredEvent> =
            ids.by_ref().take(limit).filter_map(|id| tables.events.get(id).cloned()).collect();
        Ok(StreamPage {
            last_stream_id: tables.positions.last_stream_ordering,
            more: ids.next().is_some(),
            events,
        })
    }
}
