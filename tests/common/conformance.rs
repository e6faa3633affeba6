//! The store conformance suite: every behaviour a backend must have, written once and run
//! unchanged against each backend through [`store_conformance_tests!`].
//!
//! Expected values come from a real Synapse 1.163.2 (the fixtures), never from our own output.

use std::collections::{BTreeMap, BTreeSet};

use prejoin::model::StateFilter;
use prejoin::storage::{EventPlacement, EventStore, Store, StoreError, StoredEvent};
use ruma_common::OwnedEventId;
use serde_json::Value as JsonValue;

use super::interposed::Interposed;
use super::{event_id, expected_state, fixture, id_set as strings};

fn pdus_fixture() -> JsonValue {
    fixture("pdus.json")
}

fn forks_fixture() -> JsonValue {
    fixture("forks.json")
}

fn softfail_fixture() -> JsonValue {
    fixture("softfail.json")
}

fn state_of(state: prejoin::persist::StateIds) -> BTreeMap<(String, String), String> {
    super::state_map(&state)
}

/// Expands to one test per behaviour of the suite, each run on a store from `$make_store` (an
/// async function returning a fresh, empty backend). The list lives here, once.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make_store:path) => {
        $crate::store_conformance_tests!(@each $make_store;
            every_room_synapse_persisted_is_reproduced,
            chunked_batches_give_the_same_tables,
            forked_rooms_resolve_as_synapse,
            soft_failed_events_as_synapse,
            bad_input_changes_nothing,
            a_failing_room_chunk_leaves_nothing_and_the_others_persist,
            backfilled_events_take_negative_orderings,
            state_filters_read_members_and_non_members,
            a_reopened_store_goes_on_as_synapse,
            a_store_that_keeps_no_cache_goes_on_as_synapse,
            a_large_room_through_a_small_cache,
            state_groups_of_interleaved_rooms_read_back,
            a_large_state_reads_back_its_events,
            a_gap_is_a_backward_extremity_until_filled,
            a_late_event_is_followed_only_through_accepted_events,
            redacted_events_load_pruned,
            redacted_state_events_read_pruned,
            an_out_of_band_invite_is_an_outlier_until_its_room_arrives,
            a_de_outliered_event_keeps_its_stream_ordering,
            event_placements_read_without_the_events,
            stored_rooms_are_listed,
            stripped_state_of_stored_invites,
            stripped_state_of_a_stored_knock,
            room_previews_of_every_stored_room,
            a_room_of_pdus_reads_back_as_a_timeline,
            the_events_stream_reads_back_in_pages,
            two_writers_store_each_event_once,
        );
        $crate::store_conformance_tests!(@sync $make_store;
            the_inviters_store_gives_what_synapse_sent,
            the_inviters_store_in_two_tabs_gives_what_synapse_sent,
            the_invitees_store_previews_every_room,
            the_knockers_store_previews_every_room,
            a_limited_timeline_is_a_gap,
            a_synced_timeline_reads_back_page_by_page,
            pdus_cannot_join_a_synced_room,
            initial_syncs_store_once,
            initial_syncs_of_the_inviter_and_invitee,
            a_malformed_response_changes_nothing,
            kept_previews_follow_every_change,
            kept_previews_of_an_invitee,
            kept_rooms_are_stored_in_the_order_of_the_response,
        );
    };
    (@sync $make_store:path; $($name:ident),+ $(,)?) => {$(
        #[cfg(not(target_arch = "wasm32"))]
        #[test]
        fn $name() {
            common::block_on(async { common::sync_series::$name($make_store().await).await })
        }
        #[cfg(target_arch = "wasm32")]
        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn $name() {
            common::sync_series::$name($make_store().await).await
        }
    )+};
    (@each $make_store:path; $($name:ident),+ $(,)?) => {$(
        #[cfg(not(target_arch = "wasm32"))]
        #[test]
        fn $name() {
            common::block_on(async { common::conformance::$name($make_store().await).await })
        }
        #[cfg(target_arch = "wasm32")]
        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn $name() {
            common::conformance::$name($make_store().await).await
        }
    )+};
}

async fn open<S: Store>(backend: S) -> EventStore<S> {
    EventStore::open(backend, "tab-1").await.unwrap()
}

async fn stored(store: &EventStore<impl Store>, id: &str) -> StoredEvent {
    store.event(&event_id(id)).await.unwrap().unwrap_or_else(|| panic!("{id} is stored"))
}

/// Persists `events` in batches of the given sizes, asserting every chunk stored.
async fn persist(
    store: &EventStore<impl Store>,
    events: Vec<JsonValue>,
    sizes: &mut dyn Iterator<Item = usize>,
) {
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let batch: Vec<JsonValue> =
            events.by_ref().take(sizes.next().unwrap_or(usize::MAX).max(1)).collect();
        let result = store.persist_events(batch, false).await.unwrap();
        for room in result.rooms {
            assert_eq!(room.error, None, "{}", room.room_id);
        }
    }
}

/// Checks a store holding every room of `pdus.json` against Synapse's rows.
pub async fn check_pdus_rooms(store: &EventStore<impl Store>, how: &str) {
    for room in pdus_fixture()["rooms"].as_array().unwrap() {
        let name = format!("{} ({how})", room["name"]);
        let room_id = room["room_id"].as_str().unwrap();
        for event in room["events"].as_array().unwrap() {
            let id = event["event_id"].as_str().unwrap();
            let ours = stored(store, id).await;
            assert_eq!(ours.pdu.event_id().as_str(), id, "{name}");
            assert_eq!(
                u64::from(ours.pdu.format_version().number()),
                event["format_version"].as_u64().unwrap(),
                "{name}: format version of {id}"
            );
            assert_eq!(ours.pdu.room_id().as_str(), room_id, "{name}");
            let state = store.state_at_event(&event_id(id), &StateFilter::all()).await.unwrap();
            let group = event["state_group"].as_i64().unwrap();
            assert_eq!(
                state_of(state.unwrap()),
                super::synapse_group_state(room, group),
                "{name}: state at {id}"
            );
        }
        assert_eq!(
            store.forward_extremities(room_id).await.unwrap(),
            strings(&room["forward_extremities"]),
            "{name}"
        );
        let current = store.current_state(room_id, &StateFilter::all()).await.unwrap();
        assert_eq!(
            state_of(current),
            expected_state(&room["current_state"]),
            "{name}: current state"
        );
        let ours: BTreeSet<(String, String, String)> = store
            .memberships(room_id)
            .await
            .unwrap()
            .into_iter()
            .map(|row| (row.event_id.to_string(), row.user_id, row.membership))
            .collect();
        let synapse: BTreeSet<(String, String, String)> = room["room_memberships"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                let text = |field: &str| row[field].as_str().unwrap().to_owned();
                (text("event_id"), text("user_id"), text("membership"))
            })
            .collect();
        assert_eq!(ours, synapse, "{name}: memberships");
    }
}

pub fn all_pdus_interleaved() -> Vec<JsonValue> {
    let fixture = pdus_fixture();
    interleaved(&fixture["rooms"].as_array().unwrap().iter().collect::<Vec<_>>())
}

/// The rooms' PDUs in one batch, the rooms' events interleaved.
fn interleaved(rooms: &[&JsonValue]) -> Vec<JsonValue> {
    let longest = rooms.iter().map(|room| room["events"].as_array().unwrap().len()).max().unwrap();
    (0..longest)
        .flat_map(|index| rooms.iter().filter_map(move |room| room["events"].get(index)))
        .map(|event| event["pdu"].clone())
        .collect()
}

/// The rooms of `pdus.json` the read tests store: one per event format (room versions 1, 3, 4
/// and 12, each with a current invite of Dave's), a room named by its alias and one by its
/// members. (Fewer rooms than all keep the IndexedDB run short.)
fn sample_rooms(fixture: &JsonValue) -> Vec<&JsonValue> {
    let names = ["v1", "v3", "v4", "v12", "state-changes", "dm"];
    fixture["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|room| names.contains(&room["name"].as_str().unwrap()))
        .collect()
}

/// Every room Synapse persisted, all in one interleaved batch: ids, format versions, states at
/// every event, forward extremities, current state and memberships as Synapse's tables.
pub async fn every_room_synapse_persisted_is_reproduced(backend: impl Store) {
    let store = open(backend).await;
    persist(&store, all_pdus_interleaved(), &mut std::iter::empty()).await;
    check_pdus_rooms(&store, "one batch").await;
}

/// The same events in batches of pseudo-random sizes give the same tables.
pub async fn chunked_batches_give_the_same_tables(backend: impl Store) {
    let store = open(backend).await;
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut sizes = std::iter::from_fn(move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        Some((seed % 23) as usize + 1)
    });
    persist(&store, all_pdus_interleaved(), &mut sizes).await;
    check_pdus_rooms(&store, "random batches").await;
}

/// Forked rooms (state resolution v1 and v2, rejected events) as Synapse resolved them.
pub async fn forked_rooms_resolve_as_synapse(backend: impl Store) {
    let store = open(backend).await;
    for room in forks_fixture()["rooms"].as_array().unwrap() {
        persist(&store, room["pdus"].as_array().unwrap().clone(), &mut std::iter::repeat(1)).await;
    }
    check_forks(&store, "one event per batch").await;
}

