//! Authorization, soft failure, state after every event, forward extremities and current state,
//! event by event, against what a real Synapse 1.163.2 computed for forked rooms (state
//! resolution v1, v2) and soft-failed events.
#![cfg(all(not(target_arch = "wasm32"), feature = "store"))]

mod common;

use common::synthetic::SyntheticRoom;
use common::{event_id, expected_state, fixture, id_set as ids, state_map as ours};

use std::collections::{BTreeMap, BTreeSet};

use prejoin::model::pdu::Pdu;
use prejoin::model::room_version::RoomVersion;
use prejoin::persist::{EventOutcome, RoomHistory};
use serde_json::{json, Value as JsonValue};

fn receive_all(
    room: &JsonValue,
    order: &[String],
    history: &mut RoomHistory,
    version: &RoomVersion,
    pdus: &BTreeMap<String, JsonValue>,
) {
    for id in order {
        let pdu = Pdu::from_json_value(pdus[id].clone(), version).unwrap();
        assert_eq!(
            pdu.event_id().as_str(),
            id,
            "{}: the fixture's id is the computed one",
            room["name"]
        );
        history.receive(pdu).unwrap_or_else(|error| panic!("{}: {id}: {error}", room["name"]));
    }
}

fn label<'a>(room: &'a JsonValue, id: &str) -> &'a str {
    room["labels"][id].as_str().unwrap_or("?")
}

#[test]
fn forked_rooms_match_synapse_event_by_event() {
    let fixture = fixture("forks.json");
    for room in fixture["rooms"].as_array().unwrap() {
        let name = room["name"].as_str().unwrap();
        let version = RoomVersion::parse(room["room_version"].as_str().unwrap()).unwrap();
        let (order, pdus) = common::fork_order(room);
        let mut history = RoomHistory::new(version.clone());
        receive_all(room, &order, &mut history, &version, &pdus);

        let expected = &room["expected"];
        for id in &order {
            let rejected = expected["rejected"].get(id).is_some();
            let outcome = history.outcome(&event_id(id)).unwrap();
            let want = if rejected { EventOutcome::Rejected } else { EventOutcome::Accepted };
            assert_eq!(outcome, want, "{name}: outcome of {}", label(room, id));
            assert_eq!(
                ours(history.state_after(&event_id(id)).unwrap()),
                expected_state(&expected["state_after"][id]),
                "{name}: state after {}",
                label(room, id)
            );
        }
        assert_eq!(history.forward_extremities(), &ids(&expected["forward_extremities"]), "{name}");
        assert_eq!(
            ours(history.current_state()),
            expected_state(&expected["current_state"]),
            "{name}"
        );
    }
}

#[test]
fn soft_failed_rooms_match_synapse_after_every_batch() {
    let fixture = fixture("softfail.json");
    for room in fixture["rooms"].as_array().unwrap() {
        let name = room["name"].as_str().unwrap();
        let version = RoomVersion::parse(room["room_version"].as_str().unwrap()).unwrap();
        let pdus = common::softfail_pdus(room);
        let mut history = RoomHistory::new(version.clone());
        let mut seen: Vec<String> = Vec::new();
        for (index, batch) in room["batches"].as_array().unwrap().iter().enumerate() {
            let batch_ids: Vec<String> = batch["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|id| id.as_str().unwrap().to_owned())
                .collect();
            receive_all(room, &batch_ids, &mut history, &version, &pdus);
            seen.extend(batch_ids.iter().cloned());
            let expected = &batch["expected"];
            let at = format!("{name}, after batch {index}");
            for id in &batch_ids {
                let want = match batch["outcomes"][id].as_str().unwrap() {
                    "accepted" => EventOutcome::Accepted,
                    "soft_failed" => EventOutcome::SoftFailed,
                    "rejected" => EventOutcome::Rejected,
                    other => panic!("{other}"),
                };
                assert_eq!(
                    history.outcome(&event_id(id)),
                    Some(want),
                    "{at}: outcome of {}",
                    label(room, id)
                );
            }
            for id in &seen {
                if let Some(state) = expected["state_after"].get(id) {
                    assert_eq!(
                        ours(history.state_after(&event_id(id)).unwrap()),
                        expected_state(state),
                        "{at}: state after {}",
                        label(room, id)
                    );
                }
            }
            let soft_failed: BTreeSet<String> = seen
                .iter()
                .filter(|id| history.outcome(&event_id(id)) == Some(EventOutcome::SoftFailed))
                .cloned()
                .collect();
            assert_eq!(soft_failed, ids(&expected["soft_failed"]), "{at}: soft-failed events");
            assert_eq!(
                history.forward_extremities(),
                &ids(&expected["forward_extremities"]),
                "{at}"
            );
            assert_eq!(
                ours(history.current_state()),
                expected_state(&expected["current_state"]),
                "{at}"
            );
        }
    }
}

#[test]
fn every_room_synapse_persisted_has_its_states() {
    let fixture = fixture("pdus.json");
    for room in fixture["rooms"].as_array().unwrap() {
        let name = room["name"].as_str().unwrap();
        let version = RoomVersion::parse(room["room_version"].as_str().unwrap()).unwrap();
        let mut history = RoomHistory::new(version.clone());
        for event in room["events"].as_array().unwrap() {
            let pdu = Pdu::from_json_value(event["pdu"].clone(), &version).unwrap();
            let id = pdu.owned_event_id().clone();
            assert_eq!(history.receive(pdu).unwrap(), EventOutcome::Accepted, "{name}: {id}");
            assert_eq!(
                ours(history.state_after(&id).unwrap()),
                common::synapse_group_state(room, event["state_group"].as_i64().unwrap()),
                "{name}: state after {id} (group {})",
                event["state_group"]
            );
        }
        assert_eq!(history.forward_extremities(), &ids(&room["forward_extremities"]), "{name}");
        assert_eq!(ours(history.current_state()), expected_state(&room["current_state"]), "{name}");
    }
}

/// Messages whose authorization is remembered: a message naming the same auth events as an
/// accepted one from the same sender is still checked against the state before it, so once the
/// sender has left it is rejected (the spec's check against the state before the event).
#[test]
fn a_message_naming_a_stale_join_is_rejected_after_its_sender_leaves() {
    let mut room = SyntheticRoom::new("stale-join");
    let [create, _, power_levels] = room.initial_state();
    let user = "@leaver:bench.example";
    let join = room.join(user, json!({"membership": "join"}));
    let stale_auth = vec![create.clone(), power_levels.clone(), join.clone()];
    let message = |room: &mut SyntheticRoom, body: &str| {
        let content = json!({"msgtype": "m.text", "body": body});
        room.push("m.room.message", None, user, content, stale_auth.clone())
    };
    let before = message(&mut room, "before");
    let again = message(&mut room, "again");
    let leave = room.push(
        "m.room.member",
        Some(user),
        user,
        json!({"membership": "leave"}),
        stale_auth.clone(),
    );
    let after = message(&mut room, "after");

    let version = RoomVersion::parse("10").unwrap();
    let mut history = RoomHistory::new(version.clone());
    for pdu in &room.events {
        history.receive(Pdu::from_json_value(pdu.clone(), &version).unwrap()).unwrap();
    }
    let outcome = |id: &str| history.outcome(&event_id(id));
    for accepted in [&join, &before, &again, &leave] {
        assert_eq!(outcome(accepted), Some(EventOutcome::Accepted), "{accepted}");
    }
    assert_eq!(outcome(&after), Some(EventOutcome::Rejected));
    assert_eq!(history.forward_extremities(), &BTreeSet::from([leave]));
}
