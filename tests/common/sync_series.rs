//! `/sync` ingestion, part of the store conformance suite: every `/sync` response three users
//! of a real Synapse 1.163.2 received (`sync-series.json`), and their initial syncs
//! (`scenarios.json`), replayed into a store, checked against what Synapse sent and showed.

use std::collections::{BTreeMap, BTreeSet};

use prejoin::model::StateFilter;
use prejoin::prejoin::{compute_room_preview, MembershipKind, PrejoinConfig, PreviewRequest};
use prejoin::storage::{EventStore, Store};
use serde_json::{json, Value as JsonValue};

use super::fixture;

async fn open<S: Store>(backend: S) -> EventStore<S> {
    EventStore::open(backend, "tab-1").await.unwrap()
}

/// Ingests one response, asserting every room was stored.
async fn ingest(
    store: &EventStore<impl Store>,
    response: &JsonValue,
    user: &str,
) -> prejoin::storage::IngestResult {
    let result = store.ingest_sync(response, user, |_, _| {}).await.unwrap();
    for room in &result.rooms {
        assert_eq!(room.result.error, None, "{}", room.result.room_id);
    }
    assert!(result.sync_token_stored);
    let next_batch = response["next_batch"].as_str().unwrap();
    assert_eq!(store.sync_token().map(|token| token.next_batch).as_deref(), Some(next_batch));
    result
}

/// A state as `(type, state_key)` → `(event_id, sender, content)`: what a client reads of it
/// (`unsigned` holds ages, which differ between two reads of the same event).
fn state_of(events: &[JsonValue]) -> BTreeMap<(String, String), JsonValue> {
    events
        .iter()
        .map(|event| {
            let key = (
                event["type"].as_str().unwrap().to_owned(),
                event["state_key"].as_str().unwrap().to_owned(),
            );
            (key, json!([event["event_id"], event["sender"], event["content"]]))
        })
        .collect()
}

async fn current_state(store: &EventStore<impl Store>, room_id: &str) -> Vec<JsonValue> {
    let events = store.current_state_events(room_id, &StateFilter::all()).await.unwrap();
    events.iter().map(|pdu| serde_json::to_value(pdu.to_client_event()).unwrap()).collect()
}

fn kind_of(kind: &str) -> MembershipKind {
    match kind {
        "invite" => MembershipKind::Invite,
        _ => MembershipKind::Knock,
    }
}

/// Alice created every room and invited or accepted everyone: her store, fed only by her own
/// responses, gives after every step the stripped state Synapse sent bob or carol in that step
/// (computed from the state at the invite or knock: a rename after bob's invite does not reach
/// it), and the current state of every room equals what Synapse's `/state` showed her.
pub async fn the_inviters_store_gives_what_synapse_sent(backend: impl Store) {
    check_the_inviters_store(&[&open(backend).await]).await;
}

/// The same with alice's responses ingested by two tabs over one store, each response by one
/// tab and then again by the other, the first tab taking turns: a tab plans the rooms the other
/// wrote since its last turn on what is stored, and the others on what it kept of them; what
/// both read is what Synapse sent.
pub async fn the_inviters_store_in_two_tabs_gives_what_synapse_sent<S: Store>(backend: S) {
    let a = EventStore::open(&backend, "tab-a").await.unwrap();
    let b = EventStore::open(&backend, "tab-b").await.unwrap();
    check_the_inviters_store(&[&a, &b]).await;
}

