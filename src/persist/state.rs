//! A room's history as persisting builds it: each arriving PDU is authorized, soft-failed or
//! rejected, given its state, and moves the forward extremities and the current state.
//!
//! Synapse: `FederationEventHandler._process_received_pdu` (`synapse/handlers/federation_event.py`)
//! with `_check_event_auth` (auth against the event's own `auth_events`, then against the state
//! before it: failing either rejects) and `_check_for_soft_fail` (auth against the room's current
//! state, skipped when the event's prevs are exactly the current extremities: failing soft-fails),
//! then `_calculate_new_extremities` and the current state as the resolution of the states after
//! the forward extremities. State resolution: v1 for room version 1 ([`resolve_v1`]), v2 from
//! `ruma-state-res` after (v2.1, with the conflicted state subgraph, from room version 12).
//!
//! The history is a cache of the room, not all of it: a room restored from the store starts with
//! its forward extremities and current state only, and a long history drops old events and
//! states ([`RoomHistory::prune`]). Whatever planning looks up and the history does not hold is
//! noted as a [`Miss`]; the caller loads those from the store ([`RoomHistory::load_event`],
//! [`RoomHistory::load_state`]) and plans again, so the outcome never depends on what was cached.
//!
//! [`resolve_v1`]: super::state_res_v1::resolve_v1

use std::cell::RefCell;
use std::collections::BTreeSet;

use imbl::{OrdMap, OrdSet};

use ruma_common::room_version_rules::StateResolutionVersion;
use ruma_common::{EventId, OwnedEventId};
use ruma_events::StateEventType;
use ruma_state_res::{Event as _, StateMap};
use thiserror::Error;

use super::extremities::{EventOutcome, ForwardExtremities, StoredDag};
use super::room_event::RoomEvent;
use super::{retained, StateIds};
use crate::model::pdu::Pdu;
use crate::model::room_version::RoomVersion;

/// How an event reaches the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arrival {
    /// New: it may move the extremities and the current state.
    Live,
    /// Older history fetched backwards: it moves neither.
    Backfilled,
}

/// Why a PDU could not be planned at all (as opposed to being rejected, which is an outcome).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The PDU belongs to another room or room version than the history it was given to.
    #[error("event {0} is not of this room")]
    WrongRoom(OwnedEventId),
    /// State resolution failed (an event it needed is missing or malformed).
    #[error("state resolution failed: {0}")]
    StateResolution(String),
    /// State groups could not be planned (a group the store should hold is missing).
    #[error("state groups: {0}")]
    StateGroups(String),
}

/// Something planning needed that the history did not hold: an event (for authorization, state
/// resolution or the extremities), or the state after an event (a prev event).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Miss {
    /// The event itself.
    Event(OwnedEventId),
    /// The state after the event.
    State(OwnedEventId),
}

/// A room's events with their outcomes and states, the forward extremities and current state.
#[derive(Debug, Clone)]
pub struct RoomHistory {
    room_version: RoomVersion,
    /// Whether `outcomes` names every event of the room the store holds: then an event it does
    /// not name is new, not a miss. True for a room whose history began here.
    complete: bool,
    // Persistent maps: planning works on a copy of the history, which costs nothing to make.
    events: OrdMap<OwnedEventId, RoomEvent>,
    outcomes: OrdMap<OwnedEventId, EventOutcome>,
    /// The stream orderings outliers were stored with: one keeps its ordering when it arrives
    /// in the DAG. Kept as long as the outcomes (pruning keeps both); outliers are few.
    outlier_orderings: OrdMap<OwnedEventId, i64>,
    state_after: OrdMap<OwnedEventId, StateIds>,
    /// Events looked up in the store and not found there.
    absent: OrdSet<OwnedEventId>,
    misses: RefCell<BTreeSet<Miss>>,
    extremities: ForwardExtremities,
    /// Prev events named by stored events and not stored themselves (Synapse's
    /// `event_backward_extremities`): where the room's history has gaps.
    backward_extremities: OrdSet<OwnedEventId>,
    current_state: StateIds,
}

