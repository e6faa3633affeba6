//! A replication row: one event of the events stream, as every tab's subscribers receive it.

use serde::{Deserialize, Serialize};
use serde_json::Value as JsonValue;

use crate::model::pdu::Pdu;
use crate::model::state_filter::MEMBER_EVENT_TYPE;

/// One event on the events stream (Synapse's `EventsStreamEventRow`, with the event itself
/// beside it, so that a tab applies it without reading the store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationRow {
    /// Its position on the events stream: the id its chunk took for it. That is its stream
    /// ordering, except for an outlier that later arrived in the room's DAG, whose row comes
    /// again at the id it then took (its ordering stays the outlier's).
    pub stream_ordering: i64,
    /// The writer (tab) that stored it.
    pub instance_name: String,
    /// Its room.
    pub room_id: String,
    /// Its id.
    pub event_id: String,
    /// `type`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// `state_key`; `None` for a non-state event.
    pub state_key: Option<String>,
    /// `content.membership` of a member event with a string one; `None` otherwise.
    pub membership: Option<String>,
    /// The event as `getEvent` gives it: the PDU (or the client-format event from `/sync`)
    /// with its `event_id`.
    pub event: JsonValue,
}

impl ReplicationRow {
    /// The row of `pdu`, stored by `instance_name` at `stream_ordering`.
    pub fn new(pdu: &Pdu, stream_ordering: i64, instance_name: &str) -> Self {
        let membership = (pdu.event_type() == MEMBER_EVENT_TYPE)
            .then(|| pdu.content().get("membership").and_then(|value| value.as_str()))
            .flatten()
            .map(str::to_owned);
        Self {
            stream_ordering,
            instance_name: instance_name.to_owned(),
            room_id: pdu.room_id().to_string(),
            event_id: pdu.event_id().to_string(),
            event_type: pdu.event_type().to_owned(),
            state_key: pdu.state_key().map(str::to_owned),
            membership,
            event: ruma_common::CanonicalJsonValue::Object(pdu.to_json_with_ids()).into(),
        }
    }
}
