//! The IndexedDB backend: Synapse's tables as object stores, in the browser.
//!
//! - [`schema`]: versions, object stores, key paths and indices.
//! - [`rows`]: one row type per object store.
//! - [`error`]: failures typed by their `DOMException` name.
//!
//! A room chunk is written in one readwrite transaction over every object store it touches,
//! committed at the end: a request that fails aborts the transaction, so a failed chunk leaves
//! nothing. Every row is computed before the transaction opens, and nothing but IndexedDB
//! requests is awaited while it is open (the browser commits an idle transaction by itself).

pub mod error;
pub mod rows;
pub mod schema;

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use indexed_db_futures::database::Database;
use indexed_db_futures::future::VoidRequest;
use indexed_db_futures::internals::SystemRepr;
use indexed_db_futures::object_store::ObjectStore;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::{Transaction, TransactionMode};
use indexed_db_futures::KeyRange;
use ruma_common::{EventId, OwnedEventId};
use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;

pub use self::error::IdbError;
use self::rows::{
    CurrentStateRow, EventEdgeRow, EventJsonRow, EventRow, EventToStateGroupRow,
    ForwardExtremityRow, MetaRow, RoomMembershipRow, RoomRow, StateGroupEdgeRow, StateGroupRow,
    StateGroupStateRow, StreamPositionRow,
};
use self::schema::{indices, stores, Version};
use super::{Store, StoreError, StoredEvent};
use crate::model::internal_metadata::{InternalMetadata, InternalMetadataColumns};
use crate::model::pdu::Pdu;
use crate::model::room_version::RoomVersion;
use crate::model::StateFilter;
use crate::persist::{EventOutcome, MembershipRow, RoomWritePlan, StateIds};

/// The stream the events' orderings are taken from (`stream_positions.stream_name`).
const EVENTS_STREAM: &str = "events";

/// The object stores one room chunk writes.
const WRITTEN_BY_APPLY: [&str; 12] = [
    stores::EVENTS,
    stores::EVENT_JSON,
    stores::EVENT_EDGES,
    stores::EVENT_FORWARD_EXTREMITIES,
    stores::CURRENT_STATE_EVENTS,
    stores::ROOM_MEMBERSHIPS,
    stores::STATE_GROUPS,
    stores::STATE_GROUPS_STATE,
    stores::STATE_GROUP_EDGES,
    stores::EVENT_TO_STATE_GROUPS,
    stores::ROOMS,
    stores::STREAM_POSITIONS,
];

/// An event store in an IndexedDB database.
#[derive(Debug)]
pub struct IndexedDbStore {
    db: Database,
}

impl IndexedDbStore {
    /// Opens (creating or upgrading to [`Version::CURRENT`]) the database called `name`.
    pub async fn open(name: &str) -> Result<Self, StoreError> {
        Ok(Self::open_db(name).await?)
    }

    async fn open_db(name: &str) -> Result<Self, IdbError> {
        let db = Database::open(name)
            .with_version(Version::CURRENT.number())
            .with_on_upgrade_needed(|event, db| {
                // Version numbers are small integers; the event carries them as doubles.
                schema::upgrade(&db, event.old_version() as u32)
            })
            .await?;
        let tx = db.transaction(stores::META).with_mode(TransactionMode::Readwrite).build()?;
        let meta = tx.object_store(stores::META)?;
        let facts = [
            ("schema_version", Version::CURRENT.number()),
            ("compat_version", Version::COMPAT.number()),
        ];
        for (key, value) in facts {
            meta.put(MetaRow { key: key.to_owned(), value }).serde()?.await?;
        }
        tx.commit().await?;
        Ok(Self { db })
    }

    /// The database's name.
    pub fn name(&self) -> String {
        self.db.name()
    }

    /// How many rows each object store holds, by store name (for checks that a failed write
    /// left nothing).
    pub async fn row_counts(&self) -> Result<BTreeMap<String, u32>, StoreError> {
        Ok(self.count_rows().await?)
    }

    async fn count_rows(&self) -> Result<BTreeMap<String, u32>, IdbError> {
        let tx = self.db.transaction(stores::ALL).build()?;
        let mut requests = Vec::with_capacity(stores::ALL.len());
        for name in stores::ALL {
            requests.push((name, tx.object_store(name)?.count().primitive()?));
        }
        let mut counts = BTreeMap::new();
        for (name, request) in requests {
            counts.insert(name.to_owned(), request.await?);
        }
        Ok(counts)
    }

    /// Closes the connection: requests already placed finish, new ones fail.
    pub fn close(&self) {
        // A clone is another handle on the same connection; closing it closes the connection.
        self.db.clone().close();
    }

