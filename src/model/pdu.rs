//! A PDU: a room event in federation format, kept whole as canonical JSON, with its fields
//! validated once.
//!
//! Synapse: `synapse/events/__init__.py` (`FrozenEvent`, `FrozenEventV2`, `FrozenEventV3`,
//! `FrozenEventV4`), `synapse/federation/federation_base.py` (`event_from_pdu_json`) and
//! `synapse/events/utils.py` (`format_event_for_client_v2`); spec:
//! <https://spec.matrix.org/v1.16/server-server-api/#pdus>.

use std::sync::Arc;

use js_int::UInt;
use ruma_common::canonical_json::redact;
use ruma_common::{
    room_version_rules::EventsReferenceFormatVersion, CanonicalJsonObject, CanonicalJsonValue,
    EventId, MilliSecondsSinceUnixEpoch, OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId,
};
use serde_json::Value as JsonValue;

use super::{
    room_version::{EventFormatVersion, RoomVersion},
    InputError,
};
use crate::ordered::map_of;

/// How deep JSON may nest: serde_json's own parser limit, kept for values built in memory so that
/// converting them cannot exhaust the stack.
const MAX_NESTING: usize = 128;

/// Top-level keys of a PDU that Synapse's client format drops (`format_event_for_client_v2`).
const FEDERATION_ONLY_KEYS: [&str; 7] =
    ["auth_events", "prev_events", "hashes", "signatures", "depth", "origin", "prev_state"];

/// A validated PDU of a known room version.
///
/// The JSON is kept whole, every field included, because hashes and signatures cover fields this
/// type does not interpret. It is kept in federation form, exactly what is hashed: from event
/// format 2 on it has no `event_id` (the id is its reference hash), and a room version 12 create
/// event has no `room_id` (the room id derives from the event id). Both are added back by
/// [`to_json_with_ids`](Self::to_json_with_ids) and [`to_client_event`](Self::to_client_event).
///
/// Invariant: the typed fields are read from the JSON by [`Pdu::from_canonical`], the only
/// constructor, and the JSON is never changed afterwards.
///
/// Deviation from Synapse: floats are refused (`INVALID_PDU`) in every room version, because
/// canonical JSON has integers only; Synapse accepts them in room versions 1–5.
///
/// Cloning is cheap (the fields are shared): the persist pipeline hands the same PDU to planning,
/// authorization and the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu(Arc<Fields>);

#[derive(Debug, PartialEq, Eq)]
struct Fields {
    object: CanonicalJsonObject,
    room_version: RoomVersion,
    event_id: OwnedEventId,
    room_id: OwnedRoomId,
    event_type: String,
    state_key: Option<String>,
    sender: OwnedUserId,
    /// `None` for an event in client format, which carries no depth.
    depth: Option<UInt>,
    origin_server_ts: MilliSecondsSinceUnixEpoch,
    prev_events: Vec<OwnedEventId>,
    auth_events: Vec<OwnedEventId>,
    redacts: Option<OwnedEventId>,
    client_format: bool,
}

impl Pdu {
    /// Parses a PDU from JSON text. Text that is not JSON is `INVALID_JSON`.
    pub fn from_json_str(json: &str, room_version: &RoomVersion) -> Result<Self, InputError> {
        Self::from_canonical(object_from_str(json)?, room_version)
    }

    /// Validates a JSON value as a PDU. Integers beyond ±(2^53 − 1) are
    /// `INTEGER_OUT_OF_RANGE`, floats are `INVALID_PDU`.
    pub fn from_json_value(
        value: JsonValue,
        room_version: &RoomVersion,
    ) -> Result<Self, InputError> {
        Self::from_canonical(canonical_object(value)?, room_version)
    }

    /// Validates a canonical JSON object as a PDU of `room_version`.
    ///
    /// From event format 2 on, an `event_id` in the object is checked against the reference hash
    /// and removed (`EVENT_ID_MISMATCH` if it differs), and likewise a room version 12 create
    /// event's `room_id` (`INVALID_ROOM_ID`), so that client-format events parse too.
    pub fn from_canonical(
        object: CanonicalJsonObject,
        room_version: &RoomVersion,
    ) -> Result<Self, InputError> {
        Self::parse(object, room_version, None)
    }

    /// Parses the JSON text of a PDU a store persisted under `event_id`. From event format 2
    /// on, that id is taken as the event's rather than hashed again: the text is the store's
    /// own, and its id was computed (or checked) from it when it was persisted. Reading a room's
    /// state parses thousands of stored events, and hashing was a good part of that.
    pub fn from_stored_json(
        json: &str,
        room_version: &RoomVersion,
        event_id: &EventId,
    ) -> Result<Self, InputError> {
        Self::parse(object_from_str(json)?, room_version, Some(event_id))
    }

