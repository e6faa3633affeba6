//! Stripped state events read in place from the JSON text they arrived in: the borrowed twin of
//! [`StateEvent`](super::StateEvent), for reading many events fast without copying them.
//!
//! The validity rule is the same, Synapse's `parse_stripped_state_event`: `type`, `state_key`
//! and `sender` are strings and `content` is an object. The array is scanned once: each element's
//! fields of interest are kept as raw JSON text, and contents stay unparsed until a reader asks
//! for one with the type it expects.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// One valid event of stripped (or full) state, borrowing from its JSON text.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StrippedEventRef<'a> {
    /// `type`.
    pub event_type: Cow<'a, str>,
    /// `state_key`.
    pub state_key: Cow<'a, str>,
    /// `sender`.
    pub sender: Cow<'a, str>,
    /// `content`, as JSON text of an object.
    pub content: &'a RawValue,
    room_id: Option<&'a RawValue>,
    origin_server_ts: Option<&'a RawValue>,
}

/// An element of the array that is not a valid event, with its `type` and `state_key` when they
/// are strings, for reporting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvalidEvent {
    /// `type`, if a string.
    pub event_type: Option<String>,
    /// `state_key`, if a string.
    pub state_key: Option<String>,
}

/// Reads a JSON array of events in one pass: each element is an event or the reason it is not.
///
/// Fails only when the text is not JSON or not an array.
pub fn parse_events(
    text: &str,
) -> Result<Vec<Result<StrippedEventRef<'_>, InvalidEvent>>, serde_json::Error> {
    let elements: Vec<Element<'_>> = serde_json::from_str(text)?;
    Ok(elements.into_iter().map(Element::into_event).collect())
}

/// One element of an events array, read by a caller that walks the array itself (the events
/// of a `/sync` room, read as part of the whole response): the same reading as [`parse_events`]'s.
pub struct EventElement<'a>(pub Result<StrippedEventRef<'a>, InvalidEvent>);

impl<'de: 'a, 'a> Deserialize<'de> for EventElement<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Element::deserialize(deserializer).map(|element| EventElement(element.into_event()))
    }
}

impl<'a> StrippedEventRef<'a> {
    /// The room this event claims, if it claims one as a string.
    pub fn room_id(&self) -> Option<Cow<'a, str>> {
        self.room_id.and_then(as_string)
    }

    /// `origin_server_ts`, if it is a non-negative integer.
    pub fn origin_server_ts(&self) -> Option<u64> {
        self.origin_server_ts.and_then(|raw| serde_json::from_str(raw.get()).ok())
    }

    /// `content.membership` of an `m.room.member` event; `None` for any other event.
    pub fn membership(&self) -> Option<String> {
        #[derive(Deserialize)]
        struct Membership {
            membership: String,
        }
        if self.event_type != "m.room.member" {
            return None;
        }
        self.content_as::<Membership>().map(|content| content.membership)
    }

    /// The content read as `T`; `None` when it does not have `T`'s shape.
    pub fn content_as<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(self.content.get()).ok()
    }
}

/// A JSON string, borrowed unless it has escapes. (serde's `Cow<str>` always allocates.)
fn as_string(raw: &RawValue) -> Option<Cow<'_, str>> {
    match serde_json::from_str::<&str>(raw.get()) {
        Ok(text) => Some(Cow::Borrowed(text)),
        Err(_) => serde_json::from_str::<String>(raw.get()).ok().map(Cow::Owned),
    }
}

/// The fields of an event that stripped state reads; every other field is skipped unread.
enum Field {
    Type,
    StateKey,
    Sender,
    Content,
    RoomId,
    OriginServerTs,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_identifier(FieldVisitor)
    }
}

struct FieldVisitor;

impl Visitor<'_> for FieldVisitor {
    type Value = Field;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
        Ok(match name {
            "type" => Field::Type,
            "state_key" => Field::StateKey,
            "sender" => Field::Sender,
            "content" => Field::Content,
            "room_id" => Field::RoomId,
            "origin_server_ts" => Field::OriginServerTs,
            _ => Field::Other,
        })
    }
}

