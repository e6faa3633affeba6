//! A `/sync` response read into typed rooms, every part checked before anything is stored.
//!
//! Spec: <https://spec.matrix.org/v1.16/client-server-api/#get_matrixclientv3sync>. What a store
//! keeps of a response: `next_batch`, and per room of `rooms.join`, `rooms.leave` the `state`
//! and `timeline` blocks, of `rooms.invite` / `rooms.knock` the stripped state. Everything else
//! (account data, presence, to-device, device lists, ephemeral events, room summaries and
//! notification counts) is not stored and not checked; unknown fields are ignored.
//!
//! A part of the wrong shape is `INVALID_SYNC`, naming where it is
//! (`rooms.join["!r:x"].timeline.events[3]`). Stripped events are kept as received, whatever
//! their shape: the preview reads them as untrusted input, one by one.

use ruma_common::{CanonicalJsonObject, OwnedRoomId};
use serde_json::{Map, Value as JsonValue};

use crate::model::pdu::canonical_object;
use crate::model::InputError;

/// A `/sync` response as stored.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SyncResponse {
    /// `next_batch`: the token to sync from next.
    pub next_batch: String,
    /// Every room of `rooms`: joined rooms first, then invites, knocks and left rooms, each
    /// section in room id order.
    pub rooms: Vec<SyncRoom>,
}

/// One room of a response.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SyncRoom {
    /// The room.
    pub room_id: OwnedRoomId,
    /// The section it came in, with what the store keeps of it.
    pub section: RoomSection,
    /// Where it is in the response, for errors found later (`rooms.join["!r:x"]`).
    pub path: String,
}

/// The section of a response a room came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncSection {
    /// `rooms.join`.
    Join,
    /// `rooms.invite`.
    Invite,
    /// `rooms.knock`.
    Knock,
    /// `rooms.leave`.
    Leave,
}

impl SyncSection {
    /// The section's name in the response, which is also the own user's membership it implies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Join => "join",
            Self::Invite => "invite",
            Self::Knock => "knock",
            Self::Leave => "leave",
        }
    }
}

/// What a room's section holds.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RoomSection {
    /// `rooms.join`.
    Join(RoomEvents),
    /// `rooms.invite`: `invite_state.events`, as received.
    Invite(Vec<JsonValue>),
    /// `rooms.knock`: `knock_state.events`, as received.
    Knock(Vec<JsonValue>),
    /// `rooms.leave` (left, kicked, banned; a withdrawn or rejected invite or knock).
    Leave(RoomEvents),
}

/// The events of a joined or left room.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RoomEvents {
    /// `state.events`: the state before the first timeline event, where it differs from what
    /// the previous response left.
    pub state: Vec<CanonicalJsonObject>,
    /// `timeline.events`, oldest first.
    pub timeline: Vec<CanonicalJsonObject>,
    /// `timeline.limited`: events between the previous response and this timeline were left out.
    pub limited: bool,
    /// `timeline.prev_batch`: where to paginate back from the first timeline event.
    pub prev_batch: Option<String>,
}

impl SyncResponse {
    /// Reads a `/sync` response (the parsed JSON body).
    pub fn from_json(response: &JsonValue) -> Result<Self, InputError> {
        let response = object(response, "response")?;
        let next_batch = match response.get("next_batch") {
            Some(JsonValue::String(token)) => token.clone(),
            _ => return Err(invalid("next_batch", "must be a string")),
        };
        let mut rooms = Vec::new();
        if let Some(sections) = optional_object(response, "rooms", "rooms")? {
            for name in ["join", "invite", "knock", "leave"] {
                let path = format!("rooms.{name}");
                let Some(section) = optional_object(sections, name, &path)? else { continue };
                for (room_id, room) in section {
                    rooms.push(SyncRoom::from_json(name, room_id, room, &path)?);
                }
            }
        }
        Ok(Self { next_batch, rooms })
    }
}

impl SyncRoom {
    /// The section the room came in.
    pub fn section(&self) -> SyncSection {
        match self.section {
            RoomSection::Join(_) => SyncSection::Join,
            RoomSection::Invite(_) => SyncSection::Invite,
            RoomSection::Knock(_) => SyncSection::Knock,
            RoomSection::Leave(_) => SyncSection::Leave,
        }
    }

