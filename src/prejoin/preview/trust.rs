//! Deciding which events of stripped state a preview may use.
//!
//! Stripped state is unsigned and may come from a buggy or hostile server (spec: "Stripped
//! state"), so nothing is used blindly: malformed events, events of another room and duplicates
//! are dropped, and member events are kept only where the kind of preview allows them. Every
//! dropped event is reported as a [`PreviewWarning`].

use std::borrow::Cow;
use std::collections::{btree_map::Entry, BTreeMap};

use serde::{Deserialize, Serialize};

use crate::model::{InvalidEvent, StrippedEventRef};

/// A `(type, state_key)`, borrowed from the JSON text whenever it has no escapes.
pub(super) type EventKey<'a> = (Cow<'a, str>, Cow<'a, str>);

/// The usable events of a preview's state, by `(type, state_key)`.
pub(super) type EventMap<'a> = BTreeMap<EventKey<'a>, StrippedEventRef<'a>>;

/// The key to look an event up by; allocates nothing.
pub(super) fn key<'k>(event_type: &'k str, state_key: &'k str) -> EventKey<'k> {
    (Cow::Borrowed(event_type), Cow::Borrowed(state_key))
}

/// Why a preview left an event out, or what it found missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WarningCode {
    /// Not an object, or `type`/`state_key`/`sender` not strings, or `content` not an object.
    MalformedEvent,
    /// The event says it belongs to another room.
    ForeignRoom,
    /// A second event for a `(type, state_key)` already seen; the first one is used.
    DuplicateState,
    /// A member event the preview must not use: on a knock, anyone's but the own user's; on an
    /// invite, anyone's but the own user's and the inviter's.
    IgnoredMember,
    /// The content does not have the shape its type requires.
    MalformedContent,
    /// No `m.room.create` event (required in stripped state since spec v1.16).
    MissingCreate,
    /// No member event for the own user on an invite or knock.
    MissingOwnMembership,
    /// `previewSyncRooms`: a room of the `/sync` rooms, or its state or timeline block, is not
    /// of the shape `/sync` gives; the preview is of what could be read (the type and state_key
    /// are `null`).
    MalformedRoom,
}

/// One thing a preview ignored or missed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct PreviewWarning {
    /// What happened.
    pub code: WarningCode,
    /// The event's type, when it has a string one.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// The event's state_key, when it has a string one.
    pub state_key: Option<String>,
}

impl PreviewWarning {
    pub(super) fn new(code: WarningCode, event_type: &str, state_key: &str) -> Self {
        Self {
            code,
            event_type: Some(event_type.to_owned()),
            state_key: Some(state_key.to_owned()),
        }
    }
}

/// Which member events a preview may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MemberPolicy<'a> {
    /// Full state of a joined room: every member.
    All,
    /// The own user and, when known, the inviter.
    OwnAndInviter(&'a str, Option<&'a str>),
    /// Only the own user.
    OwnOnly(&'a str),
}

impl MemberPolicy<'_> {
    fn allows(self, user_id: &str) -> bool {
        match self {
            Self::All => true,
            Self::OwnAndInviter(own, inviter) => user_id == own || Some(user_id) == inviter,
            Self::OwnOnly(own) => user_id == own,
        }
    }
}

/// Validates each event and indexes the usable ones by `(type, state_key)`.
pub(super) fn index_events<'a>(
    state: Vec<Result<StrippedEventRef<'a>, InvalidEvent>>,
    room_id: &str,
    warnings: &mut Vec<PreviewWarning>,
) -> EventMap<'a> {
    let mut events = BTreeMap::new();
    for event in state {
        let event = match event {
            Ok(event) => event,
            Err(InvalidEvent { event_type, state_key }) => {
                let code = WarningCode::MalformedEvent;
                warnings.push(PreviewWarning { code, event_type, state_key });
                continue;
            }
        };
        let (event_type, state_key) = (&event.event_type, &event.state_key);
        if event.room_id().is_some_and(|claimed| claimed != room_id) {
            warnings.push(PreviewWarning::new(WarningCode::ForeignRoom, event_type, state_key));
            continue;
        }
        match events.entry((event_type.clone(), state_key.clone())) {
            Entry::Vacant(slot) => {
                slot.insert(event);
            }
            Entry::Occupied(slot) => {
                let (event_type, state_key) = slot.key();
                warnings.push(PreviewWarning::new(
                    WarningCode::DuplicateState,
                    event_type,
                    state_key,
                ));
            }
        }
    }
    events
}

/// Drops the member events that `policy` does not allow, with a warning for each.
pub(super) fn apply_member_policy(
    events: &mut EventMap<'_>,
    policy: MemberPolicy<'_>,
    warnings: &mut Vec<PreviewWarning>,
) {
    events.retain(|(event_type, state_key), _| {
        let keep = event_type != "m.room.member" || policy.allows(state_key);
        if !keep {
            warnings.push(PreviewWarning::new(WarningCode::IgnoredMember, event_type, state_key));
        }
        keep
    });
}
