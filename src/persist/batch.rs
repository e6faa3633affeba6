//! Reading a batch of PDUs as JSON into typed PDUs, room by room.
//!
//! A PDU can only be read knowing its room version (it decides the event id format and the
//! redaction rules the id hashes over), and the version is in the room's create event: from the
//! store for a known room, or from a create event in the same batch for a new one. The whole
//! batch is read before anything is planned, so bad input changes nothing.

use serde_json::Value as JsonValue;

use super::chunk::{split_into_room_chunks, RoomChunk};
use crate::hashed::HashMap;
use crate::model::pdu::Pdu;
use crate::model::room_version::RoomVersion;
use crate::model::InputError;

/// Reads a batch into room chunks of PDUs, each ordered along its DAG.
///
/// `known_room` gives the version of a room the store holds. Fails, for the whole batch, on the
/// first PDU that is malformed, of an unknown room version, whose `event_id` disagrees with its
/// hash, or of a room whose create event is unknown.
pub fn parse_batch(
    events: Vec<JsonValue>,
    known_room: &dyn Fn(&str) -> Option<RoomVersion>,
) -> Result<Vec<RoomChunk<Pdu>>, InputError> {
    let new_rooms = rooms_created_in(&events)?;
    let mut pdus = Vec::with_capacity(events.len());
    for event in events {
        if !event.is_object() {
            return Err(InputError::InvalidPdu("a PDU must be an object".to_owned()));
        }
        let version = match event.get("room_id") {
            Some(JsonValue::String(room_id)) => known_room(room_id)
                .or_else(|| new_rooms.get(room_id).cloned())
                .ok_or_else(|| InputError::UnknownRoom(room_id.clone()))?,
            Some(_) => {
                return Err(InputError::InvalidRoomId("room_id must be a string".to_owned()))
            }
            // Only a create event of room version 12 and later has no room_id.
            None if is_create(&event) => RoomVersion::of_create_event(&event)?,
            None => return Err(InputError::InvalidRoomId("room_id is missing".to_owned())),
        };
        pdus.push(Pdu::from_json_value(event, &version)?);
    }
    Ok(split_into_room_chunks(pdus))
}

fn is_create(event: &JsonValue) -> bool {
    event.get("type").and_then(JsonValue::as_str) == Some("m.room.create")
        && event.get("state_key").and_then(JsonValue::as_str) == Some("")
}

/// The rooms whose create event is in the batch, with their versions.
fn rooms_created_in(events: &[JsonValue]) -> Result<HashMap<String, RoomVersion>, InputError> {
    let mut rooms = HashMap::default();
    for event in events.iter().filter(|event| is_create(event)) {
        let version = RoomVersion::of_create_event(event)?;
        let pdu = Pdu::from_json_value(event.clone(), &version)?;
        rooms.insert(pdu.room_id().to_string(), version);
    }
    Ok(rooms)
}

impl super::chunk::DagEvent for Pdu {
    fn room_id(&self) -> &str {
        Pdu::room_id(self).as_str()
    }

    fn event_id(&self) -> &str {
        Pdu::event_id(self).as_str()
    }

    fn prev_event_ids(&self) -> Vec<&str> {
        self.prev_events().iter().map(|id| id.as_str()).collect()
    }
}