/// Replays alice's responses into `tabs` (one store, taking turns response by response) and
/// checks every tab after each step (see [`the_inviters_store_gives_what_synapse_sent`]).
async fn check_the_inviters_store<S: Store>(tabs: &[&EventStore<S>]) {
    let series = fixture("sync-series.json");
    let alice = series["users"]["alice"].as_str().unwrap();
    let mut compared = 0;
    let mut turns = tabs.iter().cycle();
    for step in series["steps"].as_array().unwrap() {
        let name = step["name"].as_str().unwrap();
        for sync in step["syncs"]["alice"].as_array().unwrap() {
            let tab = turns.next().expect("a cycle of at least one tab never ends");
            ingest(tab, &sync["response"], alice).await;
            // Every tab syncs on its own: the others receive the same response, and store
            // nothing of it twice.
            for other in tabs.iter().filter(|other| !std::ptr::eq(**other, *tab)) {
                let again = ingest(other, &sync["response"], alice).await;
                assert_eq!(again.stream_orderings, None, "{name}: stored once");
            }
        }
        let default = PrejoinConfig::default();
        for store in tabs {
            for record in step["expected"]["stripped"].as_array().unwrap() {
                let room_id = record["room_id"].as_str().unwrap();
                let target = record["target_user"].as_str().unwrap();
                let kind = kind_of(record["kind"].as_str().unwrap());
                let ours = store.stripped_state(room_id, kind, target, &default).await;
                let ours = ours.unwrap_or_else(|error| panic!("{name}, {room_id}: {error}"));
                assert_eq!(&JsonValue::Array(ours), &record["events"], "{name}: {room_id}");
                compared += 1;
            }
            for (room_id, expected) in step["expected"]["room_state"].as_object().unwrap() {
                let ours = current_state(store, room_id).await;
                let expected = state_of(expected.as_array().unwrap());
                assert_eq!(state_of(&ours), expected, "{name}: the current state of {room_id}");
            }
        }
    }
    // Six invites of bob; carol's knock, the invite accepting it, a knock; read in every tab.
    assert_eq!(compared, 9 * tabs.len());
    let store = tabs[0];
    // Bob's invite to `named` stays as it was sent, though the room was renamed in step 3.
    let named = &series["rooms"][0]["room_id"];
    let bob = series["users"]["bob"].as_str().unwrap();
    let invite = store
        .stripped_state(
            named.as_str().unwrap(),
            MembershipKind::Invite,
            bob,
            &PrejoinConfig::default(),
        )
        .await
        .unwrap();
    let name = invite.iter().find(|event| event["type"] == "m.room.name").unwrap();
    let sent = &series["steps"][1]["expected"]["stripped"][0]["events"];
    assert_eq!(sent.as_array().unwrap().iter().find(|e| e["type"] == "m.room.name"), Some(name));
    let current = current_state(store, named.as_str().unwrap()).await;
    let current_name = current.iter().find(|event| event["type"] == "m.room.name").unwrap();
    assert_ne!(current_name["content"], name["content"], "the rename reached alice's store");
}

/// Bob's store (invites: received, withdrawn, rejected, accepted, then a gap) previews every
/// room with his membership after every step.
pub async fn the_invitees_store_previews_every_room(backend: impl Store) {
    replay_member(backend, "bob").await;
}

/// Carol's store (a knock accepted into an invite, a knock denied) previews every room with her
/// membership after every step, and her knocks' previews use no other member.
pub async fn the_knockers_store_previews_every_room(backend: impl Store) {
    replay_member(backend, "carol").await;
}