    async fn write(&self, plan: &RoomWritePlan, writer: &str) -> Result<(), IdbError> {
        // Every row first: nothing but IndexedDB requests is awaited once the transaction is open.
        let rows = PlanRows::of(plan, writer)?;
        let tx =
            self.db.transaction(WRITTEN_BY_APPLY).with_mode(TransactionMode::Readwrite).build()?;
        let mut requests: Vec<VoidRequest> = Vec::new();
        {
            let store = |name: &str| tx.object_store(name);
            let state_groups = store(stores::STATE_GROUPS)?;
            let group_state = store(stores::STATE_GROUPS_STATE)?;
            let group_edges = store(stores::STATE_GROUP_EDGES)?;
            for row in &rows.state_groups {
                requests.push(state_groups.add(row).serde()?);
            }
            for row in &rows.state_group_edges {
                requests.push(group_edges.add(row).serde()?);
            }
            put_all(&group_state, &rows.state_groups_state, &mut requests)?;

            let events = store(stores::EVENTS)?;
            let event_json = store(stores::EVENT_JSON)?;
            let event_groups = store(stores::EVENT_TO_STATE_GROUPS)?;
            for ((event, json), group) in
                rows.events.iter().zip(&rows.event_json).zip(&rows.event_to_state_groups)
            {
                requests.push(events.add(event).serde()?);
                requests.push(event_json.add(json).serde()?);
                requests.push(event_groups.add(group).serde()?);
            }
            put_all(&store(stores::EVENT_EDGES)?, &rows.event_edges, &mut requests)?;
            put_all(&store(stores::ROOMS)?, &rows.rooms, &mut requests)?;

            if let Some(extremities) = &rows.forward_extremities {
                let store = store(stores::EVENT_FORWARD_EXTREMITIES)?;
                let room = JsValue::from_str(&rows.room_id);
                let whole_room = KeyRange::Bound(
                    key(std::slice::from_ref(&room)),
                    false,
                    key(&[room, js_sys::Array::new().into()]),
                    false,
                );
                requests.push(store.delete::<JsValue, _>(whole_room).primitive()?);
                put_all(&store, extremities, &mut requests)?;
            }

            let current_state = store(stores::CURRENT_STATE_EVENTS)?;
            for (event_type, state_key) in &plan.current_state_delta.to_delete {
                let row_key = key(&[
                    JsValue::from_str(&rows.room_id),
                    JsValue::from_str(event_type),
                    JsValue::from_str(state_key),
                ]);
                requests.push(current_state.delete::<JsValue, _>(row_key).primitive()?);
            }
            put_all(&current_state, &rows.current_state, &mut requests)?;
            put_all(&store(stores::ROOM_MEMBERSHIPS)?, &rows.memberships, &mut requests)?;
            put_all(&store(stores::STREAM_POSITIONS)?, &rows.stream_position, &mut requests)?;
        }
        // Requests complete in order: the first error is the one that aborted the transaction.
        for request in requests {
            request.await?;
        }
        commit(tx).await
    }

    async fn load_event(&self, event_id: &EventId) -> Result<Option<StoredEvent>, IdbError> {
        let tx = self.db.transaction([stores::EVENTS, stores::EVENT_JSON]).build()?;
        let id = event_id.as_str().to_owned();
        let row =
            tx.object_store(stores::EVENTS)?.get::<EventRow, String, _>(id.clone()).serde()?;
        let json = tx
            .object_store(stores::EVENT_JSON)?
            .get::<EventJsonRow, String, _>(id.clone())
            .serde()?;
        let (Some(row), Some(json)) = (row.await?, json.await?) else {
            return Ok(None);
        };
        let version = RoomVersion::parse(&json.room_version)
            .map_err(|error| IdbError::Unreadable(format!("{id}: {error}")))?;
        let pdu = Pdu::from_json_str(&json.json, &version)
            .map_err(|error| IdbError::Unreadable(format!("{id}: {error}")))?;
        let dict = serde_json::from_str(&json.internal_metadata)
            .map_err(|error| IdbError::Unreadable(format!("{id}: {error}")))?;
        let columns = InternalMetadataColumns::new(
            row.outlier,
            Some(row.stream_ordering),
            Some(row.instance_name),
        );
        let internal_metadata = InternalMetadata::from_parts(columns, dict);
        Ok(Some(StoredEvent { pdu, internal_metadata, rejected_reason: row.rejection }))
    }

