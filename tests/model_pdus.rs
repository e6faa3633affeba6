//! Every PDU a real Synapse 1.163.2 persisted (`pdus.json`, rooms of versions 1–12), read by the
//! PDU model: event ids computed, not copied, and every column Synapse wrote matched.
#![cfg(all(not(target_arch = "wasm32"), feature = "store"))]

use prejoin::model::internal_metadata::{
    InternalMetadata, InternalMetadataColumns, InternalMetadataDict,
};
use prejoin::model::pdu::Pdu;
use prejoin::model::room_version::RoomVersion;
use proptest::prelude::*;
use serde_json::{json, Value as JsonValue};

/// The rooms of `pdus.json`, each with its events in stream order.
fn rooms() -> Vec<JsonValue> {
    let all: JsonValue =
        serde_json::from_str(include_str!("fixtures/synapse-1.163.2/pdus.json")).unwrap();
    all["rooms"].as_array().unwrap().clone()
}

fn name(room: &JsonValue) -> &str {
    room["name"].as_str().unwrap()
}

fn version(room: &JsonValue) -> RoomVersion {
    RoomVersion::parse(room["room_version"].as_str().unwrap()).unwrap()
}

fn events(room: &JsonValue) -> &Vec<JsonValue> {
    room["events"].as_array().unwrap()
}

fn parse(room: &JsonValue, pdu: JsonValue) -> Pdu {
    Pdu::from_json_value(pdu, &version(room))
        .unwrap_or_else(|error| panic!("room {}: {error}", name(room)))
}

/// A PDU of room version 3 or later that is not the create event, for tampering with.
fn later_pdus(rooms: &[JsonValue]) -> Vec<(String, RoomVersion, JsonValue)> {
    rooms
        .iter()
        .filter(|room| version(room).event_format().number() >= 2)
        .map(|room| {
            let event = events(room).iter().find(|e| e["type"] == "m.room.member").unwrap();
            (name(room).to_owned(), version(room), event["pdu"].clone())
        })
        .collect()
}

#[test]
fn the_fixture_covers_every_room_version() {
    let versions: Vec<String> =
        rooms().iter().map(|room| room["room_version"].as_str().unwrap().to_owned()).collect();
    for id in 1..=12 {
        assert!(versions.contains(&id.to_string()), "no room of version {id}");
    }
}

