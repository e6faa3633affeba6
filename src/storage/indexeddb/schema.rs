//! The database schema: its versions and the object stores and indices each one creates.
//!
//! Object stores keep Synapse's table names; keys are typed arrays (compound `keyPath`s over
//! the row's own fields), never strings joined with separators, so ranges follow native key
//! order.
//!
//! Versions (each a migration from the one before, run in order):
//! - 1: every object store and index of the persistence model (DESIGN.md's table).
//! - 2: `event_backward_extremities` and `redactions`. Code of version 1 would write events
//!   without their rows, so a version 2 database is not compatible with it.
//!
//! The `meta` store holds `schema_version` and `compat_version` (the oldest code version allowed
//! to write to this database), as Synapse's `SCHEMA_VERSION` / `SCHEMA_COMPAT_VERSION`.
//! IndexedDB cannot open a database at a lower version than it has, so code older than a
//! database opens it at the database's own version when `compat_version` allows that (never
//! upgrading it, nor rewriting `meta`), and otherwise refuses it with `SCHEMA_TOO_NEW`, untouched.

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::KeyPath;

/// A schema version of the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Version {
    /// Every object store and index of the persistence model.
    V1 = 1,
    /// Backward extremities and redactions.
    V2 = 2,
}

impl Version {
    /// The version this code creates and writes.
    pub const CURRENT: Self = Self::V2;
    /// The oldest code version that may write to a database of [`Self::CURRENT`].
    pub const COMPAT: Self = Self::V2;

    /// The IndexedDB version number.
    pub const fn number(self) -> u32 {
        self as u32
    }
}

/// Object store names (Synapse's table names).
pub mod stores {
    /// [`EventRow`](super::super::rows::EventRow)s.
    pub const EVENTS: &str = "events";
    /// [`EventJsonRow`](super::super::rows::EventJsonRow)s.
    pub const EVENT_JSON: &str = "event_json";
    /// [`EventEdgeRow`](super::super::rows::EventEdgeRow)s.
    pub const EVENT_EDGES: &str = "event_edges";
    /// [`ForwardExtremityRow`](super::super::rows::ForwardExtremityRow)s.
    pub const EVENT_FORWARD_EXTREMITIES: &str = "event_forward_extremities";
    /// [`CurrentStateRow`](super::super::rows::CurrentStateRow)s.
    pub const CURRENT_STATE_EVENTS: &str = "current_state_events";
    /// [`RoomMembershipRow`](super::super::rows::RoomMembershipRow)s.
    pub const ROOM_MEMBERSHIPS: &str = "room_memberships";
    /// [`StateGroupRow`](super::super::rows::StateGroupRow)s.
    pub const STATE_GROUPS: &str = "state_groups";
    /// [`StateGroupStateRow`](super::super::rows::StateGroupStateRow)s.
    pub const STATE_GROUPS_STATE: &str = "state_groups_state";
    /// [`StateGroupEdgeRow`](super::super::rows::StateGroupEdgeRow)s.
    pub const STATE_GROUP_EDGES: &str = "state_group_edges";
    /// [`EventToStateGroupRow`](super::super::rows::EventToStateGroupRow)s.
    pub const EVENT_TO_STATE_GROUPS: &str = "event_to_state_groups";
    /// [`RoomRow`](super::super::rows::RoomRow)s.
    pub const ROOMS: &str = "rooms";
    /// [`StreamPositionRow`](super::super::rows::StreamPositionRow)s.
    pub const STREAM_POSITIONS: &str = "stream_positions";
    /// [`SequenceRow`](super::super::rows::SequenceRow)s.
    pub const SEQUENCES: &str = "sequences";
    /// [`BackwardExtremityRow`](super::super::rows::BackwardExtremityRow)s (version 2).
    pub const EVENT_BACKWARD_EXTREMITIES: &str = "event_backward_extremities";
    /// [`RedactionRow`](super::super::rows::RedactionRow)s (version 2).
    pub const REDACTIONS: &str = "redactions";
    /// [`MetaRow`](super::super::rows::MetaRow)s.
    pub const META: &str = "meta";

    /// Every object store of the current version.
    pub const ALL: [&str; 16] = [
        EVENTS,
        EVENT_JSON,
        EVENT_EDGES,
        EVENT_FORWARD_EXTREMITIES,
        CURRENT_STATE_EVENTS,
        ROOM_MEMBERSHIPS,
        STATE_GROUPS,
        STATE_GROUPS_STATE,
        STATE_GROUP_EDGES,
        EVENT_TO_STATE_GROUPS,
        ROOMS,
        STREAM_POSITIONS,
        SEQUENCES,
        META,
        EVENT_BACKWARD_EXTREMITIES,
        REDACTIONS,
    ];
}