    async fn get_row<T: DeserializeOwned>(
        &self,
        store: &str,
        key: &str,
    ) -> Result<Option<T>, IdbError> {
        let tx = self.db.transaction(store).build()?;
        let key = key.to_owned();
        let row = tx.object_store(store)?.get::<T, String, _>(key).serde()?.await?;
        Ok(row)
    }

    /// Every row of `store` whose `index` is `value`.
    async fn rows_by_index<T: DeserializeOwned>(
        &self,
        store: &str,
        index: &str,
        value: &str,
    ) -> Result<Vec<T>, IdbError> {
        let tx = self.db.transaction(store).build()?;
        let value = value.to_owned();
        let rows = tx
            .object_store(store)?
            .index(index)?
            .get_all::<T>()
            .with_query::<String, _>(value)
            .serde()?
            .await?;
        Ok(rows.collect::<Result<Vec<T>, _>>()?)
    }

    /// Every row of `store`.
    async fn all_rows<T: DeserializeOwned>(&self, store: &str) -> Result<Vec<T>, IdbError> {
        let tx = self.db.transaction(store).build()?;
        let rows = tx.object_store(store)?.get_all::<T>().serde()?.await?;
        Ok(rows.collect::<Result<Vec<T>, _>>()?)
    }

    /// Reads `event_to_state_groups`, then walks the group chain once: for each group, its edge
    /// and its rows are requested together; rows the filter does not match are skipped, members
    /// and non-members in the same pass, and a newer group's row hides an older one.
    async fn walk_state_at(
        &self,
        event_id: &EventId,
        filter: &StateFilter,
    ) -> Result<Option<StateIds>, IdbError> {
        let tx = self
            .db
            .transaction([
                stores::EVENT_TO_STATE_GROUPS,
                stores::STATE_GROUP_EDGES,
                stores::STATE_GROUPS_STATE,
            ])
            .build()?;
        let id = event_id.as_str().to_owned();
        let Some(start) = tx
            .object_store(stores::EVENT_TO_STATE_GROUPS)?
            .get::<EventToStateGroupRow, String, _>(id)
            .serde()?
            .await?
        else {
            return Ok(None);
        };
        let edges = tx.object_store(stores::STATE_GROUP_EDGES)?;
        let group_state = tx.object_store(stores::STATE_GROUPS_STATE)?;
        let by_group = group_state.index(indices::GROUP_STATE_BY_GROUP)?;
        let filter = (!filter.is_full()).then_some(filter);
        let limit = filter.and_then(StateFilter::max_entries_returned);
        let mut state = StateIds::new();
        let mut next = Some(start.state_group);
        let mut seen = BTreeSet::new();
        while let Some(group) = next {
            if limit.is_some_and(|limit| state.len() >= limit) {
                break;
            }
            if !seen.insert(group) {
                return Err(IdbError::Unreadable(format!("state group {group} is in a cycle")));
            }
            let edge = edges.get::<StateGroupEdgeRow, f64, _>(group as f64).serde()?;
            let rows = by_group
                .get_all::<StateGroupStateRow>()
                .with_query::<f64, _>(group as f64)
                .serde()?;
            for row in rows.await? {
                let row = row?;
                if filter.is_some_and(|filter| !filter.matches(&row.event_type, &row.state_key)) {
                    continue;
                }
                let key = (row.event_type, row.state_key);
                if let Entry::Vacant(entry) = state.entry(key) {
                    entry.insert(event_id_of(&row.event_id)?);
                }
            }
            next = edge.await?.map(|edge| edge.prev_state_group);
        }
        Ok(Some(state))
    }
}

/// Commits `tx`. When the browser aborts it at commit instead (Chromium checks the quota there:
/// every request succeeded, then the transaction fails with `QuotaExceededError`), the
/// transaction's `error` says why; indexed_db_futures reports only that it was aborted.
async fn commit(tx: Transaction<'_>) -> Result<(), IdbError> {
    let handle = JsValue::from(tx.as_sys().clone());
    tx.commit().await.map_err(|error| abort_reason(&handle).unwrap_or_else(|| error.into()))
}

/// The `DOMException` a finished transaction failed with, if any.
fn abort_reason(tx: &JsValue) -> Option<IdbError> {
    let error = js_sys::Reflect::get(tx, &JsValue::from_str("error")).ok()?;
    if error.is_null() || error.is_undefined() {
        return None;
    }
    let text =
        |field: &str| js_sys::Reflect::get(&error, &JsValue::from_str(field)).ok()?.as_string();
    Some(IdbError::from_dom(&text("name")?, text("message").unwrap_or_default()))
}

