//! prejoin: Synapse-exact stripped state for invites and knocks, and room previews that render
//! every room, for web Matrix clients.
//!
//! The modules read as a pipeline, pure parts first:
//!
//! - [`model`] — the Matrix data the rest works on: events as received, validated into typed
//!   values, and the input errors with their stable codes.
//! - [`prejoin`] — stripped state (the `room_prejoin_state` config and the strip itself, as
//!   Synapse 1.163 computes it) and the room preview built from stripped or full state.
//! - [`persist`] — pure planning of a persist of PDUs: authorization, soft failure, state
//!   resolution, forward extremities, state groups, then stream orderings, from a snapshot of
//!   the store, with no I/O.
//! - [`sync`] — `/sync` responses, purely: read into typed rooms (a malformed one is
//!   `INVALID_SYNC`) and each room planned on its timeline into the same write plan as PDUs.
//! - [`storage`] — the `Store` trait (the seam between planning and I/O), its backends, and the
//!   event store that persists batches room chunk by room chunk over any backend.
//! - [`streams`] — the events stream across tabs: each tab's current token, the writers'
//!   positions and the multi-writer stream token.
//! - [`replication`] — what a tab tells the others after each chunk (the rows, with their
//!   events, and the caches to drop), and how a tab hands them to its subscribers in order.
//! - `bindings` (wasm only) — the `#[wasm_bindgen]` surface: conversions and error mapping, no
//!   logic.
//!
//! The cargo feature `store` (default) holds the event store: `persist`, `sync`, `storage`,
//! `streams`, `replication`, the PDU parts of `model` and the `EventStore` binding. Without it the
//! crate is the preview module (`prejoin/preview`): `model`'s events, `prejoin` and the bindings of
//! `computeStrippedState` and `roomPreview`.
//!
//! Pure modules never touch `wasm_bindgen`, `web_sys` or IndexedDB, so they are tested natively
//! with `cargo test` and fuzzed with random JSON; no input can make them panic.
#![warn(missing_docs)]

pub mod model;
#[cfg(feature = "store")]
pub mod persist;
pub mod prejoin;
#[cfg(feature = "store")]
pub mod replication;
#[cfg(feature = "store")]
pub mod storage;
/// Multi-writer stream ids across tabs: the current token, writers' positions, stream tokens.
#[cfg(feature = "store")]
pub mod streams;
#[cfg(feature = "store")]
pub mod sync;

#[cfg(target_arch = "wasm32")]
pub mod bindings;
