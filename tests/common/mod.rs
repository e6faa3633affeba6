//! Fixtures shared by the integration tests: outputs of a real Synapse 1.163.2.
#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::Value as JsonValue;

/// `scenarios.json`: room state, the invite/knock, and the `invite_state`/`knock_state` Synapse sent.
pub fn scenarios() -> Vec<JsonValue> {
    let all: JsonValue =
        serde_json::from_str(include_str!("../fixtures/synapse-1.163.2/scenarios.json")).unwrap();
    all["scenarios"].as_array().unwrap().clone()
}

/// `scenarios.json`'s three users' initial `/sync` responses, by user id.
pub fn initial_syncs() -> JsonValue {
    let all: JsonValue =
        serde_json::from_str(include_str!("../fixtures/synapse-1.163.2/scenarios.json")).unwrap();
    all["initial_syncs"].clone()
}

/// `config-variants.json`: the same kind of records from Synapse run with four prejoin configs.
pub fn config_variants() -> Vec<JsonValue> {
    let all: JsonValue =
        serde_json::from_str(include_str!("../fixtures/synapse-1.163.2/config-variants.json"))
            .unwrap();
    all["scenarios"].as_array().unwrap().clone()
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

pub mod conformance;

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
