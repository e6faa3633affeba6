//! Previews for a whole room list at once, from a `/sync` response's `rooms` as a client has it.
//!
//! The text is read once, in place (sections, rooms, blocks and events alike): each room's
//! events are handed to the preview as the borrowed events that
//! [`compute_room_preview`](super::compute_room_preview) reads from a room's own text, so a room
//! previews here exactly as it does alone, without one boundary crossing (and one copy of its
//! events) per room.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::trust::{PreviewWarning, WarningCode};
use super::{preview_of_events, PreviewKind, PreviewRequest, RoomPreview};
use crate::model::{EventElement, InputError, InvalidEvent, StrippedEventRef};

type ParsedEvent<'a> = Result<StrippedEventRef<'a>, InvalidEvent>;

/// The sections previewed, in the order their previews are returned.
const SECTIONS: [(&str, PreviewKind); 3] =
    [("invite", PreviewKind::Invite), ("knock", PreviewKind::Knock), ("join", PreviewKind::Join)];

/// The previews of every invited, knocked and joined room of a `/sync` response's `rooms` (JSON
/// text), for `own_user_id`: the invites, then the knocks, then the joined rooms, each section
/// in the order of its rooms in the text (a JS object's key order). Left rooms and unknown
/// sections are not previewed.
///
/// Each preview is [`compute_room_preview`](super::compute_room_preview) of the room's state with
/// the section's kind: for an invite or a knock its `invite_state` / `knock_state` events; for a
/// joined room the state after its timeline ([`state_after_timeline`]). A room, block or events
/// list of the wrong shape fails only its own preview, which then shows what could be read and
/// carries a `MALFORMED_ROOM` warning.
///
/// Fails when the text is not JSON (`INVALID_JSON`), or when `rooms` or one of its previewed
/// sections is not an object, or `rooms` is a whole response (`INVALID_SYNC`).
pub fn preview_sync_rooms(rooms: &str, own_user_id: &str) -> Result<Vec<RoomPreview>, InputError> {
    let mut sections: [Vec<RoomPreview>; 3] = Default::default();
    preview_sync_rooms_each(rooms, own_user_id, &mut |kind, preview| {
        if let Some(section) = sections.get_mut(kind as usize) {
            section.push(preview);
        }
    })?;
    Ok(sections.concat())
}

/// [`preview_sync_rooms`], each preview handed to `each` with its section's kind as soon as it is
/// computed, so that a caller writing them out never holds them all. The text is read once, so
/// the sections come in the text's order: a caller returning them in [`preview_sync_rooms`]'
/// order keeps each section apart (a kind `as usize` is its section's place in that order).
pub fn preview_sync_rooms_each(
    rooms: &str,
    own_user_id: &str,
    each: &mut dyn FnMut(PreviewKind, RoomPreview),
) -> Result<(), InputError> {
    let mut read = RoomsRead { own_user_id, each, sections: [None; 3], whole: false };
    let mut deserializer = serde_json::Deserializer::from_str(rooms);
    match deserializer.deserialize_map(&mut read).and_then(|()| deserializer.end()) {
        Ok(()) => {}
        Err(error) if error.is_data() => {
            return Err(invalid_sync("rooms".to_owned(), "not an object of sections"))
        }
        Err(error) => return Err(InputError::InvalidJson(error.to_string())),
    }
    // The whole response has no section of its own names: without this check it would
    // preview as no rooms at all.
    if read.whole {
        return Err(invalid_sync("rooms".to_owned(), "a whole /sync response: pass its `rooms`"));
    }
    match SECTIONS.iter().zip(read.sections).find(|(_, read)| *read == Some(false)) {
        Some(((section, _), _)) => {
            Err(invalid_sync(["rooms.", section].concat(), "not an object of rooms by room id"))
        }
        None => Ok(()),
    }
}

fn invalid_sync(path: String, reason: &str) -> InputError {
    InputError::InvalidSync { path, reason: reason.to_owned() }
}

/// `rooms`, read in one pass: each previewed section's rooms previewed as they are read, every
/// other field skipped. The first field of each name is the one read, as everywhere a field is
/// read twice; a section of the wrong shape is noted, and reported once the text is read.
struct RoomsRead<'e, 'u> {
    own_user_id: &'u str,
    each: &'e mut dyn FnMut(PreviewKind, RoomPreview),
    /// Per section: not read yet, read (`true`), or of the wrong shape (`false`).
    sections: [Option<bool>; 3],
    /// A `next_batch` field: the whole response was passed.
    whole: bool,
}

