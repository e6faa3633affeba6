//! The JS surface in headless Chromium (`wasm-pack test --headless --chrome`); the event store
//! over real IndexedDB.
#![cfg(all(target_arch = "wasm32", feature = "store"))]

mod common;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

bindings_tests!();

thread_local! {
    static OPENED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// A fresh IndexedDB database per store, so that tests are isolated without teardown.
fn indexeddb_options() -> JsonValue {
    let count = OPENED.with(|opened| {
        opened.set(opened.get() + 1);
        opened.get()
    });
    let random = (js_sys::Math::random() * 1e9) as u64;
    json!({"name": format!("prejoin-bindings-{}-{count}-{random}", js_sys::Date::now() as u64)})
}

event_store_tests!(indexeddb_options);

mod reopen {
    use prejoin::bindings::EventArray;
    use serde::Serialize;
    use serde_json::{json, Value as JsonValue};
    use wasm_bindgen::{JsCast, JsValue};

    use super::common;

    fn to_js(value: &JsonValue) -> JsValue {
        value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap()
    }

    /// A fresh database holding `room`'s events, closed: its options, and the events stream's
    /// token once they were written.
    async fn database_with(room: &JsonValue) -> (JsonValue, f64) {
        let events: Vec<JsonValue> =
            room["events"].as_array().unwrap().iter().map(|e| e["pdu"].clone()).collect();
        let opts = super::indexeddb_options();
        let store = common::bindings::open_store(to_js(&opts)).await.unwrap();
        let events = to_js(&JsonValue::Array(events)).unchecked_into::<EventArray>();
        store.persist_events(events, None).await.unwrap();
        let token = store.current_token().unwrap();
        store.close();
        (opts, token)
    }

    /// What one connection wrote, a second one opened on the same database after `close()`
    /// reads.
    #[wasm_bindgen_test::wasm_bindgen_test]
    async fn a_reopened_store_reads_what_was_written() {
        let fixture = common::fixture("pdus.json");
        let room = &fixture["rooms"][13];
        let room_id = room["room_id"].as_str().unwrap();
        let (opts, _) = database_with(room).await;

        let again = common::bindings::open_store(to_js(&opts)).await.unwrap();
        for event in room["events"].as_array().unwrap() {
            let id = event["event_id"].as_str().unwrap();
            let stored = again.get_event(JsValue::from_str(id)).await.unwrap().expect("stored");
            let stored: JsonValue = serde_wasm_bindgen::from_value(stored.js_value()).unwrap();
            assert_eq!(stored["formatVersion"], event["format_version"], "{id}");
            assert_eq!(stored["internalMetadata"]["softFailed"], false, "{id}");
        }
        let state = again.current_state(JsValue::from_str(room_id), None).await.unwrap();
        let state: JsonValue = serde_wasm_bindgen::from_value(state.into()).unwrap();
        let ids: Vec<&JsonValue> =
            state.as_array().unwrap().iter().map(|e| &e["event_id"]).collect();
        let expected = common::expected_state(&room["current_state"]);
        assert_eq!(ids, expected.values().collect::<Vec<_>>());
        let extremities = again.forward_extremities(JsValue::from_str(room_id)).await.unwrap();
        assert_eq!(json!(extremities), room["forward_extremities"]);
        again.close();
    }

    /// The open of a database is placed before the options are checked: bad options still
    /// reject with their code, and leave the database as it was for the next open.
    #[wasm_bindgen_test::wasm_bindgen_test]
    async fn bad_options_for_a_stored_database_change_nothing() {
        let fixture = common::fixture("pdus.json");
        let room = &fixture["rooms"][13];
        let (opts, token) = database_with(room).await;
        let name = &opts["name"];
        for (bad, expected) in [
            (json!({"name": name, "config": {"x": 1}}), "INVALID_CONFIG"),
            (json!({"name": name, "instanceName": 7}), "INVALID_OPTIONS"),
        ] {
            let error = common::bindings::open_store(to_js(&bad)).await.err().expect("refused");
            let code = js_sys::Reflect::get(&error, &"code".into()).unwrap();
            assert_eq!(code.as_string().as_deref(), Some(expected), "{bad}");
        }
        let again = common::bindings::open_store(to_js(&opts)).await.unwrap();
        assert_eq!(again.current_token().unwrap(), token);
        assert_eq!(token, room["events"].as_array().unwrap().len() as f64);
        again.close();
    }

    /// `syncToken()` is synchronous: a reopened store has it from the open's one read, and a
    /// response whose room could not be written leaves it where it was.
    #[wasm_bindgen_test::wasm_bindgen_test]
    async fn a_reopened_store_keeps_its_sync_token() {
        let series = common::fixture("sync-series.json");
        let alice = series["users"]["alice"].as_str().unwrap();
        let opts = super::indexeddb_options();
        let store = common::bindings::open_store(to_js(&opts)).await.unwrap();
        assert_eq!(store.sync_token().unwrap(), None);
        let mut last = None;
        for step in series["steps"].as_array().unwrap().iter().take(3) {
            let response = &step["syncs"]["alice"][0]["response"];
            let ingest_opts = tsify::Ts::new_unchecked(to_js(&json!({"ownUserId": alice})));
            store.ingest_sync(to_js(response).unchecked_into(), ingest_opts).await.unwrap();
            last = response["next_batch"].as_str().map(str::to_owned);
        }
        let token = store.current_token().unwrap();
        store.close();
        let again = common::bindings::open_store(to_js(&opts)).await.unwrap();
        assert_eq!(again.sync_token().unwrap(), last);
        assert_eq!(again.current_token().unwrap(), token);
        again.close();
    }
}