impl RoomHistory {
    /// An empty history of a room of this version.
    pub fn new(room_version: RoomVersion) -> Self {
        Self::with_tips(room_version, true, BTreeSet::new(), StateIds::new())
    }

    /// Restores the backward extremities of a room the store holds.
    pub fn with_backward_extremities(
        mut self,
        event_ids: impl IntoIterator<Item = OwnedEventId>,
    ) -> Self {
        self.backward_extremities = event_ids.into_iter().collect();
        self
    }

    /// The backward extremities: prev events of stored events that are not stored themselves.
    pub fn backward_extremities(&self) -> &OrdSet<OwnedEventId> {
        &self.backward_extremities
    }

    /// The history of a room the store holds, from its forward extremities and current state;
    /// everything else is loaded as planning misses it.
    pub fn restored(
        room_version: RoomVersion,
        forward_extremities: BTreeSet<String>,
        current_state: StateIds,
    ) -> Self {
        Self::with_tips(room_version, false, forward_extremities, current_state)
    }

    fn with_tips(
        room_version: RoomVersion,
        complete: bool,
        forward_extremities: BTreeSet<String>,
        current_state: StateIds,
    ) -> Self {
        Self {
            room_version,
            complete,
            events: OrdMap::new(),
            outcomes: OrdMap::new(),
            outlier_orderings: OrdMap::new(),
            state_after: OrdMap::new(),
            absent: OrdSet::new(),
            misses: RefCell::default(),
            extremities: ForwardExtremities::new(forward_extremities, StoredDag::default()),
            backward_extremities: OrdSet::new(),
            current_state,
        }
    }

    /// The room version.
    pub fn room_version(&self) -> &RoomVersion {
        &self.room_version
    }

    /// What planning looked up and the history did not hold, since the last call.
    pub fn take_misses(&self) -> BTreeSet<Miss> {
        self.misses.take()
    }

    /// Loads a stored event and how it was judged.
    pub fn load_event(&mut self, pdu: Pdu, outcome: EventOutcome) {
        let event_id = pdu.owned_event_id().clone();
        if outcome == EventOutcome::SoftFailed {
            let prevs: Vec<String> = pdu.prev_events().iter().map(ToString::to_string).collect();
            self.extremities.remember_soft_failed(event_id.as_str(), prevs);
        }
        let event = RoomEvent::new(pdu, outcome == EventOutcome::Rejected);
        self.events.insert(event_id.clone(), event);
        self.outcomes.insert(event_id, outcome);
    }

    /// Records the stream ordering a stored outlier has: when it arrives in the DAG, it keeps
    /// it (Synapse's `_update_outliers_txn` leaves `events.stream_ordering` alone).
    pub fn load_outlier_ordering(&mut self, event_id: OwnedEventId, stream_ordering: i64) {
        self.outlier_orderings.insert(event_id, stream_ordering);
    }

    /// The stream ordering an outlier was stored with, if the history knows it.
    pub fn outlier_ordering(&self, event_id: &EventId) -> Option<i64> {
        self.outlier_orderings.get(event_id).copied()
    }

    /// Loads the stored state after an event (its state group).
    pub fn load_state(&mut self, event_id: OwnedEventId, state: StateIds) {
        self.state_after.insert(event_id, state);
    }

    /// Records that the store does not hold an event.
    pub fn load_absent(&mut self, event_id: OwnedEventId) {
        self.absent.insert(event_id);
    }

    /// Records events that a stored, accepted event names as a prev (a late event among them
    /// does not become a forward extremity).
    pub fn load_referenced(&mut self, event_ids: impl IntoIterator<Item = OwnedEventId>) {
        self.extremities.remember_referenced(event_ids.into_iter().map(|id| id.to_string()));
    }

    /// Whether every event of the room the store holds is named here.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// How many events the history holds whole.
    pub fn held_events(&self) -> usize {
        self.events.len()
    }

