//! The reads that restore planning state: events in batches with their state groups, all
//! requests of a batch issued in one transaction before any is awaited.

use indexed_db_futures::prelude::*;
use ruma_common::OwnedEventId;

use super::rows::{EventJsonRow, EventRow, EventToStateGroupRow};
use super::schema::stores;
use super::{IdbError, IndexedDbStore};
use crate::model::internal_metadata::{InternalMetadata, InternalMetadataColumns};
use crate::model::pdu::Pdu;
use crate::model::room_version::RoomVersion;
use crate::storage::{PlanningEvent, StoredEvent};

impl IndexedDbStore {
    /// Events with their state groups, in the order of `event_ids` (`None` for one not stored).
    pub(super) async fn load_planning_events(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<PlanningEvent>>, IdbError> {
        let tx = self
            .db()?
            .transaction([stores::EVENTS, stores::EVENT_JSON, stores::EVENT_TO_STATE_GROUPS])
            .build()?;
        let (events, json, groups) = (
            tx.object_store(stores::EVENTS)?,
            tx.object_store(stores::EVENT_JSON)?,
            tx.object_store(stores::EVENT_TO_STATE_GROUPS)?,
        );
        let mut requests = Vec::with_capacity(event_ids.len());
        for id in event_ids {
            let key = id.as_str().to_owned();
            requests.push((
                events.get::<EventRow, String, _>(key.clone()).serde()?,
                json.get::<EventJsonRow, String, _>(key.clone()).serde()?,
                groups.get::<EventToStateGroupRow, String, _>(key).serde()?,
            ));
        }
        let mut found = Vec::with_capacity(requests.len());
        for (row, json, group) in requests {
            let (row, json, group) = (row.await?, json.await?, group.await?);
            found.push(match (row, json) {
                (Some(row), Some(json)) => Some(PlanningEvent {
                    event: stored_event(row, json)?,
                    state_group: group.map(|group| group.state_group),
                }),
                _ => None,
            });
        }
        Ok(found)
    }
}

impl IndexedDbStore {
    /// The PDUs of events from their `event_json` rows alone, in the order of `event_ids`.
    pub(super) async fn load_pdus(
        &self,
        event_ids: &[OwnedEventId],
    ) -> Result<Vec<Option<Pdu>>, IdbError> {
        let tx = self.db()?.transaction(stores::EVENT_JSON).build()?;
        let json = tx.object_store(stores::EVENT_JSON)?;
        let mut requests = Vec::with_capacity(event_ids.len());
        for id in event_ids {
            requests.push(json.get::<EventJsonRow, String, _>(id.as_str().to_owned()).serde()?);
        }
        let mut found = Vec::with_capacity(requests.len());
        for request in requests {
            found.push(request.await?.map(|row| stored_pdu(&row)).transpose()?);
        }
        Ok(found)
    }
}

/// A PDU from its `event_json` row, parsed by the room version stored with it.
fn stored_pdu(json: &EventJsonRow) -> Result<Pdu, IdbError> {
    let unreadable =
        |error: &dyn std::fmt::Display| IdbError::Unreadable(format!("{}: {error}", json.event_id));
    let version = RoomVersion::parse(&json.room_version).map_err(|error| unreadable(&error))?;
    Pdu::from_json_str(&json.json, &version).map_err(|error| unreadable(&error))
}

/// An event as loaded from its `events` and `event_json` rows: parsed by its room version,
/// internal metadata joined from the row's columns and the stored dict.
pub(super) fn stored_event(row: EventRow, json: EventJsonRow) -> Result<StoredEvent, IdbError> {
    let id = &row.event_id;
    let unreadable = |error: &dyn std::fmt::Display| IdbError::Unreadable(format!("{id}: {error}"));
    let pdu = stored_pdu(&json)?;
    let dict = serde_json::from_str(&json.internal_metadata).map_err(|error| unreadable(&error))?;
    let columns = InternalMetadataColumns::new(
        row.outlier,
        Some(row.stream_ordering),
        Some(row.instance_name),
    );
    let internal_metadata = InternalMetadata::from_parts(columns, dict);
    Ok(StoredEvent { pdu, internal_metadata, rejected_reason: row.rejection })
}