/// Replays `role`'s responses; after every step, the rooms previewed are exactly those of
/// `expected.memberships`, each with that membership; an invite or knock gives back the stripped
/// state last received for it, and previews as `compute_room_preview` of it.
async fn replay_member(backend: impl Store, role: &str) {
    let store = open(backend).await;
    let series = fixture("sync-series.json");
    let user = series["users"][role].as_str().unwrap();
    let mut received: BTreeMap<String, (String, JsonValue)> = BTreeMap::new();
    for step in series["steps"].as_array().unwrap() {
        let name = step["name"].as_str().unwrap();
        for sync in step["syncs"][role].as_array().unwrap() {
            ingest(&store, &sync["response"], user).await;
        }
        for record in step["expected"]["stripped"].as_array().unwrap() {
            if record["target_user"] == user {
                let kind = record["kind"].as_str().unwrap().to_owned();
                received.insert(
                    record["room_id"].as_str().unwrap().to_owned(),
                    (kind, record["events"].clone()),
                );
            }
        }
        let mut expected: BTreeMap<String, String> = BTreeMap::new();
        for (membership, rooms) in step["expected"]["memberships"][role].as_object().unwrap() {
            for room in rooms.as_array().unwrap() {
                expected.insert(room.as_str().unwrap().to_owned(), membership.clone());
            }
        }
        let previews = store.room_previews(user).await.unwrap();
        let ours: BTreeMap<String, String> = previews
            .iter()
            .map(|preview| {
                let preview = serde_json::to_value(preview).unwrap();
                let membership = preview["membership"].as_str().unwrap_or("none").to_owned();
                (preview["roomId"].as_str().unwrap().to_owned(), membership)
            })
            .collect();
        assert_eq!(ours, expected, "{name}: {role}'s rooms and memberships");
        for preview in &previews {
            let preview = serde_json::to_value(preview).unwrap();
            let room_id = preview["roomId"].as_str().unwrap();
            let membership = preview["membership"].as_str().unwrap();
            if !matches!(membership, "invite" | "knock") {
                continue;
            }
            let (kind, events) = &received[room_id];
            assert_eq!(kind, membership, "{name}: {room_id}");
            let default = PrejoinConfig::default();
            let ours = store.stripped_state(room_id, kind_of(kind), user, &default).await.unwrap();
            assert_eq!(&JsonValue::Array(ours), events, "{name}: {room_id} as received");
            let request = PreviewRequest::new(room_id, user);
            let from_received = compute_room_preview(&events.to_string(), &request).unwrap();
            assert_eq!(preview, serde_json::to_value(from_received).unwrap(), "{name}: {room_id}");
            if membership == "knock" {
                assert!(preview["inviter"].is_null(), "{name}: a knock names no other member");
            }
        }
    }
}

/// Bob joins `chat` in step 6 and misses 61 events in step 7: each time the room arrives with a
/// `limited` timeline, and the store records a gap before the timeline's first event, with its
/// `prev_batch`; the current state (the topic changed inside the gap) is Synapse's.
pub async fn a_limited_timeline_is_a_gap(backend: impl Store) {
    let store = open(backend).await;
    let series = fixture("sync-series.json");
    let bob = series["users"]["bob"].as_str().unwrap();
    let chat = series["rooms"][4]["room_id"].as_str().unwrap();
    let mut gaps = BTreeSet::new();
    for step in series["steps"].as_array().unwrap() {
        for sync in step["syncs"]["bob"].as_array().unwrap() {
            let response = &sync["response"];
            ingest(&store, response, bob).await;
            let timeline = &response["rooms"]["join"][chat]["timeline"];
            if timeline["limited"] == true {
                let first = timeline["events"][0]["event_id"].as_str().unwrap().to_owned();
                gaps.insert((first, timeline["prev_batch"].as_str().unwrap().to_owned()));
            }
        }
        if step["index"].as_u64().unwrap() >= 6 {
            let expected = state_of(step["expected"]["room_state"][chat].as_array().unwrap());
            assert_eq!(state_of(&current_state(&store, chat).await), expected, "{}", step["name"]);
        }
    }
    assert_eq!(gaps.len(), 2, "joined in step 6, 61 events missed in step 7");
    let ours: BTreeSet<(String, String)> = store
        .backend()
        .timeline_gaps(chat)
        .await
        .unwrap()
        .into_iter()
        .map(|gap| (gap.event_id.to_string(), gap.prev_batch))
        .collect();
    assert_eq!(ours, gaps);
}

/// The three users' initial syncs (`scenarios.json`): joined rooms' current state is the state
/// block with the timeline's state events over it; invites and knocks are stored as received.
/// Ingested again, a response stores nothing and moves nothing.
pub async fn initial_syncs_store_once(backend: impl Store) {
    let store = open(backend).await;
    let syncs = fixture("scenarios.json")["initial_syncs"].clone();
    let (user, response) =
        syncs.as_object().unwrap().iter().find(|(user, _)| user.starts_with("@carol")).unwrap();
    check_initial_sync(&store, user, response).await;
    let positions = store.positions();
    let again = store.ingest_sync(response, user, |_, _| {}).await.unwrap();
    assert!(again.rooms.iter().all(|room| room.result.persisted.is_empty()), "nothing twice");
    assert_eq!(again.stream_orderings, None);
    assert_eq!(store.positions(), positions, "nothing moved");
    check_initial_sync(&store, user, response).await;
}