impl<'de> Visitor<'de> for &mut RoomsRead<'_, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object of sections")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(field) = map.next_key::<String>()? {
            let section =
                SECTIONS.iter().zip(&mut self.sections).find(|((name, _), _)| *name == field);
            match section {
                Some(((_, kind), slot)) if slot.is_none() => {
                    let rooms = SectionRooms {
                        kind: *kind,
                        own_user_id: self.own_user_id,
                        each: &mut *self.each,
                    };
                    *slot = Some(map.next_value_seed(rooms)?);
                }
                _ => {
                    self.whole |= field == "next_batch";
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A section's rooms, each previewed as soon as it is read: the section's text is walked once,
/// each room's events borrowed from it, none of its parts read again as text of its own. Reads
/// as `false` when the section is not an object (nor `null`, no rooms).
struct SectionRooms<'e, 'u> {
    kind: PreviewKind,
    own_user_id: &'u str,
    each: &'e mut dyn FnMut(PreviewKind, RoomPreview),
}

impl<'de> DeserializeSeed<'de> for SectionRooms<'_, '_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SectionRooms<'_, '_> {
    type Value = bool;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an object of rooms")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while let Some(room_id) = map.next_key::<String>()? {
            let mut malformed = false;
            let room = Part { shape: Shape::Room(self.kind), malformed: &mut malformed };
            let state = map.next_value_seed(room)?;
            let warnings = match malformed {
                true => vec![PreviewWarning {
                    code: WarningCode::MalformedRoom,
                    event_type: None,
                    state_key: None,
                }],
                false => Vec::new(),
            };
            let request = PreviewRequest::new(room_id, self.own_user_id).with_kind(self.kind);
            (self.each)(self.kind, preview_of_events(state, &request, warnings));
        }
        Ok(true)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(true)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
}

/// A part of a `/sync` room: the room, one of its blocks, or a block's events list.
#[derive(Clone, Copy)]
enum Shape {
    Room(PreviewKind),
    Block,
    Events,
}

impl Shape {
    /// The fields of the part that are read, in the order of [`Part`]'s results.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Shape::Room(PreviewKind::Invite) => &["invite_state"],
            Shape::Room(PreviewKind::Knock) => &["knock_state"],
            Shape::Room(PreviewKind::Join) => &["state", "timeline"],
            Shape::Block => &["events"],
            Shape::Events => &[],
        }
    }

    fn inner(self) -> Shape {
        match self {
            Shape::Room(_) => Shape::Block,
            Shape::Block | Shape::Events => Shape::Events,
        }
    }
}

/// Reads one part of a room as the events it contributes to the room's state. `null` is no
/// events; a part of any other wrong shape is no events too, and marks the room malformed.
struct Part<'m> {
    shape: Shape,
    malformed: &'m mut bool,
}

impl<'de> DeserializeSeed<'de> for Part<'_> {
    type Value = Vec<ParsedEvent<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Part<'_> {
    fn wrong_shape<'de, E>(self) -> Result<Vec<ParsedEvent<'de>>, E> {
        *self.malformed = true;
        Ok(Vec::new())
    }
}

impl<'de> Visitor<'de> for Part<'_> {
    type Value = Vec<ParsedEvent<'de>>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a room, a block or events")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found: [Option<Vec<ParsedEvent<'de>>>; 2] = [None, None];
        // The first field of each name is read, as everywhere a field is read twice.
        while let Some(field) = map.next_key_seed(FieldOf(self.shape.fields()))? {
            match field.and_then(|index| found.get_mut(index)).filter(|slot| slot.is_none()) {
                Some(slot) => {
                    let inner = Part { shape: self.shape.inner(), malformed: &mut *self.malformed };
                    *slot = Some(map.next_value_seed(inner)?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let [first, second] = found;
        match self.shape {
            Shape::Events => self.wrong_shape(),
            Shape::Room(PreviewKind::Join) => {
                Ok(state_after_timeline(first.unwrap_or_default(), second.unwrap_or_default()))
            }
            Shape::Room(_) | Shape::Block => Ok(first.unwrap_or_default()),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let Shape::Events = self.shape else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return self.wrong_shape();
        };
        let mut events = Vec::new();
        while let Some(EventElement(event)) = seq.next_element()? {
            events.push(event);
        }
        Ok(events)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        self.wrong_shape()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        self.wrong_shape()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        self.wrong_shape()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        self.wrong_shape()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        self.wrong_shape()
    }
}

/// A field name read as its place among the names a [`Shape`] reads; `None` for any other.
struct FieldOf(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for FieldOf {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for FieldOf {
    type Value = Option<usize>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|field| *field == name))
    }
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
