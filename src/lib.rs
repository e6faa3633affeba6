//! prejoin: Synapse-exact stripped state for invites and knocks, room previews that render
//! every room, and an event store in IndexedDB that mirrors Synapse's persistence model, for web
//! Matrix clients.
//!
//! The modules read as a pipeline, pure parts first (`ARCHITECTURE.md` draws it):
//!
//! - [`model`] — Matrix data as received, validated into typed values: events and stripped
//!   events, and the input errors with their stable codes; with the store, also PDUs (room
//!   versions 1–12, their event formats and reference-hash event ids), internal metadata and the
//!   `StateFilter`.
//! - [`prejoin`] — stripped state (the `room_prejoin_state` config and the strip itself, as
//!   Synapse 1.163 computes it) and room previews from stripped or full state: one room, or every
//!   room of a `/sync` response's `rooms` at once.
//! - [`persist`] — pure planning of a persist of PDUs, from a snapshot of the store and with no
//!   I/O: the batch split per room, authorization, soft failure, state resolution (v1 here, v2
//!   from ruma-state-res), forward extremities, state groups and redactions, then stream
//!   orderings, into one `RoomWritePlan` per room chunk; and where the shared sequences stand,
//!   with a chunk's ids taken again after another writer's.
//! - [`sync`] — `/sync` responses, purely: read into typed rooms (a malformed one is
//!   `INVALID_SYNC`) and each room planned on its timeline into the same `RoomWritePlan`.
//! - [`storage`] — the `Store` trait (the seam between planning and I/O), its backends (memory;
//!   IndexedDB, wasm only) and the `EventStore` over any backend: it reads what planning needs,
//!   plans, has each room chunk written atomically, ingests `/sync` responses, answers the reads
//!   (state, timelines, stripped state, room previews kept between reads) and plays its part in
//!   replication. Also the store's errors and the key ranges a state read asks for.
//! - [`streams`] — the events stream across tabs, purely: each tab's current token, the writers'
//!   positions and the multi-writer stream token.
//! - [`replication`] — what a tab tells the others after each committed chunk (the rows, with
//!   their events, and the caches to drop), and how a tab hands those, or what it reads back when
//!   a message is missing, to its subscribers in order; pure.
//! - `bindings` (wasm only) — the JS surface (`computeStrippedState`, `roomPreview`,
//!   `previewSyncRooms`, the `EventStore` class and its subscribers): conversions and error
//!   mapping, no logic; and the transport to the other tabs (a `BroadcastChannel`, Web Locks,
//!   timers).
//! - `ordered` — ordered sets and maps built from iterators without `collect`'s per-type sort
//!   (wasm size).
//! - `hashed` — hash maps and sets whose hashes a server cannot predict (std's have no random
//!   keys in a browser).
//!
//! The cargo feature `store` (default) holds the event store: `persist`, `sync`, `storage`,
//! `streams`, `replication`, the PDU parts of `model` and the `EventStore` binding. Without it the
//! crate is the preview module (`prejoin/preview`): `model`'s events, `prejoin` and the bindings of
//! `computeStrippedState`, `roomPreview` and `previewSyncRooms`.
//!
//! Only `storage`'s IndexedDB backend and `bindings` touch `wasm_bindgen`, `web_sys` or
//! IndexedDB: everything else is tested natively with `cargo test`, the entry points that take
//! input are fuzzed with random JSON, and no input can make them panic.
#![warn(missing_docs)]

#[cfg(feature = "store")]
mod hashed;
pub mod model;
#[cfg(feature = "store")]
mod ordered;
#[cfg(feature = "store")]
pub mod persist;
pub mod prejoin;
#[cfg(feature = "store")]
pub mod replication;
#[cfg(feature = "store")]
pub mod storage;
#[cfg(feature = "store")]
pub mod streams;
#[cfg(feature = "store")]
pub mod sync;

#[cfg(target_arch = "wasm32")]
pub mod bindings;