/// Checks a store holding every room of `forks.json` against Synapse's results.
async fn check_forks(store: &EventStore<impl Store>, how: &str) {
    for room in forks_fixture()["rooms"].as_array().unwrap() {
        let name = format!("{} ({how})", room["name"].as_str().unwrap());
        let (order, _) = super::fork_order(room);
        let expected = &room["expected"];
        for id in &order {
            let ours = stored(store, id).await;
            let rejected = expected["rejected"].get(id).is_some();
            assert_eq!(ours.rejected_reason.is_some(), rejected, "{name}: rejection of {id}");
            let state = store.state_at_event(&event_id(id), &StateFilter::all()).await.unwrap();
            assert_eq!(
                state_of(state.unwrap()),
                expected_state(&expected["state_after"][id]),
                "{name}: state after {id}"
            );
        }
        let room_id = room["room_id"].as_str().unwrap_or_default();
        let room_id = if room_id.is_empty() {
            stored(store, &order[1]).await.pdu.room_id().to_string()
        } else {
            room_id.to_owned()
        };
        assert_eq!(
            store.forward_extremities(&room_id).await.unwrap(),
            strings(&expected["forward_extremities"]),
            "{name}"
        );
        let current = store.current_state(&room_id, &StateFilter::all()).await.unwrap();
        assert_eq!(state_of(current), expected_state(&expected["current_state"]), "{name}");
    }
}

/// Soft-failed events (synapse#5269) batch by batch: the flag in internal metadata, the
/// extremities and the current state after every batch.
pub async fn soft_failed_events_as_synapse<S: Store>(backend: S) {
    let mut store = open(backend).await;
    for room in softfail_fixture()["rooms"].as_array().unwrap() {
        store = check_softfail_room(store, room, false).await;
    }
}

/// Persists a `softfail.json` room batch by batch, checking Synapse's tables after each; with
/// `reopen`, the store is closed and opened again after every batch.
async fn check_softfail_room<S: Store>(
    mut store: EventStore<S>,
    room: &JsonValue,
    reopen: bool,
) -> EventStore<S> {
    let name = room["name"].as_str().unwrap();
    let pdus = super::softfail_pdus(room);
    let room_id = room["room_id"].as_str().unwrap();
    for (index, batch) in room["batches"].as_array().unwrap().iter().enumerate() {
        let ids: Vec<&str> =
            batch["events"].as_array().unwrap().iter().map(|id| id.as_str().unwrap()).collect();
        let events: Vec<JsonValue> = ids.iter().map(|id| pdus[*id].clone()).collect();
        let result = store.persist_events(events, false).await.unwrap();
        assert_eq!(result.rooms[0].error, None, "{name}");
        if reopen {
            store = open(store.into_backend()).await;
        }
        let expected = &batch["expected"];
        let at = format!("{name}, after batch {index}");
        for id in ids {
            let soft = batch["outcomes"][id] == "soft_failed";
            assert_eq!(stored(&store, id).await.internal_metadata.soft_failed, soft, "{at}: {id}");
        }
        assert_eq!(
            store.forward_extremities(room_id).await.unwrap(),
            strings(&expected["forward_extremities"]),
            "{at}"
        );
        let current = store.current_state(room_id, &StateFilter::all()).await.unwrap();
        assert_eq!(state_of(current), expected_state(&expected["current_state"]), "{at}");
    }
    // Synapse never sends a soft-failed event to a client: it is no part of the timeline.
    let timeline = store.room_timeline(room_id, None, usize::MAX).await.unwrap();
    for pdu in &timeline.events {
        let event = stored(&store, pdu.event_id().as_str()).await;
        assert!(!event.internal_metadata.soft_failed, "{name}: {} in the timeline", pdu.event_id());
    }
    let soft_failed = (room["batches"].as_array().unwrap().iter())
        .flat_map(|batch| batch["outcomes"].as_object().unwrap())
        .filter(|(_, outcome)| *outcome == "soft_failed")
        .count();
    let stored_events = (room["batches"].as_array().unwrap().iter())
        .flat_map(|batch| batch["events"].as_array().unwrap())
        .count();
    assert_eq!(timeline.events.len(), stored_events - soft_failed, "{name}");
    store
}

/// A batch with one bad PDU is refused whole, with a typed error, and stores nothing.
pub async fn bad_input_changes_nothing(backend: impl Store) {
    let store = open(backend).await;
    let fixture = pdus_fixture();
    let room = &fixture["rooms"][9];
    let mut events: Vec<JsonValue> =
        room["events"].as_array().unwrap().iter().map(|e| e["pdu"].clone()).collect();
    events[4]["event_id"] =
        JsonValue::String("$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned());
    let error = store.persist_events(events, false).await.unwrap_err();
    assert_eq!(error.code(), "EVENT_ID_MISMATCH");
    for event in room["events"].as_array().unwrap() {
        let id = event["event_id"].as_str().unwrap();
        assert!(store.event(&event_id(id)).await.unwrap().is_none(), "{id} must not be stored");
    }
    let mut too_big = room["events"][0]["pdu"].clone();
    too_big["content"]["n"] = serde_json::json!(9_007_199_254_740_992_u64);
    let error = store.persist_events(vec![too_big], false).await.unwrap_err();
    assert_eq!(error.code(), "INTEGER_OUT_OF_RANGE");
}

/// A room chunk whose write fails leaves nothing of it; the other rooms of the batch persist,
/// and the failed room persists whole when sent again.
pub async fn a_failing_room_chunk_leaves_nothing_and_the_others_persist(backend: impl Store) {
    let fixture = pdus_fixture();
    let (failing, fine) = (&fixture["rooms"][3], &fixture["rooms"][4]);
    let failing_id = failing["room_id"].as_str().unwrap().to_owned();
    let store = open(Interposed::failing(backend, &failing_id)).await;
    let pdus = |room: &JsonValue| -> Vec<JsonValue> {
        room["events"].as_array().unwrap().iter().map(|e| e["pdu"].clone()).collect()
    };
    let mut batch = pdus(failing);
    batch.extend(pdus(fine));
    let result = store.persist_events(batch, false).await.unwrap();
    assert_eq!(result.rooms.len(), 2);
    assert_eq!(result.rooms[0].error.as_ref().map(StoreError::code), Some("WRITE_FAILED"));
    assert_eq!(result.rooms[1].error, None);
    for event in failing["events"].as_array().unwrap() {
        assert!(store
            .event(&event_id(event["event_id"].as_str().unwrap()))
            .await
            .unwrap()
            .is_none());
    }
    assert!(store.forward_extremities(&failing_id).await.unwrap().is_empty());
    for event in fine["events"].as_array().unwrap() {
        stored(&store, event["event_id"].as_str().unwrap()).await;
    }
    let fine_id = fine["room_id"].as_str().unwrap().to_owned();
    assert_eq!(store.rooms().await.unwrap(), BTreeSet::from([fine_id]));
    assert_eq!(store.current_token(), fine["events"].as_array().unwrap().len() as i64);
}

/// Backfilled events take decreasing negative stream orderings and leave the extremities alone.
pub async fn backfilled_events_take_negative_orderings(backend: impl Store) {
    let store = open(backend).await;
    let fixture = pdus_fixture();
    let room = &fixture["rooms"][10];
    let room_id = room["room_id"].as_str().unwrap();
    let mut events: Vec<JsonValue> =
        room["events"].as_array().unwrap().iter().map(|e| e["pdu"].clone()).collect();
    let later = events.split_off(5);
    persist(&store, events, &mut std::iter::empty()).await;
    assert_eq!(store.current_token(), 5);
    let extremities = store.forward_extremities(room_id).await.unwrap();
    let result = store.persist_events(later.clone(), true).await.unwrap();
    assert_eq!(store.current_token(), 5, "backfilled events leave the current token");
    let count = later.len() as i64;
    assert_eq!(result.rooms[0].stream_orderings, Some((-1, -count)));
    for (index, id) in result.rooms[0].persisted.iter().enumerate() {
        let ordering = stored(&store, id).await.internal_metadata.stream_ordering;
        assert_eq!(ordering, Some(-(index as i64) - 1), "{id}");
    }
    assert_eq!(store.forward_extremities(room_id).await.unwrap(), extremities);
}

/// State at an event read with filters: members only, no members, one type.
pub async fn state_filters_read_members_and_non_members(backend: impl Store) {
    let store = open(backend).await;
    let fixture = pdus_fixture();
    let room =
        fixture["rooms"].as_array().unwrap().iter().find(|r| r["name"] == "state-changes").unwrap();
    let events: Vec<JsonValue> =
        room["events"].as_array().unwrap().iter().map(|e| e["pdu"].clone()).collect();
    persist(&store, events, &mut std::iter::empty()).await;
    let last = room["events"].as_array().unwrap().last().unwrap();
    let full = super::synapse_group_state(room, last["state_group"].as_i64().unwrap());
    let id = event_id(last["event_id"].as_str().unwrap());
    let members: Vec<String> = full
        .keys()
        .filter(|(event_type, _)| event_type == "m.room.member")
        .map(|(_, state_key)| state_key.clone())
        .collect();
    let member = members.last().unwrap().clone();
    let many_members: Vec<String> = (0..20)
        .map(|index| format!("@absent{index}:x"))
        .chain(members.iter().skip(1).cloned())
        .collect();
    let filters = [
        (
            StateFilter::from_json(serde_json::json!({"members": "all", "types": []})).unwrap(),
            "members",
        ),
        (StateFilter::from_json(serde_json::json!({"members": "none"})).unwrap(), "no members"),
        (StateFilter::from_types([("m.room.name", None::<&str>)]), "names"),
        (
            StateFilter::from_types([("m.room.name", Some("")), ("m.room.member", None)]),
            "the name and members",
        ),
        (StateFilter::from_lazy_load_member_list([member.as_str()]), "lazy-loaded member"),
        // More named members than are read one by one: the whole type is read and filtered.
        (StateFilter::from_lazy_load_member_list(many_members.iter()), "many lazy-loaded members"),
        (
            StateFilter::from_types(many_members.iter().map(|m| ("m.room.member", Some(m)))),
            "many members only",
        ),
    ];
    for (filter, label) in filters {
        let ours = state_of(store.state_at_event(&id, &filter).await.unwrap().unwrap());
        let expected: BTreeMap<_, _> = full
            .iter()
            .filter(|((event_type, state_key), _)| filter.matches(event_type, state_key))
            .map(|(key, id)| (key.clone(), id.clone()))
            .collect();
        assert!(!expected.is_empty(), "{label}: the fixture has such state");
        assert_eq!(ours, expected, "{label}");
    }
}

/// Batch sizes from a fixed xorshift seed: 1 to 23.
fn random_sizes() -> impl Iterator<Item = usize> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    std::iter::from_fn(move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        Some((seed % 23) as usize + 1)
    })
}

