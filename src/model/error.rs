//! Errors for input that cannot be used, each with a stable `code` that reaches JavaScript.

use thiserror::Error;

/// Input that prejoin refuses: malformed events, state or options.
///
/// Every variant has a stable [`code`](InputError::code); the codes are a contract with JS callers
/// (listed in the README) and never change meaning.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InputError {
    /// The state given is not an array of events.
    #[error("state must be an array of events")]
    StateNotArray,
    /// An event is not an object, or its `type`/`sender` is missing or not a string.
    #[error("event {index}: {reason}")]
    InvalidEvent {
        /// Position of the event in its list (`usize::MAX` for the membership event).
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A state event whose `state_key` is missing or not a string.
    #[error("event {index}: state_key must be a string")]
    InvalidStateKey {
        /// Position of the event in its list.
        index: usize,
    },
    /// An event whose `content` is not an object.
    #[error("event {index}: content must be an object")]
    InvalidContent {
        /// Position of the event in its list.
        index: usize,
    },
    /// Two events of the state have the same `(type, state_key)`.
    #[error("two state events for ({event_type}, {state_key})")]
    DuplicateState {
        /// The event type.
        event_type: String,
        /// The state key.
        state_key: String,
    },
    /// The membership event is not an `m.room.member` event of the membership the kind needs.
    #[error("membership event must be an m.room.member {expected} event")]
    InvalidMembershipEvent {
        /// `"invite"` or `"knock"`.
        expected: &'static str,
    },
    /// An event belongs to another room than the rest of the input.
    #[error("event of room {found} among events of room {expected}")]
    RoomMismatch {
        /// The room of the first event that named one.
        expected: String,
        /// The other room.
        found: String,
    },
    /// A `membershipUserId` was given for a knock: knocks never carry another member's event.
    #[error("membershipUserId is only allowed for invites: a knock must not leak another member's profile")]
    MembershipUserForKnock,
    /// The prejoin config has an unknown key or a bad value.
    #[error("invalid prejoin config: {0}")]
    InvalidConfig(String),
    /// A value JSON cannot hold (a BigInt, symbol or function) where JSON was expected.
    #[error("not JSON: {0}")]
    InvalidJson(String),
    /// The options object is missing, of the wrong shape, or has a bad value.
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// A state filter of the wrong shape or with a bad value.
    #[error("invalid state filter: {0}")]
    InvalidStateFilter(String),
    /// A room version that is not one of 1–12.
    #[error("unknown room version {0:?}")]
    UnknownRoomVersion(String),
    /// A PDU that is not an object, or misses a field or has one of the wrong type.
    #[error("invalid PDU: {0}")]
    InvalidPdu(String),
    /// A PDU of room version 3 or later whose `event_id` is not its reference hash.
    #[error("event_id {claimed} is not the event's reference hash {computed}")]
    EventIdMismatch {
        /// The `event_id` the PDU carries.
        claimed: String,
        /// The event id computed from the PDU.
        computed: String,
    },
    /// A PDU whose `room_id` is missing or not a room id of its room version's format.
    #[error("invalid room id: {0}")]
    InvalidRoomId(String),
    /// An event of a room whose create event is neither stored nor in the same batch, so its
    /// room version (and so its format) cannot be known.
    #[error("unknown room {0}: its create event is neither stored nor in the batch")]
    UnknownRoom(String),
    /// An integer outside canonical JSON's range, -(2^53 - 1) to 2^53 - 1.
    #[error("integer out of range at {path}: canonical JSON allows -(2^53 - 1) to 2^53 - 1")]
    IntegerOutOfRange {
        /// Where the integer is, as `content.size` or `prev_events[0]`.
        path: String,
    },
    /// A string that is not an event id (`$opaque:server` or `$` and a reference hash).
    #[error("invalid event id {0:?}")]
    InvalidEventId(String),
    /// An event the store does not hold, where one is needed (the state at an event).
    #[error("unknown event {0}: it is not stored")]
    UnknownEvent(String),
    /// A `/sync` response that is malformed or truncated: a section, room or event of the wrong
    /// shape. Nothing of the response was stored.
    #[error("invalid /sync response at {path}: {reason}")]
    InvalidSync {
        /// Where, as `rooms.join["!r:x"].timeline.events[3].type`.
        path: String,
        /// What is wrong there.
        reason: String,
    },
    /// PDUs for a room the store fills from `/sync`: its events have no DAG for them to join.
    #[error("room {0} is filled from /sync: PDUs cannot join its timeline")]
    SyncedRoom(String),
    /// A user's current membership in a room is not the one asked for (stripped state for an
    /// invite needs a current invite, for a knock a current knock).
    #[error("the current membership of {user_id} in {room_id} is {found}, not {expected}")]
    MembershipMismatch {
        /// The user.
        user_id: String,
        /// The room.
        room_id: String,
        /// `"invite"` or `"knock"`.
        expected: &'static str,
        /// The current membership, or `"none"` without a member event.
        found: String,
    },
}

