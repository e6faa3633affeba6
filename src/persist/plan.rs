//! The write plan of one room chunk: every row the store writes, computed before any write.
//!
//! Synapse: `_persist_event_batch` (`synapse/storage/controllers/persist_events.py`) computes the
//! new forward extremities and the state delta (`DeltaState`) per chunk, and only then takes
//! stream orderings (`get_next_mult`), because notifying waits on every lower ordering: an
//! ordering taken early and held during planning would stall every reader. Backfilled events take
//! negative, decreasing orderings and move neither the extremities nor the current state.

use std::collections::BTreeSet;

use ruma_common::{OwnedEventId, OwnedRoomId};
use serde::Deserialize;

use super::extremities::EventOutcome;
use super::state::{PlanError, RoomHistory};
use super::state_groups::{StateGroupId, StateGroupRow, StateGroups};
use super::StateIds;
use crate::model::pdu::Pdu;
use crate::model::StateKey;

/// Hands out stream orderings: increasing from 1 for live events, decreasing from -1 for
/// backfilled ones. (One writer; several writers share a sequence, which the store provides.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOrderings {
    last: i64,
    last_backfilled: i64,
}

impl Default for StreamOrderings {
    fn default() -> Self {
        Self::new(0, 0)
    }
}

impl StreamOrderings {
    /// Continues from the last orderings handed out (as stored).
    pub fn new(last: i64, last_backfilled: i64) -> Self {
        Self { last, last_backfilled }
    }

    /// The last ordering handed out to a live (not backfilled) event; 0 before the first.
    pub fn last(&self) -> i64 {
        self.last
    }

    fn next(&mut self, backfilled: bool) -> i64 {
        if backfilled {
            self.last_backfilled -= 1;
            self.last_backfilled
        } else {
            self.last += 1;
            self.last
        }
    }
}

/// One event as it will be stored.
#[derive(Debug, Clone)]
pub struct PlannedEvent {
    /// The PDU.
    pub pdu: Pdu,
    /// Accepted, soft-failed or rejected.
    pub outcome: EventOutcome,
    /// Its stream ordering.
    pub stream_ordering: i64,
    /// The group of the state after it (`event_to_state_groups`).
    pub state_group: StateGroupId,
}

/// How the current state changes (Synapse's `DeltaState`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurrentStateDelta {
    /// Keys that leave the current state.
    pub to_delete: Vec<StateKey>,
    /// Keys that enter or change, with the event and, for members, its membership.
    pub to_insert: Vec<(StateKey, OwnedEventId, Option<String>)>,
}

impl CurrentStateDelta {
    /// Whether nothing changes.
    pub fn is_noop(&self) -> bool {
        self.to_delete.is_empty() && self.to_insert.is_empty()
    }
}

/// A row of `room_memberships`: one per member event that is not rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRow {
    /// The member event.
    pub event_id: OwnedEventId,
    /// Whose membership (the state key).
    pub user_id: String,
    /// Who sent it.
    pub sender: String,
    /// `content.membership`.
    pub membership: String,
    /// `content.displayname`, when a string.
    pub display_name: Option<String>,
    /// `content.avatar_url`, when a string.
    pub avatar_url: Option<String>,
}

/// Everything one room chunk writes.
#[derive(Debug, Clone)]
pub struct RoomWritePlan {
    /// The room.
    pub room_id: OwnedRoomId,
    /// The new events, in the order planned (duplicates of stored events left out).
    pub events: Vec<PlannedEvent>,
    /// The forward extremities after the chunk, when they changed.
    pub forward_extremities: Option<BTreeSet<String>>,
    /// How the current state changed.
    pub current_state_delta: CurrentStateDelta,
    /// New `room_memberships` rows.
    pub memberships: Vec<MembershipRow>,
    /// New state groups, each after its prev group.
    pub state_groups: Vec<StateGroupRow>,
}

