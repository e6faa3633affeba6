//! Stripped state against a real Synapse 1.163.2: every scenario, every config variant.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::BTreeMap;

use prejoin::prejoin::{compute_stripped_state, MembershipKind, PrejoinConfig, StripRequest};
use serde_json::{json, Value as JsonValue};

fn kind_of(scenario: &JsonValue) -> MembershipKind {
    match scenario["kind"].as_str() {
        Some("invite") => MembershipKind::Invite,
        Some("knock") => MembershipKind::Knock,
        other => panic!("unknown kind {other:?}"),
    }
}

fn strip(scenario: &JsonValue, request: StripRequest) -> Vec<JsonValue> {
    compute_stripped_state(scenario["state"].clone(), request)
        .unwrap_or_else(|error| panic!("{}: {error}", scenario["name"]))
        .into_iter()
        .map(|event| event.into_json())
        .collect()
}

#[test]
fn default_config_equals_synapse_exactly() {
    let scenarios = common::scenarios();
    assert_eq!(scenarios.len(), 16);
    for scenario in &scenarios {
        let request = StripRequest::new(kind_of(scenario), common::membership_event(scenario));
        let ours = strip(scenario, request);
        assert_eq!(
            JsonValue::Array(ours),
            scenario["synapse_stripped"],
            "scenario {}",
            scenario["name"]
        );
    }
}

/// Synapse orders additional types by Python hash order, which changes between runs, so the
/// configured events are compared as a set keyed by (type, state_key) and the membership events
/// (which Synapse always appends last, in a fixed order) as a list.
fn split(events: &[JsonValue]) -> (BTreeMap<(String, String), JsonValue>, Vec<JsonValue>) {
    let first_member =
        events.iter().position(|e| e["type"] == "m.room.member").unwrap_or(events.len());
    let (configured, members) = events.split_at(first_member);
    let set: BTreeMap<_, _> = configured
        .iter()
        .map(|e| {
            let key = (
                e["type"].as_str().unwrap().to_owned(),
                e["state_key"].as_str().unwrap().to_owned(),
            );
            (key, e.clone())
        })
        .collect();
    assert_eq!(set.len(), configured.len(), "no duplicates");
    (set, members.to_vec())
}

#[test]
fn every_config_variant_equals_synapse() {
    let variants = common::config_variants();
    assert_eq!(variants.len(), 32);
    for variant in &variants {
        let label = format!("{} with {}", variant["name"], variant["config"]);
        let mut request = StripRequest::new(kind_of(variant), common::membership_event(variant));
        request.config = PrejoinConfig::from_json(variant["config"].clone()).unwrap();
        let ours = strip(variant, request);
        let (our_set, our_members) = split(&ours);
        let (synapse_set, synapse_members) = split(variant["synapse_stripped"].as_array().unwrap());
        assert_eq!(our_set, synapse_set, "{label}: configured events");
        assert_eq!(our_members, synapse_members, "{label}: membership events");
        assert_eq!(ours[0]["type"], "m.room.create", "{label}: our order puts create first");
    }
}

#[test]
fn full_create_event_keeps_the_pdu_fields() {
    for scenario in common::scenarios() {
        let create = scenario["state"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "m.room.create")
            .unwrap()
            .clone();
        let mut request =
            StripRequest::new(kind_of(&scenario), common::membership_event(&scenario));
        request.full_create_event = true;
        let ours = strip(&scenario, request);
        let name = &scenario["name"];
        assert_eq!(ours[0]["event_id"], create["event_id"], "{name}");
        assert_eq!(ours[0]["origin_server_ts"], create["origin_server_ts"], "{name}");
        assert_eq!(ours[0]["room_id"], scenario["room_id"], "{name}");
        assert_eq!(ours[0]["content"], create["content"], "{name}");
        assert!(ours[0].get("age").is_none() && ours[0].get("user_id").is_none(), "{name}");
        // Everything else is stripped as before.
        assert_eq!(ours[1..], scenario["synapse_stripped"].as_array().unwrap()[1..], "{name}");
    }
}

