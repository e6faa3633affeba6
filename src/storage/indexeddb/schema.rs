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
//! - 3: an event is one record: its `event_json`, `event_to_state_groups` and `event_edges` rows
//!   move into its `events` row (the edges as a list under a multi-entry index `prev_event_id`),
//!   and those three stores are deleted. IndexedDB's cost is per record, and these are one row per
//!   event. The `events` index `room_id`, which nothing read, is deleted too: an index entry costs
//!   a write. Code of version 2 cannot read the events, so version 3 is not compatible with it.
//! - 4: the `events` index `prev_event_id` (every edge) gives way to `missing_prev_event_id`
//!   (the prevs an accepted event found missing from the DAG when it arrived): all that was read
//!   of the edges is whether a late event is followed, and most events now add no index entry.
//!   Code of version 3 would write events without the new column, so version 4 is not
//!   compatible with it.
//! - 5: the `events` index `state` over `[room_id, type, state_key]` (state events only): a
//!   room's state events of one type are read in one request, where a large room's members were
//!   a request each. The `state_groups_state` index `state_group` is deleted: a group's rows are
//!   read by ranges of the store's own key, and every index entry is a write per state row. Code
//!   of version 4 walked state group chains through that index, so version 5 is not compatible
//!   with it.
//! - 6: what a store filled from `/sync` adds: `local_current_membership` (the own user's
//!   membership per room, with an invite's or knock's stripped state as received), `timeline_gaps`
//!   (where a `limited` timeline left events out) and `sync_tokens` (the `next_batch` of the last
//!   response stored whole); `events` rows may hold events in client format (`client_format`,
//!   without `depth`). Code of version 5 would read those rows as PDUs and fail, so version 6 is
//!   not compatible with it.
//! - 7: `room_previews`, the room previews kept between reads (derived, dropped by the writes
//!   that change them), and the `sequences` row `room_previews`, moved on by each such write;
//!   `room_chunks`, how many chunks of each room were written, which a write checks against what
//!   its chunk was planned on (several tabs write). Code of version 6 would write without
//!   dropping previews or counting chunks, so version 7 is not compatible with it.
//! - 8: the `events` index `stream_ordering` (Synapse's `events_stream_ordering`): a tab that
//!   missed another tab's replication message reads the events stream back in order from the
//!   last id it knows. Version 7 code writes the column the index is over, so version 8 stays
//!   compatible with it.
//! - 9: the indexes nothing reads are deleted (`current_state_events` by `event_id`,
//!   `room_memberships` by `[user_id, room_id]`, `state_group_edges` by `prev_state_group`), and
//!   so is `current_state_events` by `room_id`: a room's current state is read through a range of
//!   the store's own keys (`[room_id, type, state_key]`). Every index entry is one more write of
//!   each put. Code of version 8 reads the current state through the index by room, so version 9
//!   is not compatible with it.
//! - 10: the `events` indexes `timeline` and `stream_ordering` give way to one, `room_stream`
//!   over `[room_id, stream_ordering]` of every event (Synapse's `events_room_stream`), and rows
//!   lose their `timeline` column. A room's timeline is read through it, skipping the events
//!   that are not part of it, and the events stream is read room by room from the last id a tab
//!   knows. Every event of a first sync wrote an entry in both old indexes, and an index entry
//!   costs a write. Code of version 9 reads through the indexes version 10 deletes, so version
//!   10 is not compatible with it.
//!
//! The `meta` store holds `schema_version` and `compat_version` (the oldest code version allowed
//! to write to this database), as Synapse's `SCHEMA_VERSION` / `SCHEMA_COMPAT_VERSION`.
//! IndexedDB cannot open a database at a lower version than it has, so code older than a
//! database opens it at the database's own version when `compat_version` allows that (never
//! upgrading it, nor rewriting `meta`), and otherwise refuses it with `SCHEMA_TOO_NEW`, untouched.

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionRef;
use indexed_db_futures::KeyPath;
use wasm_bindgen::JsValue;

use super::rows::MetaRow;