    /// Validates `object` as a PDU of `room_version`; `stored_id` is the id a store holds it
    /// under (see [`Pdu::from_stored_json`]).
    fn parse(
        mut object: CanonicalJsonObject,
        room_version: &RoomVersion,
        stored_id: Option<&EventId>,
    ) -> Result<Self, InputError> {
        let rules = room_version.rules();
        let format = room_version.event_format();

        let (event_type, state_key, sender, content) = event_fields(&object)?;
        for key in ["hashes", "signatures", "unsigned"] {
            if object.get(key).is_some_and(|value| !matches!(value, CanonicalJsonValue::Object(_)))
            {
                return Err(invalid(format!("{key} must be an object")));
            }
        }
        let depth = Some(uint_field(&object, "depth")?);
        let origin_server_ts = MilliSecondsSinceUnixEpoch(uint_field(&object, "origin_server_ts")?);
        let prev_events = event_references(&object, "prev_events", rules.events_reference_format)?;
        let auth_events = event_references(&object, "auth_events", rules.events_reference_format)?;

        let is_create = event_type == "m.room.create" && state_key.as_deref() == Some("");
        if is_create {
            check_declared_room_version(content, room_version)?;
        }
        let redacts = redacts_field(&object, content, room_version);

        let (event_id, room_id) = if format.event_id_is_hash() {
            let room_id_from_create = is_create && format == EventFormatVersion::V4;
            match stored_id {
                Some(event_id) => stored_ids(&mut object, format, event_id, room_id_from_create)?,
                None => hashed_ids(&mut object, room_version, room_id_from_create)?,
            }
        } else {
            (carried_event_id(&object)?, room_id_field(&object, format)?)
        };

        Ok(Self(Arc::new(Fields {
            object,
            room_version: room_version.clone(),
            event_id,
            room_id,
            event_type,
            state_key,
            sender,
            depth,
            origin_server_ts,
            prev_events,
            auth_events,
            redacts,
            client_format: false,
        })))
    }

    /// Validates an event in client format, as `/sync` delivers it, of the room `room_id`: an
    /// event without the federation fields (`depth`, `prev_events`, `auth_events`, `hashes`,
    /// `signatures`), which are left unknown, never invented. Its `event_id` is the one the
    /// server gave (no hash can check it: what it hashed is not here). `room_id` is written into
    /// the object when absent, as `/sync` leaves it out; a `room_id` naming another room is
    /// `ROOM_MISMATCH`.
    ///
    /// Such an event is never authorized, resolved or part of a DAG here: a room filled from
    /// `/sync` has a timeline, not a DAG ([`crate::sync`]).
    pub fn from_client_event(
        mut object: CanonicalJsonObject,
        room_id: &RoomId,
        room_version: &RoomVersion,
    ) -> Result<Self, InputError> {
        match object.get("room_id") {
            None => {
                object.insert("room_id".to_owned(), room_id.as_str().into());
            }
            Some(CanonicalJsonValue::String(found)) if found == room_id.as_str() => {}
            Some(found) => {
                return Err(InputError::RoomMismatch {
                    expected: room_id.to_string(),
                    found: claimed_text(found),
                })
            }
        }
        let event_id = string_field(&object, "event_id")?;
        let event_id = OwnedEventId::try_from(event_id)
            .map_err(|_| InputError::InvalidEventId(event_id.to_owned()))?;
        let (event_type, state_key, sender, content) = event_fields(&object)?;
        if object.get("unsigned").is_some_and(|value| value.as_object().is_none()) {
            return Err(invalid("unsigned must be an object"));
        }
        let origin_server_ts = MilliSecondsSinceUnixEpoch(uint_field(&object, "origin_server_ts")?);
        let redacts = redacts_field(&object, content, room_version);
        Ok(Self(Arc::new(Fields {
            object,
            room_version: room_version.clone(),
            event_id,
            room_id: room_id.to_owned(),
            event_type,
            state_key,
            sender,
            depth: None,
            origin_server_ts,
            prev_events: Vec::new(),
            auth_events: Vec::new(),
            redacts,
            client_format: true,
        })))
    }

    /// Parses the JSON text of an event in client format that a store persisted (see
    /// [`Pdu::from_client_event`]; the stored text holds its `room_id`).
    pub fn from_stored_client_json(
        json: &str,
        room_version: &RoomVersion,
        room_id: &RoomId,
    ) -> Result<Self, InputError> {
        Self::from_client_event(object_from_str(json)?, room_id, room_version)
    }

    /// Whether this is an event in client format, received from `/sync`, whose federation
    /// fields are unknown ([`Pdu::from_client_event`]).
    pub fn is_client_format(&self) -> bool {
        self.0.client_format
    }

