//! The store conformance suite on the IndexedDB backend, in headless Chromium
//! (`wasm-pack test --headless --chrome`), plus what only IndexedDB can get wrong.
#![cfg(all(target_arch = "wasm32", feature = "store"))]

mod common;

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use prejoin::model::StateFilter;
use prejoin::persist::state_groups::{StateGroupId, StateGroups};
use prejoin::persist::{
    parse_batch, plan_room_chunk, RoomHistory, RoomWritePlan, StateIds, StreamOrderings,
};
use prejoin::storage::indexeddb::rows::MetaRow;
use prejoin::storage::indexeddb::schema::{indices, stores, Version};
use prejoin::storage::indexeddb::{IndexedDbStore, Positions};
use prejoin::storage::{EventStore, Store, StoreError};
use ruma_common::{OwnedEventId, OwnedRoomId};
use serde_json::Value as JsonValue;
use wasm_bindgen_test::{console_log, wasm_bindgen_test};

use common::synthetic::SyntheticRoom;
use common::{event_id, fixture, id_set, softfail_pdus, state_map, synapse_group_state};

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

thread_local! {
    static OPENED: Cell<u32> = const { Cell::new(0) };
}

/// A fresh database per test, so that tests are isolated without teardown.
fn fresh_name() -> String {
    let count = OPENED.with(|opened| {
        opened.set(opened.get() + 1);
        opened.get()
    });
    let random = (js_sys::Math::random() * 1e9) as u64;
    format!("prejoin-test-{}-{count}-{random}", js_sys::Date::now() as u64)
}

async fn indexeddb_store() -> IndexedDbStore {
    IndexedDbStore::open(&fresh_name()).await.expect("the database opens")
}

store_conformance_tests!(indexeddb_store);

fn room_pdus(index: usize) -> Vec<JsonValue> {
    let fixture: JsonValue =
        serde_json::from_str(include_str!("fixtures/synapse-1.163.2/pdus.json")).unwrap();
    fixture["rooms"][index]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["pdu"].clone())
        .collect()
}

/// A chunk whose second event cannot be added (its id is stored already: a `ConstraintError`
/// once the first event's rows are in) leaves nothing of the chunk in any object store.
#[wasm_bindgen_test]
async fn a_request_failing_mid_transaction_leaves_nothing_of_the_chunk() {
    let store = indexeddb_store().await;
    let mut chunks = parse_batch(room_pdus(10), &|_| None).unwrap();
    let chunk = chunks.remove(0);
    let room_id = OwnedRoomId::try_from(chunk.room_id.as_str()).unwrap();
    let version = chunk.events[0].room_version().clone();
    let mut events = chunk.events;
    let later = events.split_off(4);

    let mut history = RoomHistory::new(version);
    let mut groups = StateGroups::default();
    let mut orderings = StreamOrderings::default();
    let first =
        plan_room_chunk(&mut history, &mut groups, room_id.clone(), events, false, &mut orderings)
            .unwrap();
    let mut first = first;
    store.apply(&mut first, "tab-1").await.unwrap();
    let before = store.row_counts().await.unwrap();

    let mut second =
        plan_room_chunk(&mut history, &mut groups, room_id, later, false, &mut orderings).unwrap();
    assert!(second.events.len() >= 2, "the fixture room has enough events");
    assert!(!second.state_groups.is_empty() || !second.current_state_delta.is_noop());
    let kept = second.events[0].pdu.event_id().to_owned();
    second.events[1] = first.events[0].clone();
    let positions = prejoin::persist::Positions::default().after(&first);
    second.planned_on = prejoin::persist::PlannedOn { positions, room_chunks: 1 };
    let error = store.apply(&mut second, "tab-1").await.unwrap_err();
    assert_eq!(error.code(), "WRITE_FAILED");
    assert!(error.to_string().contains("ConstraintError"), "{error}");

    assert_eq!(store.row_counts().await.unwrap(), before, "no object store changed");
    assert!(store.event(&kept).await.unwrap().is_none());
    let stored_first = store.event(first.events[0].pdu.event_id()).await.unwrap().unwrap();
    assert_eq!(stored_first.internal_metadata.stream_ordering, Some(1));
}

/// Opening creates every object store of the schema, and opening again keeps the rows.
#[wasm_bindgen_test]
async fn opening_creates_every_store_and_reopening_keeps_rows() {
    let name = fresh_name();
    let store = IndexedDbStore::open(&name).await.unwrap();
    let counts = store.row_counts().await.unwrap();
    assert_eq!(counts.len(), prejoin::storage::indexeddb::schema::stores::ALL.len());
    assert_eq!(counts["meta"], 2);
    let mut chunks = parse_batch(room_pdus(10), &|_| None).unwrap();
    let chunk = chunks.remove(0);
    let room_id = OwnedRoomId::try_from(chunk.room_id.as_str()).unwrap();
    let version = chunk.events[0].room_version().clone();
    let mut history = RoomHistory::new(version.clone());
    let mut plan = plan_room_chunk(
        &mut history,
        &mut StateGroups::default(),
        room_id.clone(),
        chunk.events,
        false,
        &mut StreamOrderings::default(),
    )
    .unwrap();
    store.apply(&mut plan, "tab-1").await.unwrap();
    let written = store.row_counts().await.unwrap();
    store.close();
    let again = IndexedDbStore::open(&name).await.unwrap();
    assert_eq!(again.row_counts().await.unwrap(), written);
    assert_eq!(again.room_version(room_id.as_str()).await.unwrap(), Some(version));
    assert_eq!(written["events"] as usize, plan.events.len());
    assert!(!written.contains_key("event_json"), "an event is one record");
    assert_eq!(written["stream_positions"], 1);
}

thread_local! {
    static PDUS_ROOMS: Vec<JsonValue> = fixture("pdus.json")["rooms"].as_array().unwrap().clone();
}

/// Every room of `pdus.json` (parsed once: the fixture is large for a debug build).
fn pdus_rooms() -> Vec<JsonValue> {
    PDUS_ROOMS.with(Clone::clone)
}

/// A room's PDUs as JSON, in the fixture's (stream) order.
fn pdus_of(room: &JsonValue) -> Vec<JsonValue> {
    room["events"].as_array().unwrap().iter().map(|event| event["pdu"].clone()).collect()
}

/// Persists a batch, asserting every room chunk of it stored; the orderings each chunk took.
async fn persist(
    store: &EventStore<IndexedDbStore>,
    events: Vec<JsonValue>,
    backfilled: bool,
) -> Vec<(i64, i64)> {
    let result = store.persist_events(events, backfilled).await.unwrap();
    let mut orderings = Vec::new();
    for room in result.rooms {
        assert_eq!(room.error, None, "{}", room.room_id);
        orderings.extend(room.stream_orderings);
    }
    orderings
}

/// Plans one room's PDUs from scratch, outside any event store: as another writer (tab) whose
/// planning state starts from `orderings` and state group `next_group`, and which knows of no
/// chunk of the room.
fn plan_alone(
    pdus: Vec<JsonValue>,
    backfilled: bool,
    orderings: &mut StreamOrderings,
    next_group: StateGroupId,
) -> RoomWritePlan {
    let mut chunks = parse_batch(pdus, &|_| None).unwrap();
    assert_eq!(chunks.len(), 1);
    let chunk = chunks.remove(0);
    let room_id = OwnedRoomId::try_from(chunk.room_id.as_str()).unwrap();
    let mut history = RoomHistory::new(chunk.events[0].room_version().clone());
    let mut groups = StateGroups::new(next_group);
    let positions =
        prejoin::persist::Positions::new(orderings.last(), orderings.last_backfilled(), next_group);
    let mut plan =
        plan_room_chunk(&mut history, &mut groups, room_id, chunk.events, backfilled, orderings)
            .unwrap();
    plan.planned_on = prejoin::persist::PlannedOn { positions, room_chunks: 0 };
    plan
}