/// The `meta` key of the schema version.
pub(super) const META_SCHEMA_VERSION: &str = "schema_version";
/// The `meta` key of the compatible version: the oldest code version that may write.
pub(super) const META_COMPAT_VERSION: &str = "compat_version";

/// A schema version of the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Version {
    /// Every object store and index of the persistence model.
    V1 = 1,
    /// Backward extremities and redactions.
    V2 = 2,
    /// One record per event.
    V3 = 3,
    /// The prevs an accepted event found missing, indexed instead of every edge.
    V4 = 4,
    /// State events indexed by room, type and state_key; state group rows read by key only.
    V5 = 5,
    /// The tables of `/sync`: own memberships, timeline gaps, the sync token.
    V6 = 6,
    /// Room previews kept between reads; chunks counted per room.
    V7 = 7,
    /// Events indexed by stream ordering.
    V8 = 8,
    /// No index that nothing reads, nor one that a key range of the store itself gives:
    /// `current_state_events` is read by room through its keys.
    V9 = 9,
    /// One events index by room and stream ordering, for timelines and the events stream.
    V10 = 10,
    /// A state group's prev group is a column of its row; no index that a prefix of a store's
    /// own keys gives (extremities and timeline gaps by room, own memberships by user).
    V11 = 11,
}

impl Version {
    /// The version this code creates and writes.
    pub const CURRENT: Self = Self::V11;

    /// The IndexedDB version number.
    pub const fn number(self) -> u32 {
        self as u32
    }

    /// The oldest code version that may write to a database of this version.
    pub const fn compat(self) -> Self {
        match self {
            // Each version so far changed what every write must hold or what a read needs.
            Self::V1 => Self::V1,
            Self::V2 => Self::V2,
            Self::V3 => Self::V3,
            Self::V4 => Self::V4,
            Self::V5 => Self::V5,
            Self::V6 => Self::V6,
            Self::V7 => Self::V7,
            // An index over a column version 7 writes already.
            Self::V8 => Self::V7,
            // Code of version 8 reads the current state through an index version 9 deletes.
            Self::V9 => Self::V9,
            // Code of version 9 reads through the indexes version 10 deletes.
            Self::V10 => Self::V10,
            // Code of version 10 writes prev groups into the store version 11 deletes.
            Self::V11 => Self::V11,
        }
    }
}

/// Object store names (Synapse's table names).
pub mod stores {
    /// [`EventRow`](super::super::rows::EventRow)s.
    pub const EVENTS: &str = "events";
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
    /// `{state_group, prev_state_group}` rows, keyed by `state_group` (versions 1 to 10: since
    /// version 11 a group's prev group is a column of its `state_groups` row).
    pub const STATE_GROUP_EDGES: &str = "state_group_edges";
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
    /// [`LocalMembershipRow`](super::super::rows::LocalMembershipRow)s (version 6).
    pub const LOCAL_CURRENT_MEMBERSHIP: &str = "local_current_membership";
    /// [`TimelineGapRow`](super::super::rows::TimelineGapRow)s (version 6).
    pub const TIMELINE_GAPS: &str = "timeline_gaps";
    /// [`SyncTokenRow`](super::super::rows::SyncTokenRow)s (version 6).
    pub const SYNC_TOKENS: &str = "sync_tokens";
    /// [`RoomPreviewRow`](super::super::rows::RoomPreviewRow)s (version 7).
    pub const ROOM_PREVIEWS: &str = "room_previews";
    /// [`RoomChunksRow`](super::super::rows::RoomChunksRow)s (version 7).
    pub const ROOM_CHUNKS: &str = "room_chunks";

    /// Every object store of the current version.
    pub const ALL: [&str; 17] = [
        ROOM_PREVIEWS,
        ROOM_CHUNKS,
        LOCAL_CURRENT_MEMBERSHIP,
        TIMELINE_GAPS,
        SYNC_TOKENS,
        EVENTS,
        EVENT_FORWARD_EXTREMITIES,
        CURRENT_STATE_EVENTS,
        ROOM_MEMBERSHIPS,
        STATE_GROUPS,
        STATE_GROUPS_STATE,
        ROOMS,
        STREAM_POSITIONS,
        SEQUENCES,
        META,
        EVENT_BACKWARD_EXTREMITIES,
        REDACTIONS,
    ];
}