    /// Drops the events and states planning is unlikely to need again: keeps the forward
    /// extremities (with their states) and the events of the current state. What is dropped is
    /// loaded back from the store when missed. Outcomes stay, so a complete history stays
    /// complete. Returns the events whose states are kept (their state groups must stay loaded).
    pub fn prune(&mut self) -> BTreeSet<OwnedEventId> {
        let tips: BTreeSet<OwnedEventId> = self.tips().collect();
        let current: BTreeSet<&OwnedEventId> = self.current_state.values().collect();
        self.events = retained(&self.events, |id| tips.contains(id) || current.contains(id));
        self.state_after = retained(&self.state_after, |id| tips.contains(id));
        self.absent.clear();
        tips
    }

    /// Whether the history holds the event whole.
    pub fn holds_event(&self, event_id: &EventId) -> bool {
        self.events.contains_key(event_id)
    }

    /// Whether loading this would add to what the history knows (and the store may hold it).
    pub fn needs_load(&self, miss: &Miss) -> bool {
        match miss {
            Miss::Event(id) => !self.events.contains_key(id) && self.may_be_stored(id),
            Miss::State(id) => {
                !self.state_after.contains_key(id)
                    && self.outcomes.get(id) != Some(&EventOutcome::Outlier)
                    && self.may_be_stored(id)
            }
        }
    }

    /// Whether the store may hold an event that the history does not name.
    fn may_be_stored(&self, event_id: &EventId) -> bool {
        self.outcomes.contains_key(event_id) || (!self.complete && !self.absent.contains(event_id))
    }

    fn miss(&self, miss: Miss) {
        self.misses.borrow_mut().insert(miss);
    }

    /// An event, or a miss noted when the store may hold it.
    fn lookup(&self, event_id: &EventId) -> Option<&RoomEvent> {
        let event = self.events.get(event_id);
        if event.is_none() && self.may_be_stored(event_id) {
            self.miss(Miss::Event(event_id.to_owned()));
        }
        event
    }

    /// The state after an event, or a miss noted when the store may hold it. Outliers have none.
    fn lookup_state(&self, event_id: &EventId) -> Option<&StateIds> {
        let state = self.state_after.get(event_id);
        let outlier = self.outcomes.get(event_id) == Some(&EventOutcome::Outlier);
        if state.is_none() && !outlier && self.may_be_stored(event_id) {
            self.miss(Miss::State(event_id.to_owned()));
        }
        state
    }

    /// Whether the history has the state after an event: a prev event whose state group planning
    /// must know too.
    pub fn has_state(&self, event_id: &EventId) -> bool {
        self.state_after.contains_key(event_id)
    }

    /// Notes that the state (and state group) of an event must be loaded.
    pub fn note_state_miss(&self, event_id: &EventId) {
        self.miss(Miss::State(event_id.to_owned()));
    }

    /// The forward extremities.
    pub fn forward_extremities(&self) -> &BTreeSet<String> {
        self.extremities.current()
    }

    /// The current state.
    pub fn current_state(&self) -> &StateIds {
        &self.current_state
    }

    /// The state after an event: with the event itself if it is an accepted (or soft-failed)
    /// state event; the state before it if it was rejected.
    pub fn state_after(&self, event_id: &EventId) -> Option<&StateIds> {
        self.state_after.get(event_id)
    }

    /// How an event was judged on arrival.
    pub fn outcome(&self, event_id: &EventId) -> Option<EventOutcome> {
        self.outcomes.get(event_id).copied()
    }

    /// Whether the history already holds this event (a miss is noted when the store may).
    ///
    /// An outlier does not count: it is not part of the room's DAG yet, and arriving in it
    /// de-outliers it.
    pub fn contains(&self, event_id: &EventId) -> bool {
        let outcome = self.outcomes.get(event_id);
        if outcome.is_none() && self.may_be_stored(event_id) {
            self.miss(Miss::Event(event_id.to_owned()));
        }
        outcome.is_some_and(|outcome| *outcome != EventOutcome::Outlier)
    }

    /// Receives one PDU, as federation delivers them: authorizes it against its auth events and
    /// the state before it, then against the current state, and records the result.
    pub fn receive(&mut self, pdu: Pdu) -> Result<EventOutcome, PlanError> {
        self.receive_as(pdu, Arrival::Live).map(|(outcome, _)| outcome)
    }

