//! `EventStore`: the event store's JS class, over IndexedDB (browsers) or memory (`inMemory`,
//! for Node.js and tests). Conversions only: every behaviour is
//! [`crate::storage::EventStore`]'s.

use std::cell::RefCell;
use std::rc::Rc;

use ruma_common::{CanonicalJsonValue, OwnedEventId, RoomId};
use serde::{Deserialize, Serialize};
use serde_json::Value as JsonValue;
use tsify::{Ts, Tsify};
use wasm_bindgen::prelude::*;

use super::backend::Backend;
use super::convert::{
    json_from_js, json_text_from_js, json_text_to_js, options_from_js, to_js, to_js_error,
    to_json_text_sized,
};
use super::subscribers::Subscribers;
use super::tabs::Tabs;
use super::{EventArray, RoomPreviewArray, StrippedEventArray, SyncResponseValue};
use crate::model::internal_metadata::InternalMetadata as StoredMetadata;
use crate::model::pdu::Pdu;
use crate::model::room_version::RoomVersion;
use crate::model::state_filter::StateFilterInput;
use crate::model::{InputError, StateFilter};
use crate::prejoin::{MembershipKind, PrejoinConfig};
use crate::storage::indexeddb::IndexedDbStore;
use crate::storage::{self, EventStore, ListedPreview, Positions, StoreError};

#[wasm_bindgen]
extern "C" {
    /// `ClientEvent[]` in TypeScript.
    #[wasm_bindgen(typescript_type = "ClientEvent[]")]
    pub type ClientEventArray;

    /// A promise whose `then` takes any function (js-sys's wants a typed closure).
    type Thenable;

    #[wasm_bindgen(method)]
    fn then(this: &Thenable, on_fulfilled: &JsValue) -> js_sys::Promise;
}

/// Options of `EventStore.open`.
#[derive(Debug, Deserialize, Serialize, Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventStoreOptions {
    /// The IndexedDB database's name (with `inMemory`, a label only).
    pub name: String,
    /// This writer's `instance_name` (one per tab); a random `tab-…` id when absent.
    #[tsify(optional)]
    pub instance_name: Option<String>,
    /// Synapse's `room_prejoin_state`, used by `strippedState`; the defaults when absent.
    #[tsify(optional, type = "PrejoinConfig")]
    pub config: Option<JsonValue>,
    /// Keep everything in memory instead of IndexedDB (Node.js, tests); gone on `close()`.
    #[tsify(optional)]
    pub in_memory: Option<bool>,
}

/// Options of `EventStore.persistEvents`.
#[derive(Debug, Default, Deserialize, Serialize, Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PersistOptions {
    /// The events are older history (`/messages`, backfill): they take negative stream
    /// orderings and move neither the forward extremities nor the current state.
    #[tsify(optional)]
    pub backfilled: Option<bool>,
    /// The events are outliers, outside the room's DAG as the store knows it (an invite or
    /// knock received out of band): stored with their membership rows only, and de-outliered
    /// when they arrive in the DAG later.
    #[tsify(optional)]
    pub outlier: Option<bool>,
    /// With `outlier`: member events are memberships received out of band.
    #[tsify(optional)]
    pub out_of_band_membership: Option<bool>,
    /// With `outlier`: the version of a room the store does not hold yet (an invite's stripped
    /// create event carries it).
    #[tsify(optional)]
    pub room_version: Option<String>,
}

/// Options of `EventStore.ingestSync`.
#[derive(Debug, Deserialize, Serialize, Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngestOptions {
    /// The user whose `/sync` response it is.
    pub own_user_id: String,
    /// Called after each room is stored, with how many are done and how many there are.
    /// (A function does not survive `JSON.stringify`: it is read from the object itself.)
    #[tsify(optional, type = "(done: number, total: number) => void")]
    #[serde(default)]
    pub on_progress: Option<JsonValue>,
}

/// What `ingestSync` did.
#[derive(Debug, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct IngestResult {
    /// One entry per room, in the order of the response's sections (join, invite, knock,
    /// leave), each section by room id.
    pub rooms: Vec<IngestedRoom>,
    /// How many rooms came in each section, and how many events were stored.
    pub counts: SectionCounts,
    /// The first and last stream ordering taken, or `null` when nothing new was stored.
    pub stream_orderings: Option<StreamOrderingRange>,
    /// Whether the response's `next_batch` is now `syncToken()`: every room was stored (or can
    /// never be: its version is unknown). When `false`, sync again from the previous token.
    pub sync_token_stored: bool,
}

