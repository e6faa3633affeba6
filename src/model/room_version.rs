//! Room versions 1–12 and the event format each one uses, as Synapse's `EventFormatVersions`.
//!
//! Synapse: `synapse/api/room_versions.py` (`EventFormatVersions`, `KNOWN_ROOM_VERSIONS`); spec:
//! <https://spec.matrix.org/v1.16/rooms/>. The rules of each version (event id and room id formats,
//! redaction, authorisation, state resolution) are ruma's [`RoomVersionRules`]; this module adds
//! only what ruma lacks: the event format number Synapse stores with every event
//! (`event_json.format_version`), by which a stored event is parsed again on load.

use std::{fmt, str::FromStr};

use ruma_common::{
    room_version_rules::{EventIdFormatVersion, RoomIdFormatVersion, RoomVersionRules},
    RoomVersionId,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as JsonValue;

use super::InputError;

/// The shape of an event in a room version, numbered as Synapse's `EventFormatVersions`.
///
/// Each format is fixed by two of ruma's rules: the event id format and the room id format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventFormatVersion {
    /// Room versions 1 and 2: the PDU carries its `event_id` (`$opaque:server`), and
    /// `prev_events`/`auth_events` are `[event_id, hashes]` pairs.
    V1 = 1,
    /// Room version 3: the event id is `$` + the reference hash in standard unpadded base64
    /// (MSC1659); the PDU carries no `event_id`.
    V2 = 2,
    /// Room versions 4–11: as [`V2`](Self::V2), in URL-safe unpadded base64 (MSC1884).
    V3 = 3,
    /// Room version 12: as [`V3`](Self::V3), and the `m.room.create` PDU has no `room_id`: the
    /// room id is `!` + the create event's id without its `$` (MSC4291).
    V4 = 4,
}

impl EventFormatVersion {
    /// The format of the room version with these rules; `None` for an id or room id format this
    /// crate does not know.
    pub fn of_rules(rules: &RoomVersionRules) -> Option<Self> {
        match (rules.event_id_format, rules.room_id_format) {
            (EventIdFormatVersion::V1, RoomIdFormatVersion::V1) => Some(Self::V1),
            (EventIdFormatVersion::V2, RoomIdFormatVersion::V1) => Some(Self::V2),
            (EventIdFormatVersion::V3, RoomIdFormatVersion::V1) => Some(Self::V3),
            (EventIdFormatVersion::V3, RoomIdFormatVersion::V2) => Some(Self::V4),
            _ => None,
        }
    }

    /// The number Synapse stores in `event_json.format_version`.
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// The format with this stored number, if it is one of 1–4.
    pub const fn from_number(number: u8) -> Option<Self> {
        match number {
            1 => Some(Self::V1),
            2 => Some(Self::V2),
            3 => Some(Self::V3),
            4 => Some(Self::V4),
            _ => None,
        }
    }

    /// Whether the event id is the reference hash of the event (every format but the first).
    pub const fn event_id_is_hash(self) -> bool {
        !matches!(self, Self::V1)
    }
}

impl fmt::Display for EventFormatVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

/// Stored as the bare number, as in Synapse's `event_json.format_version` column.
impl Serialize for EventFormatVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.number())
    }
}

impl<'de> Deserialize<'de> for EventFormatVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = u8::deserialize(deserializer)?;
        Self::from_number(number).ok_or_else(|| {
            serde::de::Error::custom(format_args!("unknown event format version {number}"))
        })
    }
}

/// A room version this crate can handle: ruma's id and rules, and the event format they imply.
///
/// Invariant: `rules` are `id.rules()` and `event_format` is
/// [`EventFormatVersion::of_rules`] of them; only [`RoomVersion::new`] builds one. Room versions
/// Synapse knows beyond 1–12 (unstable MSC versions such as `org.matrix.hydra.11`) are refused as
/// unknown.
#[derive(Debug, Clone)]
pub struct RoomVersion {
    id: RoomVersionId,
    rules: RoomVersionRules,
    event_format: EventFormatVersion,
}

impl RoomVersion {
    /// The room version with this id, or `UNKNOWN_ROOM_VERSION` if ruma has no rules for it.
    pub fn new(id: RoomVersionId) -> Result<Self, InputError> {
        let unknown = || InputError::UnknownRoomVersion(id.as_str().to_owned());
        let rules = id.rules().ok_or_else(unknown)?;
        let event_format = EventFormatVersion::of_rules(&rules).ok_or_else(unknown)?;
        Ok(Self { id, rules, event_format })
    }