impl InputError {
    /// The stable code of this error, as JS sees it in `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::StateNotArray => "INVALID_STATE",
            Self::InvalidEvent { .. } => "INVALID_EVENT",
            Self::InvalidStateKey { .. } => "INVALID_STATE_KEY",
            Self::InvalidContent { .. } => "INVALID_CONTENT",
            Self::DuplicateState { .. } => "DUPLICATE_STATE",
            Self::InvalidMembershipEvent { .. } => "INVALID_MEMBERSHIP_EVENT",
            Self::RoomMismatch { .. } => "ROOM_MISMATCH",
            Self::MembershipUserForKnock => "MEMBERSHIP_USER_FOR_KNOCK",
            Self::InvalidConfig(_) => "INVALID_CONFIG",
            Self::InvalidJson(_) => "INVALID_JSON",
            Self::InvalidOptions(_) => "INVALID_OPTIONS",
            Self::InvalidStateFilter(_) => "INVALID_STATE_FILTER",
            Self::UnknownRoomVersion(_) => "UNKNOWN_ROOM_VERSION",
            Self::InvalidPdu(_) => "INVALID_PDU",
            Self::EventIdMismatch { .. } => "EVENT_ID_MISMATCH",
            Self::InvalidRoomId(_) => "INVALID_ROOM_ID",
            Self::UnknownRoom(_) => "UNKNOWN_ROOM",
            Self::IntegerOutOfRange { .. } => "INTEGER_OUT_OF_RANGE",
            Self::InvalidEventId(_) => "INVALID_EVENT_ID",
            Self::UnknownEvent(_) => "UNKNOWN_EVENT",
            Self::MembershipMismatch { .. } => "MEMBERSHIP_MISMATCH",
            Self::InvalidSync { .. } => "INVALID_SYNC",
            Self::SyncedRoom(_) => "SYNCED_ROOM",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::InputError;

    /// One row per variant: a wrong code here is a broken contract with JS callers.
    #[test]
    fn every_variant_has_its_code() {
        let table = [
            (InputError::StateNotArray, "INVALID_STATE"),
            (InputError::InvalidEvent { index: 0, reason: "x" }, "INVALID_EVENT"),
            (InputError::InvalidStateKey { index: 0 }, "INVALID_STATE_KEY"),
            (InputError::InvalidContent { index: 0 }, "INVALID_CONTENT"),
            (
                InputError::DuplicateState { event_type: "t".into(), state_key: "".into() },
                "DUPLICATE_STATE",
            ),
            (InputError::InvalidMembershipEvent { expected: "invite" }, "INVALID_MEMBERSHIP_EVENT"),
            (
                InputError::RoomMismatch { expected: "!a".into(), found: "!b".into() },
                "ROOM_MISMATCH",
            ),
            (InputError::MembershipUserForKnock, "MEMBERSHIP_USER_FOR_KNOCK"),
            (InputError::InvalidConfig("x".into()), "INVALID_CONFIG"),
            (InputError::InvalidJson("x".into()), "INVALID_JSON"),
            (InputError::InvalidOptions("x".into()), "INVALID_OPTIONS"),
            (InputError::InvalidStateFilter("x".into()), "INVALID_STATE_FILTER"),
            (InputError::UnknownRoomVersion("13".into()), "UNKNOWN_ROOM_VERSION"),
            (InputError::InvalidPdu("x".into()), "INVALID_PDU"),
            (
                InputError::EventIdMismatch { claimed: "$a".into(), computed: "$b".into() },
                "EVENT_ID_MISMATCH",
            ),
            (InputError::InvalidRoomId("x".into()), "INVALID_ROOM_ID"),
            (InputError::UnknownRoom("!r:x".into()), "UNKNOWN_ROOM"),
            (InputError::IntegerOutOfRange { path: "depth".into() }, "INTEGER_OUT_OF_RANGE"),
            (InputError::InvalidEventId("x".into()), "INVALID_EVENT_ID"),
            (InputError::UnknownEvent("$e".into()), "UNKNOWN_EVENT"),
            (
                InputError::MembershipMismatch {
                    user_id: "@u:x".into(),
                    room_id: "!r:x".into(),
                    expected: "invite",
                    found: "join".into(),
                },
                "MEMBERSHIP_MISMATCH",
            ),
            (InputError::InvalidSync { path: "rooms".into(), reason: "x".into() }, "INVALID_SYNC"),
            (InputError::SyncedRoom("!r:x".into()), "SYNCED_ROOM"),
        ];
        for (error, code) in table {
            assert_eq!(error.code(), code, "{error:?}");
        }
    }
}