/// How many rooms came in each section of a response, and how many events were stored.
#[derive(Debug, Default, Serialize, Tsify)]
pub struct SectionCounts {
    /// Joined rooms.
    pub join: usize,
    /// Invites.
    pub invite: usize,
    /// Knocks.
    pub knock: usize,
    /// Left rooms.
    pub leave: usize,
    /// Events stored (new ones only).
    pub events: usize,
}

/// What ingesting one room of a response did.
#[derive(Debug, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct IngestedRoom {
    /// The room.
    pub room_id: String,
    /// The section it came in.
    #[tsify(type = r#""join" | "invite" | "knock" | "leave""#)]
    pub section: &'static str,
    /// The events stored (new ones only), in stream order.
    pub persisted: Vec<String>,
    /// The first and last stream ordering taken, or `null`.
    pub stream_orderings: Option<StreamOrderingRange>,
    /// Why nothing of this room was stored, or `null`.
    pub error: Option<ChunkError>,
}

/// Options of `EventStore.roomTimeline`.
#[derive(Debug, Default, Deserialize, Serialize, Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoomTimelineOptions {
    /// How many events at most (default 20).
    #[tsify(optional)]
    pub limit: Option<u32>,
    /// Events older than this one (an event of the room's timeline); the newest without it.
    #[tsify(optional)]
    pub before: Option<String>,
}

/// A page of a room's timeline.
#[derive(Debug, Serialize, Tsify)]
pub struct RoomTimeline {
    /// The events, oldest first (newest last).
    #[tsify(type = "ClientEvent[]")]
    pub events: Vec<JsonValue>,
    /// Set when the events before the first are not stored: a `/sync` response left them out,
    /// and `/messages?from=prevBatch` has them.
    pub gap: Option<TimelineGap>,
}

/// Where a room's stored timeline has a gap.
#[derive(Debug, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct TimelineGap {
    /// The `prev_batch` token to paginate back from.
    pub prev_batch: String,
}

/// Options of `EventStore.strippedState`.
#[derive(Debug, Deserialize, Serialize, Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoredStrippedStateOptions {
    /// Invite or knock: the user's current membership must be this.
    pub kind: MembershipKind,
    /// The invited or knocking user.
    pub user_id: String,
}

/// Options of `EventStore.roomPreviews`.
#[derive(Debug, Deserialize, Serialize, Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoomPreviewsOptions {
    /// The user the previews are for.
    pub own_user_id: String,
}

/// What `persistEvents` did, room chunk by room chunk.
#[derive(Debug, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct PersistResult {
    /// One entry per room, in the order the rooms first appear in the batch.
    pub rooms: Vec<RoomPersistResult>,
}

/// What persisting one room's events did.
#[derive(Debug, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct RoomPersistResult {
    /// The room.
    pub room_id: String,
    /// Events stored (accepted, soft-failed and rejected alike), in stream order.
    pub persisted: Vec<String>,
    /// Events given that were stored already (by this store before, or by another tab): stored
    /// once, with no stream ordering taken for them now.
    pub already_persisted: Vec<String>,
    /// Rejected events (stored, flagged, never part of the state).
    pub rejected: Vec<RejectedEvent>,
    /// Soft-failed events (stored, never forward extremities, never in the current state).
    pub soft_failed: Vec<String>,
    /// The room's forward extremities afterwards, sorted.
    pub forward_extremities: Vec<String>,
    /// The first and last stream ordering taken, or `null` when nothing new was stored.
    pub stream_orderings: Option<StreamOrderingRange>,
    /// Why nothing of this room's events was stored, or `null`.
    pub error: Option<ChunkError>,
}

/// A rejected event and why.
#[derive(Debug, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct RejectedEvent {
    /// The event.
    pub event_id: String,
    /// Synapse's `rejections.reason` (`auth_error`).
    pub reason: String,
}

/// The stream orderings one room chunk took: increasing for live events, decreasing (negative)
/// for backfilled ones.
#[derive(Debug, Serialize, Tsify)]
pub struct StreamOrderingRange {
    /// The first event's.
    pub first: i64,
    /// The last event's.
    pub last: i64,
}

/// Why a room chunk was not stored; the other rooms of the batch are unaffected.
#[derive(Debug, Serialize, Tsify)]
pub struct ChunkError {
    /// The stable code, e.g. `QUOTA_EXCEEDED` or `WRITE_FAILED`.
    #[tsify(type = "PrejoinErrorCode")]
    pub code: &'static str,
    /// What happened, for logs.
    pub message: String,
}