/// The inviter's and the invitee's initial syncs, each into a store of its own user: see
/// [`initial_syncs_store_once`].
pub async fn initial_syncs_of_the_inviter_and_invitee(backend: impl Store) {
    let store = open(backend).await;
    let syncs = fixture("scenarios.json")["initial_syncs"].clone();
    let (user, response) =
        syncs.as_object().unwrap().iter().find(|(user, _)| user.starts_with("@alice")).unwrap();
    check_initial_sync(&store, user, response).await;
    let token = store.sync_token();
    let (bob, invites) =
        syncs.as_object().unwrap().iter().find(|(user, _)| user.starts_with("@bob")).unwrap();
    let error = store.ingest_sync(invites, bob, |_, _| {}).await.unwrap_err();
    assert_eq!(error.code(), "INVALID_OPTIONS", "a store holds one user's syncs");
    assert_eq!(store.sync_token(), token);
}

async fn check_initial_sync(store: &EventStore<impl Store>, user: &str, response: &JsonValue) {
    let mut progress = Vec::new();
    let result =
        store.ingest_sync(response, user, |done, total| progress.push((done, total))).await;
    let result = result.unwrap();
    let rooms = &response["rooms"];
    let total: usize = ["join", "invite", "knock", "leave"]
        .iter()
        .map(|section| rooms[section].as_object().map_or(0, |rooms| rooms.len()))
        .sum();
    assert_eq!(result.rooms.len(), total);
    assert_eq!(progress, (1..=total).map(|done| (done, total)).collect::<Vec<_>>());
    assert_eq!(store.sync_token().unwrap().next_batch, response["next_batch"].as_str().unwrap());
    let previews = store.room_previews(user).await.unwrap();
    let memberships: BTreeMap<String, JsonValue> = previews
        .iter()
        .map(|preview| {
            let preview = serde_json::to_value(preview).unwrap();
            (preview["roomId"].as_str().unwrap().to_owned(), preview["membership"].clone())
        })
        .collect();
    for (section, key) in [("invite", "invite_state"), ("knock", "knock_state")] {
        for (room_id, room) in rooms[section].as_object().into_iter().flatten() {
            assert_eq!(memberships[room_id], section, "{room_id}");
            let default = PrejoinConfig::default();
            let ours =
                store.stripped_state(room_id, kind_of(section), user, &default).await.unwrap();
            assert_eq!(JsonValue::Array(ours), room[key]["events"], "{room_id}");
        }
    }
    for (room_id, room) in rooms["join"].as_object().into_iter().flatten() {
        assert_eq!(memberships[room_id], "join", "{room_id}");
        let mut expected = state_of(room["state"]["events"].as_array().unwrap());
        let timeline = room["timeline"]["events"].as_array().unwrap();
        let state_events: Vec<JsonValue> =
            timeline.iter().filter(|event| event.get("state_key").is_some()).cloned().collect();
        expected.extend(state_of(&state_events));
        assert_eq!(state_of(&current_state(store, room_id).await), expected, "{room_id}");
        let last = timeline.last().unwrap()["event_id"].as_str().unwrap();
        let tips = store.forward_extremities(room_id).await.unwrap();
        assert_eq!(tips, BTreeSet::from([last.to_owned()]), "{room_id}: the timeline's tip");
    }
}