/// The stores of versions 1 and 2 whose rows version 3 moved into `events`.
mod merged {
    pub const EVENT_JSON: &str = "event_json";
    pub const EVENT_EDGES: &str = "event_edges";
    pub const EVENT_TO_STATE_GROUPS: &str = "event_to_state_groups";
}

/// Index names.
pub mod indices {
    /// `events` by `room_id` (versions 1 and 2).
    pub const EVENTS_BY_ROOM: &str = "room_id";
    /// `events` by each of its `prev_events` (multi-entry; Synapse's `event_edges` index on
    /// `prev_event_id`; version 3).
    pub const EVENTS_BY_PREV: &str = "prev_event_id";
    /// `events` by each of its `missing_prevs` (multi-entry; version 4).
    pub const EVENTS_BY_MISSING_PREV: &str = "missing_prev_event_id";
    /// `events` by `[room_id, type, state_key]`: state events only (version 5).
    pub const EVENTS_BY_STATE: &str = "state";
    /// `events` by `timeline` (`[room_id, stream_ordering]`): the room's timeline events only
    /// (versions 6 to 9).
    pub const EVENTS_BY_TIMELINE: &str = "timeline";
    /// `event_forward_extremities` by `room_id` (versions 1 to 10).
    pub const EXTREMITIES_BY_ROOM: &str = "room_id";
    /// `current_state_events` by `room_id` (versions 1 to 8).
    pub const CURRENT_STATE_BY_ROOM: &str = "room_id";
    /// `current_state_events` by `event_id` (versions 1 to 8).
    pub const CURRENT_STATE_BY_EVENT: &str = "event_id";
    /// `room_memberships` by `room_id`.
    pub const MEMBERSHIPS_BY_ROOM: &str = "room_id";
    /// `room_memberships` by `[user_id, room_id]` (versions 1 to 8).
    pub const MEMBERSHIPS_BY_USER_ROOM: &str = "user_id_room_id";
    /// `state_groups_state` by `state_group` (versions 1 to 4).
    pub const GROUP_STATE_BY_GROUP: &str = "state_group";
    /// `event_backward_extremities` by `room_id` (versions 2 to 10).
    pub const BACKWARD_EXTREMITIES_BY_ROOM: &str = "room_id";
    /// `redactions` by `redacts`.
    pub const REDACTIONS_BY_REDACTS: &str = "redacts";
    /// `state_group_edges` by `prev_state_group` (versions 1 to 8).
    pub const GROUP_EDGES_BY_PREV: &str = "prev_state_group";
    /// `local_current_membership` by `user_id` (versions 6 to 10).
    pub const LOCAL_MEMBERSHIP_BY_USER: &str = "user_id";
    /// `timeline_gaps` by `room_id` (versions 6 to 10).
    pub const TIMELINE_GAPS_BY_ROOM: &str = "room_id";
    /// `events` by `stream_ordering` (versions 8 and 9).
    pub const EVENTS_BY_STREAM_ORDERING: &str = "stream_ordering";
    /// `events` by `[room_id, stream_ordering]`: every event (version 10; Synapse's
    /// `events_room_stream`).
    pub const EVENTS_BY_ROOM_STREAM: &str = "room_stream";
    /// `room_previews` by `user_id` (version 7).
    pub const ROOM_PREVIEWS_BY_USER: &str = "user_id";
}

/// Runs in `upgradeneeded`: brings a database of `old_version` (0 when new) to
/// [`Version::CURRENT`].
pub(super) async fn upgrade(db: Database, old_version: u32) -> indexed_db_futures::Result<()> {
    upgrade_to(&db, old_version, Version::CURRENT).await
}

