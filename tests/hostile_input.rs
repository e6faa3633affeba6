//! Random JSON into every entry point: each must return a value or a typed error, never panic
#![cfg(all(not(target_arch = "wasm32"), feature = "store"))]
//! (a panic in wasm poisons the instance for the whole page).

use std::collections::BTreeSet;

use prejoin::model::StateEvent;
use prejoin::prejoin::preview::PreviewKind;
use prejoin::prejoin::{
    compute_room_preview, compute_stripped_state, preview_sync_rooms, MembershipKind,
    PrejoinConfig, PreviewRequest, StripRequest,
};
use prejoin::storage::{EventStore, MemoryStore};
use proptest::prelude::*;
use serde_json::{json, Map, Value as JsonValue};

mod common;

/// Any JSON value, nested a few levels.
fn any_json() -> impl Strategy<Value = JsonValue> {
    let leaf = prop_oneof![
        Just(JsonValue::Null),
        any::<bool>().prop_map(JsonValue::Bool),
        any::<i64>().prop_map(JsonValue::from),
        any::<f64>().prop_map(JsonValue::from),
        ".{0,12}".prop_map(JsonValue::String),
        prop::sample::select(vec![
            "",
            "invite",
            "knock",
            "join",
            "leave",
            "ban",
            "mxc://a/b",
            "@a:x",
            "!r:x",
            "#a:x"
        ])
        .prop_map(|s| JsonValue::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(JsonValue::Array),
            prop::collection::btree_map(field_name(), inner, 0..6)
                .prop_map(|map| JsonValue::Object(map.into_iter().collect())),
        ]
    })
}

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "type",
            "state_key",
            "sender",
            "content",
            "room_id",
            "membership",
            "name",
            "alias",
            "url",
            "avatar_url",
            "displayname",
            "topic",
            "join_rule",
            "room_version",
            "is_direct",
            "reason",
            "origin_server_ts",
            "m.topic",
            "m.text",
            "body",
            "mimetype",
            "algorithm",
            "disableDefaultEventTypes",
            "additionalEventTypes",
        ])
        .prop_map(str::to_owned),
        ".{0,6}",
    ]
}

/// Something shaped like a state event, with any parts swapped for random JSON.
fn event_like() -> impl Strategy<Value = JsonValue> {
    let event_type = prop::sample::select(vec![
        "m.room.create",
        "m.room.name",
        "m.room.member",
        "m.room.avatar",
        "m.room.topic",
        "m.room.canonical_alias",
        "m.room.join_rules",
        "m.room.encryption",
        "org.example",
    ]);
    let state_key = prop::sample::select(vec!["", "@a:x", "@b:x", "@c:x"]);
    (event_type, state_key, any_json(), any_json(), prop::option::of(any_json())).prop_map(
        |(event_type, state_key, content, wild, room_id)| {
            let mut event = Map::new();
            event.insert("type".into(), json!(event_type));
            event.insert("state_key".into(), json!(state_key));
            event.insert("sender".into(), json!("@a:x"));
            event.insert(
                "content".into(),
                match content {
                    JsonValue::Object(_) => content,
                    other => {
                        json!({"membership": "invite", "name": other.clone(), "displayname": other,
                                "url": "mxc://x/y"})
                    }
                },
            );
            if let Some(room_id) = room_id {
                event.insert("room_id".into(), room_id);
            }
            if let JsonValue::Object(wild) = wild {
                event.extend(wild);
            }
            JsonValue::Object(event)
        },
    )
}

fn state_like() -> impl Strategy<Value = JsonValue> {
    prop_oneof![
        4 => prop::collection::vec(prop_oneof![4 => event_like(), 1 => any_json()], 0..10)
            .prop_map(JsonValue::Array),
        1 => any_json(),
    ]
}

/// An event of a `/sync` timeline or state block: event-like, with an id, a timestamp and
/// sometimes no state key, or random JSON.
fn client_event_like() -> impl Strategy<Value = JsonValue> {
    let id = prop::sample::select(vec!["$a", "$b:x", "$c", "$d:x", "not an id"]);
    (event_like(), id, any::<bool>(), prop::option::of(any_json())).prop_map(
        |(mut event, id, message, ts)| {
            event["event_id"] = json!(id);
            event["origin_server_ts"] = ts.unwrap_or(json!(1));
            if message {
                event.as_object_mut().map(|event| event.remove("state_key"));
            }
            event
        },
    )
}

fn events_block() -> impl Strategy<Value = JsonValue> {
    prop_oneof![
        4 => prop::collection::vec(prop_oneof![6 => client_event_like(), 1 => any_json()], 0..6)
            .prop_map(|events| json!({"events": events})),
        1 => any_json(),
    ]
}