/// A response malformed anywhere is `INVALID_SYNC`, naming where, and stores nothing: not even
/// the rooms before the malformed one.
pub async fn a_malformed_response_changes_nothing(backend: impl Store) {
    let store = open(backend).await;
    let series = fixture("sync-series.json");
    let alice = series["users"]["alice"].as_str().unwrap();
    ingest(&store, &series["steps"][0]["syncs"]["alice"][0]["response"], alice).await;
    let good = series["steps"][1]["syncs"]["alice"][0]["response"].clone();
    let rooms: Vec<String> = good["rooms"]["join"].as_object().unwrap().keys().cloned().collect();
    let last = rooms.last().unwrap().clone();
    let at = |path: &[&str]| path.iter().fold(String::new(), |p, s| format!("{p}/{s}"));
    let events = |room: &str| at(&["rooms", "join", room, "timeline", "events"]);
    let cases: Vec<(String, JsonValue, &str)> = vec![
        (at(&["next_batch"]), json!(5), "next_batch"),
        (at(&["rooms"]), json!([]), "rooms"),
        (at(&["rooms", "join"]), json!("x"), "rooms.join"),
        (at(&["rooms", "join", &last]), json!([]), "rooms.join"),
        (at(&["rooms", "join", &last, "timeline", "limited"]), json!("yes"), "limited"),
        (at(&["rooms", "join", &last, "timeline", "prev_batch"]), json!(1), "prev_batch"),
        (events(&last), json!({}), "timeline.events"),
        (format!("{}/3", events(&last)), json!("event"), "timeline.events[3]"),
        (format!("{}/3/event_id", events(&last)), json!(null), "timeline.events[3]"),
        (format!("{}/3/event_id", events(&last)), json!("no id"), "timeline.events[3]"),
        (format!("{}/4/sender", events(&last)), json!("alice"), "timeline.events[4]"),
        (format!("{}/2/content", events(&last)), json!([]), "timeline.events[2]"),
        (format!("{}/2/origin_server_ts", events(&last)), json!(-1), "timeline.events[2]"),
        (format!("{}/2/content/n", events(&last)), json!(1.5), "timeline.events[2]"),
        (format!("{}/0/state_key", events(&last)), json!(7), "timeline.events[0]"),
        (format!("{}/0/room_id", events(&last)), json!("!other:x"), "timeline.events[0]"),
    ];
    for (pointer, value, named) in cases {
        let mut bad = good.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let parent = if parent.is_empty() { &mut bad } else { bad.pointer_mut(parent).unwrap() };
        match parent {
            JsonValue::Array(items) => items[key.parse::<usize>().unwrap()] = value,
            object => object[key] = value,
        }
        let error = store.ingest_sync(&bad, alice, |_, _| {}).await.unwrap_err();
        assert_eq!(error.code(), "INVALID_SYNC", "{pointer}: {error}");
        assert!(error.to_string().contains(named), "{pointer}: {error}");
        assert_eq!(store.current_token(), 0, "{pointer}: nothing stored");
        assert!(store.rooms().await.unwrap().is_empty(), "{pointer}: no room stored");
    }
    let mut no_state_key = good.clone();
    let with_state = rooms
        .iter()
        .rev()
        .find(|room| good["rooms"]["join"][room]["state"]["events"][0].is_object());
    let with_state = with_state.expect("a room whose state block is not empty");
    let state =
        no_state_key.pointer_mut(&format!("/rooms/join/{with_state}/state/events/0")).unwrap();
    state.as_object_mut().unwrap().remove("state_key");
    let error = store.ingest_sync(&no_state_key, alice, |_, _| {}).await.unwrap_err();
    assert_eq!(error.code(), "INVALID_SYNC");
    assert!(error.to_string().contains("state.events[0]"), "{error}");
    assert_eq!(store.current_token(), 0);
    let token = store.sync_token();
    assert_eq!(
        token.unwrap().next_batch,
        series["steps"][0]["syncs"]["alice"][0]["response"]["next_batch"]
    );
    ingest(&store, &good, alice).await;
    assert_eq!(store.rooms().await.unwrap().len(), rooms.len());
}

