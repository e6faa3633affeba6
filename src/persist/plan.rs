//! The write plan of one room chunk: every row the store writes, computed before any write.
//!
//! Synapse: `_persist_event_batch` (`synapse/storage/controllers/persist_events.py`) computes the
//! new forward extremities and the state delta (`DeltaState`) per chunk, and only then takes
//! stream orderings (`get_next_mult`), because notifying waits on every lower ordering: an
//! ordering taken early and held during planning would stall every reader. Backfilled events take
//! negative, decreasing orderings and move neither the extremities nor the current state.

use std::collections::BTreeSet;

use imbl::ordmap::DiffItem;
use imbl::OrdSet;
use ruma_common::{CanonicalJsonValue, OwnedEventId, OwnedRoomId};

use super::extremities::EventOutcome;
use super::redactions::{redaction_row, RedactionRow};
use super::state::{PlanError, RoomHistory, StoredOutlier};
use super::state_groups::{StateGroupId, StateGroupRow, StateGroups};
use super::StateIds;
use crate::model::internal_metadata::InternalMetadata;
use crate::model::pdu::Pdu;
use crate::model::room_version::RoomVersion;
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

    /// The last live ordering handed out (0 when none).
    pub fn last(&self) -> i64 {
        self.last
    }

    /// The last backfill ordering handed out (0 when none).
    pub fn last_backfilled(&self) -> i64 {
        self.last_backfilled
    }

    /// Hands out the next ordering.
    pub fn next(&mut self, backfilled: bool) -> i64 {
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
    /// Its stream ordering (`events.stream_ordering`): the id taken for it, except for an
    /// outlier arriving in the DAG, which keeps the ordering it was stored with (Synapse's
    /// `_update_outliers_txn` only marks the row no longer an outlier).
    pub stream_ordering: i64,
    /// Its `events.instance_name` when it is not the writer's: an outlier arriving in the DAG
    /// keeps the one it was stored with.
    pub instance_name: Option<String>,
    /// The stream id the chunk took for it: Synapse takes one per event of the chunk
    /// (`get_next_mult`), a de-outliered event included, whose id is not its ordering but its
    /// `ex_outlier_stream` row's. Equal to `stream_ordering` for every other event. The
    /// sequences and stream positions advance by these.
    pub stream_id: i64,
    /// The group of the state after it (`event_to_state_groups`); none for an outlier.
    pub state_group: Option<StateGroupId>,
    /// Whether it is stored already as an outlier, whose rows it replaces (de-outliering).
    pub replaces_outlier: bool,
    /// A membership received out of band (an invite or knock outside the room's DAG).
    pub out_of_band_membership: bool,
    /// For an accepted event, the prevs it names that the room's DAG did not hold when it
    /// arrived: a prev arriving later is not a forward extremity (Synapse finds these in
    /// `event_edges`, `_get_events_which_are_prevs`).
    pub missing_prevs: Vec<OwnedEventId>,
}

/// A received event of a chunk, before stream orderings are taken.
struct Received {
    pdu: Pdu,
    outcome: EventOutcome,
    state_group: StateGroupId,
    replaces_outlier: bool,
    /// What a de-outliered event keeps of its row.
    kept: Option<StoredOutlier>,
    missing_prevs: Vec<OwnedEventId>,
}

/// The reason Synapse records for an event that failed authorization (`rejections.reason`).
pub const AUTH_ERROR: &str = "auth_error";

impl PlannedEvent {
    /// Its internal metadata as written by `writer`: what every backend stores for it.
    pub fn internal_metadata(&self, writer: &str) -> InternalMetadata {
        InternalMetadata {
            stream_ordering: Some(self.stream_ordering),
            instance_name: Some(self.instance_name.as_deref().unwrap_or(writer).to_owned()),
            soft_failed: self.outcome == EventOutcome::SoftFailed,
            outlier: self.outcome == EventOutcome::Outlier,
            out_of_band_membership: self.out_of_band_membership,
            ..InternalMetadata::default()
        }
    }

    /// Why it was rejected, if it was.
    pub fn rejection_reason(&self) -> Option<String> {
        (self.outcome == EventOutcome::Rejected).then(|| AUTH_ERROR.to_owned())
    }