fn sync_room() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["!r:x", "!s:x", "nope"])
}

/// `rooms.join` or `rooms.leave`: a room with state and timeline blocks, or random JSON.
fn events_section() -> impl Strategy<Value = JsonValue> {
    let room = (sync_room(), events_block(), events_block(), any::<bool>(), any_json()).prop_map(
        |(room, state, mut timeline, limited, prev_batch)| {
            if let Some(block) = timeline.as_object_mut() {
                block.insert("limited".into(), json!(limited));
                block.insert("prev_batch".into(), prev_batch);
            }
            json!({room: {"state": state, "timeline": timeline}})
        },
    );
    prop_oneof![3 => room, 1 => any_json()]
}

/// `rooms.invite` or `rooms.knock`: a room with stripped state.
fn stripped_section() -> impl Strategy<Value = JsonValue> {
    (sync_room(), state_like()).prop_map(|(room, events)| {
        json!({room: {"invite_state": {"events": events.clone()}, "knock_state": {"events": events}}})
    })
}

/// Something shaped like a `/sync` response, with any part swapped for random JSON.
fn sync_like() -> impl Strategy<Value = JsonValue> {
    let sections = (events_section(), stripped_section(), stripped_section(), events_section());
    (sections, prop::option::of(any_json())).prop_map(|((join, invite, knock, leave), token)| {
        json!({
            "next_batch": token.unwrap_or(json!("s1")),
            "rooms": {"join": join, "invite": invite, "knock": knock, "leave": leave},
        })
    })
}

