//! Fixtures shared by the integration tests: outputs of a real Synapse 1.163.2.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

#[cfg(feature = "store")]
use prejoin::model::pdu::Pdu;
#[cfg(feature = "store")]
use prejoin::model::room_version::RoomVersion;
#[cfg(feature = "store")]
use prejoin::persist::StateIds;
use ruma_common::OwnedEventId;
use serde_json::Value as JsonValue;

/// A fixture file of `tests/fixtures/synapse-1.163.2/`, parsed (embedded, so wasm tests read it too).
pub fn fixture(name: &str) -> JsonValue {
    let text = match name {
        "scenarios.json" => include_str!("../fixtures/synapse-1.163.2/scenarios.json"),
        "config-variants.json" => include_str!("../fixtures/synapse-1.163.2/config-variants.json"),
        "pdus.json" => include_str!("../fixtures/synapse-1.163.2/pdus.json"),
        "forks.json" => include_str!("../fixtures/synapse-1.163.2/forks.json"),
        "softfail.json" => include_str!("../fixtures/synapse-1.163.2/softfail.json"),
        "sync-series.json" => include_str!("../fixtures/synapse-1.163.2/sync-series.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).unwrap()
}

/// A fixture state: `"type\u0000state_key"` → event id, or rows of `{type, state_key, event_id}`.
pub fn expected_state(value: &JsonValue) -> BTreeMap<(String, String), String> {
    match value {
        JsonValue::Object(map) => map
            .iter()
            .map(|(key, id)| {
                let (event_type, state_key) = key.split_once('\u{0}').unwrap();
                ((event_type.to_owned(), state_key.to_owned()), id.as_str().unwrap().to_owned())
            })
            .collect(),
        JsonValue::Array(rows) => rows
            .iter()
            .map(|row| {
                let text = |field: &str| row[field].as_str().unwrap().to_owned();
                ((text("type"), text("state_key")), text("event_id"))
            })
            .collect(),
        other => panic!("not a state: {other}"),
    }
}

/// Our state in the fixtures' terms.
#[cfg(feature = "store")]
pub fn state_map(state: &StateIds) -> BTreeMap<(String, String), String> {
    state.iter().map(|(key, id)| (key.clone(), id.to_string())).collect()
}

/// A JSON list of ids as a set.
pub fn id_set(value: &JsonValue) -> BTreeSet<String> {
    value.as_array().unwrap().iter().map(|id| id.as_str().unwrap().to_owned()).collect()
}

/// An event id from a fixture.
pub fn event_id(id: &str) -> OwnedEventId {
    OwnedEventId::try_from(id).unwrap()
}

/// A `pdus.json` room's PDUs, parsed with its room version, in stream order.
#[cfg(feature = "store")]
pub fn room_pdus(room: &JsonValue) -> Vec<Pdu> {
    let version = RoomVersion::parse(room["room_version"].as_str().unwrap()).unwrap();
    room["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| Pdu::from_json_value(event["pdu"].clone(), &version).unwrap())
        .collect()
}

/// A `forks.json` room's event ids in list order (its batches, flattened), with each id's PDU.
pub fn fork_order(room: &JsonValue) -> (Vec<String>, BTreeMap<String, JsonValue>) {
    let order: Vec<String> = room["batches"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|batch| batch.as_array().unwrap())
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    let pdus =
        order.iter().cloned().zip(room["pdus"].as_array().unwrap().iter().cloned()).collect();
    (order, pdus)
}

/// A `softfail.json` room's PDUs by event id (`pdus` lists them in `arrival_order`).
pub fn softfail_pdus(room: &JsonValue) -> BTreeMap<String, JsonValue> {
    let ids = room["arrival_order"].as_array().unwrap().iter();
    ids.map(|id| id.as_str().unwrap().to_owned())
        .zip(room["pdus"].as_array().unwrap().iter().cloned())
        .collect()
}

/// `scenarios.json`: room state, the invite/knock, and the `invite_state`/`knock_state` Synapse sent.
pub fn scenarios() -> Vec<JsonValue> {
    fixture("scenarios.json")["scenarios"].as_array().unwrap().clone()
}

/// `scenarios.json`'s three users' initial `/sync` responses, by user id.
pub fn initial_syncs() -> JsonValue {
    fixture("scenarios.json")["initial_syncs"].clone()
}

/// `config-variants.json`: the same kind of records from Synapse run with four prejoin configs.
pub fn config_variants() -> Vec<JsonValue> {
    fixture("config-variants.json")["scenarios"].as_array().unwrap().clone()
}

/// The scenario called `name`.
pub fn scenario(name: &str) -> JsonValue {
    scenarios().into_iter().find(|s| s["name"] == name).unwrap()
}

/// The invite or knock event of a scenario: the target's member event in its state.
pub fn membership_event(scenario: &JsonValue) -> JsonValue {
    scenario["state"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| {
            event["type"] == "m.room.member" && event["state_key"] == scenario["target_user"]
        })
        .unwrap()
        .clone()
}

/// The state a Synapse state group holds: its deltas, following `prev_state_group` to the root.
pub fn synapse_group_state(room: &JsonValue, group: i64) -> BTreeMap<(String, String), String> {
    let prev_of: BTreeMap<i64, i64> = room["state_group_edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| {
            (edge["state_group"].as_i64().unwrap(), edge["prev_state_group"].as_i64().unwrap())
        })
        .collect();
    let mut chain = vec![group];
    while let Some(prev) = prev_of.get(chain.last().unwrap()) {
        chain.push(*prev);
    }
    let mut state = BTreeMap::new();
    for group in chain.iter().rev() {
        for row in room["state_groups_state"].as_array().unwrap() {
            if row["state_group"].as_i64() == Some(*group) {
                let key = (
                    row["type"].as_str().unwrap().to_owned(),
                    row["state_key"].as_str().unwrap().to_owned(),
                );
                state.insert(key, row["event_id"].as_str().unwrap().to_owned());
            }
        }
    }
    state
}

#[cfg(target_arch = "wasm32")]
pub mod bindings;

#[cfg(feature = "store")]
pub mod conformance;
#[cfg(feature = "store")]
pub mod interposed;
#[cfg(feature = "store")]
pub mod replication;
#[cfg(feature = "store")]
pub mod sync_series;
#[cfg(feature = "store")]
pub mod synthetic;

/// Runs a future to completion on this thread. The memory backend never waits, so polling with
/// a no-op waker until ready is enough (and keeps an async runtime out of the dependencies).
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}
