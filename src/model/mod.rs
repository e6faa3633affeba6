//! Matrix data as prejoin receives it: events validated into typed values, and the errors that
//! validation reports.

pub mod error;
pub mod event;
pub mod internal_metadata;
pub mod pdu;
pub mod room_version;
pub mod state_filter;
pub mod stripped;

pub use error::InputError;
pub use event::{StateEvent, StateIds, StateKey};
pub use state_filter::{MemberFilter, NonMemberFilter, StateFilter, StateKeyFilter};
pub use stripped::{parse_events, InvalidEvent, StrippedEventRef};
