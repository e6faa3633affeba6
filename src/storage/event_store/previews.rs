//! Room previews for a room list ([`EventStore::room_previews`]), and the previews kept between
//! reads.
//!
//! A room list is drawn on every start, and a room's preview changes only when its current state,
//! the redactions of its events or the own membership does. So each preview computed is kept in
//! `room_previews` (as Synapse keeps `room_stats_state` beside the state it derives from), and a
//! write that changes one of those drops the room's kept previews in its own transaction
//! ([`RoomWritePlan::stales_previews`]): the next read computes them again. Reading a room list
//! is then one read of the kept previews, where computing them reads every room's state.
//!
//! Previews are computed from reads made in several transactions. A write between them (another
//! tab's) could make a preview stale after it was computed and before it is kept, and a stale
//! preview kept would never be dropped: every write that drops previews moves an epoch on, and
//! previews are kept only if it has not moved since before the first read.
//!
//! [`RoomWritePlan::stales_previews`]: crate::persist::RoomWritePlan::stales_previews

use ruma_common::OwnedEventId;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value as JsonValue;

use super::{client_event, EventStore, PREVIEW_BATCH};
use crate::hashed::HashMap;
use crate::model::pdu::Pdu;
use crate::model::InputError;
use crate::persist::LocalMembership;
use crate::prejoin::{compute_room_preview, PreviewRequest, RoomPreview};
use crate::storage::{LocalMemberships, Store, StoreError};

/// The version of the code whose previews are kept: another version may compute them otherwise.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A preview as kept, with the version of the code that computed it: written from a
/// [`RoomPreview`], read as one or with the preview left as its text (`P` = `&RawValue`).
#[derive(Serialize, Deserialize)]
struct KeptPreview<'a, P> {
    version: &'a str,
    preview: P,
}

impl<'a, P: Deserialize<'a>> KeptPreview<'a, P> {
    /// The preview kept in `text`, unless another version of this code computed it.
    fn read(text: &'a str) -> Option<P> {
        let kept: Self = serde_json::from_str(text).ok()?;
        (kept.version == VERSION).then_some(kept.preview)
    }
}

/// A preview as it is kept.
fn kept_text(preview: &RoomPreview) -> Result<String, StoreError> {
    serde_json::to_string(&KeptPreview { version: VERSION, preview })
        .map_err(|error| StoreError::Corrupt(format!("a preview: {error}")))
}

/// A room's preview as [`EventStore::listed_previews`] hands it out. A kept one stays the text it
/// was kept as, and is written out from it: parsed and written again, a list of thousands of
/// rooms held every preview twice over in memory while it was read back.
#[derive(Debug)]
pub enum ListedPreview {
    /// Kept from an earlier read: the text kept, checked to hold a preview of this version.
    Kept(String),
    /// Computed by this read.
    Computed(Box<RoomPreview>),
}

impl ListedPreview {
    /// The preview itself.
    pub fn into_preview(self) -> Result<RoomPreview, StoreError> {
        match self {
            Self::Kept(text) => KeptPreview::read(&text)
                .ok_or_else(|| StoreError::Corrupt("a kept preview is not one".to_owned())),
            Self::Computed(preview) => Ok(*preview),
        }
    }

    /// About how long the preview is as JSON text: what writing a list out reserves.
    pub fn text_len(&self) -> usize {
        match self {
            Self::Kept(text) => text.len(),
            Self::Computed(_) => 1024,
        }
    }
}

impl Serialize for ListedPreview {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            // Read again here rather than kept twice over (the text, and its preview as text).
            Self::Kept(text) => KeptPreview::<&RawValue>::read(text)
                .ok_or_else(|| serde::ser::Error::custom("a kept preview is not one"))?
                .serialize(serializer),
            Self::Computed(preview) => preview.serialize(serializer),
        }
    }
}

impl<S: Store> EventStore<S> {
    /// The preview of every room the store holds or `own_user_id` was invited to or knocked on,
    /// sorted by room id; see [`Self::listed_previews`].
    pub async fn room_previews(&self, own_user_id: &str) -> Result<Vec<RoomPreview>, StoreError> {
        self.listed_previews(own_user_id)
            .await?
            .into_iter()
            .map(ListedPreview::into_preview)
            .collect()
    }

