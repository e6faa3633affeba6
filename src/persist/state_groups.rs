//! State groups: every distinct room state stored once, as a delta against an earlier group, and
//! the group each event maps to (`event_to_state_groups`).
//!
//! Synapse: `StateHandler.calculate_context_info` (`synapse/state/__init__.py`) and
//! `UnpersistedEventContext.persist` (`synapse/events/snapshot.py`) decide which groups an event
//! needs, `_make_state_cache_entry` picks the group a resolved state is based on,
//! `StateGroupDataStore.store_state_group` (`synapse/storage/databases/state/store.py`) chooses
//! between a delta and a whole snapshot, and `_store_event_state_mappings_txn`
//! (`synapse/storage/databases/main/events.py`) writes `event_to_state_groups`. For each event that
//! is not an outlier:
//!
//! 1. **The state before it.** When every prev event maps to one group, that group. When they map
//!    to several, their states were resolved: a group whose state equals the resolution is reused;
//!    otherwise a new group (named after the event) holds the resolved state as a delta against
//!    the closest prev group (fewest rows; only groups whose keys the resolution all keeps, since a
//!    delta cannot remove a key), or as a snapshot when no prev group qualifies. The choice is
//!    remembered per set of prev groups, so a later event with the same prev groups reuses it (as
//!    Synapse's state cache does). When no prev event has a group (the create event), a new
//!    snapshot group holds the state before: for the create event an empty group, and the create
//!    event's own group points to it.
//! 2. **The state after it.** A state event that is accepted (or soft-failed) gets a new group
//!    (named after the event) with a one-row delta against the group before it. A non-state event
//!    or a rejected event changes nothing: it maps to the group before it.
//! 3. **Delta or snapshot.** A new group is a delta against its base unless the base is already
//!    [`MAX_STATE_DELTA_HOPS`] hops from a snapshot: then it is a snapshot (no prev group, every
//!    row of the state), and the next chain starts from it. So reading any group walks at most
//!    `MAX_STATE_DELTA_HOPS + 1` groups.
//!
//! Reading a group's state walks its chain once, the newest group first (a row hides the same
//! key further down the chain); [`StateGroups::state_of_filtered`] applies a [`StateFilter`] in
//! the same walk, members and non-members alike, and stops as soon as a filter that names only
//! concrete `(type, state_key)` pairs has found them all.
//!
//! Differences from Synapse:
//! - A rejected state event: Synapse computes the event's context before it knows the event is
//!   rejected, so it writes a group for the state after it, which no event then maps to (the
//!   event maps to the group before it). Here no such group is written.
//! - The hop count is the one of Synapse on SQLite (the database of its fixtures): the number of
//!   edges from the base to its snapshot, a delta only while that is below 100, so a chain has at
//!   most 100 hops. On PostgreSQL Synapse counts the groups of the chain instead (one more), so
//!   its chains stop at 99 hops.
//! - Synapse persists the initial events of a room it creates itself in one batch
//!   (`store_state_deltas_for_batched`) without the hop check; here every group is checked.
//! - Synapse remembers resolutions in a cache that expires after half an hour; here they are
//!   remembered for the lifetime of the [`StateGroups`] value.
//! - Among several prev groups, Synapse tries them in the order of a Python dict built from a set
//!   of group ids (ascending for the small ids a room has in practice); here in ascending order.
//!   It reuses a group when the event ids of its state equal those of the resolution (and their
//!   counts match); here when the two states are equal.
//! - When a prev event is unknown, Synapse asks a remote server for the state before the event and
//!   stores it as a snapshot. Here the caller passes the groups of the prev events it knows;
//!   the others are left out.

use std::collections::BTreeSet;

use imbl::ordmap::DiffItem;
use imbl::OrdMap;
use ruma_common::{EventId, OwnedEventId};
use thiserror::Error;

use super::{retained, StateIds};
use crate::model::state_filter::StateKeyFilter;
use crate::model::StateFilter;
use crate::ordered::set_of;

/// The id of a state group (Synapse's `state_groups.id`), handed out in increasing order.
pub type StateGroupId = u64;