/// The ids of every group in the chains of the groups of `events`.
async fn chain_groups(store: &IndexedDbStore, events: &[OwnedEventId]) -> BTreeSet<StateGroupId> {
    let mut ids = BTreeSet::new();
    for id in events {
        let group = store.state_group_of(id).await.unwrap().unwrap();
        for row in store.state_group_chain(group).await.unwrap() {
            ids.insert(row.id);
        }
    }
    ids
}

/// Alice's initial sync: its sixteen rooms, new to the store, are planned ahead and written in
/// groups, each transaction writing the sequences and the writer's `stream_positions` row once,
/// after its chunks. The stored positions are then those of the last room: the last stream
/// ordering taken, the highest state group id + 1, and one writer at that last ordering.
#[wasm_bindgen_test]
async fn a_grouped_first_sync_leaves_the_positions_of_its_last_room() {
    let name = fresh_name();
    let store =
        EventStore::open(IndexedDbStore::open(&name).await.unwrap(), "tab-1").await.unwrap();
    let syncs = common::initial_syncs();
    let (alice, response) =
        syncs.as_object().unwrap().iter().find(|(user, _)| user.starts_with("@alice")).unwrap();
    let ingested = store.ingest_sync(response, alice, |_, _| {}).await.unwrap();
    assert!(ingested.sync_token_stored);
    assert!(ingested.rooms.len() >= 16, "{} rooms", ingested.rooms.len());
    let (first, last) = ingested.stream_orderings.unwrap();
    assert_eq!(first, 1);
    drop(store);
    let (_, rows) = dump(&name).await;
    let highest_group = rows[stores::STATE_GROUPS].iter().filter_map(|row| row["id"].as_u64());
    let highest_group = highest_group.max().unwrap();
    let orderings = rows[stores::EVENTS].iter().filter_map(|row| row["stream_ordering"].as_i64());
    assert_eq!(orderings.max(), Some(last));
    let reopened = IndexedDbStore::open(&name).await.unwrap();
    let positions = reopened.positions().await.unwrap();
    assert_eq!(positions.last_stream_ordering, last);
    assert_eq!(positions.next_state_group, highest_group + 1);
    assert_eq!(positions.writers, BTreeMap::from([("tab-1".to_owned(), last)]));
}

/// Counts, until the returned function is called (which returns `[reads, writes]`), the
/// read-only transactions over `events` alone (a planning read of events) and the readwrite
/// transactions this page opens: `IDBDatabase.prototype.transaction` is wrapped, not replaced.
fn count_transactions() -> js_sys::Function {
    let counting = js_sys::eval(
        r#"(() => {
            const proto = IDBDatabase.prototype;
            const original = proto.transaction;
            const counts = [0, 0];
            proto.transaction = function (scope, mode, options) {
                const stores = [].concat(scope);
                if (mode === "readwrite") counts[1] += 1;
                else if (stores.length === 1 && stores[0] === "events") counts[0] += 1;
                return original.call(this, scope, mode, options);
            };
            return () => {
                proto.transaction = original;
                return counts;
            };
        })()"#,
    );
    counting.unwrap().into()
}

/// An incremental sync of three rooms the store kept from the last response reads which of
/// their events are stored once, not once per room, and writes the three rooms in one
/// transaction (and the sync token in another): the rooms are planned while the first is
/// written, and the writes asked in one task go together.
#[wasm_bindgen_test]
async fn kept_rooms_of_a_response_take_one_read_and_one_write() {
    let name = fresh_name();
    let store =
        EventStore::open(IndexedDbStore::open(&name).await.unwrap(), "tab-1").await.unwrap();
    let first = common::sync_series::joined_rooms("s1", 3, true, (0, 2));
    store.ingest_sync(&first, "@u:x", |_, _| {}).await.unwrap();
    let stop = count_transactions();
    let next = common::sync_series::joined_rooms("s2", 3, false, (2, 3));
    let result = store.ingest_sync(&next, "@u:x", |_, _| {}).await.unwrap();
    let counts = js_sys::Array::from(&stop.call0(&wasm_bindgen::JsValue::NULL).unwrap());
    let counts: Vec<f64> = counts.iter().map(|count| count.as_f64().unwrap()).collect();
    assert_eq!(result.stream_orderings, Some((13, 21)));
    assert_eq!(counts, [1.0, 2.0], "[reads of events, readwrite transactions]");
}

/// An empty store's positions; after some `pdus.json` rooms (one backfilled in part), the
/// highest live and the lowest backfill orderings the persist results report, the highest state
/// group id + 1 and the writer's position; the same after reopening. A second writer's chunks,
/// planned on stale positions (live, backfill and state group ids from the start), take their
/// ids after the stored ones in their writes: the positions move by exactly those, and its
/// `stream_positions` row is its last live id.
#[wasm_bindgen_test]
async fn positions_follow_the_sequences_and_never_go_back() {
    let name = fresh_name();
    let empty = IndexedDbStore::open(&name).await.unwrap();
    let positions = empty.positions().await.unwrap();
    assert_eq!(positions.last_stream_ordering, 0);
    assert_eq!(positions.last_backfill_ordering, 0);
    assert_eq!(positions.next_state_group, 1);
    assert!(positions.writers.is_empty());
    assert_eq!(positions, Positions::default());
    empty.close();

    let store =
        EventStore::open(IndexedDbStore::open(&name).await.unwrap(), "tab-1").await.unwrap();
    let rooms = pdus_rooms();
    let mut live = Vec::new();
    let mut backfill = Vec::new();
    let mut events = Vec::new();
    // Room versions 1, 11 and 12; the v11 room partly backfilled.
    for (index, room) in rooms.iter().enumerate().filter(|(index, _)| [0, 10, 11].contains(index)) {
        let mut pdus = pdus_of(room);
        if index == 10 {
            let later = pdus.split_off(5);
            live.extend(persist(&store, pdus, false).await);
            backfill.extend(persist(&store, later, true).await);
        } else {
            live.extend(persist(&store, pdus, false).await);
        }
        for event in room["events"].as_array().unwrap() {
            events.push(event_id(event["event_id"].as_str().unwrap()));
        }
    }
    let last_live = live.iter().map(|(first, last)| *first.max(last)).max().unwrap();
    let last_backfill = backfill.iter().map(|(first, last)| *first.min(last)).min().unwrap();
    assert!(last_backfill < 0 && last_live > 0);
    let groups = chain_groups(store.backend(), &events).await;
    let last_group = *groups.last().unwrap();
    let counts = store.backend().row_counts().await.unwrap();
    assert_eq!(counts["state_groups"] as usize, groups.len(), "every group is in some chain");
    let expected = Positions {
        last_stream_ordering: last_live,
        last_backfill_ordering: last_backfill,
        next_state_group: last_group + 1,
        writers: BTreeMap::from([("tab-1".to_owned(), last_live)]),
    };
    assert_eq!(store.backend().positions().await.unwrap(), expected);
    // events, backfill, state_groups, and room_previews (the writes that dropped kept previews).
    assert_eq!(counts["sequences"], 4);
    console_log!(
        "positions after {} events: last {last_live}, backfill {last_backfill}, next group {}",
        events.len(),
        last_group + 1
    );
    drop(store);

    let store = IndexedDbStore::open(&name).await.unwrap();
    assert_eq!(store.positions().await.unwrap(), expected, "as stored");

    // A second writer planning on stale positions (orderings from 1 and from -1, state groups
    // from 1): its chunks take their ids after the stored ones, in the write, none twice.
    let forks = fixture("forks.json");
    let fork_pdus = forks["rooms"][0]["pdus"].as_array().unwrap().clone();
    let mut orderings = StreamOrderings::default();
    let mut second = plan_alone(fork_pdus, false, &mut orderings, 1);
    let planned_last = second.events.last().unwrap().stream_ordering;
    assert!(planned_last < last_live, "the fixture room is smaller than everything before");
    store.apply(&mut second, "tab-2").await.unwrap();
    let taken: Vec<i64> = second.events.iter().map(|event| event.stream_ordering).collect();
    let live = second.events.len() as i64;
    assert_eq!(taken, (last_live + 1..=last_live + live).collect::<Vec<_>>());
    let second_groups: Vec<StateGroupId> = second.state_groups.iter().map(|g| g.id).collect();
    assert_eq!(second_groups[0], last_group + 1, "groups after the stored ones");
    let second_group = *second_groups.iter().max().unwrap();
    let softfail = fixture("softfail.json");
    let room = &softfail["rooms"][0];
    let pdus = softfail_pdus(room);
    let first_three = room["arrival_order"].as_array().unwrap()[..3]
        .iter()
        .map(|id| pdus[id.as_str().unwrap()].clone())
        .collect();
    let mut third = plan_alone(first_three, true, &mut orderings, 1);
    assert_eq!(third.events.last().unwrap().stream_ordering, -3, "as planned");
    store.apply(&mut third, "tab-2").await.unwrap();
    let backfilled: Vec<i64> = third.events.iter().map(|event| event.stream_ordering).collect();
    assert_eq!(backfilled, [last_backfill - 1, last_backfill - 2, last_backfill - 3]);
    let third_group = third.state_groups.iter().map(|group| group.id).max().unwrap();
    assert!(third_group > second_group);
    let mut expected = expected;
    expected.last_stream_ordering = last_live + live;
    expected.last_backfill_ordering = last_backfill - 3;
    expected.next_state_group = third_group + 1;
    expected.writers.insert("tab-2".to_owned(), last_live + live);
    assert_eq!(store.positions().await.unwrap(), expected);
}

