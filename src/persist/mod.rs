//! Planning a persist, purely: what the tables must become when a batch of events is stored.
//!
//! Planning reads a snapshot of what the store holds, computes, and returns data; it never awaits
//! storage halfway (Synapse's `_calculate_new_extremities` does, which makes it testable only on
//! a full homeserver).
//!
//! - [`batch`]: a batch of PDUs as JSON read into typed PDUs, the room version of a new room
//!   taken from its create event in the same batch.
//! - [`chunk`]: the batch split per room, each room's events ordered along the DAG.
//! - [`extremities`]: the room's new forward extremities (Synapse's rule, with the #5269 walk
//!   through soft-failed events).
//! - [`room_event`]: a PDU as the authorization rules and state resolution read it.
//! - [`plan`]: the write plan of a room chunk: new events with their outcomes, then stream
//!   orderings (taken last), the current state delta and the membership rows.
//! - [`positions`]: where the shared sequences stand, and a chunk's ids taken again after
//!   another writer's.
//! - [`redactions`]: the `redactions` rows of redaction events, and whether each needs the
//!   server check when the redacted event is read.
//! - [`state`]: each PDU authorized (accepted, soft-failed or rejected) and given its state; the
//!   current state resolved from the states after the forward extremities.

pub use crate::model::StateIds;

/// The entries of a persistent map whose keys `keep` holds.
fn retained<K: Ord + Clone, V: Clone>(
    map: &imbl::OrdMap<K, V>,
    keep: impl Fn(&K) -> bool,
) -> imbl::OrdMap<K, V> {
    map.iter()
        .filter(|(key, _)| keep(key))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

mod auth_memo;
pub mod batch;
pub mod chunk;
pub mod extremities;
pub mod plan;
pub mod positions;
pub mod redactions;
pub mod room_event;
pub mod state;
pub mod state_groups;
pub mod state_res_v1;

pub use batch::parse_batch;
pub use chunk::{split_into_room_chunks, DagEvent, RoomChunk};
pub use extremities::{EventOutcome, ForwardExtremities, StoredDag};
pub use plan::{
    plan_outliers, plan_room_chunk, BackwardExtremitiesDelta, CurrentStateDelta, EventPlacement,
    LocalMembership, MembershipRow, PlannedEvent, RoomWritePlan, StreamOrderings, TimelineGap,
};
pub use positions::{IdShift, PlannedOn, Positions};
pub use redactions::RedactionRow;
pub use room_event::RoomEvent;
pub use state::{PlanError, RoomHistory};
pub use state_groups::{EventStateGroups, StateGroupRow, StateGroups};
pub use state_res_v1::{resolve_v1, StateResV1Error};
