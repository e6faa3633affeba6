//! The reads of events: in batches with their state groups, to restore planning state, and the
//! events of a state; all requests of a batch issued in one transaction before any is awaited;
//! and how an event is read back from its row.

use ruma_common::{EventId, OwnedEventId, RoomId};
use serde_json::{json, Value as JsonValue};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use super::rows::EventRow;
use super::schema::stores;
use super::{
    dom_error, from_json_text, get_event_placements, get_event_rows, get_state_event_rows,
    IdbError, IndexedDbStore,
};
use crate::hashed::HashMap;
use crate::model::internal_metadata::{InternalMetadata, InternalMetadataColumns};
use crate::model::pdu::Pdu;
use crate::model::room_version::RoomVersion;
use crate::model::StateIds;
use crate::persist::state_groups::StateGroupId;
use crate::storage::{EventPlacement, PlanningEvent, StoredEvent};

impl IndexedDbStore {
    /// Events with their state groups, in the order of `event_ids` (`None` for one not stored).
    pub(super) async fn load_planning_events(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<PlanningEvent>>, IdbError> {
        let rows = self.load_event_rows(event_ids).await?;
        let planning = |row: EventRow| {
            let state_group = row.state_group;
            stored_event(row).map(|event| PlanningEvent { event, state_group })
        };
        rows.into_iter().map(|row| row.map(planning).transpose()).collect()
    }

    /// Where each of `event_ids` stands, in their order (`None` for one not stored), read
    /// together without the events (`getEventPlacements`).
    pub(super) async fn load_event_placements(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<EventPlacement>>, IdbError> {
        if event_ids.is_empty() {
            return Ok(Vec::new());
        }
        let db: &JsValue = self.db()?.as_ref();
        let keys = event_ids.iter().map(|id| id.as_str().to_owned()).collect();
        let read = JsFuture::from(get_event_placements(db, keys)).await.map_err(dom_error)?;
        let rows: Vec<Option<PlacementRow>> = from_json_text(read, stores::EVENTS)?;
        let placement = |(outlier, stream_ordering, instance_name, state_group)| EventPlacement {
            outlier,
            stream_ordering,
            instance_name: Some(instance_name),
            state_group,
        };
        Ok(rows.into_iter().map(|row| row.map(placement)).collect())
    }

    /// The PDUs of a state's events, in its order (`None` for one not stored). The events of a
    /// type the state holds many of (a large room's members) are read through the `events`
    /// index `state` in one request, the others one by one (`getStateEvents`).
    pub(super) async fn load_state_pdus(
        &self,
        state: &StateIds,
    ) -> Result<Vec<Option<Pdu>>, IdbError> {
        let db: &JsValue = self.db()?.as_ref();
        let mut by_type: HashMap<&str, Vec<&str>> = HashMap::default();
        for ((event_type, _), event_id) in state {
            by_type.entry(event_type).or_default().push(event_id.as_str());
        }
        let (mut ranges, mut keys) = (Vec::new(), Vec::new());
        for (event_type, ids) in by_type {
            if ids.len() >= RANGE_MIN {
                ranges.push(json!([event_type, ids.len() * RANGE_ROWS_PER_EVENT, ids]));
            } else {
                keys.extend(ids.into_iter().map(str::to_owned));
            }
        }
        let ranges = JsonValue::Array(ranges).to_string();
        let read = JsFuture::from(get_state_event_rows(db, &ranges, keys));
        let rows = event_rows(read.await.map_err(dom_error)?)?;
        let mut by_id: HashMap<String, EventRow> =
            rows.into_iter().flatten().map(|row| (row.event_id.clone(), row)).collect();
        state
            .values()
            .map(|id| by_id.remove(id.as_str()).map(|row| stored_pdu(&row)).transpose())
            .collect()
    }

    /// The `events` rows of `event_ids`, in their order, read together (`getEvents`).
    pub(super) async fn load_event_rows(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<EventRow>>, IdbError> {
        if event_ids.is_empty() {
            return Ok(Vec::new());
        }
        let db: &JsValue = self.db()?.as_ref();
        let keys = event_ids.iter().map(|id| id.as_str().to_owned()).collect();
        let read = JsFuture::from(get_event_rows(db, keys)).await.map_err(dom_error)?;
        event_rows(read)
    }
}

/// What `getEventPlacements` reads of an `events` row: `[outlier, stream_ordering,
/// instance_name, state_group]`.
type PlacementRow = (bool, i64, String, Option<StateGroupId>);

/// Fewest events of one type a state read asks for through the `events` index `state` in one
/// request rather than one by one: a request costs far more than a row.
const RANGE_MIN: usize = 64;

/// How many rows such a request may return per event asked for, since it also returns the
/// room's older events of the type (a member's earlier joins, leaves and profile changes); the
/// events it stops short of are read one by one.
const RANGE_ROWS_PER_EVENT: usize = 3;

/// Event rows as `requests.js` returns them: `[columns, texts]`, the rows' JSON text without
/// their PDU texts, and those texts as JS strings beside it (see `withTexts`).
pub(super) fn event_rows(read: JsValue) -> Result<Vec<Option<EventRow>>, IdbError> {
    let read = js_sys::Array::from(&read);
    let mut rows: Vec<Option<EventRow>> = from_json_text(read.get(0), stores::EVENTS)?;
    let texts = js_sys::Array::from(&read.get(1));
    for (index, row) in rows.iter_mut().enumerate() {
        let Some(row) = row else { continue };
        // At most as many rows as requests in one transaction, and so fewer than 2^32.
        let text = texts.get(index as u32).as_string();
        row.json =
            text.ok_or_else(|| IdbError::Unreadable(format!("{}: no json", row.event_id)))?;
    }
    Ok(rows)
}

/// A PDU from its `events` row, parsed by the room version stored with it (and as an event in
/// client format when it came from `/sync`).
fn stored_pdu(row: &EventRow) -> Result<Pdu, IdbError> {
    let unreadable =
        |error: &dyn std::fmt::Display| IdbError::Unreadable(format!("{}: {error}", row.event_id));
    let version = RoomVersion::parse(&row.room_version).map_err(|error| unreadable(&error))?;
    if row.client_format {
        let room_id = RoomId::parse(&row.room_id).map_err(|error| unreadable(&error))?;
        return Pdu::from_stored_client_json(&row.json, &version, &room_id)
            .map_err(|error| unreadable(&error));
    }
    let event_id = EventId::parse(&row.event_id).map_err(|error| unreadable(&error))?;
    Pdu::from_stored_json(&row.json, &version, &event_id).map_err(|error| unreadable(&error))
}

/// An event as loaded from its `events` row: parsed by its room version, internal metadata
/// joined from the row's columns and the stored dict.
pub(super) fn stored_event(row: EventRow) -> Result<StoredEvent, IdbError> {
    let unreadable =
        |error: &dyn std::fmt::Display| IdbError::Unreadable(format!("{}: {error}", row.event_id));
    let pdu = stored_pdu(&row)?;
    let dict = serde_json::from_str(&row.internal_metadata).map_err(|error| unreadable(&error))?;
    let columns = InternalMetadataColumns::new(
        row.outlier,
        Some(row.stream_ordering),
        Some(row.instance_name),
    );
    let internal_metadata = InternalMetadata::from_parts(columns, dict);
    Ok(StoredEvent { pdu, internal_metadata, rejected_reason: row.rejection })
}