/// Plans one room chunk: receives each PDU in order into the room's history and the state
/// groups, then hands out stream orderings to the new ones.
///
/// On error the history and groups may hold part of the chunk: drop them and restore from the
/// store, as after a failed write.
pub fn plan_room_chunk(
    history: &mut RoomHistory,
    groups: &mut StateGroups,
    room_id: OwnedRoomId,
    chunk: Vec<Pdu>,
    backfilled: bool,
    orderings: &mut StreamOrderings,
) -> Result<RoomWritePlan, PlanError> {
    let extremities_before = history.forward_extremities().clone();
    let state_before = history.current_state().clone();
    let mut received = Vec::new();
    let mut new_groups = Vec::new();
    for pdu in chunk {
        if pdu.room_id() != &*room_id {
            return Err(PlanError::WrongRoom(pdu.owned_event_id().clone()));
        }
        if history.contains(pdu.event_id()) {
            continue;
        }
        let (outcome, state_before) = history.receive_with_state_before(pdu.clone(), backfilled)?;
        let state_before = state_before.unwrap_or_default();
        let state_after = history.state_after(pdu.event_id()).cloned().unwrap_or_default();
        let planned = groups
            .plan_event(pdu.event_id(), pdu.prev_events(), &state_before, &state_after)
            .map_err(|error| PlanError::StateGroups(error.to_string()))?;
        new_groups.extend(planned.new_groups);
        received.push((pdu, outcome, planned.state_group));
    }
    // Only now, with planning done, are stream orderings taken.
    let events: Vec<PlannedEvent> = received
        .into_iter()
        .map(|(pdu, outcome, state_group)| PlannedEvent {
            pdu,
            outcome,
            stream_ordering: orderings.next(backfilled),
            state_group,
        })
        .collect();
    let memberships = events.iter().filter_map(membership_row).collect();
    let extremities_after = history.forward_extremities();
    Ok(RoomWritePlan {
        room_id,
        events,
        forward_extremities: (extremities_after != &extremities_before)
            .then(|| extremities_after.clone()),
        current_state_delta: state_delta(history, &state_before, history.current_state()),
        memberships,
        state_groups: new_groups,
    })
}

fn state_delta(history: &RoomHistory, before: &StateIds, after: &StateIds) -> CurrentStateDelta {
    let to_delete = before.keys().filter(|key| !after.contains_key(*key)).cloned().collect();
    let to_insert = after
        .iter()
        .filter(|(key, id)| before.get(*key) != Some(*id))
        .map(|(key, id)| {
            let membership = (key.0 == "m.room.member")
                .then(|| history.event(id).and_then(|event| member_content(event.pdu())))
                .flatten()
                .map(|content| content.membership);
            (key.clone(), id.clone(), membership)
        })
        .collect();
    CurrentStateDelta { to_delete, to_insert }
}

/// The fields of a member event's content that `room_memberships` keeps.
#[derive(Deserialize)]
struct MemberContent {
    membership: String,
    #[serde(default)]
    displayname: Option<serde_json::Value>,
    #[serde(default)]
    avatar_url: Option<serde_json::Value>,
}

fn member_content(pdu: &Pdu) -> Option<MemberContent> {
    if pdu.event_type() != "m.room.member" {
        return None;
    }
    let content = serde_json::to_value(pdu.content()).ok()?;
    serde_json::from_value(content).ok()
}

fn membership_row(event: &PlannedEvent) -> Option<MembershipRow> {
    if event.outcome == EventOutcome::Rejected {
        return None;
    }
    let content = member_content(&event.pdu)?;
    let text = |value: Option<serde_json::Value>| value.and_then(|v| v.as_str().map(str::to_owned));
    Some(MembershipRow {
        event_id: event.pdu.owned_event_id().clone(),
        user_id: event.pdu.state_key()?.to_owned(),
        sender: event.pdu.sender().to_string(),
        membership: content.membership,
        display_name: text(content.displayname),
        avatar_url: text(content.avatar_url),
    })
}