fn kind() -> impl Strategy<Value = MembershipKind> {
    prop_oneof![Just(MembershipKind::Invite), Just(MembershipKind::Knock)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn stripped_state_never_panics(
        state in state_like(),
        membership in prop_oneof![event_like(), any_json()],
        kind in kind(),
        user in prop::option::of("@[a-c]:x"),
        config in any_json(),
        full in any::<bool>(),
    ) {
        let mut request = StripRequest::new(kind, membership);
        request.membership_user_id = user;
        request.full_create_event = full;
        if let Ok(config) = PrejoinConfig::from_json(config) {
            request.config = config;
        }
        match compute_stripped_state(state, request) {
            Ok(events) => prop_assert!(!events.is_empty(), "the membership event is always last"),
            Err(error) => prop_assert!(!error.code().is_empty()),
        }
    }

    #[test]
    fn room_preview_never_panics(
        state in state_like(),
        own in "@[a-c]:x",
        kind in prop::option::of(prop_oneof![
            Just(PreviewKind::Invite), Just(PreviewKind::Knock), Just(PreviewKind::Join)]),
    ) {
        let mut request = PreviewRequest::new("!r:x", own);
        if let Some(kind) = kind {
            request = request.with_kind(kind);
        }
        if let Ok(preview) = compute_room_preview(&state.to_string(), &request) {
            prop_assert!(preview.display_name.chars().count() <= 255);
            prop_assert!(preview.placeholder.color_index < 8);
        }
    }

    #[test]
    fn room_preview_of_any_text_never_panics(text in prop_oneof![".{0,64}", "[\\[\\]{}\",:0-9a-z ]{0,64}"]) {
        if let Err(error) = compute_room_preview(&text, &PreviewRequest::new("!r:x", "@a:x")) {
            prop_assert!(matches!(error.code(), "INVALID_JSON" | "INVALID_STATE"), "{}", error.code());
        }
    }

    #[test]
    fn parsers_never_panic(value in any_json()) {
        let _config = PrejoinConfig::from_json(value.clone());
        let _event = StateEvent::from_json(value, 0);
    }
}

proptest! {
    // A response is large to generate (a debug build takes about 10 ms a case): fewer cases.
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    #[test]
    fn preview_sync_rooms_never_panics(response in sync_like(), own in "@[a-c]:x") {
        // The rooms, and now and then the whole response (refused) or any part of it.
        for text in [response["rooms"].to_string(), response.to_string(), response["rooms"]["join"].to_string()] {
            match preview_sync_rooms(&text, &own) {
                Ok(previews) => {
                    for preview in previews {
                        prop_assert!(preview.display_name.chars().count() <= 255);
                    }
                }
                Err(error) => prop_assert_eq!(error.code(), "INVALID_SYNC"),
            }
        }
    }
}

proptest! {
    // Each case opens a store and ingests up to three responses (about 20 ms in a debug build):
    // fewer cases than above.
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn ingest_sync_never_panics(responses in prop::collection::vec(sync_like(), 1..4), user in "@[a-c]:x") {
        let store = common::block_on(EventStore::open(MemoryStore::new(), "tab-1")).unwrap();
        for response in &responses {
            if let Err(error) = common::block_on(store.ingest_sync(response, &user, |_, _| {})) {
                prop_assert!(matches!(error.code(), "INVALID_SYNC" | "INVALID_OPTIONS"), "{}", error);
            }
        }
        let previews = common::block_on(store.room_previews(&user)).unwrap();
        for preview in previews {
            for kind in [MembershipKind::Invite, MembershipKind::Knock] {
                let _ = common::block_on(store.stripped_state(&preview.room_id, kind, &user, &PrejoinConfig::default()));
            }
            let timeline = common::block_on(store.room_timeline(&preview.room_id, None, 10)).unwrap();
            prop_assert!(timeline.events.len() <= 10);
        }
    }
}

/// How many events follow a hostile room's honest start; they are named `$e4:x` … after the
/// start's `$e0:x` … `$e3:x`.
const HOSTILE_EVENTS: usize = 6;

/// The honest start of a hostile room: `@a:x` creates it, joins, holds power level 100 and makes
/// it public.
const HONEST_START: usize = 4;

/// One event after a hostile room's start: what it is, who sent it, and whom it names as its
/// prev and auth events, as indexes into the room's events (itself, later events and events
/// nobody sent included). An honest event names one earlier event as its prev event (forks
/// the room when not the last) and exactly the auth events its kind needs from the start.
#[derive(Debug, Clone)]
struct HostileEvent {
    kind: usize,
    sender: usize,
    prev: Vec<usize>,
    auth: Vec<usize>,
    depth: i64,
    honest: bool,
}

fn hostile_event() -> impl Strategy<Value = HostileEvent> {
    let refs = || prop::collection::vec(0..HONEST_START + HOSTILE_EVENTS + 1, 0..4);
    // A negative depth refuses the whole batch: rare, so that most batches are planned.
    let depth =
        prop_oneof![28 => 0..12_i64, 1 => Just(9_007_199_254_740_991_i64), 1 => Just(-1_i64)];
    let sender = prop_oneof![3 => Just(0_usize), 1 => 1..3_usize];
    (0..7_usize, sender, refs(), refs(), depth, prop::bool::weighted(0.7)).prop_map(
        |(kind, sender, prev, auth, depth, honest)| HostileEvent {
            kind,
            sender,
            prev,
            auth,
            depth,
            honest,
        },
    )
}

/// The PDUs of a room of version 1, whose event ids a server chooses: after an honest start,
/// events that may name each other in cycles (an event its own prev or auth event, two events
/// each other's), name events that do not exist, fork the room and claim any depth.
fn hostile_room(events: &[HostileEvent]) -> Vec<JsonValue> {
    let users = ["@a:x", "@b:x", "@c:x"];
    let id = |index: usize| format!("$e{index}:x");
    let pdu = |index: usize,
               sender: &str,
               (event_type, state_key, content),
               prev: &[usize],
               auth: &[usize],
               depth| {
        let pairs = |indexes: &[usize]| -> Vec<JsonValue> {
            indexes.iter().map(|&index| json!([id(index), {"sha256": "x"}])).collect()
        };
        let mut pdu = json!({
            "room_id": "!r:x", "event_id": id(index), "sender": sender, "type": event_type,
            "content": content, "prev_events": pairs(prev), "auth_events": pairs(auth),
            "depth": depth, "origin": "x", "origin_server_ts": index, "hashes": {"sha256": "x"},
            "signatures": {},
        });
        if let Some(state_key) = state_key {
            pdu["state_key"] = json!(state_key);
        }
        pdu
    };
    let start: [(_, &[usize]); HONEST_START] = [
        (("m.room.create", Some(""), json!({"creator": users[0]})), &[]),
        (("m.room.member", Some(users[0]), json!({"membership": "join"})), &[0]),
        (("m.room.power_levels", Some(""), json!({"users": {users[0]: 100}})), &[0, 1]),
        (("m.room.join_rules", Some(""), json!({"join_rule": "public"})), &[0, 1, 2]),
    ];
    let mut pdus: Vec<JsonValue> = start
        .into_iter()
        .enumerate()
        .map(|(index, (what, auth))| {
            let prev: Vec<usize> = index.checked_sub(1).into_iter().collect();
            pdu(index, users[0], what, &prev, auth, index as i64 + 1)
        })
        .collect();
    for (offset, event) in events.iter().enumerate() {
        let index = HONEST_START + offset;
        let sender = users[event.sender];
        let what = match event.kind {
            0 => ("m.room.member", Some(sender), json!({"membership": "join"})),
            1 => ("m.room.member", Some(sender), json!({"membership": "leave"})),
            2 => ("m.room.member", Some(users[1]), json!({"membership": "ban"})),
            3 => ("m.room.power_levels", Some(""), json!({"users": {sender: 100}})),
            4 => ("m.room.name", Some(""), json!({"name": "n"})),
            5 => ("m.room.create", Some(""), json!({"creator": sender})),
            _ => ("m.room.message", None, json!({"body": "hi"})),
        };
        let (prev, auth) = match event.honest {
            // A join needs the join rules, anything else its sender's join (the start has `@a:x`'s).
            true => {
                let auth = if event.kind == 0 { vec![0, 2, 3] } else { vec![0, 1, 2] };
                (vec![event.prev.first().map_or(index - 1, |at| at % index)], auth)
            }
            false => (event.prev.clone(), event.auth.clone()),
        };
        pdus.push(pdu(index, sender, what, &prev, &auth, event.depth));
    }
    pdus
}

proptest! {
    // Each case persists a room of up to ten events in up to three batches (3 ms in a debug
    // build).
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    /// A room whose events name each other in any way persists, some of them first as
    /// outliers, then in any batches and again, to results or typed errors; no event is stored
    /// twice, and the room reads back only stored events, none rejected in its state.
    #[test]
    fn a_hostile_room_persists_without_panicking(
        events in prop::collection::vec(hostile_event(), 0..=HOSTILE_EVENTS),
        outliers in prop::collection::vec(0..HONEST_START + HOSTILE_EVENTS, 0..4),
        out_of_band: bool,
        split in 0..=HONEST_START + HOSTILE_EVENTS,
        backfilled in prop::bool::weighted(0.2),
    ) {
        let store = common::block_on(EventStore::open(MemoryStore::new(), "tab-1")).unwrap();
        let pdus = hostile_room(&events);
        // Some of the events first arrive out of the DAG (an invite, or events fetched alone),
        // and are stored in place when the DAG brings them.
        let outliers: Vec<JsonValue> =
            outliers.iter().filter_map(|&index| pdus.get(index).cloned()).collect();
        if !outliers.is_empty() {
            let version = Some(prejoin::model::room_version::RoomVersion::parse("1").unwrap());
            let result = common::block_on(store.persist_outliers(outliers, version, out_of_band));
            match result {
                Ok(result) => {
                    for room in result.rooms {
                        if let Some(error) = &room.error {
                            prop_assert!(matches!(error.code(), "PLAN_FAILED"), "{}", error);
                        }
                    }
                }
                Err(error) => prop_assert!(matches!(error.code(), "INVALID_PDU"), "{}", error),
            }
        }
        let (first, second) = pdus.split_at(split.min(pdus.len()));
        let (mut stored, mut rejected) = (Vec::new(), Vec::new());
        for batch in [first.to_vec(), second.to_vec(), pdus.clone()] {
            if batch.is_empty() {
                continue;
            }
            let result = match common::block_on(store.persist_events(batch, backfilled)) {
                Ok(result) => result,
                Err(error) => {
                    prop_assert!(matches!(error.code(), "INVALID_PDU" | "UNKNOWN_ROOM"), "{}", error);
                    continue;
                }
            };
            for room in result.rooms {
                if let Some(error) = &room.error {
                    prop_assert!(matches!(error.code(), "PLAN_FAILED"), "{}", error);
                }
                stored.extend(room.persisted);
                rejected.extend(room.rejected.into_iter().map(|(event_id, _)| event_id));
            }
        }
        let distinct = |ids: &[String]| ids.iter().collect::<BTreeSet<_>>().len() == ids.len();
        prop_assert!(distinct(&stored), "an event stored twice: {:?}", stored);
        // What the room reads back: only stored events, and no rejected one in its state.
        let timeline = common::block_on(store.room_timeline("!r:x", None, 20)).unwrap();
        let in_timeline: Vec<String> =
            timeline.events.iter().map(|pdu| pdu.event_id().to_string()).collect();
        prop_assert!(distinct(&in_timeline), "an event twice in the timeline: {:?}", in_timeline);
        prop_assert!(in_timeline.iter().all(|event_id| stored.contains(event_id)));
        let state = prejoin::model::StateFilter::all();
        let state = common::block_on(store.current_state("!r:x", &state)).unwrap();
        for event_id in state.values() {
            let event_id = event_id.to_string();
            prop_assert!(stored.contains(&event_id) && !rejected.contains(&event_id), "{}", event_id);
        }
    }
}