    /// Whether its `event_edges` rows are written: rejected events and outliers keep none.
    pub fn keeps_edges(&self) -> bool {
        !matches!(self.outcome, EventOutcome::Rejected | EventOutcome::Outlier)
    }
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
    /// How the backward extremities change.
    pub backward_extremities: BackwardExtremitiesDelta,
    /// New `redactions` rows.
    pub redactions: Vec<RedactionRow>,
    /// The room to record in `rooms`, when outliers are the first of it stored (Synapse's
    /// `maybe_store_room_on_outlier_membership`); a room is recorded by its create event
    /// otherwise.
    pub outlier_room: Option<RoomVersion>,
    /// The store's own user's membership in the room, when it changes (`/sync` only: a store
    /// learns who its own user is from `ingestSync`).
    pub local_membership: Option<LocalMembership>,
    /// A gap of a `/sync` timeline: the events before this chunk's first timeline event were
    /// left out of the response.
    pub timeline_gap: Option<TimelineGap>,
    /// Whether a room list may show the room before the chunk (it is stored, or the own user has
    /// a membership in it): only then may a preview of it be kept, or any row of it be there to
    /// replace. Planning sets it `true`; a caller that knows the room is new to the store clears
    /// it.
    pub room_listed: bool,
    /// What the chunk was planned on (see [`super::positions`]); the event store sets it.
    pub planned_on: super::PlannedOn,
}

impl RoomWritePlan {
    /// A chunk of `room_id` that writes nothing: what planning adds to.
    pub fn empty(room_id: OwnedRoomId) -> Self {
        Self {
            room_id,
            events: Vec::new(),
            forward_extremities: None,
            current_state_delta: Default::default(),
            memberships: Vec::new(),
            state_groups: Vec::new(),
            backward_extremities: BackwardExtremitiesDelta::default(),
            redactions: Vec::new(),
            outlier_room: None,
            local_membership: None,
            timeline_gap: None,
            room_listed: true,
            planned_on: Default::default(),
        }
    }

    /// Whether the chunk writes nothing (every event of it was stored already): a backend then
    /// neither writes nor counts it.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.forward_extremities.is_none()
            && self.current_state_delta.is_noop()
            && self.memberships.is_empty()
            && self.state_groups.is_empty()
            && self.backward_extremities.to_delete.is_empty()
            && self.backward_extremities.to_insert.is_empty()
            && self.redactions.is_empty()
            && self.outlier_room.is_none()
            && self.local_membership.is_none()
            && self.timeline_gap.is_none()
    }

    /// Whether a preview kept of the room is stale once the chunk is written: a preview is
    /// computed from the room's current state, the redactions of its events and the own
    /// membership, and nothing else a chunk writes.
    pub fn stales_previews(&self) -> bool {
        self.room_listed
            && (self.local_membership.is_some()
                || !self.current_state_delta.is_noop()
                || !self.redactions.is_empty())
    }
}

/// Where a stored event stands: what planning needs of an event a chunk brings again, read
/// without the event (`Store::event_placements`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventPlacement {
    /// Whether it is stored as an outlier.
    pub outlier: bool,
    /// Its stream ordering.
    pub stream_ordering: i64,
    /// The writer that stored it.
    pub instance_name: Option<String>,
    /// Its `event_to_state_groups` row; none for an outlier.
    pub state_group: Option<StateGroupId>,
}

/// A row of `local_current_membership` (Synapse's table of the same name, for local users): the
/// store's own user's current membership in a room, with the stripped state of an invite or
/// knock as it was received (Synapse keeps it in the invite's `unsigned.invite_room_state`).
#[derive(Debug, Clone, PartialEq)]
pub struct LocalMembership {
    /// The own user.
    pub user_id: String,
    /// `join`, `invite`, `knock`, `leave` or `ban`.
    pub membership: String,
    /// The member event, when the store holds it: a stripped invite or knock carries no event
    /// id, and a joined room's state may leave the own member event out.
    pub event_id: Option<OwnedEventId>,
    /// The stream ordering of the chunk that set it: a row is never replaced by an older
    /// response's (one ingested again, or overlapping).
    pub stream_ordering: i64,
    /// `invite_state.events` / `knock_state.events` as received, for an invite or a knock.
    pub stripped_state: Option<Vec<serde_json::Value>>,
}