    /// The event id: the PDU's `event_id` in room versions 1–2, `$` + its reference hash after.
    pub fn event_id(&self) -> &EventId {
        &self.0.event_id
    }

    /// [`event_id`](Self::event_id), owned, for maps keyed by owned ids.
    pub fn owned_event_id(&self) -> &OwnedEventId {
        &self.0.event_id
    }

    /// The room id: the `room_id` field, or for a room version 12 create event `!` + its event id
    /// without the `$`.
    pub fn room_id(&self) -> &RoomId {
        &self.0.room_id
    }

    /// The room version the PDU was parsed with.
    pub fn room_version(&self) -> &RoomVersion {
        &self.0.room_version
    }

    /// The event format, stored beside the event as Synapse's `event_json.format_version`.
    pub fn format_version(&self) -> EventFormatVersion {
        self.0.room_version.event_format()
    }

    /// `type`.
    pub fn event_type(&self) -> &str {
        &self.0.event_type
    }

    /// `state_key`; `None` for a message-like event.
    pub fn state_key(&self) -> Option<&str> {
        self.0.state_key.as_deref()
    }

    /// Whether this is a state event (it has a `state_key`).
    pub fn is_state(&self) -> bool {
        self.0.state_key.is_some()
    }

    /// `sender`.
    pub fn sender(&self) -> &UserId {
        &self.0.sender
    }

    /// `depth`; `None` for an event in client format.
    pub fn depth(&self) -> Option<UInt> {
        self.0.depth
    }

    /// `origin_server_ts`.
    pub fn origin_server_ts(&self) -> MilliSecondsSinceUnixEpoch {
        self.0.origin_server_ts
    }

    /// The ids of `prev_events`, in order (in room versions 1–2 the first item of each pair).
    pub fn prev_events(&self) -> &[OwnedEventId] {
        &self.0.prev_events
    }

    /// The ids of `auth_events`, in order (in room versions 1–2 the first item of each pair).
    pub fn auth_events(&self) -> &[OwnedEventId] {
        &self.0.auth_events
    }

    /// `content`.
    pub fn content(&self) -> &CanonicalJsonObject {
        match self.0.object.get("content") {
            Some(CanonicalJsonValue::Object(content)) => content,
            // Unreachable: `from_canonical` checked that content is an object.
            _ => &EMPTY_OBJECT,
        }
    }

    /// `unsigned`, which no hash covers (Synapse stores `age_ts`, `replaces_state`,
    /// `invite_room_state` … there).
    pub fn unsigned(&self) -> Option<&CanonicalJsonObject> {
        self.0.object.get("unsigned").and_then(CanonicalJsonValue::as_object)
    }

    /// The event a redaction redacts: `content.redacts` from room version 11 (MSC2174), the
    /// top-level `redacts` before. `None` when absent or not an event id, as Synapse's
    /// `EventBase.redacts` reads it for any event type.
    pub fn redacts(&self) -> Option<&EventId> {
        self.0.redacts.as_deref()
    }

    /// [`redacts`](Self::redacts), owned.
    pub fn owned_redacts(&self) -> Option<&OwnedEventId> {
        self.0.redacts.as_ref()
    }

    /// The PDU as hashed and as Synapse stores it in `event_json.json`.
    pub fn as_object(&self) -> &CanonicalJsonObject {
        &self.0.object
    }

    /// The event as a redaction leaves it (Synapse's `prune_event`, with
    /// `_maybe_redact_event_row`'s `unsigned`): pruned by its room version's redaction rules,
    /// keeping `age_ts` and `replaces_state` of `unsigned`, with `redacted_by` and
    /// `redacted_because` (the redaction event in client format) added. The event id is
    /// unchanged: it is the hash of this form.
    pub fn redacted_by(&self, redaction: &Pdu) -> Result<Pdu, InputError> {
        let rules = &self.0.room_version.rules().redaction;
        let mut object = redact(self.0.object.clone(), rules, None)
            .map_err(|error| invalid(format!("cannot be redacted: {error}")))?;
        let mut unsigned: CanonicalJsonObject = map_of(
            self.unsigned()
                .into_iter()
                .flatten()
                .filter(|(key, _)| matches!(key.as_str(), "age_ts" | "replaces_state"))
                .map(|(key, value)| (key.clone(), value.clone())),
        );
        unsigned.insert("redacted_by".to_owned(), redaction.event_id().as_str().into());
        unsigned.insert("redacted_because".to_owned(), redaction.to_client_event().into());
        object.insert("unsigned".to_owned(), unsigned.into());
        if self.0.client_format {
            return Pdu::from_client_event(object, &self.0.room_id, &self.0.room_version);
        }
        Pdu::from_canonical(object, &self.0.room_version)
    }

