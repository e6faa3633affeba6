//! The internal metadata of a stored event: what the server knows about an event beyond its JSON.
//!
//! Synapse: `rust/src/events/internal_metadata.rs` (`EventInternalMetadata`, `get_dict`) and
//! `synapse/storage/databases/main/events.py` (`_store_event_txn`). Some values are columns of
//! the `events` table (`outlier`, `stream_ordering`, `instance_name`); the rest are the JSON dict of
//! `event_json.internal_metadata`. A value is stored in one place only: [`InternalMetadata::split`]
//! divides them, [`InternalMetadata::from_parts`] joins them again when an event is loaded.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as JsonValue;

/// Keys that are columns of `events`: never written into the stored dict, and dropped from a
/// stored dict that has them (the column is the truth, as when Synapse loads an event).
const COLUMN_KEYS: [&str; 3] = ["outlier", "stream_ordering", "instance_name"];

/// The internal metadata of an event, as an attribute of the loaded event.
///
/// Flags that are absent read as `false`, as Synapse's `is_soft_failed()` and friends do. Keys
/// this type does not name (`device_id`, `token_id`, `send_on_behalf_of`, `recheck_redaction`,
/// `proactively_send`, …) are kept as they came in [`other`](Self::other).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InternalMetadata {
    /// The event is not part of the room DAG as this store knows it: its state is unknown (an
    /// invite received out of band, an auth event fetched for another event). Column.
    #[serde(default)]
    pub outlier: bool,
    /// The position of the event in the events stream; negative for backfilled events, `None`
    /// until persisted. Column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_ordering: Option<i64>,
    /// The writer (a browser tab) that persisted the event. Column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_name: Option<String>,
    /// The event passed authorisation against the state before it but failed against the room's
    /// current state: stored, never a forward extremity, never sent to clients.
    #[serde(default, skip_serializing_if = "is_false")]
    pub soft_failed: bool,
    /// A membership event of a room the user is not joined to (an invite, a knock, or their
    /// rejection), handled as a new event although it is an outlier.
    #[serde(default, skip_serializing_if = "is_false")]
    pub out_of_band_membership: bool,
    /// The client transaction id the event was sent with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txn_id: Option<String>,
    /// The event has been redacted (its loaded JSON is pruned).
    #[serde(default, skip_serializing_if = "is_false")]
    pub redacted: bool,
    /// Every other key, untouched.
    #[serde(flatten)]
    pub other: BTreeMap<String, JsonValue>,
}

/// The internal metadata kept as columns of the `events` row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InternalMetadataColumns {
    /// `events.outlier`.
    pub outlier: bool,
    /// `events.stream_ordering`.
    pub stream_ordering: Option<i64>,
    /// `events.instance_name`.
    pub instance_name: Option<String>,
}

impl InternalMetadataColumns {
    /// The columns of a row.
    pub fn new(outlier: bool, stream_ordering: Option<i64>, instance_name: Option<String>) -> Self {
        Self { outlier, stream_ordering, instance_name }
    }
}

/// The internal metadata kept as the JSON dict `event_json.internal_metadata`: everything but the
/// columns, as Synapse's `get_dict()`.
///
/// It serialises as that dict: a flag only when set, a text only when present, then the other
/// keys. Reading a dict never fails: a known key of the wrong type is dropped, as Synapse drops it
/// (with a warning) on load, and column keys are dropped (see [`InternalMetadata::from_parts`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "BTreeMap<String, JsonValue>", into = "BTreeMap<String, JsonValue>")]
#[non_exhaustive]
pub struct InternalMetadataDict {
    /// `soft_failed`.
    pub soft_failed: bool,
    /// `out_of_band_membership`.
    pub out_of_band_membership: bool,
    /// `txn_id`.
    pub txn_id: Option<String>,
    /// `redacted`.
    pub redacted: bool,
    /// Every other key.
    pub other: BTreeMap<String, JsonValue>,
}

impl InternalMetadata {
    /// Metadata with nothing set: not an outlier, not persisted yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Divides the metadata into the `events` columns and the stored dict, so that no value is
    /// stored twice.
    pub fn split(self) -> (InternalMetadataColumns, InternalMetadataDict) {
        let Self {
            outlier,
            stream_ordering,
            instance_name,
            soft_failed,
            out_of_band_membership,
            txn_id,
            redacted,
            mut other,
        } = self;
        for key in COLUMN_KEYS {
            other.remove(key);
        }
        (
            InternalMetadataColumns { outlier, stream_ordering, instance_name },
            InternalMetadataDict { soft_failed, out_of_band_membership, txn_id, redacted, other },
        )
    }

    /// Joins a row's columns and its stored dict into the metadata of the loaded event. A column
    /// key in the dict never overrides the column.
    pub fn from_parts(columns: InternalMetadataColumns, dict: InternalMetadataDict) -> Self {
        let InternalMetadataColumns { outlier, stream_ordering, instance_name } = columns;
        let InternalMetadataDict {
            soft_failed,
            out_of_band_membership,
            txn_id,
            redacted,
            mut other,
        } = dict;
        for key in COLUMN_KEYS {
            other.remove(key);
        }
        Self {
            outlier,
            stream_ordering,
            instance_name,
            soft_failed,
            out_of_band_membership,
            txn_id,
            redacted,
            other,
        }
    }
}

