//! What one tab tells the others on the replication channel.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::row::ReplicationRow;

/// The message format's version: a tab receiving another (a tab running other code) reads it as
/// a sign that it missed something, and catches up from the store. Version 2 nests the body
/// under `body`, where version 1 flattened it into the message, and adds `live` and `left`;
/// version 3 carries a chunk's events beside the message (a [`WireMessage`]), not in its rows.
pub const MESSAGE_VERSION: u32 = 3;

/// One message on the replication channel, from the tab `instance_name`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamMessage {
    /// [`MESSAGE_VERSION`].
    pub version: u32,
    /// The writer that sent it.
    pub instance_name: String,
    /// What happened. Nested, not flattened into the message: serde reads a flattened body
    /// through a buffer of values first.
    pub body: MessageBody,
}

/// What a message says happened: `"joined"`, `"live"` and `"left"` as strings, the others as
/// an object of one key (`{"chunk": …}`). Tagged so (serde's default), the body is read as it
/// comes. A tag beside the content (`kind`, `data`) may come after it, and serde's reader of that
/// form buffers the content first: 9.1 KB of the gzipped module (`npm run size`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MessageBody {
    /// The writer opened the store, or answers another that did (once per writer it hears of),
    /// so that each knows the other.
    Joined,
    /// Like [`MessageBody::Joined`], from a writer whose liveness lock is held: it commits only
    /// from now on, and the other tabs watch the lock to learn when it leaves (closed or
    /// crashed). Posted before its first commit.
    Live,
    /// The writer closed the store.
    Left,
    /// The writer committed a room chunk.
    Chunk(CommittedChunk),
    /// The writer stored a whole `/sync` response: its `next_batch` is the store's sync token.
    SyncToken {
        /// Whose sync it is.
        user_id: String,
        /// The response's `next_batch`.
        next_batch: String,
    },
}

/// A committed room chunk: the ids it took, its events, and every cache it made stale, in one
/// message (one poke per chunk, however many caches it touches).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommittedChunk {
    /// The first and last id the chunk took on the events stream (dense); `None` when it took
    /// none (a backfilled chunk, or one that only recorded a gap or a membership).
    pub stream_ids: Option<(i64, i64)>,
    /// One row per id taken, in increasing order.
    pub rows: Vec<ReplicationRow>,
    /// What a tab holding a cache of it must drop before it hands the rows to anyone.
    pub invalidate: Invalidations,
}

/// The caches one chunk made stale.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invalidations {
    /// Rooms whose state, forward extremities, memberships or stored events changed: a tab's
    /// planning state of each (restored from the store on its next use).
    pub rooms: BTreeSet<String>,
}

impl Invalidations {
    /// How many cache keys these name.
    pub fn len(&self) -> usize {
        self.rooms.len()
    }

    /// Whether these name no cache.
    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }
}

/// A message as it travels: its head, the message as JSON text with its rows' events left out,
/// and its chunk's events beside it, their texts joined by commas (empty when it carries none).
///
/// Apart, so that a receiving tab can read the events where it hands them on: a browser tab
/// parses them once in JS (`JSON.parse` of `[events]`) and its module reads only the head. In
/// one text, every event was copied into the module, read there, written out again and then
/// parsed in JS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireMessage {
    /// The message without its rows' events, as JSON text.
    pub head: String,
    /// The rows' events, in the order of the rows, joined by commas.
    pub events: String,
}

impl StreamMessage {
    /// A message from `instance_name`.
    pub fn new(instance_name: &str, body: MessageBody) -> Self {
        Self { version: MESSAGE_VERSION, instance_name: instance_name.to_owned(), body }
    }

    /// Reads a message's head: its rows come without their events. `None` when it is not one
    /// this code wrote (another version's, or garbage), which the receiver treats as something
    /// missed.
    pub fn from_head(head: &str) -> Option<Self> {
        let message: Self = serde_json::from_str(head).ok()?;
        (message.version == MESSAGE_VERSION).then_some(message)
    }

