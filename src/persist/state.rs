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

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::fmt::{Display, Write as _};

use imbl::{OrdMap, OrdSet};

use ruma_common::room_version_rules::StateResolutionVersion;
use ruma_common::{EventId, OwnedEventId};
use ruma_events::StateEventType;
use ruma_state_res::{Event as _, StateMap};
use thiserror::Error;

use super::auth_memo::{AuthKey, AuthMemo};
use super::extremities::{EventOutcome, ForwardExtremities, StoredDag};
use super::room_event::RoomEvent;
use super::StateIds;
use crate::hashed::HashSet;
use crate::model::pdu::Pdu;
use crate::model::room_version::RoomVersion;
use crate::model::StateKey;
use crate::ordered::set_of;

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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Miss {
    /// The event itself.
    Event(OwnedEventId),
    /// The state after the event.
    State(OwnedEventId),
}

/// What planning missed, each once; loaded in any order (each load is keyed by its event).
pub type Misses = HashSet<Miss>;

/// What receiving an event found.
#[derive(Debug)]
pub(super) struct Receipt {
    /// Accepted, soft-failed or rejected (or, for an event already held, how it was).
    pub outcome: EventOutcome,
    /// The state before it; `None` for an event already held.
    pub state_before: Option<StateIds>,
    /// For an accepted event, the prevs it names that the room's DAG did not hold (not stored,
    /// or stored as outliers): when one arrives later, it learns from these that an accepted
    /// event follows it.
    pub missing_prevs: Vec<OwnedEventId>,
}

/// What a stored outlier keeps of its row when it arrives in the DAG: Synapse's
/// `_update_outliers_txn` only marks the row no longer an outlier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOutlier {
    /// Its `events.stream_ordering`.
    pub stream_ordering: i64,
    /// Its `events.instance_name`; `None` when this writer stored it.
    pub instance_name: Option<String>,
}

/// A room's events with their outcomes and states, the forward extremities and current state.
#[derive(Debug, Clone)]
pub struct RoomHistory {
    room_version: RoomVersion,
    /// Whether the outcomes name every event of the room the store holds: then an event they do
    /// not name is new, not a miss. True for a room whose history began here.
    complete: bool,
    // Persistent maps: planning works on a copy of the history, which costs nothing to make.
    /// What the history knows of each event: the event, its outcome, the state after it. One
    /// map rather than three: a change to a map shared with a copy copies the path to the key,
    /// and an arriving event sets all three.
    known: OrdMap<OwnedEventId, Known>,
    /// How many entries of `known` hold the event.
    held: usize,
    /// What outliers were stored with that they keep when they arrive in the DAG. Kept as long
    /// as the outcomes (pruning keeps both); outliers are few.
    outliers: OrdMap<OwnedEventId, StoredOutlier>,
    /// Events looked up in the store and not found there.
    absent: OrdSet<OwnedEventId>,
    misses: RefCell<Misses>,
    /// How many misses were noted, counting a miss noted again: whether a check missed anything.
    misses_noted: Cell<usize>,
    /// Authorizations that passed, for events decided by a few ids.
    auth_memo: AuthMemo,
    extremities: ForwardExtremities,
    /// Prev events named by stored events and not stored themselves (Synapse's
    /// `event_backward_extremities`): where the room's history has gaps.
    backward_extremities: OrdSet<OwnedEventId>,
    current_state: StateIds,
}

/// What a history knows of one event; each part is loaded (or dropped by pruning) on its own.
#[derive(Debug, Clone, Default)]
struct Known {
    /// The event, held whole.
    event: Option<RoomEvent>,
    /// How it was judged on arrival.
    outcome: Option<EventOutcome>,
    /// The state after it.
    state_after: Option<StateIds>,
}

impl Known {
    fn is_empty(&self) -> bool {
        self.event.is_none() && self.outcome.is_none() && self.state_after.is_none()
    }
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
            known: OrdMap::new(),
            held: 0,
            outliers: OrdMap::new(),
            absent: OrdSet::new(),
            misses: RefCell::default(),
            misses_noted: Cell::new(0),
            auth_memo: AuthMemo::default(),
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
    pub fn take_misses(&self) -> Misses {
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
        let held = &mut self.held;
        Self::update(&mut self.known, event_id, |known| {
            if known.event.is_none() {
                *held += 1;
            }
            known.event = Some(event);
            known.outcome = Some(outcome);
        });
    }