    /// The room version named by a string such as `"10"`.
    pub fn parse(id: &str) -> Result<Self, InputError> {
        let id = RoomVersionId::try_from(id)
            .map_err(|_| InputError::UnknownRoomVersion(id.to_owned()))?;
        Self::new(id)
    }

    /// The room version a create event declares: `content.room_version`, which is `"1"` when
    /// absent (spec: `m.room.create`). `event` is the create event as JSON, in any format.
    ///
    /// A new room's version comes from its create event, so this is read before the event can be
    /// parsed as a [`Pdu`](super::pdu::Pdu).
    pub fn of_create_event(event: &JsonValue) -> Result<Self, InputError> {
        let invalid = |reason: &str| InputError::InvalidPdu(reason.to_owned());
        if event.get("type").and_then(JsonValue::as_str) != Some("m.room.create") {
            return Err(invalid("not an m.room.create event"));
        }
        let content = event
            .get("content")
            .and_then(JsonValue::as_object)
            .ok_or_else(|| invalid("content must be an object"))?;
        match content.get("room_version") {
            None => Self::new(RoomVersionId::V1),
            Some(JsonValue::String(id)) => Self::parse(id),
            Some(_) => Err(invalid("content.room_version must be a string")),
        }
    }

    /// ruma's id of this room version.
    pub fn id(&self) -> &RoomVersionId {
        &self.id
    }

    /// The id as a string, as in `rooms.room_version` (`"1"` … `"12"`).
    pub fn as_str(&self) -> &str {
        self.id.as_str()
    }

    /// ruma's rules of this room version: redaction, authorisation, state resolution, formats.
    pub fn rules(&self) -> &RoomVersionRules {
        &self.rules
    }

    /// The event format of this room version.
    pub fn event_format(&self) -> EventFormatVersion {
        self.event_format
    }
}

/// Two room versions are equal when their ids are: the rest follows from the id.
impl PartialEq for RoomVersion {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for RoomVersion {}

impl FromStr for RoomVersion {
    type Err = InputError;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        Self::parse(id)
    }
}

impl fmt::Display for RoomVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{EventFormatVersion, RoomVersion};

    /// Synapse's `KNOWN_ROOM_VERSIONS`: 1–2 → 1, 3 → 2, 4–11 → 3, 12 → 4.
    #[test]
    fn every_room_version_has_synapses_event_format() {
        let table = [
            ("1", 1),
            ("2", 1),
            ("3", 2),
            ("4", 3),
            ("5", 3),
            ("6", 3),
            ("7", 3),
            ("8", 3),
            ("9", 3),
            ("10", 3),
            ("11", 3),
            ("12", 4),
        ];
        for (id, format) in table {
            let version = RoomVersion::parse(id).unwrap();
            assert_eq!(version.event_format().number(), format, "room version {id}");
            assert_eq!(version.as_str(), id);
            assert_eq!(EventFormatVersion::from_number(format), Some(version.event_format()));
        }
    }

    #[test]
    fn unknown_room_versions_are_refused() {
        for id in ["13", "0", "", "org.matrix.hydra.11", "org.matrix.msc2870", &"9".repeat(40)] {
            let error = RoomVersion::parse(id).unwrap_err();
            assert_eq!(error.code(), "UNKNOWN_ROOM_VERSION", "{id:?}");
        }
    }

    #[test]
    fn format_versions_are_stored_as_numbers() {
        assert_eq!(serde_json::to_value(EventFormatVersion::V4).unwrap(), json!(4));
        let parsed: EventFormatVersion = serde_json::from_value(json!(2)).unwrap();
        assert_eq!(parsed, EventFormatVersion::V2);
        assert!(serde_json::from_value::<EventFormatVersion>(json!(5)).is_err());
        assert_eq!(EventFormatVersion::from_number(0), None);
    }

    #[test]
    fn the_create_event_names_the_room_version() {
        let create = |content| json!({"type": "m.room.create", "content": content});
        let version = |event| RoomVersion::of_create_event(&event).map(|v| v.as_str().to_owned());
        assert_eq!(version(create(json!({"room_version": "12"}))).unwrap(), "12");
        assert_eq!(version(create(json!({"creator": "@a:x"}))).unwrap(), "1");
        let code = |event| version(event).unwrap_err().code();
        assert_eq!(code(create(json!({"room_version": "99"}))), "UNKNOWN_ROOM_VERSION");
        assert_eq!(code(create(json!({"room_version": 10}))), "INVALID_PDU");
        assert_eq!(code(json!({"type": "m.room.name", "content": {}})), "INVALID_PDU");
        assert_eq!(code(json!({"type": "m.room.create"})), "INVALID_PDU");
    }
}