/// Index names.
pub mod indices {
    /// `events` by `room_id`.
    pub const EVENTS_BY_ROOM: &str = "room_id";
    /// `event_edges` by `prev_event_id`.
    pub const EDGES_BY_PREV: &str = "prev_event_id";
    /// `event_forward_extremities` by `room_id`.
    pub const EXTREMITIES_BY_ROOM: &str = "room_id";
    /// `current_state_events` by `room_id`.
    pub const CURRENT_STATE_BY_ROOM: &str = "room_id";
    /// `current_state_events` by `event_id`.
    pub const CURRENT_STATE_BY_EVENT: &str = "event_id";
    /// `room_memberships` by `room_id`.
    pub const MEMBERSHIPS_BY_ROOM: &str = "room_id";
    /// `room_memberships` by `[user_id, room_id]`.
    pub const MEMBERSHIPS_BY_USER_ROOM: &str = "user_id_room_id";
    /// `state_groups_state` by `state_group`.
    pub const GROUP_STATE_BY_GROUP: &str = "state_group";
    /// `event_backward_extremities` by `room_id`.
    pub const BACKWARD_EXTREMITIES_BY_ROOM: &str = "room_id";
    /// `redactions` by `redacts`.
    pub const REDACTIONS_BY_REDACTS: &str = "redacts";
    /// `state_group_edges` by `prev_state_group`.
    pub const GROUP_EDGES_BY_PREV: &str = "prev_state_group";
}

/// Runs in `upgradeneeded`: brings a database of `old_version` (0 when new) to
/// [`Version::CURRENT`].
pub(super) fn upgrade(db: &Database, old_version: u32) -> indexed_db_futures::Result<()> {
    if old_version < Version::V1.number() {
        v1::upgrade(db)?;
    }
    if old_version < Version::V2.number() {
        v2::upgrade(db)?;
    }
    Ok(())
}

/// Version 2: the backward extremities and redactions of the persistence model.
mod v2 {
    use super::*;

    pub(super) fn upgrade(db: &Database) -> indexed_db_futures::Result<()> {
        // `event_backward_extremities`: key `[room_id, event_id]`; index `room_id`. Synapse
        // `event_backward_extremities`.
        let store = db
            .create_object_store(stores::EVENT_BACKWARD_EXTREMITIES)
            .with_key_path(KeyPath::from(["room_id", "event_id"]))
            .build()?;
        store
            .create_index(indices::BACKWARD_EXTREMITIES_BY_ROOM, KeyPath::One("room_id"))
            .build()?;
        // `redactions`: key `event_id` (the redaction); index `redacts` (not unique). Synapse
        // `redactions`.
        let store = db
            .create_object_store(stores::REDACTIONS)
            .with_key_path(KeyPath::One("event_id"))
            .build()?;
        store.create_index(indices::REDACTIONS_BY_REDACTS, KeyPath::One("redacts")).build()?;
        Ok(())
    }
}

/// Version 1: every object store and index of the persistence model.
mod v1 {
    use super::*;

    pub(super) fn upgrade(db: &Database) -> indexed_db_futures::Result<()> {
        events(db)?;
        event_json(db)?;
        event_edges(db)?;
        event_forward_extremities(db)?;
        current_state_events(db)?;
        room_memberships(db)?;
        state_groups(db)?;
        state_groups_state(db)?;
        state_group_edges(db)?;
        event_to_state_groups(db)?;
        rooms(db)?;
        stream_positions(db)?;
        sequences(db)?;
        meta(db)?;
        Ok(())
    }

    fn one(field: &str) -> KeyPath<&str> {
        KeyPath::One(field)
    }

    fn seq<const N: usize>(fields: [&str; N]) -> KeyPath<&str> {
        KeyPath::from(fields)
    }

    /// `events`: key `event_id`; index `room_id` (not unique). Synapse `events`, with
    /// `rejections.reason` as a column.
    fn events(db: &Database) -> indexed_db_futures::Result<()> {
        let store =
            db.create_object_store(stores::EVENTS).with_key_path(one("event_id")).build()?;
        store.create_index(indices::EVENTS_BY_ROOM, one("room_id")).build()?;
        Ok(())
    }

    /// `event_json`: key `event_id`; no index. Synapse `event_json`.
    fn event_json(db: &Database) -> indexed_db_futures::Result<()> {
        db.create_object_store(stores::EVENT_JSON).with_key_path(one("event_id")).build()?;
        Ok(())
    }

    /// `event_edges`: key `[event_id, prev_event_id]`; index `prev_event_id` (not unique).
    /// Synapse `event_edges`.
    fn event_edges(db: &Database) -> indexed_db_futures::Result<()> {
        let store = db
            .create_object_store(stores::EVENT_EDGES)
            .with_key_path(seq(["event_id", "prev_event_id"]))
            .build()?;
        store.create_index(indices::EDGES_BY_PREV, one("prev_event_id")).build()?;
        Ok(())
    }