/// Closing the store and opening it again on the same backend between batches changes nothing:
/// planning state is restored from the store (forward extremities, current state, then whatever
/// planning misses), and stream orderings and state group ids go on from the stored positions.
pub async fn a_reopened_store_goes_on_as_synapse<S: Store>(backend: S) {
    let mut store = open(backend).await;
    let events = all_pdus_interleaved();
    let mut sizes = random_sizes();
    let mut events = events.into_iter().peekable();
    let mut last_ordering = 0;
    while events.peek().is_some() {
        let batch: Vec<JsonValue> = events.by_ref().take(sizes.next().unwrap_or(1)).collect();
        let result = store.persist_events(batch, false).await.unwrap();
        for room in &result.rooms {
            assert_eq!(room.error, None, "{}", room.room_id);
            let (first, last) = room.stream_orderings.unwrap();
            assert_eq!(first, last_ordering + 1, "orderings go on after a reopen");
            last_ordering = last;
        }
        store = open(store.into_backend()).await;
        assert_eq!(store.current_token(), last_ordering);
    }
    check_pdus_rooms(&store, "reopened between batches").await;

    // Forks (state resolution over restored states) one event per batch, and soft failure batch
    // by batch (the #5269 walk over restored soft-failed events), reopening every time.
    for room in forks_fixture()["rooms"].as_array().unwrap() {
        for pdu in room["pdus"].as_array().unwrap() {
            let result = store.persist_events(vec![pdu.clone()], false).await.unwrap();
            assert_eq!(result.rooms[0].error, None);
            store = open(store.into_backend()).await;
        }
    }
    check_forks(&store, "reopened after every event").await;
    for room in softfail_fixture()["rooms"].as_array().unwrap() {
        store = check_softfail_room(store, room, true).await;
    }
}

/// A store that prunes its planning cache after every write (and so reads back from the store
/// whatever planning needs) gives the same tables.
pub async fn a_store_that_keeps_no_cache_goes_on_as_synapse<S: Store>(backend: S) {
    let mut store = open(backend).await.with_cache_limit(0);
    persist(&store, all_pdus_interleaved(), &mut random_sizes()).await;
    check_pdus_rooms(&store, "no cache").await;
    for room in forks_fixture()["rooms"].as_array().unwrap() {
        persist(&store, room["pdus"].as_array().unwrap().clone(), &mut std::iter::repeat(1)).await;
    }
    check_forks(&store, "no cache").await;
    for room in softfail_fixture()["rooms"].as_array().unwrap() {
        store = check_softfail_room(store, room, false).await;
    }
}

/// A room of 1,500 joined members and 300 messages, persisted in batches of 100 through a cache
/// of 64 events and reopened half-way: every member is in the current state and the state at
/// the last event, the forward extremity is the last event, and the reads with a filter see the
/// members and the rest apart.
pub async fn a_large_room_through_a_small_cache<S: Store>(backend: S) {
    let room = super::synthetic::SyntheticRoom::new("large").with_members(1_500).with_messages(300);
    let mut store = open(backend).await.with_cache_limit(64);
    let total = room.events.len();
    for (index, batch) in room.events.chunks(100).enumerate() {
        let result = store.persist_events(batch.to_vec(), false).await.unwrap();
        let chunk = &result.rooms[0];
        assert_eq!((chunk.error.as_ref(), chunk.rejected.len()), (None, 0), "batch {index}");
        assert_eq!(chunk.persisted.len(), batch.len());
        if index == total / 200 {
            store = open(store.into_backend()).await.with_cache_limit(64);
        }
    }
    assert_eq!(store.current_token(), total as i64);
    let last = event_id(room.last_event_id());
    assert_eq!(
        store.forward_extremities(&room.room_id).await.unwrap(),
        BTreeSet::from([room.last_event_id().to_owned()])
    );
    let members =
        StateFilter::from_json(serde_json::json!({"members": "all", "types": []})).unwrap();
    let no_members = StateFilter::from_json(serde_json::json!({"members": "none"})).unwrap();
    let current = store.current_state(&room.room_id, &StateFilter::all()).await.unwrap();
    assert_eq!(current.len(), 1_501 + 3, "create, power levels, join rules and 1,501 members");
    let at_last = store.state_at_event(&last, &StateFilter::all()).await.unwrap().unwrap();
    assert_eq!(at_last, current);
    let member_state = store.state_at_event(&last, &members).await.unwrap().unwrap();
    assert_eq!(member_state.len(), 1_501);
    assert!(member_state.keys().all(|(event_type, _)| event_type == "m.room.member"));
    let other_state = store.state_at_event(&last, &no_members).await.unwrap().unwrap();
    let other_types: BTreeSet<&str> = other_state.keys().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        other_types,
        BTreeSet::from(["m.room.create", "m.room.join_rules", "m.room.power_levels"])
    );
    assert_eq!(store.memberships(&room.room_id).await.unwrap().len(), 1_501);
}

/// Two rooms whose members join in turn, 300 each, persisted in mixed batches of 100: each
/// room's state groups alternate with the other's, so a state group chain (up to 100 groups
/// back to a snapshot) spans some 200 group ids. The state after every 25th join of either room
/// is the room's initial state and the members who joined so far, read whole, members only and
/// without members.
pub async fn state_groups_of_interleaved_rooms_read_back(backend: impl Store) {
    use super::synthetic::{SyntheticRoom, CREATOR};
    use serde_json::json;
    let mut rooms = [SyntheticRoom::new("even"), SyntheticRoom::new("odd")];
    let mut batch: Vec<JsonValue> = rooms.iter().flat_map(|room| room.events.clone()).collect();
    // For each room, the join ids checked and how many had joined by then.
    let mut checks = Vec::new();
    for index in 0..600 {
        let room = &mut rooms[index % 2];
        let joined = index / 2 + 1;
        let id =
            room.join(&format!("@member{joined}:bench.example"), json!({"membership": "join"}));
        batch.push(room.events.last().unwrap().clone());
        if joined % 25 == 0 {
            checks.push((index % 2, id, joined));
        }
    }
    let store = open(backend).await;
    for chunk in batch.chunks(100) {
        for room in store.persist_events(chunk.to_vec(), false).await.unwrap().rooms {
            assert_eq!((room.error, room.rejected.len()), (None, 0), "{}", room.room_id);
        }
    }
    let members = StateFilter::from_json(json!({"members": "all", "types": []})).unwrap();
    let no_members = StateFilter::from_json(json!({"members": "none"})).unwrap();
    let everything = StateFilter::all();
    let initial = ["m.room.create", "m.room.join_rules", "m.room.power_levels"];
    for (room, id, joined) in checks {
        let id = event_id(&id);
        let keys = |filter| {
            let id = &id;
            let store = &store;
            async move {
                let state = store.state_at_event(id, filter).await.unwrap().unwrap();
                state.keys().cloned().collect::<Vec<(String, String)>>()
            }
        };
        let expected_members: BTreeSet<String> = std::iter::once(CREATOR.to_owned())
            .chain((1..=joined).map(|joiner| format!("@member{joiner}:bench.example")))
            .collect();
        let all = keys(&everything).await;
        assert_eq!(all.len(), expected_members.len() + initial.len(), "room {room}, join {joined}");
        let member_keys: BTreeSet<String> =
            keys(&members).await.into_iter().map(|(_, state_key)| state_key).collect();
        assert_eq!(member_keys, expected_members, "room {room}, join {joined}");
        let others: Vec<String> = keys(&no_members).await.into_iter().map(|(t, _)| t).collect();
        assert_eq!(others, initial, "room {room}, join {joined}");
    }
}