/// A stored event, as `getEvent` returns it.
#[derive(Debug, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct StoredEvent {
    /// The event id.
    pub event_id: String,
    /// The PDU as stored, with its `event_id` (and a room version 12 create event's `room_id`);
    /// an event from `/sync` as it came, with its `room_id` (see `clientFormat`).
    #[tsify(type = "Pdu | ClientEvent")]
    pub event: JsonValue,
    /// The room version it was parsed with.
    pub room_version: String,
    /// Its event format version (1–4), stored with it.
    pub format_version: u8,
    /// It came from `/sync` in client format: it has no `depth`, `prev_events`, `auth_events`,
    /// hashes or signatures.
    pub client_format: bool,
    /// What the store knows about it beyond its JSON.
    pub internal_metadata: InternalMetadata,
    /// Why it was rejected (`auth_error`), or `null`.
    pub rejected_reason: Option<String>,
}

/// The internal metadata of a stored event (Synapse's `EventInternalMetadata`).
#[derive(Debug, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct InternalMetadata {
    /// Not part of the room's DAG as the store knows it (its state is unknown).
    pub outlier: bool,
    /// Authorized by the state before it but not by the room's current state: stored, never a
    /// forward extremity, never in the current state.
    pub soft_failed: bool,
    /// Its position in the events stream; negative when backfilled.
    pub stream_ordering: Option<i64>,
    /// The writer (tab) that persisted it.
    pub instance_name: Option<String>,
    /// A membership event of a room the user is not in (an invite or knock received out of
    /// band).
    pub out_of_band_membership: bool,
    /// The client transaction id it was sent with.
    pub txn_id: Option<String>,
    /// It was redacted.
    pub redacted: bool,
}

/// How many events `roomTimeline` returns without a `limit`.
const DEFAULT_TIMELINE_LIMIT: usize = 20;

/// An open event store, over either backend.
pub(super) type OpenStore = EventStore<Backend>;

/// An event store mirroring Synapse's persistence model, in IndexedDB or in memory. Open it with
/// `EventStore.open`.
///
/// Every method throws (or rejects with) a `PrejoinError` on bad input; a room whose events
/// cannot be written is reported in `persistEvents`' result instead.
#[wasm_bindgen(js_name = EventStore)]
pub struct JsEventStore {
    /// `None` once closed. Methods take a clone of the `Rc` for their whole run, so closing
    /// while one runs never invalidates it.
    backend: RefCell<Option<Rc<OpenStore>>>,
    /// The other tabs of an IndexedDB store, while open.
    tabs: RefCell<Option<Rc<Tabs>>>,
    subscribers: Rc<Subscribers>,
    config: PrejoinConfig,
    instance_name: String,
}

#[wasm_bindgen(js_class = EventStore)]
impl JsEventStore {
    /// Opens (creating or upgrading) the store called `name`: the IndexedDB database of that
    /// name, or with `inMemory: true` an empty store in memory.
    ///
    /// @throws {PrejoinError} `INVALID_OPTIONS`, `INVALID_CONFIG`, `INDEXEDDB_UNAVAILABLE` (no
    /// `indexedDB` here: use `inMemory` in Node.js), or the IndexedDB failure's code.
    #[wasm_bindgen(unchecked_return_type = "Promise<EventStore>")]
    pub fn open(opts: Ts<EventStoreOptions>) -> js_sys::Promise {
        let opts = opts.js_value();
        let name = indexed_db_to_open(&opts);
        if name.is_undefined() {
            return match Opening::from_options(&opts) {
                Ok(opening) if opening.in_memory => {
                    wasm_bindgen_futures::future_to_promise(opening.in_memory())
                }
                Ok(_) => js_sys::Promise::reject(&to_js_error(StoreError::Unavailable(
                    "there is no indexedDB here; open with inMemory: true instead".to_owned(),
                ))),
                Err(error) => js_sys::Promise::reject(&error),
            };
        }
        // An IndexedDB open needs only the name: it is placed first, and the options are checked
        // while the browser opens the database. Opening is finished synchronously once the
        // database is read: a Rust future would wait for a few more promise jobs.
        let begun = IndexedDbStore::begin_open(&name);
        let opening = Opening::from_options(&opts);
        let finish = Closure::once_into_js(move |opened: JsValue| {
            // On bad options, what was opened is dropped, which closes it.
            let opened = IndexedDbStore::from_opened(&opened);
            opening?.finish(opened)
        });
        begun.unchecked_into::<Thenable>().then(&finish)
    }

    /// This writer's `instance_name`.
    #[wasm_bindgen(getter, js_name = instanceName)]
    pub fn instance_name(&self) -> String {
        self.instance_name.clone()
    }

