//! One row type per object store, each named after the Synapse table it mirrors.
//!
//! The PDU JSON is stored once, as text, in its [`EventRow`]; every other row holds ids and
//! short columns only. Field names are the key path components of the schema
//! ([`super::schema`]), so the keys are in the values (in-line keys).

use serde::{Deserialize, Serialize};

/// `events`: one row per event, keyed by `event_id`: Synapse's `events` row with the tables that
/// hold one row per event beside it (`event_json`, `event_to_state_groups`, `rejections`) and
/// its `event_edges` as a list, indexed (multi-entry) by the prev events not stored yet
/// (`missing_prevs`) and by stream ordering.
///
/// One record per event because IndexedDB's cost is per record: written as four records (one per
/// Synapse table), persisting was bound to a third of the speed of storing the events alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    /// The event id (key).
    pub event_id: String,
    /// The room (index `room_id`).
    pub room_id: String,
    /// `type`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// `state_key`, for state events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_key: Option<String>,
    /// `sender`.
    pub sender: String,
    /// `depth`; absent for an event in client format (from `/sync`), which carries none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u64>,
    /// The stream ordering; negative for backfilled events.
    pub stream_ordering: i64,
    /// The writer (tab) that persisted the event.
    pub instance_name: String,
    /// Whether the event is an outlier.
    pub outlier: bool,
    /// The event format version (1–4; `event_json.format_version`).
    pub format_version: u8,
    /// The JSON is an event in client format, as `/sync` delivered it, not a PDU: it has no
    /// federation fields, and its event id is the one the server gave (version 6).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub client_format: bool,
    /// Why the event was rejected (Synapse's `rejections.reason`), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection: Option<String>,
    /// The room version the JSON is parsed with (`event_json.room_version`).
    pub room_version: String,
    /// The PDU as canonical JSON text, without the ids computed from it (`event_json.json`).
    /// Read beside the other columns (`getEvents`), and so absent from their JSON.
    #[serde(default)]
    pub json: String,
    /// The internal metadata dict as JSON text, without the values that are columns here
    /// (`event_json.internal_metadata`).
    pub internal_metadata: String,
    /// The prev events of its `event_edges` rows; none for outliers and rejected events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prev_events: Vec<String>,
    /// The prevs an accepted event found missing from the room's DAG when it arrived (index
    /// `missing_prev_event_id`, multi-entry): what tells a late event it is followed. Most events
    /// have none, and so add no index entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_prevs: Vec<String>,
    /// The group of the state after it (`event_to_state_groups`); none for outliers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_group: Option<u64>,
}

/// `event_forward_extremities`: a leaf of a room's DAG, keyed by `[room_id, event_id]`
/// (Synapse `event_forward_extremities`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForwardExtremityRow {
    /// The room.
    pub room_id: String,
    /// The leaf event.
    pub event_id: String,
}

/// `event_backward_extremities`: a prev event of a stored event that is not stored itself, keyed
/// by `[room_id, event_id]` (Synapse `event_backward_extremities`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackwardExtremityRow {
    /// The room.
    pub room_id: String,
    /// The missing event.
    pub event_id: String,
}

/// `redactions`: a redaction event and the event it names, keyed by `event_id` (the redaction),
/// indexed by `redacts` (Synapse `redactions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedactionRow {
    /// The redaction event.
    pub event_id: String,
    /// The event it names.
    pub redacts: String,
    /// Whether reading must check that the two senders share a server.
    pub recheck: bool,
}

/// `current_state_events`: one entry of a room's current state, keyed by
/// `[room_id, type, state_key]` (Synapse `current_state_events`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentStateRow {
    /// The room.
    pub room_id: String,
    /// The state event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The state key.
    pub state_key: String,
    /// The event holding this entry.
    pub event_id: String,
    /// `content.membership`, for member events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub membership: Option<String>,
}

/// `room_memberships`: one member event, keyed by `event_id`, indexed by `room_id` (Synapse
/// `room_memberships`; its `[user_id, room_id]` index was dropped in version 9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomMembershipRow {
    /// The member event (key).
    pub event_id: String,
    /// The room.
    pub room_id: String,
    /// Whose membership (the state key).
    pub user_id: String,
    /// Who sent it.
    pub sender: String,
    /// `content.membership`.
    pub membership: String,
    /// `content.displayname`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `content.avatar_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
}