#[test]
fn membership_user_overrides_the_inviter_for_invites() {
    let scenario = common::scenario("named_room_with_avatar_topic_alias_encryption");
    let mut request =
        StripRequest::new(MembershipKind::Invite, common::membership_event(&scenario));
    request.membership_user_id = Some("@nobody:localhost".to_owned());
    let ours = strip(&scenario, request);
    // No member event for that user: only the invite itself follows the configured types.
    let members: Vec<_> = ours.iter().filter(|e| e["type"] == "m.room.member").collect();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["state_key"], scenario["target_user"]);
}

fn error_code(state: JsonValue, request: StripRequest) -> &'static str {
    compute_stripped_state(state, request).unwrap_err().code()
}

#[test]
fn each_bad_input_has_its_code() {
    let invite = json!({"type": "m.room.member", "state_key": "@b:x", "sender": "@a:x",
                        "content": {"membership": "invite"}, "room_id": "!r:x"});
    let create = json!({"type": "m.room.create", "state_key": "", "sender": "@a:x",
                        "content": {}, "room_id": "!r:x"});
    let invite_request = || StripRequest::new(MembershipKind::Invite, invite.clone());
    let knock_request = || {
        let knock = json!({"type": "m.room.member", "state_key": "@b:x", "sender": "@b:x",
                           "content": {"membership": "knock"}});
        StripRequest::new(MembershipKind::Knock, knock)
    };
    assert_eq!(error_code(json!({}), invite_request()), "INVALID_STATE");
    assert_eq!(error_code(json!([1]), invite_request()), "INVALID_EVENT");
    assert_eq!(
        error_code(json!([{"type": "t", "content": {}, "state_key": ""}]), invite_request()),
        "INVALID_EVENT"
    );
    assert_eq!(
        error_code(json!([{"type": "t", "sender": "@a:x", "content": {}}]), invite_request()),
        "INVALID_STATE_KEY"
    );
    assert_eq!(
        error_code(
            json!([{"type": "t", "sender": "@a:x", "state_key": "", "content": []}]),
            invite_request()
        ),
        "INVALID_CONTENT"
    );
    assert_eq!(error_code(json!([create, create]), invite_request()), "DUPLICATE_STATE");
    assert_eq!(
        error_code(json!([create]), StripRequest::new(MembershipKind::Knock, invite.clone())),
        "INVALID_MEMBERSHIP_EVENT"
    );
    assert_eq!(
        error_code(json!([create]), StripRequest::new(MembershipKind::Invite, create.clone())),
        "INVALID_MEMBERSHIP_EVENT"
    );
    let mut other_room = create.clone();
    other_room["room_id"] = json!("!other:x");
    assert_eq!(error_code(json!([other_room]), invite_request()), "ROOM_MISMATCH");
    let mut leaky = knock_request();
    leaky.membership_user_id = Some("@a:x".to_owned());
    assert_eq!(error_code(json!([create]), leaky), "MEMBERSHIP_USER_FOR_KNOCK");
}

/// Synapse omits `invite_room_state` when adding it would push the invite PDU over 65,536 bytes
/// of canonical JSON, so `/sync` then carries only the invite event. Two big state events that fit
/// on their own but not together show the cliff.
#[test]
fn room_state_that_would_overflow_the_pdu_is_left_out() {
    let scenario = common::scenario("named_room_with_avatar_topic_alias_encryption");
    let big = "x".repeat(35_000);
    let with = |name: &str, topic: &str| {
        let mut state = scenario["state"].clone();
        for event in state.as_array_mut().unwrap() {
            match event["type"].as_str() {
                Some("m.room.name") => event["content"] = json!({"name": name}),
                Some("m.room.topic") => event["content"] = json!({"topic": topic}),
                _ => {}
            }
        }
        let request =
            StripRequest::new(MembershipKind::Invite, common::membership_event(&scenario));
        compute_stripped_state(state, request).unwrap()
    };
    assert_eq!(with(&big, "short").len(), 9, "a big name alone fits");
    assert_eq!(with("short", &big).len(), 9, "a big topic alone fits");
    let both = with(&big, &big);
    assert_eq!(both.len(), 1, "together they overflow: only the invite is left");
    assert_eq!(both[0].clone().into_json(), scenario["synapse_stripped"][8]);
}