    /// Persists a batch of PDUs (federation format). The batch is read whole first: one bad PDU
    /// throws and stores nothing. Then each room's events are written atomically, a room at a
    /// time; a room that fails (e.g. `QUOTA_EXCEEDED`) has its `error` set and nothing of it
    /// stored, and the other rooms persist. Calls run one after another, in call order.
    ///
    /// @throws {PrejoinError} `INVALID_JSON`, `INVALID_PDU`, `UNKNOWN_ROOM_VERSION`,
    /// `EVENT_ID_MISMATCH`, `INVALID_ROOM_ID`, `UNKNOWN_ROOM`, `INTEGER_OUT_OF_RANGE`,
    /// `INVALID_OPTIONS`, `STORE_CLOSED`.
    #[wasm_bindgen(js_name = persistEvents)]
    pub async fn persist_events(
        &self,
        events: EventArray,
        opts: Option<Ts<PersistOptions>>,
    ) -> Result<Ts<PersistResult>, JsValue> {
        let backend = self.backend()?;
        let text = json_text_from_js(&events)?;
        let events: Vec<JsonValue> = serde_json::from_str(&text).map_err(|error| {
            let error = match error.classify() {
                serde_json::error::Category::Data => {
                    InputError::InvalidPdu(format!("events must be an array of PDUs: {error}"))
                }
                _ => InputError::InvalidJson(error.to_string()),
            };
            to_js_error(error)
        })?;
        let opts = match opts {
            Some(opts) => options_from_js::<PersistOptions>(&opts.js_value())?,
            None => PersistOptions::default(),
        };
        let backfilled = opts.backfilled.unwrap_or(false);
        let result = if opts.outlier.unwrap_or(false) {
            let version = match opts.room_version.as_deref() {
                Some(version) => Some(RoomVersion::parse(version).map_err(to_js_error)?),
                None => None,
            };
            let out_of_band = opts.out_of_band_membership.unwrap_or(false);
            backend.persist_outliers(events, version.clone(), out_of_band).await
        } else {
            backend.persist_events(events, backfilled).await
        }
        .map_err(to_js_error)?;
        let rooms = result.rooms.into_iter().map(RoomPersistResult::from).collect();
        Ok(Ts::new_unchecked(to_js(&PersistResult { rooms })?))
    }

    /// Stores a `/sync` response (v3) of `ownUserId`: joined and left rooms' state and
    /// timelines, invites' and knocks' stripped state, the own memberships, and last its
    /// `next_batch` as `syncToken()`. The response is read whole first: a malformed one throws
    /// `INVALID_SYNC` and stores nothing. Each room is then written atomically; the same
    /// response twice stores nothing twice. Calls run one after another, in call order.
    ///
    /// @throws {PrejoinError} `INVALID_SYNC`, `INVALID_JSON`, `INVALID_OPTIONS`, `STORE_CLOSED`.
    #[wasm_bindgen(js_name = ingestSync)]
    pub async fn ingest_sync(
        &self,
        response: SyncResponseValue,
        opts: Ts<IngestOptions>,
    ) -> Result<Ts<IngestResult>, JsValue> {
        let backend = self.backend()?;
        let response = json_from_js(&response)?;
        let opts_value = opts.js_value();
        let opts = options_from_js::<IngestOptions>(&opts_value)?;
        let on_progress = js_sys::Reflect::get(&opts_value, &"onProgress".into())
            .map_err(|_| to_js_error(InputError::InvalidOptions("onProgress".to_owned())))?;
        let on_progress: Option<js_sys::Function> = match on_progress {
            value if value.is_undefined() || value.is_null() => None,
            value => Some(value.dyn_into().map_err(|_| {
                to_js_error(InputError::InvalidOptions("onProgress must be a function".to_owned()))
            })?),
        };
        let progress = |done: usize, total: usize| {
            if let Some(callback) = &on_progress {
                // A throwing callback is the caller's: it does not stop the ingestion.
                let _ =
                    callback.call2(&JsValue::NULL, &(done as f64).into(), &(total as f64).into());
            }
        };
        let result = backend
            .ingest_sync(&response, &opts.own_user_id, progress)
            .await
            .map_err(to_js_error)?;
        Ok(Ts::new_unchecked(to_js(&IngestResult::from(result))?))
    }

    /// The `next_batch` of the last `/sync` response stored whole, to sync from next;
    /// `undefined` before any.
    ///
    /// @throws {PrejoinError} `STORE_CLOSED`.
    #[wasm_bindgen(js_name = syncToken)]
    pub fn sync_token(&self) -> Result<Option<String>, JsValue> {
        let backend = self.backend()?;
        let token = backend.sync_token();
        Ok(token.map(|token| token.next_batch))
    }

