//! `/sync` responses, purely: read into typed rooms ([`response`]) and planned into the same
//! kind of write plan as PDUs ([`plan`]), for the event store to write room by room.

pub mod plan;
pub mod response;

pub use plan::{KnownEvent, KnownEvents, SyncedEvents, SyncedRoomState};
pub use response::{RoomEvents, RoomSection, SyncResponse, SyncRoom, SyncSection};