/// Brings a database of `old_version` to `version`, one migration after the other, and records
/// `version` and its compatible version in `meta`, all in the upgrade's transaction: a database
/// at a version of this code holds that version's `meta` rows, so opening it need not read them.
pub(super) async fn upgrade_to(
    db: &Database,
    old_version: u32,
    version: Version,
) -> indexed_db_futures::Result<()> {
    let needs = |step: Version| old_version < step.number() && step <= version;
    if needs(Version::V1) {
        v1::upgrade(db)?;
    }
    if needs(Version::V2) {
        v2::upgrade(db)?;
    }
    // indexed_db_futures reaches the upgrade's transaction (and so the stores that exist
    // already) only through a store created in it: one is made for that, and deleted.
    let scratch = db.create_object_store(SCRATCH).build()?;
    let tx = scratch.transaction();
    if needs(Version::V3) {
        v3::upgrade(db, tx).await?;
    }
    if needs(Version::V4) {
        v4::upgrade(tx).await?;
    }
    if needs(Version::V5) {
        let events = tx.object_store(stores::EVENTS)?;
        let state = KeyPath::from(["room_id", "type", "state_key"]);
        events.create_index(indices::EVENTS_BY_STATE, state).build()?;
        let group_state = tx.object_store(stores::STATE_GROUPS_STATE)?;
        group_state.delete_index(indices::GROUP_STATE_BY_GROUP)?;
    }
    if needs(Version::V6) {
        v6::upgrade(db, tx).await?;
    }
    if needs(Version::V7) {
        let previews = db
            .create_object_store(stores::ROOM_PREVIEWS)
            .with_key_path(KeyPath::from(["room_id", "user_id"]))
            .build()?;
        previews.create_index(indices::ROOM_PREVIEWS_BY_USER, KeyPath::One("user_id")).build()?;
        db.create_object_store(stores::ROOM_CHUNKS)
            .with_key_path(KeyPath::One("room_id"))
            .build()?;
    }
    if needs(Version::V8) {
        let events = tx.object_store(stores::EVENTS)?;
        let ordering = KeyPath::One("stream_ordering");
        events.create_index(indices::EVENTS_BY_STREAM_ORDERING, ordering).build()?;
    }
    if needs(Version::V9) {
        // Every index entry is one more write of each put: a first sync of a thousand rooms
        // wrote some thirty a room for these.
        let current_state = tx.object_store(stores::CURRENT_STATE_EVENTS)?;
        current_state.delete_index(indices::CURRENT_STATE_BY_ROOM)?;
        current_state.delete_index(indices::CURRENT_STATE_BY_EVENT)?;
        let memberships = tx.object_store(stores::ROOM_MEMBERSHIPS)?;
        memberships.delete_index(indices::MEMBERSHIPS_BY_USER_ROOM)?;
        let edges = tx.object_store(stores::STATE_GROUP_EDGES)?;
        edges.delete_index(indices::GROUP_EDGES_BY_PREV)?;
    }
    if needs(Version::V10) {
        v10::upgrade(tx).await?;
    }
    if needs(Version::V11) {
        v11::upgrade(db, tx).await?;
    }
    let meta = tx.object_store(stores::META)?;
    let rows = [(META_SCHEMA_VERSION, version), (META_COMPAT_VERSION, version.compat())];
    for (key, value) in rows {
        meta.put(MetaRow { key: key.to_owned(), value: value.number() }).serde()?;
    }
    db.delete_object_store(SCRATCH)
}

/// Events a migration reads per round, to bound the memory a large database takes.
const PAGE: u32 = 1000;

/// The next [`PAGE`] rows of `events` after the event id `after` (from the first without it), as
/// the rows of the version being migrated from.
async fn events_page<T: serde::de::DeserializeOwned>(
    events: &indexed_db_futures::object_store::ObjectStore<'_>,
    after: Option<String>,
) -> indexed_db_futures::Result<Vec<T>> {
    decoded(raw_events_page(events, after).await?.into_iter().map(Ok))
}

/// The next [`PAGE`] rows of `events` after the event id `after`, as stored.
async fn raw_events_page(
    events: &indexed_db_futures::object_store::ObjectStore<'_>,
    after: Option<String>,
) -> indexed_db_futures::Result<Vec<JsValue>> {
    let read = events.get_all::<JsValue>().with_limit(PAGE);
    let rows = match after {
        Some(after) => {
            read.with_query::<String, _>(indexed_db_futures::KeyRange::LowerBound(after, true))
                .primitive()?
                .await?
        }
        None => read.primitive()?.await?,
    };
    rows.collect()
}

