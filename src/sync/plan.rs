//! The rooms of a `/sync` response planned into the same write plans as PDUs
//! ([`RoomWritePlan`]), purely: from what the store holds of each room, read before.
//!
//! A room filled from `/sync` has a timeline, not a DAG: its events carry no `prev_events`, so
//! they are never authorized or resolved here, as the server did both. What each part becomes:
//!
//! - **`state`** (the state before the first timeline event, as far as it changed since the
//!   previous response): its events are outliers, as Synapse stores the state a remote server
//!   sends when it joins a room (their own place in the room is unknown). Each enters the
//!   current state unless the current state holds an event for its key stored after it (a
//!   response ingested again, or overlapping, never moves the state back).
//! - **`timeline`**: each new event is stored in order, after the state block's, with a state
//!   group for the state after it: the current state so far, plus the event if it is a state
//!   event. Events already stored are left out; one stored as an outlier takes its place in the
//!   timeline (it keeps its stream ordering, as Synapse's de-outliering does).
//! - **forward extremity**: the last new timeline event, the tip of the timeline as this store
//!   knows it (not the server's extremities: a synced room has no `event_edges`, and so no
//!   backward extremities either).
//! - **`limited`** with a `prev_batch`: a [`TimelineGap`] before the first timeline event.
//!
//! Stream orderings are taken last, as for PDUs, after the room's new state is known.

use std::collections::BTreeSet;

use ruma_common::{OwnedEventId, OwnedRoomId};

use crate::hashed::HashMap;
use crate::model::pdu::Pdu;
use crate::model::room_version::RoomVersion;
use crate::model::StateIds;
use crate::ordered::set_of;
use crate::persist::plan::{current_state_delta, membership_row};
use crate::persist::state_groups::{StateGroupId, StateGroups};
use crate::persist::{
    EventOutcome, EventPlacement, LocalMembership, PlanError, PlannedEvent, RedactionRow,
    RoomWritePlan, StreamOrderings, TimelineGap,
};

/// The event type of membership events.
const MEMBER: &str = "m.room.member";

/// A stored event that a chunk names, as planning needs it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KnownEvent {
    /// The event; not read when the chunk brings it again (planning then takes the chunk's).
    pub pdu: Option<Pdu>,
    /// Where it stands.
    pub placement: EventPlacement,
}

/// What the store holds of a room that a chunk of a response builds on, read before planning.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SyncedRoomState {
    /// The current state.
    pub current_state: StateIds,
    /// The tip of the timeline (the room's forward extremity) and its state group.
    pub tip: Option<(OwnedEventId, StateGroupId)>,
    /// The state of the tip's group (empty without a tip).
    pub tip_state: StateIds,
    /// The stored events among those the chunk names, and among the current state's events
    /// its state block may replace.
    pub known: KnownEvents,
}

/// Stored events by id.
pub type KnownEvents = HashMap<OwnedEventId, KnownEvent>;

impl SyncedRoomState {
    fn known(&self, event_id: &OwnedEventId) -> Option<&KnownEvent> {
        self.known.get(event_id)
    }
}

/// A joined or left room's events, checked as client-format events of the room's version.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SyncedEvents {
    /// The room.
    pub room_id: OwnedRoomId,
    /// `state.events`: state events only.
    pub state: Vec<Pdu>,
    /// `timeline.events`, oldest first.
    pub timeline: Vec<Pdu>,
    /// `timeline.limited`.
    pub limited: bool,
    /// `timeline.prev_batch`.
    pub prev_batch: Option<String>,
}

impl SyncedEvents {
    /// Every event id the chunk names.
    pub fn event_ids(&self) -> impl Iterator<Item = &OwnedEventId> {
        self.state.iter().chain(&self.timeline).map(Pdu::owned_event_id)
    }
}

/// A new event of a chunk, before stream orderings are taken.
struct Received {
    pdu: Pdu,
    outcome: EventOutcome,
    state_group: Option<StateGroupId>,
    /// A de-outliered event's row: its stream ordering and writer are kept.
    kept: Option<(i64, Option<String>)>,
    out_of_band_membership: bool,
}

impl Received {
    fn outlier(pdu: Pdu, out_of_band_membership: bool) -> Self {
        Self {
            pdu,
            outcome: EventOutcome::Outlier,
            state_group: None,
            kept: None,
            out_of_band_membership,
        }
    }
}