/// The longest chain of deltas: a new group whose base is this many hops from a snapshot is
/// stored as a snapshot itself (Synapse's `MAX_STATE_DELTA_HOPS`).
pub const MAX_STATE_DELTA_HOPS: u32 = 100;

/// The largest state group id: ids cross into JavaScript as numbers, exact up to `2^53 - 1`.
pub const MAX_STATE_GROUP_ID: StateGroupId = (1 << 53) - 1;

/// A state group as stored: its `state_groups` row (with the prev group, Synapse's
/// `state_group_edges`) and its `state_groups_state` rows (the delta).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateGroupRow {
    /// The group's id.
    pub id: StateGroupId,
    /// The event the group was made for (Synapse's `state_groups.event_id`).
    pub event_id: OwnedEventId,
    /// The group the delta applies to; `None` for a snapshot, whose delta is the whole state.
    pub prev_group: Option<StateGroupId>,
    /// The rows of the group: `(type, state_key)` to event id, each added to or replacing what
    /// the prev group holds.
    pub delta: StateIds,
}

impl StateGroupRow {
    /// Whether the group holds a whole state rather than a delta.
    pub fn is_snapshot(&self) -> bool {
        self.prev_group.is_none()
    }
}

/// Where an event's state is stored: what `event_to_state_groups` records for it, and the groups
/// to write for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventStateGroups {
    /// The group of the state after the event, which `event_to_state_groups` records: for an
    /// accepted or soft-failed state event the group that includes it, otherwise the same as
    /// [`state_group_before`](Self::state_group_before).
    pub state_group: StateGroupId,
    /// The group of the state before the event.
    pub state_group_before: StateGroupId,
    /// The new groups to write, in order (a group's prev group comes before it): none, the state
    /// before the event (when prev groups were resolved into a state no group holds, or when the
    /// event has no prev group), the state after it (a state event), or both.
    pub new_groups: Vec<StateGroupRow>,
}

/// Why state groups could not be planned or read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StateGroupError {
    /// A group that is not loaded: a prev group, a prev event's group, or a group to read.
    #[error("state group {0} is not known")]
    UnknownGroup(StateGroupId),
    /// A group loaded twice.
    #[error("state group {0} is already known")]
    DuplicateGroup(StateGroupId),
    /// A group id beyond [`MAX_STATE_GROUP_ID`].
    #[error("state group id {0} is out of range")]
    IdOutOfRange(StateGroupId),
    /// Every state group id up to [`MAX_STATE_GROUP_ID`] is taken.
    #[error("no state group id is left")]
    IdsExhausted,
    /// An event with no group recorded.
    #[error("event {0} has no state group")]
    UnknownEvent(OwnedEventId),
    /// An event that already has a group.
    #[error("event {0} already has a state group")]
    AlreadyPlanned(OwnedEventId),
}

/// A loaded group and its distance to a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    row: StateGroupRow,
    /// Hops from this group to the snapshot its chain starts from (0 for a snapshot).
    hops: u32,
}

/// The state groups of a room that planning and reading need, the groups of its events, and the
/// next group id.
///
/// A store loads what it holds ([`insert`](Self::insert), [`insert_event`](Self::insert_event):
/// at least the groups of the prev events of the events to plan, with their chains), then plans
/// event after event ([`plan`](Self::plan), [`plan_event`](Self::plan_event)); each planned
/// group is kept, so the next event can build on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateGroups {
    // Persistent maps: planning works on a copy, which costs nothing to make.
    groups: OrdMap<StateGroupId, Group>,
    events: OrdMap<OwnedEventId, StateGroupId>,
    /// The group of the state resolved from each set of prev groups seen.
    resolutions: OrdMap<BTreeSet<StateGroupId>, StateGroupId>,
    next_id: StateGroupId,
}

impl Default for StateGroups {
    /// No group; ids start at 1, as Synapse's sequence does.
    fn default() -> Self {
        Self::new(1)
    }
}

impl StateGroups {
    /// No group loaded; new groups take ids from `next_id` on (the store's sequence), and above
    /// every group loaded.
    pub fn new(next_id: StateGroupId) -> Self {
        Self { groups: OrdMap::new(), events: OrdMap::new(), resolutions: OrdMap::new(), next_id }
    }

    /// The id the next new group takes.
    pub fn next_id(&self) -> StateGroupId {
        self.next_id
    }