/// Bob's `chat` read back page by page: the ten events of step 7's timeline, stopping at the gap
/// before them (step 7's `prev_batch`); before them the events of step 6's timeline (his
/// join), stopping at the gap of step 6; then nothing. No event of a `state` block is in it.
pub async fn a_synced_timeline_reads_back_page_by_page(backend: impl Store) {
    let store = open(backend).await;
    let series = fixture("sync-series.json");
    let bob = series["users"]["bob"].as_str().unwrap();
    let chat = series["rooms"][4]["room_id"].as_str().unwrap();
    let mut timelines = Vec::new();
    for step in series["steps"].as_array().unwrap() {
        for sync in step["syncs"]["bob"].as_array().unwrap() {
            ingest(&store, &sync["response"], bob).await;
            let timeline = &sync["response"]["rooms"]["join"][chat]["timeline"];
            if timeline.is_object() {
                timelines.push(timeline.clone());
            }
        }
    }
    assert_eq!(timelines.len(), 2, "steps 6 and 7");
    let ids = |events: &[prejoin::model::pdu::Pdu]| -> Vec<String> {
        events.iter().map(|pdu| pdu.event_id().to_string()).collect()
    };
    let expected = |timeline: &JsonValue| -> Vec<String> {
        let events = timeline["events"].as_array().unwrap();
        events.iter().map(|event| event["event_id"].as_str().unwrap().to_owned()).collect()
    };
    let newest = store.room_timeline(chat, None, 100).await.unwrap();
    assert_eq!(ids(&newest.events), expected(&timelines[1]));
    assert_eq!(newest.gap.as_deref(), timelines[1]["prev_batch"].as_str());
    let first = newest.events[0].owned_event_id().clone();
    let older = store.room_timeline(chat, Some(&first), 100).await.unwrap();
    assert_eq!(ids(&older.events), expected(&timelines[0]));
    assert_eq!(older.gap.as_deref(), timelines[0]["prev_batch"].as_str());
    let oldest = older.events[0].owned_event_id().clone();
    let none = store.room_timeline(chat, Some(&oldest), 100).await.unwrap();
    assert_eq!((none.events.len(), none.gap), (0, None));

    let three = store.room_timeline(chat, None, 3).await.unwrap();
    assert_eq!(ids(&three.events), expected(&timelines[1])[7..].to_vec());
    assert_eq!(three.gap, None, "the gap is before the first of the ten, not of these three");
    let elsewhere = series["rooms"][0]["room_id"].as_str().unwrap();
    let error = store.room_timeline(elsewhere, Some(&first), 10).await.unwrap_err();
    assert_eq!(error.code(), "UNKNOWN_EVENT", "an event of another room");
}

/// PDUs for a room filled from `/sync` are refused for that room (`SYNCED_ROOM`): its events
/// have no DAG to join. Nothing of them is stored, and the room reads back as before.
pub async fn pdus_cannot_join_a_synced_room(backend: impl Store) {
    let store = open(backend).await;
    let series = fixture("sync-series.json");
    let alice = series["users"]["alice"].as_str().unwrap();
    for step in &series["steps"].as_array().unwrap()[..2] {
        ingest(&store, &step["syncs"]["alice"][0]["response"], alice).await;
    }
    let named = series["rooms"][0]["room_id"].as_str().unwrap();
    let tip = store.forward_extremities(named).await.unwrap().into_iter().next().unwrap();
    let pdu = json!({
        "type": "m.room.message", "room_id": named, "sender": alice, "depth": 20,
        "content": {"body": "from federation"}, "origin_server_ts": 1,
        "prev_events": [tip], "auth_events": [], "hashes": {"sha256": "x"}, "signatures": {},
    });
    let token = store.current_token();
    let result = store.persist_events(vec![pdu], false).await.unwrap();
    let error = result.rooms[0].error.as_ref().map(|error| error.code());
    assert_eq!(error, Some("SYNCED_ROOM"));
    assert_eq!(store.current_token(), token);
    assert_eq!(store.forward_extremities(named).await.unwrap(), BTreeSet::from([tip]));
}