    /// Changes what is known of an event.
    fn update(
        known: &mut OrdMap<OwnedEventId, Known>,
        event_id: OwnedEventId,
        change: impl FnOnce(&mut Known),
    ) {
        match known.get_mut(&event_id) {
            Some(entry) => change(entry),
            None => {
                let mut entry = Known::default();
                change(&mut entry);
                known.insert(event_id, entry);
            }
        }
    }

    fn known_event(&self, event_id: &EventId) -> Option<&RoomEvent> {
        self.known.get(event_id)?.event.as_ref()
    }

    fn known_outcome(&self, event_id: &EventId) -> Option<EventOutcome> {
        self.known.get(event_id)?.outcome
    }

    fn known_state(&self, event_id: &EventId) -> Option<&StateIds> {
        self.known.get(event_id)?.state_after.as_ref()
    }

    /// Records what a stored outlier keeps when it arrives in the DAG.
    pub fn load_outlier(&mut self, event_id: OwnedEventId, outlier: StoredOutlier) {
        self.outliers.insert(event_id, outlier);
    }

    /// Moves the orderings of the outliers planned above `last` (the last ordering taken when the
    /// chunk was planned) `by` up, as the write of a chunk rebased after other writers' ids.
    pub fn shift_planned_outliers(&mut self, last: i64, by: i64) {
        if by == 0 {
            return;
        }
        let planned: Vec<(OwnedEventId, StoredOutlier)> = (self.outliers.iter())
            .filter(|(_, outlier)| outlier.stream_ordering > last)
            .map(|(event_id, outlier)| {
                let stream_ordering = outlier.stream_ordering + by;
                (event_id.clone(), StoredOutlier { stream_ordering, ..outlier.clone() })
            })
            .collect();
        for (event_id, outlier) in planned {
            self.outliers.insert(event_id, outlier);
        }
    }

    /// What an outlier was stored with, if the history knows it.
    pub fn outlier(&self, event_id: &EventId) -> Option<&StoredOutlier> {
        self.outliers.get(event_id)
    }

    /// Loads the stored state after an event (its state group).
    pub fn load_state(&mut self, event_id: OwnedEventId, state: StateIds) {
        Self::update(&mut self.known, event_id, |known| known.state_after = Some(state));
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
        self.held
    }

    /// Drops the events and states planning is unlikely to need again: keeps the forward
    /// extremities (with their states) and the events of the current state. What is dropped is
    /// loaded back from the store when missed. Outcomes stay, so a complete history stays
    /// complete. Returns the events whose states are kept (their state groups must stay loaded).
    pub fn prune(&mut self) -> BTreeSet<OwnedEventId> {
        let tips: BTreeSet<OwnedEventId> = set_of(self.tips());
        let current: BTreeSet<&OwnedEventId> = set_of(self.current_state.values());
        self.known = self
            .known
            .iter()
            .filter_map(|(id, known)| {
                let tip = tips.contains(id);
                let kept = Known {
                    event: known.event.clone().filter(|_| tip || current.contains(id)),
                    outcome: known.outcome,
                    state_after: known.state_after.clone().filter(|_| tip),
                };
                (!kept.is_empty()).then(|| (id.clone(), kept))
            })
            .collect();
        self.held = self.known.values().filter(|known| known.event.is_some()).count();
        self.absent.clear();
        tips
    }

    /// Whether the history holds the event whole.
    pub fn holds_event(&self, event_id: &EventId) -> bool {
        self.known_event(event_id).is_some()
    }

    /// Whether loading this would add to what the history knows (and the store may hold it).
    pub fn needs_load(&self, miss: &Miss) -> bool {
        match miss {
            Miss::Event(id) => !self.holds_event(id) && self.may_be_stored(id),
            Miss::State(id) => {
                self.known_state(id).is_none()
                    && self.known_outcome(id) != Some(EventOutcome::Outlier)
                    && self.may_be_stored(id)
            }
        }
    }

