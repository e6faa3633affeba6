//! Planning a persist, purely: what the tables must become when a batch of events is stored.
//!
//! Planning reads a snapshot of what the store holds, computes, and returns data; it never awaits
//! storage halfway (Synapse's `_calculate_new_extremities` does, which makes it testable only on
//! a full homeserver).
//!
//! - [`extremities`]: the room's new forward extremities (Synapse's rule, with the #5269 walk
//!   through soft-failed events).

pub mod extremities;

pub use extremities::{EventOutcome, ForwardExtremities, StoredDag};