/// Previews are kept between reads, and a write that changes what one is computed from drops
/// it: replaying alice's responses (rooms created, renamed, members invited, leaving, knocking),
/// after every step the previews read twice (computed, then kept) equal previews computed afresh
/// from each room's current state. A redaction of a room's name drops its preview too, and
/// previews computed from what was read before a write are not kept after it.
pub async fn kept_previews_follow_every_change(backend: impl Store) {
    let store = open(backend).await;
    let series = fixture("sync-series.json");
    let alice = series["users"]["alice"].as_str().unwrap();
    for step in series["steps"].as_array().unwrap() {
        for sync in step["syncs"]["alice"].as_array().unwrap() {
            ingest(&store, &sync["response"], alice).await;
        }
        check_previews(&store, alice, step["name"].as_str().unwrap()).await;
    }
    let named = series["rooms"][0]["room_id"].as_str().unwrap();
    let before = store.room_previews(alice).await.unwrap();
    let before = before.iter().find(|preview| preview.room_id == named).unwrap();
    assert_eq!(before.display_name_source, prejoin::prejoin::preview::DisplayNameSource::Name);
    let epoch = store.backend().room_list(alice).await.unwrap().epoch;

    let name_event = current_state(&store, named).await;
    let name_event = name_event.iter().find(|event| event["type"] == "m.room.name").unwrap();
    let redaction = json!({
        "type": "m.room.redaction",
        "event_id": "$redacts-the-name",
        "sender": alice,
        "origin_server_ts": 1_900_000_000_000_u64,
        "redacts": name_event["event_id"],
        "content": {},
        "unsigned": {},
    });
    let response = json!({
        "next_batch": "s-after-the-redaction",
        "rooms": {"join": {named: {"timeline": {"events": [redaction], "limited": false}}}},
    });
    ingest(&store, &response, alice).await;
    let kept = store.backend().room_list(alice).await.unwrap();
    assert!(kept.epoch > epoch, "the redaction moved the epoch on");
    assert!(!kept.previews.contains_key(named), "the redaction dropped the room's preview");
    assert!(!kept.previews.is_empty(), "the other rooms' previews are kept");
    let stale = [(named.to_owned(), "computed before the redaction".to_owned())];
    let kept_stale = store.backend().keep_previews(alice, epoch, &stale).await.unwrap();
    assert!(!kept_stale, "previews computed before a write are not kept after it");
    let after = check_previews(&store, alice, "after the redaction").await;
    let after = after.iter().find(|preview| preview["roomId"] == named).unwrap();
    assert_ne!(after["displayNameSource"], "name", "the name was redacted");
    assert_ne!(after["displayName"], serde_json::to_value(&before.display_name).unwrap());
}

/// The same for bob's responses (invites received, withdrawn, rejected and accepted): an
/// invite's preview, kept or not, is that of the stripped state received.
pub async fn kept_previews_of_an_invitee(backend: impl Store) {
    let store = open(backend).await;
    let series = fixture("sync-series.json");
    let bob = series["users"]["bob"].as_str().unwrap();
    for step in series["steps"].as_array().unwrap() {
        for sync in step["syncs"]["bob"].as_array().unwrap() {
            ingest(&store, &sync["response"], bob).await;
        }
        check_previews(&store, bob, step["name"].as_str().unwrap()).await;
    }
}

/// Reads `user`'s previews twice and checks both against previews computed afresh; every
/// preview is kept after the first read. The previews, as JSON.
async fn check_previews(store: &EventStore<impl Store>, user: &str, name: &str) -> Vec<JsonValue> {
    let computed = store.room_previews(user).await.unwrap();
    let kept = store.backend().room_list(user).await.unwrap().previews;
    assert_eq!(kept.len(), computed.len(), "{name}: every preview is kept");
    let read_again = store.room_previews(user).await.unwrap();
    assert_eq!(read_again, computed, "{name}: the kept previews");
    let memberships = store.backend().local_memberships(user, None).await.unwrap();
    let mut previews = Vec::new();
    for preview in computed {
        let room_id = preview.room_id.clone();
        let received = memberships
            .get(&room_id)
            .filter(|own| matches!(own.membership.as_str(), "invite" | "knock"))
            .and_then(|own| own.stripped_state.clone());
        let mut state = match received {
            Some(events) => events,
            None => current_state(store, &room_id).await,
        };
        // A room left before it was joined has no state: it previews from the own leave event.
        let own_event = memberships.get(&room_id).and_then(|own| own.event_id.clone());
        if let (true, Some(event_id)) = (state.is_empty(), own_event) {
            let event = store.event(&event_id).await.unwrap().unwrap();
            state.push(serde_json::to_value(event.pdu.to_client_event()).unwrap());
        }
        let request = PreviewRequest::new(room_id.as_str(), user);
        let afresh = compute_room_preview(&JsonValue::Array(state).to_string(), &request).unwrap();
        assert_eq!(preview, afresh, "{name}: {room_id}");
        previews.push(serde_json::to_value(preview).unwrap());
    }
    previews
}

