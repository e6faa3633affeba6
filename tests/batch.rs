//! Reading batches of PDUs: every room Synapse persisted at once, and each kind of bad input
//! refused with its code before anything is planned.
#![cfg(all(not(target_arch = "wasm32"), feature = "store"))]

use prejoin::model::room_version::RoomVersion;
use prejoin::persist::parse_batch;
use serde_json::{json, Value as JsonValue};

fn fixture() -> JsonValue {
    let path = format!("{}/tests/fixtures/synapse-1.163.2/pdus.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn no_known_room(_: &str) -> Option<RoomVersion> {
    None
}

#[test]
fn every_room_in_one_interleaved_batch_splits_back_into_its_rooms() {
    let fixture = fixture();
    let rooms = fixture["rooms"].as_array().unwrap();
    // Round-robin over the rooms: one event of each in turn.
    let mut batch = Vec::new();
    for index in 0.. {
        let before = batch.len();
        for room in rooms {
            if let Some(event) = room["events"].get(index) {
                batch.push(event["pdu"].clone());
            }
        }
        if batch.len() == before {
            break;
        }
    }
    let chunks = parse_batch(batch, &no_known_room).unwrap();
    assert_eq!(chunks.len(), rooms.len());
    for (chunk, room) in chunks.iter().zip(rooms) {
        assert_eq!(chunk.room_id, room["room_id"].as_str().unwrap(), "{}", room["name"]);
        let ids: Vec<String> = chunk.events.iter().map(|pdu| pdu.event_id().to_string()).collect();
        let expected: Vec<String> = room["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|event| event["event_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, expected, "{}: stream order is a DAG order, kept", room["name"]);
    }
}

fn room_events(name: &str) -> Vec<JsonValue> {
    let fixture = fixture();
    let room =
        fixture["rooms"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap().clone();
    room["events"].as_array().unwrap().iter().map(|e| e["pdu"].clone()).collect()
}

fn code(batch: Vec<JsonValue>, known: &dyn Fn(&str) -> Option<RoomVersion>) -> &'static str {
    match parse_batch(batch, known) {
        Ok(_) => "ok",
        Err(error) => error.code(),
    }
}

#[test]
fn each_kind_of_bad_input_is_refused_with_its_code() {
    let v10 = room_events("v10");
    let v12 = room_events("v12");

    // The room's create event is neither stored nor in the batch.
    assert_eq!(code(v10[1..].to_vec(), &no_known_room), "UNKNOWN_ROOM");
    // ... but a stored room is known.
    let room_id = v10[1]["room_id"].as_str().unwrap().to_owned();
    let known = move |id: &str| (id == room_id).then(|| RoomVersion::parse("10").unwrap());
    assert_eq!(code(v10[1..].to_vec(), &known), "ok");

    let mut no_room = v10.clone();
    no_room[2].as_object_mut().unwrap().remove("room_id");
    assert_eq!(code(no_room, &no_known_room), "INVALID_ROOM_ID");

    let mut not_a_string = v12.clone();
    not_a_string[2]["room_id"] = json!(42);
    assert_eq!(code(not_a_string, &no_known_room), "INVALID_ROOM_ID");

    // A wrong room id names a room whose create event is unknown.
    let mut wrong_room = v12.clone();
    wrong_room[2]["room_id"] = json!("!not-a-hash:localhost");
    assert_eq!(code(wrong_room, &no_known_room), "UNKNOWN_ROOM");

    let mut unknown_version = v10.clone();
    unknown_version[0]["content"]["room_version"] = json!("99");
    assert_eq!(code(unknown_version, &no_known_room), "UNKNOWN_ROOM_VERSION");

    let mut tampered = v10.clone();
    tampered[3]["event_id"] = json!("$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(code(tampered, &no_known_room), "EVENT_ID_MISMATCH");

    let mut too_big = v10.clone();
    too_big[3]["content"]["n"] = json!(9_007_199_254_740_992_u64);
    assert_eq!(code(too_big, &no_known_room), "INTEGER_OUT_OF_RANGE");

    let mut malformed = v10.clone();
    malformed[3] = json!("not a PDU");
    assert_eq!(code(malformed, &no_known_room), "INVALID_PDU");

    let mut no_sender = v10;
    no_sender[3].as_object_mut().unwrap().remove("sender");
    assert_eq!(code(no_sender, &no_known_room), "INVALID_PDU");
}