/// Two rooms of 100 members each: in one each member joined once, in the other each member
/// changed their display name four times after joining (five member events per member). The
/// events of the current state and of the state at the last event read back, members and the
/// rest, each the member's last event, with its content.
pub async fn a_large_state_reads_back_its_events(backend: impl Store) {
    use super::synthetic::{SyntheticRoom, CREATOR};
    use serde_json::json;
    let store = open(backend).await;
    for (name, changes) in [("joined-once", 0), ("renamed-often", 4)] {
        let mut room = SyntheticRoom::new(name);
        let mut last_names: BTreeMap<String, (String, String)> = BTreeMap::new();
        for change in 0..=changes {
            for member in 0..100 {
                let user = format!("@member{member}:bench.example");
                let displayname = format!("Member {member} ({change})");
                let content = json!({"membership": "join", "displayname": displayname});
                let id = room.join(&user, content);
                last_names.insert(user, (id, displayname));
            }
        }
        for batch in room.events.chunks(100) {
            let result = store.persist_events(batch.to_vec(), false).await.unwrap();
            assert_eq!((&result.rooms[0].error, result.rooms[0].rejected.len()), (&None, 0));
        }
        let members =
            |events: Vec<prejoin::model::pdu::Pdu>| -> BTreeMap<String, (String, String)> {
                events
                    .iter()
                    .filter(|event| event.event_type() == "m.room.member")
                    .filter(|event| event.state_key() != Some(CREATOR))
                    .map(|event| {
                        let name = event.content().get("displayname").and_then(|n| n.as_str());
                        let key = event.state_key().unwrap_or_default().to_owned();
                        (key, (event.event_id().to_string(), name.unwrap_or_default().to_owned()))
                    })
                    .collect()
            };
        let everything = StateFilter::all();
        let current = store.current_state_events(&room.room_id, &everything).await.unwrap();
        assert_eq!(current.len(), 104, "{name}: create, power levels, join rules, 101 members");
        assert_eq!(members(current), last_names, "{name}");
        let last = event_id(room.last_event_id());
        let at_last = store.state_events_at(&last, &everything).await.unwrap().unwrap();
        assert_eq!(members(at_last), last_names, "{name}");
    }
}

/// An event whose prev is not stored is stored all the same, the prev recorded as a backward
/// extremity until it arrives. The state-changes room without its message at index 9: the event
/// after it names it as its prev; once the message arrives (late), every table equals Synapse's.
pub async fn a_gap_is_a_backward_extremity_until_filled(backend: impl Store) {
    let fixture = pdus_fixture();
    let room =
        fixture["rooms"].as_array().unwrap().iter().find(|r| r["name"] == "state-changes").unwrap();
    let room_id = room["room_id"].as_str().unwrap();
    let events = room["events"].as_array().unwrap();
    assert_eq!(events[9]["type"], "m.room.message", "the gap is a message: no state is lost");
    let missing = events[9]["event_id"].as_str().unwrap();
    let pdus = |range: std::ops::Range<usize>| -> Vec<JsonValue> {
        events[range].iter().map(|event| event["pdu"].clone()).collect()
    };
    let store = open(backend).await;
    persist(&store, pdus(0..9), &mut std::iter::empty()).await;
    assert!(store.backward_extremities(room_id).await.unwrap().is_empty());
    let result = store.persist_events(pdus(10..events.len()), false).await.unwrap();
    assert_eq!(result.rooms[0].error, None);
    assert!(result.rooms[0].rejected.is_empty(), "events after a gap are authorized");
    assert_eq!(
        store.backward_extremities(room_id).await.unwrap(),
        BTreeSet::from([event_id(missing)])
    );
    let result = store.persist_events(pdus(9..10), false).await.unwrap();
    assert_eq!(result.rooms[0].persisted, [missing]);
    assert!(store.backward_extremities(room_id).await.unwrap().is_empty());
    // A late event that a stored event names as its prev does not become a forward extremity.
    assert_eq!(
        store.forward_extremities(room_id).await.unwrap(),
        strings(&room["forward_extremities"])
    );
    let current = store.current_state(room_id, &StateFilter::all()).await.unwrap();
    assert_eq!(state_of(current), expected_state(&room["current_state"]));
    for event in events {
        let id = event_id(event["event_id"].as_str().unwrap());
        let state = store.state_at_event(&id, &StateFilter::all()).await.unwrap().unwrap();
        let group = event["state_group"].as_i64().unwrap();
        assert_eq!(state_of(state), super::synapse_group_state(room, group), "state at {id}");
    }
}

/// A room with two gaps, `x` named only by a soft-failed event (a kicked user's message naming
/// its join and `x`) and `y` named by an accepted one. When both arrive late, `x` becomes a
/// forward extremity and `y` does not: Synapse's `_calculate_new_extremities` drops only the
/// events that accepted events name (`_get_events_which_are_prevs` leaves out soft-failed ones).
/// One room goes on in the same store, the other after a reopen, where only the store knows who
/// named the gaps.
pub async fn a_late_event_is_followed_only_through_accepted_events<S: Store>(backend: S) {
    use super::synthetic::{SyntheticRoom, CREATOR};
    use serde_json::json;

    let mut store = open(backend).await;
    for (name, reopen) in [("late-same-store", false), ("late-reopened", true)] {
        let mut room = SyntheticRoom::new(name);
        let [create, creator_join, power_levels] = room.initial_state();
        let user = "@kicked:bench.example";
        let join = room.join(user, json!({"membership": "join"}));
        let creator_auth = vec![create.clone(), power_levels.clone(), creator_join.clone()];
        let mut kick_auth = creator_auth.clone();
        kick_auth.push(join.clone());
        let kick = room.push(
            "m.room.member",
            Some(user),
            CREATOR,
            json!({"membership": "leave"}),
            kick_auth,
        );
        let text = |body: &str| json!({"msgtype": "m.text", "body": body});
        let [x, y] = ["x", "y"].map(|body| {
            let prev = vec![kick.clone()];
            room.push_after(prev, "m.room.message", None, CREATOR, text(body), creator_auth.clone())
        });
        let user_auth = vec![create, power_levels, join.clone()];
        let soft_failed = room.push_after(
            vec![join, x.clone()],
            "m.room.message",
            None,
            user,
            text("late"),
            user_auth,
        );
        let accepted = room.push_after(
            vec![kick.clone(), y.clone()],
            "m.room.message",
            None,
            CREATOR,
            text("a"),
            creator_auth,
        );
        let [x_pdu, y_pdu] = [&x, &y].map(|id| {
            let index = room.event_ids.iter().position(|event| event == id).unwrap();
            room.events[index].clone()
        });
        let first: Vec<JsonValue> = room
            .events
            .iter()
            .zip(&room.event_ids)
            .filter(|(_, id)| **id != x && **id != y)
            .map(|(pdu, _)| pdu.clone())
            .collect();

        let result = store.persist_events(first, false).await.unwrap();
        assert_eq!(result.rooms[0].error, None, "{name}");
        assert_eq!(result.rooms[0].soft_failed, std::slice::from_ref(&soft_failed), "{name}");
        assert!(result.rooms[0].rejected.is_empty(), "{name}");
        let gaps = BTreeSet::from([event_id(&x), event_id(&y)]);
        assert_eq!(store.backward_extremities(&room.room_id).await.unwrap(), gaps, "{name}");
        let asked = [&x, &y, &kick, &accepted, &soft_failed].map(|id| event_id(id));
        let referenced = store.backend().referenced_as_prev(&asked).await.unwrap();
        assert_eq!(referenced, BTreeSet::from([event_id(&y)]), "{name}");
        assert_eq!(
            store.forward_extremities(&room.room_id).await.unwrap(),
            BTreeSet::from([accepted.clone()]),
            "{name}"
        );
        if reopen {
            store = open(store.into_backend()).await;
        }
        let result = store.persist_events(vec![x_pdu, y_pdu], false).await.unwrap();
        assert_eq!(result.rooms[0].persisted, [x.clone(), y], "{name}");
        assert!(result.rooms[0].soft_failed.is_empty() && result.rooms[0].rejected.is_empty());
        assert_eq!(
            result.rooms[0].forward_extremities,
            BTreeSet::from([accepted.clone(), x.clone()]),
            "{name}"
        );
        assert_eq!(
            store.forward_extremities(&room.room_id).await.unwrap(),
            BTreeSet::from([accepted, x]),
            "{name}"
        );
        assert!(store.backward_extremities(&room.room_id).await.unwrap().is_empty(), "{name}");
        assert!(stored(&store, &soft_failed).await.internal_metadata.soft_failed, "{name}");
    }
}

