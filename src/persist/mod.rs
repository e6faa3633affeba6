//! Planning a persist, purely: what the tables must become when a batch of events is stored.
//!
//! Planning reads a snapshot of what the store holds, computes, and returns data; it never awaits
//! storage halfway (Synapse's `_calculate_new_extremities` does, which makes it testable only on
//! a full homeserver).
//!
//! - [`chunk`]: the batch split per room, each room's events ordered along the DAG.
//! - [`extremities`]: the room's new forward extremities (Synapse's rule, with the #5269 walk
//!   through soft-failed events).

pub mod chunk;
pub mod extremities;

pub use chunk::{split_into_room_chunks, DagEvent, RoomChunk};
pub use extremities::{EventOutcome, ForwardExtremities, StoredDag};
