//! Previews of a whole `/sync` room list at once: equal, room for room, to `compute_room_preview`
//! of each room's state, on the three initial syncs a real Synapse 1.163.2 sent.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use prejoin::prejoin::preview::{PreviewKind, RoomPreview, WarningCode};
use prejoin::prejoin::{compute_room_preview, preview_sync_rooms, PreviewRequest};
use serde_json::{json, Value as JsonValue};

/// A joined room's state after its timeline, built the plain way: the `state` events as they
/// are, then each timeline event whose `type` and `state_key` are strings, in the place of the
/// last earlier event of its `(type, state_key)`, else at the end.
fn state_after_timeline(room: &JsonValue) -> JsonValue {
    let key = |event: &JsonValue| match (event["type"].as_str(), event["state_key"].as_str()) {
        (Some(t), Some(k)) => Some((t.to_owned(), k.to_owned())),
        _ => None,
    };
    let mut merged = room["state"]["events"].as_array().cloned().unwrap_or_default();
    let timeline = room["timeline"]["events"].as_array().cloned().unwrap_or_default();
    for event in timeline {
        let Some(event_key) = key(&event) else { continue };
        match merged.iter().rposition(|earlier| key(earlier).as_ref() == Some(&event_key)) {
            Some(place) => merged[place] = event,
            None => merged.push(event),
        }
    }
    JsonValue::Array(merged)
}

/// The previews `compute_room_preview` gives room by room, in `preview_sync_rooms`' order.
fn one_by_one(rooms: &JsonValue, own_user: &str) -> Vec<RoomPreview> {
    let mut previews = Vec::new();
    for (section, kind) in [
        ("invite", PreviewKind::Invite),
        ("knock", PreviewKind::Knock),
        ("join", PreviewKind::Join),
    ] {
        let Some(section_rooms) = rooms[section].as_object() else { continue };
        // serde_json's maps are sorted, so its text lists the rooms by room id.
        for room_id in section_rooms.keys() {
            let room = &section_rooms[room_id];
            let state = match kind {
                PreviewKind::Invite => room["invite_state"]["events"].clone(),
                PreviewKind::Knock => room["knock_state"]["events"].clone(),
                PreviewKind::Join => state_after_timeline(room),
            };
            let request = PreviewRequest::new(room_id.as_str(), own_user).with_kind(kind);
            previews.push(compute_room_preview(&state.to_string(), &request).unwrap());
        }
    }
    previews
}

#[test]
fn equals_room_preview_of_each_room_of_the_initial_syncs() {
    let syncs = common::initial_syncs();
    let mut counts = Vec::new();
    for (user, sync) in syncs.as_object().unwrap() {
        let rooms = &sync["rooms"];
        let batch = preview_sync_rooms(&rooms.to_string(), user).unwrap();
        let expected = one_by_one(rooms, user);
        assert_eq!(batch, expected, "{user}");
        for preview in &batch {
            let codes: Vec<_> = preview.warnings.iter().map(|w| w.code).collect();
            assert!(!codes.contains(&WarningCode::MalformedRoom), "{}", preview.room_id);
        }
        counts.push((user.clone(), batch.len()));
    }
    counts.sort();
    let counts: Vec<_> = counts.iter().map(|(user, n)| (user.as_str(), *n)).collect();
    assert_eq!(
        counts,
        [
            ("@alice18510a:localhost", 16),
            ("@bob18510a:localhost", 12),
            ("@carol18510a:localhost", 5)
        ]
    );
}

#[test]
fn sections_come_in_order_invites_knocks_joins_each_in_the_order_of_the_text() {
    let create = r#"{"type": "m.room.create", "state_key": "", "sender": "@a:x", "content": {}}"#;
    let stripped = format!(r#"{{"events": [{create}]}}"#);
    let rooms = format!(
        r#"{{"join": {{"!b:x": {{"state": {{"events": [{create}]}}}}, "!a:x": {{}}}},
            "knock": {{"!z:x": {{"knock_state": {stripped}}}}},
            "invite": {{"!y:x": {{"invite_state": {stripped}}}, "!c:x": {{"invite_state": {stripped}}}}},
            "leave": {{"!l:x": {{}}}}}}"#
    );
    let previews = preview_sync_rooms(&rooms, "@me:x").unwrap();
    let ids: Vec<&str> = previews.iter().map(|p| p.room_id.as_str()).collect();
    assert_eq!(ids, ["!y:x", "!c:x", "!z:x", "!b:x", "!a:x"]);
}

