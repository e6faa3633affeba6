//! What one tab tells the others on the replication channel.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::row::ReplicationRow;

/// The message format's version: a tab receiving another (a tab running other code) reads it as
/// a sign that it missed something, and catches up from the store. Version 2 nests the body
/// under `body`, where version 1 flattened it into the message, and adds `live` and `left`.
pub const MESSAGE_VERSION: u32 = 2;

/// One message on the replication channel, from the tab `instance_name`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamMessage {
    /// [`MESSAGE_VERSION`].
    pub version: u32,
    /// The writer that sent it.
    pub instance_name: String,
    /// What happened. Nested, not flattened into the message: serde reads a flattened or an
    /// internally tagged body through a tree of values first, which the events' JSON text
    /// (kept as text, see [`ReplicationRow::event`]) cannot pass through.
    pub body: MessageBody,
}

/// What a message says happened.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "camelCase")]
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

impl StreamMessage {
    /// A message from `instance_name`.
    pub fn new(instance_name: &str, body: MessageBody) -> Self {
        Self { version: MESSAGE_VERSION, instance_name: instance_name.to_owned(), body }
    }

    /// Reads a message received from another tab: `None` when it is not one this code wrote
    /// (another version's, or garbage), which the receiver treats as something missed.
    pub fn from_json(text: &str) -> Option<Self> {
        let message: Self = serde_json::from_str(text).ok()?;
        (message.version == MESSAGE_VERSION).then_some(message)
    }

    /// The message as sent.
    pub fn to_json(&self) -> String {
        // Plain data (strings, integers, JSON values with string keys): serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}