    /// The PDU as hashed, by value.
    pub fn into_object(self) -> CanonicalJsonObject {
        Arc::try_unwrap(self.0).map_or_else(|shared| shared.object.clone(), |fields| fields.object)
    }

    /// The whole PDU with `event_id`, and `room_id` for a room version 12 create event: the form
    /// other APIs than federation show.
    pub fn to_json_with_ids(&self) -> CanonicalJsonObject {
        let mut object = self.0.object.clone();
        object.insert("event_id".to_owned(), self.0.event_id.as_str().into());
        object.entry("room_id".to_owned()).or_insert_with(|| self.0.room_id.as_str().into());
        object
    }

    /// The event in client format, as Synapse's `format_event_for_client_v2`: the PDU with its
    /// ids and without `auth_events`, `prev_events`, `hashes`, `signatures`, `depth`, `origin`
    /// and `prev_state`. `unsigned` is kept as stored (turning `age_ts` into `age` needs the
    /// current time).
    pub fn to_client_event(&self) -> CanonicalJsonObject {
        let mut object = self.to_json_with_ids();
        for key in FEDERATION_ONLY_KEYS {
            object.remove(key);
        }
        object
    }
}

static EMPTY_OBJECT: CanonicalJsonObject = CanonicalJsonObject::new();

/// The fields every event has, in either format: `type`, `state_key` (a state event's),
/// `sender` (a user id) and `content` (an object).
fn event_fields(
    object: &CanonicalJsonObject,
) -> Result<(String, Option<String>, OwnedUserId, &CanonicalJsonObject), InputError> {
    let event_type = string_field(object, "type")?.to_owned();
    let state_key = match object.get("state_key") {
        None => None,
        Some(CanonicalJsonValue::String(state_key)) => Some(state_key.clone()),
        Some(_) => return Err(invalid("state_key must be a string")),
    };
    let sender = OwnedUserId::try_from(string_field(object, "sender")?)
        .map_err(|error| invalid(format!("sender is not a user id: {error}")))?;
    let content = match object.get("content") {
        Some(CanonicalJsonValue::Object(content)) => content,
        _ => return Err(invalid("content must be an object")),
    };
    Ok((event_type, state_key, sender, content))
}

/// The event a redaction names: `content.redacts` from room version 11 (MSC2174), the top-level
/// `redacts` before; `None` when absent or not an event id.
fn redacts_field(
    object: &CanonicalJsonObject,
    content: &CanonicalJsonObject,
    room_version: &RoomVersion,
) -> Option<OwnedEventId> {
    let redacts = if room_version.rules().redaction.content_field_redacts {
        content.get("redacts")
    } else {
        object.get("redacts")
    };
    redacts
        .and_then(CanonicalJsonValue::as_str)
        .and_then(|redacts| OwnedEventId::try_from(redacts).ok())
}

/// JSON text as a canonical JSON object. Text that is not JSON is `INVALID_JSON`.
fn object_from_str(json: &str) -> Result<CanonicalJsonObject, InputError> {
    let value: JsonValue =
        serde_json::from_str(json).map_err(|error| InputError::InvalidJson(error.to_string()))?;
    canonical_object(value)
}

/// A JSON value as a canonical JSON object: integers beyond ±(2^53 − 1) are
/// `INTEGER_OUT_OF_RANGE`, floats and anything but an object `INVALID_PDU`.
pub(crate) fn canonical_object(value: JsonValue) -> Result<CanonicalJsonObject, InputError> {
    let JsonValue::Object(object) = value else {
        return Err(invalid("a PDU must be an object"));
    };
    to_canonical_object(object, 0).map_err(ConvertError::into_input_error)
}

/// The create event's `content.room_version` (`"1"` when absent) must be the room version the
/// event is parsed with: it is the room's version.
fn check_declared_room_version(
    content: &CanonicalJsonObject,
    room_version: &RoomVersion,
) -> Result<(), InputError> {
    let declared = match content.get("room_version") {
        None => "1",
        Some(CanonicalJsonValue::String(declared)) => declared,
        Some(_) => return Err(invalid("content.room_version must be a string")),
    };
    if declared == room_version.as_str() {
        Ok(())
    } else {
        Err(invalid(format!(
            "the create event declares room version {declared:?}, not {:?}",
            room_version.as_str()
        )))
    }
}