/// Synapse's `redactions` rows, and a redacted event read back pruned by its room version's
/// rules (the stored JSON stays whole, as Synapse keeps it until its retention period ends).
pub async fn redacted_events_load_pruned(backend: impl Store) {
    let fixture = pdus_fixture();
    let room =
        fixture["rooms"].as_array().unwrap().iter().find(|r| r["name"] == "state-changes").unwrap();
    let events = room["events"].as_array().unwrap();
    let store = open(backend).await;
    persist(&store, events.iter().map(|e| e["pdu"].clone()).collect(), &mut std::iter::empty())
        .await;
    for row in room["redactions"].as_array().unwrap() {
        let (redaction, redacts) =
            (row["event_id"].as_str().unwrap(), row["redacts"].as_str().unwrap());
        let stored_rows = store.backend().redactions_of(&event_id(redacts)).await.unwrap();
        let ours: Vec<(String, String, bool)> = stored_rows
            .iter()
            .map(|row| (row.event_id.to_string(), row.redacts.to_string(), row.recheck))
            .collect();
        let recheck = row["recheck"].as_bool().unwrap();
        assert_eq!(ours, [(redaction.to_owned(), redacts.to_owned(), recheck)]);
    }
    for event in events {
        let id = event["event_id"].as_str().unwrap();
        let loaded = stored(&store, id).await;
        let redacted_by = event["redacted_by"].as_str();
        assert_eq!(loaded.internal_metadata.redacted, redacted_by.is_some(), "{id}");
        let unsigned = loaded.pdu.unsigned().cloned().unwrap_or_default();
        let Some(redaction) = redacted_by else {
            assert_eq!(
                serde_json::to_value(loaded.pdu.content()).unwrap(),
                event["pdu"]["content"]
            );
            continue;
        };
        assert_eq!(event["type"], "m.room.message");
        // The spec's redaction algorithm keeps no content key of a message.
        assert!(loaded.pdu.content().is_empty(), "{id}: content pruned");
        assert_eq!(loaded.pdu.event_id().as_str(), id, "the id survives redaction");
        let unsigned = serde_json::to_value(unsigned).unwrap();
        assert_eq!(unsigned["redacted_by"], redaction);
        assert_eq!(unsigned["redacted_because"]["event_id"], redaction);
        assert_eq!(unsigned["redacted_because"]["content"]["redacts"], id);
        assert_eq!(unsigned["age_ts"], event["pdu"]["unsigned"]["age_ts"]);
    }
}

/// The top-level keys the spec's redaction algorithm keeps in room versions 11 and 12
/// (federation form: the PDU has no `event_id` from room version 3 on); `unsigned` is Synapse's
/// own (`prune_event` keeps `age_ts` and `replaces_state`, then adds the redaction).
const V11_KEPT_KEYS: [&str; 11] = [
    "auth_events",
    "content",
    "depth",
    "hashes",
    "origin_server_ts",
    "prev_events",
    "room_id",
    "sender",
    "signatures",
    "state_key",
    "type",
];

/// A redaction of `redacts` by `sender` in a room version 12 room of `pdus.json`, after `prev`
/// at `depth`: `redacts` in its content (room version 11 on), its auth events the sender's
/// member event and the power levels of the room's current state (from room version 12 the
/// create event is named by the room id). Unsigned: the store checks no signature. Returns its
/// id and PDU.
fn redaction_pdu(
    room: &JsonValue,
    sender: &str,
    redacts: &str,
    (prev, depth): (&str, u64),
) -> (String, JsonValue) {
    let current = expected_state(&room["current_state"]);
    let state = |event_type: &str, state_key: &str| {
        current[&(event_type.to_owned(), state_key.to_owned())].clone()
    };
    let pdu = serde_json::json!({
        "room_id": room["room_id"],
        "type": "m.room.redaction",
        "sender": sender,
        "content": {"redacts": redacts, "reason": "conformance"},
        "auth_events": [state("m.room.power_levels", ""), state("m.room.member", sender)],
        "prev_events": [prev],
        "depth": depth,
        "origin_server_ts": 1_795_372_700_000_u64 + depth,
        "hashes": {"sha256": "unchecked"},
        "signatures": {},
    });
    let version = prejoin::model::room_version::RoomVersion::parse("12").unwrap();
    let id = prejoin::model::pdu::Pdu::from_json_value(pdu.clone(), &version).unwrap();
    (id.event_id().to_string(), pdu)
}

/// What a state read returns of a fixture PDU redacted by `redaction`: the keys of
/// [`V11_KEPT_KEYS`], `content` as given, and in `unsigned` the stored `age_ts` and
/// `replaces_state` with `redacted_by` and `redacted_because` (the redaction in client format:
/// with its id, without `auth_events`, `prev_events`, `depth`, `hashes` and `signatures`).
fn pruned_pdu(
    original: &JsonValue,
    content: JsonValue,
    (id, redaction): (&str, &JsonValue),
) -> JsonValue {
    let mut expected: serde_json::Map<String, JsonValue> = V11_KEPT_KEYS
        .iter()
        .filter_map(|key| Some(((*key).to_owned(), original.get(*key)?.clone())))
        .collect();
    expected.insert("content".to_owned(), content);
    let because = serde_json::json!({
        "event_id": id,
        "room_id": redaction["room_id"],
        "type": "m.room.redaction",
        "sender": redaction["sender"],
        "content": redaction["content"],
        "origin_server_ts": redaction["origin_server_ts"],
    });
    let unsigned = &original["unsigned"];
    expected.insert(
        "unsigned".to_owned(),
        serde_json::json!({
            "age_ts": unsigned["age_ts"],
            "replaces_state": unsigned["replaces_state"],
            "redacted_by": id,
            "redacted_because": because,
        }),
    );
    JsonValue::Object(expected)
}