/// Rows a migration read, decoded from their JSON text as every other read of the store decodes
/// rows (`from_json_text`): the wasm carries one decoder per row type, not a second one from JS
/// values.
fn decoded<T: serde::de::DeserializeOwned>(
    rows: impl IntoIterator<Item = indexed_db_futures::Result<JsValue>>,
) -> indexed_db_futures::Result<Vec<T>> {
    rows.into_iter().map(|row| decode(&row?)).collect()
}

fn decode<T: serde::de::DeserializeOwned>(row: &JsValue) -> indexed_db_futures::Result<T> {
    let unreadable = |error: &dyn std::fmt::Display| js_sys::Error::new(&format!("a row: {error}"));
    let text = js_sys::JSON::stringify(row).map_err(|_| unreadable(&"not JSON"))?;
    Ok(serde_json::from_str(&String::from(text)).map_err(|error| unreadable(&error))?)
}

/// The store made and deleted in every upgrade (see [`upgrade_to`]).
const SCRATCH: &str = "upgrading";

/// Version 6: the tables of `/sync`, new and empty, and the `events` index `timeline`.
mod v6 {
    use super::*;

    /// The index is left empty: version 10 deletes it, and every database holding events is
    /// migrated to version 10 or later (older versions are only created empty, for tests).
    pub(super) async fn upgrade(
        db: &Database,
        tx: &TransactionRef<'_>,
    ) -> indexed_db_futures::Result<()> {
        let events = tx.object_store(stores::EVENTS)?;
        events.create_index(indices::EVENTS_BY_TIMELINE, KeyPath::One("timeline")).build()?;
        create_stores(db)
    }

    fn create_stores(db: &Database) -> indexed_db_futures::Result<()> {
        let memberships = db
            .create_object_store(stores::LOCAL_CURRENT_MEMBERSHIP)
            .with_key_path(KeyPath::from(["user_id", "room_id"]))
            .build()?;
        memberships
            .create_index(indices::LOCAL_MEMBERSHIP_BY_USER, KeyPath::One("user_id"))
            .build()?;
        let gaps = db
            .create_object_store(stores::TIMELINE_GAPS)
            .with_key_path(KeyPath::from(["room_id", "event_id"]))
            .build()?;
        gaps.create_index(indices::TIMELINE_GAPS_BY_ROOM, KeyPath::One("room_id")).build()?;
        db.create_object_store(stores::SYNC_TOKENS)
            .with_key_path(KeyPath::One("user_id"))
            .build()?;
        Ok(())
    }
}

/// Version 10: one `events` index by room and stream ordering in place of `timeline` and
/// `stream_ordering`.
mod v10 {
    use wasm_bindgen::JsCast;

    use super::*;

    /// The column the `timeline` index was over.
    const TIMELINE: &str = "timeline";

    pub(super) async fn upgrade(tx: &TransactionRef<'_>) -> indexed_db_futures::Result<()> {
        let events = tx.object_store(stores::EVENTS)?;
        events.delete_index(indices::EVENTS_BY_TIMELINE)?;
        events.delete_index(indices::EVENTS_BY_STREAM_ORDERING)?;
        let room_stream = KeyPath::from(["room_id", "stream_ordering"]);
        events.create_index(indices::EVENTS_BY_ROOM_STREAM, room_stream).build()?;
        let key = JsValue::from_str(TIMELINE);
        let mut after: Option<String> = None;
        loop {
            let page = raw_events_page(&events, after.take()).await?;
            let Some(last) = page.last() else { break };
            after = js_sys::Reflect::get(last, &JsValue::from_str("event_id"))?.as_string();
            for row in page {
                if js_sys::Reflect::has(&row, &key)? {
                    js_sys::Reflect::delete_property(row.unchecked_ref::<js_sys::Object>(), &key)?;
                    events.put(row).primitive()?;
                }
            }
            if after.is_none() {
                break;
            }
        }
        Ok(())
    }
}

/// Version 11: a state group's prev group moves into its `state_groups` row, and the indexes
/// that a prefix of their store's own keys gives are dropped. Each is one more request, or index
/// entry, of every write: some 2,950 and 3,500 of a first sync of 1,500 rooms.
mod v11 {
    use indexed_db_futures::KeyRange;
    use wasm_bindgen::JsCast;

