//! Previews for a whole room list at once, from a `/sync` response's `rooms` as a client has it.
//!
//! The text is read once, in place: each room's events are handed to the preview as the
//! borrowed events [`compute_room_preview`](super::compute_room_preview) reads from a room's
//! own text, so a room previews here exactly as it does alone, without one boundary crossing
//! (and one copy of its events) per room.

use std::collections::{btree_map::Entry, BTreeMap};

use serde::Deserialize;
use serde_json::value::RawValue;

use super::trust::{EventKey, PreviewWarning, WarningCode};
use super::{preview_of_events, PreviewKind, PreviewRequest, RoomPreview};
use crate::model::{parse_events, InputError, InvalidEvent, StrippedEventRef};

type ParsedEvent<'a> = Result<StrippedEventRef<'a>, InvalidEvent>;

/// The sections previewed, in the order their previews are returned.
const SECTIONS: [(&str, PreviewKind); 3] =
    [("invite", PreviewKind::Invite), ("knock", PreviewKind::Knock), ("join", PreviewKind::Join)];

/// The previews of every invited, knocked and joined room of a `/sync` response's `rooms` (JSON
/// text), for `own_user_id`: the invites, then the knocks, then the joined rooms, each section
/// sorted by room id. Left rooms and unknown sections are not previewed.
///
/// Each preview is [`compute_room_preview`](super::compute_room_preview) of the room's state with
/// the section's kind: for an invite or a knock its `invite_state` / `knock_state` events; for a
/// joined room the state after its timeline, that is its `state` events, then each timeline event
/// whose `state_key` is a string, an event replacing the earlier one of its `(type, state_key)`
/// in that one's place. A room, block or events list of the wrong shape fails only its own
/// preview, which then shows what could be read and carries a `MALFORMED_ROOM` warning.
///
/// Fails when the text is not JSON (`INVALID_JSON`), or when `rooms` or one of its previewed
/// sections is not an object, or `rooms` is a whole response (`INVALID_SYNC`).
pub fn preview_sync_rooms(rooms: &str, own_user_id: &str) -> Result<Vec<RoomPreview>, InputError> {
    let invalid =
        |path: String, reason: &str| InputError::InvalidSync { path, reason: reason.to_owned() };
    let sections: BTreeMap<String, &RawValue> = match serde_json::from_str(rooms) {
        Ok(sections) => sections,
        Err(error) if error.is_data() => {
            return Err(invalid("rooms".to_owned(), "not an object of sections"))
        }
        Err(error) => return Err(InputError::InvalidJson(error.to_string())),
    };
    // The whole response has no section of its own names: without this check it would
    // preview as no rooms at all.
    if sections.contains_key("next_batch") {
        return Err(invalid("rooms".to_owned(), "a whole /sync response: pass its `rooms`"));
    }
    let mut previews = Vec::new();
    for (section, kind) in SECTIONS {
        let Some(raw) = sections.get(section).filter(|raw| raw.get() != "null") else {
            continue;
        };
        let section_rooms: BTreeMap<String, &RawValue> = match raw.get().starts_with('{') {
            true => serde_json::from_str(raw.get()).ok(),
            false => None,
        }
        .ok_or_else(|| invalid(format!("rooms.{section}"), "not an object of rooms by room id"))?;
        previews.reserve(section_rooms.len());
        for (room_id, room) in section_rooms {
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
            previews.push(preview_of_events(state, &request, warnings));
        }
    }
    Ok(previews)
}

/// The blocks of a room that a preview reads; every other field is skipped unread.
#[derive(Deserialize)]
struct RoomBlocks<'a> {
    #[serde(borrow, default)]
    invite_state: Option<&'a RawValue>,
    #[serde(borrow, default)]
    knock_state: Option<&'a RawValue>,
    #[serde(borrow, default)]
    state: Option<&'a RawValue>,
    #[serde(borrow, default)]
    timeline: Option<&'a RawValue>,
}

/// A block's events list.
#[derive(Deserialize)]
struct Block<'a> {
    #[serde(borrow, default)]
    events: Option<&'a RawValue>,
}

/// The state a room previews from, per its section.
fn room_state<'a>(
    kind: PreviewKind,
    room: &'a RawValue,
    malformed: &mut bool,
) -> Vec<ParsedEvent<'a>> {
    let Some(blocks) = object::<RoomBlocks<'a>>(Some(room), malformed) else {
        return Vec::new();
    };
    match kind {
        PreviewKind::Invite => block_events(blocks.invite_state, malformed),
        PreviewKind::Knock => block_events(blocks.knock_state, malformed),
        PreviewKind::Join => state_after_timeline(
            block_events(blocks.state, malformed),
            block_events(blocks.timeline, malformed),
        ),
    }
}

/// `raw` read as the object `T`; `None` when absent or `null`, or (noted in `malformed`) when not
/// an object of `T`'s shape. (A derived struct would also accept an array.)
fn object<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>, malformed: &mut bool) -> Option<T> {
    let raw = raw.filter(|raw| raw.get() != "null")?;
    let value = match raw.get().starts_with('{') {
        true => serde_json::from_str(raw.get()).ok(),
        false => None,
    };
    *malformed |= value.is_none();
    value
}

/// The events of a block (`{"events": [...]}`); none when it has none.
fn block_events<'a>(block: Option<&'a RawValue>, malformed: &mut bool) -> Vec<ParsedEvent<'a>> {
    let Some(events) = object::<Block<'a>>(block, malformed).and_then(|block| block.events) else {
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
fn replaced_key<'a>(event: &ParsedEvent<'a>) -> Option<EventKey<'a>> {
    match event {
        Ok(event) => Some((event.event_type.clone(), event.state_key.clone())),
        Err(InvalidEvent { event_type: Some(event_type), state_key: Some(state_key) }) => {
            Some((event_type.clone().into(), state_key.clone().into()))
        }
        Err(_) => None,
    }
}

/// A joined room's state after its timeline: the `state` block, then the timeline's state
/// events (a string `state_key`) applied in order, each in the place of the one it replaces.
fn state_after_timeline<'a>(
    state: Vec<ParsedEvent<'a>>,
    timeline: Vec<ParsedEvent<'a>>,
) -> Vec<ParsedEvent<'a>> {
    let is_state = |event: &ParsedEvent<'_>| match event {
        Ok(_) => true,
        Err(invalid) => invalid.state_key.is_some(),
    };
    let mut merged: Vec<ParsedEvent<'a>> = Vec::with_capacity(state.len());
    let mut places: BTreeMap<EventKey<'a>, usize> = BTreeMap::new();
    for event in state.into_iter().chain(timeline.into_iter().filter(is_state)) {
        let Some(key) = replaced_key(&event) else {
            merged.push(event);
            continue;
        };
        match places.entry(key) {
            Entry::Vacant(slot) => {
                slot.insert(merged.len());
                merged.push(event);
            }
            Entry::Occupied(slot) => {
                if let Some(place) = merged.get_mut(*slot.get()) {
                    *place = event;
                }
            }
        }
    }
    merged
}