/// Plans a joined room's chunk (or a left room's, when the store holds its timeline): see the
/// module docs. `groups` holds the tip's group chain; `orderings` and `groups` advance by what
/// the plan takes. Also returns what the store holds of the room once the plan is written (its
/// `known` events left empty), for the next chunk of the room to build on without reading it.
pub fn plan_timeline(
    events: &SyncedEvents,
    room: &SyncedRoomState,
    groups: &mut StateGroups,
    orderings: &mut StreamOrderings,
) -> Result<(RoomWritePlan, SyncedRoomState), PlanError> {
    let mut state = room.current_state.clone();
    let mut seen: BTreeSet<&OwnedEventId> = BTreeSet::new();
    let mut received = Vec::new();
    for pdu in &events.state {
        let (Some(state_key), id) = (pdu.state_key(), pdu.owned_event_id()) else { continue };
        let key = (pdu.event_type().to_owned(), state_key.to_owned());
        let replaces = match state.get(&key) {
            None => true,
            Some(current) => current != id && stored_after(room, id, current),
        };
        if replaces {
            state.insert(key, id.clone());
        }
        if room.known(id).is_none() && seen.insert(id) {
            received.push(Received::outlier(pdu.clone(), false));
        }
    }
    let mut before_group = room.tip.as_ref().map(|(_, group)| *group);
    let mut before_state = room.tip_state.clone();
    let mut first_is_new = false;
    let mut new_groups = Vec::new();
    for (index, pdu) in events.timeline.iter().enumerate() {
        let id = pdu.owned_event_id();
        let kept = match room.known(id) {
            Some(known) if !known.placement.outlier => continue,
            Some(known) => {
                Some((known.placement.stream_ordering, known.placement.instance_name.clone()))
            }
            None => None,
        };
        if !seen.insert(id) {
            continue;
        }
        first_is_new |= index == 0;
        let state_before = state.clone();
        if let Some(state_key) = pdu.state_key() {
            state.insert((pdu.event_type().to_owned(), state_key.to_owned()), id.clone());
        }
        // After the first event, the state before each is the one after the event before it.
        let base = before_group.map(|group| (group, &before_state));
        let planned = groups
            .plan_in_timeline(pdu.event_id(), base, &state_before, &state)
            .map_err(|error| PlanError::StateGroups(error.to_string()))?;
        new_groups.extend(planned.new_groups);
        before_group = Some(planned.state_group);
        before_state = state.clone();
        let state_group = Some(planned.state_group);
        let outcome = EventOutcome::Accepted;
        received.push(Received {
            pdu: pdu.clone(),
            outcome,
            state_group,
            kept,
            out_of_band_membership: false,
        });
    }
    let last_new = received.iter().rev().find(|event| event.state_group.is_some());
    let after = SyncedRoomState {
        current_state: state.clone(),
        tip: match (last_new, before_group) {
            (Some(event), Some(group)) => Some((event.pdu.owned_event_id().clone(), group)),
            _ => room.tip.clone(),
        },
        tip_state: before_state,
        known: KnownEvents::default(),
    };
    let tip = last_new.map(|event| event.pdu.event_id().to_string());
    let forward_extremities = tip
        .filter(|tip| room.tip.as_ref().is_none_or(|(old, _)| old.as_str() != tip))
        .map(|tip| set_of([tip]));
    // A timeline from the room's create event on is whole, limited or not.
    let timeline_gap = (events.timeline.first())
        .filter(|first| first_is_new && events.limited && !is_create(first))
        .zip(events.prev_batch.clone())
        .map(|(first, prev_batch)| TimelineGap {
            event_id: first.owned_event_id().clone(),
            prev_batch,
        });
    let by_id: HashMap<&OwnedEventId, &Pdu> = events
        .state
        .iter()
        .chain(&events.timeline)
        .map(|pdu| (pdu.owned_event_id(), pdu))
        .collect();
    let event = |id: &OwnedEventId| {
        by_id.get(id).map(|pdu| (*pdu).clone()).or_else(|| room.known(id)?.pdu.clone())
    };
    let current_state_delta = current_state_delta(&room.current_state, &state, event);
    let mut plan = into_plan(events.room_id.clone(), received, orderings);
    // The server applied its redaction rules already: a redaction it delivered applies.
    plan.redactions = plan
        .events
        .iter()
        .filter(|event| event.outcome == EventOutcome::Accepted)
        .filter(|event| event.pdu.event_type() == "m.room.redaction")
        .filter_map(|event| {
            let redacts = event.pdu.owned_redacts()?.clone();
            Some(RedactionRow {
                event_id: event.pdu.owned_event_id().clone(),
                redacts,
                recheck: false,
            })
        })
        .collect();
    plan.forward_extremities = forward_extremities;
    plan.current_state_delta = current_state_delta;
    plan.state_groups = new_groups;
    plan.timeline_gap = timeline_gap;
    Ok((plan, after))
}

