//! The store conformance suite on the IndexedDB backend, in headless Chromium
//! (`wasm-pack test --headless --chrome`), plus what only IndexedDB can get wrong.
#![cfg(target_arch = "wasm32")]

mod common;

use std::cell::Cell;

use prejoin::persist::state_groups::StateGroups;
use prejoin::persist::{parse_batch, plan_room_chunk, RoomHistory, StreamOrderings};
use prejoin::storage::indexeddb::IndexedDbStore;
use prejoin::storage::Store;
use ruma_common::OwnedRoomId;
use serde_json::Value as JsonValue;
use wasm_bindgen_test::wasm_bindgen_test;

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
    store.apply(&first, "tab-1").await.unwrap();
    let before = store.row_counts().await.unwrap();

    let mut second =
        plan_room_chunk(&mut history, &mut groups, room_id, later, false, &mut orderings).unwrap();
    assert!(second.events.len() >= 2, "the fixture room has enough events");
    assert!(!second.state_groups.is_empty() || !second.current_state_delta.is_noop());
    let kept = second.events[0].pdu.event_id().to_owned();
    second.events[1] = first.events[0].clone();
    let error = store.apply(&second, "tab-1").await.unwrap_err();
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
    let plan = plan_room_chunk(
        &mut history,
        &mut StateGroups::default(),
        room_id.clone(),
        chunk.events,
        false,
        &mut StreamOrderings::default(),
    )
    .unwrap();
    store.apply(&plan, "tab-1").await.unwrap();
    let written = store.row_counts().await.unwrap();
    store.close();
    let again = IndexedDbStore::open(&name).await.unwrap();
    assert_eq!(again.row_counts().await.unwrap(), written);
    assert_eq!(again.room_version(room_id.as_str()).await.unwrap(), Some(version));
    assert_eq!(written["events"] as usize, plan.events.len());
    assert_eq!(written["event_json"] as usize, plan.events.len());
    assert_eq!(written["stream_positions"], 1);
}