    /// Whether the store may hold an event that the history does not name.
    fn may_be_stored(&self, event_id: &EventId) -> bool {
        self.may_be_stored_as(self.known.get(event_id), event_id)
    }

    /// [`may_be_stored`](Self::may_be_stored), with what is known of the event looked up already:
    /// it may be when an outcome names it, or when the history is partial.
    fn may_be_stored_as(&self, known: Option<&Known>, event_id: &EventId) -> bool {
        known.is_some_and(|known| known.outcome.is_some())
            || (!self.complete && !self.absent.contains(event_id))
    }

    fn miss(&self, miss: Miss) {
        self.misses_noted.set(self.misses_noted.get() + 1);
        self.misses.borrow_mut().insert(miss);
    }

    /// An event, or a miss noted when the store may hold it.
    fn lookup(&self, event_id: &EventId) -> Option<&RoomEvent> {
        let known = self.known.get(event_id);
        let event = known.and_then(|known| known.event.as_ref());
        if event.is_none() && self.may_be_stored_as(known, event_id) {
            self.miss(Miss::Event(event_id.to_owned()));
        }
        event
    }

    /// The state after an event, or a miss noted when the store may hold it. Outliers have none.
    fn lookup_state(&self, event_id: &EventId) -> Option<&StateIds> {
        let known = self.known.get(event_id);
        let state = known.and_then(|known| known.state_after.as_ref());
        let outlier = known.and_then(|known| known.outcome) == Some(EventOutcome::Outlier);
        if state.is_none() && !outlier && self.may_be_stored_as(known, event_id) {
            self.miss(Miss::State(event_id.to_owned()));
        }
        state
    }

    /// Whether the history has the state after an event: a prev event whose state group planning
    /// must know too.
    pub fn has_state(&self, event_id: &EventId) -> bool {
        self.known_state(event_id).is_some()
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
        self.known_state(event_id)
    }

    /// How an event was judged on arrival.
    pub fn outcome(&self, event_id: &EventId) -> Option<EventOutcome> {
        self.known_outcome(event_id)
    }

    /// Whether the history already holds this event (a miss is noted when the store may).
    ///
    /// An outlier does not count: it is not part of the room's DAG yet, and arriving in it
    /// de-outliers it.
    pub fn contains(&self, event_id: &EventId) -> bool {
        let known = self.known.get(event_id);
        let outcome = known.and_then(|known| known.outcome);
        if outcome.is_none() && self.may_be_stored_as(known, event_id) {
            self.miss(Miss::Event(event_id.to_owned()));
        }
        outcome.is_some_and(|outcome| outcome != EventOutcome::Outlier)
    }

    /// Receives one PDU, as federation delivers them: authorizes it against its auth events and
    /// the state before it, then against the current state, and records the result.
    pub fn receive(&mut self, pdu: Pdu) -> Result<EventOutcome, PlanError> {
        self.receive_as(pdu, Arrival::Live).map(|receipt| receipt.outcome)
    }

    /// Receives a PDU live or, when `backfilled`, as older history: authorized against its auth
    /// events and the state before it, never soft-failed (Synapse does not check backfilled
    /// events against the current state), and without moving the forward extremities or the
    /// current state. Also returns the state before it (which state groups store it against)
    /// and the prevs it found missing.
    pub(super) fn receive_with_state_before(
        &mut self,
        pdu: Pdu,
        backfilled: bool,
    ) -> Result<Receipt, PlanError> {
        let arrival = if backfilled { Arrival::Backfilled } else { Arrival::Live };
        self.receive_as(pdu, arrival)
    }