    /// The preview of every room the store holds or `own_user_id` was invited to or knocked on,
    /// sorted by room id, those kept as their text. An invite or knock received (`ingestSync`)
    /// previews from its stripped state as received; every other room from its current state,
    /// its kind following the own user's membership there (an invite or a knock previews as
    /// such, using only the members that kind may, anything else as a joined room). A room left
    /// before it was joined previews from the own leave event alone.
    pub async fn listed_previews(
        &self,
        own_user_id: &str,
    ) -> Result<Vec<ListedPreview>, StoreError> {
        // Read first: its epoch tells whether what is read after it is still current when the
        // previews computed from it are kept.
        let list = self.backend.room_list(own_user_id).await?;
        let mut kept = HashMap::default();
        for (room_id, text) in list.previews {
            // A preview kept by another version of this code is computed again.
            if KeptPreview::<&RawValue>::read(&text).is_some() {
                kept.insert(room_id, text);
            }
        }
        let missing: Vec<String> = (list.rooms.iter())
            .filter(|room_id| !kept.contains_key(room_id.as_str()))
            .cloned()
            .collect();
        // Only the rooms computed need the own memberships (an invite's stripped state).
        let memberships = match missing.is_empty() {
            true => LocalMemberships::default(),
            false => self.backend.local_memberships(own_user_id, Some(&missing)).await?,
        };
        let mut computed = self.compute_previews(&missing, &memberships, own_user_id).await?;
        if !computed.is_empty() {
            let texts = computed
                .iter()
                .map(|(room_id, preview)| Ok((room_id.clone(), kept_text(preview)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            self.backend.keep_previews(own_user_id, list.epoch, &texts).await?;
        }
        let previews = (list.rooms.iter())
            .filter_map(|room_id| match computed.remove(room_id) {
                Some(preview) => Some(ListedPreview::Computed(Box::new(preview))),
                None => kept.remove(room_id).map(ListedPreview::Kept),
            })
            .collect();
        Ok(previews)
    }

    /// The previews of `rooms`, computed from their current states or the stripped state
    /// received.
    async fn compute_previews(
        &self,
        rooms: &[String],
        memberships: &LocalMemberships,
        own_user_id: &str,
    ) -> Result<HashMap<String, RoomPreview>, StoreError> {
        let received = |room_id: &str| {
            let own = memberships.get(room_id)?;
            matches!(own.membership.as_str(), "invite" | "knock")
                .then_some(own.stripped_state.as_ref())
                .flatten()
        };
        // The rooms' current states are read a batch of rooms at a time, each batch's in one
        // request batch and their events in another: read room by room, a room list of a thousand
        // rooms was three transactions a room; read all at once, it held every room's state in
        // memory together.
        let mut previews = HashMap::default();
        for batch in rooms.chunks(PREVIEW_BATCH) {
            let with_state: Vec<String> =
                batch.iter().filter(|room_id| received(room_id).is_none()).cloned().collect();
            let mut states = self.current_states_events(&with_state).await?;
            for room_id in batch {
                let text = match received(room_id) {
                    Some(events) => serde_json::to_string(events),
                    None => {
                        let state = states.remove(room_id).unwrap_or_default();
                        serde_json::to_string(
                            &self.preview_state(state, memberships.get(room_id)).await?,
                        )
                    }
                };
                let text = text.map_err(|error| InputError::InvalidJson(error.to_string()))?;
                let request = PreviewRequest::new(room_id.clone(), own_user_id);
                previews.insert(room_id.clone(), compute_room_preview(&text, &request)?);
            }
        }
        Ok(previews)
    }

    /// The events of the current state of each of `room_ids`, as [`Self::current_state_events`]
    /// reads them, in three request batches for all of them.
    async fn current_states_events(
        &self,
        room_ids: &[String],
    ) -> Result<HashMap<String, Vec<Pdu>>, StoreError> {
        let states = self.backend.current_states(room_ids).await?;
        let ids: Vec<OwnedEventId> =
            states.iter().flat_map(|state| state.values().cloned()).collect();
        let found = self.backend.events(&ids).await?;
        let mut events = Vec::with_capacity(ids.len());
        for (event_id, event) in ids.iter().zip(found) {
            let event = event.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "the current state names {event_id}, which is not stored"
                ))
            })?;
            events.push(event.pdu);
        }
        let mut events = self.pruned(events).await?.into_iter();
        let mut by_room = HashMap::default();
        for (room_id, state) in room_ids.iter().zip(states) {
            by_room.insert(room_id.clone(), events.by_ref().take(state.len()).collect());
        }
        Ok(by_room)
    }

    /// The state a room previews from: its current state, or without one the own member event.
    async fn preview_state(
        &self,
        state: Vec<Pdu>,
        own: Option<&LocalMembership>,
    ) -> Result<Vec<JsonValue>, StoreError> {
        if !state.is_empty() {
            return Ok(state.iter().map(client_event).collect());
        }
        let Some(event_id) = own.and_then(|row| row.event_id.as_ref()) else {
            return Ok(Vec::new());
        };
        let event = self.event(event_id).await?;
        Ok(event.iter().map(|event| client_event(&event.pdu)).collect())
    }
}