    /// A stored event with its internal metadata and format version, or `undefined`.
    ///
    /// @throws {PrejoinError} `INVALID_EVENT_ID`, `STORE_CLOSED`, `CORRUPT_STORE`.
    #[wasm_bindgen(js_name = getEvent)]
    pub async fn get_event(
        &self,
        #[wasm_bindgen(js_name = eventId, unchecked_param_type = "string")] event_id: JsValue,
    ) -> Result<Option<Ts<StoredEvent>>, JsValue> {
        let backend = self.backend()?;
        let event_id = event_id_from_js(&event_id)?;
        let Some(event) = backend.event(&event_id).await.map_err(to_js_error)? else {
            return Ok(None);
        };
        Ok(Some(Ts::new_unchecked(to_js(&StoredEvent::from(event))?)))
    }

    /// The room's current state that `filter` matches (all of it without one), as client-format
    /// events ordered by type, then state_key; `[]` for a room that is not stored.
    ///
    /// @throws {PrejoinError} `INVALID_ROOM_ID`, `INVALID_STATE_FILTER`, `STORE_CLOSED`.
    #[wasm_bindgen(js_name = currentState)]
    pub async fn current_state(
        &self,
        #[wasm_bindgen(js_name = roomId, unchecked_param_type = "string")] room_id: JsValue,
        filter: Option<Ts<StateFilterInput>>,
    ) -> Result<ClientEventArray, JsValue> {
        let backend = self.backend()?;
        let room_id = room_id_from_js(&room_id)?;
        let filter = filter_from_js(filter)?;
        let events = backend.current_state_events(&room_id, &filter).await.map_err(to_js_error)?;
        client_events_to_js(&events)
    }

    /// The state after an event (including it, for a state event) that `filter` matches, as
    /// client-format events ordered by type, then state_key.
    ///
    /// @throws {PrejoinError} `INVALID_EVENT_ID`, `UNKNOWN_EVENT`, `INVALID_STATE_FILTER`,
    /// `STORE_CLOSED`.
    #[wasm_bindgen(js_name = stateAtEvent)]
    pub async fn state_at_event(
        &self,
        #[wasm_bindgen(js_name = eventId, unchecked_param_type = "string")] event_id: JsValue,
        filter: Option<Ts<StateFilterInput>>,
    ) -> Result<ClientEventArray, JsValue> {
        let backend = self.backend()?;
        let event_id = event_id_from_js(&event_id)?;
        let filter = filter_from_js(filter)?;
        let events = backend
            .state_events_at(&event_id, &filter)
            .await
            .map_err(to_js_error)?
            .ok_or_else(|| to_js_error(InputError::UnknownEvent(event_id.to_string())))?;
        client_events_to_js(&events)
    }

    /// A page of the room's timeline, newest last: the newest `limit` events (default 20), or
    /// those older than `before`. `gap` is set when the events before the first are not
    /// stored (a `limited` `/sync` timeline left them out); a page stops at such a gap.
    ///
    /// @throws {PrejoinError} `INVALID_ROOM_ID`, `INVALID_EVENT_ID`, `UNKNOWN_EVENT` (`before`
    /// is not an event of the room), `INVALID_OPTIONS`, `STORE_CLOSED`.
    #[wasm_bindgen(js_name = roomTimeline)]
    pub async fn room_timeline(
        &self,
        #[wasm_bindgen(js_name = roomId, unchecked_param_type = "string")] room_id: JsValue,
        opts: Option<Ts<RoomTimelineOptions>>,
    ) -> Result<Ts<RoomTimeline>, JsValue> {
        let backend = self.backend()?;
        let room_id = room_id_from_js(&room_id)?;
        let opts = match opts {
            Some(opts) => options_from_js::<RoomTimelineOptions>(&opts.js_value())?,
            None => RoomTimelineOptions::default(),
        };
        let before = match &opts.before {
            Some(before) => Some(event_id_from_js(&JsValue::from_str(before))?),
            None => None,
        };
        let limit = opts.limit.map_or(DEFAULT_TIMELINE_LIMIT, |limit| limit as usize);
        let page =
            backend.room_timeline(&room_id, before.as_deref(), limit).await.map_err(to_js_error)?;
        let events =
            page.events.iter().map(|pdu| CanonicalJsonValue::Object(pdu.to_client_event()).into());
        let events = events.collect();
        let gap = page.gap.map(|prev_batch| TimelineGap { prev_batch });
        Ok(Ts::new_unchecked(to_js(&RoomTimeline { events, gap })?))
    }

    /// The room's forward extremities (the leaves of its DAG), sorted.
    ///
    /// @throws {PrejoinError} `INVALID_ROOM_ID`, `STORE_CLOSED`.
    #[wasm_bindgen(js_name = forwardExtremities)]
    pub async fn forward_extremities(
        &self,
        #[wasm_bindgen(js_name = roomId, unchecked_param_type = "string")] room_id: JsValue,
    ) -> Result<Vec<String>, JsValue> {
        let backend = self.backend()?;
        let room_id = room_id_from_js(&room_id)?;
        let extremities = backend.forward_extremities(&room_id).await.map_err(to_js_error)?;
        Ok(extremities.into_iter().collect())
    }