/// For every event of a `pdus.json` room (version 12; chains of up to 14 groups): its group's
/// chain starts at a snapshot, each group follows its prev group, it loads in order into
/// `StateGroups`, and folded newest-first it is the state at the event (as `state_at_event`
/// reads it, and as Synapse's group holds it).
#[wasm_bindgen_test]
async fn state_group_chains_give_the_state_at_every_event() {
    let store = EventStore::open(indexeddb_store().await, "tab-1").await.unwrap();
    let rooms: Vec<JsonValue> =
        pdus_rooms().into_iter().filter(|room| room["name"] == "v12").collect();
    assert_eq!(rooms.len(), 1);
    for room in &rooms {
        persist(&store, pdus_of(room), false).await;
    }
    let backend = store.backend();
    let (mut checked, mut longest, mut snapshots) = (0, 0, BTreeSet::new());
    for room in &rooms {
        for event in room["events"].as_array().unwrap() {
            let id = event_id(event["event_id"].as_str().unwrap());
            let at = format!("{}: {id}", room["name"]);
            let group = backend.state_group_of(&id).await.unwrap().expect("a group");
            let chain = backend.state_group_chain(group).await.unwrap();
            assert!(chain[0].is_snapshot(), "{at}");
            assert_eq!(chain.last().map(|row| row.id), Some(group), "{at}");
            for pair in chain.windows(2) {
                assert_eq!(pair[1].prev_group, Some(pair[0].id), "{at}");
            }
            let mut folded = StateIds::new();
            for row in chain.iter().rev() {
                for (key, event_id) in &row.delta {
                    folded.entry(key.clone()).or_insert_with(|| event_id.clone());
                }
            }
            let read = store.state_at_event(&id, &StateFilter::all()).await.unwrap();
            assert_eq!(Some(&folded), read.as_ref(), "{at}");
            let synapse = synapse_group_state(room, event["state_group"].as_i64().unwrap());
            assert_eq!(state_map(&folded), synapse, "{at}");
            longest = longest.max(chain.len());
            snapshots.insert(chain[0].id);
            let mut groups = StateGroups::default();
            for row in chain {
                groups.insert(row).unwrap();
            }
            assert_eq!(groups.state_of(group).unwrap(), folded, "{at}");
            checked += 1;
        }
    }
    assert!(longest > 2, "the fixture has delta chains");
    console_log!(
        "chains checked: {checked} events, longest chain {longest} groups, {} snapshots",
        snapshots.len()
    );
    let unknown = event_id("$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(backend.state_group_of(&unknown).await.unwrap(), None);
}

/// Opens the database by hand at the version it has.
async fn open_by_hand(name: &str) -> Database {
    Database::open(name).await.unwrap()
}

/// A chain that comes back to a group, or that names a missing group, is a corrupt store.
#[wasm_bindgen_test]
async fn a_broken_state_group_chain_is_corrupt() {
    let name = fresh_name();
    let store =
        EventStore::open(IndexedDbStore::open(&name).await.unwrap(), "tab-1").await.unwrap();
    let room = &pdus_rooms()[0];
    persist(&store, pdus_of(room), false).await;
    let last = room["events"].as_array().unwrap().last().unwrap();
    let group = store
        .backend()
        .state_group_of(&event_id(last["event_id"].as_str().unwrap()))
        .await
        .unwrap()
        .unwrap();
    let chain = store.backend().state_group_chain(group).await.unwrap();
    assert!(chain.len() >= 3);
    let (snapshot, middle) = (chain[0].id, chain[1].id);

    let room_id = room["room_id"].as_str().unwrap();
    let snapshot_row = |prev: JsonValue| {
        let row = serde_json::json!({
            "id": snapshot,
            "room_id": room_id,
            "event_id": chain[0].event_id.as_str(),
            "prev_state_group": prev,
        });
        BTreeMap::from([(stores::STATE_GROUPS.to_owned(), vec![row])])
    };
    write_by_hand(&name, &snapshot_row(serde_json::json!(group))).await;
    let error = store.backend().state_group_chain(group).await.unwrap_err();
    assert_eq!(error.code(), "CORRUPT_STORE");
    assert!(error.to_string().contains("cycle"), "{error}");

    write_by_hand(&name, &snapshot_row(serde_json::json!("x"))).await;
    let error = store.backend().state_group_chain(group).await.unwrap_err();
    assert_eq!(error.code(), "CORRUPT_STORE");
    assert!(error.to_string().contains("no group id"), "{error}");

    write_by_hand(&name, &snapshot_row(JsonValue::Null)).await;
    let db = open_by_hand(&name).await;
    let tx = db.transaction(stores::STATE_GROUPS).with_mode(TransactionMode::Readwrite);
    let tx = tx.build().unwrap();
    let groups = tx.object_store(stores::STATE_GROUPS).unwrap();
    groups.delete(middle as f64).primitive().unwrap().await.unwrap();
    tx.commit().await.unwrap();
    db.close();
    let error = store.backend().state_group_chain(group).await.unwrap_err();
    assert_eq!(error.code(), "CORRUPT_STORE");
    assert!(error.to_string().contains(&format!("state group {middle} is missing")), "{error}");
}

/// Every row of every object store of a database, read by hand, and its version.
async fn dump(name: &str) -> (f64, BTreeMap<String, Vec<JsonValue>>) {
    let db = open_by_hand(name).await;
    let names: Vec<String> = db.object_store_names().collect();
    let mut rows = BTreeMap::new();
    for store in &names {
        let tx = db.transaction(store).build().unwrap();
        let all = tx.object_store(store).unwrap().get_all::<JsonValue>().serde().unwrap();
        let all = all.await.unwrap().collect::<Result<Vec<_>, _>>().unwrap();
        rows.insert(store.clone(), all);
    }
    let version = db.version();
    db.close();
    (version, rows)
}

/// Makes a database of this code's schema into one of `version`, as newer code would: a new
/// object store, and `meta` saying `version` and `compat_version` (removed when `None`).
async fn upgrade_by_hand(name: &str, version: u32, compat_version: Option<u32>) {
    let db = Database::open(name)
        .with_version(version)
        .with_on_upgrade_needed(|_, db| {
            db.create_object_store("added_later").build()?;
            Ok(())
        })
        .await
        .unwrap();
    let tx = db.transaction(stores::META).with_mode(TransactionMode::Readwrite).build().unwrap();
    let meta = tx.object_store(stores::META).unwrap();
    let row = MetaRow { key: "schema_version".to_owned(), value: version };
    meta.put(row).serde().unwrap().await.unwrap();
    match compat_version {
        Some(value) => {
            let row = MetaRow { key: "compat_version".to_owned(), value };
            meta.put(row).serde().unwrap().await.unwrap();
        }
        None => meta.delete("compat_version").primitive().unwrap().await.unwrap(),
    }
    tx.commit().await.unwrap();
    db.close();
}

/// A database holding the first events of a `pdus.json` room, closed again.
async fn database_with_a_room() -> String {
    let name = fresh_name();
    let store =
        EventStore::open(IndexedDbStore::open(&name).await.unwrap(), "tab-1").await.unwrap();
    persist(&store, pdus_of(&pdus_rooms()[0])[..6].to_vec(), false).await;
    name
}

/// A database of a newer schema whose `compat_version` is above this code's version (or that
/// has none) is refused with SCHEMA_TOO_NEW naming both versions, and left as it was.
#[wasm_bindgen_test]
async fn a_newer_incompatible_schema_is_refused_untouched() {
    let newer = Version::CURRENT.number() + 1;
    for compat_version in [Some(newer), None] {
        let name = database_with_a_room().await;
        upgrade_by_hand(&name, newer, compat_version).await;
        let before = dump(&name).await;
        assert_eq!(before.0, f64::from(newer));
        assert!(before.1["events"].len() > 1);
        let error = IndexedDbStore::open(&name).await.unwrap_err();
        assert_eq!(error.code(), "SCHEMA_TOO_NEW");
        assert_eq!(
            error,
            StoreError::SchemaTooNew {
                version: newer,
                compat_version: newer,
                supported: Version::CURRENT.number(),
            }
        );
        let message = error.to_string();
        assert!(message.contains(&format!("schema version {newer}")), "{message}");
        let current = format!("schema version {}", Version::CURRENT.number());
        assert!(message.contains(&current), "{message}");
        assert_eq!(dump(&name).await, before, "nothing changed ({compat_version:?})");
    }
}

/// A database of a newer schema whose `compat_version` allows this code opens at its own
/// version, without an upgrade or a rewrite of `meta`; reads and writes work.
#[wasm_bindgen_test]
async fn a_newer_compatible_schema_opens_at_its_version() {
    let name = database_with_a_room().await;
    let newer = Version::CURRENT.number() + 1;
    upgrade_by_hand(&name, newer, Some(Version::CURRENT.number())).await;
    let before = dump(&name).await;
    let store = IndexedDbStore::open(&name).await.unwrap();
    assert_eq!(store.schema_version(), newer);
    let rooms = pdus_rooms();
    let room = &rooms[0];
    let events = &room["events"].as_array().unwrap()[..6];
    for event in events {
        let id = event_id(event["event_id"].as_str().unwrap());
        assert!(store.event(&id).await.unwrap().is_some(), "{id}");
        let state = store.state_at_event(&id, &StateFilter::all()).await.unwrap().unwrap();
        let synapse = synapse_group_state(room, event["state_group"].as_i64().unwrap());
        assert_eq!(state_map(&state), synapse, "{id}");
    }
    let positions = store.positions().await.unwrap();
    assert_eq!(positions.last_stream_ordering, events.len() as i64);
    assert_eq!(dump(&name).await, before, "opening wrote nothing");

    // A writer continuing from the stored positions.
    let mut orderings = StreamOrderings::new(positions.last_stream_ordering, 0);
    let mut plan =
        plan_alone(pdus_of(&rooms[1]), false, &mut orderings, positions.next_state_group);
    store.apply(&mut plan, "tab-1").await.unwrap();
    assert!(store.event(plan.events[0].pdu.event_id()).await.unwrap().is_some());
    let after = dump(&name).await;
    assert_eq!(after.0, f64::from(newer));
    assert_eq!(after.1["meta"], before.1["meta"], "meta keeps the newer versions");
}

/// Two connections close themselves when a third opens the database at a higher version, which
/// so succeeds; their next calls fail with STORE_CLOSED. Deleting the database closes a
/// connection the same way.
#[wasm_bindgen_test]
async fn another_tabs_upgrade_closes_this_connection() {
    let name = fresh_name();
    let first = IndexedDbStore::open(&name).await.unwrap();
    let second = IndexedDbStore::open(&name).await.unwrap();
    let mut orderings = StreamOrderings::default();
    let mut plan = plan_alone(pdus_of(&pdus_rooms()[0]), false, &mut orderings, 1);
    first.apply(&mut plan, "tab-1").await.unwrap();
    let stored = plan.events[0].pdu.event_id().to_owned();
    assert!(second.event(&stored).await.unwrap().is_some());

    let newer = Version::CURRENT.number() + 1;
    let upgraded = Database::open(name.as_str())
        .with_version(newer)
        .with_on_upgrade_needed(|_, _| Ok(()))
        .await
        .unwrap();
    assert_eq!(upgraded.version(), f64::from(newer));
    assert!(first.is_closed() && second.is_closed());
    assert_eq!(first.positions().await.unwrap_err(), StoreError::Closed);
    assert_eq!(first.positions().await.unwrap_err().code(), "STORE_CLOSED");
    assert_eq!(second.event(&stored).await.unwrap_err().code(), "STORE_CLOSED");
    assert_eq!(second.apply(&mut plan, "tab-1").await.unwrap_err().code(), "STORE_CLOSED");
    assert_eq!(
        second.referenced_as_prev(std::slice::from_ref(&stored)).await.unwrap_err().code(),
        "STORE_CLOSED"
    );
    upgraded.close();

    // The upgrade kept `meta` (compat_version of this code), so this code opens it again.
    let again = IndexedDbStore::open(&name).await.unwrap();
    assert_eq!(again.schema_version(), newer);
    assert!(again.event(&stored).await.unwrap().is_some());
    Database::delete_by_name(&name).unwrap().await.unwrap();
    assert!(again.is_closed());
    assert_eq!(again.state_group_of(&stored).await.unwrap_err().code(), "STORE_CLOSED");
}

/// A version 2 database (a store per Synapse table: `events`, `event_json`, `event_edges`,
/// `event_to_state_groups`) is migrated to one record per event: afterwards every store holds
/// exactly the rows this code writes for the same events. The rooms are a fixture room with a
/// redaction and a synthetic room of more events than the migration moves per page.
#[wasm_bindgen_test]
async fn a_version_2_database_is_migrated_row_for_row() {
    let source = fresh_name();
    let store =
        EventStore::open(IndexedDbStore::open(&source).await.unwrap(), "tab-1").await.unwrap();
    persist(&store, pdus_of(&pdus_rooms()[12]), false).await;
    let synthetic = SyntheticRoom::new("migrated").with_messages(2_100);
    for batch in synthetic.events.chunks(500) {
        persist(&store, batch.to_vec(), false).await;
    }
    drop(store);
    let (_, written) = dump(&source).await;
    assert_eq!(written["events"].len(), 36 + synthetic.events.len());

    let old = fresh_name();
    IndexedDbStore::create_at_version(&old, Version::V2).await.unwrap();
    let as_v2 = as_version_2(&written);
    assert_eq!(as_v2["event_json"].len(), written["events"].len());
    assert!(as_v2["event_edges"].len() >= written["events"].len() - 2);
    write_by_hand(&old, &as_v2).await;
    assert_eq!(dump(&old).await, (2.0, as_v2));

    let migrated = IndexedDbStore::open(&old).await.unwrap();
    assert_eq!(migrated.schema_version(), Version::CURRENT.number());
    let last = event_id(synthetic.last_event_id());
    let state = migrated.state_at_event(&last, &StateFilter::all()).await.unwrap().unwrap();
    assert_eq!(state.len(), 4, "create, the creator's join, power levels, join rules");
    drop(migrated);
    assert_eq!(dump(&old).await, (f64::from(Version::CURRENT.number()), as_migrated(written)));
}

/// A version 3 database (every edge under the `events` index `prev_event_id`) is migrated: the
/// event that named a gap gets it in `missing_prevs`, after which every store holds exactly the
/// rows this code writes for the same events, and the late event, arriving after the migration,
/// is followed as in Synapse. The room is `pdus.json`'s state-changes room without its message
/// at index 9.
#[wasm_bindgen_test]
async fn a_version_3_database_is_migrated_row_for_row() {
    let rooms = pdus_rooms();
    let room = rooms.iter().find(|room| room["name"] == "state-changes").unwrap();
    let pdus = pdus_of(room);
    let events = room["events"].as_array().unwrap();
    let missing = events[9]["event_id"].as_str().unwrap();
    let follower = events[10]["event_id"].as_str().unwrap();
    let source = fresh_name();
    let store =
        EventStore::open(IndexedDbStore::open(&source).await.unwrap(), "tab-1").await.unwrap();
    persist(&store, pdus[..9].to_vec(), false).await;
    persist(&store, pdus[10..].to_vec(), false).await;
    drop(store);
    let (_, written) = dump(&source).await;
    let naming: Vec<&JsonValue> =
        written["events"].iter().filter(|row| row.get("missing_prevs").is_some()).collect();
    assert_eq!(naming.len(), 1);
    assert_eq!(naming[0]["event_id"], follower);
    assert_eq!(naming[0]["missing_prevs"], serde_json::json!([missing]));

    let old = fresh_name();
    IndexedDbStore::create_at_version(&old, Version::V3).await.unwrap();
    let mut as_v3 = written.clone();
    for row in as_v3.get_mut("events").unwrap() {
        row.as_object_mut().unwrap().remove("missing_prevs");
    }
    set_meta(&mut as_v3, 3);
    write_by_hand(&old, &as_v3).await;
    assert_eq!(dump(&old).await, (3.0, as_v3));

    let migrated = IndexedDbStore::open(&old).await.unwrap();
    assert_eq!(migrated.schema_version(), Version::CURRENT.number());
    let asked = [event_id(missing), event_id(follower)];
    let referenced = migrated.referenced_as_prev(&asked).await.unwrap();
    assert_eq!(referenced, BTreeSet::from([event_id(missing)]));
    drop(migrated);
    assert_eq!(dump(&old).await, (f64::from(Version::CURRENT.number()), as_migrated(written)));

    let store = EventStore::open(IndexedDbStore::open(&old).await.unwrap(), "tab-1").await.unwrap();
    persist(&store, pdus[9..10].to_vec(), false).await;
    let room_id = room["room_id"].as_str().unwrap();
    let forward = store.forward_extremities(room_id).await.unwrap();
    assert_eq!(forward, id_set(&room["forward_extremities"]));
    assert!(store.backward_extremities(room_id).await.unwrap().is_empty());
}

/// A version 4 database gains the `events` index `state` over the events it holds, one entry per
/// state event and none for the rest, and loses the `state_groups_state` index nothing reads;
/// every store still holds exactly the rows this code writes; a large room's state then reads
/// back through it.
#[wasm_bindgen_test]
async fn a_version_4_database_indexes_its_state_events() {
    let source = fresh_name();
    let store =
        EventStore::open(IndexedDbStore::open(&source).await.unwrap(), "tab-1").await.unwrap();
    let room = SyntheticRoom::new("indexed").with_members(100).with_messages(50);
    for batch in room.events.chunks(100) {
        persist(&store, batch.to_vec(), false).await;
    }
    drop(store);
    let (_, written) = dump(&source).await;

    let old = fresh_name();
    IndexedDbStore::create_at_version(&old, Version::V4).await.unwrap();
    let mut as_v4 = written.clone();
    set_meta(&mut as_v4, 4);
    write_by_hand(&old, &as_v4).await;

    let migrated = IndexedDbStore::open(&old).await.unwrap();
    assert_eq!(migrated.schema_version(), Version::CURRENT.number());
    let db = open_by_hand(&old).await;
    let tx = db.transaction(stores::EVENTS).build().unwrap();
    let events = tx.object_store(stores::EVENTS).unwrap();
    let index = events.index(indices::EVENTS_BY_STATE).unwrap();
    let entries = index.count().primitive().unwrap().await.unwrap();
    assert_eq!(entries, 4 + 100, "create, the creator's join, power levels, join rules, joins");
    drop(tx);
    let tx = db.transaction(stores::STATE_GROUPS_STATE).build().unwrap();
    let group_state = tx.object_store(stores::STATE_GROUPS_STATE).unwrap();
    assert_eq!(group_state.index_names().collect::<Vec<String>>(), Vec::<String>::new());
    drop(tx);
    db.close();
    let store = EventStore::open(migrated, "tab-1").await.unwrap();
    let current = store.current_state_events(&room.room_id, &StateFilter::all()).await.unwrap();
    assert_eq!(current.len(), 104);
    drop(store);
    assert_eq!(dump(&old).await, (f64::from(Version::CURRENT.number()), as_migrated(written)));
}

/// A large state whose first member event's row has lost its room id reads as a corrupt store
/// (the row is refused once parsed), not as a read that never ends or a failed write.
#[wasm_bindgen_test]
async fn a_state_event_row_without_its_room_is_corrupt() {
    let name = fresh_name();
    let store =
        EventStore::open(IndexedDbStore::open(&name).await.unwrap(), "tab-1").await.unwrap();
    let room = SyntheticRoom::new("lost").with_members(100);
    persist(&store, room.events.clone(), false).await;
    let state = store.current_state(&room.room_id, &StateFilter::all()).await.unwrap();
    // The member events are read through the index from the first of them on.
    let first = state.iter().find(|((t, _), _)| t == "m.room.member").map(|(_, id)| id).unwrap();
    let db = open_by_hand(&name).await;
    let tx = db.transaction(stores::EVENTS).with_mode(TransactionMode::Readwrite).build().unwrap();
    let events = tx.object_store(stores::EVENTS).unwrap();
    let row = events.get::<JsonValue, _, _>(first.as_str()).serde().unwrap().await.unwrap();
    let mut row = row.unwrap();
    row.as_object_mut().unwrap().remove("room_id");
    events.put(row).serde().unwrap().await.unwrap();
    tx.commit().await.unwrap();
    db.close();
    let error = store.current_state_events(&room.room_id, &StateFilter::all()).await.unwrap_err();
    assert_eq!(error.code(), "CORRUPT_STORE", "{error}");
    assert!(error.to_string().contains("room_id"), "{error}");
}

/// The rows of a database of this version, as version 2 stored them.
fn as_version_2(rows: &BTreeMap<String, Vec<JsonValue>>) -> BTreeMap<String, Vec<JsonValue>> {
    let mut old = rows.clone();
    let (mut events, mut json, mut edges, mut groups) = (vec![], vec![], vec![], vec![]);
    for row in &rows["events"] {
        let mut row = row.as_object().unwrap().clone();
        let id = row["event_id"].clone();
        json.push(serde_json::json!({
            "event_id": id,
            "room_version": row.remove("room_version").unwrap(),
            "format_version": row["format_version"],
            "json": row.remove("json").unwrap(),
            "internal_metadata": row.remove("internal_metadata").unwrap(),
        }));
        for prev in row
            .remove("prev_events")
            .and_then(|prevs| prevs.as_array().cloned())
            .unwrap_or_default()
        {
            edges.push(serde_json::json!({"event_id": id, "prev_event_id": prev}));
        }
        if let Some(group) = row.remove("state_group") {
            groups.push(serde_json::json!({"event_id": id, "state_group": group}));
        }
        events.push(JsonValue::Object(row));
    }
    // Each store's rows in key order, as a dump reads them.
    edges.sort_by_key(|edge| (edge["event_id"].to_string(), edge["prev_event_id"].to_string()));
    old.insert("events".to_owned(), events);
    old.insert("event_json".to_owned(), json);
    old.insert("event_edges".to_owned(), edges);
    old.insert("event_to_state_groups".to_owned(), groups);
    set_meta(&mut old, 2);
    old
}

/// The rows of a database of this version once a database of an older version holding `rows`
/// is migrated: the same, but no room's chunks counted (a count starts when the room's next
/// chunk is written, and planning reads it from the same rows).
fn as_migrated(mut rows: BTreeMap<String, Vec<JsonValue>>) -> BTreeMap<String, Vec<JsonValue>> {
    rows.insert(stores::ROOM_CHUNKS.to_owned(), Vec::new());
    rows
}

/// The `meta` rows of a database of schema `version`, with the compatible version that code of
/// that version writes; the stores and columns of later versions are left out.
fn set_meta(rows: &mut BTreeMap<String, Vec<JsonValue>>, version: u32) {
    // Version 8 only added an index over a column version 7 writes.
    let compat = if version == Version::V8.number() { Version::V7.number() } else { version };
    let meta = [("compat_version", compat), ("schema_version", version)];
    let meta = meta.map(|(key, value)| serde_json::json!({"key": key, "value": value}));
    rows.insert("meta".to_owned(), meta.to_vec());
    if version < Version::V7.number() {
        rows.remove(stores::ROOM_PREVIEWS);
        rows.remove(stores::ROOM_CHUNKS);
    }
    if version < Version::V6.number() {
        for store in [stores::LOCAL_CURRENT_MEMBERSHIP, stores::TIMELINE_GAPS, stores::SYNC_TOKENS]
        {
            rows.remove(store);
        }
    }
    // Versions 1 to 10 kept a group's prev group in a `state_group_edges` row of its own.
    if version < Version::V11.number() {
        let mut edges = Vec::new();
        for row in rows.get_mut(stores::STATE_GROUPS).into_iter().flatten() {
            if let Some(prev) = row.as_object_mut().unwrap().remove("prev_state_group") {
                edges.push(serde_json::json!({"state_group": row["id"], "prev_state_group": prev}));
            }
        }
        rows.insert(stores::STATE_GROUP_EDGES.to_owned(), edges);
    }
    // Versions 6 to 9 wrote `[room_id, stream_ordering]` into `timeline` for each accepted event.
    if (Version::V6.number()..Version::V10.number()).contains(&version) {
        for row in rows.get_mut(stores::EVENTS).into_iter().flatten() {
            let metadata: JsonValue =
                serde_json::from_str(row["internal_metadata"].as_str().unwrap()).unwrap();
            let rejected = row.get("rejection").is_some();
            if row["outlier"] == false && !rejected && metadata["soft_failed"] != true {
                let timeline = serde_json::json!([row["room_id"], row["stream_ordering"]]);
                row.as_object_mut().unwrap().insert("timeline".to_owned(), timeline);
            }
        }
    }
}

/// Puts `rows` into the stores of a database, by hand; a store without rows is not touched
/// (it may be one of a later version).
async fn write_by_hand(name: &str, rows: &BTreeMap<String, Vec<JsonValue>>) {
    let db = open_by_hand(name).await;
    let rows: BTreeMap<&String, &Vec<JsonValue>> =
        rows.iter().filter(|(_, rows)| !rows.is_empty()).collect();
    let names: Vec<&str> = rows.keys().map(|name| name.as_str()).collect();
    let tx =
        db.transaction(names.as_slice()).with_mode(TransactionMode::Readwrite).build().unwrap();
    for (store, rows) in rows {
        let store = tx.object_store(store).unwrap();
        for row in rows {
            store.put(row).serde().unwrap().await.unwrap();
        }
    }
    tx.commit().await.unwrap();
    db.close();
}

/// Events whose JSON holds characters beyond ASCII (two-byte, three-byte and four-byte UTF-8,
/// a surrogate pair in JS) are stored in one chunk with plain ones, and each reads back whole:
/// their texts cross to JS as one string cut at UTF-16 offsets.
#[wasm_bindgen_test]
async fn events_beyond_ascii_are_stored_whole() {
    let room = SyntheticRoom::new("unicode")
        .with_messages_saying(3, "é ü – 中文 😀 \u{2028}")
        .with_messages(2)
        .with_messages_saying(2, "🎉🎉");
    let store = EventStore::open(indexeddb_store().await, "tab-1").await.unwrap();
    persist(&store, room.events.clone(), false).await;
    for (pdu, id) in room.events.iter().zip(&room.event_ids) {
        let stored = store.event(&event_id(id)).await.unwrap().unwrap();
        let content = serde_json::to_value(&stored.pdu.as_object()["content"]).unwrap();
        assert_eq!(content, pdu["content"], "{id}");
    }
    let bodies: Vec<String> = room.events[4..]
        .iter()
        .map(|pdu| pdu["content"]["body"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(bodies[0], "é ü – 中文 😀 \u{2028} 0");
    assert_eq!(bodies[6], "🎉🎉 1");
}

/// The three initial syncs of `scenarios.json`, each into a database of its own user, and
/// ingested a second time: every object store is the same, row for row.
#[wasm_bindgen_test]
async fn initial_syncs_twice_leave_every_store_as_it_was() {
    let syncs = fixture("scenarios.json")["initial_syncs"].clone();
    for (user, response) in syncs.as_object().unwrap() {
        let name = fresh_name();
        let store = EventStore::open(IndexedDbStore::open(&name).await.unwrap(), "tab-1").await;
        let store = store.unwrap();
        let first = store.ingest_sync(response, user, |_, _| {}).await.unwrap();
        assert!(first.rooms.iter().all(|room| room.result.error.is_none()), "{user}");
        drop(store);
        let once = dump(&name).await;
        let events = once.1[stores::EVENTS].len();
        let store = EventStore::open(IndexedDbStore::open(&name).await.unwrap(), "tab-2").await;
        let store = store.unwrap();
        let again = store.ingest_sync(response, user, |_, _| {}).await.unwrap();
        assert!(again.rooms.iter().all(|room| room.result.persisted.is_empty()), "{user}");
        drop(store);
        assert_eq!(dump(&name).await, once, "{user}: {events} events, nothing twice");
    }
}

/// A version 5 database (events as PDUs) gains the empty stores of `/sync` and keeps every row;
/// a response is then stored beside its PDUs.
#[wasm_bindgen_test]
async fn a_version_5_database_gains_the_sync_stores() {
    let source = fresh_name();
    let store =
        EventStore::open(IndexedDbStore::open(&source).await.unwrap(), "tab-1").await.unwrap();
    persist(&store, pdus_of(&pdus_rooms()[0]), false).await;
    drop(store);
    let (_, written) = dump(&source).await;
    let new_stores = [stores::LOCAL_CURRENT_MEMBERSHIP, stores::TIMELINE_GAPS, stores::SYNC_TOKENS];
    for store in new_stores {
        assert_eq!(written[store], Vec::<JsonValue>::new(), "{store}: PDUs write none");
    }
    let old = fresh_name();
    IndexedDbStore::create_at_version(&old, Version::V5).await.unwrap();
    let mut as_v5 = written.clone();
    set_meta(&mut as_v5, 5);
    write_by_hand(&old, &as_v5).await;
    let (_, before) = dump(&old).await;
    assert!(new_stores.iter().all(|store| !before.contains_key(*store)), "version 5 lacks them");
    assert!(before[stores::EVENTS].iter().all(|row| row.get("timeline").is_none()));

    let migrated = IndexedDbStore::open(&old).await.unwrap();
    assert_eq!(migrated.schema_version(), Version::CURRENT.number());
    drop(migrated);
    assert_eq!(dump(&old).await, (f64::from(Version::CURRENT.number()), as_migrated(written)));
    let store = EventStore::open(IndexedDbStore::open(&old).await.unwrap(), "tab-1").await.unwrap();
    let series = fixture("sync-series.json");
    let alice = series["users"]["alice"].as_str().unwrap();
    let response = &series["steps"][1]["syncs"]["alice"][0]["response"];
    let result = store.ingest_sync(response, alice, |_, _| {}).await.unwrap();
    assert!(result.sync_token_stored);
    assert_eq!(store.sync_token().unwrap().next_batch, response["next_batch"].as_str().unwrap());
}

/// A version 7 database keeps every row when migrated, but for the `timeline` column version 10
/// drops; the indexes that nothing reads, and the current state's index by room (read by key
/// range now), are gone (version 9), and the events indexes `timeline` and `stream_ordering`
/// (version 8) give way to `room_stream` (version 10); current state reads back the same through
/// its keys, and the events stream through the new index.
#[wasm_bindgen_test]
async fn a_version_7_database_is_migrated_row_for_row() {
    migrated_row_for_row(Version::V7).await;
}

/// A version 8 database likewise: it has the index by stream ordering already, and loses the
/// indexes version 9 deletes.
#[wasm_bindgen_test]
async fn a_version_8_database_is_migrated_row_for_row() {
    migrated_row_for_row(Version::V8).await;
}

/// A version 9 database likewise: its `events` indexes `timeline` and `stream_ordering` give way
/// to `room_stream`, and its rows lose their `timeline` column (version 10).
#[wasm_bindgen_test]
async fn a_version_9_database_is_migrated_row_for_row() {
    migrated_row_for_row(Version::V9).await;
}

/// A version 10 database (a state group's prev group in `state_group_edges`; indexes by room of
/// the extremities and timeline gaps, by user of the own memberships) is migrated: every group's
/// row holds its prev group, the edges' store and those indexes are gone, every store holds
/// exactly the rows this code writes, and state reads back the same.
#[wasm_bindgen_test]
async fn a_version_10_database_is_migrated_row_for_row() {
    migrated_row_for_row(Version::V10).await;
}

/// A database of `version` (7 to 10) holding what this code wrote, migrated: see
/// [`a_version_7_database_is_migrated_row_for_row`].
async fn migrated_row_for_row(version: Version) {
    let source = fresh_name();
    let store =
        EventStore::open(IndexedDbStore::open(&source).await.unwrap(), "tab-1").await.unwrap();
    persist(&store, pdus_of(&pdus_rooms()[0]), false).await;
    let series = fixture("sync-series.json");
    let alice = series["users"]["alice"].as_str().unwrap();
    let response = &series["steps"][1]["syncs"]["alice"][0]["response"];
    assert!(store.ingest_sync(response, alice, |_, _| {}).await.unwrap().sync_token_stored);
    let rooms: Vec<String> = store.backend().rooms().await.unwrap().into_iter().collect();
    let states = store.backend().current_states(&rooms).await.unwrap();
    assert!(states.iter().all(|state| !state.is_empty()), "every room has a current state");
    let last = pdus_rooms()[0]["events"].as_array().unwrap().last().unwrap().clone();
    let last = event_id(last["event_id"].as_str().unwrap());
    let group = store.backend().state_group_of(&last).await.unwrap().unwrap();
    let chain = store.backend().state_group_chain(group).await.unwrap();
    assert!(chain.len() >= 3, "a chain of deltas");
    let state_at_last = store.backend().state_at_event(&last, &StateFilter::all()).await.unwrap();
    drop(store);
    let (_, written) = dump(&source).await;
    assert!(!written[stores::CURRENT_STATE_EVENTS].is_empty());
    let old = fresh_name();
    IndexedDbStore::create_at_version(&old, version).await.unwrap();
    let mut as_old = written.clone();
    set_meta(&mut as_old, version.number());
    write_by_hand(&old, &as_old).await;
    let with_timeline = as_old[stores::EVENTS].iter().filter(|row| row.get("timeline").is_some());
    assert_eq!(with_timeline.count() > 0, version < Version::V10, "the timeline column (6 to 9)");
    assert!(!as_old[stores::STATE_GROUP_EDGES].is_empty(), "versions before 11 keep edges");
    let mut indexed = match version {
        Version::V7 | Version::V8 => vec![
            (stores::CURRENT_STATE_EVENTS, vec!["event_id", "room_id"]),
            (stores::ROOM_MEMBERSHIPS, vec!["room_id", "user_id_room_id"]),
            (stores::STATE_GROUP_EDGES, vec!["prev_state_group"]),
        ],
        _ => vec![
            (stores::CURRENT_STATE_EVENTS, vec![]),
            (stores::ROOM_MEMBERSHIPS, vec!["room_id"]),
            (stores::STATE_GROUP_EDGES, vec![]),
        ],
    };
    let events_indexes = match version {
        Version::V7 => vec!["missing_prev_event_id", "state", "timeline"],
        Version::V8 | Version::V9 => {
            vec!["missing_prev_event_id", "state", "stream_ordering", "timeline"]
        }
        _ => vec!["missing_prev_event_id", "room_stream", "state"],
    };
    indexed.push((stores::EVENTS, events_indexes));
    let by_prefix = [
        (stores::EVENT_FORWARD_EXTREMITIES, "room_id"),
        (stores::EVENT_BACKWARD_EXTREMITIES, "room_id"),
        (stores::TIMELINE_GAPS, "room_id"),
        (stores::LOCAL_CURRENT_MEMBERSHIP, "user_id"),
    ];
    indexed.extend(by_prefix.map(|(store, index)| (store, vec![index])));
    let index_names = |db: &Database, store: &str| {
        let tx = db.transaction(store).build().unwrap();
        let names: Vec<String> = tx.object_store(store).unwrap().index_names().collect();
        names
    };
    let db = open_by_hand(&old).await;
    for (store, names) in &indexed {
        assert_eq!(&index_names(&db, store), names, "{store} at version {version:?}");
    }
    db.close();

    let migrated = IndexedDbStore::open(&old).await.unwrap();
    assert_eq!(migrated.schema_version(), Version::CURRENT.number());
    drop(migrated);
    let db = open_by_hand(&old).await;
    assert_eq!(index_names(&db, stores::CURRENT_STATE_EVENTS), Vec::<String>::new());
    assert_eq!(index_names(&db, stores::ROOM_MEMBERSHIPS), vec!["room_id".to_owned()]);
    let events_indexes = ["missing_prev_event_id", "room_stream", "state"];
    assert_eq!(index_names(&db, stores::EVENTS), events_indexes.map(str::to_owned));
    for (store, _) in by_prefix {
        assert_eq!(index_names(&db, store), Vec::<String>::new(), "{store}: read by key prefix");
    }
    let names: Vec<String> = db.object_store_names().collect();
    assert!(!names.iter().any(|name| name == stores::STATE_GROUP_EDGES), "{names:?}");
    db.close();
    assert_eq!(dump(&old).await, (f64::from(Version::CURRENT.number()), written));
    let store = EventStore::open(IndexedDbStore::open(&old).await.unwrap(), "tab-1").await.unwrap();
    assert_eq!(store.backend().current_states(&rooms).await.unwrap(), states);
    assert_eq!(store.backend().state_group_chain(group).await.unwrap(), chain);
    let read = store.backend().state_at_event(&last, &StateFilter::all()).await.unwrap();
    assert_eq!(read, state_at_last);
    for (room_id, state) in rooms.iter().zip(&states) {
        let read = store.backend().current_state(room_id, &StateFilter::all()).await.unwrap();
        assert_eq!(&read, state, "{room_id}");
    }
    let stream = store.backend().stream_after(0, 10_000).await.unwrap();
    let orderings: Vec<i64> =
        stream.events.iter().filter_map(|event| event.internal_metadata.stream_ordering).collect();
    let last = stream.last_stream_id;
    assert_eq!(orderings, (1..=last).collect::<Vec<_>>(), "the events stream, by its index");
}

/// Two stores on one database (two connections, as two tabs have, not told of each other's
/// writes) ingest one user's `/sync` in turns, each catching up with the other's writes first: a
/// store whose planning state is stale (the other wrote since) takes the next stream orderings,
/// not ones the other took, and what the other stored already is stored once. Then both ingest
/// the same response at once.
#[wasm_bindgen_test]
async fn two_connections_take_turns_and_catch_up() {
    let name = fresh_name();
    let a = EventStore::open(IndexedDbStore::open(&name).await.unwrap(), "tab-a").await.unwrap();
    let b = EventStore::open(IndexedDbStore::open(&name).await.unwrap(), "tab-b").await.unwrap();
    let series = fixture("sync-series.json");
    let alice = series["users"]["alice"].as_str().unwrap();
    let steps = series["steps"].as_array().unwrap();
    let response = |step: usize| &steps[step]["syncs"]["alice"][0]["response"];
    let ingest = |store, step| ingest_as(store, response(step), alice);
    let stored = |result: &prejoin::storage::IngestResult| -> usize {
        result.rooms.iter().map(|room| room.result.persisted.len()).sum()
    };
    let first = stored(&ingest(&a, 1).await);
    assert!(first > 0);
    assert_eq!(stored(&ingest(&b, 1).await), 0, "A's events are stored once");
    let second = stored(&ingest(&b, 2).await);
    // A's planning state is stale now (B wrote): it catches up before planning.
    let third = stored(&ingest(&a, 3).await);
    let total = (first + second + third) as i64;
    // Not linked to B, A knows B's events once it reads them back (what a tab does when B's
    // announcement is lost).
    assert!(a.has_gap());
    a.catch_up().await.unwrap();
    assert_eq!(a.current_token(), total);
    assert_eq!(a.sync_token().unwrap().next_batch, response(3)["next_batch"].as_str().unwrap());
    let (four_a, four_b) = futures_join(ingest(&a, 4), ingest(&b, 4)).await;
    let fourth = stored(&four_a) + stored(&four_b);
    assert!(stored(&four_a) == 0 || stored(&four_b) == 0, "one of them stored it, once");
    let total = total + fourth as i64;
    let positions = a.backend().positions().await.unwrap();
    assert_eq!(positions.last_stream_ordering, total);
    let mut orderings = BTreeSet::new();
    for (room_id, expected) in steps[4]["expected"]["room_state"].as_object().unwrap() {
        let events = b.current_state_events(room_id, &StateFilter::all()).await.unwrap();
        let ids: BTreeSet<String> = events.iter().map(|pdu| pdu.event_id().to_string()).collect();
        let expected: BTreeSet<String> = expected
            .as_array()
            .unwrap()
            .iter()
            .map(|event| event["event_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, expected, "{room_id}: Synapse's state");
        let timeline = a.room_timeline(room_id, None, usize::MAX).await.unwrap();
        for pdu in timeline.events {
            let event = a.event(pdu.event_id()).await.unwrap().unwrap();
            let ordering = event.internal_metadata.stream_ordering.unwrap();
            assert!(orderings.insert(ordering), "{ordering} taken twice");
        }
    }
}

/// `user`'s `response` ingested into `store`.
async fn ingest_as(
    store: &EventStore<IndexedDbStore>,
    response: &JsonValue,
    user: &str,
) -> prejoin::storage::IngestResult {
    store.ingest_sync(response, user, |_, _| {}).await.unwrap()
}

/// Polls two futures together until both are done (the browser's event loop drives them).
async fn futures_join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    let (mut a, mut b) = (Box::pin(a), Box::pin(b));
    let (mut a_out, mut b_out) = (None, None);
    std::future::poll_fn(move |context| {
        if a_out.is_none() {
            if let std::task::Poll::Ready(out) = a.as_mut().poll(context) {
                a_out = Some(out);
            }
        }
        if b_out.is_none() {
            if let std::task::Poll::Ready(out) = b.as_mut().poll(context) {
                b_out = Some(out);
            }
        }
        match (a_out.take(), b_out.take()) {
            (Some(a), Some(b)) => std::task::Poll::Ready((a, b)),
            (a, b) => {
                (a_out, b_out) = (a, b);
                std::task::Poll::Pending
            }
        }
    })
    .await
}
replication_tests!(indexeddb_store);

/// Polls `future`, growing the wasm memory by a page each time it waits: a view of wasm memory
/// kept by JavaScript across a wait is then detached, as it is when another call made meanwhile
/// (another tab's message, a subscriber's read) grows the memory.
async fn growing_memory_while<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        let poll = future.as_mut().poll(cx);
        if poll.is_pending() {
            core::arch::wasm32::memory_grow(0, 1);
        }
        poll
    })
    .await
}

/// A chunk's write hands its events' texts to JavaScript, which places them once the write's
/// transaction has checked what it was planned on: a wasm memory grown meanwhile leaves every
/// event of the chunk its own text, read back as it was given.
#[wasm_bindgen_test]
async fn a_memory_grown_during_a_write_leaves_every_event_its_own_text() {
    let store = EventStore::open(indexeddb_store().await, "tab-1").await.unwrap();
    let room = pdus_rooms().into_iter().find(|room| room["name"] == "v12").unwrap();
    let before = core::arch::wasm32::memory_size(0);
    growing_memory_while(persist(&store, pdus_of(&room), false)).await;
    assert!(core::arch::wasm32::memory_size(0) > before);
    let mut checked = 0;
    for event in room["events"].as_array().unwrap() {
        let id = event_id(event["event_id"].as_str().unwrap());
        let stored = store.event(&id).await.unwrap().expect("stored");
        let json: JsonValue =
            ruma_common::CanonicalJsonValue::Object(stored.pdu.to_json_with_ids()).into();
        for (key, value) in event["pdu"].as_object().unwrap() {
            assert_eq!(&json[key], value, "{id}: {key}");
        }
        checked += 1;
    }
    assert!(checked > 10, "{checked}");
}
