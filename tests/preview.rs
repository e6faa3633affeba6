//! Room previews of the rooms a real Synapse 1.163.2 sent, and of hostile stripped state.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use prejoin::prejoin::preview::{
    AvatarSource, DisplayNameSource, PreviewKind, RoomPreview, WarningCode,
};
use prejoin::prejoin::{compute_room_preview, PreviewRequest};
use serde_json::{json, Value as JsonValue};

/// The preview of a fixture scenario, from the stripped state Synapse sent for it.
fn preview_of(name: &str) -> RoomPreview {
    let scenario = common::scenario(name);
    let request = PreviewRequest::new(
        scenario["room_id"].as_str().unwrap(),
        scenario["target_user"].as_str().unwrap(),
    );
    compute_room_preview(&scenario["synapse_stripped"].to_string(), &request).unwrap()
}

#[test]
fn unnamed_dm_falls_back_to_inviter() {
    let preview = preview_of("unnamed_dm_falls_back_to_inviter");
    assert_eq!(preview.display_name, "Alice Liddell");
    assert_eq!(preview.display_name_source, DisplayNameSource::Inviter);
    assert_eq!(preview.avatar_url.as_deref(), Some("mxc://localhost/alice-avatar"));
    assert_eq!(preview.avatar_source, AvatarSource::Inviter);
    let inviter = preview.inviter.unwrap();
    assert_eq!(inviter.user_id, "@alice18510a:localhost");
    assert_eq!(inviter.display_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(preview.membership.as_deref(), Some("invite"));
    assert_eq!(preview.room_version.as_deref(), Some("12"));
    assert!(preview.warnings.is_empty(), "{:?}", preview.warnings);
}

#[test]
fn removed_name_falls_back_to_the_inviter() {
    let preview = preview_of("name_removed");
    assert_eq!(preview.display_name, "Alice Liddell");
    assert_eq!(preview.display_name_source, DisplayNameSource::Inviter);
}

#[test]
fn alias_only_room_is_named_by_its_alias() {
    let preview = preview_of("alias_only");
    assert_eq!(preview.display_name, "#rabbit18510a:localhost");
    assert_eq!(preview.display_name_source, DisplayNameSource::Alias);
    assert_eq!(preview.canonical_alias.as_deref(), Some("#rabbit18510a:localhost"));
    assert_eq!(preview.placeholder.initial, "R");
}

#[test]
fn per_room_profile_of_the_inviter_wins() {
    let preview = preview_of("per_room_inviter_profile");
    assert_eq!(preview.display_name, "Queen of Hearts");
    assert_eq!(preview.avatar_url.as_deref(), Some("mxc://localhost/queen"));
    assert_eq!(preview.avatar_source, AvatarSource::Inviter);
}

#[test]
fn named_room_uses_its_own_name_avatar_and_details() {
    let preview = preview_of("named_room_with_avatar_topic_alias_encryption");
    assert_eq!(preview.display_name, "Tea Party");
    assert_eq!(preview.display_name_source, DisplayNameSource::Name);
    assert_eq!(preview.avatar_url.as_deref(), Some("mxc://localhost/tea"));
    assert_eq!(preview.avatar_source, AvatarSource::Room);
    assert_eq!(preview.topic.as_deref(), Some("Mad hatters only"));
    assert_eq!(preview.join_rule.as_deref(), Some("invite"));
    assert!(preview.encrypted);
    assert_eq!(preview.room_type, None);
}

#[test]
fn space_room_has_its_room_type() {
    let preview = preview_of("space_room");
    assert_eq!(preview.room_type.as_deref(), Some("m.space"));
    assert_eq!(preview.display_name, "Wonderland");
}

#[test]
fn room_v1_reports_its_version() {
    assert_eq!(preview_of("room_v1").room_version.as_deref(), Some("1"));
}

#[test]
fn unnamed_knock_is_an_empty_room_with_a_placeholder() {
    let preview = preview_of("knock_unnamed");
    assert_eq!(preview.display_name, "Empty room");
    assert_eq!(preview.display_name_source, DisplayNameSource::Empty);
    assert_eq!(preview.avatar_url, None);
    assert_eq!(preview.avatar_source, AvatarSource::None);
    assert_eq!(preview.placeholder.initial, "E");
    assert!(preview.placeholder.color_index < 8);
    assert_eq!(preview.inviter, None);
    assert_eq!(preview.membership.as_deref(), Some("knock"));
    assert_eq!(preview.knock_reason.as_deref(), Some("let me in"));
}

#[test]
fn named_knock_carries_the_reason() {
    let preview = preview_of("knock_named");
    assert_eq!(preview.display_name, "Door");
    assert_eq!(preview.knock_reason.as_deref(), Some("let me in"));
    assert_eq!(preview.join_rule.as_deref(), Some("knock"));
}

#[test]
fn every_invite_and_knock_of_the_initial_syncs_previews_cleanly() {
    let syncs = common::initial_syncs();
    let mut count = 0;
    for (user, sync) in syncs.as_object().unwrap() {
        for (section, key) in [("invite", "invite_state"), ("knock", "knock_state")] {
            let Some(rooms) = sync["rooms"][section].as_object() else { continue };
            for (room_id, room) in rooms {
                let request = PreviewRequest::new(room_id.as_str(), user.as_str());
                let preview =
                    compute_room_preview(&room[key]["events"].to_string(), &request).unwrap();
                assert_eq!(preview.membership.as_deref(), Some(section), "{room_id}");
                assert!(preview.warnings.is_empty(), "{room_id}: {:?}", preview.warnings);
                assert_ne!(preview.display_name_source, DisplayNameSource::Heroes, "{room_id}");
                count += 1;
            }
        }
    }
    assert_eq!(count, 16);
}

// ---- hostile and malformed stripped state ----

fn create() -> JsonValue {
    json!({"type": "m.room.create", "state_key": "", "sender": "@a:x", "content": {"room_version": "11"}})
}

fn member(user: &str, sender: &str, content: JsonValue) -> JsonValue {
    json!({"type": "m.room.member", "state_key": user, "sender": sender, "content": content})
}

fn preview(state: JsonValue, own: &str, kind: Option<PreviewKind>) -> RoomPreview {
    let mut request = PreviewRequest::new("!room:x", own);
    if let Some(kind) = kind {
        request = request.with_kind(kind);
    }
    compute_room_preview(&state.to_string(), &request).unwrap()
}

fn codes(preview: &RoomPreview) -> Vec<(WarningCode, Option<String>)> {
    preview.warnings.iter().map(|w| (w.code, w.state_key.clone())).collect()
}

#[test]
fn a_knock_never_shows_another_members_data() {
    let state = json!([
        create(),
        member(
            "@mallory:x",
            "@mallory:x",
            json!({"membership": "join", "displayname": "Mallory",
                                                 "avatar_url": "mxc://x/mallory"})
        ),
        member("@c:x", "@c:x", json!({"membership": "knock", "reason": "hi"})),
    ]);
    for kind in [None, Some(PreviewKind::Knock)] {
        let preview = preview(state.clone(), "@c:x", kind);
        let text = serde_json::to_string(&preview).unwrap();
        assert!(!text.contains("Mallory") && !text.contains("mxc://x/mallory"), "{text}");
        assert_eq!(preview.display_name, "Empty room");
        assert_eq!(codes(&preview), [(WarningCode::IgnoredMember, Some("@mallory:x".to_owned()))]);
    }
}

#[test]
fn an_invite_uses_only_the_inviter_among_other_members() {
    let state = json!([
        create(),
        member("@a:x", "@a:x", json!({"membership": "join", "displayname": "Alice"})),
        member("@impostor:x", "@impostor:x", json!({"membership": "join", "displayname": "Admin"})),
        member("@b:x", "@a:x", json!({"membership": "invite", "is_direct": true})),
    ]);
    let preview = preview(state, "@b:x", None);
    assert_eq!(preview.display_name, "Alice");
    assert!(preview.is_direct);
    assert_eq!(codes(&preview), [(WarningCode::IgnoredMember, Some("@impostor:x".to_owned()))]);
}

#[test]
fn an_invite_without_the_inviters_member_event_names_the_inviter_by_id() {
    let state = json!([create(), member("@b:x", "@a:x", json!({"membership": "invite"}))]);
    let preview = preview(state, "@b:x", None);
    assert_eq!(preview.display_name, "@a:x");
    assert_eq!(preview.display_name_source, DisplayNameSource::Inviter);
    assert_eq!(preview.placeholder.initial, "A");
    assert_eq!(preview.avatar_source, AvatarSource::None);
}

#[test]
fn bidi_overrides_and_controls_are_removed_from_names() {
    let name = "\u{202E}\u{2066}Evil\u{0007}\u{0000}  Corp\u{202C}\u{200F}";
    let state = json!([create(), {"type": "m.room.name", "state_key": "", "sender": "@a:x",
                                  "content": {"name": name}}]);
    let preview = preview(state, "@b:x", Some(PreviewKind::Join));
    assert_eq!(preview.display_name, "Evil Corp");
    assert_eq!(preview.display_name_raw, name);
}

#[test]
fn a_one_megabyte_name_is_capped() {
    let name = "A".repeat(1 << 20);
    let state = json!([create(), {"type": "m.room.name", "state_key": "", "sender": "@a:x",
                                  "content": {"name": name}}]);
    let preview = preview(state, "@b:x", Some(PreviewKind::Join));
    assert_eq!(preview.display_name.chars().count(), 255);
    assert!(preview.display_name.ends_with('\u{2026}'));
    assert_eq!(preview.display_name_raw.len(), 1 << 20);
}

#[test]
fn foreign_duplicate_and_malformed_events_are_ignored_with_warnings() {
    let state = json!([
        {"type": "m.room.name", "state_key": "", "sender": "@a:x", "content": {"name": "Real"}},
        {"type": "m.room.name", "state_key": "", "sender": "@a:x", "content": {"name": "Second"}},
        {"type": "m.room.topic", "state_key": "", "sender": "@a:x", "content": {"topic": "t"},
         "room_id": "!elsewhere:x"},
        {"type": "m.room.avatar", "state_key": "", "sender": "@a:x", "content": {"url": 42}},
        {"type": "m.room.join_rules", "sender": "@a:x", "content": {"join_rule": "public"}},
        "not an event",
    ]);
    let preview = preview(state, "@b:x", Some(PreviewKind::Join));
    assert_eq!(preview.display_name, "Real");
    assert_eq!(preview.topic, None);
    assert_eq!(preview.avatar_source, AvatarSource::None);
    assert_eq!(preview.join_rule, None);
    let got: Vec<_> = preview
        .warnings
        .iter()
        .map(|w| (w.code, w.event_type.as_deref().map(str::to_owned)))
        .collect();
    let expected = [
        (WarningCode::DuplicateState, Some("m.room.name")),
        (WarningCode::ForeignRoom, Some("m.room.topic")),
        (WarningCode::MalformedEvent, Some("m.room.join_rules")),
        (WarningCode::MalformedEvent, None),
        (WarningCode::MalformedContent, Some("m.room.avatar")),
        (WarningCode::MissingCreate, Some("m.room.create")),
    ];
    let expected: Vec<_> = expected.iter().map(|(c, t)| (*c, t.map(str::to_owned))).collect();
    assert_eq!(got, expected);
}

#[test]
fn non_mxc_avatars_are_not_used() {
    let state = json!([
        create(),
        {"type": "m.room.avatar", "state_key": "", "sender": "@a:x",
         "content": {"url": "javascript:alert(1)"}},
        member("@a:x", "@a:x", json!({"membership": "join", "avatar_url": "https://evil/x.png"})),
        member("@b:x", "@a:x", json!({"membership": "invite"})),
    ]);
    let preview = preview(state, "@b:x", None);
    assert_eq!(preview.avatar_url, None);
    assert_eq!(preview.avatar_source, AvatarSource::None);
    assert_eq!(preview.inviter.unwrap().avatar_url, None);
}

#[test]
fn missing_own_membership_is_reported() {
    let preview = preview(json!([create()]), "@b:x", Some(PreviewKind::Invite));
    assert_eq!(codes(&preview), [(WarningCode::MissingOwnMembership, Some("@b:x".to_owned()))]);
    assert_eq!(preview.display_name, "Empty room");
    assert_eq!(preview.inviter, None);
}

#[test]
fn joined_room_without_name_uses_disambiguated_heroes() {
    let state = json!([
        create(),
        member("@me:x", "@me:x", json!({"membership": "join"})),
        member("@alice:x", "@alice:x", json!({"membership": "join", "displayname": "Alice"})),
        member("@alice2:x", "@alice2:x", json!({"membership": "invite", "displayname": "Alice"})),
        member("@bob:x", "@bob:x", json!({"membership": "join"})),
        member("@gone:x", "@gone:x", json!({"membership": "leave", "displayname": "Gone"})),
    ]);
    let preview = preview(state, "@me:x", None);
    assert_eq!(preview.display_name_source, DisplayNameSource::Heroes);
    assert_eq!(preview.display_name, "Alice (@alice2:x), Alice (@alice:x) and @bob:x");
    assert_eq!(preview.other_member_count, 0);
}

#[test]
fn joined_room_with_many_members_counts_others_without_the_viewer() {
    let mut events = vec![create(), member("@me:x", "@me:x", json!({"membership": "join"}))];
    for i in 0..9 {
        let user = format!("@u{i}:x");
        events.push(member(
            &user,
            &user,
            json!({"membership": "join", "displayname": format!("U{i}")}),
        ));
    }
    let preview = preview(JsonValue::Array(events), "@me:x", None);
    // 10 joined including the viewer; 5 heroes shown; 10 - 1 - 5 = 4 others.
    assert_eq!(preview.display_name, "U0, U1, U2, U3, U4 and 4 others");
    assert_eq!(preview.heroes, ["U0", "U1", "U2", "U3", "U4"]);
    assert_eq!(preview.other_member_count, 4);
}

#[test]
fn room_everyone_left_is_empty_was() {
    let state = json!([
        create(),
        member("@me:x", "@me:x", json!({"membership": "join"})),
        member("@alice:x", "@alice:x", json!({"membership": "leave", "displayname": "Alice"})),
    ]);
    let preview = preview(state, "@me:x", None);
    assert_eq!(preview.display_name, "Empty room (was Alice)");
    assert_eq!(preview.display_name_source, DisplayNameSource::Heroes);
}

#[test]
fn previews_are_deterministic_whatever_the_event_order() {
    let scenario = common::scenario("named_room_with_avatar_topic_alias_encryption");
    let request = PreviewRequest::new(
        scenario["room_id"].as_str().unwrap(),
        scenario["target_user"].as_str().unwrap(),
    );
    let mut events = scenario["synapse_stripped"].as_array().unwrap().clone();
    let first =
        compute_room_preview(&JsonValue::Array(events.clone()).to_string(), &request).unwrap();
    events.reverse();
    let reversed = compute_room_preview(&JsonValue::Array(events).to_string(), &request).unwrap();
    assert_eq!(first, reversed);
}

#[test]
fn state_that_is_not_an_array_is_an_error() {
    let error =
        compute_room_preview(r#"{"events": []}"#, &PreviewRequest::new("!r", "@u:x")).unwrap_err();
    assert_eq!(error.code(), "INVALID_STATE");
}