    /// The stripped state of `userId`'s current invite or knock, from the room's state at that
    /// invite or knock (the state after the user's member event, as Synapse computes it) and the
    /// config the store was opened with: exactly `computeStrippedState` on that state with the
    /// user's member event.
    ///
    /// @throws {PrejoinError} `UNKNOWN_ROOM`, `MEMBERSHIP_MISMATCH` (the user's current
    /// membership is not `kind`), `INVALID_ROOM_ID`, `INVALID_OPTIONS`, `STORE_CLOSED`.
    #[wasm_bindgen(js_name = strippedState)]
    pub async fn stripped_state(
        &self,
        #[wasm_bindgen(js_name = roomId, unchecked_param_type = "string")] room_id: JsValue,
        opts: Ts<StoredStrippedStateOptions>,
    ) -> Result<StrippedEventArray, JsValue> {
        let backend = self.backend()?;
        let room_id = room_id_from_js(&room_id)?;
        let opts = options_from_js::<StoredStrippedStateOptions>(&opts.js_value())?;
        let config = &self.config;
        let stripped = backend
            .stripped_state(&room_id, opts.kind, &opts.user_id, config)
            .await
            .map_err(to_js_error)?;
        Ok(to_js(&stripped)?.unchecked_into())
    }

    /// The preview of every stored room for `ownUserId`, from its current state, sorted by room
    /// id; each room's kind follows the user's current membership (invite, knock, else join).
    ///
    /// @throws {PrejoinError} `INVALID_OPTIONS`, `STORE_CLOSED`.
    #[wasm_bindgen(js_name = roomPreviews)]
    pub async fn room_previews(
        &self,
        opts: Ts<RoomPreviewsOptions>,
    ) -> Result<RoomPreviewArray, JsValue> {
        let backend = self.backend()?;
        let opts = options_from_js::<RoomPreviewsOptions>(&opts.js_value())?;
        let previews = backend.listed_previews(&opts.own_user_id).await.map_err(to_js_error)?;
        // Kept previews, most of a room list after the first read, bound its text's length.
        let capacity = previews.iter().map(ListedPreview::text_len).sum::<usize>() + previews.len();
        let text = to_json_text_sized(&previews, capacity + 2)?;
        Ok(json_text_to_js(&text)?.unchecked_into())
    }

    /// The events stream's current token in this tab: every event up to this stream ordering is
    /// stored and was handed to the subscribers, whichever tab stored it (0 before any event).
    ///
    /// @throws {PrejoinError} `STORE_CLOSED`.
    #[wasm_bindgen(js_name = currentToken)]
    pub fn current_token(&self) -> Result<f64, JsValue> {
        let backend = self.backend()?;
        // Orderings count events: far below 2^53, so exact as a JS number.
        Ok(backend.current_token() as f64)
    }

    /// The current token in Synapse's multi-writer form: `s<n>` when no writer is known ahead of
    /// it, `m<n>~<writer>.<position>…` otherwise.
    ///
    /// @throws {PrejoinError} `STORE_CLOSED`.
    #[wasm_bindgen(js_name = currentStreamToken)]
    pub fn current_stream_token(&self) -> Result<String, JsValue> {
        let backend = self.backend()?;
        Ok(backend.current_stream_token().to_string())
    }

    /// Each writer's (tab's) position on the events stream as this tab knows it, this tab's
    /// included: the last stream ordering it stored, or the current token when that is higher
    /// (an idle writer is at the head).
    ///
    /// @throws {PrejoinError} `STORE_CLOSED`.
    #[wasm_bindgen(js_name = streamPositions, unchecked_return_type = "Record<string, number>")]
    pub async fn stream_positions(&self) -> Result<JsValue, JsValue> {
        let backend = self.backend()?;
        to_js(&backend.stream_positions())
    }

