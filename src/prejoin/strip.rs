//! Stripped state for an invite or a knock, computed from the room's current state exactly as
//! Synapse 1.163 builds `invite_state` / `knock_state`.
//!
//! Synapse: `synapse/handlers/message.py` (`_get_stripped_room_state`, with
//! `membership_user_id=event.sender` for invites) and `synapse/events/utils.py`
//! (`strip_event`); `/sync` then appends the invite or knock event itself, stripped.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value as JsonValue;

use super::config::{PrejoinConfig, StateKeys};
use crate::model::{InputError, StateEvent};

/// Whether the stripped state is for an invite or a knock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify, serde::Serialize))]
#[serde(rename_all = "lowercase")]
pub enum MembershipKind {
    /// The target was invited; the inviter's member event is included.
    Invite,
    /// The target knocked; no other member's event is ever included.
    Knock,
}

impl MembershipKind {
    /// The `membership` value of the event that makes this kind.
    pub fn membership(self) -> &'static str {
        match self {
            Self::Invite => "invite",
            Self::Knock => "knock",
        }
    }
}

/// What to strip state for.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StripRequest {
    /// Invite or knock.
    pub kind: MembershipKind,
    /// The invite or knock `m.room.member` event itself.
    pub membership_event: JsonValue,
    /// Whose member event to include; invites only, defaulting to the invite's sender.
    pub membership_user_id: Option<String>,
    /// Which state types to include.
    pub config: PrejoinConfig,
    /// Return the create event whole instead of stripped (MSC4311, for federation).
    pub full_create_event: bool,
}

impl StripRequest {
    /// A request with the default config, for the given invite or knock event.
    pub fn new(kind: MembershipKind, membership_event: JsonValue) -> Self {
        Self {
            kind,
            membership_event,
            membership_user_id: None,
            config: PrejoinConfig::default(),
            full_create_event: false,
        }
    }
}

/// Synapse's `MAX_PDU_SIZE`: the largest event, in bytes of canonical JSON.
pub const MAX_PDU_SIZE: usize = 65_536;

/// Fields a client API adds to an event that are never part of the event itself; the full create
/// event leaves them out.
const CLIENT_ONLY_FIELDS: [&str; 2] = ["age", "user_id"];

/// Computes the stripped state an invite or knock carries.
///
/// Order: the configured types in config order (a bare type contributes every state_key, sorted),
/// then for invites the inviter's own `m.room.member` event, then the invite or knock event itself.
/// Each event keeps exactly `type`, `state_key`, `content` and `sender`, except the create event
/// when [`StripRequest::full_create_event`] is set.
///
/// Like Synapse (`maybe_upsert_event_field` in `synapse/events/utils.py`), the room state is left
/// out, leaving only the invite or knock event, when carrying it in the event's
/// `unsigned.invite_room_state` (or `knock_room_state`) would make the event larger than
/// [`MAX_PDU_SIZE`]. The size is that of the membership event as given: exact when it is the full
/// PDU, a few hundred bytes short (no `auth_events`, `hashes`, `signatures` …) for a client-format
/// event.
pub fn compute_stripped_state(
    state: JsonValue,
    request: StripRequest,
) -> Result<Vec<StateEvent>, InputError> {
    let JsonValue::Array(state) = state else {
        return Err(InputError::StateNotArray);
    };
    let membership_event = parse_membership_event(request.membership_event, request.kind)?;
    let membership_user = match (request.kind, request.membership_user_id) {
        (MembershipKind::Knock, Some(_)) => return Err(InputError::MembershipUserForKnock),
        (MembershipKind::Knock, None) => None,
        (MembershipKind::Invite, Some(user)) => Some(user),
        (MembershipKind::Invite, None) => Some(membership_event.sender.clone()),
    };
    let mut state = index_state(state, &membership_event)?;

    let mut stripped = Vec::new();
    for (event_type, state_keys) in request.config.event_types() {
        let keys: Vec<(String, String)> = match state_keys {
            StateKeys::All => state
                .range((event_type.clone(), String::new())..)
                .take_while(|((known, _), _)| *known == event_type)
                .map(|(key, _)| key.clone())
                .collect(),
            StateKeys::Some(state_keys) => {
                state_keys.into_iter().map(|state_key| (event_type.clone(), state_key)).collect()
            }
        };
        for key in keys {
            let Some(event) = state.remove(&key) else { continue };
            let full = request.full_create_event && event.event_type == "m.room.create";
            stripped.push(if full { without_client_fields(event) } else { event.stripped() });
        }
    }
    if let Some(user) = membership_user {
        if let Some(member) = state.remove(&("m.room.member".to_owned(), user)) {
            stripped.push(member.stripped());
        }
    }
    if pdu_size_with_room_state(&membership_event, request.kind, &stripped) > MAX_PDU_SIZE {
        stripped.clear();
    }
    stripped.push(membership_event.stripped());
    Ok(stripped)
}

/// The size in bytes of the membership event with `room_state` in its `unsigned`, as canonical
/// JSON (sorted keys, no spaces: what `serde_json` writes for a `Value`, whose maps are sorted).
fn pdu_size_with_room_state(
    membership_event: &StateEvent,
    kind: MembershipKind,
    room_state: &[StateEvent],
) -> usize {
    let key = match kind {
        MembershipKind::Invite => "invite_room_state",
        MembershipKind::Knock => "knock_room_state",
    };
    let room_state = room_state.iter().cloned().map(StateEvent::into_json).collect();
    let mut pdu = without_client_fields(membership_event.clone()).into_json();
    if !pdu.get("unsigned").is_some_and(JsonValue::is_object) {
        pdu["unsigned"] = JsonValue::Object(serde_json::Map::new());
    }
    pdu["unsigned"][key] = JsonValue::Array(room_state);
    serde_json::to_vec(&pdu).map_or(usize::MAX, |bytes| bytes.len())
}

fn parse_membership_event(
    value: JsonValue,
    kind: MembershipKind,
) -> Result<StateEvent, InputError> {
    let invalid = InputError::InvalidMembershipEvent { expected: kind.membership() };
    let event = StateEvent::from_json(value, usize::MAX).map_err(|_| invalid.clone())?;
    if event.membership() != Some(kind.membership()) {
        return Err(invalid);
    }
    Ok(event)
}

/// Validates every event, checks they all belong to one room (the membership event's too), and
/// indexes them by `(type, state_key)`, refusing duplicates.
fn index_state(
    state: Vec<JsonValue>,
    membership_event: &StateEvent,
) -> Result<BTreeMap<(String, String), StateEvent>, InputError> {
    let mut room: Option<String> = membership_event.room_id().map(str::to_owned);
    let mut indexed = BTreeMap::new();
    for (index, value) in state.into_iter().enumerate() {
        let event = StateEvent::from_json(value, index)?;
        match (&room, event.room_id()) {
            (Some(expected), Some(found)) if expected != found => {
                return Err(InputError::RoomMismatch {
                    expected: expected.clone(),
                    found: found.to_owned(),
                });
            }
            (None, Some(found)) => room = Some(found.to_owned()),
            _ => {}
        }
        let key = (event.event_type.clone(), event.state_key.clone());
        if indexed.contains_key(&key) {
            let (event_type, state_key) = key;
            return Err(InputError::DuplicateState { event_type, state_key });
        }
        indexed.insert(key, event);
    }
    Ok(indexed)
}

fn without_client_fields(mut event: StateEvent) -> StateEvent {
    for field in CLIENT_ONLY_FIELDS {
        event.other.remove(field);
    }
    event
}