/// Plans a chunk of outliers of a room whose timeline the store does not hold: a left room
/// known only from an invite or a knock (its leave event, and whatever else the response
/// carries). The own user's member events are out-of-band memberships, as Synapse marks a
/// rejected or withdrawn remote invite. `new_room`: the version to record a room not stored.
pub fn plan_out_of_band(
    events: &SyncedEvents,
    room: &SyncedRoomState,
    own_user_id: &str,
    new_room: Option<RoomVersion>,
    orderings: &mut StreamOrderings,
) -> RoomWritePlan {
    let mut seen = BTreeSet::new();
    let received = events
        .state
        .iter()
        .chain(&events.timeline)
        .filter(|pdu| {
            room.known(pdu.owned_event_id()).is_none() && seen.insert(pdu.owned_event_id())
        })
        .map(|pdu| {
            let own = pdu.event_type() == MEMBER && pdu.state_key() == Some(own_user_id);
            Received::outlier(pdu.clone(), own)
        })
        .collect();
    let mut plan = into_plan(events.room_id.clone(), received, orderings);
    plan.outlier_room = new_room;
    plan
}

/// The own user's membership after a chunk, as `local_current_membership` holds it: from the own
/// member event when the chunk or the store has it (`member`), else `fallback` (the section's
/// membership). `None` when the row would not change.
pub fn local_membership(
    own_user_id: &str,
    member: Option<&Pdu>,
    fallback: &str,
    stripped_state: Option<Vec<serde_json::Value>>,
    stream_ordering: i64,
    stored: Option<&LocalMembership>,
) -> Option<LocalMembership> {
    let membership = member
        .and_then(crate::persist::plan::member_content)
        .map_or_else(|| fallback.to_owned(), |content| content.membership);
    let row = LocalMembership {
        user_id: own_user_id.to_owned(),
        membership,
        event_id: member.map(|pdu| pdu.owned_event_id().clone()),
        stream_ordering,
        stripped_state,
    };
    let unchanged = stored.is_some_and(|stored| {
        stored.membership == row.membership
            && stored.event_id == row.event_id
            && stored.stripped_state == row.stripped_state
    });
    (!unchanged).then_some(row)
}

/// Whether `event` was stored after `current` (by stream ordering); an event not stored yet is
/// new, and so after.
fn stored_after(room: &SyncedRoomState, event: &OwnedEventId, current: &OwnedEventId) -> bool {
    match (room.known(event), room.known(current)) {
        (None, _) | (Some(_), None) => true,
        (Some(event), Some(current)) => {
            event.placement.stream_ordering > current.placement.stream_ordering
        }
    }
}

fn is_create(pdu: &Pdu) -> bool {
    pdu.event_type() == "m.room.create" && pdu.state_key() == Some("")
}

/// The plan of a chunk's new events, with their stream orderings taken now, in order, and their
/// membership rows; nothing else changes.
fn into_plan(
    room_id: OwnedRoomId,
    received: Vec<Received>,
    orderings: &mut StreamOrderings,
) -> RoomWritePlan {
    let events: Vec<PlannedEvent> = received
        .into_iter()
        .map(|event| {
            let stream_id = orderings.next(false);
            let (stream_ordering, instance_name) = event.kept.clone().unwrap_or((stream_id, None));
            PlannedEvent {
                replaces_outlier: event.kept.is_some(),
                pdu: event.pdu,
                outcome: event.outcome,
                stream_ordering,
                instance_name,
                stream_id,
                state_group: event.state_group,
                out_of_band_membership: event.out_of_band_membership,
                missing_prevs: Vec::new(),
            }
        })
        .collect();
    let memberships = events.iter().filter_map(membership_row).collect();
    RoomWritePlan { events, memberships, ..RoomWritePlan::empty(room_id) }
}