    use super::*;
    use crate::hashed::HashMap;

    /// The column a group's prev group is kept in, as its edge had it.
    const PREV: &str = "prev_state_group";

    pub(super) async fn upgrade(
        db: &Database,
        tx: &TransactionRef<'_>,
    ) -> indexed_db_futures::Result<()> {
        let groups = tx.object_store(stores::STATE_GROUPS)?;
        let edges = tx.object_store(stores::STATE_GROUP_EDGES)?;
        let (state_group, id) = (JsValue::from_str("state_group"), JsValue::from_str("id"));
        let prev_key = JsValue::from_str(PREV);
        let mut after: Option<f64> = None;
        loop {
            let read = groups.get_all::<JsValue>().with_limit(PAGE);
            let page: Vec<JsValue> = match after {
                Some(after) => {
                    read.with_query::<f64, _>(KeyRange::LowerBound(after, true)).primitive()?
                }
                None => read.primitive()?,
            }
            .await?
            .collect::<indexed_db_futures::Result<_>>()?;
            let ids = page.iter().map(|row| js_sys::Reflect::get(row, &id));
            let ids: Vec<f64> = ids
                .map(|id| Ok(id?.as_f64()))
                .collect::<Result<Option<_>, JsValue>>()?
                .ok_or_else(|| js_sys::Error::new("a state group row without a numeric id"))?;
            let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else { break };
            // Group ids are handed out in order, so a page's edges are one key range.
            let range = KeyRange::Bound(first, false, last, false);
            let read = edges.get_all::<JsValue>().with_query::<f64, _>(range).primitive()?.await?;
            let mut prev_of = HashMap::default();
            for edge in read {
                let edge = edge?;
                let group = js_sys::Reflect::get(&edge, &state_group)?.as_f64();
                let prev = js_sys::Reflect::get(&edge, &prev_key)?;
                if let Some(group) = group {
                    prev_of.insert(group.to_bits(), prev);
                }
            }
            for (row, group) in page.into_iter().zip(&ids) {
                if let Some(prev) = prev_of.remove(&group.to_bits()) {
                    let object = row.unchecked_ref::<js_sys::Object>();
                    js_sys::Reflect::set(object, &prev_key, &prev)?;
                    groups.put(row).primitive()?;
                }
            }
            after = Some(last);
        }
        db.delete_object_store(stores::STATE_GROUP_EDGES)?;
        let dropped = [
            (stores::EVENT_FORWARD_EXTREMITIES, indices::EXTREMITIES_BY_ROOM),
            (stores::EVENT_BACKWARD_EXTREMITIES, indices::BACKWARD_EXTREMITIES_BY_ROOM),
            (stores::TIMELINE_GAPS, indices::TIMELINE_GAPS_BY_ROOM),
            (stores::LOCAL_CURRENT_MEMBERSHIP, indices::LOCAL_MEMBERSHIP_BY_USER),
        ];
        for (store, index) in dropped {
            tx.object_store(store)?.delete_index(index)?;
        }
        Ok(())
    }
}

/// Version 3: one record per event.
mod v3 {
    use indexed_db_futures::object_store::ObjectStore;
    use indexed_db_futures::KeyRange;
    use serde::Deserialize;

    use super::*;
    use crate::hashed::HashMap;
    use crate::storage::indexeddb::rows::EventRow;

    use super::merged::{EVENT_EDGES, EVENT_JSON, EVENT_TO_STATE_GROUPS};

    /// A version 2 `events` row.
    #[derive(Deserialize)]
    struct EventRowV2 {
        event_id: String,
        room_id: String,
        #[serde(rename = "type")]
        event_type: String,
        #[serde(default)]
        state_key: Option<String>,
        sender: String,
        depth: u64,
        stream_ordering: i64,
        instance_name: String,
        outlier: bool,
        format_version: u8,
        #[serde(default)]
        rejection: Option<String>,
    }