/// `state_groups`: a group, keyed by `id` (Synapse `state_groups`), with its prev group (Synapse
/// keeps that in `state_group_edges`: a request more of every group written, and one more read
/// of every chain walked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateGroupRow {
    /// The group id (key).
    pub id: u64,
    /// The room.
    pub room_id: String,
    /// The event the group was made for.
    pub event_id: String,
    /// The group its delta applies to; none for a snapshot (version 11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_state_group: Option<u64>,
}

/// `state_groups_state`: one row of a group's delta, keyed by `[state_group, type, state_key]`
/// (Synapse `state_groups_state`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateGroupStateRow {
    /// The group.
    pub state_group: u64,
    /// The state event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The state key.
    pub state_key: String,
    /// The event.
    pub event_id: String,
}

/// `rooms`: a room, keyed by `room_id` (Synapse `rooms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomRow {
    /// The room (key).
    pub room_id: String,
    /// Its room version.
    pub room_version: String,
    /// The create event's sender; unknown for a room recorded by an out-of-band membership.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
}

/// `stream_positions`: a writer's persisted position on a stream, keyed by
/// `[stream_name, instance_name]` (Synapse `stream_positions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamPositionRow {
    /// The stream (`"events"`).
    pub stream_name: String,
    /// The writer.
    pub instance_name: String,
    /// The highest id this writer persisted.
    pub stream_id: i64,
}

/// `sequences`: the last id handed out on a sequence shared by every writer, keyed by
/// `stream_name` (a Postgres sequence in Synapse): `"events"` (live stream orderings),
/// `"backfill"` (backfilled events' negative orderings) and `"state_groups"` (state group ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceRow {
    /// The sequence.
    pub stream_name: String,
    /// The last id handed out: the highest for `events` and `state_groups`, the lowest (the
    /// furthest below zero) for `backfill`.
    pub last_value: i64,
}

/// `meta`: facts about the database itself, keyed by `key` (Synapse's `schema_version` and
/// `schema_compat_version` tables).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaRow {
    /// The fact's name (`"schema_version"`, `"compat_version"`).
    pub key: String,
    /// Its value.
    pub value: u32,
}

/// `local_current_membership`: the store's own user's membership in a room, keyed by
/// `[user_id, room_id]`, indexed by `user_id` (Synapse `local_current_membership`; version 6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalMembershipRow {
    /// The own user.
    pub user_id: String,
    /// The room.
    pub room_id: String,
    /// `join`, `invite`, `knock`, `leave` or `ban`.
    pub membership: String,
    /// The member event, when stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The stream ordering when it was set.
    pub stream_ordering: i64,
    /// An invite's or knock's stripped state as received, as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripped_state: Option<String>,
}

/// `timeline_gaps`: where a `limited` `/sync` timeline left events out, keyed by
/// `[room_id, event_id]` (the first event after the gap), indexed by `room_id` (version 6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineGapRow {
    /// The room.
    pub room_id: String,
    /// The first event after the gap.
    pub event_id: String,
    /// Where to paginate back from.
    pub prev_batch: String,
}

/// `sync_tokens`: the `next_batch` of the last `/sync` response stored whole, keyed by
/// `user_id` (version 6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncTokenRow {
    /// Whose `/sync` it is.
    pub user_id: String,
    /// The token.
    pub next_batch: String,
}

/// `room_previews`: a room preview kept for a user, keyed by `[room_id, user_id]`, indexed by
/// `user_id` (version 7). Derived, as Synapse's `room_stats_state`: a write that changes what
/// the preview is computed from deletes the room's rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomPreviewRow {
    /// The room.
    pub room_id: String,
    /// The user the preview is for.
    pub user_id: String,
    /// The preview, as the event store keeps it (JSON text).
    pub preview: String,
}

/// `room_chunks`: how many chunks of a room were written, keyed by `room_id` (version 7). A write
/// checks it against the count its chunk was planned on, so that a chunk planned before another
/// connection's chunk of the same room is planned again (see `writeChunk`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomChunksRow {
    /// The room.
    pub room_id: String,
    /// How many chunks of it were written.
    pub chunks: u64,
}
