//! A replication row: one event of the events stream, as every tab's subscribers receive it.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::model::pdu::Pdu;
use crate::model::state_filter::MEMBER_EVENT_TYPE;

/// One event on the events stream (Synapse's `EventsStreamEventRow`, with the event itself
/// beside it, so that a tab applies it without reading the store).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationRow {
    /// Its position on the events stream: the id its chunk took for it. That is its stream
    /// ordering, except for an outlier that later arrived in the room's DAG, whose row comes
    /// again at the id it then took (its ordering stays the outlier's).
    pub stream_ordering: i64,
    /// The writer (tab) that stored it.
    pub instance_name: String,
    /// Its room.
    pub room_id: String,
    /// Its id.
    pub event_id: String,
    /// `type`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// `state_key`; `None` for a non-state event.
    pub state_key: Option<String>,
    /// `content.membership` of a member event with a string one; `None` otherwise.
    pub membership: Option<String>,
    /// The event as `getEvent` gives it: the PDU (or the client-format event from `/sync`)
    /// with its `event_id`. Kept as JSON text: a row is written once and handed on as JSON, so it
    /// is never worth a tree of values. `None` in a row read from a message's head, whose events
    /// travel beside it (see [`super::WireMessage`]) and stay with the transport that brought
    /// them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Box<RawValue>>,
}

impl ReplicationRow {
    /// The row of `pdu`, stored by `instance_name` at `stream_ordering`.
    pub fn new(pdu: &Pdu, stream_ordering: i64, instance_name: &str) -> Self {
        let membership = (pdu.event_type() == MEMBER_EVENT_TYPE)
            .then(|| pdu.content().get("membership").and_then(|value| value.as_str()))
            .flatten()
            .map(str::to_owned);
        Self {
            stream_ordering,
            instance_name: instance_name.to_owned(),
            room_id: pdu.room_id().to_string(),
            event_id: pdu.event_id().to_string(),
            event_type: pdu.event_type().to_owned(),
            state_key: pdu.state_key().map(str::to_owned),
            membership,
            event: Some(event_text(pdu)),
        }
    }
}

/// [`Pdu::to_json_with_ids`] as JSON text, written from the PDU's own object rather than a copy
/// of it with the ids inserted.
fn event_text(pdu: &Pdu) -> Box<RawValue> {
    // Canonical JSON (strings, integers, arrays, objects with string keys): writing it cannot
    // fail, and `null` would stand in if it did.
    serde_json::value::to_raw_value(&WithIds(pdu)).unwrap_or_default()
}

/// A PDU's object with `event_id` (replacing one it has) and `room_id` (when it has none), in
/// the key order of the object they would be inserted into.
struct WithIds<'a>(&'a Pdu);

impl Serialize for WithIds<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let object = self.0.as_object();
        let room_id = (!object.contains_key("room_id")).then(|| self.0.room_id().as_str());
        let mut ids = [("event_id", Some(self.0.event_id().as_str())), ("room_id", room_id)]
            .into_iter()
            .filter_map(|(key, id)| Some((key, id?)))
            .peekable();
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in object.iter().filter(|(key, _)| key.as_str() != "event_id") {
            while let Some((id_key, id)) = ids.next_if(|(id_key, _)| *id_key < key.as_str()) {
                map.serialize_entry(id_key, id)?;
            }
            map.serialize_entry(key, value)?;
        }
        for (id_key, id) in ids {
            map.serialize_entry(id_key, id)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use ruma_common::CanonicalJsonValue;
    use serde_json::{json, Value as JsonValue};

    use super::*;
    use crate::model::room_version::RoomVersion;

    fn text_equals_object_with_ids(pdu: JsonValue, version: &str) {
        let version = RoomVersion::parse(version).unwrap();
        let pdu = Pdu::from_json_value(pdu, &version).unwrap();
        let text = event_text(&pdu);
        let expected = serde_json::to_string(&CanonicalJsonValue::Object(pdu.to_json_with_ids()));
        assert_eq!(text.get(), expected.unwrap());
    }

    fn pdu(fields: JsonValue) -> JsonValue {
        let mut pdu = json!({
            "auth_events": [], "prev_events": [], "depth": 2, "content": {"body": "hi"},
            "hashes": {"sha256": "x"}, "origin_server_ts": 1, "sender": "@a:x",
            "signatures": {}, "type": "m.room.message", "unsigned": {"age_ts": 1},
        });
        pdu.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        pdu
    }

    #[test]
    fn the_event_text_is_the_object_with_its_ids_in_key_order() {
        // Format 3: no event_id in the PDU, one inserted between `depth` and `hashes`.
        text_equals_object_with_ids(pdu(json!({"room_id": "!r:x"})), "10");
        // Format 1: the PDU's own event_id.
        let v1 = pdu(
            json!({"room_id": "!r:x", "event_id": "$e:x", "prev_events": [], "auth_events": []}),
        );
        text_equals_object_with_ids(v1, "1");
        // Version 12 create: no room_id in the PDU, one inserted after `prev_events`.
        let content = json!({"room_version": "12"});
        let create = json!({"type": "m.room.create", "state_key": "", "content": content});
        text_equals_object_with_ids(pdu(create), "12");
    }
}