    /// Makes new groups take ids from `next_id` on, when that is above the current next id: a
    /// store keeps one id sequence for the groups of every room, while planning keeps groups per
    /// room.
    pub fn continue_ids_from(&mut self, next_id: StateGroupId) {
        self.next_id = self.next_id.max(next_id);
    }

    /// How many groups are loaded or planned.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether no group is loaded or planned.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// A loaded or planned group.
    pub fn group(&self, id: StateGroupId) -> Option<&StateGroupRow> {
        self.groups.get(&id).map(|group| &group.row)
    }

    /// Every loaded or planned group, by id.
    pub fn groups(&self) -> impl Iterator<Item = &StateGroupRow> + '_ {
        self.groups.values().map(|group| &group.row)
    }

    /// How many hops a group is from the snapshot its chain starts from (0 for a snapshot).
    pub fn hops(&self, id: StateGroupId) -> Option<u32> {
        self.groups.get(&id).map(|group| group.hops)
    }

    /// The group an event maps to (`event_to_state_groups`), when loaded or planned.
    pub fn event_group(&self, event_id: &EventId) -> Option<StateGroupId> {
        self.events.get(event_id).copied()
    }

    /// Loads a stored group. Its prev group must be loaded first (so chains are loaded from their
    /// snapshot up, and can never form a cycle).
    pub fn insert(&mut self, row: StateGroupRow) -> Result<(), StateGroupError> {
        if row.id > MAX_STATE_GROUP_ID {
            return Err(StateGroupError::IdOutOfRange(row.id));
        }
        if self.groups.contains_key(&row.id) {
            return Err(StateGroupError::DuplicateGroup(row.id));
        }
        let hops = match row.prev_group {
            None => 0,
            Some(prev) => self.known(prev)?.hops.saturating_add(1),
        };
        self.next_id = self.next_id.max(row.id + 1);
        self.groups.insert(row.id, Group { row, hops });
        Ok(())
    }

    /// Moves the groups planned from id `first` on `by` ids up, as the write of a chunk rebased
    /// after other writers' groups moved them ([`RoomWritePlan::rebase`]): the groups loaded from
    /// the store (below `first`) keep their ids, and so planning can go on from these groups
    /// instead of loading the room again.
    ///
    /// [`RoomWritePlan::rebase`]: super::RoomWritePlan::rebase
    pub fn shift_planned(&mut self, first: StateGroupId, by: StateGroupId) {
        if by == 0 {
            return;
        }
        let shift = |id: StateGroupId| if id >= first { id + by } else { id };
        let planned: Vec<StateGroupId> = self.groups.range(first..).map(|(id, _)| *id).collect();
        let mut moved = Vec::with_capacity(planned.len());
        for id in planned {
            if let Some(mut group) = self.groups.remove(&id) {
                group.row.id = shift(id);
                group.row.prev_group = group.row.prev_group.map(shift);
                moved.push(group);
            }
        }
        for group in moved {
            self.groups.insert(group.row.id, group);
        }
        let events: Vec<(OwnedEventId, StateGroupId)> = (self.events.iter())
            .filter(|(_, group)| **group >= first)
            .map(|(event_id, group)| (event_id.clone(), shift(*group)))
            .collect();
        for (event_id, group) in events {
            self.events.insert(event_id, group);
        }
        self.resolutions = (self.resolutions.iter())
            .map(|(prevs, group)| {
                (prevs.iter().copied().map(shift).collect::<BTreeSet<_>>(), shift(*group))
            })
            .collect();
        self.next_id = shift(self.next_id);
    }

    /// Loads a stored group chain, snapshot first; groups already loaded are skipped.
    pub fn load_chain(&mut self, chain: Vec<StateGroupRow>) -> Result<(), StateGroupError> {
        for row in chain {
            if !self.groups.contains_key(&row.id) {
                self.insert(row)?;
            }
        }
        Ok(())
    }

    /// Keeps the groups of these events with their chains, and drops the rest (the store keeps
    /// them; they are loaded again when needed). A remembered resolution is kept while its group
    /// is.
    pub fn retain_events(&mut self, keep: &BTreeSet<OwnedEventId>) {
        self.events = retained(&self.events, |id| keep.contains(id));
        let mut needed = BTreeSet::new();
        for &group in self.events.values() {
            let mut next = Some(group);
            while let Some(id) = next {
                if !needed.insert(id) {
                    break;
                }
                next = self.groups.get(&id).and_then(|group| group.row.prev_group);
            }
        }
        self.groups = retained(&self.groups, |id| needed.contains(id));
        self.resolutions = self
            .resolutions
            .iter()
            .filter(|(_, group)| needed.contains(*group))
            .map(|(prevs, group)| (prevs.clone(), *group))
            .collect();
    }

    /// Loads a stored `event_to_state_groups` row. The group must be loaded.
    pub fn insert_event(
        &mut self,
        event_id: OwnedEventId,
        group: StateGroupId,
    ) -> Result<(), StateGroupError> {
        self.known(group)?;
        self.events.insert(event_id, group);
        Ok(())
    }

    /// Plans the groups of an event whose prev events are known here by their groups
    /// ([`event_group`](Self::event_group)): prev events with no group (unknown, or outliers) are
    /// left out. See [`plan`](Self::plan).
    pub fn plan_event(
        &mut self,
        event_id: &EventId,
        prev_events: &[OwnedEventId],
        state_before: &StateIds,
        state_after: &StateIds,
    ) -> Result<EventStateGroups, StateGroupError> {
        let prev_groups: Vec<StateGroupId> =
            prev_events.iter().filter_map(|prev| self.event_group(prev)).collect();
        self.plan(event_id, &prev_groups, state_before, state_after)
    }

    /// Plans the groups of an event of a `/sync` timeline, which has no prev events: `base` is
    /// the group of the event before it in the timeline, with that group's state (`None` for a
    /// room's first). When `state_before` is that state, the event builds on the group as on a
    /// prev event's ([`plan`](Self::plan)); when it is not (across a gap of the timeline, or a
    /// `state` block that changed the state), a new group named after the event holds it, as a
    /// delta against `base` (or a snapshot).
    pub fn plan_in_timeline(
        &mut self,
        event_id: &EventId,
        base: Option<(StateGroupId, &StateIds)>,
        state_before: &StateIds,
        state_after: &StateIds,
    ) -> Result<EventStateGroups, StateGroupError> {
        match base {
            Some((group, state)) if state == state_before => {
                self.plan(event_id, &[group], state_before, state_after)
            }
            _ => {
                if let Some((group, _)) = base {
                    self.known(group)?;
                }
                if self.events.contains_key(event_id) {
                    return Err(StateGroupError::AlreadyPlanned(event_id.to_owned()));
                }
                let before = Before::New(base.map(|(group, state)| (group, state.clone())));
                self.plan_from(event_id, before, None, state_before, state_after)
            }
        }
    }

    /// Plans the groups of an event (see the module docs) and records the group it maps to.
    ///
    /// - `prev_groups`: the groups of its prev events (repeats do not matter); empty when none has
    ///   one (the create event).
    /// - `state_before`: the state before the event: the state of the prev group when there is one,
    ///   the resolution of the prev groups' states when there are several.
    /// - `state_after`: the state after it: `state_before` with the event itself for an accepted
    ///   or soft-failed state event, `state_before` unchanged otherwise.
    ///
    /// The states are trusted to agree with the groups (they are not read back: that would walk
    /// every chain). A `state_after` lacking a key of `state_before`, which no event produces, is
    /// stored as a snapshot.
    ///
    /// Nothing changes when an error is returned.
    pub fn plan(
        &mut self,
        event_id: &EventId,
        prev_groups: &[StateGroupId],
        state_before: &StateIds,
        state_after: &StateIds,
    ) -> Result<EventStateGroups, StateGroupError> {
        if self.events.contains_key(event_id) {
            return Err(StateGroupError::AlreadyPlanned(event_id.to_owned()));
        }
        let prev_groups: BTreeSet<StateGroupId> = set_of(prev_groups.iter().copied());
        for &group in &prev_groups {
            self.known(group)?;
        }
        let mut new_resolution = false;
        let before = match (prev_groups.len(), prev_groups.first()) {
            (1, Some(&group)) => Before::Existing(group),
            (0, _) => Before::New(None),
            _ => match self.resolutions.get(&prev_groups) {
                Some(&group) => Before::Existing(group),
                None => {
                    new_resolution = true;
                    self.resolution_base(&prev_groups, state_before)?
                }
            },
        };
        let resolution = new_resolution.then_some(prev_groups);
        self.plan_from(event_id, before, resolution, state_before, state_after)
    }

    /// Plans an event's groups once the group before it is chosen; `resolution`: the prev groups
    /// whose resolution `before` is, to remember.
    fn plan_from(
        &mut self,
        event_id: &EventId,
        before: Before,
        resolution: Option<BTreeSet<StateGroupId>>,
        state_before: &StateIds,
        state_after: &StateIds,
    ) -> Result<EventStateGroups, StateGroupError> {
        let mut pending: Vec<Group> = Vec::new();
        let mut ids = self.next_id..=MAX_STATE_GROUP_ID;
        let before = match before {
            Before::Existing(group) => group,
            Before::New(base) => {
                let id = ids.next().ok_or(StateGroupError::IdsExhausted)?;
                let base = base.as_ref().map(|(group, group_state)| (*group, group_state));
                pending.push(self.new_group(&pending, id, event_id, base, state_before));
                id
            }
        };

        let after = if state_after != state_before {
            let id = ids.next().ok_or(StateGroupError::IdsExhausted)?;
            let group =
                self.new_group(&pending, id, event_id, Some((before, state_before)), state_after);
            pending.push(group);
            id
        } else {
            before
        };

        if let Some(prev_groups) = resolution {
            self.resolutions.insert(prev_groups, before);
        }
        let new_groups: Vec<StateGroupRow> =
            pending.iter().map(|group| group.row.clone()).collect();
        for group in pending {
            self.next_id = group.row.id + 1;
            self.groups.insert(group.row.id, group);
        }
        self.events.insert(event_id.to_owned(), after);
        Ok(EventStateGroups { state_group: after, state_group_before: before, new_groups })
    }

    /// The full state of a group, walking its chain once.
    pub fn state_of(&self, group: StateGroupId) -> Result<StateIds, StateGroupError> {
        self.walk(group, None)
    }

    /// The state of a group that a filter matches, walking its chain once: rows the filter does
    /// not match are skipped, members and non-members in the same pass, and the walk stops early
    /// once a filter with only concrete `(type, state_key)` pairs has found them all.
    pub fn state_of_filtered(
        &self,
        group: StateGroupId,
        filter: &StateFilter,
    ) -> Result<StateIds, StateGroupError> {
        self.walk(group, Some(filter))
    }

    /// The state after an event (the state of the group it maps to) that a filter matches.
    pub fn state_at_event(
        &self,
        event_id: &EventId,
        filter: &StateFilter,
    ) -> Result<StateIds, StateGroupError> {
        let group = self
            .event_group(event_id)
            .ok_or_else(|| StateGroupError::UnknownEvent(event_id.to_owned()))?;
        self.walk(group, Some(filter))
    }

    fn known(&self, id: StateGroupId) -> Result<&Group, StateGroupError> {
        self.groups.get(&id).ok_or(StateGroupError::UnknownGroup(id))
    }

    /// Hops of a group loaded or about to be written.
    fn hops_with(&self, pending: &[Group], id: StateGroupId) -> u32 {
        pending
            .iter()
            .find(|group| group.row.id == id)
            .or_else(|| self.groups.get(&id))
            .map_or(0, |group| group.hops)
    }

    /// A new group holding `state`: a delta against `base` (a group and its state) when the base
    /// is within the hop bound and `state` keeps every key of it, else a snapshot.
    fn new_group(
        &self,
        pending: &[Group],
        id: StateGroupId,
        event_id: &EventId,
        base: Option<(StateGroupId, &StateIds)>,
        state: &StateIds,
    ) -> Group {
        let event_id = event_id.to_owned();
        if let Some((base, base_state)) = base {
            let base_hops = self.hops_with(pending, base);
            if base_hops < MAX_STATE_DELTA_HOPS {
                if let Some(delta) = delta(base_state, state) {
                    let row = StateGroupRow { id, event_id, prev_group: Some(base), delta };
                    return Group { row, hops: base_hops + 1 };
                }
            }
        }
        let row = StateGroupRow { id, event_id, prev_group: None, delta: state.clone() };
        Group { row, hops: 0 }
    }

    /// The group the resolution of several prev groups is stored with (Synapse's
    /// `_make_state_cache_entry`): one of them if it holds that state, else the one that needs the
    /// fewest delta rows (the first of equals, by id) among those whose keys it all keeps.
    fn resolution_base(
        &self,
        prev_groups: &BTreeSet<StateGroupId>,
        resolved: &StateIds,
    ) -> Result<Before, StateGroupError> {
        let mut states = Vec::with_capacity(prev_groups.len());
        for &group in prev_groups {
            states.push((group, self.state_of(group)?));
        }
        if let Some((group, _)) = states.iter().find(|(_, state)| state == resolved) {
            return Ok(Before::Existing(*group));
        }
        let mut best: Option<(usize, StateGroupId, StateIds)> = None;
        for (group, state) in states {
            let Some(rows) = delta(&state, resolved).map(|delta| delta.len()) else { continue };
            if best.as_ref().is_none_or(|(fewest, _, _)| rows < *fewest) {
                best = Some((rows, group, state));
            }
        }
        Ok(Before::New(best.map(|(_, group, state)| (group, state))))
    }

    fn walk(
        &self,
        group: StateGroupId,
        filter: Option<&StateFilter>,
    ) -> Result<StateIds, StateGroupError> {
        let filter = filter.filter(|filter| !filter.is_full());
        let limit = filter.and_then(StateFilter::max_entries_returned);
        let mut state = StateIds::new();
        let mut next = Some(group);
        while let Some(id) = next {
            let group = self.known(id)?;
            if limit.is_some_and(|limit| state.len() >= limit) {
                break;
            }
            match filter {
                None => add_rows(&mut state, group.row.delta.iter()),
                Some(filter) if filter.include_others() => add_rows(
                    &mut state,
                    group.row.delta.iter().filter(|((event_type, state_key), _)| {
                        filter.matches(event_type, state_key)
                    }),
                ),
                Some(filter) => {
                    for (event_type, keys) in filter.types() {
                        add_type(&mut state, &group.row.delta, event_type, keys);
                    }
                }
            }
            next = group.row.prev_group;
        }
        Ok(state)
    }
}