    fn receive_as(&mut self, pdu: Pdu, arrival: Arrival) -> Result<Receipt, PlanError> {
        let event_id = pdu.owned_event_id().clone();
        if pdu.room_version() != &self.room_version {
            return Err(PlanError::WrongRoom(event_id));
        }
        match self.known_outcome(&event_id) {
            Some(EventOutcome::Outlier) | None => {}
            Some(outcome) => {
                return Ok(Receipt { outcome, state_before: None, missing_prevs: Vec::new() })
            }
        }
        let prevs = pdu.prev_events();
        let state_before = self.state_before(prevs)?;
        let event = RoomEvent::new(pdu.clone(), false);
        let outcome = if !self.passes_auth(&event, &state_before) {
            EventOutcome::Rejected
        } else if arrival == Arrival::Live && self.fails_against_current_state(&event, prevs) {
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
        let known =
            Known { event: Some(event), outcome: Some(outcome), state_after: Some(state_after) };
        if self.known.insert(event_id.clone(), known).is_none_or(|old| old.event.is_none()) {
            self.held += 1;
        }
        // An outlier received into the DAG is one no more. (Removing copies the path to the key
        // in a shared map even when the key is absent: only a present key is removed.)
        if self.outliers.contains_key(&event_id) {
            self.outliers.remove(&event_id);
        }
        let missing = self.update_backward_extremities(&event_id, prevs, outcome);
        if arrival == Arrival::Live {
            self.advance(&event_id, prevs, outcome)?;
        }
        let missing_prevs = if outcome == EventOutcome::Accepted { missing } else { Vec::new() };
        Ok(Receipt { outcome, state_before: Some(state_before), missing_prevs })
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
        if self.extremities.apply_event(event_id.as_str(), prevs, outcome) {
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
            match self.known_outcome(id) {
                Some(EventOutcome::SoftFailed) => match self.known_event(id) {
                    Some(event) => to_check.extend(event.pdu().prev_events()),
                    None => {
                        self.lookup(id);
                    }
                },
                None => {
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
        let states: Vec<&StateIds> = prevs.iter().filter_map(|id| self.lookup_state(id)).collect();
        if states.is_empty() && !prevs.is_empty() {
            return Ok(self.current_state.clone());
        }
        self.resolve_states(states)
    }

    /// An event that arrives fills its own gap; the prevs of an event that is not rejected are
    /// gaps when they are not stored, or stored only as outliers (rejected events keep no edges).
    /// Returns those prevs.
    fn update_backward_extremities(
        &mut self,
        event_id: &OwnedEventId,
        prevs: &[OwnedEventId],
        outcome: EventOutcome,
    ) -> Vec<OwnedEventId> {
        if self.backward_extremities.contains(event_id) {
            self.backward_extremities.remove(event_id);
        }
        if outcome == EventOutcome::Rejected {
            return Vec::new();
        }
        let missing: Vec<OwnedEventId> = prevs
            .iter()
            .filter(|prev| matches!(self.known_outcome(prev), None | Some(EventOutcome::Outlier)))
            .cloned()
            .collect();
        self.backward_extremities.extend(missing.iter().cloned());
        missing
    }

    /// The resolved state after a set of events (the state before an event with these prevs).
    /// Unknown events are left out: their state cannot be known here.
    fn state_after_all(&self, event_ids: &[OwnedEventId]) -> Result<StateIds, PlanError> {
        self.resolve_states(event_ids.iter().filter_map(|id| self.lookup_state(id)).collect())
    }

    /// The resolution of states (one of them when they are all equal).
    fn resolve_states(&self, mut states: Vec<&StateIds>) -> Result<StateIds, PlanError> {
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
        let conflicted: BTreeSet<OwnedEventId> = set_of(conflicted);
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

    /// Authorization on receipt: against the event's own auth events, then the state before it;
    /// a pass is remembered for the events [`AuthKey`] describes, when nothing was missed.
    fn passes_auth(&self, event: &RoomEvent, state_before: &StateIds) -> bool {
        let key = AuthKey::of(event, |event| {
            let buffer = KeyBuffer::default();
            let id = |event_type: &str, state_key: &str| {
                buffer.get(state_before, event_type, state_key).cloned()
            };
            let sender = event.sender().as_str();
            [id("m.room.create", ""), id("m.room.power_levels", ""), id("m.room.member", sender)]
        });
        if key.as_ref().is_some_and(|key| self.auth_memo.passed(key)) {
            return true;
        }
        let noted = self.misses_noted.get();
        let passes = self.checks_auth(event, state_before);
        if let (true, Some(key)) = (passes && self.misses_noted.get() == noted, key) {
            self.auth_memo.remember_pass(key);
        }
        passes
    }

    /// The checks of [`passes_auth`](Self::passes_auth), made.
    fn checks_auth(&self, event: &RoomEvent, state_before: &StateIds) -> bool {
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
        // The auth events as a state, `(type, state_key)` to event; they are few, so a list
        // searched from its end (a later event replaces an earlier one of the same key).
        let auth_state: Vec<(String, &str, &RoomEvent)> = event
            .auth_events()
            .chain(create.as_ref())
            .filter_map(|id| self.lookup(id))
            .filter_map(|auth| Some((auth.event_type().to_string(), auth.state_key()?, auth)))
            .collect();
        let in_auth_state = |event_type: &str, state_key: &str| {
            auth_state
                .iter()
                .rev()
                .find(|(auth_type, auth_key, _)| auth_type == event_type && *auth_key == state_key)
                .map(|(_, _, auth)| *auth)
        };
        let name = RefCell::new(String::new());
        let passes_auth_events = self.passes_with(event, &|event_type, state_key| {
            let mut name = name.borrow_mut();
            name.clear();
            let _ = write!(name, "{event_type}");
            in_auth_state(&name, state_key).cloned()
        });
        if !passes_auth_events {
            return false;
        }
        // The rules read only the event's auth types in a state: when the state before the event
        // holds the same events for them, the second check would repeat the first.
        let key = KeyBuffer::default();
        let same_event = |event_type: &dyn Display, state_key: &str| {
            let before = key.get(state_before, event_type, state_key);
            let mut name = name.borrow_mut();
            name.clear();
            let _ = write!(name, "{event_type}");
            in_auth_state(&name, state_key).map(RoomEvent::event_id) == before
        };
        let same_for_auth_types = ruma_state_res::auth_types_for_event(
            event.event_type(),
            event.sender(),
            event.state_key(),
            event.content(),
            rules,
        )
        .is_ok_and(|types| {
            types.iter().all(|(event_type, state_key)| same_event(event_type, state_key))
        });
        (same_for_auth_types && same_event(&"m.room.create", ""))
            || self.passes_against(event, state_before)
    }

    /// Soft failure: the event fails auth against the current state. Not checked when its prevs
    /// are exactly the forward extremities (the current state is then its state before).
    fn fails_against_current_state(&self, event: &RoomEvent, prevs: &[OwnedEventId]) -> bool {
        let extremities = self.extremities.current();
        // The prevs as a set equal the extremities: each is one, and there are as many distinct.
        let distinct_prevs =
            prevs.iter().enumerate().filter(|(index, prev)| !prevs[..*index].contains(prev));
        let same = prevs.iter().all(|prev| extremities.contains(prev.as_str()))
            && distinct_prevs.count() == extremities.len();
        if same {
            return false;
        }
        !self.passes_against(event, &self.current_state)
    }

    fn passes_against(&self, event: &RoomEvent, state: &StateIds) -> bool {
        let key = KeyBuffer::default();
        self.passes_with(event, &|event_type, state_key| {
            let id = key.get(state, event_type, state_key)?;
            self.lookup(id).cloned()
        })
    }

    /// The state-dependent authorization rules, with the state read through `fetch_state`. A
    /// `dyn` reader: the rules are compiled once for every caller (here and in state resolution
    /// v1), not once per closure.
    fn passes_with(
        &self,
        event: &RoomEvent,
        fetch_state: &dyn Fn(&StateEventType, &str) -> Option<RoomEvent>,
    ) -> bool {
        let rules = &self.room_version.rules().authorization;
        ruma_state_res::check_state_dependent_auth_rules(rules, event, fetch_state).is_ok()
    }
}

/// A `(type, state_key)` key reused for lookups in [`StateIds`], whose keys are owned strings: a
/// lookup then allocates nothing once the buffer has grown.
#[derive(Default)]
struct KeyBuffer(RefCell<StateKey>);

impl KeyBuffer {
    fn get<'a>(
        &self,
        state: &'a StateIds,
        event_type: &(impl Display + ?Sized),
        state_key: &str,
    ) -> Option<&'a OwnedEventId> {
        let mut key = self.0.borrow_mut();
        key.0.clear();
        let _ = write!(key.0, "{event_type}");
        key.1.clear();
        key.1.push_str(state_key);
        state.get(&*key)
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