    /// A version 2 `event_json` row.
    #[derive(Deserialize)]
    struct EventJsonRowV2 {
        event_id: String,
        room_version: String,
        json: String,
        internal_metadata: String,
    }

    /// A version 2 `event_edges` row.
    #[derive(Deserialize)]
    struct EventEdgeRowV2 {
        event_id: String,
        prev_event_id: String,
    }

    /// A version 2 `event_to_state_groups` row.
    #[derive(Deserialize)]
    struct EventToStateGroupRowV2 {
        event_id: String,
        state_group: u64,
    }

    pub(super) async fn upgrade(
        db: &Database,
        tx: &TransactionRef<'_>,
    ) -> indexed_db_futures::Result<()> {
        let events = tx.object_store(stores::EVENTS)?;
        events
            .create_index(indices::EVENTS_BY_PREV, KeyPath::One("prev_events"))
            .with_multi_entry(true)
            .build()?;
        // Nothing reads events by room alone, and every index entry is one more write per event.
        events.delete_index(indices::EVENTS_BY_ROOM)?;
        let old = [
            tx.object_store(EVENT_JSON)?,
            tx.object_store(EVENT_EDGES)?,
            tx.object_store(EVENT_TO_STATE_GROUPS)?,
        ];
        let mut after: Option<String> = None;
        while let Some(last) = move_page(&events, &old, after.take()).await? {
            after = Some(last);
        }
        for name in [EVENT_JSON, EVENT_EDGES, EVENT_TO_STATE_GROUPS] {
            db.delete_object_store(name)?;
        }
        Ok(())
    }

    /// Rewrites the next [`PAGE`] events after `after` as version 3 rows; the last event id
    /// moved, or `None` when none was left. The other stores are keyed by event id first too, so
    /// the same key range holds the page's rows in each.
    async fn move_page(
        events: &ObjectStore<'_>,
        [json, edges, groups]: &[ObjectStore<'_>; 3],
        after: Option<String>,
    ) -> indexed_db_futures::Result<Option<String>> {
        let page: Vec<EventRowV2> = events_page(events, after).await?;
        let (Some(first), Some(last)) = (page.first(), page.last()) else {
            return Ok(None);
        };
        let (first, last) = (first.event_id.clone(), last.event_id.clone());
        let range = || KeyRange::Bound(first.clone(), false, last.clone(), false);
        // `[first]` sorts before every `[first, prev]`, and an array after every string.
        let key = |parts: &[JsValue]| JsValue::from(parts.iter().collect::<js_sys::Array>());
        let (lower, upper) =
            (key(&[first.as_str().into()]), key(&[last.as_str().into(), key(&[])]));
        let edge_range = KeyRange::Bound(lower, false, upper, false);
        let json = json.get_all::<JsValue>().with_query::<String, _>(range()).primitive()?;
        let groups = groups.get_all::<JsValue>().with_query::<String, _>(range()).primitive()?;
        let edges = edges.get_all::<JsValue>().with_query::<JsValue, _>(edge_range).primitive()?;
        let json: Vec<EventJsonRowV2> = decoded(json.await?)?;
        let mut json: HashMap<String, EventJsonRowV2> =
            json.into_iter().map(|row| (row.event_id.clone(), row)).collect();
        let groups: Vec<EventToStateGroupRowV2> = decoded(groups.await?)?;
        let mut groups: HashMap<String, u64> =
            groups.into_iter().map(|row| (row.event_id, row.state_group)).collect();
        let mut prevs: HashMap<String, Vec<String>> = HashMap::default();
        for edge in decoded::<EventEdgeRowV2>(edges.await?)? {
            prevs.entry(edge.event_id).or_default().push(edge.prev_event_id);
        }
        for row in page {
            let Some(json) = json.remove(&row.event_id) else {
                let message = format!("{} has no event_json row", row.event_id);
                return Err(js_sys::Error::new(&message).into());
            };
            let state_group = groups.remove(&row.event_id);
            let prev_events = prevs.remove(&row.event_id).unwrap_or_default();
            events.put(merged(row, json, prev_events, state_group)).serde()?;
        }
        Ok(Some(last))
    }

    fn merged(
        row: EventRowV2,
        json: EventJsonRowV2,
        prev_events: Vec<String>,
        state_group: Option<u64>,
    ) -> EventRow {
        EventRow {
            event_id: row.event_id,
            room_id: row.room_id,
            event_type: row.event_type,
            state_key: row.state_key,
            sender: row.sender,
            depth: Some(row.depth),
            stream_ordering: row.stream_ordering,
            instance_name: row.instance_name,
            outlier: row.outlier,
            format_version: row.format_version,
            client_format: false,
            rejection: row.rejection,
            room_version: json.room_version,
            json: json.json,
            internal_metadata: json.internal_metadata,
            prev_events,
            missing_prevs: Vec::new(),
            state_group,
        }
    }
}

/// Version 4: the prevs accepted events found missing, indexed instead of every edge.
mod v4 {
    use super::*;
    use crate::hashed::HashMap;
    use crate::model::internal_metadata::InternalMetadataDict;
    use crate::storage::indexeddb::rows::{BackwardExtremityRow, EventRow};