/// A compound key: a JS array of its parts.
fn key(parts: &[JsValue]) -> JsValue {
    parts.iter().collect::<js_sys::Array>().into()
}

fn event_id_of(id: &str) -> Result<OwnedEventId, IdbError> {
    OwnedEventId::try_from(id).map_err(|error| IdbError::Unreadable(format!("{id}: {error}")))
}

fn put_all<T: serde::Serialize>(
    store: &ObjectStore<'_>,
    rows: &[T],
    requests: &mut Vec<VoidRequest>,
) -> Result<(), IdbError> {
    for row in rows {
        requests.push(store.put(row).serde()?);
    }
    Ok(())
}

/// Every row one room chunk writes, computed before the transaction opens.
struct PlanRows {
    room_id: String,
    events: Vec<EventRow>,
    event_json: Vec<EventJsonRow>,
    event_to_state_groups: Vec<EventToStateGroupRow>,
    event_edges: Vec<EventEdgeRow>,
    rooms: Vec<RoomRow>,
    forward_extremities: Option<Vec<ForwardExtremityRow>>,
    current_state: Vec<CurrentStateRow>,
    memberships: Vec<RoomMembershipRow>,
    state_groups: Vec<StateGroupRow>,
    state_group_edges: Vec<StateGroupEdgeRow>,
    state_groups_state: Vec<StateGroupStateRow>,
    stream_position: Vec<StreamPositionRow>,
}

impl PlanRows {
    fn of(plan: &RoomWritePlan, writer: &str) -> Result<Self, IdbError> {
        let room_id = plan.room_id.to_string();
        let mut rows = Self {
            room_id: room_id.clone(),
            events: Vec::with_capacity(plan.events.len()),
            event_json: Vec::with_capacity(plan.events.len()),
            event_to_state_groups: Vec::with_capacity(plan.events.len()),
            event_edges: Vec::new(),
            rooms: Vec::new(),
            forward_extremities: plan.forward_extremities.as_ref().map(|extremities| {
                extremities
                    .iter()
                    .map(|event_id| ForwardExtremityRow {
                        room_id: room_id.clone(),
                        event_id: event_id.clone(),
                    })
                    .collect()
            }),
            current_state: plan
                .current_state_delta
                .to_insert
                .iter()
                .map(|((event_type, state_key), event_id, membership)| CurrentStateRow {
                    room_id: room_id.clone(),
                    event_type: event_type.clone(),
                    state_key: state_key.clone(),
                    event_id: event_id.to_string(),
                    membership: membership.clone(),
                })
                .collect(),
            memberships: plan
                .memberships
                .iter()
                .map(|row| RoomMembershipRow {
                    event_id: row.event_id.to_string(),
                    room_id: room_id.clone(),
                    user_id: row.user_id.clone(),
                    sender: row.sender.clone(),
                    membership: row.membership.clone(),
                    display_name: row.display_name.clone(),
                    avatar_url: row.avatar_url.clone(),
                })
                .collect(),
            state_groups: Vec::new(),
            state_group_edges: Vec::new(),
            state_groups_state: Vec::new(),
            stream_position: Vec::new(),
        };
        for group in &plan.state_groups {
            rows.state_groups.push(StateGroupRow {
                id: group.id,
                room_id: room_id.clone(),
                event_id: group.event_id.to_string(),
            });
            if let Some(prev) = group.prev_group {
                rows.state_group_edges
                    .push(StateGroupEdgeRow { state_group: group.id, prev_state_group: prev });
            }
            for ((event_type, state_key), event_id) in &group.delta {
                rows.state_groups_state.push(StateGroupStateRow {
                    state_group: group.id,
                    event_type: event_type.clone(),
                    state_key: state_key.clone(),
                    event_id: event_id.to_string(),
                });
            }
        }
        for event in &plan.events {
            let pdu = &event.pdu;
            let event_id = pdu.event_id().to_string();
            let format_version = pdu.format_version().number();
            if pdu.event_type() == "m.room.create" && pdu.state_key() == Some("") {
                rows.rooms.push(RoomRow {
                    room_id: room_id.clone(),
                    room_version: pdu.room_version().as_str().to_owned(),
                    creator: pdu.sender().to_string(),
                });
            }
            if event.outcome != EventOutcome::Rejected {
                for prev in pdu.prev_events() {
                    rows.event_edges.push(EventEdgeRow {
                        event_id: event_id.clone(),
                        prev_event_id: prev.to_string(),
                    });
                }
            }
            let metadata = InternalMetadata {
                stream_ordering: Some(event.stream_ordering),
                instance_name: Some(writer.to_owned()),
                soft_failed: event.outcome == EventOutcome::SoftFailed,
                outlier: event.outcome == EventOutcome::Outlier,
                ..InternalMetadata::default()
            };
            let (columns, dict) = metadata.split();
            let json = serde_json::to_string(pdu.as_object())
                .map_err(|error| IdbError::Unreadable(format!("{event_id}: {error}")))?;
            let internal_metadata = serde_json::to_string(&dict)
                .map_err(|error| IdbError::Unreadable(format!("{event_id}: {error}")))?;
            rows.events.push(EventRow {
                event_id: event_id.clone(),
                room_id: room_id.clone(),
                event_type: pdu.event_type().to_owned(),
                state_key: pdu.state_key().map(str::to_owned),
                sender: pdu.sender().to_string(),
                depth: pdu.depth().into(),
                stream_ordering: event.stream_ordering,
                instance_name: writer.to_owned(),
                outlier: columns.outlier,
                format_version,
                rejection: (event.outcome == EventOutcome::Rejected)
                    .then(|| "auth_error".to_owned()),
            });
            rows.event_json.push(EventJsonRow {
                event_id: event_id.clone(),
                room_version: pdu.room_version().as_str().to_owned(),
                format_version,
                json,
                internal_metadata,
            });
            rows.event_to_state_groups
                .push(EventToStateGroupRow { event_id, state_group: event.state_group });
        }
        let position =
            plan.events.iter().map(|event| event.stream_ordering).filter(|o| *o > 0).max();
        if let Some(stream_id) = position {
            rows.stream_position.push(StreamPositionRow {
                stream_name: EVENTS_STREAM.to_owned(),
                instance_name: writer.to_owned(),
                stream_id,
            });
        }
        Ok(rows)
    }
}