/// The ids of a PDU of event format 2 or later: the event id is `$` + the reference hash; the room
/// id is `!` + that hash for a room version 12 create event, the `room_id` field otherwise.
///
/// An `event_id` (and such a create event's `room_id`) is not part of the PDU as hashed: it is
/// removed from `object` first, then must equal the computed id.
fn hashed_ids(
    object: &mut CanonicalJsonObject,
    room_version: &RoomVersion,
    room_id_from_create: bool,
) -> Result<(OwnedEventId, OwnedRoomId), InputError> {
    let claimed_event_id = object.remove("event_id");
    let claimed_room_id = if room_id_from_create { object.remove("room_id") } else { None };
    let hash = ruma_signatures::reference_hash(object, room_version.rules())
        .map_err(|error| invalid(format!("cannot hash: {error}")))?;
    let event_id = EventId::new_v2_or_v3(&hash)
        .map_err(|error| invalid(format!("reference hash is no event id: {error}")))?;
    if let Some(claimed) = claimed_event_id {
        if claimed.as_str() != Some(event_id.as_str()) {
            return Err(InputError::EventIdMismatch {
                claimed: claimed_text(&claimed),
                computed: event_id.to_string(),
            });
        }
    }
    if !room_id_from_create {
        return Ok((event_id, room_id_field(object, room_version.event_format())?));
    }
    let room_id = RoomId::new_v2(&hash)
        .map_err(|error| invalid(format!("reference hash is no room id: {error}")))?;
    if let Some(claimed) = claimed_room_id {
        if claimed.as_str() != Some(room_id.as_str()) {
            return Err(InputError::InvalidRoomId(format!(
                "the create event's room id is {room_id}, not {}",
                claimed_text(&claimed)
            )));
        }
    }
    Ok((event_id, room_id))
}

/// The ids of a stored PDU of event format 2 or later: the event id it is stored under, and for
/// a room version 12 create event the room id that id's hash makes. Ids in the object are not
/// part of the PDU (as in [`hashed_ids`]) and are removed.
fn stored_ids(
    object: &mut CanonicalJsonObject,
    format: EventFormatVersion,
    event_id: &EventId,
    room_id_from_create: bool,
) -> Result<(OwnedEventId, OwnedRoomId), InputError> {
    object.remove("event_id");
    if !room_id_from_create {
        return Ok((event_id.to_owned(), room_id_field(object, format)?));
    }
    object.remove("room_id");
    let hash = event_id.as_str().strip_prefix('$').unwrap_or(event_id.as_str());
    let room_id = RoomId::new_v2(hash)
        .map_err(|error| invalid(format!("{event_id} makes no room id: {error}")))?;
    Ok((event_id.to_owned(), room_id))
}

/// The `event_id` a PDU of room version 1 or 2 carries, `$opaque:server`.
fn carried_event_id(object: &CanonicalJsonObject) -> Result<OwnedEventId, InputError> {
    let Some(CanonicalJsonValue::String(event_id)) = object.get("event_id") else {
        return Err(invalid("event_id must be a string in room versions 1 and 2"));
    };
    OwnedEventId::try_from(event_id.as_str())
        .ok()
        .filter(|event_id| event_id.server_name().is_some())
        .ok_or_else(|| invalid(format!("event_id {event_id:?} is not $opaque:server")))
}

fn invalid(reason: impl Into<String>) -> InputError {
    InputError::InvalidPdu(reason.into())
}

/// A claimed id for an error message: the string itself, or the JSON of a non-string.
fn claimed_text(value: &CanonicalJsonValue) -> String {
    match value {
        CanonicalJsonValue::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn string_field<'a>(object: &'a CanonicalJsonObject, key: &str) -> Result<&'a str, InputError> {
    object
        .get(key)
        .and_then(CanonicalJsonValue::as_str)
        .ok_or_else(|| invalid(format!("{key} must be a string")))
}

/// A non-negative integer field (`depth`, `origin_server_ts`); Synapse refuses a negative depth
/// ("Depth too small").
fn uint_field(object: &CanonicalJsonObject, key: &str) -> Result<UInt, InputError> {
    object
        .get(key)
        .and_then(CanonicalJsonValue::as_integer)
        .and_then(|integer| u64::try_from(i64::from(integer)).ok())
        .and_then(UInt::new)
        .ok_or_else(|| invalid(format!("{key} must be a non-negative integer")))
}

/// The `room_id` field, in the room id format of the room version: `!opaque:server` up to room
/// version 11, `!` + 43 characters of URL-safe unpadded base64 in room version 12 (MSC4291).
fn room_id_field(
    object: &CanonicalJsonObject,
    format: EventFormatVersion,
) -> Result<OwnedRoomId, InputError> {
    let Some(room_id) = object.get("room_id") else {
        return Err(InputError::InvalidRoomId("room_id is missing".to_owned()));
    };
    let CanonicalJsonValue::String(room_id) = room_id else {
        return Err(InputError::InvalidRoomId("room_id must be a string".to_owned()));
    };
    let wrong_format = || {
        let expected = if format == EventFormatVersion::V4 {
            "! and a reference hash"
        } else {
            "!opaque:server"
        };
        InputError::InvalidRoomId(format!("{room_id:?} is not {expected}"))
    };
    let parsed = OwnedRoomId::try_from(room_id.as_str()).map_err(|_| wrong_format())?;
    let well_formed = if format == EventFormatVersion::V4 {
        is_reference_hash(parsed.strip_sigil())
    } else {
        parsed.server_name().is_some()
    };
    if well_formed {
        Ok(parsed)
    } else {
        Err(wrong_format())
    }
}

