//! The store conformance suite on the memory backend.
#![cfg(all(not(target_arch = "wasm32"), feature = "store"))]

mod common;

async fn memory_store() -> prejoin::storage::MemoryStore {
    prejoin::storage::MemoryStore::new()
}

store_conformance_tests!(memory_store);

replication_tests!(memory_store);

// Two tabs' turns interleaved: see the test.
replication_tests!(memory_store; a_cache_dropped_during_a_turn_leaves_its_room_stored);
