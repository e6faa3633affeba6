//! A state event as received from a client API, a sync response or a federation PDU, validated
//! just enough to be stripped or previewed.
//!
//! The checks are Synapse's `parse_stripped_state_event` (`synapse/events/utils.py`): `type`,
//! `state_key` and `sender` are strings and `content` is an object. Everything else of the event
//! is kept untouched in [`StateEvent::other`], so nothing is lost when a full event must be
//! returned (MSC4311's full create event).

use serde_json::{Map, Value as JsonValue};

use super::InputError;

/// The `(type, state_key)` pair that identifies a piece of room state.
pub type StateKey = (String, String);

/// A room state: `(type, state_key)` to the id of the event that holds it, ordered by key.
///
/// A persistent map: a clone shares its nodes, and a change copies only the path to the key. A
/// room's history keeps the state after every event, most of them equal or one key apart.
#[cfg(feature = "store")]
pub type StateIds = imbl::OrdMap<StateKey, ruma_common::OwnedEventId>;

/// A state event: the four fields that stripped state keeps, plus the rest of the event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StateEvent {
    /// `type`.
    pub event_type: String,
    /// `state_key`.
    pub state_key: String,
    /// `sender`.
    pub sender: String,
    /// `content`, as given: stripped state must carry it byte-for-byte (after JSON round trip).
    pub content: Map<String, JsonValue>,
    /// Every other field of the event as received (`event_id`, `room_id`, `origin_server_ts`,
    /// `unsigned`, …); empty in a stripped event.
    pub other: Map<String, JsonValue>,
}

impl StateEvent {
    /// Validates a JSON value as a state event. `index` is its position in the caller's list, for
    /// the error message.
    pub fn from_json(value: JsonValue, index: usize) -> Result<Self, InputError> {
        let JsonValue::Object(mut other) = value else {
            return Err(InputError::InvalidEvent { index, reason: "event must be an object" });
        };
        let event_type = take_string(&mut other, "type")
            .ok_or(InputError::InvalidEvent { index, reason: "type must be a string" })?;
        let sender = take_string(&mut other, "sender")
            .ok_or(InputError::InvalidEvent { index, reason: "sender must be a string" })?;
        let state_key =
            take_string(&mut other, "state_key").ok_or(InputError::InvalidStateKey { index })?;
        let content = match other.remove("content") {
            Some(JsonValue::Object(content)) => content,
            _ => return Err(InputError::InvalidContent { index }),
        };
        Ok(Self { event_type, state_key, sender, content, other })
    }

    /// The `(type, state_key)` of this event.
    pub fn key(&self) -> (&str, &str) {
        (&self.event_type, &self.state_key)
    }

    /// The room this event claims to belong to, if it says (stripped events usually don't).
    pub fn room_id(&self) -> Option<&str> {
        self.other.get("room_id").and_then(JsonValue::as_str)
    }

    /// `content.membership` of an `m.room.member` event; `None` for any other event.
    pub fn membership(&self) -> Option<&str> {
        if self.event_type != "m.room.member" {
            return None;
        }
        self.content.get("membership").and_then(JsonValue::as_str)
    }

    /// This event cut down to the four fields of stripped state.
    pub fn stripped(mut self) -> Self {
        self.other.clear();
        self
    }

    /// The event as a JSON object: the four fields plus whatever [`other`](Self::other) holds.
    pub fn into_json(self) -> JsonValue {
        let mut object = self.other;
        object.insert("type".to_owned(), JsonValue::String(self.event_type));
        object.insert("state_key".to_owned(), JsonValue::String(self.state_key));
        object.insert("content".to_owned(), JsonValue::Object(self.content));
        object.insert("sender".to_owned(), JsonValue::String(self.sender));
        JsonValue::Object(object)
    }
}

fn take_string(object: &mut Map<String, JsonValue>, key: &str) -> Option<String> {
    match object.remove(key) {
        Some(JsonValue::String(value)) => Some(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::StateEvent;
    use crate::model::InputError;

    #[test]
    fn keeps_the_four_fields_and_the_rest() {
        let event = StateEvent::from_json(
            json!({"type": "m.room.name", "state_key": "", "sender": "@a:x", "content": {"name": "N"},
                   "event_id": "$e", "room_id": "!r:x"}),
            0,
        )
        .unwrap();
        assert_eq!(event.key(), ("m.room.name", ""));
        assert_eq!(event.room_id(), Some("!r:x"));
        assert_eq!(
            event.clone().stripped().into_json(),
            json!({"type": "m.room.name", "state_key": "", "sender": "@a:x", "content": {"name": "N"}})
        );
        assert_eq!(event.other.get("event_id"), Some(&json!("$e")));
    }

    #[test]
    fn rejects_each_bad_field_with_its_code() {
        let cases = [
            (json!([]), "INVALID_EVENT"),
            (json!({"state_key": "", "sender": "@a:x", "content": {}}), "INVALID_EVENT"),
            (json!({"type": 1, "state_key": "", "sender": "@a:x", "content": {}}), "INVALID_EVENT"),
            (json!({"type": "t", "state_key": "", "content": {}}), "INVALID_EVENT"),
            (json!({"type": "t", "sender": "@a:x", "content": {}}), "INVALID_STATE_KEY"),
            (
                json!({"type": "t", "state_key": 3, "sender": "@a:x", "content": {}}),
                "INVALID_STATE_KEY",
            ),
            (json!({"type": "t", "state_key": "", "sender": "@a:x"}), "INVALID_CONTENT"),
            (
                json!({"type": "t", "state_key": "", "sender": "@a:x", "content": "x"}),
                "INVALID_CONTENT",
            ),
        ];
        for (value, code) in cases {
            let error: InputError = StateEvent::from_json(value.clone(), 0).unwrap_err();
            assert_eq!(error.code(), code, "{value}");
        }
    }
}