    /// Fills `missing_prevs` and swaps the indices. A prev that an accepted event found missing
    /// and that has not arrived since is a backward extremity still; only the ids still out of
    /// the DAG are ever asked, so the events naming a backward extremity, read through the old
    /// index, are all the column needs.
    pub(super) async fn upgrade(tx: &TransactionRef<'_>) -> indexed_db_futures::Result<()> {
        let events = tx.object_store(stores::EVENTS)?;
        let gaps = tx.object_store(stores::EVENT_BACKWARD_EXTREMITIES)?;
        let gaps: Vec<BackwardExtremityRow> = decoded(gaps.get_all().primitive()?.await?)?;
        let by_prev = events.index(indices::EVENTS_BY_PREV)?;
        let mut reads = Vec::with_capacity(gaps.len());
        for gap in &gaps {
            reads.push(by_prev.get_all::<JsValue>().with_query(gap.event_id.as_str()).primitive()?);
        }
        let mut followers: HashMap<String, EventRow> = HashMap::default();
        for (gap, read) in gaps.iter().zip(reads) {
            for row in decoded::<EventRow>(read.await?)? {
                if !accepted(&row)? {
                    continue;
                }
                let row = followers.entry(row.event_id.clone()).or_insert(row);
                row.missing_prevs.push(gap.event_id.clone());
            }
        }
        for row in followers.into_values() {
            events.put(row).serde()?;
        }
        events.delete_index(indices::EVENTS_BY_PREV)?;
        events
            .create_index(indices::EVENTS_BY_MISSING_PREV, KeyPath::One("missing_prevs"))
            .with_multi_entry(true)
            .build()?;
        Ok(())
    }

    /// Neither rejected, an outlier nor soft-failed.
    pub(super) fn accepted(row: &EventRow) -> indexed_db_futures::Result<bool> {
        if row.outlier || row.rejection.is_some() {
            return Ok(false);
        }
        let dict: InternalMetadataDict = serde_json::from_str(&row.internal_metadata)
            .map_err(|error| js_sys::Error::new(&format!("{}: {error}", row.event_id)))?;
        Ok(!dict.soft_failed)
    }
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

    /// `event_json`: key `event_id`; no index. Synapse `event_json`. (Merged into `events` by
    /// version 3.)
    fn event_json(db: &Database) -> indexed_db_futures::Result<()> {
        db.create_object_store(merged::EVENT_JSON).with_key_path(one("event_id")).build()?;
        Ok(())
    }

    /// `event_edges`: key `[event_id, prev_event_id]`; index `prev_event_id` (not unique).
    /// Synapse `event_edges`. (Merged into `events` by version 3.)
    fn event_edges(db: &Database) -> indexed_db_futures::Result<()> {
        let store = db
            .create_object_store(merged::EVENT_EDGES)
            .with_key_path(seq(["event_id", "prev_event_id"]))
            .build()?;
        store.create_index("prev_event_id", one("prev_event_id")).build()?;
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
    /// (Merged into `events` by version 3.)
    fn event_to_state_groups(db: &Database) -> indexed_db_futures::Result<()> {
        db.create_object_store(merged::EVENT_TO_STATE_GROUPS)
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
