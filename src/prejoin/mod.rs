//! Stripped state for invites and knocks, and room previews computed from it.
//!
//! - [`config`]: which state events go into stripped state (Synapse's `room_prejoin_state`).
//! - [`strip`]: stripped state from a room's current state, exactly as Synapse 1.163 sends it.
//! - [`preview`]: a room's name, avatar and details from stripped (or full) state, trusting none
//!   of it blindly.

pub mod config;
pub mod preview;
pub mod strip;

pub use config::PrejoinConfig;
pub use preview::{compute_room_preview, preview_sync_rooms, PreviewRequest, RoomPreview};
pub use strip::{compute_stripped_state, MembershipKind, StripRequest};