#[test]
fn the_timeline_state_replaces_the_state_block_in_place() {
    let name = |n: &str| json!({"type": "m.room.name", "state_key": "", "sender": "@a:x", "content": {"name": n}});
    let message = json!({"type": "m.room.message", "sender": "@a:x", "content": {"body": "hi"}});
    let rooms = json!({"join": {"!r:x": {
        "state": {"events": [name("Old")]},
        "timeline": {"events": [message, name("New")]},
    }}});
    let previews = preview_sync_rooms(&rooms.to_string(), "@me:x").unwrap();
    assert_eq!(previews.len(), 1);
    assert_eq!(previews[0].display_name, "New");
    // Neither the replaced name nor the message is a duplicate or a malformed event.
    assert!(!previews[0]
        .warnings
        .iter()
        .any(|w| matches!(w.code, WarningCode::DuplicateState | WarningCode::MalformedEvent)));
}

#[test]
fn a_malformed_room_previews_alone_with_a_warning() {
    let create = json!({"type": "m.room.create", "state_key": "", "sender": "@a:x", "content": {}});
    let rooms = json!({
        "invite": {
            "!good:x": {"invite_state": {"events": [create]}},
            "!events:x": {"invite_state": {"events": {"not": "an array"}}},
            "!block:x": {"invite_state": [create]},
            "!room:x": 7,
        },
        "join": {"!timeline:x": {"state": {"events": [create]}, "timeline": "x"}},
    });
    let previews = preview_sync_rooms(&rooms.to_string(), "@me:x").unwrap();
    let malformed: Vec<(&str, bool)> = previews
        .iter()
        .map(|p| {
            let flagged = p.warnings.iter().any(|w| {
                w.code == WarningCode::MalformedRoom
                    && w.event_type.is_none()
                    && w.state_key.is_none()
            });
            (p.room_id.as_str(), flagged)
        })
        .collect();
    assert_eq!(
        malformed,
        [
            ("!block:x", true),
            ("!events:x", true),
            ("!good:x", false),
            ("!room:x", true),
            ("!timeline:x", true)
        ]
    );
    // What could be read is still used: the joined room's state block has its create event.
    let timeline = previews.iter().find(|p| p.room_id == "!timeline:x").unwrap();
    assert!(!timeline.warnings.iter().any(|w| w.code == WarningCode::MissingCreate));
}

#[test]
fn malformed_input_fails_with_its_code() {
    let cases = [
        ("[]", "INVALID_SYNC"),
        ("null", "INVALID_SYNC"),
        (r#"{"invite": []}"#, "INVALID_SYNC"),
        (r#"{"join": "x"}"#, "INVALID_SYNC"),
        (r#"{"next_batch": "s1", "rooms": {}}"#, "INVALID_SYNC"),
        ("{", "INVALID_JSON"),
    ];
    for (text, code) in cases {
        let error = preview_sync_rooms(text, "@me:x").unwrap_err();
        assert_eq!(error.code(), code, "{text}");
    }
    let error = preview_sync_rooms(r#"{"invite": []}"#, "@me:x").unwrap_err();
    assert!(error.to_string().contains("rooms.invite"), "{error}");
    // Of several wrong sections, the first in the order previews come in is named, wherever
    // it is in the text; a whole response is named before any section.
    let error = preview_sync_rooms(r#"{"join": 1, "knock": "x", "invite": []}"#, "@me:x");
    assert!(error.unwrap_err().to_string().contains("rooms.invite"));
    let error = preview_sync_rooms(r#"{"join": 1, "knock": "x"}"#, "@me:x").unwrap_err();
    assert!(error.to_string().contains("rooms.knock"), "{error}");
    let error = preview_sync_rooms(r#"{"join": 1, "next_batch": "s1"}"#, "@me:x").unwrap_err();
    assert!(error.to_string().contains("whole /sync response"), "{error}");
    // The first section of a name is the one read, in the text's order.
    let create = r#"{"type": "m.room.create", "state_key": "", "sender": "@a:x", "content": {}}"#;
    let twice = format!(
        r#"{{"invite": {{"!a:x": {{"invite_state": {{"events": [{create}]}}}}}}, "invite": 7}}"#
    );
    let previews = preview_sync_rooms(&twice, "@me:x").unwrap();
    assert_eq!(previews.iter().map(|p| p.room_id.as_str()).collect::<Vec<_>>(), ["!a:x"]);
    // Absent, null and unknown sections are no rooms, not errors.
    let none = preview_sync_rooms(r#"{"invite": null, "leave": {}, "x": 1}"#, "@me:x").unwrap();
    assert!(none.is_empty());
}
