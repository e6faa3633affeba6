//! Redactions as stored (Synapse's `redactions` table): which event each redaction names, and
//! whether applying it must wait for a check when the redacted event is read.
//!
//! Synapse (`event_auth.check_redaction`, `_store_redaction`): in room versions 1–2 the
//! authorization rules decide a redaction completely. From room version 3 a redaction passes the
//! rules whatever it names, and is applied on read only if its sender may redact others' events
//! (power level at least `redact`) or is on the same server as the redacted event's sender;
//! `recheck` records that the power check failed, so that the server check is made on read
//! (`EventsWorkerStore._maybe_redact_event_row`).

use ruma_common::{CanonicalJsonObject, CanonicalJsonValue, OwnedEventId, UserId};

use super::extremities::EventOutcome;
use super::state::RoomHistory;
use super::StateIds;
use crate::model::pdu::Pdu;

/// A row of `redactions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedactionRow {
    /// The redaction event.
    pub event_id: OwnedEventId,
    /// The event it names.
    pub redacts: OwnedEventId,
    /// Whether reading must check that the two senders share a server.
    pub recheck: bool,
}

/// The power level a redaction needs when `redact` is not set.
const DEFAULT_REDACT_LEVEL: i64 = 50;

/// The row a persisted event adds, if it is a redaction that was not rejected.
pub fn redaction_row(
    history: &RoomHistory,
    pdu: &Pdu,
    outcome: EventOutcome,
    state_before: &StateIds,
) -> Option<RedactionRow> {
    if pdu.event_type() != "m.room.redaction" || outcome == EventOutcome::Rejected {
        return None;
    }
    let redacts = pdu.owned_redacts()?.clone();
    let recheck = !may_redact_others(history, pdu.sender(), state_before);
    Some(RedactionRow { event_id: pdu.owned_event_id().clone(), redacts, recheck })
}

/// Whether a user's power level in `state` reaches the `redact` level.
fn may_redact_others(history: &RoomHistory, user: &UserId, state: &StateIds) -> bool {
    let event = |event_type: &str| {
        let id = state.get(&(event_type.to_owned(), String::new()))?;
        history.event(id).map(|event| event.pdu().clone())
    };
    let rules = &history.room_version().rules().authorization;
    let create = event("m.room.create");
    let is_creator = create.as_ref().is_some_and(|create| {
        if rules.use_room_create_sender {
            create.sender() == user
                || (rules.additional_room_creators
                    && array_contains(create.content().get("additional_creators"), user.as_str()))
        } else {
            create.content().get("creator").and_then(CanonicalJsonValue::as_str)
                == Some(user.as_str())
        }
    });
    if rules.explicitly_privilege_room_creators && is_creator {
        return true;
    }
    let Some(power_levels) = event("m.room.power_levels") else {
        // No power levels: the creator has 100, everyone else 0.
        return is_creator;
    };
    let content = power_levels.content();
    let level = integer(content.get("users").and_then(|users| object_get(users, user.as_str())))
        .or_else(|| integer(content.get("users_default")))
        .unwrap_or(0);
    level >= integer(content.get("redact")).unwrap_or(DEFAULT_REDACT_LEVEL)
}

fn object_get<'a>(value: &'a CanonicalJsonValue, key: &str) -> Option<&'a CanonicalJsonValue> {
    value.as_object().and_then(|object: &CanonicalJsonObject| object.get(key))
}

fn array_contains(value: Option<&CanonicalJsonValue>, item: &str) -> bool {
    value
        .and_then(CanonicalJsonValue::as_array)
        .is_some_and(|items| items.iter().any(|entry| entry.as_str() == Some(item)))
}

/// A power level: an integer, or (before room version 10) a string holding one.
fn integer(value: Option<&CanonicalJsonValue>) -> Option<i64> {
    match value? {
        CanonicalJsonValue::Integer(int) => Some(i64::from(*int)),
        CanonicalJsonValue::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}