    /// Receives a PDU live or, when `backfilled`, as older history: authorized against its auth
    /// events and the state before it, never soft-failed (Synapse does not check backfilled
    /// events against the current state), and without moving the forward extremities or the
    /// current state. Also returns the state before it (which state groups store it against).
    /// An event already held gives its outcome and `None`.
    pub(super) fn receive_with_state_before(
        &mut self,
        pdu: Pdu,
        backfilled: bool,
    ) -> Result<(EventOutcome, Option<StateIds>), PlanError> {
        let arrival = if backfilled { Arrival::Backfilled } else { Arrival::Live };
        self.receive_as(pdu, arrival)
    }

    fn receive_as(
        &mut self,
        pdu: Pdu,
        arrival: Arrival,
    ) -> Result<(EventOutcome, Option<StateIds>), PlanError> {
        let event_id = pdu.owned_event_id().clone();
        if pdu.room_version() != &self.room_version {
            return Err(PlanError::WrongRoom(event_id));
        }
        match self.outcomes.get(&event_id) {
            Some(EventOutcome::Outlier) | None => {}
            Some(outcome) => return Ok((*outcome, None)),
        }
        let prevs: Vec<OwnedEventId> = pdu.prev_events().to_vec();
        let state_before = self.state_before(&prevs)?;
        let event = RoomEvent::new(pdu, false);
        let outcome = if !self.passes_auth(&event, &state_before) {
            EventOutcome::Rejected
        } else if arrival == Arrival::Live && self.fails_against_current_state(&event, &prevs) {
            EventOutcome::SoftFailed
        } else {
            EventOutcome::Accepted
        };
        let event =
            if outcome == EventOutcome::Rejected { event.with_rejected(true) } else { event };
        let mut state_after = state_before.clone();
        if let (Some(state_key), false) = (event.state_key(), outcome == EventOutcome::Rejected) {
            let key = (event.event_type().to_string(), state_key.to_owned());
            state_after.insert(key, event_id.clone());
        }
        self.state_after.insert(event_id.clone(), state_after);
        self.events.insert(event_id.clone(), event);
        self.outcomes.insert(event_id.clone(), outcome);
        // An outlier received into the DAG is one no more.
        self.outlier_orderings.remove(&event_id);
        self.update_backward_extremities(&event_id, &prevs, outcome);
        if arrival == Arrival::Live {
            self.advance(&event_id, &prevs, outcome)?;
        }
        Ok((outcome, Some(state_before)))
    }

    /// Moves the forward extremities past a live event, and the current state with them.
    fn advance(
        &mut self,
        event_id: &EventId,
        prevs: &[OwnedEventId],
        outcome: EventOutcome,
    ) -> Result<(), PlanError> {
        if outcome == EventOutcome::Accepted {
            self.note_walk_misses(prevs);
        }
        let before = self.extremities.current().clone();
        let prev_strings: Vec<String> = prevs.iter().map(ToString::to_string).collect();
        self.extremities.apply(event_id.as_str(), &prev_strings, outcome);
        if self.extremities.current() != &before {
            let tips: Vec<OwnedEventId> = self.tips().collect();
            self.current_state = self.state_after_all(&tips)?;
        }
        Ok(())
    }

