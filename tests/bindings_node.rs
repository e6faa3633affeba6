//! The JS surface under Node (`wasm-pack test --node`); the event store in memory (Node has no
//! IndexedDB).
#![cfg(all(target_arch = "wasm32", feature = "store"))]

mod common;

bindings_tests!();

fn in_memory_options() -> JsonValue {
    json!({"name": "node", "inMemory": true})
}

event_store_tests!(in_memory_options);

/// Without `inMemory`, Node's missing `indexedDB` is a typed error, not a crash.
#[wasm_bindgen_test]
async fn without_indexeddb_open_says_so() {
    let opts = js(&json!({"name": "node"}));
    let error = common::bindings::open_store(opts).await.err();
    assert_eq!(code(error.expect("refused")), "INDEXEDDB_UNAVAILABLE");
}