/// Redacted state events are read pruned, from the current state and from the state at an event
/// (before the redaction or after it alike), as Synapse's event fetching prunes every event it
/// loads (`_maybe_redact_event_row`). In the state-changes room (room version 12), three
/// redactions: Carol's join by Alice (a creator: may redact anything), Bob's topic by Carol
/// (power 0 below `redact` 50: rechecked on read, and applied since both are on localhost), and
/// the join rules named by Alice from another room (never applied: not the same room).
pub async fn redacted_state_events_read_pruned(backend: impl Store) {
    let fixture = pdus_fixture();
    let rooms = fixture["rooms"].as_array().unwrap();
    let room = rooms.iter().find(|r| r["name"] == "state-changes").unwrap();
    let other = rooms.iter().find(|r| r["name"] == "v12").unwrap();
    let room_id = room["room_id"].as_str().unwrap();
    let (alice, carol) = ("@alice4e7453:localhost", "@carol4e7453:localhost");
    let current = expected_state(&room["current_state"]);
    let id_of = |event_type: &str, state_key: &str| {
        current[&(event_type.to_owned(), state_key.to_owned())].clone()
    };
    let (topic, join, join_rules) =
        (id_of("m.room.topic", ""), id_of("m.room.member", carol), id_of("m.room.join_rules", ""));
    let tip = room["forward_extremities"][0].as_str().unwrap();
    let (topic_redaction, topic_pdu) = redaction_pdu(room, carol, &topic, (tip, 37));
    let (join_redaction, join_pdu) = redaction_pdu(room, alice, &join, (&topic_redaction, 38));
    let other_tip = other["forward_extremities"][0].as_str().unwrap();
    let (_, foreign_pdu) = redaction_pdu(other, alice, &join_rules, (other_tip, 17));

    let store = open(backend).await;
    let mut events = interleaved(&[room, other]);
    events.extend([topic_pdu.clone(), join_pdu.clone(), foreign_pdu]);
    persist(&store, events, &mut std::iter::empty()).await;
    // Carol may not redact Bob's topic outright; the foreign redaction is stored all the same.
    for (redacted, recheck) in [(&topic, true), (&join, false), (&join_rules, false)] {
        let rows = store.backend().redactions_of(&event_id(redacted)).await.unwrap();
        let rechecks: Vec<bool> = rows.iter().map(|row| row.recheck).collect();
        assert_eq!(rechecks, [recheck], "{redacted}");
    }
    // Asked for many events at once (more than a backend may look up one by one, with one
    // asked twice and one not stored), the rows are each event's own.
    let mut asked: Vec<OwnedEventId> = [room, other]
        .iter()
        .flat_map(|room| room["events"].as_array().unwrap())
        .map(|event| event_id(event["event_id"].as_str().unwrap()))
        .collect();
    asked.extend([event_id(&topic), event_id("$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]);
    assert!(asked.len() > 40);
    let many = store.backend().redactions_of_many(&asked).await.unwrap();
    assert_eq!(many.len(), asked.len());
    let mut redacted_rows = 0;
    for (id, rows) in asked.iter().zip(&many) {
        assert_eq!(rows, &store.backend().redactions_of(id).await.unwrap(), "{id}");
        assert!(rows.iter().all(|row| &row.redacts == id), "{id}");
        redacted_rows += rows.len();
    }
    // The room's own redaction (of a message, in the fixture), and those added here.
    assert_eq!(redacted_rows, 5, "the message, the topic (asked twice), the join, the join rules");

    let fixture_pdu = |id: &str| fixture_event(room, id)["pdu"].clone();
    // Room versions 11 and 12 keep no content key of a topic, and `membership` (with
    // `join_authorised_via_users_server` and `third_party_invite.signed`, absent here) of a
    // member event.
    let expected_topic =
        pruned_pdu(&fixture_pdu(&topic), serde_json::json!({}), (&topic_redaction, &topic_pdu));
    let expected_join = pruned_pdu(
        &fixture_pdu(&join),
        serde_json::json!({"membership": "join"}),
        (&join_redaction, &join_pdu),
    );
    let pruned = BTreeMap::from([(topic, expected_topic), (join.clone(), expected_join.clone())]);
    let check = |events, state, at| check_state_read(room, events, state, &pruned, at);
    let ours = store.current_state_events(room_id, &StateFilter::all()).await.unwrap();
    assert_eq!(check(ours, &current, "current state"), 2);
    let after = event_id(&join_redaction);
    let ours = store.state_events_at(&after, &StateFilter::all()).await.unwrap().unwrap();
    assert_eq!(check(ours, &current, "state after the last redaction"), 2);
    let group = fixture_event(room, &join)["state_group"].as_i64().unwrap();
    let at_join = super::synapse_group_state(room, group);
    let ours = store.state_events_at(&event_id(&join), &StateFilter::all()).await.unwrap();
    assert_eq!(check(ours.unwrap(), &at_join, "state at the join, before the redactions"), 2);
    let only_members = StateFilter::from_types([("m.room.member", Some(carol))]);
    let ours = store.current_state_events(room_id, &only_members).await.unwrap();
    let ours: Vec<JsonValue> =
        ours.iter().map(|event| serde_json::to_value(event.as_object()).unwrap()).collect();
    assert_eq!(ours, std::slice::from_ref(&expected_join), "a filtered read prunes too");
    let single = stored(&store, &join).await;
    assert_eq!(serde_json::to_value(single.pdu.as_object()).unwrap(), expected_join);
}

/// Checks a state read of a `pdus.json` room: each event of `state`, in its order, as the
/// fixture stored it, except those of `pruned` (event id → the JSON expected). Returns how many
/// of `pruned` the read held.
fn check_state_read(
    room: &JsonValue,
    events: Vec<prejoin::model::pdu::Pdu>,
    state: &BTreeMap<(String, String), String>,
    pruned: &BTreeMap<String, JsonValue>,
    at: &str,
) -> usize {
    assert_eq!(events.len(), state.len(), "{at}");
    for (event, id) in events.iter().zip(state.values()) {
        let ours = serde_json::to_value(event.as_object()).unwrap();
        let expected = pruned.get(id).unwrap_or(&fixture_event(room, id)["pdu"]);
        assert_eq!(&ours, expected, "{at}: {id}");
    }
    state.values().filter(|id| pruned.contains_key(*id)).count()
}

/// The PDUs (as JSON) of a fixture state, by the fixture's event ids.
fn fixture_state_pdus(
    room: &JsonValue,
    state: &BTreeMap<(String, String), String>,
) -> Vec<JsonValue> {
    let pdus: BTreeMap<&str, &JsonValue> = room["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| (event["event_id"].as_str().unwrap(), &event["pdu"]))
        .collect();
    state.values().map(|id| pdus[id.as_str()].clone()).collect()
}

/// The fixture event with this id.
fn fixture_event<'a>(room: &'a JsonValue, id: &str) -> &'a JsonValue {
    room["events"].as_array().unwrap().iter().find(|event| event["event_id"] == id).unwrap()
}

fn stripped_json(events: Vec<prejoin::model::StateEvent>) -> Vec<JsonValue> {
    events.into_iter().map(prejoin::model::StateEvent::into_json).collect()
}

/// Every room whose create event is stored is listed, sorted, once.
pub async fn stored_rooms_are_listed(backend: impl Store) {
    let store = open(backend).await;
    assert!(store.rooms().await.unwrap().is_empty());
    let fixture = pdus_fixture();
    let rooms = sample_rooms(&fixture);
    persist(&store, interleaved(&rooms), &mut std::iter::empty()).await;
    let expected: BTreeSet<String> =
        rooms.iter().map(|room| room["room_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(store.rooms().await.unwrap(), expected);
}

/// Dave's invites (current in rooms v1–v12 of `pdus.json`), in rooms of every event format:
/// the stripped state the store gives
/// is `compute_stripped_state` on Synapse's current state with Dave's invite event, and it ends
/// with the inviter's member event and the invite. The user's membership must be the kind.
pub async fn stripped_state_of_stored_invites(backend: impl Store) {
    use prejoin::prejoin::{compute_stripped_state, MembershipKind, PrejoinConfig, StripRequest};

    let store = open(backend).await;
    let fixture = pdus_fixture();
    let rooms = sample_rooms(&fixture);
    persist(&store, interleaved(&rooms), &mut std::iter::empty()).await;
    let default = PrejoinConfig::default();
    let mut invites = 0;
    for room in rooms {
        let name = room["name"].as_str().unwrap();
        let room_id = room["room_id"].as_str().unwrap();
        let current = expected_state(&room["current_state"]);
        let dave = current
            .iter()
            .map(|((_, state_key), id)| (state_key, fixture_event(room, id)))
            .find(|(state_key, event)| {
                state_key.starts_with("@dave")
                    && event["pdu"]["content"]["membership"] == "invite"
                    && event["type"] == "m.room.member"
            });
        let Some((dave, invite)) = dave else { continue };
        invites += 1;
        let ours = store.stripped_state(room_id, MembershipKind::Invite, dave, &default).await;
        let ours = ours.unwrap_or_else(|error| panic!("{name}: {error}"));
        let request = StripRequest::new(MembershipKind::Invite, invite["pdu"].clone());
        let state = JsonValue::Array(fixture_state_pdus(room, &current));
        let expected = stripped_json(compute_stripped_state(state, request).unwrap());
        assert_eq!(ours, expected, "{name}");
        let inviter = invite["pdu"]["sender"].as_str().unwrap();
        let last_two: Vec<(&JsonValue, &JsonValue)> =
            ours[ours.len() - 2..].iter().map(|e| (&e["state_key"], &e["content"])).collect();
        assert_eq!(last_two[0].0, inviter, "{name}: the inviter's member event");
        assert_eq!(last_two[1].0, dave.as_str(), "{name}: the invite itself, last");
        assert_eq!(last_two[1].1["membership"], "invite", "{name}");
        assert_eq!(ours[0]["type"], "m.room.create", "{name}");

        let alice = inviter;
        let error = store.stripped_state(room_id, MembershipKind::Invite, alice, &default).await;
        assert_eq!(error.unwrap_err().code(), "MEMBERSHIP_MISMATCH", "{name}: alice is joined");
        let error = store.stripped_state(room_id, MembershipKind::Knock, dave, &default).await;
        assert_eq!(error.unwrap_err().code(), "MEMBERSHIP_MISMATCH", "{name}: dave is invited");
        let error = store.stripped_state(room_id, MembershipKind::Invite, "@nobody:x", &default);
        assert_eq!(error.await.unwrap_err().code(), "MEMBERSHIP_MISMATCH", "{name}: no member");

        let config = PrejoinConfig::from_json(serde_json::json!({
            "disableDefaultEventTypes": true,
        }))
        .unwrap();
        let bare = store.stripped_state(room_id, MembershipKind::Invite, dave, &config).await;
        let types: Vec<JsonValue> = bare.unwrap().into_iter().map(|e| e["type"].clone()).collect();
        assert_eq!(types, ["m.room.create", "m.room.member", "m.room.member"], "{name}");
    }
    assert_eq!(invites, 4, "rooms v1, v3, v4 and v12 have a current invite");
    let error = store
        .stripped_state("!unknown:localhost", MembershipKind::Invite, "@dave:localhost", &default)
        .await;
    assert_eq!(error.unwrap_err().code(), "UNKNOWN_ROOM");
}

/// Carol's knock in `state-changes`, persisted up to it: stripped state as
/// `compute_stripped_state` gives it on Synapse's state at the knock, without any member event
/// but the knock.
pub async fn stripped_state_of_a_stored_knock(backend: impl Store) {
    use prejoin::prejoin::{compute_stripped_state, MembershipKind, PrejoinConfig, StripRequest};

    let store = open(backend).await;
    let fixture = pdus_fixture();
    let room =
        fixture["rooms"].as_array().unwrap().iter().find(|r| r["name"] == "state-changes").unwrap();
    let events = room["events"].as_array().unwrap();
    let knock_at = events
        .iter()
        .position(|e| e["type"] == "m.room.member" && e["pdu"]["content"]["membership"] == "knock")
        .unwrap();
    let knock = &events[knock_at];
    let carol = knock["state_key"].as_str().unwrap();
    let prefix: Vec<JsonValue> = events[..=knock_at].iter().map(|e| e["pdu"].clone()).collect();
    persist(&store, prefix, &mut std::iter::empty()).await;

    let room_id = room["room_id"].as_str().unwrap();
    let default = PrejoinConfig::default();
    let ours = store.stripped_state(room_id, MembershipKind::Knock, carol, &default).await;
    let ours = ours.unwrap();
    let state = super::synapse_group_state(room, knock["state_group"].as_i64().unwrap());
    let request = StripRequest::new(MembershipKind::Knock, knock["pdu"].clone());
    let state = JsonValue::Array(fixture_state_pdus(room, &state));
    assert_eq!(ours, stripped_json(compute_stripped_state(state, request).unwrap()));
    let members: Vec<&JsonValue> =
        ours.iter().filter(|e| e["type"] == "m.room.member").map(|e| &e["state_key"]).collect();
    assert_eq!(members, [carol], "the knock is the only member event");
    assert_eq!(ours.last().unwrap()["content"]["membership"], "knock");
    let error = store.stripped_state(room_id, MembershipKind::Invite, carol, &default).await;
    assert_eq!(error.unwrap_err().code(), "MEMBERSHIP_MISMATCH");
}

/// A preview of every stored room, sorted by room id, named as Synapse's current state says:
/// Dave's invites by the room name with Alice as the inviter, a room he left by its alias, a room
/// he is not in by its members.
pub async fn room_previews_of_every_stored_room(backend: impl Store) {
    let store = open(backend).await;
    let fixture = pdus_fixture();
    let mut rooms = sample_rooms(&fixture);
    persist(&store, interleaved(&rooms), &mut std::iter::empty()).await;
    rooms.sort_by_key(|room| room["room_id"].as_str().unwrap());
    let dave = "@dave4e7453:localhost";
    let previews = store.room_previews(dave).await.unwrap();
    assert_eq!(previews.len(), rooms.len());
    let mut sources = BTreeSet::new();
    for (preview, room) in previews.iter().zip(&rooms) {
        let name = room["name"].as_str().unwrap();
        let preview = serde_json::to_value(preview).unwrap();
        sources.insert(preview["displayNameSource"].as_str().unwrap().to_owned());
        assert_eq!(preview["roomId"], room["room_id"], "{name}");
        let current = expected_state(&room["current_state"]);
        let content = |event_type: &str, state_key: &str| {
            let key = (event_type.to_owned(), state_key.to_owned());
            current.get(&key).map(|id| fixture_event(room, id)["pdu"]["content"].clone())
        };
        let own = content("m.room.member", dave);
        let membership = own.as_ref().map(|content| content["membership"].clone());
        assert_eq!(preview["membership"], membership.unwrap_or(JsonValue::Null), "{name}");
        let room_name = content("m.room.name", "").map(|c| c["name"].clone());
        let alias = content("m.room.canonical_alias", "").map(|c| c["alias"].clone());
        match (room_name, alias) {
            (Some(room_name), _) if room_name != "" => {
                assert_eq!(preview["displayName"], room_name, "{name}");
                assert_eq!(preview["displayNameSource"], "name", "{name}");
            }
            (_, Some(alias)) => {
                assert_eq!(preview["displayName"], alias, "{name}");
                assert_eq!(preview["displayNameSource"], "alias", "{name}");
            }
            _ => {
                let others: BTreeSet<String> = current
                    .iter()
                    .filter(|((event_type, user), _)| event_type == "m.room.member" && user != dave)
                    .map(|(_, id)| &fixture_event(room, id)["pdu"]["content"])
                    .filter(|content| {
                        ["join", "invite"].contains(&content["membership"].as_str().unwrap())
                    })
                    .map(|content| content["displayname"].as_str().unwrap().to_owned())
                    .collect();
                assert!(!others.is_empty(), "{name}: the room has members");
                let heroes: BTreeSet<String> = preview["heroes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|hero| hero.as_str().unwrap().to_owned())
                    .collect();
                assert_eq!(heroes, others, "{name}");
                assert_eq!(preview["displayNameSource"], "heroes", "{name}");
            }
        }
        if preview["membership"] == "invite" {
            let invite = current[&("m.room.member".to_owned(), dave.to_owned())].as_str();
            let inviter = &fixture_event(room, invite)["pdu"]["sender"];
            assert_eq!(&preview["inviter"]["userId"], inviter, "{name}");
        }
    }
    assert_eq!(sources, BTreeSet::from(["alias", "heroes", "name"].map(str::to_owned)));
}

/// An invite received out of band is stored as an outlier (no edges, no state, no extremities;
/// its room recorded with the version it was given), and de-outliered in place when the room's
/// history arrives: then every table of the room equals Synapse's.
pub async fn an_out_of_band_invite_is_an_outlier_until_its_room_arrives(backend: impl Store) {
    let fixture = pdus_fixture();
    let room = &fixture["rooms"][9];
    let room_id = room["room_id"].as_str().unwrap();
    let events = room["events"].as_array().unwrap();
    let invite = &events[8];
    assert_eq!(invite["pdu"]["content"]["membership"], "invite");
    let invite_id = event_id(invite["event_id"].as_str().unwrap());
    let store = open(backend).await;
    let version = prejoin::model::room_version::RoomVersion::parse("10").unwrap();

    let error = store.persist_outliers(vec![invite["pdu"].clone()], None, true).await.unwrap_err();
    assert_eq!(error.code(), "UNKNOWN_ROOM", "a room the store does not hold needs its version");
    let result =
        store.persist_outliers(vec![invite["pdu"].clone()], Some(version), true).await.unwrap();
    assert_eq!(result.rooms[0].persisted, [invite_id.to_string()]);
    let stored_invite = store.event(&invite_id).await.unwrap().unwrap();
    assert!(stored_invite.internal_metadata.outlier);
    assert!(stored_invite.internal_metadata.out_of_band_membership);
    assert_eq!(stored_invite.internal_metadata.stream_ordering, Some(1));
    assert_eq!(
        store.backend().room_version(room_id).await.unwrap().map(|v| v.as_str().to_owned()),
        Some("10".to_owned())
    );
    assert!(store.state_at_event(&invite_id, &StateFilter::all()).await.unwrap().is_none());
    assert!(store.forward_extremities(room_id).await.unwrap().is_empty());
    assert!(
        store.backward_extremities(room_id).await.unwrap().is_empty(),
        "outliers keep no edges"
    );
    assert!(store.current_state(room_id, &StateFilter::all()).await.unwrap().is_empty());
    let memberships = store.memberships(room_id).await.unwrap();
    assert_eq!(memberships.len(), 1);
    assert_eq!(memberships[0].membership, "invite");

    let result = store
        .persist_events(events.iter().map(|e| e["pdu"].clone()).collect(), false)
        .await
        .unwrap();
    assert_eq!(result.rooms[0].error, None);
    assert_eq!(result.rooms[0].persisted.len(), events.len(), "the outlier is persisted again");
    let stored_invite = store.event(&invite_id).await.unwrap().unwrap();
    assert!(!stored_invite.internal_metadata.outlier, "de-outliered in place");
    assert!(!stored_invite.internal_metadata.out_of_band_membership);
    for event in events {
        let id = event_id(event["event_id"].as_str().unwrap());
        let state = store.state_at_event(&id, &StateFilter::all()).await.unwrap().unwrap();
        let group = event["state_group"].as_i64().unwrap();
        assert_eq!(state_of(state), super::synapse_group_state(room, group), "state at {id}");
    }
    assert_eq!(
        store.forward_extremities(room_id).await.unwrap(),
        strings(&room["forward_extremities"])
    );
    let current = store.current_state(room_id, &StateFilter::all()).await.unwrap();
    assert_eq!(state_of(current), expected_state(&room["current_state"]));
    assert_eq!(
        store.memberships(room_id).await.unwrap().len(),
        room["room_memberships"].as_array().unwrap().len()
    );
}

/// Where stored events stand, read without the events (`Store::event_placements`: what
/// planning reads of the events a chunk brings again): an out-of-band invite as an outlier with
/// no state group, then, once its room arrives, in place with the ordering it was stored with;
/// every event as it stands when read whole; `None` for an event not stored.
pub async fn event_placements_read_without_the_events(backend: impl Store) {
    let fixture = pdus_fixture();
    let room = &fixture["rooms"][9];
    let events = room["events"].as_array().unwrap();
    let invite_id = event_id(events[8]["event_id"].as_str().unwrap());
    let unknown = event_id("$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let store = open(backend).await;
    let version = prejoin::model::room_version::RoomVersion::parse("10").unwrap();
    store.persist_outliers(vec![events[8]["pdu"].clone()], Some(version), true).await.unwrap();
    let read = store.backend().event_placements(&[invite_id.clone(), unknown.clone()]).await;
    let [invite, not_stored] = <[_; 2]>::try_from(read.unwrap()).unwrap();
    assert_eq!(not_stored, None);
    let invite = invite.unwrap();
    assert!(invite.outlier);
    assert_eq!(
        (invite.stream_ordering, invite.instance_name.as_deref(), invite.state_group),
        (1, Some("tab-1"), None)
    );
    persist(&store, room_pdus_json(room), &mut std::iter::once(events.len())).await;
    let ids: Vec<OwnedEventId> =
        events.iter().map(|event| event_id(event["event_id"].as_str().unwrap())).collect();
    let placements = store.backend().event_placements(&ids).await.unwrap();
    let whole = store.backend().planning_events(&ids).await.unwrap();
    assert_eq!(placements.len(), events.len());
    for ((id, placement), found) in ids.iter().zip(placements).zip(whole) {
        let placement = placement.unwrap_or_else(|| panic!("{id} is stored"));
        assert!(!placement.outlier, "{id}");
        assert!(placement.state_group.is_some(), "{id}");
        assert_eq!(Some(placement.clone()), found.as_ref().map(EventPlacement::from), "{id}");
        if *id == invite_id {
            assert_eq!(placement.stream_ordering, 1, "de-outliered in place");
        }
    }
}

/// An outlier that arrives in the DAG keeps the stream ordering it was stored with: Synapse's
/// `_update_outliers_txn` only marks its `events` row no longer an outlier. The chunk still
/// takes one stream id per event, the ex-outlier's included (Synapse's `get_next_mult` counts it
/// and gives its id to the `ex_outlier_stream` row), so the other events have the orderings
/// Synapse gives them and the stream goes on after the chunk. Two out-of-band invites, Bob's in
/// room v10 and Dave's in room v4, then each room in two batches, the first ending with the
/// invite, the store reopened after each by another writer (tab): room v10's invite is
/// de-outliered in the session that stored it, room v4's after a reopen (its stored ordering read
/// back for planning). The ex-outlier keeps its row's `instance_name` too, the first writer's;
/// every other event has the name of the writer that persisted it.
pub async fn a_de_outliered_event_keeps_its_stream_ordering<S: Store>(backend: S) {
    let fixture = pdus_fixture();
    let rooms = [(&fixture["rooms"][9], 8, "10"), (&fixture["rooms"][3], 10, "4")];
    let mut store = open(backend).await;
    for (ordering, (room, invite_at, version)) in (1..).zip(rooms) {
        let invite = &room["events"][invite_at];
        assert_eq!(invite["pdu"]["content"]["membership"], "invite");
        let version = prejoin::model::room_version::RoomVersion::parse(version).unwrap();
        let result = store.persist_outliers(vec![invite["pdu"].clone()], Some(version), true);
        assert_eq!(result.await.unwrap().rooms[0].stream_orderings, Some((ordering, ordering)));
    }
    let mut last = 2;
    let mut writer = 1;
    for (outlier_ordering, (room, invite_at, _)) in (1..).zip(rooms) {
        let mut pdus = room_pdus_json(room);
        // Up to the invite first: the last id the batch takes is the ex-outlier's.
        let rest = pdus.split_off(invite_at + 1);
        let mut writers = Vec::new();
        for batch in [pdus, rest] {
            let count = batch.len() as i64;
            writers.extend(std::iter::repeat_n(format!("tab-{writer}"), batch.len()));
            let result = store.persist_events(batch, false).await.unwrap();
            assert_eq!(result.rooms[0].stream_orderings, Some((last + 1, last + count)));
            last += count;
            assert_eq!(store.current_token(), last, "the ex-outlier's id is taken all the same");
            writer += 1;
            store = EventStore::open(store.into_backend(), format!("tab-{writer}")).await.unwrap();
            assert_eq!(store.current_token(), last, "and stays taken once reopened");
        }
        writers[invite_at] = "tab-1".to_owned();
        let first = last - room["events"].as_array().unwrap().len() as i64 + 1;
        for (index, event) in room["events"].as_array().unwrap().iter().enumerate() {
            let id = event["event_id"].as_str().unwrap();
            let stored = stored(&store, id).await;
            let expected = if index == invite_at { outlier_ordering } else { first + index as i64 };
            assert_eq!(stored.internal_metadata.stream_ordering, Some(expected), "{id}");
            assert!(!stored.internal_metadata.outlier, "{id}");
            assert_eq!(stored.internal_metadata.instance_name.as_ref(), Some(&writers[index]));
        }
    }
    assert_eq!(writer, 5, "room v4's invite was de-outliered by tab-3");
}

/// A `pdus.json` room's PDUs as JSON, in Synapse's stream order.
fn room_pdus_json(room: &JsonValue) -> Vec<JsonValue> {
    room["events"].as_array().unwrap().iter().map(|event| event["pdu"].clone()).collect()
}

/// A room of PDUs read back as a timeline: its events in Synapse's stream order, newest page
/// first, without a gap (a room of PDUs has backward extremities instead). (That soft-failed
/// events are not part of a timeline is checked with the soft failures of `softfail.json`.)
pub async fn a_room_of_pdus_reads_back_as_a_timeline(backend: impl Store) {
    let store = open(backend).await;
    let fixture = pdus_fixture();
    let room = fixture["rooms"].as_array().unwrap().iter().find(|r| r["name"] == "v10").unwrap();
    let room_id = room["room_id"].as_str().unwrap();
    let events: Vec<JsonValue> =
        room["events"].as_array().unwrap().iter().map(|e| e["pdu"].clone()).collect();
    persist(&store, events, &mut std::iter::empty()).await;
    let mut expected: Vec<(i64, String)> = room["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (e["stream_ordering"].as_i64().unwrap(), e["event_id"].as_str().unwrap().to_owned())
        })
        .collect();
    expected.sort();
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    let mut pages = Vec::new();
    let mut before: Option<OwnedEventId> = None;
    loop {
        let page = store.room_timeline(room_id, before.as_deref(), 5).await.unwrap();
        assert_eq!(page.gap, None);
        let Some(first) = page.events.first() else { break };
        before = Some(first.owned_event_id().clone());
        pages.push(page.events.iter().map(|pdu| pdu.event_id().to_string()).collect::<Vec<_>>());
    }
    assert_eq!(pages.len(), expected.len().div_ceil(5));
    let read: Vec<String> = pages.into_iter().rev().flatten().collect();
    assert_eq!(read, expected);
}

/// The events stream of every room of `pdus.json`, persisted four events at a time (so that the
/// rooms' stream orderings interleave), reads back in pages of seven from any id on: each page
/// the next ids in increasing order, each with its event, until the last says no more follow.
pub async fn the_events_stream_reads_back_in_pages(backend: impl Store) {
    let store = open(backend).await;
    persist(&store, all_pdus_interleaved(), &mut std::iter::repeat(4)).await;
    let last = store.backend().stream_after(0, 1).await.unwrap().last_stream_id;
    let rooms = pdus_fixture()["rooms"].as_array().unwrap().len();
    assert!(last > 100, "{last} events");
    for start in [0, 1, last / 2, last - 7, last - 1, last] {
        let (mut after, mut read) = (start, Vec::new());
        loop {
            let page = store.backend().stream_after(after, 7).await.unwrap();
            assert_eq!(page.last_stream_id, last);
            assert!(page.events.len() <= 7);
            for event in &page.events {
                let ordering = event.internal_metadata.stream_ordering.unwrap();
                let again = stored(&store, event.pdu.event_id().as_str()).await;
                assert_eq!(again.internal_metadata.stream_ordering, Some(ordering));
                read.push((ordering, event.pdu.room_id().to_string()));
            }
            let Some((ordering, _)) = read.last().filter(|_| page.more) else { break };
            after = *ordering;
        }
        let orderings: Vec<i64> = read.iter().map(|(ordering, _)| *ordering).collect();
        assert_eq!(orderings, ((start + 1)..=last).collect::<Vec<_>>(), "after {start}");
        if start == 0 {
            let rooms_read: BTreeSet<&String> = read.iter().map(|(_, room)| room).collect();
            assert_eq!(rooms_read.len(), rooms, "every room");
            let switches = read.windows(2).filter(|pair| pair[0].1 != pair[1].1).count();
            assert!(switches > rooms, "the rooms' orderings interleave: {switches} switches");
        }
    }
}

/// Two writers (tabs) over one store persist every room of `pdus.json`, each all of it, in
/// batches of different pseudo-random sizes, taking turns batch by batch: every event is stored
/// once, by the one writer whose result lists it as persisted (the other's lists it as already
/// persisted); stream orderings are exactly 1..N; and every room's states, extremities, current
/// state and memberships are Synapse's, as with one writer.
pub async fn two_writers_store_each_event_once(backend: impl Store) {
    let writers = [
        EventStore::open(&backend, "tab-a").await.unwrap(),
        EventStore::open(&backend, "tab-b").await.unwrap(),
    ];
    let events = all_pdus_interleaved();
    let total = events.len();
    let mut seeds: [u64; 2] = [0x9e37_79b9_7f4a_7c15, 0x2545_f491_4f6c_dd1d];
    let mut next = [0usize, 0usize];
    let (mut persisted, mut already) = (BTreeMap::new(), BTreeSet::new());
    while next.iter().any(|&at| at < total) {
        for (writer, store) in writers.iter().enumerate() {
            let seed = &mut seeds[writer];
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            let size = (*seed % 9) as usize + 1;
            let batch: Vec<JsonValue> =
                events.iter().skip(next[writer]).take(size).cloned().collect();
            next[writer] += batch.len();
            if batch.is_empty() {
                continue;
            }
            let result = store.persist_events(batch, false).await.unwrap();
            for room in result.rooms {
                assert_eq!(room.error, None, "{}", room.room_id);
                for id in room.persisted {
                    assert!(persisted.insert(id.clone(), writer).is_none(), "{id} stored twice");
                }
                already.extend(room.already_persisted);
            }
        }
    }
    assert_eq!(persisted.len(), total, "every event stored, once");
    assert!(already.iter().all(|id| persisted.contains_key(id)));
    assert!(persisted.values().any(|&w| w == 0) && persisted.values().any(|&w| w == 1));
    let mut orderings = Vec::new();
    for id in persisted.keys() {
        let event = stored(&writers[0], id).await;
        orderings.push(event.internal_metadata.stream_ordering.unwrap());
    }
    orderings.sort_unstable();
    assert_eq!(orderings, (1..=total as i64).collect::<Vec<_>>(), "orderings 1..N, no hole");
    assert_eq!(backend.positions().await.unwrap().last_stream_ordering, total as i64);
    check_pdus_rooms(&writers[0], "two writers").await;
    check_pdus_rooms(&writers[1], "two writers, the other reading").await;
}
