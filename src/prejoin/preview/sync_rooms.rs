//! Previews for a whole room list at once, from a `/sync` response's `rooms` as a client has it.
//!
//! The text is read once, in place: each room's events are handed to the preview as the
//! borrowed events [`compute_room_preview`](super::compute_room_preview) reads from a room's
//! own text, so a room previews here exactly as it does alone, without one boundary crossing
//! (and one copy of its events) per room.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use serde_json::value::RawValue;

use super::trust::{PreviewWarning, WarningCode};
use super::{preview_of_events, PreviewKind, PreviewRequest, RoomPreview};
use crate::model::{parse_events, InputError, InvalidEvent, StrippedEventRef};

type ParsedEvent<'a> = Result<StrippedEventRef<'a>, InvalidEvent>;

/// The sections previewed, in the order their previews are returned.
const SECTIONS: [(&str, PreviewKind); 3] =
    [("invite", PreviewKind::Invite), ("knock", PreviewKind::Knock), ("join", PreviewKind::Join)];

/// The previews of every invited, knocked and joined room of a `/sync` response's `rooms` (JSON
/// text), for `own_user_id`: the invites, then the knocks, then the joined rooms, each section
/// in the order of its rooms in the text (a JS object's key order). Left rooms and unknown sections are not previewed.
///
/// Each preview is [`compute_room_preview`](super::compute_room_preview) of the room's state with
/// the section's kind: for an invite or a knock its `invite_state` / `knock_state` events; for a
/// joined room the state after its timeline ([`state_after_timeline`]). A room, block or events list of the wrong shape fails only its own
/// preview, which then shows what could be read and carries a `MALFORMED_ROOM` warning.
///
/// Fails when the text is not JSON (`INVALID_JSON`), or when `rooms` or one of its previewed
/// sections is not an object, or `rooms` is a whole response (`INVALID_SYNC`).
pub fn preview_sync_rooms(rooms: &str, own_user_id: &str) -> Result<Vec<RoomPreview>, InputError> {
    let mut previews = Vec::new();
    preview_sync_rooms_each(rooms, own_user_id, &mut |preview| previews.push(preview))?;
    Ok(previews)
}

/// [`preview_sync_rooms`], each preview handed to `each` as soon as it is computed, so that a
/// caller writing them out never holds them all.
pub fn preview_sync_rooms_each(
    rooms: &str,
    own_user_id: &str,
    each: &mut dyn FnMut(RoomPreview),
) -> Result<(), InputError> {
    let invalid =
        |path: String, reason: &str| InputError::InvalidSync { path, reason: reason.to_owned() };
    let sections: Fields<'_> = match serde_json::from_str(rooms) {
        Ok(sections) => sections,
        Err(error) if error.is_data() => {
            return Err(invalid("rooms".to_owned(), "not an object of sections"))
        }
        Err(error) => return Err(InputError::InvalidJson(error.to_string())),
    };
    // The whole response has no section of its own names: without this check it would
    // preview as no rooms at all.
    if sections.get("next_batch").is_some() {
        return Err(invalid("rooms".to_owned(), "a whole /sync response: pass its `rooms`"));
    }
    for (section, kind) in SECTIONS {
        let Some(raw) = sections.get(section).filter(|raw| raw.get() != "null") else {
            continue;
        };
        let section_rooms = fields(raw).ok_or_else(|| {
            invalid(["rooms.", section].concat(), "not an object of rooms by room id")
        })?;
        for (room_id, room) in section_rooms.0 {
            let mut malformed = false;
            let state = room_state(kind, room, &mut malformed);
            let warnings = match malformed {
                true => vec![PreviewWarning {
                    code: WarningCode::MalformedRoom,
                    event_type: None,
                    state_key: None,
                }],
                false => Vec::new(),
            };
            let request = PreviewRequest::new(room_id, own_user_id).with_kind(kind);
            each(preview_of_events(state, &request, warnings));
        }
    }
    Ok(())
}

/// A JSON object's fields in the order of the text, their values left unread. Every object here
/// (`rooms`, a section, a room, a block) is read as this one type, a list rather than a map:
/// each further deserialiser, and a map's, costs the preview module bytes it does not have.
struct Fields<'a>(Vec<(String, &'a RawValue)>);

impl<'a> Fields<'a> {
    /// The value of the first field called `name`.
    fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(field, _)| field == name).map(|(_, value)| *value)
    }
}

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::new();
        while let Some(field) = map.next_entry()? {
            fields.push(field);
        }
        Ok(Fields(fields))
    }
}

/// The state a room previews from, per its section.
fn room_state<'a>(
    kind: PreviewKind,
    room: &'a RawValue,
    malformed: &mut bool,
) -> Vec<ParsedEvent<'a>> {
    let Some(blocks) = object(Some(room), malformed) else {
        return Vec::new();
    };
    let mut events = |block: &str| block_events(blocks.get(block), malformed);
    match kind {
        PreviewKind::Invite => events("invite_state"),
        PreviewKind::Knock => events("knock_state"),
        PreviewKind::Join => {
            let state = events("state");
            state_after_timeline(state, events("timeline"))
        }
    }
}

/// `raw` read as an object; `None` when absent or `null`, or (noted in `malformed`) when not an
/// object.
fn object<'a>(raw: Option<&'a RawValue>, malformed: &mut bool) -> Option<Fields<'a>> {
    let raw = raw.filter(|raw| raw.get() != "null")?;
    let fields = fields(raw);
    *malformed |= fields.is_none();
    fields
}

/// `raw`'s fields when it is an object (any other value is refused before serde formats an error).
fn fields(raw: &RawValue) -> Option<Fields<'_>> {
    match raw.get().starts_with('{') {
        true => serde_json::from_str(raw.get()).ok(),
        false => None,
    }
}

/// The events of a block (`{"events": [...]}`); none when it has none.
fn block_events<'a>(block: Option<&'a RawValue>, malformed: &mut bool) -> Vec<ParsedEvent<'a>> {
    let Some(events) = object(block, malformed).and_then(|block| block.get("events")) else {
        return Vec::new();
    };
    if events.get() == "null" {
        return Vec::new();
    }
    parse_events(events.get()).unwrap_or_else(|_| {
        *malformed = true;
        Vec::new()
    })
}

/// The `(type, state_key)` an event replaces, when both are strings (valid or not otherwise).
fn key_of<'e>(event: &'e ParsedEvent<'_>) -> Option<(&'e str, &'e str)> {
    match event {
        Ok(event) => Some((&event.event_type, &event.state_key)),
        Err(InvalidEvent { event_type: Some(event_type), state_key: Some(state_key) }) => {
            Some((event_type, state_key))
        }
        Err(_) => None,
    }
}

/// A joined room's state after its timeline: the `state` block as it is, then each timeline
/// state event (a string `state_key`) in order, in the place of the last earlier event of its
/// `(type, state_key)`, else after them.
///
/// The search is linear, per timeline state event: a timeline holds few state events (the
/// server's timeline limit bounds them), and a map would cost the preview module about 1 KB.
fn state_after_timeline<'a>(
    state: Vec<ParsedEvent<'a>>,
    timeline: Vec<ParsedEvent<'a>>,
) -> Vec<ParsedEvent<'a>> {
    let mut merged = state;
    for event in timeline {
        let Some(key) = key_of(&event) else { continue };
        match merged.iter().rposition(|earlier| key_of(earlier) == Some(key)) {
            Some(place) => {
                if let Some(earlier) = merged.get_mut(place) {
                    *earlier = event;
                }
            }
            None => merged.push(event),
        }
    }
    merged
}