    /// Calls `callback(rows, rooms)` with every event stored from now on, by this tab or another,
    /// as `ReplicationRow`s: each once, in increasing `streamOrdering`, never past
    /// `currentToken()`, and only after every cache the event made stale was dropped. `rooms`
    /// lists the rooms whose stored data changed since the last call, those of chunks that
    /// stored no event included (an invite or a knock received as stripped state): `rows` is then
    /// empty. Every subscriber is handed the same arrays: treat them as read-only. An exception
    /// `callback` throws is reported, and the rows still reach the other subscribers. Returns the
    /// function that unsubscribes.
    ///
    /// @throws {PrejoinError} `STORE_CLOSED`.
    #[wasm_bindgen(unchecked_return_type = "() => void")]
    pub fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(rows: ReplicationRow[], rooms: string[]) => void")]
        callback: js_sys::Function,
    ) -> Result<JsValue, JsValue> {
        let backend = self.backend()?;
        Ok(self.subscribers.add(&backend, &callback))
    }

    /// What replication did in this tab: messages sent and received, caches dropped, rows
    /// handed over, catch-ups and the store reads they made.
    ///
    /// @throws {PrejoinError} `STORE_CLOSED`.
    #[wasm_bindgen(unchecked_return_type = "ReplicationStats")]
    pub fn stats(&self) -> Result<JsValue, JsValue> {
        let backend = self.backend()?;
        to_js(&backend.replication_stats())
    }

    /// Closes the store: calls already running finish, later ones throw `STORE_CLOSED`. An
    /// in-memory store's events are gone. Closing twice does nothing.
    pub fn close(&self) {
        if let Some(tabs) = self.tabs.borrow_mut().take() {
            tabs.close();
        }
        let backend = self.backend.borrow_mut().take();
        if let Some(Backend::IndexedDb(database)) = backend.as_deref().map(EventStore::backend) {
            database.close();
        }
    }
}

impl JsEventStore {
    fn backend(&self) -> Result<Rc<OpenStore>, JsValue> {
        self.backend.borrow().clone().ok_or_else(|| to_js_error(StoreError::Closed))
    }
}

impl From<storage::RoomPersistResult> for RoomPersistResult {
    fn from(result: storage::RoomPersistResult) -> Self {
        Self {
            room_id: result.room_id,
            persisted: result.persisted,
            already_persisted: result.already_persisted,
            rejected: result
                .rejected
                .into_iter()
                .map(|(event_id, reason)| RejectedEvent { event_id, reason })
                .collect(),
            soft_failed: result.soft_failed,
            forward_extremities: result.forward_extremities.into_iter().collect(),
            stream_orderings: result
                .stream_orderings
                .map(|(first, last)| StreamOrderingRange { first, last }),
            error: result
                .error
                .map(|error| ChunkError { code: error.code(), message: error.to_string() }),
        }
    }
}

impl From<storage::IngestResult> for IngestResult {
    fn from(result: storage::IngestResult) -> Self {
        let mut counts = SectionCounts::default();
        let rooms = result
            .rooms
            .into_iter()
            .map(|room| {
                let section = room.section.as_str();
                match room.section {
                    storage::SyncSection::Join => counts.join += 1,
                    storage::SyncSection::Invite => counts.invite += 1,
                    storage::SyncSection::Knock => counts.knock += 1,
                    _ => counts.leave += 1,
                }
                counts.events += room.result.persisted.len();
                let RoomPersistResult { room_id, persisted, stream_orderings, error, .. } =
                    room.result.into();
                IngestedRoom { room_id, section, persisted, stream_orderings, error }
            })
            .collect();
        Self {
            rooms,
            counts,
            stream_orderings: result
                .stream_orderings
                .map(|(first, last)| StreamOrderingRange { first, last }),
            sync_token_stored: result.sync_token_stored,
        }
    }
}

impl From<storage::StoredEvent> for StoredEvent {
    fn from(event: storage::StoredEvent) -> Self {
        let pdu = &event.pdu;
        let StoredMetadata {
            outlier,
            stream_ordering,
            instance_name,
            soft_failed,
            out_of_band_membership,
            txn_id,
            redacted,
            ..
        } = event.internal_metadata;
        Self {
            event_id: pdu.event_id().to_string(),
            event: CanonicalJsonValue::Object(pdu.to_json_with_ids()).into(),
            room_version: pdu.room_version().as_str().to_owned(),
            format_version: pdu.format_version().number(),
            client_format: pdu.is_client_format(),
            internal_metadata: InternalMetadata {
                outlier,
                soft_failed,
                stream_ordering,
                instance_name,
                out_of_band_membership,
                txn_id,
                redacted,
            },
            rejected_reason: event.rejected_reason,
        }
    }
}

/// Client-format events as a JS array.
fn client_events_to_js(events: &[Pdu]) -> Result<ClientEventArray, JsValue> {
    let events: Vec<_> = events.iter().map(Pdu::to_client_event).collect();
    Ok(to_js(&events)?.unchecked_into())
}

fn event_id_from_js(value: &JsValue) -> Result<OwnedEventId, JsValue> {
    let invalid = || to_js_error(InputError::InvalidEventId(format!("{value:?}")));
    let text = value.as_string().ok_or_else(invalid)?;
    OwnedEventId::try_from(text).map_err(|_| invalid())
}