impl From<BTreeMap<String, JsonValue>> for InternalMetadataDict {
    fn from(mut other: BTreeMap<String, JsonValue>) -> Self {
        let mut flag = |key: &str| matches!(other.remove(key), Some(JsonValue::Bool(true)));
        let soft_failed = flag("soft_failed");
        let out_of_band_membership = flag("out_of_band_membership");
        let redacted = flag("redacted");
        let txn_id = match other.remove("txn_id") {
            Some(JsonValue::String(txn_id)) => Some(txn_id),
            _ => None,
        };
        for key in COLUMN_KEYS {
            other.remove(key);
        }
        Self { soft_failed, out_of_band_membership, txn_id, redacted, other }
    }
}

impl From<InternalMetadataDict> for BTreeMap<String, JsonValue> {
    fn from(dict: InternalMetadataDict) -> Self {
        let InternalMetadataDict {
            soft_failed,
            out_of_band_membership,
            txn_id,
            redacted,
            mut other,
        } = dict;
        for key in COLUMN_KEYS {
            other.remove(key);
        }
        let flags = [
            ("soft_failed", soft_failed),
            ("out_of_band_membership", out_of_band_membership),
            ("redacted", redacted),
        ];
        for (key, set) in flags {
            if set {
                other.insert(key.to_owned(), JsonValue::Bool(true));
            }
        }
        if let Some(txn_id) = txn_id {
            other.insert("txn_id".to_owned(), JsonValue::String(txn_id));
        }
        other
    }
}

fn is_false(value: &bool) -> bool {
    !value
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{InternalMetadata, InternalMetadataColumns, InternalMetadataDict};

    fn metadata() -> InternalMetadata {
        let mut metadata = InternalMetadata::new();
        metadata.outlier = true;
        metadata.stream_ordering = Some(-4);
        metadata.instance_name = Some("tab-1".into());
        metadata.soft_failed = true;
        metadata.txn_id = Some("m1".into());
        metadata.other.insert("device_id".into(), json!("CUKLNTUCPJ"));
        metadata
    }

    #[test]
    fn columns_are_not_duplicated_in_the_stored_dict() {
        let (columns, dict) = metadata().split();
        assert_eq!(columns, InternalMetadataColumns::new(true, Some(-4), Some("tab-1".into())));
        assert_eq!(
            serde_json::to_value(&dict).unwrap(),
            json!({"soft_failed": true, "txn_id": "m1", "device_id": "CUKLNTUCPJ"})
        );
        assert_eq!(InternalMetadata::from_parts(columns, dict), metadata());
    }

    #[test]
    fn the_stored_dict_round_trips_through_json() {
        let (columns, dict) = metadata().split();
        let text = serde_json::to_string(&dict).unwrap();
        let read: InternalMetadataDict = serde_json::from_str(&text).unwrap();
        assert_eq!(read, dict);
        assert_eq!(InternalMetadata::from_parts(columns, read), metadata());
    }

    #[test]
    fn the_whole_metadata_round_trips_through_json() {
        let value = serde_json::to_value(metadata()).unwrap();
        assert_eq!(
            value,
            json!({"outlier": true, "stream_ordering": -4, "instance_name": "tab-1",
                   "soft_failed": true, "txn_id": "m1", "device_id": "CUKLNTUCPJ"})
        );
        assert_eq!(serde_json::from_value::<InternalMetadata>(value).unwrap(), metadata());
        let empty = serde_json::to_value(InternalMetadata::new()).unwrap();
        assert_eq!(empty, json!({"outlier": false}));
    }

    #[test]
    fn a_stored_dict_never_overrides_the_columns_and_never_fails() {
        let stored = json!({"outlier": true, "stream_ordering": 9, "instance_name": "x",
                            "soft_failed": "yes", "redacted": true, "txn_id": 5, "token_id": 7});
        let dict: InternalMetadataDict = serde_json::from_value(stored).unwrap();
        let columns = InternalMetadataColumns::new(false, Some(3), Some("master".into()));
        let metadata = InternalMetadata::from_parts(columns, dict);
        assert!(!metadata.outlier);
        assert_eq!(metadata.stream_ordering, Some(3));
        assert_eq!(metadata.instance_name.as_deref(), Some("master"));
        assert!(!metadata.soft_failed, "a flag of the wrong type is dropped");
        assert!(metadata.redacted);
        assert_eq!(metadata.txn_id, None);
        assert_eq!(serde_json::to_value(&metadata.other).unwrap(), json!({"token_id": 7}));
    }

    #[test]
    fn column_keys_in_other_are_not_stored() {
        let mut metadata = metadata();
        metadata.other.insert("stream_ordering".into(), json!(1));
        let (_, dict) = metadata.split();
        assert!(!serde_json::to_value(dict)
            .unwrap()
            .as_object()
            .unwrap()
            .contains_key("stream_ordering"));
    }
}