impl Store for IndexedDbStore {
    async fn apply(&self, plan: &RoomWritePlan, writer: &str) -> Result<(), StoreError> {
        Ok(self.write(plan, writer).await?)
    }

    async fn room_version(&self, room_id: &str) -> Result<Option<RoomVersion>, StoreError> {
        let Some(row) = self.get_row::<RoomRow>(stores::ROOMS, room_id).await? else {
            return Ok(None);
        };
        RoomVersion::parse(&row.room_version)
            .map(Some)
            .map_err(|error| StoreError::Corrupt(format!("{room_id}: {error}")))
    }

    async fn rooms(&self) -> Result<BTreeSet<String>, StoreError> {
        let rows: Vec<RoomRow> = self.all_rows(stores::ROOMS).await?;
        Ok(rows.into_iter().map(|row| row.room_id).collect())
    }

    async fn event(&self, event_id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
        Ok(self.load_event(event_id).await?)
    }

    async fn forward_extremities(&self, room_id: &str) -> Result<BTreeSet<String>, StoreError> {
        let rows: Vec<ForwardExtremityRow> = self
            .rows_by_index(stores::EVENT_FORWARD_EXTREMITIES, indices::EXTREMITIES_BY_ROOM, room_id)
            .await?;
        Ok(rows.into_iter().map(|row| row.event_id).collect())
    }

    async fn current_state(
        &self,
        room_id: &str,
        filter: &StateFilter,
    ) -> Result<StateIds, StoreError> {
        let rows: Vec<CurrentStateRow> = self
            .rows_by_index(stores::CURRENT_STATE_EVENTS, indices::CURRENT_STATE_BY_ROOM, room_id)
            .await?;
        let mut state = StateIds::new();
        for row in rows {
            if filter.matches(&row.event_type, &row.state_key) {
                state.insert((row.event_type, row.state_key), event_id_of(&row.event_id)?);
            }
        }
        Ok(state)
    }

    async fn state_at_event(
        &self,
        event_id: &EventId,
        filter: &StateFilter,
    ) -> Result<Option<StateIds>, StoreError> {
        Ok(self.walk_state_at(event_id, filter).await?)
    }

    async fn memberships(&self, room_id: &str) -> Result<Vec<MembershipRow>, StoreError> {
        let rows: Vec<RoomMembershipRow> = self
            .rows_by_index(stores::ROOM_MEMBERSHIPS, indices::MEMBERSHIPS_BY_ROOM, room_id)
            .await?;
        let mut memberships = Vec::with_capacity(rows.len());
        for row in rows {
            memberships.push(MembershipRow {
                event_id: event_id_of(&row.event_id)?,
                user_id: row.user_id,
                sender: row.sender,
                membership: row.membership,
                display_name: row.display_name,
                avatar_url: row.avatar_url,
            });
        }
        Ok(memberships)
    }
}