fn room_id_from_js(value: &JsValue) -> Result<String, JsValue> {
    let invalid = |why: String| to_js_error(InputError::InvalidRoomId(why));
    let text = value.as_string().ok_or_else(|| invalid(format!("{value:?} is not a string")))?;
    match <&RoomId>::try_from(text.as_str()) {
        Ok(_) => Ok(text),
        Err(error) => Err(invalid(format!("{text:?}: {error}"))),
    }
}

fn filter_from_js(filter: Option<Ts<StateFilterInput>>) -> Result<StateFilter, JsValue> {
    match filter {
        Some(filter) => {
            StateFilter::from_json(json_from_js(&filter.js_value())?).map_err(to_js_error)
        }
        None => Ok(StateFilter::all()),
    }
}

/// An `EventStore.open` under way: its options, checked.
struct Opening {
    name: String,
    instance_name: String,
    config: PrejoinConfig,
    in_memory: bool,
}

impl Opening {
    fn from_options(opts: &JsValue) -> Result<Self, JsValue> {
        let opts = options_from_js::<EventStoreOptions>(opts)?;
        let config = match opts.config {
            Some(config) => PrejoinConfig::from_json(config).map_err(to_js_error)?,
            None => PrejoinConfig::default(),
        };
        Ok(Self {
            name: opts.name,
            instance_name: opts.instance_name.unwrap_or_else(random_instance_name),
            config,
            in_memory: opts.in_memory.unwrap_or(false),
        })
    }

    /// The store in memory.
    async fn in_memory(self) -> Result<JsValue, JsValue> {
        let store = EventStore::open(Backend::Memory(Box::default()), self.instance_name.clone());
        Ok(self.store(store.await.map_err(to_js_error)?).into())
    }

    /// The store [`IndexedDbStore::begin_open`] opened, or, when the database must be created or
    /// upgraded first, a promise of it.
    fn finish(
        self,
        opened: Result<Option<(IndexedDbStore, Positions)>, StoreError>,
    ) -> Result<JsValue, JsValue> {
        match opened.map_err(to_js_error)? {
            Some((store, positions)) => {
                let token = store.opened_sync_token();
                let writers = store.opened_stream_positions();
                let store = EventStore::with_positions(
                    Backend::IndexedDb(store),
                    self.instance_name.clone(),
                    positions,
                )
                .with_sync_token(token)
                .with_stream_positions(writers);
                Ok(self.store(store).into())
            }
            None => Ok(wasm_bindgen_futures::future_to_promise(self.upgrading()).into()),
        }
    }

    async fn upgrading(self) -> Result<JsValue, JsValue> {
        let store = IndexedDbStore::open_upgrading(&self.name).await.map_err(to_js_error)?;
        let store = EventStore::open(Backend::IndexedDb(store), self.instance_name.clone()).await;
        Ok(self.store(store.map_err(to_js_error)?).into())
    }

    fn store(self, store: OpenStore) -> JsEventStore {
        let backend = Rc::new(store);
        let tabs = match backend.backend() {
            Backend::IndexedDb(_) => Tabs::connect(&backend, &self.name, &self.instance_name),
            Backend::Memory(_) => None,
        };
        let subscribers = Subscribers::new(tabs.as_ref().map(|tabs| tabs.held_events()));
        JsEventStore {
            backend: RefCell::new(Some(backend)),
            tabs: RefCell::new(tabs),
            subscribers,
            config: self.config,
            instance_name: self.instance_name,
        }
    }
}

#[wasm_bindgen(inline_js = "
export function indexedDbToOpen(opts) {
  return opts?.inMemory !== true && globalThis.indexedDB != null && typeof opts?.name === 'string'
    ? opts.name
    : undefined;
}")]
extern "C" {
    /// The IndexedDB database `EventStore.open`'s options name (a JS string), unless they ask
    /// for a store in memory or there is no `indexedDB` here (`undefined`). Not a check of the
    /// options: one crossing, where reading each field from Rust costs one each and a string
    /// decoded for its key.
    #[wasm_bindgen(js_name = indexedDbToOpen)]
    fn indexed_db_to_open(opts: &JsValue) -> JsValue;
}

/// `tab-` and 16 random hex digits. The name only has to differ between tabs, not be secret:
/// `Math.random` (seeded per page from the platform's random source) costs far less than
/// `crypto.getRandomValues`, a sizeable part of opening a store.
fn random_instance_name() -> String {
    // Each draw is in [0, 1): its first 32 bits after the point, as an integer below 2^32.
    let draw = || (js_sys::Math::random() * 4_294_967_296.0) as u32;
    format!("tab-{:08x}{:08x}", draw(), draw())
}