/// A `/sync` response of `rooms` joined rooms of one user (`@u:x`), each with its state block
/// (create and join, when `state`) and the timeline messages numbered `from..from + count`
/// (`messages` is `(from, count)`).
pub fn joined_rooms(
    next_batch: &str,
    rooms: usize,
    state: bool,
    messages: (usize, usize),
) -> JsonValue {
    let user = "@u:x";
    let event = |room: usize, id: String, fields: JsonValue| {
        let mut event = json!({"event_id": id, "room_id": format!("!r{room}:x"), "sender": user,
            "origin_server_ts": 1_700_000_000_000_u64});
        event.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        event
    };
    let (from, count) = messages;
    let join: serde_json::Map<String, JsonValue> = (0..rooms)
        .map(|room| {
            let state_events = match state {
                true => {
                    let create = json!({"room_version": "10"});
                    let create =
                        json!({"type": "m.room.create", "state_key": "", "content": create});
                    let join = json!({"membership": "join"});
                    let join = json!({"type": "m.room.member", "state_key": user, "content": join});
                    vec![
                        event(room, format!("$create{room}"), create),
                        event(room, format!("$join{room}"), join),
                    ]
                }
                false => Vec::new(),
            };
            let timeline: Vec<JsonValue> = (from..from + count)
                .map(|n| {
                    let content = json!({"msgtype": "m.text", "body": n.to_string()});
                    let message = json!({"type": "m.room.message", "content": content});
                    event(room, format!("$m{room}-{n}"), message)
                })
                .collect();
            let block = json!({"state": {"events": state_events},
                "timeline": {"events": timeline, "limited": false}});
            (format!("!r{room}:x"), block)
        })
        .collect();
    json!({"next_batch": next_batch, "rooms": {"join": join}})
}

/// An incremental response of rooms the store kept from the last one (whose stored events are
/// read for all of them at once, and which are written while the next are planned) stores them
/// as one room after the other would: the ids in the response's order, and nothing twice when it
/// comes again.
pub async fn kept_rooms_are_stored_in_the_order_of_the_response(backend: impl Store) {
    let store = open(backend).await;
    let first = ingest(&store, &joined_rooms("s1", 3, true, (0, 2)), "@u:x").await;
    assert_eq!(first.stream_orderings, Some((1, 12)));
    let next = joined_rooms("s2", 3, false, (2, 3));
    let result = ingest(&store, &next, "@u:x").await;
    let orderings: Vec<_> = result.rooms.iter().map(|room| room.result.stream_orderings).collect();
    assert_eq!(orderings, [Some((13, 15)), Some((16, 18)), Some((19, 21))]);
    let persisted: Vec<Vec<String>> =
        result.rooms.iter().map(|room| room.result.persisted.clone()).collect();
    let expected = |room| (2..5).map(|n| format!("$m{room}-{n}")).collect::<Vec<_>>();
    assert_eq!(persisted, [expected(0), expected(1), expected(2)]);
    let again = ingest(&store, &next, "@u:x").await;
    assert_eq!(again.stream_orderings, None, "nothing new");
    let already: Vec<usize> =
        again.rooms.iter().map(|room| room.result.already_persisted.len()).collect();
    assert_eq!(already, [3, 3, 3]);
    assert_eq!(store.current_token(), 21);
    for room in 0..3 {
        let page = store.room_timeline(&format!("!r{room}:x"), None, 10).await.unwrap();
        let ids: Vec<String> = page.events.iter().map(|pdu| pdu.event_id().to_string()).collect();
        // The state block is no part of the timeline.
        assert_eq!(ids, (0..5).map(|n| format!("$m{room}-{n}")).collect::<Vec<_>>(), "{room}");
    }
}