    /// `event_forward_extremities`: key `[room_id, event_id]`; index `room_id` (not unique).
    /// Synapse `event_forward_extremities`.
    fn event_forward_extremities(db: &Database) -> indexed_db_futures::Result<()> {
        let store = db
            .create_object_store(stores::EVENT_FORWARD_EXTREMITIES)
            .with_key_path(seq(["room_id", "event_id"]))
            .build()?;
        store.create_index(indices::EXTREMITIES_BY_ROOM, one("room_id")).build()?;
        Ok(())
    }

    /// `current_state_events`: key `[room_id, type, state_key]`; indices `room_id` and
    /// `event_id` (not unique). Synapse `current_state_events`.
    fn current_state_events(db: &Database) -> indexed_db_futures::Result<()> {
        let store = db
            .create_object_store(stores::CURRENT_STATE_EVENTS)
            .with_key_path(seq(["room_id", "type", "state_key"]))
            .build()?;
        store.create_index(indices::CURRENT_STATE_BY_ROOM, one("room_id")).build()?;
        store.create_index(indices::CURRENT_STATE_BY_EVENT, one("event_id")).build()?;
        Ok(())
    }

    /// `room_memberships`: key `event_id`; indices `room_id` and `[user_id, room_id]` (not
    /// unique). Synapse `room_memberships`.
    fn room_memberships(db: &Database) -> indexed_db_futures::Result<()> {
        let store = db
            .create_object_store(stores::ROOM_MEMBERSHIPS)
            .with_key_path(one("event_id"))
            .build()?;
        store.create_index(indices::MEMBERSHIPS_BY_ROOM, one("room_id")).build()?;
        store
            .create_index(indices::MEMBERSHIPS_BY_USER_ROOM, seq(["user_id", "room_id"]))
            .build()?;
        Ok(())
    }

    /// `state_groups`: key `id`; no index. Synapse `state_groups`.
    fn state_groups(db: &Database) -> indexed_db_futures::Result<()> {
        db.create_object_store(stores::STATE_GROUPS).with_key_path(one("id")).build()?;
        Ok(())
    }

    /// `state_groups_state`: key `[state_group, type, state_key]`; index `state_group` (not
    /// unique). Synapse `state_groups_state`.
    fn state_groups_state(db: &Database) -> indexed_db_futures::Result<()> {
        let store = db
            .create_object_store(stores::STATE_GROUPS_STATE)
            .with_key_path(seq(["state_group", "type", "state_key"]))
            .build()?;
        store.create_index(indices::GROUP_STATE_BY_GROUP, one("state_group")).build()?;
        Ok(())
    }

    /// `state_group_edges`: key `state_group` (a group has one prev group); index
    /// `prev_state_group` (not unique). Synapse `state_group_edges`.
    fn state_group_edges(db: &Database) -> indexed_db_futures::Result<()> {
        let store = db
            .create_object_store(stores::STATE_GROUP_EDGES)
            .with_key_path(one("state_group"))
            .build()?;
        store.create_index(indices::GROUP_EDGES_BY_PREV, one("prev_state_group")).build()?;
        Ok(())
    }

    /// `event_to_state_groups`: key `event_id`; no index. Synapse `event_to_state_groups`.
    fn event_to_state_groups(db: &Database) -> indexed_db_futures::Result<()> {
        db.create_object_store(stores::EVENT_TO_STATE_GROUPS)
            .with_key_path(one("event_id"))
            .build()?;
        Ok(())
    }

    /// `rooms`: key `room_id`; no index. Synapse `rooms`.
    fn rooms(db: &Database) -> indexed_db_futures::Result<()> {
        db.create_object_store(stores::ROOMS).with_key_path(one("room_id")).build()?;
        Ok(())
    }

    /// `stream_positions`: key `[stream_name, instance_name]`; no index. Synapse
    /// `stream_positions`.
    fn stream_positions(db: &Database) -> indexed_db_futures::Result<()> {
        db.create_object_store(stores::STREAM_POSITIONS)
            .with_key_path(seq(["stream_name", "instance_name"]))
            .build()?;
        Ok(())
    }

    /// `sequences`: key `stream_name`; no index. A Postgres sequence in Synapse.
    fn sequences(db: &Database) -> indexed_db_futures::Result<()> {
        db.create_object_store(stores::SEQUENCES).with_key_path(one("stream_name")).build()?;
        Ok(())
    }

    /// `meta`: key `key`; no index. Synapse's `schema_version` / `schema_compat_version`.
    fn meta(db: &Database) -> indexed_db_futures::Result<()> {
        db.create_object_store(stores::META).with_key_path(one("key")).build()?;
        Ok(())
    }
}
