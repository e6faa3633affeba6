//! A stripped state event read in place from the JSON text it arrived in: the borrowed twin of
//! [`StateEvent`](super::StateEvent), for reading many events fast without copying them.
//!
//! The validity rule is the same, Synapse's `parse_stripped_state_event`: `type`, `state_key`
//! and `sender` are strings and `content` is an object. Contents stay unparsed JSON text until a
//! reader asks for one with the type it expects.

use std::borrow::Cow;

use serde::{de::DeserializeOwned, Deserialize};
use serde_json::value::RawValue;

/// One event of stripped (or full) state, borrowing from its JSON text.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct StrippedEventRef<'a> {
    /// `type`.
    #[serde(rename = "type", borrow)]
    pub event_type: Cow<'a, str>,
    /// `state_key`.
    #[serde(borrow)]
    pub state_key: Cow<'a, str>,
    /// `sender`.
    #[serde(borrow)]
    pub sender: Cow<'a, str>,
    /// `content`, as JSON text (an object, checked by [`parse`](Self::parse)).
    #[serde(borrow)]
    pub content: &'a RawValue,
    /// `room_id`, when the event carries one, as JSON text of any type.
    #[serde(default, borrow)]
    room_id: Option<&'a RawValue>,
    /// `origin_server_ts`, as JSON text of any type.
    #[serde(default, borrow)]
    origin_server_ts: Option<&'a RawValue>,
}

/// The `type` and `state_key` of an event that failed to parse, when they are strings.
#[derive(Debug, Default, Deserialize)]
pub struct EventKeyHint {
    /// `type`, if a string.
    #[serde(rename = "type", default, deserialize_with = "string_or_none")]
    pub event_type: Option<String>,
    /// `state_key`, if a string.
    #[serde(default, deserialize_with = "string_or_none")]
    pub state_key: Option<String>,
}

fn string_or_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(serde_json::Value::deserialize(d)?.as_str().map(str::to_owned))
}

impl<'a> StrippedEventRef<'a> {
    /// Reads one event; `None` when it breaks the validity rule.
    pub fn parse(text: &'a RawValue) -> Option<Self> {
        let event: Self = serde_json::from_str(text.get()).ok()?;
        event.content.get().starts_with('{').then_some(event)
    }

    /// The `type` and `state_key` of an event that [`parse`](Self::parse) refused, for reporting.
    pub fn hint(text: &RawValue) -> EventKeyHint {
        serde_json::from_str(text.get()).unwrap_or_default()
    }

    /// The room this event claims, if it claims one as a string.
    pub fn room_id(&self) -> Option<Cow<'a, str>> {
        self.room_id.and_then(|raw| serde_json::from_str::<Cow<'a, str>>(raw.get()).ok())
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

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use super::StrippedEventRef;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn reads_valid_events_and_refuses_the_rest() {
        let good =
            raw(r#"{"type":"m.room.name","state_key":"","sender":"@a:x","content":{"name":"N"},
                          "room_id":"!r:x","origin_server_ts":5,"unsigned":{"age":1}}"#);
        let event = StrippedEventRef::parse(&good).unwrap();
        assert_eq!((event.event_type.as_ref(), event.state_key.as_ref()), ("m.room.name", ""));
        assert_eq!(event.room_id().as_deref(), Some("!r:x"));
        assert_eq!(event.origin_server_ts(), Some(5));
        for bad in [
            r#"[]"#,
            r#"{"type":"t","sender":"@a:x","content":{}}"#,
            r#"{"type":"t","state_key":1,"sender":"@a:x","content":{}}"#,
            r#"{"type":"t","state_key":"","sender":"@a:x","content":[]}"#,
            r#"{"type":"t","state_key":"","content":{}}"#,
            r#"{"type":"t","type":"u","state_key":"","sender":"@a:x","content":{}}"#,
        ] {
            assert!(StrippedEventRef::parse(&raw(bad)).is_none(), "{bad}");
        }
        let hint = StrippedEventRef::hint(&raw(r#"{"type":"t","state_key":3}"#));
        assert_eq!((hint.event_type.as_deref(), hint.state_key), (Some("t"), None));
    }

    #[test]
    fn a_room_id_that_is_not_a_string_is_no_claim() {
        let event = raw(r#"{"type":"t","state_key":"","sender":"@a:x","content":{},"room_id":7}"#);
        assert_eq!(StrippedEventRef::parse(&event).unwrap().room_id(), None);
    }
}
