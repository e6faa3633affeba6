//! A PDU as the authorization rules and state resolution read it.

use std::sync::{Arc, OnceLock};

use ruma_common::{MilliSecondsSinceUnixEpoch, OwnedEventId, RoomId, UserId};
use ruma_events::TimelineEventType;
use serde_json::value::RawValue;

use crate::model::pdu::Pdu;

/// A PDU with what `ruma-state-res` needs: its content as JSON text (written when first read:
/// the rules read the content of few events, a message's never), its type as a ruma type, and
/// whether it was rejected. Shared (`Arc`) because state resolution fetches events by value.
#[derive(Debug, Clone)]
pub struct RoomEvent(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    pdu: Pdu,
    event_type: TimelineEventType,
    content: OnceLock<Box<RawValue>>,
    rejected: bool,
}

impl RoomEvent {
    /// Wraps a PDU; `rejected` says whether it failed authorization.
    pub fn new(pdu: Pdu, rejected: bool) -> Self {
        let event_type = TimelineEventType::from(pdu.event_type());
        Self(Arc::new(Inner { pdu, event_type, content: OnceLock::new(), rejected }))
    }

    /// The PDU.
    pub fn pdu(&self) -> &Pdu {
        &self.0.pdu
    }

    /// The same event, marked rejected (or not).
    pub fn with_rejected(&self, rejected: bool) -> Self {
        Self(Arc::new(Inner {
            pdu: self.0.pdu.clone(),
            event_type: self.0.event_type.clone(),
            content: self.0.content.clone(),
            rejected,
        }))
    }
}

impl ruma_state_res::Event for RoomEvent {
    type Id = OwnedEventId;

    fn event_id(&self) -> &OwnedEventId {
        self.0.pdu.owned_event_id()
    }

    /// From room version 12 a create event has no `room_id`: the room id derives from it.
    fn room_id(&self) -> Option<&RoomId> {
        let pdu = &self.0.pdu;
        let derived = pdu.room_version().rules().authorization.room_create_event_id_as_room_id
            && pdu.event_type() == "m.room.create";
        (!derived).then(|| pdu.room_id())
    }

    fn sender(&self) -> &UserId {
        self.0.pdu.sender()
    }

    fn origin_server_ts(&self) -> MilliSecondsSinceUnixEpoch {
        self.0.pdu.origin_server_ts()
    }

    fn event_type(&self) -> &TimelineEventType {
        &self.0.event_type
    }

    fn content(&self) -> &RawValue {
        self.0.content.get_or_init(|| {
            // Canonical JSON always serialises (its values are all JSON); the default (`null`)
            // is never reached.
            serde_json::value::to_raw_value(self.0.pdu.content()).unwrap_or_default()
        })
    }

    fn state_key(&self) -> Option<&str> {
        self.0.pdu.state_key()
    }

    fn prev_events(&self) -> Box<dyn DoubleEndedIterator<Item = &OwnedEventId> + '_> {
        Box::new(self.0.pdu.prev_events().iter())
    }

    fn auth_events(&self) -> Box<dyn DoubleEndedIterator<Item = &OwnedEventId> + '_> {
        Box::new(self.0.pdu.auth_events().iter())
    }

    fn redacts(&self) -> Option<&OwnedEventId> {
        self.0.pdu.owned_redacts()
    }

    fn rejected(&self) -> bool {
        self.0.rejected
    }
}