/// The group of the state before an event.
enum Before {
    /// A group that holds it already.
    Existing(StateGroupId),
    /// A new group, as a delta against a group (given with its state), or a snapshot.
    New(Option<(StateGroupId, StateIds)>),
}

/// The rows that turn `base` into `state`, or `None` when `state` lacks a key of `base` (a delta
/// can add and replace, not remove). Walks only the parts the two states do not share.
fn delta(base: &StateIds, state: &StateIds) -> Option<StateIds> {
    let mut rows = StateIds::new();
    for change in base.diff(state) {
        match change {
            DiffItem::Add(key, id) | DiffItem::Update { new: (key, id), .. } => {
                rows.insert(key.clone(), id.clone());
            }
            DiffItem::Remove(..) => return None,
        }
    }
    Some(rows)
}

/// Adds rows not already hidden by a newer group.
fn add_rows<'a>(
    state: &mut StateIds,
    rows: impl Iterator<Item = (&'a (String, String), &'a OwnedEventId)>,
) {
    for (key, id) in rows {
        if !state.contains_key(key) {
            state.insert(key.clone(), id.clone());
        }
    }
}

/// Adds the rows of one listed type: a range of the delta for every state_key, a lookup per
/// state_key otherwise.
fn add_type(state: &mut StateIds, delta: &StateIds, event_type: &str, keys: &StateKeyFilter) {
    match keys {
        StateKeyFilter::All => {
            let start = (event_type.to_owned(), String::new());
            let rows = delta.range(start..).take_while(|((row_type, _), _)| row_type == event_type);
            add_rows(state, rows);
        }
        StateKeyFilter::Keys(state_keys) => {
            for state_key in state_keys {
                let key = (event_type.to_owned(), state_key.clone());
                if let Some(id) = delta.get(&key) {
                    state.entry(key).or_insert_with(|| id.clone());
                }
            }
        }
    }
}