#[test]
fn every_pdu_matches_the_row_synapse_wrote() {
    let mut checked = 0;
    for room in rooms() {
        let room_name = name(&room);
        let room_version = version(&room);
        for event in events(&room) {
            let row_id = event["event_id"].as_str().unwrap();
            let at = format!("room {room_name}, event {row_id}");
            let format = event["format_version"].as_u64().unwrap();
            if format >= 2 {
                assert!(event["pdu"].get("event_id").is_none(), "{at}: the id must be computed");
            }
            let pdu = parse(&room, event["pdu"].clone());

            assert_eq!(pdu.event_id().as_str(), row_id, "{at}: event id");
            assert_eq!(u64::from(pdu.format_version().number()), format, "{at}: format version");
            assert_eq!(pdu.room_version(), &room_version, "{at}: room version");
            assert_eq!(pdu.room_id().as_str(), room["room_id"], "{at}: room id");
            assert_eq!(pdu.event_type(), event["type"], "{at}: type");
            assert_eq!(pdu.state_key(), event["state_key"].as_str(), "{at}: state_key");
            assert_eq!(pdu.sender().as_str(), event["sender"], "{at}: sender");
            assert_eq!(pdu.depth().map(u64::from), event["depth"].as_u64(), "{at}: depth");
            assert_eq!(
                u64::from(pdu.origin_server_ts().get()),
                event["pdu"]["origin_server_ts"].as_u64().unwrap(),
                "{at}: origin_server_ts"
            );
            assert_eq!(
                serde_json::to_value(pdu.content()).unwrap(),
                event["pdu"]["content"],
                "{at}: content"
            );
            assert_eq!(
                serde_json::to_value(pdu.as_object()).unwrap(),
                event["pdu"],
                "{at}: the PDU is kept whole"
            );

            let mut edges: Vec<&str> = room["event_edges"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|edge| edge["event_id"] == row_id)
                .map(|edge| edge["prev_event_id"].as_str().unwrap())
                .collect();
            let mut prevs: Vec<&str> = pdu.prev_events().iter().map(|id| id.as_str()).collect();
            edges.sort_unstable();
            prevs.sort_unstable();
            assert_eq!(prevs, edges, "{at}: prev_events are the DAG edges");
            assert_eq!(
                pdu.auth_events().len(),
                event["pdu"]["auth_events"].as_array().unwrap().len(),
                "{at}: auth_events"
            );

            let redaction =
                room["redactions"].as_array().unwrap().iter().find(|r| r["event_id"] == row_id);
            assert_eq!(
                pdu.redacts().map(|id| id.as_str()),
                redaction.map(|r| r["redacts"].as_str().unwrap()),
                "{at}: redacts"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 250, "every event of the fixture");
}

#[test]
fn room_version_12_room_ids_derive_from_the_create_event() {
    let mut rooms_seen = 0;
    for room in rooms().iter().filter(|room| room["room_version"] == "12") {
        let room_name = name(room);
        let create = events(room).iter().find(|e| e["type"] == "m.room.create").unwrap();
        assert!(create["pdu"].get("room_id").is_none(), "room {room_name}: create has no room_id");
        let pdu = parse(room, create["pdu"].clone());
        assert_eq!(pdu.room_id().as_str(), room["room_id"], "room {room_name}: derived room id");
        assert_eq!(
            pdu.room_id().as_str()[1..],
            pdu.event_id().as_str()[1..],
            "room {room_name}: room id is the create event id"
        );
        rooms_seen += 1;
    }
    assert_eq!(rooms_seen, 5);
}

#[test]
fn events_with_their_ids_parse_to_the_same_pdu() {
    for room in rooms() {
        let room_name = name(&room);
        for event in events(&room) {
            let pdu = parse(&room, event["pdu"].clone());
            let at = format!("room {room_name}, event {}", event["event_id"]);
            let with_ids = pdu.to_json_with_ids();
            let text = |key: &str| with_ids.get(key).and_then(|value| value.as_str());
            assert_eq!(text("event_id"), event["event_id"].as_str(), "{at}: event_id");
            assert_eq!(text("room_id"), room["room_id"].as_str(), "{at}: room_id");
            let again = Pdu::from_canonical(with_ids, &version(&room)).unwrap();
            assert_eq!(again, pdu, "{at}");

            let client = pdu.to_client_event();
            for key in ["event_id", "room_id", "type", "sender", "content", "origin_server_ts"] {
                assert!(client.contains_key(key), "{at}: client format has {key}");
            }
            for key in ["auth_events", "prev_events", "hashes", "signatures", "depth"] {
                assert!(!client.contains_key(key), "{at}: client format has no {key}");
            }
        }
    }
}

#[test]
fn a_tampered_pdu_is_refused_with_event_id_mismatch() {
    let rooms = rooms();
    let pdus = later_pdus(&rooms);
    assert_eq!(pdus.len(), 14, "every room of version 3 or later");
    for (room_name, room_version, pdu) in pdus {
        let id = Pdu::from_json_value(pdu.clone(), &room_version).unwrap().event_id().to_owned();
        let mut tampered = pdu;
        tampered["event_id"] = json!(id.as_str());
        assert!(
            Pdu::from_json_value(tampered.clone(), &room_version).is_ok(),
            "room {room_name}: the right id is accepted"
        );
        // The reference hash covers the event as redacted: `membership` survives redaction.
        tampered["content"]["membership"] = json!("leave");
        let error = Pdu::from_json_value(tampered.clone(), &room_version).unwrap_err();
        assert_eq!(error.code(), "EVENT_ID_MISMATCH", "room {room_name}: {error}");
        // Content that redaction removes is covered by the content hash (`hashes.sha256`), not
        // by the id: such a change keeps the id.
        tampered["content"]["membership"] = json!("join");
        tampered["content"]["displayname"] = json!("Mallory");
        let kept = Pdu::from_json_value(tampered, &room_version).unwrap();
        assert_eq!(kept.event_id(), &id, "room {room_name}: redactable content is not in the id");
    }
}

#[test]
fn unsigned_is_not_hashed() {
    let rooms = rooms();
    for (room_name, room_version, pdu) in later_pdus(&rooms) {
        let id = Pdu::from_json_value(pdu.clone(), &room_version).unwrap().event_id().to_owned();
        let mut changed = pdu;
        changed["unsigned"] = json!({"age_ts": 1, "replaces_state": "$x"});
        changed["signatures"] = json!({});
        let again = Pdu::from_json_value(changed, &room_version).unwrap();
        assert_eq!(again.event_id(), &id, "room {room_name}");
    }
}

#[test]
fn an_unknown_room_version_is_refused() {
    for room in rooms() {
        let room_name = name(&room);
        let mut create = events(&room)[0]["pdu"].clone();
        assert_eq!(create["type"], "m.room.create", "room {room_name}");
        assert_eq!(
            RoomVersion::of_create_event(&create).unwrap(),
            version(&room),
            "room {room_name}: the create event names the room version"
        );
        create["content"]["room_version"] = json!("13");
        let error = RoomVersion::of_create_event(&create).unwrap_err();
        assert_eq!(error.code(), "UNKNOWN_ROOM_VERSION", "room {room_name}");
    }
    assert_eq!(
        RoomVersion::parse("org.matrix.hydra.11").unwrap_err().code(),
        "UNKNOWN_ROOM_VERSION"
    );
}

#[test]
fn a_missing_room_id_is_refused() {
    for room in rooms() {
        let room_name = name(&room);
        let event = events(&room).iter().find(|e| e["type"] != "m.room.create").unwrap();
        let mut pdu = event["pdu"].clone();
        pdu.as_object_mut().unwrap().remove("room_id");
        let error = Pdu::from_json_value(pdu, &version(&room)).unwrap_err();
        assert_eq!(error.code(), "INVALID_ROOM_ID", "room {room_name}: {error}");
    }
}

#[test]
fn an_integer_of_2_pow_53_is_refused() {
    for room in rooms() {
        let room_name = name(&room);
        let event = events(&room).last().unwrap();
        let mut pdu = event["pdu"].clone();
        pdu["content"]["n"] = json!(9_007_199_254_740_991_u64);
        assert!(
            Pdu::from_json_value(pdu.clone(), &version(&room)).is_ok(),
            "room {room_name}: 2^53 - 1 is in range"
        );
        pdu["content"]["n"] = json!(9_007_199_254_740_992_u64);
        let error = Pdu::from_json_value(pdu.clone(), &version(&room)).unwrap_err();
        assert_eq!(error.code(), "INTEGER_OUT_OF_RANGE", "room {room_name}: {error}");
        let text = pdu.to_string();
        let error = Pdu::from_json_str(&text, &version(&room)).unwrap_err();
        assert_eq!(error.code(), "INTEGER_OUT_OF_RANGE", "room {room_name}: as text");
    }
}

#[test]
fn internal_metadata_is_stored_once_and_loads_whole() {
    for room in rooms() {
        let room_name = name(&room);
        for event in events(&room) {
            let at = format!("room {room_name}, event {}", event["event_id"]);
            let stored = event["internal_metadata"].clone();
            let dict: InternalMetadataDict = serde_json::from_value(stored.clone()).unwrap();
            let columns = InternalMetadataColumns::new(
                event["outlier"].as_bool().unwrap(),
                event["stream_ordering"].as_i64(),
                event["instance_name"].as_str().map(str::to_owned),
            );
            let metadata = InternalMetadata::from_parts(columns.clone(), dict);
            assert_eq!(metadata.txn_id.as_deref(), stored["txn_id"].as_str(), "{at}: txn_id");
            assert_eq!(metadata.other.get("device_id"), stored.get("device_id"), "{at}: device_id");
            assert!(!metadata.outlier && !metadata.soft_failed, "{at}");

            let (columns_again, dict_again) = metadata.split();
            assert_eq!(columns_again, columns, "{at}: columns");
            assert_eq!(serde_json::to_value(dict_again).unwrap(), stored, "{at}: stored dict");
        }
    }
}

/// Any JSON value, nested a few levels, with integers and floats at the edges of the range.
fn any_json() -> impl Strategy<Value = JsonValue> {
    let leaf = prop_oneof![
        Just(JsonValue::Null),
        any::<bool>().prop_map(JsonValue::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop_oneof![Just(1_i64 << 53), Just((1_i64 << 53) - 1), Just(-(1_i64 << 53))]
            .prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop_oneof![
            Just("$e:x".to_owned()),
            Just("!r:x".to_owned()),
            Just("@a:x".to_owned()),
            Just("".to_owned()),
            ".{0,8}"
        ]
        .prop_map(JsonValue::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(JsonValue::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|map| JsonValue::Object(map.into_iter().collect())),
        ]
    })
}

/// Fields whose values the PDU model reads, at the top level or in `content`.
const FIELDS: [&str; 21] = [
    "type",
    "state_key",
    "sender",
    "room_id",
    "event_id",
    "content",
    "depth",
    "origin_server_ts",
    "prev_events",
    "auth_events",
    "hashes",
    "signatures",
    "unsigned",
    "redacts",
    "content.membership",
    "content.redacts",
    "content.room_version",
    "content.third_party_invite",
    "content.join_authorised_via_users_server",
    "content.allow",
    "content.users",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// A fixture PDU with one field replaced by any JSON value parses or is refused, never panics.
    #[test]
    fn no_field_value_makes_parsing_panic(
        room_index in 0..16_usize,
        event_index in 0..9_usize,
        field in prop::sample::select(&FIELDS[..]),
        value in any_json(),
    ) {
        let rooms = fixture_rooms();
        let room = &rooms[room_index % rooms.len()];
        let room_events = events(room);
        let mut pdu = room_events[event_index % room_events.len()]["pdu"].clone();
        match field.strip_prefix("content.") {
            Some(key) => pdu["content"][key] = value,
            None => pdu[field] = value,
        }
        let _ = Pdu::from_json_value(pdu.clone(), &version(room));
        let _ = Pdu::from_json_str(&pdu.to_string(), &version(room));
    }
}

/// The rooms, read once for all property test cases.
fn fixture_rooms() -> &'static [JsonValue] {
    static ROOMS: std::sync::OnceLock<Vec<JsonValue>> = std::sync::OnceLock::new();
    ROOMS.get_or_init(rooms)
}
