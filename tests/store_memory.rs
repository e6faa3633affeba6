//! The store conformance suite on the memory backend.
#![cfg(not(target_arch = "wasm32"))]

mod common;

async fn memory_store() -> prejoin::storage::MemoryStore {
    prejoin::storage::MemoryStore::new()
}

store_conformance_tests!(memory_store);

replication_tests!(memory_store);