/// Whether `hash` is a SHA-256 hash in URL-safe unpadded base64: 43 characters of that alphabet.
fn is_reference_hash(hash: &str) -> bool {
    hash.len() == 43
        && hash.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// The event ids of `prev_events` or `auth_events`: strings from room version 3, pairs
/// `[event_id, {hashes}]` before.
fn event_references(
    object: &CanonicalJsonObject,
    key: &str,
    format: EventsReferenceFormatVersion,
) -> Result<Vec<OwnedEventId>, InputError> {
    let Some(CanonicalJsonValue::Array(items)) = object.get(key) else {
        return Err(invalid(format!("{key} must be an array")));
    };
    let pairs = format == EventsReferenceFormatVersion::V1;
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let id = if pairs {
                match item.as_array() {
                    Some([CanonicalJsonValue::String(id), CanonicalJsonValue::Object(_)]) => {
                        Some(id)
                    }
                    _ => None,
                }
            } else {
                match item {
                    CanonicalJsonValue::String(id) => Some(id),
                    _ => None,
                }
            };
            let expected = if pairs { "an [event_id, hashes] pair" } else { "an event id" };
            id.and_then(|id| OwnedEventId::try_from(id.as_str()).ok())
                .ok_or_else(|| invalid(format!("{key}[{index}] must be {expected}")))
        })
        .collect()
}

/// Why a JSON value is not canonical JSON, with the path to the value, innermost segment first.
enum ConvertError {
    IntegerOutOfRange(Vec<String>),
    Float(Vec<String>),
    TooDeep,
}

impl ConvertError {
    fn within(mut self, segment: String) -> Self {
        if let Self::IntegerOutOfRange(path) | Self::Float(path) = &mut self {
            path.push(segment);
        }
        self
    }

    fn into_input_error(self) -> InputError {
        let join = |path: Vec<String>| {
            path.into_iter().rev().fold(String::new(), |mut joined, segment| {
                if !joined.is_empty() && !segment.starts_with('[') {
                    joined.push('.');
                }
                joined.push_str(&segment);
                joined
            })
        };
        match self {
            Self::IntegerOutOfRange(path) => InputError::IntegerOutOfRange { path: join(path) },
            Self::Float(path) => {
                invalid(format!("{} is not an integer: canonical JSON has no floats", join(path)))
            }
            Self::TooDeep => invalid(format!("JSON nests deeper than {MAX_NESTING} levels")),
        }
    }
}

fn to_canonical_object(
    object: serde_json::Map<String, JsonValue>,
    nesting: usize,
) -> Result<CanonicalJsonObject, ConvertError> {
    if nesting >= MAX_NESTING {
        return Err(ConvertError::TooDeep);
    }
    let mut canonical = CanonicalJsonObject::new();
    for (key, value) in object {
        match to_canonical(value, nesting + 1) {
            Ok(value) => canonical.insert(key, value),
            Err(error) => return Err(error.within(key)),
        };
    }
    Ok(canonical)
}

