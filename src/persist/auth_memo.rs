//! Authorization on receipt, remembered for the events whose outcome depends on nothing but a
//! few ids: most of a room's events are messages, and the rules would otherwise read the same
//! create, power levels and member events (and parse their contents) for every one of them.
//!
//! For an event with no `state_key` whose type is none of `m.room.create`, `m.room.member`,
//! `m.room.aliases`, `m.room.third_party_invite`, `m.room.power_levels` and `m.room.redaction`,
//! the authorization rules (ruma-state-res's `check_state_independent_auth_rules` and
//! `check_state_dependent_auth_rules`, every room version) read of the event only its type, its
//! sender, its room and its `auth_events`; of the room only the events those `auth_events` name
//! and, in a state, the create event, the power levels and the sender's member event. Its
//! content is not read (the excluded types are those whose content, `redacts` or `state_key` is).
//! Events are immutable once named by id, and an event's rejection is decided once. So an event
//! of such a type, sender and `auth_events`, checked against a state naming the same three
//! events, passes exactly when an earlier one did. Only passes are remembered: a failure may
//! come from an auth event not known yet, which can arrive later.

use std::cell::RefCell;
use std::rc::Rc;

use ruma_common::{OwnedEventId, OwnedUserId};
use ruma_state_res::Event as _;

use super::room_event::RoomEvent;
use crate::hashed::HashSet;

/// How many decisions a room keeps: past it they are forgotten and found again.
const CAPACITY: usize = 4096;

/// What decides an event's authorization on receipt, for events of the types described above.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct AuthKey {
    event_type: String,
    sender: OwnedUserId,
    auth_events: Vec<OwnedEventId>,
    /// The state's create event, power levels and sender's member event.
    state: [Option<OwnedEventId>; 3],
}

impl AuthKey {
    /// The key of `event`, whose state before it names `state` for the create event, the power
    /// levels and the sender's member event; `None` when the rules read more of the event.
    pub(super) fn of(
        event: &RoomEvent,
        state: impl FnOnce(&RoomEvent) -> [Option<OwnedEventId>; 3],
    ) -> Option<Self> {
        let event_type = event.event_type().to_string();
        if event.state_key().is_some() || READ_MORE.contains(&event_type.as_str()) {
            return None;
        }
        Some(Self {
            event_type,
            sender: event.sender().to_owned(),
            auth_events: event.auth_events().cloned().collect(),
            state: state(event),
        })
    }
}

/// The types whose authorization reads the event's content, `redacts` or `state_key`.
const READ_MORE: [&str; 6] = [
    "m.room.create",
    "m.room.member",
    "m.room.aliases",
    "m.room.third_party_invite",
    "m.room.power_levels",
    "m.room.redaction",
];

/// The keys of events that passed. Shared by every copy of a room's history: a pass is true of
/// the key whichever copy found it, including a plan that is never written.
#[derive(Debug, Clone, Default)]
pub(super) struct AuthMemo(Rc<RefCell<HashSet<AuthKey>>>);

impl AuthMemo {
    /// Whether an event of this key passed.
    pub(super) fn passed(&self, key: &AuthKey) -> bool {
        self.0.borrow().contains(key)
    }

    /// Remembers that an event of this key passed.
    pub(super) fn remember_pass(&self, key: AuthKey) {
        let mut passes = self.0.borrow_mut();
        if passes.len() >= CAPACITY {
            passes.clear();
        }
        passes.insert(key);
    }
}