    fn from_json(
        section: &str,
        room_id: &str,
        room: &JsonValue,
        section_path: &str,
    ) -> Result<Self, InputError> {
        let path = format!("{section_path}[{}]", JsonValue::from(room_id));
        let room_id = OwnedRoomId::try_from(room_id)
            .map_err(|_| invalid(&path, "the key is not a room id"))?;
        let room = object(room, &path)?;
        let section = match section {
            "join" => RoomSection::Join(RoomEvents::from_json(room, &path)?),
            "leave" => RoomSection::Leave(RoomEvents::from_json(room, &path)?),
            "invite" => RoomSection::Invite(stripped_events(room, "invite_state", &path)?),
            _ => RoomSection::Knock(stripped_events(room, "knock_state", &path)?),
        };
        Ok(Self { room_id, section, path })
    }
}

impl RoomEvents {
    fn from_json(room: &Map<String, JsonValue>, path: &str) -> Result<Self, InputError> {
        let state_path = format!("{path}.state");
        let state = match optional_object(room, "state", &state_path)? {
            Some(state) => events(state, &state_path)?,
            None => Vec::new(),
        };
        let timeline_path = format!("{path}.timeline");
        let Some(timeline) = optional_object(room, "timeline", &timeline_path)? else {
            return Ok(Self { state, timeline: Vec::new(), limited: false, prev_batch: None });
        };
        let limited = match timeline.get("limited") {
            None | Some(JsonValue::Null) => false,
            Some(JsonValue::Bool(limited)) => *limited,
            Some(_) => {
                return Err(invalid(&format!("{timeline_path}.limited"), "must be a boolean"))
            }
        };
        let prev_batch = match timeline.get("prev_batch") {
            None | Some(JsonValue::Null) => None,
            Some(JsonValue::String(token)) => Some(token.clone()),
            Some(_) => {
                return Err(invalid(&format!("{timeline_path}.prev_batch"), "must be a string"))
            }
        };
        let timeline = events(timeline, &timeline_path)?;
        Ok(Self { state, timeline, limited, prev_batch })
    }
}

/// `events` of a `state` or `timeline` block, each an object of canonical JSON (the events are
/// checked as client-format events once the room's version is known).
fn events(
    block: &Map<String, JsonValue>,
    path: &str,
) -> Result<Vec<CanonicalJsonObject>, InputError> {
    let path = format!("{path}.events");
    let items = match block.get("events") {
        None | Some(JsonValue::Null) => return Ok(Vec::new()),
        Some(JsonValue::Array(items)) => items,
        Some(_) => return Err(invalid(&path, "must be an array")),
    };
    items
        .iter()
        .enumerate()
        .map(|(index, event)| {
            canonical_object(event.clone())
                .map_err(|error| invalid(&format!("{path}[{index}]"), &error.to_string()))
        })
        .collect()
}

/// `invite_state.events` / `knock_state.events`, as received.
fn stripped_events(
    room: &Map<String, JsonValue>,
    key: &str,
    path: &str,
) -> Result<Vec<JsonValue>, InputError> {
    let path = format!("{path}.{key}");
    let Some(block) = optional_object(room, key, &path)? else { return Ok(Vec::new()) };
    match block.get("events") {
        None | Some(JsonValue::Null) => Ok(Vec::new()),
        Some(JsonValue::Array(items)) => Ok(items.clone()),
        Some(_) => Err(invalid(&format!("{path}.events"), "must be an array")),
    }
}

fn object<'a>(value: &'a JsonValue, path: &str) -> Result<&'a Map<String, JsonValue>, InputError> {
    value.as_object().ok_or_else(|| invalid(path, "must be an object"))
}

/// `key` of `parent`: absent or `null` is `None`, anything but an object an error.
fn optional_object<'a>(
    parent: &'a Map<String, JsonValue>,
    key: &str,
    path: &str,
) -> Result<Option<&'a Map<String, JsonValue>>, InputError> {
    match parent.get(key) {
        None | Some(JsonValue::Null) => Ok(None),
        Some(value) => object(value, path).map(Some),
    }
}

/// `INVALID_SYNC` at `path`.
pub(crate) fn invalid(path: &str, reason: &str) -> InputError {
    InputError::InvalidSync { path: path.to_owned(), reason: reason.to_owned() }
}