    /// The forward extremities as event ids (they are kept as the strings they were stored as).
    fn tips(&self) -> impl Iterator<Item = OwnedEventId> + '_ {
        self.extremities.current().iter().filter_map(|id| OwnedEventId::try_from(id.as_str()).ok())
    }

    /// The #5269 walk goes back through soft-failed prevs: notes those whose outcome is not held.
    fn note_walk_misses(&self, prevs: &[OwnedEventId]) {
        let mut to_check: Vec<&OwnedEventId> = prevs.iter().collect();
        let mut seen = BTreeSet::new();
        while let Some(id) = to_check.pop() {
            if !seen.insert(id) {
                continue;
            }
            match (self.outcomes.get(id), self.events.get(id)) {
                (Some(EventOutcome::SoftFailed), Some(event)) => {
                    to_check.extend(event.pdu().prev_events());
                }
                (Some(EventOutcome::SoftFailed), None) => {
                    self.lookup(id);
                }
                (None, _) => {
                    self.lookup(id);
                }
                _ => {}
            }
        }
    }

    /// An event the history holds (a miss is noted when the store may hold it).
    pub fn event(&self, event_id: &EventId) -> Option<&RoomEvent> {
        self.lookup(event_id)
    }

    /// The state before an event with these prevs: the resolution of their states. When none of
    /// them is stored (a gap in the history), the current state: Synapse asks the server that
    /// sent the event for the state at the missing prevs, and a client has nothing closer than
    /// the state it knows now.
    fn state_before(&self, prevs: &[OwnedEventId]) -> Result<StateIds, PlanError> {
        let known = prevs.iter().filter(|id| self.lookup_state(id).is_some()).count();
        if known == 0 && !prevs.is_empty() {
            return Ok(self.current_state.clone());
        }
        self.state_after_all(prevs)
    }

    /// An event that arrives fills its own gap; the prevs of an event that is not rejected are
    /// gaps when they are not stored, or stored only as outliers (rejected events keep no edges).
    fn update_backward_extremities(
        &mut self,
        event_id: &OwnedEventId,
        prevs: &[OwnedEventId],
        outcome: EventOutcome,
    ) {
        self.backward_extremities.remove(event_id);
        if outcome == EventOutcome::Rejected {
            return;
        }
        for prev in prevs {
            if matches!(self.outcomes.get(prev), None | Some(EventOutcome::Outlier)) {
                self.backward_extremities.insert(prev.clone());
            }
        }
    }

    /// The resolved state after a set of events (the state before an event with these prevs).
    /// Unknown events are left out: their state cannot be known here.
    fn state_after_all(&self, event_ids: &[OwnedEventId]) -> Result<StateIds, PlanError> {
        let mut states: Vec<&StateIds> =
            event_ids.iter().filter_map(|id| self.lookup_state(id)).collect();
        states.dedup();
        match states.as_slice() {
            [] => Ok(StateIds::new()),
            [state] => Ok((*state).clone()),
            _ => self.resolve(&states),
        }
    }

    fn resolve(&self, states: &[&StateIds]) -> Result<StateIds, PlanError> {
        let rules = self.room_version.rules();
        let fetch = |id: &EventId| self.lookup(id).cloned();
        match &rules.state_res {
            StateResolutionVersion::V1 => {
                let sets: Vec<StateIds> = states.iter().map(|state| (*state).clone()).collect();
                super::state_res_v1::resolve_v1(&rules.authorization, &sets, &fetch)
                    .map_err(|error| PlanError::StateResolution(error.to_string()))
            }
            StateResolutionVersion::V2(v2_rules) => {
                let maps: Vec<StateMap<OwnedEventId>> = states.iter().map(|s| to_ruma(s)).collect();
                let auth_chains =
                    maps.iter().map(|map| self.auth_chain_of(map.values().cloned())).collect();
                let subgraph = |conflicted: &StateMap<Vec<OwnedEventId>>| {
                    Some(self.conflicted_subgraph(conflicted.values().flatten().cloned()))
                };
                ruma_state_res::resolve(
                    &rules.authorization,
                    v2_rules,
                    &maps,
                    auth_chains,
                    fetch,
                    subgraph,
                )
                .map(|resolved| from_ruma(&resolved))
                .map_err(|error| PlanError::StateResolution(error.to_string()))
            }
            _ => Err(PlanError::StateResolution("unknown state resolution version".to_owned())),
        }
    }

    /// Every event reachable through `auth_events` from `event_ids` (not including them).
    fn auth_chain_of(
        &self,
        event_ids: impl IntoIterator<Item = OwnedEventId>,
    ) -> ruma_state_res::utils::event_id_set::EventIdSet<OwnedEventId> {
        let mut chain = BTreeSet::new();
        let mut to_visit: Vec<OwnedEventId> = event_ids.into_iter().collect();
        while let Some(id) = to_visit.pop() {
            let Some(event) = self.lookup(&id) else { continue };
            for auth in event.auth_events() {
                if chain.insert(auth.clone()) {
                    to_visit.push(auth.clone());
                }
            }
        }
        chain.into_iter().collect()
    }

    /// The conflicted state subgraph (room version 12, MSC4297): the events of the auth DAG that
    /// are both ancestors and descendants of conflicted events, the conflicted events included.
    fn conflicted_subgraph(
        &self,
        conflicted: impl IntoIterator<Item = OwnedEventId>,
    ) -> ruma_state_res::utils::event_id_set::EventIdSet<OwnedEventId> {
        let conflicted: BTreeSet<OwnedEventId> = conflicted.into_iter().collect();
        let ancestors = self.auth_chain_of(conflicted.iter().cloned());
        ancestors
            .into_iter()
            .chain(conflicted.iter().cloned())
            .filter(|id| {
                conflicted.contains(id)
                    || self.auth_chain_of([id.clone()]).iter().any(|a| conflicted.contains(a))
            })
            .collect()
    }

    /// Authorization on receipt: against the event's own auth events, then the state before it.
    fn passes_auth(&self, event: &RoomEvent, state_before: &StateIds) -> bool {
        let rules = &self.room_version.rules().authorization;
        let fetch_event = |id: &EventId| self.lookup(id).cloned();
        if ruma_state_res::check_state_independent_auth_rules(rules, event, fetch_event).is_err() {
            return false;
        }
        // From room version 12 the create event is named by the room id, not in auth_events.
        let create = rules
            .room_create_event_id_as_room_id
            .then(|| {
                OwnedEventId::try_from(format!("${}", event.pdu().room_id().strip_sigil())).ok()
            })
            .flatten();
        let auth_state: StateIds = event
            .auth_events()
            .chain(create.as_ref())
            .filter_map(|id| self.lookup(id))
            .filter_map(|auth| {
                let key = (auth.event_type().to_string(), auth.state_key()?.to_owned());
                Some((key, auth.event_id().clone()))
            })
            .collect();
        if !self.passes_against(event, &auth_state) {
            return false;
        }
        // The rules read only the event's auth types in a state: when the state before the event
        // holds the same events for them, the second check would repeat the first.
        let same_for_auth_types = ruma_state_res::auth_types_for_event(
            event.event_type(),
            event.sender(),
            event.state_key(),
            event.content(),
            rules,
        )
        .is_ok_and(|types| {
            types.into_iter().all(|(event_type, state_key)| {
                let key = (event_type.to_string(), state_key);
                auth_state.get(&key) == state_before.get(&key)
            })
        });
        let create_key = ("m.room.create".to_owned(), String::new());
        (same_for_auth_types && auth_state.get(&create_key) == state_before.get(&create_key))
            || self.passes_against(event, state_before)
    }

    /// Soft failure: the event fails auth against the current state. Not checked when its prevs
    /// are exactly the forward extremities (the current state is then its state before).
    fn fails_against_current_state(&self, event: &RoomEvent, prevs: &[OwnedEventId]) -> bool {
        let prevs: BTreeSet<String> = prevs.iter().map(ToString::to_string).collect();
        if &prevs == self.extremities.current() {
            return false;
        }
        !self.passes_against(event, &self.current_state)
    }

    fn passes_against(&self, event: &RoomEvent, state: &StateIds) -> bool {
        let rules = &self.room_version.rules().authorization;
        let fetch_state = |event_type: &StateEventType, state_key: &str| {
            let id = state.get(&(event_type.to_string(), state_key.to_owned()))?;
            self.lookup(id).cloned()
        };
        ruma_state_res::check_state_dependent_auth_rules(rules, event, fetch_state).is_ok()
    }
}

fn to_ruma(state: &StateIds) -> StateMap<OwnedEventId> {
    state
        .iter()
        .map(|((event_type, state_key), id)| {
            ((StateEventType::from(event_type.as_str()), state_key.clone()), id.clone())
        })
        .collect()
}

fn from_ruma(state: &StateMap<OwnedEventId>) -> StateIds {
    state
        .iter()
        .map(|((event_type, state_key), id)| {
            ((event_type.to_string(), state_key.clone()), id.clone())
        })
        .collect()
}