/// A gap in a room's timeline as `/sync` delivered it: the events before `event_id` (the first
/// of a `limited` timeline) were not delivered; a client paginates back from `prev_batch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineGap {
    /// The first event after the gap.
    pub event_id: OwnedEventId,
    /// Where to paginate back from (`/messages?from=`).
    pub prev_batch: String,
}

/// How a room's backward extremities (`event_backward_extremities`) change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackwardExtremitiesDelta {
    /// Prev events now known to be missing.
    pub to_insert: Vec<OwnedEventId>,
    /// Events that arrived, or that no longer count as missing.
    pub to_delete: Vec<OwnedEventId>,
}

/// Plans one room chunk: receives each PDU in order into the room's history and the state
/// groups, then hands out stream orderings to the new ones.
///
/// On error the history and groups may hold part of the chunk: drop them and restore from the
/// store, as after a failed write. When the history noted misses ([`RoomHistory::take_misses`]),
/// the plan (or the error) rests on a partial view: load what was missed and plan again.
pub fn plan_room_chunk(
    history: &mut RoomHistory,
    groups: &mut StateGroups,
    room_id: OwnedRoomId,
    chunk: Vec<Pdu>,
    backfilled: bool,
    orderings: &mut StreamOrderings,
) -> Result<RoomWritePlan, PlanError> {
    let extremities_before = history.forward_extremities().clone();
    let backward_before = history.backward_extremities().clone();
    let state_before = history.current_state().clone();
    let mut received = Vec::new();
    let mut new_groups = Vec::new();
    let mut redactions = Vec::new();
    for pdu in chunk {
        if pdu.room_id() != &*room_id {
            return Err(PlanError::WrongRoom(pdu.owned_event_id().clone()));
        }
        if history.contains(pdu.event_id()) {
            continue;
        }
        let replaces_outlier = history.outcome(pdu.event_id()) == Some(EventOutcome::Outlier);
        // Read before receiving the event, which forgets it.
        let kept = replaces_outlier.then(|| history.outlier(pdu.event_id()).cloned()).flatten();
        for prev in pdu.prev_events() {
            if history.has_state(prev) && groups.event_group(prev).is_none() {
                history.note_state_miss(prev);
            }
        }
        let receipt = history.receive_with_state_before(pdu.clone(), backfilled)?;
        let (outcome, state_before) = (receipt.outcome, receipt.state_before.unwrap_or_default());
        redactions.extend(redaction_row(history, &pdu, outcome, &state_before));
        let state_after = history.state_after(pdu.event_id()).cloned().unwrap_or_default();
        let planned = groups
            .plan_event(pdu.event_id(), pdu.prev_events(), &state_before, &state_after)
            .map_err(|error| PlanError::StateGroups(error.to_string()))?;
        new_groups.extend(planned.new_groups);
        received.push(Received {
            pdu,
            outcome,
            state_group: planned.state_group,
            replaces_outlier,
            kept,
            missing_prevs: receipt.missing_prevs,
        });
    }
    // Only now, with planning done, are stream orderings taken: one per event, an ex-outlier
    // included, as Synapse takes them.
    let events: Vec<PlannedEvent> = received
        .into_iter()
        .map(|received| {
            let stream_id = orderings.next(backfilled);
            // An outlier whose row is unknown (never the case for a stored one, which always
            // has an ordering) takes the new id, as any event.
            let (stream_ordering, instance_name) = match received.kept {
                Some(kept) => (kept.stream_ordering, kept.instance_name),
                None => (stream_id, None),
            };
            PlannedEvent {
                pdu: received.pdu,
                outcome: received.outcome,
                stream_ordering,
                instance_name,
                stream_id,
                state_group: Some(received.state_group),
                replaces_outlier: received.replaces_outlier,
                out_of_band_membership: false,
                missing_prevs: received.missing_prevs,
            }
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
        backward_extremities: backward_delta(&backward_before, history.backward_extremities()),
        redactions,
        outlier_room: None,
        local_membership: None,
        timeline_gap: None,
        room_listed: true,
        planned_on: Default::default(),
    })
}