fn to_canonical(value: JsonValue, nesting: usize) -> Result<CanonicalJsonValue, ConvertError> {
    Ok(match value {
        JsonValue::Null => CanonicalJsonValue::Null,
        JsonValue::Bool(value) => CanonicalJsonValue::Bool(value),
        JsonValue::String(value) => CanonicalJsonValue::String(value),
        JsonValue::Number(number) => {
            if number.is_i64() || number.is_u64() {
                // ruma's conversion checks the ±(2^53 − 1) range.
                CanonicalJsonValue::try_from(JsonValue::Number(number))
                    .map_err(|_| ConvertError::IntegerOutOfRange(Vec::new()))?
            } else {
                // An integer literal too large for 64 bits arrives as a float.
                let integral = number.as_f64().is_some_and(|float| float.fract() == 0.0);
                return Err(if integral {
                    ConvertError::IntegerOutOfRange(Vec::new())
                } else {
                    ConvertError::Float(Vec::new())
                });
            }
        }
        JsonValue::Array(items) => {
            if nesting >= MAX_NESTING {
                return Err(ConvertError::TooDeep);
            }
            let items = items
                .into_iter()
                .enumerate()
                .map(|(index, item)| {
                    to_canonical(item, nesting + 1)
                        .map_err(|error| error.within(format!("[{index}]")))
                })
                .collect::<Result<_, _>>()?;
            CanonicalJsonValue::Array(items)
        }
        JsonValue::Object(object) => {
            CanonicalJsonValue::Object(to_canonical_object(object, nesting)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::Pdu;
    use crate::model::room_version::RoomVersion;

    fn version(id: &str) -> RoomVersion {
        RoomVersion::parse(id).unwrap()
    }

    fn message(room_id: &str) -> serde_json::Value {
        json!({
            "type": "m.room.message", "sender": "@a:x", "room_id": room_id,
            "content": {"body": "hi"}, "depth": 3, "origin_server_ts": 10,
            "prev_events": ["$p"], "auth_events": ["$a"], "hashes": {"sha256": "h"},
            "signatures": {}, "unsigned": {"age_ts": 10}
        })
    }

    #[test]
    fn integers_out_of_range_name_their_path() {
        let cases = [
            (json!({"content": {"n": 9007199254740992_u64}}), "content.n"),
            (json!({"content": {"n": -9007199254740992_i64}}), "content.n"),
            (json!({"a": [1, {"b": u64::MAX}]}), "a[1].b"),
        ];
        for (value, path) in cases {
            let error = Pdu::from_json_value(value.clone(), &version("10")).unwrap_err();
            assert_eq!(error.code(), "INTEGER_OUT_OF_RANGE", "{value}");
            assert_eq!(error, crate::model::InputError::IntegerOutOfRange { path: path.into() });
        }
        let huge = r#"{"depth": 100000000000000000000000}"#;
        let error = Pdu::from_json_str(huge, &version("10")).unwrap_err();
        assert_eq!(error.code(), "INTEGER_OUT_OF_RANGE");
        let float = Pdu::from_json_str(r#"{"content": {"f": 1.5}}"#, &version("10")).unwrap_err();
        assert_eq!(float.code(), "INVALID_PDU");
        assert!(float.to_string().contains("content.f"), "{float}");
    }

    #[test]
    fn deep_nesting_is_refused_without_overflow() {
        let mut value = json!(1);
        for _ in 0..200 {
            value = json!([value]);
        }
        let error = Pdu::from_json_value(json!({ "content": value }), &version("10")).unwrap_err();
        assert_eq!(error.code(), "INVALID_PDU");
    }

    #[test]
    fn each_bad_field_has_its_code() {
        let base = message("!r:x");
        let with = |key: &str, value: serde_json::Value| {
            let mut event = base.clone();
            event[key] = value;
            event
        };
        let without = |key: &str| {
            let mut event = base.clone();
            event.as_object_mut().unwrap().remove(key);
            event
        };
        let cases = [
            (json!([]), "INVALID_PDU"),
            (without("type"), "INVALID_PDU"),
            (with("state_key", json!(1)), "INVALID_PDU"),
            (with("sender", json!("a")), "INVALID_PDU"),
            (without("content"), "INVALID_PDU"),
            (with("content", json!([])), "INVALID_PDU"),
            (with("hashes", json!("h")), "INVALID_PDU"),
            (with("unsigned", json!([])), "INVALID_PDU"),
            (with("depth", json!(-1)), "INVALID_PDU"),
            (without("origin_server_ts"), "INVALID_PDU"),
            (with("prev_events", json!("$p")), "INVALID_PDU"),
            (with("auth_events", json!([1])), "INVALID_PDU"),
            (with("prev_events", json!([["$p", {}]])), "INVALID_PDU"),
            (without("room_id"), "INVALID_ROOM_ID"),
            (with("room_id", json!(5)), "INVALID_ROOM_ID"),
            (with("room_id", json!("!nocolon")), "INVALID_ROOM_ID"),
            (with("room_id", json!("#alias:x")), "INVALID_ROOM_ID"),
            (with("event_id", json!("$not-the-hash")), "EVENT_ID_MISMATCH"),
            (with("event_id", json!(7)), "EVENT_ID_MISMATCH"),
        ];
        for (value, code) in cases {
            let error = Pdu::from_json_value(value.clone(), &version("10")).unwrap_err();
            assert_eq!(error.code(), code, "{value}");
        }
        assert!(Pdu::from_json_value(base, &version("10")).is_ok());
        let error = Pdu::from_json_str("{", &version("10")).unwrap_err();
        assert_eq!(error.code(), "INVALID_JSON");
    }

    #[test]
    fn room_versions_1_and_2_need_an_event_id_and_reference_pairs() {
        let mut event = message("!r:x");
        event["prev_events"] = json!([["$p:x", {"sha256": "h"}]]);
        event["auth_events"] = json!([]);
        let error = Pdu::from_json_value(event.clone(), &version("1")).unwrap_err();
        assert_eq!(error.code(), "INVALID_PDU");
        event["event_id"] = json!("$nocolon");
        let error = Pdu::from_json_value(event.clone(), &version("1")).unwrap_err();
        assert_eq!(error.code(), "INVALID_PDU");
        event["event_id"] = json!("$e:x");
        let pdu = Pdu::from_json_value(event.clone(), &version("2")).unwrap();
        assert_eq!(pdu.event_id().as_str(), "$e:x");
        assert_eq!(pdu.prev_events()[0].as_str(), "$p:x");
        assert_eq!(pdu.as_object().get("event_id").and_then(|id| id.as_str()), Some("$e:x"));
        event["prev_events"] = json!(["$p:x"]);
        let error = Pdu::from_json_value(event, &version("2")).unwrap_err();
        assert_eq!(error.code(), "INVALID_PDU");
    }

    #[test]
    fn room_version_12_room_ids_are_reference_hashes() {
        let hash = "yzTFAvl27oMw5GzEf6u8sWpiMMhU7tXTvQSv5pQnjKA";
        assert!(Pdu::from_json_value(message(&format!("!{hash}")), &version("12")).is_ok());
        for room_id in ["!r:x", "!short", &format!("!{hash}:x"), &format!("!{}+", &hash[1..])] {
            let error = Pdu::from_json_value(message(room_id), &version("12")).unwrap_err();
            assert_eq!(error.code(), "INVALID_ROOM_ID", "{room_id}");
        }
    }

    #[test]
    fn the_create_event_must_declare_the_room_version_it_is_parsed_with() {
        let create = json!({
            "type": "m.room.create", "state_key": "", "sender": "@a:x", "room_id": "!r:x",
            "content": {"room_version": "10"}, "depth": 1, "origin_server_ts": 1,
            "prev_events": [], "auth_events": []
        });
        assert!(Pdu::from_json_value(create.clone(), &version("10")).is_ok());
        let error = Pdu::from_json_value(create, &version("9")).unwrap_err();
        assert_eq!(error.code(), "INVALID_PDU");
    }

    #[test]
    fn redacts_moves_into_content_in_room_version_11() {
        let mut event = message("!r:x");
        event["type"] = json!("m.room.redaction");
        event["redacts"] = json!("$top");
        event["content"] = json!({"redacts": "$inner"});
        let redacts = |id: &str| {
            Pdu::from_json_value(event.clone(), &version(id))
                .unwrap()
                .redacts()
                .map(|id| id.as_str().to_owned())
        };
        assert_eq!(redacts("10").as_deref(), Some("$top"));
        assert_eq!(redacts("11").as_deref(), Some("$inner"));
    }

    #[test]
    fn a_stored_pdu_reads_back_equal_under_its_id() {
        let create = json!({
            "type": "m.room.create", "state_key": "", "sender": "@a:x",
            "content": {"room_version": "12"}, "depth": 1, "origin_server_ts": 1,
            "prev_events": [], "auth_events": []
        });
        for (event, room_version) in [(message("!r:x"), "10"), (create, "12")] {
            let received = Pdu::from_json_value(event, &version(room_version)).unwrap();
            // What a store keeps: the PDU without the ids computed from it.
            let text = serde_json::to_string(received.as_object()).unwrap();
            let stored =
                Pdu::from_stored_json(&text, &version(room_version), received.event_id()).unwrap();
            assert_eq!(stored, received, "room version {room_version}");
        }
    }

    #[test]
    fn a_stored_pdu_takes_the_id_it_is_stored_under() {
        let text = message("!r:x").to_string();
        let id = ruma_common::EventId::parse("$stored").unwrap();
        let stored = Pdu::from_stored_json(&text, &version("10"), &id).unwrap();
        assert_eq!(stored.event_id(), &*id);
        assert_ne!(Pdu::from_json_str(&text, &version("10")).unwrap().event_id(), &*id);
    }

    #[test]
    fn client_format_drops_federation_fields_and_adds_the_ids() {
        let pdu = Pdu::from_json_value(message("!r:x"), &version("10")).unwrap();
        let client = pdu.to_client_event();
        let keys: Vec<&str> = client.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["content", "event_id", "origin_server_ts", "room_id", "sender", "type", "unsigned"]
        );
        assert_eq!(
            client.get("event_id").and_then(|id| id.as_str()),
            Some(pdu.event_id().as_str())
        );
        assert!(!pdu.as_object().contains_key("event_id"));
        assert!(pdu.to_json_with_ids().contains_key("hashes"));
    }
}