/// One array element: the raw fields of interest of an object, or nothing for any other value.
#[derive(Default)]
struct Element<'a> {
    is_object: bool,
    duplicate_field: bool,
    event_type: Option<&'a RawValue>,
    state_key: Option<&'a RawValue>,
    sender: Option<&'a RawValue>,
    content: Option<&'a RawValue>,
    room_id: Option<&'a RawValue>,
    origin_server_ts: Option<&'a RawValue>,
}

impl<'a> Element<'a> {
    fn into_event(self) -> Result<StrippedEventRef<'a>, InvalidEvent> {
        let event_type = self.event_type.and_then(as_string);
        let state_key = self.state_key.and_then(as_string);
        let sender = self.sender.and_then(as_string);
        let content = self.content.filter(|content| content.get().starts_with('{'));
        match (self.is_object && !self.duplicate_field, event_type, state_key, sender, content) {
            (true, Some(event_type), Some(state_key), Some(sender), Some(content)) => {
                Ok(StrippedEventRef {
                    event_type,
                    state_key,
                    sender,
                    content,
                    room_id: self.room_id,
                    origin_server_ts: self.origin_server_ts,
                })
            }
            (_, event_type, state_key, ..) => Err(InvalidEvent {
                event_type: event_type.map(Cow::into_owned),
                state_key: state_key.map(Cow::into_owned),
            }),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Element<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ElementVisitor)
    }
}

struct ElementVisitor;

impl<'de> Visitor<'de> for ElementVisitor {
    type Value = Element<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut element = Element { is_object: true, ..Element::default() };
        while let Some(field) = map.next_key::<Field>()? {
            let slot = match field {
                Field::Type => &mut element.event_type,
                Field::StateKey => &mut element.state_key,
                Field::Sender => &mut element.sender,
                Field::Content => &mut element.content,
                Field::RoomId => &mut element.room_id,
                Field::OriginServerTs => &mut element.origin_server_ts,
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            // A repeated field makes the event ambiguous: different readers would see different
            // values.
            element.duplicate_field |= slot.is_some();
            *slot = Some(map.next_value()?);
        }
        Ok(element)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Element::default())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Element::default())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Element::default())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Element::default())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Element::default())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Element::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Element::default())
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_events, InvalidEvent};

    #[test]
    fn reads_valid_events_and_reports_the_rest() {
        let text = r#"[
            {"type":"m.room.name","state_key":"","sender":"@a:x","content":{"name":"N"},
             "room_id":"!r:x","origin_server_ts":5,"unsigned":{"age":1}},
            [], 3, "x", null, true, 1.5,
            {"type":"t","sender":"@a:x","content":{}},
            {"type":"t","state_key":1,"sender":"@a:x","content":{}},
            {"type":"t","state_key":"","sender":"@a:x","content":[]},
            {"type":"t","state_key":"","content":{}},
            {"type":"t","type":"u","state_key":"","sender":"@a:x","content":{}},
            {"type":"t","state_key":"","sender":"@a:x","content":{},"room_id":7}
        ]"#;
        let events = parse_events(text).unwrap();
        assert_eq!(events.len(), 13);
        let event = events[0].as_ref().unwrap();
        assert_eq!((event.event_type.as_ref(), event.state_key.as_ref()), ("m.room.name", ""));
        assert_eq!(event.room_id().as_deref(), Some("!r:x"));
        assert_eq!(event.origin_server_ts(), Some(5));
        assert!(events[1..12].iter().all(Result::is_err));
        let hint = |t: Option<&str>, k: Option<&str>| InvalidEvent {
            event_type: t.map(str::to_owned),
            state_key: k.map(str::to_owned),
        };
        assert_eq!(events[1].as_ref().unwrap_err(), &hint(None, None));
        assert_eq!(events[7].as_ref().unwrap_err(), &hint(Some("t"), None));
        assert_eq!(events[9].as_ref().unwrap_err(), &hint(Some("t"), Some("")));
        // A room id that is not a string is no claim.
        assert_eq!(events[12].as_ref().unwrap().room_id(), None);
    }

    #[test]
    fn text_that_is_not_an_array_is_an_error() {
        for text in ["{}", "3", "", "[", "[1,]"] {
            assert!(parse_events(text).is_err(), "{text}");
        }
    }
}