/// Plans a room chunk of outliers (events outside the room's DAG as this store knows it, e.g. an
/// invite received out of band): stored with stream orderings and membership rows, and nothing
/// else: no edges, no state, no extremities, no authorization (their auth events are unknown
/// here). Events already stored are left out. `new_room` is the room's version when the store
/// does not hold the room yet. With `out_of_band`, member events are marked as out-of-band
/// memberships.
pub fn plan_outliers(
    history: &mut RoomHistory,
    room_id: OwnedRoomId,
    chunk: Vec<Pdu>,
    new_room: Option<RoomVersion>,
    out_of_band: bool,
    orderings: &mut StreamOrderings,
) -> Result<RoomWritePlan, PlanError> {
    let mut events = Vec::new();
    for pdu in chunk {
        if pdu.room_id() != &*room_id {
            return Err(PlanError::WrongRoom(pdu.owned_event_id().clone()));
        }
        if history.contains(pdu.event_id()) || history.outcome(pdu.event_id()).is_some() {
            continue;
        }
        let stream_ordering = orderings.next(false);
        history.load_event(pdu.clone(), EventOutcome::Outlier);
        let outlier = StoredOutlier { stream_ordering, instance_name: None };
        history.load_outlier(pdu.owned_event_id().clone(), outlier);
        events.push(PlannedEvent {
            outcome: EventOutcome::Outlier,
            stream_ordering,
            instance_name: None,
            stream_id: stream_ordering,
            state_group: None,
            replaces_outlier: false,
            out_of_band_membership: out_of_band && pdu.event_type() == "m.room.member",
            missing_prevs: Vec::new(),
            pdu,
        });
    }
    let memberships = events.iter().filter_map(membership_row).collect();
    Ok(RoomWritePlan {
        events,
        memberships,
        outlier_room: new_room,
        ..RoomWritePlan::empty(room_id)
    })
}

fn state_delta(history: &RoomHistory, before: &StateIds, after: &StateIds) -> CurrentStateDelta {
    let pdu = |id: &OwnedEventId| history.event(id).map(|event| event.pdu().clone());
    current_state_delta(before, after, pdu)
}

/// How the current state changes from `before` to `after`; `event` finds a member event by id,
/// for its membership.
pub(crate) fn current_state_delta(
    before: &StateIds,
    after: &StateIds,
    event: impl Fn(&OwnedEventId) -> Option<Pdu>,
) -> CurrentStateDelta {
    let membership = |key: &StateKey, id: &OwnedEventId| {
        (key.0 == "m.room.member")
            .then(|| event(id).and_then(|pdu| member_content(&pdu)))
            .flatten()
            .map(|content| content.membership)
    };
    let mut delta = CurrentStateDelta::default();
    // Only the parts the two states do not share are walked.
    for change in before.diff(after) {
        match change {
            DiffItem::Remove(key, _) => delta.to_delete.push(key.clone()),
            DiffItem::Add(key, id) | DiffItem::Update { new: (key, id), .. } => {
                delta.to_insert.push((key.clone(), id.clone(), membership(key, id)));
            }
        }
    }
    delta
}

fn backward_delta(
    before: &OrdSet<OwnedEventId>,
    after: &OrdSet<OwnedEventId>,
) -> BackwardExtremitiesDelta {
    BackwardExtremitiesDelta {
        to_insert: after.iter().filter(|id| !before.contains(*id)).cloned().collect(),
        to_delete: before.iter().filter(|id| !after.contains(*id)).cloned().collect(),
    }
}

/// The fields of a member event's content that `room_memberships` keeps: `membership` must be a
/// string; `displayname` and `avatar_url` are kept when strings.
pub(crate) struct MemberContent {
    pub(crate) membership: String,
    displayname: Option<String>,
    avatar_url: Option<String>,
}

pub(crate) fn member_content(pdu: &Pdu) -> Option<MemberContent> {
    if pdu.event_type() != "m.room.member" {
        return None;
    }
    let content = pdu.content();
    let text = |key: &str| content.get(key).and_then(CanonicalJsonValue::as_str).map(str::to_owned);
    Some(MemberContent {
        membership: text("membership")?,
        displayname: text("displayname"),
        avatar_url: text("avatar_url"),
    })
}

pub(crate) fn membership_row(event: &PlannedEvent) -> Option<MembershipRow> {
    if event.outcome == EventOutcome::Rejected {
        return None;
    }
    let content = member_content(&event.pdu)?;
    Some(MembershipRow {
        event_id: event.pdu.owned_event_id().clone(),
        user_id: event.pdu.state_key()?.to_owned(),
        sender: event.pdu.sender().to_string(),
        membership: content.membership,
        display_name: content.displayname,
        avatar_url: content.avatar_url,
    })
}