    /// Reads a whole message, its events given back to its rows: `None` as [`Self::from_head`],
    /// or when the events are not one JSON value per row.
    pub fn from_wire(wire: &WireMessage) -> Option<Self> {
        let mut message = Self::from_head(&wire.head)?;
        let rows = message.rows_mut();
        let events: Vec<Box<RawValue>> = match wire.events.is_empty() {
            true => Vec::new(),
            false => serde_json::from_str(&format!("[{}]", wire.events)).ok()?,
        };
        if events.len() != rows.len() {
            return None;
        }
        for (row, event) in rows.iter_mut().zip(events) {
            row.event = Some(event);
        }
        Some(message)
    }

    /// The message as sent: its rows' events taken out of them, beside the rest.
    pub fn into_wire(mut self) -> WireMessage {
        let mut events = String::new();
        for event in self.rows_mut().iter_mut().filter_map(|row| row.event.take()) {
            if !events.is_empty() {
                events.push(',');
            }
            events.push_str(event.get());
        }
        // Plain data (strings, integers, JSON values with string keys): serialising cannot fail.
        let head = serde_json::to_string(&self).unwrap_or_default();
        WireMessage { head, events }
    }

    /// The rows the message carries: a chunk's, or none.
    pub fn rows(&self) -> &[ReplicationRow] {
        match &self.body {
            MessageBody::Chunk(chunk) => &chunk.rows,
            _ => &[],
        }
    }

    fn rows_mut(&mut self) -> &mut [ReplicationRow] {
        match &mut self.body {
            MessageBody::Chunk(chunk) => &mut chunk.rows,
            _ => &mut [],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(stream_ordering: i64, event: &str) -> ReplicationRow {
        ReplicationRow {
            stream_ordering,
            instance_name: "tab-a".to_owned(),
            room_id: "!r:x".to_owned(),
            event_id: format!("$e{stream_ordering}"),
            event_type: "m.room.message".to_owned(),
            state_key: None,
            membership: None,
            event: Some(RawValue::from_string(event.to_owned()).unwrap()),
        }
    }

    fn chunk(events: &[&str]) -> StreamMessage {
        let rows: Vec<ReplicationRow> =
            events.iter().enumerate().map(|(i, event)| row(i as i64 + 1, event)).collect();
        let stream_ids = Some((1, rows.len() as i64));
        let invalidate = Invalidations::default();
        StreamMessage::new(
            "tab-a",
            MessageBody::Chunk(CommittedChunk { stream_ids, rows, invalidate }),
        )
    }

    fn events_of(message: &StreamMessage) -> Vec<Option<&str>> {
        message.rows().iter().map(|row| row.event.as_deref().map(RawValue::get)).collect()
    }

    #[test]
    fn a_chunk_travels_as_its_head_and_its_events_beside_it() {
        let events = [r#"{"event_id":"$e1","content":{"body":"a, b"}}"#, r#"{"event_id":"$e2"}"#];
        let wire = chunk(&events).into_wire();
        assert_eq!(wire.events, format!("{},{}", events[0], events[1]));
        assert!(!wire.head.contains("content"), "{}", wire.head);
        let head = StreamMessage::from_head(&wire.head).unwrap();
        assert_eq!(events_of(&head), [None, None]);
        let read = StreamMessage::from_wire(&wire).unwrap();
        assert_eq!(events_of(&read), events.map(Some));
        assert_eq!(read.instance_name, "tab-a");
    }

    #[test]
    fn a_message_without_rows_has_no_events() {
        let wire = StreamMessage::new("tab-b", MessageBody::Live).into_wire();
        assert_eq!(wire.events, "");
        let read = StreamMessage::from_wire(&wire).unwrap();
        assert!(matches!(read.body, MessageBody::Live));
    }

    #[test]
    fn events_that_are_not_one_per_row_make_the_message_unreadable() {
        let wire = chunk(&["{}", "{}"]).into_wire();
        for events in ["", "{}", "{},{},{}", "{},", "{"] {
            let wire = WireMessage { head: wire.head.clone(), events: events.to_owned() };
            assert!(StreamMessage::from_wire(&wire).is_none(), "{events:?}");
        }
    }

    #[test]
    fn another_version_is_unreadable() {
        let wire = chunk(&["{}"]).into_wire();
        let head = wire.head.replace(r#""version":3"#, r#""version":2"#);
        assert_ne!(head, wire.head);
        assert!(StreamMessage::from_head(&head).is_none());
    }
}
