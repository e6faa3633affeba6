//! Forward extremities against a real Synapse 1.163.2: soft-failed events (synapse#5269), forks
//! with rejected events, and every room Synapse persisted.
#![cfg(all(not(target_arch = "wasm32"), feature = "store"))]

mod common;

use common::{fixture, id_set as sorted};

use prejoin::persist::{EventOutcome, ForwardExtremities};
use serde_json::Value as JsonValue;

/// `prev_events` as ids: room versions 1 and 2 list `[id, hashes]` pairs.
fn prev_ids(pdu: &JsonValue) -> Vec<String> {
    pdu["prev_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|prev| prev.as_str().or_else(|| prev[0].as_str()).unwrap().to_owned())
        .collect()
}

fn outcome(name: &str) -> EventOutcome {
    match name {
        "accepted" => EventOutcome::Accepted,
        "soft_failed" => EventOutcome::SoftFailed,
        "rejected" => EventOutcome::Rejected,
        other => panic!("unknown outcome {other}"),
    }
}

#[test]
fn soft_failed_rooms_after_every_batch() {
    let fixture = fixture("softfail.json");
    for room in fixture["rooms"].as_array().unwrap() {
        let name = &room["name"];
        let pdus = common::softfail_pdus(room);
        let pdu_of = |id: &str| &pdus[id];
        let mut extremities = ForwardExtremities::default();
        for (index, batch) in room["batches"].as_array().unwrap().iter().enumerate() {
            for id in batch["events"].as_array().unwrap() {
                let id = id.as_str().unwrap();
                let outcome = outcome(batch["outcomes"][id].as_str().unwrap());
                extremities.apply(id, &prev_ids(pdu_of(id)), outcome);
            }
            assert_eq!(
                extremities.current(),
                &sorted(&batch["expected"]["forward_extremities"]),
                "{name}, after batch {index}"
            );
        }
        assert_eq!(
            extremities.current(),
            &sorted(&room["expected"]["forward_extremities"]),
            "{name}"
        );
    }
}

#[test]
fn forked_rooms_with_rejected_events() {
    let fixture = fixture("forks.json");
    for room in fixture["rooms"].as_array().unwrap() {
        let name = &room["name"];
        let ids: Vec<&str> = room["batches"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|batch| batch.as_array().unwrap())
            .map(|id| id.as_str().unwrap())
            .collect();
        let pdus = room["pdus"].as_array().unwrap();
        assert_eq!(ids.len(), pdus.len(), "{name}");
        let mut extremities = ForwardExtremities::default();
        for (id, pdu) in ids.iter().zip(pdus) {
            if let Some(own) = pdu["event_id"].as_str() {
                assert_eq!(own, *id, "{name}: batches list the PDUs in order");
            }
            let rejected = room["expected"]["rejected"].get(*id).is_some();
            let outcome = if rejected { EventOutcome::Rejected } else { EventOutcome::Accepted };
            extremities.apply(id, &prev_ids(pdu), outcome);
        }
        assert_eq!(
            extremities.current(),
            &sorted(&room["expected"]["forward_extremities"]),
            "{name}"
        );
    }
}

#[test]
fn every_room_synapse_persisted() {
    let fixture = fixture("pdus.json");
    for room in fixture["rooms"].as_array().unwrap() {
        let name = &room["name"];
        let mut extremities = ForwardExtremities::default();
        for event in room["events"].as_array().unwrap() {
            let id = event["event_id"].as_str().unwrap();
            extremities.apply(id, &prev_ids(&event["pdu"]), EventOutcome::Accepted);
        }
        assert_eq!(extremities.current(), &sorted(&room["forward_extremities"]), "{name}");
    }
}
