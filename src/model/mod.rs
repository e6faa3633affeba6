//! Matrix data as prejoin receives it: events validated into typed values, and the errors that
//! validation reports.

pub mod error;
pub mod event;
#[cfg(feature = "store")]
pub mod internal_metadata;
#[cfg(feature = "store")]
pub mod pdu;
#[cfg(feature = "store")]
pub mod room_version;
#[cfg(feature = "store")]
pub mod state_filter;
pub mod stripped;

pub use error::InputError;
#[cfg(feature = "store")]
pub use event::StateIds;
pub use event::{StateEvent, StateKey};
#[cfg(feature = "store")]
pub use state_filter::{MemberFilter, NonMemberFilter, StateFilter, StateKeyFilter};
pub use stripped::{parse_events, EventElement, InvalidEvent, StrippedEventRef};
